"""The Chat Completions request body: messages, parameters, tools, and the round
trip of a message the adapter assembled."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from streamblocks import AIMessage, HumanMessage, SystemMessage, ToolMessage, to_messages
from streamblocks._errors import InvalidInputError
from streamblocks.providers.openai_chat._adapter import OpenAIChatAdapter
from streamblocks.providers.openai_chat._request import build_body
from tests.providers.replay import FIXTURES, raw_chunks, replay_three_ways

HELLO = [HumanMessage("Hello")]


def body(messages: Any = HELLO, **params: Any) -> dict[str, Any]:
    return build_body(messages, model="gpt-4o", params=params)


def assembled(name: str) -> AIMessage:
    folder = (
        "openai-chat" if (FIXTURES / "openai-chat" / name).exists() else "openai-chat-compatible"
    )
    return replay_three_ways(OpenAIChatAdapter, FIXTURES / folder / name).ok()


# -- the basics ----------------------------------------------------------------------


def test_minimal_body_streams_with_usage() -> None:
    assert body() == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Hello"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_include_usage_false_drops_stream_options() -> None:
    out = body(include_usage=False)
    assert "stream_options" not in out
    assert out["stream"] is True


def test_every_param_maps_to_its_field() -> None:
    out = body(
        temperature=0.2,
        top_p=0.9,
        max_tokens=50,
        stop=["END", "STOP"],
        n=3,
        seed=7,
        user="u-1",
        reasoning_effort="low",
        choice=2,
    )
    assert out["temperature"] == 0.2
    assert out["top_p"] == 0.9
    assert out["max_tokens"] == 50
    assert out["stop"] == ["END", "STOP"]
    assert out["n"] == 3
    assert out["seed"] == 7
    assert out["user"] == "u-1"
    assert out["reasoning_effort"] == "low"
    assert "choice" not in out  # the adapter's business, not a body field


def test_stop_may_be_a_string() -> None:
    assert body(stop="END")["stop"] == "END"


def test_extra_body_is_merged_last() -> None:
    out = body(max_tokens=5, extra_body={"max_tokens": 9, "max_completion_tokens": 9, "x": 1})
    assert out["max_tokens"] == 9
    assert out["max_completion_tokens"] == 9
    assert out["x"] == 1


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"thinking_budget": 1024}, "reasoning_effort"),
        ({"include_reasoning": True}, "extra_body"),
        ({"reasoning_effort": "max"}, "reasoning_effort"),
        ({"choice": 1}, "n=1"),
        ({"choice": 3, "n": 3}, "n=3"),
        ({"choice": -1}, "choice"),
        ({"temperature": "hot"}, "temperature"),
        ({"max_tokens": 1.5}, "max_tokens"),
        ({"n": True}, "n"),
        ({"stop": [1]}, "stop"),
        ({"user": 5}, "user"),
        ({"include_usage": "yes"}, "include_usage"),
        ({"extra_body": [1]}, "extra_body"),
        ({"top_k": 3}, "unknown parameter"),
        ({"tool_choice": 5}, "tool_choice"),
    ],
)
def test_bad_params_raise(params: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        body(**params)


def test_include_reasoning_false_is_a_no_op() -> None:
    assert body(include_reasoning=False) == body()


def test_model_and_messages_are_required() -> None:
    with pytest.raises(InvalidInputError, match="model"):
        build_body(HELLO, model="", params={})
    with pytest.raises(InvalidInputError, match="at least one message"):
        build_body([], model="gpt-4o", params={})


# -- tools -------------------------------------------------------------------------------


class GetWeather(BaseModel):
    """Weather for a city."""

    city: str


def test_tools_in_every_form_become_function_tools() -> None:
    schema = {
        k: v for k, v in GetWeather.model_json_schema().items() if k not in ("title", "description")
    }
    plain = {"name": "GetWeather", "description": "Weather for a city.", "parameters": schema}
    openai_form = {"type": "function", "function": plain}
    want = [{"type": "function", "function": plain}]
    assert body(tools=[plain])["tools"] == want
    assert body(tools=[openai_form])["tools"] == want
    assert body(tools=[GetWeather])["tools"] == want


def test_a_tool_without_description_or_parameters() -> None:
    assert body(tools=[{"name": "ping"}])["tools"] == [
        {
            "type": "function",
            "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}},
        }
    ]


@pytest.mark.parametrize("choice", ["auto", "none", "required"])
def test_tool_choice_keywords(choice: str) -> None:
    assert body(tools=[{"name": "ping"}], tool_choice=choice)["tool_choice"] == choice


def test_tool_choice_by_name_and_as_a_mapping() -> None:
    out = body(tools=[{"name": "ping"}], tool_choice="ping")
    assert out["tool_choice"] == {"type": "function", "function": {"name": "ping"}}
    raw = {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}}
    assert body(tool_choice=raw)["tool_choice"] == raw


def test_tool_choice_naming_no_tool_raises() -> None:
    with pytest.raises(InvalidInputError, match="names no tool"):
        body(tools=[{"name": "ping"}], tool_choice="pong")


def test_bad_tool_raises() -> None:
    with pytest.raises(InvalidInputError, match=r"tools\[0\]"):
        body(tools=[{"description": "no name"}])


# -- messages -------------------------------------------------------------------------------


def test_system_human_and_tool_messages() -> None:
    messages = [
        SystemMessage("Be brief."),
        SystemMessage([{"type": "text", "text": "Really "}, {"type": "text", "text": "brief."}]),
        HumanMessage("Hi"),
        ToolMessage("42", tool_call_id="call_1", name="answer"),
        ToolMessage([{"type": "text", "text": "failed"}], tool_call_id="call_2", status="error"),
    ]
    assert body(messages)["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "Really brief."},
        {"role": "user", "content": "Hi"},
        {"role": "tool", "tool_call_id": "call_1", "content": "42"},
        {"role": "tool", "tool_call_id": "call_2", "content": "failed"},
    ]


def test_human_content_parts() -> None:
    content: list[dict[str, Any]] = [
        {"type": "text", "text": "Look:"},
        {"type": "image", "url": "https://x/cat.png"},
        {"type": "image", "base64": "AAAA", "mime_type": "image/png", "extras": {"detail": "low"}},
        {"type": "audio", "base64": "UklG", "mime_type": "audio/wav"},
        {"type": "audio", "base64": "SUQz", "mime_type": "audio/mpeg"},
        {"type": "file", "file_id": "file-1"},
        {"type": "file", "base64": "JVBE", "mime_type": "application/pdf", "filename": "a.pdf"},
        {"type": "image_url", "image_url": {"url": "https://x/dog.png", "detail": "high"}},
    ]
    (message,) = body([HumanMessage(content)])["messages"]
    assert message == {
        "role": "user",
        "content": [
            {"type": "text", "text": "Look:"},
            {"type": "image_url", "image_url": {"url": "https://x/cat.png"}},
            {
                "type": "image_url",
                "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"},
            },
            {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}},
            {"type": "input_audio", "input_audio": {"data": "SUQz", "format": "mp3"}},
            {"type": "file", "file": {"file_id": "file-1"}},
            {
                "type": "file",
                "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"},
            },
            {"type": "image_url", "image_url": {"url": "https://x/dog.png", "detail": "high"}},
        ],
    }


@pytest.mark.parametrize(
    ("message", "match"),
    [
        (
            HumanMessage([{"type": "image", "base64": "AAAA"}]),
            r"messages\[0\]\.content\[0\].*mime_type",
        ),
        (HumanMessage([{"type": "image", "file_id": "f"}]), r"messages\[0\]\.content\[0\]"),
        (HumanMessage([{"type": "audio", "url": "https://x/a.wav"}]), r"content\[0\].*audio"),
        (HumanMessage([{"type": "video", "url": "https://x/v.mp4"}]), r"'video'"),
        (HumanMessage([{"type": "text"}]), r"content\[0\].*text"),
        (HumanMessage([{"type": "file", "url": "https://x/a.pdf"}]), r"content\[0\].*file"),
        (
            SystemMessage([{"type": "image", "url": "https://x"}]),
            r"messages\[0\]\.content\[0\].*system",
        ),
        (ToolMessage([{"type": "image", "url": "https://x"}], tool_call_id="c"), r"tool message"),
        (ToolMessage("x", tool_call_id=""), r"tool_call_id"),
        (AIMessage([{"type": "image", "url": "https://x"}]), r"assistant"),
    ],
)
def test_messages_the_api_cannot_take_raise(message: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        body([message])


def test_a_non_message_raises() -> None:
    with pytest.raises(InvalidInputError, match=r"messages\[1\]"):
        body([HumanMessage("hi"), {"role": "user", "content": "dict"}])


def test_assistant_text_and_tool_calls_from_openai_dicts() -> None:
    messages = to_messages(
        [
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "GetWeather", "arguments": '{"city": "Zürich"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        ]
    )
    out = body(messages)["messages"]
    assert out[1] == {
        "role": "assistant",
        "content": "Checking.",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "GetWeather", "arguments": '{"city": "Zürich"}'},
            }
        ],
    }
    assert out[2] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}


def test_plain_assistant_text() -> None:
    assert body([HumanMessage("a"), AIMessage("b")])["messages"][1] == {
        "role": "assistant",
        "content": "b",
    }
    assert body([AIMessage("")])["messages"][0] == {"role": "assistant", "content": ""}


def test_tool_call_without_id_raises() -> None:
    message = AIMessage(tool_calls=[{"type": "tool_call", "id": None, "name": "f", "args": {}}])
    with pytest.raises(InvalidInputError, match=r"messages\[0\]\.tool_calls\[0\].*id"):
        body([message])


# -- round trip of assembled messages --------------------------------------------------------


def test_round_trip_parallel_tool_calls() -> None:
    message = assembled("gpt-4o-parallel-tool-calls.sse")
    out = body([HumanMessage("go"), message])["messages"][1]
    assert out["role"] == "assistant"
    assert out["content"] is None
    raw: dict[int, dict[str, Any]] = {}
    for chunk in raw_chunks(FIXTURES / "openai-chat" / "gpt-4o-parallel-tool-calls.sse"):
        for choice in chunk["choices"]:
            for call in choice["delta"].get("tool_calls") or []:
                entry = raw.setdefault(call["index"], {"id": None, "name": None, "args": ""})
                entry["id"] = entry["id"] or call.get("id")
                entry["name"] = entry["name"] or call["function"].get("name")
                entry["args"] += call["function"].get("arguments") or ""
    assert [
        (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"]))
        for c in out["tool_calls"]
    ] == [(r["id"], r["name"], json.loads(r["args"])) for _, r in sorted(raw.items())]
    assert all(c["type"] == "function" for c in out["tool_calls"])


def test_round_trip_text() -> None:
    message = assembled("gpt-4o-text-usage-chunk.sse")
    out = body([HumanMessage("weather?"), message])["messages"][1]
    assert out == {"role": "assistant", "content": message.text}


def test_round_trip_refusal() -> None:
    message = assembled("gpt-4o-refusal.sse")
    out = body([HumanMessage("x"), message])["messages"][1]
    assert out == {
        "role": "assistant",
        "content": None,
        "refusal": "I'm sorry, I can't assist with that request.",
    }


def test_round_trip_drops_reasoning_keeps_the_call() -> None:
    message = assembled("deepseek-reasoning-content-then-tool-call.jsonl")
    assert message.reasoning
    out = body([HumanMessage("x"), message])["messages"][1]
    assert "reasoning_content" not in out
    assert out["content"] is None
    assert out["tool_calls"][0]["function"]["name"] == "weather"
    assert json.loads(out["tool_calls"][0]["function"]["arguments"]) == {
        "location": "San Francisco"
    }


def test_round_trip_skips_server_tool_blocks() -> None:
    message = assembled("groq-compound-web-search-executed-tools.sse")
    out = body([HumanMessage("x"), message])["messages"][1]
    assert out == {"role": "assistant", "content": message.text}


def test_round_trip_annotated_text() -> None:
    message = assembled("openrouter-web-search-annotations.sse")
    out = body([HumanMessage("x"), message])["messages"][1]
    assert out == {"role": "assistant", "content": message.text}


def test_invalid_tool_calls_are_sent_back_as_they_came() -> None:
    message = AIMessage(
        invalid_tool_calls=[
            {"type": "invalid_tool_call", "id": "c9", "name": "f", "args": '{"x": ', "error": "bad"}
        ]
    )
    out = body([message])["messages"][0]
    assert out["tool_calls"] == [
        {"id": "c9", "type": "function", "function": {"name": "f", "arguments": '{"x": '}}
    ]
    assert out["content"] is None


def test_assistant_audio_is_referenced_by_id() -> None:
    message = AIMessage(
        [{"type": "audio", "id": "audio_1", "base64": "AAAA"}, {"type": "text", "text": ""}]
    )
    out = body([message])["messages"][0]
    assert out == {"role": "assistant", "content": None, "audio": {"id": "audio_1"}}


def test_body_is_json_serialisable() -> None:
    message = assembled("gpt-4o-parallel-tool-calls.sse")
    out = body([SystemMessage("s"), HumanMessage("go"), message], tools=[GetWeather], n=2, choice=1)
    assert json.loads(json.dumps(out)) == out
