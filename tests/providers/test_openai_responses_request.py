"""build_body for the OpenAI Responses API: message conversion, the round trip
of messages assembled by the adapter, every parameter, tools, bad input."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

import pytest
from pydantic import BaseModel, Field

from streamblocks import AIMessage, HumanMessage, SystemMessage, ToolMessage
from streamblocks._errors import InvalidInputError
from streamblocks._messages import to_messages
from streamblocks.providers.openai_responses._adapter import OpenAIResponsesAdapter
from streamblocks.providers.openai_responses._request import build_body
from tests.providers.replay import raw_chunks, replay_three_ways, transcripts

if TYPE_CHECKING:
    from pathlib import Path

    from streamblocks._messages import Message

TRANSCRIPTS = [p for p in transcripts("openai-responses") if "error" not in p.name]


def body(messages: list[Message], **params: Any) -> dict[str, Any]:
    return build_body(messages, model="gpt-test", params=params)


def inputs(messages: list[Message], **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = body(messages, **params)["input"]
    return items


# -- messages ----------------------------------------------------------------------


def test_minimal_body_streams() -> None:
    assert body([HumanMessage("Hi")]) == {
        "model": "gpt-test",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "Hi"}]}],
        "stream": True,
    }


def test_system_messages_stay_in_place() -> None:
    items = inputs(
        [
            SystemMessage("Be brief."),
            HumanMessage("Hi"),
            SystemMessage([{"type": "text", "text": "Now "}, {"type": "text", "text": "be long."}]),
        ]
    )
    assert items[0] == {"role": "system", "content": "Be brief."}
    assert items[2] == {"role": "system", "content": "Now be long."}


def test_system_message_with_an_image_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match=r"messages\[0\]\.content\[1\]"):
        body([SystemMessage([{"type": "text", "text": "x"}, {"type": "image", "url": "u"}])])


def test_human_content_blocks() -> None:
    content = [
        {"type": "text", "text": "Look:"},
        {"type": "image", "url": "https://x.test/a.png"},
        {"type": "image", "base64": "iVBOR", "mime_type": "image/png", "detail": "high"},
        {"type": "image", "file_id": "file-1"},
        {"type": "file", "file_id": "file-2"},
        {"type": "file", "url": "https://x.test/a.pdf"},
        {"type": "file", "base64": "JVBER", "mime_type": "application/pdf", "filename": "a.pdf"},
        {"type": "input_text", "text": "raw"},
    ]
    [item] = inputs([HumanMessage(content)])
    assert item == {
        "role": "user",
        "content": [
            {"type": "input_text", "text": "Look:"},
            {"type": "input_image", "detail": "auto", "image_url": "https://x.test/a.png"},
            {"type": "input_image", "detail": "high", "image_url": "data:image/png;base64,iVBOR"},
            {"type": "input_image", "detail": "auto", "file_id": "file-1"},
            {"type": "input_file", "file_id": "file-2"},
            {"type": "input_file", "file_url": "https://x.test/a.pdf"},
            {
                "type": "input_file",
                "file_data": "data:application/pdf;base64,JVBER",
                "filename": "a.pdf",
            },
            {"type": "input_text", "text": "raw"},
        ],
    }


@pytest.mark.parametrize(
    ("block", "match"),
    [
        ({"type": "audio", "base64": "x", "mime_type": "audio/wav"}, "'audio' are not supported"),
        ({"type": "image"}, "needs 'url', 'base64'"),
        ({"type": "image", "base64": "x"}, "needs a 'mime_type'"),
        ({"type": "file"}, "needs 'file_id', 'url' or 'base64'"),
    ],
)
def test_unsupported_human_blocks_name_the_item(block: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInputError, match=r"messages\[1\]\.content\[0\]: ") as info:
        body([SystemMessage("s"), HumanMessage([block])])
    assert match in str(info.value)


def test_tool_messages_become_call_outputs() -> None:
    messages = to_messages(
        [
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": "Let me check.",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"},
        ]
    )
    items = inputs(messages)
    assert items[1:] == [
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Let me check.", "annotations": []}],
        },
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "weather",
            "arguments": '{"city": "Paris"}',
        },
        {"type": "function_call_output", "call_id": "call_1", "output": "Sunny"},
    ]


def test_tool_output_with_text_blocks_and_images() -> None:
    text_only = ToolMessage([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], "c1")
    with_image = ToolMessage(
        [{"type": "text", "text": "see"}, {"type": "image", "url": "https://x.test/p.png"}], "c2"
    )
    items = inputs([HumanMessage("x"), text_only, with_image])
    assert items[1] == {"type": "function_call_output", "call_id": "c1", "output": "ab"}
    assert items[2]["output"] == [
        {"type": "input_text", "text": "see"},
        {"type": "input_image", "detail": "auto", "image_url": "https://x.test/p.png"},
    ]


def test_tool_call_without_id_is_rejected() -> None:
    message = AIMessage(tool_calls=[{"type": "tool_call", "id": None, "name": "f", "args": {}}])
    with pytest.raises(InvalidInputError, match=r"messages\[1\]\.tool_calls\[0\]: .*call_id"):
        body([HumanMessage("x"), message])


def test_not_a_message_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match=r"messages\[0\]"):
        build_body(cast("Any", ["hello"]), model="m", params={})


# -- round trip of assembled messages -----------------------------------------------


def assembled(path: Path) -> AIMessage:
    return replay_three_ways(OpenAIResponsesAdapter, path).ok()


def _final_output(path: Path) -> list[dict[str, Any]]:
    chunks = raw_chunks(path)
    done = {
        c["output_index"]: c["item"] for c in chunks if c["type"] == "response.output_item.done"
    }
    return [done[i] for i in sorted(done)]


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.name for p in TRANSCRIPTS])
def test_assembled_message_goes_back_as_its_output_items(path: Path) -> None:
    """Every output item comes back, in order, with what the API needs from it."""
    message = assembled(path)
    calls = [ToolMessage("ok", t["id"] or "") for t in message.tool_calls]
    items = inputs([HumanMessage("q"), message, *calls])[1:]
    raw = _final_output(path)
    sent = items[: len(raw)]
    assert [i["type"] for i in sent] == [r["type"] for r in raw]
    for mine, item in zip(sent, raw, strict=True):
        assert mine["id"] == item["id"]
        if item["type"] == "reasoning":
            assert mine["summary"] == item["summary"]
            assert mine.get("encrypted_content") == item.get("encrypted_content")
            assert mine.get("content") == (item.get("content") or None)
        elif item["type"] == "message":
            assert mine["role"] == "assistant"
            assert [p["text"] for p in mine["content"]] == [p["text"] for p in item["content"]]
            assert [p["annotations"] for p in mine["content"]] == [
                p["annotations"] for p in item["content"]
            ]
        elif item["type"] == "function_call":
            assert mine["call_id"] == item["call_id"]
            assert mine["name"] == item["name"]
            assert json.loads(mine["arguments"]) == json.loads(item["arguments"])
        else:  # server-side tool items go back exactly as received
            assert mine == item
    assert items[len(raw) :] == [
        {"type": "function_call_output", "call_id": c.tool_call_id, "output": "ok"} for c in calls
    ]


def test_summary_parts_regroup_into_one_reasoning_item() -> None:
    message = AIMessage(
        content=[
            {
                "type": "reasoning",
                "reasoning": "One.",
                "id": "rs_1",
                "extras": {"id": "rs_1", "encrypted_content": "enc", "summary_index": 0},
            },
            {
                "type": "reasoning",
                "reasoning": "Two.",
                "id": "rs_1",
                "extras": {"id": "rs_1", "summary_index": 1},
            },
            {"type": "text", "text": "Answer.", "id": "msg_1"},
            # Reasoning from another provider has no item id: left out.
            {"type": "reasoning", "reasoning": "elsewhere", "extras": {"signature": "sig"}},
        ]
    )
    items = inputs([HumanMessage("q"), message])[1:]
    assert items == [
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [
                {"type": "summary_text", "text": "One."},
                {"type": "summary_text", "text": "Two."},
            ],
            "encrypted_content": "enc",
        },
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Answer.", "annotations": []}],
            "id": "msg_1",
            "status": "completed",
        },
    ]


def test_refusal_citations_custom_calls_and_kept_items_round_trip() -> None:
    citation = {
        "type": "url_citation",
        "url": "https://x.test",
        "title": "X",
        "start_index": 0,
        "end_index": 2,
    }
    approval = {
        "type": "mcp_approval_request",
        "id": "mcpr_1",
        "name": "delete",
        "arguments": "{}",
        "server_label": "s",
    }
    # A tool_call block with extras, as the stream assembles it (ToolCall has no extras key).
    message = AIMessage(
        content=cast(
            "Any",
            [
                {
                    "type": "text",
                    "text": "Hi",
                    "id": "msg_1",
                    "annotations": [
                        {
                            "type": "citation",
                            "url": "https://x.test",
                            "title": "X",
                            "start_index": 0,
                            "end_index": 2,
                        },
                        {"type": "citation", "url": "https://no-indexes.test"},
                        {"type": "non_standard_annotation", "value": {"type": "foreign"}},
                    ],
                },
                {
                    "type": "non_standard",
                    "id": "msg_1",
                    "value": {"type": "refusal", "refusal": "Not that."},
                },
                {
                    "type": "tool_call",
                    "id": "call_c",
                    "name": "sql",
                    "args": {"input": "SELECT 1"},
                    "extras": {"item_id": "ctc_1", "item_type": "custom_tool_call"},
                },
                {"type": "non_standard", "value": approval},
                {"type": "non_standard", "value": {"type": "no_id_here"}},
                {"type": "server_tool_result", "tool_call_id": "x", "status": "success"},
            ],
        )
    )
    items = inputs([HumanMessage("q"), message, ToolMessage("1", "call_c")])[1:]
    assert items == [
        {
            "type": "message",
            "role": "assistant",
            "content": [
                {"type": "output_text", "text": "Hi", "annotations": [citation]},
                {"type": "refusal", "refusal": "Not that."},
            ],
            "id": "msg_1",
            "status": "completed",
        },
        {
            "type": "custom_tool_call",
            "call_id": "call_c",
            "name": "sql",
            "input": "SELECT 1",
            "id": "ctc_1",
        },
        approval,
        {"type": "custom_tool_call_output", "call_id": "call_c", "output": "1"},
    ]


def test_generated_image_goes_back_inside_its_call() -> None:
    path = next(p for p in TRANSCRIPTS if "image-generation" in p.name)
    [raw] = [i for i in _final_output(path) if i["type"] == "image_generation_call"]
    items = inputs([HumanMessage("q"), assembled(path)])
    [item] = [i for i in items if i.get("type") == "image_generation_call"]
    assert item == raw
    assert item["result"]


def test_invalid_tool_calls_go_back_with_their_raw_arguments() -> None:
    message = AIMessage(
        invalid_tool_calls=[
            {"type": "invalid_tool_call", "id": "c1", "name": "f", "args": "{oops", "error": "bad"}
        ]
    )
    [item] = inputs([HumanMessage("q"), message])[1:]
    assert item == {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{oops"}


# -- parameters ---------------------------------------------------------------------


class Weather(BaseModel):
    """Get the weather."""

    city: str = Field(description="The city")


def test_every_parameter() -> None:
    result = body(
        [HumanMessage("x")],
        temperature=0.2,
        top_p=0.9,
        max_tokens=100,
        user="u-1",
        reasoning_effort="high",
        include_usage=True,
        n=1,
        choice=0,
    )
    assert {k: v for k, v in result.items() if k not in ("model", "input", "stream")} == {
        "temperature": 0.2,
        "top_p": 0.9,
        "max_output_tokens": 100,
        "user": "u-1",
        "reasoning": {"effort": "high"},
    }


def test_include_reasoning_asks_for_summaries_and_encrypted_content_statelessly() -> None:
    result = body([HumanMessage("x")], include_reasoning=True, reasoning_effort="low")
    assert result["reasoning"] == {"effort": "low", "summary": "auto"}
    assert result["include"] == ["reasoning.encrypted_content"]
    assert result["store"] is False
    assert "reasoning" not in body([HumanMessage("x")], include_reasoning=False)


def test_extra_body_is_merged_last() -> None:
    result = body(
        [HumanMessage("x")],
        include_reasoning=True,
        temperature=1.0,
        extra_body={"store": True, "temperature": 0.5, "truncation": "auto"},
    )
    assert result["store"] is True
    assert result["temperature"] == 0.5
    assert result["truncation"] == "auto"
    with pytest.raises(InvalidInputError, match="extra_body"):
        body([HumanMessage("x")], extra_body=[("a", 1)])


def test_tools_in_every_accepted_form() -> None:
    tools = [
        {"name": "plain", "description": "A plain tool", "parameters": {"type": "object"}},
        {
            "type": "function",
            "function": {
                "name": "strict_one",
                "description": "OpenAI form",
                "parameters": {"type": "object", "additionalProperties": False},
                "strict": True,
            },
        },
        Weather,
    ]
    result = body([HumanMessage("x")], tools=tools, tool_choice="auto")
    assert result["tools"] == [
        {
            "type": "function",
            "name": "plain",
            "description": "A plain tool",
            "parameters": {"type": "object"},
            "strict": False,
        },
        {
            "type": "function",
            "name": "strict_one",
            "description": "OpenAI form",
            "parameters": {"type": "object", "additionalProperties": False},
            "strict": True,
        },
        {
            "type": "function",
            "name": "Weather",
            "description": "Get the weather.",
            "parameters": {
                "properties": {
                    "city": {"description": "The city", "title": "City", "type": "string"}
                },
                "required": ["city"],
                "type": "object",
            },
            "strict": False,
        },
    ]
    assert result["tool_choice"] == "auto"


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("none", "none"),
        ("required", "required"),
        ("weather", {"type": "function", "name": "weather"}),
        (
            {"type": "function", "function": {"name": "weather"}},
            {"type": "function", "name": "weather"},
        ),
        ({"type": "web_search"}, {"type": "web_search"}),
    ],
)
def test_tool_choice(choice: Any, expected: Any) -> None:
    assert body([HumanMessage("x")], tool_choice=choice)["tool_choice"] == expected


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"stop": ["\n"]}, "stop sequences are not supported"),
        ({"thinking_budget": 1024}, "use reasoning_effort"),
        ({"seed": 1}, "seed is not supported"),
        ({"n": 2}, "one answer per request"),
        ({"choice": 1}, "one answer per request"),
        ({"tool_choice": ""}, "must not be empty"),
        ({"tool_choice": 3}, "tool_choice must be"),
        ({"tools": [42]}, r"tools\[0\]"),
        ({"tools": "weather"}, "tools must be a list"),
        ({"frequency_penalty": 1}, "unknown parameter"),
    ],
)
def test_bad_parameters_are_rejected(params: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        body([HumanMessage("x")], **params)
