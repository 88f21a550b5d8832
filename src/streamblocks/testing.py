"""Test doubles and assertions for code built on streamblocks.

Nothing here talks to a network. Import from ``streamblocks.testing``; none of
it is exported by the top-level package.

* :class:`ScriptedModel` replays a list of protocol events as a
  :class:`~streamblocks.models.ChatModel`, with an optional delay before each
  event, an optional stall (with or without keep-alives) for timeout tests,
  and counters that show whether its source was closed.
* :class:`FailingModel` yields some events, then raises: for fault tests.
* :func:`assert_well_formed` checks that a list of events is a well-formed
  message lifecycle.
* :class:`RecordingHandler` records a run's callbacks, and
  :meth:`RecordingHandler.assert_ended_once` checks their order.

Example::

    from streamblocks.testing import RecordingHandler, ScriptedModel

    model = ScriptedModel(events=[...])
    handler = RecordingHandler()
    message = model.invoke("hi", callbacks=[handler])
    handler.assert_ended_once()
    assert model.opened == model.closed == 1
"""

from __future__ import annotations

import asyncio
import copy
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._errors import ProviderError
from .models import CallbackHandler, ChatModel

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from ._messages import AIMessage, Message
    from .models import Run

    Script = Iterable[Mapping[str, Any]] | Callable[[list[Message]], Iterable[Mapping[str, Any]]]

__all__ = [
    "KEEPALIVE_EVENT",
    "FailingModel",
    "RecordingHandler",
    "ScriptedModel",
    "ScriptedRequest",
    "assert_well_formed",
]

Event = Mapping[str, Any]

KEEPALIVE_EVENT: Mapping[str, Any] = {"event": "ping"}
"""The default keep-alive: an event type streams record for replay and otherwise
ignore, and which does not count as content for the timeouts."""


@dataclass(frozen=True)
class ScriptedRequest:
    """One request a :class:`ScriptedModel` received."""

    messages: list[Message]
    """The normalised input messages."""
    params: dict[str, Any]
    """The extra keyword arguments of the call (``temperature=...``, ``tools=...``)."""


