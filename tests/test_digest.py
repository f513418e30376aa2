"""The digest as its reader gets it: one item per new citing work, in both parts, sent once.

Through the CLI against the HTTP fake and a real SMTP server on loopback (aiosmtpd); each
message is parsed back with Python's ``email`` package.
"""

from __future__ import annotations

import email
import email.policy
import functools
import html as html_lib
import json
import re
import sqlite3
from email.message import EmailMessage
from urllib.parse import unquote

import pytest

from monitor import digest, headline, store
from monitor.alerts import Alert
from monitor.config import load_config
from monitor.digest import DigestWork
from tests import headline_views as views
from tests.conftest import DEFAULT_DOI
from tests.digest_scenario import CONTEXT, INTENT, SOURCES, list_new_citing_works
from tests.mail import deliveries, email_section, flat

REPORT_URL = "https://example.org/citations/"


@pytest.fixture
def write_config(write_config):
    return functools.partial(write_config, only=SOURCES)


def parts(message: EmailMessage) -> tuple[str, str]:
    """(plain text, HTML) of a digest, line endings as Python's."""
    plain = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    return plain, message.get_body(("html",)).get_content()


def visible(html: str) -> str:
    """The HTML part's text as a reader sees it: tags out (inline ones joining their
    neighbours, block ones parting them), entities decoded, spaces folded."""
    inline = re.sub(r"</?(?:a|strong|em|span)\b[^>]*>", "", html)
    return flat(html_lib.unescape(re.sub(r"<[^>]+>", " ", inline)))


def test_new_citing_works_are_items_in_both_parts_and_are_sent_once(
    write_config, invoke, fake_api, smtp_server, tmp_path
):
    inbox = smtp_server()
    config = write_config(extra=email_section(inbox.port))
    assert invoke("run", "--config", str(config)).exit_code == 0
    assert inbox.envelopes == []  # the first lists are the baseline: no news
    listed, by_doi_only = list_new_citing_works(fake_api)
    result = invoke("run", "--config", str(config))
    assert result.exit_code == 0 and result.output == ""

    # the DOI-only work was named by one batched OpenAlex lookup, stored like any answer
    lookups = [
        r for r in fake_api.requests
        if r.api == "openalex" and (r.arg("filter") or "").startswith("doi:") and by_doi_only.doi in r.arg("filter")
    ]
    assert len(lookups) == 1 and lookups[0].arg("per_page") == "100"
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    stored = [
        (run_id, status)
        for run_id, status, url in conn.execute("select run_id, status_code, url from responses")
        if "filter=doi" in unquote(url) and by_doi_only.doi in unquote(url)
    ]
    assert stored == [(2, 200)]
    assert conn.execute("select title from citers where doi = ?", [by_doi_only.doi]).fetchone() == (
        by_doi_only.title,
    )

    (envelope,) = inbox.envelopes
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    now = current_headline(tmp_path)
    assert message["Subject"] == f'2 new citations of "Emerging role of autophagy…" (now {now})'
    plain, html = parts(message)
    for work in (listed, by_doi_only):
        url = f"https://doi.org/{work.doi}"
        assert f"  {url}\n" in plain  # a link on a line of its own
        assert work.title in flat(plain) and work.shown_authors in flat(plain)
        assert f"{work.venue}, {work.year}" in flat(plain)
        assert f"Listed by {work.source}" in flat(plain)
        assert re.search(rf'<a href="{re.escape(url)}"[^>]*>{re.escape(work.title)}</a>', html)
        text = visible(html)
        assert work.shown_authors in text and f"{work.venue}, {work.year}" in text
        assert f"Listed by {work.source}" in text
    assert listed.shown_authors.endswith(" et al.")  # four authors: three shown
    assert all(len(line) <= 72 for line in plain.splitlines() if not line.lstrip().startswith("http"))
    for part in (flat(plain), visible(html)):
        assert f"Intent: {INTENT}" in part and CONTEXT in part and "[influential]" in plain
        newest, older = sorted((listed, by_doi_only), key=lambda w: w.published, reverse=True)
        assert part.index(newest.title) < part.index(older.title)
    assert "influential</span>" in html

    # what the digest carried is recorded; a second digest carries none of it
    (sent,) = deliveries(tmp_path)
    carried = conn.execute(
        "select count(*) from digest_items where delivery_id = ? and citation_id is not null and shown = 1",
        [sent["id"]],
    ).fetchone()[0]
    assert carried == 2
    result = invoke("email", "--config", str(config))
    assert result.exit_code == 0, result.output
    again = inbox.messages[-1]
    assert again["Subject"].startswith("No new alerts: Emerging role of autophagy…")
    for part in parts(again):
        assert listed.title not in part and by_doi_only.title not in part
    conn.close()


