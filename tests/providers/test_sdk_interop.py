"""``from_openai`` and ``from_anthropic`` fed by the official SDKs, which talk to
a local server replaying the recorded transcripts. The SDKs are real clients
that nobody here wrote: if our reading of their objects drifts, this fails."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import anthropic
import openai
import pytest

from streamblocks import (
    AsyncChatModelStream,
    ChatModelStream,
    InvalidInputError,
    ProviderOverloadedError,
    from_anthropic,
    from_openai,
)
from streamblocks.providers import AnthropicAdapter, OpenAIChatAdapter, OpenAIResponsesAdapter
from tests.providers.replay import FIXTURES, replay_pieces, wire_format
from tests.providers.server import Reply, sse_chunks

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from streamblocks import AIMessage
    from streamblocks.providers._framing import Adapter
    from tests.providers.server import LocalServer

OPENAI_TOOLS = FIXTURES / "openai-chat" / "gpt-4o-parallel-tool-calls.sse"
OPENAI_TEXT = FIXTURES / "openai-chat" / "gpt-4o-text-usage-chunk.sse"
RESPONSES = FIXTURES / "openai-responses" / "reasoning-item-then-function-call.sse"
ANTHROPIC_THINKING = FIXTURES / "anthropic" / "thinking-signature-text.sse"
ANTHROPIC_TOOL = FIXTURES / "anthropic" / "text-then-tool-use-input-json-delta.sse"

MESSAGES: Any = [{"role": "user", "content": "hi"}]


def essentials(message: AIMessage) -> dict[str, Any]:
    """What must survive the SDK's parsing: content, tool calls, usage, finish reason."""
    return {
        "text": message.text,
        "reasoning": message.reasoning,
        "tool_calls": message.tool_calls,
        "invalid_tool_calls": message.invalid_tool_calls,
        "usage": message.usage_metadata,
        "finish_reason": message.response_metadata.get("finish_reason"),
        "blocks": [b["type"] for b in message.content] if isinstance(message.content, list) else [],
    }


def expected(make_adapter: Callable[[], Adapter], path: Path) -> dict[str, Any]:
    return essentials(replay_pieces(make_adapter, [path.read_bytes()], wire_format(path)).ok())


def openai_client(server: LocalServer) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test", base_url=f"{server.url}/v1", max_retries=0)


def anthropic_client(server: LocalServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="ak-test", base_url=server.url, max_retries=0)


# -- openai -----------------------------------------------------------------------------


def test_openai_raw_chunks_sync(server: LocalServer) -> None:
    server.route("/v1/chat/completions", Reply(chunks=sse_chunks(OPENAI_TOOLS.read_bytes())))
    sdk = openai_client(server).chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True
    )
    stream = from_openai(sdk)
    assert isinstance(stream, ChatModelStream)
    chunks = list(stream.tool_calls)
    message = stream.output
    assert essentials(message) == expected(OpenAIChatAdapter, OPENAI_TOOLS)
    assert len(message.tool_calls) == 2
    assert "".join(c["args"] or "" for c in chunks if c.get("index") == 0)


async def test_openai_raw_chunks_async(server: LocalServer) -> None:
    server.route("/v1/chat/completions", Reply(chunks=sse_chunks(OPENAI_TEXT.read_bytes())))
    client = openai.AsyncOpenAI(api_key="sk", base_url=f"{server.url}/v1", max_retries=0)
    sdk = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    stream = from_openai(sdk)
    assert isinstance(stream, AsyncChatModelStream)
    text = "".join([d async for d in stream.text])
    message = await stream
    assert text == message.text
    assert essentials(message) == expected(OpenAIChatAdapter, OPENAI_TEXT)
    await client.close()


def test_openai_stream_helper_events(server: LocalServer) -> None:
    server.route("/v1/chat/completions", Reply(chunks=sse_chunks(OPENAI_TOOLS.read_bytes())))
    client = openai_client(server)
    with client.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as sdk_stream:
        message = from_openai(sdk_stream).output
    assert essentials(message) == expected(OpenAIChatAdapter, OPENAI_TOOLS)


