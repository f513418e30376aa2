"""How fast, and how many at once: one source's pace and its requests in flight.

Every thread asking one source shares its ``RateLimiter`` and its ``Gate``, so the
source as a whole keeps to its rate and to its concurrency limit however many threads
ask it, and a 429 met by one thread slows them all:

- ``RateLimiter`` hands each request a moment to go (``reserve``), spaced by the
  source's interval; a moment no request came for (every thread busy parsing, or
  waiting for a chunk's last answer) may be used late, so a busy process does not
  slow a source below its rate, but never more requests go in any second than the rate
  allows (the APIs state their limits per second); ``pause`` holds every request back
  (a Retry-After, a backoff); a throttled answer doubles the interval (``throttled``),
  with no moment used late meanwhile, and each good answer brings it back towards the
  floor (``recovered``); the floor is the configured rate, or the slower one a server
  announces (``learn``).
- ``Gate`` lets at most ``limit`` requests be in flight; a server's
  ``x-concurrency-limit`` lowers it (Crossref: 3 in its polite pool, 1 in the public one).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

# Quotas announced per window without a reset time (Altmetric): at worst a whole window to wait.
WINDOW_QUOTAS = (("x-dailyratelimit-remaining", 86400.0), ("x-hourlyratelimit-remaining", 3600.0))
THROTTLED_SLOWDOWN = 8.0  # a run of 429s slows a source to at most this many times its interval
WINDOW_SECONDS = 1.0  # "N requests per second": never more than a window's share in any window


class RateLimiter:
    """Spaces requests to one source, and learns the server's limits from its headers."""

    def __init__(
        self,
        requests_per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.floor = 1.0 / requests_per_second  # never faster than this
        self.interval = self.floor  # the pace now: the floor, or slower after 429s
        self.clock = clock
        self.sleep = sleep
        self.next_at = clock()  # the next moment at the pace (one missed may still be used)
        self.recent: deque[float] = deque()  # the moments given in the last window, oldest first
        self.paused_until = 0.0  # no request before this, whatever was reserved earlier
        self.pauses = 0  # how many pauses were set: a request that reserved its moment
        # before a new one waits that one out too
        self.lock = threading.Lock()

    def reserve(self) -> float:
        """The moment (on ``clock``) at which one more request may go, reserved for it: the
        next at the pace, or, at the floor's pace, one missed within the last window (it
        goes at once), but never one that would make more than ``per_window`` in a window."""
        with self.lock:
            now = self.clock()
            window = self.window
            missed = window if self.interval <= self.floor else 0.0
            slot = max(self.next_at, now - missed, self.paused_until)
            share = self.per_window
            while len(self.recent) > share or (self.recent and self.recent[0] <= now - window):
                self.recent.popleft()
            if len(self.recent) >= share:
                slot = max(slot, self.recent[-share] + window)
            self.recent.append(max(slot, now))  # when it goes
            self.next_at = slot + self.interval
            return slot

    @property
    def window(self) -> float:
        """The span the requests allowed are counted over: a second, or one interval if longer."""
        return max(WINDOW_SECONDS, self.interval)

    @property
    def per_window(self) -> int:
        """Requests allowed in any ``window``: as many as the pace itself puts in one (2 at 1.5
        a second, 1 when slower than one a second), so a moment used late never makes more."""
        return max(1, math.ceil(self.window / self.interval - 1e-9))

    def wait(self) -> None:
        """Wait for a reserved moment (a request made by one thread)."""
        slot = self.reserve()
        now = self.clock()
        if slot > now:
            self.sleep(slot - now)

    def pause(self, seconds: float) -> None:
        """No request before ``seconds`` from now, from any thread."""
        with self.lock:
            until = self.clock() + seconds
            self.next_at = max(self.next_at, until)
            self.paused_until = max(self.paused_until, until)
            self.pauses += 1

    def throttled(self) -> None:
        """A 429 (or the like): the whole source goes at half the pace, down to a limit."""
        with self.lock:
            self.interval = min(self.interval * 2, self.floor * THROTTLED_SLOWDOWN)

    def recovered(self) -> None:
        """A good answer: a pace slowed by 429s comes back towards the floor."""
        with self.lock:
            if self.interval > self.floor:
                self.interval = max(self.floor, self.interval / 1.25)

    def learn(self, headers: httpx.Headers, now: datetime | None = None) -> float | None:
        """Slow down to what the server announces; return a forced wait if its quota is spent.

        Crossref sends ``x-rate-limit-limit`` per ``x-rate-limit-interval``; OpenAlex,
        NCBI and Scopus send ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``.
        """
        limit, interval = headers.get("x-rate-limit-limit"), headers.get("x-rate-limit-interval")
        if limit and interval:
            try:
                per_second = float(limit) / _seconds(interval)
            except ValueError:
                per_second = 0
            if per_second > 0:
                with self.lock:
                    self.floor = max(self.floor, 1.0 / per_second)
                    self.interval = max(self.interval, self.floor)
        remaining, reset = headers.get("x-ratelimit-remaining"), headers.get("x-ratelimit-reset")
        if remaining is not None and reset is not None:
            try:
                if float(remaining) <= 0:
                    wait = reset_seconds(float(reset), (now or datetime.now(UTC)).timestamp())
                    self.pause(wait)
                    return wait
            except ValueError:
                pass
        # Altmetric: hourly and daily allowances, with no reset time; once one is spent,
        # every further request until the window turns is a 429.
        for header, window in WINDOW_QUOTAS:
            try:
                spent = float(headers.get(header, "1")) <= 0
            except ValueError:
                continue
            if spent:
                self.pause(window)
                return window
        return None


class Gate:
    """At most ``limit`` requests in flight at once; a server may lower the limit."""

    def __init__(self, limit: int):
        self.limit = max(1, limit)
        self.in_flight = 0
        self.condition = threading.Condition()

    def enter(self, timeout: float) -> bool:
        """Take a place, waiting at most ``timeout`` seconds; False when none came free."""
        ends = time.monotonic() + timeout
        with self.condition:
            while self.in_flight >= self.limit:
                left = ends - time.monotonic()
                if left <= 0:
                    return False
                self.condition.wait(left)
            self.in_flight += 1
            return True

    def leave(self) -> None:
        with self.condition:
            self.in_flight -= 1
            self.condition.notify()

    def learn(self, headers: httpx.Headers) -> None:
        """``x-concurrency-limit`` (Crossref) lowers the limit; it is never raised."""
        value = headers.get("x-concurrency-limit", "")
        if value.strip().isdigit() and int(value) > 0:
            with self.condition:
                self.limit = min(self.limit, int(value))


def reset_seconds(reset: float, now_epoch: float) -> float:
    """X-RateLimit-Reset as seconds from now.

    APIs send it as seconds to wait (OpenAlex), epoch seconds, or epoch
    milliseconds (Elsevier); the size of the number tells which.
    """
    if reset > 1e12:
        reset = reset / 1000.0 - now_epoch
    elif reset > 1e9:
        reset -= now_epoch
    return max(0.0, reset)


def _seconds(interval: str) -> float:
    """'1s' → 1.0, '1m' → 60.0, '2' → 2.0."""
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    for suffix in ("ms", "s", "m", "h"):
        if interval.endswith(suffix):
            return float(interval[: -len(suffix)]) * units[suffix]
    return float(interval)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Parse Retry-After: delta seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
