"""Giving freed memory back to the system, where the C library allows it.

A run's threads parse and drop answers all the time; glibc keeps what they free in its
arenas, so a process's resident memory is its high-water mark, not what it holds.
``give_back`` asks glibc to return its free pages (``malloc_trim``); elsewhere it does
nothing. The store calls it every few seconds (``collect``): it takes a millisecond or two.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from collections.abc import Callable

_trim: Callable[[int], int] | None = None
try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    _trim = _libc.malloc_trim
except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to ask
    _trim = None

EVERY_SECONDS = 5.0


def give_back() -> None:
    """Return the C library's free memory to the system, if it can."""
    if _trim is not None:
        _trim(0)


class Every:
    """``give_back`` at most every ``seconds`` (on ``clock``), however often it is called."""

    def __init__(self, seconds: float = EVERY_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.seconds, self.clock = seconds, clock
        self.last = clock()

    def __call__(self) -> None:
        if self.clock() - self.last >= self.seconds:
            give_back()
            self.last = self.clock()
