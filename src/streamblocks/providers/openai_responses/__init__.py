"""The OpenAI Responses API: the adapter, the request body, the model.

The adapter and the request builder are plain code with no dependencies; the
model, which sends requests with ``httpx``, is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._adapter import OpenAIResponsesAdapter
from ._request import build_body

if TYPE_CHECKING:
    from ._model import OpenAIResponses

__all__ = ["OpenAIResponses", "OpenAIResponsesAdapter", "build_body"]


def __getattr__(name: str) -> Any:
    if name == "OpenAIResponses":
        from ._model import OpenAIResponses  # noqa: PLC0415 - needs httpx

        return OpenAIResponses
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
