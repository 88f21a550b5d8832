"""The JSON body of a Gemini ``:streamGenerateContent`` request (pure, no I/O).

Messages:

- ``SystemMessage``: its text goes to ``systemInstruction`` (every system
  message, wherever it stands, in order).
- ``HumanMessage``: a ``user`` content; text blocks become ``text`` parts,
  base64 media ``inlineData`` (a ``data:`` URL too), other URLs and file ids
  ``fileData``; a ``non_standard`` block's value is sent as the part itself.
- ``AIMessage``: a ``model`` content, its blocks in order: reasoning only when
  it carries a signature (``{text, thought: true, thoughtSignature}``; Gemini
  ignores unsigned thought summaries), text (with its ``thoughtSignature``),
  ``functionCall`` (with its ``thoughtSignature``; ``id`` only when Gemini
  issued it, i.e. ``extras.function_call_id``, since Vertex AI rejects others),
  server tool blocks as the raw part they came from, media as
  ``inlineData``/``fileData``. Calls in ``tool_calls`` that have no block in
  ``content`` (hand-built messages) follow the content. Server tool blocks of
  other providers are left out; an ``invalid_tool_call`` is an error.
- ``ToolMessage``: a ``user`` content with ``functionResponse {name, id?,
  response: {"result": content}}`` (``{"error": content}`` when its status is
  ``"error"``); the name is the message's own or the one of the call it
  answers (found by ``tool_call_id`` in the earlier AI messages). Media blocks
  in a tool result go to ``functionResponse.parts``.

Consecutive contents of the same role are merged into one.

Parameters (``generationConfig`` unless said): ``temperature``, ``top_p`` ->
``topP``, ``max_tokens`` -> ``maxOutputTokens``, ``stop`` ->
``stopSequences``, ``n`` -> ``candidateCount``, ``seed``; ``thinking_budget``
-> ``thinkingConfig.thinkingBudget``, ``include_reasoning`` ->
``thinkingConfig.includeThoughts``, ``reasoning_effort`` ->
``thinkingConfig.thinkingLevel`` for Gemini 3 and later models (``none`` and
``minimal`` -> ``"minimal"``, ``xhigh`` -> ``"high"``), else a
``thinkingBudget`` (``none`` 0, ``minimal`` 512, ``low`` 1024, ``medium``
8192, ``high`` and ``xhigh`` 24576, the budgets of Gemini's OpenAI
compatibility layer); ``tools`` -> ``tools[{functionDeclarations: [{name,
description, parametersJsonSchema}]}]`` (full JSON schema, so keys such as
``additionalProperties`` or ``$defs`` are accepted), and a dict whose only key
is a Gemini tool field (``{"googleSearch": {}}``, ``{"codeExecution": {}}``,
...) is passed through as a tool of its own; ``tool_choice`` ->
``toolConfig.functionCallingConfig`` (``auto`` AUTO, ``none`` NONE,
``required`` ANY, a tool name ANY with ``allowedFunctionNames``);
``include_usage`` is accepted and changes nothing (Gemini always reports
usage); ``user`` and ``choice`` (other than 0) have no Gemini equivalent and
raise. ``extra_body`` is merged last, shallowly: a ``generationConfig`` key in
it replaces the whole ``generationConfig``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..._errors import InvalidInputError
from ..._messages import AIMessage, HumanMessage, Message, SystemMessage, ToolMessage
from .._params import check_params, merge_extra_body, normalize_tools

__all__ = ["build_body"]

_PROVIDER = "gemini"

_LEVELS = {
    "none": "minimal",
    "minimal": "minimal",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
}
_BUDGETS = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576, "xhigh": 24576}
_GEMINI_MAJOR = re.compile(r"gemini-(\d+)")

_MEDIA = ("image", "audio", "video", "file")
_SERVER_BLOCKS = ("server_tool_call", "server_tool_call_chunk", "server_tool_result")
# Fields of Gemini's Tool object other than functionDeclarations.
_NATIVE_TOOLS = frozenset(
    {
        "googleSearch",
        "googleSearchRetrieval",
        "codeExecution",
        "urlContext",
        "fileSearch",
        "googleMaps",
        "computerUse",
        "retrieval",
        "enterpriseWebSearch",
        "mcpServers",
        "functionDeclarations",
    }
)


def build_body(
    messages: Sequence[Message], *, model: str, params: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``streamGenerateContent`` request body for ``messages`` and ``params``."""
    check_params(params, _PROVIDER)
    system: list[dict[str, Any]] = []
    contents: list[tuple[str, list[dict[str, Any]]]] = []
    # tool call id -> (function name, Gemini's own call id if it issued one)
    calls: dict[str, tuple[str, str | None]] = {}
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if isinstance(message, SystemMessage):
            system.extend(_system_parts(message.content, where))
        elif isinstance(message, HumanMessage):
            contents.append(("user", _user_parts(message.content, where)))
        elif isinstance(message, AIMessage):
            parts = _model_parts(message, where, calls)
            if parts:
                contents.append(("model", parts))
        elif isinstance(message, ToolMessage):
            contents.append(("user", [_function_response(message, where, calls)]))
        else:
            msg = f"{where}: expected a message object, got {type(message).__name__}"
            raise InvalidInputError(msg)
    merged: list[dict[str, Any]] = []
    for role, parts in contents:
        if merged and merged[-1]["role"] == role:
            merged[-1]["parts"].extend(parts)
        else:
            merged.append({"role": role, "parts": list(parts)})
    if not merged:
        msg = "messages: Gemini needs at least one user or model message besides system messages"
        raise InvalidInputError(msg)
    body: dict[str, Any] = {"contents": merged}
    if system:
        body["systemInstruction"] = {"parts": system}
    config = _generation_config(model, params)
    if config:
        body["generationConfig"] = config
    tools = params.get("tools")
    names: list[str] = []
    if tools:
        body["tools"], names = _tools(tools)
    tool_choice = params.get("tool_choice")
    if tool_choice is not None:
        body["toolConfig"] = {"functionCallingConfig": _tool_choice(tool_choice, names)}
    return merge_extra_body(body, params)


