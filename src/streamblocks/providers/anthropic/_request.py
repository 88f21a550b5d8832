"""The ``/v1/messages`` request body for a streaming Anthropic request.

Anthropic differs from the OpenAI shape in a few ways that matter here:

- system instructions are a top-level ``system`` field, not a message (every
  system message, wherever it stands, is joined into it);
- roles must alternate, so consecutive messages of the same role (a run of
  tool results, say) merge into one message, and tool results travel as
  ``tool_result`` blocks of a *user* message, first in its content;
- ``max_tokens`` is required (default :data:`DEFAULT_MAX_TOKENS`), and with
  extended thinking it must exceed ``budget_tokens``;
- an assistant turn goes back block by block, in order: ``thinking`` with its
  signature, ``redacted_thinking``, ``text``, ``tool_use``, and server-side
  tool blocks exactly as they were received.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..._errors import InvalidInputError
from ..._messages import AIMessage, HumanMessage, Message, SystemMessage, ToolMessage
from .._params import check_params, merge_extra_body, normalize_tools

__all__ = ["DEFAULT_MAX_TOKENS", "EFFORT_BUDGETS", "build_body"]

DEFAULT_MAX_TOKENS = 4096
"""``max_tokens`` when none is given (with thinking: the budget plus this)."""

EFFORT_BUDGETS: dict[str, int] = {
    "minimal": 1024,  # Anthropic's minimum budget
    "low": 2048,
    "medium": 8192,
    "high": 16384,
    "xhigh": 32768,
}
"""``reasoning_effort`` as a fixed thinking budget (``"none"`` turns thinking off).

