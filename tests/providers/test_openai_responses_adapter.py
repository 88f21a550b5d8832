"""OpenAIResponsesAdapter: every recorded transcript replayed three ways and
checked against values computed from the raw chunks, plus synthetic streams
for what the recordings lack (incomplete responses, parallel calls, refusals,
URL citations, unknown items, errors, cut streams, malformed chunks)."""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

import pytest

from streamblocks import ChatModelStream
from streamblocks._errors import (
    IncompleteStreamError,
    ProtocolError,
    ProviderError,
    ProviderOverloadedError,
    RateLimitError,
)
from streamblocks._protocol import validate_event
from streamblocks.providers.openai_responses._adapter import OpenAIResponsesAdapter
from tests.providers.replay import (
    Replay,
    raw_chunks,
    replay_pieces,
    replay_three_ways,
    transcripts,
)

if TYPE_CHECKING:
    from pathlib import Path

    from pydantic import BaseModel

    from streamblocks import AIMessage

DIR = "openai-responses"
TRANSCRIPTS = transcripts(DIR)
ERROR_TRANSCRIPT = "error-insufficient-quota-response-failed.jsonl"
SERVER_ITEMS = {
    "web_search_call",
    "file_search_call",
    "code_interpreter_call",
    "mcp_call",
    "mcp_list_tools",
    "image_generation_call",
}


def make() -> OpenAIResponsesAdapter:
    return OpenAIResponsesAdapter()


# -- expected values, computed from the raw chunks -------------------------------


class Expected:
    """What a transcript says, read straight from its chunks."""

    def __init__(self, chunks: list[dict[str, Any]]) -> None:
        self.chunks = chunks
        final = [c for c in chunks if c["type"] in ("response.completed", "response.incomplete")]
        self.response: dict[str, Any] = final[-1]["response"] if final else {}
        self.output: list[dict[str, Any]] = self.response.get("output") or []
        # The items as output_item.done gave them (authoritative for encrypted content).
        self.done_items = {
            c["output_index"]: c["item"] for c in chunks if c["type"] == "response.output_item.done"
        }

    def items(self, itype: str) -> list[dict[str, Any]]:
        return [item for item in self.output if item["type"] == itype]

    @property
    def text(self) -> str:
        return "".join(
            part["text"]
            for item in self.items("message")
            for part in item["content"]
            if part["type"] == "output_text"
        )

    @property
    def text_deltas(self) -> str:
        return "".join(c["delta"] for c in self.chunks if c["type"] == "response.output_text.delta")

    @property
    def reasoning(self) -> str:
        return "".join(
            part["text"]
            for item in self.items("reasoning")
            for part in [*item.get("summary", []), *(item.get("content") or [])]
        )

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        return [
            {
                "type": "tool_call",
                "id": item["call_id"],
                "name": item["name"],
                "args": json.loads(item["arguments"] or "{}"),
            }
            for item in self.items("function_call")
        ]

    @property
    def usage(self) -> dict[str, Any]:
        usage: dict[str, Any] = self.response["usage"]
        return usage

    def done_item(self, item_id: str) -> dict[str, Any]:
        for item in self.done_items.values():
            if item["id"] == item_id:
                return {k: v for k, v in item.items() if k != "result"}
        raise KeyError(item_id)


def check_usage(message: AIMessage, raw: dict[str, Any]) -> None:
    usage = message.usage_metadata
    assert usage is not None
    assert usage["input_tokens"] == raw["input_tokens"]
    assert usage["output_tokens"] == raw["output_tokens"]
    assert usage["total_tokens"] == raw["total_tokens"]
    assert (
        usage["input_token_details"]["cache_read"] == raw["input_tokens_details"]["cached_tokens"]
    )
    assert (
        usage["output_token_details"]["reasoning"]
        == raw["output_tokens_details"]["reasoning_tokens"]
    )
    assert message.response_metadata["provider_usage"] == raw


def contents(message: AIMessage) -> list[dict[str, Any]]:
    assert isinstance(message.content, list)
    return [dict(b) for b in message.content]


def blocks_of(message: AIMessage, btype: str) -> list[dict[str, Any]]:
    return [b for b in contents(message) if b["type"] == btype]


