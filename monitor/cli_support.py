"""What every command shares: the --config option, one-line failures and exit codes.

Apart from cli.py so that command modules (cli_config.py) can use them without an
import circle.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from monitor.config import CONFIG_ENV

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
