"""Contract section 4: feeding, failing, introspection, lazy start, pumps and producers.

Closing (``aclose``/``close``) lives in ``test_closing.py``; threads and many
consumers in ``test_threads_and_concurrency.py``.
"""

from __future__ import annotations

import asyncio
import gc
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from streamblocks import (
    AIMessage,
    AsyncChatModelStream,
    ChatModelStream,
    IncompleteStreamError,
    ProtocolError,
    ProviderError,
    StreamCancelledError,
    StreamError,
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
    collect,
    drain,
    settle,
)

if TYPE_CHECKING:
    from collections.abc import (
        AsyncIterable,
        Awaitable,
        Callable,
        Coroutine,
        Iterable,
    )

T = TypeVar("T")


# -- helpers -------------------------------------------------------------------


def sync_raisers(stream: ChatModelStream) -> dict[str, Callable[[], object]]:
    """Every blocking way to read a sync stream's result."""
    return {
        "text.get": stream.text.get,
        "str(text)": lambda: str(stream.text),
        "reasoning.get": stream.reasoning.get,
        "str(reasoning)": lambda: str(stream.reasoning),
        "tool_calls.get": stream.tool_calls.get,
        "output": lambda: stream.output,
        "usage": lambda: stream.usage,
    }


def async_awaitables(
    stream: AsyncChatModelStream,
) -> dict[str, Callable[[], Coroutine[Any, Any, Any]]]:
    """Every way to await an async stream's result."""
    return {
        "text": lambda: aw(stream.text),
        "reasoning": lambda: aw(stream.reasoning),
        "tool_calls": lambda: aw(stream.tool_calls),
        "output": lambda: aw(stream.output),
        "usage": lambda: aw(stream.usage),
        "stream": lambda: aw(stream),
    }


def partial_mixed() -> list[ev.Event]:
    """The mixed message up to (not including) its message-finish."""
    return MIXED[:-1]


def feed(stream: ChatModelStream | AsyncChatModelStream, events: Iterable[ev.Event]) -> None:
    for event in events:
        stream.dispatch(event)


# -- error events and fail() ---------------------------------------------------------


def test_error_event_fails_sync_stream_with_provider_error() -> None:
    stream = ChatModelStream()
    feed(stream, partial_mixed())
    stream.dispatch(ev.error("rate limited", code="429"))

    assert stream.state is StreamState.FAILED
    assert stream.done
    err = stream.error
    assert isinstance(err, ProviderError)
    assert isinstance(err, StreamError)
    assert isinstance(err, RuntimeError)
    assert err.message == "rate limited"
    assert err.code == "429"
    assert err.status is None
    assert str(err) == "rate limited"
    assert stream.output_message is None


def test_error_event_every_sync_projection_drains_then_raises_the_same_error() -> None:
    stream = ChatModelStream()
    feed(stream, partial_mixed())
    stream.dispatch(ev.error("rate limited", code="429"))
    err = stream.error
    assert err is not None

    text, text_err = drain(stream.text)
    assert "".join(text) == MIXED_TEXT
    assert text_err is err
    reasoning, reasoning_err = drain(stream.reasoning)
    assert "".join(reasoning) == MIXED_REASONING
    assert reasoning_err is err
    chunks, chunks_err = drain(stream.tool_calls)
    assert [c["id"] for c in chunks] == ["call_a", "call_b", "call_a"]
    assert chunks_err is err
    raw, raw_err = drain(stream)
    # The error event itself is replayed before the error is raised.
    assert raw == [*partial_mixed(), ev.error("rate limited", code="429")]
    assert raw_err is err

    for name, read in sync_raisers(stream).items():
        with pytest.raises(ProviderError) as info:
            read()
        assert info.value is err, name
    # A second pass raises the same object again: the failure is sticky.
    with pytest.raises(ProviderError) as info:
        stream.text.get()
    assert info.value is err


def test_error_event_without_code_has_none_code() -> None:
    stream = ChatModelStream()
    stream.dispatch(ev.start())
    stream.dispatch(ev.error("overloaded"))
    err = stream.error
    assert isinstance(err, ProviderError)
    assert err.message == "overloaded"
    assert err.code is None


