"""Chunk decoders (SSE with JSON data, JSON lines) and the WireParser that feeds an adapter.

JSONArrayDecoder is covered elsewhere.
"""

from __future__ import annotations

import itertools
import json
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamblocks import IncompleteStreamError, ProtocolError, ProviderError
from streamblocks.providers._framing import (
    JSONArrayDecoder,
    JSONLinesDecoder,
    SSEChunkDecoder,
    WireParser,
    chunk_decoder,
)

if TYPE_CHECKING:
    from streamblocks.providers._builder import Event
    from streamblocks.providers._framing import ChunkDecoder


def run(decoder: ChunkDecoder, chunks: list[bytes]) -> list[Any]:
    out: list[Any] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    out.extend(decoder.close())
    return out


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def collect_until_error(
    feed: Any, close: Any, chunks: list[bytes]
) -> tuple[list[Any], BaseException | None]:
    """What a caller receives before an error, and the error."""
    out: list[Any] = []
    try:
        for chunk in chunks:
            out.extend(feed(chunk))
        out.extend(close())
    except (ProtocolError, ProviderError) as exc:
        return out, exc
    return out, None


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
_objects = st.dictionaries(st.text(max_size=5), _json, min_size=1, max_size=4)


# -- SSEChunkDecoder --------------------------------------------------------------


def test_sse_json_chunks() -> None:
    stream = (
        b"event: message_start\n"
        b'data: {"type": "message_start", "n": 1}\n\n'
        b": keep-alive\n\n"
        b'data: {"type": "delta", "text": "h\xc3\xa9"}\n\n'
        b"data: [1, 2]\n\n"
    )
    expected = [{"type": "message_start", "n": 1}, {"type": "delta", "text": "h\u00e9"}, [1, 2]]
    assert run(SSEChunkDecoder(), [stream]) == expected
    assert run(SSEChunkDecoder(), bytewise(stream)) == expected


def test_sse_chunks_are_returned_by_the_feed_that_completes_them() -> None:
    decoder = SSEChunkDecoder()
    assert decoder.feed(b'data: {"a": 1}\n') == []
    assert decoder.feed(b'\ndata: {"b"') == [{"a": 1}]
    assert decoder.feed(b": 2}\r\n\r\n") == [{"b": 2}]
    assert decoder.close() == []


def test_sse_multiline_data_is_one_json_value() -> None:
    stream = b'data: {"a":\ndata: [1,\ndata: 2]}\n\n'
    assert run(SSEChunkDecoder(), [stream]) == [{"a": [1, 2]}]


@pytest.mark.parametrize(
    "payload",
    [
        b'{"type":"message_stop"   }',
        b'{"type":"message_stop"}   ',
        b'  {"type":"message_stop"}',
        b'{"type" : "message_stop" ,\t"x" :1 }',
    ],
)
def test_sse_padded_json_parses(payload: bytes) -> None:
    expected = json.loads(payload)
    assert run(SSEChunkDecoder(), [b"event: message_stop\ndata: " + payload + b"\n\n"]) == [
        expected
    ]


def test_sse_done() -> None:
    decoder = SSEChunkDecoder()
    assert decoder.done is False
    assert decoder.feed(b'data: {"a": 1}\n\n') == [{"a": 1}]
    assert decoder.done is False
    assert decoder.feed(b"data: [DONE]\n\n") == []
    assert decoder.done is True
    assert decoder.close() == []
    assert decoder.done is True


def test_sse_done_without_space_and_split() -> None:
    decoder = SSEChunkDecoder()
    assert run(decoder, bytewise(b'data: {"x": 0}\r\n\r\ndata:[DONE]\r\n\r\n')) == [{"x": 0}]
    assert decoder.done is True


def test_sse_done_at_close_without_blank_line() -> None:
    decoder = SSEChunkDecoder()
    assert decoder.feed(b"data: [DONE]") == []
    assert decoder.done is False
    assert decoder.close() == []
    assert decoder.done is True


