"""Synchronous ``ChatModelStream``: ``dispatch`` every event, then read ``.output``.

The timed region is exactly the work a provider adapter and its caller do: one
``dispatch`` per event, then ``.output`` to get the assembled message. Building the
events and constructing the stream happen before the clock starts; checking the result
happens after it stops.

Every figure here is measured in a fresh interpreter (``benchmarks._child``): these
workloads build long strings, and the reference's cost for that depends on what the
process allocated before (see ``run_in_child``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from benchmarks._events import (
    TEXT_FRAMING_EVENTS,
    TOKENS,
    MixedStream,
    TextStream,
    hundred_char_pieces,
    mixed_stream,
    text_stream,
)
from benchmarks._harness import (
    RATE,
    SECONDS,
    Figure,
    Impl,
    Impls,
    Options,
    Row,
    Scenario,
    Target,
    absolute,
    at_least_times_ref,
    expect_equal,
    figure_for,
    progress,
    quadratic_estimate,
    run_in_child,
    timer,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from benchmarks._harness import Event, SyncStream, Timing


def _dispatch_all(impl: Impl, events: list[Event]) -> tuple[float, SyncStream, object]:
    """Feed ``events`` into a fresh stream and read ``.output``; time only that."""
    stream = impl.sync_stream()
    dispatch = stream.dispatch  # hoisted so the loop measures the stream, not the lookup
    start = timer()
    for event in events:
        dispatch(event)
    message = stream.output
    return timer() - start, stream, message


def _text_trial(impl: Impl, case: TextStream) -> Callable[[], float]:
    def trial() -> float:
        elapsed, stream, message = _dispatch_all(impl, case.events)
        if message is None:
            raise AssertionError("`.output` returned None")
        expect_equal("text", str(stream.text), case.text)
        return elapsed

    return trial


def _tool_args(message: object) -> list[Any]:
    """``args`` of each entry of ``message.tool_calls`` (the AIMessage field)."""
    calls = getattr(message, "tool_calls", None)
    if not isinstance(calls, list):
        return [f"no list at .tool_calls: {calls!r}"]
    return [call.get("args") if isinstance(call, dict) else call for call in calls]


def _mixed_trial(impl: Impl, case: MixedStream) -> Callable[[], float]:
    def trial() -> float:
        elapsed, stream, message = _dispatch_all(impl, case.events)
        expect_equal("text", str(stream.text), case.text)
        expect_equal("reasoning", str(getattr(stream, "reasoning", None)), case.reasoning)
        expect_equal("tool call args", _tool_args(message), list(case.tool_args))
        return elapsed

    return trial


def child_workload(name: str, size: int, impl: Impl) -> Callable[[], float]:
    """The trial ``benchmarks._child`` runs for workload ``name`` of ``size``.

    ``text``: ``size`` word-piece deltas in one text block. ``large``: ``size`` deltas of
    100 characters. ``mixed``: a ``size``-event reasoning + text + tool-call message.
    """
    if name == "text":
        return _text_trial(impl, text_stream(size))
    if name == "large":
        return _text_trial(impl, text_stream(size, hundred_char_pieces()))
    if name == "mixed":
        return _mixed_trial(impl, mixed_stream(size))
    msg = f"unknown workload {name!r}"
    raise ValueError(msg)


# --------------------------------------------------------------------------------------
# sync_text: N single-token deltas, N = 1k, 100k, 1M
# --------------------------------------------------------------------------------------

SYNC_SIZES = (1_000, 100_000, 1_000_000)
# Per-event throughput at 1M deltas may be at most this much below the 1k figure.
FLATNESS = 1.3


def _text_rate(size: int, timings: dict[int, Timing] | None = None) -> Callable[[Impl], Figure]:
    """Events/s for ``size`` text deltas; the timing is also kept in ``timings[size]``."""

    def compute(impl: Impl) -> Figure:
        timing = run_in_child(impl, "text", size)
        if timings is not None:
            timings[size] = timing
        return Figure.measured((size + TEXT_FRAMING_EVENTS) / timing.best_s, timing.runs)

    return compute


def run_sync_text(impls: Impls, options: Options) -> list[Row]:
    """Throughput of dispatch + ``.output`` as the text grows from 1k to 1M deltas.

    A linear implementation keeps the same events/s at every size; the reference
    re-copies the accumulated text on every delta, so its rate falls with length.
    """
    ours: dict[int, Figure] = {}
    ref: dict[int, Figure] = {}
    ref_timings: dict[int, Timing] = {}
    big = SYNC_SIZES[-1]

    for size in SYNC_SIZES:
        progress(f"  sync_text: {size:,} deltas")
        ours[size] = figure_for(impls.ours, _text_rate(size))
        if size != big or options.full:
            ref[size] = figure_for(impls.ref, _text_rate(size, ref_timings))
    if big not in ref:
        ref[big] = _extrapolated_ref(impls, ref_timings)

    rows = [
        Row(
            "sync: 1k deltas, dispatch + .output",
            RATE,
            ours[1_000],
            ref[1_000],
            at_least_times_ref(3, RATE),
        ),
        Row("sync: 100k deltas, dispatch + .output", RATE, ours[100_000], ref[100_000]),
        Row(
            "sync: 1M deltas, dispatch + .output",
            RATE,
            ours[big],
            ref[big],
            _flat_target(ours[1_000]),
        ),
    ]
    rows[0].notes.append(
        f"Text deltas are word pieces of {_mean_len(TOKENS):.1f} characters on average; "
        f"events/s counts every dispatched event, including the {TEXT_FRAMING_EVENTS} "
        "framing events. Sync figures are measured in a fresh interpreter per figure."
    )
    return rows


# Why an extrapolated reference figure is only a guide.
ROUGH = (
    "A rough guide only: how fast the reference copies its growing strings changes with "
    "their size (CPU caches, and glibc serving big blocks from fresh mmap pages), so the "
    "real figure can be several times off; --full measures it."
)


def _mean_len(pieces: tuple[str, ...]) -> float:
    return sum(map(len, pieces)) / len(pieces)


def _flat_target(ours_1k: Figure) -> Target:
    """streamblocks' own 1M rate must be within FLATNESS of its 1k rate."""

    def check(ours: float, _ref: float | None) -> bool | None:
        if ours_1k.value is None:
            return None
        return ours * FLATNESS >= ours_1k.value

    return Target(f"flat: >= own 1k rate / {FLATNESS}", check)


