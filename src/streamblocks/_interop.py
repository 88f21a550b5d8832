"""Streams from the official ``openai`` and ``anthropic`` SDKs, as our streams.

Many users already have an SDK client configured; ``from_openai`` and
``from_anthropic`` take the stream it returns and feed it through the same
adapter an HTTP model uses. A sync SDK stream gives a ``ChatModelStream``,
an async one an ``AsyncChatModelStream``. The SDK objects are converted with
their own ``model_dump()``; nothing here imports either SDK.

Accepted inputs:

- ``openai``: ``client.chat.completions.create(..., stream=True)`` (raw
  chunks), the event stream of ``client.chat.completions.stream(...)``
  (its ``chunk`` events are used), and ``client.responses.create(...,
  stream=True)`` or ``client.responses.stream(...)`` (Responses events).
- ``anthropic``: ``client.messages.create(..., stream=True)`` (raw events)
  and the stream of ``client.messages.stream(...)`` (its raw events are
  used; the SDK's derived ``text``/``input_json`` events are skipped).

Closing our stream closes the SDK stream, which releases its connection.
The start is lazy, as for every stream: nothing is read until the first
consumer asks.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import AsyncIterable, Iterable
from typing import TYPE_CHECKING, Any, overload

from ._errors import (
    IncompleteStreamError,
    InvalidInputError,
    StreamTimeoutError,
)
from ._stream import AsyncChatModelStream, ChatModelStream
from ._stream._stats import RunStats
from .models._callbacks import Run, RunCallbacks
from .models._driver import NativeSyncSource, Timeouts, drive_async, drive_sync

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator, Sequence

    from .models._callbacks import CallbackHandler
    from .providers._builder import Event
    from .providers._framing import Adapter

__all__ = ["from_anthropic", "from_openai", "stream_events_async", "stream_events_sync"]

# Anthropic's wire events; MessageStream adds derived ones ("text", "citation",
# "input_json", "thinking", "signature") that repeat what these carry.
_ANTHROPIC_RAW = frozenset(
    {
        "message_start",
        "message_delta",
        "message_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "ping",
        "error",
    }
)


def _dump(obj: Any) -> Any:
    dump = getattr(obj, "model_dump", None)
    if dump is None:
        return obj  # already a dict (a raw JSON chunk)
    # exclude_unset: the fields the server actually sent, as on the wire.
    return dump(exclude_unset=True, mode="json")


def _openai_kind(first: Any) -> str:
    kind = getattr(first, "type", None) if not isinstance(first, dict) else first.get("type")
    if kind == "chunk":
        return "chat-events"  # ChatCompletionStream events
    if isinstance(kind, str) and (kind.startswith("response.") or kind == "error"):
        return "responses"
    return "chat"


def _openai_chunk(kind: str, item: Any) -> Any:
    """The provider chunk in ``item``, or ``None`` for a derived SDK event."""
    if kind == "chat-events":
        if getattr(item, "type", None) != "chunk":
            return None
        return _dump(item.chunk)
    return _dump(item)


def _anthropic_chunk(item: Any) -> Any:
    kind = item.get("type") if isinstance(item, dict) else getattr(item, "type", None)
    if kind not in _ANTHROPIC_RAW:
        return None
    return _dump(item)


def _sdk_error(exc: Exception) -> Exception:
    """An SDK's exception as our typed error; anything else unchanged.

    Both SDKs raise on an error inside the stream (an ``error`` event, or an
    ``{"error": ...}`` payload) before our adapter sees it; their API errors
    carry the provider's error object as ``body``. A connection lost or timed
    out mid-stream becomes ``IncompleteStreamError`` / ``StreamTimeoutError``,
    as it does for our HTTP models.
    """
    module = type(exc).__module__
    if module.startswith("httpx"):
        kind = type(exc).__name__
        if "Timeout" in kind:
            return StreamTimeoutError(f"the SDK stream timed out: {exc}", kind="idle")
        return IncompleteStreamError(f"the SDK stream's connection was lost: {kind}: {exc}")
    if not module.startswith(("openai", "anthropic")):
        return exc
    kind = type(exc).__name__
    if kind in ("APITimeoutError",):
        return StreamTimeoutError(f"the SDK stream timed out: {exc}", kind="idle")
    if kind in ("APIConnectionError",):
        return IncompleteStreamError(f"the SDK stream's connection was lost: {exc}")
    body = getattr(exc, "body", None)
    status = getattr(exc, "status_code", None)
    if body is None and status is None:
        return exc
    # Imported here: the providers package imports this module (replay).
    from .providers._builder import error_code, provider_error  # noqa: PLC0415

    err = body.get("error", body) if isinstance(body, dict) else None
    code: str | None = None
    also: tuple[object, ...] = ()
    message = str(exc)
    if isinstance(err, dict):
        code, also = error_code(err)
        if isinstance(err.get("message"), str):
            message = err["message"]
    if code is None:
        sdk_code = getattr(exc, "code", None) or getattr(exc, "type", None)
        code = sdk_code if isinstance(sdk_code, str) else None
    if status == 200:
        status = None  # the error arrived inside a successful response's stream
    return provider_error(
        message,
        code=code,
        status=status if isinstance(status, int) else None,
        request_id=getattr(exc, "request_id", None),
        body=body,
        also=also,
    )


def _reject_manager(sdk_stream: object, name: str) -> None:
    if isinstance(sdk_stream, (Iterable, AsyncIterable)):
        return
    if hasattr(sdk_stream, "__enter__") or hasattr(sdk_stream, "__aenter__"):
        msg = (
            f"{name}() needs the stream itself, not its context manager: "
            f"`with client....stream(...) as s: {name}(s)`"
        )
    else:
        kind = type(sdk_stream).__name__
        msg = f"{name}() needs an SDK stream (iterable or async iterable), got {kind}"
    raise InvalidInputError(msg)


@overload
def from_openai(
    sdk_stream: AsyncIterable[Any],
    *,
    choice: int = ...,
    callbacks: Sequence[CallbackHandler] = ...,
    idle_timeout: float | None = ...,
) -> AsyncChatModelStream: ...
@overload
def from_openai(
    sdk_stream: Iterable[Any],
    *,
    choice: int = ...,
    callbacks: Sequence[CallbackHandler] = ...,
    idle_timeout: float | None = ...,
) -> ChatModelStream: ...
def from_openai(
    sdk_stream: Iterable[Any] | AsyncIterable[Any],
    *,
    choice: int = 0,
    callbacks: Sequence[CallbackHandler] = (),
    idle_timeout: float | None = None,
) -> ChatModelStream | AsyncChatModelStream:
    """Our stream over an ``openai`` SDK stream (Chat Completions or Responses).

    ``choice`` picks the choice to follow when the request asked for ``n > 1``.
    """
    from .providers.openai_chat._adapter import OpenAIChatAdapter  # noqa: PLC0415
    from .providers.openai_responses._adapter import OpenAIResponsesAdapter  # noqa: PLC0415

    _reject_manager(sdk_stream, "from_openai")
    state: dict[str, Any] = {}

    def adapt(first: Any) -> tuple[Adapter, Callable[[Any], Any]]:
        kind = _openai_kind(first)
        state["kind"] = kind
        adapter: Adapter
        if kind == "responses":
            adapter = OpenAIResponsesAdapter(provider="openai")
        else:
            adapter = OpenAIChatAdapter(choice=choice, provider="openai")
        return adapter, lambda item: _openai_chunk(kind, item)

    return _drive(sdk_stream, adapt, "openai", callbacks, idle_timeout)


@overload
def from_anthropic(
    sdk_stream: AsyncIterable[Any],
    *,
    callbacks: Sequence[CallbackHandler] = ...,
    idle_timeout: float | None = ...,
) -> AsyncChatModelStream: ...
@overload
def from_anthropic(
    sdk_stream: Iterable[Any],
    *,
    callbacks: Sequence[CallbackHandler] = ...,
    idle_timeout: float | None = ...,
) -> ChatModelStream: ...
def from_anthropic(
    sdk_stream: Iterable[Any] | AsyncIterable[Any],
    *,
    callbacks: Sequence[CallbackHandler] = (),
    idle_timeout: float | None = None,
) -> ChatModelStream | AsyncChatModelStream:
    """Our stream over an ``anthropic`` SDK message stream."""
    from .providers.anthropic._adapter import AnthropicAdapter  # noqa: PLC0415

    _reject_manager(sdk_stream, "from_anthropic")

    def adapt(first: Any) -> tuple[Adapter, Callable[[Any], Any]]:
        return AnthropicAdapter(provider="anthropic"), _anthropic_chunk

    return _drive(sdk_stream, adapt, "anthropic", callbacks, idle_timeout)


def _drive(
    sdk_stream: Iterable[Any] | AsyncIterable[Any],
    adapt: Callable[[Any], tuple[Adapter, Callable[[Any], Any]]],
    provider: str,
    callbacks: Sequence[CallbackHandler],
    idle_timeout: float | None,
) -> ChatModelStream | AsyncChatModelStream:
    if isinstance(sdk_stream, AsyncIterable):
        return stream_events_async(
            lambda: _aevents(sdk_stream, adapt), provider, callbacks, idle_timeout
        )
    return stream_events_sync(lambda: _events(sdk_stream, adapt), provider, callbacks, idle_timeout)


def _run(provider: str, callbacks: Sequence[CallbackHandler]) -> RunCallbacks:
    run = Run(
        run_id=f"run-{uuid.uuid4().hex}",
        provider=provider,
        model="",
        messages=[],
        params={},
        stats=RunStats(),
    )
    return RunCallbacks(list(callbacks), run)


def stream_events_sync(
    source: Callable[[], Iterator[Event]],
    provider: str,
    callbacks: Sequence[CallbackHandler] = (),
    idle_timeout: float | None = None,
) -> ChatModelStream:
    """A lazily started ``ChatModelStream`` over the events ``source()`` yields,
    with the driver's guarantees (one ending, callbacks, the source closed)."""
    run_callbacks = _run(provider, callbacks)
    stream = ChatModelStream(message_id=run_callbacks.run.run_id)
    stream.stats = run_callbacks.run.stats
    timeouts = Timeouts(None, idle_timeout, None)
    drive_sync(stream, lambda: NativeSyncSource(source()), run_callbacks, timeouts)
    return stream


