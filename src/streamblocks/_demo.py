"""``python -m streamblocks._demo``: one stream, four consumers, a full tool round trip.

The offline ``DemoModel`` is asked about the weather in Paris. It streams
reasoning, then text, then a ``get_weather`` call whose arguments arrive as
JSON fragments; four consumers read that one stream concurrently, each through
its own projection (``|`` marks where one delta ends). The assembled message
is printed, the call is answered with a made-up result, and the second turn
streams the answer. No network; about two seconds.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from ._messages import HumanMessage, ToolMessage
from .models import DemoModel

if TYPE_CHECKING:
    from collections.abc import AsyncIterable

    from . import AsyncChatModelStream

QUESTION = "What's the weather in Paris right now?"
WEATHER = {"city": "Paris", "temperature": 18, "unit": "celsius", "conditions": "Sunny"}
TOKENS_PER_SECOND = 60.0  # slow enough to watch, fast enough for CI


class _Printer:
    """Prints deltas inline, starting a labelled line whenever the consumer changes.

    All consumers run on one event loop, so their prints never interleave
    within a line; a new label only begins where the previous line ended.
    """

    def __init__(self) -> None:
        self.label: str | None = None

    def piece(self, label: str, text: str) -> None:
        if label != self.label:
            self.end()
            print(f"  {label:<10} ", end="")
            self.label = label
        print(text, end="|", flush=True)

    def line(self, label: str, text: str) -> None:
        self.end()
        print(f"  {label:<10} {text}", flush=True)

    def end(self) -> None:
        if self.label is not None:
            print()
            self.label = None


async def _pieces(label: str, deltas: AsyncIterable[str], out: _Printer) -> int:
    count = 0
    async for delta in deltas:
        count += 1
        out.piece(label, delta)
    return count


async def _tool_calls(stream: AsyncChatModelStream, out: _Printer) -> int:
    count = 0
    async for chunk in stream.tool_calls:
        count += 1
        args = chunk["args"] or ""
        out.piece("tool_call", f"{chunk['name']} {args}" if count == 1 else args)
    return count


async def _events(stream: AsyncChatModelStream, out: _Printer) -> int:
    count = 0
    async for event in stream:
        count += 1
        if event["event"] == "message-start":
            out.line("event", f"message-start {json.dumps(event.get('metadata', {}))}")
        elif event["event"] == "message-finish":
            out.line("event", f"message-finish {json.dumps(event.get('metadata', {}))}")
    return count


async def main() -> None:
    model = DemoModel(tokens_per_second=TOKENS_PER_SECOND)
    out = _Printer()
    print("streamblocks demo: the offline DemoModel, one stream, four concurrent consumers\n")
    print(f"user: {QUESTION}\n")

    stream = await model.astream_events(QUESTION)
    async with stream:
        events, *deltas = await asyncio.gather(
            _events(stream, out),
            _pieces("reasoning", stream.reasoning, out),
            _pieces("text", stream.text, out),
            _tool_calls(stream, out),
        )
        message = await stream
    out.end()
    print(
        f"\nconsumers saw {deltas[0]} reasoning, {deltas[1]} text and {deltas[2]} tool-call "
        f"deltas, and {events} raw events"
    )
    print(f"text:       {message.text!r}")
    print(f"tool calls: {message.tool_calls}")
    print("\nassembled message (AIMessage.to_dict(), one field per line):")
    for key, value in message.to_dict().items():
        if key == "content":
            for i, block in enumerate(value):
                print(f"  content[{i}]  {json.dumps(block, ensure_ascii=False)}")
        else:
            print(f"  {key}  {json.dumps(value, ensure_ascii=False)}")
    print()

    # The tool round trip: the assembled message goes back as input, reasoning
    # signature and tool call intact, followed by the tool's result.
    call = message.tool_calls[0]
    result = ToolMessage(json.dumps(WEATHER), tool_call_id=call["id"] or "", name=call["name"])
    print(f"tool:  {call['name']}({json.dumps(call['args'])}) -> {result.content}\n")
    second = await model.astream_events([HumanMessage(QUESTION), message, result])
    async with second:
        async for delta in second.reasoning:
            out.piece("reasoning", delta)
        async for delta in second.text:
            out.piece("text", delta)
        answer = await second
    out.end()
    print(f"\nanswer: {answer.text}")
    print(f"usage:  {answer.usage_metadata}")
    print(
        "\nThat was the offline DemoModel. Real providers work the same way:"
        ' init_chat_model("openai:gpt-4o-mini"), "anthropic:...", "gemini:..." or'
        ' "ollama:<model>" (see docs/providers.md).'
    )


if __name__ == "__main__":
    asyncio.run(main())
