"""Builders for protocol events, shared by the test modules."""

from __future__ import annotations

from typing import Any

Event = dict[str, Any]


def start(message_id: str = "msg-1", **metadata: Any) -> Event:
    event: Event = {"event": "message-start", "role": "ai", "id": message_id}
    if metadata:
        event["metadata"] = metadata
    return event


def block_start(index: int, block: dict[str, Any]) -> Event:
    return {"event": "content-block-start", "index": index, "content": block}


def text_start(index: int, text: str = "") -> Event:
    return block_start(index, {"type": "text", "text": text})


def text(index: int, delta: str) -> Event:
    return {
        "event": "content-block-delta",
        "index": index,
        "delta": {"type": "text-delta", "text": delta},
    }


def reasoning(index: int, delta: str) -> Event:
    return {
        "event": "content-block-delta",
        "index": index,
        "delta": {"type": "reasoning-delta", "reasoning": delta},
    }


def tool_start(
    index: int, call_id: str, name: str, args: str = "", provider_index: int | None = None
) -> Event:
    block: dict[str, Any] = {"type": "tool_call_chunk", "id": call_id, "name": name, "args": args}
    if provider_index is not None:
        block["index"] = provider_index
    return block_start(index, block)


def tool_args(index: int, args: str) -> Event:
    return {
        "event": "content-block-delta",
        "index": index,
        "delta": {"type": "tool-call-delta", "args": args},
    }


def block_finish(index: int | None, block: dict[str, Any]) -> Event:
    event: Event = {"event": "content-block-finish", "content": block}
    if index is not None:
        event["index"] = index
    return event


def finish(usage: dict[str, Any] | None = None, **metadata: Any) -> Event:
    event: Event = {"event": "message-finish"}
    if usage is not None:
        event["usage"] = usage
    if metadata:
        event["metadata"] = metadata
    return event


def error(message: str = "boom", code: str | None = None) -> Event:
    event: Event = {"event": "error", "message": message}
    if code is not None:
        event["code"] = code
    return event


def simple_text_message(parts: list[str], message_id: str = "msg-1") -> list[Event]:
    """start, one text block delivered as ``parts``, its finish, message finish."""
    return [
        start(message_id),
        text_start(0),
        *(text(0, p) for p in parts),
        block_finish(0, {"type": "text", "text": "".join(parts)}),
        finish({"input_tokens": 3, "output_tokens": len(parts), "total_tokens": 3 + len(parts)}),
    ]


def mixed_message() -> list[Event]:
    """Reasoning, text and two parallel tool calls, interleaved as providers do."""
    return [
        start("msg-mixed", provider="demo", model="demo-1"),
        block_start(0, {"type": "reasoning", "reasoning": ""}),
        reasoning(0, "Let me "),
        reasoning(0, "think."),
        block_finish(
            0, {"type": "reasoning", "reasoning": "Let me think.", "extras": {"signature": "sig"}}
        ),
        text_start(1),
        text(1, "Checking "),
        text(1, "both."),
        block_finish(1, {"type": "text", "text": "Checking both."}),
        tool_start(2, "call_a", "get_weather", provider_index=0),
        tool_start(3, "call_b", "get_time", provider_index=1),
        tool_args(2, '{"city": '),
        tool_args(3, '{"tz": "UTC"}'),
        tool_args(2, '"Paris"}'),
        finish(
            {"input_tokens": 10, "output_tokens": 20, "total_tokens": 30},
            finish_reason="tool_calls",
        ),
    ]
