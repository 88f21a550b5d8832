"""The offline ``DemoModel``: deterministic replies, tool calls, pacing, and ``make demo``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from streamblocks import AIMessage, StreamError, validate_event
from streamblocks._errors import InvalidInputError
from streamblocks._messages import HumanMessage, SystemMessage, ToolMessage, to_messages
from streamblocks.models import DemoModel, init_chat_model
from streamblocks.models import _demo as demo
from streamblocks.models._demo import plan_reply, signature

WEATHER = "What's the weather in Paris?"
WEATHER_RESULT = json.dumps({"temperature": 18, "unit": "celsius", "conditions": "Sunny"})


def plan(prompt: str | list[Any], **kwargs: Any) -> list[dict[str, Any]]:
    return plan_reply(to_messages(prompt), **kwargs)


def deltas(events: list[dict[str, Any]], kind: str) -> list[str]:
    field = {"reasoning-delta": "reasoning", "text-delta": "text", "tool-call-delta": "args"}[kind]
    return [
        e["delta"][field]
        for e in events
        if e["event"] == "content-block-delta" and e["delta"]["type"] == kind
    ]


def finish(events: list[dict[str, Any]]) -> dict[str, Any]:
    assert events[-1]["event"] == "message-finish"
    return events[-1]


@pytest.fixture
def model() -> DemoModel:
    return DemoModel(tokens_per_second=0)


def weather_turn(model: DemoModel) -> tuple[AIMessage, str]:
    message = model.invoke(WEATHER)
    return message, message.tool_calls[0]["id"] or ""


# -- determinism and relevance -------------------------------------------------------


@pytest.mark.parametrize("prompt", [WEATHER, "what is 12 * 7?", "hello", "Explain monads"])
def test_the_same_prompt_gives_the_same_events(prompt: str) -> None:
    assert plan(prompt) == plan(prompt)


def test_the_same_prompt_gives_the_same_message(model: DemoModel) -> None:
    first, second = model.invoke(WEATHER), model.invoke(WEATHER)
    assert first.content == second.content
    assert first.tool_calls == second.tool_calls
    assert first.usage_metadata == second.usage_metadata


TOPICS = {
    "Explain quantum entanglement simply": "quantum entanglement",
    "How do I bake sourdough bread at high altitude?": "sourdough bread",
    "Write a haiku about autumn leaves": "autumn leaves",
    "I think Rust lifetimes are confusing": "Rust lifetimes",
}


def test_different_prompts_get_different_replies_that_mention_them(model: DemoModel) -> None:
    replies = {prompt: model.invoke(prompt) for prompt in TOPICS}
    for prompt, topic in TOPICS.items():
        assert topic in replies[prompt].text, (prompt, replies[prompt].text)
        assert topic in replies[prompt].reasoning
        assert "offline demo model" in replies[prompt].text
    assert len({reply.text for reply in replies.values()}) == len(TOPICS)


def test_every_planned_event_is_valid_protocol() -> None:
    for prompt in [WEATHER, "what is 2 ** 8", "hi", "Explain monads", "rain?"]:
        for event in plan(prompt):
            validate_event(event)


# -- weather: reasoning, text, then a streamed tool call ------------------------------------


@pytest.mark.parametrize(
    ("prompt", "city"),
    [
        ("what's the weather in Paris?", "Paris"),
        ("weather in Tokyo today", "Tokyo"),
        ("WHAT IS THE WEATHER LIKE IN new york RIGHT NOW?", "New York"),
        ("weather for the weekend in Rome", "Rome"),
        ("Lisbon weather?", "Lisbon"),
    ],
)
def test_a_weather_question_calls_get_weather_for_the_city(prompt: str, city: str) -> None:
    message = DemoModel(tokens_per_second=0).invoke(prompt)
    assert message.tool_calls == [
        {
            "type": "tool_call",
            "id": message.tool_calls[0]["id"],
            "name": "get_weather",
            "args": {"city": city, "unit": "celsius"},
        }
    ]
    assert message.text == f"Let me check the **current weather** in {city} with `get_weather`."
    assert city in message.reasoning
    assert "get_weather" in message.reasoning
    assert message.response_metadata["finish_reason"] == "tool_calls"


def test_weather_events_come_in_order_reasoning_text_tool_call() -> None:
    events = plan(WEATHER, model="demo-7")
    assert events[0] == {
        "event": "message-start",
        "role": "ai",
        "metadata": {"provider": "demo", "model": "demo-7"},
    }
    blocks = [
        (e["event"], e["index"], e.get("content", {}).get("type"))
        for e in events
        if e["event"] in ("content-block-start", "content-block-finish")
    ]
    assert blocks == [
        ("content-block-start", 0, "reasoning"),
        ("content-block-finish", 0, "reasoning"),
        ("content-block-start", 1, "text"),
        ("content-block-finish", 1, "text"),
        ("content-block-start", 2, "tool_call_chunk"),
        ("content-block-finish", 2, "tool_call"),
    ]
    kinds = [e["delta"]["type"] for e in events if e["event"] == "content-block-delta"]
    assert kinds == sorted(kinds, key=["reasoning-delta", "text-delta", "tool-call-delta"].index)
    assert finish(events)["metadata"] == {"finish_reason": "tool_calls", "model_name": "demo-7"}


def test_tool_call_arguments_are_valid_json_only_when_joined() -> None:
    fragments = deltas(plan(WEATHER), "tool-call-delta")
    assert len(fragments) >= 3
    assert json.loads("".join(fragments)) == {"city": "Paris", "unit": "celsius"}
    for fragment in fragments:
        with pytest.raises(json.JSONDecodeError):
            json.loads(fragment)


def test_the_tool_call_projection_streams_the_fragments(model: DemoModel) -> None:
    with model.stream_events(WEATHER) as stream:
        chunks = list(stream.tool_calls)
        assert all(c["name"] == "get_weather" for c in chunks)
        assert json.loads("".join(c["args"] or "" for c in chunks))["city"] == "Paris"
        assert stream.tool_calls.get()[0]["args"] == {"city": "Paris", "unit": "celsius"}


def test_reasoning_is_signed_deterministically() -> None:
    events = plan(WEATHER)
    reasoning_finish = next(
        e
        for e in events
        if e["event"] == "content-block-finish" and e["content"]["type"] == "reasoning"
    )
    text = "".join(deltas(events, "reasoning-delta"))
    assert reasoning_finish["content"]["reasoning"] == text
    assert reasoning_finish["content"]["extras"] == {"signature": signature(text)}
    assert signature(text) != signature(text + ".")


def test_usage_counts_input_words_and_output_deltas() -> None:
    events = plan([SystemMessage("Be helpful."), HumanMessage(WEATHER)])
    emitted = sum(e["event"] == "content-block-delta" for e in events)
    reasoning = len(deltas(events, "reasoning-delta"))
    assert finish(events)["usage"] == {
        "input_tokens": 2 + 5,
        "output_tokens": emitted,
        "total_tokens": 7 + emitted,
        "output_token_details": {"reasoning": reasoning},
    }


def test_a_weather_question_without_a_city_asks_for_one(model: DemoModel) -> None:
    message = model.invoke("Will it rain tomorrow?")
    assert message.tool_calls == []
    assert "Which city" in message.text
    assert message.response_metadata["finish_reason"] == "stop"


# -- the second turn: tool results --------------------------------------------------------


def test_a_tool_result_is_used_in_the_answer(model: DemoModel) -> None:
    first, call_id = weather_turn(model)
    result = ToolMessage(WEATHER_RESULT, tool_call_id=call_id, name="get_weather")
    answer = model.invoke([HumanMessage(WEATHER), first, result])
    assert answer.text == "According to get_weather, it is 18 °C and sunny in Paris."
    assert answer.tool_calls == []
    assert answer.response_metadata["finish_reason"] == "stop"
    assert "18 °C" in answer.reasoning


def test_a_plain_text_tool_result_is_quoted(model: DemoModel) -> None:
    first, call_id = weather_turn(model)
    answer = model.invoke([HumanMessage(WEATHER), first, ToolMessage("Drizzle, 11C", call_id)])
    assert answer.text == 'According to get_weather, for Paris: "Drizzle, 11C".'


def test_a_failed_tool_call_is_reported(model: DemoModel) -> None:
    first, call_id = weather_turn(model)
    failed = ToolMessage("service unavailable", call_id, status="error")
    answer = model.invoke([HumanMessage(WEATHER), first, failed])
    assert "failed (service unavailable)" in answer.text
    assert "Paris" in answer.text


def test_openai_style_history_is_understood(model: DemoModel) -> None:
    history = [
        {"role": "user", "content": "weather in Oslo?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": '{"temp": -3, "description": "Snow"}'},
    ]
    assert model.invoke(history).text == "According to get_weather, it is -3° and snow in Oslo."


def test_a_tool_result_for_an_unknown_call_is_rejected(model: DemoModel) -> None:
    first, _ = weather_turn(model)
    with pytest.raises(StreamError) as info:
        model.invoke([HumanMessage(WEATHER), first, ToolMessage("18C", "call_nope")])
    assert isinstance(info.value.__cause__, InvalidInputError)
    assert "call_nope" in str(info.value)


# -- round trip as input -------------------------------------------------------------------


def test_a_demo_reply_round_trips_as_input(model: DemoModel) -> None:
    first, call_id = weather_turn(model)
    assert first.reasoning
    assert first.tool_calls
    result = ToolMessage(WEATHER_RESULT, tool_call_id=call_id)
    for replayed in (first, first.to_dict(), AIMessage.from_dict(first.to_dict())):
        messages = to_messages([{"role": "user", "content": WEATHER}, replayed, result])
        assert isinstance(messages[1], AIMessage)
        assert messages[1].content == first.content
        assert "18 °C" in model.invoke(messages).text


def test_altered_reasoning_is_rejected_like_a_bad_signature(model: DemoModel) -> None:
    first, call_id = weather_turn(model)
    altered = first.to_dict()
    altered["content"][0]["reasoning"] += " (edited)"
    with pytest.raises(StreamError) as info:
        model.invoke([HumanMessage(WEATHER), altered, ToolMessage("18C", call_id)])
    assert isinstance(info.value.__cause__, InvalidInputError)
    assert "signature" in str(info.value)


# -- arithmetic, greetings, system messages -------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "answer", "step"),
    [
        ("what is 12 * 7?", "12 * 7 = 84.", "12 * 7 = 84"),
        ("What's 12 times 7", "12 * 7 = 84.", "12 * 7 = 84"),
        ("calculate (2 + 3) * 4 - 10 / 4", "(2 + 3) * 4 - 10 / 4 = 17.5.", "20 - 2.5 = 17.5"),
        ("2^10", "2 ** 10 = 1024.", "2 ** 10 = 1024"),
        ("what is 17 // 5 + 17 % 5", "17 // 5 + 17 % 5 = 5.", "3 + 2 = 5"),
        ("what is -3 + 5", "-3 + 5 = 2.", "-3 + 5 = 2"),
    ],
)
def test_arithmetic_is_computed_and_shown(
    model: DemoModel, prompt: str, answer: str, step: str
) -> None:
    message = model.invoke(prompt)
    assert message.text == answer
    assert step in message.reasoning


@pytest.mark.parametrize(
    ("prompt", "problem"),
    [("what is 1 / 0", "divides by zero"), ("what is 9 ** 99999", "too large")],
)
def test_arithmetic_without_an_answer_says_why(model: DemoModel, prompt: str, problem: str) -> None:
    assert problem in model.invoke(prompt).text


@pytest.mark.parametrize(
    "prompt",
    ["what is __import__('os').getcwd()", "what is (lambda: 1)()", "call me at 555-1234 please"],
)
def test_anything_but_plain_arithmetic_is_not_evaluated(model: DemoModel, prompt: str) -> None:
    text = model.invoke(prompt).text
    assert "offline demo model" in text
    assert " = " not in text


@pytest.mark.parametrize("prompt", ["hello", "Hi there!", "hey, how are you?", "Good morning"])
def test_a_greeting_introduces_the_demo_model(model: DemoModel, prompt: str) -> None:
    text = model.invoke(prompt).text
    assert "offline demo model" in text
    assert "--model openai:gpt-4o-mini" in text


def test_a_system_message_can_ask_for_brevity_and_a_name(model: DemoModel) -> None:
    plain = model.invoke("Explain monads").text
    brief = model.invoke(
        [SystemMessage("You are Ada. Be concise."), HumanMessage("Explain monads")]
    )
    assert len(brief.text) < len(plain)
    assert "Ada" in brief.text
    assert "monads" in brief.text
    named = model.invoke(
        [SystemMessage("You are a helpful assistant named Bob."), HumanMessage("hi")]
    )
    assert "I'm Bob" in named.text


# -- params ---------------------------------------------------------------------------------


def test_max_tokens_truncates_and_finishes_with_length(model: DemoModel) -> None:
    message = model.invoke("Explain monads", reasoning=False, max_tokens=4)
    full = model.invoke("Explain monads", reasoning=False)
    assert message.response_metadata["finish_reason"] == "length"
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_tokens"] == 4
    assert full.text.startswith(message.text)
    assert len(message.text) < len(full.text)


def test_max_tokens_counts_reasoning_first() -> None:
    events = plan(WEATHER, max_tokens=3)
    assert len(deltas(events, "reasoning-delta")) == 3
    assert deltas(events, "text-delta") == []
    assert finish(events)["metadata"]["finish_reason"] == "length"


def test_max_tokens_inside_the_tool_call_leaves_an_invalid_call(model: DemoModel) -> None:
    events = plan(WEATHER)
    budget = sum(e["event"] == "content-block-delta" for e in events) - 2
    message = model.invoke(WEATHER, max_tokens=budget)
    assert message.tool_calls == []
    assert message.invalid_tool_calls[0]["name"] == "get_weather"
    assert message.response_metadata["finish_reason"] == "length"


def test_a_budget_that_fits_exactly_is_not_truncated(model: DemoModel) -> None:
    events = plan(WEATHER)
    exact = sum(e["event"] == "content-block-delta" for e in events)
    assert plan(WEATHER, max_tokens=exact) == events


@pytest.mark.parametrize(
    ("constructor", "params"), [(False, {}), (True, {"reasoning": False})], ids=["model", "call"]
)
def test_reasoning_can_be_turned_off(constructor: bool, params: dict[str, Any]) -> None:
    model = DemoModel(tokens_per_second=0, reasoning=constructor)
    message = model.invoke(WEATHER, **params)
    assert message.reasoning == ""
    assert isinstance(message.content, list)
    assert [b["type"] for b in message.content] == ["text", "tool_call"]
    assert message.tool_calls[0]["name"] == "get_weather"


def test_per_call_reasoning_overrides_the_constructor() -> None:
    model = DemoModel(tokens_per_second=0, reasoning=False)
    assert model.invoke(WEATHER, reasoning=True).reasoning


def test_temperature_is_accepted_and_changes_nothing(model: DemoModel) -> None:
    assert model.invoke(WEATHER, temperature=1.5).content == model.invoke(WEATHER).content


def test_tools_restrict_what_the_model_calls(model: DemoModel) -> None:
    search = {"name": "search_docs", "description": "Search.", "parameters": {"type": "object"}}
    refused = model.invoke(WEATHER, tools=[search])
    assert refused.tool_calls == []
    assert "search_docs" in refused.text
    assert model.invoke(WEATHER, tools=[]).tool_calls == []

    lookup = {
        "type": "function",
        "function": {
            "name": "weather_lookup",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
        },
    }
    called = model.invoke(WEATHER, tools=[search, lookup])
    assert [(c["name"], c["args"]) for c in called.tool_calls] == [
        ("weather_lookup", {"location": "Paris"})
    ]
    anthropic = {"name": "get_weather", "input_schema": {"type": "object", "properties": {}}}
    assert model.invoke(WEATHER, tools=[lookup, anthropic]).tool_calls[0]["name"] == "get_weather"


@pytest.mark.parametrize(
    "params",
    [{"top_k": 3}, {"max_tokens": 0}, {"reasoning": "yes"}, {"tools": "get_weather"}],
)
def test_bad_params_fail_the_stream_with_invalid_input(
    model: DemoModel, params: dict[str, Any]
) -> None:
    with pytest.raises(StreamError) as info:
        model.invoke(WEATHER, **params)
    assert isinstance(info.value.__cause__, InvalidInputError)


@pytest.mark.parametrize("rate", [-1, float("nan"), float("inf"), True])
def test_tokens_per_second_must_be_a_finite_non_negative_number(rate: float) -> None:
    with pytest.raises(ValueError, match="tokens_per_second"):
        DemoModel(tokens_per_second=rate)


# -- pacing ---------------------------------------------------------------------------------


def test_sync_pacing_sleeps_once_per_delta(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(demo, "_sleep", slept.append)
    model = DemoModel(tokens_per_second=25)
    with model.stream_events(WEATHER) as stream:
        events = list(stream)
    assert len(slept) == sum(e["event"] == "content-block-delta" for e in events) > 0
    assert set(slept) == {1 / 25}


async def test_async_pacing_sleeps_once_per_delta(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(demo, "_asleep", fake_sleep)
    model = DemoModel(tokens_per_second=50)
    stream = await model.astream_events(WEATHER)
    async with stream:
        events = [event async for event in stream]
    assert len(slept) == sum(e["event"] == "content-block-delta" for e in events) > 0
    assert set(slept) == {1 / 50}


async def test_zero_tokens_per_second_never_sleeps(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(seconds: float) -> None:
        raise AssertionError("slept")

    monkeypatch.setattr(demo, "_sleep", forbidden)
    monkeypatch.setattr(demo, "_asleep", forbidden)
    model = DemoModel(tokens_per_second=0)
    model.invoke(WEATHER)
    await model.ainvoke(WEATHER)


# -- sync and async agree -------------------------------------------------------------------


def comparable(message: AIMessage) -> dict[str, Any]:
    data = message.to_dict()
    del data["id"]  # the run id, unique per run
    return data


@pytest.mark.parametrize("prompt", [WEATHER, "what is 6 * 7", "Explain monads"])
async def test_sync_and_async_paths_give_the_same_message(model: DemoModel, prompt: str) -> None:
    expected = comparable(model.invoke(prompt))
    with model.stream_events(prompt) as stream:
        assert comparable(stream.output) == expected
    assert comparable(await model.ainvoke(prompt)) == expected
    astream = await model.astream_events(prompt)
    async with astream:
        assert comparable(await astream) == expected


# -- the registry ---------------------------------------------------------------------------


def test_init_chat_model_builds_the_demo_model() -> None:
    default = init_chat_model("demo")
    assert isinstance(default, DemoModel)
    assert (default.provider, default.model) == ("demo", "demo-1")
    named = init_chat_model("demo:demo-2", tokens_per_second=0)
    assert isinstance(named, DemoModel)
    assert (named.model, named.tokens_per_second) == ("demo-2", 0.0)
    assert named.invoke("hi").response_metadata["model_name"] == "demo-2"


@pytest.mark.parametrize("spec", ["nopenai:gpt-4o-mini", "", "nope", "demo:"])
def test_init_chat_model_rejects_unknown_specs(spec: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        init_chat_model(spec)
    if spec != "demo:":
        assert "known providers: anthropic, deepseek, demo" in str(info.value)


def test_init_chat_model_rejects_a_model_named_twice() -> None:
    with pytest.raises(InvalidInputError, match="already names"):
        init_chat_model("demo:a", model="b")


# -- make demo ------------------------------------------------------------------------------


def test_the_demo_script_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streamblocks._demo"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=30,
        check=False,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert result.returncode == 0, result.stderr
    assert "get_weather" in result.stdout
    assert "Paris" in result.stdout
    assert "According to get_weather, it is 18 °C and sunny in Paris." in result.stdout
