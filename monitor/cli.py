"""The command line: parses options, calls the library, turns our errors into messages."""

from __future__ import annotations

import json
import logging
import sys
from contextlib import nullcontext
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import click

from monitor import (
    __version__,
    daemon,
    database,
    memory,
    portfolio,
    queries,
    report,
    retention,
    store,
)
from monitor import check as checking
from monitor import plan as planning
from monitor.cli_config import CONFIG_COMMANDS
from monitor.cli_email import email_command
from monitor.cli_status import collection_line, live, status_line, tracking_text
from monitor.cli_support import EXIT_CONFIG, Commands, Failure, config_option, load
from monitor.config import require_writable
from monitor.doi import InvalidDOI, normalize_doi
from monitor.fetching import utcnow
from monitor.job import run_job
from monitor.models import SourceResult
from monitor.progress import RunProgress
from monitor.resolvers import RESOLVERS
from monitor.sources import SOURCES


def setup_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # At INFO httpx logs full URLs, and some carry API keys.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="citation-monitor")
@click.option("-v", "--verbose", count=True, help="More logging: -v for info, -vv for debug and tracebacks.")
def cli(verbose: int) -> None:
    """Watch the citations and impact of scholarly articles.

    Snapshots from public bibliographic APIs go into SQLite; an HTML report is
    written from them.

    \b
    Quick start:
        citation-monitor run              # fetch, store, write the report
        citation-monitor report           # rewrite the report from stored data

    Errors are one line; exit codes: 0 ok, 1 failed, 2 fix the config, a path or
    the database, 3 another run holds the lock, 130/143 stopped by Ctrl-C/SIGTERM.
    """
    memory.few_arenas()  # before any thread
    setup_logging(verbose)


@cli.command()
@config_option
@click.option("--no-report", is_flag=True, help="Store the snapshot but do not write the report.")
@click.option(
    "--status/--quiet",
    "status",
    default=None,
    help="--status: a line per source, the alerts and the report path (the default on a "
    "terminal). --quiet: only problems (the default otherwise, e.g. under cron).",
)
def run(config_path: Path, no_report: bool, status: bool | None) -> None:
    """Fetch every source, store the snapshot, raise alerts, write the report, email if due.

    Asks every enabled source about every tracked work; sends the email digest
    when [email] policy says so.

    On a terminal it prints one status line per source. Under cron (standard
    output not a terminal) it is quiet except for problems: failed sources and
    warnings, so cron mails you only when something needs a look. Exit code: 0
    when every enabled source answered, 1 when any failed (whatever did arrive is
    kept), 2 for a bad config or a path it cannot use, 3 when another run holds
    the lock, 130 or 143 when stopped by Ctrl-C or SIGTERM (the sources saved so
    far are kept; the run is marked interrupted).

    \b
    Example:
        citation-monitor run --config config.toml
        0 6 * * * cd /srv/citations && citation-monitor run   # a crontab line
    """
    config = load(config_path)
    require_writable(config, *(("database",) if no_report else ("database", "report_dir")))
    if status is None:
        status = is_terminal()
    if not config.contact_email:
        click.echo(
            "Warning: no contact email set; the APIs' polite pools need one. "
            "Set [monitor] contact_email or CITATION_MONITOR_CONTACT_EMAIL.",
            err=True,
        )
    width = max((len(s.name) for s in config.enabled_sources), default=8)
    if status:
        click.echo(f"Asking {len(config.enabled_sources)} sources about {tracking_text(config)}…")
    progress = RunProgress()
    with live(progress) if status else nullcontext() as console:

        def done(source: SourceResult) -> None:
            """Each source's line as soon as it is done (above the live lines on a terminal)."""
            line = status_line(source, width)
            if console is not None:
                console.print(line, markup=False, highlight=False, soft_wrap=True)
            else:
                click.echo(line)

        result = run_job(
            config, write_report=not no_report, on_source_done=done if status else None, progress=progress
        )
    for collection in result.summary.collections:
        if status or collection.failed:
            click.echo(collection_line(collection))
    if not status:
        for source in result.summary.sources:
            if source.outcome.is_failure:
                click.echo(status_line(source, width))
    if status:
        for alert in result.alerts:
            click.echo(f"Alert: {alert.message}")
        for delivery in result.deliveries:
            click.echo(f"Email {delivery.status}: {delivery.subject}")
        if result.report_paths:
            click.echo(f"Report: {result.report_paths[0]}")
    for problem in result.problems:
        click.echo(f"Warning: {problem}", err=True)
    sys.exit(result.exit_code)


