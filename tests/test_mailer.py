"""Email digests, against a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
import functools
import io
import json
import shutil
import sqlite3
import ssl
import subprocess
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from aiosmtpd.smtp import AuthResult

from monitor import alerts, collect, digest, digest_chart, mailer, store
from monitor.config import EmailConfig, load_config
from tests.conftest import DEFAULT_DOI
from tests.fakeapi.routes import openalex as fake_openalex
from tests.mail import RECIPIENTS, deliveries, email_section, flat, free_port

SUBJECT_44 = '3 new citations of "Emerging role of autophagy…" (now 44)'  # OpenAlex 41 → 44


@pytest.fixture
def write_config(write_config):
    return functools.partial(write_config, only=("openalex", "crossref"))


def png_size_and_colors(data: bytes) -> tuple[int, int, set[tuple[int, int, int]]]:
    """A PNG's size and the colours it uses (Pillow decodes it: matplotlib depends on it)."""
    from PIL import Image

    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(data)).convert("RGB")
    return image.width, image.height, {rgb for _, rgb in image.getcolors(maxcolors=1 << 20)}


def test_the_digest_after_a_run_with_alerts_arrives_whole(
    write_config, invoke, fake_api, smtp_server, tmp_path
):
    inbox = smtp_server()
    config = write_config(extra=email_section(inbox.port))
    assert invoke("run", "--config", str(config)).exit_code == 0
    assert inbox.envelopes == [] and deliveries(tmp_path) == []  # on-change: nothing happened
    fake_openalex.set_count(fake_api, DEFAULT_DOI, 44)
    result = invoke("run", "--config", str(config))
    assert result.exit_code == 0 and result.output == ""  # quiet: nothing went wrong

    (envelope,) = inbox.envelopes
    assert envelope.mail_from == "monitor@example.org"
    assert envelope.rcpt_tos == RECIPIENTS
    (message,) = inbox.messages
    assert message["Subject"] == SUBJECT_44
    assert message["From"] == "monitor@example.org"
    assert message["To"] == "ada@example.org, grace@example.org"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].strip().endswith("@example.org>")
    assert email.utils.parsedate_to_datetime(message["Date"]).tzinfo is not None

    assert message.get_content_type() == "multipart/alternative"
    text, related = message.get_payload()
    assert text.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html, image = related.get_payload()
    assert html.get_content_type() == "text/html"
    assert image.get_content_type() == "image/png"

    plain = text.get_content().replace("\r\n", "\n")
    assert "New citations: 3 new citations of “Emerging role of autophagy" in plain
    assert "OpenAlex (41 → 44)" in plain
    assert f"https://doi.org/{DEFAULT_DOI}" in plain
    assert "Full report:\nhttps://example.org/citations/\n" in plain
    assert "Counts: OpenAlex 44 (+3) · Crossref 35\n" in plain

    body = html.get_content()
    assert image["Content-ID"] == "<chart-1@citation-monitor>"
    assert 'src="cid:chart-1@citation-monitor"' in body
    assert "<svg" not in body and "<style" not in body and "<script" not in body
    assert 'style="' in body and "<table" in body
    assert 'href="https://example.org/citations/"' in body
    assert "3 new citations of “Emerging role of autophagy" in body
    assert "Crossref <strong>35</strong>" in body and "OpenAlex <strong>44</strong> (+3)" in body

    width, height, colors = png_size_and_colors(image.get_content())
    assert (width, height) == (1040, 520)  # twice the displayed size, for sharp screens
    openalex, crossref = (digest_chart.style(s).color for s in ("openalex", "crossref"))
    assert {openalex, crossref} <= {"#{:02x}{:02x}{:02x}".format(*rgb) for rgb in colors}  # a line each

    (row,) = deliveries(tmp_path)
    assert row["status"] == "sent" and row["error"] == "" and row["alerts"] == 1
    assert row["run_id"] == 2 and row["first_run_id"] == 2
    assert (
        row["subject"] == message["Subject"] and row["message_id"] == message["Message-ID"].strip()
    )
    assert json.loads(row["recipients"]) == RECIPIENTS