# -- every transcript ------------------------------------------------------------


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.name for p in TRANSCRIPTS])
def test_transcript_replays_and_matches_its_raw_chunks(path: Path) -> None:
    result = replay_three_ways(make, path)
    for event in result.events:
        validate_event(event)
    exp = Expected(raw_chunks(path))
    if path.name == ERROR_TRANSCRIPT:
        error = next(c for c in exp.chunks if c["type"] == "error")
        assert isinstance(result.error, RateLimitError)
        assert result.error.code == error["error"]["code"] == "insufficient_quota"
        assert result.error.message == error["error"]["message"]
        assert result.error.body == error
        # Raised at the 'error' event; what came before it stands.
        created = exp.chunks[0]["response"]
        assert [e["event"] for e in result.events] == ["message-start"]
        assert result.events[0]["id"] == created["id"]
        assert result.partial.id == created["id"]
        assert result.partial.content == ""
        return
    message = result.ok()
    assert message.id == exp.response["id"]
    assert message.text == exp.text
    if exp.text_deltas:
        assert message.text == exp.text_deltas
    assert message.reasoning == exp.reasoning
    assert message.tool_calls == exp.tool_calls
    assert message.invalid_tool_calls == []
    check_usage(message, exp.usage)
    meta = message.response_metadata
    assert meta["model_name"] == exp.response["model"]
    assert meta["model_provider"] == "openai"
    assert meta["status"] == exp.response["status"] == "completed"
    assert meta["finish_reason"] == ("tool_calls" if exp.tool_calls else "stop")
    assert meta["id"] == exp.response["id"]
    if exp.response.get("service_tier") is not None:
        assert meta["service_tier"] == exp.response["service_tier"]

    # Every output item is accounted for, in order.
    assert isinstance(message.content, list)
    ids_in_order: list[Any] = []
    for block in contents(message):
        extras = block.get("extras") or {}
        item_id = extras.get("item_id") or block.get("id")
        if block["type"] == "server_tool_result" or (ids_in_order and ids_in_order[-1] == item_id):
            continue
        ids_in_order.append(item_id)
    assert ids_in_order == [item["id"] for item in exp.output]

    # Reasoning blocks keep what is needed to send them back.
    for oi, item in exp.done_items.items():
        if item["type"] != "reasoning":
            continue
        mine = [b for b in blocks_of(message, "reasoning") if b["extras"]["id"] == item["id"]]
        assert mine, item["id"]
        assert mine[0]["id"] == item["id"]
        assert mine[0]["extras"].get("encrypted_content") == item.get("encrypted_content"), oi
        summary = [b for b in mine if "summary_index" in b["extras"]]
        assert [b["reasoning"] for b in summary] == [p["text"] for p in item.get("summary", [])]

    # Server-side tools: a call per item, the raw item (as output_item.done gave
    # it, minus nulls and an image's base64) kept for the round trip.
    server_items = [item for item in exp.output if item["type"] in SERVER_ITEMS]
    calls = blocks_of(message, "server_tool_call")
    assert [c["id"] for c in calls] == [item["id"] for item in server_items]
    for call in calls:
        assert call["extras"]["item"] == exp.done_item(call["id"])
    results = blocks_of(message, "server_tool_result")
    for result_block in results:
        assert result_block["status"] == "success"


def _replay_fixture(name: str) -> tuple[Replay, Expected]:
    path = next(p for p in TRANSCRIPTS if p.name == name)
    return replay_three_ways(make, path), Expected(raw_chunks(path))


def _deltas(events: list[dict[str, Any]], dtype: str) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for event in events:
        if event["event"] == "content-block-delta" and event["delta"]["type"] == dtype:
            out.setdefault(event["index"], []).append(event["delta"])
    return out


# -- transcript specifics --------------------------------------------------------


def test_function_call_arguments_stream_as_tool_call_chunks() -> None:
    result, exp = _replay_fixture("function-call.sse")
    fragments = [c["delta"] for c in exp.chunks if c["type"].endswith("arguments.delta")]
    deltas = _deltas(result.events, "tool-call-delta")
    assert [d["args"] for d in deltas[0]] == fragments
    start = next(e for e in result.events if e["event"] == "content-block-start")
    item = exp.items("function_call")[0]
    assert start["content"] == {
        "type": "tool_call_chunk",
        "id": item["call_id"],
        "name": item["name"],
        "index": 0,
        "args": "",
        "extras": {"item_id": item["id"]},
    }
    [call] = blocks_of(result.ok(), "tool_call")
    assert call["extras"] == {"item_id": item["id"]}


def test_lmstudio_arguments_given_only_at_done_are_pushed_once() -> None:
    result, exp = _replay_fixture("lmstudio-glm-reasoning-text-function-call.jsonl")
    assert not [c for c in exp.chunks if c["type"].endswith("arguments.delta")]
    [item] = exp.items("function_call")
    call_index = next(
        e["index"]
        for e in result.events
        if e["event"] == "content-block-start" and e["content"]["type"] == "tool_call_chunk"
    )
    assert [d["args"] for d in _deltas(result.events, "tool-call-delta")[call_index]] == [
        item["arguments"]
    ]
    message = result.ok()
    # reasoning_text content parts are reasoning blocks that remember their part.
    [reasoning] = blocks_of(message, "reasoning")
    assert reasoning["extras"] == {"id": exp.items("reasoning")[0]["id"], "content_index": 0}
    assert message.response_metadata["logprobs"] == next(
        c["logprobs"] for c in exp.chunks if c["type"] == "response.output_text.done"
    )


