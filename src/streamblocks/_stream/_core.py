"""The sans-I/O heart of a stream: accumulation and lifecycle, no waiting.

``StreamCore`` validates each event once, folds it into per-block
accumulators and appends to the projections' replay logs (``Channel``). It
owns the lifecycle, which is the single source of every ending::

    STREAMING ──message-finish──▶ FINISHED
        │ ──error event / fail()─▶ FAILED
        └──cancel() / close()────▶ CANCELLED

Terminal states are sticky: the first ending wins, later ``fail``/``cancel``
calls are no-ops, and a later ``dispatch`` raises ``ProtocolError``. Every
projection reads the same ``state`` and ``error``, so they all see the same
ending.

Invariants the sync and async layers rely on:

* Channels are append-only. An item is appended *before* the state change
  that depends on it, so a reader that observes a terminal state and then
  reads ``len(items)`` has every item (readers must read the state first).
* Text is kept as lists of parts and joined once (at finish, or when a
  finish event must be reconciled with its block): the cost per delta is
  constant however long the text grows.
* ``wake`` is the only hook to the outside. The core calls it with the
  waiters of a channel after appending to it; the async layer installs a
  function that resolves futures (thread-safely). Sync streams have no
  waiters and never pay for it.

Thread safety: one producer thread may ``dispatch`` while consumers read on
another; ``fail``/``cancel`` may come from any thread. Terminal transitions
take a lock so that exactly one ending wins. Concurrent ``dispatch`` calls
from several threads must be serialised by the caller.
"""

from __future__ import annotations

import copy
import enum
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from itertools import chain
from typing import Any, Generic, TypeVar, cast

from .._errors import ProtocolError, ProviderError, StreamCancelledError
from .._messages import AIMessage
from .._protocol import (
    Block,
    ContentBlock,
    InvalidToolCall,
    MessagesData,
    ToolCall,
    ToolCallChunk,
    UsageInfo,
    check_block_delta,
    check_block_finish,
    check_block_start,
    check_error,
    check_message_finish,
    check_message_start,
    event_type_of,
)

__all__ = ["Channel", "StreamCore", "StreamState"]

T = TypeVar("T")

Waiter = Any
"""Opaque to the core: whatever the waiting layer registers (an asyncio future)."""


class StreamState(str, enum.Enum):
    """Where a stream is in its life. Every state but ``STREAMING`` is terminal."""

    STREAMING = "streaming"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"


_STREAMING = StreamState.STREAMING
_ENDED = {
    StreamState.FINISHED: "finished",
    StreamState.FAILED: "failed",
    StreamState.CANCELLED: "been closed",
}


class Channel(Generic[T]):
    """An append-only replay log for one projection.

    Consumers keep their own cursor into ``items``; nothing is ever removed,
    so a consumer that arrives late replays everything. ``waiters`` holds the
    waiting layer's tokens for consumers blocked on this channel.
    """

    __slots__ = ("items", "waiters")

    def __init__(self) -> None:
        self.items: list[T] = []
        self.waiters: list[Waiter] = []


def _no_wake(waiters: tuple[Waiter, ...]) -> None:
    del waiters


_NO_BLOCK = object()  # `_BlockText.last` before any delta arrived