A fixed budget works on every Claude model with extended thinking up to the
4.6 generation. Models that accept only adaptive thinking take
``extra_body={"thinking": {"type": "adaptive"}, "output_config": {"effort": ...}}``
instead (``extra_body`` is merged last, so it overrides this mapping)."""

# Citation types Anthropic accepts back on a text block.
_CITATION_TYPES = frozenset(
    {
        "char_location",
        "page_location",
        "content_block_location",
        "search_result_location",
        "web_search_result_location",
    }
)

# Raw Anthropic blocks that may appear in an assistant turn and are sent back
# as they are when they come as ``non_standard`` values.
_ASSISTANT_RAW_TYPES = frozenset({"compaction", "container_upload"})

_ANTHROPIC_STOP_REASONS = frozenset(
    {"end_turn", "tool_use", "max_tokens", "stop_sequence", "pause_turn", "refusal"}
)

# tool_use fields that come back from a tool_call's extras.
_TOOL_USE_EXTRAS = ("caller", "toolset_name", "cache_control")

# Raw Anthropic user-content blocks with no protocol equivalent, passed through.
_USER_RAW_TYPES = frozenset({"document", "search_result", "container_upload"})

_DATA_URL = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?:;[^,;]*)*;base64,(?P<data>.*)", re.S)


def build_body(
    messages: Sequence[Message], *, model: str, params: Mapping[str, Any]
) -> dict[str, Any]:
    """The JSON body of ``POST /v1/messages`` with ``stream: true``.

    Raises ``InvalidInputError`` naming the item (``messages[3]: ...``,
    ``tools[1]: ...``) for input Anthropic cannot accept.
    """
    check_params(params, "anthropic")
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if isinstance(message, SystemMessage):
            system.extend(_system_blocks(message.content, where))
        elif isinstance(message, HumanMessage):
            blocks = _user_blocks(message.content, where)
            if not blocks:
                msg = f"{where}: a human message with no content (Anthropic rejects empty messages)"
                raise InvalidInputError(msg)
            _append(turns, "user", blocks)
        elif isinstance(message, AIMessage):
            blocks = _assistant_blocks(message, where)
            # An empty assistant turn (a refusal with no content, say) has
            # nothing to send, and Anthropic rejects empty messages.
            if blocks:
                _append(turns, "assistant", blocks)
        elif isinstance(message, ToolMessage):
            _append(turns, "user", [_tool_result(message, where)])
        else:
            msg = f"{where}: expected a message object, got {type(message).__name__}"
            raise InvalidInputError(msg)
    for turn in turns:
        if turn["role"] == "user":
            # Tool results must open the user message that answers the calls.
            content = turn["content"]
            results = [b for b in content if b.get("type") == "tool_result"]
            if results and len(results) < len(content):
                turn["content"] = results + [b for b in content if b.get("type") != "tool_result"]

    budget, thinking = _thinking(params)
    body: dict[str, Any] = {"model": model, "max_tokens": _max_tokens(params, budget)}
    if system:
        if any("cache_control" in b for b in system):  # keep the blocks
            body["system"] = system
        else:
            body["system"] = "\n\n".join(b["text"] for b in system)
    body["messages"] = turns
    body["stream"] = True
    if thinking is not None:
        body["thinking"] = thinking
    _sampling(body, params)
    tool_names = None
    if params.get("tools") is not None:
        body["tools"], tool_names = _tools(params["tools"])
    if params.get("tool_choice") is not None:
        body["tool_choice"] = _tool_choice(params["tool_choice"], tool_names)
    _other_params(body, params)
    return merge_extra_body(body, params)


# -- messages ------------------------------------------------------------------


def _append(turns: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"].extend(blocks)  # Anthropic requires alternating roles
    else:
        turns.append({"role": role, "content": blocks})


def _system_blocks(content: str | list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks = []
    for j, block in enumerate(content):
        if block.get("type") != "text" or not isinstance(block.get("text"), str):
            msg = f"{where}.content[{j}]: a system message takes only text blocks for Anthropic"
            raise InvalidInputError(msg)
        if block["text"]:
            blocks.append(_with_cache_control({"type": "text", "text": block["text"]}, block))
    return blocks


def _with_cache_control(out: dict[str, Any], block: Mapping[str, Any]) -> dict[str, Any]:
    """Carry Anthropic's ``cache_control`` (on the block or in its extras) over."""
    extras = block.get("extras")
    cache = block.get("cache_control")
    if cache is None and isinstance(extras, Mapping):
        cache = extras.get("cache_control")
    if cache is not None:
        out["cache_control"] = cache
    return out


