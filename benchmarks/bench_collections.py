"""Benchmark: a large institution collection against the local HTTP fake.

    python benchmarks/bench_collections.py [--works 5000]

Resolves a ROR collection of N works (OpenAlex: the institution, then cursor pages of 100),
then runs once over them (OpenAlex only, no citing lists), computes the collection's
metrics and writes the report (every work page, the index and the collection's pages).
Requests are counted at the fake. Nothing here is a test: times depend on the machine.

Targets (2 cores): resolving takes at most ceil(N / 100) + 3 requests to OpenAlex (the
institution, the pages, the empty last page); the run over N works in under 60 s; the
collection's metrics in under 30 s; the report again with nothing changed (every work page
linked, the index and the collection's pages written) in under 30 s.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor import collect, portfolio, store
from monitor.config import load_config
from monitor.report import write_report
from monitor.sources import SOURCES
from tests.fakeapi import FakeAPI
from tests.fakeapi.routes import openalex as fake_openalex

ROR = "02nr0ka47"


def work(i: int) -> dict:
    """A small work object (OpenAlex field names), light enough to hold thousands of."""
    doi = f"10.5555/inst.{i}"
    url = f"https://openalex.org/W7{i:09d}"
    return {
        "id": url, "doi": f"https://doi.org/{doi}", "title": f"Work {i}", "display_name": f"Work {i}",
        "publication_year": 2016 + i % 10, "publication_date": f"{2016 + i % 10}-03-01",
        "ids": {"openalex": url, "doi": f"https://doi.org/{doi}"}, "cited_by_count": (i * 7) % 113,
        "fwci": round((i % 40) / 10, 1), "counts_by_year": [{"year": 2026, "cited_by_count": i % 5}],
        "citation_normalized_percentile": {"value": 0.5, "is_in_top_1_percent": i % 100 == 0,
                                           "is_in_top_10_percent": i % 10 == 0},
        "open_access": {"is_oa": i % 3 == 0, "oa_status": "gold" if i % 3 == 0 else "closed"},
    }


def bench(n_works: int, folder: Path) -> dict[str, float]:
    with FakeAPI() as fake:
        fake_openalex.add_institution(fake, ROR, "Benchmark University")
        fake_openalex.add_listing(fake, f"institutions.ror:{ROR}", [work(i) for i in range(n_works)])
        lines = ["[citing]", "enabled = false", "[http]", "timeout_seconds = 30",
                 "[report]", 'citation_styles = ["apa"]']
        for name in SOURCES:
            lines += [f"[sources.{name}]", f'base_url = "{fake.base_url(name)}"', "requests_per_second = 100",
                      f"enabled = {'true' if name == 'openalex' else 'false'}"]
        lines += ["[[collections]]", 'name = "university"', f'ror = "https://ror.org/{ROR}"']
        path = folder / "config.toml"
        path.write_text("\n".join(lines) + "\n")
        config = load_config(path)
        started = time.perf_counter()
        summary = collect.run(config)
        run_s = time.perf_counter() - started
        [collection] = summary.collections
        assert collection.size == n_works, collection
        listing = [r for r in fake.hits("openalex") if r.arg("filter", "").startswith("institutions.ror")]
        resolving = len(listing) + len(fake.hits("openalex", "/institutions"))
        db = store.open_db(config.database)
        try:
            started = time.perf_counter()
            metrics = portfolio.record_metrics(db, summary.run_id, datetime.now(UTC))["university"]
            metrics_s = time.perf_counter() - started
        finally:
            db.close()
        assert metrics.works == n_works and metrics.h_index, metrics
        started = time.perf_counter()
        write_report(config)
        first_report_s = time.perf_counter() - started
        started = time.perf_counter()
        write_report(config)
        report_s = time.perf_counter() - started
        pages = sorted((config.report_dir / "collections").glob("university*.html"))
        return {"requests": resolving, "run_s": run_s, "metrics_s": metrics_s,
                "lookups": len(fake.hits("openalex")) - resolving, "h_index": metrics.h_index,
                "first_report_s": first_report_s, "report_s": report_s, "pages": len(pages),
                "page_kb": (config.report_dir / "collections/university.html").stat().st_size / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--works", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = bench(args.works, Path(tmp))
    allowed = math.ceil(args.works / 100) + 3
    checks = [
        (f"resolving {args.works} works: {result['requests']:.0f} requests to OpenAlex",
         result["requests"] <= allowed, f"at most {allowed}"),
        (f"run over them ({result['lookups']:.0f} look-up requests): {result['run_s']:.2f} s",
         result["run_s"] <= 60, "60 s"),
        (f"metrics of the collection (h-index {result['h_index']:.0f}): {result['metrics_s']:.2f} s",
         result["metrics_s"] <= 30, "30 s"),
        ((f"report again, nothing changed (first: {result['first_report_s']:.1f} s; {result['pages']:.0f} "
         f"collection pages, the first {result['page_kb']:.0f} kB): {result['report_s']:.2f} s"),
         result["report_s"] <= 30, "30 s"),
    ]
    for text, met, target in checks:
        print(f"{text} (target {target}, {'met' if met else 'MISSED'})")
    return 0 if all(met for _, met, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
