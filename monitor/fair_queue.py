"""A bounded queue shared by several producers, served in turns, so none waits behind another.

The sources' threads hand their chunks to the thread that stores them. With one FIFO
queue, bounded for memory, the source that sets a run's length (the slowest) waited
behind the chunks of sources that had answered in bulk, and missed its pace while it
waited. Here the bound holds as before, but a place that frees goes to the producer with
the fewest items waiting (the one that waited longest among equals), and ``get`` takes
the producers in turns, each one's items in the order they were put.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class FairQueue(Generic[T]):
    def __init__(self, maxsize: int):
        self.maxsize = maxsize  # items waiting, from all producers
        self.waiting: dict[str, deque[T]] = {}  # per producer, in turns: the next served first
        self.size = 0
        self.blocked: list[str] = []  # the producers waiting for a place, the earliest first
        self.changed = threading.Condition()

    def put(self, key: str, item: T, timeout: float) -> None:
        """Queue ``item`` from producer ``key``; raise ``queue.Full`` after ``timeout`` s
        if no place went to it."""
        with self.changed:
            self.blocked.append(key)
            placed = self.changed.wait_for(lambda: self._next_in(key), timeout)
            self.blocked.remove(key)
            if not placed:
                self.changed.notify_all()  # the place may go to another now
                raise queue.Full
            self.waiting.setdefault(key, deque()).append(item)
            self.size += 1
            self.changed.notify_all()

    def waiting_from(self, key: str) -> int:
        """How many items of producer ``key`` wait to be taken."""
        with self.changed:
            return len(self.waiting.get(key, ()))

    def get(self, timeout: float) -> T:
        """The next item, from the producer whose turn it is; ``queue.Empty`` after
        ``timeout`` s without one."""
        with self.changed:
            if not self.changed.wait_for(lambda: self.size > 0, timeout):
                raise queue.Empty
            key = next(k for k, items in self.waiting.items() if items)
            items = self.waiting.pop(key)
            item = items.popleft()
            self.waiting[key] = items  # to the end of the turns
            self.size -= 1
            self.changed.notify_all()
            return item

    def _next_in(self, key: str) -> bool:
        """Whether a place is free and ``key`` is the producer it goes to."""
        if self.size >= self.maxsize:
            return False
        return min(self.blocked, key=lambda k: len(self.waiting.get(k, ()))) == key
