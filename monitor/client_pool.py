"""HTTP clients of one connection each, lent one per request in flight.

httpcore's pool looks through every connection it holds for each request (and asks the
kernel whether each idle one is still open): with a source's 30 to 60 requests in flight
that cost more CPU than parsing the answers. A pool of one connection is looked through at
once, so a source keeps as many one-connection clients as it has requests in flight, and
each request borrows an idle one (or a new one, the first times).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Self

import httpx


class Clients:
    """One-connection clients made by ``factory``, lent one per request (``lend``)."""

    def __init__(self, factory: Callable[[], httpx.Client]):
        self.factory = factory
        self.idle: list[httpx.Client] = []
        self.made: list[httpx.Client] = []
        self.lock = threading.Lock()
        self.closed = False

    @contextmanager
    def lend(self) -> Iterator[httpx.Client]:
        with self.lock:
            if self.closed:
                raise RuntimeError("the clients are closed")
            client = self.idle.pop() if self.idle else None
        if client is None:
            client = self.factory()
            with self.lock:
                self.made.append(client)
        try:
            yield client
        finally:
            with self.lock:
                self.idle.append(client)

    def close(self) -> None:
        with self.lock:
            self.closed = True
            made, self.made, self.idle = self.made, [], []
        for client in made:
            client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def lend(clients: httpx.Client | Clients) -> AbstractContextManager[httpx.Client]:
    """A client for one request: one of ``clients``, or the single client given."""
    return clients.lend() if isinstance(clients, Clients) else nullcontext(clients)
