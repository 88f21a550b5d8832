"""The live terminal view of one reply, drawn with ``rich``.

Layout, top to bottom: what is final is printed once to the scrollback
(reasoning dimmed, the answer as Markdown, each tool call with its
arguments), and below it a live region holds the unfinished tail of each
open block and a footer (time to first token, tokens per second, usage).

Redraws are throttled to ``fps`` and cost the size of the tail, never of the
whole answer: :class:`~streamblocks.cli._transcript.Transcript` hands over
finished Markdown blocks, which are rendered exactly once, and the region
shows at most the last ``console.height - 3`` lines of the tail. Handling
one delta is constant work; the commits and the redraw happen at the next
frame.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.live import Live
from rich.markdown import Markdown
from rich.segment import Segment
from rich.text import Text

from ._transcript import Transcript, format_usage

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult

    from .._messages import AIMessage
    from ._transcript import Commit, Section

__all__ = ["LiveView"]

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_ARGS_LIVE = 400  # characters of a growing tool call's arguments kept on screen
_ARGS_INLINE = 100  # a finished call's arguments up to this size stay on one line
_REASONING = "dim italic"
_TOOL = "bold magenta"
_THINKING = Text("thinking…", style="dim bold")


class _Tail:
    """A renderable cropped to its last ``height`` lines (the newest text stays visible)."""

    def __init__(self, renderable: RenderableType, height: int) -> None:
        self.renderable = renderable
        self.height = max(1, height)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = console.render_lines(self.renderable, options, pad=False)
        yield from _segments(lines[-self.height :])


class _Trimmed:
    """A renderable without its leading and trailing empty lines.

    A Markdown block rendered on its own may start with a blank line (a list
    does) that rendering the whole answer would not repeat; the view puts
    exactly one blank line between blocks itself. A line counts as empty when
    it is whitespace without a background (a code block's padding is kept).
    """

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = console.render_lines(self.renderable, options, pad=False)
        start, end = 0, len(lines)
        while start < end and _empty(lines[start]):
            start += 1
        while end > start and _empty(lines[end - 1]):
            end -= 1
        yield from _segments(lines[start:end])


def _segments(lines: list[list[Segment]]) -> Iterator[Segment]:
    """Rendered lines back as segments, each line ended."""
    newline = Segment.line()
    for line in lines:
        yield from line
        yield newline


def _empty(line: list[Segment]) -> bool:
    return all(
        not segment.text.strip() and (segment.style is None or segment.style.bgcolor is None)
        for segment in line
    )


class LiveView:
    """Shows one reply live; use as a context manager around the stream's events.

    ``label`` names the model in the footer. ``clock`` is injectable so that
    the benchmark can replay a stream at a chosen pace without sleeping.
    """

    def __init__(
        self,
        console: Console,
        *,
        label: str,
        fps: float = 12.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.label = label
        self.interval = 1.0 / fps
        self._clock = clock
        # The tail may hold two screens before it is split (only the last
        # screen is shown): a split inside a code block shows as a seam, so it
        # should be rare, and two screens still bound the cost of a redraw.
        height = max(4, console.size.height)
        self.transcript = Transcript(
            max_lines=2 * height,
            max_chars=max(800, 2 * console.size.width * height),
            clock=clock,
        )
        self._pending: list[RenderableType] = []
        self._last_section: Section | None = None  # the section printed last
        self._blank_after = False  # the last printed block ended with a blank line
        self._ended_at: float | None = None
        self._headed: set[int] = set()  # reasoning sections whose header is printed
        self._next_frame = 0.0
        self._status: Text | None = None
        self.frames = 0
        self._live = Live(
            _Region(self),
            console=console,
            auto_refresh=False,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
            vertical_overflow="visible",
        )

    def __enter__(self) -> LiveView:
        self._live.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        # Left by an exception (a second Ctrl-C while the stream closed): the
        # screen still gets everything received and a final footer.
        if self._ended_at is None:
            self.end(None, "interrupted" if exc_type is not None else None)
        self._live.stop()

    # -- driven by the chat loop -----------------------------------------------

    def event(self, event: Mapping[str, Any]) -> None:
        commits = self.transcript.apply(event)
        if commits:
            self._queue(commits)
        if self._clock() >= self._next_frame:
            self._frame()

    def tick(self) -> None:
        """Called periodically while waiting: keeps the spinner and timings moving."""
        if self._clock() >= self._next_frame:
            self._frame()

    def end(self, message: AIMessage | None, status: str | None = None) -> None:
        """The reply is over: print everything left, then the final footer.

        ``status`` says how it ended when not normally (``"interrupted"``, or
        ``"failed"``); it is shown in the footer."""
        self._ended_at = self._clock()
        self._queue(self.transcript.close())
        if status is None:
            self._status = Text("✓", style="green")
        else:
            self._status = Text(
                f"■ {status}", style="bold yellow" if status == "interrupted" else "bold red"
            )
        self._frame()

    # -- drawing ---------------------------------------------------------------

    def _frame(self) -> None:
        self._next_frame = self._clock() + self.interval
        self.frames += 1
        if self._pending:
            # One print per frame: rich redraws the live region after a print,
            # so printing block by block would redraw the tail once per block.
            batch, self._pending = self._pending, []
            self._live.console.print(Group(*batch))
        else:
            self._live.refresh()

    def _queue(self, commits: list[Commit]) -> None:
        for section, block in commits:
            if self._last_section is not None and self._last_section is not section:
                gap = section.kind != self._last_section.kind or section.kind == "tool"
            else:
                # rich puts a blank line between Markdown elements; blocks
                # rendered one by one need it put back where the source had one.
                gap = self._blank_after
            if gap:
                self._pending.append(Text())
            if section.kind == "reasoning" and id(section) not in self._headed:
                self._pending.append(_THINKING)
                self._headed.add(id(section))
            self._last_section = section
            self._blank_after = _ends_blank(block)
            self._pending.append(self._render(section, block, final=True))

    def _render(self, section: Section, block: str, *, final: bool) -> RenderableType:
        if section.kind == "reasoning":
            return _Trimmed(Markdown(block, style=_REASONING))
        if section.kind == "text":
            return _Trimmed(Markdown(block))
        if section.kind == "tool":
            return _tool_line(section, final=final)
        return Text(f"[{section.block_type or 'unknown'} block]", style="dim")

    def live_region(self) -> Iterator[RenderableType]:
        """What the live region shows now: the open sections' tails, then the footer."""
        transcript = self.transcript
        parts: list[RenderableType] = []
        for section in transcript.open_sections():
            if section.kind in ("text", "reasoning"):
                # Only the last screen of a long code block is drawn: it is all
                # that shows, and highlighting costs per line.
                text = transcript.live_text(section, self.console.size.height)
                if section.kind == "reasoning" and id(section) not in self._headed:
                    parts.append(_THINKING)
                if text.strip():
                    if not parts and section is self._last_section and self._blank_after:
                        parts.append(Text())
                    parts.append(self._render(section, text, final=False))
            elif section.kind == "tool":
                parts.append(_tool_line(section, final=False))
        if parts:
            # Room for the footer, even wrapped onto a second line.
            yield _Tail(Group(*parts), self.console.size.height - 3)
        yield self.footer()

    def footer(self) -> Text:
        t = self.transcript
        now = self._clock() if self._ended_at is None else self._ended_at
        live = self._status is None
        footer = Text(style="dim")
        if live:
            footer.append(f"{_SPINNER[int(now * 10) % len(_SPINNER)]} ", style="cyan")
        footer.append(self.label)
        ttft = t.time_to_first_token
        if ttft is not None:
            footer.append(f" · first token {ttft:.2f} s")
        elif live:
            footer.append(" · waiting")
        rate = t.tokens_per_second(now if live else None)
        if rate is not None:
            footer.append(f" · {rate:.0f} tok/s")
        footer.append(f" · {now - t.started:.1f} s")
        usage = t.usage
        if usage:
            footer.append(" · " + format_usage(usage))
        reason = t.finish.get("finish_reason") or t.finish.get("stop_reason")
        if reason in ("length", "max_tokens", "MAX_TOKENS"):
            footer.append(" · cut off at the token limit", style="yellow")
        if self._status is not None:
            footer.append("  ")
            footer.append_text(self._status)
        return footer


class _Region:
    def __init__(self, view: LiveView) -> None:
        self.view = view

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from self.view.live_region()


def _tool_line(section: Section, *, final: bool) -> RenderableType:
    name = section.name or "tool"
    line = Text()
    server = section.block_type.startswith("server_tool")
    line.append("⚙ " if not server else "⚙ server ", style=_TOOL)
    line.append(name, style="bold")
    block = section.final or {}
    if final and block.get("type") in ("tool_call", "server_tool_call"):
        args = json.dumps(block.get("args") or {}, ensure_ascii=False)
        if len(args) > _ARGS_INLINE:
            args = json.dumps(block.get("args") or {}, ensure_ascii=False, indent=2)
            line.append("\n")
        else:
            line.append(" ")
        line.append(args, style="cyan")
        return line
    line.append(" ")
    line.append(section.args_tail(_ARGS_LIVE), style="cyan")
    if final:
        error = block.get("error")
        line.append(
            f"  invalid: {error}" if error else "  (incomplete)",
            style="red" if error else "yellow",
        )
    return line


def _ends_blank(block: str) -> bool:
    """Whether a Markdown block's source ends with a blank line."""
    lines = block.split("\n")
    return len(lines) >= 3 and not lines[-1].strip() and not lines[-2].strip()
