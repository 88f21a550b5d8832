"""``HTTPChatModel``: a chat model that POSTs a streaming request with ``httpx``.

This is the only module of streamblocks that touches sockets. Everything it
decides is delegated to plain objects:

- the provider subclass builds the request (:meth:`HTTPChatModel._build_request`)
  and the :class:`~._framing.WireParser` that turns body bytes into events;
- :class:`RetryPolicy` decides whether and when to retry;
- :func:`error_from_response` turns an HTTP error into a typed ``ProviderError``.

The request loop itself is written twice, once for ``httpx.AsyncClient`` and
once for ``httpx.Client``; nothing else is.

Retries happen only before the first byte of a successful response body: a
connection that cannot be made, a retryable error status (408, 409, 429,
5xx, 529), or a connection lost before the body began. Once any body byte
has arrived, a failure ends the stream (``IncompleteStreamError``, with the
partial message kept) and is never retried, so no content is duplicated.

Closing or cancelling the stream closes the HTTP response at once, which
closes its connection: the server sees the client go away.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import sys
import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from .._errors import (
    AuthenticationError,
    IncompleteStreamError,
    InvalidInputError,
    ProviderError,
    StreamError,
    StreamTimeoutError,
)
from ..models._base import ChatModel
from ..models._driver import BridgedSource, NativeSyncSource
from ._builder import error_code, provider_error
from ._framing import SSEChunkDecoder
from ._params import check_params

if sys.version_info >= (3, 11):
    from typing import Self
else:  # pragma: no cover - exercised only on 3.10
    from typing_extensions import Self

try:
    import httpx
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    msg = "HTTP models need httpx: pip install 'streamblocks[http]'"
    raise ImportError(msg) from exc

if TYPE_CHECKING:
    import ssl
    from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence

    from .._messages import Message
    from ..models._callbacks import CallbackHandler
    from ..models._driver import SyncSource, Timeouts
    from ._builder import Event
    from ._framing import WireParser

__all__ = [
    "HTTPChatModel",
    "HTTPRequest",
    "RetryPolicy",
    "error_from_response",
    "parse_retry_after",
]

_RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-goog-request-id", "cf-ray")
_MAX_ERROR_BODY = 64 * 1024


@dataclass(frozen=True)
class HTTPRequest:
    """What to send: a JSON POST."""

    url: str
    headers: Mapping[str, str]
    body: Mapping[str, Any]


@dataclass
class RetryPolicy:
    """When to retry a request that failed before its response body began.

    Exponential backoff with full jitter: attempt ``n`` (from 0) waits a
    random time up to ``min(max_delay, base_delay * 2**n)``. A ``Retry-After``
    from the provider replaces the backoff; one longer than ``max_wait`` is
    not waited for (the error is raised, carrying ``retry_after``).
    """

    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_wait: float = 60.0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def delay(self, attempt: int, error: BaseException) -> float | None:
        """Seconds to wait before retry ``attempt + 1``, or ``None``: do not retry."""
        if attempt >= self.max_retries:
            return None
        if isinstance(error, ProviderError):
            if error.status not in _RETRYABLE_STATUSES:
                return None
            retry_after = error.retry_after
            if retry_after is not None:
                return retry_after if retry_after <= self.max_wait else None
        elif not isinstance(error, _RETRYABLE_TRANSPORT):
            return None
        return self._rng.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


class _NoBodyYet(Exception):
    """The connection failed after the headers of a 2xx response but before any
    body byte: nothing was received, so the request may be sent again."""


# Failures to reach the server or to keep the connection: sending again may
# work. Not retried: read/write/pool timeouts (waiting again only restarts the
# wait) and configuration errors such as a URL without a scheme.
_RETRYABLE_TRANSPORT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
    _NoBodyYet,
)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``retry-after-ms``, or ``Retry-After`` (seconds or an HTTP date)."""
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_from_response(
    status: int, headers: Mapping[str, str], body: bytes, provider: str
) -> ProviderError:
    """The typed error for an HTTP error response, with the provider's own message.

    Understands the error bodies of OpenAI (``{"error": {"message", "type",
    "code"}}``), Anthropic (``{"type": "error", "error": {"type",
    "message"}}``) and Google (``{"error": {"code", "message", "status"}}``),
    and falls back to the body text.
    """
    text = body.decode("utf-8", "replace")
    parsed: Any = None
    try:
        parsed = json.loads(text) if text.strip() else None
    except ValueError:
        parsed = None
    if isinstance(parsed, list) and parsed and isinstance(parsed[0], dict):
        parsed = parsed[0]  # Gemini's JSON-array form wraps the error too
    message: str | None = None
    code: str | None = None
    also: tuple[object, ...] = ()
    if isinstance(parsed, dict):
        err = parsed.get("error", parsed)
        if isinstance(err, dict):
            message = err.get("message") if isinstance(err.get("message"), str) else None
            code, also = error_code(err)
        elif isinstance(err, str):
            message = err
    if not message:
        snippet = " ".join(text.split())[:300]
        message = snippet or httpx.codes.get_reason_phrase(status) or "error"
    request_id = next((headers[h] for h in _REQUEST_ID_HEADERS if h in headers), None)
    full = f"{provider} returned HTTP {status}: {message}"
    if request_id:
        full += f" (request id {request_id})"
    return provider_error(
        full,
        code=code,
        status=status,
        request_id=request_id,
        body=parsed if parsed is not None else text,
        retry_after=parse_retry_after(headers),
        also=also,
    )


