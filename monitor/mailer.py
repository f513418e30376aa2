"""Email digests over SMTP: what the latest runs found, sent when ``[email] policy`` says so.

Policies: ``on-change`` (only when an alert fired), ``every-run``, ``weekly``. A
digest covers the alerts of every run since the last one that was sent. Each
attempt is recorded in ``email_deliveries``; a failed send (server down, login
refused) is retried after the next run, with the alerts it missed, and so are the
alerts of a run that never got to send its digest.

A message is ``multipart/alternative``: a plain-text part, then an email-safe
HTML part (inline CSS, table layout) related to one PNG chart per work, shown
through its Content-ID. Mail clients strip SVG, so the chart is a PNG
(``monitor.pngchart``).
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import socket
import ssl
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import sqlite_utils

from monitor import __version__, alerts, headline, metadata, pngchart, report, store
from monitor.alerts import Alert, shorten
from monitor.config import Config, EmailConfig
from monitor.errors import MonitorError
from monitor.lock import run_lock
from monitor.models import Outcome
from monitor.sources import SOURCES, title_of

log = logging.getLogger(__name__)

WEEK = timedelta(days=7) - timedelta(hours=1)  # a weekly run a little early still sends
SMTP_TIMEOUT_SECONDS = 30.0
MAX_ALERTS_SHOWN = 50
MAX_WORKS_SHOWN = 10  # each with a table and a chart; the report has every work
KIND_LABELS = {
    "retraction": "Retraction",
    "correction": "Correction",
    "new_citations": "New citations",
    "milestone": "Milestone",
    "drop": "Count fell",
    "jump": "Unusual jump",
    "citing_retraction": "Citing work retracted",
    "source_failing": "Source failing",
}


class DeliveryError(MonitorError):
    """The digest could not be handed to the SMTP server."""


@dataclass(frozen=True)
class SourceLine:
    """One source's count of one work in the digest."""

    source: str
    title: str
    citations: int | None  # the last ok count
    change: int | None  # since the digest's first run
    outcome: str  # of the latest observation
    message: str

    @property
    def failed(self) -> bool:
        return Outcome(self.outcome).is_failure

    @property
    def change_text(self) -> str:
        if not self.change:
            return ""
        return f"+{self.change}" if self.change > 0 else str(self.change)


@dataclass(frozen=True)
class DigestWork:
    doi: str
    title: str
    now: int | None
    lines: tuple[SourceLine, ...]
    alerts: tuple[Alert, ...]
    chart: bytes | None  # only for the works the digest shows
    chart_cid: str  # without angle brackets, as the HTML's cid: URL wants it
    legend: tuple[tuple[str, str, int], ...]  # (colour, source title, last value)

    @property
    def url(self) -> str:
        return f"https://doi.org/{self.doi}"


@dataclass(frozen=True)
class Digest:
    subject: str
    text: str
    html: str
    works: tuple[DigestWork, ...]  # those shown, the most newsworthy first
    alerts: tuple[Alert, ...]
    first_run_id: int
    run_id: int


@dataclass(frozen=True)
class Delivery:
    status: str  # "sent" or "failed"
    subject: str
    recipients: tuple[str, ...]
    alerts: int
    first_run_id: int
    run_id: int
    error: str = ""


# --- when, and what it covers -------------------------------------------------------


