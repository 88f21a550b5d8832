"""Contract section 5, cost, checked structurally: no timings.

* each delta is buffered once per projection, and consumers share the buffer;
* no string is rebuilt per delta (text is kept as list parts, joined at the end);
* the per-event work does not grow with the stream's length;
* a wake-up costs O(waiters): the channel's waiter list is handed over and
  emptied, cancelled waiters are removed, a woken consumer drains everything.
"""

from __future__ import annotations

import asyncio
import sys
import tracemalloc
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from streamblocks import AsyncChatModelStream, ChatModelStream
from streamblocks._stream import _core
from streamblocks._stream._async import AsyncChatModelStream as _AsyncStream
from streamblocks._stream._async import _Cursor
from tests import events as ev

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from streamblocks._stream._core import Channel, StreamCore

T = TypeVar("T")


def text_events(n: int) -> tuple[list[ev.Event], list[str]]:
    """A one-block text message of ``n`` deltas (distinct string objects)."""
    deltas = [f"part {i}; " for i in range(n)]
    events = [ev.start(), ev.text_start(0), *(ev.text(0, d) for d in deltas), ev.finish()]
    return events, deltas


def total_items(core: StreamCore) -> int:
    return sum(len(c.items) for c in (core.events, core.text, core.reasoning, core.tool_chunks))


class Counter:
    """Counts calls to methods patched onto a class."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def wrap(self, name: str, func: Callable[..., T]) -> Callable[..., T]:
        def counted(*args: Any, **kwargs: Any) -> T:
            self.calls[name] = self.calls.get(name, 0) + 1
            return func(*args, **kwargs)

        return counted

    def total(self) -> int:
        return sum(self.calls.values())


@pytest.fixture
def joins(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Count every operation that joins or collapses accumulated text or args."""
    counter = Counter()
    for cls, name in (
        (_core._BlockText, "joined"),
        (_core._BlockText, "block_text"),
        (_core._BlockText, "reconcile"),
        (_core._OpenCall, "held_args"),
    ):
        monkeypatch.setattr(cls, name, counter.wrap(f"{cls.__name__}.{name}", getattr(cls, name)))
    return counter


# -- buffered once per projection ------------------------------------------------------


def test_each_text_delta_is_buffered_once_and_shared_by_every_consumer() -> None:
    n = 200
    events, deltas = text_events(n)
    stream = ChatModelStream()
    for event in events:
        stream.dispatch(event)
    core = stream._core

    assert len(core.text.items) == n
    assert all(
        a is b for a, b in zip(core.text.items, deltas, strict=True)
    )  # the objects, not copies
    assert core.reasoning.items == []
    assert core.tool_chunks.items == []
    # The raw log holds each event object once, as dispatched.
    assert len(core.events.items) == len(events)
    assert all(a is b for a, b in zip(core.events.items, events, strict=True))

    for _ in range(3):  # three consumers, one after the other
        seen = list(stream.text)
        assert all(a is b for a, b in zip(seen, deltas, strict=True))
    assert len(core.text.items) == n  # consuming never re-buffers


async def test_async_consumers_share_the_one_buffer() -> None:
    n = 100
    events, _deltas = text_events(n)
    stream = AsyncChatModelStream()

    async def consume() -> list[str]:
        return [d async for d in stream.text]

    consumers = [asyncio.create_task(consume()) for _ in range(10)]
    for event in events:
        await asyncio.sleep(0)
        stream.dispatch(event)
    results = await asyncio.gather(*consumers)
    core = stream._core
    assert len(core.text.items) == n
    for seen in results:
        assert all(a is b for a, b in zip(seen, core.text.items, strict=True))


def test_every_kind_of_delta_adds_a_constant_number_of_buffered_items() -> None:
    stream = ChatModelStream()
    core = stream._core
    stream.dispatch(ev.start())
    stream.dispatch(ev.text_start(0))
    stream.dispatch(ev.block_start(1, {"type": "reasoning", "reasoning": ""}))
    stream.dispatch(ev.tool_start(2, "call_a", "lookup"))
    growth: set[tuple[str, int]] = set()
    for i in range(300):
        for kind, event in (
            ("text", ev.text(0, f"t{i}")),
            ("reasoning", ev.reasoning(1, f"r{i}")),
            ("tool", ev.tool_args(2, f"{i},")),
        ):
            before = total_items(core)
            stream.dispatch(event)
            growth.add((kind, total_items(core) - before))
    # One raw event plus one delta on its own projection, whatever the length so far.
    assert growth == {("text", 2), ("reasoning", 2), ("tool", 2)}
    assert len(core.text.items) == len(core.reasoning.items) == len(core.tool_chunks.items) == 300


