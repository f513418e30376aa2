"""Where a run's chunks are stored: in the run's own thread, or in a writer process.

A run of many works spends about half its CPU storing (SQLite, the ledger's matching). In
one process that half takes turns with the sources' threads for the GIL, so a run of
``PROCESS_FROM`` planned lookups or more (or any run, when the environment says
``CITATION_MONITOR_WRITER=process``) stores in a process of its own: started as
``python -m monitor.writer`` (this code, whether installed or not), it inherits no lock,
no connection and no thread; it ignores SIGINT and SIGTERM (the run's process decides
when to stop) and ends when its socket closes, so a run killed outright leaves no writer
behind. Both writers take the same requests and carry them out in order: ``save`` a chunk,
``settle`` (wait until everything before it is stored). What a source asks of the database
meanwhile (its last lists of a chunk's works) the run reads on its own connection: no chunk
the writer still holds can change it. An SQLite error in the writer process is raised in the
run as the same ``sqlite3`` error, its code kept, so it meets the same one-line message
(``database.error``). A request is pickled straight onto the socket and unpickled as it
arrives, in pieces of pickle's frames (``_send``, ``_receive``): a chunk is never whole in
memory as bytes on either side (one of OpenAlex's parts of lists pickled to 33 MB). The
writer keeps what the pieces of a long list so far listed (``citing.Pieces``) until its last
piece comes.
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import sqlite3
import subprocess
import sys
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NoReturn, Protocol

import sqlite_utils

from monitor import citing, memory, stopping, store
from monitor.errors import MonitorError
from monitor.models import SourceReport

PROCESS_FROM = 50_000  # planned lookups (works times sources) from which a run stores in a process
CHOICE_ENV = "CITATION_MONITOR_WRITER"  # "thread" or "process" instead of choosing by size ("auto")
AHEAD = 3  # chunks sent to the writer process and not yet stored: the memory they may hold
CLOSE_SECONDS = 120.0  # the writer process ends within this of being told (what it holds stored)
POLL_SECONDS = 0.25


class Writer(Protocol):
    def save(self, report: SourceReport, now: datetime) -> None: ...
    def settle(self) -> None: ...
    def close(self) -> None: ...


def save(
    db: sqlite_utils.Database, run_id: int, work_ids: dict[str, int], report: SourceReport, now: datetime,
    authors: store.AuthorsOf | None = None, signals_moves: bool | None = None, pieces: citing.Pieces | None = None,
) -> None:
    """One chunk of a source's observations, exchanges and citing lists: one transaction.
    ``authors``: the tracked works' authors as the run's writer keeps them;
    ``signals_moves``: ``moves_signalled(report.source)``, where the caller knows it;
    ``pieces``: the lists whose pieces are coming, as the run's writer keeps them."""
    if signals_moves is None:
        signals_moves = moves_signalled(report.source)
    authors = authors or store.AuthorsOf(db)
    with db.atomic():
        response_ids = store.save_source(db, run_id, work_ids, report, now, signals_moves=signals_moves)
        authors.saw(report.observations)
        for listing in report.citing:
            citing.save_list(db, run_id, work_ids[listing.doi], listing, authors(listing.doi), response_ids, now,
                             pieces)


def moves_signalled(source: str) -> bool:
    """Whether a source's counts tell the plan which works moved (a batched source's).
    Imported here: the writer process is told, and never imports the sources (httpx and
    the rest: 9 MB)."""
    from monitor.sources import SOURCES

    spec = SOURCES[source].SPEC
    return spec.batched and spec.counts_citations


