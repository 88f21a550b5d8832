"""Memory held and touched by one ``ChatModelStream`` of 100k text deltas.

Measured with ``tracemalloc``, which counts only the Python allocations made while it is
tracing: the event list is built before tracing starts, so it is not counted, but
anything the stream allocates (buffers, copies, the assembled message) is.
"""

from __future__ import annotations

import gc
import tracemalloc
from typing import TYPE_CHECKING

from benchmarks._events import text_stream
from benchmarks._harness import (
    BYTES,
    Figure,
    Impl,
    Impls,
    Options,
    Row,
    Scenario,
    at_least_times_ref,
    expect_equal,
    figure_for,
    progress,
)

if TYPE_CHECKING:
    from benchmarks._events import TextStream

MEMORY_DELTAS = 100_000


def _traced_run(impl: Impl, case: TextStream) -> tuple[int, int]:
    """(peak, retained) bytes allocated while dispatching ``case`` and reading ``.output``.

    Retained is what is still allocated with the stream and its message alive.
    """
    # One untraced run first: the first message built may populate import-time and
    # validation caches (pydantic builds its validators lazily), which are not the
    # stream's memory.
    warm = impl.sync_stream()
    for event in text_stream(10).events:
        warm.dispatch(event)
    if warm.output is None:
        raise AssertionError("`.output` returned None")
    del warm
    gc.collect()
    tracemalloc.start()
    try:
        stream = impl.sync_stream()
        for event in case.events:
            stream.dispatch(event)
        message = stream.output
        retained, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    if message is None:
        raise AssertionError("`.output` returned None")
    expect_equal("text", str(stream.text), case.text)
    return peak, retained


def run_memory(impls: Impls, options: Options) -> list[Row]:
    """Peak traced memory of one 100k-delta stream up to and including ``.output``.

    Measured once per implementation: allocation counts do not vary run to run the way
    times do. Retained memory is reported alongside, without a target.
    """
    del options
    progress(f"  memory: {MEMORY_DELTAS:,} deltas under tracemalloc")
    case = text_stream(MEMORY_DELTAS)
    results: dict[str, tuple[int, int]] = {}

    def measure(impl: Impl) -> Figure:
        results[impl.name] = _traced_run(impl, case)
        return Figure.measured(results[impl.name][0], 1)

    ours_peak = figure_for(impls.ours, measure)
    ref_peak = figure_for(impls.ref, measure)

    def retained(impl: Impl | None, peak: Figure) -> Figure:
        if impl is None or impl.name not in results:
            return Figure.missing(peak.text)
        return Figure.measured(results[impl.name][1], 1)

    return [
        Row(
            "memory: peak, 100k deltas through .output",
            BYTES,
            ours_peak,
            ref_peak,
            at_least_times_ref(0.6, BYTES),
        ),
        Row(
            "memory: retained after .output (info)",
            BYTES,
            retained(impls.ours, ours_peak),
            retained(impls.ref, ref_peak),
            notes=[
                "memory rows: tracemalloc counts Python allocations only; the events "
                "themselves are allocated before tracing starts and are not counted."
            ],
        ),
    ]


SCENARIOS = [
    Scenario(
        "memory",
        "tracemalloc peak and retained memory of one 100k-delta stream after .output",
        run_memory,
    )
]
