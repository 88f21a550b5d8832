"""The OpenAI Responses API request body (``POST /v1/responses``, streaming).

Messages become ``input`` items:

- ``SystemMessage``: an input message with role ``"system"`` (kept in place,
  so several system messages and their order survive; OpenAI treats it as a
  developer message for reasoning models);
- ``HumanMessage``: ``{"role": "user", "content": [input_text | input_image |
  input_file, ...]}``;
- ``AIMessage``: its output items back, in content order: reasoning items
  (``id``, ``summary``, ``content`` and ``encrypted_content`` rebuilt from the
  reasoning blocks' ``extras``), assistant messages (``output_text`` with
  annotations, ``refusal``), ``function_call`` / ``custom_tool_call`` items
  (with the original item ``id``, so a reasoning item keeps its following
  item), and server-side tool items exactly as received (``extras.item``);
- ``ToolMessage``: ``function_call_output`` (``custom_tool_call_output`` for a
  custom tool's call).

``include_reasoning=True`` asks for reasoning summaries
(``reasoning.summary = "auto"``) and for the encrypted reasoning
(``include: ["reasoning.encrypted_content"]``), and sets ``store: false``: the
conversation is then sent whole each turn, reasoning included, and nothing is
kept by OpenAI. Without it the API default (``store: true``) applies and
reasoning items are sent back by ``id``. ``extra_body`` overrides either.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..._errors import InvalidInputError
from ..._messages import AIMessage, HumanMessage, Message, SystemMessage, ToolMessage
from .._params import check_params, merge_extra_body, normalize_tools

__all__ = ["build_body"]

_PROVIDER = "the OpenAI Responses API"

# Input content parts already in the Responses form pass through unchanged.
_INPUT_PARTS = frozenset({"input_text", "input_image", "input_file"})

# Annotations the API accepts back on an ``output_text`` part.
_ANNOTATION_TYPES = frozenset(
    {"url_citation", "file_citation", "container_file_citation", "file_path"}
)

_TOOL_CHOICES = frozenset({"auto", "none", "required"})


def build_body(
    messages: Sequence[Message], *, model: str, params: Mapping[str, Any]
) -> dict[str, Any]:
    """The JSON body of a streaming ``/v1/responses`` request."""
    check_params(params, "openai-responses")
    body: dict[str, Any] = {"model": model, "input": _input_items(messages), "stream": True}

    if params.get("stop") is not None:
        msg = (
            f"stop sequences are not supported by {_PROVIDER}; "
            "remove 'stop' (or use the Chat Completions provider)"
        )
        raise InvalidInputError(msg)
    if params.get("thinking_budget") is not None:
        msg = (
            f"thinking_budget is not supported by {_PROVIDER}; "
            "use reasoning_effort ('minimal', 'low', 'medium', 'high', ...)"
        )
        raise InvalidInputError(msg)
    if params.get("seed") is not None:
        msg = f"seed is not supported by {_PROVIDER}"
        raise InvalidInputError(msg)
    n = params.get("n")
    if n is not None and n != 1:
        msg = f"n={n!r}: {_PROVIDER} returns one answer per request"
        raise InvalidInputError(msg)
    choice = params.get("choice")
    if choice is not None and choice != 0:
        msg = f"choice={choice!r}: {_PROVIDER} returns one answer per request"
        raise InvalidInputError(msg)
    # include_usage: the Responses API always reports usage; nothing to send.

    for name in ("temperature", "top_p", "user"):
        if params.get(name) is not None:
            body[name] = params[name]
    if params.get("max_tokens") is not None:
        body["max_output_tokens"] = params["max_tokens"]

    tools = params.get("tools")
    if tools:
        body["tools"] = _tools(tools)
    tool_choice = params.get("tool_choice")
    if tool_choice is not None:
        body["tool_choice"] = _tool_choice(tool_choice)

    reasoning: dict[str, Any] = {}
    if params.get("reasoning_effort") is not None:
        reasoning["effort"] = params["reasoning_effort"]
    if params.get("include_reasoning"):
        reasoning["summary"] = "auto"
        body["include"] = ["reasoning.encrypted_content"]
        body["store"] = False
    if reasoning:
        body["reasoning"] = reasoning

    return merge_extra_body(body, params)


# -- tools -----------------------------------------------------------------------


def _tools(tools: Sequence[Any]) -> list[dict[str, Any]]:
    if isinstance(tools, (str, bytes)) or not isinstance(tools, Sequence):
        msg = f"tools must be a list, got {type(tools).__name__}"
        raise InvalidInputError(msg)
    out = []
    for raw, schema in zip(tools, normalize_tools(tools), strict=True):
        tool: dict[str, Any] = {
            "type": "function",
            "name": schema["name"],
            "description": schema["description"],
            "parameters": schema["parameters"],
            # The Responses API needs an explicit choice; strict mode rejects
            # ordinary schemas, so it is on only when the tool asks for it.
            "strict": _strict(raw),
        }
        out.append(tool)
    return out


def _strict(tool: object) -> bool:
    if isinstance(tool, Mapping):
        function = tool.get("function")
        spec = function if isinstance(function, Mapping) else tool
        return spec.get("strict") is True
    return False


def _tool_choice(choice: object) -> Any:
    if isinstance(choice, str):
        if choice in _TOOL_CHOICES:
            return choice
        if not choice:
            msg = "tool_choice must not be empty"
            raise InvalidInputError(msg)
        return {"type": "function", "name": choice}
    if isinstance(choice, Mapping):
        function = choice.get("function")
        if choice.get("type") == "function" and isinstance(function, Mapping):
            return {"type": "function", "name": function.get("name")}  # Chat Completions form
        return dict(choice)
    msg = f"tool_choice must be 'auto', 'none', 'required' or a tool name, got {choice!r}"
    raise InvalidInputError(msg)


# -- messages --------------------------------------------------------------------


def _input_items(messages: Sequence[Message]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    custom_calls: set[str] = set()  # call ids of custom tools: their outputs differ
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if isinstance(message, SystemMessage):
            items.append({"role": "system", "content": _system_text(message.content, where)})
        elif isinstance(message, HumanMessage):
            items.append({"role": "user", "content": _user_content(message.content, where)})
        elif isinstance(message, AIMessage):
            items.extend(_ai_items(message, where, custom_calls))
        elif isinstance(message, ToolMessage):
            items.append(_tool_output(message, where, custom_calls))
        else:
            msg = f"{where}: expected a message object, got {type(message).__name__}"
            raise InvalidInputError(msg)
    return items


def _system_text(content: object, where: str) -> str:
    if isinstance(content, str):
        return content
    texts = []
    for j, block in enumerate(_blocks(content, where)):
        if block.get("type") not in ("text", "input_text"):
            msg = f"{where}.content[{j}]: a system message can only hold text for {_PROVIDER}"
            raise InvalidInputError(msg)
        texts.append(str(block.get("text") or ""))
    return "".join(texts)


def _blocks(content: object, where: str) -> list[Mapping[str, Any]]:
    if not isinstance(content, list) or not all(isinstance(b, Mapping) for b in content):
        msg = f"{where}: 'content' must be a string or a list of content blocks"
        raise InvalidInputError(msg)
    return list(content)


def _user_content(content: object, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "input_text", "text": content}]
    return [
        _input_part(block, f"{where}.content[{j}]")
        for j, block in enumerate(_blocks(content, where))
    ]


def _data_url(block: Mapping[str, Any], where: str, default_mime: str | None = None) -> str:
    mime = block.get("mime_type") or default_mime
    if not isinstance(mime, str) or not mime:
        msg = f"{where}: base64 data needs a 'mime_type'"
        raise InvalidInputError(msg)
    return f"data:{mime};base64,{block['base64']}"


def _input_part(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    btype = block.get("type")
    if btype == "text":
        return {"type": "input_text", "text": str(block.get("text") or "")}
    if btype in _INPUT_PARTS:
        return dict(block)
    extras = block.get("extras")
    extras = extras if isinstance(extras, Mapping) else {}
    if btype == "image":
        part: dict[str, Any] = {
            "type": "input_image",
            "detail": block.get("detail") or extras.get("detail") or "auto",
        }
        if isinstance(block.get("url"), str):
            part["image_url"] = block["url"]
        elif isinstance(block.get("base64"), str):
            part["image_url"] = _data_url(block, where)
        elif isinstance(block.get("file_id"), str):
            part["file_id"] = block["file_id"]
        else:
            msg = f"{where}: an image block needs 'url', 'base64' (with 'mime_type') or 'file_id'"
            raise InvalidInputError(msg)
        return part
    if btype == "file":
        part = {"type": "input_file"}
        if isinstance(block.get("file_id"), str):
            part["file_id"] = block["file_id"]
        elif isinstance(block.get("url"), str):
            part["file_url"] = block["url"]
        elif isinstance(block.get("base64"), str):
            part["file_data"] = _data_url(block, where, "application/pdf")
            filename = block.get("filename") or extras.get("filename") or "file"
            part["filename"] = filename
        else:
            msg = f"{where}: a file block needs 'file_id', 'url' or 'base64'"
            raise InvalidInputError(msg)
        return part
    msg = (
        f"{where}: content blocks of type {btype!r} are not supported by {_PROVIDER} "
        "(use text, image or file blocks)"
    )
    raise InvalidInputError(msg)


def _annotations_back(raw: object) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if not isinstance(raw, list):
        return out
    for annotation in raw:
        if not isinstance(annotation, Mapping):
            continue
        atype = annotation.get("type")
        if atype == "citation":
            url = annotation.get("url")
            start, end = annotation.get("start_index"), annotation.get("end_index")
            if isinstance(url, str) and isinstance(start, int) and isinstance(end, int):
                out.append(
                    {
                        "type": "url_citation",
                        "url": url,
                        "title": annotation.get("title") or "",
                        "start_index": start,
                        "end_index": end,
                    }
                )
        elif atype == "non_standard_annotation":
            value = annotation.get("value")
            if isinstance(value, Mapping) and value.get("type") in _ANNOTATION_TYPES:
                out.append(dict(value))
    return out


class _AIConverter:
    """One assistant message back to output items, in content order."""

    def __init__(self, where: str, custom_calls: set[str]) -> None:
        self.where = where
        self.custom_calls = custom_calls
        self.items: list[dict[str, Any]] = []
        self.message: dict[str, Any] | None = None  # the assistant message being built
        self.reasoning: dict[str, Any] | None = None  # the reasoning item being built
        self.call_ids: set[str] = set()
        self.images: dict[str, dict[str, Any]] = {}  # image_generation_call items by id

    def _message_for(self, item_id: object) -> dict[str, Any]:
        self.reasoning = None
        current = self.message
        if current is not None and (item_id is None or current.get("id") == item_id):
            return current
        message: dict[str, Any] = {"type": "message", "role": "assistant", "content": []}
        if isinstance(item_id, str) and item_id:
            message["id"] = item_id
            message["status"] = "completed"
        self.items.append(message)
        self.message = message
        return message

    def _add_item(self, item: dict[str, Any]) -> None:
        self.message = None
        self.reasoning = None
        self.items.append(item)

    def text(self, block: Mapping[str, Any]) -> None:
        part = {
            "type": "output_text",
            "text": str(block.get("text") or ""),
            "annotations": _annotations_back(block.get("annotations")),
        }
        self._message_for(block.get("id"))["content"].append(part)

    def reasoning_block(self, block: Mapping[str, Any]) -> None:
        extras = block.get("extras")
        extras = extras if isinstance(extras, Mapping) else {}
        rid = extras.get("id") or block.get("id")
        if not isinstance(rid, str) or not rid:
            return  # reasoning from another provider: the API cannot take it
        item = self.reasoning
        if item is None or item["id"] != rid:
            item = {"type": "reasoning", "id": rid, "summary": []}
            self._add_item(item)
            self.reasoning = item
        encrypted = extras.get("encrypted_content")
        if isinstance(encrypted, str) and encrypted:
            item["encrypted_content"] = encrypted
        text = str(block.get("reasoning") or "")
        if "content_index" in extras:
            item.setdefault("content", []).append({"type": "reasoning_text", "text": text})
        elif "summary_index" in extras or text:
            item["summary"].append({"type": "summary_text", "text": text})

    def call(self, block: Mapping[str, Any], where: str) -> None:
        call_id = block.get("id")
        name = block.get("name")
        if not isinstance(call_id, str) or not call_id:
            msg = f"{where}: tool call {name!r} has no id; {_PROVIDER} needs its call_id"
            raise InvalidInputError(msg)
        if not isinstance(name, str) or not name:
            msg = f"{where}: tool call {call_id!r} has no name"
            raise InvalidInputError(msg)
        extras = block.get("extras")
        extras = extras if isinstance(extras, Mapping) else {}
        args = block.get("args")
        item: dict[str, Any]
        if extras.get("item_type") == "custom_tool_call":
            text = args.get("input") if isinstance(args, Mapping) else args
            item = {"type": "custom_tool_call", "call_id": call_id, "name": name}
            item["input"] = text if isinstance(text, str) else json.dumps(text, ensure_ascii=False)
            self.custom_calls.add(call_id)
        else:
            if isinstance(args, str):
                arguments = args
            else:
                arguments = json.dumps(args if args is not None else {}, ensure_ascii=False)
            item = {"type": "function_call", "call_id": call_id, "name": name}
            item["arguments"] = arguments
        item_id = extras.get("item_id")
        if isinstance(item_id, str) and item_id:
            item["id"] = item_id
        self.call_ids.add(call_id)
        self._add_item(item)

    def server_call(self, block: Mapping[str, Any]) -> None:
        extras = block.get("extras")
        raw = extras.get("item") if isinstance(extras, Mapping) else None
        if not isinstance(raw, Mapping) or not isinstance(raw.get("type"), str):
            return  # another provider's server tool: nothing the API can take
        item = dict(raw)  # exactly as received: nulls included (some are required)
        if item["type"] == "image_generation_call" and isinstance(item.get("id"), str):
            item.setdefault("result", None)
            self.images[item["id"]] = item
        self._add_item(item)

    def image(self, block: Mapping[str, Any]) -> None:
        image_id = block.get("id")
        item = self.images.get(image_id) if isinstance(image_id, str) else None
        if item is not None and isinstance(block.get("base64"), str):
            item["result"] = block["base64"]

    def non_standard(self, block: Mapping[str, Any]) -> None:
        value = block.get("value")
        if not isinstance(value, Mapping):
            return
        if value.get("type") == "refusal":
            part = {"type": "refusal", "refusal": str(value.get("refusal") or "")}
            self._message_for(block.get("id"))["content"].append(part)
        elif isinstance(value.get("type"), str) and isinstance(value.get("id"), str):
            # An output item this adapter kept whole (mcp_approval_request, ...).
            self._add_item(dict(value))


def _ai_items(message: AIMessage, where: str, custom_calls: set[str]) -> list[dict[str, Any]]:
    conv = _AIConverter(where, custom_calls)
    content = message.content
    if isinstance(content, str):
        if content:
            conv.text({"type": "text", "text": content})
    else:
        for j, block in enumerate(content):
            if not isinstance(block, Mapping):
                msg = f"{where}.content[{j}]: expected a content block, got {type(block).__name__}"
                raise InvalidInputError(msg)
            btype = block.get("type")
            if btype == "text":
                conv.text(block)
            elif btype == "reasoning":
                conv.reasoning_block(block)
            elif btype in ("tool_call", "invalid_tool_call", "tool_call_chunk"):
                conv.call(block, f"{where}.content[{j}]")
            elif btype == "server_tool_call":
                conv.server_call(block)
            elif btype == "image":
                conv.image(block)
            elif btype == "non_standard":
                conv.non_standard(block)
            # server_tool_result: part of its call's item; other blocks have no
            # Responses form as assistant output and are left out.
    # Tool calls that are not content blocks (messages built by hand).
    for k, call in enumerate([*message.tool_calls, *message.invalid_tool_calls]):
        if call.get("id") not in conv.call_ids:
            conv.call(call, f"{where}.tool_calls[{k}]")
    return conv.items


def _tool_output(message: ToolMessage, where: str, custom_calls: set[str]) -> dict[str, Any]:
    if not message.tool_call_id:
        msg = f"{where}: a tool message needs the 'tool_call_id' of the call it answers"
        raise InvalidInputError(msg)
    content = message.content
    output: str | list[dict[str, Any]]
    if isinstance(content, str):
        output = content
    else:
        blocks = _blocks(content, where)
        if all(b.get("type") in ("text", "input_text") for b in blocks):
            output = "".join(str(b.get("text") or "") for b in blocks)
        else:
            output = [_input_part(b, f"{where}.content[{j}]") for j, b in enumerate(blocks)]
    kind = (
        "custom_tool_call_output"
        if message.tool_call_id in custom_calls
        else "function_call_output"
    )
    return {"type": kind, "call_id": message.tool_call_id, "output": output}