async def test_error_event_every_async_projection_drains_then_raises_the_same_error() -> None:
    stream = AsyncChatModelStream()
    # Consumers already waiting when the error arrives, and consumers that
    # arrive afterwards, all see the same ending.
    projections: list[AsyncIterable[Any]] = [
        stream.text,
        stream.reasoning,
        stream.tool_calls,
        stream,
    ]
    early = [asyncio.create_task(adrain(p)) for p in projections]
    early_awaits = [asyncio.create_task(make()) for make in async_awaitables(stream).values()]
    await settle()
    feed(stream, partial_mixed())
    await settle()
    stream.dispatch(ev.error("rate limited", code="429"))
    err = stream.error
    assert isinstance(err, ProviderError)
    assert err.code == "429"

    late = [adrain(p) for p in projections]
    results = await asyncio.gather(*early, *late)
    for _, exc in results:
        assert exc is err
    text_items = [r[0] for r in results[0::4]]
    assert all("".join(t) == MIXED_TEXT for t in text_items)
    assert all("".join(r[0]) == MIXED_REASONING for r in results[1::4])
    assert all(len(r[0]) == 3 for r in results[2::4])
    assert all(r[0][-1] == ev.error("rate limited", code="429") for r in results[3::4])

    outcomes = await asyncio.gather(*early_awaits, return_exceptions=True)
    assert all(o is err for o in outcomes)
    for name, make in async_awaitables(stream).items():
        with pytest.raises(ProviderError) as info:
            await make()
        assert info.value is err, name


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_fail_is_terminal_and_every_projection_raises_the_exception(kind: str) -> None:
    boom = KeyError("boom")
    if kind == "sync":
        sync = ChatModelStream()
        feed(sync, partial_mixed())
        sync.fail(boom)
        assert sync.state is StreamState.FAILED
        assert sync.error is boom
        text, exc = drain(sync.text)
        assert "".join(text) == MIXED_TEXT
        assert exc is boom
        for read in sync_raisers(sync).values():
            with pytest.raises(KeyError) as info:
                read()
            assert info.value is boom
    else:
        stream = AsyncChatModelStream()
        waiting = [asyncio.create_task(make()) for make in async_awaitables(stream).values()]
        feed(stream, partial_mixed())
        await settle()
        stream.fail(boom)
        assert stream.state is StreamState.FAILED
        assert stream.error is boom
        outcomes = await asyncio.gather(*waiting, return_exceptions=True)
        assert all(o is boom for o in outcomes)
        text, exc = await adrain(stream.text)
        assert "".join(text) == MIXED_TEXT
        assert exc is boom


def test_fail_is_sticky_the_first_ending_wins() -> None:
    stream = ChatModelStream()
    stream.dispatch(ev.start())
    first, second = ValueError("first"), ValueError("second")
    stream.fail(first)
    stream.fail(second)
    assert stream.error is first
    with pytest.raises(ValueError, match="first"):
        stream.text.get()


def test_error_event_then_fail_keeps_the_provider_error() -> None:
    stream = ChatModelStream()
    stream.dispatch(ev.error("first"))
    err = stream.error
    stream.fail(RuntimeError("later"))
    assert stream.error is err
    assert stream.state is StreamState.FAILED


def test_fail_after_finish_leaves_the_result_intact() -> None:
    stream = ChatModelStream()
    feed(stream, MIXED)
    message = stream.output
    stream.fail(RuntimeError("too late"))
    assert stream.state is StreamState.FINISHED
    assert stream.error is None
    assert stream.output == message
    assert stream.output_message is message
    assert stream.text.get() == MIXED_TEXT
    assert stream.tool_calls.get() == MIXED_TOOL_CALLS
    assert stream.usage == MIXED_USAGE


async def test_async_fail_after_finish_leaves_the_result_intact() -> None:
    stream = AsyncChatModelStream()
    feed(stream, MIXED)
    stream.fail(RuntimeError("too late"))
    assert stream.state is StreamState.FINISHED
    assert stream.error is None
    message = await stream
    assert message.text == MIXED_TEXT
    assert await stream.text == MIXED_TEXT
    assert await stream.usage == MIXED_USAGE


@pytest.mark.parametrize("ending", ["finish", "error", "fail"])
def test_dispatch_after_the_end_raises_protocol_error_and_changes_nothing(ending: str) -> None:
    stream = ChatModelStream()
    feed(stream, partial_mixed())
    if ending == "finish":
        stream.dispatch(ev.finish())
    elif ending == "error":
        stream.dispatch(ev.error())
    else:
        stream.fail(RuntimeError("x"))
    state, error = stream.state, stream.error
    n_events = len(list(drain(stream)[0]))
    snapshot = stream.snapshot()

    with pytest.raises(ProtocolError):
        stream.dispatch(ev.text(1, "more"))
    assert stream.state is state
    assert stream.error is error
    assert len(drain(stream)[0]) == n_events
    assert stream.snapshot() == snapshot


