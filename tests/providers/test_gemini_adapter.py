"""GeminiAdapter: every recorded transcript (SSE, JSON lines, JSON array)
replayed three ways and checked against values computed from the raw chunks,
plus synthetic streams for what the recordings lack (other finish reasons, a
blocked prompt, parallel calls, media, in-stream errors, cut streams, malformed
chunks, streamed arguments of every shape)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from streamblocks._errors import (
    AuthenticationError,
    BadRequestError,
    IncompleteStreamError,
    ProtocolError,
    ProviderError,
    ProviderOverloadedError,
    RateLimitError,
)
from streamblocks.providers.gemini._adapter import GeminiAdapter
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

DIR = "gemini"
TRANSCRIPTS = transcripts(DIR)


def make() -> GeminiAdapter:
    return GeminiAdapter()


# -- expected values, computed from the raw chunks -------------------------------


def _set_path(obj: dict[str, Any], path: str, value: Any, append: bool) -> None:
    """A tiny JSON-path setter for the test's own reconstruction (``$.a.b`` keys only)."""
    keys = path.removeprefix("$.").split(".")
    for key in keys[:-1]:
        obj = obj.setdefault(key, {})
    obj[keys[-1]] = obj.get(keys[-1], "") + value if append else value


class Expected:
    """What a transcript says, read straight from its chunks."""

    def __init__(self, chunks: list[dict[str, Any]]) -> None:
        self.chunks = chunks
        self.parts: list[dict[str, Any]] = []
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.grounding: dict[str, Any] = {}
        self.candidate_fields: dict[str, Any] = {}
        for chunk in chunks:
            self.usage = chunk.get("usageMetadata", self.usage)
            for candidate in chunk.get("candidates", [])[:1]:
                self.parts.extend(candidate.get("content", {}).get("parts", []))
                self.finish_reason = candidate.get("finishReason", self.finish_reason)
                for key, value in candidate.get("groundingMetadata", {}).items():
                    if value:
                        self.grounding[key] = value
                for key, value in candidate.items():
                    if key not in ("content", "index", "groundingMetadata") and value:
                        self.candidate_fields[key] = value

    @property
    def model(self) -> str:
        return str(self.chunks[-1]["modelVersion"])

    @property
    def response_id(self) -> str:
        return str(self.chunks[0]["responseId"])

    def _texts(self, thought: bool) -> str:
        return "".join(
            p["text"] for p in self.parts if "text" in p and bool(p.get("thought")) is thought
        )

    @property
    def text(self) -> str:
        return self._texts(False)

    @property
    def reasoning(self) -> str:
        return self._texts(True)

    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        """(name, args) of each function call, streamed arguments rebuilt."""
        calls: list[tuple[str, dict[str, Any]]] = []
        continuing: set[str] = set()
        for part in self.parts:
            call = part.get("functionCall")
            if call is None:
                continue
            if "name" in call:
                calls.append((call["name"], dict(call.get("args") or {})))
                continuing.clear()
            for arg in call.get("partialArgs", []):
                path = arg["jsonPath"]
                _set_path(calls[-1][1], path, arg["stringValue"], append=path in continuing)
                if arg.get("willContinue"):
                    continuing.add(path)
                else:
                    continuing.discard(path)
        return calls

    @property
    def signatures(self) -> list[str]:
        return [p["thoughtSignature"] for p in self.parts if "thoughtSignature" in p]


@pytest.fixture(params=TRANSCRIPTS, ids=lambda p: p.name)
def transcript(request: pytest.FixtureRequest) -> Path:
    path: Path = request.param
    return path


@pytest.fixture
def replayed(transcript: Path) -> tuple[Replay, Expected]:
    return replay_three_ways(make, transcript), Expected(raw_chunks(transcript))


def _blocks(result: Replay | AIMessage) -> list[dict[str, Any]]:
    content = (result.ok() if isinstance(result, Replay) else result).content
    if content == "":
        return []
    assert isinstance(content, list)
    return [dict(b) for b in content]


def test_every_transcript_replays(replayed: tuple[Replay, Expected]) -> None:
    result, exp = replayed
    message = result.ok()
    assert message.text == exp.text
    assert message.reasoning == exp.reasoning
    assert message.id == exp.response_id
    assert message.response_metadata["model_name"] == exp.model
    assert message.response_metadata["model_provider"] == "google"
    assert message.response_metadata["finish_reason"] == exp.finish_reason


