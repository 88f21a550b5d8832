"""Review tests for ``HTTPChatModel``, the SDK interop, ``replay`` and ``init_chat_model``.

Each test drives the public API against the local server (or an in-process
``httpx.MockTransport`` / a raw socket that never answers) and checks what a
user sees. Tests marked ``xfail(strict=True)`` expose a bug named in their
reason.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import gc
import gzip
import json
import os
import socket
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

import anthropic
import httpx
import openai
import pytest

from streamblocks import (
    AuthenticationError,
    BadRequestError,
    EmptyStreamError,
    IncompleteStreamError,
    InvalidInputError,
    ProviderError,
    ProviderOverloadedError,
    RateLimitError,
    StreamCancelledError,
    StreamTimeoutError,
    from_anthropic,
    from_openai,
    init_chat_model,
)
from streamblocks.cli._main import main as cli_main
from streamblocks.models._callbacks import CallbackHandler
from streamblocks.providers import GeminiChat, OpenAIChat, RetryPolicy, replay
from streamblocks.providers._http import error_from_response, parse_retry_after
from tests.providers.replay import FIXTURES
from tests.providers.server import Reply, sse_chunks

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from streamblocks import AIMessage
    from streamblocks.models._callbacks import Run
    from tests.providers.server import LocalServer

OPENAI_TEXT = FIXTURES / "openai-chat" / "gpt-4o-text-usage-chunk.sse"
ANTHROPIC_TEXT = FIXTURES / "anthropic" / "thinking-signature-text.sse"
ROUTE = "/v1/chat/completions"
MESSAGES: Any = [{"role": "user", "content": "hi"}]


class RecordingRetry(RetryPolicy):
    """A fast retry policy that records every decision it is asked for."""

    def __init__(self, max_retries: int = 2) -> None:
        super().__init__(max_retries=max_retries, base_delay=0.01, max_delay=0.02)
        self.decisions: list[tuple[type[BaseException], float | None]] = []

    def delay(self, attempt: int, error: BaseException) -> float | None:
        result = super().delay(attempt, error)
        self.decisions.append((type(error), result))
        return result

    @property
    def retries(self) -> int:
        return sum(1 for _, d in self.decisions if d is not None)


def chat_model(server: LocalServer, **kwargs: Any) -> OpenAIChat:
    kwargs.setdefault("retry", RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.02))
    return OpenAIChat(model="gpt-4o", base_url=f"{server.url}/v1", api_key="sk-test", **kwargs)


async def invoke_as(mode: str, model: OpenAIChat) -> AIMessage:
    """``invoke`` on a worker thread (``mode`` starting with "sync"), else ``ainvoke``."""
    if mode.startswith("sync"):
        return await asyncio.to_thread(model.invoke, "hi")
    return await model.ainvoke("hi")


def openai_text() -> str:
    text = []
    for line in OPENAI_TEXT.read_bytes().splitlines():
        if line.startswith(b"data: {"):
            chunk = json.loads(line[6:])
            if chunk["choices"]:
                text.append(chunk["choices"][0]["delta"].get("content") or "")
    return "".join(text)


class Recorder(CallbackHandler):
    def __init__(self) -> None:
        self.calls: list[Any] = []

    def on_start(self, run: Run) -> None:
        self.calls.append("start")

    def on_end(self, run: Run, message: AIMessage) -> None:
        self.calls.append("end")

    def on_error(self, run: Run, error: BaseException, partial_message: AIMessage) -> None:
        self.calls.append(("error", type(error)))


class SilentServer:
    """Accepts connections on 127.0.0.1 and never answers: no status line, no headers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.02)
        self.closing = False
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self.closing:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(conn)

    def close(self) -> None:
        self.closing = True
        self._thread.join(2)
        self.sock.close()
        for conn in self.connections:
            conn.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    srv = SilentServer()
    try:
        yield srv
    finally:
        srv.close()


def chat_chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
    chunk = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o",
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


# == bugs: timeouts on the sync path ===============================================


def test_sync_first_event_timeout_is_not_cut_short_by_idle_timeout(server: LocalServer) -> None:
    # The model thinks 0.25 s before its first byte: within first_event_timeout
    # (2 s); the idle limit (0.12 s) only applies between content events.
    server.route(ROUTE, Reply(chunks=[OPENAI_TEXT.read_bytes()], delay=0.25))
    message = chat_model(server, first_event_timeout=2, idle_timeout=0.12).invoke("hi")
    assert message.text == openai_text()


