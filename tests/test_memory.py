"""Giving freed memory back (monitor/memory.py): at most every few seconds, never failing;
few arenas for a run's threads."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from monitor import memory


def test_give_back_runs_where_the_c_library_allows_and_is_harmless_elsewhere():
    memory.give_back()  # glibc: malloc_trim; elsewhere nothing; never raises


def test_every_gives_back_at_most_once_a_period(monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "give_back", lambda: calls.append(now[0]))
    now = [0.0]
    every = memory.Every(5.0, clock=lambda: now[0])
    for t in (1, 4.9, 5.0, 6, 9.9, 10.1, 30):
        now[0] = t
        every()
    assert calls == [5.0, 10.1, 30]


ARENAS_OF_EIGHT_THREADS = r"""
import ctypes, ctypes.util, os, sys, tempfile, threading
from monitor import memory

if sys.argv[1] == "few":
    memory.few_arenas()
together = threading.Barrier(8, timeout=10)
held = []

def allocate():
    held.extend(bytearray(60_000) for _ in range(50))  # below glibc's mmap threshold: an arena's
    together.wait()  # all eight alive at once, so none hands its arena to the next

threads = [threading.Thread(target=allocate) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
path = os.path.join(tempfile.mkdtemp(), "malloc.xml")
stream = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, stream)
libc.fclose(stream)
print(open(path).read().count("<heap nr="))
"""


def arenas(mode: str, **env: str) -> int:
    """How many arenas glibc made for eight threads alive at once, in a fresh process."""
    environment = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | env
    done = subprocess.run([sys.executable, "-c", ARENAS_OF_EIGHT_THREADS, mode],
                          capture_output=True, text=True, timeout=60, env=environment, check=True)
    return int(done.stdout)


def test_a_runs_threads_share_one_arena_unless_the_environment_says_otherwise():
    if memory._mallopt is None:
        pytest.skip("not glibc: there are no arenas to limit")
    assert arenas("many") > memory.ARENAS  # glibc's default: an arena per thread, up to 8 a core
    assert arenas("few") <= memory.ARENAS
    assert arenas("few", MALLOC_ARENA_MAX="4") > memory.ARENAS  # the user's word wins


def test_every_command_limits_the_arenas_before_it_does_anything(invoke, monkeypatch, tmp_path):
    """Before any thread starts: glibc gives each thread started earlier an arena of its own."""
    from monitor import cli

    calls = []
    monkeypatch.setattr(memory, "few_arenas", lambda arenas=memory.ARENAS: calls.append(f"arenas {arenas}"))
    monkeypatch.setattr(cli, "setup_logging", lambda verbose: calls.append("logging"))

    def load(*args, **kwargs):
        calls.append("config")
        raise SystemExit(2)  # the command's own work begins with its config: enough

    monkeypatch.setattr(cli, "load", load)
    assert invoke("sources", "--config", str(tmp_path / "config.toml")).exit_code == 2
    assert calls == [f"arenas {memory.ARENAS}", "logging", "config"]


def test_few_collections_freezes_what_exists_and_collects_less_often_until_the_end():
    import gc

    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    planned = [{"doi": f"10.5555/{i}"} for i in range(1000)]  # what a run plans before it asks
    with memory.few_collections(after=12_345):
        assert gc.get_threshold() == (12_345, *before[1:])
        assert gc.get_freeze_count() >= frozen + len(planned)  # never scanned again
        cycle: list = []
        cycle.append(cycle)  # a cycle made within is still collected, when asked
        del cycle
        assert gc.collect() >= 1
    assert gc.get_threshold() == before and gc.get_freeze_count() == frozen


NUMPY_AFTER_IMPORTS = r"""
import sys
import monitor.collect, monitor.writer, monitor.cli
assert "sqlite_utils" in sys.modules
print("numpy" in sys.modules)
from datetime import date
from monitor import digest_chart
from monitor.digest import CountLine
points = ((date(2026, 1, 1), 3), (date(2026, 1, 2), 5))
png = digest_chart.line_chart([CountLine("openalex", "OpenAlex", 5, 2, points)])
print("numpy" in sys.modules, png[:4] == b"\x89PNG")
"""


def test_storing_processes_do_not_load_numpy_but_the_chart_still_can():
    """sqlite-utils would import numpy (11 MB) in every process that opens the database."""
    pytest.importorskip("numpy")
    out = subprocess.run([sys.executable, "-c", NUMPY_AFTER_IMPORTS], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "True"]  # numpy loaded by the chart, which drew
