"""``DemoModel``: an offline, deterministic chat model (provider ``"demo"``).

The reply is planned by one pure function, :func:`plan_reply` (messages in,
the complete list of protocol events out, no I/O, no randomness); the model's
sync and async sources only replay that plan, pausing after each delta to
imitate a real model's token rate. What it answers:

- a question about the weather in a city: reasoning, a short text, then a
  ``get_weather`` tool call whose arguments stream as JSON fragments;
- a turn ending in tool results: an answer built from those results;
- simple arithmetic: the computation, evaluated safely with ``ast``;
- a greeting or thanks: a short reply saying what this model is;
- anything else: a reply that names the prompt's topic, says an offline demo
  cannot answer it, and suggests what it can show.

A system message asking for brevity shortens the reply; one giving a name
("You are Ada") makes the model introduce itself by that name.
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import json
import math
import operator
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._errors import InvalidInputError
from .._messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from ._base import ChatModel

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

    from .._messages import Message
    from ._callbacks import CallbackHandler

__all__ = ["WEATHER_TOOL", "DemoModel", "plan_reply", "signature"]

Event = dict[str, Any]

# Looked up at call time, so that tests can count the pauses instead of waiting.
_sleep: Callable[[float], None] = time.sleep
_asleep: Callable[[float], Any] = asyncio.sleep

_REAL_MODEL_HINT = "--model openai:gpt-4o-mini"
_PARAMS = ("temperature", "max_tokens", "reasoning", "tools")
_SIGNATURE_PREFIX = "demo1."

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
"""The tool the demo model may call when a request offers no ``tools``."""


class DemoModel(ChatModel):
    """A chat model that runs offline and answers deterministically.

    ``tokens_per_second`` paces the reply: the source pauses
    ``1 / tokens_per_second`` seconds after each delta (``0``: no pauses at
    all). ``reasoning`` says whether replies begin with a reasoning block.

    Per-call params: ``temperature`` (accepted, and ignored: the replies are
    the same at any temperature), ``max_tokens`` (a budget for all deltas,
    reasoning included; a reply cut short finishes with ``finish_reason``
    ``"length"``), ``reasoning`` (overrides the constructor's) and ``tools``
    (JSON-schema tool definitions, OpenAI or Anthropic shape: the model calls
    only a tool offered there; without ``tools`` it may call
    :data:`WEATHER_TOOL`). Any other param, or a malformed one, fails the
    stream with a ``StreamError`` caused by ``InvalidInputError``.
    """

    provider: str = "demo"

    def __init__(
        self,
        *,
        model: str = "demo-1",
        tokens_per_second: float = 40.0,
        reasoning: bool = True,
        callbacks: Sequence[CallbackHandler] = (),
        first_event_timeout: float | None = None,
        idle_timeout: float | None = None,
        total_timeout: float | None = None,
    ) -> None:
        if (
            isinstance(tokens_per_second, bool)
            or not isinstance(tokens_per_second, (int, float))
            or not math.isfinite(tokens_per_second)
            or tokens_per_second < 0
        ):
            msg = f"tokens_per_second must be a finite number >= 0, got {tokens_per_second!r}"
            raise ValueError(msg)
        super().__init__(
            model=model,
            callbacks=callbacks,
            first_event_timeout=first_event_timeout,
            idle_timeout=idle_timeout,
            total_timeout=total_timeout,
        )
        self.tokens_per_second = float(tokens_per_second)
        self.reasoning = reasoning

    # The pause comes after each delta (the next token is being generated), so
    # consumers act on a delta before the finish events that follow it.

    async def _astream(self, messages: list[Message], **params: Any) -> AsyncIterator[Event]:
        delay = self._delay()
        for event in self._plan(messages, params):
            yield event
            if delay and event["event"] == "content-block-delta":
                await _asleep(delay)

    def _stream(self, messages: list[Message], **params: Any) -> Iterator[Event]:
        delay = self._delay()
        for event in self._plan(messages, params):
            yield event
            if delay and event["event"] == "content-block-delta":
                _sleep(delay)

    def _delay(self) -> float:
        return 1.0 / self.tokens_per_second if self.tokens_per_second else 0.0

    def _plan(self, messages: list[Message], params: dict[str, Any]) -> list[Event]:
        unknown = sorted(set(params) - set(_PARAMS))
        if unknown:
            msg = f"DemoModel does not accept {', '.join(unknown)}; it takes {', '.join(_PARAMS)}"
            raise InvalidInputError(msg)
        temperature = params.get("temperature")
        if temperature is not None and (
            isinstance(temperature, bool)
            or not isinstance(temperature, (int, float))
            or temperature < 0
        ):
            msg = f"temperature must be a number >= 0, got {temperature!r}"
            raise InvalidInputError(msg)
        reasoning = params.get("reasoning", self.reasoning)
        if not isinstance(reasoning, bool):
            msg = f"reasoning must be True or False, got {reasoning!r}"
            raise InvalidInputError(msg)
        return plan_reply(
            messages,
            model=self.model,
            reasoning=reasoning,
            tools=params.get("tools"),
            max_tokens=params.get("max_tokens"),
        )


# ---------------------------------------------------------------------------
# The plan: messages in, events out
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reply:
    reasoning: str
    text: str
    call: tuple[str, dict[str, Any]] | None = None
    """``(tool name, arguments)`` when the reply ends with a tool call."""


@dataclass(frozen=True)
class _Style:
    brief: bool = False
    name: str | None = None


def plan_reply(
    messages: Sequence[Message],
    *,
    model: str = "demo-1",
    reasoning: bool = True,
    tools: Sequence[Mapping[str, Any]] | None = None,
    max_tokens: int | None = None,
) -> list[Event]:
    """Every protocol event of the demo model's reply to ``messages``, in order.

    Deterministic: equal arguments give equal events. The events are
    ``message-start``; then the reasoning block (when ``reasoning``), the
    text block and the tool-call block if any, each as start, deltas, finish;
    then ``message-finish`` with usage and ``finish_reason``. ``tools`` limits
    which tools may be called (``None``: :data:`WEATHER_TOOL` only);
    ``max_tokens`` caps the number of deltas of all blocks together. Raises
    ``InvalidInputError`` for malformed ``tools`` or ``max_tokens``, a tool
    result that answers no call of the preceding AI message, or a demo
    reasoning block whose signature does not match its text.
    """
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        msg = f"max_tokens must be a positive int, got {max_tokens!r}"
        raise InvalidInputError(msg)
    offered = _offered_tools(tools)
    _check_signatures(messages)
    reply = _respond(messages, offered, _style(messages))
    return _events(reply, messages, model=model, reasoning=reasoning, max_tokens=max_tokens)


def _respond(messages: Sequence[Message], tools: dict[str, Any] | None, style: _Style) -> _Reply:
    results: list[ToolMessage] = []
    for message in reversed(messages):
        if not isinstance(message, ToolMessage):
            break
        results.insert(0, message)
    if results:
        return _tool_results_reply(messages, results)
    human = next((m for m in reversed(messages) if isinstance(m, HumanMessage)), None)
    if human is None:
        return _Reply(
            "There is no user message in the conversation, so there is nothing to answer yet.",
            "There's no question for me to answer yet: send a user message.",
        )
    prompt = " ".join(human.text.split())
    if not prompt:
        return _Reply(
            "The user's message has no text. I only read text, so I'll say so.",
            "Your message has no text I can read: I'm the offline demo model and see no "
            "images or files.",
        )
    if re.search(r"\b(weather|forecast|rain|raining|snow|snowing)\b", prompt, re.IGNORECASE):
        return _weather_reply(prompt, tools)
    arithmetic = _arithmetic_reply(prompt)
    if arithmetic is not None:
        return arithmetic
    small_talk = _small_talk_reply(prompt, style)
    if small_talk is not None:
        return small_talk
    return _general_reply(prompt, style)


# -- weather and tools ---------------------------------------------------------

# Word lists here are written as prose, split (hence the noqa), to stay readable.
# Words that end a city name: "weather in Tokyo today", "in New York right now".
_NOT_CITY = frozenset(
    """today tonight tomorrow yesterday now right currently this next these the week weekend
    morning afternoon evening please like be going and or is was will at on for with""".split()  # noqa: SIM905
)
# The lookahead consumes nothing, so "for the weekend in Rome" still reaches "in Rome".
_CITY_AFTER = re.compile(r"\b(?:in|for|at)\s+(?=((?:[^\W\d_][\w.'-]*\s*){1,3}))", re.IGNORECASE)
_CITY_BEFORE = re.compile(r"\b([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)(?:'s)?\s+(?:weather|forecast)\b")


def _city(prompt: str) -> str | None:
    for match in _CITY_AFTER.finditer(prompt):
        words: list[str] = []
        for raw in match.group(1).split():
            word = raw.strip(".'-")
            if not word or word.lower() in _NOT_CITY:
                break
            words.append(word.capitalize() if word.islower() else word)
        if words:
            return " ".join(words)
    before = _CITY_BEFORE.search(prompt)
    return before.group(1) if before else None


def _offered_tools(tools: object) -> dict[str, Any] | None:
    """``{name: parameters schema}`` of the offered tools; ``None`` when none were passed."""
    if tools is None:
        return None
    if isinstance(tools, (str, bytes, Mapping)) or not isinstance(tools, Sequence):
        msg = f"tools must be a list of tool definitions, got {type(tools).__name__}"
        raise InvalidInputError(msg)
    offered: dict[str, Any] = {}
    for i, tool in enumerate(tools):
        if not isinstance(tool, Mapping):
            msg = f"tools[{i}]: expected a dict, got {type(tool).__name__}"
            raise InvalidInputError(msg)
        function = tool.get("function")
        spec = function if isinstance(function, Mapping) else tool  # OpenAI nests it
        name = spec.get("name")
        if not isinstance(name, str) or not name:
            msg = f"tools[{i}]: a tool needs a 'name'"
            raise InvalidInputError(msg)
        offered[name] = spec.get("parameters", spec.get("input_schema"))
    return offered


def _weather_tool(tools: dict[str, Any] | None) -> tuple[str, Any] | None:
    if tools is None:
        function = WEATHER_TOOL["function"]
        return function["name"], function["parameters"]
    if "get_weather" in tools:
        return "get_weather", tools["get_weather"]
    for name, schema in tools.items():
        if "weather" in name.lower():
            return name, schema
    return None


def _weather_args(city: str, schema: object) -> dict[str, Any]:
    """Arguments that fit the tool's schema: the city under the key it declares."""
    properties = schema.get("properties") if isinstance(schema, Mapping) else None
    if not isinstance(properties, Mapping) or not properties:
        return {"city": city, "unit": "celsius"}
    key = next((k for k in ("city", "location", "place", "q") if k in properties), None)
    if key is None:
        key = next(iter(properties))
    args: dict[str, Any] = {key: city}
    if "unit" in properties:
        args["unit"] = "celsius"
    return args


def _weather_reply(prompt: str, tools: dict[str, Any] | None) -> _Reply:
    city = _city(prompt)
    if city is None:
        return _Reply(
            "The user asks about the weather but names no place. I need a city before I can "
            "look anything up, so I'll ask for one.",
            "Which city should I check the weather for?",
        )
    tool = _weather_tool(tools)
    if tool is None:
        offered = _and_list([f"`{name}`" for name in tools or {}])
        have = f"the tools I was given ({offered}) include none" if offered else "I have no tools"
        return _Reply(
            f"The user wants the current weather in {city}. I have no live data, and {have} "
            "that provides weather, so I can't look it up and shouldn't guess.",
            f"I can't check the weather in {city}: {have} that provides weather data.",
        )
    name, schema = tool
    args = _weather_args(city, schema)
    shown = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in args.items())
    return _Reply(
        f"The user wants the current weather in {city}. I have no live data of my own, and "
        "weather changes by the hour, so an answer from memory would be a guess. "
        f"The {name} tool can fetch it: I'll call it with {shown}, then answer from its "
        "result.",
        f"Let me check the **current weather** in {city} with `{name}`.",
        (name, args),
    )