def test_usage_matches_the_raw_usage(replayed: tuple[Replay, Expected]) -> None:
    result, exp = replayed
    message = result.ok()
    raw = exp.usage
    assert raw is not None
    usage = message.usage_metadata
    assert usage is not None
    thoughts = raw.get("thoughtsTokenCount")
    # LangChain's convention: thoughts count as output tokens.
    assert usage["output_tokens"] == raw["candidatesTokenCount"] + (thoughts or 0)
    assert usage["input_tokens"] == raw["promptTokenCount"]
    assert usage["total_tokens"] == raw["totalTokenCount"]
    if thoughts is None:
        assert "output_token_details" not in usage
    else:
        assert usage["output_token_details"] == {"reasoning": thoughts}
    assert message.response_metadata["provider_usage"] == raw


def test_client_tool_calls(replayed: tuple[Replay, Expected]) -> None:
    result, exp = replayed
    message = result.ok()
    assert [(c["name"], c["args"]) for c in message.tool_calls] == exp.calls()
    # No Gemini id in these recordings: stable generated ids, numbered per message.
    assert [c["id"] for c in message.tool_calls] == [f"call_{n}" for n in range(len(exp.calls()))]
    assert message.invalid_tool_calls == []


def test_streamed_tool_call_args_are_streamed_as_json(transcript: Path) -> None:
    result = replay_three_ways(make, transcript)
    chunks = result.ok().tool_calls
    pushed: dict[int, list[str]] = {}
    starts = {
        e["index"]: e["content"]
        for e in result.events
        if e["event"] == "content-block-start" and e["content"]["type"] == "tool_call_chunk"
    }
    for e in result.events:
        if e["event"] == "content-block-delta" and e["index"] in starts:
            pushed.setdefault(e["index"], []).append(e["delta"]["args"])
    # The deltas of every call concatenate to its exact arguments.
    assert [json.loads("".join(pushed[i])) for i in sorted(pushed)] == [c["args"] for c in chunks]


def test_blocks_map_one_to_one(replayed: tuple[Replay, Expected]) -> None:
    result, exp = replayed
    expected: list[str] = []
    previous = None
    for part in exp.parts:
        if "text" in part:
            kind = "reasoning" if part.get("thought") else "text"
            if not part["text"] and "thoughtSignature" not in part:
                continue
            if kind != previous:
                expected.append(kind)
            previous = kind
            continue
        previous = None
        if "functionCall" in part:
            if "name" in part["functionCall"]:
                expected.append("tool_call")
        elif "executableCode" in part or "toolCall" in part:
            expected.append("server_tool_call")
        elif "codeExecutionResult" in part or "toolResponse" in part:
            expected.append("server_tool_result")
    assert [b["type"] for b in _blocks(result)] == expected


def test_no_thought_signature_is_lost(replayed: tuple[Replay, Expected]) -> None:
    result, exp = replayed
    kept = []
    for block in _blocks(result):
        extras = block.get("extras") or {}
        if "signature" in extras:
            kept.append(extras["signature"])
            if "part" in extras:  # server tool blocks keep the raw part too
                assert extras["part"]["thoughtSignature"] == extras["signature"]
    assert kept == exp.signatures


def test_server_tool_calls_and_results(replayed: tuple[Replay, Expected]) -> None:
    result, exp = replayed
    blocks = _blocks(result)
    calls = [b for b in blocks if b["type"] == "server_tool_call"]
    results = [b for b in blocks if b["type"] == "server_tool_result"]
    raw_calls = [p for p in exp.parts if "executableCode" in p or "toolCall" in p]
    raw_results = [p for p in exp.parts if "codeExecutionResult" in p or "toolResponse" in p]
    assert [c["extras"]["part"] for c in calls] == raw_calls
    assert [r["extras"]["part"] for r in results] == raw_results
    for call, raw in zip(calls, raw_calls, strict=True):
        if "executableCode" in raw:
            code = raw["executableCode"]
            assert call["name"] == "code_execution"
            assert call["args"] == {"language": code["language"], "code": code["code"]}
            assert call["id"] == code["id"]
        else:
            assert call["name"] == raw["toolCall"]["toolType"].lower()
            assert call["id"] == raw["toolCall"]["id"]
    for res, raw in zip(results, raw_results, strict=True):
        body = raw.get("codeExecutionResult") or raw["toolResponse"]
        assert res["tool_call_id"] == body["id"]
        if "codeExecutionResult" in raw:
            assert res["output"] == body["output"]
            ok = body["outcome"] == "OUTCOME_OK"
            assert res["status"] == ("success" if ok else "error")


