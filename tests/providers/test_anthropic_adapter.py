"""AnthropicAdapter: every recorded transcript replayed three ways, checked
against values computed from the raw chunks, plus synthetic streams for what
the recordings lack (errors, document citations, unknown blocks, cut streams,
malformed chunks)."""

from __future__ import annotations

import functools
import json
import re
from types import MappingProxyType
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
from streamblocks.providers.anthropic._adapter import AnthropicAdapter
from tests.providers.replay import (
    FIXTURES,
    Replay,
    raw_chunks,
    replay_pieces,
    replay_three_ways,
    transcripts,
)

if TYPE_CHECKING:
    from pathlib import Path

    from streamblocks import AIMessage

DIR = "anthropic"
TRANSCRIPTS = transcripts(DIR)


def make() -> AnthropicAdapter:
    return AnthropicAdapter()


# -- expected values, computed from the raw chunks -------------------------------


class Expected:
    """What a transcript says, read straight from its chunks."""

    def __init__(self, chunks: list[dict[str, Any]]) -> None:
        self.blocks: dict[int, dict[str, Any]] = {}  # index -> raw start block
        self.order: list[int] = []
        self.deltas: dict[int, list[dict[str, Any]]] = {}
        self.stopped: set[int] = set()
        self.usage: dict[str, Any] = {}
        self.stop_reason: str | None = None
        self.delta_fields: dict[str, Any] = {}
        self.start: dict[str, Any] = {}
        for chunk in chunks:
            ctype = chunk["type"]
            if ctype == "message_start":
                self.start = chunk["message"]
                self.usage.update(chunk["message"]["usage"])
            elif ctype == "content_block_start":
                self.blocks[chunk["index"]] = chunk["content_block"]
                self.order.append(chunk["index"])
                self.deltas[chunk["index"]] = []
            elif ctype == "content_block_delta":
                self.deltas[chunk["index"]].append(chunk["delta"])
            elif ctype == "content_block_stop":
                self.stopped.add(chunk["index"])
            elif ctype == "message_delta":
                self.delta_fields.update(chunk["delta"])
                self.stop_reason = chunk["delta"].get("stop_reason") or self.stop_reason
                self.usage.update(
                    {k: v for k, v in chunk.get("usage", {}).items() if v is not None}
                )

    def of_type(self, *types: str) -> list[int]:
        return [i for i in self.order if self.blocks[i]["type"] in types]

    def joined(self, index: int, dtype: str, field: str) -> str:
        return "".join(d[field] for d in self.deltas[index] if d["type"] == dtype)

    @property
    def text(self) -> str:
        return "".join(self.joined(i, "text_delta", "text") for i in self.of_type("text"))

    @property
    def reasoning(self) -> str:
        return "".join(
            self.joined(i, "thinking_delta", "thinking") for i in self.of_type("thinking")
        )

    def args_json(self, index: int) -> str:
        partial = self.joined(index, "input_json_delta", "partial_json")
        return partial or json.dumps(self.blocks[index].get("input") or {})


@pytest.fixture(params=TRANSCRIPTS, ids=lambda p: p.name)
def transcript(request: pytest.FixtureRequest) -> Path:
    path: Path = request.param
    return path


@functools.cache
def _replayed(path: Path) -> tuple[Replay, Expected]:
    # Replaying three ways (one of them byte by byte) is the slow part: once per file.
    return replay_three_ways(make, path), Expected(raw_chunks(path))


@pytest.fixture
def replayed(transcript: Path) -> tuple[Replay, Expected]:
    return _replayed(transcript)


def test_every_transcript_replays(replayed: tuple[Replay, Expected]) -> None:
    result, exp = replayed
    message = result.ok()
    assert message.text == exp.text
    assert message.reasoning == exp.reasoning
    assert message.id == exp.start["id"]
    assert message.response_metadata["model_name"] == exp.start["model"]
    assert message.response_metadata["model_provider"] == "anthropic"
    assert message.response_metadata["finish_reason"] == exp.stop_reason


