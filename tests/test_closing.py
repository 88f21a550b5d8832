"""Contract section 4, closing: ``aclose()``/``async with`` and ``close()``/``with``.

The centrepiece is a sweep that closes a scripted stream at every point of its
life and checks that, once ``aclose()`` returns, no projection is left pending
and no task is left behind.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

import pytest

from streamblocks import (
    AsyncChatModelStream,
    ChatModelStream,
    StreamCancelledError,
    StreamState,
)
from tests import events as ev
from tests.helpers import (
    MIXED,
    MIXED_REASONING,
    MIXED_TEXT,
    MIXED_TOOL_CALLS,
    MIXED_USAGE,
    GeneratorSource,
    adrain,
    aw,
    drain,
    settle,
)

T = TypeVar("T")


# -- helpers -------------------------------------------------------------------


def assert_no_other_tasks() -> None:
    assert asyncio.all_tasks() == {asyncio.current_task()}


class Scripted:
    """A producer that dispatches one event per token the test hands it, then
    does "post-finish work" that needs one more token."""

    def __init__(self, stream: AsyncChatModelStream, events: list[ev.Event]) -> None:
        self.stream = stream
        self.events = events
        self.tokens: asyncio.Queue[None] = asyncio.Queue()
        self.acks: asyncio.Queue[int] = asyncio.Queue()
        self.dispatched = 0
        self.post_work_done = False
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        for event in self.events:
            await self.tokens.get()
            self.stream.dispatch(event)
            self.dispatched += 1
            self.acks.put_nowait(self.dispatched)
        await self.tokens.get()  # post-finish work, e.g. on_llm_end callbacks
        self.post_work_done = True

    def bind(self) -> asyncio.Task[None]:
        self.task = asyncio.create_task(self.run())
        self.stream.bind_producer(self.task)
        return self.task

    async def advance(self, n: int) -> None:
        for _ in range(n):
            self.tokens.put_nowait(None)
            await self.acks.get()

    def release_post_work(self) -> None:
        self.tokens.put_nowait(None)


def start_consumers(stream: AsyncChatModelStream) -> dict[str, asyncio.Task[Any]]:
    """One consumer task on every projection, iterating and awaiting."""
    return {
        "iter text": asyncio.create_task(adrain(stream.text)),
        "iter reasoning": asyncio.create_task(adrain(stream.reasoning)),
        "iter tool_calls": asyncio.create_task(adrain(stream.tool_calls)),
        "iter stream": asyncio.create_task(adrain(stream)),
        "await text": asyncio.create_task(aw(stream.text)),
        "await reasoning": asyncio.create_task(aw(stream.reasoning)),
        "await tool_calls": asyncio.create_task(aw(stream.tool_calls)),
        "await output": asyncio.create_task(aw(stream.output)),
        "await usage": asyncio.create_task(aw(stream.usage)),
        "await stream": asyncio.create_task(aw(stream)),
    }


def check_finished_results(consumers: dict[str, asyncio.Task[Any]]) -> None:
    text, err = consumers["iter text"].result()
    assert (text, err) == (["Checking ", "both."], None)
    assert consumers["iter reasoning"].result() == (["Let me ", "think."], None)
    chunks, err = consumers["iter tool_calls"].result()
    assert err is None
    assert len(chunks) == 3
    assert consumers["iter stream"].result() == (MIXED, None)
    assert consumers["await text"].result() == MIXED_TEXT
    assert consumers["await reasoning"].result() == MIXED_REASONING
    assert consumers["await tool_calls"].result() == MIXED_TOOL_CALLS
    assert consumers["await output"].result().text == MIXED_TEXT
    assert consumers["await usage"].result() == MIXED_USAGE
    assert consumers["await stream"].result() == consumers["await output"].result()


def check_cancelled_results(
    stream: AsyncChatModelStream, consumers: dict[str, asyncio.Task[Any]]
) -> None:
    err = stream.error
    assert isinstance(err, StreamCancelledError)
    core = stream._core
    buffered = {
        "iter text": core.text.items,
        "iter reasoning": core.reasoning.items,
        "iter tool_calls": core.tool_chunks.items,
        "iter stream": core.events.items,
    }
    for name, task in consumers.items():
        if name in buffered:
            items, exc = task.result()
            assert items == buffered[name], name  # everything buffered, then the error
            assert exc is err, name
        else:
            assert task.exception() is err, name


# -- the aclose sweep --------------------------------------------------------------

# Close points: after k events (k = 0 .. len-1: unfinished), "post-work" (the
# message finished, the producer is still in post-finish work), "done" (the
# producer has completed too).
CLOSE_POINTS: list[int | str] = [*range(len(MIXED)), "post-work", "done"]


@pytest.mark.parametrize("point", CLOSE_POINTS)
async def test_aclose_at_every_point_leaves_nothing_pending(point: int | str) -> None:
    stream = AsyncChatModelStream()
    script = Scripted(stream, MIXED)
    producer = script.bind()
    consumers = start_consumers(stream)
    await settle()

    if isinstance(point, int):
        await script.advance(point)
        await settle()
        assert not stream.done
        await stream.aclose()
        assert producer.cancelled()
        assert stream.state is StreamState.CANCELLED
        assert not script.post_work_done
    elif point == "post-work":
        await script.advance(len(MIXED))
        closer = asyncio.create_task(stream.aclose())
        await settle()
        # A finished stream is not cancelled: aclose waits for the post-finish work.
        assert not closer.done()
        assert not producer.done()
        script.release_post_work()
        await asyncio.wait_for(closer, timeout=1)
        assert script.post_work_done
        assert not producer.cancelled()
        assert stream.state is StreamState.FINISHED
    else:
        await script.advance(len(MIXED))
        script.release_post_work()
        await asyncio.wait_for(producer, timeout=1)
        await stream.aclose()
        assert stream.state is StreamState.FINISHED

    # Once aclose() has returned, every projection is resolved.
    _, pending = await asyncio.wait(consumers.values(), timeout=1)
    assert pending == set()
    # Consumers arriving after the close resolve at once as well.
    late = start_consumers(stream)
    _, pending = await asyncio.wait(late.values(), timeout=1)
    assert pending == set()
    for group in (consumers, late):
        if stream.state is StreamState.FINISHED:
            check_finished_results(group)
        else:
            check_cancelled_results(stream, group)
    assert producer.done()
    assert_no_other_tasks()


async def test_aclose_before_a_lazy_start_starts_then_cancels_the_producer() -> None:
    stream = AsyncChatModelStream()
    script = Scripted(stream, MIXED)
    started: list[asyncio.Task[None]] = []

    async def start() -> None:
        started.append(script.bind())

    stream.set_start(start)
    await stream.aclose()
    assert len(started) == 1
    assert started[0].cancelled()
    assert stream.state is StreamState.CANCELLED
    consumers = start_consumers(stream)
    _, pending = await asyncio.wait(consumers.values(), timeout=1)
    assert pending == set()
    check_cancelled_results(stream, consumers)
    assert_no_other_tasks()


# -- aclose / async with ------------------------------------------------------------


async def test_aclose_unfinished_cancels_the_producer_and_projections_raise_cancelled() -> None:
    stream = AsyncChatModelStream()
    script = Scripted(stream, MIXED)
    producer = script.bind()
    await script.advance(8)  # reasoning done, text "Checking both." delivered
    await stream.aclose()
    assert producer.cancelled()
    assert stream.state is StreamState.CANCELLED
    err = stream.error
    assert isinstance(err, StreamCancelledError)
    assert not isinstance(err, asyncio.CancelledError)
    assert await adrain(stream.text) == (["Checking ", "both."], err)
    assert await adrain(stream.reasoning) == (["Let me ", "think."], err)
    with pytest.raises(StreamCancelledError) as info:
        await stream.output
    assert info.value is err
    with pytest.raises(StreamCancelledError):
        await stream
    # snapshot() keeps what arrived.
    assert stream.snapshot().text == MIXED_TEXT


async def test_aclose_is_idempotent() -> None:
    stream = AsyncChatModelStream()
    script = Scripted(stream, MIXED)
    script.bind()
    await script.advance(3)
    await stream.aclose()
    err = stream.error
    await stream.aclose()
    await stream.aclose()
    assert stream.state is StreamState.CANCELLED
    assert stream.error is err

    finished = AsyncChatModelStream()
    for event in MIXED:
        finished.dispatch(event)
    await finished.aclose()
    await finished.aclose()
    assert finished.state is StreamState.FINISHED
    assert (await finished.output).text == MIXED_TEXT


async def test_aclose_without_producer_resolves_waiting_consumers() -> None:
    stream = AsyncChatModelStream()
    for event in MIXED[:7]:
        stream.dispatch(event)
    consumers = start_consumers(stream)
    await settle()
    await stream.aclose()
    _, pending = await asyncio.wait(consumers.values(), timeout=1)
    assert pending == set()
    check_cancelled_results(stream, consumers)


async def test_aclose_after_a_failure_keeps_the_failure() -> None:
    stream = AsyncChatModelStream()
    stream.dispatch(ev.start())
    stream.dispatch(ev.error("quota"))
    err = stream.error
    await stream.aclose()
    assert stream.state is StreamState.FAILED
    assert stream.error is err


async def test_aclose_finished_does_not_raise_a_post_finish_producer_failure() -> None:
    # The contract is silent here; the failure is reported by `await stream`,
    # and aclose(), a cleanup call, does not re-raise it.
    stream = AsyncChatModelStream()
    boom = ValueError("callback failed")

    async def produce() -> None:
        for event in MIXED:
            stream.dispatch(event)
        await asyncio.sleep(0)
        raise boom

    stream.bind_producer(asyncio.create_task(produce()))
    await stream.output
    await stream.aclose()
    assert stream.state is StreamState.FINISHED
    with pytest.raises(ValueError, match="callback failed") as info:
        await stream
    assert info.value is boom


async def test_async_with_closes_an_unfinished_stream() -> None:
    stream = AsyncChatModelStream()
    script = Scripted(stream, MIXED)
    producer = script.bind()
    script.tokens.put_nowait(None)
    for _ in range(7):
        script.tokens.put_nowait(None)
    async with stream as same:
        assert same is stream
        async for delta in stream.text:
            assert delta == "Checking "
            break
    assert producer.cancelled()
    assert stream.state is StreamState.CANCELLED
    with pytest.raises(StreamCancelledError):
        await stream.text


async def test_async_with_propagates_the_body_exception_and_still_closes() -> None:
    stream = AsyncChatModelStream()
    script = Scripted(stream, MIXED)
    producer = script.bind()

    async def body() -> None:
        async with stream:
            await script.advance(2)
            raise KeyError("body")

    with pytest.raises(KeyError):
        await body()
    assert producer.cancelled()
    assert stream.state is StreamState.CANCELLED


async def test_async_with_on_a_finished_stream_waits_for_post_work() -> None:
    stream = AsyncChatModelStream()
    script = Scripted(stream, MIXED)
    producer = script.bind()
    for _ in range(len(MIXED) + 1):
        script.tokens.put_nowait(None)
    async with stream:
        message = await stream.output
    assert script.post_work_done
    assert producer.done()
    assert not producer.cancelled()
    assert message.text == MIXED_TEXT


async def test_cancelling_the_aclose_caller_propagates_while_the_producer_resists() -> None:
    stream = AsyncChatModelStream()
    release = asyncio.Event()
    cleanup_done: list[bool] = []

    async def produce() -> None:
        stream.dispatch(ev.start())
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await release.wait()  # slow cleanup that ignores cancellation for a while
            cleanup_done.append(True)
            raise

    producer = asyncio.create_task(produce())
    stream.bind_producer(producer)
    await settle()
    closer = asyncio.create_task(stream.aclose())
    await settle()
    assert not closer.done()  # aclose waits for the producer to wind down
    assert stream.state is StreamState.CANCELLED  # but consumers already know
    closer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closer
    assert closer.cancelled()
    assert not producer.done()  # aclose's cancellation did not leak into the producer
    release.set()
    await asyncio.wait([producer], timeout=1)
    assert producer.cancelled()
    assert cleanup_done == [True]
    assert_no_other_tasks()


async def test_cancelling_the_aclose_caller_during_post_finish_work_propagates() -> None:
    stream = AsyncChatModelStream()
    script = Scripted(stream, MIXED)
    producer = script.bind()
    await script.advance(len(MIXED))
    closer = asyncio.create_task(stream.aclose())
    await settle()
    assert not closer.done()
    closer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closer
    # The finished stream and its producer are untouched by the caller's cancellation.
    assert stream.state is StreamState.FINISHED
    assert not producer.done()
    script.release_post_work()
    await asyncio.wait_for(producer, timeout=1)
    assert script.post_work_done
    assert not producer.cancelled()
    assert (await stream).text == MIXED_TEXT


async def test_aclose_from_inside_the_producer_does_not_deadlock() -> None:
    stream = AsyncChatModelStream()

    async def produce() -> None:
        stream.dispatch(ev.start())
        await stream.aclose()

    producer = asyncio.create_task(produce())
    stream.bind_producer(producer)
    await asyncio.wait([producer], timeout=1)
    assert producer.done()
    assert stream.state is StreamState.CANCELLED
    with pytest.raises(StreamCancelledError):
        await stream.output


async def test_aclose_from_inside_the_producer_does_not_cancel_the_producer() -> None:
    stream = AsyncChatModelStream()
    cleanup: list[bool] = []

    async def produce() -> None:
        stream.dispatch(ev.start())
        await stream.aclose()
        await asyncio.sleep(0)  # e.g. reporting the close to a tracer
        cleanup.append(True)

    producer = asyncio.create_task(produce())
    stream.bind_producer(producer)
    await asyncio.wait([producer], timeout=1)
    assert not producer.cancelled()
    assert cleanup == [True]
    assert stream.state is StreamState.CANCELLED
    with pytest.raises(StreamCancelledError):
        await stream.output


async def test_aclose_resolves_a_consumer_that_is_inside_the_pump() -> None:
    stream = AsyncChatModelStream()
    never = asyncio.Event()

    async def pump() -> bool:  # e.g. a graph driver waiting on a slow node
        await never.wait()
        return False

    stream.set_arequest_more(pump)
    pumping = asyncio.create_task(aw(stream.text))
    waiting = asyncio.create_task(aw(stream.output))
    await settle()
    await asyncio.wait_for(stream.aclose(), 1)
    _, pending = await asyncio.wait([pumping, waiting], timeout=0.3)
    try:
        assert pending == set()
        assert isinstance(pumping.exception(), StreamCancelledError)
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(pumping, waiting, return_exceptions=True)


async def test_aclose_while_the_start_callback_runs_leaves_nothing_pending() -> None:
    stream = AsyncChatModelStream()
    gate = asyncio.Event()

    async def start() -> None:
        await gate.wait()

    stream.set_start(start)
    starter = asyncio.create_task(aw(stream.text))
    await settle()
    try:
        # aclose() must not wait for a start that may never complete...
        await asyncio.wait_for(stream.aclose(), 1)
        # ...and once it returns, the consumer that triggered the start is resolved.
        _, pending = await asyncio.wait([starter], timeout=0.3)
        assert pending == set()
        assert isinstance(starter.exception(), StreamCancelledError)
    finally:
        gate.set()
        await asyncio.gather(starter, return_exceptions=True)


# -- sync close / with ------------------------------------------------------------


def test_close_unfinished_cancels_and_releases_the_source() -> None:
    stream = ChatModelStream()
    source = GeneratorSource(stream, MIXED)
    deltas = iter(stream.text)
    assert next(deltas) == "Checking "
    assert source.finally_ran == 0
    stream.close()
    assert source.finally_ran == 1
    assert source.close_calls == 1
    assert stream.state is StreamState.CANCELLED
    err = stream.error
    assert isinstance(err, StreamCancelledError)
    # Buffered deltas first, then the cancellation: for the open iterator and new ones.
    assert drain(deltas) == ([], err)
    assert drain(stream.text) == (["Checking "], err)
    assert drain(stream.reasoning) == (["Let me ", "think."], err)
    with pytest.raises(StreamCancelledError) as info:
        stream.output  # noqa: B018
    assert info.value is err
    with pytest.raises(StreamCancelledError):
        stream.text.get()
    with pytest.raises(StreamCancelledError):
        stream.usage  # noqa: B018


def test_breaking_out_of_a_for_loop_then_close_releases_the_source() -> None:
    stream = ChatModelStream()
    source = GeneratorSource(stream, MIXED)
    for delta in stream.text:
        assert delta == "Checking "
        break
    assert source.finally_ran == 0
    stream.close()
    assert source.finally_ran == 1
    assert stream.state is StreamState.CANCELLED


def test_with_block_closes_and_releases_the_source() -> None:
    stream = ChatModelStream()
    source = GeneratorSource(stream, MIXED)
    with stream as same:
        assert same is stream
        for _ in stream.reasoning:
            break
    assert source.finally_ran == 1
    assert source.close_calls == 1
    assert stream.state is StreamState.CANCELLED


def test_with_block_propagates_the_body_exception_and_still_closes() -> None:
    stream = ChatModelStream()
    source = GeneratorSource(stream, MIXED)

    def body() -> None:
        with stream:
            next(iter(stream.text))
            raise KeyError("body")

    with pytest.raises(KeyError):
        body()
    assert source.finally_ran == 1
    assert stream.state is StreamState.CANCELLED


def test_close_is_idempotent_and_runs_the_callback_once() -> None:
    stream = ChatModelStream()
    source = GeneratorSource(stream, MIXED)
    next(iter(stream))
    stream.close()
    err = stream.error
    stream.close()
    with stream:
        pass
    assert source.close_calls == 1
    assert source.finally_ran == 1
    assert stream.state is StreamState.CANCELLED
    assert stream.error is err


def test_close_finished_keeps_the_result() -> None:
    stream = ChatModelStream()
    source = GeneratorSource(stream, MIXED)
    message = stream.output
    assert source.finally_ran == 0  # the pump stopped pulling at message-finish
    stream.close()
    assert source.close_calls == 1
    assert source.finally_ran == 1
    assert stream.state is StreamState.FINISHED
    assert stream.error is None
    assert stream.output == message
    assert stream.text.get() == MIXED_TEXT
    assert stream.tool_calls.get() == MIXED_TOOL_CALLS
    assert list(stream) == MIXED


def test_close_after_a_failure_keeps_the_failure() -> None:
    stream = ChatModelStream()
    source = GeneratorSource(stream, [ev.start(), ev.error("quota")])
    with pytest.raises(RuntimeError, match="quota"):
        stream.text.get()
    err = stream.error
    stream.close()
    assert stream.state is StreamState.FAILED
    assert stream.error is err
    assert source.close_calls == 1


def test_close_without_a_close_callback() -> None:
    stream = ChatModelStream()
    stream.dispatch(ev.start())
    stream.close()
    assert stream.state is StreamState.CANCELLED
    with pytest.raises(StreamCancelledError):
        list(stream.text)


def test_close_from_inside_a_for_loop_ends_the_loop_with_cancelled() -> None:
    stream = ChatModelStream()
    source = GeneratorSource(stream, MIXED)
    seen: list[str] = []

    def read_and_close() -> None:
        for delta in stream.text:
            seen.append(delta)
            stream.close()

    with pytest.raises(StreamCancelledError):
        read_and_close()
    assert seen == ["Checking "]
    assert source.finally_ran == 1


def test_keyboard_interrupt_in_the_pump_cancels_and_closes() -> None:
    stream = ChatModelStream()
    closed: list[bool] = []
    events = iter(MIXED[:3])

    def pump() -> bool:
        event = next(events, None)
        if event is None:
            raise KeyboardInterrupt
        stream.dispatch(event)
        return True

    stream.bind_pump(pump)
    stream.set_close(lambda: closed.append(True))
    with pytest.raises(KeyboardInterrupt):
        stream.text.get()
    assert stream.state is StreamState.CANCELLED
    assert isinstance(stream.error, StreamCancelledError)
    assert closed == [True]
    assert drain(stream.reasoning) == (["Let me "], stream.error)