def test_grounding_metadata_and_citations(replayed: tuple[Replay, Expected]) -> None:
    result, exp = replayed
    message = result.ok()
    meta = message.response_metadata
    if not exp.grounding:
        assert "grounding_metadata" not in meta
        return
    assert meta["grounding_metadata"] == exp.grounding
    text_blocks = [b for b in _blocks(result) if b["type"] == "text"]
    annotations = [a for b in text_blocks for a in b.get("annotations", [])]
    chunks = exp.grounding["groundingChunks"]
    expected_count = sum(
        len(s["groundingChunkIndices"]) for s in exp.grounding["groundingSupports"]
    )
    assert len(annotations) == expected_count
    text = message.text
    raw_bytes = text.encode()
    i = 0
    for support in exp.grounding["groundingSupports"]:
        segment = support["segment"]
        for chunk_index in support["groundingChunkIndices"]:
            annotation = annotations[i]
            i += 1
            chunk = chunks[chunk_index]
            if "web" not in chunk:
                assert annotation["type"] == "non_standard_annotation"
                assert annotation["value"]["groundingChunk"] == chunk
                continue
            assert annotation["type"] == "citation"
            assert annotation["url"] == chunk["web"]["uri"]
            assert annotation["title"] == chunk["web"]["title"]
            assert annotation["cited_text"] == segment["text"]
            # Gemini counts bytes; the annotation counts characters of the text.
            start = len(raw_bytes[: segment.get("startIndex", 0)].decode())
            end = len(raw_bytes[: segment["endIndex"]].decode())
            assert (annotation["start_index"], annotation["end_index"]) == (start, end)
            assert text[start:end] == segment["text"]


def test_finish_metadata_keeps_the_provider_fields(replayed: tuple[Replay, Expected]) -> None:
    result, exp = replayed
    meta = result.ok().response_metadata
    if "finishMessage" in exp.candidate_fields:
        assert meta["finish_message"] == exp.candidate_fields["finishMessage"]
    else:
        assert "finish_message" not in meta
    create_time = exp.chunks[-1].get("createTime")
    assert meta.get("create_time") == create_time


def test_the_json_array_transcript_is_a_json_array() -> None:
    (path,) = [p for p in TRANSCRIPTS if p.suffix == ".json"]
    assert b"\n,\r\n" in path.read_bytes()  # the separator the framing layer must handle
    message = replay_three_ways(make, path).ok()
    assert [c["name"] for c in message.tool_calls] == ["pelican_name_generator"]
    # The signature lives on the content block (message.tool_calls are bare, as in LangChain).
    call = next(b for b in _blocks(message) if b["type"] == "tool_call")
    assert call["extras"]["signature"].startswith("ClgBEU0y")
    assert message.response_metadata["finish_message"] == "Model generated function call(s)."


# -- synthetic streams ---------------------------------------------------------------


def chunk(
    *parts: dict[str, Any],
    finish: str | None = None,
    usage: dict[str, Any] | None = None,
    **candidate: Any,
) -> dict[str, Any]:
    """One GenerateContentResponse, as the Gemini API documents it."""
    cand: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish is not None:
        cand["finishReason"] = finish
    cand.update(candidate)
    out: dict[str, Any] = {
        "candidates": [cand],
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-1",
    }
    if usage is not None:
        out["usageMetadata"] = usage
    return out


def sse(*chunks: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(c).encode() + b"\r\n\r\n" for c in chunks)


def run(*chunks: dict[str, Any]) -> Replay:
    data = sse(*chunks)
    whole = replay_pieces(make, [data], "sse")
    bytewise = replay_pieces(make, [data[i : i + 1] for i in range(len(data))], "sse")
    assert bytewise.events == whole.events
    assert repr(bytewise.error) == repr(whole.error)
    return whole


USAGE = {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}


@pytest.mark.parametrize(
    "reason", ["MAX_TOKENS", "SAFETY", "RECITATION", "MALFORMED_FUNCTION_CALL"]
)
def test_other_finish_reasons_are_kept_raw(reason: str) -> None:
    ratings = [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "MEDIUM", "blocked": True}]
    result = run(
        chunk({"text": "Once upon a"}, usage={"promptTokenCount": 10, "totalTokenCount": 10}),
        chunk(
            {"text": " time"},
            finish=reason,
            usage=USAGE,
            safetyRatings=ratings,
            finishMessage="stopped",
            avgLogprobs=-0.5,
        ),
    )
    message = result.ok()
    assert message.text == "Once upon a time"
    meta = message.response_metadata
    assert meta["finish_reason"] == reason
    assert meta["safety_ratings"] == ratings
    assert meta["finish_message"] == "stopped"
    assert meta["avg_logprobs"] == -0.5
    assert message.usage_metadata == {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}


