"""``ChatModelStream``: the synchronous stream, driven by a pull pump."""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

from .._errors import IncompleteStreamError, StreamCancelledError
from ._core import Channel, StreamState
from ._view import StreamView

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import TracebackType

    from typing_extensions import Self

    from .._messages import AIMessage
    from .._protocol import MessagesData, ToolCall, ToolCallChunk, UsageInfo

__all__ = ["ChatModelStream", "SyncProjection", "SyncTextProjection"]

T = TypeVar("T")
F = TypeVar("F")

_STREAMING = StreamState.STREAMING


class SyncProjection(Generic[T, F]):
    """An iterable of deltas (``T``) with a final value (``F``).

    Every ``iter()`` starts its own cursor at the beginning, so any number of
    consumers each see every delta (replay). When a cursor has caught up and
    the stream is unfinished, it pulls one event at a time from the stream's
    pump. Buffered deltas are always yielded before a stored error is raised.
    """

    __slots__ = ("_channel", "_final", "_stream")

    def __init__(
        self, stream: ChatModelStream, channel: Channel[T], final: Callable[[], F]
    ) -> None:
        self._stream = stream
        self._channel = channel
        self._final = final

    def __iter__(self) -> Iterator[T]:
        stream = self._stream
        stream._ensure_started()
        core = stream._core
        items = self._channel.items
        cursor = 0
        while True:
            # Read the state before the length: items are appended before the
            # state changes, so a terminal state seen here implies all items.
            state = core.state
            while cursor < len(items):
                yield items[cursor]
                cursor += 1
            if state is not _STREAMING:
                if core.error is not None:
                    raise core.error
                return
            stream._pump()

    def get(self) -> F:
        """Drain the stream and return the final value (a copy).

        Raises the stream's error if it failed, or ``IncompleteStreamError``
        if it cannot finish; never returns a placeholder.
        """
        stream = self._stream
        stream._ensure_started()
        stream._drain()
        if stream._core.error is not None:
            raise stream._core.error
        return self._final()


class SyncTextProjection(SyncProjection[str, str]):
    """``.text`` and ``.reasoning``: ``str`` deltas; ``str()`` drains for the full text."""

    __slots__ = ("_partial",)

    def __init__(
        self,
        stream: ChatModelStream,
        channel: Channel[str],
        final: Callable[[], str],
        partial: Callable[[], str],
    ) -> None:
        super().__init__(stream, channel, final)
        self._partial = partial

    def __str__(self) -> str:
        return self.get()

    def __bool__(self) -> bool:
        """Whether any delta has been pushed (does not pump)."""
        return bool(self._channel.items)

    def __repr__(self) -> str:
        """The text so far, without pumping."""
        if self._stream._core.state is StreamState.FINISHED:
            return repr(self._final())
        return repr(self._partial())


