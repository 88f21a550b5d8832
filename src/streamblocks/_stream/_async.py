"""``AsyncChatModelStream``: the asynchronous stream, fed by a producer task.

This layer only waits. A consumer that has caught up registers a future on
the channel it reads; the core resolves those futures after appending. The
wake function resolves each future on its own loop, directly when called on
that loop and through ``call_soon_threadsafe`` otherwise, so a ``dispatch``
from a worker thread wakes consumers promptly.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .._errors import IncompleteStreamError, StreamCancelledError, StreamError
from ._core import Channel, StreamState
from ._view import StreamView

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Generator
    from types import TracebackType

    from typing_extensions import Self

    from .._messages import AIMessage
    from .._protocol import MessagesData, ToolCall, ToolCallChunk, UsageInfo

__all__ = ["AsyncChatModelStream", "AsyncProjection", "AsyncTextProjection", "AsyncValue"]

T = TypeVar("T")
F = TypeVar("F")

_STREAMING = StreamState.STREAMING
_get_running_loop = asyncio.get_running_loop


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _wake_futures(waiters: tuple[Any, ...]) -> None:
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    for fut in waiters:
        if fut.done():  # its consumer was cancelled while waiting
            continue
        loop = fut.get_loop()
        if loop is running:
            fut.set_result(None)
        else:
            # A closed loop raises RuntimeError: nobody is left there to wake.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, fut)


class _Cursor(Generic[T]):
    """One consumer's position in a channel."""

    __slots__ = ("_channel", "_pos", "_stream")

    def __init__(self, stream: AsyncChatModelStream, channel: Channel[T]) -> None:
        self._stream = stream
        self._channel = channel
        self._pos = 0

    def __aiter__(self) -> _Cursor[T]:
        return self

    async def __anext__(self) -> T:
        stream = self._stream
        if not stream._ready:
            await stream._ensure_started()
        core = stream._core
        channel = self._channel
        items = channel.items
        while True:
            state = core.state  # before the length: see StreamCore's invariants
            pos = self._pos
            if pos < len(items):
                self._pos = pos + 1
                return items[pos]
            if state is not _STREAMING:
                if core.error is not None:
                    raise core.error
                raise StopAsyncIteration
            # Waiting is inlined (no nested coroutine): this is the per-delta
            # path of every async consumer.
            fut = stream._register(channel, pos)
            if fut is not None:
                try:
                    await fut
                except asyncio.CancelledError:
                    _discard(channel.waiters, fut)
                    raise


class AsyncProjection(Generic[T, F]):
    """An async iterable of deltas (``T``), awaitable for the final value (``F``).

    Each ``async for`` gets its own cursor from the beginning (replay), so any
    number of consumers each see every delta. Buffered deltas are delivered
    before a stored error is raised. ``await`` returns a copy of the final
    value, or raises the stream's error.
    """

    __slots__ = ("_channel", "_final", "_stream")

    def __init__(
        self, stream: AsyncChatModelStream, channel: Channel[T], final: Callable[[], F]
    ) -> None:
        self._stream = stream
        self._channel = channel
        self._final = final

    def __aiter__(self) -> _Cursor[T]:
        return _Cursor(self._stream, self._channel)

    def __await__(self) -> Generator[Any, None, F]:
        return self._stream._result(self._final).__await__()


class AsyncTextProjection(AsyncProjection[str, str]):
    """``.text`` and ``.reasoning``: ``str`` deltas, awaitable for the full text."""

    __slots__ = ("_partial",)

    def __init__(
        self,
        stream: AsyncChatModelStream,
        channel: Channel[str],
        final: Callable[[], str],
        partial: Callable[[], str],
    ) -> None:
        super().__init__(stream, channel, final)
        self._partial = partial

    def __bool__(self) -> bool:
        """Whether any delta has been pushed."""
        return bool(self._channel.items)

    def __repr__(self) -> str:
        """The text so far, without waiting."""
        if self._stream._core.state is StreamState.FINISHED:
            return repr(self._final())
        return repr(self._partial())


