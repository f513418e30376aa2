"""Giving freed memory back to the system, where the C library allows it.

A run's threads parse and drop answers all the time; glibc keeps what they free in its
arenas, so a process's resident memory is its high-water mark, not what it holds.
``give_back`` asks glibc to return its free pages (``malloc_trim``); elsewhere it does
nothing. The store calls it every few seconds (``writer``): it takes a millisecond or two.
``few_arenas`` keeps glibc from giving each of a run's many threads an arena of its own
(up to eight per core), each holding its own high-water mark of freed memory: called as
the command line starts, before any thread (the arenas made before the limit is set stay,
and the threads started after it share them all).
``few_collections`` keeps Python's cycle collector from scanning a run's heap over and over.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_trim: Callable[[int], int] | None = None
_mallopt: Callable[[int, int], int] | None = None
try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    _trim = _libc.malloc_trim
    _mallopt = _libc.mallopt
except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to ask
    _trim = _mallopt = None

EVERY_SECONDS = 5.0
COLLECT_AFTER = 10_000  # new container objects between two of the collector's passes (Python's: 700)
ARENAS = 1  # Python's threads take turns (the GIL): they hardly contend for one
_M_ARENA_MAX = -8  # glibc's mallopt parameter


def few_arenas(arenas: int = ARENAS) -> None:
    """Let glibc make at most ``arenas`` malloc arenas from now on, unless the environment
    sets ``MALLOC_ARENA_MAX`` (the user's word wins); call it before threads start."""
    if _mallopt is not None and "MALLOC_ARENA_MAX" not in os.environ:
        _mallopt(_M_ARENA_MAX, arenas)


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


@contextmanager
def few_collections(after: int = COLLECT_AFTER) -> Iterator[None]:
    """Within the block, Python's cycle collector passes every ``after`` new containers
    instead of every 700, and never looks again at the objects that exist at its start
    (``gc.freeze``): a run's answers make millions of dicts and lists, hardly any in a
    cycle, and scanning them (and the works planned) took a fifth of a quiet run's CPU,
    in pauses that stop every thread. Both are undone at the end."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(after, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