def test_encrypted_reasoning_without_summary_is_an_empty_block_with_extras() -> None:
    result, exp = _replay_fixture("reasoning-item-then-function-call.sse")
    added = next(c for c in exp.chunks if c["type"] == "response.output_item.added")["item"]
    done = exp.done_items[0]
    assert added["encrypted_content"] != done["encrypted_content"]
    [block] = blocks_of(result.ok(), "reasoning")
    assert block["reasoning"] == ""
    # The complete encrypted content is the one output_item.done gave.
    assert block["extras"] == {"id": done["id"], "encrypted_content": done["encrypted_content"]}


def test_code_interpreter_code_streams_as_json_arguments() -> None:
    result, exp = _replay_fixture("reasoning-summary-code-interpreter.sse")
    message = result.ok()
    calls = blocks_of(message, "server_tool_call")
    items = exp.items("code_interpreter_call")
    assert [c["args"] for c in calls] == [{"code": item["code"]} for item in items]
    assert {c["name"] for c in calls} == {"code_interpreter"}
    streamed = _deltas(result.events, "tool-call-delta")
    assert [json.loads("".join(d["args"] for d in ds)) for ds in streamed.values()] == [
        {"code": item["code"]} for item in items
    ]
    results = blocks_of(message, "server_tool_result")
    assert [r["tool_call_id"] for r in results] == [item["id"] for item in items]
    assert all("output" not in r for r in results)  # outputs were not requested
    [reasoning] = blocks_of(message, "reasoning")
    assert reasoning["extras"]["summary_index"] == 0


def test_file_citations_are_kept_as_non_standard_annotations() -> None:
    result, exp = _replay_fixture("file-search-file-citations.jsonl")
    [text] = blocks_of(result.ok(), "text")
    part = exp.items("message")[0]["content"][0]
    assert text["annotations"] == [
        {"type": "non_standard_annotation", "value": a} for a in part["annotations"]
    ]
    [call] = blocks_of(result.ok(), "server_tool_call")
    assert call["name"] == "file_search"
    assert call["args"] == {"queries": exp.items("file_search_call")[0]["queries"]}


def test_generated_image_is_an_image_block_and_partials_are_live_snapshots() -> None:
    result, exp = _replay_fixture("image-generation-partial-image.jsonl")
    [item] = exp.items("image_generation_call")
    [image] = blocks_of(result.ok(), "image")
    assert image["base64"] == item["result"]
    assert image["mime_type"] == "image/webp"
    assert image["id"] == item["id"]
    [call] = blocks_of(result.ok(), "server_tool_call")
    assert "result" not in call["extras"]["item"]  # not kept twice
    partials = [c for c in exp.chunks if c["type"].endswith("partial_image")]
    snapshots = [d for ds in _deltas(result.events, "block-delta").values() for d in ds]
    assert [s["fields"]["base64"] for s in snapshots] == [p["partial_image_b64"] for p in partials]


def test_mcp_items_are_server_tool_calls_with_results() -> None:
    result, exp = _replay_fixture("mcp-call-arguments-delta.jsonl")
    message = result.ok()
    listing, call = blocks_of(message, "server_tool_call")
    list_result, call_result = blocks_of(message, "server_tool_result")
    [list_item] = exp.items("mcp_list_tools")
    [call_item] = exp.items("mcp_call")
    assert listing["name"] == "mcp_list_tools"
    assert list_result["output"] == list_item["tools"]
    assert call["name"] == call_item["name"]
    assert call["args"] == json.loads(call_item["arguments"])
    assert call_result == {
        "type": "server_tool_result",
        "tool_call_id": call_item["id"],
        "status": "success",
        "output": call_item["output"],
        "index": call_result["index"],
    }


def test_queued_and_in_progress_add_nothing_after_the_start() -> None:
    result, exp = _replay_fixture("background-mode-queued.sse")
    starts = [e for e in result.events if e["event"] == "message-start"]
    assert len(starts) == 1
    assert starts[0]["metadata"] == {"provider": "openai", "model": exp.response["model"]}
    assert result.ok().response_metadata["background"] is True


