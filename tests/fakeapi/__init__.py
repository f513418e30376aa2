"""A real HTTP fake of the bibliographic APIs, on 127.0.0.1, for the test suite.

Each API lives under its own path prefix (``/openalex``, ``/crossref``, ...) and is
served by one module in ``routes/`` from the records in ``constructed/`` (see its
README: they are built on the exact shapes of real recorded responses). Faults
are injected per prefix: a status, headers such as Retry-After, a delay, a
malformed or truncated body, a dropped connection.
"""

from tests.fakeapi.server import FakeAPI, Fault, Reply

__all__ = ["FakeAPI", "Fault", "Reply"]
