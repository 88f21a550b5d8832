"""build_body for Gemini streamGenerateContent: message conversion (including
the round trip of AI messages assembled by GeminiAdapter from the recorded
streams), every generation parameter, tools, tool choice and bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, Field

from streamblocks import AIMessage
from streamblocks._errors import InvalidInputError
from streamblocks._messages import HumanMessage, SystemMessage, ToolMessage, to_messages
from streamblocks.providers.gemini._adapter import GeminiAdapter
from streamblocks.providers.gemini._request import build_body
from tests.providers.replay import FIXTURES, raw_chunks, replay_pieces, replay_three_ways

MODEL = "gemini-2.5-flash"


def body(*messages: Any, model: str = MODEL, **params: Any) -> dict[str, Any]:
    return build_body(list(messages), model=model, params=params)


def ai(content: Any = "", **fields: Any) -> AIMessage:
    """A hand-built AI message (untyped blocks, as a user or another library may give)."""
    return AIMessage.from_dict({"content": content, **fields})


def assembled(name: str) -> AIMessage:
    return replay_three_ways(GeminiAdapter, FIXTURES / "gemini" / name).ok()


def raw_parts(name: str) -> list[dict[str, Any]]:
    return [
        part
        for chunk in raw_chunks(FIXTURES / "gemini" / name)
        for candidate in chunk.get("candidates", [])[:1]
        for part in candidate.get("content", {}).get("parts", [])
    ]


def model_parts(result: dict[str, Any]) -> list[dict[str, Any]]:
    (content,) = [c for c in result["contents"] if c["role"] == "model"]
    parts: list[dict[str, Any]] = content["parts"]
    return parts


# -- messages ----------------------------------------------------------------------


def test_a_simple_conversation() -> None:
    result = body(
        SystemMessage("Be brief."),
        HumanMessage("Hi"),
        AIMessage("Hello!"),
        HumanMessage("Capital of France?"),
    )
    assert result == {
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}]},
            {"role": "model", "parts": [{"text": "Hello!"}]},
            {"role": "user", "parts": [{"text": "Capital of France?"}]},
        ],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
    }


def test_every_system_message_goes_to_the_system_instruction() -> None:
    result = body(
        SystemMessage("One."),
        HumanMessage("Hi"),
        SystemMessage([{"type": "text", "text": "Two."}]),
    )
    assert result["systemInstruction"] == {"parts": [{"text": "One."}, {"text": "Two."}]}
    assert result["contents"] == [{"role": "user", "parts": [{"text": "Hi"}]}]


def test_human_content_blocks() -> None:
    content: list[dict[str, Any]] = [
        {"type": "text", "text": "Look:"},
        {"type": "image", "base64": "iVBORw0=", "mime_type": "image/png"},
        {"type": "image", "url": "https://example.com/cat.jpg"},
        {"type": "image", "url": "data:image/jpeg;base64,/9j/4AA="},
        {"type": "image_url", "image_url": {"url": "https://example.com/dog.png"}},
        {"type": "audio", "base64": "UklGRg==", "mime_type": "audio/wav"},
        {"type": "file", "file_id": "files/abc123", "mime_type": "application/pdf"},
        {"type": "video", "url": "gs://bucket/clip.mp4", "mime_type": "video/mp4"},
        {"type": "non_standard", "value": {"executableCode": {"language": "PYTHON", "code": "1"}}},
    ]
    (user,) = body(HumanMessage(content))["contents"]
    assert user["parts"] == [
        {"text": "Look:"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0="}},
        {"fileData": {"fileUri": "https://example.com/cat.jpg"}},
        {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AA="}},
        {"fileData": {"fileUri": "https://example.com/dog.png"}},
        {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
        {"fileData": {"fileUri": "files/abc123", "mimeType": "application/pdf"}},
        {"fileData": {"fileUri": "gs://bucket/clip.mp4", "mimeType": "video/mp4"}},
        {"executableCode": {"language": "PYTHON", "code": "1"}},
    ]


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        ({"type": "image", "base64": "AAAA"}, "mime_type"),
        ({"type": "image"}, "'base64', 'url' or 'file_id'"),
        ({"type": "image", "url": "data:image/png,rawdata"}, "base64 'data:'"),
        ({"type": "reasoning", "reasoning": "hm"}, "'reasoning' block"),
        ({"type": "text", "text": 5}, "'text' must be a string"),
        ({"type": "non_standard", "value": "x"}, "'value' dict"),
        ({"type": "image_url", "image_url": {}}, "needs a URL"),
    ],
)
def test_bad_human_blocks_name_the_item(block: dict[str, Any], problem: str) -> None:
    with pytest.raises(InvalidInputError, match=r"messages\[1\]\.content\[0\]") as info:
        body(HumanMessage("first"), HumanMessage([block]))
    assert problem in str(info.value)


def test_other_bad_messages() -> None:
    with pytest.raises(InvalidInputError, match=r"messages\[0\]: empty content"):
        body(HumanMessage([]))
    with pytest.raises(InvalidInputError, match=r"messages\[0\]\.content\[0\]: a system"):
        body(SystemMessage([{"type": "image", "url": "https://x"}]), HumanMessage("x"))
    with pytest.raises(InvalidInputError, match="at least one user or model message"):
        body(SystemMessage("only instructions"))
    with pytest.raises(InvalidInputError, match=r"messages\[0\]: expected a message"):
        body({"role": "user", "content": "dicts go through to_messages first"})


def test_consecutive_contents_of_one_role_merge() -> None:
    result = body(HumanMessage("a"), HumanMessage([{"type": "text", "text": "b"}]), AIMessage("c"))
    assert result["contents"] == [
        {"role": "user", "parts": [{"text": "a"}, {"text": "b"}]},
        {"role": "model", "parts": [{"text": "c"}]},
    ]


# -- round trips of assembled AI messages ----------------------------------------------


def test_round_trip_text_with_the_trailing_signature() -> None:
    name = "gemini-3-pro-text-empty-part-thought-signature.jsonl"
    message = assembled(name)
    (signature,) = [p["thoughtSignature"] for p in raw_parts(name) if "thoughtSignature" in p]
    text = "".join(p.get("text", "") for p in raw_parts(name))
    assert model_parts(body(HumanMessage("q"), message)) == [
        {"text": text, "thoughtSignature": signature}
    ]


def test_round_trip_thought_and_function_call_then_tool_result() -> None:
    name = "gemini-2.5-flash-json-array-stream-thought-function-call.json"
    message = assembled(name)
    (call_part,) = [p for p in raw_parts(name) if "functionCall" in p]
    result = body(
        HumanMessage("Name my pelican"),
        message,
        ToolMessage("Percival", tool_call_id=message.tool_calls[0]["id"] or ""),
    )
    # The thought summary carries no signature: Gemini reads nothing from it.
    assert result["contents"][1] == {"role": "model", "parts": [call_part]}
    assert result["contents"][2] == {
        "role": "user",
        "parts": [
            {
                "functionResponse": {
                    "name": "pelican_name_generator",
                    "response": {"result": "Percival"},
                }
            }
        ],
    }


def test_round_trip_streamed_vertex_calls_and_parallel_results() -> None:
    name = "vertex-gemini-3-flash-streamed-function-call-args.jsonl"
    message = assembled(name)
    raw = raw_parts(name)
    signature = next(p["thoughtSignature"] for p in raw if "thoughtSignature" in p)
    tool_results = [
        ToolMessage(f"result {i}", tool_call_id=call["id"] or "")
        for i, call in enumerate(message.tool_calls)
    ]
    result = body(HumanMessage("go"), message, *tool_results)
    assert result["contents"][1]["parts"] == [
        {"functionCall": {"name": "read_theme", "args": {}}, "thoughtSignature": signature},
        {"functionCall": {"name": "read_screen", "args": {"id": "A"}}},
        {"functionCall": {"name": "read_screen", "args": {"id": "B"}}},
        {"functionCall": {"name": "read_screen", "args": {"id": "C"}}},
    ]
    # Consecutive tool results: one user content; no ids, since Gemini issued none.
    (results,) = result["contents"][2:]
    assert results["role"] == "user"
    assert [p["functionResponse"] for p in results["parts"]] == [
        {"name": n, "response": {"result": f"result {i}"}}
        for i, n in enumerate(["read_theme", "read_screen", "read_screen", "read_screen"])
    ]


def test_round_trip_server_tool_parts_are_sent_back_verbatim() -> None:
    for name in (
        "gemini-3-flash-code-execution.sse",
        "gemini-3-flash-server-tool-call-response-file-search.sse",
    ):
        raw = raw_parts(name)
        server = [
            p
            for p in raw
            if {"executableCode", "codeExecutionResult", "toolCall", "toolResponse"} & p.keys()
        ]
        text = "".join(p.get("text", "") for p in raw)
        last_signature = [
            p["thoughtSignature"] for p in raw if "text" in p and "thoughtSignature" in p
        ][-1]
        parts = model_parts(body(HumanMessage("q"), assembled(name)))
        assert parts == [*server, {"text": text, "thoughtSignature": last_signature}]


def test_gemini_call_ids_and_reasoning_signatures_go_back() -> None:
    chunks = [
        {
            "candidates": [
                {
                    "content": {
                        "parts": [
                            {"text": "plan", "thought": True, "thoughtSignature": "r-sig"},
                            {
                                "functionCall": {"name": "f", "args": {"x": 1}, "id": "gid-1"},
                                "thoughtSignature": "c-sig",
                            },
                            {"inlineData": {"mimeType": "image/png", "data": "AA=="}},
                        ]
                    },
                    "finishReason": "STOP",
                }
            ]
        }
    ]
    data = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks)
    message = replay_pieces(GeminiAdapter, [data], "sse").ok()
    result = body(HumanMessage("q"), message, ToolMessage("ok", tool_call_id="gid-1"))
    assert result["contents"][1]["parts"] == [
        {"text": "plan", "thought": True, "thoughtSignature": "r-sig"},
        {
            "functionCall": {"name": "f", "args": {"x": 1}, "id": "gid-1"},
            "thoughtSignature": "c-sig",
        },
        {"inlineData": {"mimeType": "image/png", "data": "AA=="}},
    ]
    assert result["contents"][2]["parts"] == [
        {"functionResponse": {"name": "f", "id": "gid-1", "response": {"result": "ok"}}}
    ]


def test_hand_built_and_openai_style_ai_messages() -> None:
    (ai, tool) = to_messages(
        [
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {
                        "id": "call_abc",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"q": "x"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_abc", "content": "found"},
        ]
    )
    result = body(HumanMessage("q"), ai, tool)
    assert result["contents"][1]["parts"] == [
        {"text": "Checking."},
        {"functionCall": {"name": "lookup", "args": {"q": "x"}}},  # no id: not Gemini's
    ]
    assert result["contents"][2]["parts"] == [
        {"functionResponse": {"name": "lookup", "response": {"result": "found"}}}
    ]


def test_a_call_in_both_content_and_tool_calls_is_sent_once() -> None:
    call = {"type": "tool_call", "id": "c1", "name": "f", "args": {}}
    message = ai([{"type": "text", "text": "x"}, dict(call)], tool_calls=[call])
    parts = model_parts(body(HumanMessage("q"), message))
    assert parts == [{"text": "x"}, {"functionCall": {"name": "f", "args": {}}}]


def test_other_blocks_in_ai_messages() -> None:
    message = ai(
        [
            {"type": "reasoning", "reasoning": "unsigned"},
            {"type": "text", "text": ""},
            {"type": "server_tool_call", "id": "s", "name": "web_search", "args": {}},
            {"type": "server_tool_result", "tool_call_id": "s", "status": "success"},
            {
                "type": "server_tool_call",
                "id": "c",
                "name": "code_execution",
                "args": {"language": "PYTHON", "code": "print(1)"},
            },
            {"type": "tool_call_chunk", "id": "t", "name": "g", "args": '{"k": [1]}'},
            {"type": "non_standard", "value": {"somethingNew": 1}},
            {"type": "image", "url": "https://x/y.png", "extras": {"signature": "img-sig"}},
        ]
    )
    parts = model_parts(body(HumanMessage("q"), message))
    assert parts == [
        # Another provider's server tool is left out; code execution is rebuilt.
        {"executableCode": {"language": "PYTHON", "code": "print(1)"}},
        {"functionCall": {"name": "g", "args": {"k": [1]}}},
        {"somethingNew": 1},
        {"fileData": {"fileUri": "https://x/y.png"}, "thoughtSignature": "img-sig"},
    ]
    only_unsigned = ai([{"type": "reasoning", "reasoning": "hm"}])
    assert body(HumanMessage("a"), only_unsigned, HumanMessage("b"))["contents"] == [
        {"role": "user", "parts": [{"text": "a"}, {"text": "b"}]}
    ]


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        (
            ai(
                [
                    {
                        "type": "invalid_tool_call",
                        "id": "i",
                        "name": "f",
                        "args": "{",
                        "error": "bad",
                    }
                ]
            ),
            r"messages\[1\]\.content\[0\]: an invalid tool call",
        ),
        (
            ai(
                invalid_tool_calls=[
                    {"type": "invalid_tool_call", "id": "i", "name": "f", "args": "{", "error": "e"}
                ]
            ),
            r"messages\[1\]: tool call 'f'",
        ),
        (
            ai([{"type": "tool_call_chunk", "id": "t", "name": "g", "args": "{"}]),
            "not valid JSON",
        ),
        (
            ai([{"type": "tool_call_chunk", "id": "t", "name": "g", "args": "[1]"}]),
            "must be a JSON object",
        ),
        (ai([{"type": "tool_call", "id": "t", "args": {}}]), "needs a 'name'"),
        (ai([{"type": "weird"}]), "'weird' block in a model message"),
    ],
)
def test_bad_ai_messages(message: AIMessage, problem: str) -> None:
    with pytest.raises(InvalidInputError, match=problem):
        body(HumanMessage("q"), message)


def test_tool_messages() -> None:
    caller = AIMessage(tool_calls=[{"type": "tool_call", "id": "c1", "name": "draw", "args": {}}])
    result = body(
        HumanMessage("q"),
        caller,
        ToolMessage("boom", tool_call_id="c1", status="error"),
        ToolMessage(
            [
                {"type": "text", "text": "here "},
                {"type": "text", "text": "it is"},
                {"type": "image", "base64": "AA==", "mime_type": "image/png"},
            ],
            tool_call_id="c1",
        ),
        ToolMessage("by name", tool_call_id="unknown", name="explicit"),
    )
    assert [p["functionResponse"] for p in result["contents"][2]["parts"]] == [
        {"name": "draw", "response": {"error": "boom"}},
        {
            "name": "draw",
            "response": {"result": "here it is"},
            "parts": [{"inlineData": {"mimeType": "image/png", "data": "AA=="}}],
        },
        {"name": "explicit", "response": {"result": "by name"}},
    ]
    with pytest.raises(InvalidInputError, match=r"messages\[1\]: Gemini needs the function name"):
        body(HumanMessage("q"), ToolMessage("x", tool_call_id="nobody"))


# -- parameters --------------------------------------------------------------------------


def test_generation_parameters() -> None:
    result = body(
        HumanMessage("q"),
        temperature=0.2,
        top_p=0.9,
        max_tokens=100,
        stop="END",
        n=1,
        seed=7,
        thinking_budget=2048,
        include_reasoning=True,
        include_usage=False,  # Gemini always reports usage
        choice=0,
    )
    assert result["generationConfig"] == {
        "temperature": 0.2,
        "topP": 0.9,
        "maxOutputTokens": 100,
        "candidateCount": 1,
        "seed": 7,
        "stopSequences": ["END"],
        "thinkingConfig": {"thinkingBudget": 2048, "includeThoughts": True},
    }
    assert body(HumanMessage("q"), stop=["a", "b"])["generationConfig"] == {
        "stopSequences": ["a", "b"]
    }
    assert "generationConfig" not in body(HumanMessage("q"))


@pytest.mark.parametrize(
    ("model", "effort", "thinking"),
    [
        ("gemini-3-pro-preview", "low", {"thinkingLevel": "low"}),
        ("models/gemini-3.1-flash", "medium", {"thinkingLevel": "medium"}),
        ("gemini-3-flash-preview", "none", {"thinkingLevel": "minimal"}),
        ("gemini-3-pro-preview", "xhigh", {"thinkingLevel": "high"}),
        ("gemini-2.5-flash", "none", {"thinkingBudget": 0}),
        ("gemini-2.5-pro", "minimal", {"thinkingBudget": 512}),
        ("gemini-2.5-pro", "low", {"thinkingBudget": 1024}),
        ("gemini-2.5-flash", "medium", {"thinkingBudget": 8192}),
        ("gemini-2.5-flash", "high", {"thinkingBudget": 24576}),
        ("some-tuned-model", "xhigh", {"thinkingBudget": 24576}),
    ],
)
def test_reasoning_effort(model: str, effort: str, thinking: dict[str, Any]) -> None:
    result = body(HumanMessage("q"), model=model, reasoning_effort=effort)
    assert result["generationConfig"] == {"thinkingConfig": thinking}


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"reasoning_effort": "low", "thinking_budget": 10}, "not both"),
        ({"reasoning_effort": "huge"}, "reasoning_effort must be one of"),
        ({"thinking_budget": "lots"}, "thinking_budget must be an int"),
        ({"user": "u-1"}, "no end-user field"),
        ({"choice": 1}, "choice must be 0"),
        ({"stop": [1]}, "stop must be"),
        ({"top_k": 3}, "unknown parameter"),
        ({"extra_body": [1]}, "extra_body must be a mapping"),
        ({"tools": "f"}, "tools must be a list"),
        ({"tools": [{"description": "no name"}]}, r"tools\[0\]"),
    ],
)
def test_bad_parameters(params: dict[str, Any], problem: str) -> None:
    with pytest.raises(InvalidInputError, match=problem):
        body(HumanMessage("q"), **params)


class Weather(BaseModel):
    """Get the weather."""

    city: str = Field(description="City name")
    days: int | None = None


def test_tools_in_every_form() -> None:
    strict_schema = {
        "type": "object",
        "properties": {"q": {"type": "string", "title": "Query"}},
        "required": ["q"],
        "additionalProperties": False,
        "$schema": "http://json-schema.org/draft-07/schema#",
    }
    result = body(
        HumanMessage("q"),
        tools=[
            {"name": "search", "description": "Search.", "parameters": strict_schema},
            {"type": "function", "function": {"name": "noop"}},
            Weather,
            {"googleSearch": {}},
            {"codeExecution": {}},
        ],
    )
    declarations = result["tools"][0]["functionDeclarations"]
    assert declarations[0] == {
        "name": "search",
        "description": "Search.",
        "parametersJsonSchema": strict_schema,  # full JSON schema, kept as given
    }
    assert declarations[1] == {
        "name": "noop",
        "parametersJsonSchema": {"type": "object", "properties": {}},
    }
    assert declarations[2]["name"] == "Weather"
    assert declarations[2]["description"] == "Get the weather."
    schema = declarations[2]["parametersJsonSchema"]
    assert schema["properties"]["city"]["description"] == "City name"
    assert schema["required"] == ["city"]
    assert all("parameters" not in d for d in declarations)
    assert result["tools"][1:] == [{"googleSearch": {}}, {"codeExecution": {}}]
    only_native = body(HumanMessage("q"), tools=[{"urlContext": {}}])
    assert only_native["tools"] == [{"urlContext": {}}]


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        ("search", {"mode": "ANY", "allowedFunctionNames": ["search"]}),
        (
            {"type": "function", "function": {"name": "search"}},
            {"mode": "ANY", "allowedFunctionNames": ["search"]},
        ),
        ({"type": "tool", "name": "search"}, {"mode": "ANY", "allowedFunctionNames": ["search"]}),
        ({"type": "any"}, {"mode": "ANY"}),
    ],
)
def test_tool_choice(choice: Any, config: dict[str, Any]) -> None:
    tools = [{"name": "search", "parameters": {"type": "object"}}]
    result = body(HumanMessage("q"), tools=tools, tool_choice=choice)
    assert result["toolConfig"] == {"functionCallingConfig": config}


@pytest.mark.parametrize("choice", ["missing_tool", {"type": "bogus"}, 3, ""])
def test_bad_tool_choice(choice: Any) -> None:
    tools = [{"name": "search"}]
    with pytest.raises(InvalidInputError, match="tool_choice"):
        body(HumanMessage("q"), tools=tools, tool_choice=choice)


def test_extra_body_is_merged_last_and_shallow() -> None:
    result = body(
        HumanMessage("q"),
        temperature=0.5,
        extra_body={
            "safetySettings": [
                {"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}
            ],
            "generationConfig": {"responseMimeType": "application/json"},
            "cachedContent": "cachedContents/abc",
        },
    )
    # Shallow: the extra generationConfig replaces the built one entirely.
    assert result["generationConfig"] == {"responseMimeType": "application/json"}
    assert result["safetySettings"][0]["threshold"] == "BLOCK_NONE"
    assert result["cachedContent"] == "cachedContents/abc"
    assert list(result)[-1] == "cachedContent"


def test_the_body_is_json_serialisable() -> None:
    message = assembled("gemini-3-flash-code-execution.sse")
    result = body(SystemMessage("s"), HumanMessage("q"), message, tools=[Weather])
    assert json.loads(json.dumps(result)) == result
