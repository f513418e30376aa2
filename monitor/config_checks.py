"""What a value in config.toml may be: bounds for numbers, and URLs, hosts, addresses, names.

``bounded`` declares a number's bounds on the dataclass field itself (the config's one
definition of each key), and config.py checks every table against them at load: NaN,
infinity, 0 where it means nothing and absurd sizes are one-line errors. A new number
in a config dataclass declares its bounds the same way (a test makes sure it does).
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # no newline, tab or other control in any value
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
HOST = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?"
)
ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@" + HOST.pattern)


@dataclass(frozen=True)
class Bounds:
    """The values a number in config.toml may take."""

    low: float
    high: float
    above: bool = False  # strictly above ``low`` (0 means nothing there)
    unit: str = ""

    def problem(self, value: float) -> str | None:
        if not math.isfinite(value):
            return "must be a finite number"
        if value < self.low or (self.above and value == self.low) or value > self.high:
            low = f"above {number(self.low)}" if self.above else f"at least {number(self.low)}"
            unit = f" {self.unit}" if self.unit else ""
            return f"must be {low} and at most {number(self.high)}{unit}"
        return None


def bounded(default: Any, low: float, high: float, *, above: bool = False, unit: str = "") -> Any:
    """A dataclass field whose value config.toml may set within ``[low, high]``."""
    return field(default=default, metadata={"bounds": Bounds(low, high, above, unit)})


def bounds_of(cls: type, name: str) -> Bounds | None:
    """The bounds declared for one field of a config dataclass (None: not a number)."""
    return next((f.metadata.get("bounds") for f in fields(cls) if f.name == name), None)


def number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def url_problem(value: str) -> str | None:
    """Why ``value`` is not a usable http(s) URL for a service, or None."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:  # a port that is not a number, or not in 0-65535
        return f"is not a valid URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return "is not an http(s) URL"
    host = parts.hostname or ""
    if not host:
        return "has no host"
    if not (HOST.fullmatch(host) or _is_ip(host)):
        return f"has an invalid host {host!r}"
    if port == 0:
        return "has port 0; a port is 1 to 65535"
    if parts.username is not None or parts.password is not None:
        return "must not hold a user name or password; keys come from the environment (api_key_env)"
    if parts.query or parts.fragment:
        return "must not have a ?query or #fragment"
    return None


def host_problem(value: str) -> str | None:
    if not value:
        return "is empty"
    if not (HOST.fullmatch(value) or _is_ip(value.strip("[]"))):
        return "is not a host name or IP address"
    return None


def address_problem(value: str) -> str | None:
    return None if ADDRESS.fullmatch(value) else "is not an email address (name@example.org)"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def kind(value: Any) -> str:
    """'a string', 'a number', ...: what a TOML value is, for messages."""
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)
