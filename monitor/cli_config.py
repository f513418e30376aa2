"""Commands that write config.toml: init, add, remove, import (library: config_edit.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from monitor import config_edit
from monitor.cli_support import EXIT_CONFIG, Failure, config_option
from monitor.errors import ConfigError

T = TypeVar("T")


@click.command("init")
@config_option
def init(config_path: Path) -> None:
    """Write a commented config.toml to start from; never over an existing file.

    It tracks one example article, with collections (an ORCID, an institution, a
    BibTeX file) shown in comments. Edit it, then `citation-monitor run`.

    \b
    Example:
        mkdir citations && cd citations
        citation-monitor init
        citation-monitor run
    """
    try:
        path = config_edit.init_config(config_path)
    except ConfigError as exc:
        raise Failure(str(exc), EXIT_CONFIG) from None
    click.echo(f"Wrote {path}: edit it, then run `citation-monitor run --config {path}`")
    click.echo(f"Documentation: {config_edit.shipped('docs')} (and README.md)")
    click.echo(f"Datasette metadata: {config_edit.shipped('datasette') / 'metadata.json'}")


@click.command("add")
@config_option
@click.argument("dois", nargs=-1, required=True, metavar="DOI...")
def add(config_path: Path, dois: tuple[str, ...]) -> None:
    """Track more works: add a [[works]] entry to config.toml for each DOI.

    Comments and layout are kept. A malformed DOI, or one already listed, is an
    error and nothing is added. The works are asked about from the next run.

    \b
    Example:
        citation-monitor add 10.1038/nature12373 https://doi.org/10.1126/science.1259855
    """
    added = _edit(lambda: config_edit.add_works(config_path, dois))
    click.echo(f"Added to {config_path}: {', '.join(added)}")


@click.command("remove")
@config_option
@click.argument("dois", nargs=-1, required=True, metavar="DOI...")
def remove(config_path: Path, dois: tuple[str, ...]) -> None:
    """Stop tracking works: remove their [[works]] entries from config.toml.

    Their history stays in the database; from the next run they are marked no
    longer tracked and no source is asked about them. Comments and layout are kept.

    \b
    Example:
        citation-monitor remove 10.1038/nature12373
    """
    gone = _edit(lambda: config_edit.remove_works(config_path, dois))
    click.echo(f"Removed from {config_path}: {', '.join(gone)}")


@click.command("import")
@config_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def import_command(config_path: Path, file: Path) -> None:
    """Add every work a file names to config.toml: BibTeX, RIS, CSV or a DOI list.

    The format comes from the extension (.bib, .ris, .csv) or the content. Each new
    entry carries the work's title as a comment; works already listed are left as
    they are; entries with neither a DOI nor an arXiv id are listed as skipped. To
    follow a file that changes, use a [[collections]] table with file = "..." instead.

    \b
    Example:
        citation-monitor import my-publications.bib
    """
    result = _edit(lambda: config_edit.import_file(config_path, file))
    click.echo(
        f"Imported {len(result.added)} work{'s' if len(result.added) != 1 else ''} into "
        f"{config_path}; {len(result.known)} already listed, {len(result.skipped)} skipped"
    )
    for item in result.skipped:
        title = f" “{item.title}”" if item.title else ""
        click.echo(f"  skipped {item.item}{title}: {item.reason}")


def _edit(step: Callable[[], T]) -> T:
    try:
        return step()
    except ConfigError as exc:
        raise Failure(str(exc), EXIT_CONFIG) from None


CONFIG_COMMANDS = (init, add, remove, import_command)