def _has_none(value: Any) -> bool:
    if isinstance(value, dict):
        return any(v is None or _has_none(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_none(v) for v in value)
    return False


def test_sdk_model_dump_chunks_give_the_same_message() -> None:
    """``feed`` also takes ``event.model_dump()`` from the official SDK, where
    absent fields are present as None."""
    from openai._models import construct_type
    from openai.types.responses import ResponseStreamEvent

    def run(chunks: list[Any]) -> AIMessage:
        adapter, stream = make(), ChatModelStream()
        for chunk in chunks:
            for event in adapter.feed(chunk):
                stream.dispatch(event)
        assert adapter.end() == []
        return stream.output

    for path in TRANSCRIPTS:
        if path.name == ERROR_TRANSCRIPT:
            continue
        raw = raw_chunks(path)
        dumped = [
            cast("BaseModel", construct_type(type_=ResponseStreamEvent, value=c)).model_dump()
            for c in raw
        ]
        assert _has_none(dumped)
        plain, sdk = run(raw), run(dumped)
        assert sdk.text == plain.text
        assert sdk.reasoning == plain.reasoning
        assert sdk.tool_calls == plain.tool_calls
        assert sdk.usage_metadata == plain.usage_metadata
        assert [b["type"] for b in contents(sdk)] == [b["type"] for b in contents(plain)]


# -- synthetic streams -----------------------------------------------------------

USAGE = {
    "input_tokens": 10,
    "input_tokens_details": {"cached_tokens": 4},
    "output_tokens": 7,
    "output_tokens_details": {"reasoning_tokens": 2},
    "total_tokens": 17,
}


def created(rid: str = "resp_1", model: str = "gpt-test") -> dict[str, Any]:
    return {
        "type": "response.created",
        "response": {"id": rid, "model": model, "status": "in_progress", "output": []},
    }


def completed(
    output: list[dict[str, Any]] | None = None, kind: str = "completed", **fields: Any
) -> dict[str, Any]:
    response = {
        "id": "resp_1",
        "model": "gpt-test",
        "status": kind,
        "output": output or [],
        "usage": USAGE,
        **fields,
    }
    return {"type": f"response.{kind}", "response": response}


def message_item(mid: str, *parts: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "message",
        "id": mid,
        "role": "assistant",
        "status": "completed",
        "content": list(parts),
    }


def text_message(
    oi: int, mid: str, pieces: list[str], annotations: list[Any] | None = None
) -> list[dict[str, Any]]:
    text = "".join(pieces)
    part = {"type": "output_text", "text": text, "annotations": annotations or []}
    chunks: list[dict[str, Any]] = [
        {"type": "response.output_item.added", "output_index": oi, "item": message_item(mid)},
        {
            "type": "response.content_part.added",
            "output_index": oi,
            "content_index": 0,
            "item_id": mid,
            "part": {"type": "output_text", "text": "", "annotations": []},
        },
    ]
    chunks += [
        {"type": "response.output_text.delta", "output_index": oi, "content_index": 0, "delta": p}
        for p in pieces
    ]
    chunks += [
        {"type": "response.output_text.done", "output_index": oi, "content_index": 0, "text": text},
        {
            "type": "response.content_part.done",
            "output_index": oi,
            "content_index": 0,
            "part": part,
        },
        {"type": "response.output_item.done", "output_index": oi, "item": message_item(mid, part)},
    ]
    return chunks


def function_call(oi: int, call_id: str, name: str, fragments: list[str]) -> list[dict[str, Any]]:
    item = {
        "type": "function_call",
        "id": f"fc_{oi}",
        "call_id": call_id,
        "name": name,
        "arguments": "",
    }
    args = "".join(fragments)
    return [
        {"type": "response.output_item.added", "output_index": oi, "item": item},
        *[
            {"type": "response.function_call_arguments.delta", "output_index": oi, "delta": f}
            for f in fragments
        ],
        {"type": "response.function_call_arguments.done", "output_index": oi, "arguments": args},
        {
            "type": "response.output_item.done",
            "output_index": oi,
            "item": {**item, "arguments": args},
        },
    ]


def sse(chunks: list[Any]) -> bytes:
    return "".join(
        f"event: {c.get('type', 'x')}\ndata: {json.dumps(c)}\n\n" for c in chunks
    ).encode()


def replay(chunks: list[Any]) -> Replay:
    result = replay_pieces(make, [sse(chunks)], "sse")
    per_event = replay_pieces(make, [sse([c]) for c in chunks], "sse")
    assert per_event.events == result.events
    assert repr(per_event.error) == repr(result.error)
    for event in result.events:
        validate_event(event)
    return result


def test_plain_text_delta_costs_one_event() -> None:
    adapter = make()
    adapter.feed(created())
    events = adapter.feed(
        {"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "a"}
    )
    assert [e["event"] for e in events] == ["content-block-start", "content-block-delta"]
    events = adapter.feed(
        {"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "b"}
    )
    assert events == [
        {"event": "content-block-delta", "index": 0, "delta": {"type": "text-delta", "text": "b"}}
    ]


def test_incomplete_response_finishes_with_its_reason() -> None:
    chunks = [
        created(),
        *text_message(0, "msg_1", ["Once upon", " a time"])[:4],
        completed(
            [
                message_item(
                    "msg_1", {"type": "output_text", "text": "Once upon a time", "annotations": []}
                )
            ],
            kind="incomplete",
            incomplete_details={"reason": "max_output_tokens"},
        ),
    ]
    message = replay(chunks).ok()
    assert message.text == "Once upon a time"
    assert message.response_metadata["finish_reason"] == "max_output_tokens"
    assert message.response_metadata["status"] == "incomplete"
    assert message.response_metadata["incomplete_details"] == {"reason": "max_output_tokens"}
    assert message.usage_metadata == {
        "input_tokens": 10,
        "output_tokens": 7,
        "total_tokens": 17,
        "input_token_details": {"cache_read": 4},
        "output_token_details": {"reasoning": 2},
    }


def test_parallel_function_calls_are_told_apart() -> None:
    first = function_call(0, "call_a", "get_weather", ['{"city":', '"Paris"}'])
    second = function_call(1, "call_b", "get_time", ['{"tz":', '"UTC"}'])
    # Interleave the two calls' argument deltas.
    chunks = [created(), first[0], second[0], first[1], second[1], first[2], second[2]]
    chunks += [*first[3:], *second[3:], completed()]
    stream = ChatModelStream()
    result = replay(chunks)
    for event in result.events:
        stream.dispatch(event)
    message = result.ok()
    assert message.tool_calls == [
        {"type": "tool_call", "id": "call_a", "name": "get_weather", "args": {"city": "Paris"}},
        {"type": "tool_call", "id": "call_b", "name": "get_time", "args": {"tz": "UTC"}},
    ]
    assert message.response_metadata["finish_reason"] == "tool_calls"
    chunks_seen = list(stream.tool_calls)
    assert [(c["index"], c["id"], c["args"]) for c in chunks_seen] == [
        (0, "call_a", '{"city":'),
        (1, "call_b", '{"tz":'),
        (0, "call_a", '"Paris"}'),
        (1, "call_b", '"UTC"}'),
    ]


def test_arguments_done_that_differ_from_the_deltas_win() -> None:
    call = function_call(0, "call_a", "f", ['{"a":', "1}"])
    call[3]["arguments"] = '{"a": 2}'
    call[4]["item"]["arguments"] = '{"a": 2}'
    message = replay([created(), *call, completed()]).ok()
    assert message.tool_calls[0]["args"] == {"a": 2}


def test_arguments_done_that_extend_the_deltas_push_the_tail() -> None:
    call = function_call(0, "call_a", "f", ['{"a":'])
    call[2]["arguments"] = '{"a":1}'
    call[3]["item"]["arguments"] = '{"a":1}'
    result = replay([created(), *call, completed()])
    assert [d["args"] for d in _deltas(result.events, "tool-call-delta")[0]] == ['{"a":', "1}"]
    assert result.ok().tool_calls[0]["args"] == {"a": 1}


def test_refusal_is_a_non_standard_block_and_an_additional_kwarg() -> None:
    base = {"output_index": 0, "content_index": 0, "item_id": "msg_1"}
    part = {"type": "refusal", "refusal": "I can't help with that."}
    chunks = [
        created(),
        {"type": "response.output_item.added", "output_index": 0, "item": message_item("msg_1")},
        {"type": "response.content_part.added", **base, "part": {"type": "refusal", "refusal": ""}},
        {"type": "response.refusal.delta", **base, "delta": "I can't"},
        {"type": "response.refusal.delta", **base, "delta": " help with that."},
        {"type": "response.refusal.done", **base, "refusal": part["refusal"]},
        {"type": "response.content_part.done", **base, "part": part},
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": message_item("msg_1", part),
        },
        completed([message_item("msg_1", part)]),
    ]
    message = replay(chunks).ok()
    assert message.content == [{"type": "non_standard", "value": part, "id": "msg_1", "index": 0}]
    assert message.additional_kwargs == {"refusal": "I can't help with that."}
    assert message.text == ""
    assert message.response_metadata["finish_reason"] == "stop"


def test_url_citations_become_citations() -> None:
    citation = {
        "type": "url_citation",
        "url": "https://example.com/a",
        "title": "Example",
        "start_index": 0,
        "end_index": 5,
    }
    chunks = text_message(0, "msg_1", ["Hello", " world"], annotations=[citation])
    chunks.insert(
        4,
        {
            "type": "response.output_text.annotation.added",
            "output_index": 0,
            "content_index": 0,
            "annotation_index": 0,
            "annotation": citation,
        },
    )
    message = replay([created(), *chunks, completed()]).ok()
    [text] = blocks_of(message, "text")
    expected = [
        {
            "type": "citation",
            "url": "https://example.com/a",
            "title": "Example",
            "start_index": 0,
            "end_index": 5,
        }
    ]
    assert text["annotations"] == expected
    # Without a final part (annotations only as events), they are still kept.
    without_final = [c for c in chunks if c["type"] not in ("response.content_part.done",)]
    without_final[-1] = {**without_final[-1], "item": message_item("msg_1")}
    message = replay([created(), *without_final, completed()]).ok()
    assert blocks_of(message, "text")[0]["annotations"] == expected


def test_unknown_item_types_are_non_standard_and_unknown_events_ignored() -> None:
    item = {"type": "computer_call", "id": "cu_1", "call_id": "c1", "action": {"type": "click"}}
    chunks = [
        created(),
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.computer_call.thinking_hard", "output_index": 0, "bits": [1]},
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.brand_new_event"},
        completed(),
    ]
    message = replay(chunks).ok()
    assert message.content == [{"type": "non_standard", "value": item, "index": 0}]


def test_mcp_approval_request_is_non_standard() -> None:
    item = {
        "type": "mcp_approval_request",
        "id": "mcpr_1",
        "name": "delete",
        "arguments": "{}",
        "server_label": "s",
    }
    chunks = [
        created(),
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        completed([item]),
    ]
    assert replay(chunks).ok().content == [{"type": "non_standard", "value": item, "index": 0}]


def test_reasoning_summary_parts_are_separate_blocks_and_extras_go_first() -> None:
    rs = {"type": "reasoning", "id": "rs_1", "summary": []}
    parts = ["**Plan**\n\nFirst.", "**Check**\n\nSecond."]
    chunks: list[dict[str, Any]] = [
        created(),
        {"type": "response.output_item.added", "output_index": 0, "item": rs},
    ]
    for si, text in enumerate(parts):
        base = {"output_index": 0, "summary_index": si, "item_id": "rs_1"}
        chunks += [
            {
                "type": "response.reasoning_summary_part.added",
                **base,
                "part": {"type": "summary_text", "text": ""},
            },
            {"type": "response.reasoning_summary_text.delta", **base, "delta": text[:5]},
            {"type": "response.reasoning_summary_text.delta", **base, "delta": text[5:]},
            {"type": "response.reasoning_summary_text.done", **base, "text": text},
            {
                "type": "response.reasoning_summary_part.done",
                **base,
                "part": {"type": "summary_text", "text": text},
            },
        ]
    done = {
        **rs,
        "encrypted_content": "gAAA-secret",
        "summary": [{"type": "summary_text", "text": t} for t in parts],
    }
    chunks += [
        {"type": "response.output_item.done", "output_index": 0, "item": done},
        *text_message(1, "msg_1", ["Answer."]),
        completed(),
    ]
    message = replay(chunks).ok()
    first, second = blocks_of(message, "reasoning")
    assert first["reasoning"] == parts[0]
    assert second["reasoning"] == parts[1]
    assert first["extras"] == {"id": "rs_1", "encrypted_content": "gAAA-secret", "summary_index": 0}
    assert second["extras"] == {"id": "rs_1", "summary_index": 1}
    assert message.reasoning == "".join(parts)
    assert message.text == "Answer."


def test_custom_tool_call_input_becomes_json_args() -> None:
    item = {
        "type": "custom_tool_call",
        "id": "ctc_1",
        "call_id": "call_c",
        "name": "sql",
        "input": "",
    }
    query = 'SELECT "a"\nFROM t'
    chunks = [
        created(),
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.custom_tool_call_input.delta", "output_index": 0, "delta": query[:9]},
        {"type": "response.custom_tool_call_input.delta", "output_index": 0, "delta": query[9:]},
        {"type": "response.custom_tool_call_input.done", "output_index": 0, "input": query},
        {"type": "response.output_item.done", "output_index": 0, "item": {**item, "input": query}},
        completed(),
    ]
    result = replay(chunks)
    message = result.ok()
    assert message.tool_calls == [
        {"type": "tool_call", "id": "call_c", "name": "sql", "args": {"input": query}}
    ]
    [block] = blocks_of(message, "tool_call")
    assert block["extras"] == {"item_id": "ctc_1", "item_type": "custom_tool_call"}
    streamed = "".join(d["args"] for d in _deltas(result.events, "tool-call-delta")[0])
    assert json.loads(streamed) == {"input": query}
    assert message.response_metadata["finish_reason"] == "tool_calls"


def test_web_search_call_has_its_query_and_sources() -> None:
    action = {
        "type": "search",
        "query": "weather paris",
        "sources": [{"type": "url", "url": "https://meteo.example"}],
    }
    item = {"type": "web_search_call", "id": "ws_1", "status": "in_progress"}
    chunks = [
        created(),
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.web_search_call.in_progress", "output_index": 0, "item_id": "ws_1"},
        {"type": "response.web_search_call.searching", "output_index": 0, "item_id": "ws_1"},
        {"type": "response.web_search_call.completed", "output_index": 0, "item_id": "ws_1"},
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {**item, "status": "completed", "action": action},
        },
        *text_message(1, "msg_1", ["Sunny."]),
        completed(),
    ]
    message = replay(chunks).ok()
    call, result, _text = contents(message)
    assert call["type"] == "server_tool_call"
    assert call["name"] == "web_search"
    assert call["args"] == {"type": "search", "query": "weather paris"}
    assert result == {
        "type": "server_tool_result",
        "tool_call_id": "ws_1",
        "status": "success",
        "output": {"sources": action["sources"]},
        "index": 1,
    }


def test_failed_server_tool_result_is_an_error() -> None:
    item = {
        "type": "mcp_call",
        "id": "mcp_1",
        "name": "boom",
        "arguments": "{}",
        "server_label": "s",
    }
    done = {**item, "status": "failed", "error": {"type": "tool_error", "message": "it broke"}}
    chunks = [
        created(),
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.output_item.done", "output_index": 0, "item": done},
        completed(),
    ]
    _call, result = contents(replay(chunks).ok())
    assert result["status"] == "error"
    assert result["output"] == done["error"]


def test_image_without_a_final_result_keeps_the_last_partial() -> None:
    item = {"type": "image_generation_call", "id": "ig_1", "status": "in_progress"}
    partial = {
        "type": "response.image_generation_call.partial_image",
        "output_index": 0,
        "item_id": "ig_1",
        "output_format": "png",
    }
    chunks = [
        created(),
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {**partial, "partial_image_index": 0, "partial_image_b64": "AAAA"},
        {**partial, "partial_image_index": 1, "partial_image_b64": "BBBB"},
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {**item, "status": "failed"},
        },
        completed(),
    ]
    message = replay(chunks).ok()
    [image] = blocks_of(message, "image")
    assert image["base64"] == "BBBB"
    assert image["mime_type"] == "image/png"
    assert image["extras"] == {"partial": True, "partial_image_index": 1}
    [result] = blocks_of(message, "server_tool_result")
    assert result["status"] == "error"


