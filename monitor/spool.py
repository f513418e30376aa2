"""Chunks that may not be stored yet, kept in order in a file, not in memory.

A run stores nothing before the database's check has passed (monitor/database.py), and
the check reads the whole file: a minute at 5 GB. The sources, asked ahead, go on
meanwhile; what they hand over waits here, pickled into an unnamed temporary file beside
the database, and is stored in the order it came once the check has passed (while the
sources go on asking). What cannot be pickled (a question waiting for its answer) waits
in memory, in its place in the order. Up to ``limit`` bytes wait on disk; beyond that the
sources wait, as they would for the store.
"""

from __future__ import annotations

import pickle
import tempfile
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO, Generic, TypeVar

from monitor.database import os_error

T = TypeVar("T")

LIMIT_BYTES = 1 << 30  # on disk, stored or not yet: past it, the sources wait for the store


class Spool(Generic[T]):
    """A FIFO of items: those ``on_disk`` says so pickled into a file in ``folder``, the
    others held as they are."""

    def __init__(self, folder: Path, on_disk: Callable[[T], bool], limit: int = LIMIT_BYTES) -> None:
        self.folder, self.on_disk, self.limit = folder, on_disk, limit
        self._order: deque[T | None] = deque()  # None: the next pickle in the file
        self._file: IO[bytes] | None = None
        self._written = self._read = 0  # where the next pickle goes, and the next to load

    def __len__(self) -> int:
        return len(self._order)

    @property
    def full(self) -> bool:
        """Whether the file has reached ``limit`` (it is emptied when every item has left)."""
        return self._written >= self.limit

    def put(self, item: T) -> None:
        if not self.on_disk(item):
            self._order.append(item)
            return
        try:
            if self._file is None:
                self._file = tempfile.TemporaryFile(dir=self.folder, prefix=".spool-")  # noqa: SIM115 - close()
            self._file.seek(self._written)
            pickle.dump(item, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self._written = self._file.tell()
        except OSError as exc:
            raise os_error(exc, f"a temporary file in {self.folder}") from None
        self._order.append(None)

    def get(self) -> T:
        """The oldest item; IndexError when there is none."""
        item = self._order.popleft()
        if item is not None:
            return item
        assert self._file is not None
        try:
            self._file.seek(self._read)
            loaded: T = pickle.load(self._file)
            self._read = self._file.tell()
            if self._read == self._written:  # all of it read: the file starts again, as small
                self._file.seek(0)
                self._file.truncate()
                self._written = self._read = 0
        except OSError as exc:
            raise os_error(exc, f"a temporary file in {self.folder}") from None
        return loaded

    def close(self) -> None:
        """Drop what waits (the file goes with it)."""
        self._order.clear()
        if self._file is not None:
            self._file.close()
            self._file = None
        self._written = self._read = 0