def current_headline(tmp_path) -> int:
    """The headline value every view shows, read through the one definition."""
    db = store.open_db(tmp_path / "state/monitor.db")
    try:
        run = store.latest_run(db)
        return headline.for_work(db, DEFAULT_DOI, run).now.value
    finally:
        db.close()


def test_the_digest_shows_the_one_headline_in_its_subject_and_both_parts_as_every_view_does(
    write_config, invoke, fake_api, tmp_path
):
    config = write_config()
    invoke("run", "--config", str(config))
    list_new_citing_works(fake_api)
    invoke("run", "--config", str(config))
    out = tmp_path / "digest.eml"
    assert invoke("email", "--config", str(config), "--dry-run", "-o", str(out)).exit_code == 0
    message = email.message_from_bytes(out.read_bytes(), policy=email.policy.default)
    db = store.open_db(tmp_path / "state/monitor.db")
    try:
        top = headline.for_work(db, DEFAULT_DOI, store.latest_run(db)).now
    finally:
        db.close()
    assert message["Subject"].endswith(f"(now {top.value})")
    plain, html = parts(message)
    assert top.text in flat(plain) and top.text in visible(html)
    # ... the figure the index, the work page and report.json of the same data show
    site = tmp_path / "state/report"
    page = (site / "works/10.1016-j.drup.2021.100752.html").read_text()
    assert views.from_whole_index(site)[DEFAULT_DOI] == views.from_work_page(page) == top.value
    assert views.from_report_json(site / "report.json")[DEFAULT_DOI] == top.value


def test_dry_run_marks_nothing_and_a_failed_send_leaves_the_items_for_the_next(
    write_config, invoke, fake_api, smtp_server, tmp_path
):
    from tests.mail import free_port

    port = free_port()  # nobody listens yet
    config = write_config(extra=email_section(port))
    invoke("run", "--config", str(config))
    listed, by_doi_only = list_new_citing_works(fake_api)
    result = invoke("run", "--config", str(config))
    assert "email digest not sent: cannot reach SMTP server" in result.output
    out = tmp_path / "digest.eml"
    for _ in range(2):  # a preview marks nothing: it shows the same items each time
        assert invoke("email", "--config", str(config), "--dry-run", "-o", str(out)).exit_code == 0
        preview = email.message_from_bytes(out.read_bytes(), policy=email.policy.default)
        assert listed.title in flat(parts(preview)[0])
    inbox = smtp_server(port=port)
    assert invoke("run", "--config", str(config)).exit_code == 0  # run 3: nothing new, but...
    (message,) = inbox.messages  # ...the undelivered items go out now
    plain = parts(message)[0]
    assert listed.title in flat(plain) and by_doi_only.title in flat(plain)
    assert [d["status"] for d in deliveries(tmp_path)] == ["failed", "sent"]
    assert invoke("email", "--config", str(config)).exit_code == 0
    assert listed.title not in flat(parts(inbox.messages[-1])[0])


def test_items_past_the_cap_are_counted_and_linked_to_the_works_page(
    write_config, invoke, fake_api, smtp_server, tmp_path
):
    inbox = smtp_server()
    config = write_config(extra=email_section(inbox.port, max_items_per_work=1))
    invoke("run", "--config", str(config))
    listed, by_doi_only = list_new_citing_works(fake_api)
    invoke("run", "--config", str(config))
    (message,) = inbox.messages
    plain, html = parts(message)
    page = f"{REPORT_URL}works/10.1016-j.drup.2021.100752.html"
    assert (tmp_path / "state/report/works/10.1016-j.drup.2021.100752.html").is_file()  # that page
    assert f"And 1 more, on the work's page:\n{page}\n" in plain
    assert f'<a href="{page}"' in html
    assert listed.title in flat(plain) and by_doi_only.title not in flat(plain)
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    shown = conn.execute(
        "select shown from digest_items where citation_id is not null order by shown desc"
    ).fetchall()
    conn.close()
    assert shown == [(1,), (0,)]  # both carried: the one counted is not sent again either