def test_items_only_in_the_completed_response_are_not_lost() -> None:
    """A server that skips the item events: the final output list is used."""
    part = {"type": "output_text", "text": "Hi there", "annotations": []}
    call = {
        "type": "function_call",
        "id": "fc_1",
        "call_id": "c1",
        "name": "f",
        "arguments": '{"x":1}',
    }
    message = replay([created(), completed([message_item("msg_1", part), call])]).ok()
    assert message.text == "Hi there"
    assert message.tool_calls == [{"type": "tool_call", "id": "c1", "name": "f", "args": {"x": 1}}]


def test_late_done_events_after_the_close_add_nothing() -> None:
    chunks = text_message(0, "msg_1", ["Hi"])
    text_done = chunks[3]
    assert text_done["type"] == "response.output_text.done"
    annotation = {
        "type": "response.output_text.annotation.added",
        "output_index": 0,
        "content_index": 0,
        "annotation": {"type": "file_path", "file_id": "f", "index": 0},
    }
    message = replay([created(), *chunks, text_done, annotation, completed()]).ok()
    assert message.content == [{"type": "text", "text": "Hi", "id": "msg_1", "index": 0}]


def test_text_deltas_without_content_part_added_open_the_block() -> None:
    chunks = [
        created(),
        {"type": "response.output_item.added", "output_index": 0, "item": message_item("msg_1")},
        {
            "type": "response.output_text.delta",
            "output_index": 0,
            "content_index": 0,
            "delta": "Hi",
        },
        {"type": "response.output_text.delta", "output_index": 0, "delta": "!"},
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": message_item("msg_1", {"type": "output_text", "text": "Hi!"}),
        },
        completed(),
    ]
    message = replay(chunks).ok()
    assert message.content == [{"type": "text", "text": "Hi!", "id": "msg_1", "index": 0}]


