"""Timeouts: first content, idle gaps between content, the whole run; on the model or per call.

Each raises ``StreamTimeoutError`` on every projection, keeps the partial
message, closes the source and ends the run once with ``on_error``. A keep-alive
is not content. Limits are tiny; the tests assert outcomes, never durations
(except a generous "it did not hang").
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import pytest

from streamblocks import StreamTimeoutError
from streamblocks.testing import KEEPALIVE_EVENT, RecordingHandler, ScriptedModel
from tests import events as ev
from tests.models_support import (
    MODES,
    Outcome,
    SlowCleanup,
    bridge_tasks,
    run,
    set_mode,
    wait_until,
)

SIMPLE = ev.simple_text_message(["Hel", "lo"])
LONG = ev.simple_text_message([f"w{i} " for i in range(200)])
PING = KEEPALIVE_EVENT["event"]


def assert_timed_out(outcome: Outcome, kind: str, limit: float, model: ScriptedModel) -> None:
    error = outcome.error
    assert isinstance(error, StreamTimeoutError), repr(error)
    assert (error.kind, error.timeout) == (kind, limit)
    assert f"{kind}_timeout" in str(error)
    errors = outcome.errors
    assert all(e is error for e in errors.values()), errors
    ending, reported, partial = outcome.handler.assert_ended_once()
    assert (ending, reported) == ("error", error)
    assert partial == outcome.stream.snapshot()
    assert (model.opened, model.closed) == (1, 1)
    assert outcome.stream.stats.duration is not None
    assert outcome.leaked == set()


# -- each kind -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_first_event_timeout_ignores_message_start_and_keepalives(mode: str) -> None:
    model = ScriptedModel(SIMPLE, stall_after=1, keepalive=0.01)
    outcome = run(model, mode, first_event_timeout=0.05)
    assert_timed_out(outcome, "first_event", 0.05, model)
    types = outcome.handler.event_types
    assert types[0] == "message-start"
    assert PING in types
    assert set(types[1:]) == {PING}
    assert outcome.stream.stats.first_content is None


@pytest.mark.parametrize("mode", MODES)
def test_idle_timeout_is_not_reset_by_keepalives(mode: str) -> None:
    model = ScriptedModel(SIMPLE, stall_after=3, keepalive=0.01)
    outcome = run(model, mode, idle_timeout=0.05)
    assert_timed_out(outcome, "idle", 0.05, model)
    assert PING in outcome.handler.event_types
    assert outcome.stream.snapshot().text == "Hel"


@pytest.mark.parametrize("mode", MODES)
def test_idle_timeout_also_bounds_the_wait_for_the_first_content(mode: str) -> None:
    model = ScriptedModel(SIMPLE, stall_after=1, keepalive=0.01)
    outcome = run(model, mode, idle_timeout=0.05)
    assert_timed_out(outcome, "idle", 0.05, model)


@pytest.mark.parametrize("mode", MODES)
def test_total_timeout_stops_a_steady_stream(mode: str) -> None:
    model = ScriptedModel(LONG, delay=0.01)
    outcome = run(model, mode, total_timeout=0.05, idle_timeout=5)
    assert_timed_out(outcome, "total", 0.05, model)
    partial = outcome.stream.snapshot().text
    assert partial.startswith("w0 ")
    assert partial != "".join(f"w{i} " for i in range(200))


@pytest.mark.parametrize("mode", MODES)
def test_steady_content_within_the_limits_succeeds(mode: str) -> None:
    model = ScriptedModel(SIMPLE, delay=0.001)
    outcome = run(model, mode, first_event_timeout=5, idle_timeout=5, total_timeout=10)
    assert outcome.error is None
    outcome.handler.assert_ended_once()


@pytest.mark.parametrize("mode", MODES)
def test_a_late_event_is_kept_before_the_timeout(mode: str) -> None:
    # The first content arrives after the limit; whatever the mode, what
    # arrived is in the partial message and the run ends with the timeout.
    model = ScriptedModel([ev.text_start(0, "late"), *SIMPLE[1:]], delay=0.08)
    outcome = run(model, mode, idle_timeout=0.03)
    assert_timed_out(outcome, "idle", 0.03, model)
    if mode == "sync-native":
        # A native sync source cannot be interrupted: the late event is dispatched.
        assert outcome.stream.snapshot().text == "late"


# -- on the model, or per call ------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_model_level_timeouts_apply_to_every_call(mode: str) -> None:
    model = ScriptedModel(SIMPLE, stall_after=3, keepalive=0.01, idle_timeout=0.05)
    assert model.timeouts.idle == 0.05
    first = run(model, mode)
    second = run(model, mode)
    for outcome in (first, second):
        assert isinstance(outcome.error, StreamTimeoutError)
        assert outcome.error.kind == "idle"


@pytest.mark.parametrize(
    ("mode", "override"),
    [*((mode, None) for mode in MODES), ("async", 5.0)],
    ids=[*(f"disabled-{mode}" for mode in MODES), "longer-async"],
)
def test_a_per_call_timeout_overrides_the_models(mode: str, override: float | None) -> None:
    # Two events, each 0.05 s apart: the model's 0.02 s idle limit trips.
    model = ScriptedModel(
        [ev.text_start(0, "Hel"), ev.text(0, "lo")], delay=0.05, idle_timeout=0.02
    )
    outcome = run(model, mode, idle_timeout=override)
    assert outcome.error is None
    assert outcome.message is not None
    assert outcome.message.text == "Hello"
    # The model's own setting is untouched.
    timed_out = run(model, mode)
    assert isinstance(timed_out.error, StreamTimeoutError)


@pytest.mark.parametrize("mode", MODES)
def test_a_per_call_timeout_on_a_model_without_one(mode: str) -> None:
    model = ScriptedModel(SIMPLE, stall_after=2, keepalive=0.01)
    outcome = run(model, mode, total_timeout=0.05)
    assert_timed_out(outcome, "total", 0.05, model)
    assert model.timeouts.total is None


@pytest.mark.parametrize(
    "kwargs",
    [{"idle_timeout": 0}, {"first_event_timeout": -1}, {"total_timeout": 0.0}],
)
async def test_bad_timeouts_are_refused_before_anything_is_sent(kwargs: dict[str, Any]) -> None:
    model = ScriptedModel(SIMPLE)
    with pytest.raises(ValueError, match="must be a positive number of seconds"):
        model.stream_events("hi", **kwargs)
    with pytest.raises(ValueError, match="must be a positive number of seconds"):
        await model.astream_events("hi", **kwargs)
    assert model.requests == []


async def test_invoke_and_ainvoke_raise_the_timeout() -> None:
    model = ScriptedModel(SIMPLE, stall_after=3, keepalive=0.01)
    with pytest.raises(StreamTimeoutError):
        model.invoke("hi", idle_timeout=0.05)
    with pytest.raises(StreamTimeoutError):
        await model.ainvoke("hi", idle_timeout=0.05)
    # Our own deadline is not a cancellation of the caller.
    if sys.version_info >= (3, 11):
        task = asyncio.current_task()
        assert task is not None
        assert task.cancelling() == 0
    assert (model.opened, model.closed) == (2, 2)


# -- stalled sources are interrupted, not merely noticed ----------------------------------------


@pytest.mark.parametrize("mode", ["async", "sync-bridged"])
def test_a_silently_stalled_source_is_interrupted(mode: str) -> None:
    model = ScriptedModel(SIMPLE, stall_after=3)
    began = time.monotonic()
    outcome = run(model, mode, idle_timeout=0.05)
    assert time.monotonic() - began < 5  # did not hang
    assert_timed_out(outcome, "idle", 0.05, model)
    if mode == "sync-bridged":
        assert bridge_tasks() == set()


def test_the_bridge_interrupts_a_stalled_source_for_invoke() -> None:
    model = ScriptedModel(SIMPLE, stall_after=0, native_sync=False)
    handler = RecordingHandler()
    with pytest.raises(StreamTimeoutError) as info:
        model.invoke("hi", first_event_timeout=0.05, callbacks=[handler])
    assert info.value.kind == "first_event"
    assert (model.opened, model.closed) == (1, 1)
    assert handler.assert_ended_once()[1] is info.value
    assert bridge_tasks() == set()


def test_a_bridged_timeout_with_an_awaiting_cleanup_still_raises_the_timeout() -> None:
    model = SlowCleanup(SIMPLE, stall_after=3, cleanup=0.01, native_sync=False)
    outcome = run(model, "sync-bridged", idle_timeout=0.05)
    assert wait_until(lambda: model.cleanup_done == 1)
    assert isinstance(outcome.error, StreamTimeoutError)
    assert all(e is outcome.error for e in outcome.errors.values())


# -- the consumer's own pace ----------------------------------------------------------------------


async def test_a_slow_async_consumer_does_not_trip_the_idle_timeout() -> None:
    model = ScriptedModel(SIMPLE)
    stream = await model.astream_events("hi", idle_timeout=0.05)
    seen = []
    async with stream:
        async for delta in stream.text:
            seen.append(delta)
            await asyncio.sleep(0.08)
        assert (await stream).text == "Hello"
    assert seen == ["Hel", "lo"]


@pytest.mark.parametrize("mode", ["sync-native", "sync-bridged"])
def test_a_slow_sync_consumer_does_not_trip_the_idle_timeout(mode: str) -> None:
    model = set_mode(ScriptedModel(SIMPLE), mode)
    seen = []
    with model.stream_events("hi", idle_timeout=0.05) as stream:
        for delta in stream.text:
            seen.append(delta)
            time.sleep(0.08)
        assert stream.output.text == "Hello"
    assert seen == ["Hel", "lo"]