# -- introspection ---------------------------------------------------------------------


@pytest.mark.parametrize("cls", [ChatModelStream, AsyncChatModelStream])
def test_constructor_describes_the_stream(
    cls: type[ChatModelStream] | type[AsyncChatModelStream],
) -> None:
    stream = cls(namespace=["agent", "tools"], node="model", message_id="run-1")
    assert stream.namespace == ["agent", "tools"]
    assert stream.node == "model"
    assert stream.message_id == "run-1"
    assert stream.state is StreamState.STREAMING
    assert not stream.done
    assert stream.error is None
    assert stream.output_message is None

    bare = cls()
    assert bare.namespace == []
    assert bare.node is None
    assert bare.message_id is None


@pytest.mark.parametrize("cls", [ChatModelStream, AsyncChatModelStream])
def test_message_start_id_sets_message_id_only_when_non_empty(
    cls: type[ChatModelStream] | type[AsyncChatModelStream],
) -> None:
    stream = cls(message_id="run-1")
    stream.dispatch(ev.start(""))
    assert stream.message_id == "run-1"

    stream = cls(message_id="run-1")
    stream.dispatch({"event": "message-start", "role": "ai"})
    assert stream.message_id == "run-1"

    stream = cls(message_id="run-1")
    stream.dispatch(ev.start("msg-42"))
    assert stream.message_id == "msg-42"
    feed(stream, [ev.text_start(0), ev.text(0, "hi"), ev.finish()])
    message = stream.output_message
    assert message is not None
    assert message.id == "msg-42"


def test_output_message_is_none_until_finished_and_never_blocks() -> None:
    pulls: list[int] = []

    def pump() -> bool:
        pulls.append(1)
        return False

    stream = ChatModelStream()
    stream.set_request_more(pump)
    feed(stream, partial_mixed())
    # Non-blocking introspection neither pumps nor raises.
    assert stream.output_message is None
    assert not stream.done
    assert stream.state is StreamState.STREAMING
    assert pulls == []
    stream.dispatch(MIXED[-1])
    message = stream.output_message
    assert isinstance(message, AIMessage)
    assert message == stream.output
    assert stream.done
    assert stream.state is StreamState.FINISHED


async def test_async_output_message_is_a_plain_value() -> None:
    stream = AsyncChatModelStream()
    feed(stream, partial_mixed())
    assert stream.output_message is None
    stream.dispatch(MIXED[-1])
    message = stream.output_message
    assert isinstance(message, AIMessage)
    assert message == await stream.output


def test_states_are_strings_and_done_tracks_every_ending() -> None:
    assert [s.value for s in StreamState] == ["streaming", "finished", "failed", "cancelled"]
    assert isinstance(StreamState.FINISHED, str)
    assert StreamState("finished") is StreamState.FINISHED

    finished = ChatModelStream()
    feed(finished, MIXED)
    failed = ChatModelStream()
    failed.fail(RuntimeError())
    cancelled = ChatModelStream()
    cancelled.close()
    assert (finished.state, failed.state, cancelled.state) == (
        StreamState.FINISHED,
        StreamState.FAILED,
        StreamState.CANCELLED,
    )
    assert finished.done
    assert failed.done
    assert cancelled.done
    assert finished.error is None
    assert isinstance(cancelled.error, StreamCancelledError)


# -- lazy start (sync) ---------------------------------------------------------------


SYNC_CONSUMPTIONS: dict[str, Callable[[ChatModelStream], object]] = {
    "iter text": lambda s: next(iter(s.text)),
    "iter reasoning": lambda s: next(iter(s.reasoning)),
    "iter tool_calls": lambda s: next(iter(s.tool_calls)),
    "iter stream": lambda s: next(iter(s)),
    "text.get": lambda s: s.text.get(),
    "reasoning.get": lambda s: s.reasoning.get(),
    "tool_calls.get": lambda s: s.tool_calls.get(),
    "str(text)": lambda s: str(s.text),
    "str(reasoning)": lambda s: str(s.reasoning),
    "output": lambda s: s.output,
    "usage": lambda s: s.usage,
    "close": lambda s: s.close(),
}


def lazily_started_sync() -> tuple[ChatModelStream, list[int]]:
    stream = ChatModelStream()
    calls: list[int] = []

    def start() -> None:
        calls.append(1)
        feed(stream, MIXED)

    stream.set_start(start)
    return stream, calls


