"""The report site is replaced as a whole, so its files always agree.

``report_dir`` is a symbolic link to one *generation*, a complete site in a folder
beside it (``.<name>.site/g<time>``). A report writes a new generation, then points
the link at it with one atomic rename: a reader (or a static web server, which
follows the link on each request) sees the old site or the new one, never a mix.
The generation before stays one report longer, for readers in the middle of a page;
older ones, and folders left by a killed report, are removed by the next report.

Files that did not change are hard links to the previous generation's, so a new
generation costs only what changed. ``archive/`` (the dated copies) lives beside
the generations and each generation links to it.

An existing plain ``report_dir`` folder (from an earlier version) becomes the first
generation: its ``archive/`` moves beside the generations, the folder is renamed into
them and the link is made. For that moment ``report_dir`` does not exist.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from monitor.errors import ConfigError, MonitorError

LOCK_WAIT_SECONDS = 600.0


class Generations:
    def __init__(self, report_dir: Path):
        self.link = report_dir
        self.home = report_dir.parent / f".{report_dir.name}.site"
        self.archive = self.home / "archive"

    @contextmanager
    def lock(self, wait: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
        """One report at a time writes the site (a second one waits, then gives up)."""
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / "lock", "a+") as handle:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise MonitorError(
                            f"{self.home / 'lock'}: another report is still being written; try again later"
                        ) from None
                    time.sleep(0.2)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def current(self) -> Path | None:
        """The generation the link points at (None before the first)."""
        if not self.link.is_symlink():
            return None
        target = (self.link.parent / os.readlink(self.link)).resolve()
        return target if target.parent == self.home.resolve() and target.is_dir() else None

    def adopt(self) -> None:
        """Turn a plain ``report_dir`` folder into the first generation (see the module)."""
        if self.link.is_symlink():
            if self.current() is None and (self.link.parent / os.readlink(self.link)).resolve().parent != self.home.resolve():
                raise ConfigError(
                    f"{self.link}: report_dir is a symbolic link citation-monitor did not make "
                    f"(to {os.readlink(self.link)}); set report_dir to that folder instead"
                )
            return
        if not self.link.exists():
            return
        if not self.link.is_dir():
            raise ConfigError(f"{self.link}: [monitor] report_dir is a file, not a folder; move it or point report_dir at a folder")
        self.home.mkdir(parents=True, exist_ok=True)
        old_archive = self.link / "archive"
        if old_archive.is_dir() and not old_archive.is_symlink() and not self.archive.exists():
            os.rename(old_archive, self.archive)
        adopted = self.home / f"g{_stamp()}-adopted"
        os.rename(self.link, adopted)
        self.point_at(adopted)

    def start(self) -> Path:
        """A new, empty generation folder (named tmp-… until it is published)."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.archive.mkdir(exist_ok=True)
        folder = self.home / f"tmp-{_stamp()}-{os.getpid()}"
        folder.mkdir()
        (folder / "archive").symlink_to("../archive")
        return folder

    def publish(self, folder: Path) -> Path:
        """Name the new generation and point ``report_dir`` at it, atomically."""
        final = self.home / f"g{_stamp()}"
        os.rename(folder, final)
        self.point_at(final)
        return final

    def point_at(self, generation: Path) -> None:
        tmp_link = self.link.parent / f".{self.link.name}.link-{os.getpid()}"
        tmp_link.unlink(missing_ok=True)
        tmp_link.symlink_to(os.path.relpath(generation, self.link.parent))
        os.replace(tmp_link, self.link)

    def clean(self, keep: int = 2) -> None:
        """Remove all but the newest ``keep`` generations (the current one always stays),
        unpublished folders of killed reports and stray links. Hold the lock."""
        current = self.current()
        generations = sorted(p for p in self.home.iterdir() if p.is_dir() and p.name.startswith("g"))
        keep_set = set(generations[-keep:]) | ({current} if current else set())
        for path in self.home.iterdir():
            if path.name.startswith("tmp-") or (path.name.startswith("g") and path.is_dir() and path not in keep_set):
                shutil.rmtree(path, ignore_errors=True)
        for stray in self.link.parent.glob(f".{self.link.name}.link-*"):
            stray.unlink(missing_ok=True)


def link_or_copy(source: str | Path, target: str | Path) -> bool:
    """Hard-link ``source`` to ``target`` (copy where links are not possible); False when
    ``source`` is missing."""
    try:
        os.link(source, target)
    except FileNotFoundError:
        return False
    except OSError:
        shutil.copy2(source, target)
    return True


def write_file(path: Path, text: str) -> None:
    """Write a file of a generation being built: a fresh file, never through a hard link
    into another generation."""
    path.unlink(missing_ok=True)
    path.write_text(text, encoding="utf-8")
    os.chmod(path, 0o644)


def replace_folder(new: Path, target: Path) -> None:
    """Put the complete folder ``new`` where ``target`` is (for a past day's site or
    ``--output``): the old one is renamed aside, then removed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    aside = target.parent / f".{target.name}.old-{os.getpid()}"
    if target.exists() or target.is_symlink():
        os.rename(target, aside)
    os.rename(new, target)
    shutil.rmtree(aside, ignore_errors=True)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
