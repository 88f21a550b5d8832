"""The content-block protocol: event and block shapes, and their validation.

Events are plain JSON-compatible dicts (LangChain's ``langchain-protocol``
"messages" channel). The TypedDicts below describe them for type checkers;
at run time the only check is :func:`validate_event`, which a stream runs once
per event inside ``dispatch``.

Validation is structural, not pedantic: optional fields may be absent, and
only a *present* field of the wrong type is an error, along with a missing
``event`` key and a missing ``delta``/``content``. Unknown event and delta
types pass, so newer producers keep working. Older producers that put a
block under ``content_block`` (instead of ``content`` or ``delta``) are
accepted and normalised here, in one place.

Every ``ProtocolError`` names the event type and the offending field.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, Literal

from ._errors import ProtocolError

if sys.version_info >= (3, 11):
    from typing import NotRequired, TypedDict
else:  # pragma: no cover - exercised only on 3.10
    from typing_extensions import NotRequired, TypedDict

__all__ = [
    "Annotation",
    "AudioContentBlock",
    "BlockDelta",
    "Citation",
    "ContentBlock",
    "ContentBlockDelta",
    "ContentBlockDeltaData",
    "ContentBlockFinishData",
    "ContentBlockStartData",
    "DataDelta",
    "FileContentBlock",
    "ImageContentBlock",
    "InputTokenDetails",
    "InvalidToolCall",
    "MessageErrorData",
    "MessageFinishData",
    "MessageMetadata",
    "MessageStartData",
    "MessagesData",
    "NonStandardAnnotation",
    "NonStandardContentBlock",
    "OutputTokenDetails",
    "ReasoningContentBlock",
    "ReasoningDelta",
    "ServerToolCall",
    "ServerToolCallChunk",
    "ServerToolResult",
    "TextContentBlock",
    "TextDelta",
    "ToolCall",
    "ToolCallChunk",
    "ToolCallDelta",
    "UsageInfo",
    "VideoContentBlock",
    "validate_event",
]

BlockIndex = int | str
"""A provider's own index for a block (OpenAI tool-call ``index``, for instance)."""

# ---------------------------------------------------------------------------
# Annotations
# ---------------------------------------------------------------------------


class Citation(TypedDict):
    type: Literal["citation"]
    id: NotRequired[str]
    url: NotRequired[str]
    title: NotRequired[str]
    start_index: NotRequired[int]
    end_index: NotRequired[int]
    cited_text: NotRequired[str]
    extras: NotRequired[dict[str, Any]]
    """Provider fields that must survive a round trip (signatures, item ids, raw items)."""


class NonStandardAnnotation(TypedDict):
    type: Literal["non_standard_annotation"]
    id: NotRequired[str]
    value: dict[str, Any]


Annotation = Citation | NonStandardAnnotation

# ---------------------------------------------------------------------------
# Content blocks
# ---------------------------------------------------------------------------


class TextContentBlock(TypedDict):
    type: Literal["text"]
    text: str
    id: NotRequired[str]
    index: NotRequired[BlockIndex]
    annotations: NotRequired[list[Annotation]]
    extras: NotRequired[dict[str, Any]]
    """Provider fields that must survive a round trip (signatures, item ids, raw items)."""


class ReasoningContentBlock(TypedDict):
    type: Literal["reasoning"]
    reasoning: NotRequired[str]
    id: NotRequired[str]
    index: NotRequired[BlockIndex]
    extras: NotRequired[dict[str, Any]]
    """Provider fields that must survive a round trip, e.g. Anthropic's ``signature``."""


class ToolCall(TypedDict):
    type: Literal["tool_call"]
    id: str | None
    name: str
    args: dict[str, Any]
    extras: NotRequired[dict[str, Any]]
    """Provider fields that must survive a round trip (signatures, item ids, raw items)."""


class ToolCallChunk(TypedDict):
    type: Literal["tool_call_chunk"]
    id: str | None
    name: str | None
    args: str | None
    """A fragment of JSON; the fragments of one call concatenate to its arguments."""
    index: NotRequired[BlockIndex]
    extras: NotRequired[dict[str, Any]]
    """Provider fields that must survive a round trip (signatures, item ids, raw items)."""


class InvalidToolCall(TypedDict):
    type: Literal["invalid_tool_call"]
    id: str | None
    name: str | None
    args: str | None
    error: str | None


class ServerToolCall(TypedDict):
    type: Literal["server_tool_call"]
    id: str
    name: str
    args: dict[str, Any]
    index: NotRequired[BlockIndex]
    extras: NotRequired[dict[str, Any]]
    """Provider fields that must survive a round trip (signatures, item ids, raw items)."""


