"""``streamblocks chat`` on a pseudo-terminal: what a user sees, and how Ctrl-C behaves.

Each test runs the real command in a child process on a pty (pexpect, 100x30,
``TERM=xterm-256color``, a minimal environment so that no ``NO_COLOR``,
``COLUMNS`` or API key of the developer's changes the picture) and keeps every
byte it wrote. Assertions about the *final picture* feed those bytes to a real
terminal emulator: tmux, used only as a screen (the bytes are ``cat`` into a
detached 100x30 pane, then read back with ``capture-pane -e``), so they see
what the user is left with after rich's cursor moves and erasures, not the
intermediate frames. Those tests skip when tmux is missing; the rest use the
raw bytes only.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pexpect
import pytest

from streamblocks.cli._chat import DEFAULT_MODEL_NOTICE
from streamblocks.models import DemoModel
from tests.providers.replay import FIXTURES
from tests.providers.server import Reply

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tests.providers.server import LocalServer

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")

COLS, ROWS = 100, 30
TIMEOUT = 10  # seconds for any one expectation; each test takes 0.5 to 2 s
ROUTE = "/v1/chat/completions"
TMUX = shutil.which("tmux")
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"
WEATHER = "What's the weather in Paris?"

# == the recorded OpenAI reply the server plays ==================================

TRANSCRIPT = FIXTURES / "openai-chat" / "gpt-4o-text-usage-chunk.sse"


def sse_events(data: bytes) -> list[bytes]:
    """An SSE body cut at its event boundaries: one server chunk per event."""
    return [event + b"\n\n" for event in data.replace(b"\r\n", b"\n").split(b"\n\n") if event]


def text_of(events: list[bytes]) -> str:
    """The answer text in OpenAI chunks, read straight from the JSON payloads."""
    text = []
    for event in events:
        for line in event.decode().splitlines():
            data = line.removeprefix("data:").strip()
            if line.startswith("data:") and data != "[DONE]":
                for choice in json.loads(data).get("choices") or []:
                    text.append(choice["delta"].get("content") or "")
    return "".join(text)


EVENTS = sse_events(TRANSCRIPT.read_bytes())
ANSWER = text_of(EVENTS)
STALL_AFTER = 12
PARTIAL = text_of(EVENTS[:STALL_AFTER])
"""What is on screen when the server stalls after ``STALL_AFTER`` events."""


def stalled_reply() -> Reply:
    """Part of the answer, then nothing until the client goes away."""
    return Reply(chunks=EVENTS, stall_after=STALL_AFTER)


def openai_sse(pieces: list[str]) -> list[bytes]:
    """An OpenAI Chat Completions stream saying ``pieces`` one delta each, then usage."""

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        body = {
            "id": "chatcmpl-pty",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "x",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    usage = {"prompt_tokens": 7, "completion_tokens": len(pieces), "total_tokens": 7 + len(pieces)}
    return [
        chunk({"role": "assistant", "content": ""}),
        *(chunk({"content": piece}) for piece in pieces),
        chunk({}, "stop"),
        b"data: "
        + json.dumps({"id": "chatcmpl-pty", "object": "chat.completion.chunk", "choices": [],
                      "usage": usage}).encode()
        + b"\n\n",
        b"data: [DONE]\n\n",
    ]  # fmt: skip


# == the command on a pty ========================================================


def pty_env(home: Path, **extra: str) -> dict[str, str]:
    """Only what a terminal session needs: nothing that picks a model, a key, a colour
    mode or a size (rich honours ``COLUMNS``, ``NO_COLOR``, ``FORCE_COLOR``...)."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TERM": "xterm-256color",
        **extra,
    }


