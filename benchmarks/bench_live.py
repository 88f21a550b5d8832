"""The live terminal view: CPU per delta of drawing a streamed reply, against a naive view.

The view under test is ``streamblocks.cli._live.LiveView``, driven as ``streamblocks
chat`` drives it: ``view.event(event)`` for every protocol event, then
``view.end(None)``. It draws into an offscreen ``rich`` console (``force_terminal``,
100 x 40, truecolor) whose file is a sink that counts what it receives and keeps the
end of it, so everything a terminal would get is rendered and written, but nothing is
displayed.

The stream is generated, seeded: message-start, a reasoning block (5% of the deltas),
a text block of realistic Markdown (paragraphs, **bold**, bullet and numbered lists,
headings, a ~20-line fenced code block and a table now and then) cut into word pieces
of about 4 characters, a tool call whose JSON arguments arrive in ~4-character
fragments (1%), and message-finish with usage. A fake clock advances 1 ms per event (a
1,000 tokens/s model, faster than any real one), so the 12 fps throttle redraws about
every 83 deltas whatever the machine's speed.

The reference is the live view many LLM command-line tools write:
``rich.live.Live(Markdown(text))`` updated, at the same throttle and fake clock, with
the whole text received so far (deltas are appended to a list and joined only at a
redraw, so the re-render is the only naive part). Its cost per redraw grows with the
text, so it is quadratic; by default it runs at 2k, 5k and 10k deltas and its 30k and
100k figures are extrapolated (``--full`` runs them).

The figure is ``time.process_time`` per delta over the whole stream (``with`` the view,
every event, ``end``), best of the runs. After each run, the text the console received
must contain the stream's last word, so nothing was dropped.
"""

from __future__ import annotations

import io
import json
import random
import re
import time
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from benchmarks._events import message_finish, message_start, reasoning_delta, text_delta
from benchmarks._harness import (
    BUDGET_S,
    MAX_RUNS,
    MIN_RUNS,
    MIN_TIME_S,
    Figure,
    Impls,
    Options,
    Row,
    Scenario,
    Target,
    Timing,
    Unit,
    WrongOutputError,
    best_of,
    progress,
    quadratic_estimate,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import Console

    from benchmarks._harness import Event

CPU_PER_DELTA = Unit("us CPU/delta", higher_is_better=False)
RATIO = Unit("x", higher_is_better=False)
FPS = 12.0
STEP_S = 0.001  # fake time per event: a 1,000 tokens/s model
WIDTH, HEIGHT = 100, 40
SEED = 5
FLAT_FACTOR = 1.5  # per-delta time at 100k within this factor of 10k
OURS_SIZES = (2_000, 5_000, 10_000, 30_000, 100_000)
REF_SIZES = (2_000, 5_000, 10_000)  # measured by default; the rest extrapolated
PATHOLOGICAL_SIZES = (10_000, 100_000)
LAST_WORD = "zanzibarquokka"  # ends every stream; must reach the console
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_PIECE = re.compile(r"[ \t]*[^\s]{1,5}|\n|[ \t]+")  # word pieces: at most 5 non-blank characters


# --------------------------------------------------------------------------------------
# The stream
# --------------------------------------------------------------------------------------

_VOCABULARY = (
    "the model streams tokens to a terminal while the user reads the answer as it "
    "grows and every block that is finished is printed once to the scrollback so the "
    "live region only holds what is still changing which keeps each redraw small "
    "however long the reply becomes latency throughput buffer renderer markdown "
    "paragraph table column value result request response provider protocol event "
    "delta block section commit footer spinner usage tokens second frame budget"
)
_WORDS = tuple(_VOCABULARY.split())
_IDENTS = ("value", "items", "total", "result", "count", "buffer", "stream", "index")


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 18))]
    if rng.random() < 0.3:
        at = rng.randrange(len(words) - 1)
        words[at] = f"**{words[at]} {words[at + 1]}**"
        del words[at + 1]
    if rng.random() < 0.15:
        at = rng.randrange(len(words))
        words[at] = f"`{rng.choice(_IDENTS)}()`"
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice(".....?!:")