class ServerToolCallChunk(TypedDict):
    type: Literal["server_tool_call_chunk"]
    id: NotRequired[str]
    name: NotRequired[str]
    args: NotRequired[str]
    index: NotRequired[BlockIndex]
    extras: NotRequired[dict[str, Any]]
    """Provider fields that must survive a round trip (signatures, item ids, raw items)."""


class ServerToolResult(TypedDict):
    type: Literal["server_tool_result"]
    tool_call_id: str
    status: Literal["success", "error"]
    id: NotRequired[str]
    output: NotRequired[Any]
    index: NotRequired[BlockIndex]
    extras: NotRequired[dict[str, Any]]
    """Provider fields that must survive a round trip (signatures, item ids, raw items)."""


class ImageContentBlock(TypedDict):
    type: Literal["image"]
    id: NotRequired[str]
    file_id: NotRequired[str]
    url: NotRequired[str]
    base64: NotRequired[str]
    mime_type: NotRequired[str]
    index: NotRequired[BlockIndex]
    extras: NotRequired[dict[str, Any]]
    """Provider fields that must survive a round trip (signatures, item ids, raw items)."""


class AudioContentBlock(TypedDict):
    type: Literal["audio"]
    id: NotRequired[str]
    file_id: NotRequired[str]
    url: NotRequired[str]
    base64: NotRequired[str]
    mime_type: NotRequired[str]
    index: NotRequired[BlockIndex]
    extras: NotRequired[dict[str, Any]]
    """Provider fields that must survive a round trip (signatures, item ids, raw items)."""


class VideoContentBlock(TypedDict):
    type: Literal["video"]
    id: NotRequired[str]
    file_id: NotRequired[str]
    url: NotRequired[str]
    base64: NotRequired[str]
    mime_type: NotRequired[str]
    index: NotRequired[BlockIndex]
    extras: NotRequired[dict[str, Any]]
    """Provider fields that must survive a round trip (signatures, item ids, raw items)."""


class FileContentBlock(TypedDict):
    type: Literal["file"]
    id: NotRequired[str]
    file_id: NotRequired[str]
    url: NotRequired[str]
    base64: NotRequired[str]
    mime_type: NotRequired[str]
    index: NotRequired[BlockIndex]
    extras: NotRequired[dict[str, Any]]
    """Provider fields that must survive a round trip (signatures, item ids, raw items)."""


class NonStandardContentBlock(TypedDict):
    type: Literal["non_standard"]
    value: dict[str, Any]
    id: NotRequired[str]
    index: NotRequired[BlockIndex]


ContentBlock = (
    TextContentBlock
    | ReasoningContentBlock
    | ToolCall
    | ToolCallChunk
    | InvalidToolCall
    | ServerToolCall
    | ServerToolCallChunk
    | ServerToolResult
    | ImageContentBlock
    | AudioContentBlock
    | VideoContentBlock
    | FileContentBlock
    | NonStandardContentBlock
)

# ---------------------------------------------------------------------------
# Deltas
# ---------------------------------------------------------------------------


class TextDelta(TypedDict):
    type: Literal["text-delta"]
    text: str


class ReasoningDelta(TypedDict):
    type: Literal["reasoning-delta"]
    reasoning: str


class ToolCallDelta(TypedDict):
    type: Literal["tool-call-delta"]
    args: str


class DataDelta(TypedDict):
    type: Literal["data-delta"]
    data: str
    encoding: NotRequired[Literal["base64"]]


class BlockDelta(TypedDict):
    type: Literal["block-delta"]
    fields: dict[str, Any]
    """A snapshot of some of the block's fields (``type`` among them)."""


ContentBlockDelta = TextDelta | ReasoningDelta | ToolCallDelta | DataDelta | BlockDelta

# ---------------------------------------------------------------------------
# Usage and metadata
# ---------------------------------------------------------------------------


class InputTokenDetails(TypedDict, total=False):
    audio: int
    cache_creation: int
    cache_read: int


class OutputTokenDetails(TypedDict, total=False):
    audio: int
    reasoning: int


class UsageInfo(TypedDict, total=False):
    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_token_details: InputTokenDetails
    output_token_details: OutputTokenDetails


class MessageMetadata(TypedDict, total=False):
    provider: str
    model: str
    model_type: str
    run_id: str
    thread_id: str
    system_fingerprint: str
    service_tier: str


# ---------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------


class MessageStartData(TypedDict):
    event: Literal["message-start"]
    role: NotRequired[str]
    id: NotRequired[str]
    metadata: NotRequired[MessageMetadata]


class ContentBlockStartData(TypedDict):
    event: Literal["content-block-start"]
    index: NotRequired[int]
    content: ContentBlock


class ContentBlockDeltaData(TypedDict):
    event: Literal["content-block-delta"]
    index: NotRequired[int]
    delta: ContentBlockDelta


