"""Contract section 4 (threads) and concurrency: many consumers, cancellation,
producers on other threads, and a failure while assembling the final message.

No timing thresholds: "promptly" means "well within a generous bound that a
missed wake-up would blow" (a lost wake-up leaves a consumer waiting forever).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from streamblocks import (
    AIMessage,
    AsyncChatModelStream,
    ChatModelStream,
    ProtocolError,
    ProviderError,
    StreamState,
)
from streamblocks._stream._core import StreamCore
from tests import events as ev
from tests.helpers import (
    MIXED,
    MIXED_CHUNK_ARGS,
    MIXED_REASONING,
    MIXED_TEXT,
    MIXED_TOOL_CALLS,
    MIXED_USAGE,
    adrain,
    aw,
    collect,
    settle,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine

T = TypeVar("T")

BOUND = 2.0  # seconds: "did not hang", never a performance threshold
SAFETY = 10.0  # seconds: how long a wait may last before it is abandoned


# -- helpers -------------------------------------------------------------------


async def promptly(awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` and check it took less than ``BOUND`` seconds.

    The wait itself is abandoned only after ``SAFETY`` seconds: a wake-up that
    is not thread-safe leaves the loop asleep until some timer fires, so a
    ``wait_for(..., BOUND)`` would rescue it right at the bound.
    """
    started = time.monotonic()
    result = await asyncio.wait_for(awaitable, SAFETY)
    assert time.monotonic() - started < BOUND, "a wake-up from another thread was late"
    return result


def all_awaitables(stream: AsyncChatModelStream) -> list[Awaitable[Any]]:
    return [
        aw(stream.text),
        aw(stream.reasoning),
        aw(stream.tool_calls),
        aw(stream.output),
        aw(stream.usage),
        aw(stream),
    ]


def all_iterations(stream: AsyncChatModelStream) -> list[Awaitable[Any]]:
    return [
        adrain(stream.text),
        adrain(stream.reasoning),
        adrain(stream.tool_calls),
        adrain(stream),
    ]


class Worker:
    """Run ``target`` on a worker thread; remember what it raised."""

    def __init__(self, target: Callable[[], None]) -> None:
        self.error: BaseException | None = None
        self._target = target
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self._target()
        except BaseException as exc:
            self.error = exc

    def start(self) -> Worker:
        self.thread.start()
        return self

    def join(self) -> None:
        self.thread.join(timeout=BOUND)
        assert not self.thread.is_alive()


def dispatch_slowly(stream: AsyncChatModelStream, events: list[ev.Event]) -> Callable[[], None]:
    def run() -> None:
        for event in events:
            time.sleep(0.002)
            stream.dispatch(event)

    return run


# -- threads ---------------------------------------------------------------------------


async def test_dispatch_from_a_worker_thread_wakes_every_async_consumer() -> None:
    stream = AsyncChatModelStream()
    consumers = [asyncio.create_task(aw(c)) for c in all_iterations(stream)]
    finals = [asyncio.create_task(aw(a)) for a in all_awaitables(stream)]
    await settle()
    worker = Worker(dispatch_slowly(stream, MIXED)).start()
    text, reasoning, chunks, raw = await promptly(asyncio.gather(*consumers))
    full, reasoning_full, calls, output, usage, message = await promptly(asyncio.gather(*finals))
    worker.join()
    assert worker.error is None
    assert text == (["Checking ", "both."], None)
    assert reasoning == (["Let me ", "think."], None)
    assert [c["args"] for c in chunks[0]] == MIXED_CHUNK_ARGS
    assert raw == (MIXED, None)
    assert (full, reasoning_full, calls, usage) == (
        MIXED_TEXT,
        MIXED_REASONING,
        MIXED_TOOL_CALLS,
        MIXED_USAGE,
    )
    assert output.text == MIXED_TEXT
    assert message == output


async def test_a_single_dispatch_from_a_thread_wakes_a_consumer_without_other_loop_activity() -> (
    None
):
    # Nothing else happens on the loop: only a thread-safe wake-up can resume
    # the consumer before the bound.
    stream = AsyncChatModelStream()
    deltas = stream.text.__aiter__()
    first = asyncio.create_task(deltas.__anext__())
    await settle()
    assert len(stream._core.text.waiters) == 1

    def produce() -> None:
        time.sleep(0.02)
        stream.dispatch(ev.text(0, "hello"))

    worker = Worker(produce).start()
    assert await promptly(first) == "hello"
    worker.join()
    assert stream._core.text.waiters == []
    assert stream.state is StreamState.STREAMING