def test_sse_done_in_json_is_not_done() -> None:
    decoder = SSEChunkDecoder()
    assert run(decoder, [b'data: "[DONE]"\n\ndata: ["[DONE]"]\n\n']) == ["[DONE]", ["[DONE]"]]
    assert decoder.done is False


@pytest.mark.parametrize(
    "stream",
    [
        b"data:\n\n",
        b"data: \n\n",
        b"data:   \t \n\n",
        b"data\n\n",
        b"data\ndata\n\n",
        b"event: ping\n\n",
        b": comment\n\n",
        b"\n\n\n",
        b"",
    ],
)
def test_sse_blank_data_is_skipped(stream: bytes) -> None:
    decoder = SSEChunkDecoder()
    assert run(decoder, [stream + b'data: {"after": true}\n\n']) == [{"after": True}]
    assert decoder.done is False


def test_sse_final_event_without_blank_line_is_parsed_at_close() -> None:
    decoder = SSEChunkDecoder()
    assert decoder.feed(b'data: {"a": 1}\n\ndata: {"b": 2}') == [{"a": 1}]
    assert decoder.close() == [{"b": 2}]


@pytest.mark.parametrize(
    "payload", ["{bad", '{"a": 1', "not json", "[DONE] ", "{'a': 1}", "\u00e9t\u00e9", "1 2"]
)
def test_sse_invalid_json_names_the_payload(payload: str) -> None:
    decoder = SSEChunkDecoder()
    with pytest.raises(ProtocolError) as info:
        decoder.feed(b"data: " + payload.encode() + b"\n\n")
    err = info.value
    assert isinstance(err, ValueError)
    assert repr(payload) in str(err)
    assert "SSE data" in str(err)
    assert err.field == "data"
    assert err.event_type is None
    assert isinstance(err.__cause__, json.JSONDecodeError)


def test_sse_invalid_json_at_close_is_a_cut_body() -> None:
    # Unparseable JSON exactly where the body ends means the body was cut.
    decoder = SSEChunkDecoder()
    assert decoder.feed(b"data: {oops") == []
    with pytest.raises(IncompleteStreamError, match="oops") as info:
        decoder.close()
    assert isinstance(info.value.__cause__, ProtocolError)


def test_sse_long_invalid_payload_is_shortened_in_the_message() -> None:
    payload = "{" + "x" * 5000
    with pytest.raises(ProtocolError) as info:
        SSEChunkDecoder().feed(b"data: " + payload.encode() + b"\n\n")
    message = str(info.value)
    assert repr(payload[:117] + "...") in message
    assert len(message) < 400


def test_sse_invalid_utf8_in_a_json_string_is_replaced() -> None:
    assert run(SSEChunkDecoder(), [b'data: {"t": "a\xffb"}\n\n']) == [{"t": "a\ufffdb"}]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["", "delta", "ping"]), _objects), max_size=6),
    st.sampled_from([b"\n", b"\r\n", b"\r"]),
    st.booleans(),
    st.data(),
)
def test_sse_any_split(
    items: list[tuple[str, dict[str, Any]]], eol: bytes, done: bool, data: st.DataObject
) -> None:
    body = b""
    for name, obj in items:
        if name:
            body += b"event: " + name.encode() + eol
        body += b"data: " + json.dumps(obj, ensure_ascii=False).encode() + eol + eol
        body += b": keep-alive" + eol + eol
    if done:
        body += b"data: [DONE]" + eol + eol
    cuts = (
        data.draw(st.lists(st.integers(1, len(body) - 1), unique=True, max_size=8))
        if len(body) > 1
        else []
    )
    decoder = SSEChunkDecoder()
    assert run(decoder, split(body, cuts)) == [obj for _, obj in items]
    assert decoder.done is done


@pytest.mark.timeout(10)
def test_sse_long_json_line_byte_by_byte() -> None:
    text = "abc\u20ac" * 50_000  # 300 KB of JSON text
    line = b'data: {"text": "' + text.encode() + b'"}'
    decoder = SSEChunkDecoder()
    for byte in bytewise(line):
        assert decoder.feed(byte) == []
    assert decoder.feed(b"\n\n") == [{"text": text}]