class ContentBlockFinishData(TypedDict):
    event: Literal["content-block-finish"]
    index: NotRequired[int]
    content: ContentBlock


class MessageFinishData(TypedDict):
    event: Literal["message-finish"]
    usage: NotRequired[UsageInfo]
    metadata: NotRequired[dict[str, Any]]
    """Finish metadata: ``finish_reason``, ``model_name`` and other provider scalars."""
    additional_kwargs: NotRequired[dict[str, Any]]
    """Off-spec: provider data with no protocol field, copied onto the message."""


class MessageErrorData(TypedDict):
    event: Literal["error"]
    message: NotRequired[str]
    code: NotRequired[str]


MessagesData = (
    MessageStartData
    | ContentBlockStartData
    | ContentBlockDeltaData
    | ContentBlockFinishData
    | MessageFinishData
    | MessageErrorData
)

# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------
# Each checker validates one event type and returns the fields the stream
# needs, so a field is checked once and read once on the hot path. None of
# them mutates anything: a ProtocolError leaves the caller's state untouched.

Block = dict[str, Any]
"""A content block as it travels inside the stream: a validated plain dict."""


def _fail(event_type: str | None, field: str | None, problem: str) -> ProtocolError:
    where = f"'{event_type}' event" if event_type else "event"
    if field is not None:
        where += f": field '{field}'"
    return ProtocolError(f"{where} {problem}", event_type=event_type, field=field)


def _type_name(value: object) -> str:
    return type(value).__name__


def _check_index(event: Mapping[str, Any], event_type: str) -> int | None:
    index = event.get("index")
    if index is None or type(index) is int:
        return index
    # bool is an int subclass; an index of True is a producer bug, not 1.
    if isinstance(index, int) and not isinstance(index, bool):
        return int(index)
    raise _fail(event_type, "index", f"must be an int, got {_type_name(index)}")


def _optional(
    mapping: Mapping[str, Any], key: str, kind: type, event_type: str, prefix: str = ""
) -> None:
    value = mapping.get(key)
    if value is not None and not isinstance(value, kind):
        raise _fail(
            event_type,
            prefix + key,
            f"must be {kind.__name__}, got {_type_name(value)}",
        )


# Which block fields must have which type, when present.
_BLOCK_FIELD_TYPES: dict[str, tuple[tuple[str, type], ...]] = {
    "text": (("text", str), ("id", str), ("annotations", list)),
    "reasoning": (("reasoning", str), ("id", str), ("extras", dict)),
    "tool_call_chunk": (("id", str), ("name", str), ("args", str)),
    "server_tool_call_chunk": (("id", str), ("name", str), ("args", str)),
    "tool_call": (("id", str), ("name", str), ("args", dict)),
    "server_tool_call": (("id", str), ("name", str), ("args", dict)),
    "invalid_tool_call": (("id", str), ("name", str), ("args", str), ("error", str)),
    "non_standard": (("value", dict),),
}


def _check_block(block: object, event_type: str, field: str) -> Block:
    if not isinstance(block, dict):
        if isinstance(block, Mapping):
            block = dict(block)
        else:
            raise _fail(event_type, field, f"must be a mapping, got {_type_name(block)}")
    btype = block.get("type")
    if not isinstance(btype, str):
        problem = "is missing" if btype is None else f"must be str, got {_type_name(btype)}"
        raise _fail(event_type, f"{field}.type", problem)
    for key, kind in _BLOCK_FIELD_TYPES.get(btype, ()):
        _optional(block, key, kind, event_type, f"{field}.")
    return block


def _block_field(event: Mapping[str, Any], event_type: str) -> tuple[Any, str]:
    block = event.get("content")
    if block:
        return block, "content"
    legacy = event.get("content_block")
    if legacy is not None:
        return legacy, "content_block"
    if block is not None:
        return block, "content"
    raise _fail(event_type, "content", "is missing")


