"""``ChatModel``: the base class every model (offline or over HTTP) derives from."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from .._errors import InvalidInputError
from .._messages import to_messages
from .._stream import AsyncChatModelStream, ChatModelStream
from .._stream._stats import RunStats
from ._callbacks import CallbackHandler, Run, RunCallbacks
from ._driver import (
    BridgedSource,
    NativeSyncSource,
    SyncSource,
    Timeouts,
    drive_async,
    drive_sync,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator, Mapping, Sequence

    from .._messages import AIMessage, Message

__all__ = ["ChatModel", "ModelInput"]

ModelInput = Any
"""A string, a message, or a list of messages and OpenAI-style role/content dicts."""

_UNSET: Any = object()


class ChatModel:
    """A chat model whose replies stream as protocol events.

    A subclass implements :meth:`_astream`, an async generator of protocol
    events for one request. It may also implement :meth:`_stream`, a sync
    generator; without one, the sync methods drive ``_astream`` on a shared
    background event loop.

    Everything else is provided: :meth:`astream_events` and
    :meth:`stream_events` return a stream that starts lazily (nothing is sent
    and no callback fires until it is first consumed); :meth:`ainvoke` and
    :meth:`invoke` return the assembled message through the same pipeline.
    Callbacks and timeouts are set on the model and can be overridden per call.
    """

    provider: str = "custom"
    """Short provider name, as in ``"provider:model"``."""

    def __init__(
        self,
        *,
        model: str = "default",
        callbacks: Sequence[CallbackHandler] = (),
        first_event_timeout: float | None = None,
        idle_timeout: float | None = None,
        total_timeout: float | None = None,
    ) -> None:
        self.model = model
        self.callbacks = list(callbacks)
        self.timeouts = Timeouts(first_event_timeout, idle_timeout, total_timeout)

    # -- what a subclass supplies -------------------------------------------

    def _astream(self, messages: list[Message], **params: Any) -> AsyncIterator[Mapping[str, Any]]:
        """Yield the protocol events of one reply to ``messages``."""
        raise NotImplementedError(f"{type(self).__name__} must implement _astream()")

    def _stream(self, messages: list[Message], **params: Any) -> Iterator[Mapping[str, Any]]:
        """Optional sync twin of :meth:`_astream`."""
        raise NotImplementedError

    def _validate(self, messages: list[Message], params: dict[str, Any]) -> None:
        """Optional: check a request before its stream exists (raise ``InvalidInputError``).

        Called by every public method, so bad input fails at the call, not
        later inside the stream."""

    def _sync_source(
        self, messages: list[Message], params: dict[str, Any], timeouts: Timeouts
    ) -> SyncSource:
        """The source a sync stream pulls from: :meth:`_stream` when the model has
        one, else :meth:`_astream` on the shared background loop. A model whose
        blocking reads can honour the run's ``timeouts`` itself overrides this."""
        if self._has_sync_source:
            return NativeSyncSource(self._stream(messages, **params))
        return BridgedSource(self._astream(messages, **params))

    @property
    def _has_sync_source(self) -> bool:
        return type(self)._stream is not ChatModel._stream

    # -- streams ---------------------------------------------------------------

    async def astream_events(
        self,
        input: ModelInput,
        *,
        version: str = "v3",
        callbacks: Sequence[CallbackHandler] | None = None,
        first_event_timeout: float | None = _UNSET,
        idle_timeout: float | None = _UNSET,
        total_timeout: float | None = _UNSET,
        **params: Any,
    ) -> AsyncChatModelStream:
        """An ``AsyncChatModelStream`` of the reply to ``input``, not yet started.

        ``params`` go to the model's source (temperature, max tokens, tools...).
        Raises ``InvalidInputError`` for malformed input or a ``version`` other
        than ``"v3"``, before anything is sent.
        """
        messages, run_callbacks, timeouts, params = self._prepare(
            input, version, callbacks, (first_event_timeout, idle_timeout, total_timeout), params
        )
        stream = AsyncChatModelStream(message_id=run_callbacks.run.run_id)
        stream.stats = run_callbacks.run.stats
        drive_async(stream, lambda: self._astream(messages, **params), run_callbacks, timeouts)
        return stream

    astream_v2 = astream_events

    def stream_events(
        self,
        input: ModelInput,
        *,
        version: str = "v3",
        callbacks: Sequence[CallbackHandler] | None = None,
        first_event_timeout: float | None = _UNSET,
        idle_timeout: float | None = _UNSET,
        total_timeout: float | None = _UNSET,
        **params: Any,
    ) -> ChatModelStream:
        """A ``ChatModelStream`` of the reply, pulled one source event per pump."""
        messages, run_callbacks, timeouts, params = self._prepare(
            input, version, callbacks, (first_event_timeout, idle_timeout, total_timeout), params
        )
        stream = ChatModelStream(message_id=run_callbacks.run.run_id)
        stream.stats = run_callbacks.run.stats
        drive_sync(
            stream, lambda: self._sync_source(messages, params, timeouts), run_callbacks, timeouts
        )
        return stream

    async def ainvoke(self, input: ModelInput, **kwargs: Any) -> AIMessage:
        """The assembled reply. Cancelling the caller closes the stream."""
        stream = await self.astream_events(input, **kwargs)
        async with stream:
            return await stream

    def invoke(self, input: ModelInput, **kwargs: Any) -> AIMessage:
        """The assembled reply, synchronously."""
        with self.stream_events(input, **kwargs) as stream:
            return stream.output

    # -- internals ---------------------------------------------------------------

    def _prepare(
        self,
        input: ModelInput,
        version: str,
        callbacks: Sequence[CallbackHandler] | None,
        timeouts: tuple[float | None, float | None, float | None],
        params: dict[str, Any],
    ) -> tuple[list[Message], RunCallbacks, Timeouts, dict[str, Any]]:
        if version != "v3":
            msg = f"version {version!r} is not supported: the only stream version is 'v3'"
            raise InvalidInputError(msg)
        messages = to_messages(input)
        self._validate(messages, params)
        first, idle, total = (
            own if given is _UNSET else given
            for given, own in zip(
                timeouts,
                (self.timeouts.first_event, self.timeouts.idle, self.timeouts.total),
                strict=True,
            )
        )
        run_timeouts = Timeouts(first, idle, total)
        run = Run(
            run_id=f"run-{uuid.uuid4().hex}",
            provider=self.provider,
            model=self.model,
            messages=messages,
            params=dict(params),
            stats=RunStats(),
        )
        handlers = [*self.callbacks, *(callbacks or ())]
        return messages, RunCallbacks(handlers, run), run_timeouts, params

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"