def test_cut_stream_raises_incomplete_and_keeps_the_partial_message() -> None:
    chunks = [created(), *text_message(0, "msg_1", ["Hello", " wor"])[:4]]
    result = replay(chunks)
    assert isinstance(result.error, IncompleteStreamError)
    assert "response.completed" in str(result.error)
    assert result.partial.text == "Hello wor"
    assert result.partial.id == "resp_1"
    # A cut in the middle of a function call keeps the partial arguments.
    call = function_call(0, "call_a", "f", ['{"a":', "1"])[:3]
    result = replay([created(), *call])
    assert isinstance(result.error, IncompleteStreamError)
    assert result.partial.content == [
        {
            "type": "tool_call_chunk",
            "id": "call_a",
            "name": "f",
            "index": 0,
            "extras": {"item_id": "fc_0"},
            "args": '{"a":1',
        }
    ]


@pytest.mark.parametrize(
    ("chunk", "cls", "code"),
    [
        (
            {"type": "error", "code": "rate_limit_exceeded", "message": "Slow down", "param": None},
            RateLimitError,
            "rate_limit_exceeded",
        ),
        (
            {"type": "error", "error": {"type": "server_is_overloaded", "message": "Busy"}},
            ProviderOverloadedError,
            "server_is_overloaded",
        ),
        (
            {
                "type": "response.failed",
                "response": {
                    "id": "resp_1",
                    "status": "failed",
                    "error": {"code": "server_error", "message": "Something went wrong"},
                },
            },
            ProviderError,
            "server_error",
        ),
    ],
)
def test_errors_in_the_stream_are_typed_and_keep_the_partial(
    chunk: dict[str, Any], cls: type[ProviderError], code: str
) -> None:
    result = replay([created(), *text_message(0, "msg_1", ["Hel", "lo"])[:4], chunk])
    assert type(result.error) is cls
    assert isinstance(result.error, ProviderError)
    assert result.error.code == code
    assert result.error.body == chunk
    assert result.partial.text == "Hello"


