"""The HTTP models against a real server on 127.0.0.1: transcripts served with
delays, error statuses, retries, disconnects, stalls and cancellation, each
observed from both sides."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import pytest

from streamblocks import (
    AuthenticationError,
    BadRequestError,
    IncompleteStreamError,
    InvalidInputError,
    ProviderError,
    ProviderOverloadedError,
    RateLimitError,
    StreamCancelledError,
    StreamTimeoutError,
    init_chat_model,
)
from streamblocks.providers import (
    AnthropicAdapter,
    AnthropicChat,
    GeminiAdapter,
    GeminiChat,
    OpenAIChat,
    OpenAIChatAdapter,
    OpenAIResponses,
    OpenAIResponsesAdapter,
    RetryPolicy,
)
from tests.providers.replay import FIXTURES, raw_chunks, replay_pieces, wire_format
from tests.providers.server import Reply, sse_chunks

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from streamblocks import AIMessage
    from streamblocks.providers import HTTPChatModel
    from streamblocks.providers._framing import Adapter
    from tests.providers.server import LocalServer

OPENAI_TEXT = FIXTURES / "openai-chat" / "gpt-4o-text-usage-chunk.sse"
OPENAI_TOOLS = FIXTURES / "openai-chat" / "gpt-4o-parallel-tool-calls.sse"
RESPONSES_TEXT = FIXTURES / "openai-responses" / "text.sse"
ANTHROPIC_THINKING = FIXTURES / "anthropic" / "thinking-signature-text.sse"
ANTHROPIC_TOOL = FIXTURES / "anthropic" / "text-then-tool-use-input-json-delta.sse"
GEMINI_SSE = FIXTURES / "gemini" / "gemini-2.0-flash-exp-text.sse"
GEMINI_ARRAY = FIXTURES / "gemini" / "gemini-2.5-flash-json-array-stream-thought-function-call.json"

FAST_RETRY = RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.02)


def body_of(path: Path) -> bytes:
    """What a server sends for a transcript: ``.jsonl`` payloads become SSE."""
    if path.suffix == ".jsonl":
        return b"".join(
            b"data: " + line + b"\n\n" for line in path.read_bytes().splitlines() if line.strip()
        )
    return path.read_bytes()


def openai_text(path: Path) -> str:
    """The answer text of an OpenAI transcript, from the raw payloads."""
    return "".join(
        c["choices"][0]["delta"].get("content") or "" for c in raw_chunks(path) if c["choices"]
    )


def expected(make_adapter: Callable[[], Adapter], path: Path) -> dict[str, Any]:
    return comparable(replay_pieces(make_adapter, [path.read_bytes()], wire_format(path)).ok())


def comparable(message: AIMessage) -> dict[str, Any]:
    data = message.to_dict()
    data.pop("id")  # the run id when the provider sends none
    return data


def openai(server: LocalServer, **kwargs: Any) -> OpenAIChat:
    kwargs.setdefault("retry", FAST_RETRY)
    return OpenAIChat(model="gpt-4o", base_url=f"{server.url}/v1", api_key="sk-test", **kwargs)


CASES: list[tuple[str, Path, str, Callable[[], Adapter], Callable[[str], HTTPChatModel]]] = [
    (
        "openai-chat",
        OPENAI_TOOLS,
        "/v1/chat/completions",
        OpenAIChatAdapter,
        lambda url: OpenAIChat(model="gpt-4o", base_url=f"{url}/v1", api_key="k"),
    ),
    (
        "openai-responses",
        RESPONSES_TEXT,
        "/v1/responses",
        OpenAIResponsesAdapter,
        lambda url: OpenAIResponses(model="gpt-4o", base_url=f"{url}/v1", api_key="k"),
    ),
    (
        "anthropic",
        ANTHROPIC_THINKING,
        "/v1/messages",
        AnthropicAdapter,
        lambda url: AnthropicChat(model="claude-sonnet-4", base_url=url, api_key="k"),
    ),
    (
        "gemini-sse",
        GEMINI_SSE,
        "/v1beta/models/gemini-2.0-flash-exp:streamGenerateContent",
        GeminiAdapter,
        lambda url: GeminiChat(model="gemini-2.0-flash-exp", base_url=f"{url}/v1beta", api_key="k"),
    ),
    (
        "gemini-json-array",
        GEMINI_ARRAY,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        GeminiAdapter,
        lambda url: GeminiChat(
            model="gemini-2.5-flash",
            base_url=f"{url}/v1beta",
            api_key="k",
            wire_format="json-array",
        ),
    ),
]


# -- transcripts over HTTP --------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_sync_transcript_over_http(server: LocalServer, case: Any) -> None:
    _, path, route, make_adapter, make_model = case
    server.route(route, Reply(chunks=sse_chunks(body_of(path), 97), delay=0.001))
    model = make_model(server.url)
    message = model.invoke("hi")
    assert comparable(message) == expected(make_adapter, path)
    served = server.wait_finished()
    assert served.completed
    assert served.method == "POST"


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
async def test_async_transcript_over_http(server: LocalServer, case: Any) -> None:
    _, path, route, make_adapter, make_model = case
    server.route(route, Reply(chunks=sse_chunks(body_of(path), 61), delay=0.001))
    model = make_model(server.url)
    stream = await model.astream_events("hi")
    deltas = [d async for d in stream.text]
    message = await stream
    assert comparable(message) == expected(make_adapter, path)
    assert "".join(deltas) == message.text
    await model.aclose()


def test_request_carries_key_stream_flag_and_usage_option(server: LocalServer) -> None:
    server.route("/v1/chat/completions", Reply(chunks=[OPENAI_TEXT.read_bytes()]))
    message = openai(server, temperature=0.2).invoke(
        [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        max_tokens=50,
    )
    served = server.requests[0]
    assert served.headers["authorization"] == "Bearer sk-test"
    assert served.body["stream"] is True
    assert served.body["stream_options"] == {"include_usage": True}
    assert served.body["temperature"] == 0.2
    assert served.body["max_tokens"] == 50
    assert served.body["model"] == "gpt-4o"
    assert [m["role"] for m in served.body["messages"]] == ["system", "user"]
    assert message.text == openai_text(OPENAI_TEXT)


def test_provider_headers(server: LocalServer) -> None:
    server.route("/v1/messages", Reply(chunks=[ANTHROPIC_TOOL.read_bytes()]))
    AnthropicChat(model="claude", base_url=server.url, api_key="ak").invoke("hi")
    headers = server.requests[0].headers
    assert headers["x-api-key"] == "ak"
    assert headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in headers
    route = "/v1beta/models/gemini-2.0-flash-exp:streamGenerateContent"
    server.route(route, Reply(chunks=[GEMINI_SSE.read_bytes()]))
    GeminiChat(model="gemini-2.0-flash-exp", base_url=f"{server.url}/v1beta", api_key="gk").invoke(
        "hi"
    )
    assert server.requests[1].headers["x-goog-api-key"] == "gk"
    assert server.requests[1].path.endswith("?alt=sse")


# -- error statuses ---------------------------------------------------------------

OPENAI_ERROR = (
    b'{"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",'
    b' "code": "invalid_api_key"}}'
)
ANTHROPIC_OVERLOADED = (
    b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}'
)
GEMINI_ERROR = (
    b'{"error": {"code": 400, "message": "API key not valid", "status": "INVALID_ARGUMENT"}}'
)


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (401, OPENAI_ERROR, AuthenticationError),
        (403, b'{"error": {"message": "no access"}}', AuthenticationError),
        (400, GEMINI_ERROR, BadRequestError),
        (422, b'{"detail": "bad"}', BadRequestError),
        (429, b'{"error": {"message": "slow down", "type": "rate_limit_error"}}', RateLimitError),
        (503, b"upstream unavailable", ProviderOverloadedError),
        (529, ANTHROPIC_OVERLOADED, ProviderOverloadedError),
        (500, b'{"error": {"message": "boom"}}', ProviderError),
        (404, b'{"error": {"message": "no such model"}}', ProviderError),
    ],
)
def test_error_status_is_typed_with_message_and_request_id(
    server: LocalServer, status: int, body: bytes, cls: type[ProviderError]
) -> None:
    server.route(
        "/v1/chat/completions",
        Reply(status, [body], headers={"x-request-id": "req_123"}),
    )
    model = openai(server, retry=RetryPolicy(max_retries=0))
    with pytest.raises(cls) as info:
        model.invoke("hi")
    error = info.value
    assert type(error) is cls
    assert error.status == status
    assert error.request_id == "req_123"
    assert "req_123" in str(error)
    if body.startswith(b"{") and b"message" in body:
        provider_message = body.split(b'"message": "')[1].split(b'"')[0].decode()
        assert provider_message in str(error)
    assert error.body is not None
    assert len(server.requests) == 1


def test_error_code_from_body(server: LocalServer) -> None:
    server.route("/v1/chat/completions", Reply(401, [OPENAI_ERROR]))
    with pytest.raises(AuthenticationError) as info:
        openai(server).invoke("hi")
    assert info.value.code == "invalid_api_key"  # the specific one, as in-stream
    assert info.value.body == {
        "error": {
            "message": "Incorrect API key provided",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
        }
    }
    assert len(server.requests) == 1, "a 401 is not retried"


async def test_async_error_status(server: LocalServer) -> None:
    server.route("/v1/messages", Reply(529, [ANTHROPIC_OVERLOADED]))
    model = AnthropicChat(
        model="claude", base_url=server.url, api_key="k", retry=RetryPolicy(max_retries=0)
    )
    with pytest.raises(ProviderOverloadedError) as info:
        await model.ainvoke("hi")
    assert info.value.code == "overloaded_error"
    assert "Overloaded" in str(info.value)


# -- retries ----------------------------------------------------------------------


def test_retry_after_is_honoured_then_succeeds(server: LocalServer) -> None:
    server.route(
        "/v1/chat/completions",
        Reply(429, [b'{"error": {"message": "slow"}}'], headers={"retry-after": "0.3"}),
        Reply(chunks=[OPENAI_TEXT.read_bytes()]),
    )
    started = time.monotonic()
    message = openai(server).invoke("hi")
    waited = time.monotonic() - started
    assert message.text
    assert len(server.requests) == 2
    assert waited >= 0.3, "the retry came before Retry-After said it could"


async def test_retry_after_ms_async(server: LocalServer) -> None:
    server.route(
        "/v1/chat/completions",
        Reply(503, [b"busy"], headers={"retry-after-ms": "150"}),
        Reply(500, [b"oops"]),
        Reply(chunks=[OPENAI_TEXT.read_bytes()]),
    )
    started = time.monotonic()
    message = await openai(server).ainvoke("hi")
    assert time.monotonic() - started >= 0.15
    assert message.usage_metadata is not None
    assert len(server.requests) == 3


def test_retries_exhausted_raise_the_last_error(server: LocalServer) -> None:
    server.route("/v1/chat/completions", Reply(503, [b'{"error": {"message": "down"}}']))
    with pytest.raises(ProviderOverloadedError, match="down"):
        openai(server).invoke("hi")
    assert len(server.requests) == 3  # one try and two retries


def test_rate_limit_retry_after_is_reported_when_not_retried(server: LocalServer) -> None:
    server.route("/v1/chat/completions", Reply(429, [b"{}"], headers={"retry-after": "120"}))
    with pytest.raises(RateLimitError) as info:
        openai(server).invoke("hi")
    assert info.value.retry_after == 120.0
    assert len(server.requests) == 1, "a wait longer than max_wait is not slept through"


def test_lost_before_first_body_byte_is_retried(server: LocalServer) -> None:
    server.route(
        "/v1/chat/completions",
        Reply(chunks=[b"data: {}\n\n"], disconnect_after=0),
        Reply(chunks=sse_chunks(OPENAI_TEXT.read_bytes())),
    )
    message = openai(server).invoke("hi")
    assert message.text
    assert len(server.requests) == 2


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_never_retried_after_content(server: LocalServer, mode: str) -> None:
    server.route(
        "/v1/chat/completions",
        Reply(chunks=sse_chunks(OPENAI_TEXT.read_bytes(), 200), disconnect_after=4),
    )
    model = openai(server)
    if mode == "sync":
        stream = model.stream_events("hi")
        with pytest.raises(IncompleteStreamError, match="lost mid-stream"):
            stream.output  # noqa: B018
        partial = stream.snapshot()
    else:
        astream = await model.astream_events("hi")
        with pytest.raises(IncompleteStreamError, match="lost mid-stream"):
            await astream
        partial = astream.snapshot()
    assert len(server.requests) == 1
    full = openai_text(OPENAI_TEXT)
    assert partial.text, "what arrived before the disconnect is kept"
    assert full.startswith(partial.text)
    assert partial.text != full


def test_unreachable_server() -> None:
    model = OpenAIChat(
        model="m", base_url="http://127.0.0.1:9/v1", api_key="k", retry=RetryPolicy(max_retries=0)
    )
    with pytest.raises(ProviderError, match="cannot connect") as info:
        model.invoke("hi")
    assert info.value.code == "connect_error"


# -- timeouts and cancellation ------------------------------------------------------


def test_stall_is_caught_by_the_idle_timeout_sync(server: LocalServer) -> None:
    server.route(
        "/v1/chat/completions",
        Reply(chunks=sse_chunks(OPENAI_TEXT.read_bytes(), 300), stall_after=2),
    )
    stream = openai(server, idle_timeout=0.3).stream_events("hi")
    with pytest.raises(StreamTimeoutError) as info:
        stream.output  # noqa: B018
    assert info.value.kind == "idle"
    assert stream.snapshot().text, "text before the stall is kept"
    assert server.wait_finished().client_disconnected


async def test_stall_is_caught_by_the_idle_timeout_async(server: LocalServer) -> None:
    server.route(
        "/v1/chat/completions",
        Reply(chunks=sse_chunks(OPENAI_TEXT.read_bytes(), 300), stall_after=2),
    )
    stream = await openai(server, idle_timeout=0.3).astream_events("hi")
    with pytest.raises(StreamTimeoutError) as info:
        await stream
    assert info.value.kind == "idle"
    served = await asyncio.to_thread(server.wait_finished)
    assert served.client_disconnected


async def test_async_close_mid_stream_disconnects(server: LocalServer) -> None:
    server.route(
        "/v1/chat/completions",
        Reply(chunks=sse_chunks(OPENAI_TEXT.read_bytes(), 40), delay=0.05),
    )
    stream = await openai(server).astream_events("hi")
    got = []
    async for delta in stream.text:
        got.append(delta)
        if len(got) == 2:
            break
    await stream.aclose()
    served = await asyncio.to_thread(server.wait_finished)
    assert served.client_disconnected
    assert not served.completed
    with pytest.raises(StreamCancelledError):
        await stream


async def test_cancelled_ainvoke_disconnects(server: LocalServer) -> None:
    server.route(
        "/v1/chat/completions",
        Reply(chunks=sse_chunks(OPENAI_TEXT.read_bytes(), 40), delay=0.05),
    )
    task = asyncio.create_task(openai(server).ainvoke("hi"))
    await asyncio.to_thread(server.wait_chunks, 2)  # the body has begun
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    served = await asyncio.to_thread(server.wait_finished)
    assert served.client_disconnected


def test_sync_close_mid_stream_disconnects(server: LocalServer) -> None:
    server.route(
        "/v1/chat/completions",
        Reply(chunks=sse_chunks(OPENAI_TEXT.read_bytes(), 40), delay=0.05),
    )
    with openai(server).stream_events("hi") as stream:
        for i, _ in enumerate(stream.text):
            if i == 1:
                break
    served = server.wait_finished()
    assert served.client_disconnected
    assert not served.completed


# -- configuration ---------------------------------------------------------------------


def test_missing_key_fails_before_sending(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    # Anthropic's own endpoint needs a key: the error comes at the call, and
    # nothing is sent anywhere.
    with pytest.raises(AuthenticationError, match="ANTHROPIC_API_KEY"):
        AnthropicChat(model="claude").stream_events("hi")
    # A gateway may need one too: requires_api_key=True says so.
    model = AnthropicChat(model="claude", base_url=server.url, requires_api_key=True)
    with pytest.raises(AuthenticationError, match="ANTHROPIC_API_KEY"):
        model.stream_events("hi")
    assert server.requests == []


def test_another_base_url_needs_no_key(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    server.route("/v1/messages", Reply(chunks=[ANTHROPIC_TOOL.read_bytes()]))
    AnthropicChat(model="claude", base_url=server.url).invoke("hi")
    assert "x-api-key" not in server.requests[0].headers


def test_key_from_environment(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "from-env")
    server.route("/v1/messages", Reply(chunks=[ANTHROPIC_TOOL.read_bytes()]))
    AnthropicChat(model="claude", base_url=server.url).invoke("hi")
    assert server.requests[0].headers["x-api-key"] == "from-env"


def test_unknown_param_fails_before_sending(server: LocalServer) -> None:
    with pytest.raises(InvalidInputError, match="temprature"):
        openai(server).stream_events("hi", temprature=1)
    with pytest.raises(InvalidInputError, match="temprature"):
        openai(server, temprature=1)
    assert server.requests == []


def test_local_compatible_server_needs_no_key(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    server.route("/v1/chat/completions", Reply(chunks=[OPENAI_TEXT.read_bytes()]))
    model = init_chat_model("ollama:llama3.2:3b", base_url=f"{server.url}/v1")
    message = model.invoke("hi")
    assert model.provider == "ollama"
    assert server.requests[0].body["model"] == "llama3.2:3b"
    assert "authorization" not in server.requests[0].headers
    assert message.response_metadata["model_provider"] == "ollama"


@pytest.mark.parametrize(
    ("spec", "cls", "provider"),
    [
        ("openai:gpt-4o", OpenAIChat, "openai"),
        ("deepseek:deepseek-chat", OpenAIChat, "deepseek"),
        ("groq:llama-3.3-70b-versatile", OpenAIChat, "groq"),
        ("openai-responses:gpt-5", OpenAIResponses, "openai"),
        ("anthropic:claude-sonnet-4-5", AnthropicChat, "anthropic"),
        ("gemini:gemini-2.5-flash", GeminiChat, "google"),
        ("google:gemini-2.5-flash", GeminiChat, "google"),
    ],
)
def test_init_chat_model_specs(spec: str, cls: type, provider: str) -> None:
    model = init_chat_model(spec, api_key="k")
    assert type(model) is cls
    assert model.provider == provider
    assert model.model == spec.split(":", 1)[1]
