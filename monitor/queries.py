"""The snapshot database as a product: ad-hoc SQL, exports, history and backups.

Everything here reads through a read-only connection (``connect``): the main
file is opened with ``mode=ro`` and ATTACH (hence ``VACUUM INTO`` too) is
refused, so a query can neither change the database nor write a file. In WAL
mode a reader never blocks the writer, so all of this works while a run or the
daemon is writing. The schema and views are described in docs/schema.md.
"""

from __future__ import annotations

import base64
import csv
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import sqlite_utils

from monitor import database, store, tempfiles, views
from monitor.errors import MonitorError

FORMATS = ("csv", "json")
BARS = "▁▂▃▄▅▆▇█"

# What `export` writes when no view is named: every observation, with its DOI and response.
OBSERVATIONS_SQL = """
SELECT o.id AS observation_id, w.doi, o.source, o.run_id, o.observed_at, o.outcome,
       o.message, o.citations, o.metrics, o.metadata, o.response_id,
       r.url AS response_url, r.status_code AS response_status, r.body_sha256, o.metadata_from
FROM observation_details o
JOIN works w ON w.id = o.work_id
LEFT JOIN responses r ON r.id = o.response_id
ORDER BY o.observed_at, o.id
"""
# Columns holding JSON text, written as nested JSON by `export --format json`.
OBSERVATION_JSON_COLUMNS = frozenset({"metrics", "metadata"})


class QueryError(MonitorError):
    """A query, export, history or backup that cannot be done: one line saying why."""


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]


@dataclass(frozen=True)
class Series:
    """One source's daily counts of one work (from ``count_history``), oldest first."""

    source: str
    points: list[tuple[str, int]]  # (day, citations)
    last_outcome: str | None = None


def connect(path: Path) -> sqlite3.Connection:
    """A read-only connection to the database at ``path`` (``database.connect_readonly``),
    refused when it is not ours; with this version's views where the file's are older."""
    store.check_ours(path)
    conn = database.connect_readonly(path)
    try:
        views.ensure(sqlite_utils.Database(conn), temporary=True)
    except BaseException:
        conn.close()
        raise
    conn.set_authorizer(_no_attach)
    return conn


@contextmanager
def reading(path: Path) -> Iterator[sqlite3.Connection]:
    """``connect``, closed on the way out."""
    conn = connect(path)
    try:
        yield conn
    finally:
        conn.close()


def _no_attach(action: int, *_: Any) -> int:
    # A mode=ro connection can still ATTACH (and VACUUM INTO) a file it then writes.
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _cursor(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
    try:
        return conn.execute(sql, params)
    except sqlite3.Error as exc:
        raise QueryError(_describe(exc)) from None


def _describe(exc: sqlite3.Error) -> str:
    message = " ".join(str(exc).split())
    if "readonly" in message or "not authorized" in message or "authorization denied" in message:
        return f"{message}: queries run on a read-only connection (no writes, no ATTACH)"
    return f"SQL error: {message}"


def run_query(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> Result:
    """Run one SQL statement; an SQL error becomes a QueryError with a one-line message."""
    cursor = _cursor(conn, sql, params)
    try:
        rows = cursor.fetchall()
    except sqlite3.Error as exc:
        raise QueryError(_describe(exc)) from None
    return Result([d[0] for d in cursor.description or ()], rows)


# --- output formats ---------------------------------------------------------------


def format_table(result: Result, max_width: int = 60) -> str:
    """A plain-text table with a header rule and a row count; long cells are cut with …."""
    if not result.columns:
        return "(no result)"
    cells = [[_cell(v, max_width) for v in row] for row in result.rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(result.columns)]
    numeric = [
        all(isinstance(row[i], (int, float)) or row[i] is None for row in result.rows)
        for i in range(len(result.columns))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)]
        return "  ".join(parts).rstrip()

    lines = [line(result.columns), line(["-" * w for w in widths])]
    lines += [line(row) for row in cells]
    count = len(result.rows)
    lines.append(f"({count} row{'s' if count != 1 else ''})")
    return "\n".join(lines)


def _cell(value: Any, max_width: int) -> str:
    if value is None:
        text = ""
    elif isinstance(value, bytes):
        text = f"<{len(value)} bytes>"
    else:
        text = " ".join(str(value).split()) if isinstance(value, str) else str(value)
    return text if len(text) <= max_width else text[: max_width - 1] + "…"


def _plain(value: Any) -> Any:
    """A value as CSV and JSON carry it: BLOBs as base64 text."""
    return base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value


def write_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]], out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow(["" if v is None else _plain(v) for v in row])
        count += 1
    return count