def test_failed_response_without_error_details_still_raises() -> None:
    adapter = make()
    with pytest.raises(ProviderError, match="failed"):
        adapter.feed({"type": "response.failed", "response": {"status": "failed", "error": None}})
    # The adapter is done: nothing more, and no incomplete-stream error on top.
    assert adapter.feed(completed()) == []
    assert adapter.end() == []


def test_finish_once_feed_and_end_after_it_are_no_ops() -> None:
    adapter = make()
    events = [
        e for c in [created(), *text_message(0, "m", ["x"]), completed()] for e in adapter.feed(c)
    ]
    assert [e["event"] for e in events].count("message-finish") == 1
    assert adapter.finished
    assert adapter.feed(completed()) == []
    assert adapter.end() == []
    assert adapter.end() == []


def test_end_without_completion_raises_once_and_never_finishes() -> None:
    adapter = make()
    adapter.feed(created())
    with pytest.raises(IncompleteStreamError):
        adapter.end()
    assert adapter.end() == []
    assert adapter.feed(completed()) == []
    assert not adapter.finished


@pytest.mark.parametrize(
    ("chunk", "field"),
    [
        (["not", "an", "object"], None),
        ({"delta": "no type"}, "type"),
        ({"type": 7}, "type"),
        ({"type": "response.output_text.delta", "output_index": 0, "delta": 5}, "delta"),
        ({"type": "response.output_text.delta", "output_index": "0", "delta": "x"}, "output_index"),
        ({"type": "response.output_text.delta", "delta": "x"}, "output_index"),
        ({"type": "response.output_item.added", "output_index": 0, "item": "msg"}, "item"),
        ({"type": "response.output_item.added", "output_index": 0}, "item"),
        (
            {"type": "response.output_item.done", "output_index": 0, "item": {"id": "x"}},
            "item.type",
        ),
        ({"type": "response.created", "response": []}, "response"),
        (
            {"type": "response.function_call_arguments.delta", "output_index": 0, "delta": {}},
            "delta",
        ),
    ],
)
def test_malformed_chunks_raise_protocol_errors(chunk: Any, field: str | None) -> None:
    adapter = make()
    adapter.feed(created())
    with pytest.raises(ProtocolError, match="OpenAI Responses") as info:
        adapter.feed(chunk)
    assert info.value.field == field


