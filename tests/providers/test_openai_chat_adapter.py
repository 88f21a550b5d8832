"""The Chat Completions adapter against recorded streams (OpenAI, Azure and the
compatible servers) and hand-built chunks for what the recordings lack.

Expected values are computed from the raw chunks, independently of the adapter.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from openai.types.chat import ChatCompletionChunk

from streamblocks import (
    BadRequestError,
    IncompleteStreamError,
    ProtocolError,
    ProviderError,
    ProviderOverloadedError,
    RateLimitError,
)
from streamblocks._errors import EmptyStreamError
from streamblocks.providers.openai_chat._adapter import OpenAIChatAdapter
from tests.providers.replay import (
    Replay,
    raw_chunks,
    replay_pieces,
    replay_three_ways,
    transcripts,
)

if TYPE_CHECKING:
    from pathlib import Path

    from streamblocks import AIMessage

PATHS = transcripts("openai-chat") + transcripts("openai-chat-compatible")
BY_NAME = {p.name: p for p in PATHS}
# Transcripts whose stream carries an error object.
ERRORS = {
    "groq-gpt-oss-midstream-error-tool-use-failed.sse",
    "openrouter-minimax-length-then-error-chunk.sse",
}


def adapter() -> OpenAIChatAdapter:
    return OpenAIChatAdapter()


def replay(name: str) -> Replay:
    return replay_three_ways(adapter, BY_NAME[name])


def jsonl(chunks: list[Any]) -> bytes:
    return b"".join(json.dumps(c).encode() + b"\n" for c in chunks)


def run(chunks: list[Any], **kwargs: Any) -> Replay:
    """Synthetic chunks, as JSON lines, whole and one line per feed (both must agree)."""
    data = jsonl(chunks)
    whole = replay_pieces(lambda: OpenAIChatAdapter(**kwargs), [data], "jsonl")
    lines = replay_pieces(
        lambda: OpenAIChatAdapter(**kwargs), [line + b"\n" for line in data.split(b"\n")], "jsonl"
    )
    assert whole.events == lines.events
    assert whole.partial.to_dict() == lines.partial.to_dict()
    return whole


# -- what the raw chunks say, computed without the adapter ----------------------


def expected(path: Path) -> dict[str, Any]:
    text: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    usage: dict[str, Any] | None = None
    finish = None
    first_id = None
    model = None
    for chunk in raw_chunks(path):
        if chunk.get("error"):
            break
        first_id = first_id or chunk.get("id") or None
        model = model or chunk.get("model") or None
        usage = chunk.get("usage") or usage
        groq_usage = (chunk.get("x_groq") or {}).get("usage")
        if groq_usage and not chunk.get("usage"):
            usage = usage or groq_usage
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            text.append(delta.get("content") or "")
            details = delta.get("reasoning_details") or []
            if details:
                reasoning.extend(d.get("text") or "" for d in details)
            else:
                reasoning.append(delta.get("reasoning_content") or delta.get("reasoning") or "")
            for position, call in enumerate(delta.get("tool_calls") or []):
                index = call.get("index", position)
                entry = calls.setdefault(index, {"id": None, "name": None, "args": []})
                entry["id"] = entry["id"] or call.get("id") or None
                function = call.get("function") or {}
                entry["name"] = entry["name"] or function.get("name")
                entry["args"].append(function.get("arguments") or "")
            finish = choice.get("finish_reason") or finish
    return {
        "text": "".join(text),
        "reasoning": "".join(reasoning),
        "tool_calls": [
            {"id": c["id"], "name": c["name"], "args": json.loads("".join(c["args"]) or "{}")}
            for _, c in sorted(calls.items())
        ],
        "usage": usage,
        "finish_reason": finish,
        "id": first_id,
        "model": model,
    }


def blocks(message: AIMessage) -> list[dict[str, Any]]:
    content = message.to_dict()["content"]
    assert isinstance(content, list)
    return content


def block_types(message: AIMessage) -> list[str]:
    return [b["type"] for b in blocks(message)]


# -- every transcript ------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_transcript_replays_three_ways(path: Path) -> None:
    result = replay_three_ways(adapter, path)
    if path.name in ERRORS:
        assert isinstance(result.error, ProviderError)
        assert result.partial.reasoning
    else:
        result.ok()


@pytest.mark.parametrize("path", [p for p in PATHS if p.name not in ERRORS], ids=lambda p: p.name)
def test_transcript_content_matches_raw_chunks(path: Path) -> None:
    message = replay_three_ways(adapter, path).ok()
    want = expected(path)
    assert message.text == want["text"]
    assert message.reasoning == want["reasoning"]
    assert [
        {"id": c["id"], "name": c["name"], "args": c["args"]} for c in message.tool_calls
    ] == want["tool_calls"]
    assert message.invalid_tool_calls == []
    assert message.id == want["id"]
    meta = message.response_metadata
    assert meta["finish_reason"] == want["finish_reason"]
    assert meta["model_name"] == want["model"]
    raw_usage = want["usage"]
    assert raw_usage is not None
    usage = message.usage_metadata
    assert usage is not None
    assert usage["input_tokens"] == raw_usage["prompt_tokens"]
    assert usage["output_tokens"] == raw_usage["completion_tokens"]
    assert usage["total_tokens"] == raw_usage["total_tokens"]
    assert meta["provider_usage"] == raw_usage
    reasoning_tokens = (raw_usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
    if reasoning_tokens is not None:
        assert usage["output_token_details"]["reasoning"] == reasoning_tokens
    cached = (raw_usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    if cached is not None:
        assert usage["input_token_details"]["cache_read"] == cached
    assert "obfuscation" not in meta


# -- spot checks per transcript -----------------------------------------------------


def test_plain_text_and_usage_chunk() -> None:
    message = replay("gpt-4o-text-usage-chunk.sse").ok()
    assert message.text.startswith("I'm unable to provide real-time weather updates.")
    assert block_types(message) == ["text"]
    assert message.response_metadata["system_fingerprint"] == "fp_5050236cbd"
    assert message.response_metadata["created"] == 1727346168
    assert message.response_metadata["model_provider"] == "openai"


def test_events_are_well_formed() -> None:
    events = replay("gpt-4o-text-usage-chunk.sse").events
    assert events[0]["event"] == "message-start"
    assert events[0]["id"] == "chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL"
    assert events[0]["metadata"] == {"provider": "openai", "model": "gpt-4o-2024-08-06"}
    assert events[-1]["event"] == "message-finish"
    assert [e["event"] for e in events].count("message-finish") == 1
    # A plain text delta chunk is exactly one event.
    deltas = [e for e in events if e["event"] == "content-block-delta"]
    texts = [
        c["choices"][0]["delta"].get("content")
        for c in raw_chunks(BY_NAME["gpt-4o-text-usage-chunk.sse"])
        if c["choices"]
    ]
    assert len(deltas) == len([t for t in texts if t])


def test_provider_name_is_configurable() -> None:
    message = replay_three_ways(
        lambda: OpenAIChatAdapter(provider="deepseek"),
        BY_NAME["deepseek-reasoner-reasoning-content-text.sse"],
    ).ok()
    assert message.response_metadata["model_provider"] == "deepseek"


def test_refusal_is_a_non_standard_block_and_an_additional_kwarg() -> None:
    path = BY_NAME["gpt-4o-refusal.sse"]
    refusal = "".join(
        c["choices"][0]["delta"].get("refusal") or "" for c in raw_chunks(path) if c["choices"]
    )
    assert refusal == "I'm sorry, I can't assist with that request."
    message = replay_three_ways(adapter, path).ok()
    assert message.content == [
        {"type": "non_standard", "value": {"type": "refusal", "refusal": refusal}, "index": 0}
    ]
    assert message.additional_kwargs == {"refusal": refusal}
    assert message.text == ""


def test_logprobs_are_concatenated_into_finish_metadata() -> None:
    path = BY_NAME["gpt-4o-content-logprobs.sse"]
    content: list[Any] = []
    for chunk in raw_chunks(path):
        for choice in chunk["choices"]:
            content.extend((choice.get("logprobs") or {}).get("content") or [])
    message = replay_three_ways(adapter, path).ok()
    assert message.response_metadata["logprobs"] == {"content": content, "refusal": []}
    assert [t["token"] for t in content] == ["Foo", "!"]


def test_refusal_logprobs_are_kept() -> None:
    path = BY_NAME["gpt-4o-refusal-logprobs.sse"]
    refusal: list[Any] = []
    for chunk in raw_chunks(path):
        for choice in chunk["choices"]:
            refusal.extend((choice.get("logprobs") or {}).get("refusal") or [])
    message = replay_three_ways(adapter, path).ok()
    assert message.response_metadata["logprobs"] == {"content": [], "refusal": refusal}
    assert "".join(t["token"] for t in refusal) == message.additional_kwargs["refusal"]


def test_length_finish() -> None:
    message = replay("gpt-4o-max-tokens-length.sse").ok()
    assert message.response_metadata["finish_reason"] == "length"
    assert message.text == '{"'


def test_parallel_tool_calls_keep_their_provider_index() -> None:
    result = replay("gpt-4o-parallel-tool-calls.sse")
    starts = [e["content"] for e in result.events if e["event"] == "content-block-start"]
    assert [(s["type"], s["index"], s["name"]) for s in starts] == [
        ("tool_call_chunk", 0, "GetWeatherArgs"),
        ("tool_call_chunk", 1, "get_stock_price"),
    ]
    message = result.ok()
    assert message.tool_calls[1]["args"] == {"ticker": "AAPL", "exchange": "NASDAQ"}
    assert block_types(message) == ["tool_call", "tool_call"]


def test_obfuscation_is_ignored_and_service_tier_kept() -> None:
    message = replay("gpt-4o-parallel-tool-calls-empty-args-obfuscation.sse").ok()
    assert message.response_metadata["service_tier"] == "default"
    assert [c["args"] for c in message.tool_calls] == [{}, {}]
    assert "obfuscation" not in json.dumps(message.to_dict())


def test_azure_filter_results_are_kept_once() -> None:
    path = BY_NAME["azure-model-router-content-filter.jsonl"]
    chunks = raw_chunks(path)
    message = replay_three_ways(adapter, path).ok()
    meta = message.response_metadata
    assert meta["prompt_filter_results"] == chunks[0]["prompt_filter_results"]
    verdicts = [
        c["choices"][0]["content_filter_results"]
        for c in chunks
        if c["choices"] and c["choices"][0].get("content_filter_results")
    ]
    assert len(verdicts) > 1
    assert meta["content_filter_results"] == [verdicts[0]]
    assert all(v == verdicts[0] for v in verdicts)
    # The filter-only first chunk has created=0 and no id; neither is reported.
    assert meta["created"] == 1762317021
    assert message.id == "chatcmpl-CYPS1lijGoK8gd9lYzY3r9Sx50nbt"
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_token_details"]["reasoning"] == 64


def test_deepseek_reasoning_then_text_are_two_blocks() -> None:
    message = replay("deepseek-reasoner-reasoning-content-text.sse").ok()
    assert block_types(message) == ["reasoning", "text"]
    assert message.reasoning.startswith("Hmm, the user just said")
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_token_details"] == {"reasoning": 198}


def test_deepseek_cache_hit_and_reasoning_then_tool_call() -> None:
    message = replay("deepseek-reasoning-content-then-tool-call.jsonl").ok()
    assert block_types(message) == ["reasoning", "tool_call"]
    assert message.tool_calls[0]["args"] == {"location": "San Francisco"}
    assert message.usage_metadata is not None
    assert message.usage_metadata["input_token_details"] == {"cache_read": 320}
    assert message.response_metadata["provider_usage"]["prompt_cache_hit_tokens"] == 320


def test_deepseek_prompt_cache_hit_tokens_alone_count_as_cache_read() -> None:
    chunks = [
        {
            "id": "x",
            "model": "deepseek-chat",
            "choices": [{"index": 0, "delta": {"content": "hi"}}],
        },
        {
            "id": "x",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": 10,
                "completion_tokens": 2,
                "total_tokens": 12,
                "prompt_cache_hit_tokens": 8,
            },
        },
    ]
    message = run(chunks).ok()
    assert message.usage_metadata == {
        "input_tokens": 10,
        "output_tokens": 2,
        "total_tokens": 12,
        "input_token_details": {"cache_read": 8},
    }


def test_groq_channel_goes_to_reasoning_extras_and_x_groq_is_kept() -> None:
    path = BY_NAME["groq-gpt-oss-reasoning-channel-tool-call.sse"]
    message = replay_three_ways(adapter, path).ok()
    assert blocks(message)[0]["type"] == "reasoning"
    assert blocks(message)[0].get("extras") == {"channel": "analysis"}
    x_groq = message.response_metadata["x_groq"]
    assert x_groq["id"] == "req_01khrvt32ze9rb75za4xqmdz13"
    assert x_groq["seed"] == 1367355884  # from the first chunk
    assert x_groq["usage"]["completion_tokens_details"] == {"reasoning_tokens": 23}


def test_groq_tool_call_complete_in_one_delta() -> None:
    message = replay("groq-llama-tool-call-x-groq-usage.jsonl").ok()
    assert message.tool_calls == [
        {"type": "tool_call", "id": "tk85n1k4m", "name": "weather", "args": {}}
    ]


def test_groq_executed_tools_become_server_tool_blocks() -> None:
    path = BY_NAME["groq-compound-web-search-executed-tools.sse"]
    executed = [
        tool
        for c in raw_chunks(path)
        for choice in c["choices"]
        for tool in choice["delta"].get("executed_tools") or []
    ]
    assert len(executed) == 2
    message = replay_three_ways(adapter, path).ok()
    assert block_types(message) == [
        "reasoning",
        "server_tool_call",
        "server_tool_result",
        "reasoning",
        "text",
    ]
    call, result = blocks(message)[1], blocks(message)[2]
    assert call["name"] == "search"
    assert call["args"] == json.loads(executed[0]["arguments"])
    assert result["tool_call_id"] == call["id"]
    assert result["status"] == "success"
    assert result["output"] == executed[1]["output"]
    assert result["extras"]["executed_tool"] == executed[1]
    assert message.tool_calls == []  # server tools are not client calls
    # Groq changes the chunk id on every chunk: the message keeps the first.
    assert message.id == raw_chunks(path)[0]["id"]


def test_mistral_complete_tool_call_without_index() -> None:
    path = BY_NAME["mistral-small-tool-call-complete-in-one-chunk.jsonl"]
    call = raw_chunks(path)[1]["choices"][0]["delta"]["tool_calls"][0]
    assert "index" not in call
    result = replay_three_ways(adapter, path)
    starts = [e["content"] for e in result.events if e["event"] == "content-block-start"]
    assert starts[0]["index"] == 0
    assert result.ok().tool_calls[0]["id"] == "gSIMJiOkT"


def test_qwen_fragments_with_empty_ids_stay_one_call() -> None:
    message = replay("alibaba-qwen-tool-call-fragments.jsonl").ok()
    assert len(message.tool_calls) == 1
    assert message.tool_calls[0]["id"] == "call_eee11723464a4b9eb8cee71d"


def test_openrouter_annotations_on_the_text_block_and_last_finish_wins() -> None:
    path = BY_NAME["openrouter-web-search-annotations.sse"]
    raw = [
        a["url_citation"]
        for c in raw_chunks(path)
        for choice in c["choices"]
        for a in choice["delta"].get("annotations") or []
    ]
    finishes = [
        choice["finish_reason"]
        for c in raw_chunks(path)
        for choice in c["choices"]
        if choice.get("finish_reason")
    ]
    assert len(finishes) == 2
    message = replay_three_ways(adapter, path).ok()
    (block,) = blocks(message)
    annotations = block["annotations"]
    assert [a["url"] for a in annotations] == [r["url"] for r in raw]
    assert annotations[0] == {
        "type": "citation",
        "url": raw[0]["url"],
        "title": raw[0]["title"],
        "cited_text": raw[0]["content"],
        "start_index": 0,
        "end_index": 0,
    }
    assert "title" not in annotations[1]  # an empty title is not a title
    meta = message.response_metadata
    assert meta["upstream_provider"] == "OpenAI"
    assert meta["native_finish_reason"] == "stop"
    assert message.usage_metadata is not None
    assert message.usage_metadata["input_token_details"]["cache_creation"] == 0


def test_perplexity_citations_once_and_last_usage() -> None:
    path = BY_NAME["perplexity-sonar-citations.jsonl"]
    chunks = raw_chunks(path)
    assert all(c["citations"] == chunks[0]["citations"] for c in chunks)
    message = replay_three_ways(adapter, path).ok()
    (block,) = blocks(message)
    assert block["annotations"] == [{"type": "citation", "url": u} for u in chunks[0]["citations"]]
    assert message.response_metadata["citations"] == chunks[0]["citations"]
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_tokens"] == chunks[-1]["usage"]["completion_tokens"]


def test_sdk_model_dump_chunks_give_the_same_message() -> None:
    """``ChatCompletionChunk.model_dump()`` has every absent field as None."""
    for name in (
        "gpt-4o-parallel-tool-calls.sse",
        "gpt-4o-content-logprobs.sse",
        "deepseek-reasoning-content-then-tool-call.jsonl",
        "openrouter-web-search-annotations.sse",
    ):
        path = BY_NAME[name]
        want = replay_three_ways(adapter, path).ok().to_dict()
        dumped = [ChatCompletionChunk.model_validate(c).model_dump() for c in raw_chunks(path)]
        assert "function_call" in json.dumps(dumped)
        got = run(dumped).ok().to_dict()
        assert got["content"] == want["content"], name
        assert got["tool_calls"] == want["tool_calls"], name
        assert got["usage_metadata"] == want["usage_metadata"], name
        assert (
            got["response_metadata"]["logprobs" if "logprobs" in name else "finish_reason"]
            == (want["response_metadata"]["logprobs" if "logprobs" in name else "finish_reason"])
        )


# -- errors inside the stream ----------------------------------------------------------


def test_groq_midstream_error_is_typed_and_keeps_the_reasoning() -> None:
    path = BY_NAME["groq-gpt-oss-midstream-error-tool-use-failed.sse"]
    chunks = raw_chunks(path)
    error_chunk = next(c for c in chunks if "error" in c)
    reasoning = "".join(
        c["choices"][0]["delta"].get("reasoning") or "" for c in chunks if c.get("choices")
    )
    result = replay_three_ways(adapter, path)
    assert isinstance(result.error, BadRequestError)
    assert isinstance(result.error, ProviderError)
    assert result.error.code == "tool_use_failed"
    assert result.error.status is None  # it came inside the stream
    assert result.error.body == error_chunk
    assert result.error.message.startswith("Tool call validation failed")
    assert result.message is None
    assert result.partial.reasoning == reasoning
    assert reasoning.startswith("We need to call the tool")
    assert not any(e["event"] == "message-finish" for e in result.events)


def test_openrouter_error_after_length_finish_raises() -> None:
    path = BY_NAME["openrouter-minimax-length-then-error-chunk.sse"]
    result = replay_three_ways(adapter, path)
    assert isinstance(result.error, BadRequestError)
    assert result.error.code == "400"
    assert result.error.message == "Token limit reached"
    assert result.partial.reasoning == "We need to respond to a greeting. The user"


@pytest.mark.parametrize(
    ("error", "cls", "code"),
    [
        ({"message": "busy", "type": "overloaded_error"}, ProviderOverloadedError, None),
        ({"message": "slow", "code": "rate_limit_exceeded"}, RateLimitError, "rate_limit_exceeded"),
        ({"message": "odd", "code": "weird"}, ProviderError, "weird"),
        ({"message": "bad", "code": "tool_use_failed", "status_code": 400}, BadRequestError, None),
        ("a bare string", ProviderError, None),
    ],
)
def test_error_objects_are_typed(error: Any, cls: type[ProviderError], code: str | None) -> None:
    chunks = [
        {"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {"content": "partial"}}]},
        {"error": error},
    ]
    result = run(chunks)
    assert type(result.error) is cls
    assert isinstance(result.error, ProviderError)
    if code is not None:
        assert result.error.code == code
    if isinstance(error, dict):
        assert result.error.message == error["message"]
        if "status_code" in error:
            assert result.error.code == "tool_use_failed"
    else:
        assert result.error.message == "a bare string"
    assert result.partial.text == "partial"


# -- synthetic streams ----------------------------------------------------------------


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **top: Any) -> Any:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "m-1",
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}],
        **top,
    }


def test_n_greater_than_one_streams_only_the_chosen_choice() -> None:
    def both(a: dict[str, Any], b: dict[str, Any], fa: Any = None, fb: Any = None) -> Any:
        return {
            "id": "chatcmpl-n",
            "model": "m",
            "choices": [
                {"index": 0, "delta": a, "finish_reason": fa},
                {"index": 1, "delta": b, "finish_reason": fb},
            ],
        }

    chunks = [
        both({"role": "assistant", "content": ""}, {"role": "assistant", "content": ""}),
        both({"content": "zero "}, {"content": "one "}),
        {"id": "chatcmpl-n", "model": "m", "choices": [{"index": 1, "delta": {"content": "more"}}]},
        both({}, {"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f"}}]}),
        both({}, {}, "stop", "tool_calls"),
        {"id": "chatcmpl-n", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 9}},
    ]
    first = run(chunks).ok()
    assert first.text == "zero "
    assert first.tool_calls == []
    assert first.response_metadata["finish_reason"] == "stop"
    second = run(chunks, choice=1).ok()
    assert second.text == "one more"
    assert second.tool_calls == [{"type": "tool_call", "id": "c1", "name": "f", "args": {}}]
    assert second.response_metadata["finish_reason"] == "tool_calls"
    # Usage covers the whole request, whichever choice is streamed.
    assert first.usage_metadata == second.usage_metadata
    assert second.usage_metadata == {"input_tokens": 3, "output_tokens": 9, "total_tokens": 12}


def test_choice_must_be_a_non_negative_int() -> None:
    with pytest.raises(ValueError, match="choice"):
        OpenAIChatAdapter(choice=-1)


def test_mistral_thinking_arrays() -> None:
    chunks = [
        chunk({"role": "assistant", "content": ""}),
        chunk(
            {"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "Let me "}]}]}
        ),
        chunk(
            {"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "think."}]}]}
        ),
        chunk(
            {
                "content": [
                    {"type": "thinking", "thinking": [{"type": "reference", "reference_ids": [1]}]}
                ]
            }
        ),
        chunk({"content": [{"type": "text", "text": "The answer"}]}),
        chunk({"content": " is 4."}),
        chunk({"content": [{"type": "reference", "reference_ids": [0, 2]}]}),
        chunk({"content": ""}, "stop", usage={"prompt_tokens": 5, "completion_tokens": 7}),
    ]
    message = run(chunks).ok()
    assert block_types(message) == ["reasoning", "text"]
    assert message.reasoning == "Let me think."
    assert message.text == "The answer is 4."
    assert blocks(message)[0]["extras"] == {
        "references": [{"type": "reference", "reference_ids": [1]}]
    }
    assert blocks(message)[1]["annotations"] == [
        {"type": "non_standard_annotation", "value": {"type": "reference", "reference_ids": [0, 2]}}
    ]


def test_mistral_unknown_content_parts_are_kept_as_non_standard() -> None:
    part = {"type": "image_url", "image_url": {"url": "https://x/y.png"}}
    message = run([chunk({"content": [part]}), chunk({}, "stop")]).ok()
    assert blocks(message)[0]["type"] == "non_standard"
    assert blocks(message)[0]["value"] == part


def test_openrouter_reasoning_details_with_signature_and_encrypted_data() -> None:
    def details(*items: dict[str, Any], reasoning: str | None = None) -> Any:
        return chunk({"reasoning": reasoning, "reasoning_details": list(items)})

    chunks = [
        details(
            {
                "type": "reasoning.text",
                "text": "Step one. ",
                "index": 0,
                "format": "anthropic-claude-v1",
            },
            reasoning="Step one. ",
        ),
        details({"type": "reasoning.text", "text": "Step two.", "index": 0}, reasoning="Step two."),
        details({"type": "reasoning.text", "text": "", "signature": "sig==", "index": 0}),
        details({"type": "reasoning.encrypted", "data": "ENC", "index": 1, "id": "rs_1"}),
        chunk({"content": "Done."}),
        chunk({}, "stop"),
    ]
    message = run(chunks).ok()
    assert block_types(message) == ["reasoning", "reasoning", "text"]
    assert message.reasoning == "Step one. Step two."  # `reasoning` repeats it: counted once
    assert blocks(message)[0]["extras"] == {
        "detail_type": "reasoning.text",
        "format": "anthropic-claude-v1",
        "signature": "sig==",
    }
    assert blocks(message)[1]["extras"] == {
        "detail_type": "reasoning.encrypted",
        "data": "ENC",
        "id": "rs_1",
    }
    assert "reasoning" not in blocks(message)[1]


def test_reasoning_summary_details_and_a_new_kind_at_the_same_index() -> None:
    chunks = [
        chunk({"reasoning_details": [{"type": "reasoning.summary", "summary": "Sum."}]}),
        chunk({"reasoning_details": [{"type": "reasoning.encrypted", "data": "X"}]}),
        chunk({}, "stop"),
    ]
    message = run(chunks).ok()
    assert block_types(message) == ["reasoning", "reasoning"]
    assert message.reasoning == "Sum."


def test_vllm_reasoning_and_reasoning_content_with_the_same_text_count_once() -> None:
    chunks = [
        chunk({"reasoning_content": "hmm", "reasoning": "hmm"}),
        chunk({"reasoning": " ok"}),
        chunk({"content": "yes"}, "stop"),
    ]
    message = run(chunks).ok()
    assert message.reasoning == "hmm ok"
    assert message.text == "yes"


def test_text_reasoning_text_are_three_blocks_in_order() -> None:
    chunks = [
        chunk({"content": "a"}),
        chunk({"reasoning": "b"}),
        chunk({"content": "c"}),
        chunk({}, "stop"),
    ]
    message = run(chunks).ok()
    assert block_types(message) == ["text", "reasoning", "text"]
    assert message.text == "ac"


def test_index_less_complete_calls_in_separate_chunks_stay_apart() -> None:
    def call(call_id: str, name: str) -> Any:
        return chunk(
            {"tool_calls": [{"id": call_id, "function": {"name": name, "arguments": "{}"}}]}
        )

    message = run([call("a1", "f"), call("b2", "g"), chunk({}, "tool_calls")]).ok()
    assert [(c["id"], c["name"]) for c in message.tool_calls] == [("a1", "f"), ("b2", "g")]


def test_two_calls_in_one_delta_without_index_use_their_position() -> None:
    calls = [
        {"id": "a", "function": {"name": "f", "arguments": '{"x": 1}'}},
        {"id": "b", "function": {"name": "g", "arguments": '{"y": 2}'}},
    ]
    message = run([chunk({"tool_calls": calls}), chunk({}, "tool_calls")]).ok()
    assert [c["args"] for c in message.tool_calls] == [{"x": 1}, {"y": 2}]


def test_a_late_tool_name_and_id_still_name_the_call() -> None:
    chunks = [
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a"'}}]}),
        chunk({"tool_calls": [{"index": 0, "id": "c7", "function": {"name": "f"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}),
        chunk({}, "tool_calls"),
    ]
    message = run(chunks).ok()
    assert message.tool_calls == [{"type": "tool_call", "id": "c7", "name": "f", "args": {"a": 1}}]


def test_invalid_tool_arguments_become_an_invalid_tool_call() -> None:
    calls = [{"index": 0, "id": "a", "function": {"name": "f", "arguments": '{"x": '}}]
    message = run([chunk({"tool_calls": calls}), chunk({}, "tool_calls")]).ok()
    assert message.tool_calls == []
    assert message.invalid_tool_calls[0]["args"] == '{"x": '


def test_legacy_function_call() -> None:
    chunks = [
        chunk({"function_call": {"name": "f", "arguments": ""}}),
        chunk({"function_call": {"arguments": '{"a": 1}'}}),
        chunk({}, "function_call"),
    ]
    message = run(chunks).ok()
    assert message.tool_calls == [{"type": "tool_call", "id": "", "name": "f", "args": {"a": 1}}]


def test_audio_output() -> None:
    chunks = [
        chunk({"audio": {"id": "audio_1", "data": "AAA", "transcript": "Hel", "expires_at": 9}}),
        chunk({"audio": {"data": "BBB", "transcript": "lo"}}),
        chunk({}, "stop"),
    ]
    message = run(chunks).ok()
    block = blocks(message)[0]
    assert block["type"] == "audio"
    assert block["base64"] == "AAABBB"
    assert block["id"] == "audio_1"
    assert message.additional_kwargs["audio"] == {
        "id": "audio_1",
        "expires_at": 9,
        "transcript": "Hello",
    }


def test_annotations_without_text_get_an_empty_text_block() -> None:
    note = {"type": "url_citation", "url_citation": {"url": "https://a", "title": "A"}}
    message = run([chunk({"annotations": [note, {"type": "file"}]}), chunk({}, "stop")]).ok()
    assert blocks(message)[0]["annotations"] == [
        {"type": "citation", "url": "https://a", "title": "A"},
        {"type": "non_standard_annotation", "value": {"type": "file"}},
    ]


def test_perplexity_search_results_title_the_citations() -> None:
    results = [{"title": "A page", "url": "https://a", "date": "2025-01-01"}]
    top: dict[str, Any] = {"citations": ["https://a", "https://b"], "search_results": results}
    message = run([chunk({"content": "x"}, **top), chunk({}, "stop", **top)]).ok()
    assert blocks(message)[0]["annotations"] == [
        {"type": "citation", "url": "https://a", "title": "A page"},
        {"type": "citation", "url": "https://b"},
    ]
    assert message.response_metadata["search_results"] == results


def test_unknown_fields_are_kept_not_dropped() -> None:
    chunks = [
        chunk({"content": "a", "thinking_blocks": "t1"}, related_questions=["q?"]),
        chunk({"thinking_blocks": "t2"}),
        {
            **chunk({}, "stop"),
            "choices": [
                {
                    "index": 0,
                    "delta": {},
                    "finish_reason": "stop",
                    "stop_reason": 42,
                    "logprobs": None,
                }
            ],
        },
    ]
    message = run(chunks).ok()
    meta = message.response_metadata
    assert meta["related_questions"] == ["q?"]
    assert meta["delta_extras"] == {"thinking_blocks": "t1t2"}
    assert meta["stop_reason"] == 42


def test_usage_after_the_finish_chunk_is_reported() -> None:
    chunks = [
        chunk({"content": "hi"}),
        chunk({}, "stop"),
        {"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}},
    ]
    result = run(chunks)
    finish = result.events[-1]
    assert finish["event"] == "message-finish"
    assert finish["usage"] == {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}


# -- incomplete and malformed streams ----------------------------------------------------


def test_cut_stream_is_incomplete_and_keeps_the_partial_message() -> None:
    path = BY_NAME["gpt-4o-single-tool-call.sse"]
    data = path.read_bytes()
    cut = data[: data.index(b'"finish_reason":"tool_calls"')]
    cut = cut[: cut.rindex(b"\n\n") + 2]
    result = replay_pieces(adapter, [cut], "sse")
    assert isinstance(result.error, IncompleteStreamError)
    assert "finish_reason" in str(result.error)
    assert result.message is None
    # The call received so far is kept in the snapshot, as an open chunk.
    (block,) = result.partial.to_dict()["content"]
    assert block["type"] == "tool_call_chunk"
    assert block["name"] == "GetWeatherArgs"
    assert json.loads(block["args"]) == {"city": "Edinburgh", "country": "UK", "units": "c"}


def test_cut_text_stream_keeps_the_text() -> None:
    result = run([chunk({"role": "assistant", "content": ""}), chunk({"content": "Hello"})])
    assert isinstance(result.error, IncompleteStreamError)
    assert result.partial.text == "Hello"


def test_usage_only_stream_without_finish_is_incomplete() -> None:
    result = run(
        [{"id": "x", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 0}}]
    )
    assert isinstance(result.error, IncompleteStreamError)
    assert not isinstance(result.error, EmptyStreamError)


def test_empty_body_is_an_empty_stream() -> None:
    result = replay_pieces(adapter, [b""], "sse")
    assert isinstance(result.error, EmptyStreamError)
    assert isinstance(result.error, IncompleteStreamError)


def test_end_twice_and_feed_after_end_emit_nothing() -> None:
    a = OpenAIChatAdapter()
    a.feed(chunk({"content": "x"}))
    assert not a.finished
    assert a.feed(chunk({}, "stop")) == []  # the finish waits for end(): usage may follow
    events = a.end()
    assert a.finished
    assert [e["event"] for e in events] == ["content-block-finish", "message-finish"]
    assert a.end() == []
    assert a.feed(chunk({"content": "late"})) == []


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (["not", "an", "object"], "chunk"),
        ({"choices": {"index": 0}}, "choices"),
        ({"choices": ["x"]}, "choices[]"),
        ({"choices": [{"index": 0, "delta": "text"}]}, "delta"),
        ({"choices": [{"index": 0, "delta": {"content": 5}}]}, "delta.content"),
        (
            {"choices": [{"index": 0, "delta": {"reasoning_content": ["x"]}}]},
            "delta.reasoning_content",
        ),
        ({"choices": [{"index": 0, "delta": {"tool_calls": {"index": 0}}}]}, "delta.tool_calls"),
        (
            {"choices": [{"index": 0, "delta": {"tool_calls": [{"function": "f"}]}}]},
            "delta.tool_calls[].function",
        ),
        (
            {"choices": [{"index": 0, "delta": {"tool_calls": [{"function": {"arguments": 1}}]}}]},
            "delta.tool_calls[].function.arguments",
        ),
        ({"choices": [{"index": 0, "delta": {"refusal": 1}}]}, "delta.refusal"),
        ({"choices": [{"index": 0, "delta": {}, "finish_reason": 3}]}, "finish_reason"),
        ({"choices": [{"index": 0, "delta": {}, "logprobs": [1]}]}, "logprobs"),
        ({"choices": [], "usage": [1, 2]}, "usage"),
        (
            {"choices": [{"index": 0, "delta": {"reasoning_details": [1]}}]},
            "delta.reasoning_details[]",
        ),
        ({"choices": [{"index": 0, "delta": {"executed_tools": "x"}}]}, "delta.executed_tools"),
    ],
)
def test_malformed_chunks_raise_protocol_error(bad: Any, field: str) -> None:
    a = OpenAIChatAdapter(provider="acme")
    with pytest.raises(ProtocolError) as info:
        a.feed(bad)
    assert info.value.field == field
    assert "acme" in str(info.value)
    assert field in str(info.value)


def test_unknown_delta_and_top_level_keys_do_not_crash() -> None:
    chunks = [
        chunk({"content": "a", "brand_new": {"x": 1}}, brand_new_top=True),
        chunk({}, "stop"),
    ]
    message = run(chunks).ok()
    assert message.text == "a"
    assert message.response_metadata["brand_new_top"] is True
    assert message.response_metadata["delta_extras"] == {"brand_new": [{"x": 1}]}