# -- JSONLinesDecoder -------------------------------------------------------------


def test_jsonl_lines() -> None:
    body = b'{"a": 1}\n{"b": [1, 2]}\n"s"\n3\n'
    expected = [{"a": 1}, {"b": [1, 2]}, "s", 3]
    assert run(JSONLinesDecoder(), [body]) == expected
    assert run(JSONLinesDecoder(), bytewise(body)) == expected


def test_jsonl_lines_are_returned_by_the_feed_that_completes_them() -> None:
    decoder = JSONLinesDecoder()
    assert decoder.feed(b'{"a":') == []
    assert decoder.feed(b"") == []
    assert decoder.feed(b' 1}\n{"b": 2}\n{"c"') == [{"a": 1}, {"b": 2}]
    assert decoder.feed(b": 3}") == []
    assert decoder.feed(b"\n") == [{"c": 3}]
    assert decoder.close() == []


def test_jsonl_last_line_without_newline_is_parsed_at_close() -> None:
    decoder = JSONLinesDecoder()
    assert decoder.feed(b'{"a": 1}\n{"done": true}') == [{"a": 1}]
    assert decoder.close() == [{"done": True}]


def test_jsonl_blank_lines_and_crlf() -> None:
    body = b'\n\r\n  \n{"a": 1}\r\n\t\r\n{"b": 2}\r\n\r\n  '
    assert run(JSONLinesDecoder(), [body]) == [{"a": 1}, {"b": 2}]
    assert run(JSONLinesDecoder(), bytewise(body)) == [{"a": 1}, {"b": 2}]


def test_jsonl_empty_body() -> None:
    assert run(JSONLinesDecoder(), []) == []
    assert run(JSONLinesDecoder(), [b""]) == []
    assert run(JSONLinesDecoder(), [b"\n\n"]) == []


def test_jsonl_multibyte_character_split_anywhere() -> None:
    body = '{"t": "\u00e9\u20ac\U0001f600"}\n'.encode()
    for cut in range(len(body) + 1):
        assert run(JSONLinesDecoder(), [body[:cut], body[cut:]]) == [
            {"t": "\u00e9\u20ac\U0001f600"}
        ]


def test_jsonl_invalid_json_names_the_line() -> None:
    decoder = JSONLinesDecoder()
    # The good line before the bad one is returned; the error waits in
    # `error` and is raised by the next call (and stays raised).
    assert decoder.feed(b'{"a": 1}\n{nope}\n') == [{"a": 1}]
    assert isinstance(decoder.error, ProtocolError)
    with pytest.raises(ProtocolError) as info:
        decoder.feed(b'{"b": 2}\n')
    with pytest.raises(ProtocolError):
        decoder.close()
    assert "'{nope}'" in str(info.value)
    assert "JSON line" in str(info.value)
    assert info.value.field == "data"


def test_jsonl_invalid_last_line_at_close() -> None:
    decoder = JSONLinesDecoder()
    assert decoder.feed(b'{"a": 1}\n{"trunc') == [{"a": 1}]
    with pytest.raises(IncompleteStreamError) as info:
        decoder.close()
    assert isinstance(info.value.__cause__, ProtocolError)
    assert repr('{"trunc') in str(info.value)
    assert "last JSON line" in str(info.value)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(_json, max_size=8),
    st.sampled_from([b"\n", b"\r\n"]),
    st.booleans(),
    st.data(),
)
def test_jsonl_any_split(
    values: list[Any], eol: bytes, final_eol: bool, data: st.DataObject
) -> None:
    body = eol.join(json.dumps(v, ensure_ascii=False).encode() for v in values)
    if final_eol and values:
        body += eol
    cuts = (
        data.draw(st.lists(st.integers(0, len(body)), max_size=8))  # empty chunks too
        if body
        else []
    )
    assert run(JSONLinesDecoder(), split(body, cuts)) == values


