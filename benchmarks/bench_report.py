"""Benchmark: the report for many works, in full, then after quiet nights, as a real night goes.

    python benchmarks/bench_report.py [--works 100000] [--changed 0.01] [--styles apa]

A synthetic database (tests/synthetic_db.py: three batched sources, two daily runs,
citing works, alerts) is written straight through SQL; then ``citation-monitor report``
runs, in a child process each time so that its own peak memory is measured:

1. the first report: every page is built (its time is printed, with no target: it is paid
   once);
2. a quiet run: every work observed again by every source, every value as it was (a real
   night stores a row per work and batched source whether or not anything changed); the
   report rewrites only the pages whose shown changes moved (those of the works that
   changed the day before: their "since the previous run" falls to 0);
3. a run like the last, but ``--changed`` of the works have new counts; the report again;
4. a quiet run again: only the pages of the works changed the night before are rewritten.

Targets for the third report (2 cores): under 120 s and a peak RSS under 300 MB at
100,000 works with 1 % changed, rewriting only the changed works' pages (and the fourth
no more than those); memory flat in the number of works. Also printed: the time to compute every work's key, the size of
index.html (under 1 MB at 1,000 works), of the whole site and of the dated archive.

``--styles`` sets ``[report] citation_styles`` for every report. The default, APA alone,
keeps the first full build of 100,000 works to about a quarter of an hour; the later
reports' time does not depend on it, since a work whose record did not change reuses its
formatted citations. Nothing here is a test: numbers depend on the machine. Exit 1 when a
target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor import store
from tests import synthetic_db

# Peak RSS from the child's own VmHWM: getrusage's ru_maxrss would carry over the peak of
# this process (which writes the synthetic database) across fork and exec.
CHILD = """
import json, sys, time
from monitor.config import load_config
from monitor.report import write_report
started = time.perf_counter()
written = write_report(load_config(sys.argv[1]))
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"seconds": time.perf_counter() - started, "pages": written.pages, "built": written.built,
                  "rss_mb": peak / 1024}))
"""
# The keys alone: one pass over the database, as a report makes it before building anything.
KEYS = """
import json, sys, time
from monitor import store
from monitor.config import load_config
from monitor.report import keys
from monitor.report.pages import context
config = load_config(sys.argv[1])
db = store.open_reader(config.database)
started = time.perf_counter()
n = sum(1 for _ in keys.work_keys(db, context(db, None, config.report.citation_styles, True), ""))
print(json.dumps({"seconds": time.perf_counter() - started, "works": n}))
"""


def report(config: Path, child: str = CHILD) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", child, str(config)], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--works", type=int, default=100_000)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--styles", default="apa", help="comma-separated CSL style names")
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-report-"))
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.toml"
    styles = ", ".join(json.dumps(s.strip()) for s in args.styles.split(","))
    config.write_text(f'[monitor]\ndatabase = "state/monitor.db"\nreport_dir = "state/report"\n'
                      f"{synthetic_db.CONFIG}[report]\ncitation_styles = [{styles}]\n")
    database = folder / "state/monitor.db"
    started = time.perf_counter()
    dois = synthetic_db.populate(database, works=args.works, runs=2, citing=3)
    print(f"{args.works} works written in {time.perf_counter() - started:.1f} s ({folder})")

    first = report(config)
    site = folder / "state/report"
    print(f"first report: {first['pages']} pages in {first['seconds']:.1f} s "
          f"({first['seconds'] / max(1, first['pages']) * 1000:.1f} ms a page), peak RSS {first['rss_mb']:.0f} MB",
          flush=True)

    everyone = range(args.works)
    candidates = [i for i in everyone if synthetic_db.count(i, 3) != synthetic_db.count(i, 1)]
    step = max(1, round(len(candidates) / (args.works * args.changed))) if args.changed else 0
    changed = set(candidates[::step]) if step else set()
    nights = (("quiet run", 2, set()), (f"quiet run, {len(changed)} works changed ({args.changed:.0%})", 3, changed),
              ("quiet run after it", 4, set()))
    results = []
    for name, day, moved in nights:
        db = store.open_db(database)
        with db.atomic():  # the works that changed on day 3 keep day 3's values, the others day 1's
            synthetic_db.add_run(db, dois, day, sorted(moved), unchanged=[i for i in everyone if i not in moved],
                                 same_as=lambda i, day=day: 3 if i in changed and day > 3 else 1)
        db.close()
        keyed = report(config, KEYS)
        results.append(report(config))
        print(f"after a {name}: {results[-1]['built']} of {results[-1]['pages']} pages written in "
              f"{results[-1]['seconds']:.1f} s (keys {keyed['seconds']:.1f} s), peak RSS {results[-1]['rss_mb']:.0f} MB",
              flush=True)
    second = results[1]
    index = (site / "index.html").stat().st_size
    archive = size(folder / "state/.report.site/archive")
    print(f"index.html {index / 1024:.0f} KB; the site {size(site) / 2**20:.0f} MB; "
          f"the dated archive {archive / 1024:.0f} KB ({len(list((folder / 'state/.report.site/archive').iterdir()))} days)")

    misses = []
    if args.works >= 100_000 and second["seconds"] > 120:
        misses.append(f"second report {second['seconds']:.0f} s > 120 s")
    if second["built"] > len(changed):
        misses.append(f"{second['built']} pages written, {len(changed)} works changed")
    if results[2]["built"] > len(changed):
        misses.append(f"{results[2]['built']} pages written after the quiet run that followed")
    if max(r["rss_mb"] for r in results) > 300:
        misses.append(f"peak RSS {max(r['rss_mb'] for r in results):.0f} MB > 300 MB")
    if args.works <= 1000 and index > 2**20:
        misses.append(f"index.html {index} bytes > 1 MB")
    print("targets met" if not misses else "MISSED: " + "; ".join(misses))
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
