"""The command line: parses options, calls the library, turns our errors into messages."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any, Callable

import click

from monitor import __version__, report, store
from monitor.config import CONFIG_ENV, Config, load_config
from monitor.errors import ConfigError, LockHeldError, MonitorError
from monitor.fetching import utcnow
from monitor.job import run_job
from monitor.models import RunSummary, SourceReport
from monitor.sources import SOURCES

EXIT_FAILED, EXIT_CONFIG, EXIT_LOCKED = 1, 2, 3


class Failure(click.ClickException):
    """A one-line error with a chosen exit code."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


def config_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar=CONFIG_ENV,
        default="config.toml",
        show_default=True,
        help=f"The config file (or set {CONFIG_ENV}).",
    )(func)


def load(config_path: Path) -> Config:
    try:
        return load_config(config_path)
    except ConfigError as exc:
        raise Failure(str(exc), EXIT_CONFIG) from None


def setup_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # At INFO httpx logs full URLs, and some carry API keys.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="citation-monitor")
@click.option("-v", "--verbose", count=True, help="More logging: -v for info, -vv for debug.")
def cli(verbose: int) -> None:
    """Watch the citations and impact of scholarly articles.

    Snapshots from public bibliographic APIs go into SQLite; an HTML report is
    written from them.

    \b
    Quick start:
        citation-monitor run              # fetch, store, write the report
        citation-monitor report           # rewrite the report from stored data
    """
    setup_logging(verbose)


@cli.command()
@config_option
@click.option("--no-report", is_flag=True, help="Store the snapshot but do not write the report.")
def run(config_path: Path, no_report: bool) -> None:
    """Ask every enabled source about every tracked work, store the snapshot, write the report.

    Prints one status line per source. Exit code: 0 when every enabled source
    answered, 1 when any failed (whatever did arrive is kept), 2 for a bad
    config, 3 when another run holds the lock.

    \b
    Example:
        citation-monitor run --config config.toml
    """
    config = load(config_path)
    if not config.contact_email:
        click.echo(
            "Warning: no contact email set; the APIs' polite pools need one. "
            "Set [monitor] contact_email or CITATION_MONITOR_CONTACT_EMAIL.",
            err=True,
        )
    try:
        result = run_job(config, write_report=not no_report)
    except LockHeldError as exc:
        raise Failure(str(exc), EXIT_LOCKED) from None
    except MonitorError as exc:
        raise Failure(str(exc), EXIT_FAILED) from None
    for line in status_lines(result.summary):
        click.echo(line)
    if result.report_paths:
        click.echo(f"Report: {result.report_paths[0]}")
    sys.exit(result.exit_code)


def status_lines(summary: RunSummary) -> list[str]:
    width = max((len(s.source) for s in summary.sources), default=8)
    return [f"{s.source:<{width}}  {s.outcome.value:<15}  {describe(s)}" for s in summary.sources]


def describe(report: SourceReport) -> str:
    if report.message:
        return report.message
    ok = [o for o in report.observations if o.outcome.value == "ok"]
    if not SOURCES[report.source].SPEC.counts_citations:
        return f"{len(ok)} of {len(report.observations)} works described"
    if len(report.observations) == 1 and ok and ok[0].citations is not None:
        return f"{ok[0].citations} citations"
    return f"{len(ok)} of {len(report.observations)} works counted"


@cli.command("report")
@config_option
@click.option(
    "--as-of",
    metavar="DATE",
    help="Regenerate the report as the data stood at DATE (YYYY-MM-DD or an ISO time, UTC).",
)
def report_command(config_path: Path, as_of: str | None) -> None:
    """Write the HTML report from the stored snapshots, without asking any source.

    \b
    Example:
        citation-monitor report --as-of 2026-11-01
    """
    config = load(config_path)
    cutoff = None
    if as_of:
        cutoff = as_of + "T23:59:59.999999+00:00" if len(as_of) == 10 else as_of
    paths = report.write_report(config, store.iso(utcnow()), cutoff)
    click.echo(f"Report: {paths[0]} ({len(paths) - 1} work page{'s' if len(paths) != 2 else ''})")


@cli.command()
@config_option
@click.argument("observation_id", type=int)
def provenance(config_path: Path, observation_id: int) -> None:
    """Show where one stored figure came from: the request and its raw response body.

    \b
    Example:
        citation-monitor provenance 42
    """
    config = load(config_path)
    db = store.open_db(config.database)
    try:
        row = store.provenance(db, observation_id)
        if row is None:
            raise Failure(f"no observation {observation_id}; see the report's provenance table")
        click.echo(f"observation {row['id']}: {row['source']} on {row['doi']}, run {row['run_id']}")
        click.echo(f"outcome: {row['outcome']}  citations: {row['citations']}  {row['message']}")
        if row["body_sha256"] is None:
            click.echo("no response was received for this observation")
            return
        click.echo(f"request: {row['url']} -> HTTP {row['status_code']} at {row['fetched_at']}")
        click.echo(f"body sha256: {row['body_sha256']}")
        body = store.raw_body(db, row["body_sha256"])
        try:
            click.echo(json.dumps(json.loads(body), indent=2, ensure_ascii=False))
        except ValueError:
            click.echo(body.decode("utf-8", "replace"))
    finally:
        db.close()


@cli.command("sources")
@config_option
def sources_command(config_path: Path) -> None:
    """List each source: enabled or not, key configured or not, base URL, rate limit, last outcome.

    Shows whether a key is present, never its value.

    \b
    Example:
        citation-monitor sources --config config.toml
    """
    config = load(config_path)
    health: dict[str, dict[str, Any]] = {}
    if config.database.exists():
        db = store.open_db(config.database)
        try:
            health = store.source_health(db)
        finally:
            db.close()
    rows = []
    for name, source in config.sources.items():
        spec = SOURCES[name].SPEC
        if source.api_key_env:
            key = f"key in ${source.api_key_env}" if source.has_key else f"no key (${source.api_key_env})"
            if spec.needs_key and not source.has_key:
                key += ": needed"
        else:
            key = "no key needed"
        if spec.needs_contact and not config.contact_email:
            key = "needs contact_email"
        last = health.get(name)
        outcome = "never run"
        if last:
            outcome = last["last_outcome"]
            if last["failure_streak"]:
                outcome += f" ({last['failure_streak']} failed runs in a row)"
        rows.append((
            name,
            "enabled" if source.enabled else "disabled",
            key,
            f"{source.requests_per_second:g}/s",
            source.base_url,
            outcome,
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