def test_usage_matches_the_raw_usage(replayed: tuple[Replay, Expected]) -> None:
    result, exp = replayed
    message = result.ok()
    raw = exp.usage
    cache_read = raw.get("cache_read_input_tokens")
    cache_creation = raw.get("cache_creation_input_tokens")
    # LangChain's convention: input_tokens counts cached tokens too.
    input_tokens = raw["input_tokens"] + (cache_read or 0) + (cache_creation or 0)
    usage = message.usage_metadata
    assert usage is not None
    assert usage["input_tokens"] == input_tokens
    assert usage["output_tokens"] == raw["output_tokens"]
    assert usage["total_tokens"] == input_tokens + raw["output_tokens"]
    if cache_read is not None:
        assert usage["input_token_details"]["cache_read"] == cache_read
        assert usage["input_token_details"]["cache_creation"] == cache_creation
    assert message.response_metadata["provider_usage"] == raw


def test_finish_metadata_keeps_the_provider_scalars(replayed: tuple[Replay, Expected]) -> None:
    result, exp = replayed
    meta = result.ok().response_metadata
    for key in ("stop_sequence", "stop_details", "container"):
        if exp.delta_fields.get(key) is not None:
            assert meta[key] == exp.delta_fields[key]
        else:
            assert key not in meta


def test_client_tool_calls(replayed: tuple[Replay, Expected]) -> None:
    result, exp = replayed
    message = result.ok()
    valid, invalid = [], []
    for i in exp.of_type("tool_use"):
        block = exp.blocks[i]
        raw = exp.args_json(i)
        try:
            valid.append({"id": block["id"], "name": block["name"], "args": json.loads(raw)})
        except ValueError:
            invalid.append({"id": block["id"], "name": block["name"], "args": raw})
    assert [{k: c[k] for k in ("id", "name", "args")} for c in message.tool_calls] == valid
    assert [{k: c[k] for k in ("id", "name", "args")} for c in message.invalid_tool_calls] == (
        invalid
    )


def _blocks(result: Replay | AIMessage) -> list[dict[str, Any]]:
    """The message's content blocks as plain dicts ([] for "", as in a refusal)."""
    content = (result.ok() if isinstance(result, Replay) else result).content
    if content == "":
        return []
    assert isinstance(content, list)
    return [dict(b) for b in content]


def test_blocks_map_one_to_one(replayed: tuple[Replay, Expected]) -> None:
    result, exp = replayed
    content = _blocks(result)
    names = {
        "text": "text",
        "thinking": "reasoning",
        "redacted_thinking": "reasoning",
        "server_tool_use": "server_tool_call",
        "mcp_tool_use": "server_tool_call",
        "compaction": "non_standard",
    }
    expected_types = []
    for i in exp.order:
        btype = exp.blocks[i]["type"]
        if btype == "tool_use":
            valid = True
            try:
                json.loads(exp.args_json(i))
            except ValueError:
                valid = False
            expected_types.append("tool_call" if valid else "invalid_tool_call")
        elif btype.endswith("_tool_result"):
            expected_types.append("server_tool_result")
        else:
            expected_types.append(names[btype])
    assert [b["type"] for b in content] == expected_types


def test_reasoning_signatures_and_redacted_data(replayed: tuple[Replay, Expected]) -> None:
    result, exp = replayed
    content = _blocks(result)
    reasoning = [b for b in content if b["type"] == "reasoning"]
    expected = []
    for i in exp.of_type("thinking", "redacted_thinking"):
        block = exp.blocks[i]
        if block["type"] == "redacted_thinking":
            expected.append({"redacted_data": block["data"]})
        else:
            signatures = [d["signature"] for d in exp.deltas[i] if d["type"] == "signature_delta"]
            expected.append({"signature": signatures[-1]})
    assert [b.get("extras") for b in reasoning] == expected
    for block in reasoning:
        if "redacted_data" in block["extras"]:
            assert not block.get("reasoning")