def check_message_start(event: Mapping[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """Return ``(id, metadata)``."""
    et = "message-start"
    _optional(event, "role", str, et)
    _optional(event, "id", str, et)
    _optional(event, "metadata", Mapping, et)
    metadata = event.get("metadata")
    return event.get("id"), (dict(metadata) if metadata is not None else None)


def check_block_start(event: Mapping[str, Any]) -> tuple[int | None, Block]:
    """Return ``(index, block)``."""
    et = "content-block-start"
    index = _check_index(event, et)
    raw, field = _block_field(event, et)
    return index, _check_block(raw, et, field)


def check_block_finish(event: Mapping[str, Any]) -> tuple[int | None, Block]:
    """Return ``(index, block)``."""
    et = "content-block-finish"
    index = _check_index(event, et)
    raw, field = _block_field(event, et)
    return index, _check_block(raw, et, field)


# Delta types, and which field of each carries the payload and must be a str.
_DELTA_PAYLOAD = {
    "text-delta": "text",
    "reasoning-delta": "reasoning",
    "tool-call-delta": "args",
    "data-delta": "data",
}


def _legacy_delta(block: Block) -> dict[str, Any]:
    """Convert an old ``content_block`` delta into an explicit delta."""
    btype = block["type"]
    if btype == "text":
        return {"type": "text-delta", "text": block.get("text") or ""}
    if btype == "reasoning":
        return {"type": "reasoning-delta", "reasoning": block.get("reasoning") or ""}
    if "data" in block:
        return {"type": "data-delta", "data": block.get("data") or ""}
    # Old cores sent tool-call chunks as whole blocks whose args append.
    return {"type": "legacy-block-delta", "fields": block}


def check_block_delta(event: Mapping[str, Any]) -> tuple[int | None, str, Any]:
    """Return ``(index, delta_type, payload)``.

    The payload is the delta's string for text, reasoning, tool-call and data
    deltas, the ``fields`` dict for ``block-delta`` and ``legacy-block-delta``,
    and the whole delta for unknown types (which the stream ignores).
    """
    et = "content-block-delta"
    index = event.get("index")
    if index is not None and type(index) is not int:
        index = _check_index(event, et)
    delta = event.get("delta")
    if delta is None:
        legacy = event.get("content_block")
        if legacy is None:
            raise _fail(et, "delta", "is missing")
        delta = _legacy_delta(_check_block(legacy, et, "content_block"))
        if delta["type"] == "legacy-block-delta":
            return index, "legacy-block-delta", delta["fields"]
    elif type(delta) is not dict and not isinstance(delta, Mapping):
        raise _fail(et, "delta", f"must be a mapping, got {_type_name(delta)}")
    dtype = delta.get("type")
    if not isinstance(dtype, str):
        problem = "is missing" if dtype is None else f"must be str, got {_type_name(dtype)}"
        raise _fail(et, "delta.type", problem)
    key = _DELTA_PAYLOAD.get(dtype)
    if key is not None:
        payload = delta.get(key)
        if payload is None:
            return index, dtype, ""
        if not isinstance(payload, str):
            raise _fail(et, f"delta.{key}", f"must be str, got {_type_name(payload)}")
        return index, dtype, payload
    if dtype == "block-delta":
        fields = delta.get("fields")
        if not isinstance(fields, Mapping):
            problem = (
                "is missing" if fields is None else f"must be a mapping, got {_type_name(fields)}"
            )
            raise _fail(et, "delta.fields", problem)
        _optional(fields, "type", str, et, "delta.fields.")
        _optional(fields, "args", str, et, "delta.fields.")
        return index, dtype, dict(fields)
    return index, dtype, delta


def check_message_finish(
    event: Mapping[str, Any],
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, Any] | None]:
    """Return ``(usage, metadata, additional_kwargs)``."""
    et = "message-finish"
    out: list[dict[str, Any] | None] = []
    for key in ("usage", "metadata", "additional_kwargs"):
        _optional(event, key, Mapping, et)
        value = event.get(key)
        out.append(dict(value) if value is not None else None)
    return out[0], out[1], out[2]


def check_error(event: Mapping[str, Any]) -> tuple[str, str | None]:
    """Return ``(message, code)``."""
    et = "error"
    _optional(event, "message", str, et)
    code = event.get("code")
    if code is not None and not isinstance(code, (str, int)):
        raise _fail(et, "code", f"must be str or int, got {_type_name(code)}")
    message = event.get("message") or "the provider reported an error without a message"
    return message, (str(code) if code is not None else None)


def event_type_of(event: object) -> str:
    """Return the event's type, or raise ``ProtocolError`` if it has none."""
    if type(event) is not dict and not isinstance(event, Mapping):
        raise _fail(None, None, f"must be a mapping, got {_type_name(event)}")
    etype = event.get("event")
    if isinstance(etype, str):
        return etype
    if etype is None:
        raise _fail(None, "event", "is missing")
    raise _fail(None, "event", f"must be str, got {_type_name(etype)}")


CHECKERS: dict[str, Any] = {
    "message-start": check_message_start,
    "content-block-start": check_block_start,
    "content-block-delta": check_block_delta,
    "content-block-finish": check_block_finish,
    "message-finish": check_message_finish,
    "error": check_error,
}


def validate_event(event: object) -> str:
    """Check one event's structure, as ``dispatch`` does, without a stream.

    Returns the event type. Raises ``ProtocolError`` naming the event type and
    the field. Unknown event types are valid (and ignored by streams).
    """
    etype = event_type_of(event)
    checker = CHECKERS.get(etype)
    if checker is not None:
        checker(event)
    return etype
