"""The database file: what is at the configured path, and opening it without harm.

Nothing writes to a file before it is known to be ours: an SQLite file that is
empty, or whose ``_sqlite_migrations`` lists only migrations of our set that this
version knows. Another application's database, one written by a newer version,
and a damaged file are refused with one line, and left byte for byte as they were.

Readers open with ``mode=ro``. On read-only media a WAL database cannot get its
``-shm`` file; when no ``-wal`` file holds data the main file has everything, and
it is read as ``immutable``; else it is refused, saying how to read it.

Every SQLite error a user can meet (damaged, disk full, read-only, locked) becomes
one line through ``error``.
"""

from __future__ import annotations

import errno
import functools
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.request import pathname2url

import sqlite_utils
from sqlite_utils import Migrations

from monitor import stopping, views
from monitor.errors import DiskFullError, MonitorError, StoreError

MIGRATIONS_TABLE = "_sqlite_migrations"
BUSY_TIMEOUT_MS = 10_000

RESTORE = "restore the last copy made by `citation-monitor backup`, or move the file aside to start afresh"


def require_exists(path: Path) -> None:
    if not path.exists():
        raise StoreError(f"no database at {path}: run `citation-monitor run` first")


def check_location(path: Path) -> None:
    """A database path must name a file in a folder: not a folder, not below a file."""
    if path.is_dir():
        raise StoreError(f"{path} is a folder, not a database file; name a file in it, e.g. {path / 'monitor.db'}")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise StoreError(f"{path} is below {parent}, which is a file, not a folder; choose another path")
            return


def writable(path: Path) -> bool:
    """Can we write the database at ``path``: the file (if any) and its folder, for the WAL files?"""
    path = path.resolve()  # a link's target's folder holds the -wal and -shm files
    folder = nearest_folder(path)
    return os.access(folder, os.W_OK | os.X_OK) and (not path.exists() or os.access(path, os.W_OK))


def nearest_folder(path: Path) -> Path:
    """The folder that holds ``path``, or the nearest existing one that would."""
    for parent in path.parents:
        if parent.exists():
            return parent
    return Path(path.anchor or ".")


def why_not_writable(path: Path) -> str:
    """'read-only file system' or 'permission denied', for a path ``writable`` refused."""
    try:
        if os.statvfs(nearest_folder(path.resolve())).f_flag & os.ST_RDONLY:
            return "read-only file system"
    except OSError:
        pass
    return "permission denied"


def _uri(path: Path, **options: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in options.items())
    return f"file:{pathname2url(str(path.resolve()))}?{query}"