async def test_async_first_event_timeout_is_not_cut_short_by_idle_timeout(
    server: LocalServer,
) -> None:
    server.route(ROUTE, Reply(chunks=[OPENAI_TEXT.read_bytes()], delay=0.25))
    message = await chat_model(server, first_event_timeout=2, idle_timeout=0.12).ainvoke("hi")
    assert message.text == openai_text()


@pytest.mark.parametrize("kind", ["first_event", "idle", "total"])
def test_sync_timeout_reports_the_deadline_that_passed(server: LocalServer, kind: str) -> None:
    server.route(ROUTE, Reply(chunks=[OPENAI_TEXT.read_bytes()], delay=0.25))
    stream = chat_model(server, **{f"{kind}_timeout": 0.06}).stream_events("hi")
    with pytest.raises(StreamTimeoutError) as info:
        stream.output  # noqa: B018
    assert (info.value.kind, info.value.timeout) == (kind, 0.06)


async def test_async_timeout_reports_the_deadline_that_passed(server: LocalServer) -> None:
    server.route(ROUTE, Reply(chunks=[OPENAI_TEXT.read_bytes()], delay=0.25))
    stream = await chat_model(server, first_event_timeout=0.06).astream_events("hi")
    with pytest.raises(StreamTimeoutError) as info:
        await stream
    assert (info.value.kind, info.value.timeout) == ("first_event", 0.06)


@pytest.mark.parametrize("mode", ["sync-first-event", "async-http-timeout"])
async def test_read_timeout_before_headers_is_not_retried(silent: SilentServer, mode: str) -> None:
    retry = RecordingRetry()
    url = f"{silent.url}/v1"
    if mode == "sync-first-event":
        model = OpenAIChat(
            model="m", base_url=url, api_key="k", retry=retry, first_event_timeout=0.06
        )
    else:
        model = OpenAIChat(model="m", base_url=url, api_key="k", retry=retry, timeout=0.06)
    started = time.monotonic()
    with pytest.raises(StreamTimeoutError):
        await invoke_as(mode, model)
    elapsed = time.monotonic() - started
    assert retry.retries == 0
    assert len(silent.connections) == 1
    assert elapsed < 0.15


def test_sync_user_http_client_timeout_is_honoured(server: LocalServer) -> None:
    server.route(ROUTE, Reply(chunks=[OPENAI_TEXT.read_bytes()], delay=0.25))
    with httpx.Client(timeout=0.06) as client:
        model = chat_model(server, http_client=client)
        started = time.monotonic()
        with pytest.raises(StreamTimeoutError):
            model.invoke("hi")
        assert time.monotonic() - started < 0.2


async def test_async_user_http_client_timeout_is_honoured(server: LocalServer) -> None:
    server.route(ROUTE, Reply(chunks=[OPENAI_TEXT.read_bytes()], delay=0.25))
    async with httpx.AsyncClient(timeout=0.06) as client:
        model = chat_model(server, async_http_client=client)
        with pytest.raises(StreamTimeoutError):
            await model.ainvoke("hi")


# == bugs: error statuses whose body cannot be read =================================


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_error_status_with_a_cut_body_keeps_its_status(
    server: LocalServer, mode: str
) -> None:
    server.route(ROUTE, Reply(401, [b'{"error": {"message": ', b'"bad key"}}'], disconnect_after=1))
    model = chat_model(server)
    with pytest.raises(AuthenticationError) as info:
        await invoke_as(mode, model)
    assert info.value.status == 401
    assert len(server.requests) == 1, "a 401 is never retried"


def test_error_status_with_an_undecodable_body_keeps_its_status(server: LocalServer) -> None:
    server.route(ROUTE, Reply(401, [b"not gzip"], headers={"content-encoding": "gzip"}))
    with pytest.raises(AuthenticationError) as info:
        chat_model(server).invoke("hi")
    assert info.value.status == 401


def test_gzip_error_status_body_is_read(server: LocalServer) -> None:
    body = gzip.compress(b'{"error": {"message": "bad key", "type": "invalid_request_error"}}')
    server.route(ROUTE, Reply(401, [body], headers={"content-encoding": "gzip"}))
    with pytest.raises(AuthenticationError, match="bad key"):
        chat_model(server).invoke("hi")


# == bugs: transport errors that are not lost connections =============================


def test_base_url_without_scheme_is_refused_at_construction() -> None:
    with pytest.raises(InvalidInputError, match="http://"):
        OpenAIChat(model="m", base_url="localhost:11434/v1", api_key="k")


