"""Answers are read by orjson, and by json where orjson refuses: the same values either way."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from monitor.errors import MalformedResponse
from monitor.models import parse_json
from tests.conftest import REAL, ROOT

BODIES = sorted(REAL.glob("*/*.json")) + sorted((ROOT / "tests" / "fakeapi" / "constructed").glob("*/*.json"))


@pytest.mark.parametrize("path", BODIES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_recorded_answer_reads_as_the_standard_library_reads_it(path: Path):
    body = path.read_bytes()
    assert parse_json(body) == json.loads(body)


@pytest.mark.parametrize(
    "body",
    [
        b'\xef\xbb\xbf{"count": 3}',  # a UTF-8 byte-order mark
        '{"count": 3}'.encode("utf-16"),
        b'{"score": NaN, "count": 3}',
        b'{"title": "broken \\ud800 text", "count": 3}',  # a lone surrogate, as some abstracts hold
        b'{"count": 1e400}',  # beyond a double: infinity
    ],
)
def test_what_orjson_refuses_is_read_by_json(body: bytes):
    expected = json.loads(body)
    got = parse_json(body)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == value or (isinstance(value, float) and math.isnan(got[key]))


def test_an_integer_past_64_bits_is_refused_where_an_integer_is_read():
    """orjson reads it as a float (json as an int): either way no count comes of it."""
    from monitor.sources.base import count, may

    record = parse_json(b'{"cited_by_count": 123456789012345678901234567890, "publication_year": 99999999999999999999}')
    with pytest.raises(MalformedResponse, match="'cited_by_count' is not a plausible count"):
        count(record, "cited_by_count")
    with pytest.raises(MalformedResponse, match="'cited_by_count' should be a count, got 3.0"):
        count({"cited_by_count": 3.0}, "cited_by_count")  # a count is never a float
    with pytest.raises(MalformedResponse, match="publication_year"):
        may(record, "publication_year", int)


@pytest.mark.parametrize("body", [b"{\"count\": ", b"<html>Bad gateway</html>", b"\xff\xfe\xff", b"[" * 100_000])
def test_a_body_that_is_not_json_is_malformed_with_a_reason(body: bytes):
    with pytest.raises(MalformedResponse, match="body is not valid JSON"):
        parse_json(body)
