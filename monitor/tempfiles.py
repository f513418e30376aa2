"""Temporary files beside their destination, gone on every exit, and swept when a kill left them.

A file is written as ``.NAME.PID@HOST.tmp`` in the destination's folder and renamed
over ``NAME`` once complete, so a reader never sees half a file. Any exception,
Ctrl-C or SIGTERM removes it (``replacing``). Only ``kill -9`` or a power cut
leaves one behind; the next write of the same file removes those whose process is
gone (``sweep``): a pid on this host that no longer runs.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def beside(path: Path) -> Path:
    """This process's temporary file for ``path``."""
    return path.with_name(f".{path.name}.{os.getpid()}@{socket.gethostname()}.tmp")


def sweep(path: Path) -> list[Path]:
    """Remove the temporary files of ``path`` left by processes of this host that are gone."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)@(.*)\.tmp(-journal|-wal|-shm)?")
    host = socket.gethostname()
    removed: list[Path] = []
    if not path.parent.is_dir():
        return removed
    for candidate in path.parent.iterdir():
        match = pattern.fullmatch(candidate.name)
        if match and match.group(2) == host and not _running(int(match.group(1))):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return False  # ours, from an earlier attempt in this process: not in use
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, else it is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep(path)
    temporary = beside(path)
    temporary.unlink(missing_ok=True)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
