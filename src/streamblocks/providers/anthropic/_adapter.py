"""Anthropic Messages streaming: provider chunks in, protocol events out.

The stream is a sequence of JSON objects, each with a ``type``:

- ``message_start`` (the message id, model and initial usage);
- ``content_block_start`` / ``content_block_delta`` / ``content_block_stop``,
  keyed by the block's ``index``;
- ``message_delta`` (``stop_reason``, ``stop_sequence``, ``stop_details`` and
  usage, whose ``output_tokens`` is cumulative);
- ``message_stop``; ``ping`` (ignored); ``error`` (raised as a typed error).

Blocks map to protocol blocks as follows (wire index = order of first
appearance, which for Anthropic is its own ``index``):

======================================  =============================================
Anthropic block                          protocol block
======================================  =============================================
``text`` (+ ``citations_delta``)         ``text`` with ``annotations``
``thinking`` (+ ``signature_delta``)     ``reasoning``, ``extras.signature``
``redacted_thinking``                    ``reasoning`` (no text), ``extras.redacted_data``
``tool_use``                             ``tool_call_chunk`` -> ``tool_call``
``server_tool_use``, ``mcp_tool_use``    ``server_tool_call_chunk`` -> ``server_tool_call``
``*_tool_result`` (incl. ``mcp_...``)    ``server_tool_result``
``compaction`` and unknown blocks        ``non_standard`` (raw block, deltas folded in)
======================================  =============================================

Server-side blocks keep ``extras.block_type`` (the Anthropic type) and every
other raw field in ``extras``, so the request builder can send them back
exactly as received.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..._errors import IncompleteStreamError, ProtocolError
from .._builder import Event, MessageBuilder, provider_error, usage_info

__all__ = ["AnthropicAdapter"]

# Block kinds (what the adapter does with a block's deltas).
_TEXT = 0
_THINKING = 1
_TOOL = 2  # client tool_use, server_tool_use, mcp_tool_use: input_json_delta fragments
_RAW = 3  # compaction and unknown blocks: non_standard, deltas folded into the raw block
_DONE = 4  # complete at start (redacted_thinking, tool results): already finished

_SERVER_CALLS = frozenset({"server_tool_use", "mcp_tool_use"})

# message_start.message fields the adapter reads itself; any other non-null
# field (container, context_management, ...) goes to the finish metadata.
_MESSAGE_KNOWN = frozenset(
    {"id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"}
)

# Delta fields of raw (non_standard) blocks that arrive as text fragments and
# are concatenated; every other field takes its latest value (for example a
# compaction block's ``encrypted_content``).
_CONCATENATED = frozenset({"content", "text"})


class _Block:
    """What the adapter tracks for one open Anthropic content block."""

    __slots__ = (
        "annotations",
        "got_args",
        "kind",
        "latest",
        "pending",
        "pieces",
        "raw",
        "signature",
        "unknown",
    )

    def __init__(self, kind: int) -> None:
        self.kind = kind
        self.annotations: list[dict[str, Any]] | None = None
        self.signature: str | None = None
        self.pending: str | None = None  # tool input given whole at start
        self.got_args = False
        self.raw: dict[str, Any] | None = None
        self.pieces: dict[str, list[str]] | None = None
        self.latest: dict[str, Any] | None = None
        self.unknown: list[Any] | None = None  # deltas of a type this block does not take


def _int(value: object) -> int | None:
    return value if type(value) is int else None


class AnthropicAdapter:
    """Anthropic Messages stream chunks (SSE ``data`` payloads) to protocol events.

    ``provider`` names the source in the message metadata (``"anthropic"``, or
    the name of an Anthropic-compatible gateway).
    """

    __slots__ = (
        "_blocks",
        "_builder",
        "_closed",
        "_meta",
        "_model",
        "_stop_reason",
        "_usage",
        "provider",
    )

    def __init__(self, *, provider: str = "anthropic") -> None:
        self.provider = provider
        self._builder = MessageBuilder(provider)
        self._blocks: dict[int, _Block] = {}
        self._usage: dict[str, Any] = {}
        self._meta: dict[str, Any] = {}
        self._model: str | None = None
        self._stop_reason: str | None = None
        self._closed = False

    @property
    def finished(self) -> bool:
        return self._builder.finished

    # -- feeding ---------------------------------------------------------------

    def feed(self, chunk: Any) -> list[Event]:
        if self._closed or self._builder.finished:
            return []
        if type(chunk) is not dict:
            if not isinstance(chunk, Mapping):
                raise self._error(None, None, f"a chunk must be an object, got {_tn(chunk)}")
            chunk = dict(chunk)
        ctype = chunk.get("type")
        if ctype == "content_block_delta":
            # The hot path: a text delta costs a few lookups and one event.
            index = chunk.get("index")
            state = self._blocks.get(index) if type(index) is int else None
            delta = chunk.get("delta")
            if state is None or type(delta) is not dict:
                return self._bad_delta(chunk, index, delta)
            dtype = delta.get("type")
            if dtype == "text_delta" and state.kind == _TEXT:
                text = delta.get("text")
                if type(text) is not str:
                    raise self._field_error(ctype, "delta.text", "a string", text)
                self._builder.text(index, text)
            else:
                self._on_other_delta(index, state, dtype, delta)
        elif ctype == "content_block_start":
            self._on_block_start(chunk)
        elif ctype == "content_block_stop":
            index = self._index(chunk, ctype)
            if index in self._blocks:
                self._close(index)
        elif ctype == "message_start":
            self._on_message_start(chunk)
        elif ctype == "message_delta":
            self._on_message_delta(chunk)
        elif ctype == "message_stop":
            self._finish()
        elif ctype == "error":
            self._raise_error(chunk)
        elif not isinstance(ctype, str):
            problem = "is missing" if ctype is None else f"must be a string, got {_tn(ctype)}"
            raise self._error(None, "type", problem)
        # ping, and event types newer than this adapter: nothing to do.
        return self._builder.take()

    def end(self) -> list[Event]:
        """The body is over: close what is open, or raise ``IncompleteStreamError``."""
        if self._builder.finished:
            return self._builder.take()
        self._closed = True
        if self._stop_reason is None:
            msg = (
                f"the {self.provider} stream ended before its message_stop event "
                "(no stop_reason arrived): the answer is incomplete"
            )
            raise IncompleteStreamError(msg)
        # message_delta said why the message stopped; only message_stop was lost.
        self._finish()
        return self._builder.take()

    # -- blocks ----------------------------------------------------------------

    def _on_block_start(self, chunk: dict[str, Any]) -> None:
        ctype = "content_block_start"
        index = self._index(chunk, ctype)
        block = chunk.get("content_block")
        if type(block) is not dict:
            if not isinstance(block, Mapping):
                raise self._field_error(ctype, "content_block", "an object", block)
            block = dict(block)
        btype = block.get("type")
        if not isinstance(btype, str):
            raise self._field_error(ctype, "content_block.type", "a string", btype)
        if index in self._blocks:  # a start for an index still open: finish the old one
            self._close(index)
        builder = self._builder
        if btype == "text":
            text = self._opt_str(block, "text", ctype)
            state = _Block(_TEXT)
            citations = block.get("citations")
            if isinstance(citations, list) and citations:
                state.annotations = [self._annotation(c) for c in citations]
            builder.open(index, {"type": "text", "text": text or ""})
        elif btype == "thinking":
            thinking = self._opt_str(block, "thinking", ctype)
            state = _Block(_THINKING)
            state.signature = self._opt_str(block, "signature", ctype) or None
            builder.open(index, {"type": "reasoning", "reasoning": thinking or ""})
        elif btype == "redacted_thinking":
            # Encrypted reasoning: no text, only the data to send back.
            state = _Block(_DONE)
            extras = {"redacted_data": block.get("data")}
            builder.add(index, {"type": "reasoning", "extras": extras})
        elif btype == "tool_use" or btype in _SERVER_CALLS:
            state = _Block(_TOOL)
            call_id = self._opt_str(block, "id", ctype)
            name = self._opt_str(block, "name", ctype)
            tool_input = block.get("input")
            if isinstance(tool_input, Mapping) and tool_input:
                # Input given whole at start: used unless input_json_delta follows.
                state.pending = json.dumps(tool_input)
            others = {
                k: v
                for k, v in block.items()
                if k not in ("type", "id", "name", "input") and v is not None
            }
            opened: dict[str, Any] = {
                "type": "tool_call_chunk" if btype == "tool_use" else "server_tool_call_chunk",
                "id": call_id,
                "name": name,
                "index": index,
                "args": "",
            }
            if btype != "tool_use":
                opened["extras"] = {"block_type": btype, **others}
            elif others:  # e.g. ``caller`` (programmatic tool calling)
                opened["extras"] = others
            builder.open(index, opened)
        elif btype.endswith("_tool_result") and isinstance(block.get("tool_use_id"), str):
            state = _Block(_DONE)
            builder.add(index, _server_result(btype, block))
        else:
            # compaction, and block types newer than this adapter: kept raw.
            state = _Block(_RAW)
            state.raw = block
            builder.open(index, {"type": "non_standard", "value": dict(block)})
        self._blocks[index] = state

    def _on_other_delta(
        self, index: int, state: _Block, dtype: object, delta: dict[str, Any]
    ) -> None:
        ctype = "content_block_delta"
        kind = state.kind
        if dtype == "text_delta" and kind == _TEXT:
            text = delta.get("text")
            if type(text) is not str:
                raise self._field_error(ctype, "delta.text", "a string", text)
            self._builder.text(index, text)
        elif dtype == "input_json_delta" and kind == _TOOL:
            fragment = delta.get("partial_json")
            if fragment is None:
                return
            if type(fragment) is not str:
                raise self._field_error(ctype, "delta.partial_json", "a string", fragment)
            if fragment:
                state.got_args = True
                self._builder.tool_args(index, fragment)
        elif dtype == "thinking_delta" and kind == _THINKING:
            thinking = delta.get("thinking")
            if type(thinking) is not str:
                raise self._field_error(ctype, "delta.thinking", "a string", thinking)
            self._builder.reasoning(index, thinking)
        elif dtype == "signature_delta" and kind == _THINKING:
            # Each signature_delta carries the whole signature (the SDK replaces it).
            signature = delta.get("signature")
            if signature is not None and type(signature) is not str:
                raise self._field_error(ctype, "delta.signature", "a string", signature)
            if signature:
                state.signature = signature
        elif dtype == "citations_delta" and kind == _TEXT:
            annotation = self._annotation(delta.get("citation"))
            if state.annotations is None:
                state.annotations = []
            state.annotations.append(annotation)
        elif kind == _RAW:
            pieces = state.pieces
            latest = state.latest
            for key, value in delta.items():
                if key == "type":
                    continue
                if key in _CONCATENATED and isinstance(value, str):
                    if pieces is None:
                        pieces = state.pieces = {}
                    pieces.setdefault(key, []).append(value)
                elif value is not None:
                    if latest is None:
                        latest = state.latest = {}
                    latest[key] = value
        elif kind != _DONE:
            # A delta type this block does not take (newer than this adapter): kept.
            if state.unknown is None:
                state.unknown = []
            state.unknown.append(delta)

    def _close(self, index: int) -> None:
        state = self._blocks.pop(index)
        builder = self._builder
        kind = state.kind
        if kind == _TEXT:
            if state.annotations:
                builder.update(index, annotations=state.annotations)
        elif kind == _THINKING:
            if state.signature:
                builder.update(index, extras={"signature": state.signature})
        elif kind == _TOOL:
            if not state.got_args and state.pending:
                builder.tool_args(index, state.pending)
        elif kind == _RAW:
            value = dict(state.raw or {})
            if state.latest:
                value.update(state.latest)
            if state.pieces:
                for key, parts in state.pieces.items():
                    joined = "".join(parts)
                    base = value.get(key)
                    value[key] = base + joined if isinstance(base, str) else joined
            builder.close(index, {"type": "non_standard", "value": value})
            return
        if state.unknown:
            builder.update(index, extras={"unknown_deltas": state.unknown})
        builder.close(index)

    def _bad_delta(self, chunk: dict[str, Any], index: object, delta: object) -> list[Event]:
        """The slow path of ``content_block_delta``: odd shapes, or an error to raise."""
        ctype = "content_block_delta"
        index = self._index(chunk, ctype)
        if not isinstance(delta, Mapping):
            raise self._field_error(ctype, "delta", "an object", delta)
        state = self._blocks.get(index)
        if state is None:
            msg = (
                f"is {index}, a block that is not open "
                "(no content_block_start for it, or it was already stopped)"
            )
            raise self._error(ctype, "index", msg)
        delta = dict(delta)  # a Mapping that is not a dict
        self._on_other_delta(index, state, delta.get("type"), delta)
        return self._builder.take()

    # -- message ---------------------------------------------------------------

    def _on_message_start(self, chunk: dict[str, Any]) -> None:
        ctype = "message_start"
        message = chunk.get("message")
        if not isinstance(message, Mapping):
            raise self._field_error(ctype, "message", "an object", message)
        message_id = message.get("id")
        if message_id is not None and not isinstance(message_id, str):
            raise self._field_error(ctype, "message.id", "a string", message_id)
        model = message.get("model")
        if model is not None and not isinstance(model, str):
            raise self._field_error(ctype, "message.model", "a string", model)
        self._model = model
        self._merge_usage(message.get("usage"), ctype, "message.usage")
        for key, value in message.items():
            if key not in _MESSAGE_KNOWN and value is not None:
                self._meta[key] = value
        self._builder.start(id=message_id, model=model)

    def _on_message_delta(self, chunk: dict[str, Any]) -> None:
        ctype = "message_delta"
        delta = chunk.get("delta")
        if delta is not None:
            if not isinstance(delta, Mapping):
                raise self._field_error(ctype, "delta", "an object", delta)
            stop_reason = delta.get("stop_reason")
            if stop_reason is not None:
                if not isinstance(stop_reason, str):
                    raise self._field_error(ctype, "delta.stop_reason", "a string", stop_reason)
                self._stop_reason = stop_reason
            for key, value in delta.items():
                if key != "stop_reason" and value is not None:
                    self._meta[key] = value  # stop_sequence, stop_details, container, ...
        self._merge_usage(chunk.get("usage"), ctype, "usage")
        for key, value in chunk.items():
            if key not in ("type", "delta", "usage") and value is not None:
                self._meta[key] = value  # context_management, ...

    def _merge_usage(self, usage: object, ctype: str, field: str) -> None:
        if usage is None:
            return
        if not isinstance(usage, Mapping):
            raise self._field_error(ctype, field, "an object", usage)
        # Later values win (output_tokens is cumulative; a gateway may also
        # correct input_tokens in message_delta); nulls say nothing.
        for key, value in usage.items():
            if value is not None:
                self._usage[key] = value

    def _finish(self) -> None:
        for index in sorted(self._blocks):
            self._close(index)
        raw = self._usage
        # Anthropic's input_tokens excludes cached tokens. As LangChain does,
        # input_tokens here is the whole prompt: input + cache_read + cache_creation.
        base_input = _int(raw.get("input_tokens"))
        cache_read = _int(raw.get("cache_read_input_tokens"))
        cache_creation = _int(raw.get("cache_creation_input_tokens"))
        input_tokens = None
        if base_input is not None or cache_read is not None or cache_creation is not None:
            input_tokens = (base_input or 0) + (cache_read or 0) + (cache_creation or 0)
        details = raw.get("output_tokens_details")
        reasoning = _int(details.get("thinking_tokens")) if isinstance(details, Mapping) else None
        usage = usage_info(
            input_tokens=input_tokens,
            output_tokens=_int(raw.get("output_tokens")),
            cache_read=cache_read,
            cache_creation=cache_creation,
            reasoning=reasoning,
        )
        metadata: dict[str, Any] = {
            "finish_reason": self._stop_reason,
            "model_name": self._model,
        }
        metadata.update(self._meta)
        service_tier = raw.get("service_tier")
        if isinstance(service_tier, str):
            metadata["service_tier"] = service_tier
        if raw:
            metadata["provider_usage"] = dict(raw)
        self._builder.finish(usage=usage, metadata=metadata)

    def _raise_error(self, chunk: dict[str, Any]) -> None:
        error = chunk.get("error")
        code: object = None
        message: object = None
        if isinstance(error, Mapping):
            code = error.get("type")
            message = error.get("message")
        if not isinstance(message, str) or not message:
            message = f"the {self.provider} stream reported an error ({code or 'no type'})"
        request_id = chunk.get("request_id")
        raise provider_error(
            message,
            code=code,
            body=chunk,
            request_id=request_id if isinstance(request_id, str) else None,
        )

    # -- helpers ---------------------------------------------------------------

    def _annotation(self, citation: object) -> dict[str, Any]:
        if not isinstance(citation, Mapping):
            raise self._field_error("content_block_delta", "delta.citation", "an object", citation)
        if citation.get("type") != "web_search_result_location":
            # char_location, page_location, content_block_location,
            # search_result_location, ...: every field matters to send it back.
            return {"type": "non_standard_annotation", "value": dict(citation)}
        annotation: dict[str, Any] = {"type": "citation"}
        extras: dict[str, Any] = {}
        for key, value in citation.items():
            if key in ("url", "title", "cited_text"):
                if value is not None:
                    annotation[key] = value
            elif key != "type":
                extras[key] = value  # encrypted_index: needed to send the citation back
        if extras:
            annotation["extras"] = extras
        return annotation

    def _index(self, chunk: dict[str, Any], ctype: str) -> int:
        index = chunk.get("index")
        if type(index) is not int:
            raise self._field_error(ctype, "index", "an int", index)
        return index

    def _opt_str(self, block: Mapping[str, Any], key: str, ctype: str) -> str | None:
        value = block.get(key)
        if value is not None and not isinstance(value, str):
            raise self._field_error(ctype, f"content_block.{key}", "a string", value)
        return value

    def _field_error(self, ctype: str, field: str, expected: str, value: object) -> ProtocolError:
        problem = "is missing" if value is None else f"must be {expected}, got {_tn(value)}"
        return self._error(ctype, field, problem)

    def _error(self, ctype: str | None, field: str | None, problem: str) -> ProtocolError:
        where = f"{self.provider} chunk"
        if ctype:
            where += f" '{ctype}'"
        if field:
            where += f": field '{field}'"
        return ProtocolError(f"{where} {problem}", event_type=ctype, field=field)


def _server_result(btype: str, block: Mapping[str, Any]) -> dict[str, Any]:
    """A ``*_tool_result`` block as ``server_tool_result``; the raw fields stay in extras."""
    content = block.get("content")
    error = block.get("is_error") is True  # mcp_tool_result
    if isinstance(content, Mapping):
        ctype = content.get("type")
        # web_search_tool_result_error, bash_code_execution_tool_result_error, ...
        error = error or (isinstance(ctype, str) and ctype.endswith("_error"))
    extras = {"block_type": btype}
    extras.update((k, v) for k, v in block.items() if k not in ("type", "tool_use_id", "content"))
    result: dict[str, Any] = {
        "type": "server_tool_result",
        "tool_call_id": block["tool_use_id"],
        "status": "error" if error else "success",
    }
    if content is not None:
        result["output"] = content
    result["extras"] = extras
    return result


def _tn(value: object) -> str:
    return type(value).__name__
