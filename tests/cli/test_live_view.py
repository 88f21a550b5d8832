"""The transcript model and the rich live view, driven by protocol events in-process.

The terminal-level behaviour (what a user sees, Ctrl-C) is tested through a
pseudo-terminal in test_chat_pty.py; here the view runs against an offscreen
console with a fake clock, so throttling and ordering are exact.
"""

from __future__ import annotations

import io
import re
from typing import Any

from rich.console import Console

from streamblocks.cli._live import LiveView
from streamblocks.cli._transcript import Transcript, format_usage

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Clock:
    def __init__(self, step: float = 0.0) -> None:
        self.now = 1000.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"event": "content-block-start", "index": index, "content": block}


def text(index: int, value: str) -> dict[str, Any]:
    return {
        "event": "content-block-delta",
        "index": index,
        "delta": {"type": "text-delta", "text": value},
    }


def reasoning(index: int, value: str) -> dict[str, Any]:
    return {
        "event": "content-block-delta",
        "index": index,
        "delta": {"type": "reasoning-delta", "reasoning": value},
    }


def args(index: int, value: str) -> dict[str, Any]:
    return {
        "event": "content-block-delta",
        "index": index,
        "delta": {"type": "tool-call-delta", "args": value},
    }


def finish(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"event": "content-block-finish", "index": index, "content": block}


def kinds_and_text(commits: list[Any]) -> list[tuple[str, str]]:
    return [(section.kind, block) for section, block in commits]


def test_commits_follow_the_order_of_the_blocks_not_of_their_deltas() -> None:
    t = Transcript()
    t.apply({"event": "message-start"})
    t.apply(start(0, {"type": "reasoning", "reasoning": ""}))
    # The reasoning is the head: its finished paragraph goes out at once.
    commits = t.apply(reasoning(0, "Think.\n\nMore."))
    assert kinds_and_text(commits) == [("reasoning", "Think.\n\n")]
    t.apply(start(1, {"type": "text", "text": ""}))
    # The text block's first paragraph is final, but the reasoning before it is not.
    assert t.apply(text(1, "Answer one.\n\nAnswer two")) == []
    assert t.live_text(t.sections[1]) == "Answer one.\n\nAnswer two"
    commits = t.apply(finish(0, {"type": "reasoning", "reasoning": "Think.\n\nMore."}))
    assert kinds_and_text(commits) == [("reasoning", "More."), ("text", "Answer one.\n\n")]
    assert t.live_text(t.sections[1]) == "Answer two"
    t.apply(start(2, {"type": "tool_call_chunk", "id": "c1", "name": "get_weather", "args": ""}))
    t.apply(args(2, '{"city": '))
    commits = t.apply(finish(1, {"type": "text", "text": "Answer one.\n\nAnswer two"}))
    assert kinds_and_text(commits) == [("text", "Answer two")]
    assert t.sections[2].args_tail(100) == '{"city": '
    commits = t.apply(args(2, '"Paris"}'))
    assert commits == []
    call = {"type": "tool_call", "id": "c1", "name": "get_weather", "args": {"city": "Paris"}}
    assert kinds_and_text(t.apply(finish(2, call))) == [("tool", "")]
    assert t.open_sections() == []


def test_close_commits_whatever_is_left_in_order() -> None:
    t = Transcript()
    t.apply(start(0, {"type": "text", "text": ""}))
    t.apply(text(0, "Partial answer"))
    t.apply(start(1, {"type": "tool_call_chunk", "id": "c", "name": "f", "args": '{"a"'}))
    commits = t.close()
    assert kinds_and_text(commits) == [("text", "Partial answer"), ("tool", "")]
    assert commits[1][0].final is None  # never finished: the view shows it as incomplete


def test_timing_uses_the_clock_and_then_the_usage() -> None:
    clock = Clock()
    t = Transcript(clock=clock)
    clock.now += 0.5
    t.apply(start(0, {"type": "text", "text": ""}))
    for _ in range(10):
        clock.now += 0.1
        t.apply(text(0, "tok "))
    assert t.time_to_first_token is not None
    assert abs(t.time_to_first_token - 0.6) < 1e-9
    # 10 deltas, the first at +0.6 and the last at +1.5: 9 intervals of 0.1 s.
    rate = t.tokens_per_second()
    assert rate is not None
    assert abs(rate - 10 / 0.9) < 1e-6
    t.apply({"event": "message-finish", "usage": {"input_tokens": 3, "output_tokens": 18}})
    rate = t.tokens_per_second()
    assert rate is not None
    assert abs(rate - 18 / 0.9) < 1e-6


def test_format_usage() -> None:
    usage = {"input_tokens": 5, "output_tokens": 67, "output_token_details": {"reasoning": 53}}
    assert format_usage(usage) == "5 in · 67 out (53 reasoning) tokens"
    assert format_usage({}) == ""


def offscreen(width: int = 80, height: int = 24) -> tuple[Console, io.StringIO]:
    screen = io.StringIO()
    console = Console(
        file=screen, force_terminal=True, width=width, height=height, color_system="standard"
    )
    return console, screen


def test_redraws_are_throttled_and_everything_reaches_the_screen() -> None:
    console, out = offscreen()
    clock = Clock(step=0.001)  # a 1000 token/s model, one clock reading per call
    paragraphs = [f"Paragraph {n} says **word{n}** and more.\n\n" for n in range(300)]
    with LiveView(console, label="test:model", fps=10.0, clock=clock) as view:
        view.event({"event": "message-start"})
        view.event(start(0, {"type": "text", "text": ""}))
        for paragraph in paragraphs:
            for piece in re.findall(r".{1,4}", paragraph, re.S):
                view.event(text(0, piece))
                head = view.transcript.sections[0]
                # The tail the view redraws never holds more than the unfinished part.
                assert len(view.transcript.live_text(head)) <= len(paragraph) + 4
        view.event(finish(0, {"type": "text", "text": "".join(paragraphs)}))
        view.event({"event": "message-finish", "usage": {"input_tokens": 1, "output_tokens": 9}})
        view.end(None)
    deltas = sum(len(re.findall(r".{1,4}", p, re.S)) for p in paragraphs)
    # Two clock readings per delta (view and transcript) at 1 ms each: one
    # frame per 50 deltas at 10 fps, give or take the start and the end.
    assert deltas / 50 - 3 <= view.frames <= deltas / 50 + 3
    screen = ANSI.sub("", out.getvalue())
    for n in (0, 150, 299):
        assert f"Paragraph {n} says word{n} and more." in screen  # Markdown rendered: no **
    assert "1 in · 9 out tokens" in screen


def test_an_interrupted_reply_keeps_its_partial_text_and_says_so() -> None:
    console, out = offscreen()
    with LiveView(console, label="test:model", clock=Clock(step=1.0)) as view:
        view.event(start(0, {"type": "reasoning", "reasoning": ""}))
        view.event(reasoning(0, "Thinking about it"))
        view.event(finish(0, {"type": "reasoning", "reasoning": "Thinking about it"}))
        view.event(start(1, {"type": "text", "text": ""}))
        view.event(text(1, "The partial ans"))
        view.event(start(2, {"type": "tool_call_chunk", "id": "c", "name": "lookup", "args": ""}))
        view.event(args(2, '{"q": "par'))
        view.end(None, "interrupted")
    screen = ANSI.sub("", out.getvalue())
    assert "thinking…" in screen
    assert "Thinking about it" in screen
    assert "The partial ans" in screen
    assert '⚙ lookup {"q": "par  (incomplete)' in screen
    assert "■ interrupted" in screen
