"""Every error streamblocks raises, in one tree.

::

    RuntimeError
    └── StreamError                  base of everything a stream raises
        ├── ProtocolError            (also ValueError) a malformed event, or an event
        │                            dispatched after the stream ended
        ├── ProviderError            the provider reported an error (an ``error``
        │   │                        event, an error inside its stream, or an
        │   │                        HTTP error status)
        │   ├── AuthenticationError  401/403: the API key is missing, wrong or lacks access
        │   ├── RateLimitError       429: slow down (``retry_after`` seconds, when given)
        │   ├── BadRequestError      400/422: the request itself is wrong; do not retry
        │   └── ProviderOverloadedError  503/529 or an ``overloaded_error``: retry later
        ├── IncompleteStreamError    the source ran dry before ``message-finish``
        │   └── EmptyStreamError     ... without producing any event at all
        ├── StreamCancelledError     the stream was closed or cancelled before it
        │                            finished
        └── StreamTimeoutError       a first-event, idle or total deadline passed

    ValueError
    └── InvalidInputError            a model was given input it cannot send
                                     (raised before a stream exists)

``StreamError`` derives from ``RuntimeError`` because that is what LangChain's
``ChatModelStream`` raises for an ``error`` event, so existing ``except
RuntimeError`` clauses keep working.

Every terminal error is sticky: once a stream has failed, every projection
raises the same exception object after draining what it had buffered, and
``snapshot()`` still returns everything received before the failure.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "EmptyStreamError",
    "IncompleteStreamError",
    "InvalidInputError",
    "ProtocolError",
    "ProviderError",
    "ProviderOverloadedError",
    "RateLimitError",
    "StreamCancelledError",
    "StreamError",
    "StreamTimeoutError",
]


class StreamError(RuntimeError):
    """Base class of every error a stream raises."""


class ProtocolError(StreamError, ValueError):
    """An event does not follow the protocol.

    Raised by ``dispatch``. A malformed event also fails the stream with this
    error (an event was lost, so the message cannot be trusted to be
    complete); an event after the stream ended changes nothing. ``event_type``
    and ``field`` name what was wrong (either may be ``None`` when the event
    had no usable type).
    """

    def __init__(
        self, message: str, *, event_type: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.event_type = event_type
        self.field = field


class ProviderError(StreamError):
    """The model provider reported an error.

    ``code`` is the provider's error code or type when it gave one;
    ``status`` is the HTTP status when the error came from an HTTP response,
    ``None`` when it arrived inside the stream. ``request_id`` is the
    provider's id for the request (from a response header such as
    ``x-request-id``), to quote to its support. ``body`` is the provider's
    error object as received (parsed JSON, or text), so nothing it said is lost.
    ``retry_after`` is the delay in seconds the provider asked for before a
    retry (``Retry-After``), or ``None`` when it did not say.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        body: object = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.request_id = request_id
        self.body = body
        self.retry_after = retry_after


class AuthenticationError(ProviderError):
    """HTTP 401 or 403: the API key is missing, invalid, or not allowed this model."""


class RateLimitError(ProviderError):
    """HTTP 429: too many requests or tokens, or the quota is spent.

    ``retry_after`` says how long the provider asked to wait, when it did.
    """


class BadRequestError(ProviderError):
    """HTTP 400 or 422: the provider rejected the request; sending it again will not help."""


class ProviderOverloadedError(ProviderError):
    """HTTP 503 or 529, or an ``overloaded_error`` in the stream: the provider is
    temporarily out of capacity. Retrying later may succeed."""


class IncompleteStreamError(StreamError):
    """The source of events ended, or cannot make progress, before ``message-finish``.

    The consumer is never handed ``None`` or ``""`` in place of a result it
    cannot have; it gets this instead, and ``snapshot()`` keeps what arrived.
    """


class StreamCancelledError(StreamError):
    """The stream was closed (``close()``/``aclose()``) or its producer was cancelled
    before the message finished.

    This is deliberately not ``asyncio.CancelledError``: a consumer that did not
    itself get cancelled must not look cancelled to its task group.
    """


class StreamTimeoutError(StreamError):
    """A deadline passed: time to first content, idle gap, or total duration.

    ``kind`` is ``"first_event"``, ``"idle"`` or ``"total"``; ``timeout`` is the
    limit in seconds that was exceeded.
    """

    def __init__(
        self, message: str, *, kind: str | None = None, timeout: float | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.timeout = timeout


class EmptyStreamError(IncompleteStreamError):
    """The model's source ended without producing a single event."""


class InvalidInputError(ValueError):
    """A model was given input it cannot send: a malformed message, or an unknown
    ``version``. Raised before anything is sent; the message says which input
    item is wrong and why."""
