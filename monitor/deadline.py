"""Wall-clock deadlines for HTTP: a request ends by its deadline, however the server dribbles.

httpx's timeouts bound each connect, read and write: a server that sends one byte a
second never trips them. Here every socket operation of a request is given at most
the time left before the request's deadline, so headers and body together end by it:

- ``within(deadline)`` sets the deadline (a ``time.monotonic()`` value) of the requests
  made by this thread inside the block;
- ``bound_by_deadlines(client)`` makes a client's connections honour it, by wrapping
  the network backend of httpcore's connection pools (there is no public option for
  that, so a pool without one is left as it is and ``read_body`` still bounds the body);
- ``read_body(response, deadline, max_bytes)`` reads a streamed body, stopping at the
  deadline or at ``max_bytes``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

_local = threading.local()


@contextmanager
def within(deadline: float) -> Iterator[None]:
    """Requests made by this thread in the block end by ``deadline`` (``time.monotonic``)."""
    previous = getattr(_local, "deadline", None)
    _local.deadline = deadline if previous is None else min(previous, deadline)
    try:
        yield
    finally:
        _local.deadline = previous


def _bounded(timeout: float | None, expired: type[Exception]) -> float | None:
    deadline = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream):
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(self.inner.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """A network backend whose streams give no operation more time than the deadline leaves."""

    def __init__(self, inner: httpcore.NetworkBackend):
        self.inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None) -> _Stream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(self.inner.connect_tcp(host, port, bounded, local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> _Stream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(self.inner.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


def bound_by_deadlines(client: httpx.Client) -> bool:
    """Make every connection pool of ``client`` honour ``within``; True when all do."""
    transports = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
    bounded = True
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.NetworkBackend):
            if not isinstance(backend, DeadlineBackend):
                pool._network_backend = DeadlineBackend(backend)  # type: ignore[union-attr]
        elif transport is not None:
            bounded = False
    return bounded


class BodyTooLarge(httpx.RequestError):
    """An answer larger than we are willing to keep."""


def read_body(response: httpx.Response, deadline: float, max_bytes: int) -> bytes:
    """The (decoded) body of a streamed response, by ``deadline`` and at most ``max_bytes``."""
    announced = response.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > max_bytes:
        raise BodyTooLarge(
            f"the answer announces {int(announced):,} bytes, more than the {max_bytes:,} we keep"
        )
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge(f"the answer passed the {max_bytes:,} bytes we keep")
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("the request's deadline passed", request=response.request)
    return b"".join(chunks)