def _tool_results_reply(messages: Sequence[Message], results: list[ToolMessage]) -> _Reply:
    first = len(messages) - len(results)
    asked = messages[first - 1] if first > 0 else None
    calls = {c["id"]: c for c in asked.tool_calls} if isinstance(asked, AIMessage) else {}
    sentences: list[str] = []
    notes: list[str] = []
    for offset, result in enumerate(results):
        call = calls.get(result.tool_call_id)
        if call is None:
            msg = (
                f"input[{first + offset}]: this tool result answers call "
                f"{result.tool_call_id!r}, but the AI message before it made no call with that id"
            )
            raise InvalidInputError(msg)
        sentence, note = _use_result(call["name"], call["args"], result)
        sentences.append(sentence)
        notes.append(note)
    return _Reply(
        " ".join(notes) + " I'll answer in one sentence and say where it came from.",
        " ".join(sentences),
    )


_TEMPERATURE_KEYS = ("temperature", "temp", "temp_c", "temperature_c")
_CONDITION_KEYS = ("conditions", "condition", "description", "summary", "weather")
_UNIT_SYMBOLS = {"celsius": "°C", "c": "°C", "fahrenheit": "°F", "f": "°F", "kelvin": "K"}


def _use_result(name: str, args: Mapping[str, Any], result: ToolMessage) -> tuple[str, str]:
    """The answer's sentence for one tool result, and a reasoning note about it.

    A JSON object with a temperature or conditions field is read as a weather
    report; any other object is listed, and anything else quoted.
    """
    content = result.text.strip()
    try:
        data = json.loads(content) if result.status == "success" else None
    except ValueError:
        data = None
    report = data if isinstance(data, Mapping) else {}
    place = args.get("city") or args.get("location") or report.get("city") or report.get("location")
    city = place if isinstance(place, str) and place else None
    in_city = f" in {city}" if city else ""
    if result.status == "error":
        what = "the weather" if "weather" in name.lower() else "that"
        return (
            f"The {name} call failed ({_clip(content) or 'no details'}), so I can't tell you "
            f"{what}{in_city} right now.",
            f"The {name} call failed.",
        )
    if not isinstance(data, Mapping):
        for_city = f", for {city}" if city else ""
        return (
            f'According to {name}{for_city}: "{_clip(content)}".',
            f"The {name} result is plain text, so I'll quote it.",
        )
    temperature = next((data[k] for k in _TEMPERATURE_KEYS if k in data), None)
    conditions = next((data[k] for k in _CONDITION_KEYS if isinstance(data.get(k), str)), None)
    unit = str(data.get("unit") or args.get("unit") or "")
    facts: list[str] = []
    if isinstance(temperature, (int, float)) and not isinstance(temperature, bool):
        symbol = _UNIT_SYMBOLS.get(unit.lower(), unit)
        facts.append(f"{temperature:g} {symbol}" if symbol else f"{temperature:g}°")
    if conditions:
        facts.append(conditions.lower())
    if facts:
        said = " and ".join(facts)
        return (
            f"According to {name}, it is {said}{in_city}.",
            f"The {name} result says {said}{in_city}.",
        )
    fields = _clip(", ".join(f"{k}: {v}" for k, v in data.items())) or "nothing"
    return (
        f"{name} returned {fields}{f' for {city}' if city else ''}.",
        f"The {name} result has no temperature or conditions, so I'll list what it has.",
    )


