"""The test fake itself: a fault touches only the requests it was injected for."""

from __future__ import annotations

import httpx

from tests.conftest import DEFAULT_DOI
from tests.fakeapi import FakeAPI, Fault


def works(fake: FakeAPI) -> httpx.Response:
    return httpx.get(f"{fake.base_url('openalex')}/works", params={"filter": f"doi:{DEFAULT_DOI}"})


def test_a_faults_headers_do_not_leak_into_later_answers_or_later_fakes():
    """OpenAlex's route answers with a module-level dict of headers: a fault's headers once
    went into it, so every later answer of every later fake in the process carried them."""
    with FakeAPI() as fake:
        fake.inject("openalex", headers={"Retry-After": "9", "X-RateLimit-Remaining": "0"})
        assert works(fake).headers["retry-after"] == "9"
        again = works(fake)
        assert "retry-after" not in again.headers
        assert again.headers["x-ratelimit-remaining"] == "99990"
    with FakeAPI() as later:
        answer = works(later)
        assert "retry-after" not in answer.headers
        assert answer.headers["x-ratelimit-remaining"] == "99990"


def test_a_rewrite_changes_one_answer_only(fake_api):
    fake_api.inject("openalex", rewrite=lambda page: {**page, "results": page["results"][::-1][:0]})
    assert works(fake_api).json()["results"] == []
    assert len(works(fake_api).json()["results"]) == 1


def test_a_drip_sends_the_body_a_byte_at_a_time(fake_api):
    whole = b'{"meta": {"count": 1}, "results": []}'
    fake_api.inject("openalex", Fault(body=whole, drip=0.01))
    with httpx.stream("GET", f"{fake_api.base_url('openalex')}/works") as response:
        chunks = list(response.iter_raw())
    assert b"".join(chunks) == whole
    assert len(chunks) > 10  # in pieces, as they trickled in


def test_an_announced_length_longer_than_the_body_leaves_the_client_waiting(fake_api):
    fake_api.inject("crossref", Fault(announce=10_000_000))
    with httpx.stream("GET", f"{fake_api.base_url('crossref')}/works", timeout=0.3) as response:
        assert response.headers["content-length"] == "10000000"
        try:
            response.read()
        except httpx.ReadTimeout:
            pass
        else:
            raise AssertionError("the body should never have been complete")
