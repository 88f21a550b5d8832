"""The driver: feeds a model's source of events into a stream, and ends the run once.

One request is a *run*. Its life, sync or async:

1. **Created**: the stream exists; nothing is sent and no callback fires.
2. **Started** on first consumption (the stream's lazy start): ``on_start``
   fires and the source generator is created.
3. **Fed**: each source event is dispatched, then ``on_event`` fires.
4. **Ended**, exactly once (``RunCallbacks`` guards it):

   - ``message-finish`` arrives: the stream finishes, ``on_end`` fires;
   - the source ends without one: a finish is synthesised if any event
     arrived (its metadata says so), else the run fails with
     ``EmptyStreamError``;
   - an ``error`` event, or the source raises: the stream fails with a typed
     error (anything not already a ``StreamError`` is wrapped in one);
   - a deadline passes: ``StreamTimeoutError``;
   - the stream is closed or its task cancelled: ``StreamCancelledError``.

   On every ending but success, ``on_error`` fires with the partial message.
   Either way the source generator is closed, so its ``finally`` blocks run
   and its HTTP connection is released.

Only the outermost loop differs between sync and async; what happens to each
event is the same.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._errors import (
    EmptyStreamError,
    StreamCancelledError,
    StreamError,
    StreamTimeoutError,
)
from .._messages import AIMessage
from .._stream import AsyncChatModelStream, ChatModelStream, StreamState

if TYPE_CHECKING:
    from .._stream._view import StreamView
    from ._callbacks import RunCallbacks

__all__ = ["Timeouts", "drive_async", "drive_sync"]

logger = logging.getLogger("streamblocks")

Event = Mapping[str, Any]

# Events that count as content for the first-event and idle deadlines. A
# `message-start`, a provider keep-alive or an unknown event does not.
_CONTENT_EVENTS = frozenset(
    {"content-block-start", "content-block-delta", "content-block-finish", "message-finish"}
)

_SYNTHETIC_FINISH: dict[str, Any] = {
    "event": "message-finish",
    "metadata": {"finish_reason": "unknown", "finish_synthesized": True},
}


@dataclass(frozen=True)
class Timeouts:
    """Deadlines for one run, in seconds; ``None`` means no limit.

    ``first_event``: from the start to the first content event. ``idle``: the
    longest gap between content events (also from the start to the first one
    when ``first_event`` is unset). ``total``: the whole run.
    """

    first_event: float | None = None
    idle: float | None = None
    total: float | None = None

    def __post_init__(self) -> None:
        for name in ("first_event", "idle", "total"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                msg = f"{name}_timeout must be a positive number of seconds or None, got {value!r}"
                raise ValueError(msg)

    @property
    def any(self) -> bool:
        return self.first_event is not None or self.idle is not None or self.total is not None

    def expired(
        self, start: float, last_content: float | None, now: float
    ) -> StreamTimeoutError | None:
        """The deadline that has passed at ``now``, if any."""
        kind, deadline = self.next_deadline(start, last_content)
        if deadline is None or now < deadline:
            return None
        return self.error(kind)

    def error(self, kind: str) -> StreamTimeoutError:
        limit = getattr(self, kind)
        what = {
            "total": "the run took longer than",
            "first_event": "no content arrived within",
            "idle": "no content arrived for",
        }[kind]
        return StreamTimeoutError(
            f"{what} {limit:g} s ({kind}_timeout); the partial message is kept",
            kind=kind,
            timeout=limit,
        )

    def next_deadline(self, start: float, last_content: float | None) -> tuple[str, float | None]:
        candidates: list[tuple[float, str]] = []
        if self.total is not None:
            candidates.append((start + self.total, "total"))
        if last_content is None:
            first = self.first_event if self.first_event is not None else self.idle
            if first is not None:
                candidates.append((start + first, "first_event" if self.first_event else "idle"))
        elif self.idle is not None:
            candidates.append((last_content + self.idle, "idle"))
        if not candidates:
            return "total", None
        deadline, kind = min(candidates)
        return kind, deadline


def _typed(exc: Exception) -> StreamError:
    if isinstance(exc, StreamError):
        return exc
    error = StreamError(f"the model's source raised {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


def _report_event(stream: StreamView, callbacks: RunCallbacks, event: Event) -> bool:
    """Fire ``on_event``; a handler that raises (having asked to) fails the run
    with its own exception, not as an error of the source. Returns whether the
    run goes on."""
    try:
        callbacks.event(event)
    except Exception as exc:
        stream.fail(exc)
        return False
    return True


def _end_run_logged(stream: StreamView, callbacks: RunCallbacks) -> None:
    """``_end_run`` where there is nobody to raise to (a task's done-callback)."""
    try:
        _end_run(stream, callbacks)
    except Exception:
        logger.exception("callback raised while ending run %s", callbacks.run.run_id)


def _end_run(stream: StreamView, callbacks: RunCallbacks) -> None:
    """Fire ``on_end`` or ``on_error`` for an ended stream (once; later calls do nothing)."""
    if callbacks.ended:
        return
    message = stream.output_message
    usage = message.usage_metadata if message is not None else None
    stream.stats.mark_end(usage.get("output_tokens") if usage else None)
    if message is not None and stream.state is StreamState.FINISHED:
        callbacks.end(message)
        return
    error = stream.error or StreamCancelledError("the run ended without a result")
    try:
        partial = stream.snapshot()
    except Exception:
        # Whatever broke the assembly breaks the snapshot too; on_error must
        # fire all the same.
        logger.exception("could not assemble the partial message of run %s", callbacks.run.run_id)
        partial = AIMessage(id=stream.message_id)
    callbacks.error(error, partial)


# ---------------------------------------------------------------------------
# async
# ---------------------------------------------------------------------------


class _Watchdog:
    """One timer for all three deadlines, re-armed only when it fires.

    The producer records the time of each content event (one float store);
    when the timer fires it re-checks against the latest content time and
    either re-arms for the new deadline or cancels the producer.
    """

    def __init__(self, timeouts: Timeouts, task: asyncio.Task[Any]) -> None:
        self.timeouts = timeouts
        self.task = task
        self.loop = task.get_loop()
        self.start = self.loop.time()
        self.last_content: float | None = None
        self.fired: StreamTimeoutError | None = None
        self.handle: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        _, deadline = self.timeouts.next_deadline(self.start, self.last_content)
        if deadline is not None:
            self.handle = self.loop.call_at(deadline, self._check)

    def _check(self) -> None:
        error = self.timeouts.expired(self.start, self.last_content, self.loop.time())
        if error is None:
            self._arm()
            return
        self.fired = error
        self.task.cancel()

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.cancel()


def drive_async(
    stream: AsyncChatModelStream,
    source: Callable[[], AsyncIterator[Event]],
    callbacks: RunCallbacks,
    timeouts: Timeouts,
) -> None:
    """Install the lazy start that runs ``source()`` into ``stream`` on a producer task."""

    def start() -> Awaitable[None]:
        # Synchronous on purpose: it runs the moment a consumer first consumes,
        # so on_start has fired and the producer exists before anything can
        # cancel the start. The producer then opens the source on its first
        # step, unless the stream was closed first.
        stream.stats.mark_start()
        try:
            callbacks.start()
        except Exception as exc:
            stream.fail(exc)
            _end_run(stream, callbacks)
            raise
        loop = asyncio.get_running_loop()
        task = loop.create_task(
            _produce(stream, source, callbacks, timeouts),
            name=f"streamblocks-run-{callbacks.run.run_id}",
        )
        stream.bind_producer(task)
        # If the task is cancelled before its body ever runs (aclose() right
        # after the start), its own `finally` never runs: end the run here.
        task.add_done_callback(lambda _: _end_run_logged(stream, callbacks))
        started: asyncio.Future[None] = loop.create_future()
        started.set_result(None)
        return started

    stream.set_start(start)


async def _produce(
    stream: AsyncChatModelStream,
    source: Callable[[], AsyncIterator[Event]],
    callbacks: RunCallbacks,
    timeouts: Timeouts,
) -> None:
    task = asyncio.current_task()
    watchdog = _Watchdog(timeouts, task) if timeouts.any and task is not None else None
    stats = stream.stats
    dispatch = stream.dispatch
    has_handlers = bool(callbacks.handlers)
    events: AsyncIterator[Event] | None = None
    received = False
    try:
        if stream.done:
            return  # closed before this task first ran: open nothing
        events = source()
        async for event in events:
            received = True
            dispatch(event)
            if event.get("event") in _CONTENT_EVENTS:
                if stats.first_content is None:
                    stats.mark_content(time.monotonic())
                if watchdog is not None:
                    watchdog.last_content = watchdog.loop.time()
            if has_handlers and not _report_event(stream, callbacks, event):
                break
            if stream.done:
                break
        else:
            if received:
                dispatch(_SYNTHETIC_FINISH)
                if has_handlers:
                    _report_event(stream, callbacks, _SYNTHETIC_FINISH)
            else:
                stream.fail(EmptyStreamError("the model's source ended without any event"))
    except asyncio.CancelledError:
        if watchdog is not None and watchdog.fired is not None:
            # Our own deadline, not someone cancelling us: the task ends
            # normally with a failed stream.
            if sys.version_info >= (3, 11) and task is not None:
                task.uncancel()
            stream.fail(watchdog.fired)
        else:
            stream.cancel(StreamCancelledError("the run was cancelled before it finished"))
            raise
    except Exception as exc:
        stream.fail(_typed(exc))
    finally:
        if watchdog is not None:
            watchdog.stop()
        try:
            # Close the source now, so that its `finally` blocks run and its
            # connection is released, rather than whenever it is collected.
            if events is not None:
                await _aclose(events)
        finally:
            _end_run(stream, callbacks)


async def _aclose(events: AsyncIterator[Event]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()


# ---------------------------------------------------------------------------
# sync
# ---------------------------------------------------------------------------


class _SyncClock:
    """Deadlines for the sync pump.

    A sync consumer pulls at its own pace, so the first-event and idle limits
    count only the time spent waiting for the source (a slow consumer is not a
    stalled source); the total limit is wall-clock.
    """

    def __init__(self, timeouts: Timeouts) -> None:
        self.timeouts = timeouts
        self.start = time.monotonic()
        self.waited = 0.0  # waiting for the source since the last content event
        self.had_content = False

    def remaining(self, now: float) -> tuple[str, float] | None:
        """The nearest limit and the seconds left before it (may be negative)."""
        t = self.timeouts
        candidates: list[tuple[float, str]] = []
        if t.total is not None:
            candidates.append((self.start + t.total - now, "total"))
        if self.had_content:
            if t.idle is not None:
                candidates.append((t.idle - self.waited, "idle"))
        elif t.first_event is not None:
            candidates.append((t.first_event - self.waited, "first_event"))
        elif t.idle is not None:
            candidates.append((t.idle - self.waited, "idle"))
        if not candidates:
            return None
        left, kind = min(candidates)
        return kind, left

    def expired(self, now: float) -> StreamTimeoutError | None:
        nearest = self.remaining(now)
        if nearest is None or nearest[1] > 0:
            return None
        return self.timeouts.error(nearest[0])

    def content(self) -> None:
        self.had_content = True
        self.waited = 0.0


class _End:
    """The source is exhausted."""


_END = _End()


class SyncSource:
    """A source the sync pump pulls one event from at a time."""

    def next(self, timeout: float | None) -> Event | _End:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    enforces_timeouts = False
    """Whether ``next`` itself stops waiting after ``timeout`` (raising
    ``StreamTimeoutError``). When not, deadlines are checked after each event."""


class NativeSyncSource(SyncSource):
    """A model's own sync generator."""

    def __init__(self, events: Iterator[Event]) -> None:
        self.events = events

    def next(self, timeout: float | None) -> Event | _End:
        return next(self.events, _END)

    def close(self) -> None:
        close = getattr(self.events, "close", None)
        if close is not None:
            close()


class _BackgroundLoop:
    """One event loop on a daemon thread, shared by every sync-over-async source."""

    _lock = threading.Lock()
    _loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def get(cls) -> asyncio.AbstractEventLoop:
        with cls._lock:
            if cls._loop is None or cls._loop.is_closed():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="streamblocks-sync-bridge", daemon=True
                )
                thread.start()
                cls._loop = loop
            return cls._loop


class BridgedSource(SyncSource):
    """A model's async generator, driven from sync code on the background loop.

    Each ``next`` waits for one event with a real timeout, enforced on the
    loop: a stalled source is cancelled there and has finished unwinding by
    the time ``next`` raises. ``close`` cancels an event still in flight and
    waits for it before closing the generator, so the two never overlap.
    """

    enforces_timeouts = True

    def __init__(self, events: AsyncIterator[Event]) -> None:
        self.events = events
        self.loop = _BackgroundLoop.get()
        self.inflight: asyncio.Future[Event] | None = None  # touched on the loop only

    def next(self, timeout: float | None) -> Event | _End:
        async def step() -> Event:
            async def one() -> Event:
                return await self.events.__anext__()

            task = self.inflight = asyncio.ensure_future(one())
            try:
                # wait_for cancels the task on timeout and waits for it to end.
                return await asyncio.wait_for(task, timeout)
            finally:
                self.inflight = None

        try:
            return asyncio.run_coroutine_threadsafe(step(), self.loop).result()
        except StopAsyncIteration:
            return _END
        except asyncio.TimeoutError as exc:  # an alias of TimeoutError from 3.11
            raise concurrent.futures.TimeoutError from exc

    def close(self) -> None:
        async def shutdown() -> None:
            task = self.inflight
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task  # let the source unwind before closing it
            aclose = getattr(self.events, "aclose", None)
            if aclose is not None:
                await aclose()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result()


def drive_sync(
    stream: ChatModelStream,
    source: Callable[[], SyncSource],
    callbacks: RunCallbacks,
    timeouts: Timeouts,
) -> None:
    """Install the lazy start, the one-event pump and the close callback on ``stream``."""
    state: dict[str, Any] = {"source": None, "received": False, "clock": None}
    stats = stream.stats
    has_handlers = bool(callbacks.handlers)

    def start() -> None:
        stats.mark_start()
        try:
            callbacks.start()
        except Exception as exc:
            stream.fail(exc)
            _end_run(stream, callbacks)
            raise
        state["clock"] = _SyncClock(timeouts) if timeouts.any else None
        state["source"] = source()

    def finish() -> None:
        src, state["source"] = state["source"], None
        try:
            if src is not None:
                src.close()
        finally:
            _end_run(stream, callbacks)

    def pump_one() -> bool:
        src: SyncSource | None = state["source"]
        if src is None or stream.done:
            return False
        clock: _SyncClock | None = state["clock"]
        try:
            limit = None
            if clock is not None and src.enforces_timeouts:
                nearest = clock.remaining(time.monotonic())
                if nearest is not None:
                    limit = max(nearest[1], 0.0)
            before = time.monotonic()
            try:
                event = src.next(limit)
            except concurrent.futures.TimeoutError:
                if clock is not None:
                    clock.waited += time.monotonic() - before
                    nearest = clock.remaining(time.monotonic())
                    kind = nearest[0] if nearest is not None else "idle"
                    stream.fail(timeouts.error(kind))
                return True
            now = time.monotonic()
            # Checked before this event resets the idle clock, enforced after
            # it is dispatched: an event that arrived late is still kept.
            late = None
            if clock is not None:
                clock.waited += now - before
                late = clock.expired(now)
            if isinstance(event, _End):
                if late is not None:
                    stream.fail(late)
                elif state["received"]:
                    stream.dispatch(_SYNTHETIC_FINISH)
                    if has_handlers:
                        _report_event(stream, callbacks, _SYNTHETIC_FINISH)
                else:
                    stream.fail(EmptyStreamError("the model's source ended without any event"))
                return True
            state["received"] = True
            stream.dispatch(event)
            if event.get("event") in _CONTENT_EVENTS:
                if clock is not None:
                    clock.content()
                if stats.first_content is None:
                    stats.mark_content(now)
            if has_handlers:
                _report_event(stream, callbacks, event)
            if late is not None:
                stream.fail(late)
            return True
        except Exception as exc:
            stream.fail(_typed(exc))
            return True
        finally:
            if stream.done:
                finish()

    def close() -> None:
        stream.cancel(StreamCancelledError("the stream was closed before it finished"))
        finish()

    stream.set_start(start)
    stream.bind_pump(pump_one)
    stream.set_close(close)
