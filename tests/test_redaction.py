"""No secret in any form: the redaction helper, and a grep of everything a run leaves behind.

The forms grepped for are spelled out here, independently of ``monitor.redaction.forms``,
so that a form the helper forgets is a failing test, not a shared blind spot.
"""

from __future__ import annotations

import base64
import json
import re
import sqlite3
import zlib
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from aiosmtpd.smtp import AuthResult

from monitor.redaction import REDACTED, Redactor, forms
from tests.conftest import DEFAULT_DOI
from tests.fakeapi.routes import altmetric as fake_altmetric
from tests.mail import email_section

LONG = "Ab+c/d=ef+G/h=Zz"  # every character a URL or base64 treats specially
SHORT = "k+/="  # four characters: a key is a secret whatever its length
ALTMETRIC = "alt/m+tr=ic"


def spellings(secret: str) -> set[str]:
    """How a secret may be written: raw, percent-encoded every way, base64, JSON-escaped."""
    raw = secret.encode()
    encoded = {
        secret,
        quote(secret, safe=""),
        quote(secret, safe="/"),
        quote_plus(secret, safe=""),
        quote(secret, safe="").replace("%2B", "%20"),
        secret.replace("+", " "),
        base64.b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode(),
        json.dumps(secret)[1:-1],
        json.dumps(secret)[1:-1].replace("/", "\\/"),
    }
    # the same with lower-case hex digits (%2b), as some encoders write them
    encoded |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), e) for e in encoded}
    return encoded


def echo(secret: str) -> str:
    """A body fragment repeating a secret in each of its spellings (as NCBI echoes a key)."""
    return " | ".join(sorted(spellings(secret)))


# --- the helper --------------------------------------------------------------------


@pytest.mark.parametrize("secret", [LONG, SHORT, ALTMETRIC, "s3cret"])
def test_every_spelling_of_a_secret_is_redacted(secret):
    redactor = Redactor([secret])
    for spelled in spellings(secret):
        text = f"before {spelled} after"
        assert redactor.text(text) == f"before {REDACTED} after", spelled
        assert redactor.bytes(text.encode()) == f"before {REDACTED} after".encode()


def test_a_password_inside_an_auth_plain_string_is_redacted_in_base64():
    """An SMTP server may echo the AUTH PLAIN line: base64 of \\0user\\0password."""
    for user in ("m", "monitor", "mo"):  # the password lands at each offset of a 3-byte group
        line = base64.b64encode(f"\0{user}\0tr0ub4dor".encode()).decode()
        cleaned = Redactor(["tr0ub4dor"]).text(f"535 bad auth {line}")
        assert line not in cleaned
        decoded_tail = cleaned.split()[-1]
        assert "tr0ub4dor" not in decoded_tail


def test_ordinary_text_without_the_secret_is_left_alone():
    redactor = Redactor([LONG])
    text = '{"count": 34, "cursor": "IlsxNjk5NDU2MzIwMDAwXSI=", "url": "https://x.org/a?b=c+d"}'
    assert redactor.text(text) == text
    assert not Redactor([None, ""])  # nothing to redact


def test_forms_covers_the_spellings_the_grep_looks_for():
    assert spellings(LONG) <= forms(LONG)


# --- a full run, grepped -------------------------------------------------------------


def everything_in(db: Path) -> str:
    """Every value of every table, raw bodies decompressed."""
    conn = sqlite3.connect(db)
    texts = []
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, bytes):
                        try:
                            value = zlib.decompress(value)
                        except zlib.error:
                            pass
                        value = value.decode("utf-8", "replace")
                    texts.append(str(value))
    finally:
        conn.close()
    return "\n".join(texts)


def files_under(folder: Path) -> str:
    return "\n".join(
        p.read_bytes().decode("utf-8", "replace") for p in sorted(folder.rglob("*")) if p.is_file()
    )


def assert_no_secret(text: str, where: str) -> None:
    for secret in (LONG, SHORT, ALTMETRIC, "tr0ub4dor-&-3"):
        for spelled in spellings(secret):
            assert spelled not in text, f"{where} holds {secret!r} as {spelled!r}"