def test_usage_may_come_after_the_finish_reason() -> None:
    result = run(
        chunk({"text": "Hi"}, finish="STOP"),
        {"usageMetadata": USAGE, "modelVersion": "gemini-2.5-flash", "responseId": "resp-1"},
    )
    message = result.ok()
    assert message.usage_metadata == {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    assert message.response_metadata["finish_reason"] == "STOP"


def test_a_blocked_prompt_finishes_with_its_block_reason() -> None:
    feedback = {
        "blockReason": "PROHIBITED_CONTENT",
        "safetyRatings": [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}],
    }
    result = run(
        {
            "promptFeedback": feedback,
            "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7},
            "modelVersion": "gemini-2.5-flash",
            "responseId": "resp-9",
        }
    )
    message = result.ok()
    assert message.content == ""
    assert message.id == "resp-9"
    assert message.response_metadata["finish_reason"] == "PROHIBITED_CONTENT"
    assert message.response_metadata["prompt_feedback"] == feedback
    assert message.usage_metadata == {"input_tokens": 7, "total_tokens": 7}


def test_parallel_function_calls_in_one_chunk() -> None:
    result = run(
        chunk(
            {
                "functionCall": {"name": "weather", "args": {"city": "Paris"}, "id": "fc-a"},
                "thoughtSignature": "sig-1",
            },
            {"functionCall": {"name": "weather", "args": {"city": "Zürich", "days": [1, 2]}}},
            finish="STOP",
            usage=USAGE,
        )
    )
    message = result.ok()
    expected = [
        {
            "type": "tool_call",
            "id": "fc-a",
            "name": "weather",
            "args": {"city": "Paris"},
            "extras": {"signature": "sig-1", "function_call_id": "fc-a"},
        },
        {
            "type": "tool_call",
            "id": "call_1",
            "name": "weather",
            "args": {"city": "Zürich", "days": [1, 2]},
        },
    ]
    assert _blocks(message) == expected
    assert message.tool_calls == [
        {k: v for k, v in call.items() if k != "extras"} for call in expected
    ]
    starts = [e["content"] for e in result.events if e["event"] == "content-block-start"]
    assert [s["index"] for s in starts] == [0, 1]  # the provider index tells the calls apart


@pytest.mark.parametrize(
    ("mime", "btype"),
    [
        ("image/png", "image"),
        ("audio/wav", "audio"),
        ("video/mp4", "video"),
        ("application/pdf", "file"),
    ],
)
def test_inline_data_becomes_a_media_block(mime: str, btype: str) -> None:
    result = run(
        chunk({"text": "Here:"}),
        chunk({"inlineData": {"mimeType": mime, "data": "aGVsbG8="}, "thoughtSignature": "s"}),
        chunk({"text": "done"}, finish="STOP"),
    )
    blocks = _blocks(result)
    assert [b["type"] for b in blocks] == ["text", btype, "text"]
    assert blocks[1] == {
        "type": btype,
        "base64": "aGVsbG8=",
        "mime_type": mime,
        "extras": {"signature": "s"},
        "index": 1,
    }
    assert result.ok().text == "Here:done"


def test_file_data_and_unknown_parts() -> None:
    odd = {"somethingNew": {"x": 1}}
    result = run(
        chunk(
            {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://b/doc.pdf"}},
            odd,
            {"functionResponse": {"name": "f", "response": {}}},
            {},
            finish="STOP",
        )
    )
    blocks = _blocks(result)
    assert blocks[0] == {
        "type": "file",
        "url": "gs://b/doc.pdf",
        "mime_type": "application/pdf",
        "index": 0,
    }
    assert blocks[1] == {"type": "non_standard", "value": odd, "index": 1}
    assert blocks[2]["value"] == {"functionResponse": {"name": "f", "response": {}}}
    assert len(blocks) == 3  # an empty part carries nothing


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        ("RESOURCE_EXHAUSTED", 429, RateLimitError),
        ("UNAVAILABLE", 503, ProviderOverloadedError),
        ("INVALID_ARGUMENT", 400, BadRequestError),
        ("PERMISSION_DENIED", 403, AuthenticationError),
        ("INTERNAL", 500, ProviderError),
        (None, 429, RateLimitError),
    ],
)
def test_an_error_element_raises_a_typed_error(
    status: str | None, code: int, cls: type[ProviderError]
) -> None:
    error: dict[str, Any] = {"code": code, "message": "Resource has been exhausted"}
    if status is not None:
        error["status"] = status
    result = run(chunk({"text": "partial answer"}), {"error": error})
    assert type(result.error) is cls
    assert isinstance(result.error, ProviderError)
    assert result.error.message == "Resource has been exhausted"
    assert result.error.code == (status or str(code))
    assert result.error.body == {"error": error}
    assert result.partial.text == "partial answer"  # what came before the error stands


def test_an_error_element_in_a_json_array_body() -> None:
    body = json.dumps(
        [
            chunk({"text": "Hel"}),
            {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}},
        ],
        indent=2,
    ).encode()
    result = replay_pieces(make, [body[i : i + 7] for i in range(0, len(body), 7)], "json-array")
    assert isinstance(result.error, ProviderOverloadedError)
    assert result.partial.text == "Hel"


