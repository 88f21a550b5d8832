"""Contract section 1: the protocol (events, blocks, validation).

Validation runs inside ``dispatch`` for both stream flavours (they share one
core), so most tests here run against ``ChatModelStream`` and
``AsyncChatModelStream`` alike and only read non-blocking state
(``state``, ``error``, ``snapshot()``, the raw replay of a terminal stream).
"""

from __future__ import annotations

import asyncio
import copy
import re
import types
from typing import Any, cast

import pytest

from streamblocks import (
    AIMessage,
    AsyncChatModelStream,
    ChatModelStream,
    ProtocolError,
    ProviderError,
    StreamError,
    StreamState,
    validate_event,
)
from tests import events as ev

Stream = ChatModelStream | AsyncChatModelStream
Event = dict[str, Any]

STREAM_KINDS = ["sync", "async"]


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def make_stream(kind: str, **kwargs: Any) -> Stream:
    if kind == "sync":
        return ChatModelStream(**kwargs)
    return AsyncChatModelStream(**kwargs)


@pytest.fixture(params=STREAM_KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return cast("str", request.param)


def feed(stream: Stream, events: list[Event]) -> Stream:
    for event in events:
        stream.dispatch(event)
    return stream


def replay(stream: Stream) -> tuple[list[Any], BaseException | None]:
    """The raw events a fresh consumer replays, and the error it ends with.

    Only for terminal streams, so that neither flavour can block.
    """
    assert stream.done
    if isinstance(stream, ChatModelStream):
        seen: list[Any] = []
        try:
            seen.extend(stream)
        except Exception as exc:
            return seen, exc
        return seen, None

    async_stream = stream

    async def consume() -> tuple[list[Any], BaseException | None]:
        out: list[Any] = []
        try:
            async for event in async_stream:
                out.append(event)
        except Exception as exc:
            return out, exc
        return out, None

    return asyncio.run(consume())


def final_message(stream: Stream) -> AIMessage:
    """The finished message, read without blocking."""
    message = stream.output_message
    assert message is not None, "stream has not finished"
    return message


def content_blocks(message: AIMessage) -> list[dict[str, Any]]:
    assert isinstance(message.content, list)
    return [dict(b) for b in message.content]


def hello_prefix() -> list[Event]:
    """A valid prefix: the stream holds 'Hello' in block 0 before a bad event."""
    return [ev.start("msg-p"), ev.text_start(0), ev.text(0, "Hel"), ev.text(0, "lo")]


# ---------------------------------------------------------------------------
# Every event type and block type
# ---------------------------------------------------------------------------

ALL_BLOCKS: list[dict[str, Any]] = [
    {
        "type": "text",
        "text": "cited",
        "id": "t1",
        "annotations": [{"type": "citation", "url": "https://example.com", "cited_text": "c"}],
    },
    {"type": "reasoning", "reasoning": "why", "extras": {"signature": "sig"}},
    {"type": "tool_call_chunk", "id": "c1", "name": "f", "args": '{"a": 1}'},
    {"type": "tool_call", "id": "c2", "name": "g", "args": {"b": 2}},
    {"type": "invalid_tool_call", "id": "c3", "name": "h", "args": "{", "error": "bad json"},
    {"type": "server_tool_call_chunk", "id": "s1", "name": "web", "args": '{"q": "x"}'},
    {"type": "server_tool_call", "id": "s2", "name": "web", "args": {"q": "y"}},
    {"type": "server_tool_result", "tool_call_id": "s2", "status": "success", "output": "ok"},
    {"type": "image", "url": "https://example.com/i.png", "mime_type": "image/png"},
    {"type": "audio", "base64": "AAAA", "mime_type": "audio/wav"},
    {"type": "video", "file_id": "file-1", "mime_type": "video/mp4"},
    {"type": "file", "url": "https://example.com/f.pdf", "mime_type": "application/pdf"},
    {"type": "non_standard", "value": {"anything": [1, 2]}},
]

ALL_DELTAS: list[dict[str, Any]] = [
    {"type": "text-delta", "text": "t"},
    {"type": "reasoning-delta", "reasoning": "r"},
    {"type": "tool-call-delta", "args": '{"a"'},
    {"type": "data-delta", "data": "AAAA", "encoding": "base64"},
    {"type": "data-delta", "data": "AAAA"},
    {"type": "block-delta", "fields": {"type": "tool_call_chunk", "args": '{"a"'}},
]


class TestEveryEventAndBlock:
    @pytest.mark.parametrize("block", ALL_BLOCKS, ids=lambda b: b["type"])
    def test_every_block_type_is_valid_on_start_and_finish(self, block: dict[str, Any]) -> None:
        assert validate_event(ev.block_start(0, block)) == "content-block-start"
        assert validate_event(ev.block_finish(0, block)) == "content-block-finish"

    @pytest.mark.parametrize("delta", ALL_DELTAS, ids=lambda d: d["type"])
    def test_every_delta_type_is_valid(self, delta: dict[str, Any]) -> None:
        event = {"event": "content-block-delta", "index": 0, "delta": delta}
        assert validate_event(event) == "content-block-delta"

    def test_every_event_type_is_valid(self) -> None:
        events = [
            ev.start("m", provider="p", model="x", run_id="r"),
            ev.text_start(0),
            ev.text(0, "x"),
            ev.block_finish(0, {"type": "text", "text": "x"}),
            ev.finish(
                {
                    "input_tokens": 1,
                    "output_tokens": 2,
                    "total_tokens": 3,
                    "input_token_details": {"cache_read": 1},
                    "output_token_details": {"reasoning": 1},
                },
                finish_reason="stop",
            ),
            ev.error("boom", code="overloaded"),
        ]
        assert [validate_event(e) for e in events] == [
            "message-start",
            "content-block-start",
            "content-block-delta",
            "content-block-finish",
            "message-finish",
            "error",
        ]

    def test_a_message_with_every_block_type_is_assembled_in_index_order(self, kind: str) -> None:
        events: list[Event] = [ev.start("m-all")]
        for i, block in enumerate(ALL_BLOCKS):
            events.append(ev.block_finish(i, block))
        events.append(ev.finish())
        stream = feed(make_stream(kind), events)

        assert stream.state is StreamState.FINISHED
        out = content_blocks(final_message(stream))
        assert [b["type"] for b in out] == [
            "text",
            "reasoning",
            "tool_call",  # a finished chunk is parsed
            "tool_call",
            "invalid_tool_call",
            "server_tool_call",  # a finished server chunk is parsed
            "server_tool_call",
            "server_tool_result",
            "image",
            "audio",
            "video",
            "file",
            "non_standard",
        ]
        # Provider fields survive.
        assert out[0]["annotations"] == ALL_BLOCKS[0]["annotations"]
        assert out[0]["id"] == "t1"
        assert out[1]["extras"] == {"signature": "sig"}
        assert out[8]["url"] == "https://example.com/i.png"
        assert out[12]["value"] == {"anything": [1, 2]}
        message = final_message(stream)
        assert {tc["id"] for tc in message.tool_calls} == {"c1", "c2"}
        assert [itc["id"] for itc in message.invalid_tool_calls] == ["c3"]

    def test_each_delta_type_is_recorded_in_the_replay(self, kind: str) -> None:
        deltas = [{"event": "content-block-delta", "index": 0, "delta": d} for d in ALL_DELTAS]
        events = [ev.start(), *deltas, ev.finish()]
        stream = feed(make_stream(kind), copy.deepcopy(events))
        seen, err = replay(stream)
        assert err is None
        assert seen == events


# ---------------------------------------------------------------------------
# Malformed events
# ---------------------------------------------------------------------------

# (id, event, expected event_type, expected field)
MALFORMED: list[tuple[str, Any, str | None, str | None]] = [
    ("not-a-mapping-list", ["event", "message-start"], None, None),
    ("not-a-mapping-str", "message-start", None, None),
    ("not-a-mapping-none", None, None, None),
    ("missing-event", {"role": "ai", "id": "x"}, None, "event"),
    ("event-not-str", {"event": 7}, None, "event"),
    (
        "index-str",
        {
            "event": "content-block-delta",
            "index": "0",
            "delta": {"type": "text-delta", "text": "a"},
        },
        "content-block-delta",
        "index",
    ),
    (
        "index-bool",
        {
            "event": "content-block-delta",
            "index": True,
            "delta": {"type": "text-delta", "text": "a"},
        },
        "content-block-delta",
        "index",
    ),
    (
        "index-float",
        {"event": "content-block-start", "index": 1.0, "content": {"type": "text", "text": ""}},
        "content-block-start",
        "index",
    ),
    (
        "finish-index-bool",
        {"event": "content-block-finish", "index": False, "content": {"type": "text", "text": ""}},
        "content-block-finish",
        "index",
    ),
    ("delta-missing", {"event": "content-block-delta", "index": 0}, "content-block-delta", "delta"),
    (
        "delta-not-mapping",
        {"event": "content-block-delta", "index": 0, "delta": "text"},
        "content-block-delta",
        "delta",
    ),
    (
        "delta-type-missing",
        {"event": "content-block-delta", "index": 0, "delta": {"text": "a"}},
        "content-block-delta",
        "delta.type",
    ),
    (
        "delta-type-not-str",
        {"event": "content-block-delta", "index": 0, "delta": {"type": 1, "text": "a"}},
        "content-block-delta",
        "delta.type",
    ),
    (
        "text-delta-text-int",
        {"event": "content-block-delta", "index": 0, "delta": {"type": "text-delta", "text": 5}},
        "content-block-delta",
        "delta.text",
    ),
    (
        "text-delta-text-list",
        {
            "event": "content-block-delta",
            "index": 0,
            "delta": {"type": "text-delta", "text": ["a"]},
        },
        "content-block-delta",
        "delta.text",
    ),
    (
        "reasoning-delta-not-str",
        {
            "event": "content-block-delta",
            "index": 0,
            "delta": {"type": "reasoning-delta", "reasoning": 1.5},
        },
        "content-block-delta",
        "delta.reasoning",
    ),
    (
        "tool-call-delta-args-dict",
        {
            "event": "content-block-delta",
            "index": 0,
            "delta": {"type": "tool-call-delta", "args": {}},
        },
        "content-block-delta",
        "delta.args",
    ),
    (
        "data-delta-data-bytes",
        {"event": "content-block-delta", "index": 0, "delta": {"type": "data-delta", "data": b"x"}},
        "content-block-delta",
        "delta.data",
    ),
    (
        "block-delta-fields-missing",
        {"event": "content-block-delta", "index": 0, "delta": {"type": "block-delta"}},
        "content-block-delta",
        "delta.fields",
    ),
    (
        "block-delta-fields-not-mapping",
        {
            "event": "content-block-delta",
            "index": 0,
            "delta": {"type": "block-delta", "fields": []},
        },
        "content-block-delta",
        "delta.fields",
    ),
    (
        "block-delta-args-not-str",
        {
            "event": "content-block-delta",
            "index": 0,
            "delta": {"type": "block-delta", "fields": {"type": "tool_call_chunk", "args": {}}},
        },
        "content-block-delta",
        "delta.fields.args",
    ),
    (
        "legacy-delta-not-mapping",
        {"event": "content-block-delta", "index": 0, "content_block": "text"},
        "content-block-delta",
        "content_block",
    ),
    (
        "legacy-delta-text-int",
        {"event": "content-block-delta", "index": 0, "content_block": {"type": "text", "text": 3}},
        "content-block-delta",
        "content_block.text",
    ),
    (
        "start-content-missing",
        {"event": "content-block-start", "index": 0},
        "content-block-start",
        "content",
    ),
    (
        "start-content-not-mapping",
        {"event": "content-block-start", "index": 0, "content": "text"},
        "content-block-start",
        "content",
    ),
    (
        "start-content-type-missing",
        {"event": "content-block-start", "index": 0, "content": {"text": "x"}},
        "content-block-start",
        "content.type",
    ),
    (
        "start-content-type-not-str",
        {"event": "content-block-start", "index": 0, "content": {"type": 3}},
        "content-block-start",
        "content.type",
    ),
    (
        "start-tool-chunk-args-dict",
        ev.block_start(0, {"type": "tool_call_chunk", "id": "c", "name": "f", "args": {"a": 1}}),
        "content-block-start",
        "content.args",
    ),
    (
        "start-tool-chunk-name-int",
        ev.block_start(0, {"type": "tool_call_chunk", "id": "c", "name": 1, "args": ""}),
        "content-block-start",
        "content.name",
    ),
    (
        "start-legacy-content-block-not-mapping",
        {"event": "content-block-start", "index": 0, "content_block": 5},
        "content-block-start",
        "content_block",
    ),
    (
        "finish-content-missing",
        {"event": "content-block-finish", "index": 0},
        "content-block-finish",
        "content",
    ),
    (
        "finish-content-not-mapping",
        {"event": "content-block-finish", "index": 0, "content": ["text"]},
        "content-block-finish",
        "content",
    ),
    (
        "finish-text-not-str",
        ev.block_finish(0, {"type": "text", "text": 1}),
        "content-block-finish",
        "content.text",
    ),
    (
        "finish-text-annotations-not-list",
        ev.block_finish(0, {"type": "text", "text": "x", "annotations": "cite"}),
        "content-block-finish",
        "content.annotations",
    ),
    (
        "finish-reasoning-not-str",
        ev.block_finish(0, {"type": "reasoning", "reasoning": 1}),
        "content-block-finish",
        "content.reasoning",
    ),
    (
        "finish-reasoning-extras-not-dict",
        ev.block_finish(0, {"type": "reasoning", "reasoning": "r", "extras": "sig"}),
        "content-block-finish",
        "content.extras",
    ),
    (
        "finish-tool-call-args-str",
        ev.block_finish(0, {"type": "tool_call", "id": "c", "name": "f", "args": '{"a": 1}'}),
        "content-block-finish",
        "content.args",
    ),
    (
        "finish-tool-call-id-int",
        ev.block_finish(0, {"type": "tool_call", "id": 1, "name": "f", "args": {}}),
        "content-block-finish",
        "content.id",
    ),
    (
        "finish-invalid-tool-call-error-int",
        ev.block_finish(
            0, {"type": "invalid_tool_call", "id": "c", "name": "f", "args": "{", "error": 1}
        ),
        "content-block-finish",
        "content.error",
    ),
    (
        "finish-server-tool-call-args-list",
        ev.block_finish(0, {"type": "server_tool_call", "id": "s", "name": "w", "args": [1]}),
        "content-block-finish",
        "content.args",
    ),
    (
        "finish-non-standard-value-str",
        ev.block_finish(0, {"type": "non_standard", "value": "x"}),
        "content-block-finish",
        "content.value",
    ),
    ("start-id-int", {"event": "message-start", "id": 3}, "message-start", "id"),
    ("start-role-int", {"event": "message-start", "role": 1}, "message-start", "role"),
    (
        "start-metadata-str",
        {"event": "message-start", "metadata": "p"},
        "message-start",
        "metadata",
    ),
    ("finish-usage-list", {"event": "message-finish", "usage": [1, 2]}, "message-finish", "usage"),
    ("finish-usage-int", {"event": "message-finish", "usage": 3}, "message-finish", "usage"),
    (
        "finish-metadata-str",
        {"event": "message-finish", "metadata": "stop"},
        "message-finish",
        "metadata",
    ),
    ("error-code-list", {"event": "error", "message": "m", "code": ["x"]}, "error", "code"),
    ("error-code-float", {"event": "error", "message": "m", "code": 1.5}, "error", "code"),
    ("error-message-int", {"event": "error", "message": 5}, "error", "message"),
]


class TestMalformedEvents:
    @pytest.mark.parametrize(
        ("event", "event_type", "field"),
        [pytest.param(e, t, f, id=i) for i, e, t, f in MALFORMED],
    )
    def test_validate_event_names_event_type_and_field(
        self, event: Any, event_type: str | None, field: str | None
    ) -> None:
        with pytest.raises(ProtocolError) as info:
            validate_event(event)
        exc = info.value
        assert isinstance(exc, ValueError)
        assert isinstance(exc, StreamError)
        assert isinstance(exc, RuntimeError)
        assert exc.event_type == event_type
        assert exc.field == field
        message = str(exc)
        if event_type is not None:
            assert f"'{event_type}'" in message
        if field is not None:
            assert f"'{field}'" in message
        else:
            assert "mapping" in message

    @pytest.mark.parametrize(
        ("event", "event_type", "field"),
        [pytest.param(e, t, f, id=i) for i, e, t, f in MALFORMED],
    )
    def test_dispatch_raises_and_fails_the_stream_with_that_error(
        self, kind: str, event: Any, event_type: str | None, field: str | None
    ) -> None:
        stream = feed(make_stream(kind), hello_prefix())
        before = copy.deepcopy(event)

        with pytest.raises(ProtocolError) as info:
            stream.dispatch(event)

        exc = info.value
        assert exc.event_type == event_type
        assert exc.field == field
        assert stream.state is StreamState.FAILED
        assert stream.done
        assert stream.error is exc
        assert stream.output_message is None
        # Everything received before the bad event is still there.
        snap = stream.snapshot()
        assert snap.text == "Hello"
        assert snap.id == "msg-p"
        # The bad event was not recorded; the replay ends with the same error.
        seen, err = replay(stream)
        assert seen == hello_prefix()
        assert err is exc
        # Validation never mutates its input.
        assert event == before

    def test_sync_projections_raise_the_protocol_error_after_their_buffer(self) -> None:
        stream = ChatModelStream()
        feed(stream, hello_prefix())
        with pytest.raises(ProtocolError) as info:
            stream.dispatch(ev.text(0, cast("str", 42)))
        exc = info.value

        got: list[str] = []
        with pytest.raises(ProtocolError) as again:
            got.extend(stream.text)
        assert again.value is exc
        assert got == ["Hel", "lo"]
        for read in (
            lambda: stream.output,
            lambda: stream.usage,
            stream.text.get,
            stream.tool_calls.get,
        ):
            with pytest.raises(ProtocolError) as raised:
                read()
            assert raised.value is exc

    async def test_async_projections_raise_the_protocol_error_after_their_buffer(self) -> None:
        stream = AsyncChatModelStream()
        feed(stream, hello_prefix())
        with pytest.raises(ProtocolError) as info:
            stream.dispatch({"event": "message-finish", "usage": "lots"})
        exc = info.value

        got: list[str] = []

        async def consume() -> None:
            async for delta in stream.text:
                got.append(delta)

        with pytest.raises(ProtocolError) as again:
            await consume()
        assert again.value is exc
        assert got == ["Hel", "lo"]
        with pytest.raises(ProtocolError) as raised:
            await stream.output
        assert raised.value is exc
        with pytest.raises(ProtocolError) as raised:
            await stream
        assert raised.value is exc

    def test_malformed_event_as_first_event_fails_an_empty_stream(self, kind: str) -> None:
        stream = make_stream(kind)
        with pytest.raises(ProtocolError):
            stream.dispatch({"no": "event"})
        assert stream.state is StreamState.FAILED
        snap = stream.snapshot()
        assert snap.content == ""
        assert snap.tool_calls == []

    def test_mapping_that_is_not_a_dict_is_accepted(self, kind: str) -> None:
        proxy = types.MappingProxyType
        stream = make_stream(kind)
        stream.dispatch(proxy(ev.start("m-proxy")))
        stream.dispatch(proxy(ev.block_start(0, cast("dict[str, Any]", proxy({"type": "text"})))))
        stream.dispatch(proxy(ev.text(0, "hi")))
        stream.dispatch(proxy(ev.finish()))
        assert stream.state is StreamState.FINISHED
        assert final_message(stream).text == "hi"


# ---------------------------------------------------------------------------
# Events after the end
# ---------------------------------------------------------------------------

LATE_EVENTS: list[tuple[str, Any]] = [
    ("text-delta", ev.text(0, " more")),
    ("message-start", ev.start("other")),
    ("block-start", ev.text_start(5, "x")),
    ("block-finish", ev.block_finish(0, {"type": "text", "text": "Replaced"})),
    ("message-finish", ev.finish({"input_tokens": 99})),
    ("error", ev.error("late")),
    ("unknown-event", {"event": "future-event"}),
    ("malformed", {"event": "content-block-delta"}),
    ("not-a-mapping", 12),
]


class TestEventsAfterTheEnd:
    @pytest.mark.parametrize(("event"), [pytest.param(e, id=i) for i, e in LATE_EVENTS])
    def test_event_after_message_finish_raises_and_changes_nothing(
        self, kind: str, event: Any
    ) -> None:
        events = ev.simple_text_message(["Hel", "lo"])
        stream = feed(make_stream(kind), events)
        message = final_message(stream)
        frozen = message.to_dict()

        with pytest.raises(ProtocolError) as info:
            stream.dispatch(event)

        assert "finished" in str(info.value)
        assert stream.state is StreamState.FINISHED
        assert stream.error is None
        assert stream.output_message is message
        assert message.to_dict() == frozen
        assert stream.snapshot().to_dict() == frozen
        seen, err = replay(stream)
        assert err is None
        assert seen == events

    def test_late_event_error_names_its_event_type(self, kind: str) -> None:
        stream = feed(make_stream(kind), ev.simple_text_message(["a"]))
        with pytest.raises(ProtocolError) as info:
            stream.dispatch(ev.text(0, "b"))
        assert info.value.event_type == "content-block-delta"
        assert "'content-block-delta'" in str(info.value)

    @pytest.mark.parametrize("how", ["error-event", "fail", "malformed"])
    @pytest.mark.parametrize(("event"), [pytest.param(e, id=i) for i, e in LATE_EVENTS])
    def test_event_after_a_failure_raises_and_changes_nothing(
        self, kind: str, how: str, event: Any
    ) -> None:
        stream = feed(make_stream(kind), hello_prefix())
        if how == "error-event":
            stream.dispatch(ev.error("provider down", code="overloaded"))
        elif how == "fail":
            stream.fail(ConnectionError("socket closed"))
        else:
            with pytest.raises(ProtocolError):
                stream.dispatch({"event": "content-block-delta", "index": 0, "delta": None})
        original = stream.error
        assert original is not None
        snap = stream.snapshot().to_dict()
        seen_before, _ = replay(stream)

        with pytest.raises(ProtocolError) as info:
            stream.dispatch(event)

        assert "failed" in str(info.value)
        assert info.value is not original
        assert stream.state is StreamState.FAILED
        assert stream.error is original
        assert stream.output_message is None
        assert stream.snapshot().to_dict() == snap
        seen_after, err = replay(stream)
        assert seen_after == seen_before
        assert err is original

    def test_error_event_fails_with_provider_error(self, kind: str) -> None:
        stream = feed(make_stream(kind), [*hello_prefix(), ev.error("overloaded", code="529")])
        err = stream.error
        assert isinstance(err, ProviderError)
        assert isinstance(err, StreamError)
        assert isinstance(err, RuntimeError)
        assert err.message == "overloaded"
        assert err.code == "529"
        assert err.status is None
        assert stream.state is StreamState.FAILED
        assert stream.snapshot().text == "Hello"


# ---------------------------------------------------------------------------
# Optional fields
# ---------------------------------------------------------------------------


class TestOptionalFields:
    def test_message_start_without_id_or_metadata(self, kind: str) -> None:
        stream = feed(
            make_stream(kind),
            [{"event": "message-start"}, ev.text(0, "hi"), ev.finish()],
        )
        message = final_message(stream)
        assert message.id is None
        assert message.response_metadata == {"output_version": "v1"}
        assert message.text == "hi"

    def test_message_start_without_id_keeps_the_constructor_id(self, kind: str) -> None:
        stream = make_stream(kind, message_id="run-1")
        feed(stream, [{"event": "message-start", "role": "ai"}, ev.finish()])
        assert stream.message_id == "run-1"
        assert final_message(stream).id == "run-1"

    def test_error_without_message(self, kind: str) -> None:
        stream = feed(make_stream(kind), [ev.start(), {"event": "error"}])
        err = stream.error
        assert isinstance(err, ProviderError)
        assert err.message  # a default, never empty
        assert str(err) == err.message
        assert err.code is None

    def test_error_code_is_optional(self, kind: str) -> None:
        stream = feed(make_stream(kind), [ev.start(), {"event": "error", "message": "m"}])
        assert isinstance(stream.error, ProviderError)
        assert stream.error.code is None

    def test_finished_tool_call_without_id(self, kind: str) -> None:
        stream = feed(
            make_stream(kind),
            [
                ev.start(),
                ev.block_finish(0, {"type": "tool_call", "name": "lookup", "args": {"q": 1}}),
                ev.finish(),
            ],
        )
        message = final_message(stream)
        assert message.tool_calls == [
            {"type": "tool_call", "id": "", "name": "lookup", "args": {"q": 1}}
        ]

    def test_message_finish_without_usage_or_metadata(self, kind: str) -> None:
        stream = feed(make_stream(kind), [ev.start(), {"event": "message-finish"}])
        message = final_message(stream)
        assert message.usage_metadata is None
        assert message.response_metadata == {"output_version": "v1"}
        assert message.additional_kwargs == {}

    def test_block_events_without_index_are_accepted(self, kind: str) -> None:
        events: list[Event] = [
            ev.start(),
            {"event": "content-block-start", "content": {"type": "text", "text": ""}},
            {"event": "content-block-delta", "delta": {"type": "text-delta", "text": "Hel"}},
            {"event": "content-block-delta", "delta": {"type": "text-delta", "text": "lo"}},
            {"event": "content-block-finish", "content": {"type": "text", "text": "Hello"}},
            ev.finish(),
        ]
        for event in events:
            validate_event(event)
        stream = feed(make_stream(kind), events)
        assert stream.state is StreamState.FINISHED
        message = final_message(stream)
        assert message.text == "Hello"
        # No wire index and no provider index: the block carries none.
        assert content_blocks(message) == [{"type": "text", "text": "Hello"}]

    def test_finishes_without_index_are_kept_in_arrival_order_after_indexed_blocks(
        self, kind: str
    ) -> None:
        image = {"type": "image", "url": "https://example.com/a.png"}
        extra = {"type": "non_standard", "value": {"n": 1}}
        events: list[Event] = [
            ev.start(),
            ev.block_finish(None, image),
            ev.block_finish(2, {"type": "text", "text": "second"}),
            ev.block_finish(None, extra),
            ev.block_finish(0, {"type": "text", "text": "first"}),
            ev.finish(),
        ]
        stream = feed(make_stream(kind), events)
        assert content_blocks(final_message(stream)) == [
            {"type": "text", "text": "first", "index": 0},
            {"type": "text", "text": "second", "index": 2},
            image,
            extra,
        ]


# ---------------------------------------------------------------------------
# Unknown event and delta types
# ---------------------------------------------------------------------------


class TestUnknownTypes:
    def test_unknown_event_and_delta_types_are_replayed_and_otherwise_ignored(
        self, kind: str
    ) -> None:
        unknown_event = {"event": "message-annotation", "payload": {"x": 1}}
        unknown_delta = {
            "event": "content-block-delta",
            "index": 0,
            "delta": {"type": "citation-delta", "citation": {"url": "u"}},
        }
        plain = ev.simple_text_message(["Hel", "lo"])
        with_unknown = [*plain[:2], unknown_event, plain[2], unknown_delta, *plain[3:]]
        for event in (unknown_event, unknown_delta):
            validate_event(event)

        reference = feed(make_stream(kind), copy.deepcopy(plain))
        stream = feed(make_stream(kind), copy.deepcopy(with_unknown))

        assert stream.state is StreamState.FINISHED
        assert final_message(stream).to_dict() == final_message(reference).to_dict()
        seen, err = replay(stream)
        assert err is None
        assert seen == with_unknown

    def test_validate_event_returns_an_unknown_type_unchanged(self) -> None:
        assert validate_event({"event": "some-future-event", "x": [1]}) == "some-future-event"


# ---------------------------------------------------------------------------
# Legacy ``content_block`` shapes
# ---------------------------------------------------------------------------


class TestLegacyContentBlockShapes:
    def test_legacy_start_and_finish_use_content_block(self, kind: str) -> None:
        events: list[Event] = [
            ev.start(),
            {
                "event": "content-block-start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
            ev.text(0, "Hi"),
            {
                "event": "content-block-finish",
                "index": 0,
                "content_block": {"type": "text", "text": "Hi!"},
            },
            {
                "event": "content-block-finish",
                "index": 1,
                "content_block": {
                    "type": "reasoning",
                    "reasoning": "r",
                    "extras": {"signature": "s"},
                },
            },
            ev.finish(),
        ]
        stream = feed(make_stream(kind), events)
        assert content_blocks(final_message(stream)) == [
            {"type": "text", "text": "Hi!", "index": 0},
            {"type": "reasoning", "reasoning": "r", "extras": {"signature": "s"}, "index": 1},
        ]

    def test_legacy_text_and_reasoning_deltas(self) -> None:
        stream = ChatModelStream()
        feed(
            stream,
            [
                ev.start(),
                {
                    "event": "content-block-delta",
                    "index": 0,
                    "content_block": {"type": "reasoning", "reasoning": "th"},
                },
                {
                    "event": "content-block-delta",
                    "index": 0,
                    "content_block": {"type": "reasoning", "reasoning": "ink"},
                },
                {
                    "event": "content-block-delta",
                    "index": 1,
                    "content_block": {"type": "text", "text": "Hel"},
                },
                {
                    "event": "content-block-delta",
                    "index": 1,
                    "content_block": {"type": "text", "text": "lo"},
                },
                ev.finish(),
            ],
        )
        assert list(stream.text) == ["Hel", "lo"]
        assert list(stream.reasoning) == ["th", "ink"]
        assert str(stream.text) == "Hello"
        assert str(stream.reasoning) == "think"
        assert content_blocks(stream.output) == [
            {"type": "reasoning", "reasoning": "think", "index": 0},
            {"type": "text", "text": "Hello", "index": 1},
        ]

    def test_legacy_tool_call_chunk_deltas_append_args(self) -> None:
        def chunk(wire: int, **fields: Any) -> Event:
            return {
                "event": "content-block-delta",
                "index": wire,
                "content_block": {"type": "tool_call_chunk", **fields},
            }

        stream = ChatModelStream()
        feed(
            stream,
            [
                ev.start(),
                chunk(0, id="call_a", name="get_weather", args='{"city": ', index=0),
                chunk(1, id="call_b", name="get_time", args="{}", index=1),
                chunk(0, args='"Paris"}', index=0),
                ev.finish(),
            ],
        )
        assert list(stream.tool_calls) == [
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
                "args": "{}",
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
        assert stream.tool_calls.get() == [
            {"type": "tool_call", "id": "call_a", "name": "get_weather", "args": {"city": "Paris"}},
            {"type": "tool_call", "id": "call_b", "name": "get_time", "args": {}},
        ]

    def test_legacy_tool_call_chunk_deltas_without_wire_index_use_provider_index(self) -> None:
        def chunk(**fields: Any) -> Event:
            return {
                "event": "content-block-delta",
                "content_block": {"type": "tool_call_chunk", **fields},
            }

        stream = ChatModelStream()
        feed(
            stream,
            [
                ev.start(),
                chunk(id="a", name="f", args='{"x"', index=0),
                chunk(id="b", name="g", args='{"y": 2}', index=1),
                chunk(args=": 1}", index=0),
                ev.finish(),
            ],
        )
        assert [(c["id"], c["args"]) for c in stream.tool_calls] == [
            ("a", '{"x"'),
            ("b", '{"y": 2}'),
            ("a", ": 1}"),
        ]
        assert {tc["id"]: tc["args"] for tc in stream.tool_calls.get()} == {
            "a": {"x": 1},
            "b": {"y": 2},
        }

    def test_content_wins_over_content_block_when_both_are_present(self, kind: str) -> None:
        event = {
            "event": "content-block-finish",
            "index": 0,
            "content": {"type": "text", "text": "new"},
            "content_block": {"type": "text", "text": "old"},
        }
        stream = feed(make_stream(kind), [ev.start(), event, ev.finish()])
        assert final_message(stream).text == "new"


# ---------------------------------------------------------------------------
# validate_event on its own
# ---------------------------------------------------------------------------


class TestValidateEventStandalone:
    def test_returns_the_event_type_for_each_valid_event(self) -> None:
        for event in ev.mixed_message():
            assert validate_event(event) == event["event"]

    def test_does_not_mutate_or_need_a_stream(self) -> None:
        events = ev.mixed_message()
        before = copy.deepcopy(events)
        for event in events:
            validate_event(event)
        assert events == before

    def test_accepts_legacy_shapes(self) -> None:
        assert (
            validate_event(
                {
                    "event": "content-block-delta",
                    "index": 0,
                    "content_block": {"type": "text", "text": "x"},
                }
            )
            == "content-block-delta"
        )
        assert (
            validate_event(
                {"event": "content-block-start", "index": 0, "content_block": {"type": "text"}}
            )
            == "content-block-start"
        )

    def test_protocol_error_is_catchable_as_value_error(self) -> None:
        with pytest.raises(
            ValueError, match=re.escape("'content-block-delta' event: field 'delta.text'")
        ):
            validate_event(
                {
                    "event": "content-block-delta",
                    "index": 0,
                    "delta": {"type": "text-delta", "text": 3},
                }
            )