class Chat:
    """``python -m streamblocks chat ARGS`` on a 100x30 pty; ``output`` is all it wrote
    (stdout and stderr, as the terminal got them, unless ``stderr`` names a file)."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, stderr: Path | None):
        argv = [sys.executable, "-m", "streamblocks", "chat", *args]
        if stderr is not None:
            argv = ["/bin/sh", "-c", f'exec "$@" 2>{shlex.quote(str(stderr))}', "sh", *argv]
        self.log = io.StringIO()
        with warnings.catch_warnings():
            # Python 3.12+ warns about forking while the local server's thread runs;
            # the child execs at once, so the warning's deadlock cannot happen.
            warnings.filterwarnings(
                "ignore", r"This process .* is multi-threaded", DeprecationWarning
            )
            self.child = pexpect.spawn(
                argv[0],
                argv[1:],
                env=env,
                cwd=str(cwd),
                dimensions=(ROWS, COLS),
                encoding="utf-8",
                timeout=TIMEOUT,
            )
        self.child.logfile_read = self.log

    @property
    def output(self) -> str:
        return self.log.getvalue()

    def expect(self, text: str) -> None:
        """Wait until ``text`` (literally) appears after what was last expected."""
        self.child.expect_exact(text)

    def prompt(self) -> None:
        """Wait for the session's ``> `` prompt."""
        self.child.expect(r"\n> ")

    def wait(self) -> int:
        """The exit status, once the command has ended (a kill by a signal fails)."""
        self.child.expect(pexpect.EOF)
        self.child.close()
        assert self.child.signalstatus is None, f"killed by signal {self.child.signalstatus}"
        assert self.child.exitstatus is not None
        return self.child.exitstatus


@pytest.fixture
def chat(tmp_path: Path) -> Iterator[Callable[..., Chat]]:
    """``chat(*args, stderr=None, **env)`` starts the command; all are ended at teardown."""
    started: list[Chat] = []

    def start(*args: str, stderr: Path | None = None, **env: str) -> Chat:
        child = Chat(list(args), pty_env(tmp_path, **env), tmp_path, stderr)
        started.append(child)
        return child

    yield start
    for child in started:
        child.child.close(force=True)


def openai_args(server: LocalServer) -> list[str]:
    return ["--model", "openai:x", "--base-url", f"{server.url}/v1"]


# == the screen ==================================================================


@dataclass(frozen=True)
class Cell:
    char: str
    attrs: frozenset[int]
    """SGR attributes on: 1 bold, 2 dim, 3 italic, 4 underline, 7 reverse..."""
    fg: str | None
    """The foreground colour's SGR code ("35", "38;5;13"), or None for the default."""


class Screen:
    """What a terminal shows once ``raw`` has been written to it: the scrollback
    and the visible rows, as lines of styled cells."""

    def __init__(self, styled: str) -> None:
        self.rows: list[list[Cell]] = [[]]
        for cell in _cells(styled):  # one pass: tmux carries styles over from line to line
            if cell.char == "\n":
                self.rows.append([])
            else:
                self.rows[-1].append(cell)
        while self.rows and not "".join(c.char for c in self.rows[-1]).strip():
            self.rows.pop()
        self.lines = ["".join(c.char for c in row).rstrip() for row in self.rows]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def find(self, needle: str) -> int:
        """The index of the only line containing ``needle``."""
        hits = [i for i, line in enumerate(self.lines) if needle in line]
        assert len(hits) == 1, f"{needle!r} is on {len(hits)} lines of:\n{self.text}"
        return hits[0]

    def cells(self, needle: str, row: int | None = None) -> list[Cell]:
        """The cells showing ``needle`` (spaces left out), on ``row`` or its only line."""
        row = self.find(needle) if row is None else row
        start = self.lines[row].index(needle)
        return [c for c in self.rows[row][start : start + len(needle)] if c.char != " "]


_SGR = re.compile(r"\x1b\[([0-9;:]*)m")
_OTHER_ESCAPE = re.compile(
    r"\x1b(?:\[[0-9;:?]*[A-Za-z]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()][A-Z0-9])"
)


