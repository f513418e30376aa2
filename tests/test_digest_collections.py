"""Digests per collection, through the CLI against the fake and a real SMTP server on
loopback (aiosmtpd): each collection with its own recipients gets one message about its
works only, its subject naming it; "sent once" holds per audience."""

from __future__ import annotations

import json
import sqlite3

import pytest

from monitor import digest, store
from tests.fakeapi.routes import openalex as fake_openalex
from tests.mail import RECIPIENTS, email_section

NO_CITING = "\n[citing]\nenabled = false\n"
A, B, C, D = "10.1000/a.1", "10.1000/b.2", "10.1000/c.3", "10.1000/d.4"
COUNTS = {A: 10, B: 20, C: 30, D: 40}
LAB1, LAB2 = ["lab1@example.org"], ["lab2@example.org", "head2@example.org"]


def collection(name: str, dois: list[str], recipients: list[str], label: str | None = None) -> str:
    lines = ["", "[[collections]]", f'name = "{name}"', f"works = {json.dumps(dois)}",
             f"recipients = {json.dumps(recipients)}"]
    return "\n".join(lines + ([f'label = "{label}"'] if label else [])) + "\n"


@pytest.fixture
def scenario(write_config, fake_api, smtp_server):
    """D in [[works]]; "Lab One" holds A and C, lab2 B and C; each has its own recipients.
    OpenAlex is the only source: a count that rises is a new-citations alert."""
    for i, (doi, count) in enumerate(COUNTS.items()):
        fake_openalex.add_listing(fake_api, f"unused:{i}", [
            fake_openalex.listed_work(doi, f"Work {doi[-3:]}", 2022, f"W{900 + i}", count)])
    inbox = smtp_server()
    now = dict(COUNTS)

    def write(enabled: bool = True):
        section = email_section(inbox.port).replace("enabled = true", f"enabled = {str(enabled).lower()}")
        extra = NO_CITING + collection("lab1", [A, C], LAB1, "Lab One") + collection("lab2", [B, C], LAB2)
        return write_config(works=[D], only=("openalex",), extra=section + extra)

    def rise(**by):
        for doi, n in by.items():
            now[doi] += n
            fake_openalex.set_count(fake_api, doi, now[doi])

    return write, rise, inbox


def by_recipients(inbox) -> dict[tuple[str, ...], list]:
    found: dict[tuple[str, ...], list] = {}
    for envelope, message in zip(inbox.envelopes, inbox.messages, strict=True):
        found.setdefault(tuple(envelope.rcpt_tos), []).append(message)
    return found


def carried(tmp_path, sql_filter: str = "1") -> list[tuple]:
    """(audience, subject, alert's work DOI) of every alert carried by a sent digest."""
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    rows = conn.execute(
        "SELECT coalesce(c.name, 'main'), d.subject, w.doi FROM digest_items i "
        "JOIN email_deliveries d ON d.id = i.delivery_id LEFT JOIN collections c ON c.id = d.collection_id "
        "JOIN alert_events a ON a.id = i.alert_id JOIN works w ON w.id = a.work_id "
        f"WHERE d.status = 'sent' AND {sql_filter} ORDER BY d.id, w.doi"
    ).fetchall()
    conn.close()
    return rows


