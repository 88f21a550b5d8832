"""Contract section 2: accumulation, and the final message.

Every test feeds a list of events through both stream flavours (the
``observe`` fixture) and checks what the projections and the final message
hold. The async run starts its consumers before the first event and yields
to them between events, so it exercises live delivery rather than replay.
"""

from __future__ import annotations

import asyncio
import copy
import json
from dataclasses import dataclass
from typing import Any, Protocol, cast

import pytest

from streamblocks import (
    AIMessage,
    AsyncChatModelStream,
    ChatModelStream,
    StreamState,
    ToolCall,
    ToolCallChunk,
    UsageInfo,
)
from tests import events as ev

Event = dict[str, Any]


# ---------------------------------------------------------------------------
# Harness
# ---------------------------------------------------------------------------


@dataclass
class Observed:
    """Everything a stream exposed for one message."""

    text_deltas: list[str]
    reasoning_deltas: list[str]
    tool_chunks: list[ToolCallChunk]
    text: str
    reasoning: str
    tool_calls: list[ToolCall]
    output: AIMessage
    usage: UsageInfo | None
    events: list[Any]
    snapshot: AIMessage

    @property
    def content(self) -> list[dict[str, Any]]:
        assert isinstance(self.output.content, list), self.output.content
        return [dict(b) for b in self.output.content]


class Observe(Protocol):
    def __call__(self, events: list[Event]) -> Observed: ...


def observe_sync(events: list[Event]) -> Observed:
    stream = ChatModelStream()
    for event in events:
        stream.dispatch(event)
    assert stream.state is StreamState.FINISHED
    return Observed(
        text_deltas=list(stream.text),
        reasoning_deltas=list(stream.reasoning),
        tool_chunks=list(stream.tool_calls),
        text=str(stream.text),
        reasoning=stream.reasoning.get(),
        tool_calls=stream.tool_calls.get(),
        output=stream.output,
        usage=stream.usage,
        events=list(stream),
        snapshot=stream.snapshot(),
    )


def observe_async(events: list[Event]) -> Observed:
    async def run() -> Observed:
        stream = AsyncChatModelStream()

        async def collect(source: Any) -> list[Any]:
            return [item async for item in source]

        tasks = [
            asyncio.create_task(collect(stream.text)),
            asyncio.create_task(collect(stream.reasoning)),
            asyncio.create_task(collect(stream.tool_calls)),
            asyncio.create_task(collect(stream)),
        ]
        await asyncio.sleep(0)
        for event in events:
            stream.dispatch(event)
            await asyncio.sleep(0)
        text_deltas, reasoning_deltas, tool_chunks, raw = await asyncio.gather(*tasks)
        assert stream.state is StreamState.FINISHED
        return Observed(
            text_deltas=text_deltas,
            reasoning_deltas=reasoning_deltas,
            tool_chunks=tool_chunks,
            text=await stream.text,
            reasoning=await stream.reasoning,
            tool_calls=await stream.tool_calls,
            output=await stream.output,
            usage=await stream.usage,
            events=raw,
            snapshot=stream.snapshot(),
        )

    return asyncio.run(run())


@pytest.fixture(params=["sync", "async"])
def observe(request: pytest.FixtureRequest) -> Observe:
    return observe_sync if request.param == "sync" else observe_async


def delta(index: int | None, payload: dict[str, Any]) -> Event:
    event: Event = {"event": "content-block-delta", "delta": payload}
    if index is not None:
        event["index"] = index
    return event


def snapshot_delta(index: int, **fields: Any) -> Event:
    return delta(index, {"type": "block-delta", "fields": {"type": "tool_call_chunk", **fields}})


def channel_delta(channel: str, index: int, text: str) -> Event:
    return ev.text(index, text) if channel == "text" else ev.reasoning(index, text)


