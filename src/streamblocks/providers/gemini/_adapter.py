"""Google Gemini ``streamGenerateContent`` chunks to protocol events (sans-I/O).

Every chunk is a ``GenerateContentResponse`` (an SSE ``data`` payload with
``alt=sse``, or one element of the streamed JSON array without it). Only
``candidates[0]`` is streamed. Mapping:

- ``text`` parts: a ``text`` block; consecutive text parts (across chunks)
  continue the same block. ``thought: true`` text parts: a ``reasoning`` block,
  continued the same way.
- ``thoughtSignature`` (on any part) is kept so it can be sent back: in the
  block's ``extras`` as ``{"signature": ...}`` (reasoning, text, tool call,
  media), and inside the raw part kept by server tool blocks. A run keeps one
  signature: a second signed part starts a new block. An empty text part that
  only carries a signature (Gemini 3 sends one last) signs the open block of
  its kind, or becomes an empty signed text block of its own.
- ``functionCall`` ``{name, args, id?}``: a ``tool_call_chunk`` (args as JSON);
  ``id`` is Gemini's id when it sends one (then also kept as
  ``extras.function_call_id``, so a follow-up request sends it back; Vertex AI
  rejects ids it did not issue), otherwise ``f"call_{n}"`` where ``n`` counts
  the function calls of the message from 0. Vertex AI streamed arguments
  (``willContinue`` plus ``partialArgs`` JSON-path fragments) are rebuilt into
  the exact arguments object, streamed as JSON text while the fragments come
  in document order.
- ``executableCode`` / ``codeExecutionResult``: ``server_tool_call`` (name
  ``code_execution``) / ``server_tool_result``; Gemini 3 ``toolCall`` /
  ``toolResponse`` parts: ``server_tool_call`` (name: the lower-cased
  ``toolType``) / ``server_tool_result``. Each keeps the raw part in
  ``extras.part``.
- ``inlineData``: an ``image``/``audio``/``video``/``file`` block (by MIME type)
  with ``base64``; ``fileData``: a ``file`` block with ``url``. Any other part:
  ``non_standard``.
- ``groundingMetadata``: merged over the chunks (per key, the last non-empty
  value wins; ``{}`` means nothing); its supports become citation annotations
  on the text blocks (Gemini's byte offsets converted to character offsets in
  the block), the whole object is kept as ``grounding_metadata``.
- ``usageMetadata`` (last one wins): ``promptTokenCount`` is ``input_tokens``,
  ``candidatesTokenCount + thoughtsTokenCount`` is ``output_tokens`` (thoughts
  count as output, as in LangChain), ``thoughtsTokenCount`` is the reasoning
  detail, ``cachedContentTokenCount`` the cache-read detail,
  ``totalTokenCount`` the total; the raw object is ``provider_usage``.

Text blocks are finished with the message (their annotations come with the
last chunk); other blocks as soon as the next part shows they are complete.
``message-finish`` is emitted by :meth:`GeminiAdapter.end`, since usage may
come with or after the ``finishReason`` chunk. A stream without
``finishReason`` (or ``promptFeedback.blockReason``) is incomplete.
"""

from __future__ import annotations

import base64
import bisect
import datetime
import enum
import json
import re
from typing import Any

from ..._errors import IncompleteStreamError, ProtocolError
from .._builder import Event, MessageBuilder, provider_error, usage_info

__all__ = ["GeminiAdapter"]

_PROVIDER = "gemini"


def _bad(field: str, problem: str) -> ProtocolError:
    return ProtocolError(f"{_PROVIDER}: chunk field '{field}' {problem}", field=field)


def _expect(value: Any, kind: type, field: str) -> Any:
    """``value`` if it is a ``kind`` (``None`` passes: it means missing)."""
    if value is None or isinstance(value, kind):
        return value
    raise _bad(field, f"must be {kind.__name__}, got {type(value).__name__}")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_CAMEL_TO_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")


def _snake(key: str) -> str:
    return _CAMEL_TO_SNAKE.sub("_", key).lower()


# ---------------------------------------------------------------------------
# Official SDK objects (google-genai ``model_dump()``): snake_case keys, None
# for absent fields, bytes for base64 data, enums for enum fields.
# ---------------------------------------------------------------------------

_SNAKE_PART = re.compile(r"_([a-z0-9])")
_VERBATIM_KEYS = frozenset({"args", "response"})  # user data: keys kept as they are


def _camel(key: str) -> str:
    return _SNAKE_PART.sub(lambda m: m.group(1).upper(), key) if "_" in key else key


