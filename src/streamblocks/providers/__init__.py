"""Real providers: a sans-I/O adapter and an HTTP model for each.

The tree, by layer:

- ``_sse.py``: the SSE decoder (bytes in, events out);
- ``_framing.py``: SSE / JSON lines / JSON array framing, the ``Adapter``
  protocol, and ``WireParser`` (bytes in, protocol events out);
- ``_builder.py``: ``MessageBuilder``, which every adapter uses to emit a
  well-formed event sequence, and the typed provider errors;
- ``openai_chat/``, ``openai_responses/``, ``anthropic/``, ``gemini/``: one
  package per wire format, each with ``_adapter.py`` (chunks in, events out),
  ``_request.py`` (messages and parameters to a request body) and
  ``_model.py`` (the HTTP model);
- ``_http.py``: ``HTTPChatModel``, the only code here that does I/O;
- ``_replay.py``: replaying a recorded stream.

Everything but the models is standard library only; the models need
``httpx`` (``pip install 'streamblocks[http]'``) and are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._builder import MessageBuilder
from ._framing import (
    Adapter,
    ChunkDecoder,
    JSONArrayDecoder,
    JSONLinesDecoder,
    SSEChunkDecoder,
    WireFormat,
    WireParser,
)
from ._params import GenerationParams, ToolSchema, normalize_tools
from ._replay import adapter_for, detect_format, detect_provider, replay
from ._sse import ServerSentEvent, SSEDecoder
from .anthropic import AnthropicAdapter
from .gemini import GeminiAdapter
from .openai_chat import OpenAIChatAdapter
from .openai_responses import OpenAIResponsesAdapter

if TYPE_CHECKING:
    from ._http import HTTPChatModel, HTTPRequest, RetryPolicy
    from .anthropic import AnthropicChat
    from .gemini import GeminiChat
    from .openai_chat import OpenAIChat
    from .openai_responses import OpenAIResponses

__all__ = [
    "Adapter",
    "AnthropicAdapter",
    "AnthropicChat",
    "ChunkDecoder",
    "GeminiAdapter",
    "GeminiChat",
    "GenerationParams",
    "HTTPChatModel",
    "HTTPRequest",
    "JSONArrayDecoder",
    "JSONLinesDecoder",
    "MessageBuilder",
    "OpenAIChat",
    "OpenAIChatAdapter",
    "OpenAIResponses",
    "OpenAIResponsesAdapter",
    "RetryPolicy",
    "SSEChunkDecoder",
    "SSEDecoder",
    "ServerSentEvent",
    "ToolSchema",
    "WireFormat",
    "WireParser",
    "adapter_for",
    "detect_format",
    "detect_provider",
    "normalize_tools",
    "replay",
]

_LAZY = {
    "HTTPChatModel": "._http",
    "HTTPRequest": "._http",
    "RetryPolicy": "._http",
    "OpenAIChat": ".openai_chat._model",
    "OpenAIResponses": ".openai_responses._model",
    "AnthropicChat": ".anthropic._model",
    "GeminiChat": ".gemini._model",
}


def __getattr__(name: str) -> Any:
    # The HTTP models need httpx; import them only when asked for.
    module = _LAZY.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    import importlib  # noqa: PLC0415

    return getattr(importlib.import_module(module, __name__), name)
