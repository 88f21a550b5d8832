"""The assembled message type."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ._protocol import ContentBlock, InvalidToolCall, ToolCall, UsageInfo

__all__ = ["AIMessage"]


@dataclass
class AIMessage:
    """A model's reply, assembled from a stream (or built by hand).

    ``content`` is a list of finalized content blocks in wire-index order, or
    a bare string when no block arrived. ``tool_calls`` hold the parsed client
    tool calls; calls whose arguments were not valid JSON are in
    ``invalid_tool_calls`` instead, never dropped.
    """

    content: str | list[ContentBlock] = ""
    id: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    invalid_tool_calls: list[InvalidToolCall] = field(default_factory=list)
    usage_metadata: UsageInfo | None = None
    response_metadata: dict[str, Any] = field(default_factory=dict)
    additional_kwargs: dict[str, Any] = field(default_factory=dict)
    type: Literal["ai"] = "ai"

    @property
    def text(self) -> str:
        """The concatenated text of the text blocks (or the bare string content)."""
        if isinstance(self.content, str):
            return self.content
        return "".join(b["text"] for b in self.content if b["type"] == "text")

    @property
    def reasoning(self) -> str:
        """The concatenated reasoning of the reasoning blocks."""
        if isinstance(self.content, str):
            return ""
        return "".join(b.get("reasoning", "") for b in self.content if b["type"] == "reasoning")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable deep copy; ``from_dict`` inverts it."""
        return {
            "type": self.type,
            "id": self.id,
            "content": copy.deepcopy(self.content),
            "tool_calls": copy.deepcopy(self.tool_calls),
            "invalid_tool_calls": copy.deepcopy(self.invalid_tool_calls),
            "usage_metadata": copy.deepcopy(self.usage_metadata),
            "response_metadata": copy.deepcopy(self.response_metadata),
            "additional_kwargs": copy.deepcopy(self.additional_kwargs),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AIMessage:
        """Rebuild a message from ``to_dict()`` output.

        Raises ``ValueError`` when ``type`` is present and is not ``"ai"``.
        """
        mtype = data.get("type", "ai")
        if mtype != "ai":
            msg = f"AIMessage.from_dict expects type 'ai', got {mtype!r}"
            raise ValueError(msg)
        return cls(
            content=copy.deepcopy(data.get("content", "")),
            id=data.get("id"),
            tool_calls=copy.deepcopy(data.get("tool_calls") or []),
            invalid_tool_calls=copy.deepcopy(data.get("invalid_tool_calls") or []),
            usage_metadata=copy.deepcopy(data.get("usage_metadata")),
            response_metadata=copy.deepcopy(data.get("response_metadata") or {}),
            additional_kwargs=copy.deepcopy(data.get("additional_kwargs") or {}),
        )