def write_json(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    out: TextIO,
    json_columns: frozenset[str] = frozenset(),
) -> int:
    """A JSON array of objects, written row by row (an export never sits in memory whole)."""
    nested = [c in json_columns for c in columns]
    count = 0
    out.write("[")
    for row in rows:
        record = {
            c: json.loads(v) if n and isinstance(v, str) else _plain(v)
            for c, v, n in zip(columns, row, nested)
        }
        out.write(",\n " if count else "\n ")
        out.write(json.dumps(record, ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def write_result(result: Result, fmt: str, out: TextIO) -> int:
    if fmt == "csv":
        return write_csv(result.columns, result.rows, out)
    return write_json(result.columns, result.rows, out)


# --- export -----------------------------------------------------------------------


def view_names(conn: sqlite3.Connection) -> list[str]:
    rows = _cursor(conn, "SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name")
    return [name for (name,) in rows]


def export(conn: sqlite3.Connection, fmt: str, out: TextIO, view: str | None = None) -> int:
    """Write every observation (or every row of ``view``) as CSV or JSON; returns the row count."""
    if fmt not in FORMATS:
        raise QueryError(f"unknown format {fmt!r}: use csv or json")
    json_columns: frozenset[str] = frozenset()
    if view is None:
        cursor = _cursor(conn, OBSERVATIONS_SQL)
        json_columns = OBSERVATION_JSON_COLUMNS
    else:
        views = view_names(conn)
        if view not in views:
            raise QueryError(f"no view {view!r}; the views are: {', '.join(views)}")
        quoted = view.replace('"', '""')
        cursor = _cursor(conn, f'SELECT * FROM "{quoted}"')
    columns = [d[0] for d in cursor.description]
    rows = _rows(cursor)
    if fmt == "csv":
        return write_csv(columns, rows, out)
    return write_json(columns, rows, out, json_columns)


def _rows(cursor: sqlite3.Cursor) -> Iterator[tuple[Any, ...]]:
    try:
        for row in cursor:  # noqa: UP028 - `yield from` would close the cursor with this generator
            yield row
    except sqlite3.Error as exc:
        raise QueryError(_describe(exc)) from None


def export_to_file(conn: sqlite3.Connection, fmt: str, path: Path, view: str | None = None) -> int:
    """``export`` into ``path``, written to a temporary file first and then moved into place."""
    with tempfiles.replacing(path) as temporary, open(temporary, "w", encoding="utf-8", newline="") as out:
        count = export(conn, fmt, out, view)
    return count


# --- history ----------------------------------------------------------------------


def history(conn: sqlite3.Connection, doi: str) -> list[Series]:
    """Each source's daily counts of a tracked work; sources with no count yet come last, empty."""
    if next(_cursor(conn, "SELECT 1 FROM works WHERE doi = ?", [doi]), None) is None:
        tracked = [d for (d,) in _cursor(conn, "SELECT doi FROM works ORDER BY id")]
        raise QueryError(
            f"{doi} is not a tracked work in this database; tracked: {', '.join(tracked) or 'none'}"
        )
    points: dict[str, list[tuple[str, int]]] = {}
    for source, day, citations in _cursor(
        conn,
        "SELECT source, day, citations FROM count_history WHERE doi = ? AND citations IS NOT NULL "
        "ORDER BY source, day",
        [doi],
    ):
        points.setdefault(source, []).append((day, citations))
    outcomes = dict(_cursor(conn, "SELECT source, outcome FROM latest_counts WHERE doi = ?", [doi]))
    names = sorted(points, key=_source_order) + sorted(
        set(outcomes) - set(points), key=_source_order
    )
    return [Series(name, points.get(name, []), outcomes.get(name)) for name in names]


def _source_order(name: str) -> tuple[int, str]:
    from monitor.sources import SOURCES

    order = list(SOURCES)
    return (order.index(name) if name in order else len(order), name)


def sparkline(values: Sequence[float], width: int = 30) -> str:
    """A one-line chart of ``values``: each bar the last value of its share of the series."""
    if not values:
        return ""
    if len(values) > width:
        values = [values[(i + 1) * len(values) // width - 1] for i in range(width)]
    low, high = min(values), max(values)
    if high == low:
        return BARS[0] * len(values)
    return "".join(BARS[round((v - low) / (high - low) * (len(BARS) - 1))] for v in values)


def history_lines(doi: str, series: Sequence[Series]) -> list[str]:
    """The terminal rendering of ``history``: per source a sparkline and change, then each day."""
    lines = [doi]
    width = max((len(s.source) for s in series), default=8)
    for s in series:
        if not s.points:
            outcome = f" (last outcome: {s.last_outcome})" if s.last_outcome else ""
            lines.append(f"{s.source:<{width}}  no count yet{outcome}")
            continue
        values = [c for _, c in s.points]
        first_day, last_day = s.points[0][0], s.points[-1][0]
        change = values[-1] - values[0]
        span = f"{first_day} to {last_day}" if len(values) > 1 else first_day
        lines.append(
            f"{s.source:<{width}}  {sparkline(values)}  {values[0]} → {values[-1]} "
            f"({change:+d}), {span}"
        )
        lines += [f"{'':<{width}}  {day}  {count}" for day, count in s.points]
    return lines


# --- backup -----------------------------------------------------------------------


def backup(source: Path, destination: Path, force: bool = False) -> int:
    """Copy the database at ``source`` to ``destination`` with ``VACUUM INTO``; returns its size.

    The copy is one read transaction: consistent, whatever a writer does meanwhile,
    and compacted. It is written beside ``destination`` and moved into place, so a
    failed or interrupted backup leaves no partial file (and the next backup removes
    one a ``kill -9`` left). An existing file is replaced only with ``force`` (its
    stale ``-wal`` and ``-shm`` files go with it).
    """
    store.check_ours(source)
    conn = database.connect_readonly(source)
    try:
        if destination.exists():
            if destination.resolve() == source.resolve():
                raise QueryError(f"{destination} is the database itself: choose another path")
            if not force:
                raise QueryError(f"{destination} already exists: pass --force to overwrite it")
            if destination.is_dir():
                raise QueryError(f"{destination} is a folder: give a file path")
        with tempfiles.replacing(destination) as temporary:
            try:
                conn.execute("VACUUM INTO ?", [str(temporary)])
            except sqlite3.Error as exc:  # a full disk is the copy's; damage is the database's
                full = exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_FULL
                raise database.error(exc, destination if full else source) from None
            for stale in ("-wal", "-shm"):
                destination.with_name(destination.name + stale).unlink(missing_ok=True)
    finally:
        conn.close()
    return destination.stat().st_size
