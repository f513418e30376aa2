"""HTTP for every source: one client factory, one retrying, rate-limited session.

Source modules never call httpx directly. They ask a ``Session`` for a URL and
get back an ``Exchange`` (the stored record of the response), or a
``FetchFailure`` that says which outcome the failure means.
"""

from __future__ import annotations

import contextvars
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from monitor.deadline import BodyTooLarge, read_body, within
from monitor.http_client import make_client, tls_context, user_agent  # noqa: F401 - as before
from monitor.models import Exchange, Outcome
from monitor.pacing import (  # noqa: F401 - fetching.RateLimiter, .reset_seconds, as before
    Gate,
    RateLimiter,
    reset_seconds,
    retry_after_seconds,
)
from monitor.progress import SourceProgress
from monitor.redaction import REDACTED, Redactor

if TYPE_CHECKING:
    from monitor.config import HttpConfig, SourceConfig

log = logging.getLogger(__name__)

# Response headers worth keeping next to a stored body; everything else is noise.
KEPT_HEADERS = (
    "content-type",
    "retry-after",
    "x-api-pool",
    "x-rate-limit-limit",
    "x-rate-limit-interval",
    "x-concurrency-limit",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-cost-usd",
    "x-ratelimit-remaining-usd",
    "x-hourlyratelimit-remaining",
    "x-dailyratelimit-remaining",
)
MAX_BACKOFF_SECONDS = 60.0
FAILURES_TO_STOP = 3  # failed requests in a row that stop a source for the rest of the run
MAX_BODY_BYTES = 256 * 1024 * 1024  # far above any answer we parse (OpenCitations' largest)
# A batch refused as too long or too big, or one the server gave up on, is asked again in halves.
DIVISIBLE_STATUSES = (400, 413, 414, 504)
T = TypeVar("T")
R = TypeVar("R")


def utcnow() -> datetime:
    return datetime.now(UTC)


class FetchFailure(Exception):
    """A request that did not produce a usable response, with the outcome it means."""

    def __init__(
        self, outcome: Outcome, message: str, exchange: Exchange | None = None, timed_out: bool = False
    ):
        super().__init__(message)
        self.outcome = outcome
        self.message = message
        self.exchange = exchange
        self.timed_out = timed_out  # no answer in time: a batch may be asked again in halves

    @property
    def divisible(self) -> bool:
        """Whether a batch that failed so is worth asking again in halves: refused as too
        long or too large (400, 413, 414), or given up on (504, a timeout)."""
        status = self.exchange.status_code if self.exchange is not None else None
        return self.timed_out or status in DIVISIBLE_STATUSES


# Set in a thread that asks citing lists while its source still counts (source_job): its
# requests, and those of the calls it hands to ``Session.map``, leave ``Session.reserved``.
beside_counts: contextvars.ContextVar[bool] = contextvars.ContextVar("beside_counts", default=False)


class BudgetSpent(FetchFailure):
    """The run's ``max_requests`` for the source is spent: the request was not sent, and the
    works it was for are not asked this run (they keep their last observation)."""


def redact_url(url: str, secret_params: tuple[str, ...]) -> str:
    """The URL with secret query parameters replaced, fit to store or log."""
    if not secret_params:
        return url
    parts = urlsplit(url)
    query = [
        (k, REDACTED if k in secret_params else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query, safe=":|,/*")))


@dataclass(frozen=True)
class Stop:
    """Why a source is asked nothing more this run, and the outcome that means."""

    outcome: Outcome
    message: str