def _cells(text: str) -> list[Cell]:
    """``text`` with SGR escapes as styled cells (other escapes dropped)."""
    text = _OTHER_ESCAPE.sub(lambda m: m.group() if _SGR.fullmatch(m.group()) else "", text)
    cells: list[Cell] = []
    attrs: set[int] = set()
    fg: str | None = None
    pos = 0
    for match in itertools.chain(_SGR.finditer(text), [None]):
        end = match.start() if match else len(text)
        cells += (Cell(ch, frozenset(attrs), fg) for ch in text[pos:end])
        if match is None:
            break
        pos = match.end()
        codes = [int(c) if c else 0 for c in re.split("[;:]", match.group(1))]
        i = 0
        while i < len(codes):
            code = codes[i]
            if code == 0:
                attrs.clear()
                fg = None
            elif code in (1, 2, 3, 4, 5, 7, 9):
                attrs.add(code)
            elif code == 22:
                attrs -= {1, 2}
            elif 23 <= code <= 29:
                attrs.discard(code - 20)
            elif 30 <= code <= 37 or 90 <= code <= 97:
                fg = str(code)
            elif code == 39:
                fg = None
            elif code in (38, 48):
                size = 3 if codes[i + 1 : i + 2] == [5] else 5
                if code == 38:
                    fg = ";".join(map(str, codes[i : i + size]))
                i += size - 1
            i += 1
    return cells


def render(raw: str, tmp_path: Path) -> Screen:
    """``raw`` written to a fresh 100x30 terminal (tmux), read back with its styles."""
    if TMUX is None:
        pytest.skip("tmux is not installed: no terminal emulator to render the screen")
    data = tmp_path / "screen.raw"
    data.write_text(raw, encoding="utf-8")
    conf = tmp_path / "tmux.conf"
    conf.write_text("set -g history-limit 2000\nset -g status off\n")
    socket = f"streamblocks-pty-{os.getpid()}-{time.monotonic_ns()}"
    tmux = [TMUX, "-L", socket, "-f", str(conf)]
    shown = f"{shlex.quote(TMUX)} -L {socket} wait-for -S shown"
    env = pty_env(tmp_path)
    run: dict[str, Any] = {"env": env, "timeout": TIMEOUT, "capture_output": True, "text": True}
    socket_path = ""
    try:
        subprocess.run(
            [*tmux, "new-session", "-d", "-s", "s", "-x", str(COLS), "-y", str(ROWS),
             f"cat {shlex.quote(str(data))}; {shown}; exec sleep {TIMEOUT * 6}"],
            check=True, **run,
        )  # fmt: skip
        subprocess.run([*tmux, "wait-for", "shown"], check=True, **run)
        query = "#{pane_width}x#{pane_height} #{socket_path}"
        shape = subprocess.run(
            [*tmux, "display-message", "-p", "-t", "s", query], check=True, **run
        )
        size, socket_path = shape.stdout.strip().split(" ", 1)
        assert size == f"{COLS}x{ROWS}"
        captured = subprocess.run(
            [*tmux, "capture-pane", "-p", "-e", "-S", "-", "-t", "s"], check=True, **run
        )
    finally:
        subprocess.run([*tmux, "kill-server"], check=False, **run)
        if socket_path:  # tmux leaves it behind
            Path(socket_path).unlink(missing_ok=True)
    return Screen(captured.stdout)


def cursor_restored(raw: str) -> bool:
    """The cursor was shown again after it was last hidden (or never hidden)."""
    return raw.rfind(SHOW_CURSOR) >= raw.rfind(HIDE_CURSOR)


def unmarked(markdown: str) -> str:
    """One line of Markdown as rendered on a terminal: emphasis and code marks gone."""
    return re.sub(r"[*`]", "", markdown)


def squash(text: str) -> str:
    return " ".join(text.split())


FOOTER_NUMBERS = re.compile(r"\d+(\.\d+)?")


def footer_shape(line: str) -> str:
    """A footer line with its measurements as ``N``: timings vary, the layout must not."""
    return FOOTER_NUMBERS.sub("N", line)


# == 1. the live view ============================================================


