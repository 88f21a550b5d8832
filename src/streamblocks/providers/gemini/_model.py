"""``GeminiChat``: Google Gemini ``streamGenerateContent`` over HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .._framing import WireFormat, WireParser
from .._http import HTTPChatModel, HTTPRequest
from ._adapter import GeminiAdapter
from ._request import build_body

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ..._messages import Message

__all__ = ["GeminiChat"]


class GeminiChat(HTTPChatModel):
    """``POST {base_url}/models/{model}:streamGenerateContent``.

    ``wire_format="sse"`` (the default) asks for ``alt=sse``;
    ``"json-array"`` reads the plain streamed JSON array instead. The key
    goes in ``x-goog-api-key`` (``GEMINI_API_KEY`` or ``GOOGLE_API_KEY``).
    """

    provider = "google"
    default_base_url = "https://generativelanguage.googleapis.com/v1beta"
    api_key_env: tuple[str, ...] = ("GEMINI_API_KEY", "GOOGLE_API_KEY")

    def __init__(
        self, *, model: str = "gemini-2.5-flash", wire_format: WireFormat = "sse", **kwargs: Any
    ) -> None:
        super().__init__(model=model, **kwargs)
        if wire_format not in ("sse", "json-array"):
            msg = f"wire_format must be 'sse' or 'json-array', got {wire_format!r}"
            raise ValueError(msg)
        self.wire_format: WireFormat = wire_format

    def _auth_headers(self, api_key: str | None) -> dict[str, str]:
        return {"x-goog-api-key": api_key} if api_key else {}

    def _build_request(self, messages: Sequence[Message], params: Mapping[str, Any]) -> HTTPRequest:
        body = build_body(messages, model=self.model, params=params)
        url = f"{self.base_url}/models/{quote(self.model, safe='')}:streamGenerateContent"
        if self.wire_format == "sse":
            url += "?alt=sse"
        return HTTPRequest(url, {}, body)

    def _new_parser(self, params: Mapping[str, Any]) -> WireParser:
        return WireParser(GeminiAdapter(provider=self.provider), self.wire_format)