@pytest.mark.parametrize("how", list(SYNC_CONSUMPTIONS))
def test_sync_start_runs_once_on_first_consumption(how: str) -> None:
    stream, calls = lazily_started_sync()
    # Introspection is not consumption.
    assert not stream.text
    repr(stream.text)
    stream.snapshot()
    assert stream.output_message is None
    assert (stream.done, stream.state, stream.error) == (False, StreamState.STREAMING, None)
    iter(stream.text)  # creating an iterator consumes nothing yet
    assert calls == []

    SYNC_CONSUMPTIONS[how](stream)
    assert calls == [1]
    # Every other kind of consumption afterwards: never a second start.
    for other in SYNC_CONSUMPTIONS.values():
        other(stream)
    list(stream)
    assert calls == [1]


def test_sync_start_that_raises_fails_the_stream_with_that_error() -> None:
    stream = ChatModelStream()
    boom = ConnectionError("cannot connect")
    calls: list[int] = []

    def start() -> None:
        calls.append(1)
        raise boom

    stream.set_start(start)
    with pytest.raises(ConnectionError) as info:
        stream.text.get()
    assert info.value is boom
    assert stream.state is StreamState.FAILED
    assert stream.error is boom
    for read in sync_raisers(stream).values():
        with pytest.raises(ConnectionError) as again:
            read()
        assert again.value is boom
    assert drain(stream)[1] is boom
    assert calls == [1]


# -- lazy start (async) ------------------------------------------------------------


async def _anext_of(ait: AsyncIterable[T]) -> T:
    return await ait.__aiter__().__anext__()


ASYNC_CONSUMPTIONS: dict[str, Callable[[AsyncChatModelStream], Awaitable[object]]] = {
    "anext text": lambda s: _anext_of(s.text),
    "anext reasoning": lambda s: _anext_of(s.reasoning),
    "anext tool_calls": lambda s: _anext_of(s.tool_calls),
    "anext stream": _anext_of,
    "await text": lambda s: aw(s.text),
    "await reasoning": lambda s: aw(s.reasoning),
    "await tool_calls": lambda s: aw(s.tool_calls),
    "await output": lambda s: aw(s.output),
    "await usage": lambda s: aw(s.usage),
    "await stream": aw,
    "aclose": lambda s: s.aclose(),
}


def lazily_started_async() -> tuple[AsyncChatModelStream, list[int]]:
    stream = AsyncChatModelStream()
    calls: list[int] = []

    async def start() -> None:
        calls.append(1)
        await asyncio.sleep(0)
        feed(stream, MIXED)

    stream.set_start(start)
    return stream, calls


@pytest.mark.parametrize("how", list(ASYNC_CONSUMPTIONS))
async def test_async_start_runs_once_on_first_consumption(how: str) -> None:
    stream, calls = lazily_started_async()
    assert not stream.text
    repr(stream.text)
    stream.snapshot()
    stream.text.__aiter__()  # creating a cursor consumes nothing yet
    assert stream.output_message is None
    assert calls == []

    await ASYNC_CONSUMPTIONS[how](stream)
    assert calls == [1]
    for other in ASYNC_CONSUMPTIONS.values():
        await other(stream)
    assert await collect(stream) == MIXED
    assert calls == [1]


async def test_async_start_runs_once_with_many_concurrent_consumers() -> None:
    stream, calls = lazily_started_async()
    consumers = [
        asyncio.create_task(aw(make(stream)))
        for make in ASYNC_CONSUMPTIONS.values()
        if make is not ASYNC_CONSUMPTIONS["aclose"]
        for _ in range(10)
    ]
    await asyncio.wait_for(asyncio.gather(*consumers), timeout=2)
    assert calls == [1]
    assert stream.state is StreamState.FINISHED


async def test_async_start_that_raises_fails_the_stream_for_every_consumer() -> None:
    stream = AsyncChatModelStream()
    boom = ConnectionError("cannot connect")
    gate = asyncio.Event()

    async def start() -> None:
        await gate.wait()
        raise boom

    stream.set_start(start)
    consumers = [asyncio.create_task(make()) for make in async_awaitables(stream).values()]
    iterators = [asyncio.create_task(adrain(p)) for p in (stream.text, stream.tool_calls, stream)]
    await settle()
    gate.set()
    outcomes = await asyncio.wait_for(asyncio.gather(*consumers, return_exceptions=True), timeout=2)
    assert all(o is boom for o in outcomes)
    for items, exc in await asyncio.gather(*iterators):
        assert items == []
        assert exc is boom
    assert stream.state is StreamState.FAILED
    assert stream.error is boom


