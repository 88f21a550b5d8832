"""Timing of one streamed run, filled in by the driver that feeds the stream."""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["RunStats"]


@dataclass
class RunStats:
    """When the run started, when content first arrived, how long it took.

    Times are from ``time.monotonic()``; ``started_at`` is wall-clock
    (``time.time()``) for display. Every field is ``None`` until it is known:
    a stream fed by hand, with no driver, keeps them all ``None``.
    """

    started_at: float | None = None
    start: float | None = None
    first_content: float | None = None
    end: float | None = None
    output_tokens: int | None = None

    def mark_start(self) -> None:
        self.started_at = time.time()
        self.start = time.monotonic()

    def mark_content(self, now: float) -> None:
        if self.first_content is None:
            self.first_content = now

    def mark_end(self, output_tokens: int | None) -> None:
        if self.end is None:
            self.end = time.monotonic()
            self.output_tokens = output_tokens

    @property
    def time_to_first_content(self) -> float | None:
        """Seconds from the start of the run to its first content event."""
        if self.start is None or self.first_content is None:
            return None
        return self.first_content - self.start

    @property
    def duration(self) -> float | None:
        """Seconds from the start of the run to its end (any ending)."""
        if self.start is None or self.end is None:
            return None
        return self.end - self.start

    @property
    def output_tokens_per_second(self) -> float | None:
        """Output tokens over the time from first content to the end, once usage is known."""
        if self.output_tokens is None or self.first_content is None or self.end is None:
            return None
        elapsed = self.end - self.first_content
        return self.output_tokens / elapsed if elapsed > 0 else None
