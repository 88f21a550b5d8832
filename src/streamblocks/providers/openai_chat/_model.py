"""``OpenAIChat``: Chat Completions over HTTP, for OpenAI and every compatible server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._framing import WireParser
from .._http import HTTPChatModel, HTTPRequest
from ._adapter import OpenAIChatAdapter
from ._request import build_body

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ..._messages import Message

__all__ = ["OpenAIChat"]


class OpenAIChat(HTTPChatModel):
    """``POST {base_url}/chat/completions`` with ``stream: true``.

    ``base_url`` points it at any compatible server: Ollama
    (``http://localhost:11434/v1``), vLLM, llama.cpp, LM Studio, Groq,
    DeepSeek, OpenRouter and the rest (``init_chat_model`` knows their
    addresses and key variables). A server that needs no key works without
    one when ``requires_api_key=False`` or when a ``base_url`` other than
    OpenAI's is given. Usage is always requested
    (``stream_options.include_usage``) unless ``include_usage=False``.
    """

    provider = "openai"
    default_base_url = "https://api.openai.com/v1"
    api_key_env: tuple[str, ...] = ("OPENAI_API_KEY",)

    def __init__(self, *, model: str = "gpt-4o-mini", **kwargs: Any) -> None:
        super().__init__(model=model, **kwargs)

    def _build_request(self, messages: Sequence[Message], params: Mapping[str, Any]) -> HTTPRequest:
        body = build_body(messages, model=self.model, params=params)
        return HTTPRequest(f"{self.base_url}/chat/completions", {}, body)

    def _new_parser(self, params: Mapping[str, Any]) -> WireParser:
        adapter = OpenAIChatAdapter(choice=params.get("choice", 0), provider=self.provider)
        return WireParser(adapter, "sse")
