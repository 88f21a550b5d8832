"""build_body for Anthropic Messages: message conversion, the round trip of
messages the adapter assembled, every parameter, and input errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from streamblocks import AIMessage, HumanMessage, SystemMessage, ToolMessage
from streamblocks._errors import InvalidInputError
from streamblocks.providers.anthropic._adapter import AnthropicAdapter
from streamblocks.providers.anthropic._request import (
    DEFAULT_MAX_TOKENS,
    EFFORT_BUDGETS,
    build_body,
)
from tests.providers.replay import FIXTURES, raw_chunks, replay_pieces, replay_three_ways

DIR = FIXTURES / "anthropic"


def body(messages: list[Any], **params: Any) -> dict[str, Any]:
    return build_body(messages, model="claude-test", params=params)


def assemble(chunks: list[dict[str, Any]]) -> AIMessage:
    data = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks).encode()
    return replay_pieces(AnthropicAdapter, [data], "sse").ok()


def replayed(name: str) -> AIMessage:
    return replay_three_ways(AnthropicAdapter, DIR / name).ok()


def raw_blocks(name: str) -> dict[int, dict[str, Any]]:
    """Each raw block of a transcript as Anthropic's non-streaming API gives it."""
    blocks: dict[int, dict[str, Any]] = {}
    parts: dict[int, list[str]] = {}
    for chunk in raw_chunks(DIR / name):
        if chunk["type"] == "content_block_start":
            blocks[chunk["index"]] = dict(chunk["content_block"])
            parts[chunk["index"]] = []
        elif chunk["type"] == "content_block_delta":
            delta, block = chunk["delta"], blocks[chunk["index"]]
            if delta["type"] == "input_json_delta":
                parts[chunk["index"]].append(delta["partial_json"])
            elif delta["type"] == "signature_delta":
                block["signature"] = delta["signature"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "compaction_delta":
                block["content"] = (block.get("content") or "") + delta["content"]
    for index, pieces in parts.items():
        if pieces and "".join(pieces):
            blocks[index]["input"] = json.loads("".join(pieces))
    return blocks


# -- the basics -----------------------------------------------------------------


def test_minimal_body() -> None:
    assert body([HumanMessage("Hi")]) == {
        "model": "claude-test",
        "max_tokens": DEFAULT_MAX_TOKENS,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "stream": True,
    }


def test_system_messages_are_joined_into_the_system_field() -> None:
    out = body(
        [
            SystemMessage("Be brief."),
            HumanMessage("Hi"),
            SystemMessage([{"type": "text", "text": "Answer in French."}]),
        ]
    )
    assert out["system"] == "Be brief.\n\nAnswer in French."
    assert [m["role"] for m in out["messages"]] == ["user"]


def test_system_cache_control_keeps_the_blocks() -> None:
    cached = {"type": "text", "text": "Long context", "cache_control": {"type": "ephemeral"}}
    out = body([SystemMessage("Intro"), SystemMessage([cached]), HumanMessage("Hi")])
    assert out["system"] == [
        {"type": "text", "text": "Intro"},
        {"type": "text", "text": "Long context", "cache_control": {"type": "ephemeral"}},
    ]


def test_images_and_files() -> None:
    content: list[dict[str, Any]] = [
        {"type": "text", "text": "Look:"},
        {"type": "image", "url": "https://example.com/a.png"},
        {"type": "image", "base64": "AAAA", "mime_type": "image/png"},
        {"type": "image", "url": "data:image/jpeg;base64,/9j/4AAQ"},
        {"type": "image", "file_id": "file_123"},
        {"type": "file", "base64": "JVBER", "mime_type": "application/pdf"},
        {"type": "file", "url": "https://example.com/a.pdf"},
        {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "d"}},
        {"type": "non_standard", "value": {"type": "search_result", "source": "s", "title": "t"}},
    ]
    (msg,) = body([HumanMessage(content)])["messages"]
    assert msg["content"] == [
        {"type": "text", "text": "Look:"},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"},
        },
        {"type": "image", "source": {"type": "file", "file_id": "file_123"}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER"},
        },
        {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}},
        {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "d"}},
        {"type": "search_result", "source": "s", "title": "t"},
    ]