class _BlockText:
    """Per-block text (or reasoning), kept as runs over the projection's channel.

    The channel already holds every delta in arrival order, so a block's text
    is the join of its runs of that list and nothing is stored twice per
    delta. ``last`` is the block of the newest delta; its run is still open,
    ending at the end of the channel. A delta for the same block costs one
    comparison. ``fixed`` holds a block's text once joined, or once a finish
    event replaced it; later runs of that block append to it.

    Text without a wire index (older producers) belongs to the block ``None``.
    When such a block finishes, its text moves to ``closed`` so that the next
    unindexed block starts empty. Unindexed text sorts after every indexed
    block, in arrival order.

    Every push to the channel must call :meth:`switch` first when the delta's
    block differs from ``last``.
    """

    __slots__ = ("closed", "fixed", "items", "last", "run_start", "runs")

    def __init__(self, items: list[str]) -> None:
        self.items = items
        self.last: object = _NO_BLOCK
        self.run_start = 0
        self.runs: dict[int | None, list[tuple[int, int]]] = {}
        self.fixed: dict[int | None, str] = {}
        self.closed: list[str] = []

    def switch(self, index: int | None) -> None:
        """Close the open run: the next delta (appended by the caller) is ``index``'s."""
        end = len(self.items)
        last = self.last
        if end > self.run_start and last is not _NO_BLOCK:
            self.runs.setdefault(cast("int | None", last), []).append((self.run_start, end))
        self.last = index
        self.run_start = end

    def indexes(self) -> set[int | None]:
        """The blocks that have any text."""
        keys = set(self.runs) | set(self.fixed)
        if len(self.items) > self.run_start and self.last is not _NO_BLOCK:
            keys.add(cast("int | None", self.last))
        return keys

    def block_text(self, index: int | None) -> str:
        """The block's text so far. Joins its runs once; the result is kept."""
        runs = self.runs.pop(index, [])
        items = self.items
        end = len(items)
        if index == self.last and end > self.run_start:
            runs.append((self.run_start, end))
            self.run_start = end
        fixed = self.fixed.get(index)
        if not runs:
            return fixed or ""
        if fixed is None and runs == [(0, end)]:
            text = "".join(items)  # one block: no slice copies
        else:
            pieces = [fixed] if fixed else []
            pieces.extend(chain.from_iterable(items[a:b] for a, b in runs))
            text = "".join(pieces)
        self.fixed[index] = text
        return text

    def reconcile(self, index: int | None, full: str) -> str | None:
        """Fold a finish event's authoritative text into the block.

        Returns the delta the caller must push (the whole text when no deltas
        arrived, the tail when it extends them), or ``None`` when nothing is
        pushed: the text is equal, empty, or differs otherwise (then it
        replaces the block's text without a corrective delta).
        """
        if not full:
            return None
        held = self.block_text(index)
        if full == held:
            return None
        if full.startswith(held):
            return full[len(held) :]
        self.fixed[index] = full
        return None

    def close_unindexed(self) -> None:
        text = self.block_text(None)
        self.fixed.pop(None, None)
        if text:
            self.closed.append(text)

    def joined(self) -> str:
        keys = self.indexes()
        pieces = [self.block_text(i) for i in sorted(k for k in keys if k is not None)]
        pieces.extend(self.closed)
        if None in keys:
            pieces.append(self.block_text(None))
        # One block: join returns that very string, shared with the message.
        return "".join(pieces)


def _sorted_indexes(keys: Iterable[int | None]) -> list[int | None]:
    return sorted(keys, key=lambda k: (k is None, k or 0))