def test_a_refused_login_is_recorded_and_retried_after_the_next_run(
    write_config, invoke, fake_api, smtp_server, tmp_path
):
    accepted = {"ok": False}

    def authenticator(server, session, envelope, mechanism, auth_data):
        good = (auth_data.login, auth_data.password) in (
            (b"monitor", b"s3cret"),
            ("monitor", "s3cret"),
        )
        return AuthResult(success=good and accepted["ok"], handled=False)  # the server answers 535

    inbox = smtp_server(authenticator=authenticator, auth_require_tls=False)
    config = write_config(
        extra=email_section(inbox.port, username_env="SMTP_USER", password_env="SMTP_PASS")
    )
    env = {"SMTP_USER": "monitor", "SMTP_PASS": "s3cret"}
    invoke("run", "--config", str(config), env=env)
    fake_openalex.set_count(fake_api, DEFAULT_DOI, 44)
    result = invoke("run", "--config", str(config), env=env)
    assert result.exit_code == 0  # the sources answered; the email problem is a warning
    assert (
        f"Warning: email digest not sent: SMTP server 127.0.0.1:{inbox.port} refused the login (535"
        in result.output
    )
    assert "check $SMTP_USER and $SMTP_PASS; it is retried after the next run" in result.output
    assert "s3cret" not in result.output
    assert inbox.envelopes == []
    (failed,) = deliveries(tmp_path)
    assert failed["status"] == "failed" and "refused the login" in failed["error"]
    assert failed["subject"] == SUBJECT_44

    accepted["ok"] = True  # the next run has no new alert, but the missed digest goes out
    assert invoke("run", "--config", str(config), env=env).exit_code == 0
    (message,) = inbox.messages
    assert message["Subject"] == SUBJECT_44
    retry = deliveries(tmp_path)[-1]
    assert retry["status"] == "sent" and retry["run_id"] == 3 and retry["first_run_id"] == 2
    assert invoke("run", "--config", str(config), env=env).exit_code == 0
    assert len(inbox.envelopes) == 1  # delivered: not sent again


def test_a_server_that_is_down_is_recorded_and_retried_after_the_next_run(
    write_config, invoke, fake_api, smtp_server, tmp_path
):
    port = free_port()  # nobody listens yet
    config = write_config(extra=email_section(port))
    invoke("run", "--config", str(config))
    fake_openalex.set_count(fake_api, DEFAULT_DOI, 44)
    result = invoke("run", "--config", str(config))
    assert result.exit_code == 0
    assert f"cannot reach SMTP server 127.0.0.1:{port} (Connection refused)" in result.output
    assert [d["status"] for d in deliveries(tmp_path)] == ["failed"]
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    assert conn.execute("select count(*) from alerts where run_id = 2").fetchone()[0] == 1  # kept
    assert conn.execute("select count(*) from observations where run_id = 2").fetchone()[0] == 2
    conn.close()

    fake_openalex.set_count(fake_api, DEFAULT_DOI, 45)  # a new alert in the meantime
    inbox = smtp_server(port=port)
    invoke("run", "--config", str(config))
    (message,) = inbox.messages
    assert message["Subject"] == '4 new citations of "Emerging role of autophagy…" (now 45)'
    plain = message.get_body(("plain",)).get_content()
    assert "(41 → 44)" in plain and "(44 → 45)" in plain  # both runs' alerts
    assert deliveries(tmp_path)[-1]["first_run_id"] == 2


