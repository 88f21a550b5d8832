"""What every provider adapter shares: building the protocol events of one message.

A provider names its blocks its own way (an Anthropic ``index``, an OpenAI
tool-call ``index``, a Responses ``output_index`` plus ``content_index``, a
Gemini part position). :class:`MessageBuilder` maps each provider *key* to a
wire index, in order of first appearance, remembers which blocks are open,
and closes them in order. Adapters only decide what a provider chunk means;
the builder guarantees the event sequence is well formed:

- ``message-start`` comes first, exactly once;
- every delta belongs to a started block;
- every started block is finished exactly once, before ``message-finish``;
- ``message-finish`` comes last, exactly once.

The builder does no I/O and keeps no text: the stream accumulates deltas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._errors import (
    AuthenticationError,
    BadRequestError,
    ProviderError,
    ProviderOverloadedError,
    RateLimitError,
)

if TYPE_CHECKING:
    from collections.abc import Hashable, Mapping

__all__ = [
    "Event",
    "MessageBuilder",
    "drop_none",
    "error_code",
    "provider_error",
    "usage_info",
]

Event = dict[str, Any]
"""One protocol event, as an adapter returns it."""

# Fields of a start block that are accumulated by deltas, so a finish built
# from the start block must not repeat them (the stream would double them).
_ACCUMULATED = ("text", "reasoning", "args")


class MessageBuilder:
    """Protocol events for one message, with block bookkeeping.

    Each method appends events to :attr:`events`; an adapter returns
    :meth:`take` from its ``feed``. Keys are any hashable the provider uses
    to name a block.
    """

    __slots__ = ("_next", "_open", "events", "finished", "provider", "started")

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.events: list[Event] = []
        self.started = False
        self.finished = False
        self._next = 0
        # key -> (wire index, the block it was started with)
        self._open: dict[Hashable, tuple[int, dict[str, Any]]] = {}

    def take(self) -> list[Event]:
        """The events built since the last call."""
        events = self.events
        self.events = []
        return events

    # -- message ---------------------------------------------------------------

    def start(self, *, id: str | None = None, model: str | None = None, **metadata: Any) -> None:
        """Emit ``message-start`` (once; later calls are ignored)."""
        if self.started:
            return
        self.started = True
        meta: dict[str, Any] = {"provider": self.provider}
        if model:
            meta["model"] = model
        meta.update(drop_none(metadata))
        event: Event = {"event": "message-start", "role": "ai", "metadata": meta}
        if id:
            event["id"] = id
        self.events.append(event)

    def finish(
        self,
        *,
        usage: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        additional_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        """Close every open block, then emit ``message-finish`` (once)."""
        if self.finished:
            return
        self.start()
        self.close_all()
        self.finished = True
        event: Event = {"event": "message-finish"}
        if usage:
            event["usage"] = dict(usage)
        meta = drop_none(dict(metadata or {}))
        if meta:
            event["metadata"] = meta
        if additional_kwargs:
            event["additional_kwargs"] = dict(additional_kwargs)
        self.events.append(event)

    # -- blocks ----------------------------------------------------------------

    def is_open(self, key: Hashable) -> bool:
        return key in self._open

    def index_of(self, key: Hashable) -> int | None:
        entry = self._open.get(key)
        return entry[0] if entry is not None else None

    def block_type(self, key: Hashable) -> str | None:
        entry = self._open.get(key)
        return entry[1]["type"] if entry is not None else None

    def open(self, key: Hashable, block: Mapping[str, Any]) -> int:
        """Start a block under ``key``; returns its wire index.

        If ``key`` is already open, nothing is emitted and its index returned.
        """
        entry = self._open.get(key)
        if entry is not None:
            return entry[0]
        self.start()
        index = self._next
        self._next += 1
        start = dict(block)
        self._open[key] = (index, start)
        # The event gets its own copy: `update` later changes the kept block,
        # and an event already handed out must never change under its reader.
        self.events.append({"event": "content-block-start", "index": index, "content": dict(block)})
        return index

    def text(self, key: Hashable, text: str, **block: Any) -> None:
        """A text delta, opening a ``text`` block (with ``block`` fields) if needed."""
        index = self._index_or_open(key, "text", block)
        if text:
            self.events.append(
                {
                    "event": "content-block-delta",
                    "index": index,
                    "delta": {"type": "text-delta", "text": text},
                }
            )

    def reasoning(self, key: Hashable, text: str, **block: Any) -> None:
        """A reasoning delta, opening a ``reasoning`` block if needed."""
        index = self._index_or_open(key, "reasoning", block)
        if text:
            self.events.append(
                {
                    "event": "content-block-delta",
                    "index": index,
                    "delta": {"type": "reasoning-delta", "reasoning": text},
                }
            )

    def tool_args(self, key: Hashable, args: str) -> None:
        """A fragment of an open tool call's JSON arguments (client or server call)."""
        index = self._open[key][0]
        if args:
            self.events.append(
                {
                    "event": "content-block-delta",
                    "index": index,
                    "delta": {"type": "tool-call-delta", "args": args},
                }
            )

    def update(self, key: Hashable, **fields: Any) -> None:
        """Record fields (a signature, annotations, an id) for the block's finish."""
        self._open[key][1].update(fields)

    def close(self, key: Hashable, block: Mapping[str, Any] | None = None) -> None:
        """Finish the block under ``key`` (a no-op if it is not open).

        ``block`` is the finalized block; by default the start block with
        every update, minus the fields the stream accumulates from deltas.
        """
        entry = self._open.pop(key, None)
        if entry is None:
            return
        index, start = entry
        final = (
            dict(block)
            if block is not None
            else {k: v for k, v in start.items() if k not in _ACCUMULATED}
        )
        self.events.append({"event": "content-block-finish", "index": index, "content": final})

    def close_all(self) -> None:
        """Finish every open block, in wire-index order."""
        for key in sorted(self._open, key=lambda k: self._open[k][0]):
            self.close(key)

    def add(self, key: Hashable, block: Mapping[str, Any]) -> None:
        """A block that arrives complete: start and finish it at once."""
        self.close(key)
        self.open(key, block)
        self.close(key, block)

    def _index_or_open(self, key: Hashable, btype: str, block: dict[str, Any]) -> int:
        entry = self._open.get(key)
        if entry is not None:
            return entry[0]
        fields: dict[str, Any] = {"type": btype, btype: ""}
        fields.update(block)
        return self.open(key, fields)


