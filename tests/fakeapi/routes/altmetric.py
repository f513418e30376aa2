"""Altmetric Details Page API: /doi/{doi}?key=… → counts; 404 when a DOI has no attention."""

from __future__ import annotations

from urllib.parse import unquote

from tests.fakeapi.server import FakeAPI, Reply, Request

# The text Altmetric sends without a key since 10 Nov 2025 (quoted in massimoaria/dimensionsR
# issue #15); the status code is not known, 403 is assumed.
NO_KEY = (
    "You must supply an API key in a parameter named 'key'. As of 10 November 2025, all users "
    "need an API key to access the Altmetric Details Page API. To obtain access, register for "
    "an API key at https://www.altmetric.com/solutions/altmetric-api/"
)
KEYS = {"test-altmetric-key"}
LIMITS = {
    "X-HourlyRateLimit-Limit": "3600",
    "X-HourlyRateLimit-Remaining": "3599",
    "X-DailyRateLimit-Limit": "86400",
    "X-DailyRateLimit-Remaining": "86399",
}


def load(fake: FakeAPI) -> None:
    fake.load_records("altmetric", lambda r: r["doi"].lower())


def handle(fake: FakeAPI, request: Request) -> Reply:
    if request.arg("key") not in KEYS:
        return Reply(403, NO_KEY)
    if request.path.startswith("/doi/"):
        record = fake.records["altmetric"].get(unquote(request.path.removeprefix("/doi/")).lower())
        if record is not None:
            return Reply(200, record, dict(LIMITS))
    return Reply(404, "Not Found", dict(LIMITS))