# -- round trips of what the adapter assembled -------------------------------------


def _thinking_tool_chunks() -> list[dict[str, Any]]:
    def delta(index: int, **d: Any) -> dict[str, Any]:
        return {"type": "content_block_delta", "index": index, "delta": d}

    return [
        {
            "type": "message_start",
            "message": {"id": "msg_1", "model": "claude-x", "usage": {"input_tokens": 5}},
        },
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
        },
        delta(0, type="thinking_delta", thinking="I should "),
        delta(0, type="thinking_delta", thinking="call the tool."),
        delta(0, type="signature_delta", signature="sig-abc"),
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        delta(1, type="text_delta", text="Checking."),
        {"type": "content_block_stop", "index": 1},
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "tool_use", "id": "toolu_A", "name": "weather", "input": {}},
        },
        delta(2, type="input_json_delta", partial_json='{"city": '),
        delta(2, type="input_json_delta", partial_json='"Paris"}'),
        {"type": "content_block_stop", "index": 2},
        {
            "type": "content_block_start",
            "index": 3,
            "content_block": {"type": "tool_use", "id": "toolu_B", "name": "time", "input": {}},
        },
        {"type": "content_block_stop", "index": 3},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 9},
        },
        {"type": "message_stop"},
    ]


def test_round_trip_of_an_assembled_thinking_and_tool_use_message() -> None:
    reply = assemble(_thinking_tool_chunks())
    assert [c["id"] for c in reply.tool_calls] == ["toolu_A", "toolu_B"]
    out = body(
        [
            HumanMessage("Weather and time in Paris?"),
            reply,
            ToolMessage("18C, sunny", tool_call_id="toolu_A", name="weather"),
            ToolMessage("no clock", tool_call_id="toolu_B", status="error"),
        ],
        thinking_budget=2048,
    )
    assert out["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather and time in Paris?"}]},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "thinking",
                    "thinking": "I should call the tool.",
                    "signature": "sig-abc",
                },
                {"type": "text", "text": "Checking."},
                {
                    "type": "tool_use",
                    "id": "toolu_A",
                    "name": "weather",
                    "input": {"city": "Paris"},
                },
                {"type": "tool_use", "id": "toolu_B", "name": "time", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_A", "content": "18C, sunny"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_B",
                    "content": "no clock",
                    "is_error": True,
                },
            ],
        },
    ]
    # The message survives serialisation too (to_dict / from_dict) unchanged.
    again = body(
        [HumanMessage("Weather and time in Paris?"), AIMessage.from_dict(reply.to_dict())],
        thinking_budget=2048,
    )
    assert again["messages"][1] == out["messages"][1]


@pytest.mark.parametrize(
    "name",
    [
        "thinking-signature-text.sse",
        "adaptive-thinking-text-before-thinking.sse",
        "redacted-thinking.sse",
        "text-then-tool-use-input-json-delta.sse",
        "text-then-tool-use-no-args.jsonl",
        "code-execution-bash-result.sse",
        "web-fetch-server-tool.jsonl",
        "mcp-tool-use-result.jsonl",
        "compaction-block.sse",
    ],
)
def test_recorded_answers_go_back_as_the_blocks_anthropic_sent(name: str) -> None:
    (assistant,) = body([replayed(name)])["messages"]
    assert assistant["role"] == "assistant"
    expected = []
    for raw in raw_blocks(name).values():
        block = {k: v for k, v in raw.items() if v is not None and k != "citations"}
        if block["type"] == "text" and not block["text"]:
            continue
        expected.append(block)
    assert assistant["content"] == expected


