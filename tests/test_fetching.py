"""The HTTP session: retries, Retry-After, quota, rate limits, redaction (httpx.MockTransport)."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from monitor.config import HttpConfig, SourceConfig
from monitor.fetching import (
    FetchFailure,
    RateLimiter,
    Session,
    make_client,
    redact_url,
    retry_after_seconds,
    tls_context,
    user_agent,
)
from monitor.models import Outcome

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def session(handler, api_key=None, **http) -> tuple[Session, list[float]]:
    slept: list[float] = []
    settings = HttpConfig(**{"max_retries": 3, "backoff_seconds": 1.0, "max_retry_after_seconds": 120, **http})
    source = SourceConfig("demo", True, "https://api.example.org", 1000.0, api_key=api_key)
    client = httpx.Client(transport=httpx.MockTransport(handler), headers={"User-Agent": user_agent("me@example.org")})
    s = Session(source, client, settings, secret_params=("api_key",), now=lambda: NOW,
                sleep=slept.append, jitter=lambda: 0.5)
    return s, slept


def replies(*responses):
    calls = []

    def handler(request):
        calls.append(request)
        return responses[min(len(calls), len(responses)) - 1]

    return handler, calls


def test_clients_share_one_tls_context_that_still_verifies_certificates():
    """A run makes a client per source: they share one TLS context (the CA bundle parsed
    once), which checks certificates and host names as httpx's default does."""
    clients = [make_client(None, HttpConfig()), make_client("me@example.org", HttpConfig(), 3)]
    try:
        contexts = [client._transport._pool._ssl_context for client in clients]
    finally:
        for client in clients:
            client.close()
    assert contexts[0] is contexts[1] is tls_context()
    assert contexts[0].verify_mode == ssl.CERT_REQUIRED and contexts[0].check_hostname


def test_held_bytes_counts_the_answers_not_yet_drained():
    """What a source's lists hold before they are stored in a part (``LIST_BYTES``)."""
    handler, _ = replies(httpx.Response(200, content=b"x" * 1000), httpx.Response(200, content=b"y" * 24))
    s, _ = session(handler)
    s.get("/a")
    s.get("/b")
    assert s.held_bytes() == 1024
    assert [len(e.body) for e in s.drain()] == [1000, 24] and s.held_bytes() == 0


@pytest.mark.parametrize("places", [1, 3])
def test_a_call_of_map_drains_its_own_answers_only(places):
    """A call of ``map`` drains its own answers (a list's piece goes with them), whether it
    runs in this thread (one place) or in a worker: an answer recorded before it and not yet
    drained (the lists of a part still gathering) stays for whoever drains next."""
    s, _ = session(lambda request: httpx.Response(200, content=request.url.path.encode()))
    s.get("/before")

    def call(name: str) -> list[bytes]:
        s.get(f"/{name}/1")
        drained = [e.body for e in s.drain()]
        s.get(f"/{name}/2")
        return drained

    assert list(s.map(call, ["a", "b"], places=places)) == [[b"/a/1"], [b"/b/1"]]
    assert sorted(e.body for e in s.drain()) == [b"/a/2", b"/b/2", b"/before"]


def test_429_then_200_retries_after_the_announced_wait():
    handler, calls = replies(httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json={}))
    s, slept = session(handler)
    assert s.get("/x").status_code == 200
    assert len(calls) == 2
    assert sum(slept) == pytest.approx(7, abs=0.05)
    assert len(s.exchanges) == 2  # the 429 is kept too


def test_retry_after_beyond_the_cap_is_quota_exhausted_without_waiting():
    handler, calls = replies(httpx.Response(429, headers={"Retry-After": "54000"}))
    s, slept = session(handler)
    with pytest.raises(FetchFailure) as info:
        s.get("/x")
    assert info.value.outcome is Outcome.QUOTA_EXHAUSTED
    assert sum(slept) == 0 and len(calls) == 1
    with pytest.raises(FetchFailure) as again:
        s.get("/y")  # no more requests to this source this run
    assert again.value.outcome is Outcome.QUOTA_EXHAUSTED and len(calls) == 1