def test_control_characters_leave_the_email_but_stay_in_the_database(
    write_config, invoke, fake_api, tmp_path
):
    config = write_config()
    invoke("run", "--config", str(config))
    listed, _ = list_new_citing_works(fake_api)
    hostile = "Autophagy\x07 flux\u202e in\x1b[31m melanoma\x00"
    fake_api.records["semanticscholar_citing"][DEFAULT_DOI][-1]["citingPaper"]["title"] = hostile
    invoke("run", "--config", str(config))
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    assert conn.execute("select title from citers where doi = ?", [listed.doi]).fetchone() == (hostile,)
    conn.close()
    out = tmp_path / "digest.eml"
    assert invoke("email", "--config", str(config), "--dry-run", "-o", str(out)).exit_code == 0
    raw = out.read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    for part in (*parts(message), message["Subject"]):
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e]", part)
    assert "Autophagy flux in[31m melanoma" in flat(parts(message)[0])


def test_the_subject_says_what_happened():
    def work(doi: str, title: str, now: int, new: int) -> DigestWork:
        top = headline.HeadlineChanges(
            headline.Headline(now, headline.SOURCE_COUNT, "openalex", 0, 0, 0), None, None, None
        )
        return DigestWork(doi, 1, title, top, (), (), 0, new, ())

    works = [
        work("10.1/a", "Alpha beta gamma delta epsilon zeta", 10, 2),
        work("10.1/b", "Second work", 5, 1),
    ]
    new_a = Alert("new_citations", "…", "10.1/a", details={"count": 2})
    new_b = Alert("new_citations", "…", "10.1/b", details={"count": 1})
    retraction = Alert("retraction", "…", "10.1/b")
    failing = Alert("source_failing", "Crossref has failed 3 runs in a row: HTTP 500", None, "crossref")
    subject = digest.subject_line
    assert subject([new_a], works) == '2 new citations of "Alpha beta gamma delta…" (now 10)'
    assert subject([new_a, new_b], works) == "3 new citations of 2 works"
    assert subject([retraction, new_a, new_b], works) == "Retraction: Second work (+2 more alerts)"
    assert subject([new_a, failing], works) == (
        '2 new citations of "Alpha beta gamma delta…" (now 10) (+1 more alert)'
    )
    assert subject([failing], works) == "Crossref has failed 3 runs in a row"
    assert subject([], works) == "No new alerts for 2 works"
    one = [work("10.1/c", "Gamma", 7, 1)]
    assert subject([Alert("new_citations", "…", "10.1/c")], one) == '1 new citation of "Gamma" (now 7)'
    joined = [Alert("new_work", "…", "10.1/c", details={"collection": c}) for c in ("lab", "dept")]
    assert subject(joined, one) == 'New work: "Gamma"'  # one work, new in two collections
    both = [*joined, Alert("new_work", "…", "10.1/a", details={"collection": "lab"})]
    assert subject(both, works + one) == "2 new works"


def test_a_digest_for_some_works_only(write_config, invoke, fake_api, tmp_path):
    other = "10.5555/another.1"
    config_path = write_config(works=[DEFAULT_DOI, other])
    invoke("run", "--config", str(config_path))
    list_new_citing_works(fake_api)
    invoke("run", "--config", str(config_path))
    config = load_config(config_path, environ={})
    db = store.open_db(config.database)
    try:
        mine = digest.build(db, config, 2, 2, dois={other})
        everything = digest.build(db, config, 2, 2)
    finally:
        db.close()
    assert [w.doi for w in mine.works] == [other] and mine.new_citations == 0
    assert everything.works[0].doi == DEFAULT_DOI and everything.new_citations == 2
    assert {c.work_id for c in mine.carried} <= {2, None}


def test_the_alert_records_the_citing_works_it_announces(write_config, invoke, fake_api, tmp_path):
    config = write_config()
    invoke("run", "--config", str(config))
    listed, by_doi_only = list_new_citing_works(fake_api)
    invoke("run", "--config", str(config))
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    (details,) = conn.execute("select details from alerts where kind = 'new_citations'").fetchone()
    ids = json.loads(details)["citation_ids"]
    dois = {
        conn.execute(
            "select c.doi from citations e join citers c on c.id = e.citer_id where e.id = ?", [i]
        ).fetchone()[0]
        for i in ids
    }
    conn.close()
    assert dois == {listed.doi, by_doi_only.doi}
