"""Splitting streamed Markdown into blocks that will never change again.

The live view prints each finished block to the terminal's scrollback once
and re-renders only the unfinished tail, so a redraw costs the size of the
tail, not of the whole answer. This module decides where the tail begins.
It is pure (no terminal, no ``rich``) so that it can be tested on its own.

A block ends at a blank line outside a fenced code block, confirmed by the
next line starting in column 0: an indented line after a blank one may
still belong to the block above (a list item's second paragraph, indented
code), so the split waits for it. A tail that grows past ``max_lines`` or
``max_chars`` without a boundary is split anyway, at a line boundary when
there is one: inside a code fence, the fence is closed in the part printed
and reopened in the tail, so both render as code.

Cost: each character is scanned once when its line completes and joined once
when its block is committed, so the work per delta is constant amortized,
however long the answer grows.
"""

from __future__ import annotations

__all__ = ["BlockSplitter"]


def _fence(line: str) -> str | None:
    """The fence marker (a run of 3+ backticks or tildes) a line opens or closes with."""
    stripped = line.lstrip(" ")
    if len(line) - len(stripped) > 3:
        return None
    for char in "`~":
        if stripped.startswith(char * 3):
            run = len(stripped) - len(stripped.lstrip(char))
            return char * run
    return None


class BlockSplitter:
    """Feed deltas, get back the Markdown blocks they completed.

    Invariant: the concatenation of every block returned by :meth:`feed` and
    :meth:`flush`, plus :attr:`tail`, equals the concatenation of the deltas
    fed, except where a forced split added text: a closing and a reopening
    fence line inside code, or a line break where an over-long line was cut.
    """

    def __init__(self, *, max_lines: int = 40, max_chars: int = 4000) -> None:
        if max_lines < 1 or max_chars < 1:
            msg = "max_lines and max_chars must be at least 1"
            raise ValueError(msg)
        self.max_lines = max_lines
        self.max_chars = max_chars
        self._lines: list[str] = []  # complete lines of the tail, each ending in "\n"
        self._chars = 0  # characters in self._lines
        self._partial: list[str] = []  # pieces of the line being received
        self._partial_chars = 0
        self._fence: str | None = None  # the open fence marker, when inside one
        self._fence_line = ""  # the line that opened it (reopened after a forced split)
        self._fence_start = 0  # its index in self._lines
        self._after_blank = False

    @property
    def tail(self) -> str:
        """The text not yet returned as a block (re-rendered on every redraw)."""
        return "".join(self._lines) + "".join(self._partial)

    def recent(self, max_lines: int) -> str:
        """The tail for display: inside a code fence that began more than
        ``max_lines`` lines back, only its last ``max_lines`` lines, under the
        fence's opening line (so they still render as that code block).
        Elsewhere the whole tail (bounded by the limits already)."""
        cut = len(self._lines) - max_lines
        if self._fence is None or cut <= self._fence_start:
            return self.tail
        return self._fence_line + "".join(self._lines[cut:]) + "".join(self._partial)

    @property
    def in_fence(self) -> bool:
        return self._fence is not None

    def feed(self, delta: str) -> list[str]:
        """Take one delta; return the blocks it completed, oldest first."""
        blocks: list[str] = []
        start = 0
        while True:
            newline = delta.find("\n", start)
            if newline < 0:
                break
            piece = delta[start : newline + 1]
            start = newline + 1
            if self._partial:
                self._partial.append(piece)
                line = "".join(self._partial)
                self._partial.clear()
                self._partial_chars = 0
            else:
                line = piece
            self._line(line, blocks)
        rest = delta[start:]
        if rest:
            if not self._partial and self._after_blank and self._fence is None:
                # The next block has begun; its first character says so
                # without waiting for the end of its line.
                if rest[0] not in " \t\r" and self._lines:
                    blocks.append(self._take())
                if rest[0] not in " \t\r":
                    self._after_blank = False
            self._partial.append(rest)
            self._partial_chars += len(rest)
            if self._partial_chars + self._chars > self.max_chars:
                self._overflow(blocks)
        return blocks

    def flush(self) -> str:
        """Everything not yet returned (the stream ended); the splitter is then empty."""
        text = self.tail
        self._lines.clear()
        self._partial.clear()
        self._chars = self._partial_chars = 0
        self._fence = None
        self._after_blank = False
        return text

    # -- internals -------------------------------------------------------------

    def _line(self, line: str, blocks: list[str]) -> None:
        if self._fence is not None:
            marker = _fence(line)
            if (
                marker is not None
                and marker[0] == self._fence[0]
                and len(marker) >= len(self._fence)
                and not line.strip().lstrip(marker[0])
            ):
                self._fence = None
                self._after_blank = False
            self._append(line)
        elif not line.strip():
            self._after_blank = True
            self._append(line)
        else:
            if self._after_blank and line[0] not in " \t" and self._lines:
                blocks.append(self._take())
            self._after_blank = False
            marker = _fence(line)
            if marker is not None:
                self._fence = marker
                self._fence_line = line
                self._fence_start = len(self._lines)
            self._append(line)
        if len(self._lines) >= self.max_lines or self._chars > self.max_chars:
            self._overflow(blocks)

    def _append(self, line: str) -> None:
        self._lines.append(line)
        self._chars += len(line)

    def _take(self) -> str:
        block = "".join(self._lines)
        self._lines.clear()
        self._chars = 0
        return block

    def _overflow(self, blocks: list[str]) -> None:
        """The tail is too big to redraw cheaply: print what is complete of it."""
        if self._lines:
            if self._fence is not None:
                # Close the fence in the printed part and reopen it in the tail,
                # unless the tail is only the opening line itself.
                if len(self._lines) == 1:
                    return
                block = self._take() + self._fence + "\n"
                self._fence_start = 0
                self._append(self._fence_line)
                blocks.append(block)
            else:
                blocks.append(self._take())
            return
        # One line longer than max_chars: print it up to its last space.
        line = "".join(self._partial)
        cut = line.rfind(" ", 0, self.max_chars) + 1 or self.max_chars
        if self._fence is not None:
            return  # inside code, a line is never broken; the view crops it
        blocks.append(line[:cut] + "\n")
        rest = line[cut:]
        self._partial = [rest] if rest else []
        self._partial_chars = len(rest)