def test_connection_refused_retries_then_reports_cannot_connect() -> None:
    # Bind then close a port, so that nothing listens on it.
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    retry = RecordingRetry(max_retries=2)
    model = OpenAIChat(model="m", base_url=f"http://127.0.0.1:{port}/v1", api_key="k", retry=retry)
    with pytest.raises(ProviderError, match="cannot connect") as info:
        model.invoke("hi")
    assert info.value.code == "connect_error"
    assert retry.retries == 2
    assert [d for _, d in retry.decisions][-1] is None


def test_max_retries_zero_sends_once(server: LocalServer) -> None:
    server.route(ROUTE, Reply(503, [b'{"error": {"message": "down"}}']))
    model = OpenAIChat(model="m", base_url=f"{server.url}/v1", api_key="k", max_retries=0)
    with pytest.raises(ProviderOverloadedError, match="down"):
        model.invoke("hi")
    assert len(server.requests) == 1


def test_closed_right_after_headers_every_time_exhausts_retries(server: LocalServer) -> None:
    server.route(ROUTE, Reply(chunks=[b"data: {}\n\n"], disconnect_after=0))
    with pytest.raises(IncompleteStreamError) as info:
        chat_model(server).invoke("hi")
    assert "before the response body began" in str(info.value)
    assert len(server.requests) == 3


# == bugs: a 2xx that is not an event stream =======================================


def test_json_error_object_on_a_2xx_is_reported(server: LocalServer) -> None:
    body = b'{"error": {"message": "The model is overloaded", "type": "server_error"}}'
    server.route(ROUTE, Reply(200, [body], content_type="application/json"))
    with pytest.raises(ProviderError, match="The model is overloaded"):
        chat_model(server).invoke("hi")


def test_html_page_on_a_2xx_is_a_provider_error_quoting_it(server: LocalServer) -> None:
    server.route(
        ROUTE, Reply(200, [b"<html><body>Bad gateway</body></html>"], content_type="text/html")
    )
    with pytest.raises(ProviderError, match="Bad gateway") as info:
        chat_model(server).invoke("hi")
    assert info.value.status == 200


# == bugs: headers ===================================================================


def test_header_override_is_case_insensitive() -> None:
    seen: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(
            200, content=OPENAI_TEXT.read_bytes(), headers={"content-type": "text/event-stream"}
        )

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        model = OpenAIChat(
            model="m",
            api_key="sk-model",
            http_client=client,
            headers={"Authorization": "Bearer sk-user", "Accept": "text/event-stream"},
        )
        model.invoke("hi")
    assert seen[0].get_list("authorization") == ["Bearer sk-user"]
    assert seen[0].get_list("accept") == ["text/event-stream"]


def test_header_override_same_case_replaces(server: LocalServer) -> None:
    server.route(ROUTE, Reply(chunks=[OPENAI_TEXT.read_bytes()]))
    chat_model(server, headers={"authorization": "Bearer sk-user", "x-extra": "1"}).invoke("hi")
    assert server.requests[0].headers["authorization"] == "Bearer sk-user"
    assert server.requests[0].headers["x-extra"] == "1"


# == bugs: init_chat_model presets and API keys ======================================