def test_retry_after_as_http_date():
    later = (NOW + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert retry_after_seconds(later, NOW) == pytest.approx(30)
    assert retry_after_seconds("soon", NOW) is None


def test_5xx_backs_off_exponentially_then_errors():
    handler, calls = replies(httpx.Response(503))
    s, slept = session(handler)
    with pytest.raises(FetchFailure) as info:
        s.get("/x")
    assert info.value.outcome is Outcome.ERROR
    assert "HTTP 503 from api.example.org after 4 attempts" == info.value.message
    assert len(calls) == 4
    assert slept == pytest.approx([1.0, 2.0, 4.0], abs=0.05)  # jitter fixed at the midpoint


def test_429_without_retry_after_ends_rate_limited():
    handler, calls = replies(httpx.Response(429))
    s, _ = session(handler, max_retries=1)
    with pytest.raises(FetchFailure) as info:
        s.get("/x")
    assert info.value.outcome is Outcome.RATE_LIMITED and len(calls) == 2


def test_transport_errors_are_retried_then_named():
    def handler(request):
        raise httpx.ConnectError("Name or service not known")

    s, slept = session(handler, max_retries=2)
    with pytest.raises(FetchFailure) as info:
        s.get("/x")
    assert info.value.message == "cannot connect to api.example.org (Name or service not known)"
    assert len(slept) == 2


def test_404_is_returned_for_the_source_to_judge():
    handler, _ = replies(httpx.Response(404, text="Resource not found."))
    s, _ = session(handler)
    assert s.get("/x").status_code == 404


def test_rate_limit_headers_slow_us_down():
    limiter = RateLimiter(100.0, clock=lambda: 0.0, sleep=lambda _: None)
    limiter.learn(httpx.Headers({"x-rate-limit-limit": "5", "x-rate-limit-interval": "1s"}))
    assert limiter.interval == pytest.approx(0.2)
    limiter.learn(httpx.Headers({"x-rate-limit-limit": "50", "x-rate-limit-interval": "1s"}))
    assert limiter.interval == pytest.approx(0.2)  # never faster than already known


def test_spent_quota_in_headers_stops_the_source():
    handler, calls = replies(
        httpx.Response(200, json={}, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "40000"})
    )
    s, _ = session(handler)
    s.get("/x")
    with pytest.raises(FetchFailure) as info:
        s.get("/y")
    assert info.value.outcome is Outcome.QUOTA_EXHAUSTED and len(calls) == 1


def test_limiter_spaces_requests():
    clock = [0.0]
    slept: list[float] = []

    def sleep(seconds):
        slept.append(seconds)
        clock[0] += seconds

    limiter = RateLimiter(4.0, clock=lambda: clock[0], sleep=sleep)
    for _ in range(3):
        limiter.wait()
    assert slept == pytest.approx([0.25, 0.25])


def test_secret_query_parameters_never_reach_the_stored_url():
    handler, calls = replies(httpx.Response(200, json={}))
    s, _ = session(handler)
    exchange = s.get("/works", params={"filter": "doi:10.1/a|10.1/b", "api_key": "sk-123"})
    assert calls[0].url.params["api_key"] == "sk-123"
    assert "sk-123" not in exchange.url
    assert "api_key=REDACTED" in exchange.url
    assert redact_url("https://x.org/a?key=1&b=2", ("key",)) == "https://x.org/a?key=REDACTED&b=2"


def test_user_agent_names_version_and_contact():
    assert user_agent("me@example.org").startswith("citation-monitor/")
    assert "mailto:me@example.org" in user_agent("me@example.org")
    assert "mailto" not in user_agent(None)


def test_429_with_a_spent_quota_in_headers_is_not_retried():
    """Elsevier sends X-RateLimit-Reset as epoch milliseconds; we must not sleep until then."""
    reset_ms = str(int((NOW.timestamp() + 3 * 86400) * 1000))  # read against the session's now
    handler, calls = replies(
        httpx.Response(429, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset_ms})
    )
    s, slept = session(handler)
    with pytest.raises(FetchFailure) as info:
        s.get("/x")
    assert info.value.outcome is Outcome.QUOTA_EXHAUSTED
    assert "72.0 h" in info.value.message
    assert len(calls) == 1 and sum(slept) < 1


def test_reset_forms():
    from monitor.fetching import reset_seconds

    assert reset_seconds(30, 1_800_000_000) == 30
    assert reset_seconds(1_800_000_060, 1_800_000_000) == 60
    assert reset_seconds(1_800_000_060_000, 1_800_000_000) == 60


def test_a_key_echoed_in_a_body_or_path_is_never_stored():
    """NCBI answers a refused or throttled api_key with a JSON body that repeats it."""
    key = "0123456789abcdef-sekrit"
    handler, calls = replies(httpx.Response(400, json={"error": "API key invalid", "api-key": key}))
    s, _ = session(handler, api_key=key)
    exchange = s.get(f"/by-key/{key}", params={"api_key": key})
    assert key in str(calls[0].url)  # sent as asked
    assert key.encode() not in exchange.body and b'"api-key":"REDACTED"' in exchange.body
    assert key not in exchange.url and "/by-key/REDACTED" in exchange.url
    assert key not in repr(s.exchanges)


