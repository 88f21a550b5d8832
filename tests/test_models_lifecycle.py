"""``ChatModel`` runs: lazy start, input, every ending, callbacks and stats, sync and async.

Every test that runs a model is parametrised over ``MODES``: the async stream,
the sync stream over a native sync source, and the sync stream over the async
source (the background-loop bridge).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from streamblocks import (
    AIMessage,
    AsyncChatModelStream,
    ChatModelStream,
    IncompleteStreamError,
    ProtocolError,
    ProviderError,
    StreamError,
    StreamState,
)
from streamblocks._errors import EmptyStreamError, InvalidInputError
from streamblocks._messages import HumanMessage, SystemMessage, ToolMessage
from streamblocks.models import CallbackHandler, ChatModel, Run
from streamblocks.testing import FailingModel, RecordingHandler, ScriptedModel
from tests import events as ev
from tests.helpers import MIXED, MIXED_TOOL_CALLS, adrain, drain
from tests.models_support import (
    MODES,
    projection_errors,
    run,
    set_mode,
    sync_projection_errors,
)

SIMPLE = ev.simple_text_message(["Hel", "lo"])
NO_FINISH = SIMPLE[:-1]
ERRORED = [ev.start(), ev.text_start(0), ev.text(0, "partial"), ev.error("overloaded", "529")]

# -- lazy start ------------------------------------------------------------------------


async def test_astream_events_sends_nothing_until_first_consumption() -> None:
    model = ScriptedModel(SIMPLE)
    handler = RecordingHandler()
    stream = await model.astream_events("hi", callbacks=[handler])
    await asyncio.sleep(0.01)
    assert isinstance(stream, AsyncChatModelStream)
    assert (handler.calls, model.requests, model.opened) == ([], [], 0)
    assert stream.stats.start is None
    assert stream.state is StreamState.STREAMING
    assert (await stream).text == "Hello"
    handler.assert_ended_once()
    await stream.aclose()


def test_stream_events_sends_nothing_until_first_consumption() -> None:
    model = ScriptedModel(SIMPLE)
    handler = RecordingHandler()
    stream = model.stream_events("hi", callbacks=[handler])
    assert isinstance(stream, ChatModelStream)
    assert (handler.calls, model.requests, model.opened) == ([], [], 0)
    assert stream.stats.start is None
    assert stream.output.text == "Hello"
    handler.assert_ended_once()


ASYNC_CONSUMERS: dict[str, Any] = {
    "await stream": lambda s: s,
    "await output": lambda s: s.output,
    "await usage": lambda s: s.usage,
    "await text": lambda s: s.text,
    "iterate events": adrain,
    "iterate text": lambda s: adrain(s.text),
    "iterate tool_calls": lambda s: adrain(s.tool_calls),
}


@pytest.mark.parametrize("consume", ASYNC_CONSUMERS.values(), ids=ASYNC_CONSUMERS.keys())
async def test_any_async_consumption_starts_the_run(consume: Any) -> None:
    model = ScriptedModel(SIMPLE)
    handler = RecordingHandler()
    stream = await model.astream_events("hi", callbacks=[handler])
    await consume(stream)
    await stream.aclose()
    assert handler.assert_ended_once()[0] == "end"
    assert model.opened == model.closed == 1


SYNC_CONSUMERS: dict[str, Any] = {
    "output": lambda s: s.output,
    "usage": lambda s: s.usage,
    "str(text)": lambda s: str(s.text),
    "next(events)": lambda s: next(iter(s)),
    "next(text)": lambda s: next(iter(s.text)),
    "tool_calls.get": lambda s: s.tool_calls.get(),
}


@pytest.mark.parametrize("mode", ["sync-native", "sync-bridged"])
@pytest.mark.parametrize("consume", SYNC_CONSUMERS.values(), ids=SYNC_CONSUMERS.keys())
def test_any_sync_consumption_starts_the_run(consume: Any, mode: str) -> None:
    model = set_mode(ScriptedModel(SIMPLE), mode)
    handler = RecordingHandler()
    stream = model.stream_events("hi", callbacks=[handler])
    consume(stream)
    assert handler.kinds[0] == "start"
    assert model.opened == 1
    stream.close()
    handler.assert_ended_once()
    assert model.closed == 1


@pytest.mark.parametrize("mode", MODES)
def test_on_start_fires_before_anything_is_sent(mode: str) -> None:
    model = ScriptedModel(SIMPLE)
    seen: list[tuple[int, int]] = []

    class Probe(CallbackHandler):
        def on_start(self, run: Run) -> None:
            seen.append((len(model.requests), model.opened))

    outcome = run(model, mode, callbacks=[Probe()])
    assert seen == [(0, 0)]
    assert outcome.error is None


# -- version -----------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1", "v2", "V3", ""])
async def test_other_versions_are_refused_before_anything_is_sent(version: str) -> None:
    model = ScriptedModel(SIMPLE)
    handler = RecordingHandler()
    calls: list[Any] = [
        lambda: model.stream_events("hi", version=version, callbacks=[handler]),
        lambda: model.invoke("hi", version=version, callbacks=[handler]),
    ]
    acalls: list[Any] = [
        lambda: model.astream_events("hi", version=version, callbacks=[handler]),
        lambda: model.astream_v2("hi", version=version, callbacks=[handler]),
        lambda: model.ainvoke("hi", version=version, callbacks=[handler]),
    ]
    for call in calls:
        with pytest.raises(InvalidInputError, match=r"version .* the only stream version is 'v3'"):
            call()
    for acall in acalls:
        with pytest.raises(InvalidInputError, match="'v3'"):
            await acall()
    assert issubclass(InvalidInputError, ValueError)
    assert (handler.calls, model.requests) == ([], [])


async def test_astream_v2_is_an_alias_of_astream_events() -> None:
    model = ScriptedModel(SIMPLE)
    stream = await model.astream_v2("hi")
    assert isinstance(stream, AsyncChatModelStream)
    async with stream:
        assert (await stream).text == "Hello"
    explicit = await model.astream_events("hi", version="v3")
    async with explicit:
        assert (await explicit).text == "Hello"


# -- input ---------------------------------------------------------------------------------


OPENAI_CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "18C, sunny"},
    {"role": "user", "content": [{"type": "text", "text": "And tomorrow?"}]},
]


def test_a_string_is_one_human_message() -> None:
    model = ScriptedModel(SIMPLE)
    model.invoke("hello")
    assert model.requests[0].messages == [HumanMessage("hello")]


async def test_openai_style_dicts_with_tool_calls_and_tool_messages() -> None:
    model = ScriptedModel(SIMPLE)
    await model.ainvoke(OPENAI_CONVERSATION)
    system, user, assistant, tool, user2 = model.requests[0].messages
    assert system == SystemMessage("Be brief.")
    assert user == HumanMessage("Weather in Paris?")
    assert isinstance(assistant, AIMessage)
    assert assistant.content == ""
    assert assistant.tool_calls == [
        {"type": "tool_call", "id": "call_1", "name": "get_weather", "args": {"city": "Paris"}}
    ]
    assert tool == ToolMessage("18C, sunny", "call_1")
    assert user2 == HumanMessage([{"type": "text", "text": "And tomorrow?"}])


def test_more_dict_spellings() -> None:
    model = ScriptedModel(SIMPLE)
    model.invoke(
        [
            {"role": "developer", "content": "rules"},
            {"type": "human", "content": "hi"},
            {
                "role": "assistant",
                "content": "calling",
                "tool_calls": [{"id": "c2", "name": "lookup", "args": {"q": "x"}}],
            },
            {"role": "tool", "tool_call_id": "c2", "content": "oops", "status": "error"},
        ]
    )
    system, human, ai, tool = model.requests[0].messages
    assert system == SystemMessage("rules")
    assert human == HumanMessage("hi")
    assert isinstance(ai, AIMessage)
    assert ai.text == "calling"
    assert ai.tool_calls == [
        {"type": "tool_call", "id": "c2", "name": "lookup", "args": {"q": "x"}}
    ]
    assert isinstance(tool, ToolMessage)
    assert tool.status == "error"


def test_message_objects_pass_through_unchanged() -> None:
    model = ScriptedModel(SIMPLE)
    messages = [SystemMessage("s"), HumanMessage("h"), ToolMessage("r", "call_9", name="t")]
    model.invoke(messages)
    assert all(a is b for a, b in zip(model.requests[0].messages, messages, strict=True))
    model.invoke(messages[1])
    assert model.requests[1].messages[0] is messages[1]


@pytest.mark.parametrize("mode", MODES)
def test_a_streamed_ai_message_is_valid_input_for_the_next_turn(mode: str) -> None:
    first = run(ScriptedModel(MIXED), mode)
    reply = first.message
    assert reply is not None
    followup = [
        HumanMessage("weather and time?"),
        reply,
        ToolMessage("18C", "call_a"),
        ToolMessage("12:00", "call_b"),
    ]
    model = ScriptedModel(SIMPLE)
    second = run(model, mode, followup)
    assert second.error is None
    sent = model.requests[0].messages[1]
    assert sent is reply
    assert isinstance(sent, AIMessage)
    assert isinstance(sent.content, list)
    reasoning = sent.content[0]
    assert reasoning["type"] == "reasoning"
    assert reasoning.get("extras") == {"signature": "sig"}
    assert sent.tool_calls == MIXED_TOOL_CALLS
    # Serialised and sent back as a dict, it is the same message.
    model.invoke([HumanMessage("again"), reply.to_dict()])
    assert model.requests[1].messages[1] == reply


INVALID_INPUTS: list[tuple[Any, str]] = [
    (42, "got int"),
    ({"role": "user", "content": "hi"}, "got dict"),
    ([], "empty list"),
    ([HumanMessage("a"), 3], r"input\[1\]: expected a message or a role/content dict, got int"),
    ([{"role": "wizard", "content": "x"}], r"input\[0\]: unknown role 'wizard'"),
    ([{"content": "x"}], r"input\[0\]: unknown role None"),
    ([{"role": "user", "content": 5}], r"input\[0\]: 'content' must be a string or a list"),
    ([{"role": "user"}], r"input\[0\]: 'content' must be"),
    ([{"role": "user", "content": [{"text": "no type"}]}], r"input\[0\]: 'content'"),
    (
        [{"role": "user", "content": "q"}, {"role": "tool", "content": "r"}],
        r"input\[1\]: a 'tool' message needs a 'tool_call_id'",
    ),
    (
        [{"role": "tool", "content": "r", "tool_call_id": "c", "status": "meh"}],
        r"input\[0\]: 'status' must be 'success' or 'error'",
    ),
    (
        [{"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": {"id": "c"}}],
        r"input\[1\]: 'tool_calls' must be a list",
    ),
    (
        [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"arguments": "{}"}}]}],
        r"input\[0\]\.tool_calls\[0\]: a tool call needs a 'name'",
    ),
    (
        [
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "a", "function": {"name": "f", "arguments": "{}"}},
                    {"id": "b", "function": {"name": "g", "arguments": "{not json"}},
                ],
            },
        ],
        r"input\[1\]\.tool_calls\[1\]: 'arguments' is not valid JSON",
    ),
    (
        [{"role": "assistant", "tool_calls": [{"name": "f", "args": [1, 2]}]}],
        r"input\[0\]\.tool_calls\[0\]: tool call arguments must be a JSON object",
    ),
    ([{"role": "assistant", "tool_calls": ["f"]}], r"input\[0\]\.tool_calls\[0\]: expected a dict"),
]


@pytest.mark.parametrize(("bad", "needle"), INVALID_INPUTS)
async def test_invalid_input_names_the_offending_item(bad: Any, needle: str) -> None:
    model = ScriptedModel(SIMPLE)
    handler = RecordingHandler()
    with pytest.raises(InvalidInputError, match=needle) as info:
        model.stream_events(bad, callbacks=[handler])
    assert isinstance(info.value, ValueError)
    with pytest.raises(InvalidInputError, match=needle):
        await model.astream_events(bad, callbacks=[handler])
    with pytest.raises(InvalidInputError, match=needle):
        model.invoke(bad, callbacks=[handler])
    with pytest.raises(InvalidInputError, match=needle):
        await model.ainvoke(bad, callbacks=[handler])
    assert (handler.calls, model.requests) == ([], [])


# -- every ending ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_message_finish_ends_the_run_with_on_end(mode: str) -> None:
    model = ScriptedModel(SIMPLE)
    outcome = run(model, mode)
    assert outcome.message is not None
    assert outcome.message.text == "Hello"
    assert outcome.handler.assert_ended_once() == ("end", outcome.message)
    assert outcome.stream.state is StreamState.FINISHED
    assert all(e is None for e in outcome.errors.values())
    assert (model.opened, model.closed) == (1, 1)


@pytest.mark.parametrize("mode", MODES)
def test_a_source_ending_without_finish_gets_a_synthesised_one(mode: str) -> None:
    model = ScriptedModel(NO_FINISH)
    outcome = run(model, mode)
    message = outcome.message
    assert message is not None
    assert message.text == "Hello"
    assert message.response_metadata["finish_synthesized"] is True
    assert message.response_metadata["finish_reason"] == "unknown"
    assert outcome.handler.assert_ended_once() == ("end", message)
    # The synthetic finish is dispatched, so on_event sees it like any other.
    assert outcome.handler.event_types == [*(e["event"] for e in NO_FINISH), "message-finish"]
    assert (model.opened, model.closed) == (1, 1)


@pytest.mark.parametrize("mode", MODES)
def test_an_empty_source_fails_with_empty_stream_error(mode: str) -> None:
    model = ScriptedModel([])
    outcome = run(model, mode)
    error = outcome.error
    assert isinstance(error, EmptyStreamError)
    assert isinstance(error, IncompleteStreamError)
    kind, reported, partial = outcome.handler.assert_ended_once()
    assert (kind, reported) == ("error", error)
    assert partial.content == ""
    assert set(outcome.errors.values()) == {error}
    assert (model.opened, model.closed) == (1, 1)


@pytest.mark.parametrize("mode", MODES)
def test_an_error_event_fails_the_run_keeping_what_arrived(mode: str) -> None:
    model = ScriptedModel(ERRORED)
    outcome = run(model, mode)
    error = outcome.error
    assert isinstance(error, ProviderError)
    assert (error.message, error.code) == ("overloaded", "529")
    assert outcome.stream.snapshot().text == "partial"
    assert outcome.handler.kinds[-2:] == ["event", "error"]
    assert outcome.handler.event_types[-1] == "error"
    kind, reported, partial = outcome.handler.assert_ended_once()
    assert (kind, reported, partial.text) == ("error", error, "partial")
    assert set(outcome.errors.values()) == {error}
    assert (model.opened, model.closed) == (1, 1)


@pytest.mark.parametrize("mode", MODES)
async def test_buffered_deltas_come_before_the_error(mode: str) -> None:
    model = set_mode(ScriptedModel(ERRORED), mode)
    if mode == "async":
        stream = await model.astream_events("hi")
        async with stream:
            items, error = await adrain(stream.text)
    else:
        with model.stream_events("hi") as sync_stream:
            items, error = drain(sync_stream.text)
    assert (items, type(error)) == (["partial"], ProviderError)


@pytest.mark.parametrize("mode", MODES)
def test_a_raising_source_fails_the_run_keeping_what_arrived(mode: str) -> None:
    boom = OSError("connection reset")
    model = FailingModel(after=4, error=boom)
    outcome = run(model, mode)
    error = outcome.error
    assert isinstance(error, StreamError)
    assert error.__cause__ is boom
    assert outcome.stream.snapshot().text == "part 0. part 1. "
    kind, reported, partial = outcome.handler.assert_ended_once()
    assert (kind, reported, partial.text) == ("error", error, "part 0. part 1. ")
    assert set(outcome.errors.values()) == {error}
    assert (model.opened, model.closed) == (1, 1)


@pytest.mark.parametrize("mode", MODES)
def test_a_malformed_source_event_fails_the_run_keeping_what_arrived(mode: str) -> None:
    malformed = {"event": "content-block-delta", "index": 0}  # no delta
    model = ScriptedModel([ev.start(), ev.text_start(0), ev.text(0, "ok"), malformed, ev.finish()])
    outcome = run(model, mode)
    error = outcome.error
    assert isinstance(error, ProtocolError)
    assert (error.event_type, error.field) == ("content-block-delta", "delta")
    assert outcome.stream.snapshot().text == "ok"
    kind, reported, partial = outcome.handler.assert_ended_once()
    assert (kind, reported, partial.text) == ("error", error, "ok")
    # The malformed event was never dispatched, so it is not reported.
    dispatched = ["message-start", "content-block-start", "content-block-delta"]
    assert outcome.handler.event_types == dispatched
    assert set(outcome.errors.values()) == {error}
    assert (model.opened, model.closed) == (1, 1)


class _NoCopy:
    """Cannot be deep-copied: makes assembling the final message fail."""

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        raise TypeError("cannot deepcopy _NoCopy")


class _AssemblyFails(ChatModel):
    """The last block's finish carries an object the message cannot copy."""

    @staticmethod
    def _events() -> list[dict[str, Any]]:
        return [
            ev.start(),
            ev.text_start(0),
            ev.text(0, "hi"),
            ev.block_finish(0, {"type": "text", "text": "hi", "extras": {"x": _NoCopy()}}),
            ev.finish(),
        ]

    async def _astream(self, messages: Any, **params: Any) -> Any:
        for event in self._events():
            yield event

    def _stream(self, messages: Any, **params: Any) -> Any:
        yield from self._events()


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
async def test_a_failure_while_assembling_the_message_fires_on_error_once(sync: bool) -> None:
    handler = RecordingHandler()
    model = _AssemblyFails()
    logging.getLogger("streamblocks").disabled = True
    try:
        if sync:
            stream: Any = model.stream_events("hi", callbacks=[handler])
            with pytest.raises(TypeError):
                _ = stream.output
            stream.close()
        else:
            stream = await model.astream_events("hi", callbacks=[handler])
            with pytest.raises(TypeError):
                await stream
            await stream.aclose()
    finally:
        logging.getLogger("streamblocks").disabled = False
    assert stream.state is StreamState.FAILED
    kind, error, _ = handler.assert_ended_once()
    assert kind == "error"
    assert isinstance(error, TypeError)