# -- arithmetic ------------------------------------------------------------------

_WORD_OPERATORS = (
    (r"\bmultiplied by\b|\btimes\b", "*"),
    (r"\bdivided by\b|\bover\b", "/"),
    (r"\bplus\b", "+"),
    (r"\bminus\b", "-"),
    (r"\bto the power of\b", "**"),
    (r"\bmod(?:ulo)?\b", "%"),
    (r"(?<=[\d)])\s*[x\u00d7]\s*(?=[\d(])", " * "),
    (r"\u00f7", "/"),
    (r"\^", "**"),
)
_EXPRESSION = re.compile(r"(?:(?<![\w)])-)?[\d.(][\d.\s+\-*/%()]*")
_HAS_OPERATOR = re.compile(r"[\d.)]\s*(?:\*\*|//|[-+*/%])\s*[-\d.(]")
_MATH_CUE = re.compile(
    r"\b(what(?:'s|\s+is)|calculate|compute|evaluate|solve|how\s+much)\b|=", re.IGNORECASE
)
_OPERATORS: dict[type[ast.operator], tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("+", operator.add),
    ast.Sub: ("-", operator.sub),
    ast.Mult: ("*", operator.mul),
    ast.Div: ("/", operator.truediv),
    ast.FloorDiv: ("//", operator.floordiv),
    ast.Mod: ("%", operator.mod),
    ast.Pow: ("**", operator.pow),
}
_MAX_EXPONENT = 64
_MAX_BITS = 4096  # about 1,200 digits: big enough to show off, small enough to print