def test_a_cut_stream_is_incomplete_and_keeps_the_partial_message() -> None:
    result = run(
        chunk({"text": "The answer", "thought": True}),
        chunk({"text": "is"}),
        chunk({"functionCall": {"name": "f", "willContinue": True}}),
        chunk(
            {
                "functionCall": {
                    "partialArgs": [{"jsonPath": "$.q", "stringValue": "x", "willContinue": True}],
                    "willContinue": True,
                }
            }
        ),
    )
    assert isinstance(result.error, IncompleteStreamError)
    assert "finishReason" in str(result.error)
    assert result.message is None
    assert result.partial.text == "is"
    assert result.partial.reasoning == "The answer"


def test_a_truncated_json_array_is_incomplete() -> None:
    body = json.dumps([chunk({"text": "Hi"}, finish="STOP")], indent=2).encode()
    body = body[: body.rindex(b"]")]  # every element complete, the array never closed
    result = replay_pieces(make, [body], "json-array")
    assert isinstance(result.error, IncompleteStreamError)
    assert result.partial.text == "Hi"


def test_end_twice_and_feed_after_end_do_not_finish_twice() -> None:
    adapter = GeminiAdapter()
    events = adapter.feed(chunk({"text": "a"}, finish="STOP"))
    assert not adapter.finished
    events += adapter.end()
    assert adapter.finished
    assert adapter.end() == []
    assert adapter.feed(chunk({"text": "b"})) == []
    assert [e["event"] for e in events].count("message-finish") == 1


def test_a_plain_text_chunk_is_one_delta() -> None:
    adapter = GeminiAdapter()
    adapter.feed(chunk({"text": "a"}, usage=USAGE))
    events = adapter.feed(chunk({"text": "b"}, usage=USAGE))
    assert events == [
        {"event": "content-block-delta", "index": 0, "delta": {"type": "text-delta", "text": "b"}}
    ]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ([1, 2], "chunk"),
        ({"candidates": {"content": {}}}, "candidates"),
        ({"candidates": ["x"]}, "candidates[0]"),
        ({"candidates": [{"content": "text"}]}, "candidates[0].content"),
        ({"candidates": [{"content": {"parts": {"text": "a"}}}]}, "candidates[0].content.parts"),
        ({"candidates": [{"content": {"parts": ["a"]}}]}, "candidates[0].content.parts[]"),
        ({"candidates": [{"content": {"parts": [{"text": 3}]}}]}, "parts[].text"),
        (
            {"candidates": [{"content": {"parts": [{"text": "a", "thoughtSignature": 1}]}}]},
            "parts[].thoughtSignature",
        ),
        ({"candidates": [{"content": {"parts": [{"functionCall": "f"}]}}]}, "parts[].functionCall"),
        (
            {"candidates": [{"content": {"parts": [{"functionCall": {"name": 1}}]}}]},
            "parts[].functionCall.name",
        ),
        (
            {
                "candidates": [
                    {"content": {"parts": [{"functionCall": {"name": "f", "args": [1]}}]}}
                ]
            },
            "parts[].functionCall.args",
        ),
        (
            {"candidates": [{"content": {"parts": [{"inlineData": {"data": 5}}]}}]},
            "parts[].inlineData.data",
        ),
        ({"candidates": [{"finishReason": 1}]}, "candidates[0].finishReason"),
        ({"usageMetadata": [1]}, "usageMetadata"),
        ({"modelVersion": 2}, "modelVersion"),
        ({"promptFeedback": "blocked"}, "promptFeedback"),
    ],
)
def test_malformed_chunks_raise_protocol_errors(bad: Any, field: str) -> None:
    adapter = GeminiAdapter()
    with pytest.raises(ProtocolError, match="gemini") as info:
        adapter.feed(bad)
    assert info.value.field == field


def test_a_malformed_usage_count_is_reported_at_the_end() -> None:
    adapter = GeminiAdapter()
    adapter.feed(chunk({"text": "a"}, finish="STOP", usage={"promptTokenCount": "10"}))
    with pytest.raises(ProtocolError) as info:
        adapter.end()
    assert info.value.field == "usageMetadata.promptTokenCount"


