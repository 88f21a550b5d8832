"""``OpenAIResponses``: the OpenAI Responses API over HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._framing import WireParser
from .._http import HTTPChatModel, HTTPRequest
from ._adapter import OpenAIResponsesAdapter
from ._request import build_body

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ..._messages import Message

__all__ = ["OpenAIResponses"]


class OpenAIResponses(HTTPChatModel):
    """``POST {base_url}/responses`` with ``stream: true`` (OpenAI, and
    Responses-compatible servers such as LM Studio through ``base_url``)."""

    provider = "openai"
    default_base_url = "https://api.openai.com/v1"
    api_key_env: tuple[str, ...] = ("OPENAI_API_KEY",)

    def __init__(self, *, model: str = "gpt-4o-mini", **kwargs: Any) -> None:
        super().__init__(model=model, **kwargs)

    def _build_request(self, messages: Sequence[Message], params: Mapping[str, Any]) -> HTTPRequest:
        body = build_body(messages, model=self.model, params=params)
        return HTTPRequest(f"{self.base_url}/responses", {}, body)

    def _new_parser(self, params: Mapping[str, Any]) -> WireParser:
        return WireParser(OpenAIResponsesAdapter(provider=self.provider), "sse")