def test_a_short_key_is_a_secret_too():
    """No minimum length: a four-character key echoed in a body or URL is redacted."""
    handler, _ = replies(httpx.Response(200, json={"count": 1, "echo": "k+3/"}))
    s, _ = session(handler, api_key="k+3/")
    exchange = s.get("/x", params={"api_key": "k+3/", "q": "k+3/"})
    assert exchange.json() == {"count": 1, "echo": "REDACTED"}
    assert "k%2B3%2F" not in exchange.url and "k+3/" not in exchange.url


def test_an_undecodable_body_is_an_error_outcome_not_a_crash():
    def handler(request):
        raise httpx.DecodingError("Error -3 while decompressing data: incorrect header check")

    s, slept = session(handler, max_retries=1)
    with pytest.raises(FetchFailure) as info:
        s.get("/x")
    assert info.value.outcome is Outcome.ERROR
    assert info.value.message.startswith("unusable answer from api.example.org (Error -3")
    assert len(slept) == 1  # retried once, like a transport error


def test_a_redirect_loop_is_an_error_outcome():
    def handler(request):
        raise httpx.TooManyRedirects("Exceeded maximum allowed redirects.")

    s, _ = session(handler, max_retries=0)
    with pytest.raises(FetchFailure, match="unusable answer from api.example.org") as info:
        s.get("/x")
    assert info.value.outcome is Outcome.ERROR


@pytest.mark.parametrize(
    "header, hours", [("X-HourlyRateLimit-Remaining", "1.0 h"), ("X-DailyRateLimit-Remaining", "24.0 h")]
)
def test_a_spent_hourly_or_daily_allowance_stops_the_source(header, hours):
    """Altmetric announces its allowances without a reset time: the rest of the run waits."""
    handler, calls = replies(httpx.Response(200, json={}, headers={header: "0"}))
    s, slept = session(handler)
    assert s.get("/x").status_code == 200  # the answer that spent the allowance is kept
    with pytest.raises(FetchFailure) as info:
        s.get("/y")
    assert info.value.outcome is Outcome.QUOTA_EXHAUSTED and hours in info.value.message
    assert len(calls) == 1 and sum(slept) == 0


def test_an_allowance_left_does_not_slow_us_down():
    limiter = RateLimiter(100.0, clock=lambda: 0.0, sleep=lambda _: None)
    headers = {"X-HourlyRateLimit-Remaining": "12", "X-DailyRateLimit-Remaining": "n/a"}
    assert limiter.learn(httpx.Headers(headers)) is None
    assert limiter.next_at == 0.0


def test_an_answer_the_source_calls_slow_down_is_retried_like_a_429():
    handler, calls = replies(httpx.Response(403, text="Rate limit exceeded"), httpx.Response(200, json={}))
    s, _ = session(handler)
    slow = lambda exchange: exchange.status_code == 403
    assert s.get("/x", slow_down=slow).status_code == 200 and len(calls) == 2
    handler, calls = replies(httpx.Response(403, text="Rate limit exceeded"))
    s, _ = session(handler, max_retries=1)
    with pytest.raises(FetchFailure) as info:
        s.get("/x", slow_down=slow)
    assert info.value.outcome is Outcome.RATE_LIMITED and len(calls) == 2
    assert s.get("/x").status_code == 403  # without it, a 403 is the source module's to judge


def test_a_host_that_never_answers_is_not_asked_again_this_run():
    """Each remaining work would otherwise wait out every timeout and retry again."""
    def handler(request):
        raise httpx.ConnectTimeout("timed out")

    s, _ = session(handler, max_retries=1, timeout_seconds=5)
    with pytest.raises(FetchFailure) as first:
        s.get("/a")
    assert first.value.message == "timed out after 5s waiting for api.example.org"
    with pytest.raises(FetchFailure) as second:
        s.get("/b")
    assert second.value.outcome is Outcome.ERROR
    assert second.value.message == "timed out after 5s waiting for api.example.org; not asked again this run"
    assert s.exchanges == []


def test_a_server_error_does_not_stop_the_next_request():
    handler, calls = replies(httpx.Response(500), httpx.Response(500), httpx.Response(200, json={}))
    s, _ = session(handler, max_retries=1)
    with pytest.raises(FetchFailure):
        s.get("/a")  # one work's record breaks the server: the others may still be fine
    assert s.get("/b").status_code == 200 and len(calls) == 3