def test_none_counts_as_missing_like_sdk_model_dump_output() -> None:
    """google-genai's ``model_dump()``: snake_case keys, ``None`` for absent
    fields, ``bytes`` signatures, enum values."""
    import enum

    class FinishReason(str, enum.Enum):
        STOP = "STOP"

    dumped = {
        "sdk_http_response": {"headers": {"x": "y"}},
        "candidates": [
            {
                "content": {
                    "parts": [
                        {
                            "text": "Hi",
                            "thought": None,
                            "thought_signature": None,
                            "function_call": None,
                        },
                        {
                            "text": None,
                            "function_call": {
                                "id": None,
                                "name": "lookup",
                                "args": {"user_id": 1, "snake_key": None},
                                "partial_args": None,
                                "will_continue": None,
                            },
                            "thought_signature": b"\x01\x02",
                        },
                    ],
                    "role": "model",
                },
                "finish_reason": FinishReason.STOP,
                "grounding_metadata": None,
                "index": 0,
            }
        ],
        "create_time": None,
        "model_version": "gemini-2.5-flash",
        "prompt_feedback": None,
        "response_id": "r-1",
        "usage_metadata": {
            "prompt_token_count": 3,
            "candidates_token_count": 2,
            "thoughts_token_count": None,
            "total_token_count": 5,
            "cached_content_token_count": None,
        },
        "automatic_function_calling_history": None,
        "parsed": None,
    }
    adapter = GeminiAdapter()
    events = adapter.feed(dumped) + adapter.end()
    finish = events[-1]
    assert finish["metadata"]["finish_reason"] == "STOP"
    assert finish["metadata"]["model_name"] == "gemini-2.5-flash"
    assert "sdk_http_response" not in finish["metadata"]
    assert finish["usage"] == {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}
    call = next(
        e["content"]
        for e in events
        if e["event"] == "content-block-finish" and e["content"]["type"] == "tool_call_chunk"
    )
    assert call["extras"] == {"signature": "AQI="}  # base64, as on the wire
    deltas = [e["delta"] for e in events if e["event"] == "content-block-delta"]
    # Argument keys are user data: kept as they are (snake_key survives, its None too).
    assert json.loads(deltas[1]["args"]) == {"user_id": 1, "snake_key": None}


# -- thought signatures --------------------------------------------------------------


def test_signature_on_a_thought_part_goes_to_the_reasoning_extras() -> None:
    result = run(
        chunk({"text": "Let me think", "thought": True}),
        chunk({"text": " harder", "thought": True, "thoughtSignature": "r-sig"}),
        chunk({"text": "", "thought": True, "thoughtSignature": "r-sig-2"}),
        chunk({"text": "Answer"}, finish="STOP"),
    )
    blocks = _blocks(result)
    assert blocks == [
        {
            "type": "reasoning",
            "extras": {"signature": "r-sig"},
            "reasoning": "Let me think harder",
            "index": 0,
        },
        {"type": "reasoning", "extras": {"signature": "r-sig-2"}, "index": 1},
        {"type": "text", "text": "Answer", "index": 2},
    ]


def test_one_signature_per_text_block() -> None:
    result = run(
        chunk({"text": "A", "thoughtSignature": "s1"}),
        chunk({"text": "B"}),
        chunk({"text": "C", "thoughtSignature": "s2"}),
        chunk({"text": "", "thoughtSignature": "s3"}),
        finish_chunk := chunk(finish="STOP"),
    )
    del finish_chunk
    blocks = _blocks(result)
    assert [(b["text"], b["extras"]) for b in blocks] == [
        ("AB", {"signature": "s1"}),
        ("C", {"signature": "s2"}),
        ("", {"signature": "s3"}),
    ]


def test_a_signature_after_function_calls_is_an_empty_signed_text_block() -> None:
    result = run(
        chunk({"functionCall": {"name": "f", "args": {}}}),
        chunk({"text": "", "thoughtSignature": "trailing"}, finish="STOP"),
    )
    blocks = _blocks(result)
    assert blocks[1] == {
        "type": "text",
        "text": "",
        "extras": {"signature": "trailing"},
        "index": 1,
    }


def test_a_bare_signature_part_signs_the_open_block() -> None:
    result = run(
        chunk({"text": "thinking", "thought": True}),
        chunk({"thoughtSignature": "bare"}),
        chunk({"text": "x", "partMetadata": {"k": 1}}, finish="STOP"),
    )
    blocks = _blocks(result)
    assert blocks[0]["extras"] == {"signature": "bare"}
    assert blocks[1]["extras"] == {"partMetadata": {"k": 1}}


# -- code execution, citations, usage details -------------------------------------------


def test_code_execution_without_ids_pairs_call_and_result() -> None:
    result = run(
        chunk({"executableCode": {"language": "PYTHON", "code": "1/0"}}),
        chunk(
            {"codeExecutionResult": {"outcome": "OUTCOME_FAILED", "output": "ZeroDivisionError"}}
        ),
        chunk({"text": "It failed."}, finish="STOP"),
    )
    call, res, text = _blocks(result)
    assert call["id"] == res["tool_call_id"]
    assert call["id"].startswith("code_execution_")
    assert res["status"] == "error"
    assert res["output"] == "ZeroDivisionError"
    assert text["text"] == "It failed."
    assert result.ok().tool_calls == []  # server tools are not client calls