def _connect(path: Path, **options: str) -> sqlite3.Connection:
    conn = sqlite3.connect(_uri(path, **options), uri=True)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opens the file now
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection to the database at ``path``: never creates or changes it."""
    require_exists(path)
    check_location(path)
    _check_header(path)
    path = path.resolve()  # where its -wal and -shm files are
    try:
        return _connect(path, mode="ro")
    except sqlite3.Error as exc:
        if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_CANTOPEN or not os.access(path, os.R_OK):
            raise error(exc, path) from None
    # A WAL database in a folder we cannot write: no -shm can be made beside it.
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size:
        raise StoreError(
            f"{path}: its write-ahead log {wal.name} holds data readable only with a "
            f"{path.name}-shm file, which its read-only folder cannot hold; copy {path.name} "
            f"and {wal.name} to a writable folder and read the copy"
        )
    try:
        return _connect(path, immutable="1")
    except sqlite3.Error as exc:
        raise error(exc, path) from None


@contextmanager
def peeking(path: Path) -> Iterator[sqlite3.Connection]:
    """A look at a file that may not be ours, creating nothing beside it.

    Without a ``-wal`` file no connection is open and the main file holds every
    commit, so ``immutable`` reads it without making ``-wal`` and ``-shm`` files
    next to another application's database.
    """
    _check_header(path)
    target = path.resolve()
    if target.with_name(target.name + "-wal").exists():
        conn = connect_readonly(path)
    else:
        try:
            conn = _connect(target, immutable="1")
        except sqlite3.Error as exc:
            raise error(exc, path) from None
    try:
        yield conn
    finally:
        conn.close()


def _check_header(path: Path) -> None:
    """Refuse a file that is not SQLite's before anything opens it in a way that could
    write beside it. SQLite reads the header itself (immutable: no lock, nothing made):
    never a descriptor of ours, since closing any descriptor of a file drops every POSIX
    lock this process holds on it, SQLite's included, and another process's connection
    closing then thinks itself the last and takes the write-ahead log from under ours."""
    if not os.access(path, os.R_OK):
        raise StoreError(f"{path}: cannot read the database (permission denied); check its permissions")
    try:
        _connect(path, mode="ro", immutable="1").close()  # reads page 1: the header
    except sqlite3.Error as exc:
        if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_NOTADB:
            return  # not the header's fault: the connection that follows says what it is
        raise StoreError(
            f"{path} is not an SQLite database; if it was ours it is damaged: {RESTORE}. "
            "Otherwise set [monitor] database to another file"
        ) from None


def pending(conn: sqlite3.Connection, path: Path, set_name: str, known: Sequence[str]) -> list[str]:
    """Our migrations not yet applied to the database, or StoreError when it is not ours to touch."""
    try:
        tables = sorted(
            name for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        )
        applied = (
            [name for (name,) in conn.execute(
                f"SELECT name FROM {MIGRATIONS_TABLE} WHERE migration_set = ? ORDER BY rowid", [set_name]
            )]
            if MIGRATIONS_TABLE in tables
            else []
        )
    except sqlite3.Error as exc:
        raise error(exc, path) from None
    others = [t for t in tables if t != MIGRATIONS_TABLE]
    if not applied and others:
        shown = ", ".join(others[:4]) + (", …" if len(others) > 4 else "")
        raise StoreError(
            f"{path} is not a citation-monitor database (it holds other tables: {shown}); "
            "it was left untouched: set [monitor] database to a file of its own"
        )
    unknown = [name for name in applied if name not in known]
    if unknown:
        raise StoreError(
            f"{path} was written by a newer version of citation-monitor (schema change "
            f"{unknown[0]} is unknown to this one); it was left untouched: upgrade citation-monitor"
        )
    return [name for name in known if name not in applied]


def quick_check(conn: sqlite3.Connection, path: Path) -> None:
    """SQLite's structural check (every page, no index contents): damage found before a write."""
    try:
        problems = [row[0] for row in conn.execute("PRAGMA quick_check(3)")]
    except sqlite3.Error as exc:
        raise error(exc, path) from None
    if problems != ["ok"]:
        first = " ".join(problems[0].replace("*** in database main ***", "").split())
        raise StoreError(f"{path}: the database is damaged ({first}); {RESTORE}")


def error(exc: sqlite3.Error, path: Path) -> MonitorError:
    """One line for an SQLite error on the database at ``path``, saying what to do."""
    detail = " ".join(str(exc).split())
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or "malformed" in detail:
        return StoreError(f"{path}: the database is damaged ({detail}); {RESTORE}")
    if code == sqlite3.SQLITE_FULL:
        return DiskFullError(f"{path}: the disk is full ({detail}); free some space and run again")
    if code == sqlite3.SQLITE_READONLY:
        return StoreError(
            f"{path}: the database is read-only ({detail}); make it and its folder writable, "
            "or set [monitor] database to a writable copy"
        )
    if code in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH):
        return StoreError(f"{path}: cannot open the database ({detail}); check it and its folder exist and are readable")
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return MonitorError(f"{path}: the database stayed locked by another process ({detail}); try again later")
    if code == sqlite3.SQLITE_IOERR:
        return MonitorError(f"{path}: disk I/O error ({detail}); check the disk, and if it persists, {RESTORE}")
    return MonitorError(f"{path}: database error: {detail}")


def os_error(exc: OSError, what: str = "") -> MonitorError:
    """One line for a file-system error: the path, the reason and what to do."""
    where = exc.filename or what or "a file"
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(f"{where}: no space left on the device; free some space and run again")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StoreError(f"{where}: {reason}; make it writable or choose another path")
    if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG):
        return StoreError(f"{where}: {reason}; check the path")
    return MonitorError(f"{where}: {reason}")


# --- opening: for writing (checked, WAL, migrated) or for reading only ------------------