@pytest.mark.timeout(10)
def test_jsonl_long_line_byte_by_byte() -> None:
    text = "x\u00e9" * 70_000  # 210 KB
    line = json.dumps({"t": text}, ensure_ascii=False).encode()
    decoder = JSONLinesDecoder()
    for byte in bytewise(line):
        assert decoder.feed(byte) == []
    # The unfinished line is held once.
    assert sum(len(piece) for piece in decoder._partial) == len(line)
    assert decoder.close() == [{"t": text}]


# -- chunk_decoder ----------------------------------------------------------------


def test_chunk_decoder_formats() -> None:
    assert type(chunk_decoder("sse")) is SSEChunkDecoder
    assert type(chunk_decoder("jsonl")) is JSONLinesDecoder
    assert type(chunk_decoder("json-array")) is JSONArrayDecoder
    assert chunk_decoder("sse") is not chunk_decoder("sse")  # fresh each time


@pytest.mark.parametrize("fmt", ["", "SSE", "json", "ndjson", "xml"])
def test_chunk_decoder_unknown_format(fmt: str) -> None:
    with pytest.raises(ValueError, match="unknown wire format") as info:
        chunk_decoder(fmt)  # type: ignore[arg-type]
    assert repr(fmt) in str(info.value)
    assert not isinstance(info.value, ProtocolError)


# -- WireParser -------------------------------------------------------------------


class FakeAdapter:
    """Records what it is given; each chunk {"n": k} yields k events."""

    def __init__(self, *, fail_on: int | None = None, incomplete: bool = False) -> None:
        self.log: list[Any] = []
        self.fail_on = fail_on
        self.incomplete = incomplete
        self._finished = False

    @property
    def finished(self) -> bool:
        return self._finished

    def feed(self, chunk: Any) -> list[Event]:
        self.log.append(chunk)
        if chunk.get("n") == self.fail_on:
            msg = f"provider error in chunk {chunk}"
            raise ProviderError(msg, code="boom")
        return [{"type": "seen", "chunk": chunk, "i": i} for i in range(chunk.get("n", 1))]

    def end(self) -> list[Event]:
        self.log.append("end")
        if self.incomplete:
            msg = "no finish"
            raise IncompleteStreamError(msg)
        self._finished = True
        return [{"type": "message-finish"}]


def seen(*chunks: dict[str, Any]) -> list[Event]:
    return [{"type": "seen", "chunk": chunk, "i": i} for chunk in chunks for i in range(chunk["n"])]


def sse(*chunks: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks)


def test_wire_parser_defaults_to_sse() -> None:
    adapter = FakeAdapter()
    parser = WireParser(adapter)
    assert parser.adapter is adapter
    assert isinstance(parser.decoder, SSEChunkDecoder)
    assert isinstance(WireParser(adapter, "jsonl").decoder, JSONLinesDecoder)


def test_wire_parser_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown wire format"):
        WireParser(FakeAdapter(), "csv")  # type: ignore[arg-type]


def test_wire_parser_feeds_every_chunk_in_order() -> None:
    adapter = FakeAdapter()
    parser = WireParser(adapter)
    a, b, c, d = {"n": 2}, {"n": 0}, {"n": 1}, {"n": 3}
    assert list(parser.feed(b"")) == []
    assert list(parser.feed(sse(a)[:5])) == []
    assert list(parser.feed(sse(a)[5:])) == seen(a)
    assert list(parser.feed(sse(b))) == []  # a chunk with no events
    assert list(parser.feed(sse(c, d, b))) == seen(c, d)
    assert adapter.log == [a, b, c, d, b]
    assert list(parser.close()) == [{"type": "message-finish"}]
    assert adapter.log == [a, b, c, d, b, "end"]
    assert adapter.finished


def test_wire_parser_close_feeds_the_remaining_chunks_then_ends() -> None:
    adapter = FakeAdapter()
    parser = WireParser(adapter, "jsonl")
    assert list(parser.feed(b'{"n": 1}\n{"n": 2}')) == seen({"n": 1})
    assert adapter.log == [{"n": 1}]
    assert list(parser.close()) == [*seen({"n": 2}), {"type": "message-finish"}]
    assert adapter.log == [{"n": 1}, {"n": 2}, "end"]