async def test_async_consumers_do_not_pump_before_the_start_callback_completed() -> None:
    stream = AsyncChatModelStream()
    started = asyncio.Event()
    gate = asyncio.Event()
    source = iter(ev.simple_text_message(["a", "b"]))
    early_pumps: list[int] = []

    async def start() -> None:  # e.g. opening the HTTP connection the pump reads
        await gate.wait()
        started.set()

    async def pump() -> bool:
        if not started.is_set():
            early_pumps.append(1)
        event = next(source, None)
        if event is None:
            return False
        stream.dispatch(event)
        return True

    stream.set_start(start)
    stream.set_arequest_more(pump)
    first = asyncio.create_task(aw(stream.text))
    await settle()
    second = asyncio.create_task(aw(stream.output))  # arrives while start() runs
    await settle()
    gate.set()
    await asyncio.wait([first, second], timeout=2)
    assert early_pumps == []
    assert first.result() == "ab"
    assert second.result().text == "ab"


async def test_cancelling_the_consumer_running_start_does_not_strand_the_others() -> None:
    stream = AsyncChatModelStream()
    gate = asyncio.Event()

    async def start() -> None:
        await gate.wait()
        feed(stream, ev.simple_text_message(["a", "b"]))

    stream.set_start(start)
    starter = asyncio.create_task(aw(stream.text))
    await settle()
    other = asyncio.create_task(aw(stream.output))
    await settle()
    starter.cancel()
    await asyncio.wait([starter])
    gate.set()
    done, _ = await asyncio.wait([other], timeout=0.3)
    try:
        # Either the start is carried on for the remaining consumers, or the
        # stream ends; what must not happen is a consumer left waiting forever.
        assert other in done
        outcome = other.exception() or other.result()
        assert isinstance(outcome, (AIMessage, StreamError))
    finally:
        other.cancel()
        await asyncio.gather(other, return_exceptions=True)


# -- caller-driven pump (sync) ------------------------------------------------------------


@pytest.mark.parametrize("install", ["set_request_more", "bind_pump"])
def test_sync_pump_drives_every_projection(install: str) -> None:
    stream = ChatModelStream()
    source = GeneratorSource(stream, MIXED, install=False)
    getattr(stream, install)(source.pump)
    assert source.pulls == 0  # installing the pump pulls nothing

    deltas = iter(stream.text)
    assert next(deltas) == "Checking "
    # Only what that first delta needed has been pulled.
    assert source.pulls == MIXED.index(ev.text(1, "Checking ")) + 1
    assert list(deltas) == ["both."]
    assert stream.reasoning.get() == MIXED_REASONING
    assert "".join(stream.reasoning) == MIXED_REASONING
    assert stream.tool_calls.get() == MIXED_TOOL_CALLS
    assert stream.usage == MIXED_USAGE
    assert stream.output.text == MIXED_TEXT
    assert list(stream) == MIXED
    # One pull per event, and none once the message finished.
    assert source.pulls == len(MIXED)


def test_sync_pump_interleaved_iterators_each_replay_everything() -> None:
    stream = ChatModelStream()
    source = GeneratorSource(stream, MIXED, install=False)
    stream.bind_pump(source.pump)
    raw = iter(stream)
    text = iter(stream.text)
    seen_raw = [next(raw), next(raw)]
    seen_text = [next(text)]
    seen_raw.extend(raw)
    seen_text.extend(text)
    assert seen_raw == MIXED
    assert seen_text == ["Checking ", "both."]
    assert source.pulls == len(MIXED)


def test_sync_pump_exhausted_before_finish_raises_incomplete_everywhere() -> None:
    stream = ChatModelStream()
    source = GeneratorSource(stream, partial_mixed(), install=False)
    stream.bind_pump(source.pump)

    text, err = drain(stream.text)
    assert "".join(text) == MIXED_TEXT  # buffered deltas first
    assert isinstance(err, IncompleteStreamError)
    assert stream.state is StreamState.FAILED
    assert stream.error is err
    # Never a placeholder: every result raises the same error.
    for name, read in sync_raisers(stream).items():
        with pytest.raises(IncompleteStreamError) as info:
            read()
        assert info.value is err, name
    reasoning, reasoning_err = drain(stream.reasoning)
    assert "".join(reasoning) == MIXED_REASONING
    assert reasoning_err is err
    assert drain(stream)[1] is err
    assert source.pulls == len(MIXED)  # every event, then the one that said "no more"
    # snapshot() keeps what arrived.
    assert stream.snapshot().text == MIXED_TEXT