class Session:
    """One source's view of HTTP for one run: its limiter, its retries, its deadlines.

    Every request ends by the wall clock: one attempt within ``timeout_seconds`` (headers
    and body together), one request with its retries within ``request_deadline_seconds``,
    and all of a source's requests by ``deadline`` (the source's and the run's, on the
    ``clock`` timeline). No wait (Retry-After, backoff, a spent quota) sleeps past a
    deadline, and a source waits at most ``max_retry_after_seconds`` in all. A source
    whose requests fail ``FAILURES_TO_STOP`` times in a row, or find no server at all, is
    asked nothing more this run: every later request fails at once, saying why.

    Several threads may share a session (``map``): they share its pace (a 429 met by
    one slows all), its places in flight (``[sources.NAME] max_concurrency``, lowered
    by a server's ``x-concurrency-limit``), its failures in a row, its waiting allowance
    and its ``budget`` of requests for the run (``BudgetSpent`` once it is used up).
    """

    def __init__(
        self,
        source: SourceConfig,
        client: httpx.Client,
        http: HttpConfig,
        *,
        contact_email: str | None = None,
        secret_params: tuple[str, ...] = (),
        now: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
        deadline: float | None = None,
        budget: int | None = None,
        progress: SourceProgress | None = None,
    ):
        self.source = source
        self.client = client
        self.http = http
        self.contact_email = contact_email
        self.secret_params = secret_params
        self.redactor = Redactor([source.api_key])
        self.now = now
        self.sleep = sleep
        self.jitter = jitter
        self.clock = clock
        self.deadline = deadline  # on the ``clock`` timeline; None: only per request
        self.limiter = RateLimiter(source.requests_per_second, clock=clock, sleep=sleep)
        self.gate = Gate(source.max_concurrency)
        self.budget = budget  # requests this run may still send; None: no cap
        self.reserved = 0  # of them, those a request ``beside_counts`` may not take
        self._beside = threading.Lock()  # one request beside the counts looks for a free moment at a time
        self.progress = progress
        self.exchanges: list[Exchange] = []
        self._held = 0  # the bytes of ``exchanges``' bodies (held_bytes)
        self.stopped: Stop | None = None  # once set, no more requests this run
        self.failures_in_a_row = 0
        self.waited = 0.0  # seconds spent waiting to retry, this run
        self.requests = 0  # HTTP requests sent, this run
        self.unasked: set[str] = set()  # DOIs of works left unasked when the budget ran out
        self.max_pages = 100  # a cap on pages per citing list (config [citing] max_pages)
        self.brief: frozenset[str] = frozenset()  # DOIs the plan asks briefly (SourcePlan.brief)
        self.learned: set[str] = set()  # what a source learned of its server this run
        self.max_body_bytes = MAX_BODY_BYTES
        self.host = urlsplit(source.base_url).netloc
        self.lock = threading.Lock()
        self._local = threading.local()  # ``map``'s worker: the exchanges of its call

    def url(self, path: str) -> str:
        """``path`` below the source's base URL; an absolute URL as it is."""
        if "://" in path:
            return path
        return f"{self.source.base_url}/{path.lstrip('/')}"

    def get(self, path: str, params: dict[str, Any] | None = None, **kw: Any) -> Exchange:
        return self.request("GET", path, params=params, **kw)

    def post(self, path: str, params: dict[str, Any] | None = None, **kw: Any) -> Exchange:
        return self.request("POST", path, params=params, **kw)

    def map(
        self, func: Callable[[T], R], items: Iterable[T], places: int | None = None, ordered: bool = True
    ) -> Iterator[R]:
        """``func`` over ``items``, up to ``max_concurrency`` at once (or ``places``: calls
        that make requests of their own, through the same gate), results in order; or, not
        ``ordered``, as each call ends (its place goes to the next item at once, not when
        the calls before it end too). A call's place goes to the next item before its
        result is yielded, so a caller slow to take a result (waiting to store it) leaves
        no place idle meanwhile.

        Each call runs in a worker thread of its own (so its requests' wall-clock
        deadlines, which are per thread, are its own); with one place, in this thread.
        The exchanges a call records are its own: ``drain`` within the call takes them,
        and what it leaves is handed over as its result is yielded. So what is drained
        after a result is that of the results yielded so far, never of a call still in
        flight, and a caller can store its results in parts, each with its answers.
        """
        workers = places or self.source.max_concurrency

        def call(item: T) -> tuple[bool, Any, list[Exchange]]:
            outer = getattr(self._local, "kept", None)  # a call of another map, in this thread
            self._local.kept = kept = []
            try:
                return True, func(item), kept
            except BaseException as exc:  # noqa: BLE001 - raised again where the result is taken
                return False, exc, kept
            finally:
                self._local.kept = outer

        if workers <= 1:  # in this thread, one call after another
            for item in items:
                yield self._handed(call(item))
            return

        window = workers if places else 2 * workers  # a bounded window: memory stays flat
        pending: deque[Future[tuple[bool, Any, list[Exchange]]]] = deque()

        def next_done() -> Future[tuple[bool, Any, list[Exchange]]]:
            if not ordered:
                done = wait(pending, return_when=FIRST_COMPLETED).done
                pending.remove(first := next(f for f in pending if f in done))  # the oldest of them
                return first
            return pending.popleft()

        with ThreadPoolExecutor(workers, thread_name_prefix=f"{self.source.name}-") as pool:
            try:
                for item in items:
                    if len(pending) < window:  # each call in this thread's context (``beside_counts``)
                        pending.append(pool.submit(contextvars.copy_context().run, call, item))
                        continue
                    done = next_done()
                    pending.append(pool.submit(contextvars.copy_context().run, call, item))  # its place goes on meanwhile
                    yield self._handed(done.result())
                while pending:
                    yield self._handed(next_done().result())
            finally:
                for future in pending:
                    if not future.cancel():
                        self._hand_over(future.result()[2])  # done, never yielded: keep its answers

    def _handed(self, called: tuple[bool, Any, list[Exchange]]) -> Any:
        ok, value, kept = called
        self._hand_over(kept)
        if not ok:
            raise value
        return value

    def _hand_over(self, exchanges: list[Exchange]) -> None:
        """Exchanges to this thread's keeping: its call's, if it runs one of ``map``; kept
        compressed from the moment they are recorded until stored (``Exchange.pack``)."""
        for exchange in exchanges:
            exchange.pack()
        kept = getattr(self._local, "kept", None)
        if kept is not None:
            kept += exchanges
            return
        with self.lock:
            self.exchanges += exchanges
            self._held += sum(exchange.size for exchange in exchanges)

    def drain(self) -> list[Exchange]:
        """The exchanges recorded since the last call, handed over (to be stored) and
        forgotten: within a call of ``map``, that call's own."""
        kept = getattr(self._local, "kept", None)
        if kept is not None:
            taken = kept[:]
            kept.clear()
            return taken
        with self.lock:
            taken, self.exchanges, self._held = self.exchanges, [], 0
        return taken

    def held_bytes(self) -> int:
        """The size of the answers handed over and not drained yet (asked after every list:
        kept as they come, not summed again)."""
        return self._held

    def done(self, works: int) -> None:
        """``works`` more works asked (for the progress display)."""
        if self.progress is not None:
            self.progress.count_done(works)

    def not_asked(self, dois: Iterable[str]) -> None:
        """Works left unasked because the budget ran out: they keep their last observation."""
        with self.lock:
            self.unasked.update(dois)

    def cancel(self, message: str) -> None:
        """Ask nothing more (the run is stopping); requests already sent end by their deadline."""
        with self.lock:
            self.stopped = self.stopped or Stop(Outcome.ERROR, message)

    def request(
        self,
        method: str,
        path: str,
        *,
        slow_down: Callable[[Exchange], bool] | None = None,
        batch: int = 0,
        **kwargs: Any,
    ) -> Exchange:
        """Send a request, retrying 429, 5xx and transport errors with backoff.

        Returns the Exchange of the first response that is neither 429 nor 5xx (a
        404 included: what it means is the source module's call). Raises
        FetchFailure when retries run out or a deadline comes; at once when the
        server asks us to wait longer than ``max_retry_after_seconds``, or when the
        source was stopped earlier in the run; BudgetSpent, sending nothing, when the
        run's budget of requests is used up. ``slow_down`` names other answers that
        mean "too many requests" (OpenAlex's 403): they are retried as a 429 is.
        ``batch``: the works a batch lookup asks about. A batch of more than one is asked
        again in halves by its caller when it is refused as too long or too large, times
        out or is answered 504: so neither of the last two is retried here, and such a
        failure does not count against the source. No batch's timeout stops the source at
        once (its other batches may answer); its failures in a row still do.
        """
        if self.stopped:
            raise FetchFailure(self.stopped.outcome, self.stopped.message)
        try:
            exchange = self._attempts(method, path, slow_down, batch > 1, kwargs)
        except BudgetSpent:
            raise
        except FetchFailure as failure:
            self._failed(failure, batch)
            raise
        with self.lock:
            self.failures_in_a_row = 0
        return exchange

    def _attempts(
        self,
        method: str,
        path: str,
        slow_down: Callable[[Exchange], bool] | None,
        divisible: bool,
        kwargs: dict[str, Any],
    ) -> Exchange:
        ends = self.clock() + self.http.request_deadline_seconds
        if self.deadline is not None:
            ends = min(ends, self.deadline)
        timeout = self.source.timeout_seconds or self.http.timeout_seconds
        attempts = self.http.max_retries + 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            if beside_counts.get():
                self._after_the_counts(ends)  # before a place in flight: a count may want it
            if not self.gate.enter(max(0.0, ends - self.clock())):
                raise self._out_of_time(None)
            try:
                self._pace(ends)
                self._spend()
                left = ends - self.clock()
                if left <= 0:
                    raise self._out_of_time(None)
                allowed = min(timeout, left)
                started = time.monotonic()
                exchange = self._send(method, self.url(path), allowed, started, kwargs)
            except httpx.TimeoutException:
                failure = FetchFailure(
                    Outcome.ERROR,
                    f"timed out after {round(allowed, 2):g}s waiting for {self.host}",
                    timed_out=True,
                )
                if divisible:
                    raise failure from None
            except BodyTooLarge as exc:  # asking again would bring the same
                raise FetchFailure(Outcome.ERROR, f"unusable answer from {self.host}: {exc}") from None
            except httpx.TransportError as exc:
                failure = FetchFailure(
                    Outcome.ERROR, f"cannot connect to {self.host} ({self._reason(exc)})"
                )
            except httpx.RequestError as exc:  # an undecodable body, a redirect loop
                failure = FetchFailure(
                    Outcome.ERROR, f"unusable answer from {self.host} ({self._reason(exc)})"
                )
            else:
                headers = httpx.Headers(exchange.headers)
                forced = self.limiter.learn(headers, self.now())
                self.gate.learn(headers)
                status = exchange.status_code
                throttled = status == 429 or bool(slow_down and slow_down(exchange))
                if throttled:
                    self.limiter.throttled()
                    if self.progress is not None:
                        self.progress.count_throttled()
                elif status < 500:
                    self.limiter.recovered()
                if forced is not None and forced > self.http.max_retry_after_seconds:
                    stop = self._stop(
                        Outcome.QUOTA_EXHAUSTED,
                        f"{self.host} says its quota is spent for {duration(forced)}; "
                        "stopped asking it for this run",
                    )
                    if throttled or status >= 500:
                        raise FetchFailure(stop.outcome, stop.message, exchange)
                if not throttled and status < 500:
                    return exchange
                wait = retry_after_seconds(headers.get("retry-after"), self.now())
                if wait is not None and wait > self.http.max_retry_after_seconds:
                    stop = self._stop(
                        Outcome.QUOTA_EXHAUSTED,
                        f"{self.host} asked us to retry after {duration(wait)} (HTTP {status}), "
                        "more than the cap of "
                        f"{duration(self.http.max_retry_after_seconds)}: quota used up for now",
                    )
                    raise FetchFailure(stop.outcome, stop.message, exchange)
                outcome = Outcome.RATE_LIMITED if throttled else Outcome.ERROR
                tries = f"{attempt + 1} attempt{'s' if attempt else ''}"
                failure = FetchFailure(outcome, f"HTTP {status} from {self.host} after {tries}", exchange)
                if divisible and status in DIVISIBLE_STATUSES:
                    raise failure
                if not last and wait is not None:
                    log.info("%s: HTTP %s, retrying after %.1fs", self.source.name, status, wait)
                    self._wait(wait, ends, failure)
                    continue
            finally:
                self.gate.leave()
            if last:
                raise failure
            delay = min(MAX_BACKOFF_SECONDS, self.http.backoff_seconds * 2**attempt)
            delay *= 0.5 + self.jitter()
            log.info("%s: %s; retrying in %.1fs", self.source.name, failure.message, delay)
            self._wait(delay, ends, failure)
        raise AssertionError("unreachable")

    def _pace(self, ends: float) -> None:
        """Wait for this request's moment at the source's pace; a pause another thread sets
        meanwhile (a 429, a spent quota) is waited out too."""
        pauses = self.limiter.pauses
        slot = self.limiter.reserve()
        while True:
            wait = slot - self.clock()
            if wait > 0:
                if self.clock() + wait > ends:
                    raise self._out_of_time(None, wait)
                self.sleep(wait)
            if self.limiter.pauses == pauses or self.limiter.paused_until <= slot:
                return
            pauses = self.limiter.pauses
            slot = self.limiter.reserve()

    def _after_the_counts(self, ends: float) -> None:
        """A request ``beside_counts`` takes only the pace the counts leave: it goes on once
        no more than one moment is booked ahead (one such request looks at a time)."""
        with self._beside:
            while (ahead := self.limiter.next_at - self.clock()) > self.limiter.interval:
                if self.clock() + ahead > ends:
                    raise self._out_of_time(None, ahead)
                self.sleep(self.limiter.interval)

    @property
    def spent(self) -> bool:
        """Whether the run's budget of requests is used up (never, without a budget): for a
        request ``beside_counts``, all of it but what is ``reserved`` for the counts."""
        held = self.reserved if beside_counts.get() else 0
        return self.budget is not None and self.requests + held >= self.budget

    def _spend(self) -> None:
        """Count the request against the run's budget; raise BudgetSpent if none is left."""
        with self.lock:
            if self.spent:
                raise BudgetSpent(
                    Outcome.OK,
                    f"not asked: the run's budget of {self.budget} requests to "
                    f"{self.source.name} is spent ([sources.{self.source.name}] max_requests)",
                )
            self.requests += 1
        if self.progress is not None:
            self.progress.count_request()

    def _stop(self, outcome: Outcome, message: str) -> Stop:
        with self.lock:
            self.stopped = Stop(outcome, message)
            return self.stopped

    def _send(
        self, method: str, url: str, budget: float, started: float, kwargs: dict[str, Any]
    ) -> Exchange:
        """One attempt, headers and body within ``budget`` seconds of the wall clock."""
        ends = started + budget
        with within(ends), self.client.stream(method, url, timeout=budget, **kwargs) as response:
            body = read_body(response, ends, self.max_body_bytes)
        return self.record(response, body, started)

    def _wait(
        self, seconds: float, ends: float, failure: FetchFailure | None, paced: bool = False
    ) -> None:
        """Wait ``seconds`` before the next attempt, unless that passes a deadline or (for a
        retry) the source's waiting allowance: then raise ``failure``, saying so."""
        if seconds <= 0:
            return
        if self.clock() + seconds > ends:
            raise self._out_of_time(failure, seconds)
        if not paced:
            allowance = self.http.max_retry_after_seconds
            with self.lock:
                over = self.waited + seconds > allowance
                if not over:
                    self.waited += seconds
            if over:
                message = (
                    f"; no more retries: {self.source.name} has waited "
                    f"{duration(self.waited)} this run, and may wait {duration(allowance)}"
                )
                raise FetchFailure(
                    failure.outcome if failure else Outcome.RATE_LIMITED,
                    (failure.message if failure else f"{self.host} asked us to wait") + message,
                    failure.exchange if failure else None,
                )
        self.limiter.pause(seconds)

    def _out_of_time(self, failure: FetchFailure | None, wait: float | None = None) -> FetchFailure:
        source_ends = self.deadline is not None and self.deadline <= self.clock() + (wait or 0)
        which = "the source's deadline for this run" if source_ends else "the request's deadline"
        cause = f"waiting {duration(wait)} more would pass {which}" if wait else f"{which} passed"
        if failure is None:
            return FetchFailure(Outcome.ERROR, f"no answer from {self.host}: {cause}")
        return FetchFailure(failure.outcome, f"{failure.message}; {cause}", failure.exchange)

    def _failed(self, failure: FetchFailure, batch: int = 0) -> None:
        """Count a failed request; stop the source when it keeps failing or is gone."""
        with self.lock:
            if self.stopped:
                return
            if self.deadline is not None and self.clock() >= self.deadline:
                self.stopped = Stop(
                    Outcome.ERROR, f"not asked: {self.source.name}'s deadline for this run passed"
                )
                return
            if batch > 1 and failure.divisible:
                return  # its caller asks again in halves: only a single work's failure counts
            self.failures_in_a_row += 1
            if failure.exchange is None and not batch:
                # No answer at all (timeouts, refused connections) after every retry: a host
                # that is down would cost each remaining work the same wait.
                self.stopped = Stop(failure.outcome, f"{failure.message}; not asked again this run")
            elif self.failures_in_a_row >= FAILURES_TO_STOP:
                self.stopped = Stop(
                    failure.outcome,
                    f"not asked: {self.source.name} failed {self.failures_in_a_row} requests in a "
                    f"row, so it was stopped for this run (last: {failure.message})",
                )

    def record(self, response: httpx.Response, body: bytes, started: float) -> Exchange:
        """The Exchange to keep: no secret in its URL, headers or body (some APIs echo a key)."""
        url = self.redactor.text(redact_url(str(response.request.url), self.secret_params))
        exchange = Exchange(
            source=self.source.name,
            method=response.request.method,
            url=url,
            status_code=response.status_code,
            headers={
                k: self.redactor.text(v)
                for k, v in response.headers.items()
                if k.lower() in KEPT_HEADERS
            },
            body=self.redactor.bytes(body),
            fetched_at=self.now(),
            elapsed_ms=int((time.monotonic() - started) * 1000),
        )
        self._hand_over([exchange])  # a call of ``map``: handed over with its result
        return exchange

    def _reason(self, exc: httpx.RequestError) -> str:
        text = str(exc) or type(exc).__name__
        return self.redactor.text(text.splitlines()[0][:160])


def duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{round(seconds, 2):g} s"
