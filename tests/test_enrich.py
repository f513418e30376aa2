"""Naming citing works known only by their DOI: batched lookups, bounded, stored, harmless.

Real SQLite files and the loopback fake; the ledger's DOI-only rows are what an
OpenCitations list leaves (CitingRecord with a DOI and nothing else). The records the
fake answers with are constructed for tests: deep copies of its own OpenAlex citing-work
record and Crossref work record, values replaced.
"""

from __future__ import annotations

import copy
import functools
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pytest

from monitor import citing, enrich, store
from monitor.config import load_config
from monitor.fetching import make_client
from monitor.models import CitingList, CitingRecord, Outcome
from tests.conftest import DEFAULT_DOI
from tests.digest_scenario import SOURCES, list_new_citing_works
from tests.fakeapi.routes import openalex as fake_openalex
from tests.fakeapi.server import Reply
from tests.mail import email_section, flat

NOW = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


@pytest.fixture
def write_config(write_config):
    return functools.partial(write_config, only=SOURCES)


def doi(i: int) -> str:
    return f"10.5555/citing.{i:03d}"


def ledger_of_doi_only_rows(config, n: int) -> tuple[object, int]:
    """A database whose ledger lists ``n`` citing works by DOI alone; (db, run id)."""
    db = store.open_db(config.database)
    work_ids = store.sync_works(db, config.works, NOW)
    run_id = store.start_run(db, NOW)
    records = tuple(CitingRecord("opencitations", doi=doi(i)) for i in range(n))
    with db.atomic():
        listing = CitingList(DEFAULT_DOI, "opencitations", Outcome.OK, records, True)
        citing.save_list(db, run_id, work_ids[DEFAULT_DOI], listing, [], {}, NOW)
    return db, run_id


def known_to_openalex(fake, numbers) -> None:
    template = next(iter(fake.records[fake_openalex.CITING].values()))[0]
    for i in numbers:
        record = copy.deepcopy(template)
        record.update(doi=f"https://doi.org/{doi(i)}", title=f"OpenAlex names work {i}",
                      id=f"https://openalex.org/W49{i:08d}")
        record["ids"] = {"openalex": record["id"], "doi": record["doi"]}
        fake.records["openalex"][doi(i)] = record


def known_to_crossref(fake, numbers) -> None:
    template = fake.records["crossref"][DEFAULT_DOI]
    for i in numbers:
        record = copy.deepcopy(template)
        record.update(DOI=doi(i), title=[f"Crossref names work {i}"], **{"container-title": ["Crossref Journal"]})
        fake.records["crossref"][doi(i)] = record


def lookups(fake, api: str) -> list[list[str]]:
    """The DOIs each batched lookup asked ``api`` about, in order."""
    asked = []
    for request in fake.requests:
        value = unquote(request.arg("filter") or "")
        if request.api == api and request.path == "/works" and "doi:" in value:
            asked.append([d.removeprefix("doi:") for d in value.removeprefix("doi:").replace("|", ",").split(",")])
    return asked


def name(db, config, run_id, **kw):
    with make_client(config.contact_email, config.http) as client:
        return enrich.name_citing_works(db, config, run_id, client, lambda: NOW, **kw)


def titles(db) -> dict[str, str | None]:
    return {r["doi"]: r["title"] for r in db.query("SELECT doi, title FROM citers")}


def test_openalex_names_a_hundred_a_request_and_crossref_the_rest(write_config, fake_api):
    config = load_config(write_config(), environ={})
    db, run_id = ledger_of_doi_only_rows(config, 150)
    known_to_openalex(fake_api, range(120))
    known_to_crossref(fake_api, range(150))
    result = name(db, config, run_id)
    try:
        assert [len(batch) for batch in lookups(fake_api, "openalex")] == [100, 50]
        assert [len(batch) for batch in lookups(fake_api, "crossref")] == [30]  # the 30 left
        assert lookups(fake_api, "crossref")[0] == [doi(i) for i in range(120, 150)]
        assert result == enrich.Lookup(asked=150, named=150, requests=3)
        named = titles(db)
        assert named[doi(0)] == "OpenAlex names work 0" and named[doi(149)] == "Crossref names work 149"
        assert db.execute(
            "SELECT count(*) FROM responses WHERE run_id = ? AND source IN ('openalex', 'crossref')",
            [run_id],
        ).fetchone()[0] == 3  # every exchange kept, for provenance
        again = name(db, config, run_id)  # asked lately: not asked again
        assert again.requests == 0 and len(lookups(fake_api, "openalex")) == 2
    finally:
        db.close()


