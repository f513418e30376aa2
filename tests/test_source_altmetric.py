"""Altmetric Details Page API: one keyed GET per DOI; attention metrics, never a citation count."""

from __future__ import annotations

import json

import pytest

from monitor.errors import MalformedResponse
from monitor.models import Outcome, Work
from monitor.sources import altmetric
from tests.conftest import DEFAULT_DOI, real_files, real_json

KEY = "test-altmetric-key"
DOCS_SAMPLE = "altmetric/docs_sample_v1_doi_counts_10.1038_news.2011.498.json"
COUNTS_2017 = "altmetric/v1_doi_10.1038_480426a_counts_2017.json"


def test_parse_real_counts_2017():
    parsed = altmetric.parse_counts(real_json(COUNTS_2017))
    assert parsed.citations is None
    assert parsed.metrics == {
        "altmetric_score": 1714.702,
        "cited_by_accounts_count": 2479,
        "cited_by_fbwalls_count": 22,
        "cited_by_feeds_count": 5,
        "cited_by_gplus_count": 34,
        "cited_by_posts_count": 2695,
        "cited_by_tweeters_count": 2418,
        "readers_count": 95,
        "mendeley_readers": 95,  # "95", a string, in the recording
        "altmetric_percentile_all": 99,
    }
    assert parsed.metadata == {
        "altmetric_id": "502878",
        "details_url": "http://www.altmetric.com/details.php?citation_id=502878",
    }


def test_parse_real_docs_sample():
    parsed = altmetric.parse_counts(real_json(DOCS_SAMPLE))
    assert parsed.metrics == {
        "altmetric_score": 114.5,
        "cited_by_posts_count": 138,
        "cited_by_tweeters_count": 134,
    }  # mendeley -1 means unknown; no readers_count, no context in this sample
    assert parsed.metadata["altmetric_id"] == "243700"


@pytest.mark.parametrize("path", real_files("altmetric"), ids=lambda p: p.name)
def test_every_real_recording_parses(path):
    record = json.loads(path.read_text())
    parsed = altmetric.parse_counts(record)
    assert parsed.metrics["altmetric_score"] == record["score"]
    counts = {k: v for k, v in record.items() if k.startswith("cited_by_") and k.endswith("_count")}
    assert counts and counts.items() <= parsed.metrics.items()
    assert parsed.metadata["details_url"] == record["details_url"]


def test_missing_score_is_an_error_naming_it():
    record = real_json(COUNTS_2017)
    del record["score"]
    with pytest.raises(MalformedResponse, match="'score' is missing"):
        altmetric.parse_counts(record)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"score": "high"}, "'score' should be a number"),
        ({"cited_by_posts_count": "many"}, "'cited_by_posts_count' should be a count"),
        ({"readers": {"mendeley": "ninety"}}, "'readers.mendeley' should be a count"),
        ({"readers": {"mendeley": 9.5}}, "'readers.mendeley' should be a count"),
        ({"context": {"all": {"pct": "top"}}}, "'context.all.pct' should be a number"),
    ],
)
def test_changed_fields_are_errors_naming_them(change, message):
    with pytest.raises(MalformedResponse, match=message):
        altmetric.parse_counts(dict(real_json(COUNTS_2017), **change))


def test_fetch_ok_from_the_fake(fake_api, make_session):
    [obs] = altmetric.fetch([Work(DEFAULT_DOI)], make_session(altmetric, api_key=KEY))
    assert obs.outcome is Outcome.OK
    assert obs.citations is None
    assert obs.metrics["altmetric_score"] == 3.5
    assert obs.metrics["cited_by_posts_count"] == 6
    assert obs.metrics["mendeley_readers"] == 112
    assert obs.metrics["altmetric_percentile_all"] == 61
    assert obs.metadata == {
        "altmetric_id": "104123456",
        "details_url": "https://www.altmetric.com/details.php?citation_id=104123456",
    }
    [hit] = fake_api.hits("altmetric")
    assert hit.path == f"/doi/{DEFAULT_DOI}" and hit.arg("key") == KEY