# -- no string rebuilt per delta -----------------------------------------------------


def test_text_is_kept_as_runs_over_the_channel_until_the_end() -> None:
    n = 500
    events, deltas = text_events(n)
    stream = ChatModelStream()
    for event in events[:-1]:
        stream.dispatch(event)
    core = stream._core
    acc = core._text
    # No second copy of the deltas: a block's text is a run of the channel.
    assert acc.items is core.text.items
    assert all(a is b for a, b in zip(core.text.items, deltas, strict=True))
    assert acc.fixed == {}  # nothing joined yet
    assert acc.last == 0
    assert acc.run_start == 0
    stream.dispatch(events[-1])
    assert stream.text.get() == "".join(deltas)


def test_interleaved_blocks_record_runs_not_strings() -> None:
    stream = ChatModelStream()
    stream.dispatch(ev.start())
    for i in range(50):
        stream.dispatch(ev.text(0, f"a{i} "))
        stream.dispatch(ev.text(1, f"b{i} "))
    acc = stream._core._text
    assert acc.fixed == {}
    # 99 closed runs of one delta each, plus the open run of block 1.
    assert sum(len(runs) for runs in acc.runs.values()) == 99
    stream.dispatch(ev.finish())
    assert str(stream.text) == "".join(f"a{i} " for i in range(50)) + "".join(
        f"b{i} " for i in range(50)
    )


def test_no_join_per_delta(joins: Counter) -> None:
    stream = ChatModelStream()
    stream.dispatch(ev.start())
    stream.dispatch(ev.text_start(0))
    stream.dispatch(ev.block_start(1, {"type": "reasoning", "reasoning": ""}))
    stream.dispatch(ev.tool_start(2, "call_a", "lookup"))
    for i in range(1000):
        stream.dispatch(ev.text(0, f"t{i}"))
        stream.dispatch(ev.reasoning(1, f"r{i}"))
        stream.dispatch(ev.tool_args(2, " "))
    assert joins.calls == {}


@pytest.mark.parametrize("with_finish_text", [False, True])
def test_finishing_joins_a_constant_number_of_times_whatever_the_length(
    joins: Counter, with_finish_text: bool
) -> None:
    def finish_cost(n: int) -> dict[str, int]:
        events, deltas = text_events(n)
        stream = ChatModelStream()
        for event in events[:-1]:
            stream.dispatch(event)
        if with_finish_text:
            stream.dispatch(ev.block_finish(0, {"type": "text", "text": "".join(deltas)}))
        joins.calls.clear()
        stream.dispatch(events[-1])
        stream.text.get()
        stream.output  # noqa: B018
        return dict(joins.calls)

    short, long = finish_cost(10), finish_cost(2000)
    assert short == long
    assert sum(long.values()) <= 10


# -- iteration does not copy the buffer -------------------------------------------