def _paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(_sentence(rng) for _ in range(sentences))


def _code(rng: random.Random) -> str:
    lines = ["```python", f"def {rng.choice(_IDENTS)}_{rng.randint(1, 99)}(data):"]
    depth = 1
    for _ in range(rng.randint(16, 22)):
        a, b = rng.choice(_IDENTS), rng.choice(_IDENTS)
        kind = rng.random()
        if kind < 0.2 and depth < 3:
            lines.append("    " * depth + f"for {a} in {b}:")
            depth += 1
        elif kind < 0.3 and depth > 1:
            depth -= 1
            lines.append("    " * depth + f"{a} = {b} + {rng.randint(0, 9)}")
        else:
            lines.append("    " * depth + f"{a} = {b}.get({rng.randint(0, 99)!r}) or {a}")
    lines.append("    return " + rng.choice(_IDENTS))
    lines.append("```")
    return "\n".join(lines)


def _table(rng: random.Random) -> str:
    rows = ["| name | value | notes |", "|---|---:|---|"]
    for _ in range(rng.randint(3, 6)):
        notes = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(2, 6)))
        rows.append(f"| {rng.choice(_IDENTS)} | {rng.randint(0, 10_000)} | {notes} |")
    return "\n".join(rows)


def _markdown_block(rng: random.Random) -> str:
    """One Markdown block: mostly paragraphs; lists, headings, code and tables at times."""
    roll = rng.random()
    if roll < 0.55:
        return _paragraph(rng, rng.randint(2, 5))
    if roll < 0.65:
        return "\n".join(f"- {_sentence(rng)}" for _ in range(rng.randint(3, 6)))
    if roll < 0.72:
        return "\n".join(f"{i}. {_sentence(rng)}" for i in range(1, rng.randint(3, 6)))
    if roll < 0.80:
        return "## " + " ".join(rng.choice(_WORDS) for _ in range(rng.randint(2, 5))).title()
    if roll < 0.92:
        return _code(rng)
    return _table(rng)


def _pieces(text: str) -> list[str]:
    """``text`` cut into word pieces: at most 5 non-blank characters, leading blanks kept."""
    pieces = _PIECE.findall(text)
    if "".join(pieces) != text:
        msg = "piece pattern lost characters"
        raise AssertionError(msg)
    return pieces


def _document(rng: random.Random, deltas: int, block: Callable[[random.Random], str]) -> list[str]:
    """About ``deltas`` pieces of blocks separated by blank lines, ending on ``LAST_WORD``."""
    ending = _pieces(f"\n\nThat is the whole answer, {LAST_WORD}.")
    out: list[str] = []
    while len(out) < deltas - len(ending):
        if out:
            out.append("\n\n")
        out += _pieces(block(rng))
    return out + ending


