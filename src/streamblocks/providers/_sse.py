"""A sans-I/O decoder for server-sent events (the WHATWG ``text/event-stream`` format).

Feed it the body's bytes as they arrive, split anywhere; it returns the
events that completed. It handles ``\\r\\n``, ``\\n`` and lone ``\\r`` line
ends (including a ``\\r\\n`` split across two feeds), multi-line ``data:``,
``event:``, ``id:`` and ``retry:`` fields, comments (keep-alives), a leading
byte-order mark, and a UTF-8 character split across feeds (lines are decoded
only once complete, and line ends are ASCII). Invalid UTF-8 becomes U+FFFD,
as the standard says.

Cost is linear in the bytes fed, however they are split: an unfinished line
is kept as a list of pieces and joined once, when its end arrives.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SSEDecoder", "ServerSentEvent"]


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event. ``event`` defaults to ``"message"`` as in the standard;
    ``id`` is the last event id seen so far in the stream (it persists)."""

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Bytes in, :class:`ServerSentEvent` out. No I/O, no event loop."""

    __slots__ = ("_data", "_event", "_first", "_last_id", "_partial", "_retry", "_skip_lf")

    def __init__(self) -> None:
        self._partial: list[bytes] = []  # pieces of an unfinished line
        self._skip_lf = False  # the previous feed ended with \r: a leading \n is its pair
        self._first = True  # a BOM may start the stream
        self._data: list[str] = []
        self._event = ""
        self._last_id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode ``chunk``; return the events it completed, in order."""
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
                if not chunk:
                    return []
        if b"\n" not in chunk and b"\r" not in chunk:
            self._partial.append(chunk)
            return []
        if self._partial:
            self._partial.append(chunk)
            chunk = b"".join(self._partial)
            self._partial.clear()
        lines = chunk.splitlines()
        tail = chunk[-1:]
        if tail == b"\r":
            self._skip_lf = True
        elif tail != b"\n":
            self._partial.append(lines.pop())
        events: list[ServerSentEvent] = []
        for raw in lines:
            self._line(raw, events)
        return events

    def close(self) -> list[ServerSentEvent]:
        """The body ended. An event that lacked only its closing blank line is
        dispatched (recorded streams are sometimes trimmed); a half-received
        field line is processed first."""
        events: list[ServerSentEvent] = []
        if self._partial:
            raw = b"".join(self._partial)
            self._partial.clear()
            self._line(raw, events)
        self._line(b"", events)
        return events

    def _line(self, raw: bytes, events: list[ServerSentEvent]) -> None:
        if self._first:
            # Only the stream's very first bytes may be a byte-order mark.
            self._first = False
            if raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
        if not raw:
            if self._data:
                events.append(
                    ServerSentEvent(
                        "\n".join(self._data), self._event or "message", self._last_id, self._retry
                    )
                )
                self._data = []
            self._event = ""
            return
        line = raw.decode("utf-8", "replace")
        if line.startswith("data:"):
            # The common case first: one optional space after the colon.
            value = line[5:]
            self._data.append(value[1:] if value[:1] == " " else value)
            return
        if line[0] == ":":
            return  # a comment: keep-alive
        field, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id":
            if "\0" not in value:
                self._last_id = value
        elif field == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
        # Unknown fields are ignored, as the standard says.