def _extrapolated_ref(impls: Impls, timings: dict[int, Timing]) -> Figure:
    if impls.ref is None:
        return Figure.missing("not importable")
    small, mid, big = SYNC_SIZES
    if small not in timings or mid not in timings:
        return Figure.missing("not run (quadratic)")
    # A real 1M run is one long run from a cold start, so the quadratic term comes from
    # the 100k child's first run, not its best (later runs reuse memory the first one
    # freed, which a single long run cannot).
    seconds = quadratic_estimate(
        (small + TEXT_FRAMING_EVENTS, timings[small].best_s),
        (mid + TEXT_FRAMING_EVENTS, timings[mid].first_s),
        big + TEXT_FRAMING_EVENTS,
    )
    return Figure.estimate(
        (big + TEXT_FRAMING_EVENTS) / seconds,
        "not run (quadratic), est.",
        note=(
            f"reference not run at {big:,} deltas (quadratic; pass --full to run it). "
            f"Estimated by fitting t(N) = a*N + b*N^2 to its {small:,}-delta best time and "
            f"its first {mid:,}-delta run ({timings[mid].first_s:.2f} s). {ROUGH}"
        ),
    )


# --------------------------------------------------------------------------------------
# large_text: 80,000 deltas of 100 characters (8 MB)
# --------------------------------------------------------------------------------------

