"""Shared benchmark machinery: loading the implementations, timing, and the results table.

Two implementations are compared, through the same calls:

* ``streamblocks`` - this package;
* ``reference`` - ``langchain_core.language_models.chat_model_stream`` from
  langchain-core 1.8.1, which has the same public API.

Both are imported lazily by module name. The reference is never installed in the test
environment, and streamblocks may be mid-rewrite, so a missing or broken import only
drops that implementation from the run; it never stops the suite.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping

# A protocol event as fed to ``dispatch``. Events are plain dicts on the wire; the
# benchmarks build them as such and never rely on a TypedDict from either package.
Event = dict[str, Any]

REFERENCE_MODULE = "langchain_core.language_models.chat_model_stream"
REFERENCE_VERSION = "langchain-core 1.8.1"
STREAMBLOCKS_MODULE = "streamblocks"

# Figures are the best of several runs of a scenario. Runs repeat until MIN_RUNS runs
# have taken MIN_TIME_S together (so sub-millisecond runs repeat enough to shake off
# scheduler noise, up to MAX_RUNS), but stop once they have used BUDGET_S (so slow,
# quadratic runs happen once or twice). "Best" rather than median: on an otherwise
# idle machine, noise only ever adds time.
MIN_RUNS = 5
MIN_TIME_S = 0.2
MAX_RUNS = 200
BUDGET_S = 2.0


# --------------------------------------------------------------------------------------
# The slice of the public API the benchmarks use. Both implementations are cast to these
# structural types at load time; nothing checks the cast, and nothing needs to: a
# mismatch shows up as an exception in the scenario, reported in the table.
# --------------------------------------------------------------------------------------


class SyncText(Protocol):
    """``ChatModelStream.text``: iterable of deltas, ``str()`` gives the full text."""

    def __iter__(self) -> Iterator[str]: ...


class SyncStream(Protocol):
    """The synchronous stream: ``dispatch`` in, ``.text`` / ``.output`` out."""

    def dispatch(self, event: Mapping[str, Any]) -> None: ...

    @property
    def text(self) -> SyncText: ...

    @property
    def output(self) -> object: ...


class AsyncText(Protocol):
    """``AsyncChatModelStream.text``: async iterable of deltas, awaitable for the text."""

    def __aiter__(self) -> AsyncIterator[str]: ...

    def __await__(self) -> Generator[Any, None, str]: ...


class AsyncStream(Protocol):
    """The asynchronous stream: ``dispatch`` in; ``.text``, ``.output``, ``await s`` out."""

    def dispatch(self, event: Mapping[str, Any]) -> None: ...

    @property
    def text(self) -> AsyncText: ...

    def __await__(self) -> Generator[Any, None, object]: ...


@dataclass(frozen=True)
class Impl:
    """One implementation under test: its names and its two stream constructors."""

    key: str  # "streamblocks" or "reference": how a child process is told which to load
    name: str
    sync_stream: Callable[[], SyncStream]
    async_stream: Callable[[], AsyncStream]


@dataclass(frozen=True)
class Impls:
    """What ``load_impls`` found; either side may be missing."""

    ours: Impl | None
    ref: Impl | None
    messages: list[str]


def _load(key: str, name: str, module_name: str) -> tuple[Impl | None, str]:
    try:
        module = importlib.import_module(module_name)
        sync_cls = module.ChatModelStream
        async_cls = module.AsyncChatModelStream
    except Exception as exc:  # ImportError, or a half-written package raising anything
        return None, f"{name}: not importable ({type(exc).__name__}: {exc})"
    impl = Impl(
        key=key,
        name=name,
        sync_stream=cast("Callable[[], SyncStream]", sync_cls),
        async_stream=cast("Callable[[], AsyncStream]", async_cls),
    )
    return impl, f"{name}: {getattr(module, '__file__', module_name)}"


def load_impls() -> Impls:
    """Import streamblocks and the reference; report what was found."""
    ours, ours_msg = _load("streamblocks", "streamblocks", STREAMBLOCKS_MODULE)
    ref, ref_msg = _load("reference", f"reference ({REFERENCE_VERSION})", REFERENCE_MODULE)
    messages = [ours_msg, ref_msg]
    if ours is None:
        messages.append("streamblocks is skipped; reference figures only.")
    if ref is None:
        messages.append("The reference is not importable; streamblocks figures only.")
    return Impls(ours=ours, ref=ref, messages=messages)


def machine_info() -> list[str]:
    """Lines describing the interpreter and the machine, printed above the table."""
    impl = platform.python_implementation()
    build = " ".join(platform.python_build())
    return [
        f"python: {impl} {platform.python_version()} ({build})",
        f"platform: {platform.platform()}",
        f"cpu: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} logical cpus"
        + (f" ({len(os.sched_getaffinity(0))} usable)" if hasattr(os, "sched_getaffinity") else ""),
    ]


# --------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Elapsed seconds of each run, in order."""

    times: list[float]

    @property
    def best_s(self) -> float:
        """The figure reported: the fastest run."""
        return min(self.times)

    @property
    def first_s(self) -> float:
        """The first run, made before the process had served any other of this size."""
        return self.times[0]

    @property
    def runs(self) -> int:
        """How many runs were made."""
        return len(self.times)


