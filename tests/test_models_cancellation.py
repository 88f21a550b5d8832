"""Cancelling a model's run: every way of stopping it closes the source and ends the run once.

The sweeps stop a scripted run at every event index, in every mode, and check
the same four things each time: nobody is left waiting on the stream, no task
is left behind, the source's ``finally`` ran, and exactly one of ``on_end`` /
``on_error`` fired (``on_error`` unless the message had already finished).
"""

from __future__ import annotations

import asyncio
import copy
import threading
from typing import Any

import pytest

from streamblocks import AIMessage, ChatModelStream, StreamCancelledError, StreamState
from streamblocks.testing import FailingModel, RecordingHandler, ScriptedModel
from tests import events as ev
from tests.helpers import MIXED, aw, drain
from tests.models_support import (
    SlowCleanup,
    bridge_tasks,
    other_tasks,
    projection_errors,
    set_mode,
    wait_until,
    waiters,
)

SIMPLE = ev.simple_text_message(["Hel", "lo", ", world"])
N = len(MIXED)


class Reached(RecordingHandler):
    """Records, and sets ``reached`` once ``count`` events have been reported."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count
        self.reached = asyncio.Event()

    def on_event(self, run: Any, event: Any) -> None:
        super().on_event(run, event)
        if len(self.events) >= self.count:
            self.reached.set()


def received(count: int) -> AIMessage:
    """The message assembled from the first ``count`` events of ``MIXED``: what a
    stream stopped after them must still hold."""
    stream = ChatModelStream()
    for event in copy.deepcopy(MIXED[:count]):
        stream.dispatch(event)
    return stream.snapshot()


def assert_cancelled_once(handler: RecordingHandler, *, at: object = None) -> None:
    kind, error, partial = handler.assert_ended_once()
    assert kind == "error", f"{at}: expected on_error, got {handler.kinds}"
    assert isinstance(error, StreamCancelledError), f"{at}: {error!r}"
    assert partial is not None


# -- async: aclose, async with, cancelled consumers ----------------------------------------


async def test_aclose_before_the_start_starts_and_ends_the_run() -> None:
    model = ScriptedModel(SIMPLE)
    handler = RecordingHandler()
    stream = await model.astream_events("hi", callbacks=[handler])
    await stream.aclose()
    assert_cancelled_once(handler)
    assert model.opened == model.closed
    assert stream.state is StreamState.CANCELLED
    errors = await projection_errors(stream)
    assert all(isinstance(e, StreamCancelledError) for e in errors.values()), errors
    assert await other_tasks() == set()


async def test_aclose_before_the_start_sends_nothing() -> None:
    model = ScriptedModel(SIMPLE)
    handler = RecordingHandler()
    stream = await model.astream_events("hi", callbacks=[handler])
    await stream.aclose()
    assert (model.requests, model.opened) == ([], 0)
    assert handler.kinds == ["start", "error"]


async def test_aclose_mid_stream_closes_the_source_and_keeps_the_partial_message() -> None:
    model = ScriptedModel(SIMPLE)
    handler = RecordingHandler()
    stream = await model.astream_events("hi", callbacks=[handler])
    seen: list[str] = []
    async for delta in stream.text:
        seen.append(delta)
        await stream.aclose()
        break
    assert seen == ["Hel"]
    assert stream.state is StreamState.CANCELLED
    assert stream.snapshot().text.startswith("Hel")
    assert_cancelled_once(handler)
    _, _, partial = handler.endings[0]
    assert partial.text == stream.snapshot().text
    assert (model.opened, model.closed) == (1, 1)
    assert waiters(stream) == 0
    assert await other_tasks() == set()
    # Idempotent, and nothing fires again.
    await stream.aclose()
    assert len(handler.endings) == 1


async def test_leaving_async_with_early_closes_the_source() -> None:
    model = ScriptedModel(SIMPLE)
    handler = RecordingHandler()
    async with await model.astream_events("hi", callbacks=[handler]) as stream:
        async for _ in stream:
            break
    assert_cancelled_once(handler)
    assert (model.opened, model.closed) == (1, 1)
    assert waiters(stream) == 0
    assert await other_tasks() == set()


async def test_an_exception_inside_async_with_closes_the_source() -> None:
    model = ScriptedModel(SIMPLE)
    handler = RecordingHandler()

    async def consume() -> None:
        async with await model.astream_events("hi", callbacks=[handler]) as stream:
            async for _ in stream.text:
                raise KeyError("consumer bug")

    with pytest.raises(KeyError):
        await consume()
    assert_cancelled_once(handler)
    assert (model.opened, model.closed) == (1, 1)
    assert await other_tasks() == set()


async def test_cancelling_ainvoke_closes_the_source() -> None:
    model = ScriptedModel(SIMPLE, stall_after=3)
    handler = Reached(3)
    task = asyncio.create_task(model.ainvoke("hi", callbacks=[handler]))
    await handler.reached.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert_cancelled_once(handler)
    _, _, partial = handler.endings[0]
    assert partial.text == "Hel"
    assert (model.opened, model.closed) == (1, 1)
    assert await other_tasks() == set()


async def test_other_consumers_see_stream_cancelled_not_their_own_cancellation() -> None:
    model = ScriptedModel(SIMPLE, stall_after=3)
    handler = Reached(3)
    stream = await model.astream_events("hi", callbacks=[handler])
    readers = [
        asyncio.create_task(aw(stream.output)),
        asyncio.create_task(aw(stream.text)),
        asyncio.create_task(projection_errors(stream)),
    ]
    await handler.reached.wait()
    await asyncio.sleep(0)  # let the readers catch up and wait
    assert waiters(stream) > 0
    await stream.aclose()
    results = await asyncio.gather(*readers, return_exceptions=True)
    assert isinstance(results[0], StreamCancelledError)
    assert isinstance(results[1], StreamCancelledError)
    assert isinstance(results[2], dict)
    assert all(isinstance(e, StreamCancelledError) for e in results[2].values())
    assert waiters(stream) == 0
    assert_cancelled_once(handler)
    assert (model.opened, model.closed) == (1, 1)
    assert await other_tasks() == set()


async def test_aclose_after_success_keeps_the_result() -> None:
    model = ScriptedModel(SIMPLE)
    handler = RecordingHandler()
    stream = await model.astream_events("hi", callbacks=[handler])
    message = await stream
    await stream.aclose()
    await stream.aclose()
    assert stream.state is StreamState.FINISHED
    assert (await stream.output) == message
    assert handler.assert_ended_once() == ("end", message)
    assert await other_tasks() == set()


async def test_aclose_while_the_start_is_pending_still_pairs_the_callbacks() -> None:
    model = ScriptedModel(SIMPLE)
    handler = RecordingHandler()
    stream = await model.astream_events("hi", callbacks=[handler])
    reader = asyncio.create_task(aw(stream.output))
    await asyncio.sleep(0)  # the reader runs and creates the start task; it has not run
    await stream.aclose()
    with pytest.raises(StreamCancelledError):
        await reader
    assert await other_tasks() == set()
    assert_cancelled_once(handler)


# -- external cancellation after success -------------------------------------------------


async def test_cancelling_the_consumer_after_success_leaves_the_result_intact() -> None:
    model = SlowCleanup(SIMPLE)
    handler = Reached(len(SIMPLE))
    stream = await model.astream_events("hi", callbacks=[handler])

    async def consume() -> Any:
        async with stream:
            return await stream

    task = asyncio.create_task(consume())
    # After the last event the producer goes straight on to the source's cleanup.
    await handler.reached.wait()
    assert model.cleanup_started.is_set()
    assert stream.state is StreamState.FINISHED
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The post-stream work was awaited, not cancelled: the run ended normally.
    assert model.cleanup_done == 1
    message = await stream
    assert message.text == "Hello, world"
    assert handler.assert_ended_once() == ("end", message)
    assert await other_tasks() == set()


async def test_cancelling_the_producer_after_success_leaves_the_result_intact() -> None:
    model = SlowCleanup(SIMPLE)
    handler = Reached(len(SIMPLE))
    stream = await model.astream_events("hi", callbacks=[handler])
    reader = asyncio.create_task(aw(stream.output))
    # After the last event the producer goes straight on to the source's cleanup.
    await handler.reached.wait()
    assert model.cleanup_started.is_set()
    (producer,) = [t for t in asyncio.all_tasks() if t.get_name().startswith("streamblocks-run-")]
    producer.cancel()
    message = await stream
    assert (await reader) == message
    assert message.text == "Hello, world"
    assert stream.state is StreamState.FINISHED
    assert handler.assert_ended_once() == ("end", message)
    assert (model.opened, model.closed) == (1, 1)
    assert await other_tasks() == set()


# -- sync: close, with, break ----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["sync-native", "sync-bridged"])
def test_sync_close_before_the_start_starts_and_ends_the_run(mode: str) -> None:
    model = set_mode(ScriptedModel(SIMPLE), mode)
    handler = RecordingHandler()
    stream = model.stream_events("hi", callbacks=[handler])
    stream.close()
    assert handler.kinds == ["start", "error"]
    assert_cancelled_once(handler)
    assert (model.opened, model.closed) == (0, 0)
    items, error = drain(stream.text)
    assert (items, type(error)) == ([], StreamCancelledError)


@pytest.mark.parametrize("mode", ["sync-native", "sync-bridged"])
def test_break_then_close_closes_the_source(mode: str) -> None:
    model = set_mode(ScriptedModel(SIMPLE), mode)
    handler = RecordingHandler()
    stream = model.stream_events("hi", callbacks=[handler])
    for delta in stream.text:
        assert delta == "Hel"
        break
    assert model.closed == 0
    stream.close()
    stream.close()
    assert_cancelled_once(handler)
    assert (model.opened, model.closed) == (1, 1)
    assert stream.snapshot().text == "Hel"
    items, error = drain(stream.text)
    assert (items, type(error)) == (["Hel"], StreamCancelledError)
    if mode == "sync-bridged":
        assert bridge_tasks() == set()


@pytest.mark.parametrize("mode", ["sync-native", "sync-bridged"])
def test_leaving_with_early_closes_the_source(mode: str) -> None:
    model = set_mode(ScriptedModel(SIMPLE), mode)
    handler = RecordingHandler()
    with model.stream_events("hi", callbacks=[handler]) as stream:
        next(iter(stream))
    assert_cancelled_once(handler)
    assert (model.opened, model.closed) == (1, 1)


@pytest.mark.parametrize("mode", ["sync-native", "sync-bridged"])
def test_sync_close_after_success_keeps_the_result(mode: str) -> None:
    model = set_mode(ScriptedModel(SIMPLE), mode)
    handler = RecordingHandler()
    stream = model.stream_events("hi", callbacks=[handler])
    message = stream.output
    stream.close()
    assert stream.state is StreamState.FINISHED
    assert stream.output == message
    assert handler.assert_ended_once() == ("end", message)


def test_sync_close_from_another_thread_interrupts_a_stalled_bridged_source() -> None:
    model = ScriptedModel(SIMPLE, stall_after=3, native_sync=False)
    handler = RecordingHandler()
    stream = model.stream_events("hi", callbacks=[handler])
    result: dict[str, BaseException] = {}

    def consume() -> None:
        try:
            _ = stream.output
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=consume)
    thread.start()
    assert wait_until(lambda: len(handler.event_types) >= 3)
    stream.close()
    thread.join(5)
    assert not thread.is_alive()
    assert isinstance(result["error"], StreamCancelledError)
    assert_cancelled_once(handler)
    assert (model.opened, model.closed) == (1, 1)
    assert bridge_tasks() == set()


def test_sync_close_from_another_thread_with_an_awaiting_cleanup() -> None:
    model = SlowCleanup(SIMPLE, stall_after=3, cleanup=0.01, native_sync=False)
    handler = RecordingHandler()
    stream = model.stream_events("hi", callbacks=[handler])
    thread = threading.Thread(target=lambda: drain(stream.text))
    thread.start()
    assert wait_until(lambda: len(handler.event_types) >= 3)
    try:
        stream.close()
    finally:
        thread.join(5)
        wait_until(lambda: model.cleanup_done == 1)
    assert_cancelled_once(handler)


def test_keyboard_interrupt_in_a_sync_run_cancels_it_and_closes_the_source() -> None:
    model = FailingModel(after=3, error=KeyboardInterrupt())
    handler = RecordingHandler()
    stream = model.stream_events("hi", callbacks=[handler])
    with pytest.raises(KeyboardInterrupt):
        _ = stream.output
    assert stream.state is StreamState.CANCELLED
    assert_cancelled_once(handler)
    assert (model.opened, model.closed) == (1, 1)


# -- the sweeps: stop at every event index ----------------------------------------------------


async def test_sweep_cancel_the_ainvoke_task_at_every_event() -> None:
    failures: list[str] = []
    for index in range(N):
        model = ScriptedModel(MIXED)
        handler = RecordingHandler()
        holder: dict[str, asyncio.Task[Any]] = {}

        class CancelAt(RecordingHandler):
            def on_event(
                self, run: Any, event: Any, index: int = index, holder: Any = holder
            ) -> None:
                super().on_event(run, event)
                if len(self.events) == index + 1:
                    holder["task"].cancel()

        holder["task"] = asyncio.create_task(model.ainvoke("hi", callbacks=[CancelAt(), handler]))
        try:
            await holder["task"]
            failures.append(f"{index}: ainvoke was not cancelled")
        except asyncio.CancelledError:
            pass
        leftover = await other_tasks()
        ending = handler.assert_ended_once()
        expected = "end" if index == N - 1 else "error"
        checks = {
            "no leaked task": leftover == set(),
            "source closed": (model.opened, model.closed) == (1, 1),
            f"one on_{expected}": ending[0] == expected,
            "cancelled error": expected == "end" or isinstance(ending[1], StreamCancelledError),
            "events up to the index": len(handler.events) == index + 1,
            "nothing received lost": ending[-1] == received(index + 1),
        }
        failures += [f"{index}: {name}" for name, ok in checks.items() if not ok]
    assert failures == []


async def test_sweep_aclose_at_every_event() -> None:
    failures: list[str] = []
    for index in range(-1, N):
        model = ScriptedModel(MIXED)
        handler = RecordingHandler()
        stream = await model.astream_events("hi", callbacks=[handler])
        reader = asyncio.create_task(projection_errors(stream))
        if index >= 0:
            count = 0
            async for _ in stream:
                if count == index:
                    break
                count += 1
        await stream.aclose()
        errors = await reader
        leftover = await other_tasks()
        ending = handler.assert_ended_once()
        finished = stream.state is StreamState.FINISHED
        checks = {
            "no waiters": waiters(stream) == 0,
            "no leaked task": leftover == set(),
            "source closed": model.opened == model.closed,
            "finished only at the last event": finished == (index == N - 1),
            "one ending": ending[0] == ("end" if finished else "error"),
            "projections cancelled": finished
            or all(isinstance(e, StreamCancelledError) for e in errors.values()),
            "nothing received lost": index < 0 or ending[-1] == received(len(handler.events)),
        }
        failures += [f"{index}: {name}" for name, ok in checks.items() if not ok]
    assert failures == []


@pytest.mark.parametrize("mode", ["sync-native", "sync-bridged"])
def test_sweep_sync_close_at_every_event(mode: str) -> None:
    failures: list[str] = []
    for index in range(-1, N):
        model = set_mode(ScriptedModel(MIXED), mode)
        handler = RecordingHandler()
        stream = model.stream_events("hi", callbacks=[handler])
        if index >= 0:
            for count, _ in enumerate(stream):
                if count == index:
                    break
        stream.close()
        ending = handler.assert_ended_once()
        finished = stream.state is StreamState.FINISHED
        expected = "end" if index == N - 1 else "error"
        checks = {
            "source closed": model.opened == model.closed == (1 if index >= 0 else 0),
            f"one on_{expected}": ending[0] == expected,
            "finished only at the last event": finished == (index == N - 1),
            "events up to the index": len(handler.events) == index + 1,
            "nothing received lost": index < 0 or ending[-1] == received(index + 1),
            "no bridge task": mode == "sync-native" or bridge_tasks() == set(),
        }
        if not finished:
            items, error = drain(stream)
            checks["replay then cancelled"] = len(items) == index + 1 and isinstance(
                error, StreamCancelledError
            )
        failures += [f"{index}: {name}" for name, ok in checks.items() if not ok]
    assert failures == []