def test_sync_pump_exhausted_immediately_never_returns_empty_text() -> None:
    stream = ChatModelStream()
    stream.bind_pump(lambda: False)
    with pytest.raises(IncompleteStreamError):
        str(stream.text)
    with pytest.raises(IncompleteStreamError):
        stream.output  # noqa: B018


def test_sync_pump_that_raises_fails_the_stream_with_that_exception() -> None:
    stream = ChatModelStream()
    events = iter(MIXED[:7])
    boom = OSError("connection reset")

    def pump() -> bool:
        event = next(events, None)
        if event is None:
            raise boom
        stream.dispatch(event)
        return True

    stream.bind_pump(pump)
    with pytest.raises(OSError, match="connection reset") as info:
        stream.output  # noqa: B018
    assert info.value is boom
    assert stream.state is StreamState.FAILED
    assert stream.error is boom
    text, err = drain(stream.text)
    assert text == ["Checking "]
    assert err is boom
    for read in sync_raisers(stream).values():
        with pytest.raises(OSError, match="connection reset") as again:
            read()
        assert again.value is boom


def test_sync_without_pump_unfinished_tells_the_user_what_to_do() -> None:
    stream = ChatModelStream()
    feed(stream, MIXED[:7])
    text, err = drain(stream.text)
    assert text == ["Checking "]
    assert isinstance(err, IncompleteStreamError)
    message = str(err)
    assert "message-finish" in message
    assert "bind_pump" in message
    for read in sync_raisers(stream).values():
        with pytest.raises(IncompleteStreamError):
            read()
    # Not a failure: the producer can still complete the stream.
    assert stream.state is StreamState.STREAMING
    assert stream.error is None
    feed(stream, MIXED[7:])
    assert stream.text.get() == MIXED_TEXT
    assert stream.tool_calls.get() == MIXED_TOOL_CALLS


# -- caller-driven pump (async) -------------------------------------------------------


class AsyncSource:
    """An async pump that dispatches one event per call, yielding to the loop
    first, and records whether two consumers ever pumped at once."""

    def __init__(self, stream: AsyncChatModelStream, events: list[ev.Event]) -> None:
        self.stream = stream
        self.events = list(events)
        self.pulls = 0
        self.active = 0
        self.max_active = 0
        self.gate: asyncio.Event | None = None

    async def pump(self) -> bool:
        self.pulls += 1
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            await asyncio.sleep(0)
            if self.gate is not None:
                await self.gate.wait()
            if not self.events:
                return False
            self.stream.dispatch(self.events.pop(0))
            return True
        finally:
            self.active -= 1


async def test_async_pump_drives_a_single_consumer() -> None:
    stream = AsyncChatModelStream()
    source = AsyncSource(stream, MIXED)
    stream.set_arequest_more(source.pump)
    assert await stream.text == MIXED_TEXT
    assert source.pulls == len(MIXED)
    assert stream.state is StreamState.FINISHED


async def test_async_pump_many_consumers_of_different_projections_one_pump_at_a_time() -> None:
    stream = AsyncChatModelStream()
    source = AsyncSource(stream, MIXED)
    stream.set_arequest_more(source.pump)

    results: list[Any] = await asyncio.wait_for(
        asyncio.gather(
            collect(stream.text),
            collect(stream.reasoning),
            collect(stream.tool_calls),
            collect(stream),
            aw(stream.text),
            aw(stream.tool_calls),
            aw(stream.output),
            aw(stream.usage),
            aw(stream),
            collect(stream.text),
        ),
        timeout=2,
    )
    text, reasoning, chunks, raw, full, calls, output, usage, message, text2 = results
    assert text == text2 == ["Checking ", "both."]
    assert reasoning == ["Let me ", "think."]
    assert [c["args"] for c in chunks] == ['{"city": ', '{"tz": "UTC"}', '"Paris"}']
    assert raw == MIXED
    assert full == MIXED_TEXT
    assert calls == MIXED_TOOL_CALLS
    assert output.text == MIXED_TEXT
    assert message == output
    assert usage == MIXED_USAGE
    assert source.max_active == 1  # only one consumer pumps at a time
    assert source.pulls == len(MIXED)  # each call produced one event; none after finish


