"""A source's clients, one connection each, lent one per request in flight
(monitor/client_pool.py): against a real HTTP server on 127.0.0.1 that counts connections."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from monitor.client_pool import Clients
from monitor.config import HttpConfig, SourceConfig
from monitor.fetching import Session, make_clients


class Counting(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, hold: int):
        super().__init__(("127.0.0.1", 0), Handler)
        self.connections = 0
        self.lock = threading.Lock()
        self.barrier = threading.Barrier(hold, timeout=5)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a client's next request reuses its connection

    def setup(self):
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def do_GET(self):
        self.server.barrier.wait()  # every place taken at once, or this breaks
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = Counting(hold=3)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_each_request_in_flight_has_a_client_and_each_client_keeps_its_connection(server):
    base = f"http://127.0.0.1:{server.server_address[1]}"
    source = SourceConfig("demo", True, base, 1000.0, max_concurrency=3)
    http = HttpConfig(max_retries=1, backoff_seconds=0)
    with make_clients("bench@example.org", http) as clients:
        session = Session(source, clients, http)
        for _ in range(2):
            assert list(session.map(lambda i: session.get(f"/w/{i}").status_code, range(9))) == [200] * 9
        made = list(clients.made)
        assert len(made) == 3  # as many as requests were in flight (the barrier of 3 met)
    assert server.connections == 3  # 18 requests over the three connections, none opened again
    assert all(client.is_closed for client in made)


def test_closed_clients_lend_no_more():
    clients = Clients(_Closable)
    with clients.lend() as one, clients.lend() as two:
        assert one is not two  # two requests in flight: two clients
    with clients.lend() as again:
        assert again in (one, two)  # an idle one is lent again
    assert len(clients.made) == 2
    clients.close()
    assert one.closed and two.closed
    with pytest.raises(RuntimeError, match="closed"):
        clients.lend().__enter__()


class _Closable:
    closed = False

    def close(self):
        self.closed = True