def test_compatible_preset_never_sends_the_openai_key(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-secret")
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    server.route(ROUTE, Reply(chunks=[OPENAI_TEXT.read_bytes()]))
    init_chat_model("lmstudio:qwen", base_url=f"{server.url}/v1").invoke("hi")
    assert "authorization" not in server.requests[0].headers
    # At another base URL (a proxy, a local server) a preset needs no key, and
    # still never borrows OpenAI's.
    init_chat_model("groq:llama-3.3-70b", base_url=f"{server.url}/v1").invoke("hi")
    assert "authorization" not in server.requests[1].headers
    # At the preset's own endpoint its key is required, and only its key.
    with pytest.raises(AuthenticationError, match="GROQ_API_KEY"):
        init_chat_model("groq:llama-3.3-70b").invoke("hi")
    assert len(server.requests) == 2


def test_preset_key_precedence(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk-env")
    server.route(ROUTE, Reply(chunks=[OPENAI_TEXT.read_bytes()]))
    init_chat_model("groq:llama", base_url=f"{server.url}/v1").invoke("hi")
    init_chat_model("groq:llama", base_url=f"{server.url}/v1", api_key="gsk-explicit").invoke("hi")
    assert [r.headers["authorization"] for r in server.requests] == [
        "Bearer gsk-env",
        "Bearer gsk-explicit",
    ]


def test_gemini_key_variable_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-key")
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key")
    assert init_chat_model("google:gemini-2.5-flash").api_key == "gemini-key"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("spec", "model"),
    [
        (
            "openrouter:meta-llama/llama-3.1-8b-instruct:free",
            "meta-llama/llama-3.1-8b-instruct:free",
        ),
        ("vllm:org/model:q4", "org/model:q4"),
    ],
)
def test_model_names_with_colons_reach_the_request(
    server: LocalServer, spec: str, model: str
) -> None:
    server.route(ROUTE, Reply(chunks=[OPENAI_TEXT.read_bytes()]))
    init_chat_model(spec, base_url=f"{server.url}/v1", api_key="k").invoke("hi")
    assert server.requests[0].body["model"] == model


# == bugs: the async client cache ====================================================


def test_finished_event_loop_and_its_connection_are_released(server: LocalServer) -> None:
    server.route(ROUTE, Reply(chunks=[OPENAI_TEXT.read_bytes()]))
    model = chat_model(server)
    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []

    async def one() -> str:
        loops.append(weakref.ref(asyncio.get_running_loop()))
        return (await model.ainvoke("hi")).text

    # No ResourceWarning either: the stream closed its own client when it ended.
    assert asyncio.run(one()) == openai_text()
    gc.collect()
    assert loops[0]() is None, "the finished loop is kept alive by the model"


def test_same_model_in_two_asyncio_runs(server: LocalServer) -> None:
    server.route(ROUTE, Reply(chunks=[OPENAI_TEXT.read_bytes()]))
    model = chat_model(server)

    async def one() -> str:
        async with model:
            return (await model.ainvoke("hi")).text

    assert asyncio.run(one()) == openai_text()
    assert asyncio.run(one()) == openai_text()
    assert len(server.requests) == 2


async def test_concurrent_async_streams_on_one_model(server: LocalServer) -> None:
    server.route(ROUTE, Reply(chunks=sse_chunks(OPENAI_TEXT.read_bytes(), 500), delay=0.005))
    model = chat_model(server)
    started = time.monotonic()
    messages = await asyncio.gather(*(model.ainvoke("hi") for _ in range(4)))
    elapsed = time.monotonic() - started
    assert [m.text for m in messages] == [openai_text()] * 4
    assert len(server.requests) == 4
    assert elapsed < 4 * 0.005 * len(sse_chunks(OPENAI_TEXT.read_bytes(), 500))


# == passing coverage: callbacks, closing, bodies =====================================


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_callbacks_fire_once_on_http_failure(server: LocalServer, mode: str) -> None:
    server.route(ROUTE, Reply(503, [b'{"error": {"message": "down"}}']))
    recorder = Recorder()
    model = chat_model(server, callbacks=[recorder])
    with pytest.raises(ProviderOverloadedError):
        await invoke_as(mode, model)
    assert recorder.calls == ["start", ("error", ProviderOverloadedError)]
    assert len(server.requests) == 3


def test_sync_stream_closed_before_start_sends_nothing(server: LocalServer) -> None:
    server.route(ROUTE, Reply(chunks=[OPENAI_TEXT.read_bytes()]))
    recorder = Recorder()
    stream = chat_model(server, callbacks=[recorder]).stream_events("hi")
    stream.close()
    with pytest.raises(StreamCancelledError):
        stream.output  # noqa: B018
    assert server.requests == []
    assert recorder.calls.count("start") <= 1
    assert [c for c in recorder.calls if c != "start"] == [("error", StreamCancelledError)]


async def test_async_stream_closed_before_start_sends_nothing(server: LocalServer) -> None:
    server.route(ROUTE, Reply(chunks=[OPENAI_TEXT.read_bytes()]))
    stream = await chat_model(server).astream_events("hi")
    await stream.aclose()
    with pytest.raises(StreamCancelledError):
        await stream
    await asyncio.sleep(0.05)
    assert server.requests == []


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_gzip_encoded_event_stream(server: LocalServer, mode: str) -> None:
    body = gzip.compress(OPENAI_TEXT.read_bytes())
    server.route(ROUTE, Reply(chunks=sse_chunks(body, 50), headers={"content-encoding": "gzip"}))
    model = chat_model(server)
    message = await invoke_as(mode, model)
    assert message.text == openai_text()


def test_choice_parameter_follows_the_second_choice(server: LocalServer) -> None:
    server.route(ROUTE, Reply(chunks=[N2_BODY]))
    message = chat_model(server).invoke("hi", n=2, choice=1)
    assert message.text == "one"
    assert message.response_metadata["finish_reason"] == "length"


def test_retry_after_http_date() -> None:
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=30)
    when = email.utils.format_datetime(later, usegmt=True)
    value = parse_retry_after({"retry-after": when})
    assert value is not None
    assert 28 <= value <= 31
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after-ms": "x", "retry-after": "2"}) == 2.0


