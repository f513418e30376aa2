"""Chunks that may not be stored yet, kept in order in files, not in memory.

A run stores nothing before the database's check has passed (monitor/database.py), and
the check reads the whole file: a minute or more at 5 GB. The sources, asked ahead, go on
meanwhile; what they hand over waits here, pickled into unnamed temporary files beside
the database, and is stored in the order it came once the check has passed (while the
sources go on asking). What cannot be pickled (a question waiting for its answer) waits
in memory, in its place in the order. Up to ``limit`` bytes wait; beyond that the sources
wait, as they would for the store. The files are segments of ``segment`` bytes, each
deleted once read, so the disk holds little more than what waits.
"""

from __future__ import annotations

import pickle
import tempfile
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Generic, TypeVar

from monitor.database import os_error

T = TypeVar("T")

LIMIT_BYTES = 2 << 30  # waiting to be stored: past it, the sources wait for the store
SEGMENT_BYTES = 64 << 20  # a file's size, about: each is deleted once read


@dataclass
class _Segment:
    file: IO[bytes]
    end: int = 0  # where the next pickle goes
    read: int = 0  # where the next one to load starts


class Spool(Generic[T]):
    """A FIFO of items: those ``on_disk`` says so pickled into files in ``folder``, the
    others held as they are."""

    def __init__(
        self, folder: Path, on_disk: Callable[[T], bool], limit: int = LIMIT_BYTES, segment: int = SEGMENT_BYTES
    ) -> None:
        self.folder, self.on_disk, self.limit, self.segment = folder, on_disk, limit, segment
        self._order: deque[T | None] = deque()  # None: the next pickle on disk
        self._segments: deque[_Segment] = deque()
        self.waiting = 0  # bytes on disk not read yet

    def __len__(self) -> int:
        return len(self._order)

    @property
    def full(self) -> bool:
        """Whether ``limit`` bytes wait on disk."""
        return self.waiting >= self.limit

    @property
    def disk_bytes(self) -> int:
        """What the files hold, read or not (a file goes once read)."""
        return sum(segment.end for segment in self._segments)

    def put(self, item: T) -> None:
        if not self.on_disk(item):
            self._order.append(item)
            return
        try:
            if not self._segments or self._segments[-1].end >= self.segment:
                self._segments.append(_Segment(tempfile.TemporaryFile(dir=self.folder, prefix=".spool-")))  # noqa: SIM115 - closed once read
            last = self._segments[-1]
            last.file.seek(last.end)
            pickle.dump(item, last.file, protocol=pickle.HIGHEST_PROTOCOL)
            self.waiting += last.file.tell() - last.end
            last.end = last.file.tell()
        except OSError as exc:
            raise os_error(exc, f"a temporary file in {self.folder}") from None
        self._order.append(None)

    def get(self) -> T:
        """The oldest item; IndexError when there is none."""
        item = self._order.popleft()
        if item is not None:
            return item
        first = self._segments[0]
        try:
            first.file.seek(first.read)
            loaded: T = pickle.load(first.file)
            self.waiting -= first.file.tell() - first.read
            first.read = first.file.tell()
        except OSError as exc:
            raise os_error(exc, f"a temporary file in {self.folder}") from None
        if first.read == first.end:  # all of it read (the last one too: the next put opens another)
            first.file.close()
            self._segments.popleft()
        return loaded

    def close(self) -> None:
        """Drop what waits (the files go with it)."""
        self._order.clear()
        while self._segments:
            self._segments.popleft().file.close()
        self.waiting = 0