def open_writable(path: Path, migrations: Migrations, *, check: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) the database at ``path`` for writing: in WAL mode, migrated.

    A file that is not ours, from a newer version, or (with ``check``) damaged is
    refused before anything is written to it (``pending``, ``quick_check``).
    """
    _refuse_unwritable(path)
    if path.exists() and path.stat().st_size:
        check_ours(path, migrations)
        if check:  # ours: a normal read-only connection, safe beside a writer
            Check(path).wait()
    db = _connect_writable(path)
    try:
        db.enable_wal()
        migrations.apply(db)
        views.ensure(db)
    except BaseException as exc:
        db.close()
        if isinstance(exc, sqlite3.Error):
            raise error(exc, path) from None
        if isinstance(exc, OSError):
            raise os_error(exc, str(path)) from None
        raise
    return db


def open_checking(path: Path, migrations: Migrations) -> tuple[sqlite_utils.Database, Check]:
    """``open_writable``, its ``quick_check`` running beside the caller where opening writes
    nothing (a database of ours, of this version, in WAL mode, its views current): the caller
    may read meanwhile, and writes only after ``Check.wait``. Elsewhere the check comes first,
    as in ``open_writable``, and the ``Check`` returned is done."""
    _refuse_unwritable(path)
    if path.exists() and path.stat().st_size and not check_ours(path, migrations):
        db = _connect_writable(path)
        try:
            quiet = db.journal_mode == "wal" and not views.outdated(db.conn)
        except sqlite3.Error:
            quiet = False  # the check says what is wrong
        if quiet:
            return db, Check(path)
        db.close()
    return open_writable(path, migrations), Check(None)


class Check:
    """``quick_check`` of the database at ``path`` in a thread of its own, on a read-only
    connection of its own (None: nothing to check)."""

    def __init__(self, path: Path | None) -> None:
        self._failure: MonitorError | None = None
        self._thread: threading.Thread | None = None
        if path is not None:
            self._thread = threading.Thread(target=self._check, args=(path,), name="quick_check", daemon=True)
            self._thread.start()

    @property
    def beside(self) -> bool:
        """Whether a check was started (it may be done by now)."""
        return self._thread is not None

    @property
    def running(self) -> bool:
        """Whether a check was started and has not ended yet."""
        return self._thread is not None and self._thread.is_alive()

    def _check(self, path: Path) -> None:
        try:
            conn = connect_readonly(path)
            try:
                quick_check(conn, path)
            finally:
                conn.close()
        except MonitorError as exc:
            self._failure = exc
        except sqlite3.Error as exc:
            self._failure = error(exc, path)

    def wait(self) -> None:
        """Until the check is done (a signal still gets through); StoreError if the database
        is damaged."""
        if self._thread is not None:
            stopping.join(self._thread)
        if self._failure is not None:
            raise self._failure


def _refuse_unwritable(path: Path) -> None:
    check_location(path)
    if not writable(path):
        raise StoreError(
            f"{path}: cannot write the database ({why_not_writable(path)}); make it and "
            "its folder writable, or set [monitor] database to a writable path "
            "(query, export, history and report can read it as it is)"
        )


def _connect_writable(path: Path) -> sqlite_utils.Database:
    """A read-write connection to the database at ``path`` (created if missing), writing nothing yet."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite_utils.Database(path)
        try:
            db.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            db.conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            db.close()
            raise
    except sqlite3.Error as exc:
        raise error(exc, path) from None
    except OSError as exc:
        raise os_error(exc, str(path)) from None
    return db


def open_readable(path: Path, migrations: Migrations) -> sqlite_utils.Database:
    """Open the database at ``path`` only to read it: never creates, migrates or writes it.

    A read-only file, folder or medium is fine. A database that needs a schema
    upgrade gets it here when it is writable (as any run would), else is refused;
    so is a missing one (created empty where it could be, as a run would).
    """
    if not path.exists() and writable(path):
        return open_writable(path, migrations)
    waiting = check_ours(path, migrations)
    if not waiting:
        conn = connect_readonly(path)
        try:
            db = sqlite_utils.Database(conn)
            views.ensure(db, temporary=True)
        except BaseException:
            conn.close()
            raise
        return db
    if writable(path):
        return open_writable(path, migrations, check=False)
    raise StoreError(
        f"{path}: the database needs {len(waiting)} schema change(s) before this version can read it, "
        "and it is read-only; run `citation-monitor run` once where it is writable"
    )


def check_ours(path: Path, migrations: Migrations) -> list[str]:
    """The migrations the database at ``path`` still needs; StoreError when it is not ours
    or from a newer version. Looks without creating anything beside the file."""
    require_exists(path)
    with peeking(path) as conn:
        return pending(conn, path, migrations.name, migration_names(migrations))


@functools.cache
def migration_names(migrations: Migrations) -> tuple[str, ...]:
    """Every migration of the set, in order (all are pending on an empty database)."""
    return tuple(m.name for m in migrations.pending(sqlite_utils.Database(memory=True)))
