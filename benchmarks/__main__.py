"""Run the streamblocks benchmarks against the reference and print one table.

    python -m benchmarks                 # every scenario; a few minutes at most
    python -m benchmarks --only mixed    # one scenario (repeat --only for more)
    python -m benchmarks --full          # also run the reference where it is quadratic
    python -m benchmarks --list          # scenario names

Targets are informational: a missed target is reported, never an exit status.
"""

from __future__ import annotations

import argparse
import sys

from benchmarks import (
    bench_async,
    bench_driver,
    bench_http,
    bench_live,
    bench_memory,
    bench_sync,
)
from benchmarks._harness import (
    BUDGET_S,
    MAX_RUNS,
    MIN_RUNS,
    MIN_TIME_S,
    Options,
    Row,
    Scenario,
    format_table,
    load_impls,
    machine_info,
    progress,
    timer,
)

SCENARIOS: list[Scenario] = [
    *bench_sync.SCENARIOS,
    *bench_async.SCENARIOS,
    *bench_driver.SCENARIOS,
    *bench_memory.SCENARIOS,
    *bench_http.SCENARIOS,
    *bench_live.SCENARIOS,
]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    names = [scenario.name for scenario in SCENARIOS]
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="streamblocks vs the reference (langchain-core 1.8.1) stream objects.",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=names,
        metavar="NAME",
        help=f"run only this scenario (repeatable); one of: {', '.join(names)}",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="also run the reference at 1M deltas and on 8 MB of text "
        "(quadratic: minutes to hours) instead of extrapolating",
    )
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point; always returns 0 (targets are informational)."""
    args = _parse(argv)
    if args.list:
        for scenario in SCENARIOS:
            print(f"{scenario.name:20} {scenario.summary}")
        return 0
    selected = [s for s in SCENARIOS if args.only is None or s.name in args.only]
    options = Options(full=args.full)

    print("streamblocks benchmarks")
    for line in machine_info():
        print(f"  {line}")
    impls = load_impls()
    for line in impls.messages:
        print(f"  {line}")
    print(
        f"  figures: best of N runs; runs repeat until {MIN_RUNS} have taken "
        f"{MIN_TIME_S:g} s (at most {MAX_RUNS}) and stop once they have taken "
        f"{BUDGET_S:g} s; the runs column gives N as streamblocks/reference"
    )
    mode = "--full" if options.full else "default (reference extrapolated where quadratic)"
    print(f"  mode: {mode}")
    sys.stdout.flush()

    started = timer()
    rows: list[Row] = []
    for scenario in selected:
        progress(f"{scenario.name}: {scenario.summary}")
        rows.extend(scenario.run(impls, options))
    print()
    print(format_table(rows))
    print()
    print(f"total benchmark time: {timer() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