class _OpenCall:
    """A tool call whose arguments are still arriving."""

    __slots__ = ("args", "fields", "quiet")

    def __init__(self, fields: dict[str, Any]) -> None:
        args = fields.pop("args", None)
        self.fields = fields  # id, name, provider index and any other block fields
        self.args: list[str] = [args] if args else []
        # Set once a block-delta snapshot stops extending the held args: the
        # call then yields no more deltas (they would be ambiguous).
        self.quiet = False

    def held_args(self) -> str:
        if len(self.args) > 1:
            self.args[:] = ["".join(self.args)]
        return self.args[0] if self.args else ""

    def merge(self, fields: Mapping[str, Any]) -> None:
        """Sticky id/name: the first non-empty value wins; other fields update."""
        for key, value in fields.items():
            if value is None or key in ("type", "args"):
                continue
            if key in ("id", "name") and self.fields.get(key):
                continue
            self.fields[key] = value

    def chunk(self, args: str) -> ToolCallChunk:
        fields = self.fields
        item: ToolCallChunk = {
            "type": "tool_call_chunk",
            "id": fields.get("id"),
            "name": fields.get("name"),
            "args": args,
        }
        index = fields.get("index")
        if index is not None:
            item["index"] = index
        return item

    def finalize(self, finalized_type: str) -> Block:
        """Parse the arguments: a ``finalized_type`` block, or ``invalid_tool_call``."""
        raw = self.held_args()
        extras = {
            k: v
            for k, v in self.fields.items()
            if k not in ("id", "name", "type") and v is not None
        }
        error: str | None = None
        parsed: Any = {}
        if raw.strip():
            try:
                parsed = json.loads(raw)
            except (ValueError, RecursionError) as exc:  # RecursionError: absurd nesting
                error = f"tool call arguments are not valid JSON: {exc}"
            else:
                if not isinstance(parsed, dict):
                    error = (
                        f"tool call arguments must be a JSON object, got {type(parsed).__name__}"
                    )
        if error is not None and finalized_type == "server_tool_call":
            # The provider ran this call itself; it is not the client's to
            # answer, so it must not land among `invalid_tool_calls`.
            return {
                "type": "non_standard",
                "value": {
                    "type": "server_tool_call",
                    "id": self.fields.get("id"),
                    "name": self.fields.get("name"),
                    "args": raw,
                    "error": error,
                    **{k: v for k, v in extras.items() if k != "index"},
                },
                **({"index": extras["index"]} if "index" in extras else {}),
            }
        if error is not None:
            extras.pop("index", None)
            return {
                "type": "invalid_tool_call",
                "id": self.fields.get("id"),
                "name": self.fields.get("name"),
                "args": raw,
                "error": error,
                **extras,
            }
        if finalized_type == "tool_call":
            # Client tool calls carry no index once parsed, as in LangChain.
            extras.pop("index", None)
        return {
            "type": finalized_type,
            "id": self.fields.get("id") or "",
            "name": self.fields.get("name") or "",
            "args": parsed,
            **extras,
        }


