"""Protocol event lists the scenarios dispatch.

Every list is built once, before any timing, and may be dispatched into many streams:
neither implementation mutates the events it is given.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmarks._harness import Event

# Chat-model tokens are a few characters long; a fixed vocabulary of word pieces keeps
# the delta sizes realistic (3.8 characters on average) and the event lists cheap to build.
TOKENS = (
    "The",
    " quick",
    " brown",
    " fox",
    " jumps",
    " over",
    " the",
    " lazy",
    " dog",
    ".",
    " It",
    "'s",
    " a",
    " test",
    ",",
    " ok",
)

# Framing events around the deltas of a single text block: message-start,
# content-block-start, content-block-finish, message-finish.
TEXT_FRAMING_EVENTS = 4


def message_start() -> Event:
    """``message-start`` with the metadata every scenario uses."""
    return {
        "event": "message-start",
        "role": "ai",
        "id": "m1",
        "metadata": {"provider": "bench", "model": "bench-model"},
    }


def message_finish(output_tokens: int) -> Event:
    """``message-finish`` with usage and a stop reason."""
    return {
        "event": "message-finish",
        "usage": {
            "input_tokens": 10,
            "output_tokens": output_tokens,
            "total_tokens": 10 + output_tokens,
        },
        "metadata": {"finish_reason": "stop"},
    }


def text_delta(index: int, text: str) -> Event:
    """A ``text-delta`` for block ``index``."""
    return {
        "event": "content-block-delta",
        "index": index,
        "delta": {"type": "text-delta", "text": text},
    }


def reasoning_delta(index: int, text: str) -> Event:
    """A ``reasoning-delta`` for block ``index``."""
    return {
        "event": "content-block-delta",
        "index": index,
        "delta": {"type": "reasoning-delta", "reasoning": text},
    }


@dataclass(frozen=True)
class TextStream:
    """Events of a one-text-block message, and the text they spell."""

    events: list[Event]
    text: str
    deltas: int


def text_stream(deltas: int, pieces: tuple[str, ...] = TOKENS) -> TextStream:
    """A message with one text block of ``deltas`` deltas cycling through ``pieces``."""
    chunks = [pieces[i % len(pieces)] for i in range(deltas)]
    text = "".join(chunks)
    events = [
        message_start(),
        {"event": "content-block-start", "index": 0, "content": {"type": "text", "text": ""}},
        *(text_delta(0, chunk) for chunk in chunks),
        {"event": "content-block-finish", "index": 0, "content": {"type": "text", "text": text}},
        message_finish(deltas),
    ]
    return TextStream(events=events, text=text, deltas=deltas)


def hundred_char_pieces() -> tuple[str, ...]:
    """Sixteen distinct 100-character deltas, for the large-text scenario."""
    sentence = "Streaming large documents one paragraph at a time keeps latency low. "
    return tuple((f"[{i:02d}] " + sentence * 2)[:100] for i in range(16))


@dataclass(frozen=True)
class MixedStream:
    """Events of a reasoning + text + two-parallel-tool-call message, and what they spell."""

    events: list[Event]
    reasoning: str
    text: str
    tool_args: tuple[dict[str, Any], dict[str, Any]]


def _split(text: str, parts: int) -> list[str]:
    """Cut ``text`` into ``parts`` contiguous non-empty pieces of near-equal length."""
    step, extra = divmod(len(text), parts)
    if step == 0:
        msg = f"cannot split {len(text)} characters into {parts} non-empty pieces"
        raise ValueError(msg)
    out = []
    start = 0
    for i in range(parts):
        end = start + step + (1 if i < extra else 0)
        out.append(text[start:end])
        start = end
    return out


def mixed_stream(total_events: int) -> MixedStream:
    """A message exercising every projection, ``total_events`` events long.

    Layout, in wire order: a reasoning block (30% of the deltas), a text block (40%),
    then two tool calls started together whose argument deltas interleave (15% each), as
    providers stream parallel calls.
    """
    framing = 10  # message start/finish + start/finish of four blocks
    deltas = total_events - framing
    n_reasoning = deltas * 3 // 10
    n_text = deltas * 4 // 10
    n_tool = (deltas - n_reasoning - n_text) // 2
    n_tool_b = deltas - n_reasoning - n_text - n_tool

    reasoning_chunks = [TOKENS[i % len(TOKENS)] for i in range(n_reasoning)]
    text_chunks = [TOKENS[(i + 3) % len(TOKENS)] for i in range(n_text)]
    reasoning = "".join(reasoning_chunks)
    text = "".join(text_chunks)

    # Argument JSON long enough to be cut into one delta of ~4 characters per event.
    args_a: dict[str, Any] = {"city": "Paris", "notes": "sunny " * n_tool}
    args_b: dict[str, Any] = {"city": "Oslo", "notes": "snowy " * n_tool_b}
    pieces_a = _split(json.dumps(args_a), n_tool)
    pieces_b = _split(json.dumps(args_b), n_tool_b)

    events: list[Event] = [
        message_start(),
        {
            "event": "content-block-start",
            "index": 0,
            "content": {"type": "reasoning", "reasoning": ""},
        },
        *(reasoning_delta(0, chunk) for chunk in reasoning_chunks),
        {
            "event": "content-block-finish",
            "index": 0,
            "content": {"type": "reasoning", "reasoning": reasoning},
        },
        {"event": "content-block-start", "index": 1, "content": {"type": "text", "text": ""}},
        *(text_delta(1, chunk) for chunk in text_chunks),
        {"event": "content-block-finish", "index": 1, "content": {"type": "text", "text": text}},
    ]
    calls = (
        ("call_a", "get_weather", 0, pieces_a, args_a),
        ("call_b", "get_time", 1, pieces_b, args_b),
    )
    for call_id, name, provider_index, _, _ in calls:
        events.append(
            {
                "event": "content-block-start",
                "index": 2 + provider_index,
                "content": {
                    "type": "tool_call_chunk",
                    "id": call_id,
                    "name": name,
                    "args": "",
                    "index": provider_index,
                },
            }
        )
    for i in range(max(n_tool, n_tool_b)):
        for _, _, provider_index, pieces, _ in calls:
            if i < len(pieces):
                events.append(
                    {
                        "event": "content-block-delta",
                        "index": 2 + provider_index,
                        "delta": {"type": "tool-call-delta", "args": pieces[i]},
                    }
                )
    for call_id, name, provider_index, _, args in calls:
        events.append(
            {
                "event": "content-block-finish",
                "index": 2 + provider_index,
                "content": {"type": "tool_call", "id": call_id, "name": name, "args": args},
            }
        )
    events.append(message_finish(deltas))
    if len(events) != total_events:
        msg = f"built {len(events)} events, wanted {total_events}"
        raise AssertionError(msg)
    return MixedStream(events=events, reasoning=reasoning, text=text, tool_args=(args_a, args_b))