# -- callbacks ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_on_event_fires_after_each_event_is_dispatched(mode: str) -> None:
    model = set_mode(ScriptedModel(SIMPLE), mode)
    texts: list[str] = []
    holder: dict[str, Any] = {}

    class Probe(CallbackHandler):
        def on_event(self, run: Run, event: Any) -> None:
            if event["event"] == "content-block-delta":
                texts.append(holder["stream"].snapshot().text)

    if mode == "async":
        holder["stream"] = await model.astream_events("hi", callbacks=[Probe()])
        async with holder["stream"] as stream:
            await stream
    else:
        holder["stream"] = model.stream_events("hi", callbacks=[Probe()])
        with holder["stream"] as sync_stream:
            _ = sync_stream.output
    assert texts == ["Hel", "Hello"]


@pytest.mark.parametrize("mode", MODES)
def test_callback_order_and_the_run_they_describe(mode: str) -> None:
    order: list[str] = []

    class Named(RecordingHandler):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

        def on_start(self, run: Run) -> None:
            super().on_start(run)
            order.append(self.name)

    own, per_call = Named("model"), Named("call")
    model = ScriptedModel(SIMPLE, model="m-7", callbacks=[own])
    outcome = run(model, mode, callbacks=[per_call], temperature=0.5)
    assert order == ["model", "call"]
    for handler in (own, per_call, outcome.handler):
        assert handler.calls == outcome.handler.calls
        assert handler.assert_ended_once() == ("end", outcome.message)
    the_run = own.runs[0]
    assert (the_run.provider, the_run.model) == ("scripted", "m-7")
    assert the_run.messages == [HumanMessage("hi")]
    assert the_run.params == {"temperature": 0.5}
    assert the_run.stats is outcome.stream.stats
    assert the_run.run_id.startswith("run-")
    # The model's own handler list is not changed by per-call handlers.
    assert model.callbacks == [own]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "script",
    [SIMPLE, NO_FINISH, [], ERRORED, [ev.start(), ev.error()]],
    ids=["finish", "no-finish", "empty", "error-event", "only-error"],
)
def test_exactly_one_ending_on_every_path(mode: str, script: list[Any]) -> None:
    model = ScriptedModel(script)
    outcome = run(model, mode)
    kind = outcome.handler.assert_ended_once()[0]
    assert kind == ("end" if outcome.error is None else "error")
    expected = [e["event"] for e in script]
    if script is NO_FINISH:
        expected.append("message-finish")  # the driver's synthetic finish, seen like any event
    assert outcome.handler.event_types == expected


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("after", [0, 2, 5])
def test_exactly_one_ending_when_the_source_raises(mode: str, after: int) -> None:
    outcome = run(FailingModel(after=after), mode)
    assert outcome.handler.assert_ended_once()[0] == "error"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("script", [SIMPLE, ERRORED, []], ids=["finish", "error-event", "empty"])