def test_server_tool_calls_and_results(replayed: tuple[Replay, Expected]) -> None:
    result, exp = replayed
    content = _blocks(result)
    calls = [b for b in content if b["type"] == "server_tool_call"]
    expected_calls = []
    for i in exp.of_type("server_tool_use", "mcp_tool_use"):
        block = exp.blocks[i]
        extras = {"block_type": block["type"]}
        if "server_name" in block:
            extras["server_name"] = block["server_name"]
        expected_calls.append(
            {
                "id": block["id"],
                "name": block["name"],
                "args": json.loads(exp.args_json(i)),
                "extras": extras,
            }
        )
    assert [{k: c[k] for k in ("id", "name", "args", "extras")} for c in calls] == expected_calls
    results = [b for b in content if b["type"] == "server_tool_result"]
    raw_results = [exp.blocks[i] for i in exp.order if exp.blocks[i]["type"].endswith("_result")]
    assert [r["tool_call_id"] for r in results] == [r["tool_use_id"] for r in raw_results]
    assert [r["output"] for r in results] == [r["content"] for r in raw_results]
    assert [r["extras"]["block_type"] for r in results] == [r["type"] for r in raw_results]
    for r, raw in zip(results, raw_results, strict=True):
        raw_content = raw["content"]
        failed = raw.get("is_error") is True or (
            isinstance(raw_content, dict) and raw_content["type"].endswith("_error")
        )
        assert r["status"] == ("error" if failed else "success")


def test_citations_become_annotations(replayed: tuple[Replay, Expected]) -> None:
    result, exp = replayed
    content = _blocks(result)
    by_index = {b["index"]: b for b in content if b["type"] == "text"}
    for i in exp.of_type("text"):
        citations = [d["citation"] for d in exp.deltas[i] if d["type"] == "citations_delta"]
        block = by_index[i]
        if not citations:
            assert "annotations" not in block
            continue
        assert [(a["url"], a["title"], a["cited_text"]) for a in block["annotations"]] == [
            (c["url"], c["title"], c["cited_text"]) for c in citations
        ]
        assert all(a["type"] == "citation" for a in block["annotations"])
        assert [a["extras"]["encrypted_index"] for a in block["annotations"]] == [
            c["encrypted_index"] for c in citations
        ]


def test_web_search_transcript_has_citations() -> None:
    # A spot check that the parametrized citation test above really saw citations.
    path = FIXTURES / DIR / "web-search-server-tool-citations.jsonl"
    message = _replayed(path)[0].ok()
    content = _blocks(message)
    annotations = [a for b in content for a in b.get("annotations", [])]
    assert len(annotations) == 14
    assert annotations[0]["url"].startswith("https://www.apple.com/newsroom/2025/09/")


def test_compaction_block_is_kept_raw() -> None:
    path = FIXTURES / DIR / "compaction-block.sse"
    exp = Expected(raw_chunks(path))
    message = _replayed(path)[0].ok()
    content = _blocks(message)
    block = content[0]
    assert block["type"] == "non_standard"
    assert block["value"] == {
        "type": "compaction",
        "content": exp.joined(0, "compaction_delta", "content"),
    }
    usage = message.response_metadata["provider_usage"]
    assert [it["type"] for it in usage["iterations"]] == ["compaction", "message"]
    assert message.response_metadata["context_management"] == {"applied_edits": []}


def test_gateway_input_tokens_in_message_delta_override_message_start() -> None:
    path = FIXTURES / DIR / "gateway-message-delta-input-tokens.jsonl"
    message = _replayed(path)[0].ok()
    assert message.usage_metadata == {"input_tokens": 61, "output_tokens": 2, "total_tokens": 63}


def test_truncated_tool_input_becomes_an_invalid_call_with_its_partial_args() -> None:
    path = FIXTURES / DIR / "max-tokens-truncated-tool-input.sse"
    exp = Expected(raw_chunks(path))
    assert 1 not in exp.stopped  # the recording really has no content_block_stop
    message = _replayed(path)[0].ok()
    assert message.tool_calls == []
    (call,) = message.invalid_tool_calls
    assert call["name"] == "make_file"
    assert call["args"] == exp.joined(1, "input_json_delta", "partial_json")
    assert "not valid JSON" in (call["error"] or "")
    assert message.response_metadata["finish_reason"] == "max_tokens"