class ScriptedModel(ChatModel):
    """A model that replays a script of protocol events, for tests.

    ``events`` is either an iterable of events, read once at construction and
    replayed for every request, or a callable that receives the request's
    messages and returns the events for that request. Every request gets a
    fresh deep copy of each event, so a consumer that mutates what it receives
    cannot change a later replay. The script is replayed as given: it is not
    validated, and need not end with ``message-finish`` (the driver then
    synthesises one, or raises ``EmptyStreamError`` for an empty script).

    ``delay`` seconds are waited before each event (``asyncio.sleep`` in the
    async source, ``time.sleep`` in the sync one). The async source yields to
    the event loop before each event even when ``delay`` is 0, as a network
    source would, so other tasks (and cancellations) run between events.

    ``stall_after=N`` makes the source stop after its first ``N`` events (or
    after the whole script, if it is shorter) without ending: it waits
    forever, so only a timeout or closing the stream ends the run. With
    ``keepalive=seconds`` a stalled source emits a copy of ``keepalive_event``
    at that interval while it waits. A keep-alive is not content: it must not
    satisfy ``first_event_timeout`` nor reset ``idle_timeout``.

    Sync calls (``stream_events``, ``invoke``) use a native sync source by
    default. Pass ``native_sync=False`` to have them drive the async source
    on the library's background loop instead, as for a model with only an
    async source. A sync generator cannot be interrupted while it blocks, so
    a native sync source that would stall without keep-alives raises
    ``RuntimeError`` (surfacing as the stream's error) instead of hanging
    the test; a stall with keep-alives is fine, as the driver checks its
    deadlines at each keep-alive.

    A request counts as sent when its source's body begins to run (on the
    stream's first consumption, never before): it is then appended to
    :attr:`requests` and counted in :attr:`opened`. :attr:`closed` counts the
    sources whose ``finally`` ran (end, error, close or cancellation), so
    ``opened == closed`` after a run shows that its source was closed. A
    stream closed before its source ever ran counts in neither. The records
    are updated on whichever thread runs the source.

    Other keyword arguments (``model``, ``callbacks``, the timeouts) are
    :class:`~streamblocks.models.ChatModel`'s.
    """

    provider = "scripted"

    def __init__(
        self,
        events: Script,
        *,
        delay: float = 0.0,
        stall_after: int | None = None,
        keepalive: float | None = None,
        keepalive_event: Event = KEEPALIVE_EVENT,
        native_sync: bool = True,
        model: str = "scripted",
        **kwargs: Any,
    ) -> None:
        super().__init__(model=model, **kwargs)
        if delay < 0:
            msg = f"delay must be >= 0 seconds, got {delay!r}"
            raise ValueError(msg)
        if stall_after is not None and stall_after < 0:
            msg = f"stall_after must be >= 0 or None, got {stall_after!r}"
            raise ValueError(msg)
        if keepalive is not None and not keepalive > 0:
            msg = f"keepalive must be a positive number of seconds or None, got {keepalive!r}"
            raise ValueError(msg)
        self._script: Callable[[list[Message]], Iterable[Event]]
        if callable(events):
            self._script = events
        else:
            fixed = [copy.deepcopy(dict(e)) for e in events]
            self._script = lambda _messages: fixed
        self.delay = delay
        self.stall_after = stall_after
        self.keepalive = keepalive
        self.keepalive_event: dict[str, Any] = copy.deepcopy(dict(keepalive_event))
        self.native_sync = native_sync
        self.requests: list[ScriptedRequest] = []
        """Every request sent (its source began to run), in order."""
        self.opened = 0
        """Sources whose body began running."""
        self.closed = 0
        """Sources whose ``finally`` ran (normal end, error, close or cancellation)."""
        self._lock = threading.Lock()

    @property
    def _has_sync_source(self) -> bool:
        return self.native_sync

    # -- the sources -------------------------------------------------------------

    async def _astream(self, messages: list[Message], **params: Any) -> AsyncGenerator[Event, None]:
        self._count_open(messages, params)
        try:
            for event in self._events(messages):
                # Even without a delay, yield to the loop as a network source would.
                await asyncio.sleep(self.delay)
                yield event
            if self.stall_after is not None:
                while True:
                    if self.keepalive is None:
                        await asyncio.Event().wait()
                    else:
                        await asyncio.sleep(self.keepalive)
                        yield copy.deepcopy(self.keepalive_event)
        finally:
            self._count_close()

    def _stream(self, messages: list[Message], **params: Any) -> Generator[Event, None, None]:
        self._count_open(messages, params)
        try:
            for event in self._events(messages):
                if self.delay:
                    time.sleep(self.delay)
                yield event
            if self.stall_after is not None:
                if self.keepalive is None:
                    msg = (
                        "ScriptedModel: a native sync source cannot stall without keep-alives "
                        "(nothing could interrupt it); pass keepalive= or native_sync=False"
                    )
                    raise RuntimeError(msg)
                while True:
                    time.sleep(self.keepalive)
                    yield copy.deepcopy(self.keepalive_event)
        finally:
            self._count_close()

    # -- internals ---------------------------------------------------------------

    def _events(self, messages: list[Message]) -> Iterator[Event]:
        """The script for one request: deep copies, cut at ``stall_after``."""
        for i, event in enumerate(self._script(messages)):
            if self.stall_after is not None and i >= self.stall_after:
                return
            yield copy.deepcopy(event)

    def _count_open(self, messages: list[Message], params: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(ScriptedRequest(messages, dict(params)))
            self.opened += 1

    def _count_close(self) -> None:
        with self._lock:
            self.closed += 1

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, requests={len(self.requests)})"


def _default_failing_script() -> Iterator[Event]:
    """A text message that never finishes: any number of events is available."""
    yield {"event": "message-start", "role": "ai", "id": "msg-failing"}
    yield {"event": "content-block-start", "index": 0, "content": {"type": "text", "text": ""}}
    n = 0
    while True:
        yield {
            "event": "content-block-delta",
            "index": 0,
            "delta": {"type": "text-delta", "text": f"part {n}. "},
        }
        n += 1