class _NotArithmetic(Exception):
    """The expression holds something other than numbers and operators."""


class _MathError(Exception):
    """The expression is arithmetic, but has no answer worth computing."""


def _expression(prompt: str) -> str | None:
    text = prompt
    for pattern, replacement in _WORD_OPERATORS:
        text = re.sub(pattern, replacement, text, flags=re.IGNORECASE)
    best = ""
    for match in _EXPRESSION.finditer(text):
        candidate = match.group().strip().rstrip(".")
        while candidate.count(")") > candidate.count("(") and candidate.endswith(")"):
            candidate = candidate[:-1].rstrip()
        while candidate.count("(") > candidate.count(")") and candidate.startswith("("):
            candidate = candidate[1:].lstrip()
        if _HAS_OPERATOR.search(candidate) and len(candidate) > len(best):
            best = candidate
    if not best:
        return None
    # A bare "2024-05-01" or "555-1234" inside a sentence is not a sum to do.
    if not _MATH_CUE.search(prompt) and len(best) < len(prompt.rstrip("?!. ")) / 2:
        return None
    return best


def _number(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.12g}"
    return str(value)


def _evaluate(node: ast.expr, steps: list[str]) -> float:
    """Evaluate numbers and + - * / // % ** (small exponents) and nothing else."""
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        raise _NotArithmetic
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        operand = _evaluate(node.operand, steps)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        symbol, function = _OPERATORS[type(node.op)]
        left = _evaluate(node.left, steps)
        right = _evaluate(node.right, steps)
        if isinstance(node.op, ast.Pow):
            if abs(right) > _MAX_EXPONENT or (
                isinstance(left, int) and abs(left) > 1 and left.bit_length() * right > _MAX_BITS
            ):
                raise _MathError("the result is too large to compute here")
            if left < 0 and not float(right).is_integer():
                raise _MathError("a negative number to a fractional power is not a real number")
        try:
            result = function(left, right)
        except ZeroDivisionError:
            raise _MathError("it divides by zero") from None
        except OverflowError:
            raise _MathError("the result is too large to compute here") from None
        if (isinstance(result, int) and result.bit_length() > _MAX_BITS) or (
            isinstance(result, float) and not math.isfinite(result)
        ):
            raise _MathError("the result is too large to compute here")
        steps.append(f"{_number(left)} {symbol} {_number(right)} = {_number(result)}")
        return float(result) if isinstance(result, float) else int(result)
    raise _NotArithmetic