async def test_fail_from_another_thread_resolves_every_awaiter() -> None:
    stream = AsyncChatModelStream()
    for event in MIXED[:7]:
        stream.dispatch(event)
    boom = ConnectionResetError("peer went away")
    iterations = [asyncio.create_task(aw(c)) for c in all_iterations(stream)]
    finals = [asyncio.create_task(aw(a)) for a in all_awaitables(stream)]
    await settle()

    def fail() -> None:
        time.sleep(0.02)
        stream.fail(boom)

    worker = Worker(fail).start()
    outcomes = await promptly(asyncio.gather(*finals, return_exceptions=True))
    assert all(o is boom for o in outcomes)
    (text, e1), (_, e2), (_, e3), (raw, e4) = await promptly(asyncio.gather(*iterations))
    assert (e1, e2, e3, e4) == (boom, boom, boom, boom)
    assert text == ["Checking "]
    assert raw == MIXED[:7]
    worker.join()
    assert worker.error is None
    core = stream._core
    for channel in (core.text, core.reasoning, core.tool_chunks, core.events, core.terminal):
        assert channel.waiters == []


async def test_error_event_from_a_thread_fails_async_consumers() -> None:
    stream = AsyncChatModelStream()
    finals = [asyncio.create_task(aw(a)) for a in all_awaitables(stream)]
    await settle()
    worker = Worker(
        dispatch_slowly(stream, [ev.start(), ev.text(0, "x"), ev.error("overloaded", "529")])
    ).start()
    outcomes = await promptly(asyncio.gather(*finals, return_exceptions=True))
    worker.join()
    err = stream.error
    assert isinstance(err, ProviderError)
    assert err.code == "529"
    assert all(o is err for o in outcomes)


async def test_dispatch_from_a_thread_running_its_own_event_loop() -> None:
    stream = AsyncChatModelStream()
    output = asyncio.create_task(aw(stream.output))
    text = asyncio.create_task(collect(stream.text))
    await settle()

    async def other_loop_producer() -> None:
        for event in MIXED:
            await asyncio.sleep(0.001)
            stream.dispatch(event)

    worker = Worker(lambda: asyncio.run(other_loop_producer())).start()
    message = await promptly(output)
    assert await promptly(text) == ["Checking ", "both."]
    worker.join()
    assert worker.error is None
    assert message.text == MIXED_TEXT


