"""Progress lines for long jobs: done/total, rate and time left, so a job log shows where a run stands."""

from __future__ import annotations

import logging
import time


class Progress:
    """Logs `what: done/total (pct), rate/s, ETA` at most every `every` seconds, and at the end."""

    def __init__(
        self, total: int, what: str, log: logging.Logger, every: float = 30.0, done: int = 0
    ) -> None:
        """`done`: work already finished before this run (a resumed job); the rate counts this run only."""
        self.total, self.what, self.log, self.every = total, what, log, every
        self.done = self.start = done
        self.started = self.last = time.monotonic()

    def advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.every or self.done >= self.total:
            self.last = now
            self.log.info("%s", self.line(now - self.started))

    def line(self, elapsed: float) -> str:
        rate = (self.done - self.start) / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else float("nan")
        pct = 100.0 * self.done / self.total if self.total else 100.0
        return (
            f"{self.what}: {self.done}/{self.total} ({pct:.0f}%), {rate:.2f}/s, "
            f"elapsed {elapsed:.0f} s, ETA {left:.0f} s"
        )


def setup_job_logging() -> None:
    """INFO lines with a timestamp on stderr: what a job's log file shows."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