def test_refusal_without_content() -> None:
    path = FIXTURES / DIR / "refusal-stop-details.sse"
    message = _replayed(path)[0].ok()
    assert message.content == ""
    assert message.response_metadata["stop_details"]["category"] == "reasoning_extraction"
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_token_details"] == {"reasoning": 0}


def test_padded_sse_replays() -> None:
    # The recording keeps Anthropic's padding inside data lines...
    path = FIXTURES / DIR / "thinking-signature-text.sse"
    padded = re.findall(rb"^data: .*\}[ ]+\}\s*$", path.read_bytes(), re.M)
    assert padded, "expected padded data lines in the recording"
    assert _replayed(path)[0].ok().text == Expected(raw_chunks(path)).text
    # ...and a synthetic stream padded everywhere replays the same as an unpadded one.
    chunks = _text_stream("Hello", " padded", " world")
    tight = replay_pieces(make, [_sse(chunks)], "sse").ok()
    loose = replay_pieces(make, [_sse(chunks, pad=" " * 17)], "sse").ok()
    assert loose.to_dict() == tight.to_dict()
    assert loose.text == "Hello padded world"


# -- the SDK's model_dump() shape ------------------------------------------------


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda p: p.name)
def test_sdk_model_dump_chunks_give_the_same_answer(path: Path) -> None:
    from anthropic._models import construct_type
    from anthropic.types.beta import BetaRawMessageStreamEvent
    from pydantic import BaseModel

    from streamblocks import ChatModelStream

    adapter = AnthropicAdapter()
    stream = ChatModelStream()
    for chunk in raw_chunks(path):
        if chunk["type"] == "ping":  # the SDK has no model for ping
            continue
        event = construct_type(type_=BetaRawMessageStreamEvent, value=chunk)
        assert isinstance(event, BaseModel)
        dumped = event.model_dump()
        for event in adapter.feed(dumped):
            stream.dispatch(event)
    for event in adapter.end():
        stream.dispatch(event)
    via_sdk = stream.output
    direct = _replayed(path)[0].ok()
    # model_dump adds nulls inside raw nested objects; everything we derive agrees.
    assert via_sdk.text == direct.text
    assert via_sdk.reasoning == direct.reasoning
    assert via_sdk.tool_calls == direct.tool_calls
    assert via_sdk.invalid_tool_calls == direct.invalid_tool_calls
    assert via_sdk.usage_metadata == direct.usage_metadata
    assert via_sdk.response_metadata["finish_reason"] == direct.response_metadata["finish_reason"]
    assert isinstance(via_sdk.content, type(direct.content))
    if isinstance(via_sdk.content, list) and isinstance(direct.content, list):
        assert [b["type"] for b in via_sdk.content] == [b["type"] for b in direct.content]


# -- synthetic streams ------------------------------------------------------------


def _start(model: str = "claude-test", **usage: int) -> dict[str, Any]:
    return {
        "type": "message_start",
        "message": {
            "id": "msg_test",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 1, **usage},
        },
    }


def _stop_chunks(reason: str = "end_turn", output_tokens: int = 5) -> list[dict[str, Any]]:
    return [
        {
            "type": "message_delta",
            "delta": {"stop_reason": reason, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        },
        {"type": "message_stop"},
    ]


def _text_stream(*texts: str) -> list[dict[str, Any]]:
    return [
        _start(),
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        *(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}}
            for t in texts
        ),
        {"type": "content_block_stop", "index": 0},
        *_stop_chunks(),
    ]


def _sse(chunks: list[Any], pad: str = "") -> bytes:
    out = []
    for chunk in chunks:
        data = json.dumps(chunk, separators=(",", ":"))
        if pad and data.endswith("}"):
            data = data[:-1] + pad + "}" + pad
        out.append(f"event: {chunk.get('type', 'x')}\ndata: {data}\n\n")
    return "".join(out).encode()


def _replay(chunks: list[Any]) -> Replay:
    return replay_pieces(make, [_sse(chunks)], "sse")


