"""The HTTP client every request goes through: who we say we are, one TLS context for the
process, connections kept for the next request, each request bound by its wall-clock
deadline (monitor/deadline.py). ``fetching.Session`` paces, retries and records over it."""

from __future__ import annotations

import logging
import ssl
import threading
from typing import TYPE_CHECKING

import httpx

from monitor import __version__
from monitor.deadline import bound_by_deadlines

if TYPE_CHECKING:
    from monitor.config import HttpConfig

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5


def user_agent(contact_email: str | None) -> str:
    contact = f"; mailto:{contact_email}" if contact_email else ""
    return f"citation-monitor/{__version__} (https://pypi.org/project/citation-monitor/{contact})"


def make_client(contact_email: str | None, http: HttpConfig, connections: int = 20) -> httpx.Client:
    """An HTTP client: each source's own in a run, or the one of the collections' resolvers
    and the citing-work lookups.

    ``connections``: how many requests may be in flight at once through it (a source's
    ``max_concurrency``, or the sum of them: the sources' gates bound it, not the pool);
    that many connections are kept open for the next request, so none pays for a new one.
    Its connections honour the wall-clock deadline of each request (``deadline.within``).
    """
    client = httpx.Client(
        verify=tls_context(),
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=connections),
        headers={"User-Agent": user_agent(contact_email), "Accept": "application/json"},
        timeout=httpx.Timeout(http.timeout_seconds, connect=min(10.0, http.timeout_seconds)),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
    )
    if not bound_by_deadlines(client):
        log.debug("a connection pool without a network backend: only bodies are bounded")
    return client


_tls_lock = threading.Lock()
_tls: list[ssl.SSLContext] = []


def tls_context() -> ssl.SSLContext:
    """The process's one TLS context (certificates verified, as httpx's default), shared by
    its clients: each of its own would parse the CA bundle again (~50 ms of CPU and a few
    MB each, and a run makes a client per source)."""
    with _tls_lock:
        if not _tls:
            _tls.append(httpx.create_ssl_context())
        return _tls[0]
