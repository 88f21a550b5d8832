"""Output for pipes and files: the answer's text as it streams, and nothing else on stdout.

Tool calls follow the text, one line each (``[tool call] name({...})``), as
``streamblocks replay`` prints them. Reasoning and timings go to ``err``
only with ``verbose``, so that ``streamblocks chat "..." > answer.txt``
holds just the answer.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ._transcript import format_usage

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import TextIO

    from .._messages import AIMessage

__all__ = ["PlainView"]


class PlainView:
    """Writes text deltas to ``out`` as they arrive; the same interface as ``LiveView``."""

    def __init__(self, out: TextIO, err: TextIO, *, verbose: bool = False) -> None:
        self.out = out
        self.err = err
        self.verbose = verbose
        self._at_line_start = True
        self._reasoning = False
        self._ended = False
        self._written: dict[object, int] = {}  # characters of each text block written

    def __enter__(self) -> PlainView:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is not None and not self._ended:
            self.end(None, "interrupted")  # left by a second Ctrl-C
        self.out.flush()

    def event(self, event: Mapping[str, Any]) -> None:
        kind = event.get("event")
        index = event.get("index")
        if kind in ("content-block-start", "content-block-finish"):
            # Text may come whole with a block's start or finish, or the finish
            # may complete what the deltas carried: write what is not out yet.
            block = event.get("content") or {}
            text = block.get("text") if block.get("type") == "text" else None
            if isinstance(text, str):
                self._text(index, text[self._written.get(index, 0) :])
            return
        if kind != "content-block-delta":
            return
        delta = event.get("delta") or {}
        if delta.get("type") == "text-delta":
            text = delta.get("text")
            if isinstance(text, str):
                self._text(index, text)
        elif delta.get("type") == "reasoning-delta" and self.verbose:
            reasoning = delta.get("reasoning")
            if isinstance(reasoning, str):
                if not self._reasoning:
                    self.err.write("[reasoning] ")
                    self._reasoning = True
                self.err.write(reasoning)
                self.err.flush()

    def _text(self, index: object, text: str) -> None:
        if not text:
            return
        self._written[index] = self._written.get(index, 0) + len(text)
        self.out.write(text)
        self.out.flush()
        self._at_line_start = text.endswith("\n")

    def tick(self) -> None:
        pass

    def end(self, message: AIMessage | None, status: str | None = None) -> None:
        """Finish the output: tool-call lines, a final newline, and ``status`` on ``err``."""
        self._ended = True
        if self._reasoning:
            self.err.write("\n")
        if message is not None:
            for call in message.tool_calls:
                self._line(f"[tool call] {call['name']}({json.dumps(call['args'])})")
            for bad in message.invalid_tool_calls:
                self._line(f"[invalid tool call] {bad.get('name')}: {bad.get('error')}")
        if not self._at_line_start:
            self.out.write("\n")
            self._at_line_start = True
        self.out.flush()
        if status == "interrupted":
            # A failure gets its own line from the caller; an interruption has no other.
            self.err.write("[interrupted]\n")
        if self.verbose and message is not None and message.usage_metadata:
            self.err.write(f"[usage] {format_usage(dict(message.usage_metadata))}\n")

    def _line(self, line: str) -> None:
        if not self._at_line_start:
            self.out.write("\n")
        self.out.write(line + "\n")
        self._at_line_start = True