def is_terminal() -> bool:
    return sys.stdout.isatty()


@cli.command("report")
@config_option
@click.option(
    "--as-of",
    metavar="DATE",
    help="Regenerate the report as the data stood at the end of DATE (YYYY-MM-DD, UTC), "
    "into REPORT_DIR/archive/DATE unless --output is given.",
)
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the site into this folder instead.",
)
@click.option(
    "--rebuild",
    is_flag=True,
    help="Build every page again, not only those whose data changed (e.g. after editing "
    "the database by hand).",
)
def report_command(config_path: Path, as_of: str | None, output: Path | None, rebuild: bool) -> None:
    """Write the HTML report from the stored snapshots, without asking any source.

    Pages whose data did not change since the last report are kept as they are.

    \b
    Example:
        citation-monitor report
        citation-monitor report --as-of 2026-11-01
        citation-monitor report --as-of 2026-11-01 --output /tmp/report-nov-1
    """
    config = load(config_path)
    cutoff = None
    if as_of:
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            raise Failure(
                f"--as-of {as_of!r} is not a date; use YYYY-MM-DD, e.g. 2026-11-01", EXIT_CONFIG
            ) from None
        first, today = report.first_run_day(config), utcnow().date()
        if day > today:
            raise Failure(f"--as-of {day}: that is after today ({today}, UTC); no data exists yet", EXIT_CONFIG)
        if first is None:
            raise Failure(f"--as-of {day}: no run is recorded yet; run `citation-monitor run` first", EXIT_CONFIG)
        if day < first:
            raise Failure(f"--as-of {day}: that is before the first run ({first}); use {first} or later", EXIT_CONFIG)
        cutoff = report.day_end(day.isoformat())
    if output is None:
        require_writable(config, "report_dir")
    written = report.write_report(config, cutoff, output, rebuild=rebuild)
    pages = written.pages
    click.echo(f"Report: {written.index} ({pages} work page{'s' if pages != 1 else ''}, {written.built} built anew)")


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
    db = store.open_reader(config.database)
    try:
        row = store.provenance(db, observation_id)
        if row is None:
            raise Failure(f"no observation {observation_id}; see the report's provenance table")
        click.echo(f"observation {row['id']}: {row['source']} on {row['doi']}, run {row['run_id']}")
        click.echo(f"outcome: {row['outcome']}  citations: {row['citations']}  {row['message']}")
        if row["metadata_from"] is not None:
            given = ", ".join(SOURCES[row["source"]].SPEC.brief_fields) if row["source"] in SOURCES else ""
            click.echo(
                f"metadata: a brief answer ({given} from it); the rest as read whole by observation "
                f"{row['metadata_from']}: citation-monitor provenance {row['metadata_from']}"
            )
        if row["body_sha256"] is None:
            click.echo("no response was received for this observation")
            return
        click.echo(f"request: {row['url']} -> HTTP {row['status_code']} at {row['fetched_at']}")
        click.echo(f"body sha256: {row['body_sha256']}")
        pruned = retention.pruned_at(db, row["body_sha256"])
        if pruned:
            click.echo(f"raw response pruned on {pruned[:10]}; the values read from it are kept")
            return
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
    """List each source: enabled or not, key, base URL, pace, last outcome, refresh policy.

    Shows whether a key is present, never its value. Under each enabled source: how
    often it asks about a work again ([sources.NAME] refresh_days), its budget of
    requests a run (max_requests), how many tracked works are due now, and whether that
    budget can ask every work within refresh_days; for OpenAlex and Europe PMC, how often
    they read a work's whole record (metadata_days) and how many next run, the rest briefly.

    \b
    Example:
        citation-monitor sources --config config.toml
    """
    config = load(config_path)
    health: dict[str, dict[str, Any]] = {}
    db = store.open_reader(config.database) if config.database.exists() else None
    try:
        health = store.source_health(db) if db else {}
        due = planning.make(db, config, planning.tracked(db, config), utcnow())
    finally:
        if db is not None:
            db.close()
    rows = []
    for name, source in config.sources.items():
        spec = SOURCES[name].SPEC
        if source.api_key_env:
            key = (
                f"key in ${source.api_key_env}"
                if source.has_key
                else f"no key (${source.api_key_env})"
            )
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
        rows.append(
            (
                name,
                "enabled" if source.enabled else "disabled",
                key,
                f"{source.requests_per_second:g}/s, {source.max_concurrency} at a time",
                source.base_url,
                outcome,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if row[0] in due.sources:
            click.echo(f"  {due[row[0]].describe()}")


@cli.command("collections")
@config_option
def collections_command(config_path: Path) -> None:
    """List each collection: its size, what it asks, when it was last resolved, what it skipped.

    Sizes and skipped items are those of the last run; a collection not yet run
    shows as never resolved.

    \b
    Example:
        citation-monitor collections --config config.toml
    """
    config = load(config_path)
    if not config.collections:
        click.echo(f"No collections in {config.path}; add a [[collections]] table (see README)")
        return
    stored: dict[str, portfolio.CollectionSummary] = {}
    if config.database.exists():
        db = store.open_reader(config.database)
        try:
            stored = {s.name: s for s in portfolio.summaries(db)}
        finally:
            db.close()
    for collection in config.collections:
        found = stored.get(collection.name)
        described = RESOLVERS[collection.kind].describe(collection)
        click.echo(f"{collection.name}: {collection.title if collection.label else described}")
        if collection.label:
            click.echo(f"  {described}")
        if found is None or found.resolution is None:
            click.echo("  never resolved: run `citation-monitor run`")
            continue
        last = found.resolution
        when = (found.last_complete_at or "never")[:16].replace("T", " ")
        click.echo(f"  {found.size} works; last resolved completely {when} UTC")
        if last["outcome"] != "ok" or not last["complete"]:
            click.echo(f"  last attempt {last['resolved_at'][:16].replace('T', ' ')}: "
                       f"{last['outcome']}: {last['message']}")
        for skip in found.skipped:
            title = f" “{skip['title']}”" if skip["title"] else ""
            click.echo(f"  skipped: {skip['item']}{title}: {skip['reason']}")


@cli.command("check")
@config_option
def check_command(config_path: Path) -> None:
    """Ask each enabled source about the first tracked work, once; store nothing.

    For each source: whether it answered, whether its key was accepted, its rate-limit
    headers, and whether the answer still has the fields we read: the first thing to run
    on a new machine, and a canary for API changes. Exit code 0 when every source passed
    (one not configured is listed, not counted), 1 otherwise.

    \b
    Example:
        citation-monitor check --config config.toml
    """
    config = load(config_path)
    work, results = checking.check(config)
    if work is None:
        raise Failure(f"{config.path}: no work to check with yet: run once, or add [[works]]", EXIT_CONFIG)
    click.echo("\n".join(checking.lines(work, results)))
    failed = [r.source for r in results if not r.passed]
    if failed:
        raise Failure(f"{len(failed)} of {len(results)} sources failed: {', '.join(failed)}")


# --- the database as a product: query, export, history, backup, prune ---------------


def database_path(config_path: Path) -> Path:
    return load(config_path).database


@cli.command()
@config_option
@click.argument("sql")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of objects.")
def query(config_path: Path, sql: str, as_csv: bool, as_json: bool) -> None:
    """Run one SQL statement on a read-only connection and print the rows.

    Prints a table, or CSV (--csv) or JSON (--json). Writes are refused; a
    read-only database (even on read-only media) is fine. The tables and views
    are described in docs/schema.md.

    \b
    Example:
        citation-monitor query "select doi, source, citations from latest_counts" --csv
    """
    if as_csv and as_json:
        raise click.UsageError("choose one of --csv and --json")
    with queries.reading(database_path(config_path)) as conn:
        result = queries.run_query(conn, sql)
    if as_csv or as_json:
        queries.write_result(result, "csv" if as_csv else "json", sys.stdout)
    else:
        click.echo(queries.format_table(result))


@cli.command()
@config_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(queries.FORMATS),
    required=True,
    help="csv or json (an array of objects).",
)
@click.option("--view", metavar="NAME", help="Export this view instead of the observations.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (default: standard output).",
)
def export(config_path: Path, fmt: str, view: str | None, output: Path | None) -> None:
    """Export every observation, or one view, as CSV or JSON.

    Without --view: one row per observation, with its DOI and the URL, status and
    body hash of its response (in JSON, metrics and metadata are nested objects).

    \b
    Example:
        citation-monitor export --format csv --view count_history -o history.csv
    """
    with queries.reading(database_path(config_path)) as conn:
        if output is None:
            queries.export(conn, fmt, sys.stdout, view)
        else:
            count = queries.export_to_file(conn, fmt, output, view)
            click.echo(f"{count} row{'s' if count != 1 else ''} written to {output}", err=True)


@cli.command()
@config_option
@click.argument("doi")
def history(config_path: Path, doi: str) -> None:
    """Print a work's citation counts day by day, per source, with a sparkline.

    DOI in any accepted form: 10.x/..., doi:10.x/... or https://doi.org/10.x/...

    \b
    Example:
        citation-monitor history https://doi.org/10.1016/j.drup.2021.100752
    """
    try:
        canonical = normalize_doi(doi)
    except InvalidDOI as exc:
        raise Failure(str(exc)) from None
    with queries.reading(database_path(config_path)) as conn:
        series = queries.history(conn, canonical)
    for line in queries.history_lines(canonical, series):
        click.echo(line)


@cli.command()
@config_option
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
def backup(config_path: Path, path: Path, force: bool) -> None:
    """Write a consistent, compacted copy of the database to PATH (VACUUM INTO).

    Safe while a run or the daemon is writing: the copy is the database as it
    stood when the backup began. It is written beside PATH and renamed into place,
    so an interrupted backup leaves no partial file (and the next one removes a
    copy that a kill -9 left).

    \b
    Example:
        citation-monitor backup backups/monitor-2026-11-01.db
    """
    size = queries.backup(database_path(config_path), path, force=force)
    click.echo(f"Backup: {path} ({size:,} bytes)")


@cli.command()
@config_option
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=1),
    required=True,
    metavar="DAYS",
    help="Prune bodies no response of the last DAYS days points at.",
)
@click.option("--dry-run", is_flag=True, help="Say what would be pruned; change nothing.")
@click.option("--vacuum", is_flag=True, help="Then VACUUM, to shrink the file on disk.")
def prune(config_path: Path, days: int, dry_run: bool, vacuum: bool) -> None:
    """Delete raw response bodies older than DAYS days, keeping all that was read from them.

    Kept: each body's SHA-256 and size, every response's URL, status and hash, and
    every count, metric and metadata value. `provenance` then says when a body was
    pruned. Without --vacuum the freed space is reused by later runs.

    \b
    Example:
        citation-monitor prune --older-than 365
    """
    config = load(config_path)
    database.require_exists(config.database)
    db = store.open_db(config.database)
    try:
        result = retention.prune(db, timedelta(days=days), utcnow(), dry_run=dry_run)
        if vacuum and not dry_run:
            db.vacuum()
    finally:
        db.close()
    verb = "would prune" if dry_run else "pruned"
    click.echo(
        f"{verb} {result.bodies} raw bod{'y' if result.bodies == 1 else 'ies'} "
        f"({result.stored_bytes:,} bytes stored, {result.responses} responses) "
        f"last fetched before {result.cutoff[:10]}; hashes and extracted values are kept"
    )


# --- running unattended: the daemon and the email digest ---------------------------


@cli.command("daemon")
@config_option
@click.option("--run-now", is_flag=True, help="Also run once at start, then follow the schedule.")
def daemon_command(config_path: Path, run_now: bool) -> None:
    """Run on the [schedule] of config.toml until stopped, logging one line per run.

    Each run is exactly `citation-monitor run` (alerts, report and email
    included) under the same lock, so the daemon and a cron job never overlap.
    SIGTERM or Ctrl-C lets a run in progress finish, then exits 0.

    \b
    Example:
        citation-monitor daemon --run-now --config /srv/citations/config.toml
    """
    logger = logging.getLogger("monitor.daemon")
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)  # one line per run, even without -v
    with daemon.Stopper().installed() as stopper:  # first: a SIGTERM during start-up stops it
        config = load(config_path)
        require_writable(config, "database", "report_dir")
        code = daemon.serve(config, run_now=run_now, stopper=stopper)
    sys.exit(code)


for _command in (*CONFIG_COMMANDS, email_command):
    cli.add_command(_command)
