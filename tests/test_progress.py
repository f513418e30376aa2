"""A run's live progress (monitor/progress.py) and the terminal lines drawn from it."""

from __future__ import annotations

import io

from rich.console import Console

from monitor.cli_status import live, live_line
from monitor.progress import RunProgress


def test_time_left_is_the_pace_so_far_applied_to_the_works_left():
    now = [100.0]
    progress = RunProgress(clock=lambda: now[0])
    source = progress.start("unpaywall", 400)
    assert source.seconds_left() is None  # no pace yet
    now[0] += 30
    source.count_done(100)
    source.count_request()
    source.count_throttled()
    assert source.seconds_left() == 90  # 100 works in 30 s: 300 more in 90 s
    assert live_line(source) == ("unpaywall", "100 of 400 works", "1 requests", "1 throttled", "about 2 min left")
    source.finish("ok")
    assert source.seconds_left() == 0 and source.done == 400


def test_no_live_lines_off_a_terminal():
    console = Console(file=io.StringIO(), force_terminal=False)
    with live(RunProgress(), console) as shown:
        assert shown is None
    assert console.file.getvalue() == ""