def test_weather_reply_shows_reasoning_text_tool_call_and_footer(
    chat: Callable[..., Chat], tmp_path: Path
) -> None:
    """The offline model's weather reply, as the user is left with it: the
    reasoning dimmed under "thinking…", the answer, the tool call with its
    arguments, and a footer ending in ✓; nothing left over from the frames."""
    expected = DemoModel(tokens_per_second=0).invoke(WEATHER)
    cli = chat(WEATHER)
    assert cli.wait() == 0
    raw = cli.output
    assert HIDE_CURSOR in raw, "the live view ran"
    assert any(ch in raw for ch in SPINNER), "the footer's spinner was drawn while streaming"
    assert cursor_restored(raw)

    screen = render(raw, tmp_path)
    lines = screen.lines
    assert lines[0] == DEFAULT_MODEL_NOTICE
    assert lines[1] == "thinking…"
    gap = lines.index("", 2)
    assert squash(" ".join(lines[2:gap])) == squash(expected.reasoning)
    assert lines[gap + 1] == unmarked(expected.text), "the answer, its Markdown rendered"
    assert lines[gap + 2] == ""
    (call,) = expected.tool_calls
    assert lines[gap + 3] == f"⚙ {call['name']} {json.dumps(call['args'])}"
    assert footer_shape(lines[gap + 4]) == (
        "demo:demo-N · first token N s · N tok/s · N s · N in · N out (N reasoning) tokens  ✓"
    )
    assert len(lines) == gap + 5, f"stray lines after the footer:\n{screen.text}"
    usage = expected.usage_metadata
    assert usage is not None
    assert f"{usage['input_tokens']} in · {usage['output_tokens']} out" in lines[-1]
    assert not any(ch in screen.text for ch in SPINNER), "a spinner frame was left behind"

    # The styles that carry meaning.
    assert {1, 2} <= screen.cells("thinking…")[0].attrs
    for row in range(2, gap):
        assert all({2, 3} <= c.attrs for c in screen.rows[row] if c.char != " "), lines[row]
    answer = gap + 1
    assert all(2 not in c.attrs for c in screen.cells(lines[answer], answer)), "not dim"
    for strong in re.findall(r"\*\*(.+?)\*\*", expected.text):
        assert all(1 in c.attrs for c in screen.cells(strong, answer)), f"{strong!r} not bold"
    tool = gap + 3
    assert screen.cells("⚙", tool)[0].fg == "35"
    assert all(1 in c.attrs for c in screen.cells(call["name"], tool))
    assert all(c.fg == "36" for c in screen.cells(json.dumps(call["args"]), tool))
    footer = screen.cells(lines[-1].removesuffix("  ✓"))
    assert all(2 in c.attrs for c in footer)
    assert screen.cells("✓")[0].fg == "32"


# == 2. streaming ================================================================


def test_answer_streams_onto_the_screen_before_the_reply_ends(
    chat: Callable[..., Chat], server: LocalServer, tmp_path: Path
) -> None:
    """A recorded OpenAI reply served slowly (34 events, 40 ms apart): its first
    words are on the terminal while the server is still sending the rest."""
    server.route(ROUTE, Reply(chunks=EVENTS, delay=0.04))
    cli = chat(*openai_args(server), "hi", OPENAI_API_KEY="test-key")
    first_words = " ".join(ANSWER.split()[:4])
    cli.expect(first_words)
    served = server.requests[0]
    assert not served.completed
    assert served.chunks_sent < len(EVENTS)
    assert cli.wait() == 0
    assert server.wait_finished(0).completed

    screen = render(cli.output, tmp_path)
    assert squash(" ".join(screen.lines[:-1])) == squash(ANSWER)
    assert footer_shape(screen.lines[-1]) == (
        "openai:x · first token N s · N tok/s · N s · N in · N out tokens  ✓"
    )
    assert "14 in · 30 out tokens" in screen.lines[-1]  # the transcript's usage chunk


# == 3. Markdown =================================================================

MARKDOWN = """\
# Forecast for Paris

It will be **sunny** with a *light* breeze, says `get_weather`.

- morning: 14 °C
- afternoon: 21 °C

```python
print("bring sunglasses")
```

That is all.
"""


