"""The ``email`` command: a digest now, to ``[email] recipients`` or a collection's (library: mailer.py)."""

from __future__ import annotations

from pathlib import Path

import click

from monitor import database, mailer, report
from monitor.cli_support import EXIT_CONFIG, Failure, config_option, load
from monitor.fetching import utcnow


@click.command("email")
@config_option
@click.option("--dry-run", is_flag=True, help="Write the message to a file instead of sending it.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default="digest.eml",
    show_default=True,
    help="Where --dry-run writes the message (an .eml file any mail client opens).",
)
@click.option(
    "--collection",
    metavar="NAME",
    help="The digest of this collection, for its own recipients (default: [email] recipients').",
)
def email_command(config_path: Path, dry_run: bool, output: Path, collection: str | None) -> None:
    """Send the email digest of the latest run now, whatever [email] policy says.

    It carries what no digest delivered to the same recipients carried yet: one
    item per new citing work under the work it cites, the other alerts, each
    work's headline and a chart. With --collection, the digest of that
    collection (its works, its metrics and new works) for its own recipients.
    The attempt is recorded with what it carried; a failed send is retried after
    the next run. With --dry-run nothing is sent or recorded.

    \b
    Example:
        citation-monitor email --dry-run --output digest.eml
        citation-monitor email --collection jiang-lab
    """
    config = load(config_path)
    database.require_exists(config.database)
    if dry_run:
        message = mailer.preview(config, utcnow(), collection)
        report.write_atomic(output, message.as_string())
        click.echo(f"Digest written to {output}: {message['Subject']}")
        return
    if not config.email.enabled:
        raise Failure(
            f"{config.path}: [email] is not enabled; set enabled = true, smtp_host, sender and "
            "recipients, or use --dry-run",
            EXIT_CONFIG,
        )
    delivery = mailer.send_now(config, utcnow(), collection=collection)  # exit 3 when a run holds the lock
    if delivery.status == "failed":
        raise Failure(f"email digest not sent: {delivery.error}; it is retried after the next run")
    click.echo(f"Sent to {', '.join(delivery.recipients)}: {delivery.subject}")