def test_finish_racing_fail_from_two_threads_has_exactly_one_ending() -> None:
    outcomes: set[StreamState] = set()
    for _ in range(100):
        stream = ChatModelStream()
        for event in MIXED[:-1]:
            stream.dispatch(event)
        barrier = threading.Barrier(2)
        boom = RuntimeError("cancelled by user")

        def finish(stream: ChatModelStream = stream, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            stream.dispatch(MIXED[-1])

        def fail(
            stream: ChatModelStream = stream,
            barrier: threading.Barrier = barrier,
            boom: RuntimeError = boom,
        ) -> None:
            barrier.wait()
            stream.fail(boom)

        finisher, failer = Worker(finish).start(), Worker(fail).start()
        finisher.join()
        failer.join()
        assert failer.error is None
        outcomes.add(stream.state)
        if stream.state is StreamState.FINISHED:
            assert finisher.error is None
            assert stream.error is None
            assert stream.output_message is not None
            assert stream.text.get() == MIXED_TEXT
        else:
            assert stream.state is StreamState.FAILED
            assert stream.error is boom
            assert stream.output_message is None
            # The finish either lost the race inside dispatch (a silent no-op) or
            # arrived after the failure (refused).
            assert finisher.error is None or isinstance(finisher.error, ProtocolError)
            with pytest.raises(RuntimeError) as info:
                stream.text.get()
            assert info.value is boom
    assert outcomes <= {StreamState.FINISHED, StreamState.FAILED}


# -- a failure while assembling the final message ---------------------------------


class AssemblyBroke(Exception):
    pass


@pytest.fixture
def broken_assembly(monkeypatch: pytest.MonkeyPatch) -> AssemblyBroke:
    error = AssemblyBroke("cannot assemble")

    def assemble(self: StreamCore) -> AIMessage:
        raise error

    monkeypatch.setattr(StreamCore, "assemble", assemble)
    return error


def test_assembly_failure_fails_a_sync_stream(broken_assembly: AssemblyBroke) -> None:
    stream = ChatModelStream()
    for event in MIXED[:-1]:
        stream.dispatch(event)
    with pytest.raises(AssemblyBroke) as info:
        stream.dispatch(MIXED[-1])
    assert info.value is broken_assembly
    assert stream.state is StreamState.FAILED
    assert stream.error is broken_assembly
    assert stream.output_message is None
    for read in (stream.text.get, stream.tool_calls.get, lambda: stream.output):
        with pytest.raises(AssemblyBroke) as again:
            read()
        assert again.value is broken_assembly


async def test_assembly_failure_reaches_every_async_awaiter(
    broken_assembly: AssemblyBroke,
) -> None:
    stream = AsyncChatModelStream()
    iterations = [asyncio.create_task(aw(c)) for c in all_iterations(stream)]
    finals = [asyncio.create_task(aw(a)) for a in all_awaitables(stream)]
    await settle()
    for event in MIXED[:-1]:
        stream.dispatch(event)
    await settle()
    with pytest.raises(AssemblyBroke):
        stream.dispatch(MIXED[-1])
    outcomes = await asyncio.wait_for(asyncio.gather(*finals, return_exceptions=True), BOUND)
    assert all(o is broken_assembly for o in outcomes)
    for items, exc in await asyncio.wait_for(asyncio.gather(*iterations), BOUND):
        assert exc is broken_assembly
        assert items  # everything buffered came first
    assert stream.state is StreamState.FAILED


async def test_assembly_failure_on_a_worker_thread_reaches_async_awaiters(
    broken_assembly: AssemblyBroke,
) -> None:
    stream = AsyncChatModelStream()
    finals = [asyncio.create_task(aw(a)) for a in all_awaitables(stream)]
    await settle()
    worker = Worker(dispatch_slowly(stream, MIXED)).start()
    outcomes = await promptly(asyncio.gather(*finals, return_exceptions=True))
    worker.join()
    assert worker.error is broken_assembly  # the producer's dispatch raised it
    assert all(o is broken_assembly for o in outcomes)


async def test_assembly_failure_in_a_bound_producer(broken_assembly: AssemblyBroke) -> None:
    stream = AsyncChatModelStream()

    async def produce() -> None:
        for event in MIXED:
            await asyncio.sleep(0)
            stream.dispatch(event)

    finals = [asyncio.create_task(aw(a)) for a in all_awaitables(stream)]
    producer = asyncio.create_task(produce())
    stream.bind_producer(producer)
    outcomes = await asyncio.wait_for(asyncio.gather(*finals, return_exceptions=True), BOUND)
    assert all(o is broken_assembly for o in outcomes)
    assert producer.exception() is broken_assembly


# -- many consumers ---------------------------------------------------------------


async def produce_with_yields(stream: AsyncChatModelStream, events: list[ev.Event]) -> None:
    for event in events:
        await asyncio.sleep(0)
        stream.dispatch(event)


async def test_a_hundred_consumers_get_identical_deltas_and_results() -> None:
    stream = AsyncChatModelStream()

    async def consumer() -> tuple[list[str], list[Any], str, AIMessage]:
        text = [d async for d in stream.text]
        chunks = [c async for c in stream.tool_calls]
        return text, chunks, await stream.text, await stream.output

    consumers = [asyncio.create_task(consumer()) for _ in range(100)]
    await settle()
    assert len(stream._core.text.waiters) == 100
    producer = asyncio.create_task(produce_with_yields(stream, MIXED))
    stream.bind_producer(producer)
    results = await asyncio.wait_for(asyncio.gather(*consumers), BOUND)
    first = results[0]
    assert first[0] == ["Checking ", "both."]
    assert [c["args"] for c in first[1]] == MIXED_CHUNK_ARGS
    assert first[2] == MIXED_TEXT
    assert first[3].tool_calls == MIXED_TOOL_CALLS
    assert all(r == first for r in results)
    core = stream._core
    for channel in (core.text, core.reasoning, core.tool_chunks, core.events, core.terminal):
        assert channel.waiters == []


async def test_mixed_consumers_of_every_projection_concurrently() -> None:
    stream = AsyncChatModelStream()
    kinds: dict[str, Callable[[], Coroutine[Any, Any, Any]]] = {
        "text": lambda: collect(stream.text),
        "reasoning": lambda: collect(stream.reasoning),
        "tool_calls": lambda: collect(stream.tool_calls),
        "raw": lambda: collect(stream),
        "output": lambda: aw(stream.output),
        "usage": lambda: aw(stream.usage),
        "await text": lambda: aw(stream.text),
        "await tool_calls": lambda: aw(stream.tool_calls),
        "await stream": lambda: aw(stream),
    }
    early = {name: [asyncio.create_task(make()) for _ in range(5)] for name, make in kinds.items()}
    producer = asyncio.create_task(produce_with_yields(stream, MIXED))
    stream.bind_producer(producer)
    # Some consumers join mid-stream: they replay from the start.
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert not stream.done
    late = {name: [asyncio.create_task(make()) for _ in range(5)] for name, make in kinds.items()}
    expected = {
        "text": ["Checking ", "both."],
        "reasoning": ["Let me ", "think."],
        "raw": MIXED,
        "usage": MIXED_USAGE,
        "await text": MIXED_TEXT,
        "await tool_calls": MIXED_TOOL_CALLS,
    }
    for group in (early, late):
        for name, tasks in group.items():
            results = await asyncio.wait_for(asyncio.gather(*tasks), BOUND)
            if name in expected:
                assert all(r == expected[name] for r in results), name
            elif name == "tool_calls":
                assert all([c["args"] for c in r] == MIXED_CHUNK_ARGS for r in results)
            else:
                assert all(r.text == MIXED_TEXT for r in results), name
    await producer


async def test_a_consumer_cancelled_while_waiting_leaves_the_others_unaffected() -> None:
    stream = AsyncChatModelStream()
    text_waiters = [asyncio.create_task(collect(stream.text)) for _ in range(3)]
    output_waiters = [asyncio.create_task(aw(stream.output)) for _ in range(3)]
    await settle()
    core = stream._core
    assert len(core.text.waiters) == 3
    assert len(core.terminal.waiters) == 3

    text_waiters[1].cancel()
    output_waiters[1].cancel()
    await settle()
    assert text_waiters[1].cancelled()
    assert output_waiters[1].cancelled()
    # The cancelled consumers' waiters are gone; nothing else changed.
    assert len(core.text.waiters) == 2
    assert len(core.terminal.waiters) == 2
    assert all(not f.done() for f in core.text.waiters + core.terminal.waiters)
    assert stream.state is StreamState.STREAMING

    await produce_with_yields(stream, MIXED)
    for text_task in (text_waiters[0], text_waiters[2]):
        assert await asyncio.wait_for(text_task, BOUND) == ["Checking ", "both."]
    for output_task in (output_waiters[0], output_waiters[2]):
        assert (await asyncio.wait_for(output_task, BOUND)).text == MIXED_TEXT


async def test_a_consumer_cancelled_right_after_its_wake_up_does_not_steal_the_others() -> None:
    stream = AsyncChatModelStream()
    stream.dispatch(ev.start())
    consumers = [asyncio.create_task(collect(stream.text)) for _ in range(3)]
    await settle()
    # The wake resolves every waiter; one consumer is cancelled before it runs.
    stream.dispatch(ev.text(0, "a"))
    consumers[0].cancel()
    await settle()
    stream.dispatch(ev.text(0, "b"))
    stream.dispatch(ev.finish())
    assert consumers[0].cancelled() or consumers[0].done()
    for task in consumers[1:]:
        assert await asyncio.wait_for(task, BOUND) == ["a", "b"]


async def test_cancelling_an_iterating_consumer_does_not_end_the_stream() -> None:
    stream = AsyncChatModelStream()
    producer = asyncio.create_task(produce_with_yields(stream, MIXED))
    stream.bind_producer(producer)
    quitter = asyncio.create_task(collect(stream.reasoning))
    await asyncio.sleep(0)
    quitter.cancel()
    await asyncio.gather(quitter, return_exceptions=True)
    message = await asyncio.wait_for(aw(stream), BOUND)
    assert message.text == MIXED_TEXT
    assert stream.state is StreamState.FINISHED
    assert not producer.cancelled()