class InThread:
    """Stores in the calling thread, on the run's own connection."""

    def __init__(self, db: sqlite_utils.Database, run_id: int, work_ids: dict[str, int]):
        self.db, self.run_id, self.work_ids = db, run_id, work_ids
        self.authors = store.AuthorsOf(db)
        self.pieces = citing.Pieces()
        self.give_back = memory.Every()  # what each chunk freed

    def save(
        self, report: SourceReport, now: datetime, work_ids: dict[str, int] | None = None,
        signals_moves: bool | None = None,
    ) -> None:
        """``work_ids``: the report's works' ids, where this writer was not given them all."""
        with stopping.held():  # a signal now waits until this chunk is saved
            save(self.db, self.run_id, work_ids or self.work_ids, report, now, self.authors, signals_moves, self.pieces)
        self.give_back()

    def settle(self) -> None:
        pass

    def close(self) -> None:
        pass


class InProcess:
    """Stores in a process of its own, on its own connection to the database at ``path``.
    Each chunk goes with the ids of its works only: the writer holds no map of every work."""

    def __init__(self, path: Path, run_id: int, work_ids: dict[str, int]):
        self.path, self.work_ids = path, work_ids
        ours, theirs = socket.socketpair()
        here = str(Path(__file__).resolve().parent.parent)  # this very code, installed or not
        environ = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))}
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "monitor.writer", str(theirs.fileno())],
                pass_fds=[theirs.fileno()], env=environ, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C reaches the run's process only: it decides
            )
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self.waiting = 0  # requests sent and not yet answered
        self.give_back = memory.Every()  # what the chunks sent freed in the run's process
        try:  # answered with the first request's answer: the sources start meanwhile
            self._send(("open", str(path), run_id))
        except BaseException:
            self.close()
            raise

    def save(self, report: SourceReport, now: datetime) -> None:
        dois = {o.doi for o in report.observations} | {c.doi for c in report.citing}
        self._send(("save", report, now, {doi: self.work_ids[doi] for doi in dois}, moves_signalled(report.source)))
        while self.waiting > AHEAD:
            self._answer()
        self.give_back()

    def settle(self) -> None:
        self._call(("settle",))

    def close(self) -> None:
        """Tell it to end once what it holds is stored, and wait for it (within bounds)."""
        if self.process.poll() is None:
            try:
                with stopping.held():
                    _send(self.conn, None)
            except OSError:  # it is gone already
                pass
            try:
                self.process.wait(CLOSE_SECONDS)
            except subprocess.TimeoutExpired:  # stuck: what it had not committed is rolled back
                self.process.kill()
                self.process.wait()
        self.conn.close()

    def _send(self, request: tuple[Any, ...]) -> None:
        with stopping.held():  # never half a message on the pipe
            try:
                _send(self.conn, request)
            except OSError:
                self._gone()
        self.waiting += 1

    def _call(self, request: tuple[Any, ...]) -> Any:
        """Send ``request``; its answer, once every answer before it came."""
        self._send(request)
        answer = None
        while self.waiting:
            answer = self._answer()
        return answer

    def _answer(self) -> Any:
        """The next answer, in order; raises what the writer raised."""
        while not self.conn.poll(POLL_SECONDS):
            if self.process.poll() is not None:
                self._gone()
        try:
            kind, value = self.conn.recv()
        except (EOFError, OSError):
            self._gone()
        self.waiting -= 1
        if kind == "sqlite":
            raise _sqlite_error(*value)
        if kind == "error":
            raise MonitorError(f"{self.path}: the writer process failed: {value}")
        return value

    def _gone(self) -> NoReturn:
        try:
            code = self.process.wait(POLL_SECONDS)
        except subprocess.TimeoutExpired:
            code = None
        raise MonitorError(
            f"{self.path}: the writer process ended unexpectedly (exit code {code}); "
            "what it stored is kept, run again to fetch the rest"
        )


def for_run(db: sqlite_utils.Database, path: Path, run_id: int, work_ids: dict[str, int], lookups: int) -> Writer:
    """The writer for a run that plans ``lookups`` (works times sources), unless the
    environment's ``CITATION_MONITOR_WRITER`` says which."""
    choice = os.environ.get(CHOICE_ENV, "auto").strip().lower() or "auto"
    if choice not in ("auto", "thread", "process"):
        raise MonitorError(f"{CHOICE_ENV}={choice!r} is not a writer: set it to thread, process or auto, or unset it")
    if choice == "process" or (choice == "auto" and lookups >= PROCESS_FROM):
        return InProcess(path, run_id, work_ids)
    return InThread(db, run_id, work_ids)