def test_markdown_is_rendered_not_shown_as_source(
    chat: Callable[..., Chat], server: LocalServer, tmp_path: Path
) -> None:
    """An answer in Markdown, streamed a few characters per delta (so blocks are split
    mid-stream), is rendered: heading, emphasis, list and code block without markup."""
    pieces = [MARKDOWN[i : i + 5] for i in range(0, len(MARKDOWN), 5)]
    server.route(ROUTE, Reply(chunks=openai_sse(pieces)))
    cli = chat(*openai_args(server), "weather?", OPENAI_API_KEY="test-key")
    assert cli.wait() == 0
    screen = render(cli.output, tmp_path)
    text = screen.text
    for markup in ("**", "```", "# Forecast", "`get_weather`", "*light*", "- morning"):
        assert markup not in text, f"{markup!r} shown as is:\n{text}"
    assert all(1 in c.attrs for c in screen.cells("Forecast for Paris")), "the heading is bold"
    assert all(1 in c.attrs for c in screen.cells("sunny"))
    assert all(3 in c.attrs for c in screen.cells("light"))
    assert re.search(r"^\s*• morning: 14 °C$", text, re.MULTILINE), text
    assert re.search(r"^\s*• afternoon: 21 °C$", text, re.MULTILINE), text
    code = screen.find('print("bring sunglasses")')
    assert screen.lines[code].strip() == 'print("bring sunglasses")'
    assert screen.find("That is all.") > code
    assert screen.lines[-1].endswith("✓")


def test_streamed_markdown_looks_like_the_whole_answer_rendered_at_once(
    chat: Callable[..., Chat], server: LocalServer, tmp_path: Path
) -> None:
    """Printing finished blocks as they complete is an optimisation: the picture
    should be the one rich draws for the whole answer."""
    from rich.console import Console
    from rich.markdown import Markdown

    pieces = [MARKDOWN[i : i + 5] for i in range(0, len(MARKDOWN), 5)]
    server.route(ROUTE, Reply(chunks=openai_sse(pieces)))
    cli = chat(*openai_args(server), "weather?", OPENAI_API_KEY="test-key")
    assert cli.wait() == 0
    streamed = render(cli.output, tmp_path).lines[:-1]  # without the footer
    whole = io.StringIO()
    Console(file=whole, width=COLS, force_terminal=True, color_system="256").print(
        Markdown(MARKDOWN)
    )
    assert streamed == render(whole.getvalue(), tmp_path).lines


# == 4. Ctrl-C ===================================================================


def test_ctrl_c_in_one_shot_keeps_the_text_and_exits_130(
    chat: Callable[..., Chat], server: LocalServer, tmp_path: Path
) -> None:
    """Ctrl-C while the reply is stalled: the partial answer stays on the screen, the
    footer says interrupted, the HTTP connection is dropped, and the exit code is 130."""
    server.route(ROUTE, stalled_reply())
    cli = chat(*openai_args(server), "hi", OPENAI_API_KEY="test-key")
    cli.expect(PARTIAL)
    cli.child.send("\x03")
    assert cli.wait() == 130
    assert server.wait_finished(0).client_disconnected
    assert cursor_restored(cli.output)

    screen = render(cli.output, tmp_path)
    assert screen.lines[screen.find(PARTIAL)].strip() == PARTIAL
    assert screen.lines[-1].endswith("■ interrupted"), screen.text
    assert "✓" not in screen.text
    assert not any(ch in screen.text for ch in SPINNER)
    assert "Traceback" not in cli.output