async def test_async_pump_another_consumer_takes_over_when_the_pumping_one_is_cancelled() -> None:
    stream = AsyncChatModelStream()
    source = AsyncSource(stream, MIXED)
    source.gate = asyncio.Event()
    stream.set_arequest_more(source.pump)
    pumper = asyncio.create_task(aw(stream.text))
    await settle()
    assert source.active == 1
    waiter = asyncio.create_task(aw(stream.output))
    await settle()
    assert source.pulls == 1  # the second consumer waits instead of pumping
    pumper.cancel()
    await asyncio.gather(pumper, return_exceptions=True)
    assert pumper.cancelled()
    source.gate.set()
    message = await asyncio.wait_for(waiter, timeout=2)
    assert message.text == MIXED_TEXT
    assert source.max_active == 1
    assert stream.state is StreamState.FINISHED


async def test_async_pump_exhausted_before_finish_raises_incomplete_for_every_consumer() -> None:
    stream = AsyncChatModelStream()
    source = AsyncSource(stream, partial_mixed())
    stream.set_arequest_more(source.pump)
    drained = [asyncio.create_task(adrain(p)) for p in (stream.text, stream.reasoning, stream)]
    awaited = [asyncio.create_task(make()) for make in async_awaitables(stream).values()]
    outcomes = await asyncio.wait_for(asyncio.gather(*awaited, return_exceptions=True), timeout=2)
    err = stream.error
    assert isinstance(err, IncompleteStreamError)
    assert stream.state is StreamState.FAILED
    assert all(o is err for o in outcomes)
    drained_results: list[tuple[list[Any], BaseException | None]] = await asyncio.gather(*drained)
    (text, e1), (reasoning, e2), (raw, e3) = drained_results
    assert (e1, e2, e3) == (err, err, err)
    assert "".join(text) == MIXED_TEXT
    assert "".join(reasoning) == MIXED_REASONING
    assert raw == partial_mixed()


async def test_async_pump_that_raises_fails_the_stream_for_every_consumer() -> None:
    stream = AsyncChatModelStream()
    boom = OSError("connection reset")
    events = iter(MIXED[:7])

    async def pump() -> bool:
        await asyncio.sleep(0)
        event = next(events, None)
        if event is None:
            raise boom
        stream.dispatch(event)
        return True

    stream.set_arequest_more(pump)
    awaited = [asyncio.create_task(make()) for make in async_awaitables(stream).values()]
    text_task = asyncio.create_task(adrain(stream.text))
    outcomes = await asyncio.wait_for(asyncio.gather(*awaited, return_exceptions=True), timeout=2)
    assert all(o is boom for o in outcomes)
    assert await text_task == (["Checking "], boom)
    assert stream.state is StreamState.FAILED
    assert stream.error is boom


# -- bind_producer and await stream --------------------------------------------------


async def test_producer_that_raises_fails_the_stream_with_that_exception() -> None:
    stream = AsyncChatModelStream()
    boom = OSError("connection reset")

    async def produce() -> None:
        feed(stream, MIXED[:7])
        await asyncio.sleep(0)
        raise boom

    waiting = [asyncio.create_task(make()) for make in async_awaitables(stream).values()]
    stream.bind_producer(asyncio.create_task(produce()))
    outcomes = await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), timeout=2)
    assert all(o is boom for o in outcomes)
    assert await adrain(stream.text) == (["Checking "], boom)
    assert stream.state is StreamState.FAILED
    assert stream.error is boom


async def test_producer_cancelled_before_finish_cancels_the_stream() -> None:
    stream = AsyncChatModelStream()
    gate = asyncio.Event()

    async def produce() -> None:
        feed(stream, MIXED[:7])
        await gate.wait()

    producer = asyncio.create_task(produce())
    stream.bind_producer(producer)
    waiting = [asyncio.create_task(make()) for make in async_awaitables(stream).values()]
    await settle()
    producer.cancel()
    outcomes = await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), timeout=2)
    err = stream.error
    assert isinstance(err, StreamCancelledError)
    assert not isinstance(err, asyncio.CancelledError)
    assert stream.state is StreamState.CANCELLED
    assert all(o is err for o in outcomes)
    assert await adrain(stream.text) == (["Checking "], err)