def test_the_request_budget_caps_the_lookups_newest_works_first(write_config, fake_api):
    config = load_config(write_config(), environ={})
    db, _ = ledger_of_doi_only_rows(config, 150)
    later = store.start_run(db, NOW)
    with db.atomic():
        listing = CitingList(DEFAULT_DOI, "opencitations", Outcome.OK, (CitingRecord("opencitations", doi=doi(999)),))
        citing.save_list(db, later, 1, listing, [], {}, NOW)
    known_to_openalex(fake_api, [*range(150), 999])
    try:
        result = name(db, config, later, max_requests=1)
        assert result.requests == 1 and len(lookups(fake_api, "crossref")) == 0
        (batch,) = lookups(fake_api, "openalex")
        assert batch[0] == doi(999)  # seen in the latest run: asked first
        assert sum(1 for t in titles(db).values() if t) == 100
        assert name(db, config, later, max_requests=0).requests == 0  # 0 turns lookups off
    finally:
        db.close()


def test_an_answer_about_another_work_names_nothing(write_config, fake_api):
    config = load_config(write_config(only=("openalex",)), environ={})
    db, run_id = ledger_of_doi_only_rows(config, 1)
    known_to_openalex(fake_api, [0])
    fake_api.records["openalex"][doi(0)]["doi"] = f"https://doi.org/{doi(7)}"  # a neighbour's record
    try:
        result = name(db, config, run_id)
        assert result.named == 0 and titles(db) == {doi(0): None}
    finally:
        db.close()


def test_a_record_of_unknown_shape_is_left_out_and_the_rest_named(write_config, fake_api):
    config = load_config(write_config(only=("openalex",)), environ={})
    db, run_id = ledger_of_doi_only_rows(config, 2)
    known_to_openalex(fake_api, range(2))
    del fake_api.records["openalex"][doi(1)]["id"]  # every OpenAlex work has one
    try:
        result = name(db, config, run_id)
        assert (result.named, result.problems) == (1, ())
        assert titles(db) == {doi(0): "OpenAlex names work 0", doi(1): None}
    finally:
        db.close()


def test_a_failed_lookup_is_one_problem_line_and_is_asked_again(write_config, fake_api):
    config = load_config(write_config(only=("openalex",)), environ={})
    db, run_id = ledger_of_doi_only_rows(config, 3)
    known_to_openalex(fake_api, range(3))
    fake_api.inject("openalex", status=500, times=None)
    try:
        result = name(db, config, run_id)
        (problem,) = result.problems
        assert problem.startswith("citing works not named by OpenAlex: HTTP 500 from 127.0.0.1")
        assert problem.endswith("; asked again next run")
        assert set(titles(db).values()) == {None}
        stamped = db.execute("SELECT count(*) FROM citers WHERE looked_up_at IS NOT NULL").fetchone()[0]
        assert stamped == 0
        fake_api.faults["openalex"].clear()
        assert name(db, config, run_id).named == 3  # the next run asks again
    finally:
        db.close()


def test_a_work_no_source_names_is_asked_again_after_the_retry_days(write_config, fake_api):
    config = load_config(write_config(only=("openalex",)), environ={})
    db, run_id = ledger_of_doi_only_rows(config, 1)
    try:
        assert name(db, config, run_id).named == 0
        assert len(lookups(fake_api, "openalex")) == 1
        later = NOW + timedelta(days=enrich.RETRY_DAYS + 1)
        with make_client(config.contact_email, config.http) as client:
            enrich.name_citing_works(db, config, run_id, client, lambda: later)
        assert len(lookups(fake_api, "openalex")) == 2
    finally:
        db.close()


def test_a_run_whose_lookup_fails_warns_and_still_sends_the_digest(
    write_config, invoke, fake_api, smtp_server, tmp_path
):
    inbox = smtp_server()
    config = write_config(extra=email_section(inbox.port))
    invoke("run", "--config", str(config))
    listed, by_doi_only = list_new_citing_works(fake_api)
    answer = fake_api.routes["openalex"]

    def failing_lookups(fake, request):  # the tracked work's own lookup still answers
        if by_doi_only.doi in (request.arg("filter") or ""):
            return Reply(503, "Service Unavailable")
        return answer(fake, request)

    fake_api.routes["openalex"] = failing_lookups
    result = invoke("run", "--config", str(config))
    assert result.exit_code == 0  # every source answered: the lookup is not a source
    (line,) = result.output.splitlines()
    assert line.startswith("Warning: citing works not named by OpenAlex: HTTP 503 from")
    (message,) = inbox.messages
    plain = message.get_body(("plain",)).get_content()
    assert listed.title in flat(plain)  # the digest went out, the unnamed work by its DOI
    assert f"* {by_doi_only.doi}\r\n  No source has named it yet\r\n" in plain
    assert f"https://doi.org/{by_doi_only.doi}" in plain
