"""What merging one citing list into the ledger (``citing.save_list``) reads once, before
its first record, instead of a query per record: on a cold run at 100,000 works the ledger
merges millions of records (iCite's and PubMed's lists above all), one statement each
counting.

Each read is exact only while nothing it holds can have changed behind it: a citation or
sighting the list has written is read again, a citer the list adds or changes is changed in
what was read (``CitersOfList``), and after two citing works were merged (rows moved between
them) everything is read again, record by record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from typing import Any

import sqlite_utils

from monitor import ledger, store
from monitor.models import CitingRecord


class ReadOnce:
    """A table's rows that one list may touch, read in one query before it, by ``key``:
    each key's row is taken from them the first time it is asked for; after that (the row
    may have been written since), or once they are ``stale``, ``read(*args)`` reads it."""

    def __init__(self, rows: Iterable[dict[str, Any]], key: str):
        self.rows = {row[key]: row for row in rows}
        self.asked: set[int] = set()
        self.stale = False

    def row(self, key: int, read: Callable[..., dict[str, Any] | None], *args: Any) -> dict[str, Any] | None:
        first = key not in self.asked and not self.stale
        self.asked.add(key)
        return self.rows.get(key) if first else read(*args)


def names_a_pmid_alone(record: CitingRecord) -> bool:
    """Whether the record says nothing of its work but a PMID (iCite's and PubMed's lists):
    then the citers it is are exactly those with that PMID, and it changes nothing in them.
    (As ``record == CitingRecord(record.source, pmid=record.pmid)``, without making one.)"""
    return record.pmid is not None and all(getattr(record, name) == blank for name, blank in _BLANK)


# Every field a record compares by, but its source and PMID, as a record that knows nothing has it.
_BLANK = tuple(
    (f.name, f.default) for f in fields(CitingRecord) if f.compare and f.name not in ("source", "pmid")
)


class CitersOfList:
    """The citers a list's records may be (by an identifier or a normalised title: what each
    record's matching query, ``citing._matching_citers``, would find), read a few hundred
    values to a query before its first record, and kept up to date with the citers the list
    adds and changes. ``stale`` once rows were merged: then each record asks again."""

    def __init__(self, db: sqlite_utils.Database, records: Sequence[CitingRecord]):
        self.stale = False
        self._rows: dict[int, dict[str, Any]] = {}
        self._index: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
        for start in range(0, len(records), _RECORDS_A_QUERY):  # each row read once: one query, ORs
            wanted: dict[str, set[str]] = {key: set() for key in _COLUMNS}
            for record in records[start : start + _RECORDS_A_QUERY]:
                for key, value in record_keys(record):
                    wanted[key].add(value)
            terms = [(column, sorted(values)) for key, values in wanted.items() if values for column in _COLUMNS[key]]
            if not terms:
                continue
            where = " OR ".join(f"{column} IN ({', '.join('?' * len(values))})" for column, values in terms)
            for row in store.rows(db, f"SELECT * FROM citers WHERE {where}", [v for _, values in terms for v in values]):
                if row["id"] not in self._rows:
                    self.added(row)

    def matching(self, record: CitingRecord) -> dict[int, dict[str, Any]]:
        """The rows the record's matching query would find, by id (the rows themselves: what
        the list changes in them goes through ``changed``)."""
        found: dict[int, dict[str, Any]] = {}
        for key in record_keys(record):
            found.update(self._index.get(key, {}))
        return found

    def ids(self) -> set[int]:
        """The citers read or added so far."""
        return set(self._rows)

    def with_pmid(self, pmid: str) -> dict[int, dict[str, Any]]:
        return self._index.get(("pmid", pmid), {})

    def added(self, row: dict[str, Any]) -> None:
        """A citer the list added (or read)."""
        self._rows[row["id"]] = row
        for key in _row_keys(row):
            self._index.setdefault(key, {})[row["id"]] = row

    def changed(self, citer_id: int, changes: dict[str, Any]) -> None:
        """What the list changed in a citer."""
        row = self._rows[citer_id]
        for key in _row_keys(row):
            del self._index[key][citer_id]
        row.update(changes)
        self.added(row)


_RECORDS_A_QUERY = 100  # at most 600 values a query: 6 terms of 100 (old SQLites take 999)
# A record's key → the columns its matching query compares it with.
_COLUMNS = {"doi": ("doi", "preprint_doi"), "pmid": ("pmid",), "openalex_id": ("openalex_id",),
            "s2_id": ("s2_id",), "title": ("norm_title",)}


def record_keys(record: CitingRecord) -> list[tuple[str, str]]:
    """(key, value) for each thing a citer may be found by: its identifiers, its title."""
    keys = [(key, str(value)) for key in ("doi", "pmid", "openalex_id", "s2_id") if (value := getattr(record, key))]
    title = ledger.normalize_title(record.title)
    return [*keys, ("title", title)] if title else keys


def _row_keys(row: dict[str, Any]) -> set[tuple[str, str]]:
    return {(key, str(row[column])) for key, columns in _COLUMNS.items() for column in columns
            if row.get(column) not in (None, "")}