def test_alerts_of_a_run_killed_before_its_digest_go_out_with_the_next(
    write_config, invoke, fake_api, smtp_server, tmp_path
):
    inbox = smtp_server()
    path = write_config(extra=email_section(inbox.port))
    invoke("run", "--config", str(path))
    assert invoke("email", "--config", str(path)).exit_code == 0  # a digest went out: run 1
    fake_openalex.set_count(fake_api, DEFAULT_DOI, 44)
    config = load_config(path, environ={})
    summary = collect.run(config)  # run 2 collects and raises its alerts, then is killed
    db = store.open_db(config.database)
    try:
        (alert,) = alerts.raise_alerts(db, config.alerts, summary.run_id, datetime.now(UTC))
    finally:
        db.close()
    assert invoke("run", "--config", str(path)).exit_code == 0  # run 3: nothing new
    assert len(inbox.envelopes) == 2
    message = inbox.messages[-1]
    assert message["Subject"] == SUBJECT_44
    assert alert.message in flat(message.get_body(("plain",)).get_content())
    last = deliveries(tmp_path)[-1]
    assert (last["status"], last["first_run_id"], last["run_id"]) == ("sent", 2, 3)


def test_a_report_that_cannot_be_written_still_lets_the_digest_go(
    write_config, invoke, fake_api, smtp_server, tmp_path
):
    inbox = smtp_server()
    config = write_config(extra=email_section(inbox.port))
    invoke("run", "--config", str(config))
    generations = tmp_path / "state/.report.site"  # where the report's sites are written
    shutil.rmtree(generations)
    generations.write_text("a file where the report's folder should be")
    fake_openalex.set_count(fake_api, DEFAULT_DOI, 44)
    result = invoke("run", "--config", str(config))
    assert result.exit_code == 0  # the sources answered; the report problem is a warning
    assert result.output.startswith("Warning: report not written: ")
    assert str(generations) in result.output
    (message,) = inbox.messages
    assert message["Subject"] == SUBJECT_44


def test_a_digest_that_could_not_even_be_planned_is_carried_by_the_next(
    write_config, invoke, fake_api, smtp_server, tmp_path, monkeypatch
):
    inbox = smtp_server()
    config = write_config(extra=email_section(inbox.port))
    invoke("run", "--config", str(config))
    invoke("email", "--config", str(config))
    plan = mailer.plan

    def locked(*args):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(mailer, "plan", locked)
    fake_openalex.set_count(fake_api, DEFAULT_DOI, 44)
    result = invoke("run", "--config", str(config))
    assert result.exit_code == 0
    assert result.output == (
        "Warning: email digest not attempted: internal error "
        "OperationalError('database is locked'); the next digest carries its alerts\n"
    )
    monkeypatch.setattr(mailer, "plan", plan)
    invoke("run", "--config", str(config))
    assert inbox.messages[-1]["Subject"] == SUBJECT_44


def test_a_digest_shows_the_most_newsworthy_works_and_counts_the_rest(
    write_config, invoke, fake_api, smtp_server, monkeypatch
):
    monkeypatch.setattr(digest, "MAX_WORKS_SHOWN", 1)
    inbox = smtp_server()
    quiet = "10.5555/quiet.1"  # listed first, but nothing happens to it
    config = write_config(works=[quiet, DEFAULT_DOI], extra=email_section(inbox.port))
    invoke("run", "--config", str(config))
    fake_openalex.set_count(fake_api, DEFAULT_DOI, 44)
    invoke("run", "--config", str(config))
    (message,) = inbox.messages
    plain = message.get_body(("plain",)).get_content()
    assert f"https://doi.org/{DEFAULT_DOI}" in plain and quiet not in plain
    assert "And 1 more work with less news: see the report." in plain
    html = message.get_body(("html",)).get_content()
    assert quiet not in html
    assert (
        'And 1 more work with less news: <a href="https://example.org/citations/" '
        'style="color:#1a0dab;">see the report</a>.'
    ) in html
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert [p["Content-ID"] for p in images] == ["<chart-1@citation-monitor>"]