# -- message parts -------------------------------------------------------------------


def _system_parts(content: str | list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts = []
    for j, block in enumerate(content):
        if block.get("type") != "text":
            msg = f"{where}.content[{j}]: a system message can only hold text blocks for Gemini"
            raise InvalidInputError(msg)
        parts.append({"text": _str_field(block, "text", f"{where}.content[{j}]")})
    return parts


def _user_parts(content: str | list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}]
    if not content:
        msg = f"{where}: empty content; Gemini needs at least one part"
        raise InvalidInputError(msg)
    return [_input_part(block, f"{where}.content[{j}]") for j, block in enumerate(content)]


def _str_field(block: Mapping[str, Any], key: str, where: str) -> str:
    value = block.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        msg = f"{where}: '{key}' must be a string, got {type(value).__name__}"
        raise InvalidInputError(msg)
    return value


def _input_part(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    btype = block.get("type")
    if btype == "text":
        return {"text": _str_field(block, "text", where)}
    if btype in _MEDIA:
        return _media_part(block, where)
    if btype == "image_url":  # OpenAI's form
        image = block.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else image
        if not isinstance(url, str) or not url:
            msg = f"{where}: an 'image_url' block needs a URL"
            raise InvalidInputError(msg)
        return _media_part({"type": "image", "url": url}, where)
    if btype == "non_standard":
        return _non_standard(block, where)
    msg = f"{where}: Gemini cannot take a {btype!r} block in this message"
    raise InvalidInputError(msg)


def _non_standard(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    value = block.get("value")
    if not isinstance(value, Mapping):
        msg = f"{where}: a 'non_standard' block needs a 'value' dict (a Gemini part)"
        raise InvalidInputError(msg)
    return dict(value)


_DATA_URL = re.compile(r"data:(?P<mime>[^;,]+)?(?P<params>(?:;[^;,]*)*),(?P<data>.*)", re.DOTALL)


def _media_part(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    mime = _str_field(block, "mime_type", where)
    data = _str_field(block, "base64", where)
    url = _str_field(block, "url", where)
    file_id = _str_field(block, "file_id", where)
    if not data and url.startswith("data:"):
        match = _DATA_URL.fullmatch(url)
        if match is None or ";base64" not in (match.group("params") or ""):
            msg = f"{where}: only base64 'data:' URLs are supported"
            raise InvalidInputError(msg)
        data = match.group("data")
        mime = mime or match.group("mime") or ""
    if data:
        if not mime:
            msg = f"{where}: base64 {block.get('type')} data needs a 'mime_type' for Gemini"
            raise InvalidInputError(msg)
        return {"inlineData": {"mimeType": mime, "data": data}}
    uri = url or file_id
    if not uri:
        msg = f"{where}: a {block.get('type')} block needs 'base64', 'url' or 'file_id'"
        raise InvalidInputError(msg)
    file_data = {"fileUri": uri}
    if mime:
        file_data["mimeType"] = mime
    return {"fileData": file_data}


def _signature(block: Mapping[str, Any]) -> str | None:
    extras = block.get("extras")
    if isinstance(extras, Mapping):
        signature = extras.get("signature")
        if isinstance(signature, str) and signature:
            return signature
    return None


def _model_parts(
    message: AIMessage, where: str, calls: dict[str, tuple[str, str | None]]
) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    sent_ids: set[str] = set()
    sent_calls = False
    if message.invalid_tool_calls:
        bad = message.invalid_tool_calls[0]
        msg = (
            f"{where}: tool call {bad.get('name')!r} has arguments that are not a JSON object "
            f"({bad.get('error')}); Gemini cannot take it back"
        )
        raise InvalidInputError(msg)
    content = message.content
    if isinstance(content, str):
        if content:
            parts.append({"text": content})
        content = []
    for j, raw in enumerate(content):
        block: Mapping[str, Any] = raw
        w = f"{where}.content[{j}]"
        btype = block.get("type")
        signature = _signature(block)
        if btype == "text":
            text = _str_field(block, "text", w)
            if text or signature:
                part: dict[str, Any] = {"text": text}
                if signature:
                    part["thoughtSignature"] = signature
                parts.append(part)
        elif btype == "reasoning":
            if signature:  # unsigned thought summaries are not sent back
                text = _str_field(block, "reasoning", w)
                parts.append({"text": text, "thought": True, "thoughtSignature": signature})
        elif btype in ("tool_call", "tool_call_chunk"):
            parts.append(_function_call(block, w, calls))
            sent_calls = True
            if isinstance(block.get("id"), str):
                sent_ids.add(block["id"])
        elif btype == "invalid_tool_call":
            msg = f"{w}: an invalid tool call cannot be sent back to Gemini"
            raise InvalidInputError(msg)
        elif btype in _SERVER_BLOCKS:
            server = _server_part(block)
            if server is not None:
                parts.append(server)
        elif btype in _MEDIA:
            part = _media_part(block, w)
            if signature:
                part["thoughtSignature"] = signature
            parts.append(part)
        elif btype == "non_standard":
            parts.append(_non_standard(block, w))
        else:
            msg = f"{w}: Gemini cannot take a {btype!r} block in a model message"
            raise InvalidInputError(msg)
    for k, call in enumerate(message.tool_calls):
        call_id = call.get("id")
        if (call_id and call_id in sent_ids) or (not call_id and sent_calls):
            continue
        parts.append(_function_call(call, f"{where}.tool_calls[{k}]", calls))
    return parts


def _function_call(
    block: Mapping[str, Any], where: str, calls: dict[str, tuple[str, str | None]]
) -> dict[str, Any]:
    name = block.get("name")
    if not isinstance(name, str) or not name:
        msg = f"{where}: a tool call needs a 'name'"
        raise InvalidInputError(msg)
    args = block.get("args")
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError as exc:
            msg = f"{where}: tool call arguments are not valid JSON ({exc})"
            raise InvalidInputError(msg) from exc
    if args is None:
        args = {}
    if not isinstance(args, Mapping):
        msg = f"{where}: tool call arguments must be a JSON object for Gemini"
        raise InvalidInputError(msg)
    extras = block.get("extras")
    gemini_id = extras.get("function_call_id") if isinstance(extras, Mapping) else None
    if not isinstance(gemini_id, str) or not gemini_id:
        gemini_id = None
    call: dict[str, Any] = {"name": name, "args": dict(args)}
    if gemini_id:
        call["id"] = gemini_id
    part: dict[str, Any] = {"functionCall": call}
    signature = _signature(block)
    if signature:
        part["thoughtSignature"] = signature
    call_id = block.get("id")
    if isinstance(call_id, str) and call_id:
        calls[call_id] = (name, gemini_id)
    return part


def _server_part(block: Mapping[str, Any]) -> dict[str, Any] | None:
    """The raw Gemini part a server tool block came from, or one rebuilt from a
    code-execution block; ``None`` for other providers' server tools."""
    extras = block.get("extras")
    if isinstance(extras, Mapping) and isinstance(extras.get("part"), Mapping):
        return dict(extras["part"])
    if block.get("type") == "server_tool_call" and block.get("name") == "code_execution":
        args = block.get("args")
        if isinstance(args, Mapping) and isinstance(args.get("code"), str):
            return {
                "executableCode": {
                    "language": args.get("language") or "PYTHON",
                    "code": args["code"],
                }
            }
    return None


def _function_response(
    message: ToolMessage, where: str, calls: dict[str, tuple[str, str | None]]
) -> dict[str, Any]:
    known = calls.get(message.tool_call_id)
    name = message.name or (known[0] if known else None)
    if not name:
        msg = (
            f"{where}: Gemini needs the function name of a tool result: set ToolMessage.name, "
            f"or send the AI message whose tool call has id {message.tool_call_id!r} before it"
        )
        raise InvalidInputError(msg)
    content = message.content
    extra_parts: list[dict[str, Any]] = []
    if isinstance(content, str):
        result = content
    else:
        texts = []
        for j, block in enumerate(content):
            w = f"{where}.content[{j}]"
            if block.get("type") == "text":
                texts.append(_str_field(block, "text", w))
            else:
                extra_parts.append(_input_part(block, w))
        result = "".join(texts)
    response: dict[str, Any] = {"name": name}
    if known and known[1]:
        response["id"] = known[1]
    response["response"] = {"error" if message.status == "error" else "result": result}
    if extra_parts:
        response["parts"] = extra_parts
    return {"functionResponse": response}


# -- parameters ----------------------------------------------------------------------


def _generation_config(model: str, params: Mapping[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for key, field in (
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("max_tokens", "maxOutputTokens"),
        ("n", "candidateCount"),
        ("seed", "seed"),
    ):
        value = params.get(key)
        if value is not None:
            config[field] = value
    stop = params.get("stop")
    if stop is not None:
        sequences = [stop] if isinstance(stop, str) else list(stop)
        if not all(isinstance(s, str) for s in sequences):
            msg = "stop must be a string or a list of strings"
            raise InvalidInputError(msg)
        config["stopSequences"] = sequences
    if params.get("user") is not None:
        msg = "user: Gemini has no end-user field; pass Vertex AI 'labels' in extra_body instead"
        raise InvalidInputError(msg)
    if params.get("choice") not in (None, 0):
        msg = "choice: only the first Gemini candidate is streamed; choice must be 0"
        raise InvalidInputError(msg)
    thinking: dict[str, Any] = {}
    budget = params.get("thinking_budget")
    effort = params.get("reasoning_effort")
    if budget is not None and effort is not None:
        msg = "give reasoning_effort or thinking_budget, not both (Gemini rejects the pair)"
        raise InvalidInputError(msg)
    if budget is not None:
        if not isinstance(budget, int) or isinstance(budget, bool):
            msg = f"thinking_budget must be an int, got {type(budget).__name__}"
            raise InvalidInputError(msg)
        thinking["thinkingBudget"] = budget
    if effort is not None:
        if effort not in _LEVELS:
            msg = f"reasoning_effort must be one of {', '.join(_LEVELS)}, got {effort!r}"
            raise InvalidInputError(msg)
        major = _GEMINI_MAJOR.search(model)
        if major is not None and int(major.group(1)) >= 3:
            thinking["thinkingLevel"] = _LEVELS[effort]
        else:
            thinking["thinkingBudget"] = _BUDGETS[effort]
    include = params.get("include_reasoning")
    if include is not None:
        thinking["includeThoughts"] = bool(include)
    if thinking:
        config["thinkingConfig"] = thinking
    return config


def _tools(tools: Sequence[Any]) -> tuple[list[dict[str, Any]], list[str]]:
    if isinstance(tools, (str, Mapping)) or not isinstance(tools, Sequence):
        msg = "tools must be a list"
        raise InvalidInputError(msg)
    native: list[dict[str, Any]] = []
    functions: list[Any] = []
    for tool in tools:
        if isinstance(tool, Mapping) and tool and tool.keys() <= _NATIVE_TOOLS:
            native.append(dict(tool))
        else:
            functions.append(tool)
    declarations = []
    for spec in normalize_tools(functions):
        declaration: dict[str, Any] = {"name": spec["name"]}
        if spec["description"]:
            declaration["description"] = spec["description"]
        declaration["parametersJsonSchema"] = spec["parameters"]
        declarations.append(declaration)
    out: list[dict[str, Any]] = []
    if declarations:
        out.append({"functionDeclarations": declarations})
    out.extend(native)
    return out, [d["name"] for d in declarations]


_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY", "any": "ANY"}


def _tool_choice(choice: Any, names: list[str]) -> dict[str, Any]:
    name: Any = None
    if isinstance(choice, str):
        mode = _MODES.get(choice)
        if mode is not None:
            return {"mode": mode}
        name = choice
    elif isinstance(choice, Mapping):
        function = choice.get("function")
        if isinstance(function, Mapping):  # OpenAI: {"type": "function", "function": {"name"}}
            name = function.get("name")
        elif choice.get("name") is not None:  # {"name"} or Anthropic's {"type": "tool", "name"}
            name = choice.get("name")
        elif isinstance(choice.get("type"), str) and choice["type"] in _MODES:
            return {"mode": _MODES[choice["type"]]}
    if not isinstance(name, str) or not name:
        msg = f"tool_choice must be 'auto', 'none', 'required' or a tool's name, got {choice!r}"
        raise InvalidInputError(msg)
    if name not in names:
        msg = f"tool_choice names {name!r}, which is not among the tools ({', '.join(names)})"
        raise InvalidInputError(msg)
    return {"mode": "ANY", "allowedFunctionNames": [name]}