class ChatModelStream(StreamView):
    """A synchronous stream of one chat-model message.

    Feed it with :meth:`dispatch` (or install a pump with :meth:`bind_pump`)
    and read it through its projections: ``.text``, ``.reasoning``,
    ``.tool_calls``, ``.output`` and ``.usage``, or iterate the stream itself
    for the raw events. Every projection replays from the start for every
    consumer. Close it (or use ``with``) to stop the source early.
    """

    __slots__ = (
        "_close_cb",
        "_events_proj",
        "_reasoning_proj",
        "_request_more",
        "_start_cb",
        "_text_proj",
        "_tool_calls_proj",
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
        self._start_cb: Callable[[], None] | None = None
        self._request_more: Callable[[], bool] | None = None
        self._close_cb: Callable[[], None] | None = None
        self._text_proj = SyncTextProjection(self, core.text, self._text_final, core.partial_text)
        self._reasoning_proj = SyncTextProjection(
            self, core.reasoning, self._reasoning_final, core.partial_reasoning
        )
        self._tool_calls_proj: SyncProjection[ToolCallChunk, list[ToolCall]] = SyncProjection(
            self, core.tool_chunks, self._tool_calls_final
        )
        self._events_proj: SyncProjection[MessagesData, None] = SyncProjection(
            self, core.events, _none
        )

    # -- wiring (for drivers) --------------------------------------------------

    def set_start(self, cb: Callable[[], None] | None) -> None:
        """Run ``cb`` once, on the first consumption of any kind (or ``close()``)."""
        self._start_cb = cb

    def set_request_more(self, cb: Callable[[], bool] | None) -> None:
        """Install the pull pump: it dispatches at most one source event and
        returns ``True``, or returns ``False`` once the source is exhausted."""
        self._request_more = cb

    def bind_pump(self, pump_one: Callable[[], bool]) -> None:
        """Same as :meth:`set_request_more`."""
        self.set_request_more(pump_one)

    def set_close(self, cb: Callable[[], None] | None) -> None:
        """Run ``cb`` once on :meth:`close`, to stop the source (close its
        generator, release its HTTP connection)."""
        self._close_cb = cb

    # -- projections -----------------------------------------------------------

    @property
    def text(self) -> SyncTextProjection:
        return self._text_proj

    @property
    def reasoning(self) -> SyncTextProjection:
        return self._reasoning_proj

    @property
    def tool_calls(self) -> SyncProjection[ToolCallChunk, list[ToolCall]]:
        """``tool_call_chunk`` deltas (with ``id``, ``name`` and ``index`` on
        each); ``.get()`` returns the parsed ``list[ToolCall]``."""
        return self._tool_calls_proj

    @property
    def output(self) -> AIMessage:
        """The assembled message. Blocks (pumping) until the stream finishes."""
        self._ensure_started()
        self._drain()
        if self._core.error is not None:
            raise self._core.error
        return self._message_final()

    @property
    def usage(self) -> UsageInfo | None:
        """Token usage from ``message-finish``. Blocks until the stream finishes."""
        self._ensure_started()
        self._drain()
        if self._core.error is not None:
            raise self._core.error
        return self._usage_final()

    def __iter__(self) -> Iterator[MessagesData]:
        """Replay the raw protocol events, pulling more as needed."""
        return iter(self._events_proj)

    # -- closing ---------------------------------------------------------------

    def close(self) -> None:
        """Stop the stream. Idempotent.

        An unfinished stream becomes cancelled: every projection raises
        ``StreamCancelledError`` after what it buffered. The close callback
        then stops the source. A finished stream keeps its result.
        """
        self._ensure_started()
        self._core.cancel()
        cb, self._close_cb = self._close_cb, None
        if cb is not None:
            cb()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------

    def _ensure_started(self) -> None:
        cb = self._start_cb
        if cb is None:
            return
        self._start_cb = None
        try:
            cb()
        except Exception as exc:
            self._core.fail(exc)
            raise

    def _drain(self) -> None:
        while self._core.state is _STREAMING:
            self._pump()

    def _pump(self) -> None:
        """Pull one event from the source, or fail the stream trying."""
        core = self._core
        if core.state is not _STREAMING:
            return
        pump = self._request_more
        if pump is None:
            msg = (
                "this ChatModelStream has not finished and has no pump to pull more events: "
                "dispatch the rest of the message (ending with 'message-finish') before "
                "reading it, or install a pump with bind_pump()"
            )
            raise IncompleteStreamError(msg)
        try:
            more = pump()
        except Exception as exc:
            core.fail(exc)
            raise
        except BaseException as exc:
            # KeyboardInterrupt and friends: the consumer is going away, so
            # the stream is cancelled and its source stopped.
            core.cancel(StreamCancelledError(f"interrupted by {type(exc).__name__}"))
            self.close()
            raise
        if not more and core.state is _STREAMING:
            core.fail(
                IncompleteStreamError(
                    "the event source was exhausted before 'message-finish'; "
                    "snapshot() has what arrived"
                )
            )


def _none() -> None:
    return None
