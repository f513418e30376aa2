"""A run's progress, live: per source, works done of its total, requests, throttled answers.

The threads asking a source count into its ``SourceProgress`` (through its Session and
the collector); a display (the CLI's, on a terminal) reads the counts as often as it
likes. Nothing here writes anything anywhere: off a terminal nobody reads it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class SourceProgress:
    """One source's counts in one run, safe to update from several threads."""

    def __init__(self, source: str, total: int, clock: Callable[[], float] = time.monotonic):
        self.source = source
        self.total = total  # works the plan asks it about
        self.clock = clock
        self.started = clock()
        self.requests = 0
        self.throttled = 0
        self.done = 0  # works asked (answered or failed)
        self.ended: float | None = None
        self.outcome = ""  # set when it has finished
        self.lock = threading.Lock()

    def count_request(self) -> None:
        with self.lock:
            self.requests += 1

    def count_throttled(self) -> None:
        with self.lock:
            self.throttled += 1

    def count_done(self, works: int) -> None:
        with self.lock:
            self.done = min(self.total, self.done + works)

    def finish(self, outcome: str) -> None:
        with self.lock:
            self.ended = self.clock()
            self.outcome = outcome
            self.done = self.total

    def seconds_left(self) -> float | None:
        """At the pace so far, how long the rest takes; None before there is a pace."""
        with self.lock:
            if self.ended is not None:
                return 0.0
            spent = self.clock() - self.started
            if not self.done or spent <= 0:
                return None
            return (self.total - self.done) * spent / self.done


class RunProgress:
    """Every source's progress in a run, in the order they started."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.sources: dict[str, SourceProgress] = {}
        self.lock = threading.Lock()

    def start(self, source: str, total: int) -> SourceProgress:
        progress = SourceProgress(source, total, self.clock)
        with self.lock:
            self.sources[source] = progress
        return progress

    def snapshot(self) -> list[SourceProgress]:
        with self.lock:
            return list(self.sources.values())