def _transport_error(
    exc: httpx.TransportError, received: int, provider: str, url: str, read_timeout: float | None
) -> StreamError:
    """A transport failure, typed: where it happened decides what it means."""
    error: StreamError
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        code = "connect_timeout" if isinstance(exc, httpx.ConnectTimeout) else "connect_error"
        error = ProviderError(f"{provider}: cannot connect to {url}: {exc}", code=code)
    elif isinstance(exc, httpx.TimeoutException):
        error = StreamTimeoutError(
            f"{provider}: no data for {read_timeout} s (the HTTP read timeout) after "
            f"{received} body bytes from {url}",
            kind="idle",
            timeout=read_timeout,
        )
    elif isinstance(exc, httpx.UnsupportedProtocol):
        error = ProviderError(f"{provider}: cannot send to {url}: {exc}", code="bad_url")
    elif received:
        error = IncompleteStreamError(
            f"{provider}: the connection was lost mid-stream after {received} body bytes: {exc}"
        )
    else:
        error = IncompleteStreamError(
            f"{provider}: the connection closed before the response body began: {exc}"
        )
    error.__cause__ = exc
    return error


class HTTPChatModel(ChatModel):
    """A model whose replies stream over HTTP; subclasses supply the request and parser.

    Configuration: ``provider`` (a name for this endpoint, reported in the
    message metadata and errors; the class's by default), ``api_key`` (else
    the first set variable of ``api_key_env``, which defaults to the class's
    list; ``requires_api_key`` says whether a missing key is an error, by
    default only for the provider's own ``base_url``), ``base_url`` (else
    :attr:`default_base_url`; it must be ``http://`` or ``https://``),
    ``timeout`` (httpx's connect/read/write/pool limits, seconds or an
    ``httpx.Timeout``), ``max_retries`` or a whole
    :class:`RetryPolicy` (before the body only), ``headers`` added to every
    request (they replace ours of the same name, in any case), optional
    ``http_client`` / ``async_http_client`` to use your own ``httpx``
    clients (then their timeouts apply), ``wire_tap`` (see :attr:`wire_tap`),
    and default request parameters (``temperature=...``, ``max_tokens=...``)
    that per-call parameters override.

    Connections: the sync client is created once and reused (``close()`` or
    ``with model:`` releases it; so does dropping the model). An async stream
    opens its own client and closes it when the stream ends, because an
    ``httpx.AsyncClient`` belongs to one event loop; pass
    ``async_http_client=`` to keep connections alive across requests.
    """

    provider: str = "http"
    default_base_url: ClassVar[str] = ""
    api_key_env: tuple[str, ...] = ()
    requires_api_key: bool = True

    wire_tap: Callable[[bytes], None] | None
    """Called with every chunk of a successful response body, exactly as
    received (after HTTP transfer and content decoding, before any parsing),
    in order; ``None``: no tap. The chunks of one reply concatenate to its
    raw body, which :func:`~._replay.replay` plays back to the same message.

    Only the body of the 2xx response that is streamed is tapped: not error
    statuses (their body becomes the ``ProviderError``), nor the JSON or HTML
    error page some servers send with a 2xx. Retries happen only before the
    first body byte, so a retried attempt taps nothing and no byte is tapped
    twice. The tap is read once, when the stream starts (its first
    consumption); assign a new one between replies, not during one. A tap that
    raises fails the stream like any error of the source (a non-``StreamError``
    is wrapped in a ``StreamError`` whose ``__cause__`` it is), and the
    connection is closed: the chunk it was given is not parsed.
    """

    def __init__(
        self,
        *,
        model: str,
        provider: str | None = None,
        api_key: str | None = None,
        api_key_env: Sequence[str] | None = None,
        requires_api_key: bool | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = 2,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        wire_tap: Callable[[bytes], None] | None = None,
        callbacks: Sequence[CallbackHandler] = (),
        first_event_timeout: float | None = None,
        idle_timeout: float | None = None,
        total_timeout: float | None = None,
        **params: Any,
    ) -> None:
        super().__init__(
            model=model,
            callbacks=callbacks,
            first_event_timeout=first_event_timeout,
            idle_timeout=idle_timeout,
            total_timeout=total_timeout,
        )
        if provider is not None:
            self.provider = provider
        check_params(params, self.provider)
        self.params: dict[str, Any] = params
        if api_key_env is not None:
            # Before the key is looked up: a preset must never fall back to
            # another provider's variable (and send that key to its server).
            self.api_key_env = tuple(api_key_env)
        self.api_key = api_key if api_key is not None else self._env_key()
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            msg = (
                f"base_url must start with http:// or https://, got {self.base_url!r} "
                "(for a local server: 'http://localhost:<port>/v1')"
            )
            raise InvalidInputError(msg)
        if requires_api_key is None:
            # The provider's own endpoint needs a key; a self-hosted or local
            # server (another base_url) usually needs none.
            requires_api_key = self.base_url == self.default_base_url.rstrip("/")
        self.requires_api_key = requires_api_key
        if timeout is None:
            # A slow model may think for minutes before its first byte; the
            # stream's own first-event/idle timeouts are the finer tool.
            timeout = httpx.Timeout(600.0, connect=10.0)
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.retry = retry if retry is not None else RetryPolicy(max_retries=max_retries)
        self.headers = {k.lower(): v for k, v in (headers or {}).items()}
        self._client = http_client
        self._own_client: httpx.Client | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._async_client = async_http_client
        self._ssl_context: ssl.SSLContext | None = None
        self.wire_tap = wire_tap

    # -- what a provider supplies ----------------------------------------------

    def _build_request(self, messages: Sequence[Message], params: Mapping[str, Any]) -> HTTPRequest:
        """The request for one reply. Pure; raises ``InvalidInputError`` for bad input."""
        raise NotImplementedError

    def _auth_headers(self, api_key: str | None) -> dict[str, str]:
        """Headers that carry the API key (``Authorization: Bearer`` by default)."""
        return {"authorization": f"Bearer {api_key}"} if api_key else {}

    def _new_parser(self, params: Mapping[str, Any]) -> WireParser:
        """A fresh parser (chunk decoder and adapter) for one response body."""
        raise NotImplementedError

    # -- ChatModel -----------------------------------------------------------------

    def _validate(self, messages: list[Message], params: dict[str, Any]) -> None:
        # Build once up front so that bad input (or a missing key) raises
        # before a stream exists.
        self._build_request(messages, self._merged(params))
        self._require_key()

    def _merged(self, params: Mapping[str, Any]) -> dict[str, Any]:
        check_params(params, self.provider)
        return {**self.params, **params} if self.params else dict(params)

    def _env_key(self) -> str | None:
        for name in self.api_key_env:
            value = os.environ.get(name)
            if value:
                return value
        return None

    def _require_key(self) -> str | None:
        if self.api_key or not self.requires_api_key:
            return self.api_key
        names = " or ".join(self.api_key_env) or "an API key variable"
        msg = f"no API key for {self.provider}: set {names}, or pass api_key=..."
        raise AuthenticationError(msg, code="missing_api_key")

    def _sync_source(
        self, messages: list[Message], params: dict[str, Any], timeouts: Timeouts
    ) -> SyncSource:
        # A blocking socket read cannot be interrupted, and httpx fixes one
        # read timeout per request, so the run's deadlines (first event, idle
        # between content, total) cannot be enforced on the native sync path.
        # With any of them set, the async loop runs on the shared background
        # loop, where the driver enforces them exactly.
        if timeouts.any:
            return BridgedSource(self._astream(messages, **params))
        return NativeSyncSource(self._stream(messages, **params))

    async def _astream(self, messages: list[Message], **params: Any) -> AsyncIterator[Event]:
        merged = self._merged(params)
        request = self._build_request(messages, merged)
        parser = self._new_parser(merged)
        tap = self.wire_tap
        own = self._async_client is None
        client = self._async_client or httpx.AsyncClient(
            timeout=self.timeout, verify=self._shared_ssl_context()
        )
        try:
            attempt = 0
            while True:
                response, attempt = await self._asend(client, request, parser, attempt)
                received = 0
                try:
                    try:
                        async for data in response.aiter_bytes():
                            received += len(data)
                            if tap is not None:
                                tap(data)
                            for event in parser.feed(data):
                                yield event
                    except httpx.TransportError as exc:
                        delay = self._retry_before_body(attempt, exc, received)
                        if delay is None:
                            raise self._transport_error(exc, received, request, client) from exc
                    else:
                        for event in parser.close():
                            yield event
                        return
                finally:
                    await response.aclose()
                attempt += 1
                await asyncio.sleep(delay)
        finally:
            if own:
                await client.aclose()

    def _stream(self, messages: list[Message], **params: Any) -> Iterator[Event]:
        merged = self._merged(params)
        request = self._build_request(messages, merged)
        parser = self._new_parser(merged)
        tap = self.wire_tap
        client = self._get_client()
        attempt = 0
        while True:
            response, attempt = self._send(client, request, parser, attempt)
            received = 0
            try:
                try:
                    for data in response.iter_bytes():
                        received += len(data)
                        if tap is not None:
                            tap(data)
                        yield from parser.feed(data)
                except httpx.TransportError as exc:
                    delay = self._retry_before_body(attempt, exc, received)
                    if delay is None:
                        raise self._transport_error(exc, received, request, client) from exc
                else:
                    yield from parser.close()
                    return
            finally:
                response.close()
            attempt += 1
            time.sleep(delay)

    # -- sending, with retries before the body (the loop written twice) ----------

    async def _asend(
        self, client: httpx.AsyncClient, request: HTTPRequest, parser: WireParser, attempt: int
    ) -> tuple[httpx.Response, int]:
        """A 2xx streaming response with its body unread, and the attempt it took."""
        headers = self._headers(request)
        while True:
            error: BaseException
            try:
                response = await client.send(
                    client.build_request("POST", request.url, json=request.body, headers=headers),
                    stream=True,
                )
            except httpx.TransportError as exc:
                error = exc
            else:
                if response.is_success and not _error_body(response, parser):
                    return response, attempt
                try:
                    body = await _aread_limited(response)
                finally:
                    await response.aclose()
                error = error_from_response(
                    response.status_code, response.headers, body, self.provider
                )
            delay = self.retry.delay(attempt, error)
            if delay is None:
                raise self._final(error, request, client)
            attempt += 1
            await asyncio.sleep(delay)

    def _send(
        self, client: httpx.Client, request: HTTPRequest, parser: WireParser, attempt: int
    ) -> tuple[httpx.Response, int]:
        """A 2xx streaming response with its body unread, and the attempt it took."""
        headers = self._headers(request)
        while True:
            error: BaseException
            try:
                response = client.send(
                    client.build_request("POST", request.url, json=request.body, headers=headers),
                    stream=True,
                )
            except httpx.TransportError as exc:
                error = exc
            else:
                if response.is_success and not _error_body(response, parser):
                    return response, attempt
                try:
                    body = _read_limited(response)
                finally:
                    response.close()
                error = error_from_response(
                    response.status_code, response.headers, body, self.provider
                )
            delay = self.retry.delay(attempt, error)
            if delay is None:
                raise self._final(error, request, client)
            attempt += 1
            time.sleep(delay)

    def _retry_before_body(
        self, attempt: int, exc: httpx.TransportError, received: int
    ) -> float | None:
        # Never after content: it would be received twice. A timeout is not
        # retried either: sending again would only restart the wait.
        if received or isinstance(exc, httpx.TimeoutException):
            return None
        return self.retry.delay(attempt, _NoBodyYet())

    def _transport_error(
        self,
        exc: httpx.TransportError,
        received: int,
        request: HTTPRequest,
        client: httpx.Client | httpx.AsyncClient,
    ) -> StreamError:
        read = client.timeout.read
        return _transport_error(exc, received, self.provider, request.url, read)

    def _final(
        self, error: BaseException, request: HTTPRequest, client: httpx.Client | httpx.AsyncClient
    ) -> BaseException:
        if isinstance(error, httpx.TransportError):
            return self._transport_error(error, 0, request, client)
        return error

    def _headers(self, request: HTTPRequest) -> dict[str, str]:
        # Header names are case-insensitive: lower-case every source, so that a
        # caller's "Authorization" replaces ours instead of being sent twice.
        headers = {"accept": "text/event-stream, application/json"}
        for source in (self._auth_headers(self._require_key()), request.headers, self.headers):
            headers.update((k.lower(), v) for k, v in source.items())
        return headers

    # -- clients -------------------------------------------------------------------

    def _get_client(self) -> httpx.Client:
        if self._client is not None:
            return self._client
        if self._own_client is None:
            client = self._own_client = httpx.Client(timeout=self.timeout)
            # A model dropped without close() still releases its sockets.
            self._finalizer = weakref.finalize(self, client.close)
        return self._own_client

    def _shared_ssl_context(self) -> ssl.SSLContext:
        # Loading the CA bundle costs about 15 ms; every per-stream async
        # client shares one context instead.
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()
        return self._ssl_context

    def close(self) -> None:
        """Close the sync HTTP client this model created (clients you passed in are
        yours to close). ``with model:`` does this on exit."""
        if self._own_client is not None:
            self._own_client.close()
            self._own_client = None
            if self._finalizer is not None:
                self._finalizer.detach()
                self._finalizer = None

    async def aclose(self) -> None:
        """For symmetry with ``close()``: async streams close their own clients
        when they end, so there is nothing else to release."""
        self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _error_body(response: httpx.Response, parser: WireParser) -> bool:
    """Whether a 2xx response is really an error: JSON or an HTML page where an
    event stream was expected (a proxy's error page, an error object sent with
    status 200). Its body is then read as an error instead of as the stream."""
    if not isinstance(parser.decoder, SSEChunkDecoder):
        return False
    kind = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return kind in ("application/json", "text/html")


async def _aread_limited(response: httpx.Response) -> bytes:
    """Up to 64 KiB of an error body: whatever could be read, even if the
    connection drops or the encoding is broken midway (the status still counts)."""
    parts: list[bytes] = []
    size = 0
    try:
        async for data in response.aiter_bytes():
            parts.append(data)
            size += len(data)
            if size >= _MAX_ERROR_BODY:
                break
    except (httpx.TransportError, httpx.DecodingError):
        pass
    return b"".join(parts)


def _read_limited(response: httpx.Response) -> bytes:
    """The sync twin of :func:`_aread_limited`."""
    parts: list[bytes] = []
    size = 0
    try:
        for data in response.iter_bytes():
            parts.append(data)
            size += len(data)
            if size >= _MAX_ERROR_BODY:
                break
    except (httpx.TransportError, httpx.DecodingError):
        pass
    return b"".join(parts)