def _user_blocks(content: str | list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks = []
    for j, block in enumerate(content):
        converted = _user_block(block, f"{where}.content[{j}]")
        if converted is not None:
            blocks.append(_with_cache_control(converted, block))
    return blocks


def _user_block(block: Mapping[str, Any], where: str) -> dict[str, Any] | None:
    btype = block.get("type")
    if btype == "text":
        text = block.get("text")
        if not isinstance(text, str):
            raise InvalidInputError(f"{where}: a text block needs a string 'text'")
        return {"type": "text", "text": text} if text else None
    if btype == "image" and isinstance(block.get("source"), Mapping):
        return dict(block)  # already Anthropic's own shape
    if btype in ("image", "file"):
        return {
            "type": "image" if btype == "image" else "document",
            "source": _source(block, where),
        }
    if btype == "non_standard" and isinstance(block.get("value"), Mapping):
        return dict(block["value"])  # a raw Anthropic block
    if btype in _USER_RAW_TYPES:
        return dict(block)
    msg = f"{where}: a {btype!r} block cannot be sent to Anthropic in a user turn"
    raise InvalidInputError(msg)


def _source(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    url = block.get("url")
    data = block.get("base64")
    mime = block.get("mime_type")
    file_id = block.get("file_id")
    if isinstance(url, str) and url:
        match = _DATA_URL.fullmatch(url)
        if match is None:
            return {"type": "url", "url": url}
        data = match.group("data")
        mime = match.group("mime") or mime
    if isinstance(data, str) and data:
        if not isinstance(mime, str) or not mime:
            msg = f"{where}: base64 data needs a 'mime_type' (Anthropic requires media_type)"
            raise InvalidInputError(msg)
        return {"type": "base64", "media_type": mime, "data": data}
    if isinstance(file_id, str) and file_id:
        return {"type": "file", "file_id": file_id}
    msg = f"{where}: a {block.get('type')} block needs 'url', 'base64' (+ 'mime_type') or 'file_id'"
    raise InvalidInputError(msg)


def _tool_result(message: ToolMessage, where: str) -> dict[str, Any]:
    if not message.tool_call_id:
        raise InvalidInputError(f"{where}: a tool message needs the 'tool_call_id' it answers")
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id}
    content = message.content
    if isinstance(content, str):
        if content:
            result["content"] = content
    else:
        blocks = _user_blocks(content, where)
        if blocks:
            result["content"] = blocks
    if message.status == "error":
        result["is_error"] = True
    return result


def _assistant_blocks(message: AIMessage, where: str) -> list[dict[str, Any]]:
    content = message.content
    if isinstance(content, str):
        blocks = [{"type": "text", "text": content}] if content else []
    else:
        from_anthropic = _from_anthropic(message)
        blocks = []
        for j, block in enumerate(content):
            converted = _assistant_block(dict(block), f"{where}.content[{j}]", from_anthropic)
            if converted is not None:
                blocks.append(converted)
    sent = {b.get("id") for b in blocks if b["type"] == "tool_use"}
    for k, call in enumerate(message.tool_calls):
        # Calls given only in tool_calls (a message built by hand).
        if call.get("id") not in sent:
            blocks.append(_tool_use(dict(call), f"{where}.tool_calls[{k}]"))
    # Invalid tool calls (arguments cut off or not JSON) are not sent:
    # Anthropic's tool_use needs an input object, and there is none to give.
    return blocks


def _from_anthropic(message: AIMessage) -> bool:
    """Whether the message's provider fields (signatures, raw blocks) are Anthropic's.

    Other providers put their own signatures in ``extras.signature`` (Gemini's
    thought signatures), which Anthropic would reject. A message counts as
    Anthropic's when it says nothing about its origin (built by hand), when
    its provider name says so, or when its finish reason is one of Anthropic's
    raw stop reasons (an Anthropic-compatible gateway under another name;
    Bedrock's Claude reports the same reasons, with valid signatures).
    """
    meta = message.response_metadata
    provider = meta.get("model_provider")
    if not isinstance(provider, str) or not provider:
        return True
    lowered = provider.lower()
    if "anthropic" in lowered or "claude" in lowered:
        return True
    return meta.get("finish_reason") in _ANTHROPIC_STOP_REASONS


def _assistant_block(
    block: dict[str, Any], where: str, from_anthropic: bool
) -> dict[str, Any] | None:
    btype = block.get("type")
    extras = block.get("extras")
    extras = extras if isinstance(extras, Mapping) else {}
    if btype == "text":
        text = block.get("text")
        if not isinstance(text, str) or not text:
            return None
        out: dict[str, Any] = {"type": "text", "text": text}
        citations = [c for c in map(_citation, block.get("annotations") or ()) if c is not None]
        if citations:
            out["citations"] = citations
        return out
    if btype == "reasoning":
        if not from_anthropic:
            # Another provider's reasoning (and signature) means nothing to Anthropic.
            return None
        redacted = extras.get("redacted_data")
        if isinstance(redacted, str) and redacted:
            return {"type": "redacted_thinking", "data": redacted}
        signature = extras.get("signature")
        if isinstance(signature, str) and signature:
            return {
                "type": "thinking",
                "thinking": block.get("reasoning") or "",
                "signature": signature,
            }
        # Reasoning without an Anthropic signature (another provider's, or a
        # summary): Anthropic rejects unsigned thinking blocks, so it is dropped.
        return None
    if btype == "tool_call":
        return _tool_use(block if from_anthropic else _without_extras(block), where)
    if btype in ("server_tool_call", "server_tool_result"):
        block_type = extras.get("block_type")
        if not isinstance(block_type, str):
            # Another provider's server tool: Anthropic cannot take it back.
            return None
        rest = {k: v for k, v in extras.items() if k != "block_type"}
        if btype == "server_tool_call":
            return {
                "type": block_type,
                "id": block.get("id"),
                "name": block.get("name"),
                "input": block.get("args") or {},
                **rest,
            }
        out = {"type": block_type, "tool_use_id": block.get("tool_call_id")}
        if "output" in block:
            out["content"] = block["output"]
        out.update(rest)
        return out
    if btype == "non_standard":
        value = block.get("value")
        # A raw Anthropic block (compaction, ...) goes back as received;
        # another provider's raw item would be rejected, so it is dropped.
        if isinstance(value, Mapping) and (
            value.get("type") in _ASSISTANT_RAW_TYPES
            or (from_anthropic and isinstance(value.get("type"), str))
        ):
            return dict(value)
        return None
    # Partial chunks, invalid tool calls and media have no Anthropic assistant form.
    return None


def _without_extras(block: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in block.items() if k != "extras"}


def _tool_use(call: Mapping[str, Any], where: str) -> dict[str, Any]:
    call_id = call.get("id")
    name = call.get("name")
    if not isinstance(call_id, str) or not call_id or not isinstance(name, str) or not name:
        msg = f"{where}: a tool call needs an 'id' and a 'name' to be sent to Anthropic"
        raise InvalidInputError(msg)
    args = call.get("args")
    if args is None:
        args = {}
    if not isinstance(args, Mapping):
        raise InvalidInputError(f"{where}: tool call 'args' must be a JSON object")
    out: dict[str, Any] = {"type": "tool_use", "id": call_id, "name": name, "input": dict(args)}
    extras = call.get("extras")
    if isinstance(extras, Mapping):
        # Anthropic tool_use fields the adapter kept (programmatic tool calling).
        out.update((k, extras[k]) for k in _TOOL_USE_EXTRAS if extras.get(k) is not None)
    return out


def _citation(annotation: object) -> dict[str, Any] | None:
    if not isinstance(annotation, Mapping):
        return None
    atype = annotation.get("type")
    if atype == "non_standard_annotation":
        value = annotation.get("value")
        if isinstance(value, Mapping) and value.get("type") in _CITATION_TYPES:
            return dict(value)
        return None
    extras = annotation.get("extras")
    if atype != "citation" or not isinstance(extras, Mapping) or "encrypted_index" not in extras:
        # A citation Anthropic did not make cannot be verified by it: the text is sent alone.
        return None
    out: dict[str, Any] = {"type": "web_search_result_location"}
    for key in ("cited_text", "url", "title"):
        if annotation.get(key) is not None:
            out[key] = annotation[key]
    out.update(extras)
    return out


# -- parameters ----------------------------------------------------------------


def _thinking(params: Mapping[str, Any]) -> tuple[int | None, dict[str, Any] | None]:
    """``(budget_tokens or None, the thinking field or None)``."""
    budget = params.get("thinking_budget")
    effort = params.get("reasoning_effort")
    if budget is not None and effort is not None:
        msg = "give reasoning_effort or thinking_budget, not both"
        raise InvalidInputError(msg)
    if effort is not None:
        if effort == "none":
            return None, {"type": "disabled"}
        if effort not in EFFORT_BUDGETS:
            known = ", ".join(["none", *EFFORT_BUDGETS])
            raise InvalidInputError(f"reasoning_effort must be one of {known}; got {effort!r}")
        budget = EFFORT_BUDGETS[effort]
    if budget is None:
        return None, None
    if type(budget) is not int or budget < 0:
        raise InvalidInputError(f"thinking_budget must be an int >= 0, got {budget!r}")
    if budget == 0:
        return None, {"type": "disabled"}
    return budget, {"type": "enabled", "budget_tokens": budget}


def _max_tokens(params: Mapping[str, Any], budget: int | None) -> int:
    max_tokens = params.get("max_tokens")
    if max_tokens is None:
        return DEFAULT_MAX_TOKENS + (budget or 0)
    if type(max_tokens) is not int or max_tokens < 1:
        raise InvalidInputError(f"max_tokens must be a positive int, got {max_tokens!r}")
    if budget is not None and max_tokens <= budget:
        msg = (
            f"max_tokens ({max_tokens}) must exceed the thinking budget ({budget}): "
            "Anthropic counts thinking tokens in max_tokens"
        )
        raise InvalidInputError(msg)
    return max_tokens


def _sampling(body: dict[str, Any], params: Mapping[str, Any]) -> None:
    for key in ("temperature", "top_p"):
        value = params.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidInputError(f"{key} must be a number, got {value!r}")
            body[key] = value
    stop = params.get("stop")
    if stop is not None:
        sequences = [stop] if isinstance(stop, str) else stop
        if not isinstance(sequences, Sequence) or not all(isinstance(s, str) for s in sequences):
            raise InvalidInputError("stop must be a string or a list of strings")
        if sequences:
            body["stop_sequences"] = list(sequences)


def _tools(tools: object) -> tuple[list[dict[str, Any]], set[str]]:
    if isinstance(tools, (str, Mapping)) or not isinstance(tools, Sequence):
        raise InvalidInputError("tools must be a list")
    out: list[dict[str, Any]] = []
    names: set[str] = set()
    for i, tool in enumerate(tools):
        ttype = tool.get("type") if isinstance(tool, Mapping) else None
        if isinstance(ttype, str) and ttype not in ("function", "custom"):
            # A typed Anthropic tool (web_search_20250305, bash_20250124, ...): as given.
            out.append(dict(tool))
            if isinstance(tool.get("name"), str):
                names.add(tool["name"])
            continue
        try:
            (spec,) = normalize_tools([tool])
        except InvalidInputError as exc:
            raise InvalidInputError(str(exc).replace("tools[0]", f"tools[{i}]", 1)) from exc
        entry: dict[str, Any] = {"name": spec["name"]}
        if spec["description"]:
            entry["description"] = spec["description"]
        entry["input_schema"] = spec["parameters"]
        out.append(entry)
        names.add(spec["name"])
    return out, names


def _tool_choice(choice: object, names: set[str] | None) -> dict[str, Any]:
    if isinstance(choice, str):
        if choice == "auto":
            return {"type": "auto"}
        if choice == "none":
            return {"type": "none"}
        if choice in ("required", "any"):
            return {"type": "any"}
        if names is not None and choice not in names:
            known = ", ".join(sorted(names)) or "none"
            msg = f"tool_choice {choice!r} names no tool in tools (tools: {known})"
            raise InvalidInputError(msg)
        return {"type": "tool", "name": choice}
    if isinstance(choice, Mapping):
        function = choice.get("function")
        if choice.get("type") == "function" and isinstance(function, Mapping):
            return _tool_choice(function.get("name"), names)  # OpenAI's form
        return dict(choice)  # Anthropic's own form
    raise InvalidInputError(f"tool_choice must be a string or a mapping, got {choice!r}")


def _other_params(body: dict[str, Any], params: Mapping[str, Any]) -> None:
    user = params.get("user")
    if user is not None:
        body["metadata"] = {"user_id": user}
    n = params.get("n")
    if n is not None and n != 1:
        raise InvalidInputError("Anthropic returns one answer per request: n must be 1")
    if params.get("seed") is not None:
        raise InvalidInputError("Anthropic has no seed parameter")
    # include_usage and choice are OpenAI Chat options: Anthropic always sends
    # usage and one answer. include_reasoning needs nothing: thinking is
    # streamed whenever it is enabled.