def test_two_collections_with_their_own_recipients_each_get_exactly_their_items_once(
    scenario, invoke, tmp_path
):
    write, rise, inbox = scenario
    config = str(write())
    assert invoke("run", "--config", config).exit_code == 0
    assert inbox.envelopes == []  # the first run is the baseline: no alert, no digest (on-change)

    rise(**{A: 3, B: 2, C: 1, D: 5})
    result = invoke("run", "--config", config, "--status")
    assert result.exit_code == 0, result.output
    sent = by_recipients(inbox)
    assert set(sent) == {tuple(RECIPIENTS), tuple(LAB1), tuple(LAB2)}
    assert all(len(messages) == 1 for messages in sent.values())  # one message each
    (main,), (lab1,), (lab2,) = sent[tuple(RECIPIENTS)], sent[tuple(LAB1)], sent[tuple(LAB2)]
    assert main["Subject"] == "11 new citations of 4 works"  # every work: 3 + 2 + 1 + 5
    assert lab1["Subject"] == "Lab One: 4 new citations of 2 works"  # A and C: 3 + 1
    assert lab2["Subject"] == "lab2: 3 new citations of 2 works"  # B and C: 2 + 1
    assert lab1["To"] == "lab1@example.org" and lab2["To"] == "lab2@example.org, head2@example.org"
    for message, mine, others in ((lab1, {A, C}, {B, D}), (lab2, {B, C}, {A, D})):
        plain = message.get_body(("plain",)).get_content()
        assert all(f"https://doi.org/{doi}" in plain for doi in mine)
        assert not any(doi in plain for doi in others)  # its collection only
    assert f"Email sent: {lab1['Subject']}" in result.output
    # C's alert went to all three audiences, each once
    assert carried(tmp_path) == [
        ("main", main["Subject"], A), ("main", main["Subject"], B), ("main", main["Subject"], C),
        ("main", main["Subject"], D),
        ("lab1", lab1["Subject"], A), ("lab1", lab1["Subject"], C),
        ("lab2", lab2["Subject"], B), ("lab2", lab2["Subject"], C),
    ]

    assert invoke("run", "--config", config).exit_code == 0  # nothing new: nothing sent
    assert len(inbox.envelopes) == 3
    again = invoke("email", "--config", config, "--collection", "lab1")
    assert again.exit_code == 0, again.output
    assert "Lab One: No new alerts for 2 works" in again.output  # sent once, to this audience
    assert len(carried(tmp_path)) == 8


def test_an_item_a_collection_got_first_still_goes_to_the_main_recipients_once(scenario, invoke, tmp_path):
    write, rise, inbox = scenario
    config = str(write(enabled=False))
    invoke("run", "--config", config)
    rise(**{A: 2})
    invoke("run", "--config", config)  # email off: A's alert waits
    config = str(write())
    assert invoke("email", "--config", config, "--collection", "lab1").exit_code == 0
    assert invoke("email", "--config", config).exit_code == 0
    assert invoke("email", "--config", config, "--collection", "lab1").exit_code == 0
    subjects = [m["Subject"] for m in inbox.messages]
    assert subjects == [
        'Lab One: 2 new citations of "Work a.1" (now 12)',
        '2 new citations of "Work a.1" (now 12)',
        "Lab One: No new alerts for 2 works",
    ]
    assert [(audience, doi) for audience, _, doi in carried(tmp_path)] == [("lab1", A), ("main", A)]


def test_email_names_a_collection_without_recipients_in_one_line(scenario, invoke):
    write, _, _ = scenario
    config = str(write())
    invoke("run", "--config", config)
    result = invoke("email", "--config", config, "--collection", "nobody", "--dry-run")
    assert result.exit_code == 2
    assert result.output.strip().endswith("no [[collections]] 'nobody' with recipients (with recipients: lab1, lab2)")


def test_deliveries_before_audiences_count_for_the_main_recipients(tmp_path):
    """A database from before migration m010: its deliveries were to [email] recipients."""
    db = store.open_db(tmp_path / "monitor.db")
    db.close()
    conn = sqlite3.connect(tmp_path / "monitor.db")
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm010_digest_audiences'")
    conn.execute("DROP INDEX email_deliveries_by_audience")
    conn.execute("ALTER TABLE email_deliveries DROP COLUMN collection_id")
    conn.execute("INSERT INTO runs (id, started_at, status) VALUES (1, '2026-11-01T06:00:00+00:00', 'ok')")
    conn.execute("INSERT INTO alert_events (id, run_id, kind, message, raised_at) VALUES (7, 1, 'jump', 'x', '')")
    conn.execute("INSERT INTO email_deliveries (id, run_id, first_run_id, attempted_at, status, policy, subject) "
                 "VALUES (1, 1, 1, '2026-11-01T06:05:00+00:00', 'sent', 'on-change', 's')")
    conn.execute("INSERT INTO digest_items (delivery_id, alert_id) VALUES (1, 7)")
    conn.commit()
    conn.close()
    db = store.open_db(tmp_path / "monitor.db")  # upgrades in place
    try:
        assert db.execute("SELECT collection_id FROM email_deliveries").fetchall() == [(None,)]
        assert digest.carried_before(db) == ({7}, set())
        assert digest.carried_before(db, collection_id=1) == (set(), set())
    finally:
        db.close()
