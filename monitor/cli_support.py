"""What every command shares: the --config option, one-line failures and exit codes.

Apart from cli.py so that command modules (cli_config.py) can use them without an
import circle. ``Commands`` is the group class: every failure of every command
becomes one line and an exit code there.
"""

from __future__ import annotations

import os
import re
import sqlite3
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from monitor import database, stopping
from monitor.config import CONFIG_ENV, Config, load_config
from monitor.errors import Interrupted, MonitorError
from monitor.redaction import config_secrets, protect_logging

EXIT_FAILED, EXIT_CONFIG, EXIT_LOCKED = 1, 2, 3
DATABASE = "citation_monitor.database"  # ctx.meta key: the configured database, for messages


class Failure(click.ClickException):
    """A one-line error with a chosen exit code."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(re.sub(r"\s*\n\s*", " ", message))  # one line, whatever it quotes
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


class Commands(click.Group):
    """Every failure becomes one line and an exit code (the traceback only with -vv).

    2: the config, a path or the database file needs fixing; 1: the command or run
    failed; 3: another run holds the lock; 128 + N: stopped by signal N (SIGINT,
    SIGTERM), at a safe point. Output cut short by a closed pipe (``| head``) is not
    an error: exit 0, silently.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with stopping.on_signals():
                try:
                    return super().invoke(ctx)
                finally:
                    sys.stdout.flush()  # here, where a closed pipe can still be handled
        except BrokenPipeError:
            _discard_stdout()
            raise click.exceptions.Exit(0) from None
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Interrupted as stop:
            _stop(stop)
        except Exception as exc:  # noqa: BLE001 - every error becomes one line
            raise _one_line(ctx, exc) from None


def load(config_path: Path) -> Config:
    """The config, checked (a ConfigError is one line, exit 2); remembered for error messages."""
    config = load_config(config_path)
    remember_database(config.database)
    protect_logging(config_secrets(config, os.environ))  # no key in any form in a log
    return config


def remember_database(path: Path) -> None:
    """The configured database, named in a message for an SQLite error from anywhere."""
    click.get_current_context().meta[DATABASE] = path


def _one_line(ctx: click.Context, exc: Exception) -> Failure:
    """The error as the user should see it; its traceback too under -vv."""
    if ctx.params.get("verbose", 0) >= 2:
        traceback.print_exception(exc, file=sys.stderr)
    database_path = ctx.meta.get(DATABASE)
    if isinstance(exc, sqlite3.Error):
        exc = database.error(exc, database_path or Path("the database"))
    elif isinstance(exc, OSError):
        exc = database.os_error(exc)
    if isinstance(exc, MonitorError):
        return Failure(str(exc), exc.exit_code)
    return Failure(
        f"internal error: {exc!r}; run again with -vv for the traceback, and please report it",
        EXIT_FAILED,
    )


def _stop(stop: Interrupted) -> None:
    """Stopped by a signal: one line, exit 128 + N. Sources still waiting on the network
    (threads) are not waited for: their answers are not wanted."""
    if not _lingering_threads():
        raise Failure(str(stop), stop.exit_code) from None
    click.echo(f"Error: {stop}", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(stop.exit_code)


def _lingering_threads() -> bool:
    return any(
        t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()
    )


def _discard_stdout() -> None:
    """Point standard output at /dev/null: the reader has gone, and the flush at exit must not fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # not a real file (tests): nothing buffered will reach a pipe
        pass
    finally:
        os.close(devnull)
