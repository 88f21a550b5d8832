"""OpenAI Chat Completions and compatible servers: the adapter, the request body, the model.

The adapter and the request builder are plain code with no dependencies; the
model, which sends requests with ``httpx``, is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._adapter import OpenAIChatAdapter
from ._request import build_body

if TYPE_CHECKING:
    from ._model import OpenAIChat

__all__ = ["OpenAIChat", "OpenAIChatAdapter", "build_body"]


def __getattr__(name: str) -> Any:
    if name == "OpenAIChat":
        from ._model import OpenAIChat  # noqa: PLC0415 - needs httpx

        return OpenAIChat
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