def test_wire_parser_close_with_nothing_pending_only_ends() -> None:
    adapter = FakeAdapter()
    parser = WireParser(adapter)
    assert list(parser.close()) == [{"type": "message-finish"}]
    assert adapter.log == ["end"]


def test_wire_parser_incomplete_stream_propagates_after_the_last_chunks() -> None:
    adapter = FakeAdapter(incomplete=True)
    parser = WireParser(adapter)
    assert list(parser.feed(b'data: {"n": 1}')) == []
    with pytest.raises(IncompleteStreamError):
        list(parser.close())
    assert adapter.log == [{"n": 1}, "end"]
    assert not adapter.finished


def test_wire_parser_done_does_not_reach_the_adapter() -> None:
    adapter = FakeAdapter()
    parser = WireParser(adapter)
    assert list(parser.feed(sse({"n": 1}) + b"data: [DONE]\n\n")) == seen({"n": 1})
    assert isinstance(parser.decoder, SSEChunkDecoder)
    assert parser.decoder.done
    assert adapter.log == [{"n": 1}]


def test_wire_parser_protocol_error_from_the_decoder() -> None:
    adapter = FakeAdapter()
    parser = WireParser(adapter)
    with pytest.raises(ProtocolError, match="not json"):
        list(parser.feed(b"data: not json\n\n"))
    assert adapter.log == []


def test_wire_parser_adapter_error_propagates() -> None:
    adapter = FakeAdapter(fail_on=7)
    parser = WireParser(adapter)
    assert list(parser.feed(sse({"n": 1}))) == seen({"n": 1})
    with pytest.raises(ProviderError, match="provider error"):
        list(parser.feed(sse({"n": 7})))
    assert adapter.log == [{"n": 1}, {"n": 7}]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 3), max_size=8), st.sampled_from(["sse", "jsonl"]), st.data())
def test_wire_parser_any_split(counts: list[int], fmt: str, data: st.DataObject) -> None:
    chunks = [{"n": n, "k": k} for k, n in enumerate(counts)]
    if fmt == "sse":
        body = sse(*chunks)
    else:
        body = b"".join(json.dumps(c).encode() + b"\n" for c in chunks)
    cuts = data.draw(st.lists(st.integers(1, max(1, len(body) - 1)), unique=True, max_size=8))
    adapter = FakeAdapter()
    parser = WireParser(adapter, "sse" if fmt == "sse" else "jsonl")
    events = [event for part in split(body, cuts) for event in parser.feed(part)]
    events += list(parser.close())
    assert events == [*seen(*chunks), {"type": "message-finish"}]
    assert adapter.log == [*chunks, "end"]


# -- an error after good chunks in the same feed ---------------------------------


def test_sse_chunks_before_invalid_json_do_not_depend_on_the_split() -> None:
    body = b'data: {"a": 1}\n\ndata: {bad\n\n'
    first, second = body[:16], body[16:]
    split_decoder, whole_decoder = SSEChunkDecoder(), SSEChunkDecoder()
    per_event = collect_until_error(split_decoder.feed, split_decoder.close, [first, second])
    whole = collect_until_error(whole_decoder.feed, whole_decoder.close, [body])
    assert per_event[0] == [{"a": 1}]
    assert isinstance(per_event[1], ProtocolError)
    assert isinstance(whole[1], ProtocolError)
    assert whole[0] == per_event[0]


def test_wire_parser_events_before_a_provider_error_do_not_depend_on_the_split() -> None:
    body = sse({"n": 2}, {"n": 7})
    cut = len(sse({"n": 2}))
    results = []
    for chunks in ([body[:cut], body[cut:]], [body]):
        parser = WireParser(FakeAdapter(fail_on=7))
        results.append(collect_until_error(parser.feed, parser.close, chunks))
    (per_event, err1), (whole, err2) = results
    assert per_event == seen({"n": 2})
    assert isinstance(err1, ProviderError)
    assert isinstance(err2, ProviderError)
    assert whole == per_event