def _feed_all(adapter: AnthropicAdapter, chunks: list[Any]) -> list[dict[str, Any]]:
    events = []
    for chunk in chunks:
        events.extend(adapter.feed(chunk))
    return events


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("overloaded_error", ProviderOverloadedError),
        ("rate_limit_error", RateLimitError),
        ("authentication_error", AuthenticationError),
        ("invalid_request_error", BadRequestError),
        ("api_error", ProviderError),
    ],
)
def test_mid_stream_error_is_typed_and_keeps_the_partial_text(
    code: str, cls: type[ProviderError]
) -> None:
    error = {"type": "error", "error": {"type": code, "message": "Overloaded"}}
    chunks = [*_text_stream("Hello", " there")[:5], error]
    result = _replay(chunks)
    assert type(result.error) is cls
    assert isinstance(result.error, ProviderError)
    assert result.error.code == code
    assert result.error.message == "Overloaded"
    assert result.error.body == error
    assert result.partial.text == "Hello there"


def test_error_without_a_message_still_says_what_happened() -> None:
    with pytest.raises(ProviderOverloadedError, match="overloaded_error"):
        AnthropicAdapter().feed({"type": "error", "error": {"type": "overloaded_error"}})


def test_document_citations_are_non_standard_annotations_with_every_field() -> None:
    char = {
        "type": "char_location",
        "cited_text": "The grass is green.",
        "document_index": 0,
        "document_title": "Example Document",
        "start_char_index": 0,
        "end_char_index": 20,
        "file_id": None,
    }
    page = {
        "type": "page_location",
        "cited_text": "p. 3",
        "document_index": 1,
        "document_title": None,
        "start_page_number": 3,
        "end_page_number": 4,
    }
    chunks = [
        _start(),
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": "", "citations": []},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "citations_delta", "citation": char},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "Green."},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "citations_delta", "citation": page},
        },
        {"type": "content_block_stop", "index": 0},
        *_stop_chunks(),
    ]
    message = _replay(chunks).ok()
    content = _blocks(message)
    assert content[0]["annotations"] == [
        {"type": "non_standard_annotation", "value": char},
        {"type": "non_standard_annotation", "value": page},
    ]
    assert message.text == "Green."


def test_unknown_block_type_is_kept_as_non_standard_with_its_deltas() -> None:
    start = {"type": "future_block", "content": "", "encrypted": None, "extra": 1}
    chunks = [
        _start(),
        {"type": "content_block_start", "index": 0, "content_block": start},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "future_delta", "content": "ab"},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "future_delta", "content": "cd", "encrypted": "e1"},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "future_delta", "encrypted": "e2"},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "brand_new_event", "payload": [1, 2]},  # unknown event types are ignored
        *_stop_chunks(),
    ]
    result = _replay(chunks)
    message = result.ok()
    assert message.content == [
        {
            "type": "non_standard",
            "value": {"type": "future_block", "content": "abcd", "encrypted": "e2", "extra": 1},
            "index": 0,
        }
    ]
    # The start event shows the block as it started; the finish, as it ended.
    start_event = next(e for e in result.events if e["event"] == "content-block-start")
    assert start_event["content"]["value"] == start


def test_compaction_deltas_concatenate_content_and_keep_the_latest_encrypted_content() -> None:
    chunks = [
        _start(),
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "compaction", "content": None, "encrypted_content": None},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {
                "type": "compaction_delta",
                "content": "Summary ",
                "encrypted_content": "old",
            },
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {
                "type": "compaction_delta",
                "content": "complete",
                "encrypted_content": "new",
            },
        },
        {"type": "content_block_stop", "index": 0},
        *_stop_chunks("compaction"),
    ]
    message = _replay(chunks).ok()
    content = _blocks(message)
    assert content[0]["value"] == {
        "type": "compaction",
        "content": "Summary complete",
        "encrypted_content": "new",
    }
    assert message.response_metadata["finish_reason"] == "compaction"


def test_unknown_delta_on_a_known_block_is_kept_in_extras() -> None:
    odd = {"type": "text_annotation_delta", "note": "x"}
    chunks = _text_stream("Hi")
    chunks.insert(4, {"type": "content_block_delta", "index": 0, "delta": odd})
    message = _replay(chunks).ok()
    content = _blocks(message)
    assert content[0]["text"] == "Hi"
    assert content[0]["extras"] == {"unknown_deltas": [odd]}