def _arithmetic_reply(prompt: str) -> _Reply | None:
    source = _expression(prompt)
    if source is None:
        return None
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        return None
    shown = ast.unparse(tree.body)
    steps: list[str] = []
    try:
        value = _evaluate(tree.body, steps)
    except _NotArithmetic:
        return None
    except _MathError as exc:
        return _Reply(
            f"The user wants {shown} worked out. Evaluating it: {exc}, so there is no number "
            "to give.",
            f"{shown} has no answer I can give: {exc}.",
        )
    if len(steps) > 1:
        working = "Step by step: " + "; then ".join(steps) + "."
    else:
        working = f"Computing it: {steps[0]}." if steps else f"It is just {_number(value)}."
    return _Reply(
        f"The user wants {shown} worked out. This is plain arithmetic, so I can compute it "
        f"exactly instead of guessing. {working} The answer is {_number(value)}.",
        f"{shown} = {_number(value)}.",
    )


# -- greetings, and everything else ------------------------------------------------

_GREETINGS = (
    *("good morning", "good afternoon", "good evening", "hello", "hiya", "hi", "hey"),
    *("howdy", "greetings", "yo"),
)
_THANKS = re.compile(r"^(thanks|thank you|thx|cheers)\b", re.IGNORECASE)
_STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers him his how i if in into is it its
    itself just me more most my no nor not now of off on once only or other our ours out
    over own same she should so some such than that the their them then there these they
    this those through to too under until up very was we were what when where which while
    who whom why will with would you your yours please tell explain describe give show
    write know want like need help think simply briefly quick quickly really thing things
    something anything much many lot lots let make get way ok okay hi hello hey""".split()  # noqa: SIM905
)
# A message starting with one of these asks for something, even without a "?".
_REQUEST_START = re.compile(
    r"^(what|how|why|when|who|whom|where|which|can|could|should|would|is|are|do|does|did|"
    r"will|was|were|please|explain|tell|describe|write|give|show|list|summari[sz]e|compare|"
    r"help|make|create|find|recommend|suggest)\b",
    re.IGNORECASE,
)


def _style(messages: Sequence[Message]) -> _Style:
    system = " ".join(m.text for m in messages if isinstance(m, SystemMessage))
    brief = bool(
        re.search(
            r"\b(brief|briefly|concise|concisely|short|terse|succinct|one sentence|few words)\b",
            system,
            re.IGNORECASE,
        )
    )
    for pattern in (
        r"(?i:\byour name is)\s+([A-Z][\w'-]*)",
        r"(?i:\b(?:named|called))\s+([A-Z][\w'-]*)",
        r"(?i:\byou are|\byou're|\bact as|\bcall yourself)\s+([A-Z][\w'-]*)",
    ):
        match = re.search(pattern, system)
        if match and match.group(1) not in ("A", "An", "The", "I"):
            return _Style(brief, match.group(1))
    return _Style(brief)


def _me(style: _Style) -> str:
    name = f"{style.name}, " if style.name else ""
    return f"I'm {name}streamblocks' offline demo model"


def _small_talk_reply(prompt: str, style: _Style) -> _Reply | None:
    lowered = prompt.lower()
    if _THANKS.match(lowered) and len(prompt.split()) <= 6:
        return _Reply(
            "The user is thanking me. A short, friendly reply is enough.",
            "You're welcome!"
            if style.brief
            else "You're welcome! Ask me anything else to see how the reply streams.",
        )
    greeting = next((g for g in _GREETINGS if re.match(rf"{g}\b", lowered)), None)
    if greeting is None or len(re.findall(r"\w+", lowered[len(greeting) :])) > 3:
        return None
    hello = greeting.capitalize() if greeting not in ("yo", "greetings") else "Hello"
    text = f"{hello}! {_me(style)}: I run locally, need no network, and always answer the same way."
    if not style.brief:
        text += (
            " Ask me about the weather in a city to see a tool call stream in, or give me a "
            "sum like 12 * 7. For real answers, use a real model, for example "
            f"`{_REAL_MODEL_HINT}`."
        )
    return _Reply(
        "The user says hello. I'll greet them back, say that I'm the offline demo model, and "
        "suggest what to try.",
        text,
    )


def _topics(prompt: str) -> list[str]:
    """Runs of consecutive content words ("quantum entanglement"), first three, deduplicated."""
    runs: list[list[str]] = [[]]
    for word in re.findall(r"[^\W_][\w'-]*", prompt):
        if word.lower() in _STOPWORDS or (len(word) < 3 and not word.isdigit()):
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(word)
    topics: list[str] = []
    for run in runs:
        topic = " ".join(run)
        if topic and topic.lower() not in (t.lower() for t in topics):
            topics.append(topic)
    return topics[:3]


def _general_reply(prompt: str, style: _Style) -> _Reply:
    topics = _topics(prompt)
    asked = "asked" if prompt.endswith("?") or _REQUEST_START.match(prompt) else "wrote"
    subject = _and_list([f"“{t}”" for t in topics]) if topics else f"“{_clip(prompt, 60)}”"
    text = (
        f"You {asked} about {subject}. {_me(style)}, with no knowledge base and no web "
        f"access, so I can't give you a real answer; a real model can (try "
        f"`{_REAL_MODEL_HINT}`)."
    )
    if not style.brief:
        text += (
            " What I can show is how a reply streams: reasoning first, then text, then tool "
            "calls whose arguments arrive in JSON fragments. Ask “What's the weather in "
            "Paris?” to see one, or give me a sum like 12 * 7."
        )
    return _Reply(
        f"The message is about {subject}. I'm an offline demo model with no web access and no "
        "knowledge base, so any facts I gave would be made up. The honest answer says so and "
        "points to what this model can demonstrate instead.",
        text,
    )


def _and_list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _clip(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# -- events ----------------------------------------------------------------------


def signature(reasoning: str) -> str:
    """The demo model's signature over a reasoning text (as Anthropic signs thinking)."""
    return _SIGNATURE_PREFIX + hashlib.sha256(reasoning.encode()).hexdigest()[:32]


