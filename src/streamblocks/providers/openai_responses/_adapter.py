"""OpenAI Responses API streaming: provider events in, protocol events out.

The stream is a sequence of JSON objects, each with a ``type``. A response is
a list of *output items* (``output_index``); a message item holds *content
parts* (``content_index``); a reasoning item holds *summary parts*
(``summary_index``) and, on some compatible servers, ``reasoning_text`` content
parts. Every item is announced by ``response.output_item.added`` and finalized
by ``response.output_item.done``; ``response.completed`` (or ``.incomplete``)
ends the answer and carries the usage.

=======================================  ===============================================
Responses output                          protocol block
=======================================  ===============================================
message ``output_text`` part              ``text`` (``id`` = message item id), annotations
message ``refusal`` part                  ``non_standard`` ``{"type": "refusal", ...}``
reasoning summary / ``reasoning_text``    ``reasoning``, one block per part; ``extras``:
                                          ``id``, ``encrypted_content`` (first block),
                                          ``summary_index`` / ``content_index``
reasoning item without any part           one ``reasoning`` block, empty, ``extras`` kept
``function_call``                         ``tool_call_chunk`` -> ``tool_call``
                                          (``id`` = ``call_id``, ``extras.item_id``)
``custom_tool_call``                      ``tool_call_chunk``, args ``{"input": ...}``,
                                          ``extras.item_type = "custom_tool_call"``
``web_search_call``, ``file_search_call``,
``code_interpreter_call``, ``mcp_call``,
``mcp_list_tools``                        ``server_tool_call`` (raw item in
                                          ``extras.item``) + ``server_tool_result``
``image_generation_call``                 ``server_tool_call`` + ``image`` (final
                                          ``result``); partial images are live
                                          ``block-delta`` snapshots only
``mcp_approval_request``, unknown items   ``non_standard`` (raw item)
=======================================  ===============================================

Finish reason (there is none on the wire): ``"tool_calls"`` when the answer
contains a client tool call (``function_call`` or ``custom_tool_call``),
otherwise ``"stop"``; ``response.incomplete`` gives its
``incomplete_details.reason`` (``"max_output_tokens"``, ``"content_filter"``).
The response ``status`` is kept beside it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..._errors import IncompleteStreamError, ProtocolError
from .._builder import Event, MessageBuilder, provider_error, usage_info

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["OpenAIResponsesAdapter"]

_WHO = "OpenAI Responses stream"

# Server-side tools: the protocol ``name`` of each item type.
_SERVER_TOOLS = {
    "web_search_call": "web_search",
    "file_search_call": "file_search",
    "code_interpreter_call": "code_interpreter",
    "mcp_call": "mcp_call",  # replaced by the MCP tool's own name when known
    "mcp_list_tools": "mcp_list_tools",
    "image_generation_call": "image_generation",
}

# Items whose streamed argument text is not JSON: it is wrapped as the one
# string field of a JSON object, so that the fragments still concatenate to
# the call's JSON arguments.
_WRAPPED = {"custom_tool_call": "input", "code_interpreter_call": "code"}

# Argument events: event type -> the item type they belong to.
_ARG_DELTAS = {
    "response.function_call_arguments.delta": "function_call",
    "response.custom_tool_call_input.delta": "custom_tool_call",
    "response.code_interpreter_call_code.delta": "code_interpreter_call",
    "response.mcp_call_arguments.delta": "mcp_call",
}
_ARG_DONES = {
    "response.function_call_arguments.done": ("function_call", "arguments"),
    "response.custom_tool_call_input.done": ("custom_tool_call", "input"),
    "response.code_interpreter_call_code.done": ("code_interpreter_call", "code"),
    "response.mcp_call_arguments.done": ("mcp_call", "arguments"),
}

# Response-level scalars copied to the finish metadata (when not null).
_RESPONSE_FIELDS = (
    "status",
    "service_tier",
    "created_at",
    "completed_at",
    "background",
    "previous_response_id",
    "store",
    "incomplete_details",
)

_OK_STATUSES = frozenset({None, "completed"})


def _tn(value: object) -> str:
    return type(value).__name__


def _esc(text: str) -> str:
    """``text`` escaped as the inside of a JSON string (per character, so
    escaping pieces and joining them equals escaping the joined text)."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _wrap(field: str, text: str) -> str:
    return json.dumps({field: text}, ensure_ascii=False, separators=(",", ":"))


