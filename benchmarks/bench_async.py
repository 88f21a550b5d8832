"""Asynchronous ``AsyncChatModelStream``: producer tasks feeding consumer tasks.

Producers ``dispatch`` one event at a time and yield to the event loop after each
(``await asyncio.sleep(0)``), as a task reading a network stream would, so consumers
run interleaved with production rather than after it. Each trial gets a fresh event loop
(``asyncio.run``); streams are built before the clock starts and results are checked
after it stops.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from benchmarks._events import TextStream, text_stream
from benchmarks._harness import (
    RATE,
    Figure,
    Impl,
    Impls,
    Options,
    Row,
    Scenario,
    at_least_times_ref,
    best_of,
    expect_equal,
    figure_for,
    progress,
    timer,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from benchmarks._harness import AsyncStream, AsyncText, Event


# A consumer that is never woken would hang the suite; a trial still running after this
# long is reported as a TimeoutError instead (the slowest default trial takes about 2 s).
TRIAL_TIMEOUT_S = 120.0


def _run(trial: Coroutine[Any, Any, float]) -> float:
    """Run one async trial on a fresh event loop, with a time limit."""
    return asyncio.run(asyncio.wait_for(trial, TRIAL_TIMEOUT_S))


async def _produce(stream: AsyncStream, events: list[Event]) -> None:
    dispatch = stream.dispatch
    for event in events:
        dispatch(event)
        await asyncio.sleep(0)


async def _read_text(text: AsyncText) -> str:
    return "".join([delta async for delta in text])


# --------------------------------------------------------------------------------------
# async_consumers: one stream, 1 / 4 / 100 readers of .text
# --------------------------------------------------------------------------------------

CONSUMER_EVENTS = 10_000
CONSUMER_COUNTS = (1, 4, 100)


async def _fan_out(impl: Impl, case: TextStream, consumers: int) -> float:
    stream = impl.async_stream()
    start = timer()
    # Readers start first, so every one of them is waiting when the first delta lands.
    readers = [asyncio.create_task(_read_text(stream.text)) for _ in range(consumers)]
    producer = asyncio.create_task(_produce(stream, case.events))
    texts = await asyncio.gather(*readers)
    await producer
    elapsed = timer() - start
    for text in texts:
        expect_equal("text read by a consumer", text, case.text)
    await stream  # the stream must also resolve to its message
    return elapsed


def _fan_out_rate(case: TextStream, consumers: int) -> Callable[[Impl], Figure]:
    def compute(impl: Impl) -> Figure:
        timing = best_of(lambda: _run(_fan_out(impl, case, consumers)))
        return Figure.measured(len(case.events) / timing.best_s, timing.runs)

    return compute


def run_async_consumers(impls: Impls, options: Options) -> list[Row]:
    """Events/s through one async stream read by 1, 4 and 100 concurrent ``async for`` loops.

    Measures the wake-up path: every dispatch must reach every waiting reader, and each
    reader must find its next delta, without work that grows with the reader count
    more than it has to.
    """
    del options
    case = text_stream(CONSUMER_EVENTS - 4)  # 4 framing events: 10,000 in all
    rows = []
    for consumers in CONSUMER_COUNTS:
        progress(f"  async_consumers: {consumers} consumer(s)")
        compute = _fan_out_rate(case, consumers)
        rows.append(
            Row(
                f"async: 10k events, {consumers} .text consumer{'s' if consumers > 1 else ''}",
                RATE,
                figure_for(impls.ours, compute),
                figure_for(impls.ref, compute),
                at_least_times_ref(1.5, RATE),
            )
        )
    rows[0].notes.append(
        "async rows: the producer task yields (await asyncio.sleep(0)) after every event; "
        "time runs from creating the tasks until every consumer has finished."
    )
    return rows


# --------------------------------------------------------------------------------------
# concurrent_streams: 1,000 streams, each with its own producer and consumer
# --------------------------------------------------------------------------------------

CONCURRENT_STREAMS = 1_000
CONCURRENT_DELTAS = 200


async def _many_streams(impl: Impl, case: TextStream, count: int) -> float:
    streams = [impl.async_stream() for _ in range(count)]
    start = timer()
    readers = [asyncio.create_task(_read_text(stream.text)) for stream in streams]
    producers = [asyncio.create_task(_produce(stream, case.events)) for stream in streams]
    texts = await asyncio.gather(*readers)
    await asyncio.gather(*producers)
    elapsed = timer() - start
    for text in texts:
        expect_equal("text read by a consumer", text, case.text)
    return elapsed


def run_concurrent_streams(impls: Impls, options: Options) -> list[Row]:
    """Overall events/s with 1,000 streams of 200 deltas live at once on one loop.

    Each stream has its own producer task and its own consumer task (``async for`` over
    ``.text``), the shape of a server handling many chats at once. Per-stream setup
    and the cost of many idle waiters dominate here, not long texts.
    """
    del options
    progress(f"  concurrent_streams: {CONCURRENT_STREAMS:,} x {CONCURRENT_DELTAS} deltas")
    case = text_stream(CONCURRENT_DELTAS)
    total_events = CONCURRENT_STREAMS * len(case.events)

    def compute(impl: Impl) -> Figure:
        timing = best_of(lambda: _run(_many_streams(impl, case, CONCURRENT_STREAMS)))
        return Figure.measured(total_events / timing.best_s, timing.runs)

    return [
        Row(
            "async: 1,000 streams x 200 deltas, overall",
            RATE,
            figure_for(impls.ours, compute),
            figure_for(impls.ref, compute),
            at_least_times_ref(1.5, RATE),
        )
    ]


SCENARIOS = [
    Scenario(
        "async_consumers",
        "one async stream, 10k events, read by 1/4/100 concurrent consumers",
        run_async_consumers,
    ),
    Scenario(
        "concurrent_streams",
        "1,000 async streams x 200 deltas, a producer and a consumer task each",
        run_concurrent_streams,
    ),
]