class FailingModel(ScriptedModel):
    """A model whose source yields ``after`` events, then raises ``error``.

    The events are the first ``after`` of ``events``, or of a default script
    (``message-start``, a text block start, then text deltas without end). The
    error is raised inside the source on every request, so it reaches the
    stream as a source failure: a ``StreamError`` (such as the default) becomes
    the stream's error as is; any other ``Exception`` is wrapped in a
    ``StreamError`` whose ``__cause__`` is the original. ``error`` defaults to a
    ``ProviderError`` with code ``"scripted_failure"`` (a fresh one per
    request).

    Raises ``ValueError`` at construction when ``events`` has fewer than
    ``after`` events, or when one of the first ``after`` is ``message-finish``
    (the run would succeed before the failure). Other keyword arguments are
    :class:`ScriptedModel`'s (``delay``, ``native_sync``, callbacks, timeouts).
    """

    provider = "failing"

    def __init__(
        self,
        after: int = 0,
        error: BaseException | None = None,
        *,
        events: Iterable[Event] | None = None,
        model: str = "failing",
        **kwargs: Any,
    ) -> None:
        if after < 0:
            msg = f"after must be >= 0, got {after!r}"
            raise ValueError(msg)
        fixed: list[dict[str, Any]] | None = None
        if events is not None:
            fixed = [copy.deepcopy(dict(e)) for e in events]
            if len(fixed) < after:
                msg = f"after={after} but only {len(fixed)} events were given"
                raise ValueError(msg)
            for i, event in enumerate(fixed[:after]):
                if event.get("event") == "message-finish":
                    msg = (
                        f"events[{i}] is 'message-finish', before the failure after "
                        f"{after} events: the run would succeed first"
                    )
                    raise ValueError(msg)
        self.after = after
        self.error = error

        def script(_messages: list[Message]) -> Iterator[Event]:
            source = iter(fixed) if fixed is not None else _default_failing_script()
            for _ in range(after):
                yield next(source)
            raise self._make_error()

        super().__init__(script, model=model, **kwargs)

    def _make_error(self) -> BaseException:
        if self.error is not None:
            return self.error
        return ProviderError(
            f"FailingModel: scripted failure after {self.after} events",
            code="scripted_failure",
        )


# ---------------------------------------------------------------------------
# assertions
# ---------------------------------------------------------------------------

_BLOCK_EVENTS = ("content-block-start", "content-block-delta", "content-block-finish")


def _where(i: int, event: Event) -> str:
    return f"event {i} ({event.get('event')!r}, index {event.get('index')!r})"


def assert_well_formed(
    events: Iterable[Event], *, require_block_finish: bool = True
) -> list[dict[str, Any]]:
    """Assert that ``events`` is one well-formed, successful message lifecycle.

    Checked, in this order of precedence:

    * ``message-start``, if present, is the first event and occurs once;
    * every block event carries an integer ``index``;
    * per index: one ``content-block-start``, before any delta and the
      finish; no second start; no delta or finish after its finish; one
      finish;
    * with ``require_block_finish`` (the default) every started block is
      finished before ``message-finish``; pass ``False`` to allow blocks the
      message's assembly closes implicitly (as a provider's tool calls often
      are);
    * no ``error`` event;
    * ``message-finish`` occurs exactly once, as the last event.

    Events of other types (keep-alives, newer event types) are ignored.
    ``events`` may be any iterable of events, a sync stream included
    (iterating it pumps it to the end); for an async stream pass
    ``[e async for e in stream]``. Raises ``AssertionError`` naming the first
    offending event by position; returns the events as a list.
    """
    seen = [dict(e) for e in events]
    started: dict[int, int] = {}  # index -> position of its start
    finished: dict[int, int] = {}
    finish_at: int | None = None
    for i, event in enumerate(seen):
        etype = event.get("event")
        where = _where(i, event)
        if finish_at is not None:
            msg = f"{where} comes after message-finish (event {finish_at})"
            raise AssertionError(msg)
        if etype == "message-start":
            if i != 0:
                msg = f"{where}: message-start must be the first event"
                raise AssertionError(msg)
        elif etype in _BLOCK_EVENTS:
            index = event.get("index")
            if type(index) is not int:
                msg = f"{where}: a block event needs an integer 'index' to be checked"
                raise AssertionError(msg)
            if index in finished:
                msg = f"{where}: block {index} already finished at event {finished[index]}"
                raise AssertionError(msg)
            if etype == "content-block-start":
                if index in started:
                    msg = f"{where}: block {index} already started at event {started[index]}"
                    raise AssertionError(msg)
                started[index] = i
            elif index not in started:
                msg = f"{where}: block {index} was never started"
                raise AssertionError(msg)
            elif etype == "content-block-finish":
                finished[index] = i
        elif etype == "error":
            msg = f"{where}: the stream reported an error: {event.get('message')!r}"
            raise AssertionError(msg)
        elif etype == "message-finish":
            if require_block_finish:
                open_blocks = sorted(set(started) - set(finished))
                if open_blocks:
                    msg = f"{where}: blocks {open_blocks} were started but never finished"
                    raise AssertionError(msg)
            finish_at = i
    if finish_at is None:
        msg = f"no message-finish among the {len(seen)} events"
        raise AssertionError(msg)
    return seen