def test_openai_stream_manager_is_refused_with_advice(server: LocalServer) -> None:
    manager = openai_client(server).chat.completions.stream(model="gpt-4o", messages=MESSAGES)
    with pytest.raises(InvalidInputError, match="context manager"):
        from_openai(manager)  # type: ignore[call-overload]
    assert server.requests == []


def test_openai_responses_events(server: LocalServer) -> None:
    server.route("/v1/responses", Reply(chunks=sse_chunks(RESPONSES.read_bytes())))
    sdk = openai_client(server).responses.create(model="gpt-5", input="hi", stream=True)
    message = from_openai(sdk).output
    assert essentials(message) == expected(OpenAIResponsesAdapter, RESPONSES)
    assert message.tool_calls


def test_closing_early_releases_the_connection(server: LocalServer) -> None:
    server.route(
        "/v1/chat/completions",
        Reply(chunks=sse_chunks(OPENAI_TEXT.read_bytes(), 40), delay=0.05),
    )
    sdk = openai_client(server).chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True
    )
    with from_openai(sdk) as stream:
        for i, _ in enumerate(stream.text):
            if i == 1:
                break
    served = server.wait_finished()
    assert served.client_disconnected
    assert not served.completed


# -- anthropic --------------------------------------------------------------------------


def test_anthropic_raw_events_sync(server: LocalServer) -> None:
    server.route("/v1/messages", Reply(chunks=sse_chunks(ANTHROPIC_THINKING.read_bytes())))
    sdk = anthropic_client(server).messages.create(
        model="claude-sonnet-4", max_tokens=1024, messages=MESSAGES, stream=True
    )
    stream = from_anthropic(sdk)
    reasoning = "".join(stream.reasoning)
    message = stream.output
    assert reasoning == message.reasoning
    assert essentials(message) == expected(AnthropicAdapter, ANTHROPIC_THINKING)
    blocks = message.content
    assert isinstance(blocks, list)
    signature = next(b for b in blocks if b["type"] == "reasoning").get("extras", {})
    assert signature.get("signature"), "the thinking signature survives the SDK"


def test_anthropic_message_stream_helper(server: LocalServer) -> None:
    server.route("/v1/messages", Reply(chunks=sse_chunks(ANTHROPIC_TOOL.read_bytes())))
    client = anthropic_client(server)
    with client.messages.stream(
        model="claude-sonnet-4", max_tokens=1024, messages=MESSAGES
    ) as sdk_stream:
        message = from_anthropic(sdk_stream).output
    assert essentials(message) == expected(AnthropicAdapter, ANTHROPIC_TOOL)
    assert message.tool_calls


async def test_anthropic_async(server: LocalServer) -> None:
    server.route("/v1/messages", Reply(chunks=sse_chunks(ANTHROPIC_TOOL.read_bytes())))
    client = anthropic.AsyncAnthropic(api_key="ak", base_url=server.url, max_retries=0)
    sdk = await client.messages.create(
        model="claude-sonnet-4", max_tokens=1024, messages=MESSAGES, stream=True
    )
    stream = from_anthropic(sdk)
    chunks = [c async for c in stream.tool_calls]
    message = await stream
    assert chunks
    assert essentials(message) == expected(AnthropicAdapter, ANTHROPIC_TOOL)
    await client.close()


async def test_anthropic_error_event_mid_stream_is_typed(server: LocalServer) -> None:
    body = (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1",'
        b'"type":"message","role":"assistant","model":"claude","content":[],"stop_reason":null,'
        b'"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1}}}\n\n'
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        b'"content_block":{"type":"text","text":""}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"Partial"}}\n\n'
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
        b'"message":"Overloaded"}}\n\n'
    )
    server.route("/v1/messages", Reply(chunks=[body]))
    client = anthropic.AsyncAnthropic(api_key="ak", base_url=server.url, max_retries=0)
    sdk = await client.messages.create(
        model="claude", max_tokens=10, messages=MESSAGES, stream=True
    )
    stream = from_anthropic(sdk)
    # The SDK raises on the `error` event before our adapter sees it; its
    # exception becomes our typed error, and the partial text is kept.
    with pytest.raises(ProviderOverloadedError, match="Overloaded") as info:
        await stream
    assert info.value.code == "overloaded_error"
    assert info.value.status is None
    assert stream.snapshot().text == "Partial"
    await client.close()
    await asyncio.sleep(0)