LARGE_DELTAS = 80_000
# Default-run sizes for the reference's extrapolation: the small run gives the per-event
# cost, the probe (1.6 MB of text, several seconds) the quadratic term.
LARGE_REF_SMALL = 1_000
LARGE_REF_PROBE = 16_000
LARGE_TARGET_S = 1.0


def _large_seconds(impl: Impl) -> Figure:
    timing = run_in_child(impl, "large", LARGE_DELTAS)
    return Figure.measured(timing.best_s, timing.runs)


def _large_estimate(impl: Impl) -> Figure:
    small = run_in_child(impl, "large", LARGE_REF_SMALL)
    # One run only: the full-size figure would be a single run from a cold start.
    probe = run_in_child(impl, "large", LARGE_REF_PROBE, max_runs=1)
    seconds = quadratic_estimate(
        (LARGE_REF_SMALL + TEXT_FRAMING_EVENTS, small.best_s),
        (LARGE_REF_PROBE + TEXT_FRAMING_EVENTS, probe.first_s),
        LARGE_DELTAS + TEXT_FRAMING_EVENTS,
    )
    return Figure.estimate(
        seconds,
        "not run (quadratic), est.",
        note=(
            f"reference not run at {LARGE_DELTAS:,} x 100 characters (minutes; pass --full). "
            f"Estimated by fitting t(N) = a*N + b*N^2 to a {LARGE_REF_SMALL:,}-delta run and "
            f"one {LARGE_REF_PROBE:,}-delta run ({probe.first_s:.2f} s for "
            f"{LARGE_REF_PROBE * 100 / 1e6:.1f} MB of text). {ROUGH}"
        ),
    )


def run_large_text(impls: Impls, options: Options) -> list[Row]:
    """Seconds to dispatch 80,000 deltas of 100 characters (8 MB of text) and read ``.output``.

    Large documents (code, reports) stream long texts in big chunks; any per-delta copy
    of the accumulated text makes this quadratic in the document size.
    """
    progress(f"  large_text: {LARGE_DELTAS:,} x 100 characters")
    ours = figure_for(impls.ours, _large_seconds)
    if options.full:
        progress("  large_text: reference at full size (minutes)")
        ref = figure_for(impls.ref, _large_seconds)
    else:
        progress(f"  large_text: reference at {LARGE_REF_PROBE:,} x 100 characters")
        ref = figure_for(impls.ref, _large_estimate)
    return [
        Row(
            "sync: 80k x 100-char deltas (8 MB)",
            SECONDS,
            ours,
            ref,
            absolute(f"< {LARGE_TARGET_S:g} s", lambda s: s < LARGE_TARGET_S),
        )
    ]


# --------------------------------------------------------------------------------------
# mixed: reasoning + text + two parallel tool calls
# --------------------------------------------------------------------------------------

MIXED_EVENTS = 100_000


def _mixed_rate(impl: Impl) -> Figure:
    timing = run_in_child(impl, "mixed", MIXED_EVENTS)
    return Figure.measured(MIXED_EVENTS / timing.best_s, timing.runs)


def run_mixed(impls: Impls, options: Options) -> list[Row]:
    """Throughput of a message using every projection: reasoning, text, two tool calls.

    The two tool calls are started together and their argument deltas interleave, as
    providers stream parallel calls.
    """
    del options  # nothing here is slow enough to need --full
    progress(f"  mixed: {MIXED_EVENTS:,} events")
    return [
        Row(
            "sync: mixed reasoning/text/2 tool calls, 100k",
            RATE,
            figure_for(impls.ours, _mixed_rate),
            figure_for(impls.ref, _mixed_rate),
            at_least_times_ref(3, RATE),
        )
    ]


SCENARIOS = [
    Scenario("sync_text", "sync dispatch of 1k/100k/1M text deltas, then .output", run_sync_text),
    Scenario("large_text", "sync dispatch of 80k deltas of 100 characters (8 MB)", run_large_text),
    Scenario("mixed", "sync reasoning + text + two parallel tool calls, 100k events", run_mixed),
]
