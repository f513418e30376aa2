"""What ``run`` prints: a line per source and per collection, and on a terminal a live line
per source while it works (works done of its total, requests, throttled answers, time
left), drawn with rich. Off a terminal nothing here prints but what ``run`` asks for."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from monitor.config import Config
from monitor.fetching import duration
from monitor.models import CollectionReport, SourceResult
from monitor.progress import RunProgress, SourceProgress
from monitor.sources import SOURCES


def tracking_text(config: Config) -> str:
    """'3 works and 2 collections': what a run asks about, before it resolves the collections."""
    n, m = len(config.works), len(config.collections)
    works = f"{n} work{'s' if n != 1 else ''}"
    return f"{works} and {m} collection{'s' if m != 1 else ''}" if m else works


def collection_line(report: CollectionReport) -> str:
    """``collection lab  ok  42 works (+2, -1), 3 skipped``: one collection's line in a run."""
    if report.outcome is None:
        return f"collection {report.name}  {report.status}  {report.size} works kept ({report.described})"
    change = f" (+{report.added}, -{report.left})" if report.added or report.left else ""
    skipped = f", {report.skipped} skipped" if report.skipped else ""
    message = f": {report.message}" if report.message else ""
    return f"collection {report.name}  {report.status}  {report.size} works{change}{skipped}{message}"


def status_line(result: SourceResult, width: int) -> str:
    """``openalex  ok               41 citations``: one source's line."""
    return f"{result.source:<{width}}  {result.outcome.value:<15}  {describe(result)}"


def describe(result: SourceResult) -> str:
    if result.message:
        return result.message
    if result.asked == 1 and result.tracked <= 1 and result.citations is not None:
        return f"{result.citations} citations"
    verb = "counted" if SOURCES[result.source].SPEC.counts_citations else "described"
    line = f"{result.ok} of {result.asked} works {verb}"
    if result.asked < result.tracked:  # the refresh policy let the others be
        line += f" ({result.tracked - result.asked} not due)"
    return line


def live_line(progress: SourceProgress) -> tuple[str, ...]:
    """A running source's live line: name, works done of total, requests, throttled, time left."""
    left = progress.seconds_left()
    return (
        progress.source,
        f"{progress.done:,} of {progress.total:,} works",
        f"{progress.requests:,} requests",
        f"{progress.throttled:,} throttled",
        "" if left is None else f"about {duration(round(left))} left",
    )


@contextmanager
def live(progress: RunProgress, console: Console | None = None) -> Iterator[Console | None]:
    """While the block runs, on an interactive terminal, a live line per running source;
    yields the console to print finished sources' lines above them (None: not a terminal)."""
    console = console or Console()
    if not console.is_interactive:
        yield None
        return

    def render() -> Any:
        table = Table.grid(padding=(0, 2))
        for source in progress.snapshot():
            if source.ended is None:
                table.add_row(*live_line(source))
        return table

    with Live(get_renderable=render, console=console, refresh_per_second=4, transient=True):
        yield console

