"""Replaying a recorded stream: detect its provider and framing, then run it
through the adapter into an ordinary ``ChatModelStream``.

A recording is a raw response body (``.sse``), decoded payloads one per line
(``.jsonl``), or Gemini's streamed JSON array (``.json``). Detection reads
the payloads' shape: ``choices`` is OpenAI Chat Completions, a
``response.*`` type is OpenAI Responses, ``message_start`` and the other
Messages event types are Anthropic, and ``candidates``/``usageMetadata`` is
Gemini.

A model with no wire (the offline demo model, any ``ChatModel`` subclass) is
recorded as its protocol events instead, one JSON object per line: what
``streamblocks replay --events`` prints and what a ``CallbackHandler`` sees
(:class:`~._record.EventRecorder` writes them). Their provider is
``"events"``, detected by an ``"event"`` key naming a protocol event type
(``message-start``, ``content-block-delta``, ...); :class:`EventsAdapter`
passes them through unchanged, so the stream validates them, an ``error``
event fails it with ``ProviderError`` as it did live, and a recording that
stops before ``message-finish`` ends in ``IncompleteStreamError``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import EmptyStreamError, IncompleteStreamError, InvalidInputError, StreamError
from .._interop import stream_events_sync
from .._protocol import CHECKERS
from ._framing import Adapter, WireFormat, WireParser, chunk_decoder

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .._stream import ChatModelStream
    from ._builder import Event

__all__ = [
    "REPLAY_PROVIDERS",
    "EventsAdapter",
    "adapter_for",
    "detect_format",
    "detect_provider",
    "replay",
]

REPLAY_PROVIDERS = ("openai", "openai-responses", "anthropic", "gemini", "events")
"""The wire formats a recording can be in (``openai`` covers every compatible
server; ``events`` is a recording of protocol events)."""

_ALIASES = {"openai-chat": "openai", "google": "gemini"}
_SUFFIXES: dict[str, WireFormat] = {
    ".sse": "sse",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json-array",
}
_SSE_FIELD = re.compile(rb"^(data|event|id|retry):", re.MULTILINE)
_ANTHROPIC_TYPES = frozenset(
    {"message_start", "content_block_start", "content_block_delta", "message_delta", "ping"}
)
# The event types the protocol defines (an unknown type is valid in a stream,
# but cannot identify a recording).
_PROTOCOL_EVENTS = frozenset(CHECKERS)


class EventsAdapter:
    """Recorded protocol events in, the same events out (provider ``"events"``).

    Each decoded payload is passed through as one event, unchecked: the
    stream validates it on dispatch, exactly as it validated the live event.
    ``end`` raises ``IncompleteStreamError`` unless a ``message-finish`` was
    fed (``EmptyStreamError`` when nothing was), so a truncated recording
    fails instead of being finished by the driver's synthetic ``message-finish``.
    """

    __slots__ = ("_count", "_finished")

    def __init__(self) -> None:
        self._count = 0
        self._finished = False

    @property
    def finished(self) -> bool:
        return self._finished

    def feed(self, chunk: Any) -> list[Event]:
        self._count += 1
        if isinstance(chunk, dict) and chunk.get("event") == "message-finish":
            self._finished = True
        return [chunk]

    def end(self) -> list[Event]:
        if self._finished:
            return []
        if not self._count:
            msg = "the events recording holds no event"
            raise EmptyStreamError(msg)
        msg = (
            f"the events recording ended after {self._count} events without "
            "message-finish: the answer is incomplete"
        )
        raise IncompleteStreamError(msg)


def adapter_for(provider: str) -> Adapter:
    """A fresh adapter for a provider wire format (see :data:`REPLAY_PROVIDERS`)."""
    name = _ALIASES.get(provider, provider)
    if name == "openai":
        from .openai_chat import OpenAIChatAdapter  # noqa: PLC0415

        return OpenAIChatAdapter()
    if name == "openai-responses":
        from .openai_responses import OpenAIResponsesAdapter  # noqa: PLC0415

        return OpenAIResponsesAdapter()
    if name == "anthropic":
        from .anthropic import AnthropicAdapter  # noqa: PLC0415

        return AnthropicAdapter()
    if name == "gemini":
        from .gemini import GeminiAdapter  # noqa: PLC0415

        return GeminiAdapter()
    if name == "events":
        return EventsAdapter()
    known = ", ".join(REPLAY_PROVIDERS)
    msg = f"unknown provider wire format {provider!r}; use one of: {known}"
    raise InvalidInputError(msg)


def detect_format(data: bytes, name: str = "") -> WireFormat:
    """The framing of a recording: by file suffix, else by its first bytes."""
    suffix = Path(name).suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"["):
        return "json-array"
    if _SSE_FIELD.search(data[:4096]) or head.startswith(b":"):
        return "sse"
    return "jsonl"


def _shape(chunk: Any) -> str | None:
    if not isinstance(chunk, dict):
        return None
    event_type = chunk.get("event")
    if isinstance(event_type, str) and event_type in _PROTOCOL_EVENTS:
        return "events"
    kind = chunk.get("type")
    if isinstance(kind, str):
        if kind.startswith("response."):
            return "openai-responses"
        if kind in _ANTHROPIC_TYPES:
            return "anthropic"
    if "choices" in chunk or chunk.get("object") == "chat.completion.chunk":
        return "openai"
    if "candidates" in chunk or "usageMetadata" in chunk or "promptFeedback" in chunk:
        return "gemini"
    return None


def detect_provider(data: bytes, wire_format: WireFormat) -> str:
    """The provider whose payloads these are; ``InvalidInputError`` if none fits."""
    decoder = chunk_decoder(wire_format)
    chunks: list[Any] = []
    try:
        chunks += decoder.feed(data)
        chunks += decoder.close()
    except StreamError as exc:
        if not chunks:
            msg = f"cannot read the recording as {wire_format}: {exc}"
            raise InvalidInputError(msg) from exc
    for chunk in chunks:
        shape = _shape(chunk)
        if shape is not None:
            return shape
    msg = (
        f"cannot tell which provider recorded this ({len(chunks)} {wire_format} payloads, "
        f"none recognised); pass the provider: one of {', '.join(REPLAY_PROVIDERS)}"
    )
    raise InvalidInputError(msg)


def replay(
    source: str | Path | bytes,
    *,
    provider: str | None = None,
    wire_format: WireFormat | None = None,
    chunk_size: int = 4096,
) -> ChatModelStream:
    """A ``ChatModelStream`` of a recorded response, fed ``chunk_size`` bytes at a time.

    ``source`` is a path or the recording's bytes. ``provider`` and
    ``wire_format`` are detected when not given. Raises ``InvalidInputError``
    (before any stream exists) when the recording cannot be identified; an
    unreadable or truncated recording fails the stream with the usual typed
    error, keeping what was decoded before it.
    """
    if isinstance(source, bytes):
        data, name = source, ""
    else:
        path = Path(source)
        try:
            data = path.read_bytes()
        except OSError as exc:
            msg = f"cannot read {path}: {exc.strerror or exc}"
            raise InvalidInputError(msg) from exc
        name = path.name
    fmt = wire_format or detect_format(data, name)
    if fmt not in ("sse", "jsonl", "json-array"):
        msg = f"unknown wire format {fmt!r}; use 'sse', 'jsonl' or 'json-array'"
        raise InvalidInputError(msg)
    name_ = provider or detect_provider(data, fmt)
    adapter_for(name_)  # an unknown provider fails here, not inside the stream

    def events() -> Iterator[Event]:
        parser = WireParser(adapter_for(name_), fmt)
        for start in range(0, len(data), chunk_size):
            yield from parser.feed(data[start : start + chunk_size])
        yield from parser.close()

    return stream_events_sync(events, _ALIASES.get(name_, name_))
