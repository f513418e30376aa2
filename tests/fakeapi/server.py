"""The fake's HTTP server, request log and fault injection."""

from __future__ import annotations

import importlib
import json
import pkgutil
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

CONSTRUCTED = Path(__file__).parent / "constructed"


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | Any = b""
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()

    @property
    def content_type(self) -> str:
        if "content-type" in {k.lower() for k in self.headers}:
            return ""
        return "application/json" if not isinstance(self.body, (bytes, str)) else "text/plain"


@dataclass
class Fault:
    """What to do instead of (or to) the normal answer, ``times`` times (None: always)."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    delay: float = 0.0  # seconds before answering
    hold: threading.Event | None = None  # answer only once the test sets this (at most 60 s)
    malformed: bool = False  # replace the body with something that is not JSON
    truncate: bool = False  # announce the full length, send half, close
    drop: bool = False  # close the connection without answering
    drip: float = 0.0  # send the body one byte at a time, this many seconds apart
    drip_headers: bool = False  # ... and the status line and headers too
    stall: float = 0.0  # send half the body, then wait this long before the rest
    endless: bool = False  # a chunked body that never ends (until the client hangs up)
    announce: int | None = None  # a Content-Length to announce instead of the true one
    rewrite: Callable[[Any], Any] | None = None  # the route's answer (parsed JSON) → another
    times: int | None = 1


@dataclass
class Request:
    api: str
    method: str
    path: str  # below the API's prefix, e.g. "/works"
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    target: str = ""  # the request target as sent: path and query, percent-encoded

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body or b"null")


Handler = Callable[["FakeAPI", Request], Reply]


class FakeAPI:
    """Serves every API's routes on one loopback port. Use as a context manager."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.records: dict[str, dict[str, Any]] = defaultdict(dict)
        self.faults: dict[str, list[Fault]] = defaultdict(list)
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        for info in pkgutil.iter_modules([str(Path(__file__).parent / "routes")]):
            module = importlib.import_module(f"tests.fakeapi.routes.{info.name}")
            self.routes[info.name] = module.handle
            if hasattr(module, "load"):
                module.load(self)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def base_url(self, api: str) -> str:
        return f"{self.url}/{api}"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def inject(self, api: str, fault: Fault | None = None, **kwargs: Any) -> Fault:
        """Queue a fault for the next request(s) to ``api``."""
        fault = fault or Fault(**kwargs)
        with self.lock:
            self.faults[api].append(fault)
        return fault

    def take_fault(self, api: str) -> Fault | None:
        with self.lock:
            queue = self.faults[api]
            if not queue:
                return None
            fault = queue[0]
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    queue.pop(0)
            return fault

    def hits(self, api: str, path_prefix: str = "") -> list[Request]:
        return [r for r in self.requests if r.api == api and r.path.startswith(path_prefix)]

    def load_records(self, api: str, key: Callable[[Any], str]) -> None:
        """Read ``constructed/<api>/*.json`` into ``records[api]`` under ``key(record)``."""
        for path in sorted((CONSTRUCTED / api).glob("*.json")):
            record = json.loads(path.read_text())
            self.records[api][key(record)] = record


def _handler_class(fake: FakeAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            self.answer_quietly()

        def do_POST(self) -> None:
            self.answer_quietly()

        def answer_quietly(self) -> None:
            try:
                self.answer()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout under test): nothing to answer

        def answer(self) -> None:
            parts = urlsplit(self.path)
            # a literal ";" ends the path, as at servers that read what follows as path
            # parameters (a DOI's ";" must be sent as %3B: apis.md §0b)
            api, _, rest = parts.path.split(";")[0].lstrip("/").partition("/")
            length = int(self.headers.get("content-length") or 0)
            request = Request(
                api=api,
                method=self.command,
                path="/" + rest,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
                target=self.path,
            )
            with fake.lock:
                fake.requests.append(request)
            fault = fake.take_fault(api)
            if fault and fault.delay:
                time.sleep(fault.delay)
            if fault and fault.hold is not None:
                fault.hold.wait(60)
            if fault and fault.drop:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault and fault.status is not None:
                reply = Reply(fault.status, fault.body or b"", dict(fault.headers))
            elif api in fake.routes:
                reply = fake.routes[api](fake, request)
                # a new dict: a route's headers are often a module-level constant, and a
                # fault's headers must not outlive the fault
                reply = Reply(reply.status, reply.body, {**reply.headers, **(fault.headers if fault else {})})
                if fault and fault.rewrite:
                    reply = Reply(reply.status, fault.rewrite(_parsed(reply.body)), reply.headers)
            else:
                reply = Reply(404, f"no fake API at /{api}")
            body = reply.encoded()
            if fault and fault.malformed:
                body = b'{"results": [{"cited_by_count": 4'
            if fault and fault.body is not None and fault.status is None:
                body = fault.body
            self.send(reply, body, fault)

        def send(self, reply: Reply, body: bytes, fault: Fault | None) -> None:
            head = [f"HTTP/1.1 {reply.status} {self.responses.get(reply.status, ('',))[0]}"]
            if reply.content_type:
                head.append(f"Content-Type: {reply.content_type}")
            head += [f"{name}: {value}" for name, value in reply.headers.items()]
            if fault and fault.endless:
                head.append("Transfer-Encoding: chunked")
            else:
                length = fault.announce if fault and fault.announce is not None else len(body)
                head.append(f"Content-Length: {length}")
            raw_head = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
            if fault and fault.drip_headers:
                self.dribble(raw_head, fault.drip or 1.0)
            else:
                self.wfile.write(raw_head)
                self.wfile.flush()
            if fault and fault.endless:
                while True:  # until the client hangs up (BrokenPipeError)
                    self.wfile.write(b"400\r\n" + b" " * 1024 + b"\r\n")
                    self.wfile.flush()
                    time.sleep(0.01)
            if fault and fault.drip:
                self.dribble(body, fault.drip)
            elif fault and (fault.truncate or fault.stall):
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                if fault.truncate:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                time.sleep(fault.stall)
                self.wfile.write(body[len(body) // 2 :])
            else:
                self.wfile.write(body)

        def dribble(self, data: bytes, pause: float) -> None:
            for i in range(len(data)):
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
                time.sleep(pause)

    return Handler


def _parsed(body: Any) -> Any:
    """A route's body as data, for a fault to rewrite: JSON parsed, anything else as it is."""
    if isinstance(body, (bytes, str)):
        try:
            return json.loads(body)
        except ValueError:
            return body
    return body