def test_every_run_policy_sends_without_alerts(write_config, invoke, smtp_server):
    inbox = smtp_server()
    config = write_config(extra=email_section(inbox.port, policy="every-run"))
    invoke("run", "--config", str(config))
    invoke("run", "--config", str(config))
    assert [m["Subject"] for m in inbox.messages] == [
        "No new alerts: Emerging role of autophagy… (41 citations)"
    ] * 2


def test_the_digest_leaves_out_sources_and_works_no_longer_tracked(
    write_config, invoke, smtp_server
):
    inbox = smtp_server()
    dropped = "10.5555/no-longer-tracked"
    before = write_config(works=[DEFAULT_DOI, dropped], extra=email_section(inbox.port))
    invoke("run", "--config", str(before))
    after = write_config(
        only=("openalex",), works=[DEFAULT_DOI], extra=email_section(inbox.port, policy="every-run")
    )
    invoke("run", "--config", str(after))
    message = inbox.messages[-1]
    assert message["Subject"] == "No new alerts: Emerging role of autophagy… (41 citations)"
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "OpenAlex" in plain and "OpenAlex" in html
    for part in (plain, html):
        assert "Crossref" not in part and dropped not in part
    assert 'alt="Citation counts over time: OpenAlex 41"' in html


def test_weekly_policy_sends_a_week_apart_with_everything_since(
    write_config, invoke, fake_api, smtp_server, tmp_path
):
    inbox = smtp_server()
    path = write_config(extra=email_section(inbox.port, policy="weekly"))
    config = load_config(path, environ={})
    invoke("run", "--config", str(path))  # the first digest goes out at once
    assert len(inbox.envelopes) == 1
    db = store.open_db(config.database)
    try:
        sent_at = datetime.fromisoformat(deliveries(tmp_path)[0]["attempted_at"])
        fake_openalex.set_count(fake_api, DEFAULT_DOI, 44)
        invoke("run", "--config", str(path))
        assert len(inbox.envelopes) == 1  # not a week yet
        assert mailer.deliver(db, config, 2, sent_at + timedelta(days=3)) is None
        delivery = mailer.deliver(db, config, 2, sent_at + timedelta(days=7))
    finally:
        db.close()
    assert delivery is not None and delivery.status == "sent" and delivery.first_run_id == 2
    assert inbox.messages[-1]["Subject"] == SUBJECT_44