def test_consuming_after_the_end_never_refires_a_callback(mode: str, script: list[Any]) -> None:
    # `run` has already read every projection and closed the stream after its end.
    outcome = run(ScriptedModel(script), mode)
    before = list(outcome.handler.calls)
    stream = outcome.stream
    for _ in range(2):
        if isinstance(stream, AsyncChatModelStream):

            async def again(stream: AsyncChatModelStream = stream) -> None:
                await projection_errors(stream)
                await stream.aclose()

            asyncio.run(again())
        else:
            sync_projection_errors(stream)
            stream.close()
    assert outcome.handler.calls == before
    outcome.handler.assert_ended_once()


class Boom(Exception):
    pass


class Raising(RecordingHandler):
    """Records, then raises ``Boom`` from the named callback."""

    def __init__(self, where: str, *, raise_error: bool) -> None:
        super().__init__(raise_error=raise_error)
        self.where = where

    def _maybe(self, name: str) -> None:
        if name == self.where:
            raise Boom(name)

    def on_start(self, run: Run) -> None:
        super().on_start(run)
        self._maybe("start")

    def on_event(self, run: Run, event: Any) -> None:
        super().on_event(run, event)
        self._maybe("event")

    def on_end(self, run: Run, message: AIMessage) -> None:
        super().on_end(run, message)
        self._maybe("end")

    def on_error(self, run: Run, error: BaseException, partial_message: AIMessage) -> None:
        super().on_error(run, error, partial_message)
        self._maybe("error")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("where", ["start", "event", "end", "error"])
