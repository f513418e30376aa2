"""Benchmark: a cold run then a quiet run over N works, every source, against a stand-in that
enforces each API's rate with 429s and answers after a set latency (benchmarks/standin.py).

    python benchmarks/bench_scale.py --works 1000 [--speed 10] [--quiet-speed 1] [--latency 0.3] [--json out.json] [--spans]

Time is scaled by ``--speed`` (10 by default, to keep it short): the stand-in's rates and
Crossref's concurrency limit are the published ones times 10, and so are the
``requests_per_second`` and ``max_concurrency`` of our config (every other setting is the
default: ``refresh_days``, ``max_requests``, deadlines). A latency of 300 ms at 10 times the
rate stands for 3 s at the real one; the ratios below are what matter. ``--quiet-speed``
times the quiet run alone (the stand-in and our config): ``--quiet-speed 1`` asks at the
APIs' published rates, where a quiet run's CPU no longer hides behind a floor ten times
too short (a cold run at x1 takes hours at 10,000 works).

Prints per source and run: requests, 429s, wall time, and the floor (requests ÷ rate, the
least time those requests can take at the source's rate); then the targets, each a ratio in
the same run. Nothing here is a test: numbers depend on the machine (exit 1 when a target
is missed, to be read, not gated on).

Targets (issue 12): each run within 1.2x the floor of its slowest source; a quiet run at
1,000 works sends at most 700 requests, and at 10,000 works at most 0.05 requests per
work and batched source, and at most max_requests per per-work source; at most 2 ms of
CPU per work and source for parsing and storing (a writer process's included; what the
threads spend in HTTP exchanges, httpx's sending and reading, is measured apart and printed
beside it, with no target); a cold and a quiet run each peak under 300 MB of RSS (its
process's and its writer's at the same moment, sampled every 0.2 s; each process's own
peak, the run's reset as it starts, added is printed beside, a bound; the catch-up run, this
benchmark's device at x100 with no budget, is printed with no target, and a quiet run after
it in the same process starts from the memory it left held: ``--quiet-only`` measures one
alone); a quiet run adds at most 150 bytes per work and source to the database.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Self
from urllib.request import Request, urlopen

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor import collect, fetching, memory, writer
from monitor.config import load_config
from monitor.sources import SOURCES

KEYS = {"OPENALEX_API_KEY": "k-7f3c9a2e51", "SCOPUS_API_KEY": "k-7f3c9a2e51", "ALTMETRIC_API_KEY": "k-7f3c9a2e51",
        "SEMANTIC_SCHOLAR_API_KEY": "k-7f3c9a2e51"}  # a key must not be a word of the bodies: it is redacted


def start_standin(works: int, speed: float, latency: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "standin.py"), "--works", str(works),
         "--speed", str(speed), "--latency", str(latency)],
        stdout=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("PORT "):
        proc.kill()
        raise SystemExit(f"the stand-in did not start: {line!r}")
    return proc, f"http://127.0.0.1:{line.split()[1]}"


def call(url: str, method: str = "GET") -> dict:
    with urlopen(Request(url, method=method, data=b"" if method == "POST" else None), timeout=30) as r:
        return json.loads(r.read())


def write_config(folder: Path, base: str, works: int, speed: float, catch_up: bool = False) -> Path:
    """Every source at the stand-in, its rate and places in flight times ``speed``, the rest
    the defaults; ``catch_up``: no budget and no deadline to speak of, for the run that
    works off the backlog a cold start leaves (the budgets spread it over many runs)."""
    lines = ["[monitor]", 'contact_email = "bench@example.org"', 'database = "monitor.db"', 'report_dir = "site"', ""]
    if catch_up:
        lines += ["[http]", "source_deadline_minutes = 1440", "run_deadline_minutes = 1440", ""]
    for name, module in SOURCES.items():
        spec = module.SPEC
        lines += [f"[sources.{name}]", f'base_url = "{base}/{name}"',
                  f"requests_per_second = {spec.requests_per_second * speed:g}",
                  f"max_concurrency = {min(64, int(spec.max_concurrency * speed))}",
                  *(["max_requests = 10000000"] if catch_up else []), ""]
    lines += [f'[[works]]\ndoi = "10.5555/bench.{i}"' for i in range(works)]
    path = folder / ("catch-up.toml" if catch_up else "config.toml")
    path.write_text("\n".join(lines) + "\n")
    return path


def db_bytes(path: Path) -> int:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def check_seconds(path: Path) -> float:
    """How long ``PRAGMA quick_check`` takes on the database (a run but the first checks it,
    beside its planning, and stores nothing before it has passed)."""
    started = time.monotonic()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA quick_check(3)").fetchall()
    finally:
        conn.close()
    return time.monotonic() - started


def drop_caches() -> None:
    """Write the page cache back and drop it (root only), so the next run reads from the disk."""
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def peak_mb() -> float:
    """The peak RSS of this process (the run's) since ``reset_peak``, or since it started.
    Not of its children: a child started by ``subprocess`` (vfork, then exec) is charged this
    process's peak at that moment as its own, so a writer process started after a large run
    reported that run's peak as its own."""
    return status_mb("self", "VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> None:
    """Start this process's peak RSS again from what it holds now (Linux: ``clear_refs``), so
    each run's peak is its own, not an earlier run's; what an earlier run left held (memory
    the C library and Python keep for reuse) still counts. Elsewhere, nothing."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def status_mb(pid: int | str, field: str) -> float:
    """A field of /proc/PID/status in MB (VmRSS: now; VmHWM: the process's own peak); 0 when gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


class WriterPeak:
    """A run's writer process's own peak RSS (its VmHWM, read every ``every`` seconds while
    it lives: growth in its last moment is missed), and the most the run's process and its
    writer held at the same moment (their VmRSS, sampled alike)."""

    def __init__(self, every: float = 0.2) -> None:
        self.every, self.pids, self.peak, self.together = every, [], 0.0, 0.0
        self.stop = threading.Event()

    def __enter__(self) -> Self:
        self.original = start = writer.InProcess.__init__

        def started(process, *args, **kwargs):
            start(process, *args, **kwargs)
            self.pids.append(process.process.pid)

        writer.InProcess.__init__ = started
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()
        return self

    def _watch(self) -> None:
        while not self.stop.wait(self.every):
            for pid in self.pids:
                self.peak = max(self.peak, status_mb(pid, "VmHWM"))
                self.together = max(self.together, status_mb("self", "VmRSS") + status_mb(pid, "VmRSS"))

    def __exit__(self, *exc: object) -> None:
        writer.InProcess.__init__ = self.original
        self.stop.set()
        self.thread.join()


class HttpCpu:
    """The CPU the threads spend in HTTP exchanges (``Session._send``: httpx sending the
    request and reading the answer, up to its ``Exchange``), summed over threads: what is
    not parsing and storing, in the issue's words for the CPU target."""

    def __init__(self) -> None:
        self.seconds, self.lock = 0.0, threading.Lock()

    def __enter__(self) -> Self:
        self.original = send = fetching.Session._send

        def timed(session, *args, **kwargs):
            started = time.thread_time()
            try:
                return send(session, *args, **kwargs)
            finally:
                spent = time.thread_time() - started
                with self.lock:
                    self.seconds += spent

        fetching.Session._send = timed
        return self

    def __exit__(self, *exc: object) -> None:
        fetching.Session._send = self.original


def one_run(config, base: str, speed: float) -> dict:
    call(f"{base}/_reset", "POST")
    reset_peak()
    cpu, writer_cpu = cpu_seconds(), cpu_seconds(resource.RUSAGE_CHILDREN)
    main_cpu, started = time.thread_time(), time.monotonic()
    with HttpCpu() as http, WriterPeak() as writer_peak:
        summary = collect.run(config)
    wall = time.monotonic() - started
    cpu, main_cpu = cpu_seconds() - cpu, time.thread_time() - main_cpu
    writer_cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - writer_cpu  # a writer process's, if it had one
    stats = call(f"{base}/_stats")
    sources = {}
    for result in summary.sources:
        rate = config.sources[result.source].requests_per_second
        requests = stats["requests"].get(result.source, 0)
        sources[result.source] = {
            "requests": requests, "throttled": stats["throttled"].get(result.source, 0),
            "wall_s": round(result.elapsed_ms / 1000, 1), "floor_s": round(requests / rate, 1),
            "asked": result.asked, "lists": result.lists, "outcome": result.outcome.value,
            "most_in_flight": stats["most_in_flight"].get(result.source, 0),
            "max_requests": config.sources[result.source].max_requests,
        }
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu + writer_cpu, 1), "span_s": stats["span_s"],
            "answered_per_span": stats["answered_per_span"],
            "store_cpu_s": round(writer_cpu or main_cpu, 1), "stored_in": "process" if writer_cpu else "thread",
            "run_process_cpu_s": round(cpu, 1), "http_cpu_s": round(http.seconds, 1), "sources": sources,
            "run_peak_mb": round(peak_mb()), "writer_peak_mb": round(writer_peak.peak),
            "together_peak_mb": round(writer_peak.together),
            "requests": sum(s["requests"] for s in sources.values())}


def report(name: str, run: dict, spans: bool = False) -> None:
    print(f"\n{name} run: {run['wall_s']} s wall, {run['cpu_s']} s CPU ({run['store_cpu_s']} s of it storing, "
          f"in a {run['stored_in']}; {run['run_process_cpu_s']} s in the run's process, {run['http_cpu_s']} s of "
          f"that in HTTP exchanges), {run['requests']} requests")
    print(f"  {'source':<16}{'requests':>9}{'429s':>6}{'wall s':>8}{'floor s':>9}{'asked':>8}{'lists':>7}  outcome")
    for source, s in run["sources"].items():
        print(f"  {source:<16}{s['requests']:>9}{s['throttled']:>6}{s['wall_s']:>8}{s['floor_s']:>9}"
              f"{s['asked']:>8}{s['lists']:>7}  {s['outcome']}")
    if spans:  # when each source was answered: where it waited (for the GIL, its counts, the store)
        print(f"  answers per {run['span_s']} s:")
        for source, counts in run["answered_per_span"].items():
            print(f"  {source:<16}" + " ".join(f"{n:>4}" for n in counts))
    writer = (f", its writer process's {run['writer_peak_mb']} MB (the two at once, sampled every 0.2 s: "
              f"{run['together_peak_mb']} MB)") if run["stored_in"] == "process" else ""
    print(f"  peak RSS of this run's process: {run['run_peak_mb']} MB{writer}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--works", type=int, default=1000)
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--quiet-speed", type=float, help="the quiet run's speed (default: --speed)")
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--spans", action="store_true", help="also print each source's answers per 10 s of each run")
    parser.add_argument("--keep", type=Path, help="work in this folder and leave it (the database after the runs)")
    parser.add_argument("--quiet-only", action="store_true",
                        help="only the quiet run, on the database --keep left (same --works): the cold and "
                             "catch-up runs' numbers are absent; the database is changed by it")
    parser.add_argument("--drop-caches", action="store_true",
                        help="drop the page cache before each timed run (needs root), as a nightly run "
                             "finds its database: its check then reads it from the disk")
    args = parser.parse_args()
    memory.few_arenas()  # as the command line does, before any thread
    if args.quiet_only and not (args.keep and (args.keep / "monitor.db").exists()):
        parser.error("--quiet-only needs --keep DIR holding the monitor.db of an earlier run")
    os.environ.update(KEYS)
    quiet_speed = args.quiet_speed or args.speed
    proc, base = start_standin(args.works, args.speed, args.latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
            folder = args.keep or Path(tmp)
            config = load_config(write_config(folder, base, args.works, args.speed))
            if args.quiet_only:
                cold = catch_up = None
            else:
                if args.drop_caches:
                    drop_caches()
                cold = one_run(config, base, args.speed)
                report("Cold", cold, args.spans)  # each run's numbers as soon as it ends: a long one may be cut short
                # the backlog of a cold start (lists, per-work sources), at a hundred times the
                # rate and 10 ms: not timed against anything
                call(f"{base}/_tune?speed=100&latency=0.01", "POST")
                catch_up = one_run(load_config(write_config(folder, base, args.works, 100, catch_up=True)), base, 100)
                report("Catch-up (x100, 10 ms, no budget)", catch_up, args.spans)
            call(f"{base}/_tune?speed={quiet_speed:g}&latency={args.latency:g}", "POST")
            quiet_config = load_config(write_config(folder, base, args.works, quiet_speed))
            before = db_bytes(config.database)
            checked = check_seconds(config.database)  # what a quiet run waits for before it stores
            print(f"\nThe database: {before / 1e6:,.0f} MB, its quick_check {checked:.1f} s", flush=True)
            if args.drop_caches:
                drop_caches()
            quiet = one_run(quiet_config, base, quiet_speed)
            report("Quiet", quiet, args.spans)
            grown = db_bytes(config.database) - before
        runs = [run for run in (cold, catch_up, quiet) if run]
    finally:
        proc.kill()
    n, sources = args.works, len(config.enabled_sources)
    asked = sum(s["asked"] for s in quiet["sources"].values())
    batched = [s for s in quiet["sources"] if SOURCES[s].SPEC.batched]
    per_work = [s for s in quiet["sources"] if not SOURCES[s].SPEC.batched]
    checks = []
    timed = [(name, run) for name, run in (("cold", cold), ("quiet", quiet)) if run]
    for name, run in timed:
        floor = max(s["floor_s"] for s in run["sources"].values())
        checks.append((f"{name} run within 1.2x the floor of its slowest source ({floor} s)",
                       run["wall_s"] / floor if floor else 0.0, 1.2, "x"))
    if n <= 1000:
        checks.append(("quiet run: requests in all", quiet["requests"], 700, ""))
    else:
        worst = max(quiet["sources"][s]["requests"] / n for s in batched)
        checks.append(("quiet run: most requests per work of a batched source", worst, 0.05, ""))
    over = max((quiet["sources"][s]["requests"] / quiet["sources"][s]["max_requests"] for s in per_work), default=0)
    checks.append(("quiet run: most requests of a per-work source / its max_requests", over, 1.0, ""))
    for name, run in timed:
        checks.append((f"{name} run: CPU per work and source, parsing and storing: all but the HTTP exchanges (ms)",
                       1000 * (run["cpu_s"] - run["http_cpu_s"]) / (n * sources), 2.0, ""))
        checks.append((f"{name} run: CPU per work and source, storing (ms)",
                       1000 * run["store_cpu_s"] / (n * sources), 2.0, ""))
    for name, run in timed:  # the run's peak: its two processes' RSS at the same moment (see the bound below)
        held = run["together_peak_mb"] if run["stored_in"] == "process" else run["run_peak_mb"]
        checks.append((f"{name} run: peak RSS, its process's and its writer's at the same moment (MB)", held, 300, ""))
    checks.append((f"quiet run: database bytes per work and source ({grown:,} bytes)", grown / (n * sources), 150, ""))
    checks.append(("quiet run: database bytes per observation stored", grown / max(1, asked), 150, ""))
    rates = f"x{args.speed:g}" + (f" (the quiet run's x{quiet_speed:g})" if quiet_speed != args.speed else "")
    print(f"\nTargets at {n:,} works, {sources} sources, rates {rates}, latency {args.latency * 1000:.0f} ms:")
    ok = True
    for name, value, target, unit in checks:
        met = value <= target
        ok &= met
        print(f"  {name}: {value:.3g}{unit} (target {target:g}{unit}: {'met' if met else 'MISSED'})")
    if any(run["stored_in"] == "process" for run in runs):  # sampled, so a moment's peak may be missed
        print("  peak RSS of the run's process and its writer's: at the same moment, sampled every 0.2 s / "
              "each process's own peak added, a bound the first cannot exceed (MB): "
              + ", ".join(f"{name} {run['together_peak_mb']} / {run['run_peak_mb'] + run['writer_peak_mb']}"
                          for name, run in (("cold", cold), ("catch-up", catch_up), ("quiet", quiet)) if run))
    for name, run in timed:  # no target: the HTTP client's CPU is httpx's
        print(f"  {name} run: CPU per work and source, all of it, HTTP exchanges too: "
              f"{1000 * run['cpu_s'] / (n * sources):.3g} ms ({1000 * run['http_cpu_s'] / (n * sources):.3g} ms of "
              "them in HTTP exchanges; no target)")
    if args.json:
        args.json.write_text(json.dumps({"works": n, "speed": args.speed, "quiet_speed": quiet_speed, "latency": args.latency, "cold": cold,
                                         "catch_up": catch_up, "quiet": quiet,
                                         "quiet_db_bytes": grown, "db_bytes": before, "quick_check_s": round(checked, 1),
                                         "checks": [(c[0], c[1], c[2]) for c in checks]}, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