def test_ctrl_c_in_a_session_stops_the_reply_and_keeps_the_session(
    chat: Callable[..., Chat], server: LocalServer, tmp_path: Path
) -> None:
    """In a session, Ctrl-C stops the reply and gives the prompt back; the next
    question is answered (with the partial answer in the history it sends), and
    Ctrl-C at the prompt exits 130 with the cursor shown."""
    server.route(ROUTE, stalled_reply(), Reply(chunks=EVENTS))
    cli = chat(*openai_args(server), OPENAI_API_KEY="test-key")
    cli.prompt()
    cli.child.sendline("hi")
    cli.expect(PARTIAL)
    cli.child.send("\x03")
    cli.expect("■ interrupted")
    cli.prompt()
    assert server.wait_finished(0).client_disconnected
    assert cli.child.isalive()

    cli.child.sendline("and tomorrow?")
    cli.expect("✓")
    cli.prompt()
    second = server.wait_finished(1)
    assert second.completed
    messages = second.body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert PARTIAL in json.dumps(messages[1]["content"])
    assert cli.child.isalive()

    cli.child.send("\x03")
    assert cli.wait() == 130
    assert cursor_restored(cli.output)
    assert "Traceback" not in cli.output

    screen = render(cli.output, tmp_path)
    interrupted = screen.find("■ interrupted")
    assert screen.lines[interrupted - 1].strip() == PARTIAL, screen.text
    asked = screen.find("> and tomorrow?")
    assert asked > interrupted
    done = screen.find("✓")
    assert squash(" ".join(screen.lines[asked + 1 : done])) == squash(ANSWER)
    assert screen.lines[-1] == ">", "the last prompt, left when Ctrl-C quit"
    assert not any(ch in screen.text for ch in SPINNER)


def test_two_quick_ctrl_c_quit_and_restore_the_terminal(
    chat: Callable[..., Chat], server: LocalServer
) -> None:
    """Ctrl-C twice in quick succession during a session's reply quits with 130, and
    the cursor that the live view hid is shown again."""
    server.route(ROUTE, stalled_reply())
    cli = chat(*openai_args(server), OPENAI_API_KEY="test-key")
    cli.prompt()
    cli.child.sendline("hi")
    cli.expect(PARTIAL)
    # Two writes: one write of two ^C can be a single SIGINT (pending signals merge).
    cli.child.send("\x03")
    time.sleep(0.05)
    cli.child.send("\x03")
    assert cli.wait() == 130
    assert server.wait_finished(0).client_disconnected
    assert cursor_restored(cli.output)
    assert "Traceback" not in cli.output


@pytest.mark.parametrize("gap", [0.01, 0.02, 0.04, 0.08])
def test_two_quick_ctrl_c_still_leave_the_answer_on_screen(
    chat: Callable[..., Chat], server: LocalServer, tmp_path: Path, gap: float
) -> None:
    """The race a user hits by pressing Ctrl-C twice: the second signal lands while
    the first is still closing the stream, or drawing the end. Wherever it lands,
    the command exits 130, the partial answer stays on screen under an interrupted
    footer, and the connection is dropped. (Two signals sent closer than the
    process is scheduled merge into one in the kernel, hence gaps of 10 ms and up.)"""
    server.route(ROUTE, stalled_reply())
    cli = chat(*openai_args(server), OPENAI_API_KEY="test-key")
    cli.prompt()
    cli.child.sendline("hi")
    cli.expect(PARTIAL)
    pid = cli.child.pid
    assert pid is not None
    os.kill(pid, signal.SIGINT)
    time.sleep(gap)
    os.kill(pid, signal.SIGINT)
    assert cli.wait() == 130
    assert server.wait_finished(0).client_disconnected
    assert cursor_restored(cli.output)
    screen = render(cli.output, tmp_path)
    assert screen.lines[screen.find(PARTIAL)].strip() == PARTIAL
    assert any(line.endswith("■ interrupted") for line in screen.lines), screen.text
    assert not any(ch in screen.text for ch in SPINNER)
    assert "Traceback" not in cli.output


def test_ctrl_c_while_waiting_for_the_first_token(
    chat: Callable[..., Chat], server: LocalServer, tmp_path: Path
) -> None:
    """A server that sends nothing: Ctrl-C during "waiting" ends cleanly too, with no
    text, an interrupted footer, a dropped connection and exit code 130."""
    server.route(ROUTE, Reply(chunks=EVENTS, stall_after=0))
    cli = chat(*openai_args(server), "hi", OPENAI_API_KEY="test-key")
    cli.expect("waiting")
    cli.child.send("\x03")
    assert cli.wait() == 130
    assert server.wait_finished(0).client_disconnected
    screen = render(cli.output, tmp_path)
    assert footer_shape(screen.lines[-1]) == "openai:x · N s  ■ interrupted"
    assert len(screen.lines) == 1, screen.text