def test_web_search_answer_goes_back_with_its_citations() -> None:
    name = "web-search-server-tool-citations.jsonl"
    (assistant,) = body([replayed(name)])["messages"]
    citations: dict[int, list[dict[str, Any]]] = {}
    for chunk in raw_chunks(DIR / name):
        if chunk["type"] == "content_block_delta" and chunk["delta"]["type"] == "citations_delta":
            citations.setdefault(chunk["index"], []).append(chunk["delta"]["citation"])
    expected = []
    for index, block in raw_blocks(name).items():
        block.pop("citations", None)
        if block["type"] == "text" and not block["text"]:
            continue
        if index in citations:
            block["citations"] = citations[index]
        expected.append(block)
    assert assistant["content"] == expected
    assert sum("citations" in b for b in assistant["content"]) == 9


def test_truncated_tool_call_is_not_sent() -> None:
    reply = replayed("max-tokens-truncated-tool-input.sse")
    assert reply.invalid_tool_calls
    (assistant,) = body([reply])["messages"]
    assert [b["type"] for b in assistant["content"]] == ["text"]


def test_document_citations_go_back_as_they_came() -> None:
    char = {
        "type": "char_location",
        "cited_text": "green",
        "document_index": 0,
        "document_title": "Doc",
        "start_char_index": 0,
        "end_char_index": 5,
    }
    message = AIMessage(
        content=[
            {
                "type": "text",
                "text": "Green.",
                "annotations": [
                    {"type": "non_standard_annotation", "value": char},
                    {"type": "citation", "url": "https://other.example", "title": "OpenAI-made"},
                ],
            }
        ]
    )
    (assistant,) = body([message])["messages"]
    assert assistant["content"] == [{"type": "text", "text": "Green.", "citations": [char]}]


def test_other_providers_blocks_are_dropped_or_converted() -> None:
    message = AIMessage(
        content=[
            {"type": "reasoning", "reasoning": "an unsigned summary"},
            {"type": "text", "text": "Answer"},
            {"type": "server_tool_call", "id": "ws_1", "name": "web_search", "args": {}},
            {"type": "server_tool_result", "tool_call_id": "ws_1", "status": "success"},
            {"type": "non_standard", "value": {"type": "openai_item", "x": 1}},
            {"type": "non_standard", "value": {"type": "compaction", "content": "kept"}},
            {"type": "image", "url": "https://x/y.png"},
        ],
        response_metadata={"model_provider": "openai"},
    )
    (assistant,) = body([message])["messages"]
    assert assistant["content"] == [
        {"type": "text", "text": "Answer"},
        {"type": "compaction", "content": "kept"},
    ]


@pytest.mark.parametrize(
    ("metadata", "kept"),
    [
        ({}, True),  # built by hand: trusted
        ({"model_provider": "anthropic", "finish_reason": "end_turn"}, True),
        ({"model_provider": "bedrock-anthropic"}, True),
        ({"model_provider": "my-gateway", "finish_reason": "tool_use"}, True),
        ({"model_provider": "google", "finish_reason": "STOP"}, False),
        ({"model_provider": "openai", "finish_reason": "tool_calls"}, False),
    ],
)
def test_signatures_are_sent_only_when_they_are_anthropic_s(
    metadata: dict[str, Any], kept: bool
) -> None:
    # from_dict: ToolCall's TypedDict has no ``extras`` (the adapter's blocks do).
    message = AIMessage.from_dict(
        {
            "content": [
                {"type": "reasoning", "reasoning": "hmm", "extras": {"signature": "sig"}},
                {"type": "reasoning", "extras": {"redacted_data": "opaque"}},
                {
                    "type": "tool_call",
                    "id": "c1",
                    "name": "f",
                    "args": {},
                    "extras": {"caller": {"type": "direct"}, "thought_signature": "g"},
                },
            ],
            "response_metadata": metadata,
        }
    )
    (assistant,) = body([message])["messages"]
    tool_use = {"type": "tool_use", "id": "c1", "name": "f", "input": {}}
    if kept:
        assert assistant["content"] == [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "redacted_thinking", "data": "opaque"},
            {**tool_use, "caller": {"type": "direct"}},
        ]
    else:
        assert assistant["content"] == [tool_use]