def _check_signatures(messages: Sequence[Message]) -> None:
    """Reject a demo-signed reasoning block that was altered before being sent back."""
    for i, message in enumerate(messages):
        if not isinstance(message, AIMessage) or isinstance(message.content, str):
            continue
        for block in message.content:
            if block["type"] != "reasoning":
                continue
            sig = block.get("extras", {}).get("signature")
            if (
                isinstance(sig, str)
                and sig.startswith(_SIGNATURE_PREFIX)
                and sig != signature(block.get("reasoning", ""))
            ):
                msg = (
                    f"input[{i}]: a reasoning block's signature does not match its text; "
                    "pass the demo model's reasoning back unchanged"
                )
                raise InvalidInputError(msg)


_PIECE = re.compile(r"\s*\S+|\s+")
_LONG_WORD = 8  # longer words are split into pieces of about _PIECE_SIZE characters
_PIECE_SIZE = 6
_FRAGMENT_SIZES = (5, 8, 6, 9)


def _pieces(text: str) -> list[str]:
    """``text`` as word pieces (a word with its leading space; long words split)."""
    pieces: list[str] = []
    for match in _PIECE.finditer(text):
        chunk = match.group()
        word = chunk.lstrip()
        if len(word) <= _LONG_WORD:
            pieces.append(chunk)
            continue
        count = -(-len(word) // _PIECE_SIZE)
        size = -(-len(word) // count)
        parts = [word[i : i + size] for i in range(0, len(word), size)]
        parts[0] = chunk[: len(chunk) - len(word)] + parts[0]
        pieces.extend(parts)
    return pieces


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _fragments(text: str) -> list[str]:
    """``text`` in fragments none of which, but the last, is valid JSON by itself,
    as providers stream tool-call arguments."""
    fragments: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + _FRAGMENT_SIZES[len(fragments) % len(_FRAGMENT_SIZES)], len(text))
        while end < len(text) and _is_json(text[start:end]):
            end += 1
        fragments.append(text[start:end])
        start = end
    return fragments


def _words(message: Message) -> int:
    text = message.text
    if isinstance(message, AIMessage):
        text += " " + message.reasoning
        text += " ".join(json.dumps(call["args"]) for call in message.tool_calls)
    return len(text.split())


def _block(index: int, kind: str, pieces: list[str], final: dict[str, Any]) -> list[Event]:
    """Start, deltas and finish of one block; ``final`` is the finish's content."""
    if kind == "reasoning":
        opening: dict[str, Any] = {"type": "reasoning", "reasoning": ""}
        delta = {"type": "reasoning-delta", "reasoning": ""}
    elif kind == "text":
        opening = {"type": "text", "text": ""}
        delta = {"type": "text-delta", "text": ""}
    else:
        opening = {"type": "tool_call_chunk", "id": final["id"], "name": final["name"]}
        opening.update(args="", index=0)
        delta = {"type": "tool-call-delta", "args": ""}
    field = next(k for k in delta if k != "type")
    return [
        {"event": "content-block-start", "index": index, "content": opening},
        *(
            {"event": "content-block-delta", "index": index, "delta": {**delta, field: piece}}
            for piece in pieces
        ),
        {"event": "content-block-finish", "index": index, "content": final},
    ]


def _events(
    reply: _Reply,
    messages: Sequence[Message],
    *,
    model: str,
    reasoning: bool,
    max_tokens: int | None,
) -> list[Event]:
    planned: list[tuple[str, list[str]]] = []
    if reasoning and reply.reasoning:
        planned.append(("reasoning", _pieces(reply.reasoning)))
    planned.append(("text", _pieces(reply.text)))
    arguments = ""
    if reply.call is not None:
        arguments = json.dumps(reply.call[1], ensure_ascii=False)
        planned.append(("tool", _fragments(arguments)))

    events: list[Event] = [
        {"event": "message-start", "role": "ai", "metadata": {"provider": "demo", "model": model}}
    ]
    room = max_tokens if max_tokens is not None else sum(len(p) for _, p in planned)
    emitted: dict[str, int] = {}
    truncated = False
    # Blocks are emitted in order, and the budget runs out in at most one of
    # them, so the emitted blocks are a prefix of the plan and ``index`` is dense.
    for index, (kind, pieces) in enumerate(planned):
        kept = pieces[:room]
        if not kept:
            truncated = True
            break
        room -= len(kept)
        truncated = len(kept) < len(pieces)
        emitted[kind] = len(kept)
        sent = "".join(kept)
        final: dict[str, Any]
        if kind == "reasoning":
            final = {
                "type": "reasoning",
                "reasoning": sent,
                "extras": {"signature": signature(sent)},
            }
        elif kind == "text":
            final = {"type": "text", "text": sent}
        else:
            assert reply.call is not None
            name, args = reply.call
            history = json.dumps([[m.type, m.text] for m in messages], ensure_ascii=False)
            digest = hashlib.sha256(f"{history}|{name}|{arguments}".encode()).hexdigest()
            final = {"type": "tool_call", "id": f"call_{digest[:24]}", "name": name, "args": args}
            if truncated:
                final = {
                    **final,
                    "type": "invalid_tool_call",
                    "args": sent,
                    "error": "the arguments were cut off at max_tokens",
                }
        events.extend(_block(index, kind, kept, final))
        if truncated:
            break

    output = sum(emitted.values())
    input_tokens = sum(_words(m) for m in messages)
    usage: dict[str, Any] = {
        "input_tokens": input_tokens,
        "output_tokens": output,
        "total_tokens": input_tokens + output,
    }
    if "reasoning" in emitted:
        usage["output_token_details"] = {"reasoning": emitted["reasoning"]}
    if truncated:
        finish_reason = "length"
    elif reply.call is not None:
        finish_reason = "tool_calls"
    else:
        finish_reason = "stop"
    events.append(
        {
            "event": "message-finish",
            "usage": usage,
            "metadata": {"finish_reason": finish_reason, "model_name": model},
        }
    )
    return events
