"""Message types: the assembled ``AIMessage`` and the input messages.

Input to a model is a list of messages. :func:`to_messages` accepts a string,
our message objects, or OpenAI-style role/content dicts (including assistant
``tool_calls`` and ``tool`` messages), and raises ``InvalidInputError`` naming
the offending item. An ``AIMessage`` assembled from a stream is valid input for
the next turn with its blocks (reasoning and its signature, tool calls) intact.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

from ._errors import InvalidInputError
from ._protocol import ToolCall

if TYPE_CHECKING:
    from ._protocol import ContentBlock, InvalidToolCall, UsageInfo

__all__ = [
    "AIMessage",
    "HumanMessage",
    "Message",
    "SystemMessage",
    "ToolMessage",
    "to_messages",
]

Content = str | list[dict[str, Any]]
"""A string, or a list of content blocks (``{"type": "text", "text": ...}``, images, ...)."""


def _text_of(content: str | list[dict[str, Any]] | list[ContentBlock]) -> str:
    if isinstance(content, str):
        return content
    return "".join(str(b.get("text", "")) for b in content if b.get("type") == "text")


@dataclass
class SystemMessage:
    """Instructions for the model."""

    content: Content
    type: Literal["system"] = "system"

    @property
    def text(self) -> str:
        return _text_of(self.content)


@dataclass
class HumanMessage:
    """The user's turn."""

    content: Content
    type: Literal["human"] = "human"

    @property
    def text(self) -> str:
        return _text_of(self.content)


@dataclass
class ToolMessage:
    """The result of a tool call, sent back to the model."""

    content: Content
    tool_call_id: str
    name: str | None = None
    status: Literal["success", "error"] = "success"
    type: Literal["tool"] = "tool"

    @property
    def text(self) -> str:
        return _text_of(self.content)


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
        return _text_of(self.content)

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


Message = SystemMessage | HumanMessage | AIMessage | ToolMessage

_ROLES = {
    "system": "system",
    "developer": "system",
    "user": "human",
    "human": "human",
    "assistant": "ai",
    "ai": "ai",
    "tool": "tool",
}


def to_messages(input: str | Message | Sequence[Message | Mapping[str, Any]]) -> list[Message]:
    """Normalise a model's input to a list of message objects.

    Raises ``InvalidInputError`` naming the offending item (``input[2]: ...``).
    """
    if isinstance(input, str):
        return [HumanMessage(input)]
    if isinstance(input, (SystemMessage, HumanMessage, AIMessage, ToolMessage)):
        return [input]
    if isinstance(input, Mapping) or not isinstance(input, Sequence):
        msg = (
            f"input must be a string, a message, or a list of messages and role/content "
            f"dicts; got {type(input).__name__}"
        )
        raise InvalidInputError(msg)
    if not input:
        msg = "input is an empty list: give the model at least one message"
        raise InvalidInputError(msg)
    return [_to_message(item, f"input[{i}]") for i, item in enumerate(input)]


def _to_message(item: object, where: str) -> Message:
    if isinstance(item, (SystemMessage, HumanMessage, AIMessage, ToolMessage)):
        return item
    if not isinstance(item, Mapping):
        msg = f"{where}: expected a message or a role/content dict, got {type(item).__name__}"
        raise InvalidInputError(msg)
    role_value = item.get("role", item.get("type"))
    role = _ROLES.get(role_value) if isinstance(role_value, str) else None
    if role is None:
        msg = (
            f"{where}: unknown role {role_value!r}; use one of "
            "'system', 'user', 'assistant' or 'tool'"
        )
        raise InvalidInputError(msg)
    content = item.get("content")
    if role == "ai":
        return _to_ai_message(item, where)
    content = _content(content, where, allow_none=False)
    if role == "system":
        return SystemMessage(content)
    if role == "human":
        return HumanMessage(content)
    tool_call_id = item.get("tool_call_id")
    if not isinstance(tool_call_id, str) or not tool_call_id:
        msg = f"{where}: a 'tool' message needs a 'tool_call_id' naming the call it answers"
        raise InvalidInputError(msg)
    name = item.get("name")
    status = item.get("status", "success")
    if status not in ("success", "error"):
        msg = f"{where}: 'status' must be 'success' or 'error', got {status!r}"
        raise InvalidInputError(msg)
    return ToolMessage(
        content, tool_call_id, name=name if isinstance(name, str) else None, status=status
    )


def _content(value: object, where: str, *, allow_none: bool) -> Content:
    if value is None and allow_none:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(
        isinstance(b, Mapping) and isinstance(b.get("type"), str) for b in value
    ):
        return [dict(b) for b in value]
    msg = f"{where}: 'content' must be a string or a list of typed content blocks"
    raise InvalidInputError(msg)


def _to_ai_message(item: Mapping[str, Any], where: str) -> AIMessage:
    if item.get("type") == "ai" and "role" not in item:
        try:
            return AIMessage.from_dict(dict(item))
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(f"{where}: {exc}") from exc
    content = _content(item.get("content"), where, allow_none=True)
    tool_calls: list[ToolCall] = []
    raw_calls = item.get("tool_calls") or []
    if not isinstance(raw_calls, list):
        msg = f"{where}: 'tool_calls' must be a list"
        raise InvalidInputError(msg)
    for j, call in enumerate(raw_calls):
        tool_calls.append(_to_tool_call(call, f"{where}.tool_calls[{j}]"))
    blocks: str | list[ContentBlock] = (
        content if isinstance(content, str) else cast("list[ContentBlock]", content)
    )
    return AIMessage(content=blocks, tool_calls=tool_calls)


def _to_tool_call(call: object, where: str) -> ToolCall:
    if not isinstance(call, Mapping):
        msg = f"{where}: expected a dict, got {type(call).__name__}"
        raise InvalidInputError(msg)
    function = call.get("function")
    if isinstance(function, Mapping):  # OpenAI: {"id", "type": "function", "function": {...}}
        name, raw_args = function.get("name"), function.get("arguments", "{}")
    else:  # ours: {"id", "name", "args"}
        name, raw_args = call.get("name"), call.get("args", {})
    if not isinstance(name, str) or not name:
        msg = f"{where}: a tool call needs a 'name'"
        raise InvalidInputError(msg)
    if isinstance(raw_args, str):
        try:
            raw_args = json.loads(raw_args or "{}")
        except ValueError as exc:
            msg = f"{where}: 'arguments' is not valid JSON ({exc})"
            raise InvalidInputError(msg) from exc
    if not isinstance(raw_args, dict):
        msg = f"{where}: tool call arguments must be a JSON object"
        raise InvalidInputError(msg)
    call_id = call.get("id")
    return ToolCall(
        type="tool_call", id=call_id if isinstance(call_id, str) else None, name=name, args=raw_args
    )
