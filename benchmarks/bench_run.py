"""Benchmark: one run over many works against the local HTTP fake, and a large ledger merge.

    python benchmarks/bench_run.py [--works 1000] [--citing 5000]

Prints wall time, requests made and peak memory; targets are checked and reported
(exit 1 when one is missed). Nothing here is a test: numbers depend on the machine.

Targets (2 cores): a run over 1000 works with OpenAlex and Crossref in under 30 s
(it is batch requests: 10 to OpenAlex, 20 to Crossref), its report (1000 pages plus a
dated archive copy) in under 60 s; a 5000-work citing list
merged into the ledger in under 20 s; peak Python memory under 300 MB.
"""

from __future__ import annotations

import argparse
import copy
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor import citing, collect, report, store
from monitor.config import load_config
from monitor.models import CitingList, CitingRecord, Outcome
from tests.conftest import DEFAULT_DOI
from tests.fakeapi import FakeAPI


def bench_run(n_works: int, folder: Path) -> tuple[float, int, float]:
    with FakeAPI() as fake:
        template_oa = fake.records["openalex"][DEFAULT_DOI]
        template_cr = fake.records["crossref"][DEFAULT_DOI]
        dois = [f"10.5555/bench.{i}" for i in range(n_works)]
        for i, doi in enumerate(dois):
            oa = copy.deepcopy(template_oa)
            oa.update(doi=f"https://doi.org/{doi}", id=f"https://openalex.org/W9{i:09d}", cited_by_count=i % 97)
            fake.records["openalex"][doi] = oa
            cr = copy.deepcopy(template_cr)
            cr.update({"DOI": doi, "is-referenced-by-count": i % 89})
            fake.records["crossref"][doi] = cr
        config_path = folder / "config.toml"
        lines = ["[citing]", "enabled = false"]
        lines += [f'[[works]]\ndoi = "{d}"' for d in dois]
        for name in ("openalex", "crossref"):
            lines += [f"[sources.{name}]", f'base_url = "{fake.base_url(name)}"', "requests_per_second = 50"]
        for name in ("semanticscholar", "opencitations", "europepmc", "icite", "pubmed", "dimensions", "unpaywall", "scopus", "altmetric"):
            lines += [f"[sources.{name}]", "enabled = false"]
        config_path.write_text("\n".join(lines) + "\n")
        config = load_config(config_path)
        started = time.perf_counter()
        summary = collect.run(config)
        elapsed = time.perf_counter() - started
        assert not summary.failed, [s.message for s in summary.sources]
        started = time.perf_counter()
        written = report.write_report(config)
        report_s = time.perf_counter() - started
        assert written.pages == n_works
        return elapsed, len(fake.requests), report_s


def bench_ledger(n_citing: int, folder: Path) -> float:
    db = store.open_db(folder / "ledger.db")
    now = datetime.now(UTC)
    ids = store.sync_works(db, [__import__("monitor.models", fromlist=["Work"]).Work(DEFAULT_DOI)], now)
    run_id = store.start_run(db, now)
    records = tuple(
        CitingRecord("openalex", doi=f"10.5555/citing.{i}", pmid=str(30000000 + i), title=f"Citing work number {i} on autophagy",
                     year=2020 + i % 6, authors=({"name": f"Author {i}"},))
        for i in range(n_citing)
    )
    listing = CitingList(DEFAULT_DOI, "openalex", Outcome.OK, records, complete=True, count_at_fetch=n_citing)
    started = time.perf_counter()
    with db.atomic():
        citing.save_list(db, run_id, ids[DEFAULT_DOI], listing, [{"name": "Yan Cheng"}], {}, now)
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--works", type=int, default=1000)
    parser.add_argument("--citing", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_s, requests, report_s = bench_run(args.works, Path(tmp))
        ledger_s = bench_ledger(args.citing, Path(tmp))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results = [
        (f"run over {args.works} works (OpenAlex + Crossref)", run_s, 30.0, f"{requests} requests"),
        (f"report of {args.works} work pages", report_s, 60.0, ""),
        (f"ledger merge of {args.citing} citing works", ledger_s, 20.0, ""),
    ]
    ok = True
    for name, seconds, target, extra in results:
        met = seconds <= target
        ok &= met
        print(f"{name}: {seconds:.2f} s (target {target:g} s, {'met' if met else 'MISSED'}) {extra}")
    met = peak_mb <= 300
    ok &= met
    print(f"peak memory: {peak_mb:.0f} MB (target 300 MB, {'met' if met else 'MISSED'})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