def _serve(conn: Connection) -> None:
    """The writer process: open the database as the first request says, then carry out
    each request in order, answer each, end at None or when the run's process is gone."""
    for sig in stopping.SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    try:
        _, path, run_id = _receive(conn)
        db = store.open_db(Path(path), check=False)  # the run checked it
    except EOFError:
        return
    except Exception as exc:  # noqa: BLE001 - whatever it is, the run must hear of it
        conn.send(_failure(exc))
        return
    writer = InThread(db, run_id, {})  # each chunk brings its works' ids
    conn.send(("ok", None))
    try:
        with memory.few_collections():
            while True:
                try:
                    request = _receive(conn)
                except EOFError:  # the run's process is gone
                    return
                if request is None:
                    return
                try:
                    conn.send(("ok", _carry_out(writer, request)))
                except Exception as exc:  # noqa: BLE001 - sent to the run, which raises it
                    conn.send(_failure(exc))
    finally:
        db.close()


def _carry_out(writer: InThread, request: tuple[Any, ...]) -> Any:
    kind, *args = request
    if kind == "save":
        return writer.save(*args)
    return writer.settle()


def _send(conn: Connection, request: Any) -> None:
    """Pickle ``request`` onto ``conn``, each piece pickle writes (a frame of about 64 KB, or
    one large bytes object) a message of its own."""
    pickle.Pickler(_Pieces(conn), protocol=pickle.HIGHEST_PROTOCOL).dump(request)


def _receive(conn: Connection) -> Any:
    """The next request ``_send`` sent, unpickled as its pieces arrive."""
    return pickle.Unpickler(_Received(conn)).load()


class _Pieces:
    """A file for pickle to write to: every write a message on ``conn``."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def write(self, data: bytes) -> int:
        self.conn.send_bytes(data)
        return len(data)


class _Received:
    """A file for pickle to read from: the messages ``_Pieces`` sent, in order. It never
    reads past what it is asked for, so the next request starts with the next message."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.piece = memoryview(b"")
        self.at = 0

    def read(self, size: int) -> bytes:
        if self.at == len(self.piece) and size:
            whole = self.conn.recv_bytes()  # EOFError once the run's process is gone
            if len(whole) == size:  # a large bytes object, as it was written: not copied
                return whole
            self.piece, self.at = memoryview(whole), 0
        parts = []
        while size:
            if self.at == len(self.piece):
                self.piece, self.at = memoryview(self.conn.recv_bytes()), 0
            taken = self.piece[self.at:self.at + size]
            parts.append(bytes(taken))
            self.at += len(taken)
            size -= len(taken)
        return b"".join(parts)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def readline(self) -> bytes:
        line = b""
        while not line.endswith(b"\n"):
            line += self.read(1)
        return line


def _failure(exc: Exception) -> tuple[str, Any]:
    """What the writer raised, as the run's process can raise it again."""
    if isinstance(exc, sqlite3.Error):
        return "sqlite", (type(exc).__name__, str(exc), getattr(exc, "sqlite_errorcode", 0),
                          getattr(exc, "sqlite_errorname", ""))
    return "error", f"{type(exc).__name__}: {exc}"


def _sqlite_error(name: str, message: str, code: int, code_name: str) -> sqlite3.Error:
    kind = getattr(sqlite3, name, sqlite3.Error)
    error = kind(message) if isinstance(kind, type) and issubclass(kind, sqlite3.Error) else sqlite3.Error(message)
    error.sqlite_errorcode = code  # type: ignore[attr-defined]
    error.sqlite_errorname = code_name  # type: ignore[attr-defined]
    return error


if __name__ == "__main__":  # the writer process: python -m monitor.writer FD
    _serve(Connection(int(sys.argv[1])))
