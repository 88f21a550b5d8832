"""Run one synchronous workload in this (fresh) interpreter and print its timings as JSON.

    python -m benchmarks._child IMPL WORKLOAD SIZE MAX_RUNS

``IMPL`` is ``streamblocks`` or ``reference``; ``WORKLOAD`` and ``SIZE`` are described
in ``bench_sync.child_workload``. The last line of stdout is one JSON object:
``{"times": [...]}``, or ``{"wrong": "..."}`` / ``{"error": "..."}``. Started by
``_harness.run_in_child``; not meant to be run by hand.
"""

from __future__ import annotations

import json
import sys

from benchmarks._harness import WrongOutputError, best_of, load_impls
from benchmarks.bench_sync import child_workload


def main(argv: list[str]) -> int:
    """Run the workload; report everything, including failures, as JSON on stdout."""
    key, workload, size, max_runs = argv[0], argv[1], int(argv[2]), int(argv[3])
    impls = load_impls()
    impl = {"streamblocks": impls.ours, "reference": impls.ref}.get(key)
    result: dict[str, object]
    if impl is None:
        result = {"error": f"{key} is not importable in the child process"}
    else:
        try:
            timing = best_of(child_workload(workload, size, impl), max_runs=max_runs)
            result = {"times": timing.times}
        except WrongOutputError as exc:
            result = {"wrong": str(exc)}
        except Exception as exc:
            result = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
