"""Email digests over SMTP: when a digest is due, sending it, and what each delivery carried.

Policies: ``on-change`` (only when an alert fired), ``every-run``, ``weekly``. A
digest covers the runs since the one the last sent digest covered, less what a
delivered digest already carried (``digest_items``), so nothing is sent twice, by
``run`` or by ``email``.

Each audience has its own digests: ``[email] recipients`` get the digest of every
work, and each collection with its own ``recipients`` gets its collection's
(``deliver_all``). The policy, what a digest covers and "sent once" hold per audience
(``email_deliveries.collection_id``): an item one audience got still goes to another,
once. Each attempt is recorded in ``email_deliveries`` with what it
carried; a failed send (server down, login refused) is retried after the next run,
with the news it missed, and so is the news of a run that never got to send its digest.

What a digest says is built by ``monitor.digest`` and laid out by ``monitor.digest_email``.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import socket
import ssl
import traceback
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import sqlite_utils

from monitor import digest, digest_email, redaction, store
from monitor.config import CollectionConfig, Config, EmailConfig
from monitor.errors import ConfigError, MonitorError
from monitor.lock import run_lock

log = logging.getLogger(__name__)

WEEK = timedelta(days=7) - timedelta(hours=1)  # a weekly run a little early still sends
SMTP_TIMEOUT_SECONDS = 30.0


class DeliveryError(MonitorError):
    """The digest could not be handed to the SMTP server."""


@dataclass(frozen=True)
class Delivery:
    status: str  # "sent" or "failed"
    subject: str
    recipients: tuple[str, ...]
    alerts: int
    first_run_id: int
    run_id: int
    error: str = ""
    carried: tuple[digest.Carried, ...] = ()  # recorded in digest_items
    collection: str | None = None  # the audience: None for [email] recipients, else a collection's
    collection_id: int | None = None


# --- when, and what it covers -------------------------------------------------------


def plan(
    db: sqlite_utils.Database,
    settings: EmailConfig,
    run_id: int,
    now: datetime,
    collection: tuple[int, str] | None = None,
) -> tuple[bool, int]:
    """(whether a digest is due after run ``run_id``, the first run it covers), for
    ``[email] recipients`` or a ``collection`` (its id and name)'s recipients.

    A digest covers every run since the one the audience's last sent digest covered, so
    the alerts of a failed send, or of a run that never got to its send (killed, or
    the report failed), go out with the next digest. Before any digest was sent, it
    covers the first failed one's runs, else just this run. A collection's digest is
    due on change when an alert about its works fired.
    """
    audience = collection[0] if collection else None
    sent = next(
        db.query(
            "SELECT * FROM email_deliveries WHERE status = 'sent' AND collection_id IS ? ORDER BY id DESC LIMIT 1",
            [audience],
        ),
        None,
    )
    failed = next(
        db.query(
            "SELECT * FROM email_deliveries WHERE status = 'failed' AND collection_id IS ? AND id > ? "
            "ORDER BY id LIMIT 1",
            [audience, sent["id"] if sent else 0],
        ),
        None,
    )
    if sent:
        first_run_id = min(sent["run_id"] + 1, run_id)
    else:
        first_run_id = min(failed["first_run_id"], run_id) if failed else run_id
    if failed:  # retry what did not go out, with everything since
        return True, first_run_id
    if settings.policy == "weekly":
        due = sent is None or now - datetime.fromisoformat(sent["attempted_at"]) >= WEEK
        return due, first_run_id
    if settings.policy == "every-run":
        return True, first_run_id
    if collection is None:
        fired = db.execute(
            "SELECT count(*) FROM alert_events WHERE run_id BETWEEN ? AND ?", [first_run_id, run_id]
        ).fetchone()[0]
    else:
        fired = db.execute(
            "SELECT count(*) FROM alert_events a WHERE a.run_id BETWEEN ? AND ? AND a.work_id IN "
            "(SELECT work_id FROM collection_members WHERE collection_id = ? AND first_seen_run_id <= ? "
            "AND (left_run_id IS NULL OR left_run_id > ?)) "
            "AND (a.kind != 'new_work' OR json_extract(a.details, '$.collection') = ?)",
            [first_run_id, run_id, collection[0], run_id, run_id, collection[1]],
        ).fetchone()[0]
    return bool(fired), first_run_id


def deliver(
    db: sqlite_utils.Database,
    config: Config,
    run_id: int,
    now: datetime,
    *,
    force: bool = False,
    environ: Mapping[str, str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    dois: Collection[str] | None = None,
    collection: CollectionConfig | None = None,
) -> Delivery | None:
    """Send the digest if the policy says so (or ``force``), and record the attempt with
    what it carried. ``dois``: a digest about these works only; ``collection``: that
    collection's digest, to its own recipients.

    Returns None when no digest was due (or the collection has not been resolved yet).
    Never raises for a failed send: the failure is recorded, returned, and retried after
    the next run.
    """
    try:
        audience = _audience(db, collection)
    except MonitorError:
        return None
    settings = replace(config.email, recipients=collection.recipients) if collection else config.email
    due, first_run_id = plan(db, settings, run_id, now, audience)
    if not (due or force):
        return None
    environ = os.environ if environ is None else environ
    # the login is in play: no password reaches the log, the database or the output,
    # even quoted by a library's exception or echoed by the server
    secrets = redaction.email_secrets(config.email, environ)
    status, error, subject, message_id = "sent", "", "(digest not built)", None
    built = None
    try:
        built = digest.build(db, config, first_run_id, run_id, dois, audience[1] if audience else None)
        subject = built.subject
        message = digest_email.compose(built, settings, now, config.folder)
        message_id = message["Message-ID"]
        refused = send(message, settings, environ, ssl_context)
        if refused:
            error = "refused recipients: " + ", ".join(sorted(refused))
    except DeliveryError as exc:
        status, error = "failed", redaction.redact(str(exc), secrets)
        log.warning("email digest not sent: %s", error)
    except Exception as exc:  # noqa: BLE001 - recorded, so that the next run retries it
        trace = "".join(traceback.format_exception(exc))
        log.error("email digest failed:\n%s", redaction.redact(trace, secrets).rstrip())
        status, error = "failed", redaction.redact(
            f"internal error: {type(exc).__name__}: {exc}", secrets
        )
    delivery = Delivery(
        status,
        subject,
        settings.recipients,
        built.alerts if built else 0,
        first_run_id,
        run_id,
        error,
        built.carried if built else (),
        audience[1] if audience else None,
        audience[0] if audience else None,
    )
    record(db, delivery, settings.policy, message_id, now)
    return delivery


def deliver_all(
    db: sqlite_utils.Database, config: Config, run_id: int, now: datetime, **options: Any
) -> list[Delivery]:
    """The digest for ``[email] recipients``, then each collection's that names its own
    recipients: those due (or all, with ``force``), each recorded on its own."""
    found = [deliver(db, config, run_id, now, **options)]
    found += [deliver(db, config, run_id, now, collection=c, **options) for c in config.collections if c.recipients]
    return [d for d in found if d is not None]


def record(
    db: sqlite_utils.Database,
    delivery: Delivery,
    policy: str,
    message_id: str | None,
    now: datetime,
) -> None:
    """The attempt, and each alert and citing work it carried (``digest_items``)."""
    with db.atomic():
        cursor = db.execute(
            "INSERT INTO email_deliveries (run_id, first_run_id, attempted_at, status, policy, subject, "
            "recipients, alerts, message_id, error, collection_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                delivery.run_id,
                delivery.first_run_id,
                store.iso(now),
                delivery.status,
                policy,
                delivery.subject,
                json.dumps(list(delivery.recipients)),
                delivery.alerts,
                message_id,
                delivery.error,
                delivery.collection_id,
            ],
        )
        db.conn.executemany(
            "INSERT INTO digest_items (delivery_id, work_id, alert_id, citation_id, shown) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                (cursor.lastrowid, c.work_id, c.alert_id, c.citation_id, int(c.shown))
                for c in delivery.carried
            ],
        )


def latest_run_id(db: sqlite_utils.Database) -> int:
    run = store.latest_run(db)
    if run is None:
        raise MonitorError("no runs yet: run `citation-monitor run` first")
    return int(run["id"])


def _audience(db: sqlite_utils.Database, collection: CollectionConfig | None) -> tuple[int, str] | None:
    """A collection's (id, name) in the database; None for ``[email] recipients``."""
    if collection is None:
        return None
    row = db.execute("SELECT id FROM collections WHERE name = ? AND removed_at IS NULL", [collection.name]).fetchone()
    if row is None:
        raise MonitorError(f"collection {collection.name!r} has not been resolved yet: run `citation-monitor run` first")
    return int(row[0]), collection.name


