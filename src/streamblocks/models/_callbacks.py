"""Callbacks: what a run reports, and the guarantee that it ends exactly once.

Every run fires ``on_start`` once, then ``on_event`` after each dispatched
event, then exactly one of ``on_end`` or ``on_error``, on every path: success,
an ``error`` event, a source that raises or ends early, cancellation before or
after the start, an early sync close, a timeout, or a failure while the
message is assembled.

A handler that raises never corrupts the stream. By default the exception is
logged (logger ``streamblocks``, with the run id) and the run goes on. A
handler with ``raise_error = True`` asks for the exception to propagate:
from ``on_start`` and ``on_event`` it fails the run (which then fires
``on_error``); from ``on_end`` and ``on_error`` it is raised by ``await
stream`` / ``invoke`` while the message itself stays intact.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .._messages import AIMessage, Message
    from .._stream._stats import RunStats

__all__ = ["CallbackHandler", "Run"]

logger = logging.getLogger("streamblocks")


@dataclass
class Run:
    """What a handler learns about the run it is called for."""

    run_id: str
    provider: str
    model: str
    messages: list[Message]
    params: dict[str, Any]
    stats: RunStats
    """Live timing: ``time_to_first_content``, ``duration`` and tokens per second."""
    tags: dict[str, Any] = field(default_factory=dict)
    """Free for handlers to annotate the run; streamblocks never reads it."""


class CallbackHandler:
    """Override the methods you need. They run on the producer's task (async) or
    inside the consumer's pump (sync): keep them quick."""

    raise_error: bool = False
    """Propagate this handler's exceptions instead of logging them."""

    def on_start(self, run: Run) -> None:
        """The run is starting; nothing has been sent yet."""

    def on_event(self, run: Run, event: Mapping[str, Any]) -> None:
        """``event`` has just been dispatched into the stream."""

    def on_end(self, run: Run, message: AIMessage) -> None:
        """The run finished; ``message`` is the assembled reply."""

    def on_error(self, run: Run, error: BaseException, partial_message: AIMessage) -> None:
        """The run failed, timed out or was cancelled; ``partial_message`` has
        everything received before that."""


class RunCallbacks:
    """Fires one run's callbacks, and ends the run exactly once."""

    __slots__ = ("ended", "handlers", "run")

    def __init__(self, handlers: Sequence[CallbackHandler], run: Run) -> None:
        self.handlers = tuple(handlers)
        self.run = run
        self.ended = False

    def start(self) -> None:
        self._fire("on_start", self.run)

    def event(self, event: Mapping[str, Any]) -> None:
        self._fire("on_event", self.run, event)

    def end(self, message: AIMessage) -> None:
        if not self.ended:
            self.ended = True
            self._fire("on_end", self.run, message)

    def error(self, error: BaseException, partial_message: AIMessage) -> None:
        if not self.ended:
            self.ended = True
            self._fire("on_error", self.run, error, partial_message)

    def _fire(self, name: str, *args: Any) -> None:
        # Every handler is called even if an earlier one raised; the first
        # exception from a handler that asked for it is raised afterwards.
        raised: BaseException | None = None
        for handler in self.handlers:
            try:
                getattr(handler, name)(*args)
            except Exception as exc:
                if handler.raise_error:
                    raised = raised or exc
                else:
                    logger.exception(
                        "callback %s.%s raised (run %s); the run goes on",
                        type(handler).__name__,
                        name,
                        self.run.run_id,
                    )
        if raised is not None:
            raise raised
