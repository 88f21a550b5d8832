"""``streamblocks.testing``: the scripted models and the lifecycle assertions users test with."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import streamblocks
import streamblocks.testing as testing_module
from streamblocks import (
    AIMessage,
    ProviderError,
    StreamError,
    StreamTimeoutError,
)
from streamblocks._messages import HumanMessage, Message, SystemMessage
from streamblocks.models import ChatModel
from streamblocks.testing import (
    KEEPALIVE_EVENT,
    FailingModel,
    RecordingHandler,
    ScriptedModel,
    ScriptedRequest,
    assert_well_formed,
)
from tests import events as ev
from tests.helpers import MIXED, MIXED_REASONING, MIXED_TEXT, MIXED_TOOL_CALLS, MIXED_USAGE
from tests.models_support import MODES, run, set_mode

SIMPLE = ev.simple_text_message(["Hel", "lo"])

# -- the module ------------------------------------------------------------------


def test_testing_names_are_not_exported_from_the_top_level() -> None:
    for name in testing_module.__all__:
        assert name not in streamblocks.__all__
        assert not hasattr(streamblocks, name)


def test_testing_all_resolves() -> None:
    assert len(set(testing_module.__all__)) == len(testing_module.__all__)
    for name in testing_module.__all__:
        assert getattr(testing_module, name) is not None


def test_models_are_chat_models() -> None:
    assert issubclass(ScriptedModel, ChatModel)
    assert issubclass(FailingModel, ChatModel)


# -- ScriptedModel ------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_scripted_model_replays_its_events(mode: str) -> None:
    model = ScriptedModel(MIXED)
    outcome = run(model, mode)
    message = outcome.message
    assert message is not None
    assert (message.text, message.reasoning) == (MIXED_TEXT, MIXED_REASONING)
    assert message.tool_calls == MIXED_TOOL_CALLS
    assert message.usage_metadata == MIXED_USAGE
    assert outcome.handler.event_types == [e["event"] for e in MIXED]
    assert (model.opened, model.closed) == (1, 1)


@pytest.mark.parametrize("mode", MODES)
def test_scripted_model_replays_the_same_script_for_every_request(mode: str) -> None:
    model = ScriptedModel(SIMPLE)
    first = run(model, mode)
    second = run(model, mode)
    assert first.message is not None
    assert second.message is not None
    assert first.message.text == second.message.text == "Hello"
    assert (model.opened, model.closed, len(model.requests)) == (2, 2, 2)


@pytest.mark.parametrize("mode", MODES)
def test_each_request_gets_fresh_copies_of_the_events(mode: str) -> None:
    script = copy.deepcopy(SIMPLE)
    model = ScriptedModel(script)
    # Mutating the caller's list after construction changes nothing...
    script[2]["delta"]["text"] = "XXX"

    class Vandal(RecordingHandler):
        def on_event(self, run: Any, event: Any) -> None:
            super().on_event(run, event)
            # ...nor does mutating what a request received.
            if event.get("event") == "content-block-delta":
                event["delta"]["text"] = "!!!"

    first = run(model, mode, callbacks=[Vandal()])
    second = run(model, mode)
    assert first.message is not None
    assert second.message is not None
    assert first.message.text == second.message.text == "Hello"


@pytest.mark.parametrize("mode", MODES)
def test_a_callable_script_sees_each_requests_messages(mode: str) -> None:
    def script(messages: list[Message]) -> list[dict[str, Any]]:
        return ev.simple_text_message([messages[-1].text.upper()])

    model = ScriptedModel(script)
    outcome = run(model, mode, [SystemMessage("be loud"), HumanMessage("hello")])
    assert outcome.message is not None
    assert outcome.message.text == "HELLO"


@pytest.mark.parametrize("mode", MODES)
def test_requests_record_messages_and_params(mode: str) -> None:
    model = ScriptedModel(SIMPLE)
    run(model, mode, "hi", temperature=0.2, tools=[{"name": "t"}])
    assert model.requests == [
        ScriptedRequest([HumanMessage("hi")], {"temperature": 0.2, "tools": [{"name": "t"}]})
    ]


@pytest.mark.parametrize("mode", MODES)
async def test_nothing_is_recorded_before_the_first_consumption(mode: str) -> None:
    model = set_mode(ScriptedModel(SIMPLE), mode)
    if mode == "async":
        stream = await model.astream_events("hi")
        assert (model.requests, model.opened, model.closed) == ([], 0, 0)
        await stream
        await stream.aclose()
    else:
        sync_stream = model.stream_events("hi")
        assert (model.requests, model.opened, model.closed) == ([], 0, 0)
        assert sync_stream.output.text == "Hello"
    assert (len(model.requests), model.opened, model.closed) == (1, 1, 1)


@pytest.mark.parametrize("mode", MODES)
def test_an_empty_script_is_replayed_as_given(mode: str) -> None:
    outcome = run(ScriptedModel([]), mode)
    assert type(outcome.error).__name__ == "EmptyStreamError"


@pytest.mark.parametrize("mode", MODES)
def test_stall_with_keepalives_emits_them_and_times_out(mode: str) -> None:
    model = ScriptedModel(SIMPLE, stall_after=3, keepalive=0.01)
    outcome = run(model, mode, idle_timeout=0.05)
    assert isinstance(outcome.error, StreamTimeoutError)
    types = outcome.handler.event_types
    assert types[:3] == ["message-start", "content-block-start", "content-block-delta"]
    assert set(types[3:]) == {KEEPALIVE_EVENT["event"]}
    assert len(types) > 3
    assert (model.opened, model.closed) == (1, 1)


def test_a_custom_keepalive_event_is_used() -> None:
    model = ScriptedModel(SIMPLE, stall_after=0, keepalive=0.01, keepalive_event={"event": "hb"})
    outcome = run(model, "async", first_event_timeout=0.05)
    assert isinstance(outcome.error, StreamTimeoutError)
    assert set(outcome.handler.event_types) == {"hb"}


@pytest.mark.parametrize("mode", ["async", "sync-bridged"])
def test_a_silent_stall_ends_only_by_timeout(mode: str) -> None:
    model = ScriptedModel(SIMPLE, stall_after=2)
    outcome = run(model, mode, idle_timeout=0.05)
    assert isinstance(outcome.error, StreamTimeoutError)
    assert outcome.handler.event_types == ["message-start", "content-block-start"]
    assert (model.opened, model.closed) == (1, 1)


def test_a_native_sync_stall_without_keepalives_fails_instead_of_hanging() -> None:
    model = ScriptedModel(SIMPLE, stall_after=2)
    outcome = run(model, "sync-native")
    assert isinstance(outcome.error, StreamError)
    assert isinstance(outcome.error.__cause__, RuntimeError)
    assert "keepalive" in str(outcome.error.__cause__)
    assert (model.opened, model.closed) == (1, 1)


@pytest.mark.parametrize("mode", MODES)
def test_delay_is_waited_before_each_event(mode: str) -> None:
    # An outcome, not a duration: a delay longer than the idle limit times out.
    outcome = run(ScriptedModel(SIMPLE, delay=0.1), mode, idle_timeout=0.03)
    assert isinstance(outcome.error, StreamTimeoutError)
    fast = run(ScriptedModel(SIMPLE, delay=0.001), mode, idle_timeout=5)
    assert fast.error is None


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"delay": -1}, "delay"),
        ({"stall_after": -1}, "stall_after"),
        ({"keepalive": 0}, "keepalive"),
        ({"idle_timeout": 0}, "idle_timeout"),
    ],
)
def test_scripted_model_rejects_bad_settings(kwargs: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        ScriptedModel(SIMPLE, **kwargs)


def test_scripted_model_defaults() -> None:
    model = ScriptedModel(SIMPLE)
    assert (model.provider, model.model) == ("scripted", "scripted")
    assert (model.delay, model.stall_after, model.keepalive, model.native_sync) == (
        0.0,
        None,
        None,
        True,
    )
    assert "ScriptedModel" in repr(model)


def test_model_settings_pass_through() -> None:
    handler = RecordingHandler()
    model = ScriptedModel(SIMPLE, model="m-1", callbacks=[handler], total_timeout=3)
    assert model.model == "m-1"
    assert model.timeouts.total == 3
    assert model.invoke("hi").text == "Hello"
    assert handler.assert_ended_once()[0] == "end"


# -- FailingModel --------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("after", [0, 1, 3])
def test_failing_model_fails_after_n_events(mode: str, after: int) -> None:
    model = FailingModel(after=after)
    outcome = run(model, mode)
    assert isinstance(outcome.error, ProviderError)
    assert outcome.error.code == "scripted_failure"
    assert len(outcome.handler.event_types) == after
    kind, error, partial = outcome.handler.assert_ended_once()
    assert (kind, error) == ("error", outcome.error)
    assert partial.text == "".join(f"part {n}. " for n in range(max(after - 2, 0)))
    assert (model.opened, model.closed) == (1, 1)


@pytest.mark.parametrize("mode", MODES)
def test_failing_model_raises_a_fresh_default_error_per_request(mode: str) -> None:
    model = FailingModel(after=2)
    first = run(model, mode)
    second = run(model, mode)
    assert isinstance(first.error, ProviderError)
    assert isinstance(second.error, ProviderError)
    assert first.error is not second.error


@pytest.mark.parametrize("mode", MODES)
def test_failing_model_wraps_a_foreign_error(mode: str) -> None:
    boom = ConnectionResetError("peer went away")
    outcome = run(FailingModel(after=2, error=boom), mode)
    assert isinstance(outcome.error, StreamError)
    assert outcome.error.__cause__ is boom
    assert "ConnectionResetError" in str(outcome.error)


@pytest.mark.parametrize("mode", MODES)
def test_failing_model_keeps_a_stream_error_as_is(mode: str) -> None:
    error = ProviderError("overloaded", code="529", status=529)
    outcome = run(FailingModel(after=1, error=error), mode)
    assert outcome.error is error


@pytest.mark.parametrize("mode", MODES)
def test_failing_model_with_given_events(mode: str) -> None:
    outcome = run(FailingModel(after=3, events=SIMPLE), mode)
    assert outcome.handler.event_types == [e["event"] for e in SIMPLE[:3]]
    assert outcome.stream.snapshot().text == "Hel"


def test_failing_model_rejects_impossible_scripts() -> None:
    with pytest.raises(ValueError, match="only 6 events"):
        FailingModel(after=7, events=SIMPLE)
    with pytest.raises(ValueError, match=r"events\[5\] is 'message-finish'"):
        FailingModel(after=6, events=SIMPLE)
    with pytest.raises(ValueError, match="after"):
        FailingModel(after=-1)
    assert FailingModel(after=5, events=SIMPLE).after == 5


# -- assert_well_formed ----------------------------------------------------------------


def test_well_formed_streams_pass() -> None:
    assert assert_well_formed(SIMPLE) == SIMPLE
    assert_well_formed(MIXED, require_block_finish=False)
    assert_well_formed([ev.finish()])
    assert_well_formed([ev.start(), {"event": "ping"}, ev.finish()])


def test_well_formed_accepts_a_sync_stream() -> None:
    stream = ScriptedModel(SIMPLE).stream_events("hi")
    assert len(assert_well_formed(stream)) == len(SIMPLE)


async def test_well_formed_accepts_the_events_of_an_async_stream() -> None:
    stream = await ScriptedModel(SIMPLE).astream_events("hi")
    async with stream:
        assert len(assert_well_formed([e async for e in stream])) == len(SIMPLE)


T0 = ev.text_start(0)
D0 = ev.text(0, "x")
F0 = ev.block_finish(0, {"type": "text", "text": "x"})


@pytest.mark.parametrize(
    ("events", "needle"),
    [
        ([ev.text_start(0), ev.start(), ev.finish()], "event 1 .*message-start must be the first"),
        ([ev.start(), ev.start(), ev.finish()], "event 1 .*message-start must be the first"),
        ([ev.start(), D0, ev.finish()], "event 1 .*block 0 was never started"),
        ([ev.start(), T0, T0, ev.finish()], "event 2 .*block 0 already started at event 1"),
        ([T0, F0, D0, ev.finish()], "event 2 .*block 0 already finished at event 1"),
        ([T0, F0, F0, ev.finish()], "event 2 .*block 0 already finished at event 1"),
        ([T0, D0, ev.finish()], r"event 2 .*blocks \[0\] were started but never finished"),
        ([T0, D0, F0], "no message-finish among the 3 events"),
        ([], "no message-finish among the 0 events"),
        ([ev.finish(), ev.finish()], "event 1 .*comes after message-finish"),
        ([T0, D0, F0, ev.finish(), {"event": "ping"}], "event 4 .*after message-finish"),
        ([T0, ev.error("nope"), ev.finish()], "event 1 .*reported an error: 'nope'"),
        ([ev.text_start(0) | {"index": None}], "event 0 .*integer 'index'"),
    ],
)
def test_malformed_lifecycles_are_named_precisely(events: list[Any], needle: str) -> None:
    with pytest.raises(AssertionError, match=needle):
        assert_well_formed(events)


def test_unfinished_blocks_are_reported_unless_allowed() -> None:
    with pytest.raises(AssertionError, match=r"blocks \[2, 3\] were started but never finished"):
        assert_well_formed(MIXED)


# -- RecordingHandler -------------------------------------------------------------------


def test_recording_handler_records_a_run_as_tuples() -> None:
    handler = RecordingHandler()
    message = ScriptedModel(SIMPLE).invoke("hi", callbacks=[handler])
    assert handler.calls == [
        ("start",),
        *(("event", e["event"]) for e in SIMPLE),
        ("end", message),
    ]
    assert handler.kinds == ["start", *["event"] * len(SIMPLE), "end"]
    assert handler.events == SIMPLE
    assert handler.assert_ended_once() == ("end", message)
    assert len({id(r) for r in handler.runs}) == 1
    assert handler.runs[0].provider == "scripted"


def test_recording_handler_records_errors_with_the_partial_message() -> None:
    handler = RecordingHandler()
    with pytest.raises(ProviderError) as info:
        FailingModel(after=3).invoke("hi", callbacks=[handler])
    kind, error, partial = handler.assert_ended_once()
    assert (kind, error) == ("error", info.value)
    assert isinstance(partial, AIMessage)
    assert partial.text == "part 0. "


def _run_stub() -> Any:
    return object()


@pytest.mark.parametrize(
    ("calls", "needle"),
    [
        ([], "no callback fired"),
        ([("event", {"event": "x"})], "exactly one on_start, as the first"),
        ([("start",), ("start",), ("end", None)], "exactly one on_start"),
        ([("start",)], "exactly one on_end or on_error, got 0"),
        ([("start",), ("end", None), ("error", None, None)], "got 2"),
        ([("start",), ("end", None), ("event", {"event": "x"})], "must be the last call"),
    ],
)
def test_assert_ended_once_describes_what_is_wrong(
    calls: list[tuple[Any, ...]], needle: str
) -> None:
    handler = RecordingHandler()
    run_ = _run_stub()
    for name, *args in calls:
        getattr(handler, f"on_{name}")(run_, *args)
    with pytest.raises(AssertionError, match=needle):
        handler.assert_ended_once()


def test_assert_ended_once_rejects_calls_from_several_runs() -> None:
    handler = RecordingHandler()
    model = ScriptedModel(SIMPLE)
    model.invoke("a", callbacks=[handler])
    handler.calls.clear()
    model.invoke("b", callbacks=[handler])
    with pytest.raises(AssertionError, match="2 different runs"):
        handler.assert_ended_once()


def test_recording_handler_can_ask_to_raise() -> None:
    assert RecordingHandler().raise_error is False
    assert RecordingHandler(raise_error=True).raise_error is True