def _convert_annotation(raw: Mapping[str, Any]) -> dict[str, Any]:
    if raw.get("type") == "url_citation" and isinstance(raw.get("url"), str):
        citation: dict[str, Any] = {"type": "citation", "url": raw["url"]}
        for key in ("title", "start_index", "end_index"):
            value = raw.get(key)
            if value is not None:
                citation[key] = value
        return citation
    return {"type": "non_standard_annotation", "value": dict(raw)}


class _Item:
    """What the adapter tracks for one output item."""

    __slots__ = ("done", "id", "keys", "last_partial", "parts", "raw", "settled", "type")

    def __init__(self, itype: str | None, item_id: str | None) -> None:
        self.type = itype
        self.id = item_id
        self.raw: dict[str, Any] = {}
        self.keys: list[tuple[Any, ...]] = []  # builder keys opened for this item, in order
        self.parts: list[str] = []  # argument / code / input fragments as received
        self.settled = False  # the authoritative full arguments were reconciled
        self.done = False
        self.last_partial: tuple[str, Any] | None = None  # (base64, partial_image_index)


class OpenAIResponsesAdapter:
    """OpenAI Responses stream events (SSE ``data`` payloads) to protocol events.

    ``provider`` names the source in the message metadata (``"openai"``, or the
    name of a Responses-compatible server such as LM Studio).
    """

    __slots__ = (
        "_annotations",
        "_b",
        "_by_item_id",
        "_closed",
        "_final",
        "_handlers",
        "_items",
        "_logprobs",
        "_refusals",
        "_tool_called",
        "provider",
    )

    def __init__(self, *, provider: str = "openai") -> None:
        self.provider = provider
        self._b = MessageBuilder(provider)
        self._items: dict[int, _Item] = {}
        self._by_item_id: dict[str, int] = {}
        self._final: dict[tuple[Any, ...], str] = {}  # authoritative text per block key
        self._annotations: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        self._refusals: dict[tuple[Any, ...], list[str]] = {}
        self._logprobs: list[Any] = []
        self._tool_called = False
        self._closed = False
        self._handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "response.created": self._on_response_start,
            "response.queued": self._on_response_start,
            "response.in_progress": self._on_response_start,
            "response.output_item.added": self._on_item_added,
            "response.output_item.done": self._on_item_done,
            "response.content_part.added": self._on_part_added,
            "response.content_part.done": self._on_part_done,
            "response.output_text.delta": self._on_text_delta,
            "response.output_text.done": self._on_text_done,
            "response.output_text.annotation.added": self._on_annotation,
            "response.refusal.delta": self._on_refusal_delta,
            "response.refusal.done": self._on_refusal_done,
            "response.reasoning_summary_part.added": self._on_summary_part,
            "response.reasoning_summary_part.done": self._on_summary_part,
            "response.reasoning_summary_text.delta": self._on_summary_delta,
            "response.reasoning_summary_text.done": self._on_summary_done,
            "response.reasoning_text.delta": self._on_reasoning_text_delta,
            "response.reasoning_text.done": self._on_reasoning_text_done,
            "response.image_generation_call.partial_image": self._on_partial_image,
            "response.completed": self._on_completed,
            "response.incomplete": self._on_completed,
            "response.failed": self._on_failed,
            "error": self._on_error,
        }
        for name in _ARG_DELTAS:
            self._handlers[name] = self._on_args_delta
        for name in _ARG_DONES:
            self._handlers[name] = self._on_args_done

    @property
    def finished(self) -> bool:
        return self._b.finished

    # -- feeding ---------------------------------------------------------------

    def feed(self, chunk: Any) -> list[Event]:
        if self._closed or self._b.finished:
            return []
        if type(chunk) is not dict:
            if not isinstance(chunk, Mapping):
                raise self._error(None, None, f"a chunk must be an object, got {_tn(chunk)}")
            chunk = dict(chunk)
        ctype = chunk.get("type")
        if ctype == "response.output_text.delta":
            # The hot path: a text delta costs a few lookups and one event.
            delta = chunk.get("delta")
            oi = chunk.get("output_index")
            ci = chunk.get("content_index", 0)
            if type(delta) is str and type(oi) is int and type(ci) is int:
                key = ("t", oi, ci)
                b = self._b
                if not b.is_open(key):
                    self._open_text(key, oi)
                b.text(key, delta)
                return b.take()
        if not isinstance(ctype, str):
            problem = "is missing" if ctype is None else f"must be a string, got {_tn(ctype)}"
            raise self._error(None, "type", problem)
        handler = self._handlers.get(ctype)
        if handler is not None:
            handler(chunk)
        # Unknown event types (and status events such as ``.searching``) add nothing.
        return self._b.take()

    def end(self) -> list[Event]:
        if self._closed or self._b.finished:
            self._closed = True
            return []
        self._closed = True
        msg = (
            f"the {_WHO} ended before 'response.completed' (or '.incomplete'): "
            "the answer may be cut short and no usage was reported"
        )
        raise IncompleteStreamError(msg)

    # -- validation --------------------------------------------------------------

    def _error(self, ctype: str | None, field: str | None, problem: str) -> ProtocolError:
        where = f"'{ctype}' event" if ctype else "event"
        if field is not None:
            where += f": field '{field}'"
        return ProtocolError(
            f"{_WHO} ({self.provider}): {where} {problem}", event_type=ctype, field=field
        )

    def _str(self, chunk: Mapping[str, Any], field: str) -> str | None:
        value = chunk.get(field)
        if value is None or type(value) is str:
            return value
        raise self._error(chunk.get("type"), field, f"must be a string, got {_tn(value)}")

    def _dict(self, chunk: Mapping[str, Any], field: str) -> dict[str, Any] | None:
        value = chunk.get(field)
        if value is None or type(value) is dict:
            return value
        if isinstance(value, Mapping):
            return dict(value)
        raise self._error(chunk.get("type"), field, f"must be an object, got {_tn(value)}")

    def _index(self, chunk: Mapping[str, Any], field: str, *, default: int | None = None) -> int:
        value = chunk.get(field)
        if type(value) is int:
            return value
        if value is None:
            if default is not None:
                return default
        elif isinstance(value, int) and not isinstance(value, bool):
            return int(value)
        else:
            raise self._error(chunk.get("type"), field, f"must be an integer, got {_tn(value)}")
        if field == "output_index":
            # A server that omits output_index: find the item by its id.
            item_id = chunk.get("item_id")
            if isinstance(item_id, str) and item_id in self._by_item_id:
                return self._by_item_id[item_id]
        raise self._error(chunk.get("type"), field, "is missing")

    # -- items -------------------------------------------------------------------

    def _item(self, oi: int, item: dict[str, Any] | None = None, itype: str | None = None) -> _Item:
        st = self._items.get(oi)
        if st is None:
            st = self._items[oi] = _Item(itype, None)
        elif st.type is None:
            st.type = itype
        if item is not None:
            raw_type = item.get("type")
            if not isinstance(raw_type, str):
                problem = (
                    "is missing" if raw_type is None else f"must be a string, got {_tn(raw_type)}"
                )
                raise self._error("response.output_item", "item.type", problem)
            st.raw = item
            st.type = raw_type
            item_id = item.get("id")
            if isinstance(item_id, str) and item_id:
                st.id = item_id
                self._by_item_id[item_id] = oi
        return st

    def _on_item_added(self, chunk: dict[str, Any]) -> None:
        oi = self._index(chunk, "output_index")
        item = self._dict(chunk, "item")
        if item is None:
            raise self._error(chunk["type"], "item", "is missing")
        st = self._item(oi, item)
        if st.type in ("function_call", "custom_tool_call") or st.type in _SERVER_TOOLS:
            self._open_call(st, oi)
        else:
            self._b.start()

    def _on_item_done(self, chunk: dict[str, Any]) -> None:
        oi = self._index(chunk, "output_index")
        item = self._dict(chunk, "item")
        if item is None:
            raise self._error(chunk["type"], "item", "is missing")
        self._finish_item(oi, item)

    def _finish_item(self, oi: int, item: dict[str, Any] | None) -> None:
        st = self._item(oi, item)
        if st.done:
            return
        st.done = True
        raw = st.raw
        itype = st.type
        if itype == "message":
            self._finish_message(st, oi, raw)
        elif itype == "reasoning":
            self._finish_reasoning(st, oi, raw)
        elif itype in ("function_call", "custom_tool_call"):
            self._finish_call(st, oi, raw)
        elif itype == "image_generation_call":
            self._finish_image(st, oi, raw)
        elif itype in _SERVER_TOOLS:
            self._finish_server_call(st, oi, raw)
        else:
            # mcp_approval_request, computer_call, ... and types newer than this code.
            for key in st.keys:
                self._b.close(key)
            if raw:
                self._b.add(("item", oi), {"type": "non_standard", "value": raw})

    # -- text and refusals -------------------------------------------------------

    def _finished_key(self, key: tuple[Any, ...], oi: int) -> bool:
        """Whether the block under ``key`` was opened and already closed."""
        st = self._items.get(oi)
        return st is not None and key in st.keys and not self._b.is_open(key)

    def _open_text(self, key: tuple[Any, ...], oi: int) -> None:
        st = self._item(oi, itype="message")
        block: dict[str, Any] = {"type": "text", "text": ""}
        if st.id:
            block["id"] = st.id
        self._b.open(key, block)
        st.keys.append(key)

    def _open_refusal(self, key: tuple[Any, ...], oi: int) -> None:
        st = self._item(oi, itype="message")
        block: dict[str, Any] = {
            "type": "non_standard",
            "value": {"type": "refusal", "refusal": ""},
        }
        if st.id:
            block["id"] = st.id
        self._b.open(key, block)
        self._refusals.setdefault(key, [])
        st.keys.append(key)

    def _on_text_delta(self, chunk: dict[str, Any]) -> None:
        # Only reached when the hot path in ``feed`` found a field of the wrong type.
        delta = self._str(chunk, "delta") or ""
        oi = self._index(chunk, "output_index")
        key = ("t", oi, self._index(chunk, "content_index", default=0))
        if not self._b.is_open(key):
            self._open_text(key, oi)
        self._b.text(key, delta)

    def _on_text_done(self, chunk: dict[str, Any]) -> None:
        oi = self._index(chunk, "output_index")
        key = ("t", oi, self._index(chunk, "content_index", default=0))
        text = self._str(chunk, "text")
        if self._finished_key(key, oi):
            return  # a late duplicate of what the part's close already gave
        if not self._b.is_open(key):
            self._open_text(key, oi)
        if text is not None:
            self._final[key] = text
        logprobs = chunk.get("logprobs")
        if isinstance(logprobs, list) and logprobs:
            self._logprobs.extend(logprobs)

    def _on_annotation(self, chunk: dict[str, Any]) -> None:
        oi = self._index(chunk, "output_index")
        key = ("t", oi, self._index(chunk, "content_index", default=0))
        annotation = self._dict(chunk, "annotation")
        if annotation is None or self._finished_key(key, oi):
            return
        if not self._b.is_open(key):
            self._open_text(key, oi)
        self._annotations.setdefault(key, []).append(annotation)

    def _on_refusal_delta(self, chunk: dict[str, Any]) -> None:
        oi = self._index(chunk, "output_index")
        key = ("r", oi, self._index(chunk, "content_index", default=0))
        delta = self._str(chunk, "delta")
        if not self._b.is_open(key):
            self._open_refusal(key, oi)
        if delta:
            self._refusals[key].append(delta)

    def _on_refusal_done(self, chunk: dict[str, Any]) -> None:
        oi = self._index(chunk, "output_index")
        key = ("r", oi, self._index(chunk, "content_index", default=0))
        refusal = self._str(chunk, "refusal")
        if self._finished_key(key, oi):
            return
        if not self._b.is_open(key):
            self._open_refusal(key, oi)
        if refusal is not None:
            self._final[key] = refusal

    def _close_text(
        self, st: _Item, key: tuple[Any, ...], text: object, annotations: object
    ) -> None:
        b = self._b
        if not b.is_open(key):
            if key in st.keys:
                return  # already closed
            self._open_text(key, key[1])
        final = self._final.pop(key, None)
        if isinstance(text, str):
            final = text
        raw_annotations = self._annotations.pop(key, None)
        if isinstance(annotations, list):
            raw_annotations = annotations  # the final part's list is authoritative
        block: dict[str, Any] = {"type": "text", "text": final or ""}
        if st.id:
            block["id"] = st.id
        if raw_annotations:
            block["annotations"] = [
                _convert_annotation(a) for a in raw_annotations if isinstance(a, Mapping)
            ]
        b.close(key, block)

    def _close_refusal(self, st: _Item, key: tuple[Any, ...], refusal: object) -> None:
        b = self._b
        if not b.is_open(key):
            if key in st.keys:
                return
            self._open_refusal(key, key[1])
        pieces = self._refusals.pop(key, [])
        final = self._final.pop(key, None)
        if isinstance(refusal, str):
            final = refusal
        if final is None:
            final = "".join(pieces)
        self._refusals[key] = [final]  # kept for additional_kwargs["refusal"]
        block: dict[str, Any] = {
            "type": "non_standard",
            "value": {"type": "refusal", "refusal": final},
        }
        if st.id:
            block["id"] = st.id
        b.close(key, block)

    def _on_part_added(self, chunk: dict[str, Any]) -> None:
        oi = self._index(chunk, "output_index")
        ci = self._index(chunk, "content_index", default=0)
        part = self._dict(chunk, "part") or {}
        ptype = part.get("type")
        if ptype == "output_text":
            key = ("t", oi, ci)
            if not self._b.is_open(key):
                self._open_text(key, oi)
        elif ptype == "refusal":
            key = ("r", oi, ci)
            if not self._b.is_open(key):
                self._open_refusal(key, oi)
        elif ptype == "reasoning_text":
            self._open_reasoning(("c", oi, ci), oi)

    def _on_part_done(self, chunk: dict[str, Any]) -> None:
        oi = self._index(chunk, "output_index")
        ci = self._index(chunk, "content_index", default=0)
        part = self._dict(chunk, "part") or {}
        ptype = part.get("type")
        st = self._item(oi)
        if ptype == "output_text":
            self._close_text(st, ("t", oi, ci), part.get("text"), part.get("annotations"))
        elif ptype == "refusal":
            self._close_refusal(st, ("r", oi, ci), part.get("refusal"))
        elif ptype == "reasoning_text":
            # Closed with the item, when its encrypted content is known.
            key = ("c", oi, ci)
            self._open_reasoning(key, oi)
            text = part.get("text")
            if isinstance(text, str):
                self._final[key] = text

    def _finish_message(self, st: _Item, oi: int, item: dict[str, Any]) -> None:
        content = item.get("content")
        if isinstance(content, list):
            for ci, part in enumerate(content):
                if not isinstance(part, Mapping):
                    continue
                ptype = part.get("type")
                if ptype == "output_text":
                    self._close_text(st, ("t", oi, ci), part.get("text"), part.get("annotations"))
                elif ptype == "refusal":
                    self._close_refusal(st, ("r", oi, ci), part.get("refusal"))
                else:
                    self._b.add(("p", oi, ci), {"type": "non_standard", "value": dict(part)})
        for key in st.keys:
            if self._b.is_open(key):
                if key[0] == "r":
                    self._close_refusal(st, key, None)
                else:
                    self._close_text(st, key, None, None)

    # -- reasoning -------------------------------------------------------------

    def _open_reasoning(self, key: tuple[Any, ...], oi: int) -> None:
        if self._b.is_open(key):
            return
        st = self._item(oi, itype="reasoning")
        if key in st.keys:
            return  # already closed
        block: dict[str, Any] = {"type": "reasoning", "reasoning": ""}
        if st.id:
            block["id"] = st.id
        self._b.open(key, block)
        st.keys.append(key)

    def _on_summary_part(self, chunk: dict[str, Any]) -> None:
        oi = self._index(chunk, "output_index")
        key = ("s", oi, self._index(chunk, "summary_index", default=0))
        self._open_reasoning(key, oi)
        part = self._dict(chunk, "part") or {}
        text = part.get("text")
        if isinstance(text, str) and text:
            self._final[key] = text

    def _on_summary_delta(self, chunk: dict[str, Any]) -> None:
        oi = self._index(chunk, "output_index")
        key = ("s", oi, self._index(chunk, "summary_index", default=0))
        delta = self._str(chunk, "delta") or ""
        self._open_reasoning(key, oi)
        if self._b.is_open(key):
            self._b.reasoning(key, delta)

    def _on_summary_done(self, chunk: dict[str, Any]) -> None:
        oi = self._index(chunk, "output_index")
        key = ("s", oi, self._index(chunk, "summary_index", default=0))
        self._open_reasoning(key, oi)
        text = self._str(chunk, "text")
        if text is not None:
            self._final[key] = text

    def _on_reasoning_text_delta(self, chunk: dict[str, Any]) -> None:
        oi = self._index(chunk, "output_index")
        key = ("c", oi, self._index(chunk, "content_index", default=0))
        delta = self._str(chunk, "delta") or ""
        self._open_reasoning(key, oi)
        if self._b.is_open(key):
            self._b.reasoning(key, delta)

    def _on_reasoning_text_done(self, chunk: dict[str, Any]) -> None:
        oi = self._index(chunk, "output_index")
        key = ("c", oi, self._index(chunk, "content_index", default=0))
        self._open_reasoning(key, oi)
        text = self._str(chunk, "text")
        if text is not None:
            self._final[key] = text

    def _finish_reasoning(self, st: _Item, oi: int, item: dict[str, Any]) -> None:
        for field, tag, ptype in (
            ("summary", "s", "summary_text"),
            ("content", "c", "reasoning_text"),
        ):
            parts = item.get(field)
            if not isinstance(parts, list):
                continue
            for i, part in enumerate(parts):
                if not isinstance(part, Mapping) or part.get("type", ptype) != ptype:
                    continue
                key = (tag, oi, i)
                self._open_reasoning(key, oi)
                text = part.get("text")
                if isinstance(text, str):
                    self._final[key] = text
        if not st.keys:
            # An encrypted (or stored) reasoning item with no readable part:
            # still a block, so that it can be sent back.
            self._open_reasoning(("rs", oi), oi)
        encrypted = item.get("encrypted_content")
        first = True
        for key in st.keys:
            if not self._b.is_open(key):
                continue
            extras: dict[str, Any] = {}
            if st.id:
                extras["id"] = st.id
            if first and isinstance(encrypted, str):
                extras["encrypted_content"] = encrypted
            if key[0] == "s":
                extras["summary_index"] = key[2]
            elif key[0] == "c":
                extras["content_index"] = key[2]
            first = False
            block: dict[str, Any] = {"type": "reasoning", "reasoning": self._final.pop(key, "")}
            if st.id:
                block["id"] = st.id
            block["extras"] = extras
            self._b.close(key, block)

    # -- tool calls --------------------------------------------------------------

    def _open_call(self, st: _Item, oi: int) -> None:
        key = ("call", oi)
        if self._b.is_open(key) or key in st.keys:
            return
        raw = st.raw
        block: dict[str, Any]
        if st.type in ("function_call", "custom_tool_call"):
            call_id = raw.get("call_id")
            name = raw.get("name")
            block = {
                "type": "tool_call_chunk",
                "id": call_id if isinstance(call_id, str) else None,
                "name": name if isinstance(name, str) else None,
                "index": oi,
                "args": "",
            }
            extras: dict[str, Any] = {}
            if st.id:
                extras["item_id"] = st.id
            if st.type == "custom_tool_call":
                extras["item_type"] = "custom_tool_call"
            if extras:
                block["extras"] = extras
        else:
            block = {"type": "server_tool_call_chunk", "name": self._server_name(st), "args": ""}
            if st.id:
                block["id"] = st.id
        self._b.open(key, block)
        st.keys.append(key)
        if st.type in ("function_call", "mcp_call", "custom_tool_call", "code_interpreter_call"):
            field = _WRAPPED.get(st.type, "arguments")
            initial = raw.get(field)
            if isinstance(initial, str) and initial:
                self._push_args(st, key, initial)

    def _server_name(self, st: _Item) -> str:
        if st.type == "mcp_call":
            name = st.raw.get("name")
            if isinstance(name, str) and name:
                return name
        return _SERVER_TOOLS.get(st.type or "", st.type or "")

    def _push_args(self, st: _Item, key: tuple[Any, ...], fragment: str) -> None:
        field = _WRAPPED.get(st.type or "")
        if field is None:
            wire = fragment
        elif st.parts:
            wire = _esc(fragment)
        else:
            wire = '{"' + field + '":"' + _esc(fragment)
        st.parts.append(fragment)
        self._b.tool_args(key, wire)

    def _on_args_delta(self, chunk: dict[str, Any]) -> None:
        oi = self._index(chunk, "output_index")
        delta = self._str(chunk, "delta")
        st = self._item(oi, itype=_ARG_DELTAS[chunk["type"]])
        key = ("call", oi)
        if not self._b.is_open(key):
            if key in st.keys:
                return  # a fragment after the call was finished
            self._open_call(st, oi)
        if delta:
            self._push_args(st, key, delta)

    def _on_args_done(self, chunk: dict[str, Any]) -> None:
        oi = self._index(chunk, "output_index")
        itype, field = _ARG_DONES[chunk["type"]]
        full = self._str(chunk, field)
        st = self._item(oi, itype=itype)
        key = ("call", oi)
        if not self._b.is_open(key):
            if key in st.keys:
                return
            self._open_call(st, oi)
        self._settle_args(st, key, full)

    def _settle_args(self, st: _Item, key: tuple[Any, ...], full: str | None) -> None:
        """Reconcile the streamed fragments with the authoritative full text:
        push it whole when no fragment came (LM Studio sends only ``.done``),
        push the missing tail, or replace the args with a snapshot."""
        if full is None or st.settled or not self._b.is_open(key):
            return
        st.settled = True
        held_raw = "".join(st.parts)
        field = _WRAPPED.get(st.type or "")
        if field is None:
            held, target = held_raw, full
        else:
            held = ('{"' + field + '":"' + _esc(held_raw)) if st.parts else ""
            target = _wrap(field, full)
        st.parts = [full] if full else []
        if not held:
            if full or field is not None:
                self._b.tool_args(key, target)
        elif target.startswith(held):
            if len(target) > len(held):
                self._b.tool_args(key, target[len(held) :])
        else:
            self._b.events.append(
                {
                    "event": "content-block-delta",
                    "index": self._b.index_of(key),
                    "delta": {
                        "type": "block-delta",
                        "fields": {"type": self._b.block_type(key), "args": target},
                    },
                }
            )

    def _best(self, st: _Item, item: Mapping[str, Any], field: str) -> str:
        """The item's full argument text, or what was streamed when it has none."""
        value = item.get(field)
        if isinstance(value, str) and (value or not st.parts):
            return value
        return "".join(st.parts)

    def _finish_call(self, st: _Item, oi: int, item: dict[str, Any]) -> None:
        key = ("call", oi)
        self._open_call(st, oi)
        if not self._b.is_open(key):
            return
        field = _WRAPPED.get(st.type or "", "arguments")
        self._settle_args(st, key, self._best(st, item, field))
        call_id = item.get("call_id")
        name = item.get("name")
        block: dict[str, Any] = {
            "type": "tool_call_chunk",
            "id": call_id if isinstance(call_id, str) else None,
            "name": name if isinstance(name, str) else None,
            "index": oi,
        }
        extras: dict[str, Any] = {}
        if st.id:
            extras["item_id"] = st.id
        if st.type == "custom_tool_call":
            extras["item_type"] = "custom_tool_call"
        if extras:
            block["extras"] = extras
        self._b.close(key, block)
        self._tool_called = True

    def _close_server_call(
        self, st: _Item, oi: int, args: dict[str, Any], item: dict[str, Any]
    ) -> None:
        key = ("call", oi)
        self._open_call(st, oi)
        block: dict[str, Any] = {
            "type": "server_tool_call",
            "id": st.id or "",
            "name": self._server_name(st),
            "args": args,
            "extras": {"item": item},
        }
        self._b.close(key, block)

    def _finish_server_call(self, st: _Item, oi: int, item: dict[str, Any]) -> None:
        itype = st.type
        output: Any = None
        args: dict[str, Any] = {}
        error = item.get("error")
        if itype == "web_search_call":
            action = item.get("action")
            if isinstance(action, Mapping):
                args = {k: v for k, v in action.items() if k != "sources" and v is not None}
                sources = action.get("sources")
                if sources:
                    output = {"sources": sources}
        elif itype == "file_search_call":
            args = {"queries": item.get("queries") or []}
            output = item.get("results")
        elif itype == "code_interpreter_call":
            code = self._best(st, item, "code")
            self._settle_args(st, ("call", oi), code)
            args = {"code": code}
            output = item.get("outputs")
        elif itype == "mcp_call":
            arguments = self._best(st, item, "arguments")
            self._settle_args(st, ("call", oi), arguments)
            try:
                parsed = json.loads(arguments) if arguments.strip() else {}
            except ValueError:
                parsed = None
            args = parsed if isinstance(parsed, dict) else {}
            output = error if error else item.get("output")
        elif itype == "mcp_list_tools":
            output = error if error else item.get("tools")
        self._close_server_call(st, oi, args, item)
        failed = bool(error) or item.get("status") not in _OK_STATUSES
        result: dict[str, Any] = {
            "type": "server_tool_result",
            "tool_call_id": st.id or "",
            "status": "error" if failed else "success",
        }
        if output is not None:
            result["output"] = output
        self._b.add(("res", oi), result)

    # -- image generation ----------------------------------------------------------

    @staticmethod
    def _mime(fmt: object) -> str:
        return f"image/{fmt}" if isinstance(fmt, str) and fmt else "image/png"

    def _on_partial_image(self, chunk: dict[str, Any]) -> None:
        oi = self._index(chunk, "output_index")
        b64 = self._str(chunk, "partial_image_b64")
        st = self._item(oi, itype="image_generation_call")
        if not b64:
            return
        st.last_partial = (b64, chunk.get("partial_image_index"))
        self._open_call(st, oi)
        key = ("img", oi)
        mime = self._mime(chunk.get("output_format") or st.raw.get("output_format"))
        if not self._b.is_open(key):
            if key in st.keys:
                return
            block: dict[str, Any] = {"type": "image", "mime_type": mime}
            if st.id:
                block["id"] = st.id
            self._b.open(key, block)
            st.keys.append(key)
        # Live consumers see each partial image as a snapshot of the block; the
        # final message keeps only the final result, which supersedes them.
        self._b.events.append(
            {
                "event": "content-block-delta",
                "index": self._b.index_of(key),
                "delta": {
                    "type": "block-delta",
                    "fields": {"type": "image", "base64": b64, "mime_type": mime},
                },
            }
        )

    def _finish_image(self, st: _Item, oi: int, item: dict[str, Any]) -> None:
        result = item.get("result")
        slim = {k: v for k, v in item.items() if k != "result"}
        self._close_server_call(st, oi, {}, slim)
        key = ("img", oi)
        block: dict[str, Any] = {
            "type": "image",
            "mime_type": self._mime(item.get("output_format")),
        }
        if st.id:
            block["id"] = st.id
        failed = item.get("status") not in _OK_STATUSES
        if isinstance(result, str) and result:
            block["base64"] = result
        elif st.last_partial is not None:
            # No final image: keep the last partial one rather than lose it.
            block["base64"] = st.last_partial[0]
            block["extras"] = {"partial": True, "partial_image_index": st.last_partial[1]}
        else:
            self._b.close(key)
            block = {}
        if block:
            if self._b.is_open(key):
                self._b.close(key, block)
            else:
                self._b.add(key, block)
        if failed or not block:
            result_block: dict[str, Any] = {
                "type": "server_tool_result",
                "tool_call_id": st.id or "",
                "status": "error" if failed else "success",
            }
            self._b.add(("res", oi), result_block)

    # -- the response ----------------------------------------------------------

    def _on_response_start(self, chunk: dict[str, Any]) -> None:
        response = self._dict(chunk, "response") or {}
        rid = response.get("id")
        model = response.get("model")
        self._b.start(
            id=rid if isinstance(rid, str) else None,
            model=model if isinstance(model, str) else None,
        )

    def _on_completed(self, chunk: dict[str, Any]) -> None:
        response = self._dict(chunk, "response") or {}
        self._on_response_start(chunk)
        # Items the stream never finished (or never announced): the response's
        # own output list is authoritative.
        output = response.get("output")
        if isinstance(output, list):
            for oi, item in enumerate(output):
                if isinstance(item, Mapping):
                    st = self._items.get(oi)
                    if st is None or not st.done:
                        self._finish_item(oi, dict(item))
        for oi in sorted(self._items):
            st = self._items[oi]
            if not st.done:
                self._finish_item(oi, None)

        raw_usage = response.get("usage")
        usage = None
        if isinstance(raw_usage, Mapping):
            in_details = raw_usage.get("input_tokens_details")
            out_details = raw_usage.get("output_tokens_details")
            usage = usage_info(
                input_tokens=_int(raw_usage.get("input_tokens")),
                output_tokens=_int(raw_usage.get("output_tokens")),
                total_tokens=_int(raw_usage.get("total_tokens")),
                cache_read=_int(in_details.get("cached_tokens"))
                if isinstance(in_details, Mapping)
                else None,
                reasoning=_int(out_details.get("reasoning_tokens"))
                if isinstance(out_details, Mapping)
                else None,
            )

        if chunk["type"] == "response.incomplete":
            details = response.get("incomplete_details")
            reason = details.get("reason") if isinstance(details, Mapping) else None
            finish_reason = reason if isinstance(reason, str) and reason else "incomplete"
        else:
            finish_reason = "tool_calls" if self._tool_called else "stop"
        metadata: dict[str, Any] = {"finish_reason": finish_reason}
        model = response.get("model")
        if isinstance(model, str):
            metadata["model_name"] = model
        rid = response.get("id")
        if isinstance(rid, str):
            metadata["id"] = rid
        for field in _RESPONSE_FIELDS:
            value = response.get(field)
            if value is not None:
                metadata[field] = value
        if raw_usage is not None:
            metadata["provider_usage"] = raw_usage
        if self._logprobs:
            metadata["logprobs"] = self._logprobs

        additional: dict[str, Any] = {}
        refusal = "".join(p for pieces in self._refusals.values() for p in pieces)
        if refusal:
            additional["refusal"] = refusal
        self._b.finish(usage=usage, metadata=metadata, additional_kwargs=additional)

    def _on_failed(self, chunk: dict[str, Any]) -> None:
        response = self._dict(chunk, "response") or {}
        error = response.get("error")
        code: object = None
        message = "the response failed"
        if isinstance(error, Mapping):
            code = error.get("code") or error.get("type")
            if isinstance(error.get("message"), str) and error["message"]:
                message = error["message"]
        self._closed = True
        raise provider_error(message, code=code, body=chunk)

    def _on_error(self, chunk: dict[str, Any]) -> None:
        error = chunk.get("error")
        source: Mapping[str, Any] = error if isinstance(error, Mapping) else chunk
        code = source.get("code") or source.get("type")
        if code == "error":
            code = None
        message = source.get("message")
        if not isinstance(message, str) or not message:
            message = "the provider reported an error in the stream"
        self._closed = True
        raise provider_error(message, code=code, body=chunk)


def _int(value: object) -> int | None:
    return value if type(value) is int else None
