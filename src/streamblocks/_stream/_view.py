"""What the sync and async streams share: the producer API and read-only views.

All of it delegates to one ``StreamCore``; neither stream re-implements
accumulation or the lifecycle, they only differ in how a consumer waits.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ._core import StreamCore, StreamState
from ._stats import RunStats

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .._errors import StreamCancelledError
    from .._messages import AIMessage
    from .._protocol import ToolCall, UsageInfo

__all__ = ["StreamView"]

_STREAMING = StreamState.STREAMING  # a module global: an enum attribute lookup costs ~45 ns


class StreamView:
    """The producer side (``dispatch``, ``fail``) and non-blocking introspection."""

    __slots__ = ("_core", "stats")

    def __init__(
        self,
        *,
        namespace: list[str] | None = None,
        node: str | None = None,
        message_id: str | None = None,
    ) -> None:
        self._core = StreamCore(namespace=namespace, node=node, message_id=message_id)
        self.stats = RunStats()
        """Timing of the run; filled in by the driver (all ``None`` when fed by hand)."""

    # -- producer side -------------------------------------------------------

    def dispatch(self, event: Mapping[str, Any]) -> None:
        """Feed one protocol event.

        Raises ``ProtocolError`` (naming the event type and field) for a
        malformed event, which also fails the stream, and for any event after
        the stream ended, which changes nothing. Safe to call from a thread
        other than the consumers'.
        """
        self._core.dispatch(event)

    def fail(self, error: BaseException) -> None:
        """End the stream with ``error``: every projection raises it once drained.

        A no-op if the stream already ended (terminal states are sticky).
        Safe to call from any thread.
        """
        self._core.fail(error)

    def cancel(self, error: StreamCancelledError | None = None) -> None:
        """End the stream as cancelled, without touching any producer or source.

        For drivers whose producer was cancelled; consumers should use
        ``close()``/``aclose()``, which also stop the source. A no-op once the
        stream has ended.
        """
        self._core.cancel(error)

    def set_message_id(self, message_id: str) -> None:
        """Set the message id (drivers call this once a run id exists)."""
        self._core.message_id = message_id

    # -- introspection (never blocks, never pumps) ---------------------------

    @property
    def namespace(self) -> list[str]:
        return self._core.namespace

    @property
    def node(self) -> str | None:
        return self._core.node

    @property
    def message_id(self) -> str | None:
        """The message id: from the constructor, then from ``message-start``."""
        return self._core.message_id

    @property
    def state(self) -> StreamState:
        return self._core.state

    @property
    def done(self) -> bool:
        """Whether the stream has ended, by finishing, failing or being cancelled."""
        return self._core.state is not _STREAMING

    @property
    def error(self) -> BaseException | None:
        """The terminal error, or ``None`` while streaming or after success."""
        return self._core.error

    @property
    def has_events(self) -> bool:
        return bool(self._core.events.items)

    @property
    def output_message(self) -> AIMessage | None:
        """The final message once finished, else ``None``. Never blocks or raises."""
        return self._core.message

    def snapshot(self) -> AIMessage:
        """The message assembled from everything received so far.

        Works at any time, including after a failure or cancellation; blocks
        still in progress appear as they stand. O(size of the message).
        """
        return self._core.assemble()

    # -- final values handed to consumers (copies, never internal state) ----

    def _text_final(self) -> str:
        return self._core.text_final or ""

    def _reasoning_final(self) -> str:
        return self._core.reasoning_final or ""

    def _tool_calls_final(self) -> list[ToolCall]:
        return copy.deepcopy(self._core.tool_calls_final or [])

    def _usage_final(self) -> UsageInfo | None:
        usage = self._core.usage
        return copy.deepcopy(usage)

    def _message_final(self) -> AIMessage:
        message = self._core.message
        if message is None:  # unreachable once FINISHED; kept as a loud guard
            msg = "the stream finished without assembling a message"
            raise RuntimeError(msg)
        return message