def test_the_key_is_sent_but_redacted_in_the_stored_url(fake_api, make_session):
    secret = KEY
    [obs] = altmetric.fetch([Work(DEFAULT_DOI)], make_session(altmetric, api_key=secret))
    assert fake_api.hits("altmetric")[0].arg("key") == secret
    assert secret not in obs.exchange.url
    assert "key=REDACTED" in obs.exchange.url


def test_no_attention_404_is_not_found(fake_api, make_session):
    works = [Work("10.9999/quiet"), Work(DEFAULT_DOI)]
    observations = altmetric.fetch(works, make_session(altmetric, api_key=KEY))
    assert [o.outcome for o in observations] == [Outcome.NOT_FOUND, Outcome.OK]
    assert observations[0].metrics == {}
    assert len(fake_api.hits("altmetric")) == 2


def test_refused_key_is_an_error_saying_so(fake_api, make_session):
    secret = "revoked-key"
    [obs] = altmetric.fetch([Work(DEFAULT_DOI)], make_session(altmetric, api_key=secret))
    assert obs.outcome is Outcome.ERROR
    assert obs.message.startswith("Altmetric refused the API key in $ALTMETRIC_API_KEY (HTTP 403)")
    assert secret not in obs.message and secret not in obs.exchange.url


def test_without_a_key_the_refusal_is_not_configured(fake_api, make_session):
    [obs] = altmetric.fetch([Work(DEFAULT_DOI)], make_session(altmetric))
    assert fake_api.hits("altmetric")[0].arg("key") is None
    assert obs.outcome is Outcome.NOT_CONFIGURED and obs.message == altmetric.SPEC.key_hint


def test_429_then_200_is_ok(fake_api, make_session):
    fake_api.inject("altmetric", status=429, headers={"Retry-After": "0"})
    [obs] = altmetric.fetch([Work(DEFAULT_DOI)], make_session(altmetric, api_key=KEY))
    assert obs.outcome is Outcome.OK
    assert len(fake_api.hits("altmetric")) == 2


def test_429_every_time_is_rate_limited(fake_api, make_session):
    fake_api.inject("altmetric", status=429, body=b"Too many requests", times=None)
    [obs] = altmetric.fetch([Work(DEFAULT_DOI)], make_session(altmetric, api_key=KEY))
    assert obs.outcome is Outcome.RATE_LIMITED and obs.metrics == {}


def test_a_spent_hourly_allowance_stops_asking_for_this_run(fake_api, make_session):
    fake_api.inject("altmetric", headers={"X-HourlyRateLimit-Remaining": "0"})
    works = [Work(DEFAULT_DOI), Work("10.9999/next"), Work("10.9999/after")]
    first, *rest = altmetric.fetch(works, make_session(altmetric, api_key=KEY))
    assert first.outcome is Outcome.OK  # the answer that spent the allowance still counts
    assert [o.outcome for o in rest] == [Outcome.QUOTA_EXHAUSTED] * 2
    assert all("stopped asking it for this run" in o.message for o in rest)
    assert len(fake_api.hits("altmetric")) == 1  # no request is spent on a certain 429


def test_malformed_body_is_an_error(fake_api, make_session):
    fake_api.inject("altmetric", malformed=True)
    [obs] = altmetric.fetch([Work(DEFAULT_DOI)], make_session(altmetric, api_key=KEY))
    assert obs.outcome is Outcome.ERROR and "not valid JSON" in obs.message


def test_spec():
    spec = altmetric.SPEC
    assert spec.needs_key and spec.api_key_env == "ALTMETRIC_API_KEY"
    assert spec.secret_params == ("key",)
    assert spec.counts_citations is False
    assert spec.requests_per_second == 1.0
    assert "https://www.altmetric.com/solutions/altmetric-api/" in spec.key_hint


def test_an_answer_about_another_doi_is_an_error(fake_api, make_session):
    fake_api.inject("altmetric", rewrite=lambda record: {**record, "doi": "10.9999/OTHER"})
    [obs] = altmetric.fetch([Work(DEFAULT_DOI)], make_session(altmetric, api_key=KEY))
    assert obs.outcome is Outcome.ERROR and obs.metrics == {}
    assert obs.message == f"answered for another work: 10.9999/other (asked for {DEFAULT_DOI})"
