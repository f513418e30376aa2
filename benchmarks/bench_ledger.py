"""Benchmark: merging citing lists into the ledger (``citing.save_list``), alone.

    python benchmarks/bench_ledger.py [--works 2000] [--per-list 20]

N works, each cited by ``--per-list`` works drawn from a pool of 10 N (so citing works are
shared between tracked works, as in a field). Two runs, each storing three sources' lists
of every work in one transaction: iCite's and PubMed's kind (a PMID alone), then an
OpenAlex-like one (DOI, PMID, OpenAlex id, title, year, venue, an author), which fills in
and links what the PMIDs began. The second run lists the same works again: every record is
one seen before. Each source's lists are stored a minute after the last source's, as a run
stores each source's chunks at moments of their own. Prints, per run and source, the CPU per
record and the SQL statements per record (counted by SQLite's trace callback, which counts
each row of an ``executemany``: the count does not depend on the machine, the CPU does).
Nothing here is a test.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor import citing, store
from monitor.models import CitingList, CitingRecord, Outcome, Work

TRACKED_AUTHORS = [{"name": "A Smith"}, {"name": "B Jones"}]


def record(source: str, citer: int) -> CitingRecord:
    if source != "openalex":
        return CitingRecord(source=source, pmid=str(100_000 + citer))
    return CitingRecord(source=source, doi=f"10.9/c{citer}", pmid=str(100_000 + citer),
                        openalex_id=f"W{citer}", title=f"Citing work number {citer}", year=2020,
                        venue="A Journal", authors=({"name": f"X Y{citer}"},))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--works", type=int, default=2000)
    parser.add_argument("--per-list", type=int, default=20)
    args = parser.parse_args()
    n, per_list = args.works, args.per_list
    rng = random.Random(7)
    works = [Work(f"10.5555/ledger.{i}") for i in range(n)]
    cited_by = {w.doi: rng.sample(range(10 * n), per_list) for w in works}
    with tempfile.TemporaryDirectory() as tmp:
        db = store.open_db(Path(tmp) / "monitor.db")
        statements = [0]
        db.conn.set_trace_callback(lambda _: statements.__setitem__(0, statements[0] + 1))
        now = datetime(2026, 1, 1, 6, tzinfo=UTC)
        ids = store.sync_works(db, works, now)
        print(f"{n:,} works, {per_list} citing works each ({n * per_list:,} records a source and run)")
        for run_name in ("new", "seen before"):
            run_id = store.start_run(db, now)
            for minute, source in enumerate(("icite", "pubmed", "openalex")):
                at = now + timedelta(minutes=minute)  # each source's lists stored at a moment of their own
                cpu, before = time.process_time(), statements[0]
                with db.atomic():
                    for work in works:
                        records = tuple(record(source, c) for c in cited_by[work.doi])
                        listing = CitingList(work.doi, source, Outcome.OK, records, complete=True,
                                             count_at_fetch=per_list)
                        citing.save_list(db, run_id, ids[work.doi], listing, TRACKED_AUTHORS, {}, at)
                cpu = time.process_time() - cpu
                print(f"  {run_name:<12} {source:<9} {1e6 * cpu / (n * per_list):7.1f} µs CPU, "
                      f"{(statements[0] - before) / (n * per_list):5.2f} statements a record")
            now += timedelta(days=1)
        db.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