def test_email_dry_run_writes_an_eml_and_sends_nothing(write_config, invoke, fake_api, tmp_path):
    config = write_config()  # email disabled: a preview still works
    invoke("run", "--config", str(config))
    fake_openalex.set_count(fake_api, DEFAULT_DOI, 44)
    invoke("run", "--config", str(config))
    out = tmp_path / "digest.eml"
    result = invoke("email", "--config", str(config), "--dry-run", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert (
        result.output
        == f"Digest written to {out}: {SUBJECT_44}\n"
    )
    message = email.message_from_bytes(out.read_bytes(), policy=email.policy.default)
    assert message.get_content_type() == "multipart/alternative"
    assert message.get_body(("html",)).get_content().count("cid:chart-1@citation-monitor") == 1
    assert deliveries(tmp_path) == []


def test_email_sends_now_whatever_the_policy(write_config, invoke, smtp_server, tmp_path):
    inbox = smtp_server()
    config = write_config(extra=email_section(inbox.port))
    invoke("run", "--config", str(config))
    result = invoke("email", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Sent to ada@example.org, grace@example.org: No new alerts:")
    assert len(inbox.envelopes) == 1 and deliveries(tmp_path)[0]["status"] == "sent"


def test_email_refuses_when_disabled_or_before_any_run(write_config, invoke, tmp_path):
    config = write_config()
    result = invoke("email", "--config", str(config))
    assert result.exit_code == 2 and "run `citation-monitor run` first" in result.output
    invoke("run", "--config", str(config))
    result = invoke("email", "--config", str(config))
    assert result.exit_code == 2
    assert "[email] is not enabled; set enabled = true" in result.output


def test_a_missing_credential_variable_is_named(
    write_config, invoke, fake_api, smtp_server, tmp_path
):
    inbox = smtp_server()
    config = write_config(
        extra=email_section(
            inbox.port, policy="every-run", username_env="SMTP_USER", password_env="SMTP_PASS"
        )
    )
    result = invoke("run", "--config", str(config))
    assert (
        "environment variable SMTP_USER (named by [email] username_env) is not set" in result.output
    )
    assert deliveries(tmp_path)[0]["status"] == "failed"


def test_a_password_smtplib_cannot_send_is_named_never_shown(
    write_config, invoke, smtp_server, tmp_path, caplog
):
    secret = "pässwörd-s3cret"  # smtplib logs in with ASCII only
    inbox = smtp_server(
        authenticator=lambda *args: AuthResult(success=True), auth_require_tls=False
    )
    config = write_config(
        extra=email_section(
            inbox.port, policy="every-run", username_env="SMTP_USER", password_env="SMTP_PASS"
        )
    )
    result = invoke(
        "run", "--config", str(config), env={"SMTP_USER": "monitor", "SMTP_PASS": secret}
    )
    assert result.exit_code == 0
    assert (
        f"SMTP server 127.0.0.1:{inbox.port} cannot take the login: $SMTP_USER or $SMTP_PASS has "
        "a character outside ASCII" in result.output
    )
    (failed,) = deliveries(tmp_path)
    assert failed["status"] == "failed" and "outside ASCII" in failed["error"]
    database = (tmp_path / "state/monitor.db").read_bytes()
    for shown in (result.output, caplog.text, json.dumps(failed), database.decode("latin-1")):
        assert secret not in shown and "s3cret" not in shown
    assert inbox.envelopes == []


def test_an_internal_error_while_sending_never_records_the_password(
    write_config, invoke, smtp_server, tmp_path, caplog, monkeypatch
):
    secret = "correct-horse-battery"

    def login(self, user, password, **kwargs):  # a library bug that echoes its arguments
        raise RuntimeError(f"unexpected state logging in {user}:{password}")

    monkeypatch.setattr(mailer.smtplib.SMTP, "login", login)
    inbox = smtp_server(
        authenticator=lambda *args: AuthResult(success=True), auth_require_tls=False
    )
    config = write_config(
        extra=email_section(
            inbox.port, policy="every-run", username_env="SMTP_USER", password_env="SMTP_PASS"
        )
    )
    result = invoke(
        "run", "--config", str(config), env={"SMTP_USER": "monitor", "SMTP_PASS": secret}
    )
    assert result.exit_code == 0
    (failed,) = deliveries(tmp_path)
    assert (
        failed["error"] == "internal error: RuntimeError: unexpected state logging in monitor:REDACTED"
    )
    assert "Traceback" in caplog.text and "RuntimeError" in caplog.text
    for shown in (result.output, caplog.text, failed["error"]):
        assert secret not in shown


def plain_settings(port: int, security: str, login: bool = False) -> EmailConfig:
    return EmailConfig(
        enabled=True,
        smtp_host="127.0.0.1",
        smtp_port=port,
        security=security,
        username_env="U" if login else None,
        password_env="P" if login else None,
        sender="monitor@example.org",
        recipients=("ada@example.org",),
    )


def test_a_server_without_starttls_is_named_with_the_fix(smtp_server):
    inbox = smtp_server()  # no TLS context: no STARTTLS
    with pytest.raises(mailer.DeliveryError) as caught:
        mailer.send(a_message(), plain_settings(inbox.port, "starttls"), {})
    assert str(caught.value) == (
        f"SMTP server 127.0.0.1:{inbox.port} does not offer STARTTLS: check [email] smtp_port, "
        'or set security = "ssl" for a server that speaks TLS at once (usually port 465)'
    )
    assert inbox.envelopes == []


def test_a_server_offering_no_login_in_the_clear_is_named_with_the_fix(smtp_server):
    inbox = smtp_server()  # aiosmtpd, like most servers, offers AUTH only over TLS
    with pytest.raises(mailer.DeliveryError) as caught:
        mailer.send(
            a_message(), plain_settings(inbox.port, "none", login=True), {"U": "u", "P": "p"}
        )
    assert str(caught.value) == (
        f"SMTP server 127.0.0.1:{inbox.port} offers no login (AUTH) here: "
        'set [email] security = "starttls" (or "ssl"), or remove [email] username_env and '
        "password_env if it needs no login"
    )
    assert inbox.envelopes == []


def test_a_server_echoing_the_password_in_its_refusal_never_gets_it_recorded(
    write_config, invoke, smtp_server, tmp_path, caplog
):
    secret = "tr0ub4dor-and-3"

    def authenticator(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=False, handled=False, message=f"535 no such password {secret}")

    inbox = smtp_server(authenticator=authenticator, auth_require_tls=False)
    config = write_config(
        extra=email_section(
            inbox.port, policy="every-run", username_env="SMTP_USER", password_env="SMTP_PASS"
        )
    )
    result = invoke("run", "--config", str(config), env={"SMTP_USER": "m", "SMTP_PASS": secret})
    assert "refused the login (535 no such password REDACTED)" in result.output
    (failed,) = deliveries(tmp_path)
    assert "(535 no such password REDACTED)" in failed["error"]
    for shown in (result.output, caplog.text, failed["error"]):
        assert secret not in shown


# --- STARTTLS and SSL, with a throwaway certificate ------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                "-keyout",
                str(key),
                "-out",
                str(cert),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot make a test certificate with openssl: {exc}")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


def a_message() -> EmailMessage:
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = (
        "test",
        "monitor@example.org",
        "ada@example.org",
    )
    message.set_content("hello")
    return message


def test_starttls_and_login(smtp_server, certificate):
    server_context, client_context = certificate
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append(
            (
                bytes(auth_data.login, "ascii")
                if isinstance(auth_data.login, str)
                else auth_data.login,
                session.ssl is not None,
            )
        )
        return AuthResult(success=True, handled=False)

    inbox = smtp_server(
        tls_context=server_context, require_starttls=True, authenticator=authenticator
    )
    settings = EmailConfig(
        enabled=True,
        smtp_host="127.0.0.1",
        smtp_port=inbox.port,
        security="starttls",
        username_env="U",
        password_env="P",
        sender="monitor@example.org",
        recipients=("ada@example.org",),
    )
    mailer.send(a_message(), settings, {"U": "monitor", "P": "pw"}, ssl_context=client_context)
    assert len(inbox.envelopes) == 1
    assert logins == [(b"monitor", True)]  # the login went over TLS


def test_implicit_ssl(smtp_server, certificate):
    server_context, client_context = certificate
    inbox = smtp_server(ssl_context=server_context)
    settings = EmailConfig(
        enabled=True,
        smtp_host="127.0.0.1",
        smtp_port=inbox.port,
        security="ssl",
        sender="monitor@example.org",
        recipients=("ada@example.org",),
    )
    mailer.send(a_message(), settings, {}, ssl_context=client_context)
    assert len(inbox.envelopes) == 1


def test_an_untrusted_certificate_is_refused(smtp_server, certificate):
    server_context, _ = certificate
    inbox = smtp_server(tls_context=server_context)
    settings = EmailConfig(
        enabled=True,
        smtp_host="127.0.0.1",
        smtp_port=inbox.port,
        security="starttls",
        sender="monitor@example.org",
        recipients=("ada@example.org",),
    )
    with pytest.raises(mailer.DeliveryError, match=r"TLS with SMTP server 127\.0\.0\.1:\d+ failed"):
        mailer.send(a_message(), settings, {})
    assert inbox.envelopes == []
