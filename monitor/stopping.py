"""Stopping on SIGINT or SIGTERM: at a safe point, never half-way through a save.

Under ``on_signals`` both signals raise ``Interrupted`` in the main thread, so
every command stops the same way on Ctrl-C, ``kill`` or ``systemctl stop``:
``finally`` blocks run (a run is marked interrupted, temporary files go, the lock
is released) and the command exits 128 + the signal number. Inside ``held`` (a
source's results being saved) the signal waits for the block to finish. Signals
reach only the main thread, so both are no-ops elsewhere (the daemon's job thread).
The daemon has its own handlers (``daemon.Stopper``): it lets a run finish.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from monitor.errors import Interrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM)
# How often the main thread, waiting, wakes: the kernel may hand a signal to any thread, and
# Python runs its handler only when the main thread next runs Python code.
WAKE_SECONDS = 0.25


class _Holding:
    """How deep inside ``held`` the main thread is, and a signal that arrived meanwhile."""

    depth = 0
    pending: Interrupted | None = None


_holding = _Holding()


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _stop(signum: int, frame: FrameType | None) -> None:
    stop = Interrupted(signum, signal.Signals(signum).name)
    if _holding.depth:
        _holding.pending = stop
        return
    raise stop


@contextmanager
def on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise ``Interrupted`` in the main thread while the block runs."""
    if not _in_main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _stop) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _holding.pending = None


@contextmanager
def held() -> Iterator[None]:
    """Finish this block even if a signal arrives; the stop is raised once it is done."""
    if not _in_main_thread():
        yield
        return
    _holding.depth += 1
    try:
        yield
    finally:
        _holding.depth -= 1
    if not _holding.depth and _holding.pending is not None:
        stop, _holding.pending = _holding.pending, None
        raise stop


def join(thread: threading.Thread) -> None:
    """Wait for ``thread`` to end, waking every ``WAKE_SECONDS`` for a signal's handler."""
    while thread.is_alive():
        thread.join(WAKE_SECONDS)


def wait(event: threading.Event) -> None:
    """Wait for ``event`` to be set, waking every ``WAKE_SECONDS`` for a signal's handler."""
    while not event.wait(WAKE_SECONDS):
        pass
