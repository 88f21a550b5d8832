"""OpenAI Chat Completions stream chunks in, protocol events out (sans I/O).

One adapter serves OpenAI, Azure OpenAI and the servers that speak the same
wire format (DeepSeek, Groq, Mistral, OpenRouter, xAI, Qwen/DashScope,
Perplexity, vLLM, Ollama ``/v1``, ...). Each ``feed`` takes one parsed
``chat.completion.chunk``; ``[DONE]`` never reaches it (the SSE decoder eats it).

What each chunk field becomes:

- ``delta.content`` (a string) -> ``text`` blocks; Mistral's list form
  (``[{"type": "thinking", "thinking": [...]}, {"type": "text", ...}]``) ->
  ``reasoning`` and ``text`` blocks;
- ``delta.reasoning_content`` (DeepSeek, Qwen), ``delta.reasoning`` (Groq,
  OpenRouter, vLLM, Ollama) -> ``reasoning`` blocks; Groq's ``delta.channel``
  -> the block's ``extras.channel``; OpenRouter's ``delta.reasoning_details``
  -> one ``reasoning`` block per detail, with ``signature``, ``format``,
  ``id``, ``data`` (encrypted reasoning) and ``detail_type`` in ``extras`` so
  it can be sent back;
- ``delta.tool_calls`` -> ``tool_call_chunk`` blocks keyed by ``index``
  (position in the list when a server omits it);
- ``delta.refusal`` -> a ``non_standard`` block ``{"type": "refusal", ...}``
  and ``additional_kwargs.refusal``;
- ``delta.annotations`` (url_citation) -> the text block's ``annotations``;
- ``delta.executed_tools`` (Groq server-side tools) -> ``server_tool_call_chunk``
  + ``server_tool_result`` blocks;
- ``delta.audio`` -> an ``audio`` block and ``additional_kwargs.audio``;
- ``finish_reason`` (the last non-null one), ``usage`` (wherever it comes),
  ``logprobs``, ``system_fingerprint``, ``service_tier``, Perplexity
  ``citations``/``search_results``, Azure filter results, Groq ``x_groq`` ->
  ``message-finish``, emitted by :meth:`OpenAIChatAdapter.end` (usage may
  follow the finish chunk).

Text and reasoning alternate in *segments*: when the kind changes (reasoning,
then text, then reasoning again after a server tool ran), the open block is
finished and a new one starts, so the message keeps the order the model
produced.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from ..._errors import EmptyStreamError, IncompleteStreamError, ProtocolError
from .._builder import Event, MessageBuilder, provider_error, usage_info

__all__ = ["OpenAIChatAdapter"]

# Top-level chunk fields that need no handling of their own (or are handled
# explicitly): everything else is kept in the finish metadata.
_SKIP_TOP = frozenset({"object", "obfuscation", "choices", "usage", "error"})
# Choice fields handled on the hot path.
_SKIP_CHOICE = frozenset({"index", "delta", "finish_reason", "logprobs"})
# Groq executed-tool fields that carry the tool's result.
_RESULT_FIELDS = ("output", "search_results", "code_results", "browser_results")


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _int(value: object) -> int | None:
    return value if type(value) is int else None


class OpenAIChatAdapter:
    """Chat Completions chunks in, protocol events out.

    ``choice`` selects which choice to stream when the request asked for
    ``n > 1`` (chunks of other choices are skipped). ``provider`` names the
    server in the ``message-start`` metadata (``"openai"``, ``"groq"``,
    ``"deepseek"``, ...).
    """

    __slots__ = (
        "_annotations",
        "_audio",
        "_b",
        "_choice",
        "_chunks",
        "_citations",
        "_details",
        "_ended",
        "_exec",
        "_extra_delta",
        "_filters",
        "_finish_reason",
        "_id",
        "_logprobs",
        "_meta",
        "_model",
        "_nkeys",
        "_parts",
        "_provider",
        "_reason_extras",
        "_reason_key",
        "_refusal",
        "_search_results",
        "_seg",
        "_text_key",
        "_tools",
        "_usage",
        "_x_groq",
    )

    def __init__(self, *, choice: int = 0, provider: str = "openai") -> None:
        if type(choice) is not int or choice < 0:
            msg = f"choice must be a non-negative int, got {choice!r}"
            raise ValueError(msg)
        self._b = MessageBuilder(provider)
        self._provider = provider
        self._choice = choice
        self._ended = False
        self._chunks = 0
        self._nkeys = -1  # key count of the last chunk whose top level was scanned
        # Message-level data, reported at message-finish.
        self._id: str | None = None
        self._model: str | None = None
        self._meta: dict[str, Any] = {}
        self._finish_reason: str | None = None
        self._usage: dict[str, Any] | None = None
        self._x_groq: dict[str, Any] = {}
        self._logprobs: dict[str, Any] | None = None
        self._citations: list[Any] | None = None
        self._search_results: list[Any] | None = None
        self._filters: list[Any] = []
        self._extra_delta: dict[str, list[Any]] = {}
        # Blocks.
        self._seg = 0  # segment counter: a fresh key for each text/reasoning run
        self._text_key: tuple[Any, ...] | None = None
        self._annotations: list[dict[str, Any]] = []  # for the current (or next) text block
        self._reason_key: tuple[Any, ...] | None = None
        self._reason_extras: dict[str, Any] = {}
        # reasoning_details index -> (block key, extras)
        self._details: dict[Hashable, tuple[tuple[Any, ...], dict[str, Any]]] = {}
        # tool-call index -> [block key, call id, name, index]
        self._tools: dict[Hashable, list[Any]] = {}
        self._refusal: list[str] | None = None
        self._audio: dict[str, Any] | None = None
        # executed-tool index -> [call key, call id, result seen]
        self._exec: dict[Hashable, list[Any]] = {}
        self._parts = 0  # counter for non-standard content parts

    @property
    def finished(self) -> bool:
        """Whether ``message-finish`` has been emitted."""
        return self._b.finished

    # -- feeding ---------------------------------------------------------------

    def feed(self, chunk: Any) -> list[Event]:
        """The events implied by one parsed chunk (possibly none)."""
        if self._ended:
            return []
        if type(chunk) is not dict:
            if not isinstance(chunk, Mapping):
                raise self._bad("chunk", "a JSON object", chunk)
            chunk = dict(chunk)
        self._chunks += 1
        error = chunk.get("error")
        if error is not None:
            self._raise_error(chunk, error)
        usage = chunk.get("usage")
        if usage is not None:
            if type(usage) is not dict:
                raise self._bad("usage", "an object", usage)
            self._usage = usage  # last wins (Perplexity repeats it on every chunk)
        if len(chunk) != self._nkeys:
            self._scan_top(chunk)
        choices = chunk.get("choices")
        if choices:
            if type(choices) is not list:
                raise self._bad("choices", "a list", choices)
            if len(choices) == 1:
                self._on_choice(chunk, choices[0], 0)
            else:
                for position, choice in enumerate(choices):
                    self._on_choice(chunk, choice, position)
        else:
            self._scan_top(chunk)
        return self._b.take()

    def end(self) -> list[Event]:
        """The body is over: close everything and emit ``message-finish``.

        Raises ``IncompleteStreamError`` when no ``finish_reason`` ever came
        (``EmptyStreamError`` when not even one chunk did).
        """
        if self._ended:
            return []
        self._ended = True
        if self._finish_reason is None:
            if self._chunks == 0:
                msg = f"{self._provider}: the Chat Completions stream ended without any chunk"
                raise EmptyStreamError(msg)
            msg = (
                f"{self._provider}: the Chat Completions stream ended before any choice "
                "reported a finish_reason; the answer is incomplete"
            )
            groq_error = self._x_groq.get("error")
            if groq_error:
                msg += f" (x_groq.error: {groq_error})"
            raise IncompleteStreamError(msg)
        self._finish()
        return self._b.take()

    # -- chunk parts -----------------------------------------------------------

    def _bad(self, field: str, expected: str, value: object) -> ProtocolError:
        msg = (
            f"{self._provider}: malformed Chat Completions chunk: {field} must be {expected}, "
            f"got {_type_name(value)}"
        )
        return ProtocolError(msg, event_type=None, field=field)

    def _raise_error(self, chunk: dict[str, Any], error: Any) -> None:
        code: Any = None
        also: tuple[object, ...] = ()
        if isinstance(error, Mapping):
            message = error.get("message")
            # An unknown code (Groq's "tool_use_failed") says nothing about the
            # kind of failure: the error's type, then the status its body
            # states, pick the class; the provider's own code is kept.
            code = error.get("code")
            if code is None:
                code = error.get("type")
            also = (error.get("type"), error.get("status_code", error.get("status")))
        else:
            message = error
        if not isinstance(message, str) or not message:
            message = f"{self._provider} reported an error inside the stream: {error!r}"
        raise provider_error(message, code=code, body=chunk, also=also)

    def _scan_top(self, chunk: dict[str, Any]) -> None:
        """Message-level fields; run when the chunk's shape changes and on
        finish and usage chunks, not on every delta."""
        self._nkeys = len(chunk)
        meta = self._meta
        for key, value in chunk.items():
            if value is None or key in _SKIP_TOP:
                continue
            if key == "id":
                if self._id is None and isinstance(value, str) and value:
                    self._id = value
            elif key == "model":
                if self._model is None and isinstance(value, str) and value:
                    self._model = value
            elif key == "created":
                if value and "created" not in meta:  # Azure's filter-only chunk says 0
                    meta["created"] = value
            elif key == "x_groq":
                if isinstance(value, Mapping):
                    self._x_groq.update(value)
            elif key == "citations":
                if isinstance(value, list) and value != self._citations:
                    self._citations = value
            elif key == "search_results":
                if isinstance(value, list):
                    self._search_results = value
            elif key == "provider":  # OpenRouter: the upstream that served the request
                meta["upstream_provider"] = value
            else:  # system_fingerprint, service_tier, prompt_filter_results, ...
                meta[key] = value

    def _scan_choice(self, choice: dict[str, Any]) -> None:
        meta = self._meta
        for key, value in choice.items():
            if value is None or key in _SKIP_CHOICE:
                continue
            if key == "content_filter_results":  # Azure: keep each distinct verdict once
                if value and value not in self._filters:
                    self._filters.append(value)
            else:  # native_finish_reason, stop_reason, matched_stop, ...
                meta[key] = value

    def _on_choice(self, chunk: dict[str, Any], choice: Any, position: int) -> None:
        if type(choice) is not dict:
            raise self._bad("choices[]", "an object", choice)
        index = choice.get("index")
        if index is None:
            index = position
        if index != self._choice:
            return
        if not self._b.started:
            self._b.start(id=self._id, model=self._model)
        delta = choice.get("delta")
        if delta:
            if type(delta) is not dict:
                raise self._bad("delta", "an object", delta)
            self._on_delta(delta)
        logprobs = choice.get("logprobs")
        if logprobs is not None:
            self._on_logprobs(logprobs)
        finish = choice.get("finish_reason")
        if finish is not None:
            if not isinstance(finish, str):
                raise self._bad("finish_reason", "a string", finish)
            self._finish_reason = finish  # the last one wins (OpenRouter sends two)
            self._scan_top(chunk)
            self._scan_choice(choice)
        elif len(choice) > 4:
            self._scan_choice(choice)

    def _on_delta(self, delta: dict[str, Any]) -> None:
        b = self._b
        for key, value in delta.items():
            if value is None:
                continue
            if key == "content":
                if type(value) is str:
                    if value:
                        tkey = self._text_key
                        if tkey is None:
                            tkey = self._open_text()
                        b.text(tkey, value)
                elif type(value) is list:
                    self._content_parts(value)
                else:
                    raise self._bad("delta.content", "a string or a list", value)
            elif key in ("reasoning_content", "reasoning"):
                if type(value) is not str:
                    raise self._bad(f"delta.{key}", "a string", value)
                if not value:
                    continue
                if key == "reasoning" and (
                    delta.get("reasoning_details") or delta.get("reasoning_content") == value
                ):
                    continue  # the same text, sent twice (OpenRouter, vLLM)
                self._reasoning(value)
            elif key == "role":
                continue
            elif key == "channel":  # Groq gpt-oss: "analysis", ...
                if self._reason_key is not None:
                    self._reason_extras["channel"] = value
            elif key == "tool_calls":
                self._tool_calls(value)
            elif key == "refusal":
                self._on_refusal(value)
            elif key == "reasoning_details":
                self._reasoning_details(value)
            elif key == "annotations":
                self._on_annotations(value)
            elif key == "executed_tools":
                self._executed_tools(value)
            elif key == "function_call":  # the deprecated functions API
                self._function_call(value)
            elif key == "audio":
                self._on_audio(value)
            elif value not in ("", []):
                self._extra_delta.setdefault(key, []).append(value)

    # -- text and reasoning ----------------------------------------------------

    def _open_text(self) -> tuple[Any, ...]:
        self._close_reasoning()
        self._seg += 1
        key = ("text", self._seg)
        self._b.open(key, {"type": "text", "text": ""})
        self._text_key = key
        return key

    def _close_text(self) -> None:
        key = self._text_key
        if key is None:
            return
        self._text_key = None
        block: dict[str, Any] = {"type": "text"}
        if self._annotations:
            block["annotations"] = self._annotations
            self._annotations = []
        self._b.close(key, block)

    def _reasoning(self, text: str) -> None:
        key = self._reason_key
        if key is None:
            self._close_text()
            self._seg += 1
            key = self._reason_key = ("reasoning", self._seg)
            self._reason_extras = {}
            self._b.open(key, {"type": "reasoning", "reasoning": ""})
        self._b.reasoning(key, text)

    def _close_reasoning(self) -> None:
        key = self._reason_key
        if key is not None:
            self._reason_key = None
            block: dict[str, Any] = {"type": "reasoning"}
            if self._reason_extras:
                block["extras"] = self._reason_extras
            self._b.close(key, block)
        if self._details:
            for dkey, extras in self._details.values():
                block = {"type": "reasoning"}
                if extras:
                    block["extras"] = extras
                self._b.close(dkey, block)
            self._details = {}

    def _reasoning_details(self, items: Any) -> None:
        """OpenRouter's structured reasoning: text, summaries and encrypted data."""
        if type(items) is not list:
            raise self._bad("delta.reasoning_details", "a list", items)
        for position, item in enumerate(items):
            if type(item) is not dict:
                raise self._bad("delta.reasoning_details[]", "an object", item)
            detail_index = item.get("index")
            if detail_index is None:
                detail_index = position
            dtype = item.get("type")
            entry = self._details.get(detail_index)
            if entry is not None and dtype is not None and entry[1].get("detail_type") != dtype:
                # Another kind of detail at the same index: a new block.
                dkey, extras = entry
                self._b.close(dkey, {"type": "reasoning", "extras": extras} if extras else None)
                del self._details[detail_index]
                entry = None
            if entry is None:
                self._close_text()
                self._seg += 1
                dkey = ("details", self._seg, detail_index)
                self._b.open(dkey, {"type": "reasoning", "reasoning": ""})
                entry = self._details[detail_index] = (dkey, {})
            dkey, extras = entry
            if dtype is not None:
                extras["detail_type"] = dtype
            for field in ("signature", "format", "id", "data"):
                value = item.get(field)
                if value is not None:
                    extras[field] = value
            text = item.get("text")
            if text is None:
                text = item.get("summary")
            if text:
                if type(text) is not str:
                    raise self._bad("delta.reasoning_details[].text", "a string", text)
                self._b.reasoning(dkey, text)

    def _content_parts(self, parts: list[Any]) -> None:
        """Mistral's content list: ``thinking`` chunks, ``text`` chunks, references."""
        for part in parts:
            if type(part) is str:
                if part:
                    self._text(part)
                continue
            if type(part) is not dict:
                raise self._bad("delta.content[]", "an object or a string", part)
            ptype = part.get("type")
            if ptype == "text":
                text = part.get("text")
                if text:
                    if type(text) is not str:
                        raise self._bad("delta.content[].text", "a string", text)
                    self._text(text)
            elif ptype == "thinking":
                self._thinking(part.get("thinking"))
            elif ptype == "reference":
                self._annotations.append({"type": "non_standard_annotation", "value": part})
            else:  # images, documents, anything newer: kept as they came
                self._parts += 1
                self._b.add(("part", self._parts), {"type": "non_standard", "value": part})

    def _text(self, text: str) -> None:
        key = self._text_key
        if key is None:
            key = self._open_text()
        self._b.text(key, text)

    def _thinking(self, inner: Any) -> None:
        if isinstance(inner, str):
            if inner:
                self._reasoning(inner)
            return
        if type(inner) is not list:
            raise self._bad("delta.content[].thinking", "a list or a string", inner)
        for sub in inner:
            if type(sub) is str:
                text: Any = sub
            elif type(sub) is dict and sub.get("type", "text") == "text":
                text = sub.get("text")
            elif type(sub) is dict:  # a reference inside the thinking
                if self._reason_key is None:
                    self._reasoning("")
                self._reason_extras.setdefault("references", []).append(sub)
                continue
            else:
                raise self._bad("delta.content[].thinking[]", "an object", sub)
            if text:
                if type(text) is not str:
                    raise self._bad("delta.content[].thinking[].text", "a string", text)
                self._reasoning(text)

    # -- tools -----------------------------------------------------------------

    def _tool_calls(self, calls: Any) -> None:
        if type(calls) is not list:
            raise self._bad("delta.tool_calls", "a list", calls)
        b = self._b
        for position, call in enumerate(calls):
            if type(call) is not dict:
                raise self._bad("delta.tool_calls[]", "an object", call)
            index = call.get("index")
            if index is None:
                index = position  # Mistral omits it
            function = call.get("function")
            args_field = "arguments"
            if function is None and call.get("custom") is not None:
                function, args_field = call["custom"], "input"  # custom (free-form) tools
            if function is not None and type(function) is not dict:
                raise self._bad("delta.tool_calls[].function", "an object", function)
            call_id = call.get("id") or None
            name = function.get("name") if function else None
            entry = self._tools.get(index)
            if entry is not None and call_id and entry[1] and call_id != entry[1]:
                # A new call at a position already used (index-less servers
                # that send each complete call in its own chunk).
                index = 1 + max((i for i in self._tools if type(i) is int), default=-1)
                entry = None
            if entry is None:
                key = ("tool", index)
                block = {"type": "tool_call_chunk", "id": call_id, "name": name, "index": index}
                b.open(key, {**block, "args": ""})
                entry = self._tools[index] = [key, call_id, name, index]
            else:  # an id or a name that comes late is still the call's
                if entry[1] is None and call_id:
                    entry[1] = call_id
                if entry[2] is None and name:
                    entry[2] = name
            if function:
                args = function.get(args_field)
                if args:
                    if type(args) is not str:
                        raise self._bad(
                            f"delta.tool_calls[].function.{args_field}", "a string", args
                        )
                    b.tool_args(entry[0], args)

    def _function_call(self, call: Any) -> None:
        if type(call) is not dict:
            raise self._bad("delta.function_call", "an object", call)
        self._tool_calls([{"index": 0, "function": call}])

    def _executed_tools(self, tools: Any) -> None:
        """Groq compound systems: each tool shows up once as a call (arguments)
        and once more with its result (output, search results, ...)."""
        if type(tools) is not list:
            raise self._bad("delta.executed_tools", "a list", tools)
        b = self._b
        for position, tool in enumerate(tools):
            if type(tool) is not dict:
                raise self._bad("delta.executed_tools[]", "an object", tool)
            index = tool.get("index")
            if index is None:
                index = position
            state = self._exec.get(index)
            if state is None:
                self._close_text()
                self._close_reasoning()
                call_id = tool.get("id") or f"executed_tool_{index}"
                name = tool.get("name") or tool.get("type") or "executed_tool"
                key = ("exec", index)
                raw_call = {k: v for k, v in tool.items() if k not in _RESULT_FIELDS}
                b.open(
                    key,
                    {
                        "type": "server_tool_call_chunk",
                        "id": call_id,
                        "name": name,
                        "index": index,
                        "args": "",
                        "extras": {"executed_tool": raw_call},
                    },
                )
                arguments = tool.get("arguments")
                if isinstance(arguments, str) and arguments:
                    b.tool_args(key, arguments)
                state = self._exec[index] = [key, call_id, False]
            if state[2] or not self._is_result(tool):
                continue
            state[2] = True
            b.close(state[0])
            output = tool.get("output")
            if output is None:
                output = {k: tool[k] for k in _RESULT_FIELDS if tool.get(k) is not None}
            b.add(
                ("exec-result", index),
                {
                    "type": "server_tool_result",
                    "tool_call_id": state[1],
                    "status": "error" if tool.get("error") else "success",
                    "output": output,
                    "extras": {"executed_tool": tool},
                },
            )

    @staticmethod
    def _is_result(tool: dict[str, Any]) -> bool:
        if (
            tool.get("output") is not None
            or tool.get("code_results")
            or tool.get("browser_results")
        ):
            return True
        search = tool.get("search_results")
        return isinstance(search, Mapping) and bool(search.get("results"))

    # -- refusal, annotations, audio, logprobs --------------------------------

    def _on_refusal(self, value: Any) -> None:
        if type(value) is not str:
            raise self._bad("delta.refusal", "a string", value)
        if not value:
            return
        if self._refusal is None:
            self._refusal = []
            self._b.open(
                ("refusal",), {"type": "non_standard", "value": {"type": "refusal", "refusal": ""}}
            )
        self._refusal.append(value)

    def _on_annotations(self, items: Any) -> None:
        if type(items) is not list:
            raise self._bad("delta.annotations", "a list", items)
        for item in items:
            self._annotations.append(_annotation(item))

    def _on_audio(self, audio: Any) -> None:
        if type(audio) is not dict:
            raise self._bad("delta.audio", "an object", audio)
        acc = self._audio
        if acc is None:
            acc = self._audio = {"data": [], "transcript": []}
            self._b.open(("audio",), {"type": "audio"})
        for key, value in audio.items():
            if value is None:
                continue
            if key in ("data", "transcript"):
                if type(value) is not str:
                    raise self._bad(f"delta.audio.{key}", "a string", value)
                acc[key].append(value)
            else:  # id, expires_at
                acc[key] = value

    def _on_logprobs(self, logprobs: Any) -> None:
        if type(logprobs) is not dict:
            raise self._bad("logprobs", "an object", logprobs)
        acc = self._logprobs
        if acc is None:
            acc = self._logprobs = {"content": [], "refusal": []}
        for key, value in logprobs.items():
            if type(value) is list:
                if value:
                    acc.setdefault(key, []).extend(value)
            elif value is not None:
                acc[key] = value

    # -- the end -----------------------------------------------------------------

    def _finish(self) -> None:
        b = self._b
        b.start(id=self._id, model=self._model)
        meta = self._meta
        if self._citations is not None:
            meta["citations"] = self._citations
            if self._text_key is not None:
                self._annotations.extend(self._citation_annotations())
        if self._search_results is not None:
            meta["search_results"] = self._search_results
        self._close_reasoning()
        self._close_text()
        for key, call_id, name, index in self._tools.values():
            b.close(key, {"type": "tool_call_chunk", "id": call_id, "name": name, "index": index})
        if self._annotations:  # citations that never got a text block to sit on
            self._seg += 1
            key = ("text", self._seg)
            b.open(key, {"type": "text", "text": ""})
            self._text_key = key
            self._close_text()
        additional: dict[str, Any] = {}
        if self._refusal is not None:
            refusal = "".join(self._refusal)
            b.close(
                ("refusal",),
                {"type": "non_standard", "value": {"type": "refusal", "refusal": refusal}},
            )
            additional["refusal"] = refusal
        if self._audio is not None:
            audio = self._audio
            block: dict[str, Any] = {"type": "audio", "base64": "".join(audio["data"])}
            info = {k: v for k, v in audio.items() if k not in ("data", "transcript")}
            info["transcript"] = "".join(audio["transcript"])
            if isinstance(audio.get("id"), str):
                block["id"] = audio["id"]
            block["extras"] = info
            b.close(("audio",), block)
            additional["audio"] = info
        metadata: dict[str, Any] = {
            "finish_reason": self._finish_reason,
            "model_name": self._model,
        }
        metadata.update(meta)
        if self._filters:
            metadata["content_filter_results"] = self._filters
        if self._logprobs is not None:
            metadata["logprobs"] = self._logprobs
        if self._extra_delta:
            metadata["delta_extras"] = {
                k: "".join(v) if all(type(x) is str for x in v) else v
                for k, v in self._extra_delta.items()
            }
        usage: dict[str, Any] | None = None
        raw = self._usage
        if raw is None:
            groq = self._x_groq.get("usage")
            raw = groq if isinstance(groq, dict) else None
        if raw is not None:
            usage = _usage(raw)
            metadata["provider_usage"] = raw
        if self._x_groq:
            metadata["x_groq"] = self._x_groq
        b.finish(usage=usage, metadata=metadata, additional_kwargs=additional)

    def _citation_annotations(self) -> list[dict[str, Any]]:
        """Perplexity's ``citations`` URLs, titled from ``search_results``."""
        titles: dict[str, Any] = {}
        for result in self._search_results or ():
            if isinstance(result, Mapping) and isinstance(result.get("url"), str):
                titles.setdefault(result["url"], result.get("title"))
        out: list[dict[str, Any]] = []
        for url in self._citations or ():
            if not isinstance(url, str):
                out.append({"type": "non_standard_annotation", "value": {"citation": url}})
                continue
            citation: dict[str, Any] = {"type": "citation", "url": url}
            title = titles.get(url)
            if isinstance(title, str) and title:
                citation["title"] = title
            out.append(citation)
        return out