def test_hand_built_ai_message_with_tool_calls() -> None:
    message = AIMessage(
        content="Let me look.",
        tool_calls=[{"type": "tool_call", "id": "call_1", "name": "f", "args": {"a": 1}}],
    )
    out = body([HumanMessage("q"), message, ToolMessage("42", tool_call_id="call_1")])
    assert out["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}},
        ],
    }
    assert out["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "42"}
    ]


def test_same_role_messages_merge_and_tool_results_come_first() -> None:
    call = AIMessage(
        content="",
        tool_calls=[{"type": "tool_call", "id": "c1", "name": "f", "args": {}}],
    )
    out = body(
        [
            HumanMessage("one"),
            HumanMessage("two"),
            call,
            HumanMessage("also, hurry"),
            ToolMessage([{"type": "text", "text": "done"}], tool_call_id="c1"),
            AIMessage(content=""),  # nothing to send: skipped
            HumanMessage("three"),
        ]
    )
    assert out["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}],
        },
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "c1", "name": "f", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "c1",
                    "content": [{"type": "text", "text": "done"}],
                },
                {"type": "text", "text": "also, hurry"},
                {"type": "text", "text": "three"},
            ],
        },
    ]


# -- parameters ---------------------------------------------------------------------


def test_sampling_parameters() -> None:
    out = body([HumanMessage("x")], temperature=0.2, top_p=0.9, max_tokens=100, stop="END")
    assert (out["temperature"], out["top_p"], out["max_tokens"]) == (0.2, 0.9, 100)
    assert out["stop_sequences"] == ["END"]
    assert body([HumanMessage("x")], stop=["a", "b"])["stop_sequences"] == ["a", "b"]


def test_thinking_budget() -> None:
    out = body([HumanMessage("x")], thinking_budget=3000)
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 3000}
    assert out["max_tokens"] == 3000 + DEFAULT_MAX_TOKENS  # must exceed the budget
    assert body([HumanMessage("x")], thinking_budget=3000, max_tokens=5000)["max_tokens"] == 5000
    assert body([HumanMessage("x")], thinking_budget=0)["thinking"] == {"type": "disabled"}
    with pytest.raises(InvalidInputError, match="must exceed the thinking budget"):
        body([HumanMessage("x")], thinking_budget=3000, max_tokens=3000)