async def test_producer_returning_without_finish_raises_incomplete() -> None:
    stream = AsyncChatModelStream()

    async def produce() -> None:
        feed(stream, partial_mixed())

    waiting = [asyncio.create_task(make()) for make in async_awaitables(stream).values()]
    stream.bind_producer(asyncio.create_task(produce()))
    outcomes = await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), timeout=2)
    err = stream.error
    assert isinstance(err, IncompleteStreamError)
    assert stream.state is StreamState.FAILED
    assert all(o is err for o in outcomes)
    text, exc = await adrain(stream.text)
    assert "".join(text) == MIXED_TEXT
    assert exc is err


async def test_producer_that_fails_after_dispatching_an_error_keeps_the_provider_error() -> None:
    stream = AsyncChatModelStream()

    async def produce() -> None:
        stream.dispatch(ev.start())
        stream.dispatch(ev.error("quota", code="insufficient_quota"))
        raise RuntimeError("driver gave up")

    stream.bind_producer(asyncio.create_task(produce()))
    with pytest.raises(ProviderError) as info:
        await stream.output
    assert info.value.code == "insufficient_quota"
    assert stream.error is info.value


async def test_await_stream_waits_for_the_producers_post_finish_work() -> None:
    stream = AsyncChatModelStream()
    gate = asyncio.Event()
    post_work_done: list[bool] = []

    async def produce() -> None:
        feed(stream, MIXED)
        await gate.wait()  # e.g. on_llm_end callbacks
        post_work_done.append(True)

    producer = asyncio.create_task(produce())
    stream.bind_producer(producer)
    # The projections resolve as soon as the message exists...
    output = await asyncio.wait_for(aw(stream.output), timeout=2)
    assert await stream.text == MIXED_TEXT
    assert post_work_done == []
    # ...but awaiting the stream itself waits for the producer.
    whole = asyncio.create_task(aw(stream))
    await settle()
    assert not whole.done()
    gate.set()
    message = await asyncio.wait_for(whole, timeout=2)
    assert post_work_done == [True]
    assert producer.done()
    assert message == output


async def test_await_stream_reraises_a_producer_failure_after_finish() -> None:
    stream = AsyncChatModelStream()
    boom = ValueError("callback failed")

    async def produce() -> None:
        feed(stream, MIXED)
        await asyncio.sleep(0)
        raise boom

    stream.bind_producer(asyncio.create_task(produce()))
    with pytest.raises(ValueError, match="callback failed") as info:
        await stream
    assert info.value is boom
    # The message itself is intact: the failure came after it.
    assert stream.state is StreamState.FINISHED
    assert stream.error is None
    assert (await stream.output).text == MIXED_TEXT
    assert await stream.tool_calls == MIXED_TOOL_CALLS
    with pytest.raises(ValueError, match="callback failed"):
        await stream


async def test_a_post_finish_producer_failure_nobody_awaits_is_not_logged_as_lost() -> None:
    # The autouse fixture fails the test if asyncio logs "Task exception was
    # never retrieved": binding the producer must retrieve its outcome.
    stream = AsyncChatModelStream()

    async def produce() -> None:
        feed(stream, MIXED)
        await asyncio.sleep(0)
        raise ValueError("callback failed")

    producer = asyncio.create_task(produce())
    stream.bind_producer(producer)
    assert (await stream.output).text == MIXED_TEXT
    await asyncio.wait([producer])
    del producer
    gc.collect()


async def test_external_cancellation_of_the_producer_after_success_keeps_the_result() -> None:
    stream = AsyncChatModelStream()
    gate = asyncio.Event()

    async def produce() -> None:
        feed(stream, MIXED)
        await gate.wait()

    producer = asyncio.create_task(produce())
    stream.bind_producer(producer)
    whole = asyncio.create_task(aw(stream))
    await settle()
    assert not whole.done()
    producer.cancel()
    message = await asyncio.wait_for(whole, timeout=2)
    assert producer.cancelled()
    assert message.text == MIXED_TEXT
    assert stream.state is StreamState.FINISHED
    assert stream.error is None


async def test_await_stream_inside_the_producer_does_not_deadlock() -> None:
    stream = AsyncChatModelStream()

    async def produce() -> AIMessage:
        feed(stream, MIXED)
        return await stream

    producer = asyncio.create_task(produce())
    stream.bind_producer(producer)
    message = await asyncio.wait_for(producer, timeout=2)
    assert message.text == MIXED_TEXT
    assert await stream == message


async def test_await_stream_without_producer_returns_the_message() -> None:
    stream = AsyncChatModelStream()
    whole = asyncio.create_task(aw(stream))
    await settle()
    feed(stream, MIXED)
    message = await asyncio.wait_for(whole, timeout=2)
    assert message == stream.output_message