def plan(
    db: sqlite_utils.Database, settings: EmailConfig, run_id: int, now: datetime
) -> tuple[bool, int]:
    """(whether a digest is due after run ``run_id``, the first run it covers).

    A digest covers every run since the one the last sent digest covered, so the
    alerts of a failed send, or of a run that never got to its send (killed, or
    the report failed), go out with the next digest. Before any digest was sent, it
    covers the first failed one's runs, else just this run.
    """
    sent = next(
        db.query("SELECT * FROM email_deliveries WHERE status = 'sent' ORDER BY id DESC LIMIT 1"),
        None,
    )
    failed = next(
        db.query(
            "SELECT * FROM email_deliveries WHERE status = 'failed' AND id > ? ORDER BY id LIMIT 1",
            [sent["id"] if sent else 0],
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
    fired = db.execute(
        "SELECT count(*) FROM alert_events WHERE run_id BETWEEN ? AND ?", [first_run_id, run_id]
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
) -> Delivery | None:
    """Send the digest if the policy says so (or ``force``), and record the attempt.

    Returns None when no digest was due. Never raises for a failed send: the
    failure is recorded, returned, and retried after the next run.
    """
    due, first_run_id = plan(db, config.email, run_id, now)
    if not (due or force):
        return None
    environ = os.environ if environ is None else environ
    # the login is in play: no password reaches the log, the database or the output,
    # even quoted by a library's exception or echoed by the server
    secrets = _secrets(config.email, environ)
    status, error, subject, count, message_id = "sent", "", "(digest not built)", 0, None
    try:
        digest = build(db, config, first_run_id, run_id, now)
        subject, count = digest.subject, len(digest.alerts)
        message = compose(digest, config.email, now)
        message_id = message["Message-ID"]
        refused = send(message, config.email, environ, ssl_context)
        if refused:
            error = "refused recipients: " + ", ".join(sorted(refused))
    except DeliveryError as exc:
        status, error = "failed", _redact(str(exc), secrets)
        log.warning("email digest not sent: %s", error)
    except Exception as exc:  # noqa: BLE001 - recorded, so that the next run retries it
        trace = "".join(traceback.format_exception(exc))
        log.error("email digest failed:\n%s", _redact(trace, secrets).rstrip())
        status, error = "failed", _redact(f"internal error: {type(exc).__name__}: {exc}", secrets)
    delivery = Delivery(
        status, subject, config.email.recipients, count, first_run_id, run_id, error
    )
    record(db, delivery, config.email.policy, message_id, now)
    return delivery


def record(
    db: sqlite_utils.Database,
    delivery: Delivery,
    policy: str,
    message_id: str | None,
    now: datetime,
) -> None:
    with db.atomic():
        db.execute(
            "INSERT INTO email_deliveries (run_id, first_run_id, attempted_at, status, policy, subject, "
            "recipients, alerts, message_id, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            ],
        )


def latest_run_id(db: sqlite_utils.Database) -> int:
    run = store.latest_run(db)
    if run is None:
        raise MonitorError("no runs yet: run `citation-monitor run` first")
    return int(run["id"])


def preview(config: Config, now: datetime) -> EmailMessage:
    """The digest that would go out now, covering the runs a send now would cover."""
    db = store.open_db(config.database)
    try:
        run_id = latest_run_id(db)
        _, first_run_id = plan(db, config.email, run_id, now)
        return compose(build(db, config, first_run_id, run_id, now), config.email, now)
    finally:
        db.close()


def send_now(config: Config, now: datetime, environ: Mapping[str, str] | None = None) -> Delivery:
    """Send the digest for the latest run whatever the policy, and record the attempt.

    Under the run lock, so that a run's own digest never races this one.
    """
    with run_lock(config.database):
        db = store.open_db(config.database)
        try:
            delivery = deliver(db, config, latest_run_id(db), now, force=True, environ=environ)
            assert delivery is not None
            return delivery
        finally:
            db.close()


# --- the digest -----------------------------------------------------------------------


def build(
    db: sqlite_utils.Database, config: Config, first_run_id: int, run_id: int, now: datetime
) -> Digest:
    found = alerts.for_runs(db, first_run_id, run_id)
    rows = store.works_rows(db)
    every = []
    for row in rows:
        work = _work(db, row, first_run_id, run_id, [a for a in found if a.doi == row["doi"]])
        if work.lines or work.alerts:  # else it is no longer tracked
            every.append(work)
    # Many works would make a long, heavy message that mail clients clip: the most
    # newsworthy few are shown, with their charts; the report has the rest.
    ids = {row["doi"]: row["id"] for row in rows}
    works = tuple(
        replace(work, **_chart(db, ids[work.doi], work.lines, run_id, index))
        for index, work in enumerate(sorted(every, key=_newsworthiness)[:MAX_WORKS_SHOWN], 1)
    )
    run = next(db.query("SELECT * FROM runs WHERE id = ?", [run_id]), None) or {}
    failed = _failed_sources(run)
    subject = subject_line(found, every)
    shown = tuple(found[:MAX_ALERTS_SHOWN])
    context = {
        "subject": subject,
        "alerts": [
            {"label": KIND_LABELS.get(a.kind, a.kind), "kind": a.kind, "message": a.message}
            for a in shown
        ],
        "more_alerts": len(found) - len(shown),
        "works": works,
        "more_works": len(every) - len(works),
        "more_works_text": _more_works(len(every) - len(works)),
        "run": run,
        "failed": failed,
        "report_url": config.email.report_url,
        "policy": config.email.policy,
        "version": __version__,
        "sent_at": now.strftime("%Y-%m-%d %H:%M UTC"),
    }
    html = report.environment(config.folder).get_template("digest_email.html").render(**context)
    return Digest(subject, _text(context), html, works, tuple(found), first_run_id, run_id)


def _newsworthiness(work: DigestWork) -> tuple[int, int]:
    """Sort key: works with alerts first (the most important kind first), then the
    biggest change since the last digest; ties keep the works' order."""
    rank = min((a.rank for a in work.alerts), default=len(alerts.KINDS) + 1)
    return (rank, -sum(abs(line.change or 0) for line in work.lines))


def _work(
    db: sqlite_utils.Database,
    row: Mapping[str, Any],
    first_run_id: int,
    run_id: int,
    found: list[Alert],
) -> DigestWork:
    """A work's counts per source; its chart is drawn only if it is shown (``_chart``)."""
    record, _ = metadata.merge(store.latest_metadata(db, row["doi"]))
    title = record.get("title") or row["label"] or row["doi"]
    history = list(
        db.query(
            "SELECT source, run_id, outcome, citations, message FROM observations "
            "WHERE work_id = ? AND run_id <= ? ORDER BY run_id, id",
            [row["id"], run_id],
        )
    )
    lines = []
    for source, module in SOURCES.items():
        mine = [h for h in history if h["source"] == source]
        if not mine or mine[-1]["run_id"] != run_id or not module.SPEC.counts_citations:
            continue  # a source not asked in the latest run is no longer enabled
        ok = [h for h in mine if h["outcome"] == "ok" and h["citations"] is not None]
        before = [h for h in ok if h["run_id"] < first_run_id]
        latest = ok[-1]["citations"] if ok else None
        change = latest - before[-1]["citations"] if ok and before else None
        lines.append(
            SourceLine(
                source, module.SPEC.title, latest, change, mine[-1]["outcome"], mine[-1]["message"]
            )
        )
    run = next(db.query("SELECT * FROM runs WHERE id = ?", [run_id]))
    now = headline.for_work(db, row["doi"], run).now.value  # the one headline every view shows
    return DigestWork(row["doi"], title, now, tuple(lines), tuple(found), None, "", ())


def _chart(
    db: sqlite_utils.Database,
    work_id: int,
    lines: Sequence[SourceLine],
    run_id: int,
    index: int,
) -> dict[str, Any]:
    """The PNG chart of a work's good counts per day, for the sources of its ``lines``;
    its Content-ID and legend."""
    shown = {line.source for line in lines}
    by_source: dict[str, dict[date, int]] = {}
    for h in db.query(
        "SELECT source, citations, observed_at FROM observations WHERE work_id = ? AND run_id <= ? "
        "AND outcome = 'ok' AND citations IS NOT NULL ORDER BY run_id, id",
        [work_id, run_id],
    ):
        day = datetime.fromisoformat(h["observed_at"]).date()
        by_source.setdefault(h["source"], {})[day] = h["citations"]
    series = [
        pngchart.Line(module.SPEC.title, tuple(sorted(by_source[source].items())))
        for source, module in SOURCES.items()
        if source in by_source and source in shown
    ][: len(pngchart.SERIES)]
    if not series:
        return {"chart": None, "chart_cid": "", "legend": ()}
    return {
        "chart": pngchart.line_chart(series),
        "chart_cid": f"chart-{index}@citation-monitor",
        "legend": tuple(
            (pngchart.COLORS[i], s.label, s.points[-1][1]) for i, s in enumerate(series)
        ),
    }


def _failed_sources(run: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(source title, message) of each source that failed in the run, from its summary."""
    summary = json.loads(run.get("summary") or "{}")
    return [
        (title_of(name), entry.get("message") or entry["outcome"])
        for name, entry in summary.items()
        if Outcome(entry["outcome"]).is_failure
    ]


def subject_line(found: Sequence[Alert], works: Sequence[DigestWork]) -> str:
    """Says what happened: the most important kind of alert first, then how many others."""
    titles = {w.doi: w for w in works}
    if not found:
        if len(works) == 1:
            only = works[0]
            count = f" ({only.now} citations)" if only.now is not None else ""
            return f"No new alerts: {shorten(only.title, 30)}{count}"
        return f"No new alerts for {len(works)} works"
    lead = found[0]
    same = [a for a in found if a.kind == lead.kind]
    work = titles.get(lead.doi or "")
    name = shorten(work.title, 30) if work else ""
    now = f" (now {work.now})" if work and work.now is not None else ""
    hit = {a.doi for a in same}
    if lead.kind == "new_citations":
        n = sum(int(a.details.get("count", 0)) for a in same)
        plural = "s" if n != 1 else ""
        text = (
            f"{n} new citation{plural}: {name}{now}"
            if len(hit) == 1
            else f"{n} new citation{plural} of {len(hit)} works"
        )
        others = len(found) - len(same)
    else:
        text = {
            "retraction": f"Retraction: {name}",
            "correction": f"Correction: {name}",
            "milestone": f"{name} passed {lead.details.get('milestone')} citations",
            "drop": f"Citation count fell: {name}{now}",
            "jump": f"Unusual jump in citations: {name}{now}",
            "citing_retraction": f"A citing work was retracted: {name}",
        }.get(lead.kind, lead.message)
        if lead.kind == "source_failing":
            text = shorten(lead.message.split(":")[0], 70)
        others = len(found) - 1
    if others:
        text += f" (+{others} more alert{'s' if others != 1 else ''})"
    return text


def _text(context: Mapping[str, Any]) -> str:
    """The plain-text part: the same content as the HTML, readable as it is."""
    out = [context["subject"], ""]
    if context["alerts"]:
        out.append("Alerts")
        out += [f"- {a['label']}: {a['message']}" for a in context["alerts"]]
        if context["more_alerts"]:
            out.append(f"- and {context['more_alerts']} more: see the report")
        out.append("")
    for work in context["works"]:
        out += [work.title, work.url]
        width = max((len(line.title) for line in work.lines), default=8)
        for line in work.lines:
            count = "" if line.citations is None else str(line.citations)
            text = f"  {line.title:<{width}}  {count:>6}"
            if line.change_text:
                text += f"  ({line.change_text})"
            if line.failed:
                text += f"  {Outcome(line.outcome).plain}: {line.message}"
            out.append(text.rstrip())
        out.append("")
    if context["more_works"]:
        out += [f"{_more_works(context['more_works'])}: see the report.", ""]
    run = context["run"]
    if run:
        out.append(f"Run {run['id']} started {run['started_at'][:16].replace('T', ' ')} UTC.")
    for title, message in context["failed"]:
        out.append(f"{title} failed in that run: {message}")
    if context["report_url"]:
        out.append(f"Full report: {context['report_url']}")
    out += [
        "",
        "-- ",
        f'citation-monitor {context["version"]}; [email] policy = "{context["policy"]}"',
    ]
    return "\n".join(out) + "\n"


def _more_works(n: int) -> str:
    return f"And {n} more work{'s' if n != 1 else ''} with less news"


def compose(digest: Digest, settings: EmailConfig, now: datetime) -> EmailMessage:
    """multipart/alternative: text/plain, then multipart/related (text/html + PNG charts)."""
    message = EmailMessage()
    message["Subject"] = digest.subject
    message["From"] = settings.sender or "citation-monitor@localhost"
    message["To"] = ", ".join(settings.recipients) or "undisclosed-recipients:;"
    message["Date"] = format_datetime(now)
    domain = (settings.sender or "citation-monitor@localhost").rpartition("@")[2]
    message["Message-ID"] = make_msgid("citation-monitor", domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, please
    message.set_content(digest.text)
    message.add_alternative(digest.html, subtype="html")
    html_part = message.get_body(("html",))
    assert isinstance(html_part, EmailMessage)
    for work in digest.works:
        if work.chart:
            html_part.add_related(
                work.chart,
                maintype="image",
                subtype="png",
                cid=f"<{work.chart_cid}>",
                disposition="inline",
                filename=f"{work.chart_cid.split('@')[0]}.png",
            )
    return message


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


def _secrets(settings: EmailConfig, environ: Mapping[str, str]) -> list[str]:
    """The password (the username is no secret, and often a word found elsewhere)."""
    name = settings.password_env
    return [environ[name]] if name and environ.get(name) else []


def _redact(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret, and its repr-escaped form, replaced by ``***``."""
    for secret in sorted(secrets, key=len, reverse=True):
        for form in {secret, repr(secret)[1:-1]}:
            text = text.replace(form, "***")
    return text


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