@pytest.mark.parametrize(("effort", "budget"), sorted(EFFORT_BUDGETS.items()))
def test_reasoning_effort_maps_to_a_budget(effort: str, budget: int) -> None:
    out = body([HumanMessage("x")], reasoning_effort=effort)
    assert out["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert out["max_tokens"] > budget


def test_reasoning_effort_none_and_adaptive_thinking_via_extra_body() -> None:
    assert body([HumanMessage("x")], reasoning_effort="none")["thinking"] == {"type": "disabled"}
    out = body(
        [HumanMessage("x")],
        reasoning_effort="high",
        extra_body={"thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}},
    )
    assert out["thinking"] == {"type": "adaptive"}  # extra_body is merged last
    assert out["output_config"] == {"effort": "high"}


def test_tools_in_every_form() -> None:
    class GetWeather(BaseModel):
        """Current weather for a city."""

        city: str

    tools = [
        {"name": "plain", "description": "A tool", "parameters": {"type": "object"}},
        {
            "type": "function",
            "function": {"name": "openai_style", "parameters": {"type": "object"}},
        },
        GetWeather,
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
    ]
    out = body([HumanMessage("x")], tools=tools, tool_choice="GetWeather")
    assert out["tools"][0] == {
        "name": "plain",
        "description": "A tool",
        "input_schema": {"type": "object"},
    }
    assert out["tools"][1] == {"name": "openai_style", "input_schema": {"type": "object"}}
    assert out["tools"][2]["name"] == "GetWeather"
    assert out["tools"][2]["description"] == "Current weather for a city."
    assert out["tools"][2]["input_schema"]["properties"] == {
        "city": {"title": "City", "type": "string"}
    }
    assert out["tools"][3] == {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
    assert out["tool_choice"] == {"type": "tool", "name": "GetWeather"}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        ("f", {"type": "tool", "name": "f"}),
        ({"type": "function", "function": {"name": "f"}}, {"type": "tool", "name": "f"}),
        (
            {"type": "any", "disable_parallel_tool_use": True},
            {"type": "any", "disable_parallel_tool_use": True},
        ),
    ],
)
def test_tool_choice(choice: Any, expected: dict[str, Any]) -> None:
    tools = [{"name": "f", "parameters": {"type": "object"}}]
    assert body([HumanMessage("x")], tools=tools, tool_choice=choice)["tool_choice"] == expected


def test_user_and_ignored_openai_only_params() -> None:
    out = body([HumanMessage("x")], user="u-1", include_usage=True, choice=0, n=1)
    assert out["metadata"] == {"user_id": "u-1"}
    assert not {"include_usage", "choice", "n", "user"} & set(out)


def test_extra_body_is_merged_last() -> None:
    out = body([HumanMessage("x")], max_tokens=10, extra_body={"max_tokens": 99, "top_k": 5})
    assert (out["max_tokens"], out["top_k"]) == (99, 5)


# -- bad input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("messages", "params", "match"),
    [
        ([HumanMessage("x")], {"frequency_penalty": 1}, "unknown parameter"),
        ([HumanMessage("x")], {"seed": 1}, "no seed"),
        ([HumanMessage("x")], {"n": 2}, "n must be 1"),
        ([HumanMessage("x")], {"thinking_budget": 2000, "reasoning_effort": "low"}, "not both"),
        ([HumanMessage("x")], {"reasoning_effort": "max"}, "reasoning_effort must be"),
        ([HumanMessage("x")], {"thinking_budget": -1}, "thinking_budget"),
        ([HumanMessage("x")], {"max_tokens": 0}, "max_tokens"),
        ([HumanMessage("x")], {"temperature": "hot"}, "temperature"),
        ([HumanMessage("x")], {"stop": [1]}, "stop"),
        ([HumanMessage("x")], {"tools": [{"name": "ok"}, 42]}, r"tools\[1\]"),
        ([HumanMessage("x")], {"tools": [{"name": "f"}], "tool_choice": "g"}, "names no tool"),
        ([HumanMessage("x")], {"tool_choice": 3}, "tool_choice"),
        ([HumanMessage("x")], {"extra_body": [1]}, "extra_body"),
        ([HumanMessage("")], {}, r"messages\[0\]: a human message with no content"),
        (
            [SystemMessage([{"type": "image", "url": "u"}])],
            {},
            r"messages\[0\]\.content\[0\]: a system message takes only text",
        ),
        (
            [HumanMessage("x"), HumanMessage([{"type": "audio", "base64": "AA"}])],
            {},
            r"messages\[1\]\.content\[0\]: a 'audio' block cannot be sent",
        ),
        (
            [HumanMessage([{"type": "image", "base64": "AA"}])],
            {},
            r"messages\[0\]\.content\[0\]: base64 data needs a 'mime_type'",
        ),
        ([HumanMessage([{"type": "image"}])], {}, r"messages\[0\]\.content\[0\]: a image block"),
        (
            [AIMessage(tool_calls=[{"type": "tool_call", "id": None, "name": "f", "args": {}}])],
            {},
            r"messages\[0\]\.tool_calls\[0\]: a tool call needs an 'id'",
        ),
        ([HumanMessage("x"), "not a message"], {}, r"messages\[1\]: expected a message"),
    ],
)
def test_bad_input_names_the_item(messages: list[Any], params: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        body(messages, **params)
