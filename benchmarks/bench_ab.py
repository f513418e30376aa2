"""Benchmark: two versions of the code, quiet runs alternating, on one stand-in and one database.

    python benchmarks/bench_ab.py --works 10000 --a /path/to/checkout-A --b /path/to/checkout-B [--rounds 4]
        [--keep DIR | --database DIR/monitor.db]

For a change whose effect is smaller than the machine's own drift (on a shared 2-core machine
the same run's CPU differs by a sixth from one minute to the next): both checkouts' quiet runs
take turns (A B, B A, A B, ...), each in a fresh process that imports that checkout's
``monitor``, against the same ``benchmarks/standin.py`` (rates x10, 300 ms) and the same
database, filled first by a cold run and a catch-up run of checkout B at x100. Prints each
run's wall time and CPU (all, storing, the run's process), then each side's range and mean.
The two checkouts must share the database's schema. Building the database takes about ten
minutes at 10,000 works: ``--keep DIR`` leaves it in DIR, and ``--database DIR/monitor.db``
starts from a copy of one so kept (built for the same ``--works``; the stand-in's answers
depend on nothing else) instead of building one. Nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from contextlib import closing
from pathlib import Path

CHILD = r"""
import json, sys
checkout, config, base = sys.argv[1:4]
sys.path[:0] = [checkout, checkout + "/benchmarks"]
import monitor
assert monitor.__file__.startswith(checkout), f"{monitor.__file__} is not {checkout}'s"
import bench_scale
from monitor.config import load_config
run = bench_scale.one_run(load_config(config), base, 10)
print(json.dumps({k: run[k] for k in ("wall_s", "cpu_s", "store_cpu_s", "run_process_cpu_s", "requests")}))
"""


def quiet_run(checkout: Path, config: Path, base: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(checkout), str(config), base],
                         capture_output=True, text=True, cwd=checkout, check=False)  # cwd: the writer runs ``-m monitor.writer``
    if out.returncode:
        raise SystemExit(f"{checkout}: the quiet run failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--works", type=int, default=10_000)
    parser.add_argument("--a", type=Path, required=True, help="a checkout (the code before, say)")
    parser.add_argument("--b", type=Path, required=True, help="another checkout (the code after)")
    parser.add_argument("--rounds", type=int, default=4, help="quiet runs of each (default 4)")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--keep", type=Path, help="a folder to copy the database built into, for --database")
    start.add_argument("--database", type=Path, help="start from a copy of this database instead of building one")
    args = parser.parse_args()
    if args.database and not args.database.is_file():
        parser.error(f"--database {args.database}: no such file (make one with --keep DIR)")
    a, b = args.a.resolve(), args.b.resolve()
    sys.path[:0] = [str(b), str(b / "benchmarks")]
    import bench_scale

    from monitor.config import load_config

    os.environ.update(bench_scale.KEYS)
    proc, base = bench_scale.start_standin(args.works, 100.0, 0.01)
    runs: dict[str, list[dict]] = {"A": [], "B": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            built = Path(tmp) / "monitor.db"  # the configs' database = "monitor.db"
            if args.database:
                shutil.copyfile(args.database, built)
            else:
                for _ in range(2):  # cold, then whatever the budgets left
                    catch_up = bench_scale.write_config(Path(tmp), base, args.works, 100, catch_up=True)
                    bench_scale.one_run(load_config(catch_up), base, 100)
                if args.keep:  # SQLite's backup: the whole of it, what its -wal holds too, in one file
                    args.keep.mkdir(parents=True, exist_ok=True)
                    with closing(sqlite3.connect(built)) as source, closing(sqlite3.connect(args.keep / "monitor.db")) as kept:
                        source.backup(kept)
            bench_scale.call(f"{base}/_tune?speed=10&latency=0.3", "POST")
            config = bench_scale.write_config(Path(tmp), base, args.works, 10)
            for i in range(args.rounds):
                for side in ("A", "B") if i % 2 == 0 else ("B", "A"):
                    run = quiet_run(a if side == "A" else b, config, base)
                    runs[side].append(run)
                    print(side, json.dumps(run), flush=True)
    finally:
        proc.kill()
    for side, checkout in (("A", a), ("B", b)):
        for key in ("wall_s", "run_process_cpu_s", "store_cpu_s"):
            values = [r[key] for r in runs[side]]
            print(f"{side} ({checkout}) {key}: {min(values)}-{max(values)}, mean {statistics.mean(values):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