def _from_sdk(value: Any, verbatim: bool = False) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if item is None and not verbatim:
                continue
            name = key if verbatim or not isinstance(key, str) else _camel(key)
            out[name] = _from_sdk(item, verbatim or name in _VERBATIM_KEYS)
        return out
    if isinstance(value, (list, tuple)):
        return [_from_sdk(item, verbatim) for item in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    return value


# ---------------------------------------------------------------------------
# Vertex AI streamed function-call arguments
# ---------------------------------------------------------------------------

_PATH_TOKEN = re.compile(
    r"""\.(?P<name>[^.\[\]]+)|\[(?P<num>\d+)\]|\[(?P<q>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\]"""
)

Segment = str | int


def _parse_json_path(path: str) -> tuple[Segment, ...]:
    """``$.a.b[0]['c d']`` -> ``("a", "b", 0, "c d")`` (the RFC 9535 subset Gemini uses)."""
    if not path.startswith("$"):
        raise _bad("functionCall.partialArgs.jsonPath", f"must start with '$', got {path!r}")
    segments: list[Segment] = []
    pos = 1
    while pos < len(path):
        match = _PATH_TOKEN.match(path, pos)
        if match is None:
            raise _bad("functionCall.partialArgs.jsonPath", f"cannot be parsed: {path!r}")
        if match.group("name") is not None:
            segments.append(match.group("name"))
        elif match.group("num") is not None:
            segments.append(int(match.group("num")))
        else:
            quoted = match.group("q")
            inner = quoted[1:-1]
            segments.append(re.sub(r"\\(.)", r"\1", inner))
        pos = match.end()
    if not segments:
        raise _bad("functionCall.partialArgs.jsonPath", "must name an argument, got '$'")
    return tuple(segments)


_MISSING = object()


def _lookup(node: Any, key: Segment) -> Any:
    """``node[key]``, or ``_MISSING`` (a ``None`` list filler counts as missing)."""
    if isinstance(node, dict):
        return node.get(key, _MISSING)
    if isinstance(key, int) and 0 <= key < len(node) and node[key] is not None:
        return node[key]
    return _MISSING


def _store(node: Any, key: Segment, value: Any) -> None:
    if isinstance(node, list) and isinstance(key, int) and key >= len(node):
        node.extend([None] * (key - len(node) + 1))
    node[key] = value


class _StreamedArgs:
    """The arguments object of a streamed call, and its JSON text so far.

    Each ``partialArgs`` entry sets (or, for a continued string, extends) the
    value at a JSON path. The text is written incrementally, in the same
    compact form as :func:`_dumps`, as long as the entries come in document
    order; if they ever do not, no more text is written and the caller sends
    the complete arguments when the call ends.
    """

    __slots__ = ("continued", "diverged", "obj", "open_string", "pieces", "stack")

    def __init__(self) -> None:
        self.obj: dict[str, Any] = {}
        self.pieces: list[str] = []
        # Containers open in the text: [segment, is_array, members written].
        self.stack: list[list[Any]] = []
        self.open_string: tuple[Segment, ...] | None = None  # a string left open in the text
        self.continued: set[tuple[Segment, ...]] = set()  # string paths that will continue
        self.diverged = False

    def apply(self, arg: Any) -> str:
        """Apply one ``partialArgs`` entry; returns the JSON text it adds."""
        if not isinstance(arg, dict):
            raise _bad("functionCall.partialArgs", f"entries must be objects, got {arg!r}")
        raw_path = arg.get("jsonPath")
        if not isinstance(raw_path, str):
            raise _bad("functionCall.partialArgs.jsonPath", "is missing or not a string")
        path = _parse_json_path(raw_path)
        will_continue = arg.get("willContinue") is True
        string = _expect(arg.get("stringValue"), str, "functionCall.partialArgs.stringValue")
        if string is not None and path in self.continued:
            return self._extend(path, string, will_continue)
        value: Any
        if string is not None:
            value = string
        elif arg.get("numberValue") is not None:
            value = arg["numberValue"]
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise _bad("functionCall.partialArgs.numberValue", f"must be a number: {value!r}")
        elif arg.get("boolValue") is not None:
            value = _expect(arg["boolValue"], bool, "functionCall.partialArgs.boolValue")
        elif "nullValue" in arg:
            value = None
        else:
            return ""  # no value: nothing to apply
        open_string = string is not None and will_continue
        if open_string:
            self.continued.add(path)
        return self.set(path, value, open_string=open_string)

    def set_args(self, args: dict[str, Any]) -> str:
        """Complete top-level arguments sent along a streamed call."""
        return "".join(self.set((key,), value, open_string=False) for key, value in args.items())

    def _extend(self, path: tuple[Segment, ...], string: str, will_continue: bool) -> str:
        parent, leaf, _ = self._container(path)
        current = _lookup(parent, leaf)
        _store(parent, leaf, (current if isinstance(current, str) else "") + string)
        if not will_continue:
            self.continued.discard(path)
        if self.diverged or self.open_string != path:
            self.diverged = True
            return ""
        text = _dumps(string)[1:-1]
        if not will_continue:
            text += '"'
            self.open_string = None
        return self._emit(text)

    def set(self, path: tuple[Segment, ...], value: Any, *, open_string: bool) -> str:
        parent, leaf, created_from = self._container(path)
        existed = _lookup(parent, leaf) is not _MISSING
        _store(parent, leaf, value)
        if self.diverged:
            return ""
        if existed:  # a value replaced: the text already written cannot be fixed
            self.diverged = True
            return ""
        return self._emit(self._navigate(path, value, open_string, created_from))

    def _container(self, path: tuple[Segment, ...]) -> tuple[Any, Segment, int]:
        """The container holding ``path``'s leaf (created as needed), the leaf,
        and the depth of the first container this call created."""
        node: Any = self.obj
        created_from = len(path) - 1
        for depth, segment in enumerate(path):
            if isinstance(node, list) != isinstance(segment, int):
                raise _bad(
                    "functionCall.partialArgs.jsonPath",
                    f"conflicts with the arguments so far: {path}",
                )
            if depth == len(path) - 1:
                break
            child = _lookup(node, segment)
            if child is _MISSING:
                child = [] if isinstance(path[depth + 1], int) else {}
                _store(node, segment, child)
                created_from = min(created_from, depth)
            node = child
        return node, path[-1], created_from

    def _navigate(
        self, path: tuple[Segment, ...], value: Any, open_string: bool, created_from: int
    ) -> str:
        out: list[str] = []
        if self.open_string is not None:  # a string left open: close it first
            out.append('"')
            self.open_string = None
        stack = self.stack
        if not stack:
            out.append("{")
            stack.append(["$", False, 0])
        containers = path[:-1]
        common = 0
        while (
            common < len(containers)
            and common + 1 < len(stack)
            and stack[common + 1][0] == containers[common]
        ):
            common += 1
        if common < created_from and common < len(containers):
            # An existing container would be reopened: its key would repeat.
            self.diverged = True
            return ""
        while len(stack) > common + 1:
            out.append("]" if stack.pop()[1] else "}")
        for depth in range(common, len(containers)):
            if not self._member(out, stack[-1], containers[depth]):
                return ""
            is_array = isinstance(path[depth + 1], int)
            out.append("[" if is_array else "{")
            stack.append([containers[depth], is_array, 0])
        if not self._member(out, stack[-1], path[-1]):
            return ""
        text = _dumps(value)
        if open_string:
            text = text[:-1]
            self.open_string = path
        out.append(text)
        return "".join(out)

    def _member(self, out: list[str], container: list[Any], segment: Segment) -> bool:
        """Write the separator and key for a new member of ``container``."""
        is_array, count = container[1], container[2]
        if is_array and segment != count:  # array items must come in order
            self.diverged = True
            return False
        if count:
            out.append(",")
        container[2] = count + 1
        if not is_array:
            out.append(_dumps(segment) + ":")
        return True

    def _emit(self, text: str) -> str:
        if self.diverged:
            return ""
        if text:
            self.pieces.append(text)
        return text

    def finish(self) -> tuple[str, str | None]:
        """``(final JSON, tail to stream)``; the tail is ``None`` when the
        streamed text is not a prefix of the final JSON."""
        final = _dumps(self.obj)
        streamed = "".join(self.pieces)
        if not self.diverged and final.startswith(streamed):
            return final, final[len(streamed) :]
        return final, None


# ---------------------------------------------------------------------------
# The adapter
# ---------------------------------------------------------------------------


class _Run:
    """An open text or reasoning block that following parts may continue."""

    __slots__ = ("extras", "key", "kind", "pieces")

    def __init__(self, key: tuple[str, int], kind: str) -> None:
        self.key = key
        self.kind = kind
        self.extras: dict[str, Any] = {}
        self.pieces: list[str] = []  # text blocks only: for grounding offsets


class _Call:
    """A Vertex AI function call whose arguments are still streaming."""

    __slots__ = ("args", "block", "key")

    def __init__(self, key: tuple[str, int], block: dict[str, Any]) -> None:
        self.key = key
        self.block = block
        self.args = _StreamedArgs()


_TOP_HANDLED = frozenset({"candidates", "usageMetadata", "modelVersion", "responseId", "error"})
_CANDIDATE_HANDLED = frozenset({"content", "index"})
_TEXT_PART_KEYS = frozenset({"text", "thought", "thoughtSignature"})
_MEDIA_TYPES = {"image": "image", "audio": "audio", "video": "video"}


class GeminiAdapter:
    """Gemini ``GenerateContentResponse`` chunks in, protocol events out."""

    __slots__ = (
        "_b",
        "_block_reason",
        "_call",
        "_calls",
        "_citation_key",
        "_citations",
        "_ended",
        "_finish_reason",
        "_grounding",
        "_last_code_id",
        "_meta",
        "_model",
        "_response_id",
        "_run",
        "_seq",
        "_started_with_id",
        "_texts",
        "_usage",
    )

    def __init__(self, *, provider: str = "google") -> None:
        self._b = MessageBuilder(provider)
        self._ended = False
        self._run: _Run | None = None  # the block a following text/thought part continues
        self._texts: list[_Run] = []  # every text block, kept open until the end
        self._call: _Call | None = None
        self._calls = 0
        self._seq = 0
        self._last_code_id: str | None = None
        self._finish_reason: str | None = None
        self._block_reason: str | None = None
        self._usage: dict[str, Any] | None = None
        self._model: str | None = None
        self._response_id: str | None = None
        self._started_with_id = False
        self._grounding: dict[str, Any] = {}
        self._citations: list[Any] = []
        self._citation_key = "citationSources"
        self._meta: dict[str, Any] = {}

    @property
    def finished(self) -> bool:
        return self._b.finished

    # -- chunks ----------------------------------------------------------------

    def feed(self, chunk: Any) -> list[Event]:
        if self._ended:
            return []
        if type(chunk) is not dict and not isinstance(chunk, dict):
            msg = f"{_PROVIDER}: a chunk must be a JSON object, got {type(chunk).__name__}"
            raise ProtocolError(msg, field="chunk")
        if "usage_metadata" in chunk or "model_version" in chunk:
            chunk = _from_sdk(chunk)
        error = chunk.get("error")
        if error is not None:
            raise self._error(error, chunk)
        b = self._b
        model = chunk.get("modelVersion")
        if model is not None:
            self._model = _expect(model, str, "modelVersion")
        response_id = chunk.get("responseId")
        if response_id is not None:
            self._response_id = _expect(response_id, str, "responseId")
        if not b.started:
            b.start(id=self._response_id, model=self._model)
            self._started_with_id = self._response_id is not None
        candidates = chunk.get("candidates")
        usage = chunk.get("usageMetadata")
        if usage is not None:
            if type(usage) is not dict:
                raise _bad("usageMetadata", f"must be an object, got {type(usage).__name__}")
            self._usage = usage
        # Fields other than these four (promptFeedback, createTime, ...) are rare.
        if len(chunk) > (
            (candidates is not None)
            + (usage is not None)
            + (model is not None)
            + (response_id is not None)
        ):
            self._top_fields(chunk)
        if candidates:
            if type(candidates) is not list:
                raise _bad("candidates", f"must be a list, got {type(candidates).__name__}")
            candidate = candidates[0]
            if type(candidate) is not dict:
                raise _bad("candidates[0]", f"must be an object, got {type(candidate).__name__}")
            content = candidate.get("content")
            if content is not None:
                if type(content) is not dict:
                    raise _bad("candidates[0].content", "must be an object")
                parts = content.get("parts")
                if parts:
                    if type(parts) is not list:
                        raise _bad("candidates[0].content.parts", "must be a list")
                    for part in parts:
                        self._part(part)
            if len(candidate) > (content is not None) + ("index" in candidate):
                self._candidate_fields(candidate)
        return b.take()

    def _part(self, part: Any) -> None:
        if type(part) is not dict:
            raise _bad("candidates[0].content.parts[]", f"must be an object, got {part!r}")
        text = part.get("text")
        if text is not None and len(part) == 1:  # the hot path: plain text
            if type(text) is not str:
                raise _bad("parts[].text", f"must be str, got {type(text).__name__}")
            run = self._run
            if run is not None and run.kind == "text":
                if text:
                    self._b.text(run.key, text)
                    run.pieces.append(text)
                return
            if text:
                self._text_part(text, "text", None, part)
            return
        signature = _expect(part.get("thoughtSignature"), str, "parts[].thoughtSignature")
        if text is not None or part.keys() <= _TEXT_PART_KEYS:
            _expect(text, str, "parts[].text")
            thought = part.get("thought")
            if thought is None and text is None and self._run is not None:
                kind = self._run.kind  # a bare signature signs the open run
            else:
                kind = "reasoning" if thought is True else "text"
            self._text_part(text or "", kind, signature, part)
            return
        call = part.get("functionCall")
        if call is not None:
            self._function_call(_expect(call, dict, "parts[].functionCall"), signature, part)
            return
        self._detach()
        if "executableCode" in part:
            self._executable_code(part, signature)
        elif "codeExecutionResult" in part:
            self._code_result(part, signature)
        elif "toolCall" in part:
            self._server_call(part, signature)
        elif "toolResponse" in part:
            self._server_result(part, signature)
        elif "inlineData" in part:
            self._inline_data(part, signature)
        elif "fileData" in part:
            self._file_data(part, signature)
        else:
            self._b.add(self._next("n"), {"type": "non_standard", "value": part})

    def _next(self, prefix: str) -> tuple[str, int]:
        self._seq += 1
        return (prefix, self._seq)

    def _detach(self) -> None:
        """A part of another kind: the current run is over (text blocks stay
        open until the end, for their annotations)."""
        run = self._run
        if run is not None:
            self._run = None
            if run.kind == "reasoning":
                self._close_run(run)

    def _close_run(self, run: _Run, annotations: list[dict[str, Any]] | None = None) -> None:
        final: dict[str, Any] = {"type": run.kind}
        if run.extras:
            final["extras"] = run.extras
        if annotations:
            final["annotations"] = annotations
        self._b.close(run.key, final)

    def _text_part(self, text: str, kind: str, signature: str | None, part: dict[str, Any]) -> None:
        run = self._run
        if not text and signature is None:
            return  # an empty part: nothing to keep
        if run is None or run.kind != kind or (signature is not None and "signature" in run.extras):
            self._detach()
            run = self._run = _Run(self._next("t" if kind == "text" else "r"), kind)
            if kind == "text":
                self._texts.append(run)
                self._b.text(run.key, text)
                run.pieces.append(text)
            else:
                self._b.reasoning(run.key, text)
        elif text:
            if kind == "text":
                self._b.text(run.key, text)
                run.pieces.append(text)
            else:
                self._b.reasoning(run.key, text)
        if signature is not None:
            run.extras["signature"] = signature
        if len(part) > 1:
            for key, value in part.items():
                if key not in _TEXT_PART_KEYS and value is not None:
                    run.extras[key] = value

    # -- function calls ----------------------------------------------------------

    def _function_call(
        self, call: dict[str, Any], signature: str | None, part: dict[str, Any]
    ) -> None:
        name = _expect(call.get("name"), str, "parts[].functionCall.name")
        will_continue = call.get("willContinue") is True
        partial = _expect(call.get("partialArgs"), list, "parts[].functionCall.partialArgs")
        args = _expect(call.get("args"), dict, "parts[].functionCall.args")
        streaming = self._call
        if name is None and streaming is None:
            if call or signature is not None:  # a fragment of no known call: keep it
                self._detach()
                self._b.add(self._next("n"), {"type": "non_standard", "value": part})
            return
        self._detach()
        if name is not None:
            if streaming is not None:
                self._end_call(streaming)
            block = self._call_block(call, name, signature, part)
            key = ("c", self._calls - 1)
            self._b.open(key, block)
            if not will_continue and not partial:
                self._b.tool_args(key, _dumps(args or {}))
                self._b.close(key, {k: v for k, v in block.items() if k != "args"})
                return
            streaming = self._call = _Call(key, block)
        else:
            assert streaming is not None
            self._update_call(streaming, call, signature, part)
        writer = streaming.args
        if args:
            self._b.tool_args(streaming.key, writer.set_args(args))
        if partial:
            for arg in partial:
                fragment = writer.apply(arg)
                if fragment:
                    self._b.tool_args(streaming.key, fragment)
        if not will_continue:
            self._end_call(streaming)

    def _call_block(
        self, call: dict[str, Any], name: str, signature: str | None, part: dict[str, Any]
    ) -> dict[str, Any]:
        n = self._calls
        self._calls += 1
        call_id = _expect(call.get("id"), str, "parts[].functionCall.id")
        extras: dict[str, Any] = {}
        if signature is not None:
            extras["signature"] = signature
        if call_id:
            extras["function_call_id"] = call_id
        for key, value in part.items():
            if key not in ("functionCall", "thoughtSignature") and value is not None:
                extras[key] = value
        block: dict[str, Any] = {
            "type": "tool_call_chunk",
            "id": call_id or f"call_{n}",
            "name": name,
            "index": n,
            "args": "",
        }
        if extras:
            block["extras"] = extras
        return block

    def _update_call(
        self, streaming: _Call, call: dict[str, Any], signature: str | None, part: dict[str, Any]
    ) -> None:
        """Fields a continuation part adds (a signature, Gemini's id)."""
        call_id = _expect(call.get("id"), str, "parts[].functionCall.id")
        if signature is None and not call_id:
            return
        extras = dict(streaming.block.get("extras") or {})  # never mutate an emitted block
        streaming.block["extras"] = extras
        if signature is not None:
            extras["signature"] = signature
        if call_id and "function_call_id" not in extras:
            extras["function_call_id"] = call_id

    def _end_call(self, streaming: _Call) -> None:
        self._call = None
        final, tail = streaming.args.finish()
        block = {k: v for k, v in streaming.block.items() if k != "args"}
        if tail is None:
            block["args"] = final  # authoritative: replaces the streamed text
        elif tail:
            self._b.tool_args(streaming.key, tail)
        self._b.close(streaming.key, block)

    # -- server tools, media ------------------------------------------------------

    @staticmethod
    def _extras(part: dict[str, Any], signature: str | None) -> dict[str, Any]:
        extras: dict[str, Any] = {"part": part}
        if signature is not None:
            extras["signature"] = signature
        return extras

    def _executable_code(self, part: dict[str, Any], signature: str | None) -> None:
        code = _expect(part["executableCode"], dict, "parts[].executableCode")
        key = self._next("s")
        call_id = _expect(code.get("id"), str, "parts[].executableCode.id") or (
            f"code_execution_{key[1]}"
        )
        self._last_code_id = call_id
        args = {k: code[k] for k in ("language", "code") if code.get(k) is not None}
        block = {
            "type": "server_tool_call",
            "id": call_id,
            "name": "code_execution",
            "args": args,
            "extras": self._extras(part, signature),
        }
        self._b.add(key, block)

    def _code_result(self, part: dict[str, Any], signature: str | None) -> None:
        result = _expect(part["codeExecutionResult"], dict, "parts[].codeExecutionResult")
        call_id = _expect(result.get("id"), str, "parts[].codeExecutionResult.id")
        block: dict[str, Any] = {
            "type": "server_tool_result",
            "tool_call_id": call_id or self._last_code_id or "",
            "status": "success" if result.get("outcome") == "OUTCOME_OK" else "error",
            "extras": self._extras(part, signature),
        }
        if result.get("output") is not None:
            block["output"] = result["output"]
        self._b.add(self._next("s"), block)

    def _server_call(self, part: dict[str, Any], signature: str | None) -> None:
        call = _expect(part["toolCall"], dict, "parts[].toolCall")
        key = self._next("s")
        tool_type = _expect(call.get("toolType"), str, "parts[].toolCall.toolType")
        args = _expect(call.get("args"), dict, "parts[].toolCall.args")
        block = {
            "type": "server_tool_call",
            "id": _expect(call.get("id"), str, "parts[].toolCall.id") or f"server_call_{key[1]}",
            "name": tool_type.lower() if tool_type else "server_tool",
            "args": args or {},
            "extras": self._extras(part, signature),
        }
        self._b.add(key, block)

    def _server_result(self, part: dict[str, Any], signature: str | None) -> None:
        response = _expect(part["toolResponse"], dict, "parts[].toolResponse")
        block: dict[str, Any] = {
            "type": "server_tool_result",
            "tool_call_id": _expect(response.get("id"), str, "parts[].toolResponse.id") or "",
            "status": "success",
            "extras": self._extras(part, signature),
        }
        if response.get("response") is not None:
            block["output"] = response["response"]
        self._b.add(self._next("s"), block)

    def _inline_data(self, part: dict[str, Any], signature: str | None) -> None:
        data = _expect(part["inlineData"], dict, "parts[].inlineData")
        mime = _expect(data.get("mimeType"), str, "parts[].inlineData.mimeType") or ""
        block: dict[str, Any] = {
            "type": _MEDIA_TYPES.get(mime.partition("/")[0], "file"),
            "base64": _expect(data.get("data"), str, "parts[].inlineData.data") or "",
        }
        if mime:
            block["mime_type"] = mime
        self._media(block, part, "inlineData", signature)

    def _file_data(self, part: dict[str, Any], signature: str | None) -> None:
        data = _expect(part["fileData"], dict, "parts[].fileData")
        block: dict[str, Any] = {
            "type": "file",
            "url": _expect(data.get("fileUri"), str, "parts[].fileData.fileUri") or "",
        }
        mime = _expect(data.get("mimeType"), str, "parts[].fileData.mimeType")
        if mime:
            block["mime_type"] = mime
        self._media(block, part, "fileData", signature)

    def _media(
        self, block: dict[str, Any], part: dict[str, Any], field: str, signature: str | None
    ) -> None:
        extras = {
            k: v for k, v in part.items() if k not in (field, "thoughtSignature") and v is not None
        }
        if signature is not None:
            extras["signature"] = signature
        if extras:
            block["extras"] = extras
        self._b.add(self._next("m"), block)

    # -- candidate and response fields ---------------------------------------------

    def _candidate_fields(self, candidate: dict[str, Any]) -> None:
        meta = self._meta
        for key, value in candidate.items():
            if value is None or key in _CANDIDATE_HANDLED:
                continue
            if key == "finishReason":
                self._finish_reason = _expect(value, str, "candidates[0].finishReason")
            elif key == "groundingMetadata":
                _expect(value, dict, "candidates[0].groundingMetadata")
                for gkey, gvalue in value.items():
                    if gvalue is not None and gvalue not in ({}, [], ""):
                        self._grounding[gkey] = gvalue
            elif key == "citationMetadata":
                _expect(value, dict, "candidates[0].citationMetadata")
                for ckey in ("citationSources", "citations"):  # Gemini API, Vertex AI
                    sources = value.get(ckey)
                    if isinstance(sources, list):
                        self._citation_key = ckey
                        self._citations.extend(sources)
            elif key == "logprobsResult" and isinstance(value, dict):
                merged = meta.setdefault("logprobs_result", {})
                for lkey, lvalue in value.items():
                    if isinstance(lvalue, list):
                        merged.setdefault(lkey, []).extend(lvalue)
                    else:
                        merged[lkey] = lvalue
            elif value or value == 0:
                meta[_snake(key)] = value  # finishMessage, safetyRatings, avgLogprobs, ...

    def _top_fields(self, chunk: dict[str, Any]) -> None:
        for key, value in chunk.items():
            if value is None or key in _TOP_HANDLED or key == "sdkHttpResponse":
                continue
            if key == "promptFeedback":
                _expect(value, dict, "promptFeedback")
                self._meta["prompt_feedback"] = value
                reason = value.get("blockReason")
                if reason is not None:
                    self._block_reason = _expect(reason, str, "promptFeedback.blockReason")
            else:
                self._meta[_snake(key)] = value  # createTime, modelStatus, ...

    @staticmethod
    def _error(error: Any, chunk: dict[str, Any]) -> Exception:
        if not isinstance(error, dict):
            return provider_error(f"{_PROVIDER} error: {error}", body=chunk)
        message = error.get("message") or "the provider reported an error without a message"
        status = error.get("status")
        code = status if isinstance(status, str) and status else error.get("code")
        return provider_error(str(message), code=code, body=chunk)

    # -- the end -----------------------------------------------------------------------

    def end(self) -> list[Event]:
        if self._ended:
            return []
        finish_reason = self._finish_reason or self._block_reason
        if finish_reason is None:
            msg = (
                f"{_PROVIDER}: the stream ended without a finishReason (or a "
                "promptFeedback.blockReason): the answer is incomplete"
            )
            raise IncompleteStreamError(msg)
        self._ended = True
        if self._call is not None:
            self._end_call(self._call)
        self._detach()
        annotations = self._annotations()
        for i, run in enumerate(self._texts):
            self._close_run(run, annotations.get(i))
        metadata: dict[str, Any] = {"finish_reason": finish_reason, "model_name": self._model}
        metadata.update(self._meta)
        if self._grounding:
            metadata["grounding_metadata"] = self._grounding
        if self._citations:
            metadata["citation_metadata"] = {self._citation_key: self._citations}
        if self._response_id and not self._started_with_id:
            metadata["response_id"] = self._response_id
        usage = None
        if self._usage is not None:
            usage = _usage(self._usage)
            metadata["provider_usage"] = self._usage
        self._b.finish(usage=usage, metadata=metadata)
        return self._b.take()

    def _annotations(self) -> dict[int, list[dict[str, Any]]]:
        """Citation annotations per text block (by position in ``self._texts``)."""
        out: dict[int, list[dict[str, Any]]] = {}
        if not self._texts:
            return out
        supports = self._grounding.get("groundingSupports")
        if isinstance(supports, list) and supports:
            self._grounding_annotations(supports, out)
        for source in self._citations:
            if isinstance(source, dict):
                out.setdefault(len(self._texts) - 1, []).append(_citation_source(source))
        return out

    def _grounding_annotations(
        self, supports: list[Any], out: dict[int, list[dict[str, Any]]]
    ) -> None:
        chunks = self._grounding.get("groundingChunks")
        if not isinstance(chunks, list):
            chunks = []
        texts = ["".join(run.pieces) for run in self._texts]
        starts: list[int] = []
        total = 0
        for text in texts:
            starts.append(total)
            total += len(text)
        encoded = "".join(texts).encode("utf-8")

        def char_offset(byte_offset: Any) -> int | None:
            if not isinstance(byte_offset, int) or isinstance(byte_offset, bool):
                return None
            return len(encoded[:byte_offset].decode("utf-8", "ignore"))

        for support in supports:
            if not isinstance(support, dict):
                continue
            segment = support.get("segment")
            if not isinstance(segment, dict):
                segment = {}
            start = char_offset(segment.get("startIndex", 0))
            end = char_offset(segment.get("endIndex"))
            block = max(bisect.bisect_right(starts, start or 0) - 1, 0)
            base = starts[block]
            for i in support.get("groundingChunkIndices") or ():
                chunk = chunks[i] if isinstance(i, int) and 0 <= i < len(chunks) else None
                annotation = _grounding_citation(chunk, segment)
                if annotation is None:
                    annotation = {
                        "type": "non_standard_annotation",
                        "value": {"groundingChunk": chunk, "groundingSupport": support},
                    }
                else:
                    if start is not None:
                        annotation["start_index"] = start - base
                    if end is not None:
                        annotation["end_index"] = end - base
                out.setdefault(block, []).append(annotation)


def _grounding_citation(chunk: Any, segment: dict[str, Any]) -> dict[str, Any] | None:
    if not isinstance(chunk, dict):
        return None
    source = chunk.get("web")
    if not isinstance(source, dict):
        source = chunk.get("retrievedContext")
        if not isinstance(source, dict) or not source.get("uri"):
            return None
    annotation: dict[str, Any] = {"type": "citation"}
    if isinstance(source.get("uri"), str):
        annotation["url"] = source["uri"]
    if isinstance(source.get("title"), str):
        annotation["title"] = source["title"]
    if isinstance(segment.get("text"), str):
        annotation["cited_text"] = segment["text"]
    return annotation


def _citation_source(source: dict[str, Any]) -> dict[str, Any]:
    if isinstance(source.get("uri"), str):
        annotation: dict[str, Any] = {"type": "citation", "url": source["uri"]}
        if isinstance(source.get("title"), str):
            annotation["title"] = source["title"]
        return annotation
    return {"type": "non_standard_annotation", "value": source}


def _count(usage: dict[str, Any], key: str) -> int | None:
    value = usage.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise _bad(f"usageMetadata.{key}", f"must be an int, got {type(value).__name__}")
    return value


def _modality_count(usage: dict[str, Any], key: str, modality: str) -> int | None:
    details = usage.get(key)
    if not isinstance(details, list):
        return None
    counts = [
        d.get("tokenCount") or 0
        for d in details
        if isinstance(d, dict) and d.get("modality") == modality
    ]
    return sum(counts) if counts else None


def _usage(raw: dict[str, Any]) -> dict[str, Any]:
    candidates = _count(raw, "candidatesTokenCount")
    thoughts = _count(raw, "thoughtsTokenCount")
    output = None
    if candidates is not None or thoughts is not None:
        output = (candidates or 0) + (thoughts or 0)
    return usage_info(
        input_tokens=_count(raw, "promptTokenCount"),
        output_tokens=output,
        total_tokens=_count(raw, "totalTokenCount"),
        cache_read=_count(raw, "cachedContentTokenCount"),
        reasoning=thoughts,
        audio_input=_modality_count(raw, "promptTokensDetails", "AUDIO"),
        audio_output=_modality_count(raw, "candidatesTokensDetails", "AUDIO"),
    )
