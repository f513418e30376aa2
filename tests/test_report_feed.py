"""The Atom feed, read with feedparser as a feed reader would: a rolling window that a
quiet run leaves as it was, ids stable and unique per installation, links that work."""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET

import feedparser

from tests.conftest import DEFAULT_DOI

FEED = "state/report/feed.atom"


def parse(tmp_path):
    feed = feedparser.parse((tmp_path / FEED).read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    return feed


def test_a_quiet_run_keeps_the_first_runs_entries(write_config, invoke, fake_api, tmp_path):
    config = write_config(only=("openalex", "opencitations"))
    invoke("run", "--config", str(config))
    first = parse(tmp_path)
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    citing = conn.execute("select count(*) from citing_works").fetchone()[0]
    assert len(first.entries) == citing > 0  # the first run's citing works (no alert yet)
    invoke("run", "--config", str(config))  # nothing changed
    second = parse(tmp_path)
    assert [e.id for e in second.entries] == [e.id for e in first.entries]
    assert [e.title for e in second.entries] == [e.title for e in first.entries]
    assert second.feed.id == first.feed.id
    assert all(e.summary.endswith(".") and "cites “" in e.summary for e in second.entries)


def test_the_window_keeps_the_latest_entries_newest_first(write_config, invoke, fake_api, tmp_path):
    config = write_config(only=("openalex", "opencitations"), extra="[report]\nfeed_entries = 3\n")
    invoke("run", "--config", str(config))
    feed = parse(tmp_path)
    assert len(feed.entries) == 3
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    newest = [t for (t,) in conn.execute(
        "select c.title from citations e join citers c on c.id = e.citer_id "
        "order by e.first_seen_at desc, e.id desc limit 3")]
    assert [e.title for e in feed.entries] == newest
    updated = [e.updated for e in feed.entries]
    assert updated == sorted(updated, reverse=True)


def test_ids_differ_between_installations_and_links_are_relative_without_report_url(
    write_config, invoke, fake_api, tmp_path
):
    config = write_config(only=("openalex", "opencitations"))
    invoke("run", "--config", str(config))
    feed = parse(tmp_path)
    uuid = sqlite3.connect(tmp_path / "state/monitor.db").execute("select uuid from installation").fetchone()[0]
    assert feed.feed.id == f"urn:uuid:{uuid}"
    assert all(e.id.startswith("urn:uuid:") and e.id != feed.feed.id for e in feed.entries)
    assert len({e.id for e in feed.entries}) == len(feed.entries)
    root = ET.parse(tmp_path / FEED).getroot()
    links = {link.get("rel"): link.get("href") for link in root.findall("{http://www.w3.org/2005/Atom}link")}
    assert links == {"self": "feed.atom", "alternate": "index.html"}
    # another installation (another database) gives other ids for the same data
    (tmp_path / "state/monitor.db").rename(tmp_path / "first.db")
    invoke("run", "--config", str(config))
    other = parse(tmp_path)
    assert other.feed.id != feed.feed.id
    assert not {e.id for e in other.entries} & {e.id for e in feed.entries}


def test_with_report_url_ids_are_tag_uris_and_links_absolute(write_config, invoke, fake_api, tmp_path):
    config = write_config(only=("openalex", "opencitations"),
                          extra='[email]\nreport_url = "https://example.org/citations"\n')
    invoke("run", "--config", str(config))
    feed = parse(tmp_path)
    created = sqlite3.connect(tmp_path / "state/monitor.db").execute(
        "select created_at from installation").fetchone()[0]
    assert feed.feed.id == f"tag:example.org,{created[:10]}:/citations"
    assert feed.entries[0].id.startswith(f"tag:example.org,{created[:10]}:/citations/citation/")
    root = ET.parse(tmp_path / FEED).getroot()
    atom = "{http://www.w3.org/2005/Atom}"
    links = {link.get("rel"): link.get("href") for link in root.findall(f"{atom}link")}
    assert links == {"self": "https://example.org/citations/feed.atom",
                     "alternate": "https://example.org/citations/index.html"}
    related = [link.get("href") for entry in root.findall(f"{atom}entry")
               for link in entry.findall(f"{atom}link") if link.get("rel") == "related"]
    assert related and all(h == "https://example.org/citations/works/10.1016-j.drup.2021.100752.html" for h in related)


def test_alerts_are_entries_too(write_config, invoke, fake_api, tmp_path):
    from tests.fakeapi.routes import openalex as fake_openalex

    config = write_config(only=("openalex", "crossref"), extra="[citing]\nenabled = false\n")
    invoke("run", "--config", str(config))
    fake_openalex.set_count(fake_api, DEFAULT_DOI, 60)  # a jump, a milestone, new citations
    invoke("run", "--config", str(config))
    messages = {m for (m,) in sqlite3.connect(tmp_path / "state/monitor.db").execute("select message from alerts")}
    feed = parse(tmp_path)
    titles = {e.title.split(": ", 1)[1] for e in feed.entries}
    assert messages and messages <= titles
    assert all("Now: 60 citations · OpenAlex" in e.summary for e in feed.entries)  # the one headline


def test_control_characters_in_a_title_leave_the_feed_well_formed(write_config, invoke, fake_api, tmp_path):
    config = write_config(only=("openalex", "opencitations"))
    invoke("run", "--config", str(config))
    hostile = "Bell\x07 and\x00 null\x1b[31m red\x0b"
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    conn.execute("update citers set title = ?, updated_at = '2099-01-01' where id = (select min(id) from citers)",
                 [hostile])
    conn.commit()
    assert invoke("report", "--config", str(config)).exit_code == 0
    ET.parse(tmp_path / FEED)  # well-formed XML
    feed = parse(tmp_path)
    assert "Bell and null[31m red" in {e.title for e in feed.entries}
    page = (tmp_path / "state/report/works/10.1016-j.drup.2021.100752.html").read_text()
    assert "Bell and null[31m red" in page and "\x07" not in page and "\x00" not in page
    assert conn.execute("select count(*) from citers where title = ?", [hostile]).fetchone()[0] == 1  # kept exactly
