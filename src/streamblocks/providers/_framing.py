"""From body bytes to provider chunks to protocol events, without I/O.

Providers frame their JSON chunks three ways:

- ``"sse"``: server-sent events whose ``data`` is JSON (OpenAI, Anthropic,
  Gemini with ``alt=sse``); ``[DONE]`` ends OpenAI streams;
- ``"jsonl"``: one JSON object per line (Ollama's native API, and the
  recorded fixtures that stored decoded SSE payloads);
- ``"json-array"``: one JSON array streamed element by element (Gemini
  ``streamGenerateContent`` without ``alt=sse``).

A :class:`ChunkDecoder` turns bytes into parsed chunks; an :class:`Adapter`
turns chunks into protocol events; :class:`WireParser` joins the two. All of
them are plain objects: feed them, read what they return.
"""

from __future__ import annotations

import codecs
import json
import re
from typing import TYPE_CHECKING, Any, Literal, Protocol

from .._errors import IncompleteStreamError, ProtocolError, StreamError
from ._sse import ServerSentEvent, SSEDecoder

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ._builder import Event

__all__ = [
    "Adapter",
    "ChunkDecoder",
    "JSONArrayDecoder",
    "JSONLinesDecoder",
    "SSEChunkDecoder",
    "WireFormat",
    "WireParser",
    "chunk_decoder",
]

WireFormat = Literal["sse", "jsonl", "json-array"]


class Adapter(Protocol):
    """A provider adapter: provider chunks in, protocol events out.

    ``feed`` takes one parsed chunk (a JSON object; for SSE, its ``data``)
    and returns the protocol events it implies, possibly none. A provider
    error inside the stream raises the matching ``ProviderError`` subclass;
    the events of earlier chunks stand. ``end`` is called once the body is
    over: it returns the closing events, or raises ``IncompleteStreamError``
    when the provider never signalled the end of its answer. ``finished``
    says whether ``message-finish`` has been emitted.
    """

    @property
    def finished(self) -> bool: ...

    def feed(self, chunk: Any) -> list[Event]: ...

    def end(self) -> list[Event]: ...


class ChunkDecoder(Protocol):
    """Body bytes in, parsed JSON chunks out.

    A decoder never loses a chunk it decoded: when a batch holds good chunks
    and then a malformed one, ``feed`` returns the good ones and keeps the
    error in :attr:`error`, which the next ``feed`` or ``close`` raises (and
    which :class:`WireParser` raises at once, after the good chunks' events).
    Errors are sticky.
    """

    error: StreamError | None

    def feed(self, data: bytes) -> list[Any]: ...

    def close(self) -> list[Any]: ...


def _truncated(exc: ProtocolError) -> IncompleteStreamError:
    """Unparseable JSON where the body ended: the body was cut, most likely."""
    error = IncompleteStreamError(f"the body ended inside a chunk: {exc}")
    error.__cause__ = exc
    return error


class _Decoder:
    """The deferred-error bookkeeping every decoder shares."""

    __slots__ = ("error",)

    def __init__(self) -> None:
        self.error: StreamError | None = None

    def _check(self) -> None:
        if self.error is not None:
            raise self.error

    def _defer(self, exc: StreamError, decoded: list[Any]) -> list[Any]:
        """Keep ``exc`` for the next call if ``decoded`` has chunks; else raise it now."""
        self.error = exc
        if not decoded:
            raise exc
        return decoded