def drop_none(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """``mapping`` without its ``None`` values."""
    return {k: v for k, v in mapping.items() if v is not None}


def usage_info(
    *,
    input_tokens: int | None,
    output_tokens: int | None,
    total_tokens: int | None = None,
    cache_read: int | None = None,
    cache_creation: int | None = None,
    reasoning: int | None = None,
    audio_input: int | None = None,
    audio_output: int | None = None,
) -> dict[str, Any]:
    """A protocol ``usage`` dict. Missing counts are omitted, never invented,
    except ``total_tokens``, which is the sum when the provider gave both parts."""
    usage: dict[str, Any] = {}
    if input_tokens is not None:
        usage["input_tokens"] = input_tokens
    if output_tokens is not None:
        usage["output_tokens"] = output_tokens
    if total_tokens is None and input_tokens is not None and output_tokens is not None:
        total_tokens = input_tokens + output_tokens
    if total_tokens is not None:
        usage["total_tokens"] = total_tokens
    inp = drop_none(
        {"cache_read": cache_read, "cache_creation": cache_creation, "audio": audio_input}
    )
    if inp:
        usage["input_token_details"] = inp
    out = drop_none({"reasoning": reasoning, "audio": audio_output})
    if out:
        usage["output_token_details"] = out
    return usage


# Provider error codes/types that name a specific kind of failure, whatever
# the HTTP status (errors inside a stream have none).
_CODE_CLASSES: dict[str, type[ProviderError]] = {
    "overloaded_error": ProviderOverloadedError,
    "overloaded": ProviderOverloadedError,
    "server_is_overloaded": ProviderOverloadedError,
    "unavailable": ProviderOverloadedError,
    "rate_limit_error": RateLimitError,
    "rate_limit_exceeded": RateLimitError,
    "insufficient_quota": RateLimitError,
    "resource_exhausted": RateLimitError,
    "authentication_error": AuthenticationError,
    "permission_error": AuthenticationError,
    "invalid_api_key": AuthenticationError,
    "unauthenticated": AuthenticationError,
    "permission_denied": AuthenticationError,
    "invalid_request_error": BadRequestError,
    "invalid_argument": BadRequestError,
}


def _status_class(status: int | None) -> type[ProviderError]:
    if status in (401, 403):
        return AuthenticationError
    if status == 429:
        return RateLimitError
    if status in (400, 422):
        return BadRequestError
    if status in (503, 529):
        return ProviderOverloadedError
    return ProviderError


def provider_error(
    message: str,
    *,
    code: object = None,
    status: int | None = None,
    request_id: str | None = None,
    body: object = None,
    retry_after: float | None = None,
    also: tuple[object, ...] = (),
) -> ProviderError:
    """The typed error for a provider failure.

    The HTTP status decides the class when there is one; otherwise the
    provider's error code does (``overloaded_error`` becomes
    :class:`ProviderOverloadedError`, and so on), then each of ``also`` in
    turn (other fields of the error object, such as its ``type`` or
    ``status``). ``code`` may be a string or a number, as providers send both.
    """
    code_str = None if code is None else str(code)
    cls = _status_class(status)
    for candidate in (code, *also):
        if cls is not ProviderError or candidate is None:
            continue
        text = str(candidate)
        cls = _CODE_CLASSES.get(text.lower(), ProviderError)
        if cls is ProviderError and text.isdigit():
            cls = _status_class(int(text))
    return cls(
        message,
        code=code_str,
        status=status,
        request_id=request_id,
        body=body,
        retry_after=retry_after,
    )


def error_code(err: Mapping[str, Any]) -> tuple[str | None, tuple[object, ...]]:
    """The code to report for a provider error object, and the other fields that
    may classify it: the first *string* among ``code``, ``type`` and ``status``
    (OpenAI's ``code`` is the specific one; Anthropic has only ``type``;
    Google's ``code`` is the HTTP number and ``status`` the name)."""
    fields = (err.get("code"), err.get("type"), err.get("status"))
    code = next((f for f in fields if isinstance(f, str) and f), None)
    return code, tuple(f for f in fields if f is not None and f != code)