def test_error_from_response_gemini_array_and_plain_text() -> None:
    body = (
        b'[{"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}]'
    )
    error = error_from_response(429, {"retry-after": "3"}, body, "google")
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 3.0
    assert "Quota exceeded" in str(error)
    plain = error_from_response(502, {}, b"", "openai")
    assert "Bad Gateway" in str(plain)


GEMINI_ROUTE = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
GEMINI_ERROR = {
    "error": {
        "code": 400,
        "message": "User location is not supported for the API use.",
        "status": "FAILED_PRECONDITION",
    }
}


def test_gemini_error_code_is_the_same_over_http_status_and_in_stream(
    server: LocalServer,
) -> None:
    model = GeminiChat(
        model="gemini-2.5-flash", base_url=f"{server.url}/v1beta", api_key="k", max_retries=0
    )
    server.route(
        GEMINI_ROUTE, Reply(chunks=[b"data: " + json.dumps(GEMINI_ERROR).encode() + b"\n\n"])
    )
    with pytest.raises(ProviderError) as in_stream:
        model.invoke("hi")
    assert in_stream.value.code == "FAILED_PRECONDITION"
    server.route(GEMINI_ROUTE, Reply(400, [json.dumps(GEMINI_ERROR).encode()]))
    with pytest.raises(BadRequestError) as over_http:
        model.invoke("hi")
    assert "User location" in str(over_http.value)
    assert over_http.value.code == in_stream.value.code


def test_in_stream_rate_limit_is_typed_by_the_http_model(server: LocalServer) -> None:
    server.route(ROUTE, Reply(chunks=[RATE_LIMIT_BODY]))
    stream = chat_model(server).stream_events("hi")
    with pytest.raises(RateLimitError):
        stream.output  # noqa: B018
    assert stream.snapshot().text == "Part"


# == the SDK interop ==================================================================

N2_BODY = (
    chat_chunk(0, {"role": "assistant", "content": ""})
    + chat_chunk(1, {"role": "assistant", "content": ""})
    + chat_chunk(0, {"content": "zero"})
    + chat_chunk(1, {"content": "one"})
    + chat_chunk(0, {}, "stop")
    + chat_chunk(1, {}, "length")
    + b"data: [DONE]\n\n"
)
RATE_LIMIT_BODY = (
    chat_chunk(0, {"content": "Part"})
    + b'data: {"error": {"message": "Rate limit reached for gpt-4o", "type": "requests",'
    b' "param": null, "code": "rate_limit_exceeded"}}\n\n'
)


@pytest.fixture
def sdk(server: LocalServer) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(api_key="sk", base_url=f"{server.url}/v1", max_retries=0, timeout=0.3)
    try:
        yield client
    finally:
        client.close()


@pytest.mark.parametrize(("choice", "text", "finish"), [(0, "zero", "stop"), (1, "one", "length")])
def test_from_openai_n2_choice(
    server: LocalServer, sdk: openai.OpenAI, choice: int, text: str, finish: str
) -> None:
    server.route(ROUTE, Reply(chunks=[N2_BODY]))
    raw = sdk.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True, n=2)
    message = from_openai(raw, choice=choice).output
    assert message.text == text
    assert message.response_metadata["finish_reason"] == finish


def test_from_openai_stream_helper_n2_choice(server: LocalServer, sdk: openai.OpenAI) -> None:
    server.route(ROUTE, Reply(chunks=[N2_BODY]))
    with sdk.chat.completions.stream(model="gpt-4o", messages=MESSAGES, n=2) as events:
        message = from_openai(events, choice=1).output
    assert message.text == "one"


def test_from_openai_empty_and_consumed(server: LocalServer, sdk: openai.OpenAI) -> None:
    with pytest.raises(EmptyStreamError):
        from_openai(iter([])).output  # noqa: B018
    server.route(ROUTE, Reply(chunks=[OPENAI_TEXT.read_bytes()]))
    raw = sdk.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    list(raw)
    with pytest.raises(EmptyStreamError):
        from_openai(raw).output  # noqa: B018
    assert len(server.requests) == 1