def _peak_bytes(run: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_sync_iteration_does_not_copy_the_buffer() -> None:
    events, _ = text_events(10_000)
    stream = ChatModelStream()
    for event in events:
        stream.dispatch(event)
    one_copy = sys.getsizeof(list(stream._core.text.items))

    def iterate_five_times() -> None:
        for _ in range(5):
            for _delta in stream.text:
                pass
            for _event in stream:
                pass

    assert _peak_bytes(iterate_five_times) < one_copy / 10


async def test_async_cursors_hold_a_position_not_a_copy() -> None:
    events, _ = text_events(2_000)
    stream = AsyncChatModelStream()
    for event in events:
        stream.dispatch(event)
    core = stream._core
    one_copy = sys.getsizeof(list(core.text.items))

    cursor = stream.text.__aiter__()
    assert isinstance(cursor, _Cursor)
    assert not hasattr(cursor, "__dict__")
    assert cursor._channel is core.text

    async def consume() -> int:
        n = 0
        async for _ in stream.text:
            n += 1
        return n

    tracemalloc.start()
    try:
        counts = await asyncio.gather(*(consume() for _ in range(20)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert counts == [2_000] * 20
    # Private copies would cost 20 * one_copy; the cursors and tasks cost far less.
    assert peak < 20 * one_copy / 4


# -- wake-ups ----------------------------------------------------------------------


class WakeLog:
    """Wraps a core's wake function, recording how many waiters each call got."""

    def __init__(self, core: StreamCore) -> None:
        self.sizes: list[int] = []
        self._inner = core.wake
        core.wake = self

    def __call__(self, waiters: tuple[Any, ...]) -> None:
        self.sizes.append(len(waiters))
        self._inner(waiters)


def test_nothing_is_woken_when_nobody_waits() -> None:
    events, _ = text_events(100)
    sync = ChatModelStream()
    sync_log = WakeLog(sync._core)
    for event in events:
        sync.dispatch(event)
    assert sync_log.sizes == []

    unobserved = AsyncChatModelStream()
    async_log = WakeLog(unobserved._core)
    for event in events:
        unobserved.dispatch(event)
    assert async_log.sizes == []


async def test_a_wake_hands_over_exactly_the_channels_waiters_and_empties_the_list() -> None:
    k = 25
    stream = AsyncChatModelStream()
    core = stream._core
    stream.dispatch(ev.start())
    consumers = [asyncio.create_task(_collect(stream.text)) for _ in range(k)]
    await asyncio.sleep(0)
    assert len(core.text.waiters) == k
    log = WakeLog(core)

    stream.dispatch(ev.text(0, "a"))
    assert log.sizes == [k]  # one wake, with exactly the k text waiters
    assert core.text.waiters == []  # handed over, not re-scanned later
    assert core.events.waiters == []

    await asyncio.sleep(0)
    assert len(core.text.waiters) == k  # each consumer re-registered once
    stream.dispatch(ev.text(0, "b"))
    stream.dispatch(ev.finish())
    # The second delta woke them; the finish found nobody left registered.
    assert log.sizes == [k, k]
    results = await asyncio.gather(*consumers)
    assert all(r == ["a", "b"] for r in results)


async def test_cancelled_waiters_are_removed_from_the_channel() -> None:
    stream = AsyncChatModelStream()
    core = stream._core
    consumers = [asyncio.create_task(_collect(stream.text)) for _ in range(100)]
    values = [asyncio.create_task(_await(stream.output)) for _ in range(10)]
    await asyncio.sleep(0)
    assert len(core.text.waiters) == 100
    assert len(core.terminal.waiters) == 10
    for task in consumers[::2] + values[::2]:
        task.cancel()
    await asyncio.gather(*consumers[::2], *values[::2], return_exceptions=True)
    assert len(core.text.waiters) == 50
    assert len(core.terminal.waiters) == 5
    log = WakeLog(core)
    stream.dispatch(ev.text(0, "x"))
    assert log.sizes == [50]  # the wake only pays for live waiters
    stream.dispatch(ev.finish())
    assert await asyncio.gather(*consumers[1::2]) == [["x"]] * 50
    assert all(m.text == "x" for m in await asyncio.gather(*values[1::2]))


async def test_a_woken_consumer_drains_everything_buffered_in_one_go(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[Channel[Any]] = []
    original = _AsyncStream._register

    def counting_register(
        self: _AsyncStream, channel: Channel[Any], seen: int
    ) -> asyncio.Future[None] | None:
        waits.append(channel)
        return original(self, channel, seen)

    monkeypatch.setattr(_AsyncStream, "_register", counting_register)
    events, deltas = text_events(50)
    stream = AsyncChatModelStream()
    consumer = asyncio.create_task(_collect(stream.text))
    await asyncio.sleep(0)
    assert len(waits) == 1
    for event in events:  # the whole message lands before the consumer runs again
        stream.dispatch(event)
    assert await consumer == deltas
    assert len(waits) == 1  # woken once, drained all fifty, saw the end

    # A consumer arriving after the end never waits at all.
    waits.clear()
    assert await _collect(stream.text) == deltas
    assert await stream.output
    assert waits == []


async def _collect(projection: Any) -> list[Any]:
    return [item async for item in projection]


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable
