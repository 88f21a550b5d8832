"""``python -m streamblocks._demo``: one stream, four consumers, one message.

A scripted producer task feeds an ``AsyncChatModelStream`` the way a provider
adapter would: reasoning, then text, then a tool call whose arguments arrive
as JSON fragments. Four consumers read it concurrently, each through its own
projection, and the assembled message is printed at the end. No network.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TYPE_CHECKING, Any

from . import AsyncChatModelStream

if TYPE_CHECKING:
    from collections.abc import AsyncIterable

_PACE = 0.02  # seconds between events: slow enough to watch, fast enough for CI


def _script() -> list[dict[str, Any]]:
    def delta(index: int, kind: str, value: str) -> dict[str, Any]:
        field = {"text-delta": "text", "reasoning-delta": "reasoning", "tool-call-delta": "args"}
        return {
            "event": "content-block-delta",
            "index": index,
            "delta": {"type": kind, field[kind]: value},
        }

    reasoning = ["The user ", "wants the weather ", "in Paris; ", "I should call the tool."]
    text = ["Let me ", "check the ", "current weather ", "in Paris for you."]
    args = ['{"ci', 'ty": "Par', 'is", "unit', '": "celsius"}']
    return [
        {
            "event": "message-start",
            "role": "ai",
            "id": "msg-demo",
            "metadata": {"provider": "demo", "model": "scripted"},
        },
        {
            "event": "content-block-start",
            "index": 0,
            "content": {"type": "reasoning", "reasoning": ""},
        },
        *(delta(0, "reasoning-delta", r) for r in reasoning),
        {
            "event": "content-block-finish",
            "index": 0,
            "content": {
                "type": "reasoning",
                "reasoning": "",
                "extras": {"signature": "demo-signature"},
            },
        },
        {"event": "content-block-start", "index": 1, "content": {"type": "text", "text": ""}},
        *(delta(1, "text-delta", t) for t in text),
        {
            "event": "content-block-finish",
            "index": 1,
            "content": {"type": "text", "text": "".join(text)},
        },
        {
            "event": "content-block-start",
            "index": 2,
            "content": {
                "type": "tool_call_chunk",
                "id": "call_1",
                "name": "get_weather",
                "args": "",
                "index": 0,
            },
        },
        *(delta(2, "tool-call-delta", a) for a in args),
        {
            "event": "message-finish",
            "usage": {"input_tokens": 42, "output_tokens": 31, "total_tokens": 73},
            "metadata": {"finish_reason": "tool_calls"},
        },
    ]


async def _produce(stream: AsyncChatModelStream) -> None:
    for event in _script():
        stream.dispatch(event)
        await asyncio.sleep(_PACE)


async def _show(label: str, items: AsyncIterable[object]) -> int:
    count = 0
    async for item in items:
        count += 1
        print(f"  {label:<10} {item!r}", flush=True)
    return count


async def main() -> None:
    stream = AsyncChatModelStream()
    print("streamblocks demo: a scripted producer, four concurrent consumers\n")
    async with stream:
        stream.bind_producer(asyncio.create_task(_produce(stream)))
        counts = await asyncio.gather(
            _show("reasoning", stream.reasoning),
            _show("text", stream.text),
            _show("tool_call", stream.tool_calls),
            _show_events(stream),
        )
        message = await stream
    print(
        f"\nconsumers saw {counts[0]} reasoning, {counts[1]} text, "
        f"{counts[2]} tool-call deltas and {counts[3]} raw events"
    )
    print(f"full text:  {await stream.text!r}")
    print(f"tool calls: {await stream.tool_calls}")
    print("\nassembled message (AIMessage.to_dict()):")
    json.dump(message.to_dict(), sys.stdout, indent=2)
    print()


async def _show_events(stream: AsyncChatModelStream) -> int:
    count = 0
    async for event in stream:
        count += 1
        if event["event"] in ("message-start", "message-finish"):
            print(f"  {'event':<10} {event['event']}", flush=True)
    return count


if __name__ == "__main__":
    asyncio.run(main())