def audience(config: Config, name: str | None) -> CollectionConfig | None:
    """The collection called ``name`` (None: ``[email] recipients``); a ConfigError unless
    it names its own recipients."""
    if name is None:
        return None
    found = next((c for c in config.collections if c.name == name), None)
    if found is None or not found.recipients:
        names = ", ".join(c.name for c in config.collections if c.recipients) or "none has"
        raise ConfigError(f"{config.path}: no [[collections]] {name!r} with recipients (with recipients: {names})")
    return found


def preview(config: Config, now: datetime, collection: str | None = None) -> EmailMessage:
    """The digest that would go out now to ``[email] recipients`` (or a collection's), as a
    send now would build it; nothing is recorded."""
    group = audience(config, collection)
    settings = replace(config.email, recipients=group.recipients) if group else config.email
    db = store.open_reader(config.database)
    try:
        run_id = latest_run_id(db)
        _, first_run_id = plan(db, settings, run_id, now, _audience(db, group))
        built = digest.build(db, config, first_run_id, run_id, collection=collection)
        return digest_email.compose(built, settings, now, config.folder)
    finally:
        db.close()


def send_now(config: Config, now: datetime, environ: Mapping[str, str] | None = None,
             collection: str | None = None) -> Delivery:
    """Send the digest for the latest run to ``[email] recipients`` (or a collection's)
    whatever the policy, and record the attempt.

    Under the run lock, so that a run's own digest never races this one.
    """
    group = audience(config, collection)
    store.check_ours(config.database)  # before the lock file goes beside another's database
    with run_lock(config.database):
        db = store.open_db(config.database)
        try:
            _audience(db, group)  # resolved at least once
            delivery = deliver(db, config, latest_run_id(db), now, force=True, environ=environ, collection=group)
            assert delivery is not None
            return delivery
        finally:
            db.close()