@dataclass(eq=False)
class RecordingHandler(CallbackHandler):
    """A callback handler that records every call, for assertions.

    :attr:`calls` holds one tuple per call, in order: ``("start",)``,
    ``("event", event_type)``, ``("end", message)`` and
    ``("error", error, partial_message)``. :attr:`events` keeps the events
    themselves and :attr:`runs` the ``Run`` of each call. Set
    ``raise_error=True`` to test how your code sees a handler's exception
    (this handler itself never raises).

    One handler may be shared by several runs; use a fresh one per run when
    asserting with :meth:`assert_ended_once`.
    """

    calls: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    raise_error: bool = False

    def on_start(self, run: Run) -> None:
        self.runs.append(run)
        self.calls.append(("start",))

    def on_event(self, run: Run, event: Mapping[str, Any]) -> None:
        self.runs.append(run)
        self.events.append(event)
        self.calls.append(("event", event.get("event")))

    def on_end(self, run: Run, message: AIMessage) -> None:
        self.runs.append(run)
        self.calls.append(("end", message))

    def on_error(self, run: Run, error: BaseException, partial_message: AIMessage) -> None:
        self.runs.append(run)
        self.calls.append(("error", error, partial_message))

    @property
    def kinds(self) -> list[str]:
        """The first element of every call: ``["start", "event", ..., "end"]``."""
        return [call[0] for call in self.calls]

    @property
    def event_types(self) -> list[Any]:
        """The type of every event reported through ``on_event``."""
        return [call[1] for call in self.calls if call[0] == "event"]

    @property
    def endings(self) -> list[tuple[Any, ...]]:
        """The ``("end", ...)`` and ``("error", ...)`` calls."""
        return [call for call in self.calls if call[0] in ("end", "error")]

    def assert_ended_once(self) -> tuple[Any, ...]:
        """Assert one well-ordered run, and return its ending call.

        The first call is the only ``on_start``; exactly one ``on_end`` or
        ``on_error`` follows it, as the last call; only ``on_event`` calls
        come between; every call was for the same run. Raises
        ``AssertionError`` describing the recorded calls otherwise.
        """
        kinds = self.kinds
        described = f"recorded calls: {kinds}"
        if not kinds:
            msg = f"no callback fired; {described}"
            raise AssertionError(msg)
        if kinds[0] != "start" or kinds.count("start") != 1:
            msg = f"expected exactly one on_start, as the first call; {described}"
            raise AssertionError(msg)
        endings = self.endings
        if len(endings) != 1:
            msg = f"expected exactly one on_end or on_error, got {len(endings)}; {described}"
            raise AssertionError(msg)
        if kinds[-1] not in ("end", "error"):
            msg = f"on_end/on_error must be the last call; {described}"
            raise AssertionError(msg)
        if len({id(run) for run in self.runs}) != 1:
            msg = f"the calls were for {len({id(r) for r in self.runs})} different runs"
            raise AssertionError(msg)
        return endings[0]