def test_from_openai_callbacks_once(server: LocalServer, sdk: openai.OpenAI) -> None:
    server.route(ROUTE, Reply(chunks=[OPENAI_TEXT.read_bytes()]))
    recorder = Recorder()
    raw = sdk.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    assert from_openai(raw, callbacks=[recorder]).output.text == openai_text()
    assert recorder.calls == ["start", "end"]


def test_from_openai_in_stream_error_is_typed_like_the_http_model(
    server: LocalServer, sdk: openai.OpenAI
) -> None:
    server.route(ROUTE, Reply(chunks=[RATE_LIMIT_BODY]))
    stream = from_openai(
        sdk.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    )
    with pytest.raises(RateLimitError):
        stream.output  # noqa: B018
    assert stream.snapshot().text == "Part"


@pytest.mark.parametrize("which", ["openai", "anthropic"])
def test_sdk_connection_lost_mid_stream_is_incomplete(
    server: LocalServer, sdk: openai.OpenAI, which: str
) -> None:
    if which == "openai":
        server.route(
            ROUTE, Reply(chunks=sse_chunks(OPENAI_TEXT.read_bytes(), 200), disconnect_after=4)
        )
        stream = from_openai(
            sdk.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        )
    else:
        server.route(
            "/v1/messages",
            Reply(chunks=sse_chunks(ANTHROPIC_TEXT.read_bytes(), 200), disconnect_after=4),
        )
        client = anthropic.Anthropic(api_key="k", base_url=server.url, max_retries=0)
        raw = client.messages.create(model="c", max_tokens=5, messages=MESSAGES, stream=True)
        stream = from_anthropic(raw)
    try:
        with pytest.raises(IncompleteStreamError):
            stream.output  # noqa: B018
    finally:
        if which == "anthropic":
            client.close()


def test_from_openai_sync_stall_ends_with_the_sdks_timeout_typed(
    server: LocalServer, sdk: openai.OpenAI
) -> None:
    # A sync SDK stream blocks inside the SDK's own read, which nothing outside
    # can interrupt (documented): the SDK's timeout ends it, and its
    # APITimeoutError becomes our StreamTimeoutError, the partial text kept.
    server.route(ROUTE, Reply(chunks=sse_chunks(OPENAI_TEXT.read_bytes(), 300), stall_after=2))
    raw = sdk.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    stream = from_openai(raw, idle_timeout=0.06)
    with pytest.raises(StreamTimeoutError):
        stream.output  # noqa: B018
    assert stream.snapshot().text


async def test_from_openai_async_idle_timeout_catches_a_stall(server: LocalServer) -> None:
    server.route(ROUTE, Reply(chunks=sse_chunks(OPENAI_TEXT.read_bytes(), 300), stall_after=2))
    client = openai.AsyncOpenAI(api_key="sk", base_url=f"{server.url}/v1", max_retries=0)
    try:
        raw = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        stream = from_openai(raw, idle_timeout=0.06)
        with pytest.raises(StreamTimeoutError):
            await stream
        assert stream.snapshot().text
        served = await asyncio.to_thread(server.wait_finished)
        assert served.client_disconnected
    finally:
        await client.close()


# == replay and the CLI =================================================================


def test_replay_of_an_empty_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.sse"
    empty.write_bytes(b"")
    with pytest.raises(InvalidInputError, match="cannot tell which provider"):
        replay(empty)
    assert cli_main(["replay", str(empty)]) == 2
    assert "cannot tell which provider" in capsys.readouterr().err
    assert cli_main(["replay", str(empty), "--provider", "openai"]) == 1
    assert "EmptyStreamError" in capsys.readouterr().err


def test_replay_dash_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    # stdin is not supported: "-" is read as a file name, and reported as unreadable.
    assert cli_main(["replay", "-"]) == 2
    assert "cannot read -" in capsys.readouterr().err


def test_replay_with_bom_and_crlf(tmp_path: Path) -> None:
    bom = tmp_path / "bom.sse"
    bom.write_bytes(b"\xef\xbb\xbf" + ANTHROPIC_TEXT.read_bytes().replace(b"\n", b"\r\n"))
    plain = replay(ANTHROPIC_TEXT).output
    message = replay(bom).output
    assert message.text == plain.text
    assert message.reasoning == plain.reasoning


def test_replay_env_independent_of_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert os.environ.get("OPENAI_API_KEY") is None
    assert replay(OPENAI_TEXT).output.text == openai_text()