# --- sending ----------------------------------------------------------------------------


def send(
    message: EmailMessage,
    settings: EmailConfig,
    environ: Mapping[str, str],
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = SMTP_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """Hand the message to the SMTP server. Returns refused recipients; raises DeliveryError."""
    user = _secret(environ, settings.username_env, "username_env")
    password = _secret(environ, settings.password_env, "password_env")
    host, port = settings.smtp_host, settings.smtp_port
    where = f"SMTP server {host}:{port}"
    try:
        if settings.security == "ssl":
            context = ssl_context or ssl.create_default_context()
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        with smtp:
            smtp.ehlo()
            if settings.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(
                        f"{where} does not offer STARTTLS: check [email] smtp_port, or set "
                        'security = "ssl" for a server that speaks TLS at once (usually port 465)'
                    )
                smtp.starttls(context=ssl_context or ssl.create_default_context())
                smtp.ehlo()
            if user is not None and password is not None:
                if not smtp.has_extn("auth"):
                    raise DeliveryError(
                        f"{where} offers no login (AUTH) here: {_no_auth_fix(settings)}"
                    )
                try:
                    smtp.login(user, password)
                except UnicodeEncodeError:  # its message would quote the password
                    raise DeliveryError(
                        f"{where} cannot take the login: ${settings.username_env} or "
                        f"${settings.password_env} has a character outside ASCII, which "
                        "smtplib cannot send; use an ASCII (app) password"
                    ) from None
            return dict(smtp.send_message(message))
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(
            f"{where} refused the login ({exc.smtp_code} {_said(exc.smtp_error)}): "
            f"check ${settings.username_env} and ${settings.password_env}"
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise DeliveryError(f"{where} does not support what sending needs ({exc})") from None
    except smtplib.SMTPRecipientsRefused as exc:
        refused = ", ".join(sorted(exc.recipients))
        raise DeliveryError(
            f"{where} refused every recipient ({refused}): check [email] recipients"
        ) from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"{where} answered {exc.smtp_code} {_said(exc.smtp_error)}") from None
    except ssl.SSLError as exc:
        raise DeliveryError(
            f"TLS with {where} failed ({exc.reason or exc}): check [email] security"
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        reason = (
            exc.strerror
            if isinstance(exc, OSError) and exc.strerror
            else str(exc) or type(exc).__name__
        )
        if isinstance(exc, socket.timeout):
            reason = f"no answer within {timeout:g} s"
        raise DeliveryError(
            f"cannot reach {where} ({reason}): check [email] smtp_host and smtp_port"
        ) from None


def _no_auth_fix(settings: EmailConfig) -> str:
    unneeded = "remove [email] username_env and password_env if it needs no login"
    if settings.security == "none":  # most servers offer AUTH over TLS only
        return f'set [email] security = "starttls" (or "ssl"), or {unneeded}'
    return unneeded


def _secret(environ: Mapping[str, str], name: str | None, key: str) -> str | None:
    if not name:
        return None
    value = environ.get(name)
    if not value:
        raise DeliveryError(f"environment variable {name} (named by [email] {key}) is not set")
    return value


def _said(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())