def _args_fragments(rng: random.Random, fragments: int) -> tuple[dict[str, Any], list[str]]:
    words = [rng.choice(_WORDS) for _ in range(fragments)]
    args: dict[str, Any] = {"query": " ".join(words), "limit": 10, "lang": "en"}
    raw = json.dumps(args)
    size = max(1, len(raw) // fragments)
    return args, [raw[i : i + size] for i in range(0, len(raw), size)]


@dataclass(frozen=True)
class LiveStream:
    """The events of one generated reply."""

    events: list[Event]
    deltas: int
    text_chars: int


def live_stream(deltas: int, kind: str = "markdown", seed: int = SEED) -> LiveStream:
    """A reply of about ``deltas`` content deltas.

    ``kind`` is ``markdown`` (reasoning, Markdown text, a tool call), or a pathological
    text with no blank line anywhere: ``paragraph`` (one paragraph with no line break at
    all) or ``code`` (one fenced code block).
    """
    rng = random.Random(seed)
    if kind == "paragraph":
        text: list[str] = []
        while len(text) < deltas - 4:
            text += _pieces(" " + _sentence(rng))
        text[0] = text[0].lstrip()
        text += _pieces(f" The end, {LAST_WORD}.")
        return _single_text(text)
    if kind == "code":
        text = ["```python\n"]
        while len(text) < deltas - 4:
            a, b = rng.choice(_IDENTS), rng.choice(_IDENTS)
            text += _pieces(f"{a} = {b}.get({rng.randint(0, 99)!r}) or {a}\n")
        text += _pieces(f"# {LAST_WORD}\n```")
        return _single_text(text)
    n_reasoning = deltas // 20
    n_tool = deltas // 100
    reasoning = _document(rng, n_reasoning, lambda r: _paragraph(r, r.randint(2, 4)))
    args, fragments = _args_fragments(rng, n_tool)
    text = _document(rng, deltas - len(reasoning) - len(fragments), _markdown_block)
    events: list[Event] = [
        message_start(),
        {"event": "content-block-start", "index": 0, "content": {"type": "reasoning"}},
        *(reasoning_delta(0, piece) for piece in reasoning),
        {
            "event": "content-block-finish",
            "index": 0,
            "content": {"type": "reasoning", "reasoning": "".join(reasoning)},
        },
        {"event": "content-block-start", "index": 1, "content": {"type": "text", "text": ""}},
        *(text_delta(1, piece) for piece in text),
        {
            "event": "content-block-finish",
            "index": 1,
            "content": {"type": "text", "text": "".join(text)},
        },
        {
            "event": "content-block-start",
            "index": 2,
            "content": {
                "type": "tool_call_chunk",
                "id": "call_1",
                "name": "search",
                "args": "",
                "index": 0,
            },
        },
        *(
            {
                "event": "content-block-delta",
                "index": 2,
                "delta": {"type": "tool-call-delta", "args": fragment},
            }
            for fragment in fragments
        ),
        {
            "event": "content-block-finish",
            "index": 2,
            "content": {"type": "tool_call", "id": "call_1", "name": "search", "args": args},
        },
    ]
    total = len(reasoning) + len(text) + len(fragments)
    events.append(message_finish(total))
    chars = sum(len(p) for p in (*reasoning, *text, *fragments))
    return LiveStream(events=events, deltas=total, text_chars=chars)


def _single_text(pieces: list[str]) -> LiveStream:
    text = "".join(pieces)
    events: list[Event] = [
        message_start(),
        {"event": "content-block-start", "index": 0, "content": {"type": "text", "text": ""}},
        *(text_delta(0, piece) for piece in pieces),
        {"event": "content-block-finish", "index": 0, "content": {"type": "text", "text": text}},
        message_finish(len(pieces)),
    ]
    return LiveStream(events=events, deltas=len(pieces), text_chars=len(text))


# --------------------------------------------------------------------------------------
# Running a view
# --------------------------------------------------------------------------------------


class _FakeClock:
    """Time that moves only when told: ``STEP_S`` per event."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Sink(io.StringIO):
    """A terminal that shows nothing: counts the characters written, keeps the last ones.

    A ``StringIO`` only for its type; nothing is stored in it."""

    KEEP = 1 << 16

    def __init__(self) -> None:
        super().__init__()
        self.chars = 0
        self._recent: list[str] = []
        self._recent_chars = 0

    def write(self, s: str) -> int:
        self.chars += len(s)
        self._recent.append(s)
        self._recent_chars += len(s)
        while self._recent_chars - len(self._recent[0]) >= self.KEEP:
            self._recent_chars -= len(self._recent.pop(0))
        return len(s)

    def tail(self) -> str:
        """The last characters written, without escape sequences."""
        return _ANSI.sub("", "".join(self._recent))


def _console(sink: _Sink) -> Console:
    from rich.console import Console

    return Console(
        file=sink,
        force_terminal=True,
        width=WIDTH,
        height=HEIGHT,
        color_system="truecolor",
    )


@dataclass
class RunInfo:
    """What one run produced besides its time."""

    frames: int = 0
    chars_out: int = 0
    commits: int = 0  # blocks the transcript handed over (bookkeeping runs only)


def _check(sink: _Sink) -> None:
    if LAST_WORD not in sink.tail():
        msg = f"the console never received the stream's last word {LAST_WORD!r}"
        raise WrongOutputError(msg)


def _run_ours(stream: LiveStream, fps: float, info: RunInfo) -> float:
    from streamblocks.cli._live import LiveView

    sink = _Sink()
    console = _console(sink)
    clock = _FakeClock()
    view = LiveView(console, label="bench-model", fps=fps, clock=clock)
    events = stream.events
    start = time.process_time()
    with view:
        for event in events:
            clock.now += STEP_S
            view.event(event)
        view.end(None)
    elapsed = time.process_time() - start
    _check(sink)
    info.frames, info.chars_out = view.frames, sink.chars
    return elapsed


def _run_transcript(stream: LiveStream, info: RunInfo) -> float:
    """The view's bookkeeping alone: its ``Transcript.apply`` on every event, no drawing."""
    from streamblocks.cli._live import LiveView

    clock = _FakeClock()
    # Never entered: only its transcript is used, with the sizes the view chose for it.
    transcript = LiveView(_console(_Sink()), label="bench-model", clock=clock).transcript
    events = stream.events
    commits = 0
    last = ""
    start = time.process_time()
    for event in events:
        clock.now += STEP_S
        done = transcript.apply(event)
        if done:
            commits += len(done)
            last = next((block for _, block in reversed(done) if block), last)
    done = transcript.close()
    elapsed = time.process_time() - start
    commits += len(done)
    last = next((block for _, block in reversed(done) if block), last)
    if LAST_WORD not in last:
        msg = f"the transcript never committed the stream's last word {LAST_WORD!r}"
        raise WrongOutputError(msg)
    info.commits = commits
    return elapsed


def _run_reference(stream: LiveStream, info: RunInfo) -> float:
    """The naive view: re-render the whole text so far as Markdown at every redraw."""
    from rich.live import Live
    from rich.markdown import Markdown

    sink = _Sink()
    console = _console(sink)
    clock = _FakeClock()
    interval = 1.0 / FPS
    events = stream.events
    parts: list[str] = []
    frames = 0
    next_frame = 0.0
    start = time.process_time()
    with Live(
        Markdown(""),
        console=console,
        auto_refresh=False,
        redirect_stdout=False,
        redirect_stderr=False,
    ) as live:
        for event in events:
            clock.now += STEP_S
            if event["event"] == "content-block-delta":
                delta = event["delta"]
                if delta["type"] == "text-delta":
                    parts.append(delta["text"])
            if clock() >= next_frame:
                next_frame = clock() + interval
                frames += 1
                live.update(Markdown("".join(parts)), refresh=True)
        frames += 1
        live.update(Markdown("".join(parts)), refresh=True)
    elapsed = time.process_time() - start
    _check(sink)
    info.frames, info.chars_out = frames, sink.chars
    return elapsed


def _best(run: Callable[[], float], min_runs: int) -> Timing:
    """The harness's best-of policy, but never fewer than ``min_runs`` runs."""
    times: list[float] = []
    while True:
        timing = best_of(run, max_runs=1)
        times += timing.times
        spent = sum(times)
        if len(times) >= min_runs and (
            spent >= BUDGET_S or (len(times) >= MIN_RUNS and spent >= MIN_TIME_S)
        ):
            return Timing(times)
        if len(times) >= MAX_RUNS:
            return Timing(times)


# --------------------------------------------------------------------------------------
# The scenario
# --------------------------------------------------------------------------------------


def _k(n: int) -> str:
    return f"{n // 1000}k"


@dataclass
class _Measured:
    """One implementation's figure at one size, with what its last run produced."""

    figure: Figure
    info: RunInfo
    total_s: float = 0.0


def _measure(
    label: str, stream: LiveStream, run: Callable[[RunInfo], float], min_runs: int
) -> _Measured:
    info = RunInfo()
    try:
        timing = _best(lambda: run(info), min_runs)
    except WrongOutputError as exc:
        return _Measured(Figure.missing("wrong output", note=f"{label}: {exc}"), info)
    except Exception as exc:
        why = f"{label}: {type(exc).__name__}: {exc}"
        return _Measured(Figure.missing(f"error: {type(exc).__name__}", note=why), info)
    per = 1e6 / stream.deltas
    return _Measured(Figure.measured(timing.best_s * per, timing.runs), info, timing.best_s)


def _flat(base: float, size: str) -> Target:
    """Within ``FLAT_FACTOR`` of ``base``: its figure at ``size``, or 1 for a ratio row."""

    def check(ours: float, _ref: float | None) -> bool:
        return ours <= FLAT_FACTOR * base

    text = f"<= {FLAT_FACTOR:g}x" if base == 1.0 else f"<= {FLAT_FACTOR:g}x its {size} figure"
    return Target(text, check)


NO_REF = Figure.missing("-")


def run_live(impls: Impls, options: Options) -> list[Row]:
    """CPU per delta of the live view into an offscreen console, against a naive view."""
    del impls  # the view is streamblocks' own; the reference is plain rich
    try:
        import rich.live  # noqa: F401

        from streamblocks.cli import _live  # noqa: F401
    except ImportError as exc:
        missing = Figure.missing(f"not importable: {exc.name}")
        return [Row("live: 100k deltas, 12 fps", CPU_PER_DELTA, missing, missing)]

    rows: list[Row] = []
    streams = {n: live_stream(n) for n in OURS_SIZES}

    # streamblocks at every size, then the reference where it is affordable.
    ours: dict[int, _Measured] = {}
    for n, stream in streams.items():
        progress(f"  live: streamblocks, {stream.deltas:,} deltas at {FPS:g} fps")
        ours[n] = _measure("streamblocks", stream, partial(_run_ours, stream, FPS), min_runs=3)
    ref: dict[int, _Measured] = {}
    ref_sizes = OURS_SIZES if options.full else REF_SIZES
    for n in ref_sizes:
        stream = streams[n]
        progress(f"  live: naive rich.live + Markdown(whole text), {stream.deltas:,} deltas")
        ref[n] = _measure("naive view", stream, partial(_run_reference, stream), min_runs=1)

    small, large = REF_SIZES[0], REF_SIZES[-1]
    by_size: dict[int, Row] = {}
    for n, stream in streams.items():
        ours_fig = ours[n].figure
        if n in ref:
            ref_fig = ref[n].figure
        elif ref[small].figure.value is not None and ref[large].figure.value is not None:
            total = quadratic_estimate(
                (streams[small].deltas, ref[small].total_s),
                (streams[large].deltas, ref[large].total_s),
                stream.deltas,
            )
            ref_fig = Figure.estimate(
                total * 1e6 / stream.deltas,
                "not run (quadratic), est.",
                f"naive view at {_k(n)}: extrapolated from its {_k(small)} and {_k(large)} "
                "runs with t(N) = a*N + b*N^2; run with --full to measure it",
            )
        else:
            ref_fig = Figure.missing("not run")
        by_size[n] = Row(f"live: {_k(n)} deltas, {FPS:g} fps", CPU_PER_DELTA, ours_fig, ref_fig)
    rows += by_size.values()

    base = ours[10_000].figure.value
    top = ours[100_000]
    if base is not None and top.figure.value is not None:
        deltas = streams[100_000].deltas
        by_size[100_000].notes.append(
            f"streamblocks: {top.info.frames:,} frames for {deltas:,} deltas "
            f"(one per {deltas / max(1, top.info.frames):.0f}), "
            f"{top.info.chars_out / deltas:.0f} characters written per delta"
        )
        ref_ratio = Figure.missing("-")
        ref_top, ref_base = by_size[100_000].ref.value, by_size[10_000].ref.value
        if ref_top is not None and ref_base is not None:
            shown = f"{ref_top / ref_base:.3g} x"
            ref_ratio = Figure.missing(
                f"est. ~{shown}" if by_size[100_000].ref.estimated else shown
            )
        ratio = Row(
            "live: per delta, 100k / 10k",
            RATIO,
            Figure.measured(top.figure.value / base, top.figure.runs),
            ref_ratio,
            target=_flat(1.0, "10k"),
        )
        thirty = ours[30_000].figure.value
        if thirty is not None:
            ratio.notes.append(f"streamblocks per delta, 30k / 10k: {thirty / base:.3g}x")
        rows.append(ratio)
    if large in ref and ref[large].figure.value is not None:
        info = ref[large].info
        by_size[large].notes.append(
            f"naive view at {_k(large)}: {info.frames:,} frames, "
            f"{info.chars_out / streams[large].deltas:.0f} characters written per delta "
            "(rich crops the live region to the console height, so output stays bounded; "
            "the CPU goes to parsing and rendering the whole text each frame)"
        )

    # Where the time goes at 100k: bookkeeping, rendering every block once, redraws.
    stream = streams[100_000]
    progress("  live: streamblocks, 100k deltas, Transcript.apply alone")
    bookkeeping = _measure("streamblocks", stream, partial(_run_transcript, stream), min_runs=3)
    rows.append(
        Row("live: 100k, bookkeeping only (Transcript)", CPU_PER_DELTA, bookkeeping.figure, NO_REF)
    )
    progress("  live: streamblocks, 100k deltas, no redraws (fps ~0)")
    once = _measure("streamblocks", stream, partial(_run_ours, stream, 1e-9), min_runs=3)
    row = Row("live: 100k, no redraws (each block drawn once)", CPU_PER_DELTA, once.figure, NO_REF)
    if once.figure.value is not None and top.figure.value is not None:
        redraw = top.figure.value - once.figure.value
        per_frame_ms = redraw * stream.deltas / max(1, top.info.frames) / 1e3
        row.notes.append(
            f"the {FPS:g} fps redraws of the live region add {redraw:.3g} us per delta "
            f"to that, {per_frame_ms:.2f} ms per frame"
        )
    rows.append(row)

    # Pathological text: no blank line anywhere, so only forced splits bound the tail.
    for kind, what in (("paragraph", "one paragraph, no newline"), ("code", "one code block")):
        measured: dict[int, _Measured] = {}
        for n in PATHOLOGICAL_SIZES:
            patho = live_stream(n, kind)
            progress(f"  live: streamblocks, {what}, {patho.deltas:,} deltas")
            measured[n] = _measure(
                "streamblocks", patho, partial(_run_ours, patho, FPS), min_runs=2
            )
            rows.append(Row(f"live: {what}, {_k(n)}", CPU_PER_DELTA, measured[n].figure, NO_REF))
        low = measured[PATHOLOGICAL_SIZES[0]].figure.value
        if low is not None:
            rows[-1].target = _flat(low, _k(PATHOLOGICAL_SIZES[0]))
        high = measured[PATHOLOGICAL_SIZES[-1]]
        progress(f"  live: streamblocks, {what}, {patho.deltas:,} deltas, no redraws")
        drawn_once = _measure("streamblocks", patho, partial(_run_ours, patho, 1e-9), min_runs=2)
        if high.figure.value is not None and drawn_once.figure.value is not None:
            rows[-1].notes.append(
                f"{what}: {drawn_once.figure.value:.3g} us per delta with no redraws "
                f"(each block drawn once); {high.info.frames:,} frames, "
                f"{high.info.chars_out / patho.deltas:.0f} characters written per delta"
            )
    return rows


SCENARIOS = [
    Scenario(
        "live",
        "the chat view into an offscreen console, CPU per delta, vs re-rendering the whole text",
        run_live,
    )
]
