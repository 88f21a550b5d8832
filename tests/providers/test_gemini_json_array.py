"""JSONArrayDecoder: the framing of Gemini ``streamGenerateContent`` without
``alt=sse`` (one JSON array, each element handed over as soon as it is
complete), split at every possible point."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streamblocks._errors import IncompleteStreamError, ProtocolError
from streamblocks.providers._framing import JSONArrayDecoder
from tests.providers.replay import FIXTURES, raw_chunks

ELEMENTS: list[dict[str, Any]] = [
    {"candidates": [{"content": {"parts": [{"text": 'say "hi" \\ then [bye] {ok}'}]}}]},
    {"nested": [[1, [2, {"a": [3]}]], {"b": {"c": []}}], "empty": {}, "s": "\\"},
    {"unicode": "Zürich ☃ 🦩 — ünïcödé", "escapes": '\u00e9\n\t\\u0041"', "n": -1.5e3},
    {"end": True, "brackets": "]]}}", "quote_backslash": '\\"'},
]


def decode(pieces: list[bytes]) -> list[Any]:
    decoder = JSONArrayDecoder()
    out: list[Any] = []
    for piece in pieces:
        out.extend(decoder.feed(piece))
    out.extend(decoder.close())
    return out


def body(separator: str = ",", indent: int | None = None) -> bytes:
    items = [json.dumps(e, indent=indent, ensure_ascii=False) for e in ELEMENTS]
    return ("[" + separator.join(items) + "]").encode("utf-8")


@pytest.mark.parametrize(
    "data",
    [
        body(),
        body(separator="\n,\r\n", indent=2),
        body(separator=" ,\t", indent=None),
        json.dumps(ELEMENTS, indent=4).encode(),
        json.dumps(ELEMENTS, ensure_ascii=True).encode(),
    ],
    ids=["compact", "gemini-crlf", "tabs", "indent4", "ascii-escapes"],
)
def test_every_split_point_gives_the_same_elements(data: bytes) -> None:
    assert decode([data]) == ELEMENTS
    # Two pieces, cut at every byte: inside strings, escapes, multi-byte characters.
    for cut in range(1, len(data)):
        assert decode([data[:cut], data[cut:]]) == ELEMENTS, f"cut at byte {cut}"
    assert decode([data[i : i + 1] for i in range(len(data))]) == ELEMENTS


def _element_ends(data: bytes) -> list[int]:
    """Byte offset just past each element of ``data``, found with the stdlib decoder."""
    text = data.decode("utf-8")
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    ends: list[int] = []
    while True:
        while text[pos] in " \t\r\n,":
            pos += 1
        if text[pos] == "]":
            return ends
        _, pos = decoder.raw_decode(text, pos)
        ends.append(len(text[:pos].encode("utf-8")))


def test_elements_come_out_as_soon_as_they_are_complete() -> None:
    data = body(separator="\n,\r\n", indent=2)
    ends = _element_ends(data)
    decoder = JSONArrayDecoder()
    seen: list[Any] = []
    for i in range(len(data)):
        seen.extend(decoder.feed(data[i : i + 1]))
        # An element is out once its closing brace is in, never later.
        assert len(seen) == sum(1 for end in ends if end <= i + 1)
    assert decoder.close() == []
    assert seen == ELEMENTS


def test_a_split_inside_a_multibyte_character() -> None:
    data = b'[{"t": "\xf0\x9f\xa6\xa9 and \xe2\x98\x83"}]'
    flamingo = data.index(b"\xf0")
    for cut in range(flamingo + 1, flamingo + 4):
        assert decode([data[:cut], data[cut:]]) == [{"t": "🦩 and ☃"}]


def test_a_split_between_a_backslash_and_what_it_escapes() -> None:
    data = b'[{"a": "x\\\\"}, {"b": "y\\"z"}]'  # "x\\" then "y\"z"
    for cut in range(1, len(data)):
        assert decode([data[:cut], data[cut:]]) == [{"a": "x\\"}, {"b": 'y"z'}]


def test_whitespace_only_feeds_and_a_bom() -> None:
    decoder = JSONArrayDecoder()
    assert decoder.feed(b"   ") == []
    assert decoder.feed(b"\r\n\t") == []
    assert decoder.feed("\ufeff".encode()) == []
    assert decoder.feed(b' [ \n{"a": 1}') == [{"a": 1}]
    assert decoder.feed(b"  \n") == []
    assert decoder.feed(b"]\n") == []
    assert decoder.close() == []


def test_an_empty_array() -> None:
    assert decode([b"[]"]) == []
    assert decode([b"[", b" \n", b"]"]) == []


def test_an_empty_body_yields_nothing() -> None:
    # Not an error for the framing layer: the adapter reports the missing answer.
    assert decode([]) == []
    assert decode([b"  \n"]) == []


@pytest.mark.parametrize(
    "data",
    [
        b'{"error": {"code": 400}}',
        b"data: {}",
        b'"text"',
    ],
)
def test_a_body_that_is_not_an_array(data: bytes) -> None:
    decoder = JSONArrayDecoder()
    with pytest.raises(ProtocolError, match="expected a JSON array"):
        decoder.feed(data)


@pytest.mark.parametrize("data", [b"[1, 2]", b'["a"]', b"[null]"])
def test_elements_must_be_objects(data: bytes) -> None:
    with pytest.raises(ProtocolError, match="expected a JSON object"):
        decode([data])


def test_an_invalid_element_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="not valid JSON"):
        decode([b'[{"a": 1,}]'])


@pytest.mark.parametrize(
    "data",
    [
        b'[{"a": 1}',
        b'[{"a": 1},',
        b'[{"a": {"b": 1}',
        b'[{"a": "unterminated',
        b"[",
    ],
)
def test_a_truncated_array_is_incomplete_at_close(data: bytes) -> None:
    decoder = JSONArrayDecoder()
    decoder.feed(data)
    with pytest.raises(IncompleteStreamError, match="closing"):
        decoder.close()


@pytest.mark.parametrize("trailer", [b'{"b": 2}', b"x", b' \n{"b": 2}]', b"[]"])
def test_data_after_the_array_is_a_protocol_error(trailer: bytes) -> None:
    decoder = JSONArrayDecoder()
    assert decoder.feed(b'[{"a": 1}]') == [{"a": 1}]
    with pytest.raises(ProtocolError, match="after the JSON array"):
        decoder.feed(trailer)


@pytest.mark.parametrize("trailer", [b"]", b",", b", ]"])
def test_separators_after_the_array_are_a_protocol_error(trailer: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode([b'[{"a": 1}]', trailer])


def test_the_recorded_gemini_body() -> None:
    path = FIXTURES / "gemini" / "gemini-2.5-flash-json-array-stream-thought-function-call.json"
    data = path.read_bytes()
    expected = raw_chunks(path)
    assert decode([data]) == expected
    assert decode([data[i : i + 1] for i in range(len(data))]) == expected
    for size in (2, 3, 5, 7, 64):
        assert decode([data[i : i + size] for i in range(0, len(data), size)]) == expected
