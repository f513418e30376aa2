"""Secrets out of everything we keep or show: one redaction for URLs, bodies, messages and logs.

A secret (an API key, the SMTP password) can reach text in many spellings: as it is,
percent-encoded by a URL (``+`` as ``%2B`` or as a space, ``/`` as ``%2F``, ``=`` as
``%3D``, in upper or lower hex), JSON-escaped by a body that echoes it, or base64-encoded
by an SMTP server that echoes a login line (``AUTH PLAIN`` carries ``\\0user\\0password``).
``Redactor`` knows every such form of each secret and replaces them all. A key is a
secret whatever its length: short ones are redacted too.

Base64 is matched at any alignment: a secret inside a longer encoded string (the
AUTH PLAIN blob) changes the encoding of its neighbours, so each of the three byte
offsets contributes the run of characters that depends on the secret alone.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    from monitor.config import Config, EmailConfig

REDACTED = "REDACTED"
MIN_BASE64_CORE = 4  # a shorter aligned core would match ordinary base64 text by chance


def forms(secret: str) -> set[str]:
    """Every spelling of ``secret`` that could reach stored or shown text."""
    if not secret:
        return set()
    escaped = json.dumps(secret)[1:-1]
    found = {secret, escaped, escaped.replace("/", "\\/"), repr(secret)[1:-1]}
    for encoded in (
        quote(secret, safe=""),
        quote(secret, safe="/"),
        quote(secret, safe="/:=+"),  # what a lenient encoder leaves alone
        quote_plus(secret, safe=""),
        quote(secret, safe="").replace("%2B", "%20"),
        secret.replace("+", " "),  # a '+' read back from a query string is a space
    ):
        found |= {encoded, _lower_hex(encoded)}
    raw = secret.encode("utf-8")
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(raw).decode()
        found |= {whole, whole.rstrip("=")}
        found |= {core for core in _aligned_cores(raw, encode) if len(core) >= MIN_BASE64_CORE}
    return {f for f in found if f}


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


def _aligned_cores(raw: bytes, encode: object) -> list[str]:
    """The characters of the base64 of ``raw`` that do not depend on its neighbours, for
    each of the three positions ``raw`` can start at within a 3-byte group."""
    cores = []
    for offset, skip in ((0, 0), (1, 2), (2, 3)):
        total = offset + len(raw)
        keep = 4 * (total // 3) + total % 3  # the last partial group's final char is shared
        text = encode(b"\0" * offset + raw).decode()  # type: ignore[operator]
        cores.append(text[skip:keep])
    return cores


class Redactor:
    """Replaces every form of the given secrets with ``REDACTED``."""

    def __init__(self, secrets: Iterable[str | None]):
        spelled = {f for s in secrets if s for f in forms(s)}
        # longest first, so a form that contains a shorter one goes whole
        self.forms = sorted(spelled, key=len, reverse=True)
        self._pattern = (
            re.compile("|".join(re.escape(f) for f in self.forms)) if self.forms else None
        )
        self._bytes_forms = [f.encode("utf-8") for f in self.forms]
        self._bytes_pattern = (
            re.compile(b"|".join(re.escape(f) for f in self._bytes_forms)) if self.forms else None
        )

    def __bool__(self) -> bool:
        return bool(self.forms)

    def text(self, value: str) -> str:
        if not self._pattern or not value or not any(f in value for f in self.forms):
            return value  # looking for each form is many times faster than the pattern
        return self._pattern.sub(REDACTED, value)

    def bytes(self, value: bytes) -> bytes:
        if not self._bytes_pattern or not value or not any(f in value for f in self._bytes_forms):
            return value
        return self._bytes_pattern.sub(REDACTED.encode(), value)


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every form of every secret replaced."""
    return Redactor(secrets).text(text)


def email_secrets(settings: EmailConfig, environ: Mapping[str, str]) -> list[str]:
    """The SMTP password, and the AUTH PLAIN string (``\\0user\\0password``) a server may
    echo in base64. The username is no secret, and often a word found elsewhere."""
    password = environ.get(settings.password_env or "") if settings.password_env else None
    if not password:
        return []
    user = environ.get(settings.username_env or "", "") if settings.username_env else ""
    return [password, f"\0{user}\0{password}"]


def config_secrets(config: Config, environ: Mapping[str, str]) -> list[str]:
    """Every secret a config puts in play: the API keys and the SMTP login."""
    keys = [s.api_key for s in config.sources.values() if s.api_key]
    return keys + email_secrets(config.email, environ)


def protect_logging(secrets: Iterable[str | None]) -> None:
    """Redact ``secrets`` from every record the root logger's handlers write."""
    redactor = Redactor(secrets)
    for handler in logging.getLogger().handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
            handler.removeFilter(old)
        handler.addFilter(RedactingFilter(redactor))


class RedactingFilter(logging.Filter):
    """A logging filter that redacts a record's message (and its arguments) in place."""

    def __init__(self, redactor: Redactor):
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        if self.redactor:
            message = record.getMessage()
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.msg, record.args = self.redactor.text(message), None
            if record.exc_text:
                record.exc_text = self.redactor.text(record.exc_text)
        return True
