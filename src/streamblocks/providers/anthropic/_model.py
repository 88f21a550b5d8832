"""``AnthropicChat``: the Anthropic Messages API over HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._framing import WireParser
from .._http import HTTPChatModel, HTTPRequest
from ._adapter import AnthropicAdapter
from ._request import build_body

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ..._messages import Message

__all__ = ["AnthropicChat"]

ANTHROPIC_VERSION = "2023-06-01"


class AnthropicChat(HTTPChatModel):
    """``POST {base_url}/v1/messages`` with ``stream: true``.

    ``max_tokens`` is required by Anthropic; the request builder supplies a
    default. The key goes in ``x-api-key`` (``ANTHROPIC_API_KEY``).
    """

    provider = "anthropic"
    default_base_url = "https://api.anthropic.com"
    api_key_env: tuple[str, ...] = ("ANTHROPIC_API_KEY",)

    def __init__(self, *, model: str = "claude-sonnet-4-5", **kwargs: Any) -> None:
        super().__init__(model=model, **kwargs)

    def _auth_headers(self, api_key: str | None) -> dict[str, str]:
        return {"x-api-key": api_key} if api_key else {}

    def _build_request(self, messages: Sequence[Message], params: Mapping[str, Any]) -> HTTPRequest:
        body = build_body(messages, model=self.model, params=params)
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        return HTTPRequest(f"{self.base_url}/v1/messages", headers, body)

    def _new_parser(self, params: Mapping[str, Any]) -> WireParser:
        return WireParser(AnthropicAdapter(provider=self.provider), "sse")