def channel_block(channel: str, text: str | None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": channel}
    if text is not None:
        block[channel] = text
    return block


def deltas_of(obs: Observed, channel: str) -> list[str]:
    return obs.text_deltas if channel == "text" else obs.reasoning_deltas


def final_of(obs: Observed, channel: str) -> str:
    return obs.text if channel == "text" else obs.reasoning


CHANNELS = pytest.mark.parametrize("channel", ["text", "reasoning"])


# ---------------------------------------------------------------------------
# Text and reasoning
# ---------------------------------------------------------------------------


class TestTextAndReasoning:
    @CHANNELS
    def test_blocks_are_kept_by_wire_index_and_joined_in_index_order(
        self, observe: Observe, channel: str
    ) -> None:
        obs = observe(
            [
                ev.start(),
                ev.block_start(2, channel_block(channel, "")),
                ev.block_start(0, channel_block(channel, "")),
                channel_delta(channel, 2, "B1"),
                channel_delta(channel, 0, "A1"),
                channel_delta(channel, 2, "B2"),
                channel_delta(channel, 0, "A2"),
                ev.block_finish(2, channel_block(channel, "B1B2")),
                ev.block_finish(0, channel_block(channel, "A1A2")),
                ev.finish(),
            ]
        )
        # Deltas arrive in wire order; the final value is in index order.
        assert deltas_of(obs, channel) == ["B1", "A1", "B2", "A2"]
        assert final_of(obs, channel) == "A1A2B1B2"
        assert [(b["index"], b[channel]) for b in obs.content] == [(0, "A1A2"), (2, "B1B2")]

    @CHANNELS
    def test_finish_without_deltas_pushes_the_full_text_as_one_delta(
        self, observe: Observe, channel: str
    ) -> None:
        obs = observe(
            [
                ev.start(),
                ev.block_start(0, channel_block(channel, "")),
                ev.block_finish(0, channel_block(channel, "all at once")),
                ev.finish(),
            ]
        )
        assert deltas_of(obs, channel) == ["all at once"]
        assert final_of(obs, channel) == "all at once"
        assert obs.content[0][channel] == "all at once"

    @CHANNELS
    def test_finish_that_extends_the_deltas_pushes_only_the_tail(
        self, observe: Observe, channel: str
    ) -> None:
        obs = observe(
            [
                ev.start(),
                channel_delta(channel, 0, "Hel"),
                channel_delta(channel, 0, "lo"),
                ev.block_finish(0, channel_block(channel, "Hello, world")),
                ev.finish(),
            ]
        )
        assert deltas_of(obs, channel) == ["Hel", "lo", ", world"]
        assert final_of(obs, channel) == "Hello, world"
        assert obs.content[0][channel] == "Hello, world"

    @CHANNELS
    def test_finish_that_differs_replaces_the_block_without_a_corrective_delta(
        self, observe: Observe, channel: str
    ) -> None:
        obs = observe(
            [
                ev.start(),
                channel_delta(channel, 0, "keep"),
                channel_delta(channel, 1, "draft"),
                ev.block_finish(1, channel_block(channel, "final")),
                ev.block_finish(0, channel_block(channel, "keep")),
                ev.finish(),
            ]
        )
        assert deltas_of(obs, channel) == ["keep", "draft"]
        assert final_of(obs, channel) == "keepfinal"
        assert [b[channel] for b in obs.content] == ["keep", "final"]

    @CHANNELS
    def test_finish_equal_to_the_deltas_pushes_nothing(
        self, observe: Observe, channel: str
    ) -> None:
        obs = observe(
            [
                ev.start(),
                channel_delta(channel, 0, "same"),
                ev.block_finish(0, channel_block(channel, "same")),
                ev.finish(),
            ]
        )
        assert deltas_of(obs, channel) == ["same"]
        assert final_of(obs, channel) == "same"

    @CHANNELS
    @pytest.mark.parametrize("finish_text", ["", None], ids=["empty", "absent"])
    def test_finish_with_no_text_keeps_the_deltas(
        self, observe: Observe, channel: str, finish_text: str | None
    ) -> None:
        obs = observe(
            [
                ev.start(),
                channel_delta(channel, 0, "streamed"),
                ev.block_finish(0, channel_block(channel, finish_text)),
                ev.finish(),
            ]
        )
        assert deltas_of(obs, channel) == ["streamed"]
        assert final_of(obs, channel) == "streamed"
        assert obs.content[0][channel] == "streamed"

    def test_reconciliation_is_per_block(self, observe: Observe) -> None:
        # Block 1's finish is compared with block 1's deltas only, not with
        # the message's text so far.
        obs = observe(
            [
                ev.start(),
                ev.text(0, "Hello. "),
                ev.text(1, "Bye"),
                ev.block_finish(1, {"type": "text", "text": "Bye now"}),
                ev.block_finish(0, {"type": "text", "text": "Hello. "}),
                ev.finish(),
            ]
        )
        assert obs.text_deltas == ["Hello. ", "Bye", " now"]
        assert obs.text == "Hello. Bye now"

    @CHANNELS
    def test_text_on_block_start_counts_as_the_first_delta(
        self, observe: Observe, channel: str
    ) -> None:
        obs = observe(
            [
                ev.start(),
                ev.block_start(0, channel_block(channel, "Hi ")),
                channel_delta(channel, 0, "there"),
                ev.block_finish(0, channel_block(channel, "Hi there")),
                ev.finish(),
            ]
        )
        assert deltas_of(obs, channel) == ["Hi ", "there"]
        assert final_of(obs, channel) == "Hi there"
        assert obs.content[0][channel] == "Hi there"

    def test_text_and_reasoning_are_separate_projections(self, observe: Observe) -> None:
        obs = observe(ev.mixed_message())
        assert obs.reasoning_deltas == ["Let me ", "think."]
        assert obs.text_deltas == ["Checking ", "both."]
        assert obs.reasoning == "Let me think."
        assert obs.text == "Checking both."

    def test_empty_deltas_are_not_pushed(self, observe: Observe) -> None:
        obs = observe(
            [ev.start(), ev.text(0, ""), ev.text(0, "a"), ev.reasoning(1, ""), ev.finish()]
        )
        assert obs.text_deltas == ["a"]
        assert obs.reasoning_deltas == []


# ---------------------------------------------------------------------------
# Tool calls
# ---------------------------------------------------------------------------


class TestToolCalls:
    def test_start_opens_a_call_and_its_args_are_the_first_delta(self, observe: Observe) -> None:
        obs = observe(
            [
                ev.start(),
                ev.tool_start(0, "call_1", "search", args='{"q": ', provider_index=4),
                ev.tool_args(0, '"cats"}'),
                ev.finish(),
            ]
        )
        assert obs.tool_chunks == [
            {
                "type": "tool_call_chunk",
                "id": "call_1",
                "name": "search",
                "args": '{"q": ',
                "index": 4,
            },
            {
                "type": "tool_call_chunk",
                "id": "call_1",
                "name": "search",
                "args": '"cats"}',
                "index": 4,
            },
        ]
        assert obs.tool_calls == [
            {"type": "tool_call", "id": "call_1", "name": "search", "args": {"q": "cats"}}
        ]

    def test_start_without_args_pushes_no_delta(self, observe: Observe) -> None:
        obs = observe(
            [ev.start(), ev.tool_start(0, "c", "noop"), ev.tool_args(0, "{}"), ev.finish()]
        )
        assert obs.tool_chunks == [
            {"type": "tool_call_chunk", "id": "c", "name": "noop", "args": "{}"}
        ]

    def test_parallel_calls_are_told_apart_by_id_name_and_index(self, observe: Observe) -> None:
        obs = observe(ev.mixed_message())
        assert [(c["id"], c["name"], c.get("index"), c["args"]) for c in obs.tool_chunks] == [
            ("call_a", "get_weather", 0, '{"city": '),
            ("call_b", "get_time", 1, '{"tz": "UTC"}'),
            ("call_a", "get_weather", 0, '"Paris"}'),
        ]
        assert obs.tool_calls == [
            {"type": "tool_call", "id": "call_a", "name": "get_weather", "args": {"city": "Paris"}},
            {"type": "tool_call", "id": "call_b", "name": "get_time", "args": {"tz": "UTC"}},
        ]

    def test_call_without_provider_index_pushes_chunks_without_index(
        self, observe: Observe
    ) -> None:
        obs = observe([ev.start(), ev.tool_start(0, "c", "f", args="{}"), ev.finish()])
        assert obs.tool_chunks == [
            {"type": "tool_call_chunk", "id": "c", "name": "f", "args": "{}"}
        ]

    def test_empty_tool_call_delta_pushes_nothing(self, observe: Observe) -> None:
        obs = observe(
            [
                ev.start(),
                ev.tool_start(0, "c", "f"),
                ev.tool_args(0, ""),
                ev.tool_args(0, "{}"),
                ev.finish(),
            ]
        )
        assert [c["args"] for c in obs.tool_chunks] == ["{}"]

    def test_block_delta_snapshot_replaces_args_and_pushes_only_the_suffix(
        self, observe: Observe
    ) -> None:
        obs = observe(
            [
                ev.start(),
                ev.tool_start(0, "c", "f", provider_index=0),
                snapshot_delta(0, args='{"a"'),
                snapshot_delta(0, args='{"a": 1'),
                snapshot_delta(0, args='{"a": 1'),  # no growth: nothing pushed
                snapshot_delta(0, args='{"a": 1}'),
                ev.finish(),
            ]
        )
        assert [c["args"] for c in obs.tool_chunks] == ['{"a"', ": 1", "}"]
        assert all((c["id"], c["name"], c.get("index")) == ("c", "f", 0) for c in obs.tool_chunks)
        assert obs.tool_calls == [{"type": "tool_call", "id": "c", "name": "f", "args": {"a": 1}}]

    def test_snapshot_that_stops_extending_silences_the_call(self, observe: Observe) -> None:
        obs = observe(
            [
                ev.start(),
                ev.tool_start(0, "c", "f", args='{"a": 1'),
                ev.tool_start(1, "d", "g"),
                snapshot_delta(0, args='{"b"'),  # does not extend '{"a": 1'
                snapshot_delta(0, args='{"b": 2'),  # extends, but the call is quiet
                ev.tool_args(0, "}"),  # quiet too
                ev.tool_args(1, "{}"),  # the other call is unaffected
                ev.finish(),
            ]
        )
        assert [(c["id"], c["args"]) for c in obs.tool_chunks] == [
            ("c", '{"a": 1'),
            ("d", "{}"),
        ]
        # The held args are the last snapshot plus what was appended after it.
        assert {tc["id"]: tc["args"] for tc in obs.tool_calls} == {"c": {"b": 2}, "d": {}}

    def test_block_delta_snapshot_can_open_a_call(self, observe: Observe) -> None:
        obs = observe(
            [
                ev.start(),
                snapshot_delta(0, id="c", name="f", args='{"x'),
                snapshot_delta(0, args='{"x": true}'),
                ev.finish(),
            ]
        )
        assert [(c["id"], c["name"], c["args"]) for c in obs.tool_chunks] == [
            ("c", "f", '{"x'),
            ("c", "f", '": true}'),
        ]
        assert obs.tool_calls == [
            {"type": "tool_call", "id": "c", "name": "f", "args": {"x": True}}
        ]

    def test_finish_with_tool_call_closes_the_call(self, observe: Observe) -> None:
        obs = observe(
            [
                ev.start(),
                ev.tool_start(0, "c", "f", args='{"a": 1', provider_index=0),
                ev.block_finish(0, {"type": "tool_call", "id": "c", "name": "f", "args": {"a": 1}}),
                ev.finish(),
            ]
        )
        # The finish is authoritative and the call is not swept a second time.
        assert obs.tool_calls == [{"type": "tool_call", "id": "c", "name": "f", "args": {"a": 1}}]
        assert obs.output.tool_calls == obs.tool_calls
        assert obs.output.invalid_tool_calls == []
        assert [c["args"] for c in obs.tool_chunks] == ['{"a": 1']

    def test_finish_with_invalid_tool_call_closes_the_call(self, observe: Observe) -> None:
        invalid = {
            "type": "invalid_tool_call",
            "id": "c",
            "name": "f",
            "args": '{"a": ',
            "error": "truncated",
        }
        obs = observe(
            [
                ev.start(),
                ev.tool_start(0, "c", "f", args='{"a": '),
                ev.block_finish(0, invalid),
                ev.finish(),
            ]
        )
        assert obs.tool_calls == []
        assert obs.output.tool_calls == []
        assert obs.output.invalid_tool_calls == [invalid]
        assert obs.content == [invalid]

    def test_open_calls_are_parsed_at_message_finish(self, observe: Observe) -> None:
        obs = observe(
            [
                ev.start(),
                ev.tool_start(0, "c0", "valid", args='{"n": [1, 2], "s": "x"}'),
                ev.tool_start(1, "c1", "empty"),
                ev.tool_start(2, "c2", "blank", args="  "),
                ev.finish(),
            ]
        )
        assert obs.tool_calls == [
            {"type": "tool_call", "id": "c0", "name": "valid", "args": {"n": [1, 2], "s": "x"}},
            {"type": "tool_call", "id": "c1", "name": "empty", "args": {}},
            {"type": "tool_call", "id": "c2", "name": "blank", "args": {}},
        ]
        assert obs.output.invalid_tool_calls == []

    def test_open_call_with_invalid_json_becomes_an_invalid_tool_call(
        self, observe: Observe
    ) -> None:
        obs = observe([ev.start(), ev.tool_start(0, "c", "f", args='{"city": "Par'), ev.finish()])
        assert obs.tool_calls == []
        assert obs.output.tool_calls == []
        [invalid] = obs.output.invalid_tool_calls
        assert invalid["type"] == "invalid_tool_call"
        assert invalid["id"] == "c"
        assert invalid["name"] == "f"
        assert invalid["args"] == '{"city": "Par'
        assert invalid["error"] is not None
        assert "not valid JSON" in invalid["error"]
        assert obs.content == [dict(invalid)]

    @pytest.mark.parametrize("args", ["[1]", "null", "3", '"text"', "true"])
    def test_open_call_whose_json_is_not_an_object_is_invalid(
        self, observe: Observe, args: str
    ) -> None:
        obs = observe([ev.start(), ev.tool_start(0, "c", "f", args=args), ev.finish()])
        assert obs.tool_calls == []
        [invalid] = obs.output.invalid_tool_calls
        assert invalid["args"] == args
        assert invalid["id"] == "c"
        assert invalid["error"]

    def test_open_call_with_pathologically_nested_args_is_invalid_not_fatal(self) -> None:
        stream = ChatModelStream()
        for event in [ev.start(), ev.tool_start(0, "c", "f", args="[" * 100_000), ev.finish()]:
            stream.dispatch(event)
        assert stream.state is StreamState.FINISHED
        assert [itc["id"] for itc in stream.output.invalid_tool_calls] == ["c"]

    def test_server_tool_calls_accumulate_but_never_reach_tool_calls(
        self, observe: Observe
    ) -> None:
        obs = observe(
            [
                ev.start(),
                ev.block_start(
                    0, {"type": "server_tool_call_chunk", "id": "s1", "name": "web", "args": '{"q"'}
                ),
                ev.tool_args(0, ': "cats"}'),
                ev.block_start(1, {"type": "server_tool_call_chunk", "id": "s2", "name": "code"}),
                ev.block_finish(
                    1,
                    {
                        "type": "server_tool_call",
                        "id": "s2",
                        "name": "code",
                        "args": {"src": "1+1"},
                    },
                ),
                ev.block_finish(
                    2,
                    {
                        "type": "server_tool_result",
                        "tool_call_id": "s1",
                        "status": "success",
                        "output": "x",
                    },
                ),
                ev.tool_start(3, "c", "client", args="{}"),
                ev.finish(),
            ]
        )
        assert [c["id"] for c in obs.tool_chunks] == ["c"]
        assert obs.tool_calls == [{"type": "tool_call", "id": "c", "name": "client", "args": {}}]
        assert obs.output.tool_calls == obs.tool_calls
        assert obs.content == [
            {
                "type": "server_tool_call",
                "id": "s1",
                "name": "web",
                "args": {"q": "cats"},
                "index": 0,
            },
            {
                "type": "server_tool_call",
                "id": "s2",
                "name": "code",
                "args": {"src": "1+1"},
                "index": 1,
            },
            {
                "type": "server_tool_result",
                "tool_call_id": "s1",
                "status": "success",
                "output": "x",
                "index": 2,
            },
            {"type": "tool_call", "id": "c", "name": "client", "args": {}},
        ]

    def test_second_finish_for_the_same_index_does_not_double_count(self, observe: Observe) -> None:
        call = {"type": "tool_call", "id": "c", "name": "f", "args": {"a": 1}}
        invalid = {"type": "invalid_tool_call", "id": "d", "name": "g", "args": "{", "error": "e"}
        obs = observe(
            [
                ev.start(),
                ev.text(0, "Hi"),
                ev.block_finish(0, {"type": "text", "text": "Hi"}),
                ev.block_finish(0, {"type": "text", "text": "Hi"}),
                ev.block_finish(1, call),
                ev.block_finish(1, call),
                ev.block_finish(2, invalid),
                ev.block_finish(2, invalid),
                ev.finish(),
            ]
        )
        assert obs.text_deltas == ["Hi"]
        assert obs.text == "Hi"
        assert obs.tool_calls == [call]
        assert obs.output.tool_calls == [call]
        assert obs.output.invalid_tool_calls == [invalid]
        assert obs.content == [{"type": "text", "text": "Hi", "index": 0}, call, invalid]


# ---------------------------------------------------------------------------
# The final message
# ---------------------------------------------------------------------------


class TestFinalMessage:
    def test_content_is_in_wire_index_order_not_arrival_order(self, observe: Observe) -> None:
        obs = observe(
            [
                ev.start(),
                ev.block_finish(3, {"type": "image", "url": "u"}),
                ev.block_finish(1, {"type": "text", "text": "one"}),
                ev.block_finish(2, {"type": "tool_call", "id": "c", "name": "f", "args": {}}),
                ev.block_finish(0, {"type": "reasoning", "reasoning": "zero"}),
                ev.finish(),
            ]
        )
        assert [b["type"] for b in obs.content] == ["reasoning", "text", "tool_call", "image"]

    def test_bare_string_only_when_no_block_arrived(self, observe: Observe) -> None:
        obs = observe(
            [
                ev.start(),
                delta(None, {"type": "text-delta", "text": "no "}),
                delta(None, {"type": "text-delta", "text": "blocks"}),
                ev.finish(),
            ]
        )
        assert obs.output.content == "no blocks"
        assert obs.output.text == "no blocks"

    def test_empty_message_has_empty_string_content(self, observe: Observe) -> None:
        obs = observe([ev.start(), ev.finish()])
        assert obs.output.content == ""
        assert obs.text == ""
        assert obs.tool_calls == []

    def test_a_single_text_block_is_still_a_list(self, observe: Observe) -> None:
        obs = observe(ev.simple_text_message(["a", "b"]))
        assert obs.output.content == [{"type": "text", "text": "ab", "index": 0}]

    def test_finish_without_wire_index_is_appended_in_arrival_order(self, observe: Observe) -> None:
        first = {"type": "file", "url": "f1"}
        second = {"type": "image", "url": "i1"}
        obs = observe(
            [
                ev.start(),
                ev.block_finish(None, first),
                ev.block_finish(1, {"type": "text", "text": "b"}),
                ev.block_finish(None, second),
                ev.block_finish(0, {"type": "text", "text": "a"}),
                ev.finish(),
            ]
        )
        assert obs.content == [
            {"type": "text", "text": "a", "index": 0},
            {"type": "text", "text": "b", "index": 1},
            first,
            second,
        ]

    def test_unindexed_text_finishes_agree_with_the_text_projection(self, observe: Observe) -> None:
        obs = observe(
            [
                ev.start(),
                ev.block_finish(None, {"type": "text", "text": "Hello "}),
                ev.block_finish(None, {"type": "text", "text": "world"}),
                ev.finish(),
            ]
        )
        assert obs.output.text == "Hello world"
        assert obs.text == obs.output.text
        assert "".join(obs.text_deltas) == obs.output.text

    def test_finalized_blocks_carry_the_provider_index_else_the_wire_index(
        self, observe: Observe
    ) -> None:
        obs = observe(
            [
                ev.start(),
                ev.block_finish(0, {"type": "text", "text": "a", "index": "lc_txt_0"}),
                ev.block_finish(1, {"type": "text", "text": "b"}),
                ev.block_finish(2, {"type": "image", "url": "u", "index": 7}),
                ev.block_start(
                    3, {"type": "server_tool_call_chunk", "id": "s", "name": "w", "index": 9}
                ),
                ev.block_start(4, {"type": "server_tool_call_chunk", "id": "t", "name": "w"}),
                ev.finish(),
            ]
        )
        assert [b.get("index") for b in obs.content] == ["lc_txt_0", 1, 7, 9, 4]

    def test_tool_call_blocks_carry_no_index(self, observe: Observe) -> None:
        obs = observe(
            [
                ev.start(),
                ev.tool_start(0, "a", "f", args="{}", provider_index=0),  # swept
                ev.tool_start(1, "b", "f", args="{", provider_index=1),  # swept, invalid
                ev.block_finish(
                    2, {"type": "tool_call", "id": "c", "name": "f", "args": {}, "index": 2}
                ),
                ev.block_finish(
                    3,
                    {
                        "type": "invalid_tool_call",
                        "id": "d",
                        "name": "f",
                        "args": "x",
                        "error": "e",
                        "index": 3,
                    },
                ),
                ev.finish(),
            ]
        )
        assert [b["type"] for b in obs.content] == [
            "tool_call",
            "invalid_tool_call",
            "tool_call",
            "invalid_tool_call",
        ]
        assert all("index" not in b for b in obs.content)
        assert all("index" not in tc for tc in obs.tool_calls)

    def test_reasoning_keeps_provider_fields(self, observe: Observe) -> None:
        obs = observe(
            [
                ev.start(),
                ev.block_start(0, {"type": "reasoning", "reasoning": ""}),
                ev.reasoning(0, "hmm"),
                ev.block_finish(
                    0, {"type": "reasoning", "id": "rs_1", "extras": {"signature": "abc=="}}
                ),
                ev.finish(),
            ]
        )
        assert obs.content == [
            {
                "type": "reasoning",
                "id": "rs_1",
                "extras": {"signature": "abc=="},
                "reasoning": "hmm",
                "index": 0,
            }
        ]

    def test_reasoning_is_not_overwritten_when_no_deltas_accumulated(
        self, observe: Observe
    ) -> None:
        obs = observe(
            [
                ev.start(),
                ev.block_finish(
                    0, {"type": "reasoning", "reasoning": "", "extras": {"signature": "s0"}}
                ),
                ev.block_finish(1, {"type": "reasoning", "extras": {"signature": "s1"}}),
                ev.finish(),
            ]
        )
        assert obs.content == [
            {"type": "reasoning", "reasoning": "", "extras": {"signature": "s0"}, "index": 0},
            {"type": "reasoning", "extras": {"signature": "s1"}, "index": 1},
        ]
        assert obs.reasoning_deltas == []
        assert obs.reasoning == ""

    def test_text_block_keeps_its_fields(self, observe: Observe) -> None:
        annotations = [{"type": "citation", "url": "https://example.com", "start_index": 0}]
        obs = observe(
            [
                ev.start(),
                ev.block_start(0, {"type": "text", "text": "", "id": "t1"}),
                ev.text(0, "cited"),
                ev.block_finish(
                    0, {"type": "text", "text": "cited", "id": "t1", "annotations": annotations}
                ),
                ev.finish(),
            ]
        )
        assert obs.content == [
            {"type": "text", "text": "cited", "id": "t1", "annotations": annotations, "index": 0}
        ]

    def test_tool_calls_and_invalid_tool_calls_shapes(self, observe: Observe) -> None:
        obs = observe(
            [
                ev.start(),
                ev.tool_start(0, "ok", "f", args='{"a": 1}', provider_index=0),
                ev.tool_start(1, "bad", "g", args='{"a":', provider_index=1),
                ev.finish(),
            ]
        )
        assert obs.output.tool_calls == [
            {"type": "tool_call", "id": "ok", "name": "f", "args": {"a": 1}}
        ]
        [invalid] = obs.output.invalid_tool_calls
        assert set(invalid) == {"type", "id", "name", "args", "error"}
        assert (invalid["type"], invalid["id"], invalid["name"], invalid["args"]) == (
            "invalid_tool_call",
            "bad",
            "g",
            '{"a":',
        )
        assert all(set(tc) == {"type", "id", "name", "args"} for tc in obs.output.tool_calls)

    def test_usage_metadata_is_the_usage_dict(self, observe: Observe) -> None:
        usage = {
            "input_tokens": 10,
            "output_tokens": 5,
            "total_tokens": 15,
            "input_token_details": {"cache_read": 4},
            "output_token_details": {"reasoning": 2},
        }
        obs = observe([ev.start(), ev.finish(usage)])
        assert obs.output.usage_metadata == usage
        assert obs.usage == usage

    def test_usage_is_none_without_usage(self, observe: Observe) -> None:
        obs = observe([ev.start(), ev.finish()])
        assert obs.output.usage_metadata is None
        assert obs.usage is None

    def test_response_metadata(self, observe: Observe) -> None:
        obs = observe(
            [
                ev.start("m", provider="anthropic", model="claude-x", run_id="r1"),
                ev.finish(None, finish_reason="end_turn", stop_sequence=None),
            ]
        )
        assert obs.output.response_metadata == {
            "model_provider": "anthropic",
            "model_name": "claude-x",
            "finish_reason": "end_turn",
            "stop_sequence": None,
            "output_version": "v1",
        }

    def test_finish_metadata_is_laid_over_start_metadata(self, observe: Observe) -> None:
        obs = observe(
            [
                ev.start("m", provider="openai", model="gpt-alias"),
                ev.finish(None, model_name="gpt-2026-01-01", model_provider="azure"),
            ]
        )
        meta = obs.output.response_metadata
        assert meta["model_name"] == "gpt-2026-01-01"
        assert meta["model_provider"] == "azure"

    def test_output_version_is_pinned_to_v1(self, observe: Observe) -> None:
        obs = observe([ev.start(), ev.finish(None, output_version="responses/v1")])
        assert obs.output.response_metadata["output_version"] == "v1"

    def test_additional_kwargs_come_from_message_finish(self, observe: Observe) -> None:
        extra = {"__gemini_function_call_thought_signatures__": {"c": "sig"}}
        obs = observe([ev.start(), {"event": "message-finish", "additional_kwargs": extra}])
        assert obs.output.additional_kwargs == extra

    def test_additional_kwargs_default_to_empty(self, observe: Observe) -> None:
        assert observe([ev.start(), ev.finish()]).output.additional_kwargs == {}

    def test_id_comes_from_message_start(self, observe: Observe) -> None:
        assert observe(ev.simple_text_message(["x"], message_id="msg-42")).output.id == "msg-42"

    def test_message_type_and_text_property(self, observe: Observe) -> None:
        obs = observe(ev.mixed_message())
        assert obs.output.type == "ai"
        assert obs.output.text == "Checking both."
        assert obs.output.reasoning == "Let me think."

    def test_to_dict_round_trips_and_is_json_serialisable(self, observe: Observe) -> None:
        obs = observe(ev.mixed_message())
        data = obs.output.to_dict()
        encoded = json.dumps(data)
        assert AIMessage.from_dict(json.loads(encoded)) == obs.output
        assert AIMessage.from_dict(data) == obs.output
        assert data["type"] == "ai"
        assert data["id"] == "msg-mixed"
        assert data["tool_calls"] == obs.output.tool_calls

    def test_to_dict_is_a_deep_copy(self, observe: Observe) -> None:
        obs = observe(ev.mixed_message())
        data = obs.output.to_dict()
        data["content"][0]["extras"]["signature"] = "changed"
        data["tool_calls"][0]["args"]["city"] = "Rome"
        assert obs.output.content[0]["extras"] == {"signature": "sig"}  # type: ignore[index,typeddict-item]
        assert obs.output.tool_calls[0]["args"] == {"city": "Paris"}

    def test_from_dict_rejects_other_message_types(self) -> None:
        with pytest.raises(ValueError, match="'ai'"):
            AIMessage.from_dict({"type": "human", "content": "hi"})

    def test_full_mixed_message(self, observe: Observe) -> None:
        obs = observe(ev.mixed_message())
        assert obs.output == AIMessage(
            content=cast(
                "Any",
                [
                    {
                        "type": "reasoning",
                        "reasoning": "Let me think.",
                        "extras": {"signature": "sig"},
                        "index": 0,
                    },
                    {"type": "text", "text": "Checking both.", "index": 1},
                    {
                        "type": "tool_call",
                        "id": "call_a",
                        "name": "get_weather",
                        "args": {"city": "Paris"},
                    },
                    {
                        "type": "tool_call",
                        "id": "call_b",
                        "name": "get_time",
                        "args": {"tz": "UTC"},
                    },
                ],
            ),
            id="msg-mixed",
            tool_calls=[
                {
                    "type": "tool_call",
                    "id": "call_a",
                    "name": "get_weather",
                    "args": {"city": "Paris"},
                },
                {"type": "tool_call", "id": "call_b", "name": "get_time", "args": {"tz": "UTC"}},
            ],
            invalid_tool_calls=[],
            usage_metadata={"input_tokens": 10, "output_tokens": 20, "total_tokens": 30},
            response_metadata={
                "model_provider": "demo",
                "model_name": "demo-1",
                "finish_reason": "tool_calls",
                "output_version": "v1",
            },
            additional_kwargs={},
        )
        assert obs.snapshot == obs.output


# ---------------------------------------------------------------------------
# Extension: unfinished blocks are finalized, not dropped
# ---------------------------------------------------------------------------


class TestUnfinishedBlocksAreFinalized:
    def test_started_blocks_without_finish_are_finalized_at_message_finish(
        self, observe: Observe
    ) -> None:
        obs = observe(
            [
                ev.start(),
                ev.block_start(
                    0, {"type": "reasoning", "reasoning": "a", "extras": {"signature": "z"}}
                ),
                ev.reasoning(0, "b"),
                ev.block_start(1, {"type": "text", "text": "Hi", "id": "t1"}),
                ev.text(1, " there"),
                ev.block_start(2, {"type": "image", "url": "u"}),
                ev.finish(),
            ]
        )
        assert obs.content == [
            {"type": "reasoning", "reasoning": "ab", "extras": {"signature": "z"}, "index": 0},
            {"type": "text", "text": "Hi there", "id": "t1", "index": 1},
            {"type": "image", "url": "u", "index": 2},
        ]
        assert obs.reasoning == "ab"
        assert obs.text == "Hi there"
        assert obs.reasoning_deltas == ["a", "b"]
        assert obs.text_deltas == ["Hi", " there"]

    def test_indexed_deltas_without_start_or_finish_become_blocks(self, observe: Observe) -> None:
        obs = observe(
            [
                ev.start(),
                ev.text(1, "answer"),
                ev.reasoning(0, "thought"),
                ev.finish(),
            ]
        )
        assert obs.content == [
            {"type": "reasoning", "reasoning": "thought", "index": 0},
            {"type": "text", "text": "answer", "index": 1},
        ]

    def test_started_but_empty_text_block_is_kept(self, observe: Observe) -> None:
        obs = observe([ev.start(), ev.text_start(0), ev.finish()])
        assert obs.content == [{"type": "text", "text": "", "index": 0}]


# ---------------------------------------------------------------------------
# Input events are never mutated
# ---------------------------------------------------------------------------


def rich_message() -> list[Event]:
    """Every path through the accumulator, legacy shapes included."""
    return [
        ev.start("m", provider="p", model="x"),
        ev.block_start(0, {"type": "reasoning", "reasoning": "r", "extras": {"signature": "s"}}),
        ev.reasoning(0, "r2"),
        ev.block_finish(0, {"type": "reasoning", "reasoning": "rr2", "extras": {"signature": "s"}}),
        ev.text_start(1, "Hi"),
        ev.text(1, " you"),
        ev.block_finish(
            1, {"type": "text", "text": "Hi you!", "annotations": [{"type": "citation"}]}
        ),
        ev.tool_start(2, "a", "f", args='{"x"', provider_index=0),
        ev.tool_args(2, ": 1}"),
        snapshot_delta(3, id="b", name="g", args="{"),
        snapshot_delta(3, args='{"y": [1]}'),
        ev.block_start(4, {"type": "server_tool_call_chunk", "id": "s", "name": "w", "args": "{"}),
        ev.tool_args(4, "}"),
        ev.block_finish(
            5, {"type": "tool_call", "id": "c", "name": "h", "args": {"z": {"deep": 1}}}
        ),
        ev.block_finish(6, {"type": "tool_call_chunk", "id": "d", "name": "k", "args": '{"w": 2}'}),
        {
            "event": "content-block-delta",
            "index": 7,
            "content_block": {"type": "text", "text": "legacy"},
        },
        {
            "event": "content-block-delta",
            "index": 8,
            "content_block": {
                "type": "tool_call_chunk",
                "id": "e",
                "name": "m",
                "args": "{}",
                "index": 3,
            },
        },
        {
            "event": "content-block-finish",
            "index": 9,
            "content_block": {"type": "image", "url": "u"},
        },
        ev.block_start(10, {"type": "text", "text": "open"}),
        delta(10, {"type": "data-delta", "data": "AA=="}),
        delta(10, {"type": "mystery-delta", "x": [1]}),
        {"event": "mystery-event", "x": {"y": 1}},
        ev.block_finish(None, {"type": "non_standard", "value": {"k": [1, 2]}}),
        {
            "event": "message-finish",
            "usage": {"input_tokens": 1, "input_token_details": {"cache_read": 1}},
            "metadata": {"finish_reason": "stop", "output_version": "responses/v1"},
            "additional_kwargs": {"k": {"v": 1}},
        },
    ]


class TestInputsAreNotMutated:
    def test_dispatch_and_every_read_leave_the_input_events_unchanged(
        self, observe: Observe
    ) -> None:
        events = rich_message()
        before = copy.deepcopy(events)
        obs = observe(events)
        assert events == before
        # The replay hands back the events as they were dispatched.
        assert obs.events == before
        # Sanity: the message really went through those paths.
        assert obs.text == "Hi you!legacyopen"
        assert {tc["id"] for tc in obs.tool_calls} == {"a", "b", "c", "d", "e"}


def test_a_server_call_with_invalid_args_stays_out_of_the_client_calls() -> None:
    stream = ChatModelStream()
    for event in (
        {"event": "message-start", "role": "ai"},
        {
            "event": "content-block-start",
            "index": 0,
            "content": {"type": "server_tool_call_chunk", "id": "srv_1", "name": "web_search"},
        },
        {
            "event": "content-block-delta",
            "index": 0,
            "delta": {"type": "tool-call-delta", "args": '{"q": "cut'},
        },
        {"event": "message-finish"},
    ):
        stream.dispatch(event)
    message = stream.output
    assert message.invalid_tool_calls == []
    assert message.tool_calls == []
    assert isinstance(message.content, list)
    [block] = message.content
    assert block["type"] == "non_standard"
    value = block["value"]
    assert (value["type"], value["id"], value["name"], value["args"]) == (
        "server_tool_call",
        "srv_1",
        "web_search",
        '{"q": "cut',
    )
    assert "not valid JSON" in value["error"]