def test_no_key_in_any_form_reaches_the_database_logs_output_report_email_or_export(
    write_config, invoke, fake_api, tmp_path, caplog, monkeypatch, smtp_server
):
    """Keys with '+', '/', '=' and a four-character key go out in URLs and headers; the
    servers echo them back in every spelling, in bodies and in error messages."""
    caplog.set_level("DEBUG")
    monkeypatch.setattr(fake_altmetric, "KEYS", {ALTMETRIC})

    def login(server, session, envelope, mechanism, auth_data):  # echoes the AUTH PLAIN line
        line = base64.b64encode(b"\0monitor\0tr0ub4dor-&-3").decode()
        return AuthResult(success=False, handled=False, message=f"535 5.7.8 bad login {line}")

    inbox = smtp_server(authenticator=login, auth_require_tls=False)
    env = {
        "NCBI_API_KEY": LONG,
        "OPENALEX_API_KEY": SHORT,
        "ALTMETRIC_API_KEY": ALTMETRIC,
        "SMTP_USER": "monitor",
        "SMTP_PASS": "tr0ub4dor-&-3",
    }
    fake_api.inject(  # OpenAlex echoes its key inside an ok answer
        "openalex", rewrite=lambda page: {**page, "echo": echo(SHORT)}
    )
    fake_api.inject(  # NCBI answers a throttled key with a body that repeats it
        "pubmed", status=429, headers={"Retry-After": "0"}, body=f'{{"error": "API rate limit exceeded", "api-key": "{echo(LONG)}"}}'.encode()
    )
    fake_api.inject(  # Altmetric echoes the key in a 500
        "altmetric", status=500, body=f"internal error for key={ALTMETRIC} ({echo(ALTMETRIC)})".encode(),
        times=None,
    )
    config = write_config(
        works=[{"doi": DEFAULT_DOI, "pmid": "33930000"}],
        only=("openalex", "pubmed", "altmetric", "crossref"),
        http={"max_retries": 1},
        extra=email_section(
            inbox.port, policy="every-run", username_env="SMTP_USER", password_env="SMTP_PASS"
        ),
    )
    outputs = [invoke("-vv", "run", "--status", "--config", str(config), env=env)]
    assert outputs[0].exit_code == 1, outputs[0].output  # Altmetric failed
    assert "refused the login" in outputs[0].output
    db = tmp_path / "state/monitor.db"
    eml = tmp_path / "digest.eml"
    outputs += [
        invoke("email", "--dry-run", "--output", str(eml), "--config", str(config), env=env),
        invoke("export", "--format", "json", "--config", str(config), env=env),
        invoke("export", "--format", "csv", "--view", "citing_works", "--config", str(config), env=env),
        invoke("query", "SELECT * FROM responses", "--json", "--config", str(config), env=env),
        invoke("sources", "--config", str(config), env=env),
    ]
    for observation_id in range(1, 6):
        outputs.append(invoke("provenance", str(observation_id), "--config", str(config), env=env))
    assert [r.exit_code for r in outputs[1:6]] == [0, 0, 0, 0, 0], [r.output for r in outputs]
    assert sum(r.exit_code == 0 for r in outputs[6:]) >= 3  # provenance of stored observations
    conn = sqlite3.connect(db)
    (error,) = conn.execute("SELECT error FROM email_deliveries").fetchone()
    conn.close()
    assert "(535 5.7.8 bad login REDACTED)" in error  # the echoed AUTH PLAIN line
    stored = everything_in(db)
    assert REDACTED in stored  # the echoes were there, and were redacted
    assert "api_key=REDACTED" in stored and "key=REDACTED" in stored
    assert_no_secret(stored, "the database")
    assert_no_secret(caplog.text, "the log")
    for result in outputs:
        assert_no_secret(result.output, f"the output of {result}")
    assert_no_secret(files_under(tmp_path / "state/report"), "the report folder")
    assert_no_secret(eml.read_text(), "the .eml")


def test_stored_urls_carry_no_key_through_a_full_run(write_config, invoke, fake_api, tmp_path):
    """URL redaction end to end: the keys went out in the query string of real requests."""
    env = {"NCBI_API_KEY": LONG, "OPENALEX_API_KEY": SHORT}
    config = write_config(works=[{"doi": DEFAULT_DOI, "pmid": "33930000"}], only=("openalex", "pubmed"))
    result = invoke("run", "--config", str(config), env=env)
    assert result.exit_code == 0, result.output
    sent = [str(r.query) for r in fake_api.requests]
    assert any(LONG in q for q in sent) and any(SHORT in q for q in sent)  # the keys did go out
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    urls = [r[0] for r in conn.execute("SELECT url FROM responses")]
    conn.close()
    assert urls and all("api_key=REDACTED" in u for u in urls)
    for url in urls:
        for secret in (LONG, SHORT):
            assert not any(s in url for s in spellings(secret)), url


def test_a_source_that_fails_with_its_key_in_the_error_stores_no_key(write_config, invoke, fake_api, tmp_path, monkeypatch):
    """A bug that puts the key in an exception's text: the observation's message (what
    ``latest_counts`` and the report show) is redacted before it is stored."""
    from monitor.sources import openalex

    def broken(works, session):
        raise RuntimeError(f"GET /works?api_key={session.source.api_key} failed")

    monkeypatch.setattr(openalex, "fetch", broken)
    config = write_config(only=("openalex",))
    result = invoke("run", "--config", str(config), env={"OPENALEX_API_KEY": SHORT})
    assert result.exit_code == 1, result.output
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    [(message,)] = conn.execute("SELECT message FROM observations WHERE source = 'openalex'").fetchall()
    conn.close()
    assert message == f"internal error: RuntimeError('GET /works?api_key={REDACTED} failed')"
    assert_no_secret(result.output, "the output")  # the traceback logged too