def best_of(
    trial: Callable[[], float],
    *,
    max_runs: int = MAX_RUNS,
) -> Timing:
    """Run ``trial`` (which returns its own elapsed seconds) as the policy above says.

    Trials time themselves so each one can keep its setup (building streams, starting an
    event loop) and its checks out of the timed region. A full collection runs before
    every trial so garbage from the previous one is not collected on this one's clock.
    """
    times: list[float] = []
    spent = 0.0
    while len(times) < max_runs:
        if times and (spent >= BUDGET_S or (len(times) >= MIN_RUNS and spent >= MIN_TIME_S)):
            break
        gc.collect()
        times.append(trial())
        spent += times[-1]
    return Timing(times)


# Where ``python -m benchmarks._child`` resolves: the directory holding this package.
_PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)


def run_in_child(impl: Impl, workload: str, size: int, max_runs: int = MAX_RUNS) -> Timing:
    """Time a workload of ``benchmarks._child`` in a fresh interpreter.

    Used where the reference copies ever-growing strings: how long that takes depends
    heavily on the allocator's history (glibc raises its mmap threshold whenever a large
    block is freed, after which big strings stop costing page faults), so a figure
    measured after other scenarios in the same process would depend on their order.
    A fresh interpreter gives every implementation the same starting state.
    """
    command = [
        sys.executable,
        "-m",
        "benchmarks._child",
        impl.key,
        workload,
        str(size),
        str(max_runs),
    ]
    done = subprocess.run(command, cwd=_PACKAGE_PARENT, capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        msg = f"child process failed: {tail[0]}"
        raise RuntimeError(msg)
    result = json.loads(lines[-1])
    if result.get("wrong"):
        raise WrongOutputError(result["wrong"])
    if result.get("error"):
        raise RuntimeError(result["error"])
    return Timing([float(t) for t in result["times"]])


def timer() -> float:
    """The clock every scenario uses."""
    return time.perf_counter()


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """How a row's figures read: events/s, seconds, or bytes."""

    name: str
    higher_is_better: bool

    def fmt(self, value: float) -> str:
        """Human-readable figure with this unit."""
        if self.name == "ev/s":
            return f"{_si(value)} ev/s"
        if self.name == "s":
            return f"{value:.3g} s" if value < 100 else f"{value:,.0f} s"
        if self.name == "B":
            return f"{value / 1e6:.2f} MB"
        return f"{value:.3g} {self.name}"


RATE = Unit("ev/s", higher_is_better=True)
SECONDS = Unit("s", higher_is_better=False)
BYTES = Unit("B", higher_is_better=False)


def _si(value: float) -> str:
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


@dataclass
class Figure:
    """One implementation's figure for one row.

    ``value`` is None when the implementation was not run or failed; ``text`` then says
    why. An estimate has a value and a ``text`` label saying it was not measured.
    ``note`` is a longer explanation printed under the table.
    """

    value: float | None = None
    runs: int = 0
    estimated: bool = False
    text: str = ""
    note: str | None = None

    @classmethod
    def measured(cls, value: float, runs: int) -> Figure:
        """A value measured; the best of ``runs`` runs."""
        return cls(value=value, runs=runs)

    @classmethod
    def estimate(cls, value: float, label: str, note: str) -> Figure:
        """A value extrapolated from smaller runs instead of measured."""
        return cls(value=value, estimated=True, text=label, note=note)

    @classmethod
    def missing(cls, why: str, note: str | None = None) -> Figure:
        """No figure; ``why`` is shown in its place."""
        return cls(text=why, note=note)

    def show(self, unit: Unit) -> str:
        """Table cell text."""
        if self.value is None:
            return self.text
        shown = unit.fmt(self.value)
        if self.estimated:
            return f"{self.text} ~{shown}"
        return shown


class WrongOutputError(AssertionError):
    """A stream produced the wrong result; its timing would be meaningless."""


def expect_equal(what: str, got: object, want: object) -> None:
    """Raise ``WrongOutputError`` unless ``got == want``; messages stay short."""
    if got != want:
        got_text, want_text = repr(got), repr(want)
        if len(got_text) > 80:
            got_text = got_text[:77] + "..."
        if len(want_text) > 80:
            want_text = want_text[:77] + "..."
        msg = f"{what}: got {got_text}, want {want_text}"
        raise WrongOutputError(msg)


def figure_for(impl: Impl | None, compute: Callable[[Impl], Figure]) -> Figure:
    """Run ``compute`` for ``impl``, turning a failure into a table cell, not a crash.

    Benchmarks report; they never stop the suite. A wrong result or an exception
    becomes a short cell plus a note with the detail.
    """
    if impl is None:
        return Figure.missing("not importable")
    try:
        return compute(impl)
    except WrongOutputError as exc:
        return Figure.missing("wrong output", note=f"{impl.name}: {exc}")
    except Exception as exc:
        return Figure.missing(
            f"error: {type(exc).__name__}", note=f"{impl.name}: {type(exc).__name__}: {exc}"
        )


@dataclass(frozen=True)
class Target:
    """A row's goal, with a check over (streamblocks value, reference value).

    The check returns None when it cannot be judged (a figure is missing).
    """

    text: str
    check: Callable[[float, float | None], bool | None]


def at_least_times_ref(factor: float, unit: Unit) -> Target:
    """Streamblocks must beat the reference by ``factor`` (throughput) or better."""
    word = "the reference" if unit.higher_is_better else "of the reference"

    def check(ours: float, ref: float | None) -> bool | None:
        if ref is None:
            return None
        return ours >= factor * ref if unit.higher_is_better else ours <= factor * ref

    sign = ">=" if unit.higher_is_better else "<="
    return Target(f"{sign} {factor:g}x {word}", check)


def absolute(text: str, predicate: Callable[[float], bool]) -> Target:
    """A goal on the streamblocks figure alone."""
    return Target(text, lambda ours, _ref: predicate(ours))


NO_TARGET = Target("-", lambda _ours, _ref: None)


@dataclass
class Row:
    """One line of the results table."""

    scenario: str
    unit: Unit
    ours: Figure
    ref: Figure
    target: Target = NO_TARGET
    notes: list[str] = field(default_factory=list)

    def all_notes(self) -> list[str]:
        """The row's own notes, then any its figures carry."""
        return self.notes + [f.note for f in (self.ours, self.ref) if f.note]

    def ratio(self) -> str:
        """streamblocks / reference, in the row's own unit."""
        if self.ours.value is None or self.ref.value is None or self.ref.value == 0:
            return "-"
        ratio = self.ours.value / self.ref.value
        # Tiny ratios (seconds against a quadratic reference) read better inverted.
        text = f"1/{1 / ratio:,.0f}x" if ratio < 0.01 else f"{ratio:.3g}x"
        return f"~{text}" if self.ref.estimated else text

    def met(self) -> str:
        """``yes`` / ``NO`` / ``-``; marked when judged against an estimate."""
        if self.ours.value is None:
            return "-"
        verdict = self.target.check(self.ours.value, self.ref.value)
        if verdict is None:
            return "-"
        word = "yes" if verdict else "NO"
        return f"{word} (vs est.)" if self.ref.estimated and self.ref.value is not None else word


HEADERS = ("scenario", "streamblocks", "reference", "sb/ref", "target", "met", "runs")


def format_table(rows: list[Row]) -> str:
    """Fixed-width table, one row per figure; notes are numbered below it."""
    cells = [HEADERS]
    notes: list[str] = []
    for row in rows:
        name = row.scenario
        for note in row.all_notes():
            notes.append(note)
            name += f" [{len(notes)}]"
        cells.append(
            (
                name,
                row.ours.show(row.unit),
                row.ref.show(row.unit),
                row.ratio(),
                row.target.text,
                row.met(),
                f"{row.ours.runs or '-'}/{row.ref.runs or '-'}",
            )
        )
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADERS))]
    lines = []
    for index, line in enumerate(cells):
        lines.append(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    lines.extend(f"[{number}] {note}" for number, note in enumerate(notes, start=1))
    return "\n".join(lines)


def progress(message: str) -> None:
    """A line of progress on stderr, so stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Options:
    """Command-line switches every scenario sees."""

    # Run the reference on the inputs where it is quadratic (minutes to hours)
    # instead of extrapolating from a smaller run.
    full: bool = False


@dataclass(frozen=True)
class Scenario:
    """A named group of rows; ``--only NAME`` selects one."""

    name: str
    summary: str
    run: Callable[[Impls, Options], list[Row]]


def quadratic_estimate(small: tuple[int, float], large: tuple[int, float], n: int) -> float:
    """Seconds for ``n`` events, from ``t(N) = a*N + b*N**2`` fitted to two runs.

    ``small`` should be short enough to be all per-event cost and ``large`` long enough
    to be dominated by the quadratic copying. The fit assumes copying speed stays
    constant, but once the text outgrows the CPU caches it falls, so for the reference
    the estimate is optimistic (it predicts less time than a real run takes).
    """
    (n1, t1), (n2, t2) = small, large
    b = (t2 / n2 - t1 / n1) / (n2 - n1)
    if b <= 0:  # no quadratic term visible: extrapolate linearly from the larger run
        return t2 / n2 * n
    a = t1 / n1 - b * n1
    return a * n + b * n * n