def test_citation_metadata_and_multibyte_grounding_offsets() -> None:
    text = "Zürich ist schön. Paris est belle."
    second = "Paris est belle."
    start = len(text[: text.index(second)].encode())
    grounding = {
        "groundingChunks": [{"web": {"uri": "https://a.example", "title": "A"}}],
        "groundingSupports": [
            {
                "segment": {
                    "startIndex": start,
                    "endIndex": start + len(second.encode()),
                    "text": second,
                },
                "groundingChunkIndices": [0],
            }
        ],
        "webSearchQueries": ["paris"],
    }
    citations = {
        "citationSources": [
            {"startIndex": 0, "endIndex": 5, "uri": "https://b.example"},
            {"license": "mit"},
        ]
    }
    result = run(
        chunk({"text": text[:10]}, groundingMetadata={}),
        chunk(
            {"text": text[10:]},
            finish="STOP",
            groundingMetadata=grounding,
            citationMetadata=citations,
        ),
    )
    (block,) = _blocks(result)
    assert block["annotations"] == [
        {
            "type": "citation",
            "url": "https://a.example",
            "title": "A",
            "cited_text": second,
            "start_index": text.index(second),
            "end_index": len(text),
        },
        {"type": "citation", "url": "https://b.example"},
        {"type": "non_standard_annotation", "value": {"license": "mit"}},
    ]
    meta = result.ok().response_metadata
    assert meta["grounding_metadata"] == grounding
    assert meta["citation_metadata"] == citations


def test_usage_details() -> None:
    usage = {
        "promptTokenCount": 100,
        "cachedContentTokenCount": 60,
        "candidatesTokenCount": 20,
        "thoughtsTokenCount": 30,
        "totalTokenCount": 150,
        "promptTokensDetails": [
            {"modality": "TEXT", "tokenCount": 90},
            {"modality": "AUDIO", "tokenCount": 10},
        ],
        "candidatesTokensDetails": [{"modality": "AUDIO", "tokenCount": 20}],
    }
    message = run(chunk({"text": "x"}, finish="STOP", usage=usage)).ok()
    assert message.usage_metadata == {
        "input_tokens": 100,
        "output_tokens": 50,
        "total_tokens": 150,
        "input_token_details": {"cache_read": 60, "audio": 10},
        "output_token_details": {"reasoning": 30, "audio": 20},
    }


# -- Vertex AI streamed function-call arguments ------------------------------------------


def streamed_call(
    name: str, *fragments: list[dict[str, Any]], terminal: bool = True
) -> list[dict[str, Any]]:
    out = [chunk({"functionCall": {"name": name, "willContinue": True}})]
    out += [chunk({"functionCall": {"partialArgs": f, "willContinue": True}}) for f in fragments]
    if terminal:
        out.append(chunk({"functionCall": {}}))
    return out


def _args_and_deltas(result: Replay) -> tuple[list[dict[str, Any]], list[str]]:
    deltas = [
        e["delta"]["args"]
        for e in result.events
        if e["event"] == "content-block-delta" and e["delta"]["type"] == "tool-call-delta"
    ]
    return [c["args"] for c in result.ok().tool_calls], deltas


def test_streamed_args_nested_objects_arrays_and_scalars() -> None:
    expected = {
        "recipe": {"name": 'Lasagne "al forno"', "steps": ["boil", "bake"], "serves": 4},
        "vegan": False,
        "notes": None,
        "ratio": 0.5,
        "tags": [{"k": "it"}, {"k": "pasta"}],
    }
    result = run(
        *streamed_call(
            "save",
            [{"jsonPath": "$.recipe.name", "stringValue": 'Lasagne "al', "willContinue": True}],
            [{"jsonPath": "$.recipe.name", "stringValue": ' forno"'}],
            [
                {"jsonPath": "$.recipe.steps[0]", "stringValue": "boil"},
                {"jsonPath": "$.recipe.steps[1]", "stringValue": "bake"},
                {"jsonPath": "$.recipe.serves", "numberValue": 4},
            ],
            [
                {"jsonPath": "$.vegan", "boolValue": False},
                {"jsonPath": "$.notes", "nullValue": "NULL_VALUE"},
                {"jsonPath": "$['ratio']", "numberValue": 0.5},
                {"jsonPath": "$.tags[0].k", "stringValue": "it"},
                {"jsonPath": "$.tags[1].k", "stringValue": "pas", "willContinue": True},
            ],
            [{"jsonPath": "$.tags[1].k", "stringValue": "ta"}],
        ),
        chunk(finish="STOP"),
    )
    (args,), deltas = _args_and_deltas(result)
    assert args == expected
    assert len(deltas) > 5  # streamed piece by piece ...
    assert json.loads("".join(deltas)) == expected  # ... and the pieces are exact JSON