def test_tool_use_with_complete_input_at_start_and_no_deltas() -> None:
    block = {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x", "n": 2}}
    chunks = [
        _start(),
        {"type": "content_block_start", "index": 0, "content_block": block},
        {"type": "content_block_stop", "index": 0},
        *_stop_chunks("tool_use"),
    ]
    message = _replay(chunks).ok()
    assert message.tool_calls == [
        {"type": "tool_call", "id": "toolu_1", "name": "lookup", "args": {"q": "x", "n": 2}}
    ]


def test_deltas_replace_an_input_given_at_start() -> None:
    block = {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "stale"}}
    chunks = [
        _start(),
        {"type": "content_block_start", "index": 0, "content_block": block},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '{"q": "fresh"}'},
        },
        {"type": "content_block_stop", "index": 0},
        *_stop_chunks("tool_use"),
    ]
    assert _replay(chunks).ok().tool_calls[0]["args"] == {"q": "fresh"}


def test_server_tool_errors_have_error_status() -> None:
    search_error = {
        "type": "web_search_tool_result",
        "tool_use_id": "srvtoolu_1",
        "content": {"type": "web_search_tool_result_error", "error_code": "max_uses_exceeded"},
    }
    mcp_error = {
        "type": "mcp_tool_result",
        "tool_use_id": "mcptoolu_1",
        "is_error": True,
        "content": [{"type": "text", "text": "boom"}],
    }
    chunks = [
        _start(),
        {"type": "content_block_start", "index": 0, "content_block": search_error},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": mcp_error},
        {"type": "content_block_stop", "index": 1},
        *_stop_chunks(),
    ]
    message = _replay(chunks).ok()
    content = _blocks(message)
    assert [(b["tool_call_id"], b["status"]) for b in content] == [
        ("srvtoolu_1", "error"),
        ("mcptoolu_1", "error"),
    ]
    assert content[1]["extras"] == {"block_type": "mcp_tool_result", "is_error": True}


def test_cut_stream_raises_incomplete_and_keeps_the_partial_message() -> None:
    chunks = [
        *_text_stream("Hello")[:4],
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "toolu_9", "name": "f", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"a": '},
        },
    ]
    data = _sse(chunks)
    result = replay_pieces(make, [data[:-7], data[-7:]], "sse")
    assert isinstance(result.error, IncompleteStreamError)
    assert "message_stop" in str(result.error)
    assert result.partial.text == "Hello"
    partial = _blocks(result.partial)
    assert partial[1]["type"] == "tool_call_chunk"
    assert partial[1]["args"] == '{"a": '


def test_message_delta_without_message_stop_finishes_at_end() -> None:
    chunks = _text_stream("Hi")[:-1]  # message_stop lost
    message = _replay(chunks).ok()
    assert message.text == "Hi"
    assert message.response_metadata["finish_reason"] == "end_turn"


def test_end_and_feed_after_the_finish_emit_nothing_more() -> None:
    adapter = AnthropicAdapter()
    events = _feed_all(adapter, _text_stream("Hi"))
    assert adapter.finished
    assert [e["event"] for e in events].count("message-finish") == 1
    assert adapter.end() == []
    assert adapter.end() == []
    assert adapter.feed({"type": "message_stop"}) == []
    assert adapter.feed(_text_stream("again")[1]) == []


def test_end_twice_when_incomplete_never_finishes() -> None:
    adapter = AnthropicAdapter()
    _feed_all(adapter, _text_stream("Hi")[:4])
    for _ in range(2):
        with pytest.raises(IncompleteStreamError):
            adapter.end()
    assert not adapter.finished
    assert adapter.feed({"type": "message_stop"}) == []


def test_a_text_delta_costs_one_event() -> None:
    adapter = AnthropicAdapter()
    _feed_all(adapter, _text_stream()[:2])
    delta = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": "x"},
    }
    assert adapter.feed(delta) == [
        {"event": "content-block-delta", "index": 0, "delta": {"type": "text-delta", "text": "x"}}
    ]