def _annotation(item: Any) -> dict[str, Any]:
    """A Chat Completions annotation as a protocol annotation."""
    if not isinstance(item, Mapping):
        return {"type": "non_standard_annotation", "value": {"annotation": item}}
    if item.get("type") == "url_citation":
        source = item.get("url_citation")
        if not isinstance(source, Mapping):
            source = item
        url = source.get("url")
        if isinstance(url, str):
            citation: dict[str, Any] = {"type": "citation", "url": url}
            title = source.get("title")
            if isinstance(title, str) and title:
                citation["title"] = title
            cited = source.get("content")
            if isinstance(cited, str) and cited:
                citation["cited_text"] = cited
            for field in ("start_index", "end_index"):
                value = source.get(field)
                if type(value) is int:
                    citation[field] = value
            return citation
    return {"type": "non_standard_annotation", "value": dict(item)}


def _usage(raw: Mapping[str, Any]) -> dict[str, Any]:
    prompt = raw.get("prompt_tokens_details")
    completion = raw.get("completion_tokens_details")
    if not isinstance(prompt, Mapping):
        prompt = {}
    if not isinstance(completion, Mapping):
        completion = {}
    cache_read = _int(prompt.get("cached_tokens"))
    if cache_read is None:
        cache_read = _int(raw.get("prompt_cache_hit_tokens"))  # DeepSeek
    return usage_info(
        input_tokens=_int(raw.get("prompt_tokens")),
        output_tokens=_int(raw.get("completion_tokens")),
        total_tokens=_int(raw.get("total_tokens")),
        cache_read=cache_read,
        cache_creation=_int(prompt.get("cache_write_tokens")),  # OpenRouter
        reasoning=_int(completion.get("reasoning_tokens")),
        audio_input=_int(prompt.get("audio_tokens")),
        audio_output=_int(completion.get("audio_tokens")),
    )