# == 5. --plain and --json on a terminal =========================================


def test_plain_on_a_terminal_writes_no_escape_sequences(chat: Callable[..., Chat]) -> None:
    cli = chat("--plain", "What's 2+2?")
    assert cli.wait() == 0
    assert "\x1b" not in cli.output
    answer = DemoModel(tokens_per_second=0).invoke("What's 2+2?").text
    assert cli.output.replace("\r\n", "\n") == f"{DEFAULT_MODEL_NOTICE}\n{answer}\n"


def test_json_on_a_terminal_writes_only_the_message_json(
    chat: Callable[..., Chat], tmp_path: Path
) -> None:
    err = tmp_path / "stderr.txt"
    cli = chat("--json", WEATHER, stderr=err)
    assert cli.wait() == 0
    assert "\x1b" not in cli.output
    expected = DemoModel(tokens_per_second=0).invoke(WEATHER).to_dict()
    got = json.loads(cli.output)
    got.pop("id", None)
    expected.pop("id", None)
    assert got == expected
    assert err.read_text(encoding="utf-8") == DEFAULT_MODEL_NOTICE + "\n"


# == 6. errors on a terminal =====================================================

UNAUTHORIZED = json.dumps(
    {
        "error": {
            "message": "Incorrect API key provided",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
        }
    }
).encode()


def test_401_shows_one_line_and_a_clean_failed_footer(
    chat: Callable[..., Chat], server: LocalServer, tmp_path: Path
) -> None:
    server.route(ROUTE, Reply(401, [UNAUTHORIZED]))
    cli = chat(*openai_args(server), "hi", OPENAI_API_KEY="wrong")
    assert cli.wait() == 3
    assert "Traceback" not in cli.output
    assert cursor_restored(cli.output)
    screen = render(cli.output, tmp_path)
    assert screen.lines == [
        screen.lines[0],
        "streamblocks chat: openai returned HTTP 401: Incorrect API key provided "
        "(check OPENAI_API_KEY)",
    ], screen.text
    assert footer_shape(screen.lines[0]) == "openai:x · N s  ■ failed"
    assert screen.cells("■ failed")[0].fg == "31"


def test_connection_lost_mid_reply_keeps_the_text_and_says_failed(
    chat: Callable[..., Chat], server: LocalServer, tmp_path: Path
) -> None:
    """The server drops the connection mid-answer: what arrived stays on screen, the
    footer says failed, one error line follows, exit code 1."""
    server.route(ROUTE, Reply(chunks=EVENTS, disconnect_after=STALL_AFTER))
    cli = chat(*openai_args(server), "hi", OPENAI_API_KEY="test-key")
    assert cli.wait() == 1
    assert "Traceback" not in cli.output
    assert cursor_restored(cli.output)
    screen = render(cli.output, tmp_path)
    footer = screen.find("■ failed")
    assert screen.lines[footer - 1].strip() == PARTIAL
    errors = [line for line in screen.lines if line.startswith("streamblocks chat:")]
    assert len(errors) == 1
    assert "connection was lost" in squash(" ".join(screen.lines[footer + 1 :]))
    assert not any(ch in screen.text for ch in SPINNER)


def test_signal_from_outside_is_handled_like_ctrl_c(
    chat: Callable[..., Chat], server: LocalServer
) -> None:
    """SIGINT sent with kill (not typed) takes the same path: exit 130, connection
    dropped, cursor shown."""
    server.route(ROUTE, stalled_reply())
    cli = chat(*openai_args(server), "hi", OPENAI_API_KEY="test-key")
    cli.expect(PARTIAL)
    assert cli.child.pid is not None
    os.kill(cli.child.pid, signal.SIGINT)
    assert cli.wait() == 130
    assert server.wait_finished(0).client_disconnected
    assert cursor_restored(cli.output)
    assert "■ interrupted" in cli.output