def test_provider_name_and_start_metadata() -> None:
    adapter = AnthropicAdapter(provider="my-gateway")
    (event,) = adapter.feed(_start(model="claude-x"))
    assert event == {
        "event": "message-start",
        "role": "ai",
        "id": "msg_test",
        "metadata": {"provider": "my-gateway", "model": "claude-x"},
    }


def test_cache_tokens_count_as_input() -> None:
    chunks = _text_stream("Hi")
    chunks[0] = _start(cache_read_input_tokens=100, cache_creation_input_tokens=20)
    usage = _replay(chunks).ok().usage_metadata
    assert usage == {
        "input_tokens": 130,
        "output_tokens": 5,
        "total_tokens": 135,
        "input_token_details": {"cache_read": 100, "cache_creation": 20},
    }


def test_mapping_chunks_that_are_not_dicts_are_accepted() -> None:
    adapter = AnthropicAdapter()
    events = _feed_all(adapter, [MappingProxyType(c) for c in _text_stream("Hi")])
    assert events[-1]["event"] == "message-finish"
    delta = {"type": "text-delta", "text": "Hi"}
    assert any(e.get("delta") == delta for e in events)


@pytest.mark.parametrize(
    ("chunk", "field"),
    [
        (["not", "a", "dict"], None),
        ({"no_type": 1}, "type"),
        ({"type": 7}, "type"),
        ({"type": "message_start", "message": "x"}, "message"),
        ({"type": "message_start", "message": {"id": 5}}, "message.id"),
        ({"type": "message_delta", "delta": {"stop_reason": 3}}, "delta.stop_reason"),
        ({"type": "message_delta", "delta": {}, "usage": [1]}, "usage"),
        ({"type": "content_block_start", "index": "0", "content_block": {"type": "text"}}, "index"),
        ({"type": "content_block_start", "index": 1, "content_block": None}, "content_block"),
        (
            {"type": "content_block_start", "index": 1, "content_block": {"text": ""}},
            "content_block.type",
        ),
        (
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "text", "text": 1},
            },
            "content_block.text",
        ),
        ({"type": "content_block_delta", "index": 0, "delta": "x"}, "delta"),
        (
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": 1}},
            "delta.text",
        ),
        (
            {
                "type": "content_block_delta",
                "index": 5,
                "delta": {"type": "text_delta", "text": "x"},
            },
            "index",
        ),
        ({"type": "content_block_delta", "index": [0], "delta": {"type": "text_delta"}}, "index"),
        ({"type": "content_block_stop"}, "index"),
    ],
)
def test_malformed_chunks_raise_protocol_error(chunk: Any, field: str | None) -> None:
    adapter = AnthropicAdapter()
    _feed_all(adapter, _text_stream()[:2])  # message started, text block 0 open
    with pytest.raises(ProtocolError) as info:
        adapter.feed(chunk)
    assert info.value.field == field
    assert "anthropic" in str(info.value)


def test_malformed_deltas_of_other_blocks_raise_protocol_error() -> None:
    adapter = AnthropicAdapter()
    tool = {"type": "tool_use", "id": "t", "name": "f", "input": {}}
    _feed_all(
        adapter,
        [
            _start(),
            {"type": "content_block_start", "index": 0, "content_block": tool},
            {"type": "content_block_start", "index": 1, "content_block": {"type": "thinking"}},
        ],
    )
    bad = [
        (0, {"type": "input_json_delta", "partial_json": 1}, "delta.partial_json"),
        (1, {"type": "thinking_delta", "thinking": None}, "delta.thinking"),
        (1, {"type": "signature_delta", "signature": 2}, "delta.signature"),
    ]
    for index, delta, field in bad:
        with pytest.raises(ProtocolError) as info:
            adapter.feed({"type": "content_block_delta", "index": index, "delta": delta})
        assert info.value.field == field


def test_a_delta_after_the_block_stopped_is_a_protocol_error() -> None:
    chunks = _text_stream("a")
    chunks.insert(5, chunks[3])  # a text delta after content_block_stop
    result = _replay(chunks)
    assert isinstance(result.error, ProtocolError)
    assert result.partial.text == "a"