def _loads(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        snippet = text if len(text) <= 120 else text[:117] + "..."
        msg = f"{where} is not valid JSON ({exc}): {snippet!r}"
        raise ProtocolError(msg, event_type=None, field="data") from exc


class SSEChunkDecoder(_Decoder):
    """SSE whose ``data`` fields are JSON. ``[DONE]`` sets :attr:`done` and yields nothing.

    JSON tolerates surrounding whitespace, so Anthropic's padded payloads
    (``{"type":"message_stop"   }``) parse as they are.
    """

    __slots__ = ("_sse", "done")

    def __init__(self) -> None:
        super().__init__()
        self._sse = SSEDecoder()
        self.done = False

    def feed(self, data: bytes) -> list[Any]:
        self._check()
        return self._chunks(self._sse.feed(data))

    def close(self) -> list[Any]:
        self._check()
        return self._chunks(self._sse.close(), at_end=True)

    def _chunks(self, events: list[ServerSentEvent], at_end: bool = False) -> list[Any]:
        chunks: list[Any] = []
        for event in events:
            data = event.data
            if data == "[DONE]":
                self.done = True
                continue
            if not data.strip():
                continue
            try:
                chunks.append(_loads(data, "an SSE data field"))
            except ProtocolError as exc:
                return self._defer(_truncated(exc) if at_end else exc, chunks)
        return chunks


class JSONLinesDecoder(_Decoder):
    """One JSON value per line; blank lines are skipped."""

    __slots__ = ("_partial",)

    def __init__(self) -> None:
        super().__init__()
        self._partial: list[bytes] = []

    def feed(self, data: bytes) -> list[Any]:
        self._check()
        if b"\n" not in data:
            if data:
                self._partial.append(data)
            return []
        if self._partial:
            self._partial.append(data)
            data = b"".join(self._partial)
            self._partial.clear()
        lines = data.split(b"\n")
        rest = lines.pop()
        if rest:
            self._partial.append(rest)
        chunks: list[Any] = []
        for line in lines:
            if line.strip():
                try:
                    chunks.append(_loads(line.decode("utf-8", "replace"), "a JSON line"))
                except ProtocolError as exc:
                    return self._defer(exc, chunks)
        return chunks

    def close(self) -> list[Any]:
        self._check()
        rest = b"".join(self._partial)
        self._partial.clear()
        if not rest.strip():
            return []
        try:
            return [_loads(rest.decode("utf-8", "replace"), "the last JSON line")]
        except ProtocolError as exc:
            self.error = _truncated(exc)
            raise self.error from exc


# Characters that matter while scanning a JSON array for element boundaries.
_STRUCTURAL = re.compile(r'["{}\[\]]')
_STRING_SPECIAL = re.compile(r'["\\]')


class JSONArrayDecoder(_Decoder):
    """The elements of one top-level JSON array, each returned as soon as it is complete.

    A scanner tracks nesting depth and string state over the new text only,
    so the cost stays linear however the bytes are split.
    """

    __slots__ = (
        "_buf",
        "_closed",
        "_decoder",
        "_depth",
        "_elem_start",
        "_escape",
        "_in_string",
        "_opened",
        "_scan",
    )

    def __init__(self) -> None:
        super().__init__()
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._buf = ""
        self._scan = 0  # next position of _buf to scan
        self._depth = 0  # nesting depth inside the array (0: between elements)
        self._in_string = False
        self._escape = False
        self._opened = False  # saw the array's '['
        self._closed = False  # saw the array's ']'
        self._elem_start = -1

    def feed(self, data: bytes) -> list[Any]:
        self._check()
        text = self._decoder.decode(data)
        return self._scan_safely(text) if text else []

    def close(self) -> list[Any]:
        self._check()
        elements = self._scan_safely(self._decoder.decode(b"", final=True))
        if self.error is not None or (not self._opened and not self._buf.strip()):
            return elements
        if not self._closed:
            msg = "the JSON array stream ended before its closing ']'"
            return self._defer(IncompleteStreamError(msg), elements)
        return elements

    def _scan_safely(self, text: str) -> list[Any]:
        elements: list[Any] = []
        try:
            self._scan_text(text, elements)
        except StreamError as exc:
            return self._defer(exc, elements)
        return elements

    def _scan_text(self, text: str, elements: list[Any]) -> None:
        buf = self._buf = self._buf + text if self._elem_start >= 0 else text
        if self._elem_start < 0:
            self._scan = 0
        pos = self._scan
        if not self._opened:
            stripped = buf.lstrip("\ufeff \t\r\n")
            if not stripped:
                self._buf = ""
                return
            if stripped[0] != "[":
                msg = f"expected a JSON array, got {stripped[:40]!r}"
                raise ProtocolError(msg, event_type=None, field="body")
            self._opened = True
            pos = len(buf) - len(stripped) + 1
        while pos < len(buf):
            if self._in_string:
                if self._escape:  # a backslash ended the previous feed
                    self._escape = False
                    pos += 1
                    continue
                match = _STRING_SPECIAL.search(buf, pos)
                if match is None:
                    pos = len(buf)
                    break
                if match.group() == "\\":
                    pos = match.end() + 1  # skip the escaped character
                    if pos > len(buf):
                        self._escape = True
                        pos = len(buf)
                    continue
                self._in_string = False
                pos = match.end()
                continue
            if self._depth == 0:
                # Between elements: skip separators; an element starts here.
                ch = buf[pos]
                if ch in " \t\r\n":
                    pos += 1
                    continue
                if self._closed:
                    msg = f"unexpected data after the JSON array: {buf[pos : pos + 40]!r}"
                    raise ProtocolError(msg, event_type=None, field="body")
                if ch == ",":
                    pos += 1
                    continue
                if ch == "]":
                    self._closed = True
                    pos += 1
                    continue
                if ch not in "{[":
                    msg = f"expected a JSON object in the array, got {buf[pos : pos + 40]!r}"
                    raise ProtocolError(msg, event_type=None, field="body")
                self._elem_start = pos
                self._depth = 1
                pos += 1
                continue
            match = _STRUCTURAL.search(buf, pos)
            if match is None:
                pos = len(buf)
                break
            ch = match.group()
            pos = match.end()
            if ch == '"':
                self._in_string = True
            elif ch in "{[":
                self._depth += 1
            elif ch in "}]":
                self._depth -= 1
                if self._depth == 0:
                    elements.append(_loads(buf[self._elem_start : pos], "a JSON array element"))
                    self._elem_start = -1
        if self._elem_start >= 0:
            # Keep only the unfinished element; rebase positions onto it.
            self._buf = buf[self._elem_start :]
            self._scan = pos - self._elem_start
            self._elem_start = 0
        else:
            self._buf = ""
            self._scan = 0


def chunk_decoder(wire_format: WireFormat) -> ChunkDecoder:
    """A fresh decoder for ``wire_format``."""
    if wire_format == "sse":
        return SSEChunkDecoder()
    if wire_format == "jsonl":
        return JSONLinesDecoder()
    if wire_format == "json-array":
        return JSONArrayDecoder()
    msg = f"unknown wire format {wire_format!r}; use 'sse', 'jsonl' or 'json-array'"
    raise ValueError(msg)


class WireParser:
    """Body bytes in, protocol events out: a chunk decoder feeding an adapter."""

    __slots__ = ("adapter", "decoder")

    def __init__(self, adapter: Adapter, wire_format: WireFormat = "sse") -> None:
        self.adapter = adapter
        self.decoder = chunk_decoder(wire_format)

    def feed(self, data: bytes) -> Iterator[Event]:
        """The events ``data`` completes, as they are produced.

        An iterator, so that a failure (malformed JSON, a provider error in
        the stream) is raised *after* every event that preceded it: nothing
        decoded is lost, however the bytes were split. Iterate it to the end
        before feeding more.
        """
        decoder = self.decoder
        feed = self.adapter.feed
        for chunk in decoder.feed(data):
            yield from feed(chunk)
        if decoder.error is not None:
            raise decoder.error

    def close(self) -> Iterator[Event]:
        """The body ended: the last events, then ``IncompleteStreamError`` if the
        provider never finished its answer."""
        decoder = self.decoder
        for chunk in decoder.close():
            yield from self.adapter.feed(chunk)
        if decoder.error is not None:
            raise decoder.error
        yield from self.adapter.end()
