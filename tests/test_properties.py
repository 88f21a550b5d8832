"""Property tests over random valid event sequences (contract sections 2 and 3).

The strategy builds a message from text, reasoning and tool-call blocks at
distinct, random wire indexes. Each block's events (start, deltas, optional
finish) keep their own order but are randomly interleaved with the other
blocks', and the message ends with ``message-finish``. Deltas are split at
random points, text may ride on the start event, and a finish may extend the
deltas with a tail (which must then be pushed as one more delta).

Each property is checked for the sync stream (consumers pulling through a
pump, interleaved at random) and the async stream (consumers joining at
random points while a producer dispatches).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamblocks import AIMessage, AsyncChatModelStream, ChatModelStream, StreamState
from tests import events as ev

Event = dict[str, Any]

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

FLAVOURS = pytest.mark.parametrize("flavour", ["sync", "async"])


# ---------------------------------------------------------------------------
# The model of a message
# ---------------------------------------------------------------------------


@dataclass
class Block:
    index: int
    kind: str  # "text" | "reasoning" | "tool"
    events: list[Event]
    # text / reasoning
    final_text: str = ""
    # tool
    call_id: str = ""
    name: str = ""
    provider_index: int | None = None
    args: dict[str, Any] = field(default_factory=dict)
    args_json: str = ""


@dataclass
class Message:
    blocks: list[Block]
    events: list[Event]
    # Expected deltas, in the order they must be pushed.
    text_deltas: list[str]
    reasoning_deltas: list[str]
    tool_chunks: list[tuple[str, str]]  # (call id, args fragment)

    def by_index(self) -> list[Block]:
        return sorted(self.blocks, key=lambda b: b.index)

    def joined(self, kind: str) -> str:
        return "".join(b.final_text for b in self.by_index() if b.kind == kind)


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.text(max_size=6),
)
json_args = st.dictionaries(
    st.text(max_size=5),
    st.one_of(json_scalars, st.lists(json_scalars, max_size=3)),
    max_size=3,
)


@st.composite
def splits(draw: st.DrawFn, whole: str) -> list[str]:
    """``whole`` cut at random points (empty pieces allowed)."""
    cuts = draw(st.lists(st.integers(0, len(whole)), max_size=5))
    bounds = [0, *sorted(cuts), len(whole)]
    return [whole[a:b] for a, b in itertools.pairwise(bounds)]


@st.composite
def text_block(draw: st.DrawFn, index: int, kind: str) -> tuple[Block, list[tuple[str, str]]]:
    """A text or reasoning block, and the (kind, delta) pushes it must cause."""
    parts = draw(st.lists(st.text(max_size=6), max_size=5))
    on_start = bool(parts) and draw(st.booleans())
    finished = draw(st.booleans())
    tail = draw(st.text(max_size=4)) if finished else ""

    streamed = "".join(parts)
    start_block: dict[str, Any] = {"type": kind, kind: parts[0] if on_start else ""}
    events: list[Event] = [ev.block_start(index, start_block)]
    delta_parts = parts[1:] if on_start else parts
    for part in delta_parts:
        events.append(ev.text(index, part) if kind == "text" else ev.reasoning(index, part))
    if finished:
        events.append(ev.block_finish(index, {"type": kind, kind: streamed + tail}))

    # What each event pushes, aligned with `events` (None: nothing).
    pushes: list[str | None] = [parts[0] if on_start else None]
    pushes += [p or None for p in delta_parts]
    if finished:
        pushes.append(tail or None)
    block = Block(index=index, kind=kind, events=events, final_text=streamed + tail)
    return block, [(kind, p or "") for p in pushes]


@st.composite
def tool_block(draw: st.DrawFn, index: int, ordinal: int) -> tuple[Block, list[tuple[str, str]]]:
    args = draw(json_args)
    args_json = json.dumps(args)
    pieces = draw(splits(args_json))
    on_start = draw(st.booleans())
    provider_index = ordinal if draw(st.booleans()) else None
    finished = draw(st.booleans())
    call_id = f"call_{index}"
    name = f"tool_{index}"

    first, rest = (pieces[0], pieces[1:]) if on_start else ("", pieces)
    events: list[Event] = [ev.tool_start(index, call_id, name, first, provider_index)]
    events += [ev.tool_args(index, piece) for piece in rest]
    if finished:
        events.append(
            ev.block_finish(index, {"type": "tool_call", "id": call_id, "name": name, "args": args})
        )
    pushes = [first, *rest] + ([""] if finished else [])
    block = Block(
        index=index,
        kind="tool",
        events=events,
        call_id=call_id,
        name=name,
        provider_index=provider_index,
        args=args,
        args_json=args_json,
    )
    return block, [("tool", p) for p in pushes]


@st.composite
def messages(draw: st.DrawFn) -> Message:
    count = draw(st.integers(0, 6))
    indexes = draw(st.lists(st.integers(0, 40), min_size=count, max_size=count, unique=True))
    kinds = draw(
        st.lists(st.sampled_from(["text", "reasoning", "tool"]), min_size=count, max_size=count)
    )
    blocks: list[Block] = []
    pushes: list[list[tuple[str, str]]] = []
    tools = 0
    for index, kind in zip(indexes, kinds, strict=True):
        if kind == "tool":
            block, block_pushes = draw(tool_block(index, tools))
            tools += 1
        else:
            block, block_pushes = draw(text_block(index, kind))
        blocks.append(block)
        pushes.append(block_pushes)

    # Interleave: a random permutation of block slots, one slot per event;
    # each block's own events keep their order.
    slots = [i for i, block in enumerate(blocks) for _ in block.events]
    order = draw(st.permutations(slots))
    cursors = [0] * len(blocks)
    body: list[Event] = []
    text_deltas: list[str] = []
    reasoning_deltas: list[str] = []
    tool_chunks: list[tuple[str, str]] = []
    for slot in order:
        block = blocks[slot]
        position = cursors[slot]
        cursors[slot] += 1
        body.append(block.events[position])
        kind, pushed = pushes[slot][position]
        if not pushed:
            continue
        if kind == "text":
            text_deltas.append(pushed)
        elif kind == "reasoning":
            reasoning_deltas.append(pushed)
        else:
            tool_chunks.append((block.call_id, pushed))

    usage = {"input_tokens": 1, "output_tokens": len(body), "total_tokens": 1 + len(body)}
    events = [ev.start("msg-prop"), *body, ev.finish(usage, finish_reason="stop")]
    return Message(blocks, events, text_deltas, reasoning_deltas, tool_chunks)


# ---------------------------------------------------------------------------
# Running a message through each flavour
# ---------------------------------------------------------------------------


@dataclass
class Seen:
    """What every consumer of one stream saw."""

    text: list[list[str]]  # one delta list per consumer, late consumers last
    reasoning: list[list[str]]
    tool_chunks: list[list[Any]]
    events: list[list[Any]]
    text_value: str
    reasoning_value: str
    tool_calls: list[dict[str, Any]]
    output: AIMessage


def run_sync(message: Message, schedule: list[int]) -> Seen:
    """Consumers pull through a pump, taking turns as ``schedule`` says."""
    stream = ChatModelStream()
    pending = list(message.events)

    def pump() -> bool:
        if not pending:
            return False
        stream.dispatch(pending.pop(0))  # must never raise on valid input
        return True

    stream.bind_pump(pump)
    sources: list[Any] = [
        stream.text,
        stream.text,
        stream.reasoning,
        stream.reasoning,
        stream.tool_calls,
        stream.tool_calls,
        stream,
        stream,
    ]
    iterators = [iter(s) for s in sources]
    seen: list[list[Any]] = [[] for _ in sources]
    done = [False] * len(sources)
    for turn in schedule:
        k = turn % len(sources)
        if not done[k]:
            try:
                seen[k].append(next(iterators[k]))
            except StopIteration:
                done[k] = True
    for k, iterator in enumerate(iterators):
        seen[k].extend(iterator)
    assert stream.state is StreamState.FINISHED
    assert pending == []

    late_text = list(stream.text)
    late_reasoning = list(stream.reasoning)
    late_chunks = list(stream.tool_calls)
    late_events = list(stream)
    return Seen(
        text=[seen[0], seen[1], late_text],
        reasoning=[seen[2], seen[3], late_reasoning],
        tool_chunks=[seen[4], seen[5], late_chunks],
        events=[seen[6], seen[7], late_events],
        text_value=str(stream.text),
        reasoning_value=stream.reasoning.get(),
        tool_calls=[dict(tc) for tc in stream.tool_calls.get()],
        output=stream.output,
    )


def run_async(message: Message, joins: list[int], yields: list[bool]) -> Seen:
    """Consumers join at the event positions in ``joins``; the producer
    yields to them after an event when ``yields`` says so."""

    async def collect(source: Any) -> list[Any]:
        return [item async for item in source]

    async def main() -> Seen:
        stream = AsyncChatModelStream()
        tasks: dict[str, list[asyncio.Task[list[Any]]]] = {
            "text": [],
            "reasoning": [],
            "tool_calls": [],
            "events": [],
        }

        def join() -> None:
            tasks["text"].append(asyncio.create_task(collect(stream.text)))
            tasks["reasoning"].append(asyncio.create_task(collect(stream.reasoning)))
            tasks["tool_calls"].append(asyncio.create_task(collect(stream.tool_calls)))
            tasks["events"].append(asyncio.create_task(collect(stream)))

        join()  # at least one consumer from before the first event
        await asyncio.sleep(0)
        for position, event in enumerate(message.events):
            for _ in range(joins.count(position)):
                join()
            stream.dispatch(event)  # must never raise on valid input
            if yields[position % len(yields)]:
                await asyncio.sleep(0)
        assert stream.state is StreamState.FINISHED

        live = {name: list(await asyncio.gather(*ts)) for name, ts in tasks.items()}
        return Seen(
            text=[*live["text"], await collect(stream.text)],
            reasoning=[*live["reasoning"], await collect(stream.reasoning)],
            tool_chunks=[*live["tool_calls"], await collect(stream.tool_calls)],
            events=[*live["events"], await collect(stream)],
            text_value=await stream.text,
            reasoning_value=await stream.reasoning,
            tool_calls=[dict(tc) for tc in await stream.tool_calls],
            output=await stream,
        )

    return asyncio.run(main())


@st.composite
def runs(draw: st.DrawFn, flavour: str) -> tuple[Message, Seen]:
    message = draw(messages())
    if flavour == "sync":
        schedule = draw(st.lists(st.integers(0, 7), max_size=3 * len(message.events)))
        return message, run_sync(message, schedule)
    joins = draw(st.lists(st.integers(0, len(message.events) - 1), max_size=4))
    yields = draw(st.lists(st.booleans(), min_size=1, max_size=8))
    return message, run_async(message, joins, yields)


def flavour_runs(flavour: str) -> st.SearchStrategy[tuple[Message, Seen]]:
    return runs(flavour)


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------


@FLAVOURS
class TestEveryConsumerSeesTheSameDeltas:
    @SETTINGS
    @given(data=st.data())
    def test_all_consumers_including_late_ones_agree(
        self, flavour: str, data: st.DataObject
    ) -> None:
        _, seen = data.draw(flavour_runs(flavour))
        for consumers in (seen.text, seen.reasoning, seen.tool_chunks, seen.events):
            assert len(consumers) >= 2
            assert all(c == consumers[0] for c in consumers[1:])

    @SETTINGS
    @given(data=st.data())
    def test_consumers_see_exactly_the_pushed_deltas(
        self, flavour: str, data: st.DataObject
    ) -> None:
        message, seen = data.draw(flavour_runs(flavour))
        assert seen.text[-1] == message.text_deltas
        assert seen.reasoning[-1] == message.reasoning_deltas
        assert [(c["id"], c["args"]) for c in seen.tool_chunks[-1]] == message.tool_chunks

    @SETTINGS
    @given(data=st.data())
    def test_the_raw_replay_is_every_dispatched_event(
        self, flavour: str, data: st.DataObject
    ) -> None:
        message, seen = data.draw(flavour_runs(flavour))
        assert seen.events[-1] == message.events


@FLAVOURS
class TestFinalValues:
    @SETTINGS
    @given(data=st.data())
    def test_text_is_the_per_block_join_in_index_order(
        self, flavour: str, data: st.DataObject
    ) -> None:
        message, seen = data.draw(flavour_runs(flavour))
        assert seen.text_value == message.joined("text")
        assert seen.reasoning_value == message.joined("reasoning")
        assert seen.output.text == message.joined("text")
        assert seen.output.reasoning == message.joined("reasoning")

    @SETTINGS
    @given(data=st.data())
    def test_output_content_is_in_wire_index_order(self, flavour: str, data: st.DataObject) -> None:
        message, seen = data.draw(flavour_runs(flavour))
        expected = message.by_index()
        if not expected:
            assert seen.output.content == ""
            return
        content = seen.output.content
        assert isinstance(content, list)
        assert len(content) == len(expected)
        for block, got in zip(expected, content, strict=True):
            out: dict[str, Any] = dict(got)
            if block.kind == "tool":
                assert out == {
                    "type": "tool_call",
                    "id": block.call_id,
                    "name": block.name,
                    "args": block.args,
                }
            else:
                assert out["type"] == block.kind
                assert out["index"] == block.index
                # An empty reasoning block may omit the field (it is only
                # written when text accumulated).
                assert out.get(block.kind, "") == block.final_text
                assert set(out) <= {"type", "index", block.kind}

    @SETTINGS
    @given(data=st.data())
    def test_tool_call_args_parse_to_what_was_sent(self, flavour: str, data: st.DataObject) -> None:
        message, seen = data.draw(flavour_runs(flavour))
        tools = [b for b in message.blocks if b.kind == "tool"]
        expected = {b.call_id: (b.name, b.args) for b in tools}
        assert {tc["id"]: (tc["name"], tc["args"]) for tc in seen.tool_calls} == expected
        assert seen.output.tool_calls == seen.tool_calls
        assert seen.output.invalid_tool_calls == []
        # The fragments of each call concatenate to the JSON that was sent.
        fragments: dict[str, str] = {}
        for chunk in seen.tool_chunks[-1]:
            fragments[chunk["id"]] = fragments.get(chunk["id"], "") + chunk["args"]
        for block in tools:
            assert fragments.get(block.call_id, "") == block.args_json

    @SETTINGS
    @given(data=st.data())
    def test_tool_chunks_carry_their_calls_identity(
        self, flavour: str, data: st.DataObject
    ) -> None:
        message, seen = data.draw(flavour_runs(flavour))
        calls = {b.call_id: b for b in message.blocks if b.kind == "tool"}
        for chunk in seen.tool_chunks[-1]:
            block = calls[chunk["id"]]
            assert chunk["type"] == "tool_call_chunk"
            assert chunk["name"] == block.name
            assert chunk.get("index") == block.provider_index

    @SETTINGS
    @given(data=st.data())
    def test_output_metadata_and_usage(self, flavour: str, data: st.DataObject) -> None:
        message, seen = data.draw(flavour_runs(flavour))
        assert seen.output.id == "msg-prop"
        assert seen.output.usage_metadata == message.events[-1]["usage"]
        assert seen.output.response_metadata == {"finish_reason": "stop", "output_version": "v1"}
        assert AIMessage.from_dict(json.loads(json.dumps(seen.output.to_dict()))) == seen.output


@SETTINGS
@given(message=messages())
def test_dispatch_never_raises_on_valid_input_and_snapshot_equals_output(message: Message) -> None:
    stream = ChatModelStream()
    for event in message.events:
        stream.dispatch(event)
        stream.snapshot()  # works at every step
    assert stream.state is StreamState.FINISHED
    assert stream.error is None
    assert stream.snapshot() == stream.output