def test_a_raising_handler_is_logged_with_the_run_id_and_the_run_goes_on(
    mode: str, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    script = ERRORED if where == "error" else SIMPLE
    model = ScriptedModel(script)
    raising = Raising(where, raise_error=False)
    with caplog.at_level(logging.ERROR, logger="streamblocks"):
        outcome = run(model, mode, callbacks=[raising])
    if where == "error":
        assert isinstance(outcome.error, ProviderError)
    else:
        assert outcome.error is None
        assert outcome.message is not None
        assert outcome.message.text == "Hello"
    # Every handler saw the whole run, the raising one included.
    outcome.handler.assert_ended_once()
    assert raising.calls == outcome.handler.calls
    run_id = outcome.handler.runs[0].run_id
    records = [r for r in caplog.records if r.name == "streamblocks"]
    expected = len(script) if where == "event" else 1
    assert len(records) == expected
    for record in records:
        assert run_id in record.getMessage()
        assert f"Raising.on_{where}" in record.getMessage()
        assert record.exc_info is not None
        assert isinstance(record.exc_info[1], Boom)
    assert (model.opened, model.closed) == (1, 1)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("where", ["start", "event"])
def test_raise_error_from_start_or_event_fails_the_run_with_it(
    mode: str, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    model = ScriptedModel(SIMPLE)
    raising = Raising(where, raise_error=True)
    outcome = run(model, mode, callbacks=[raising])
    error = outcome.error
    assert isinstance(error, Boom)
    assert str(error) == where
    assert outcome.stream.state is StreamState.FAILED
    for handler in (raising, outcome.handler):
        kind, reported, _ = handler.assert_ended_once()
        assert (kind, reported) == ("error", error)
    if where == "start":
        assert (model.opened, outcome.handler.event_types) == (0, [])
    else:
        assert outcome.handler.event_types == ["message-start"]
        assert (model.opened, model.closed) == (1, 1)
    assert [r for r in caplog.records if r.name == "streamblocks"] == []


@pytest.mark.parametrize("mode", MODES)
def test_raise_error_from_on_end_is_raised_and_the_message_stays_intact(mode: str) -> None:
    model = ScriptedModel(SIMPLE)
    raising = Raising("end", raise_error=True)
    outcome = run(model, mode, callbacks=[raising])
    assert isinstance(outcome.error, Boom)
    stream = outcome.stream
    assert stream.state is StreamState.FINISHED
    message = stream.output_message
    assert message is not None
    assert message.text == "Hello"
    assert outcome.errors["output"] is None
    outcome.handler.assert_ended_once()
    assert raising.assert_ended_once()[0] == "end"


@pytest.mark.parametrize(
    "mode",
    [
        "async",
        "sync-native",
        "sync-bridged",
    ],
)
async def test_raise_error_from_on_error_is_raised_by_invoke(mode: str) -> None:
    model = set_mode(ScriptedModel(ERRORED), mode)
    raising = Raising("error", raise_error=True)
    other = RecordingHandler()
    if mode == "async":
        with pytest.raises(Boom):
            await model.ainvoke("hi", callbacks=[raising, other])
    else:
        with pytest.raises(Boom):
            model.invoke("hi", callbacks=[raising, other])
    assert other.assert_ended_once()[0] == "error"


# -- stats ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_stats_of_a_successful_run(mode: str) -> None:
    before = time.time()
    outcome = run(ScriptedModel(SIMPLE, delay=0.001), mode)
    stats = outcome.stream.stats
    assert stats.started_at is not None
    assert before - 1 <= stats.started_at <= time.time() + 1
    assert stats.start is not None
    assert stats.first_content is not None
    assert stats.end is not None
    assert stats.start <= stats.first_content <= stats.end
    ttfc, duration = stats.time_to_first_content, stats.duration
    assert ttfc is not None
    assert duration is not None
    assert 0 <= ttfc <= duration
    assert stats.output_tokens == 2
    rate = stats.output_tokens_per_second
    assert rate is not None
    assert rate == pytest.approx(2 / (stats.end - stats.first_content))


@pytest.mark.parametrize("mode", MODES)
async def test_stats_before_the_start_and_without_usage(mode: str) -> None:
    model = set_mode(ScriptedModel(NO_FINISH), mode)
    if mode == "async":
        stream: Any = await model.astream_events("hi")
    else:
        stream = model.stream_events("hi")
    stats = stream.stats
    assert (stats.started_at, stats.start, stats.first_content, stats.end) == (None,) * 4
    assert (stats.time_to_first_content, stats.duration, stats.output_tokens_per_second) == (
        None,
    ) * 3
    if mode == "async":
        await stream
        await stream.aclose()
    else:
        _ = stream.output
    assert stats.duration is not None
    assert stats.output_tokens is None
    assert stats.output_tokens_per_second is None


@pytest.mark.parametrize("mode", MODES)
def test_stats_of_a_failed_run_without_content(mode: str) -> None:
    # A message-start is not content: there is no time to first content.
    outcome = run(ScriptedModel([ev.start(), ev.error()]), mode)
    stats = outcome.stream.stats
    assert stats.first_content is None
    assert stats.time_to_first_content is None
    assert stats.duration is not None
    assert stats.duration >= 0