class StreamCore:
    """Validated accumulation and the lifecycle of one streamed message."""

    def __init__(
        self,
        *,
        namespace: list[str] | None = None,
        node: str | None = None,
        message_id: str | None = None,
    ) -> None:
        self.namespace: list[str] = namespace if namespace is not None else []
        self.node = node
        self.message_id = message_id

        # Lifecycle: the single source of every projection's ending.
        self.state = _STREAMING
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self.wake: Callable[[tuple[Waiter, ...]], None] = _no_wake

        # Replay logs, one per projection. `terminal` has no items: it only
        # gathers the waiters of value projections (`.output`, `.usage`).
        self.events: Channel[MessagesData] = Channel()
        self.text: Channel[str] = Channel()
        self.reasoning: Channel[str] = Channel()
        self.tool_chunks: Channel[ToolCallChunk] = Channel()
        self.terminal: Channel[None] = Channel()

        # Accumulated state.
        self._text = _BlockText(self.text.items)
        self._reasoning = _BlockText(self.reasoning.items)
        self._calls: dict[int, _OpenCall] = {}
        self._server_calls: dict[int, _OpenCall] = {}
        self._started: dict[int, Block] = {}  # started, not yet finished
        self._blocks: dict[int, Block] = {}  # finalized, by wire index
        self._unindexed: list[Block] = []  # finalized without a wire index
        self._tool_calls: dict[object, ToolCall] = {}
        self._invalid_calls: dict[object, InvalidToolCall] = {}
        self._start_metadata: dict[str, Any] | None = None
        self._finish_metadata: dict[str, Any] | None = None
        self._additional_kwargs: dict[str, Any] | None = None
        self.usage: UsageInfo | None = None

        # Final values, set once when the message finishes.
        self.text_final: str | None = None
        self.reasoning_final: str | None = None
        self.tool_calls_final: list[ToolCall] | None = None
        self.message: AIMessage | None = None

        # Unknown event types are replayed too, so the append takes any mapping.
        self._events_append: Callable[[Any], None] = self.events.items.append
        self._handlers: dict[str, Callable[[Mapping[str, Any]], None]] = {
            "content-block-delta": self._on_delta,
            "content-block-start": self._on_block_start,
            "content-block-finish": self._on_block_finish,
            "message-start": self._on_message_start,
            "message-finish": self._on_message_finish,
            "error": self._on_error,
        }

    # -- feeding -----------------------------------------------------------

    def dispatch(self, event: Mapping[str, Any]) -> None:
        """Validate and apply one event.

        A malformed event raises ``ProtocolError`` and fails the stream with
        it: an event was lost, so the message can no longer be trusted to be
        complete. An event after the end raises ``ProtocolError`` and changes
        nothing.
        """
        if self.state is not _STREAMING:
            raise ProtocolError(
                f"cannot dispatch {_describe(event)}: the stream has already {_ENDED[self.state]}"
                " (no event may follow 'message-finish' or a failure)",
                event_type=_event_type_or_none(event),
            )
        if type(event) is dict:
            etype = event.get("event")
            # Fast path for the bulk of any stream: a well-formed text or
            # reasoning delta. Anything it does not fully recognise falls
            # through to the validating path below, which is the reference.
            if etype == "content-block-delta":
                delta = event.get("delta")
                index = event.get("index")
                if type(delta) is dict and (index is None or type(index) is int):
                    dtype = delta.get("type")
                    if dtype == "text-delta":
                        payload = delta.get("text")
                        acc = self._text
                        channel = self.text
                    elif dtype == "reasoning-delta":
                        payload = delta.get("reasoning")
                        acc = self._reasoning
                        channel = self.reasoning
                    else:
                        payload = None
                    if type(payload) is str:
                        self._events_append(event)
                        if payload:
                            if index != acc.last:
                                acc.switch(index)
                            channel.items.append(payload)
                            if channel.waiters:
                                self._wake(channel)
                        if self.events.waiters:
                            self._wake(self.events)
                        return
        else:
            etype = None
        handler = self._handlers.get(etype) if type(etype) is str else None
        try:
            if handler is None:
                etype = event_type_of(event)  # raises the precise ProtocolError
                handler = self._handlers.get(etype)
                if handler is None:
                    # Unknown event types are recorded for replay and
                    # otherwise ignored, so that newer producers keep working.
                    self._record(event)
                    return
            handler(event)
        except Exception as exc:
            # Whatever went wrong, no consumer may be left waiting on a stream
            # that can no longer finish correctly.
            self.fail(exc)
            raise

    def _record(self, event: Mapping[str, Any]) -> None:
        self._push(self.events, cast("MessagesData", event))

    def _push(self, channel: Channel[T], item: T) -> None:
        channel.items.append(item)
        if channel.waiters:
            self._wake(channel)

    def _push_text(
        self, acc: _BlockText, channel: Channel[str], index: int | None, text: str
    ) -> None:
        if index != acc.last:
            acc.switch(index)
        self._push(channel, text)

    def _wake(self, channel: Channel[Any]) -> None:
        waiters, channel.waiters = channel.waiters, []
        # A snapshot: a consumer on another thread may still remove its own
        # waiter from the old list, which would make a live iteration skip one.
        self.wake(tuple(waiters))

    def _on_delta(self, event: Mapping[str, Any]) -> None:
        index, dtype, payload = check_block_delta(event)
        self._record(event)
        if dtype == "text-delta":
            if payload:
                self._push_text(self._text, self.text, index, payload)
        elif dtype == "reasoning-delta":
            if payload:
                self._push_text(self._reasoning, self.reasoning, index, payload)
        elif dtype == "tool-call-delta":
            # The call's start says whether it is a client or a server call; a
            # delta whose start never arrived is left to its finish event.
            if index is None or not payload:
                return
            call = self._calls.get(index)
            if call is not None:
                call.args.append(payload)
                self._push_chunk(call, payload)
            elif (server := self._server_calls.get(index)) is not None:
                server.args.append(payload)
        elif dtype == "block-delta":
            self._on_block_snapshot(index, payload)
        elif dtype == "legacy-block-delta":
            self._on_legacy_chunk(index, payload)
        # data-delta and unknown delta types: the finish event carries the
        # complete block, so there is nothing to accumulate.

    def _push_chunk(self, call: _OpenCall, args: str) -> None:
        if not call.quiet:
            self._push(self.tool_chunks, call.chunk(args))

    def _chunk_store(self, btype: object) -> dict[int, _OpenCall] | None:
        """The open calls a chunk of this block type belongs to, if it is a chunk."""
        if btype == "tool_call_chunk":
            return self._calls
        if btype == "server_tool_call_chunk":
            return self._server_calls
        return None

    def _on_block_snapshot(self, index: int | None, fields: dict[str, Any]) -> None:
        btype = fields.get("type")
        store = self._chunk_store(btype)
        if store is None:
            return
        if index is None:
            index = len(store)
        call = store.get(index)
        if call is None:
            store[index] = _OpenCall(dict(fields))
            args = fields.get("args")
            if args and btype == "tool_call_chunk":
                self._push_chunk(store[index], args)
            return
        held = call.held_args()
        call.merge(fields)
        args = fields.get("args")
        if args is None:
            return
        # A snapshot replaces the args; consumers get only the suffix it adds.
        call.args[:] = [args] if args else []
        if btype != "tool_call_chunk":
            return
        if not args.startswith(held):
            call.quiet = True
        elif len(args) > len(held):
            self._push_chunk(call, args[len(held) :])

    def _on_legacy_chunk(self, index: int | None, fields: dict[str, Any]) -> None:
        btype = fields.get("type")
        store = self._chunk_store(btype)
        if store is None:
            return
        if index is None:
            provider_index = fields.get("index")
            index = provider_index if type(provider_index) is int else len(store)
        call = store.get(index)
        args = fields.get("args") or ""
        if call is None:
            call = store[index] = _OpenCall(dict(fields))
        else:
            call.merge(fields)
            if args:
                call.args.append(args)
        if args and btype == "tool_call_chunk":
            self._push_chunk(call, args)

    def _on_block_start(self, event: Mapping[str, Any]) -> None:
        index, block = check_block_start(event)
        self._record(event)
        if index is None:
            return
        btype = block["type"]
        if btype == "tool_call_chunk":
            call = self._calls[index] = _OpenCall(dict(block))
            if call.args:
                self._push_chunk(call, call.args[0])
        elif btype == "server_tool_call_chunk":
            self._server_calls[index] = _OpenCall(dict(block))
        else:
            self._started[index] = block
            # Better than LangChain: text on a start counts as the first delta.
            if btype == "text" and block.get("text"):
                self._push_text(self._text, self.text, index, block["text"])
            elif btype == "reasoning" and block.get("reasoning"):
                self._push_text(self._reasoning, self.reasoning, index, block["reasoning"])

    def _on_block_finish(self, event: Mapping[str, Any]) -> None:
        index, block = check_block_finish(event)
        self._record(event)
        self._finalize_block(index, block)

    def _finalize_block(self, index: int | None, block: Block) -> None:
        btype = block["type"]
        final: Block
        if btype == "text":
            final = {**block, "type": "text"}
            tail = self._text.reconcile(index, block.get("text") or "")
            if tail is not None:
                self._push_text(self._text, self.text, index, tail)
            final["text"] = self._text.block_text(index)
            if index is None:
                self._text.close_unindexed()
        elif btype == "reasoning":
            final = {**block, "type": "reasoning"}
            tail = self._reasoning.reconcile(index, block.get("reasoning") or "")
            if tail is not None:
                self._push_text(self._reasoning, self.reasoning, index, tail)
            # Overwrite only when text accumulated: an empty string would make
            # serializers invent an empty reasoning summary.
            reasoning = self._reasoning.block_text(index)
            if reasoning:
                final["reasoning"] = reasoning
            if index is None:
                self._reasoning.close_unindexed()
        elif btype == "tool_call":
            final = {k: v for k, v in block.items() if k != "index"}
            final.setdefault("id", "")
            final.setdefault("name", "")
            final.setdefault("args", {})
            self._tool_calls[self._call_key(index)] = cast("ToolCall", final)
            if index is not None:
                self._calls.pop(index, None)
        elif btype == "invalid_tool_call":
            final = {k: v for k, v in block.items() if k != "index"}
            self._invalid_calls[self._call_key(index)] = cast("InvalidToolCall", final)
            if index is not None:
                self._calls.pop(index, None)
                self._server_calls.pop(index, None)
        elif btype in ("tool_call_chunk", "server_tool_call_chunk"):
            # A chunk as a finish: finalize it like the end-of-message sweep.
            call = _OpenCall(dict(block))
            if index is not None:
                store = self._chunk_store(btype)
                open_call = store.pop(index, None) if store is not None else None
                if open_call is not None and not call.args:
                    call.args = open_call.args
            ftype = "tool_call" if btype == "tool_call_chunk" else "server_tool_call"
            self._finalize_block(index, call.finalize(ftype))
            return
        else:
            if btype == "server_tool_call" and index is not None:
                self._server_calls.pop(index, None)
            final = dict(block)
        self._store_final(index, btype, final)

    def _call_key(self, index: int | None) -> object:
        # A second finish for the same wire index replaces the first rather
        # than counting the call twice.
        return index if index is not None else object()

    def _store_final(self, index: int | None, btype: str, final: Block) -> None:
        if index is None:
            self._unindexed.append(final)
            return
        if btype not in ("tool_call", "invalid_tool_call"):
            final.setdefault("index", index)
        self._blocks[index] = final
        self._started.pop(index, None)

    def _on_message_start(self, event: Mapping[str, Any]) -> None:
        message_id, metadata = check_message_start(event)
        self._record(event)
        self._start_metadata = metadata
        if message_id:
            self.message_id = message_id

    def _on_error(self, event: Mapping[str, Any]) -> None:
        message, code = check_error(event)
        self._record(event)
        self.fail(ProviderError(message, code=code))

    def _on_message_finish(self, event: Mapping[str, Any]) -> None:
        usage, metadata, additional_kwargs = check_message_finish(event)
        self._record(event)
        self.usage = cast("UsageInfo | None", usage)
        self._finish_metadata = metadata
        self._additional_kwargs = additional_kwargs
        try:
            self._sweep()
            message = self.assemble()
            text_final = self._text.joined()
            reasoning_final = self._reasoning.joined()
        except Exception as exc:
            # Assembly must never leave a waiter hanging.
            self.fail(exc)
            raise
        with self._lock:
            if self.state is not _STREAMING:
                return
            self.text_final = text_final
            self.reasoning_final = reasoning_final
            self.tool_calls_final = copy.deepcopy(message.tool_calls)
            self.message = message
            self.state = StreamState.FINISHED
        self.wake_waiters()

    def _sweep(self) -> None:
        """Finalize everything still open, so that no received data is dropped."""
        for store, ftype in ((self._calls, "tool_call"), (self._server_calls, "server_tool_call")):
            for index in sorted(store):
                self._finalize_block(index, store[index].finalize(ftype))
            store.clear()
        # Blocks that were started or received deltas but never finished.
        with_text = self._text.indexes()
        for open_index in _sorted_indexes(
            set(self._started) | with_text | self._reasoning.indexes()
        ):
            if open_index is None or open_index in self._blocks:
                continue
            started = self._started.get(open_index)
            if started is None:
                btype = "text" if open_index in with_text else "reasoning"
                started = {"type": btype}
            # The start's own text is already the block's first part.
            block = {k: v for k, v in started.items() if k not in ("text", "reasoning")}
            self._finalize_block(open_index, block)
        # Unindexed deltas that no finish claimed, next to indexed blocks.
        if self._blocks or self._unindexed:
            for acc, btype in ((self._reasoning, "reasoning"), (self._text, "text")):
                if None in acc.indexes():
                    self._finalize_block(None, {"type": btype})

    # -- ending --------------------------------------------------------------

    def fail(self, error: BaseException) -> bool:
        """Fail the stream with ``error``. Returns whether this call ended it."""
        return self._end(StreamState.FAILED, error)

    def cancel(self, error: BaseException | None = None) -> bool:
        """Cancel the stream. Returns whether this call ended it."""
        if error is None:
            error = StreamCancelledError("the stream was closed before it finished")
        return self._end(StreamState.CANCELLED, error)

    def _end(self, state: StreamState, error: BaseException) -> bool:
        with self._lock:
            if self.state is not _STREAMING:
                return False
            self.error = error
            self.state = state
        self.wake_waiters()
        return True

    def wake_waiters(self) -> None:
        """Wake every waiter on every channel so that each re-checks its condition."""
        for channel in (self.events, self.text, self.reasoning, self.tool_chunks, self.terminal):
            if channel.waiters:
                self._wake(channel)

    # -- reading -------------------------------------------------------------

    def assemble(self) -> AIMessage:
        """Build the message from what has arrived so far.

        After ``message-finish`` this is the final message; before it, blocks
        still in progress appear as they stand (partial text, open tool calls
        as ``tool_call_chunk`` blocks). Costs O(size of the message).
        """
        blocks: dict[int, Block] = dict(self._blocks)
        with_text = self._text.indexes()
        with_reasoning = self._reasoning.indexes()
        for index in with_text | with_reasoning | set(self._started):
            if index is None or index in blocks:
                continue
            block = dict(self._started.get(index) or {})
            if index in with_text or block.get("type") == "text":
                block.update(type="text", text=self._text.block_text(index))
            elif index in with_reasoning:
                block.update(type="reasoning", reasoning=self._reasoning.block_text(index))
            block.setdefault("index", index)
            blocks[index] = block
        for store, ctype in (
            (self._calls, "tool_call_chunk"),
            (self._server_calls, "server_tool_call_chunk"),
        ):
            for index, call in store.items():
                if index not in blocks:
                    blocks[index] = {**call.fields, "type": ctype, "args": call.held_args()}

        content: str | list[ContentBlock]
        if blocks or self._unindexed:
            ordered = [blocks[i] for i in sorted(blocks)] + self._unindexed
            # Deep: the message must share nothing with the caller's events or
            # with our state (blocks hold the producer's nested dicts).
            content = cast("list[ContentBlock]", copy.deepcopy(ordered))
        elif with_reasoning:
            content = [
                cast("ContentBlock", {"type": "reasoning", "reasoning": self._reasoning.joined()})
            ]
            if with_text:
                content.append(cast("ContentBlock", {"type": "text", "text": self._text.joined()}))
        else:
            content = self._text.joined()

        response_metadata: dict[str, Any] = {}
        start = self._start_metadata
        if start:
            if "provider" in start:
                response_metadata["model_provider"] = start["provider"]
            if "model" in start:
                response_metadata["model_name"] = start["model"]
        if self._finish_metadata:
            response_metadata.update(copy.deepcopy(self._finish_metadata))
        # Content is always v1 protocol blocks, whatever the provider said.
        response_metadata["output_version"] = "v1"

        tool_calls: list[ToolCall] = [
            {
                "type": "tool_call",
                "id": tc.get("id", ""),
                "name": tc.get("name", ""),
                "args": copy.deepcopy(tc.get("args") or {}),
            }
            for tc in self._tool_calls.values()
        ]
        invalid: list[InvalidToolCall] = [
            {
                "type": "invalid_tool_call",
                "id": itc.get("id") or None,
                "name": itc.get("name") or None,
                "args": itc.get("args") or None,
                "error": itc.get("error"),
            }
            for itc in self._invalid_calls.values()
        ]
        return AIMessage(
            content=content,
            id=self.message_id,
            tool_calls=tool_calls,
            invalid_tool_calls=invalid,
            usage_metadata=copy.deepcopy(self.usage),
            response_metadata=response_metadata,
            additional_kwargs=copy.deepcopy(self._additional_kwargs or {}),
        )

    def partial_text(self) -> str:
        """The text pushed so far, without pumping (for ``repr``)."""
        return self._text.joined()

    def partial_reasoning(self) -> str:
        return self._reasoning.joined()


def _event_type_or_none(event: object) -> str | None:
    if isinstance(event, Mapping):
        etype = event.get("event")
        return etype if isinstance(etype, str) else None
    return None


def _describe(event: object) -> str:
    etype = _event_type_or_none(event)
    return f"a '{etype}' event" if etype else "an event"