def test_provider_name_goes_to_the_metadata() -> None:
    adapter = OpenAIResponsesAdapter(provider="lmstudio")
    [start] = adapter.feed(created())
    assert start["metadata"]["provider"] == "lmstudio"


def test_items_left_open_at_completion_are_closed_with_what_arrived() -> None:
    """No item or part done events at all: refusal, text and call still land."""
    base = {"output_index": 0, "content_index": 0}
    chunks = [
        created(),
        {"type": "response.output_item.added", "output_index": 0, "item": message_item("msg_1")},
        {"type": "response.refusal.delta", **base, "delta": "No"},
        {"type": "response.refusal.delta", **base, "delta": "pe."},
        {"type": "response.output_text.delta", "output_index": 0, "content_index": 1, "delta": "x"},
        *function_call(1, "call_a", "f", ['{"a":', "1}"])[:3],
        completed(),
    ]
    message = replay(chunks).ok()
    assert contents(message)[0]["value"] == {"type": "refusal", "refusal": "Nope."}
    assert message.additional_kwargs == {"refusal": "Nope."}
    assert message.text == "x"
    assert message.tool_calls[0]["args"] == {"a": 1}


def test_sdk_style_nulls_and_item_ids_instead_of_indexes() -> None:
    """A None content_index means 0; a missing output_index is found by item id."""
    chunks = [
        created(),
        {"type": "response.output_item.added", "output_index": 0, "item": message_item("msg_1")},
        {
            "type": "response.output_text.delta",
            "output_index": 0,
            "content_index": None,
            "delta": "a",
        },
        {
            "type": "response.output_text.delta",
            "item_id": "msg_1",
            "content_index": 0,
            "delta": "b",
        },
        completed(),
    ]
    assert replay(chunks).ok().text == "ab"
    adapter = make()
    assert adapter.feed(MappingProxyType(created()))[0]["id"] == "resp_1"


def test_unknown_message_parts_and_odd_server_items_are_kept() -> None:
    audio = {"type": "output_audio", "data": "UklG", "transcript": "hi"}
    mcp = {
        "type": "mcp_call",
        "id": "mcp_1",
        "name": "t",
        "arguments": "{not json",
        "server_label": "s",
    }
    image = {"type": "image_generation_call", "id": "ig_1", "status": "completed", "result": None}
    chunks = [
        created(),
        completed([message_item("msg_1", audio), {**mcp, "status": "completed"}, image]),
    ]
    message = replay(chunks).ok()
    blocks = contents(message)
    assert blocks[0] == {"type": "non_standard", "value": audio, "index": 0}
    assert blocks[1]["name"] == "t"
    assert blocks[1]["args"] == {}
    assert blocks[1]["extras"]["item"]["arguments"] == "{not json"
    assert [b["type"] for b in blocks[2:]] == [
        "server_tool_result",
        "server_tool_call",
        "server_tool_result",
    ]
    assert not blocks_of(message, "image")


def test_error_event_without_code_or_message() -> None:
    with pytest.raises(ProviderError, match="reported an error") as info:
        make().feed({"type": "error"})
    assert info.value.code is None