class AsyncValue(Generic[F]):
    """An awaitable final value with no deltas (``.output``, ``.usage``)."""

    __slots__ = ("_final", "_stream")

    def __init__(self, stream: AsyncChatModelStream, final: Callable[[], F]) -> None:
        self._stream = stream
        self._final = final

    def __await__(self) -> Generator[Any, None, F]:
        return self._stream._result(self._final).__await__()


class AsyncChatModelStream(StreamView):
    """An asynchronous stream of one chat-model message.

    A producer (usually a background task bound with :meth:`bind_producer`)
    feeds events with :meth:`dispatch`; consumers ``async for`` over
    ``.text``, ``.reasoning``, ``.tool_calls`` or the stream itself, or
    ``await`` any of them, ``.output``, ``.usage`` or the stream (which
    returns the message after the producer's post-stream work is done).
    ``aclose()`` or ``async with`` cancels an unfinished producer and resolves
    every projection.
    """

    __slots__ = (
        "_arequest_more",
        "_events_proj",
        "_output_proj",
        "_producer_task",
        "_pump_task",
        "_ready",
        "_reasoning_proj",
        "_start_cb",
        "_start_task",
        "_text_proj",
        "_tool_calls_proj",
        "_usage_proj",
    )

    def __init__(
        self,
        *,
        namespace: list[str] | None = None,
        node: str | None = None,
        message_id: str | None = None,
    ) -> None:
        super().__init__(namespace=namespace, node=node, message_id=message_id)
        core = self._core
        core.wake = _wake_futures
        self._start_cb: Callable[[], Awaitable[None]] | None = None
        self._start_task: asyncio.Future[None] | None = None
        self._ready = True  # no start callback is pending
        self._arequest_more: Callable[[], Awaitable[bool]] | None = None
        self._pump_task: asyncio.Future[bool] | None = None
        self._producer_task: asyncio.Task[Any] | None = None
        self._text_proj = AsyncTextProjection(self, core.text, self._text_final, core.partial_text)
        self._reasoning_proj = AsyncTextProjection(
            self, core.reasoning, self._reasoning_final, core.partial_reasoning
        )
        self._tool_calls_proj: AsyncProjection[ToolCallChunk, list[ToolCall]] = AsyncProjection(
            self, core.tool_chunks, self._tool_calls_final
        )
        self._output_proj = AsyncValue(self, self._message_final)
        self._usage_proj = AsyncValue(self, self._usage_final)
        self._events_proj: AsyncProjection[MessagesData, None] = AsyncProjection(
            self, core.events, _none
        )

    # -- wiring (for drivers) --------------------------------------------------

    def set_start(self, cb: Callable[[], Awaitable[None]] | None) -> None:
        """Run ``cb`` once, on the first consumption of any kind (or ``aclose()``).

        ``cb()`` is called in the consuming task and its awaitable then runs as
        a task of its own, so cancelling the consumer that happened to trigger
        it does not abandon it; every consumer waits for it, and if it raises,
        the stream fails with that error. ``aclose()`` cancels a start still in
        progress: a callback whose work must not be cut short does it before
        returning its awaitable.
        """
        self._start_cb = cb
        self._ready = cb is None

    def set_arequest_more(self, cb: Callable[[], Awaitable[bool]] | None) -> None:
        """Install a caller-driven pump: a consumer with nothing buffered awaits
        it instead of waiting. It returns ``True`` after producing an event and
        ``False`` once the source is exhausted.

        Each call runs as a task owned by the stream, one at a time: consumers
        wait for what it produces (and start the next call if they need more),
        and ``aclose()`` can cancel it. The task copies the context of the
        consumer that started it.
        """
        self._arequest_more = cb

    def bind_producer(self, task: asyncio.Task[Any]) -> None:
        """Tie the producer task's life to the stream.

        ``aclose()`` cancels it, and ``await stream`` waits for it. If the task
        ends before the message does, whether by raising, being cancelled or
        returning early, the stream fails accordingly instead of leaving
        consumers waiting.
        """
        self._producer_task = task
        task.add_done_callback(self._on_producer_done)

    # -- projections -----------------------------------------------------------

    @property
    def text(self) -> AsyncTextProjection:
        return self._text_proj

    @property
    def reasoning(self) -> AsyncTextProjection:
        return self._reasoning_proj

    @property
    def tool_calls(self) -> AsyncProjection[ToolCallChunk, list[ToolCall]]:
        """``tool_call_chunk`` deltas; awaitable for the parsed ``list[ToolCall]``."""
        return self._tool_calls_proj

    @property
    def output(self) -> AsyncValue[AIMessage]:
        """Awaitable for the assembled message."""
        return self._output_proj

    @property
    def usage(self) -> AsyncValue[UsageInfo | None]:
        """Awaitable for the token usage from ``message-finish``."""
        return self._usage_proj

    def __aiter__(self) -> _Cursor[MessagesData]:
        """Replay the raw protocol events."""
        return _Cursor(self, self._core.events)

    def __await__(self) -> Generator[Any, None, AIMessage]:
        return self._await_message().__await__()

    async def _await_message(self) -> AIMessage:
        try:
            message = await self._output_proj
        except StreamError as stream_error:
            # A producer that already ended may have raised after the failure
            # (a callback asking for its error to propagate): say so, rather
            # than drop it.
            task = self._producer_task
            if task is not None and task.done() and not task.cancelled():
                exc = task.exception()
                if exc is not None and exc is not stream_error:
                    raise exc from stream_error
            raise
        task = self._producer_task
        if task is not None and task is not asyncio.current_task():
            # Post-stream work (callbacks) has run by the time `await stream`
            # returns. A cancellation after success leaves the result intact.
            await _wait_done(task)
            if not task.cancelled() and (exc := task.exception()) is not None:
                raise exc
        return message

    # -- closing ---------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop the stream and release its producer. Idempotent.

        Unfinished: the stream becomes cancelled (projections raise
        ``StreamCancelledError`` after their buffered items), and the producer,
        a pending start and a pending pump are cancelled and awaited.
        Finished: the producer is left to complete its post-stream work, and
        awaited. Either way, when this returns no projection is pending. If the
        caller is cancelled while waiting, the cancellation propagates.
        """
        if self._start_task is None and self._start_cb is not None:
            # Start even now, so that a driver's start and end callbacks pair
            # up. A start that fails has already failed the stream.
            with contextlib.suppress(Exception):
                await self._ensure_started()
        core = self._core
        producer = self._producer_task
        if producer is not None and producer.done():
            # Its done-callback may still be queued; let its ending win.
            self._on_producer_done(producer)
        finished = core.state is StreamState.FINISHED
        # End the stream first, so consumers learn it was closed rather than
        # that a task of ours died.
        core.cancel(StreamCancelledError("the stream was closed before it finished"))
        current = asyncio.current_task()
        pending = [
            task
            for task in (self._start_task, self._pump_task, producer)
            if task is not None and not task.done() and task is not current
        ]
        for task in pending:
            if not (finished and task is producer):
                task.cancel()
        for task in pending:
            await _wait_done(task)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- internals ---------------------------------------------------------------

    async def _ensure_started(self) -> None:
        """Run the start callback once, as a shared task, and wait for it."""
        task = self._start_task
        if task is None:
            cb = self._start_cb
            if cb is None:
                return
            self._start_cb = None
            try:
                awaitable = cb()
            except Exception as error:  # a start that fails before it awaits anything
                self._core.fail(error)
                raise
            task = self._start_task = asyncio.ensure_future(awaitable)
            task.add_done_callback(self._on_start_done)
        if not task.done():
            # Not `await task`: our own cancellation must not cancel the start.
            await _wait_done(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            raise exc

    def _on_start_done(self, task: asyncio.Future[None]) -> None:
        if task.cancelled():
            self._core.cancel(StreamCancelledError("the stream was closed while it was starting"))
        elif (exc := task.exception()) is not None:
            self._core.fail(exc)
        else:
            self._ready = True

    async def _result(self, final: Callable[[], F]) -> F:
        if not self._ready:
            await self._ensure_started()
        core = self._core
        while core.state is _STREAMING:
            await self._wait(core.terminal, 0)
        if core.error is not None:
            raise core.error
        return final()

    async def _wait(self, channel: Channel[Any], seen: int) -> None:
        """Wait until ``channel`` has more than ``seen`` items or something changed.

        May return without either; callers re-check their condition in a loop.
        """
        fut = self._register(channel, seen)
        if fut is None:
            return
        try:
            await fut
        except asyncio.CancelledError:
            _discard(channel.waiters, fut)
            raise

    def _register(self, channel: Channel[Any], seen: int) -> asyncio.Future[None] | None:
        """A future the core resolves when ``channel`` grows or the stream ends,
        or ``None`` if that already happened. Starts the pump if one is needed."""
        core = self._core
        if self._arequest_more is not None and self._pump_task is None:
            self._start_pump(self._arequest_more)
        fut = _get_running_loop().create_future()
        waiters = channel.waiters
        waiters.append(fut)
        # Re-check after registering: a producer on another thread may have
        # appended between our check and the registration.
        if len(channel.items) > seen or core.state is not _STREAMING:
            _discard(waiters, fut)
            return None
        return fut

    def _start_pump(self, pump: Callable[[], Awaitable[bool]]) -> None:
        if self._core.state is not _STREAMING:
            return
        task = self._pump_task = asyncio.ensure_future(pump())
        task.add_done_callback(self._on_pump_done)

    def _on_pump_done(self, task: asyncio.Future[bool]) -> None:
        self._pump_task = None
        core = self._core
        if task.cancelled():
            pass  # aclose() did it, and has already ended the stream
        elif (exc := task.exception()) is not None:
            core.fail(exc)
        elif not task.result() and core.state is _STREAMING:
            core.fail(
                IncompleteStreamError(
                    "the event source was exhausted before 'message-finish'; "
                    "snapshot() has what arrived"
                )
            )
        # What the pump produced may be for another projection: every waiter
        # re-checks, and one that still needs more starts the next pump.
        core.wake_waiters()

    def _on_producer_done(self, task: asyncio.Task[Any]) -> None:
        # Retrieve the outcome first so asyncio never logs it as unretrieved;
        # `await stream` re-raises a post-stream failure.
        if task.cancelled():
            self._core.cancel(
                StreamCancelledError("the producer task was cancelled before the message finished")
            )
            return
        exc = task.exception()
        if exc is not None:
            self._core.fail(exc)
        else:
            self._core.fail(
                IncompleteStreamError(
                    "the producer task ended without dispatching 'message-finish'"
                )
            )


async def _wait_done(task: asyncio.Future[Any]) -> None:
    """Wait for ``task`` to end without awaiting it directly.

    Awaiting a cancelled task raises ``CancelledError`` exactly as if our own
    caller had been cancelled. Waiting on a plain future linked to the task
    keeps the two apart on every Python version: only the caller's own
    cancellation raises here.
    """
    if task.done():
        return
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def _link(_: asyncio.Future[Any]) -> None:
        if not done.done():
            done.set_result(None)

    task.add_done_callback(_link)
    try:
        await done
    finally:
        task.remove_done_callback(_link)


def _discard(waiters: list[Any], fut: asyncio.Future[None]) -> None:
    with contextlib.suppress(ValueError):
        waiters.remove(fut)


def _none() -> None:
    return None
