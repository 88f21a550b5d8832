"""The ``/v1/chat/completions`` request body for a streaming call (pure, no I/O).

Messages become Chat Completions messages:

- ``SystemMessage`` -> ``{"role": "system", "content": <text>}``;
- ``HumanMessage`` -> ``{"role": "user"}`` with a string, or content parts
  (``text``, ``image_url``, ``input_audio``, ``file``);
- ``AIMessage`` -> ``{"role": "assistant", "content": <text or null>,
  "tool_calls": [...]}`` plus ``refusal`` and ``audio: {"id"}`` when the
  message has them. Reasoning and server-side tool blocks are not sent back:
  Chat Completions has no field for them;
- ``ToolMessage`` -> ``{"role": "tool", "tool_call_id", "content"}``.

Parameters map to their Chat Completions fields (``max_tokens`` stays
``max_tokens``, which every compatible server knows; pass
``extra_body={"max_completion_tokens": ...}`` for OpenAI's reasoning models).
``choice`` is the adapter's business and never reaches the body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..._errors import InvalidInputError
from ..._messages import AIMessage, HumanMessage, Message, SystemMessage, ToolMessage
from .._params import check_params, merge_extra_body, normalize_tools

__all__ = ["build_body"]

_PROVIDER = "OpenAI Chat Completions"
_TOOL_CHOICES = ("auto", "none", "required")
_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
_AUDIO_FORMATS = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
}
# Blocks of an assembled AIMessage that Chat Completions has no place for.
_AI_SKIPPED = frozenset(
    {
        "reasoning",
        "tool_call",
        "tool_call_chunk",
        "invalid_tool_call",
        "server_tool_call",
        "server_tool_call_chunk",
        "server_tool_result",
    }
)


def build_body(
    messages: Sequence[Message], *, model: str, params: Mapping[str, Any]
) -> dict[str, Any]:
    """The JSON body of a streaming Chat Completions request.

    Raises ``InvalidInputError`` naming the offending message, part or
    parameter when the input cannot be sent.
    """
    check_params(params, _PROVIDER)
    if not isinstance(model, str) or not model:
        msg = "model: a Chat Completions request needs a model name"
        raise InvalidInputError(msg)
    if not messages:
        msg = "messages: a Chat Completions request needs at least one message"
        raise InvalidInputError(msg)
    body: dict[str, Any] = {
        "model": model,
        "messages": [_message(m, f"messages[{i}]") for i, m in enumerate(messages)],
        "stream": True,
    }
    include_usage = params.get("include_usage", True)
    if not isinstance(include_usage, bool):
        msg = f"include_usage must be True or False, got {include_usage!r}"
        raise InvalidInputError(msg)
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    for name in ("temperature", "top_p"):
        value = params.get(name)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                msg = f"{name} must be a number, got {value!r}"
                raise InvalidInputError(msg)
            body[name] = value
    for name in ("max_tokens", "n", "seed"):
        value = params.get(name)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int):
                msg = f"{name} must be an int, got {value!r}"
                raise InvalidInputError(msg)
            body[name] = value
    _check_choice(params)
    user = params.get("user")
    if user is not None:
        if not isinstance(user, str):
            msg = f"user must be a string, got {user!r}"
            raise InvalidInputError(msg)
        body["user"] = user
    stop = params.get("stop")
    if stop is not None:
        body["stop"] = _stop(stop)
    tool_names: list[str] = []
    tools = params.get("tools")
    if tools:
        schemas = normalize_tools(tools)
        tool_names = [s["name"] for s in schemas]
        body["tools"] = [_tool(s) for s in schemas]
    tool_choice = params.get("tool_choice")
    if tool_choice is not None:
        body["tool_choice"] = _tool_choice(tool_choice, tool_names)
    effort = params.get("reasoning_effort")
    if effort is not None:
        if effort not in _EFFORTS:
            msg = f"reasoning_effort must be one of {', '.join(_EFFORTS)}; got {effort!r}"
            raise InvalidInputError(msg)
        body["reasoning_effort"] = effort
    if params.get("thinking_budget") is not None:
        msg = (
            "thinking_budget: Chat Completions has no reasoning token budget; "
            "use reasoning_effort='low'|'medium'|'high' instead"
        )
        raise InvalidInputError(msg)
    if params.get("include_reasoning"):
        msg = (
            "include_reasoning: Chat Completions has no such field (OpenAI never returns its "
            "reasoning here; compatible servers stream theirs unasked). For a server-specific "
            "switch, pass it in extra_body={...}"
        )
        raise InvalidInputError(msg)
    return merge_extra_body(body, params)


# -- parameters ------------------------------------------------------------------


def _check_choice(params: Mapping[str, Any]) -> None:
    choice = params.get("choice")
    if choice is None:
        return
    if isinstance(choice, bool) or not isinstance(choice, int) or choice < 0:
        msg = f"choice must be a non-negative int, got {choice!r}"
        raise InvalidInputError(msg)
    n = params.get("n") or 1
    if choice >= n:
        msg = f"choice={choice} selects a choice the request does not ask for (n={n})"
        raise InvalidInputError(msg)


def _stop(stop: object) -> str | list[str]:
    if isinstance(stop, str):
        return stop
    if isinstance(stop, Sequence) and all(isinstance(s, str) for s in stop):
        return list(stop)
    msg = f"stop must be a string or a list of strings, got {stop!r}"
    raise InvalidInputError(msg)


def _tool(schema: Mapping[str, Any]) -> dict[str, Any]:
    function: dict[str, Any] = {"name": schema["name"]}
    if schema["description"]:
        function["description"] = schema["description"]
    function["parameters"] = schema["parameters"]
    return {"type": "function", "function": function}


def _tool_choice(choice: object, tool_names: list[str]) -> str | dict[str, Any]:
    if isinstance(choice, Mapping):
        return dict(choice)
    if not isinstance(choice, str) or not choice:
        msg = f"tool_choice must be 'auto', 'none', 'required' or a tool's name; got {choice!r}"
        raise InvalidInputError(msg)
    if choice in _TOOL_CHOICES:
        return choice
    if tool_names and choice not in tool_names:
        msg = (
            f"tool_choice={choice!r} names no tool of this request (tools: {', '.join(tool_names)})"
        )
        raise InvalidInputError(msg)
    return {"type": "function", "function": {"name": choice}}


# -- messages --------------------------------------------------------------------


def _message(message: object, where: str) -> dict[str, Any]:
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": _text_only(message.content, where, "a system")}
    if isinstance(message, HumanMessage):
        return {"role": "user", "content": _user_content(message.content, where)}
    if isinstance(message, AIMessage):
        return _assistant(message, where)
    if isinstance(message, ToolMessage):
        if not message.tool_call_id:
            msg = f"{where}: a tool message needs the tool_call_id of the call it answers"
            raise InvalidInputError(msg)
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id,
            "content": _text_only(message.content, where, "a tool"),
        }
    msg = f"{where}: expected a message object, got {type(message).__name__}"
    raise InvalidInputError(msg)


def _text_only(content: object, where: str, kind: str) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        msg = f"{where}: content must be a string or a list of blocks"
        raise InvalidInputError(msg)
    texts: list[str] = []
    for j, block in enumerate(content):
        btype = block.get("type") if isinstance(block, Mapping) else None
        if btype != "text" or not isinstance(block.get("text"), str):
            msg = f"{where}.content[{j}]: {kind} message can only hold text, got {btype!r}"
            raise InvalidInputError(msg)
        texts.append(block["text"])
    return "".join(texts)


def _user_content(content: object, where: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        msg = f"{where}: content must be a string or a list of blocks"
        raise InvalidInputError(msg)
    return [_user_part(block, f"{where}.content[{j}]") for j, block in enumerate(content)]


def _user_part(block: object, where: str) -> dict[str, Any]:
    if not isinstance(block, Mapping):
        msg = f"{where}: expected a content block, got {type(block).__name__}"
        raise InvalidInputError(msg)
    btype = block.get("type")
    if btype == "text":
        text = block.get("text")
        if not isinstance(text, str):
            msg = f"{where}: a text block needs a string 'text'"
            raise InvalidInputError(msg)
        return {"type": "text", "text": text}
    if btype in ("image_url", "input_audio"):  # already in Chat Completions form
        return dict(block)
    extras = block.get("extras")
    extras = extras if isinstance(extras, Mapping) else {}
    if btype == "image":
        url = block.get("url") or _data_url(block, where, "image")
        if not url:
            msg = f"{where}: Chat Completions takes images by 'url' or 'base64' + 'mime_type'"
            raise InvalidInputError(msg)
        image: dict[str, Any] = {"url": url}
        detail = block.get("detail", extras.get("detail"))
        if detail is not None:
            image["detail"] = detail
        return {"type": "image_url", "image_url": image}
    if btype == "audio":
        data = block.get("base64")
        mime = block.get("mime_type")
        fmt = _AUDIO_FORMATS.get(mime) if isinstance(mime, str) else None
        if not isinstance(data, str) or fmt is None:
            msg = (
                f"{where}: Chat Completions takes audio as 'base64' with mime_type "
                f"audio/wav or audio/mpeg (got mime_type {mime!r})"
            )
            raise InvalidInputError(msg)
        return {"type": "input_audio", "input_audio": {"data": data, "format": fmt}}
    if btype == "file":
        file_id = block.get("file_id")
        if isinstance(file_id, str) and file_id:
            return {"type": "file", "file": {"file_id": file_id}}
        data_url = _data_url(block, where, "file")
        if not data_url:
            msg = f"{where}: Chat Completions takes files by 'file_id' or 'base64' + 'mime_type'"
            raise InvalidInputError(msg)
        filename = block.get("filename", extras.get("filename")) or "file"
        return {"type": "file", "file": {"file_data": data_url, "filename": filename}}
    msg = f"{where}: Chat Completions user messages cannot hold a {btype!r} block"
    raise InvalidInputError(msg)


def _data_url(block: Mapping[str, Any], where: str, kind: str) -> str | None:
    data = block.get("base64")
    if data is None:
        return None
    mime = block.get("mime_type")
    if not isinstance(data, str) or not isinstance(mime, str) or not mime:
        msg = f"{where}: a base64 {kind} needs a string 'base64' and its 'mime_type'"
        raise InvalidInputError(msg)
    return f"data:{mime};base64,{data}"


def _assistant(message: AIMessage, where: str) -> dict[str, Any]:
    texts: list[str] = []
    refusal: str | None = None
    audio_id: str | None = None
    content_calls: list[Mapping[str, Any]] = []
    if isinstance(message.content, str):
        texts.append(message.content)
    else:
        for j, block in enumerate(message.content):
            btype = block.get("type")
            if btype == "text":
                texts.append(str(block.get("text") or ""))
            elif btype == "non_standard":
                value = block.get("value")
                if isinstance(value, Mapping) and value.get("type") == "refusal":
                    refusal = str(value.get("refusal") or "")
            elif btype == "audio":
                block_id = block.get("id")
                if isinstance(block_id, str) and block_id:
                    audio_id = block_id
            elif btype in _AI_SKIPPED:
                if btype == "tool_call":
                    content_calls.append(block)
            else:
                msg = (
                    f"{where}.content[{j}]: Chat Completions assistant messages cannot hold "
                    f"a {btype!r} block"
                )
                raise InvalidInputError(msg)
    out: dict[str, Any] = {"role": "assistant"}
    calls = _tool_calls(message, content_calls, where)
    text = "".join(texts)
    out["content"] = text if text or not (calls or refusal or audio_id) else None
    if calls:
        out["tool_calls"] = calls
    if refusal:
        out["refusal"] = refusal
    if audio_id:
        out["audio"] = {"id": audio_id}
    return out


def _tool_calls(
    message: AIMessage, content_calls: list[Mapping[str, Any]], where: str
) -> list[dict[str, Any]]:
    valid: list[Mapping[str, Any]] = list(message.tool_calls) or content_calls
    calls: list[dict[str, Any]] = []
    for j, call in enumerate(valid):
        call_where = f"{where}.tool_calls[{j}]"
        args = call.get("args") or {}
        try:
            arguments = json.dumps(args, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            msg = f"{call_where}: the arguments are not JSON-serialisable ({exc})"
            raise InvalidInputError(msg) from exc
        calls.append(_call(call, arguments, call_where))
    # Calls whose arguments did not parse were still made: send them back as
    # they came, so the tool messages answering them match a call.
    for j, bad in enumerate(message.invalid_tool_calls):
        raw = bad.get("args")
        arguments = raw if isinstance(raw, str) else "{}"
        calls.append(_call(bad, arguments, f"{where}.invalid_tool_calls[{j}]"))
    return calls


def _call(call: Mapping[str, Any], arguments: str, where: str) -> dict[str, Any]:
    call_id = call.get("id")
    name = call.get("name")
    if not isinstance(call_id, str) or not call_id:
        msg = f"{where}: Chat Completions needs an id on every tool call"
        raise InvalidInputError(msg)
    if not isinstance(name, str) or not name:
        msg = f"{where}: a tool call needs a name"
        raise InvalidInputError(msg)
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }
