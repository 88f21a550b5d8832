"""The ``ChatModel`` driver's own cost: ``astream_events`` against the stream fed directly.

Both sides replay the same 10k-delta event list (10,004 events with the framing) from
the same async generator: the ``_astream`` of a ``streamblocks.testing.ScriptedModel``
with no delay, which awaits ``asyncio.sleep(0)`` before each event and yields a deep
copy of it. The per-event yield is deliberate: a real source reads a network stream
and gives the loop a turn per chunk, so the consumer runs interleaved with production
(one task step of the producer and one of the consumer per event), as in
``bench_async``. Without it the producer would dispatch everything in one task step
and the figure would describe a workload no model produces. Both sides iterate the
same generator, so only the code between it and ``dispatch`` differs:

* **baseline**: an ``AsyncChatModelStream`` and a bare producer task running
  ``async for event in model._astream([]): stream.dispatch(event)``, the least a
  hand-written producer can do;
* **driver**: ``await model.astream_events("prompt")``, whose lazy start creates the
  producer task that iterates the same generator and dispatches each event, recording
  stats, checking for the end and, where configured, firing callbacks and feeding the
  timeout watchdog; it also closes the generator and ends the run once.

Each side has one consumer, an ``async for`` over ``.text`` in the timing coroutine,
then ``await stream`` for the message. The clock runs from before the stream is created
(``AsyncChatModelStream()`` or ``astream_events``: building it is part of the driver's
cost) until ``await stream`` returns; the text and the message are checked after it
stops. Variants add one no-op ``CallbackHandler`` or all three timeouts (60 s each, so
none fires).

Overhead = driver time / baseline time - 1, also given as nanoseconds per event, which
does not depend on what the source itself costs (``ScriptedModel``'s deep copies are
about 40% of the baseline's time, so the percentage understates the driver's share
against a leaner source). The percentages are ratios of runs taken seconds apart, so
the variants run in interleaved rounds (each round runs every variant once, in a
rotating order, each on a fresh event loop), and each figure is its variant's best
round: drift in the machine's speed then affects all of them alike.
"""

from __future__ import annotations

import asyncio
import gc
from typing import TYPE_CHECKING, Any

from benchmarks._events import text_stream
from benchmarks._harness import (
    NO_TARGET,
    RATE,
    Figure,
    Impls,
    Options,
    Row,
    Scenario,
    Target,
    WrongOutputError,
    expect_equal,
    progress,
    timer,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from benchmarks._events import TextStream
    from streamblocks.models import ChatModel

DRIVER_DELTAS = 10_000
TARGET_OVERHEAD = 0.25

# Rounds of every variant: at least MIN_ROUNDS, then until ROUND_BUDGET_S of timed runs
# (about 6 s of wall time with the fresh loops and collections), at most MAX_ROUNDS.
MIN_ROUNDS = 5
MAX_ROUNDS = 40
ROUND_BUDGET_S = 5.0

# A consumer that is never woken would hang the suite (a run takes about 70 ms).
TRIAL_TIMEOUT_S = 60.0

TIMEOUT_S = 60.0


def _scripted_model(events: list[dict[str, Any]]) -> ChatModel:
    """``streamblocks.testing.ScriptedModel`` replaying ``events`` with no delay.

    Imported here, not at module level, so that a broken streamblocks drops this
    scenario instead of the suite.
    """
    from streamblocks.testing import ScriptedModel

    return ScriptedModel(events)


async def _baseline(model: ChatModel, case: TextStream) -> float:
    from streamblocks import AsyncChatModelStream

    start = timer()
    stream = AsyncChatModelStream()

    async def produce() -> None:
        dispatch = stream.dispatch
        async for event in model._astream([]):
            dispatch(event)

    producer = asyncio.create_task(produce())
    text = "".join([delta async for delta in stream.text])
    await producer
    message = await stream
    elapsed = timer() - start
    expect_equal("text read by the consumer", text, case.text)
    expect_equal("message text", message.text, case.text)
    return elapsed


async def _driven(model: ChatModel, case: TextStream, **kwargs: Any) -> float:
    start = timer()
    stream = await model.astream_events("prompt", **kwargs)
    text = "".join([delta async for delta in stream.text])
    message = await stream
    elapsed = timer() - start
    expect_equal("text read by the consumer", text, case.text)
    expect_equal("message text", message.text, case.text)
    return elapsed


def _run(trial: Coroutine[Any, Any, float]) -> float:
    """One trial on a fresh event loop, with a time limit."""
    return asyncio.run(asyncio.wait_for(trial, TRIAL_TIMEOUT_S))


def _variants(
    model: ChatModel, case: TextStream
) -> dict[str, Callable[[], Coroutine[Any, Any, float]]]:
    from streamblocks.models import CallbackHandler

    return {
        "baseline": lambda: _baseline(model, case),
        "driver": lambda: _driven(model, case),
        "callback": lambda: _driven(model, case, callbacks=[CallbackHandler()]),
        "timeouts": lambda: _driven(
            model,
            case,
            first_event_timeout=TIMEOUT_S,
            idle_timeout=TIMEOUT_S,
            total_timeout=TIMEOUT_S,
        ),
    }


def _measure(case: TextStream) -> dict[str, list[float]]:
    """Seconds of every run of every variant, in interleaved rounds."""
    model = _scripted_model(case.events)
    variants = _variants(model, case)
    names = list(variants)
    times: dict[str, list[float]] = {name: [] for name in names}
    spent = 0.0
    rounds = 0
    while rounds < MAX_ROUNDS and (rounds < MIN_ROUNDS or spent < ROUND_BUDGET_S):
        shift = rounds % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()
            elapsed = _run(variants[name]())
            times[name].append(elapsed)
            spent += elapsed
        rounds += 1
    return times


LABELS = {
    "baseline": "driver baseline: 10k deltas, stream fed directly",
    "driver": "driver: 10k deltas via astream_events",
    "callback": "driver: 10k deltas, + 1 no-op callback",
    "timeouts": "driver: 10k deltas, + 3 timeouts (60 s)",
}


def _overhead_target(baseline_rate: float) -> Target:
    def check(ours: float, _ref: float | None) -> bool:
        return baseline_rate / ours - 1 <= TARGET_OVERHEAD

    return Target(f"overhead <= {TARGET_OVERHEAD:.0%}", check)


def run_driver_overhead(impls: Impls, options: Options) -> list[Row]:
    """Events/s through ``astream_events`` (and with a callback, and with timeouts)
    against an ``AsyncChatModelStream`` fed by a bare producer task; overhead in the label.
    """
    del options
    progress(f"  driver_overhead: {DRIVER_DELTAS:,} deltas, baseline and 3 driver variants")
    case = text_stream(DRIVER_DELTAS)
    events = len(case.events)
    no_ref = Figure.missing("-")
    if impls.ours is None:
        return [
            Row(label, RATE, Figure.missing("not importable"), no_ref) for label in LABELS.values()
        ]
    try:
        times = _measure(case)
    except Exception as exc:
        why = (
            "wrong output" if isinstance(exc, WrongOutputError) else f"error: {type(exc).__name__}"
        )
        note = f"{impls.ours.name}: {type(exc).__name__}: {exc}"
        rows = [Row(label, RATE, Figure.missing(why), no_ref) for label in LABELS.values()]
        rows[0].notes.append(note)
        return rows

    baseline_rate = events / min(times["baseline"])
    rows = []
    for name, label in LABELS.items():
        rate = events / min(times[name])
        figure = Figure.measured(rate, len(times[name]))
        if name == "baseline":
            rows.append(Row(label, RATE, figure, no_ref, NO_TARGET))
        else:
            overhead = baseline_rate / rate - 1
            per_event_ns = (1 / rate - 1 / baseline_rate) * 1e9
            rows.append(
                Row(
                    f"{label}, overhead {overhead:+.1%} ({per_event_ns:+.0f} ns/event)",
                    RATE,
                    figure,
                    no_ref,
                    _overhead_target(baseline_rate),
                )
            )
    rows[0].notes.append(
        "driver rows: one ScriptedModel replays the same 10k deltas (awaiting asyncio.sleep(0) "
        "before each event); baseline = AsyncChatModelStream() fed by a bare producer task "
        "iterating the model's _astream, driver = await model.astream_events(...); one .text "
        "consumer, then await stream. Overhead = driver time / baseline time - 1, best of "
        f"interleaved rounds; timeouts = first-event, idle and total, {TIMEOUT_S:g} s each."
    )
    return rows


SCENARIOS = [
    Scenario(
        "driver_overhead",
        "ChatModel.astream_events (+ callback, + timeouts) vs the stream fed directly, 10k deltas",
        run_driver_overhead,
    ),
]
