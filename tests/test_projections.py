"""Contract section 3: projections, for ``ChatModelStream`` and ``AsyncChatModelStream``.

The two flavours are mirrored class by class (``TestSync...`` /
``TestAsync...``) because their reading APIs differ: ``str()``/``.get()``
and blocking properties on one side, ``async for`` and ``await`` on the
other.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from streamblocks import (
    AsyncChatModelStream,
    ChatModelStream,
    IncompleteStreamError,
    ProtocolError,
    ProviderError,
    StreamState,
)
from tests import events as ev

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Awaitable, Callable

Event = dict[str, Any]
T = TypeVar("T")

MIXED_TEXT_DELTAS = ["Checking ", "both."]
MIXED_REASONING_DELTAS = ["Let me ", "think."]
MIXED_TOOL_CHUNKS = [
    {
        "type": "tool_call_chunk",
        "id": "call_a",
        "name": "get_weather",
        "args": '{"city": ',
        "index": 0,
    },
    {
        "type": "tool_call_chunk",
        "id": "call_b",
        "name": "get_time",
        "args": '{"tz": "UTC"}',
        "index": 1,
    },
    {
        "type": "tool_call_chunk",
        "id": "call_a",
        "name": "get_weather",
        "args": '"Paris"}',
        "index": 0,
    },
]
MIXED_TOOL_CALLS = [
    {"type": "tool_call", "id": "call_a", "name": "get_weather", "args": {"city": "Paris"}},
    {"type": "tool_call", "id": "call_b", "name": "get_time", "args": {"tz": "UTC"}},
]
MIXED_USAGE = {"input_tokens": 10, "output_tokens": 20, "total_tokens": 30}


def nested_args_message() -> list[Event]:
    return [
        ev.start(),
        ev.tool_start(0, "c", "f", args='{"opts": {"deep": [1]}, "top": 1}'),
        ev.finish(
            {"input_tokens": 1, "output_tokens": 1, "input_token_details": {"cache_read": 1}}
        ),
    ]


def failing_message() -> list[Event]:
    """Some of every projection, then a provider error."""
    return [
        ev.start("msg-f"),
        ev.reasoning(0, "r1"),
        ev.text(1, "t1"),
        ev.tool_start(2, "c", "f", args='{"a"'),
        ev.text(1, "t2"),
        ev.error("overloaded", code="529"),
    ]


# ---------------------------------------------------------------------------
# Sync helpers
# ---------------------------------------------------------------------------


class Pumped:
    """A sync stream whose pump dispatches one scripted event per call."""

    def __init__(self, events: list[Event]) -> None:
        self.stream = ChatModelStream()
        self.events = list(events)
        self.calls = 0
        self.stream.bind_pump(self.pump)

    def pump(self) -> bool:
        self.calls += 1
        if not self.events:
            return False
        self.stream.dispatch(self.events.pop(0))
        return True


def fed(events: list[Event]) -> ChatModelStream:
    stream = ChatModelStream()
    for event in events:
        stream.dispatch(event)
    return stream


def drain_until_error(source: Any) -> tuple[list[Any], BaseException | None]:
    seen: list[Any] = []
    try:
        for item in source:
            seen.append(item)
    except Exception as exc:
        return seen, exc
    return seen, None


# ---------------------------------------------------------------------------
# Async helpers
# ---------------------------------------------------------------------------


def afed(events: list[Event]) -> AsyncChatModelStream:
    stream = AsyncChatModelStream()
    for event in events:
        stream.dispatch(event)
    return stream


async def acollect(source: AsyncIterable[T]) -> list[T]:
    return [item async for item in source]


async def adrain_until_error(source: AsyncIterable[Any]) -> tuple[list[Any], BaseException | None]:
    seen: list[Any] = []
    try:
        async for item in source:
            seen.append(item)
    except Exception as exc:
        return seen, exc
    return seen, None


async def produce(stream: AsyncChatModelStream, events: list[Event]) -> None:
    """Dispatch events one at a time, letting consumers run in between."""
    for event in events:
        stream.dispatch(event)
        await asyncio.sleep(0)


# ===========================================================================
# Sync stream
# ===========================================================================


class TestSyncDeltasAndValues:
    def test_iterating_projections_yields_deltas(self) -> None:
        stream = fed(ev.mixed_message())
        assert list(stream.text) == MIXED_TEXT_DELTAS
        assert list(stream.reasoning) == MIXED_REASONING_DELTAS
        assert list(stream.tool_calls) == MIXED_TOOL_CHUNKS

    def test_iterating_pulls_events_through_the_pump(self) -> None:
        pumped = Pumped(ev.mixed_message())
        assert list(pumped.stream.text) == MIXED_TEXT_DELTAS
        assert pumped.stream.state is StreamState.FINISHED
        assert pumped.events == []

    def test_get_and_str_give_full_values(self) -> None:
        stream = fed(ev.mixed_message())
        assert str(stream.text) == "Checking both."
        assert stream.text.get() == "Checking both."
        assert str(stream.reasoning) == "Let me think."
        assert stream.reasoning.get() == "Let me think."
        assert stream.tool_calls.get() == MIXED_TOOL_CALLS

    def test_str_drains_the_stream_through_the_pump(self) -> None:
        pumped = Pumped(ev.mixed_message())
        assert str(pumped.stream.text) == "Checking both."
        assert pumped.stream.done

    def test_output_is_a_blocking_property(self) -> None:
        pumped = Pumped(ev.mixed_message())
        message = pumped.stream.output
        assert pumped.stream.state is StreamState.FINISHED
        assert message.id == "msg-mixed"
        assert message.text == "Checking both."
        assert message.tool_calls == MIXED_TOOL_CALLS

    def test_usage_is_a_blocking_property(self) -> None:
        pumped = Pumped(ev.mixed_message())
        assert pumped.stream.usage == MIXED_USAGE
        assert pumped.stream.done

    def test_usage_is_none_when_the_finish_has_none(self) -> None:
        assert fed([ev.start(), ev.finish()]).usage is None

    def test_iterating_the_stream_replays_raw_events(self) -> None:
        events = ev.mixed_message()
        stream = fed(events)
        assert list(stream) == events
        assert list(stream) == events  # again, from the start

    def test_iterating_the_stream_pulls_through_the_pump(self) -> None:
        events = ev.mixed_message()
        pumped = Pumped(events)
        assert list(pumped.stream) == events


class TestSyncConsumers:
    def test_each_consumer_has_its_own_cursor_from_the_start(self) -> None:
        pumped = Pumped(ev.simple_text_message(["a", "b", "c", "d"]))
        first = iter(pumped.stream.text)
        second = iter(pumped.stream.text)
        assert next(first) == "a"
        assert next(first) == "b"
        assert next(second) == "a"  # starts at the beginning, not where `first` is
        assert next(first) == "c"
        assert list(second) == ["b", "c", "d"]
        assert list(first) == ["d"]

    def test_consumers_of_different_projections_interleave(self) -> None:
        pumped = Pumped(ev.mixed_message())
        raw = iter(pumped.stream)
        text = iter(pumped.stream.text)
        chunks = iter(pumped.stream.tool_calls)
        assert next(text) == "Checking "
        assert next(chunks)["id"] == "call_a"
        assert next(raw)["event"] == "message-start"
        assert list(text) == ["both."]
        assert [c["id"] for c in chunks] == ["call_b", "call_a"]
        assert len(list(raw)) == len(ev.mixed_message()) - 1

    def test_a_late_consumer_gets_everything(self) -> None:
        stream = fed(ev.mixed_message())
        assert list(stream.text) == MIXED_TEXT_DELTAS
        for _ in range(3):
            assert list(stream.text) == MIXED_TEXT_DELTAS
            assert list(stream.tool_calls) == MIXED_TOOL_CHUNKS
            assert list(stream) == ev.mixed_message()

    @pytest.mark.parametrize("projection", ["text", "reasoning", "tool_calls", "events"])
    def test_buffered_items_come_before_the_stored_error(self, projection: str) -> None:
        stream = fed(failing_message())
        source: Any = stream if projection == "events" else getattr(stream, projection)
        expected: dict[str, list[Any]] = {
            "text": ["t1", "t2"],
            "reasoning": ["r1"],
            "tool_calls": [{"type": "tool_call_chunk", "id": "c", "name": "f", "args": '{"a"'}],
            "events": failing_message(),
        }
        for _ in range(2):  # every consumer, not just the first
            seen, err = drain_until_error(source)
            assert seen == expected[projection]
            assert isinstance(err, ProviderError)
            assert err is stream.error

    def test_a_live_consumer_gets_its_buffer_then_the_error(self) -> None:
        pumped = Pumped(failing_message())
        seen, err = drain_until_error(pumped.stream.text)
        assert seen == ["t1", "t2"]
        assert isinstance(err, ProviderError)
        assert err.message == "overloaded"

    def test_final_values_raise_the_stored_error(self) -> None:
        stream = fed(failing_message())
        reads: dict[str, Callable[[], object]] = {
            "text.get": stream.text.get,
            "str(text)": lambda: str(stream.text),
            "reasoning.get": stream.reasoning.get,
            "tool_calls.get": stream.tool_calls.get,
            "output": lambda: stream.output,
            "usage": lambda: stream.usage,
        }
        for name, read in reads.items():
            with pytest.raises(ProviderError) as info:
                read()
            assert info.value is stream.error, name


class TestSyncIdentityAndCopies:
    def test_each_property_returns_the_same_object(self) -> None:
        stream = fed(ev.mixed_message())
        assert stream.text is stream.text
        assert stream.reasoning is stream.reasoning
        assert stream.tool_calls is stream.tool_calls
        assert stream.output is stream.output
        assert stream.output is stream.output_message
        assert stream.usage == stream.usage

    def test_get_returns_a_new_tool_call_list_every_time(self) -> None:
        stream = fed(ev.mixed_message())
        first = stream.tool_calls.get()
        second = stream.tool_calls.get()
        assert first == second
        assert first is not second
        assert first[0] is not second[0]
        assert first[0]["args"] is not second[0]["args"]

    def test_mutating_the_returned_tool_calls_does_not_affect_the_next_get(self) -> None:
        stream = fed(ev.mixed_message())
        calls = stream.tool_calls.get()
        calls[0]["args"]["city"] = "Rome"
        calls[0]["name"] = "renamed"
        calls.append(calls[0])
        calls.clear()
        assert stream.tool_calls.get() == MIXED_TOOL_CALLS
        assert stream.output.tool_calls == MIXED_TOOL_CALLS

    def test_mutating_nested_args_does_not_affect_the_next_get(self) -> None:
        stream = fed(nested_args_message())
        stream.tool_calls.get()[0]["args"]["opts"]["deep"].append(2)
        assert stream.tool_calls.get()[0]["args"] == {"opts": {"deep": [1]}, "top": 1}

    def test_mutating_the_output_message_does_not_affect_tool_calls_get(self) -> None:
        stream = fed(ev.mixed_message())
        stream.output.tool_calls[0]["args"]["city"] = "Rome"
        assert stream.tool_calls.get() == MIXED_TOOL_CALLS

    def test_usage_returns_a_copy(self) -> None:
        stream = fed(ev.mixed_message())
        usage = stream.usage
        assert usage is not None
        usage["input_tokens"] = 0
        assert stream.usage == MIXED_USAGE
        assert stream.output.usage_metadata == MIXED_USAGE

    def test_mutating_nested_usage_does_not_affect_the_next_read(self) -> None:
        stream = fed(nested_args_message())
        usage = stream.usage
        assert usage is not None
        usage["input_token_details"]["cache_read"] = 99
        again = stream.usage
        assert again is not None
        assert again["input_token_details"] == {"cache_read": 1}


class TestSyncTextProjectionBoolAndRepr:
    def test_bool_says_whether_any_delta_was_pushed(self) -> None:
        stream = ChatModelStream()
        assert not stream.text
        stream.dispatch(ev.start())
        stream.dispatch(ev.text_start(0))
        assert not stream.text
        stream.dispatch(ev.text(0, "x"))
        assert stream.text
        assert not stream.reasoning

    def test_repr_is_the_text_so_far(self) -> None:
        stream = ChatModelStream()
        assert repr(stream.text) == repr("")
        stream.dispatch(ev.start())
        stream.dispatch(ev.text(0, "Hel"))
        stream.dispatch(ev.text(1, "!"))
        stream.dispatch(ev.text(0, "lo"))
        assert repr(stream.text) == repr("Hello!")
        stream.dispatch(ev.finish())
        assert repr(stream.text) == repr("Hello!")

    def test_bool_and_repr_do_not_pump(self) -> None:
        pumped = Pumped(ev.simple_text_message(["a", "b"]))
        assert not pumped.stream.text
        assert repr(pumped.stream.text) == repr("")
        assert not pumped.stream.reasoning
        assert repr(pumped.stream.reasoning) == repr("")
        assert pumped.calls == 0
        assert pumped.stream.state is StreamState.STREAMING


class TestSyncSnapshot:
    def test_snapshot_is_non_blocking_mid_stream(self) -> None:
        pumped = Pumped([])
        stream = pumped.stream
        for event in [
            ev.start("m"),
            ev.text_start(0),
            ev.text(0, "Hel"),
            ev.tool_start(1, "c", "f", args='{"a"'),
        ]:
            stream.dispatch(event)
        snap = stream.snapshot()
        assert pumped.calls == 0
        assert stream.state is StreamState.STREAMING
        assert snap.id == "m"
        assert snap.text == "Hel"
        assert snap.content == [
            {"type": "text", "text": "Hel", "index": 0},
            {"type": "tool_call_chunk", "id": "c", "name": "f", "args": '{"a"'},
        ]
        assert stream.output_message is None

    def test_snapshot_before_any_event(self) -> None:
        snap = ChatModelStream().snapshot()
        assert snap.content == ""
        assert snap.tool_calls == []
        assert snap.usage_metadata is None

    def test_snapshot_after_failure_has_everything_received(self) -> None:
        stream = fed(failing_message())
        assert stream.state is StreamState.FAILED
        snap = stream.snapshot()
        assert snap.id == "msg-f"
        assert snap.text == "t1t2"
        assert snap.reasoning == "r1"
        assert snap.content == [
            {"type": "reasoning", "reasoning": "r1", "index": 0},
            {"type": "text", "text": "t1t2", "index": 1},
            {"type": "tool_call_chunk", "id": "c", "name": "f", "args": '{"a"'},
        ]

    def test_snapshot_equals_output_after_finish(self) -> None:
        stream = fed(ev.mixed_message())
        assert stream.snapshot() == stream.output
        assert stream.snapshot().to_dict() == stream.output.to_dict()

    def test_mutating_a_snapshot_top_level_does_not_affect_the_stream(self) -> None:
        stream = fed(ev.mixed_message())
        snap = stream.snapshot()
        assert isinstance(snap.content, list)
        snap.content.clear()
        snap.tool_calls.clear()
        snap.response_metadata.clear()
        assert stream.snapshot() == stream.output
        assert stream.output.tool_calls == MIXED_TOOL_CALLS

    def test_mutating_a_snapshot_nested_field_does_not_affect_output_or_events(self) -> None:
        events = ev.mixed_message()
        stream = fed(events)
        snap = stream.snapshot()
        assert isinstance(snap.content, list)
        snap.content[0]["extras"]["signature"] = "redacted"  # type: ignore[typeddict-item]
        assert stream.output.content[0]["extras"] == {"signature": "sig"}  # type: ignore[index,typeddict-item]
        assert events[4]["content"]["extras"] == {"signature": "sig"}


class TestSyncUnfinishedWithoutPump:
    @pytest.mark.parametrize(
        "read",
        ["str", "get", "iterate", "tool_calls", "output", "usage", "events"],
    )
    def test_reading_an_unfinished_unpumped_stream_raises_incomplete(self, read: str) -> None:
        stream = fed([ev.start(), ev.text(0, "partial")])
        readers: dict[str, Callable[[], object]] = {
            "str": lambda: str(stream.text),
            "get": stream.reasoning.get,
            "iterate": lambda: list(stream.text),
            "tool_calls": stream.tool_calls.get,
            "output": lambda: stream.output,
            "usage": lambda: stream.usage,
            "events": lambda: list(stream),
        }
        with pytest.raises(IncompleteStreamError) as info:
            readers[read]()
        message = str(info.value)
        assert "dispatch" in message
        assert "bind_pump" in message
        # Reading too early does not fail the stream: it can still finish.
        assert stream.state is StreamState.STREAMING
        assert stream.error is None
        stream.dispatch(ev.finish())
        assert str(stream.text) == "partial"

    def test_iterator_yields_buffered_deltas_before_raising_incomplete(self) -> None:
        stream = fed([ev.start(), ev.text(0, "a"), ev.text(0, "b")])
        seen, err = drain_until_error(stream.text)
        assert seen == ["a", "b"]
        assert isinstance(err, IncompleteStreamError)


# ===========================================================================
# Async stream
# ===========================================================================


class TestAsyncDeltasAndValues:
    async def test_async_for_yields_deltas_live(self) -> None:
        stream = AsyncChatModelStream()
        consumers = [
            asyncio.create_task(acollect(stream.text)),
            asyncio.create_task(acollect(stream.reasoning)),
            asyncio.create_task(acollect(stream.tool_calls)),
        ]
        await asyncio.sleep(0)
        await produce(stream, ev.mixed_message())
        text, reasoning, chunks = await asyncio.gather(*consumers)
        assert text == MIXED_TEXT_DELTAS
        assert reasoning == MIXED_REASONING_DELTAS
        assert chunks == MIXED_TOOL_CHUNKS

    async def test_await_gives_full_values(self) -> None:
        stream = AsyncChatModelStream()
        producer = asyncio.create_task(produce(stream, ev.mixed_message()))
        assert await stream.text == "Checking both."
        assert await stream.reasoning == "Let me think."
        assert await stream.tool_calls == MIXED_TOOL_CALLS
        await producer

    async def test_output_and_usage_are_awaitable(self) -> None:
        stream = AsyncChatModelStream()
        producer = asyncio.create_task(produce(stream, ev.mixed_message()))
        message = await stream.output
        assert message.id == "msg-mixed"
        assert message.tool_calls == MIXED_TOOL_CALLS
        assert await stream.usage == MIXED_USAGE
        await producer

    async def test_usage_is_none_when_the_finish_has_none(self) -> None:
        assert await afed([ev.start(), ev.finish()]).usage is None

    async def test_async_for_over_the_stream_replays_raw_events(self) -> None:
        events = ev.mixed_message()
        stream = AsyncChatModelStream()
        live = asyncio.create_task(acollect(stream))
        await asyncio.sleep(0)
        await produce(stream, events)
        assert await live == events
        assert await acollect(stream) == events  # again, from the start

    async def test_await_stream_gives_the_message(self) -> None:
        stream = AsyncChatModelStream()
        producer = asyncio.create_task(produce(stream, ev.mixed_message()))
        message = await stream
        assert message is await stream.output
        assert message.text == "Checking both."
        await producer


class TestAsyncConsumers:
    async def test_each_consumer_has_its_own_cursor_from_the_start(self) -> None:
        stream = AsyncChatModelStream()
        first = stream.text.__aiter__()
        second = stream.text.__aiter__()
        for event in [ev.start(), ev.text(0, "a"), ev.text(0, "b")]:
            stream.dispatch(event)
        assert await first.__anext__() == "a"
        assert await first.__anext__() == "b"
        assert await second.__anext__() == "a"
        stream.dispatch(ev.text(0, "c"))
        stream.dispatch(ev.finish())
        assert await acollect(second) == ["b", "c"]
        assert await acollect(first) == ["c"]

    async def test_consumers_joining_at_different_times_see_the_same_deltas(self) -> None:
        events = ev.mixed_message()
        stream = AsyncChatModelStream()
        tasks: list[asyncio.Task[list[Any]]] = []
        for event in events:
            tasks.append(asyncio.create_task(acollect(stream.text)))
            tasks.append(asyncio.create_task(acollect(stream.tool_calls)))
            await asyncio.sleep(0)
            stream.dispatch(event)
            await asyncio.sleep(0)
        results = await asyncio.gather(*tasks)
        assert results[0::2] == [MIXED_TEXT_DELTAS] * len(events)
        assert results[1::2] == [MIXED_TOOL_CHUNKS] * len(events)

    async def test_a_late_consumer_gets_everything(self) -> None:
        stream = afed(ev.mixed_message())
        for _ in range(3):
            assert await acollect(stream.text) == MIXED_TEXT_DELTAS
            assert await acollect(stream.reasoning) == MIXED_REASONING_DELTAS
            assert await acollect(stream.tool_calls) == MIXED_TOOL_CHUNKS
            assert await acollect(stream) == ev.mixed_message()

    @pytest.mark.parametrize("projection", ["text", "reasoning", "tool_calls", "events"])
    async def test_buffered_items_come_before_the_stored_error(self, projection: str) -> None:
        stream = afed(failing_message())
        source: Any = stream if projection == "events" else getattr(stream, projection)
        expected: dict[str, list[Any]] = {
            "text": ["t1", "t2"],
            "reasoning": ["r1"],
            "tool_calls": [{"type": "tool_call_chunk", "id": "c", "name": "f", "args": '{"a"'}],
            "events": failing_message(),
        }
        for _ in range(2):
            seen, err = await adrain_until_error(source)
            assert seen == expected[projection]
            assert isinstance(err, ProviderError)
            assert err is stream.error

    async def test_a_live_consumer_gets_its_buffer_then_the_error(self) -> None:
        stream = AsyncChatModelStream()
        consumer = asyncio.create_task(adrain_until_error(stream.text))
        await asyncio.sleep(0)
        await produce(stream, failing_message())
        seen, err = await consumer
        assert seen == ["t1", "t2"]
        assert isinstance(err, ProviderError)
        assert err.code == "529"

    async def test_awaited_values_raise_the_stored_error(self) -> None:
        stream = afed(failing_message())
        awaitables: dict[str, Awaitable[object]] = {
            "text": stream.text,
            "reasoning": stream.reasoning,
            "tool_calls": stream.tool_calls,
            "output": stream.output,
            "usage": stream.usage,
            "stream": stream,
        }
        for name, awaitable in awaitables.items():
            with pytest.raises(ProviderError) as info:
                await awaitable
            assert info.value is stream.error, name

    async def test_a_pending_await_raises_the_error_stored_later(self) -> None:
        stream = AsyncChatModelStream()
        waiter = asyncio.create_task(_await_output(stream))
        await asyncio.sleep(0)
        stream.dispatch(ev.start())
        with pytest.raises(ProtocolError):
            stream.dispatch({"event": "content-block-delta", "index": 0, "delta": 1})
        with pytest.raises(ProtocolError):
            await waiter


async def _await_output(stream: AsyncChatModelStream) -> Any:
    return await stream.output


class TestAsyncIdentityAndCopies:
    async def test_each_property_returns_the_same_object(self) -> None:
        stream = afed(ev.mixed_message())
        assert stream.text is stream.text
        assert stream.reasoning is stream.reasoning
        assert stream.tool_calls is stream.tool_calls
        assert stream.output is stream.output
        assert stream.usage is stream.usage

    async def test_await_returns_a_new_tool_call_list_every_time(self) -> None:
        stream = afed(ev.mixed_message())
        first = await stream.tool_calls
        second = await stream.tool_calls
        assert first == second
        assert first is not second
        assert first[0]["args"] is not second[0]["args"]

    async def test_mutating_the_awaited_tool_calls_does_not_affect_the_next_await(self) -> None:
        stream = afed(ev.mixed_message())
        calls = await stream.tool_calls
        calls[0]["args"]["city"] = "Rome"
        calls.pop()
        assert await stream.tool_calls == MIXED_TOOL_CALLS
        assert (await stream.output).tool_calls == MIXED_TOOL_CALLS

    async def test_mutating_nested_args_does_not_affect_the_next_await(self) -> None:
        stream = afed(nested_args_message())
        (await stream.tool_calls)[0]["args"]["opts"]["deep"].append(2)
        assert (await stream.tool_calls)[0]["args"] == {"opts": {"deep": [1]}, "top": 1}

    async def test_awaited_usage_is_a_copy(self) -> None:
        stream = afed(ev.mixed_message())
        usage = await stream.usage
        assert usage is not None
        usage["total_tokens"] = 0
        assert await stream.usage == MIXED_USAGE

    async def test_mutating_nested_awaited_usage_does_not_affect_the_next_await(self) -> None:
        stream = afed(nested_args_message())
        usage = await stream.usage
        assert usage is not None
        usage["input_token_details"]["cache_read"] = 99
        again = await stream.usage
        assert again is not None
        assert again["input_token_details"] == {"cache_read": 1}


class TestAsyncTextProjectionBoolAndRepr:
    async def test_bool_says_whether_any_delta_was_pushed(self) -> None:
        stream = AsyncChatModelStream()
        assert not stream.text
        stream.dispatch(ev.start())
        stream.dispatch(ev.reasoning(0, "r"))
        assert not stream.text
        assert stream.reasoning
        stream.dispatch(ev.text(1, "x"))
        assert stream.text

    async def test_repr_is_the_text_so_far(self) -> None:
        stream = AsyncChatModelStream()
        assert repr(stream.text) == repr("")
        stream.dispatch(ev.start())
        stream.dispatch(ev.text(1, "!"))
        stream.dispatch(ev.text(0, "Hi"))
        assert repr(stream.text) == repr("Hi!")
        stream.dispatch(ev.finish())
        assert repr(stream.text) == repr("Hi!")

    async def test_bool_and_repr_do_not_pump(self) -> None:
        stream = AsyncChatModelStream()
        calls = 0

        async def pump() -> bool:
            nonlocal calls
            calls += 1
            return False

        stream.set_arequest_more(pump)
        stream.dispatch(ev.start())
        stream.dispatch(ev.text(0, "so far"))
        assert stream.text
        assert repr(stream.text) == repr("so far")
        assert not stream.reasoning
        assert calls == 0
        assert stream.state is StreamState.STREAMING


class TestAsyncSnapshot:
    async def test_snapshot_is_non_blocking_mid_stream(self) -> None:
        stream = afed([ev.start("m"), ev.reasoning(0, "hm"), ev.text(1, "Hel")])
        snap = stream.snapshot()
        assert stream.state is StreamState.STREAMING
        assert snap.content == [
            {"type": "reasoning", "reasoning": "hm", "index": 0},
            {"type": "text", "text": "Hel", "index": 1},
        ]
        assert stream.output_message is None

    async def test_snapshot_after_failure_has_everything_received(self) -> None:
        stream = afed(failing_message())
        snap = stream.snapshot()
        assert stream.state is StreamState.FAILED
        assert snap.text == "t1t2"
        assert snap.reasoning == "r1"
        assert snap.id == "msg-f"

    async def test_snapshot_equals_output_after_finish(self) -> None:
        stream = afed(ev.mixed_message())
        assert stream.snapshot() == await stream.output
        assert stream.snapshot() == await stream