def test_streamed_args_out_of_document_order_are_still_exact() -> None:
    result = run(
        *streamed_call(
            "f",
            [{"jsonPath": "$.a.x", "numberValue": 1}, {"jsonPath": "$.b", "numberValue": 2}],
            [{"jsonPath": "$.a.y", "numberValue": 3}],  # reopens "a"
            [
                {"jsonPath": "$.list[1]", "stringValue": "second"},
                {"jsonPath": "$.list[0]", "stringValue": "first"},
            ],
        ),
        chunk(finish="STOP"),
    )
    (args,), _ = _args_and_deltas(result)
    assert args == {"a": {"x": 1, "y": 3}, "b": 2, "list": ["first", "second"]}


def test_streamed_call_without_its_terminal_part_ends_with_the_message() -> None:
    result = run(
        *streamed_call(
            "f",
            [{"jsonPath": "$.q", "stringValue": "hel", "willContinue": True}],
            terminal=False,
        ),
        chunk(
            {
                "functionCall": {
                    "partialArgs": [{"jsonPath": "$.q", "stringValue": "lo"}],
                    "willContinue": True,
                }
            }
        ),
        chunk({"text": ""}, finish="STOP"),
    )
    (args,), deltas = _args_and_deltas(result)
    assert args == {"q": "hello"}
    assert "".join(deltas) == '{"q":"hello"}'


def test_streamed_call_keeps_its_signature_and_gemini_id() -> None:
    result = run(
        chunk(
            {
                "functionCall": {"name": "f", "willContinue": True, "id": "g-1"},
                "thoughtSignature": "sig",
            }
        ),
        chunk(
            {
                "functionCall": {
                    "partialArgs": [{"jsonPath": "$.n", "numberValue": 1}],
                    "willContinue": True,
                }
            }
        ),
        chunk({"functionCall": {"name": "g", "args": {"z": True}}}),  # a new call ends the first
        chunk(finish="STOP"),
    )
    calls = [b for b in _blocks(result) if b["type"] == "tool_call"]
    assert [(c["id"], c["name"], c["args"]) for c in calls] == [
        ("g-1", "f", {"n": 1}),
        ("call_1", "g", {"z": True}),
    ]
    assert calls[0]["extras"] == {"signature": "sig", "function_call_id": "g-1"}


def test_a_fragment_of_no_known_call_is_kept_as_non_standard() -> None:
    part = {"functionCall": {"partialArgs": [{"jsonPath": "$.a", "stringValue": "x"}]}}
    result = run(chunk(part), chunk({"functionCall": {}}), chunk(finish="STOP"))
    assert _blocks(result) == [{"type": "non_standard", "value": part, "index": 0}]


@pytest.mark.parametrize(
    "arg",
    [
        {"jsonPath": "a.b", "stringValue": "x"},
        {"jsonPath": "$", "stringValue": "x"},
        {"jsonPath": "$.a[", "stringValue": "x"},
        {"stringValue": "x"},
        {"jsonPath": "$.a", "numberValue": "1"},
    ],
)
def test_malformed_partial_args_raise(arg: dict[str, Any]) -> None:
    adapter = GeminiAdapter()
    adapter.feed(chunk({"functionCall": {"name": "f", "willContinue": True}}))
    with pytest.raises(ProtocolError, match="partialArgs"):
        adapter.feed(chunk({"functionCall": {"partialArgs": [arg], "willContinue": True}}))


def test_conflicting_partial_arg_paths_raise() -> None:
    adapter = GeminiAdapter()
    adapter.feed(chunk({"functionCall": {"name": "f", "willContinue": True}}))
    adapter.feed(
        chunk(
            {
                "functionCall": {
                    "partialArgs": [{"jsonPath": "$.a.b", "numberValue": 1}],
                    "willContinue": True,
                }
            }
        )
    )
    with pytest.raises(ProtocolError, match="conflicts"):
        adapter.feed(
            chunk(
                {
                    "functionCall": {
                        "partialArgs": [{"jsonPath": "$.a[0]", "numberValue": 2}],
                        "willContinue": True,
                    }
                }
            )
        )


def test_vertex_citation_metadata_keeps_its_key() -> None:
    citations = {"citations": [{"startIndex": 1, "endIndex": 4, "uri": "https://c.example"}]}
    result = run(chunk({"text": "abcdef"}, finish="STOP", citationMetadata=citations))
    (block,) = _blocks(result)
    assert block["annotations"] == [{"type": "citation", "url": "https://c.example"}]
    assert result.ok().response_metadata["citation_metadata"] == citations
