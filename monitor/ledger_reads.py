"""What merging one citing list into the ledger (``citing.save_list``) reads once, before
its first record, instead of a query per record: on a cold run at 100,000 works the ledger
merges millions of records (iCite's and PubMed's lists above all), one statement each
counting.

Each read is exact only while nothing it holds can have changed behind it: a row the list
has written is read again, and after two citing works were merged (rows moved between
them) everything is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from typing import Any

import sqlite_utils

from monitor import store
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


class CitersByPmid:
    """The citers a list of PMID-only records may be, read a few hundred PMIDs to a query,
    and kept up to date with the citers the list adds. ``stale`` once rows were merged."""

    def __init__(self, db: sqlite_utils.Database, pmids: Sequence[str]):
        self.rows: dict[str, dict[int, dict[str, Any]]] = {}
        self.stale = False
        for part, marks in store.in_parts(sorted(set(pmids))):
            for row in store.rows(db, f"SELECT * FROM citers WHERE pmid IN ({marks})", part):
                self.rows.setdefault(str(row["pmid"]), {})[row["id"]] = row

    @classmethod
    def for_list(cls, db: sqlite_utils.Database, records: Sequence[CitingRecord]) -> CitersByPmid | None:
        """The citers of a list whose every record names a PMID alone; else None."""
        if not records or not all(names_a_pmid_alone(r) for r in records):
            return None
        return cls(db, [r.pmid for r in records if r.pmid])

    def matching(self, pmid: str) -> dict[int, dict[str, Any]]:
        return dict(self.rows.get(pmid, {}))

    def added(self, pmid: str, row: dict[str, Any]) -> None:
        self.rows.setdefault(pmid, {})[row["id"]] = row