def stream_events_async(
    source: Callable[[], AsyncIterator[Event]],
    provider: str,
    callbacks: Sequence[CallbackHandler] = (),
    idle_timeout: float | None = None,
) -> AsyncChatModelStream:
    """The async twin of :func:`stream_events_sync`."""
    run_callbacks = _run(provider, callbacks)
    stream = AsyncChatModelStream(message_id=run_callbacks.run.run_id)
    stream.stats = run_callbacks.run.stats
    timeouts = Timeouts(None, idle_timeout, None)
    drive_async(stream, source, run_callbacks, timeouts)
    return stream


def _checked(iterator: Iterator[Any]) -> Iterator[Any]:
    try:
        yield from iterator
    except Exception as exc:
        error = _sdk_error(exc)
        if error is exc:
            raise
        raise error from exc


async def _achecked(items: AsyncIterable[Any]) -> AsyncIterator[Any]:
    try:
        async for item in items:
            yield item
    except Exception as exc:
        error = _sdk_error(exc)
        if error is exc:
            raise
        raise error from exc


def _events(
    sdk_stream: Iterable[Any], adapt: Callable[[Any], tuple[Adapter, Callable[[Any], Any]]]
) -> Iterator[Event]:
    iterator = iter(sdk_stream)
    try:
        adapter: Adapter | None = None
        convert: Callable[[Any], Any] = _dump
        for item in _checked(iterator):
            if adapter is None:
                adapter, convert = adapt(item)
            chunk = convert(item)
            if chunk is not None:
                yield from adapter.feed(chunk)
        if adapter is not None:
            yield from adapter.end()
    finally:
        close = getattr(sdk_stream, "close", None)
        if callable(close):
            close()


async def _aevents(
    sdk_stream: AsyncIterable[Any], adapt: Callable[[Any], tuple[Adapter, Callable[[Any], Any]]]
) -> AsyncIterator[Event]:
    try:
        adapter: Adapter | None = None
        convert: Callable[[Any], Any] = _dump
        async for item in _achecked(sdk_stream):
            if adapter is None:
                adapter, convert = adapt(item)
            chunk = convert(item)
            if chunk is not None:
                for event in adapter.feed(chunk):
                    yield event
        if adapter is not None:
            for event in adapter.end():
                yield event
    finally:
        close = getattr(sdk_stream, "close", None) or getattr(sdk_stream, "aclose", None)
        if callable(close):
            result = close()
            if inspect.isawaitable(result):
                await result
