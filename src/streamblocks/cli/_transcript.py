"""The reply being shown, as sections in arrival order; pure, no terminal.

Each content block of the reply becomes a :class:`Section` (reasoning,
text, a tool call, or anything else). :meth:`Transcript.apply` takes one
protocol event and returns the *commits* it made possible: pieces that are
final and can be printed to the scrollback once, in order. A section's
finished Markdown blocks are committed only when every section before it
has been committed entirely, so the scrollback always reads in the order
the model produced it; what is not committed is the live tail, which the
view redraws.

It also counts content deltas and times them against ``clock`` (time to
first token, a live tokens-per-second estimate before the provider's usage
arrives).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ._blocks import BlockSplitter

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["Commit", "Section", "Transcript", "format_usage"]

MIN_RATE_SPAN = 0.25
"""Seconds of streaming below which no tokens-per-second figure is given."""

SectionKind = Literal["reasoning", "text", "tool", "other"]

_KINDS: dict[str, SectionKind] = {
    "text": "text",
    "reasoning": "reasoning",
    "tool_call": "tool",
    "tool_call_chunk": "tool",
    "invalid_tool_call": "tool",
    "server_tool_call": "tool",
    "server_tool_call_chunk": "tool",
}


@dataclass
class Section:
    """One content block of the reply, as the view sees it."""

    kind: SectionKind
    block_type: str
    splitter: BlockSplitter | None = None
    ready: list[str] = field(default_factory=list)
    """Finished Markdown blocks not yet committed (an earlier section is still open)."""
    name: str | None = None
    args: list[str] = field(default_factory=list)
    """Tool-call argument fragments, as received."""
    args_chars: int = 0
    chars: int = 0
    """Characters of text or reasoning received so far."""
    final: dict[str, Any] | None = None
    """The block from ``content-block-finish``."""
    done: bool = False

    def args_tail(self, limit: int) -> str:
        """The last ``limit`` characters of the arguments so far (joins only what it needs)."""
        out: list[str] = []
        size = 0
        for piece in reversed(self.args):
            out.append(piece)
            size += len(piece)
            if size >= limit:
                break
        text = "".join(reversed(out))
        return text[-limit:] if len(text) > limit else text


Commit = tuple[Section, str]
"""A section and a finished Markdown block of it, or ``""`` for a finished tool call
or other block, which the view renders from ``section.final``."""


class Transcript:
    """Sections of one reply, and what of them is final."""

    def __init__(
        self,
        *,
        max_lines: int = 40,
        max_chars: int = 4000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sections: list[Section] = []
        self._by_index: dict[object, Section] = {}
        self._head = 0
        self._max_lines = max_lines
        self._max_chars = max_chars
        self._clock = clock
        self.started = clock()
        self.first_content: float | None = None
        self.last_content: float | None = None
        self.deltas = 0
        self.usage: dict[str, Any] | None = None
        self.finish: dict[str, Any] = {}

    # -- events ----------------------------------------------------------------

    def apply(self, event: Mapping[str, Any]) -> list[Commit]:
        """Take one protocol event; return what it made final, in print order."""
        kind = event.get("event")
        if kind == "content-block-delta":
            section = self._section(event)
            if section is not None:
                self._delta(section, event.get("delta") or {})
        elif kind == "content-block-start":
            self._start(event)
        elif kind == "content-block-finish":
            section = self._section(event)
            content = event.get("content")
            if section is None and isinstance(content, dict):
                # A block that only finishes: open it as its type, empty; the
                # finish then supplies its content.
                block = {"type": content.get("type"), "name": content.get("name")}
                section = self._start({"index": event.get("index"), "content": block})
            if section is not None:
                self._finish(section, content if isinstance(content, dict) else {})
        elif kind == "message-finish":
            usage = event.get("usage")
            if isinstance(usage, dict):
                self.usage = usage
            metadata = event.get("metadata")
            if isinstance(metadata, dict):
                self.finish = metadata
        return self._commits()

    def close(self) -> list[Commit]:
        """The reply ended (finished, failed or interrupted): everything left, in order."""
        for section in self.sections:
            section.done = True
        return self._commits()

    # -- what the view reads ---------------------------------------------------

    def open_sections(self) -> list[Section]:
        """The sections not yet committed entirely, in order (the live region)."""
        return self.sections[self._head :]

    def is_head(self, section: Section) -> bool:
        return self._head < len(self.sections) and self.sections[self._head] is section

    def live_text(self, section: Section, max_lines: int | None = None) -> str:
        """The uncommitted Markdown of a text or reasoning section; with
        ``max_lines``, a long code block in it cut to its last lines (for display)."""
        splitter = section.splitter
        if splitter is None:
            tail = ""
        else:
            tail = splitter.tail if max_lines is None else splitter.recent(max_lines)
        if section.ready and not self.is_head(section):
            return "".join(section.ready) + tail
        return tail

    @property
    def time_to_first_token(self) -> float | None:
        if self.first_content is None:
            return None
        return self.first_content - self.started

    def tokens_per_second(self, now: float | None = None) -> float | None:
        """Output tokens per second since the first token: from usage once known,
        else counting deltas (roughly one token each)."""
        if self.first_content is None:
            return None
        end = self.last_content if now is None else now
        elapsed = (end or self.first_content) - self.first_content
        if elapsed < MIN_RATE_SPAN:
            return None  # a burst: any rate would be noise
        output = self.usage.get("output_tokens") if self.usage else None
        count = output if isinstance(output, int) and output > 0 else self.deltas
        return count / elapsed

    # -- internals -------------------------------------------------------------

    def _start(self, event: Mapping[str, Any]) -> Section:
        content = event.get("content")
        block: Mapping[str, Any] = content if isinstance(content, dict) else {}
        block_type = str(block.get("type", ""))
        kind = _KINDS.get(block_type, "other")
        section = Section(kind=kind, block_type=block_type)
        if kind in ("text", "reasoning"):
            section.splitter = BlockSplitter(max_lines=self._max_lines, max_chars=self._max_chars)
        self.sections.append(section)
        self._by_index[event.get("index", len(self.sections) - 1)] = section
        if kind == "tool":
            name = block.get("name")
            section.name = name if isinstance(name, str) else None
            args = block.get("args")
            if isinstance(args, str) and args:
                self._content()
                section.args.append(args)
                section.args_chars += len(args)
        initial = block.get("text") if kind == "text" else block.get("reasoning")
        if kind in ("text", "reasoning") and isinstance(initial, str) and initial:
            self._feed(section, initial)
        return section

    def _section(self, event: Mapping[str, Any]) -> Section | None:
        index = event.get("index")
        if index is None:
            return self.sections[-1] if self.sections else None
        return self._by_index.get(index)

    def _delta(self, section: Section, delta: Mapping[str, Any]) -> None:
        dtype = delta.get("type")
        if dtype in {"text-delta", "reasoning-delta"}:
            value = delta.get("text" if dtype == "text-delta" else "reasoning")
            if isinstance(value, str) and value and section.splitter is not None:
                self._feed(section, value)
        elif dtype == "tool-call-delta":
            args = delta.get("args")
            if isinstance(args, str) and args:
                self._content()
                section.args.append(args)
                section.args_chars += len(args)
        elif dtype == "block-delta":
            fields = delta.get("fields")
            if isinstance(fields, dict) and isinstance(fields.get("name"), str):
                section.name = fields["name"]

    def _feed(self, section: Section, text: str) -> None:
        self._content()
        assert section.splitter is not None
        section.chars += len(text)
        section.ready += section.splitter.feed(text)

    def _content(self) -> None:
        now = self._clock()
        if self.first_content is None:
            self.first_content = now
        self.last_content = now
        self.deltas += 1

    def _finish(self, section: Section, content: dict[str, Any]) -> None:
        section.final = content
        if section.kind == "tool" and isinstance(content.get("name"), str):
            section.name = content["name"]
        if section.splitter is not None:
            # The finished block is the truth: whatever of it the deltas did
            # not carry (all of it, for a block that arrived whole) is shown too.
            whole = content.get("text") if section.kind == "text" else content.get("reasoning")
            if isinstance(whole, str) and len(whole) > section.chars:
                self._feed(section, whole[section.chars :])
        section.done = True

    def _commits(self) -> list[Commit]:
        commits: list[Commit] = []
        while self._head < len(self.sections):
            section = self.sections[self._head]
            if section.ready:
                commits += ((section, block) for block in section.ready)
                section.ready.clear()
            if not section.done:
                break
            if section.splitter is not None:
                rest = section.splitter.flush()
                if rest:
                    commits.append((section, rest))
            else:
                commits.append((section, ""))
            self._head += 1
        return commits


def format_usage(usage: Mapping[str, Any]) -> str:
    """``"12 in · 40 out (8 reasoning)"`` from a usage dict."""
    parts = []
    if isinstance(usage.get("input_tokens"), int):
        parts.append(f"{usage['input_tokens']} in")
    if isinstance(usage.get("output_tokens"), int):
        out = f"{usage['output_tokens']} out"
        details = usage.get("output_token_details") or {}
        reasoning = details.get("reasoning") if isinstance(details, dict) else None
        if isinstance(reasoning, int) and reasoning:
            out += f" ({reasoning} reasoning)"
        parts.append(out)
    return " · ".join(parts) + " tokens" if parts else ""
