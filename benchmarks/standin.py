"""A loopback stand-in for every API, for N synthetic works: each API's rate enforced with
429s, every answer after a set latency. Run by benchmarks/bench_scale.py in a process of
its own (so its work does not share the client's interpreter):

    python benchmarks/standin.py --works 1000 [--speed 10] [--latency 0.3]

prints ``PORT <n>`` and serves until killed. ``GET /_stats`` gives per API the requests,
the 429s, the most requests in flight and the answers other than 429s sent in each ``SPAN``
seconds (when a source was asked, and where it waited); ``POST /_reset`` zeroes them; ``POST
/_tune?speed=S&latency=L`` changes the rates and the latency (for a catch-up run).

Work ``i`` is ``10.5555/bench.{i}`` (PMID 20000000+i). Its citation count is skewed
(median about 3, mean about 9, a few in the thousands: ``citations``), the same at every
source and every run, so a second run is a quiet one. Its citing works are synthetic works
``(i, k)``; every list holds all of them. Bodies are the constructed records of the test
fake (tests/fakeapi/constructed/, each deep-copied from a real response) with values
replaced, so every field name and nesting is the API's own.

Rates are each API's published one (apis.md), or where none is published the one we ask
at, times ``--speed``; Crossref's concurrency limit (x-concurrency-limit) too.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
CONSTRUCTED = ROOT / "tests" / "fakeapi" / "constructed"
sys.path.insert(0, str(ROOT))
from tests.fakeapi.routes.europepmc import lite  # a core record as resultType=lite gives it

DEFAULT = "10.1016_j.drup.2021.100752"
SPAN = 10  # seconds: the answers per API are counted in spans of this
REFERENCES = 40  # references each Crossref record lists: our assumption, between none deposited and the default article's 182
PREFIX, CITING_PREFIX, PMID0, CITING_PMID0 = "10.5555/bench.", "10.5556/cite.", 20_000_000, 40_000_000
# (published requests a second, or ours where none is; requests in flight), before --speed
LIMITS = {
    "openalex": (100.0, None), "crossref": (3.0, 3), "semanticscholar": (1.0, None),
    "opencitations": (3.0, None), "europepmc": (5.0, None), "icite": (3.0, None),
    "pubmed": (3.0, None), "dimensions": (1.0, None), "unpaywall": (5.0, None),
    "scopus": (9.0, None), "altmetric": (1.0, None),
}


def citations(i: int) -> int:
    """Work i's citation count: 6/u^0.6 - 6 for a uniform u, so most are cited a little."""
    u = random.Random(i).random()
    return min(20_000, int(6 / max(u, 1e-9) ** 0.6) - 6)


def work_of(doi: str) -> int | None:
    doi = doi.lower().removeprefix("https://doi.org/")
    tail = doi.removeprefix(PREFIX)
    return int(tail) if tail != doi and tail.isdigit() else None


def load(name: str) -> object:
    return json.loads((CONSTRUCTED / name).read_text())


class Data:
    """Every API's answers, made from templates on demand."""

    def __init__(self, works: int):
        self.works = works
        self.openalex = load(f"openalex/{DEFAULT}.json")
        self.openalex_citing = load(f"openalex/citing_{DEFAULT}.json")["results"]
        # The constructed record leaves its 182 references out; a real record carries its
        # reference list (4/5 of a recorded answer's bytes): REFERENCES entries, synthetic,
        # shaped like a recorded answer's (fixtures: crossref/work_10.1038_srep16696_polite_pool.json)
        self.crossref = {**load(f"crossref/{DEFAULT}.json"), "reference": [
            {"key": f"10.1016/j.drup.2021.100752_bib{k}", "doi-asserted-by": "crossref", "first-page": str(100 + k),
             "DOI": f"10.5555/reference.{k}", "volume": str(k % 60 + 1), "author": f"A Author{k}", "year": str(1990 + k % 30),
             "unstructured": f"Author{k} A, Other B, et al. A cited work number {k} on autophagy and tumour "
                             f"immunity. J. Example Res. {k % 60 + 1}, {100 + k}-{110 + k} ({1990 + k % 30}).",
             "journal-title": "J. Example Res."}
            for k in range(REFERENCES)]}
        self.s2 = load(f"semanticscholar/{DEFAULT}.json")
        self.s2_citing = load(f"semanticscholar/citing_{DEFAULT}.json")["data"]
        self.oc_citing = load(f"opencitations/citing_{DEFAULT}.json")
        self.epmc = load(f"europepmc/{DEFAULT}.json")
        self.epmc_citing = load(f"europepmc/citing_{DEFAULT}.json")
        self.icite = load("icite/33930000.json")
        self.dimensions = load(f"dimensions/{DEFAULT}.json")
        self.unpaywall = load(f"unpaywall/{DEFAULT}.json")
        self.scopus = load(f"scopus/{DEFAULT}.json")
        self.altmetric = load(f"altmetric/{DEFAULT}.json")

    def known(self, i: int | None) -> bool:
        return i is not None and 0 <= i < self.works

    # --- OpenAlex ---
    def openalex_work(self, i: int) -> dict:
        url = f"https://openalex.org/W{9_000_000_000 + i}"
        return {**self.openalex, "id": url, "doi": f"https://doi.org/{PREFIX}{i}",
                "ids": {"openalex": url, "doi": f"https://doi.org/{PREFIX}{i}",
                        "pmid": f"https://pubmed.ncbi.nlm.nih.gov/{PMID0 + i}"},
                "cited_by_count": citations(i)}

    def openalex_citing_work(self, i: int, k: int) -> dict:
        template = self.openalex_citing[k % len(self.openalex_citing)]
        url = f"https://openalex.org/W{5_000_000_000 + i * 100_000 + k}"
        doi = f"https://doi.org/{CITING_PREFIX}{i}.{k}"
        return {**template, "id": url, "doi": doi, "title": f"Citing work {k} of {i}",
                "display_name": f"Citing work {k} of {i}",
                "ids": {"openalex": url, "doi": doi, "pmid": f"https://pubmed.ncbi.nlm.nih.gov/{CITING_PMID0 + i * 1000 + k}"},
                "referenced_works": [f"https://openalex.org/W{9_000_000_000 + i}"]}

    # --- per-work answers ---
    def crossref_work(self, i: int) -> dict:
        return {**self.crossref, "DOI": f"{PREFIX}{i}", "is-referenced-by-count": citations(i)}

    def s2_paper(self, i: int) -> dict:
        return {**self.s2, "paperId": f"{i:040x}", "corpusId": 300_000_000 + i,
                "externalIds": {"DOI": f"{PREFIX}{i}", "PubMed": str(PMID0 + i), "CorpusId": 300_000_000 + i},
                "citationCount": citations(i)}

    def s2_edge(self, i: int, k: int) -> dict:
        edge = self.s2_citing[k % len(self.s2_citing)]
        paper = {**edge["citingPaper"], "paperId": f"{(i << 20) + k:040x}", "title": f"Citing work {k} of {i}",
                 "externalIds": {"DOI": f"{CITING_PREFIX}{i}.{k}", "PubMed": str(CITING_PMID0 + i * 1000 + k)}}
        return {**edge, "citingPaper": paper}

    def oc_row(self, i: int, k: int) -> dict:
        row = self.oc_citing[k % len(self.oc_citing)]
        return {**row, "oci": f"0612{i:08d}{k:05d}-0618{i:08d}",
                "citing": f"omid:br/0612{i:08d}{k:05d} doi:{CITING_PREFIX}{i}.{k} pmid:{CITING_PMID0 + i * 1000 + k}",
                "cited": f"omid:br/0618{i:08d} doi:{PREFIX}{i} pmid:{PMID0 + i}"}

    def epmc_record(self, i: int) -> dict:
        pmid = str(PMID0 + i)
        return {**self.epmc, "doi": f"{PREFIX}{i}", "id": pmid, "pmid": pmid, "source": "MED",
                "citedByCount": citations(i)}

    def epmc_citation(self, i: int, k: int) -> dict:
        listed = self.epmc_citing["citationList"]["citation"]
        entry = listed[k % len(listed)]
        return {**entry, "id": str(CITING_PMID0 + i * 1000 + k), "source": "MED", "title": f"Citing work {k} of {i}."}

    def icite_record(self, i: int) -> dict:
        cited_by = [CITING_PMID0 + i * 1000 + k for k in range(min(citations(i), 1000))]
        return {**self.icite, "pmid": PMID0 + i, "doi": f"{PREFIX}{i}", "citation_count": len(cited_by),
                "cited_by": cited_by, "cited_by_clin": cited_by[:1]}


class Limiter:
    """A token bucket: ``rate`` a second, and no more than ``rate`` in any second (the
    "N requests per 1 s interval" the APIs state)."""

    def __init__(self, rate: float):
        self.rate = rate
        self.burst = max(2.0, rate)
        self.tokens = self.burst
        self.at = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: dict[str, int] = defaultdict(int)
        self.throttled: dict[str, int] = defaultdict(int)
        self.in_flight: dict[str, int] = defaultdict(int)
        self.most: dict[str, int] = defaultdict(int)
        self.reset()

    def reset(self) -> None:
        """Counting from now: every table emptied (the caller holds the lock)."""
        for table in (self.requests, self.throttled, self.most):
            table.clear()
        self.since = time.monotonic()
        self.spans: dict[str, list[int]] = defaultdict(list)  # answers other than 429s per SPAN seconds

    def answered(self, api: str) -> None:
        spans = self.spans[api]
        at = int((time.monotonic() - self.since) // SPAN)
        spans.extend([0] * (at + 1 - len(spans)))
        spans[at] += 1

    def as_dict(self) -> dict:
        with self.lock:
            return {"requests": dict(self.requests), "throttled": dict(self.throttled), "most_in_flight": dict(self.most),
                    "span_s": SPAN, "answered_per_span": dict(self.spans)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--works", type=int, required=True)
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--latency", type=float, default=0.3)
    args = parser.parse_args()
    data = Data(args.works)
    limiters: dict[str, Limiter] = {}
    places: dict[str, int] = {}

    def tune(speed: float, latency: float) -> None:
        args.speed, args.latency = speed, latency
        limiters.update({api: Limiter(rate * speed) for api, (rate, _) in LIMITS.items()})
        places.update({api: int(n * speed) for api, (_, n) in LIMITS.items() if n})

    tune(args.speed, args.latency)
    stats = Stats()
    routes = Routes(data)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a: object) -> None:
            pass

        def do_POST(self) -> None:
            self.serve()

        def do_GET(self) -> None:
            self.serve()

        def serve(self) -> None:
            parts = urlsplit(self.path)
            api, _, rest = parts.path.lstrip("/").partition("/")
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if api == "_stats":
                return self.send(200, json.dumps(stats.as_dict()))
            if api == "_reset":
                with stats.lock:
                    stats.reset()
                return self.send(200, "{}")
            if api == "_tune":
                asked = parse_qs(parts.query)
                tune(float(asked["speed"][0]), float(asked["latency"][0]))
                return self.send(200, "{}")
            with stats.lock:
                stats.requests[api] += 1
                stats.in_flight[api] += 1
                stats.most[api] = max(stats.most[api], stats.in_flight[api])
                crowded = api in places and stats.in_flight[api] > places[api]
            try:
                time.sleep(args.latency)
                if crowded or not limiters[api].take():
                    with stats.lock:
                        stats.throttled[api] += 1
                    return self.send(429, '{"message": "Too Many Requests"}', {"Retry-After": "1"})
                query = {k: v for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                status, text, headers = routes.answer(api, "/" + rest, query, body)
                if api == "crossref":
                    headers = {**headers, "x-concurrency-limit": str(places["crossref"]),
                               "x-rate-limit-limit": str(int(LIMITS["crossref"][0] * args.speed)),
                               "x-rate-limit-interval": "1s"}
                self.send(status, text, headers)
                with stats.lock:
                    stats.answered(api)
            finally:
                with stats.lock:
                    stats.in_flight[api] -= 1

        def send(self, status: int, text: str, headers: dict | None = None) -> None:
            raw = text.encode()
            try:
                self.send_response(status)
                content_type = (headers or {}).pop("Content-Type", "application/json")
                self.send_header("Content-Type", content_type)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
            except (BrokenPipeError, ConnectionResetError):
                pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a client closing its kept-alive connection between runs: nothing to say

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 1024
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.05)


class Routes:
    """The answers, by API and path."""

    def __init__(self, data: Data):
        self.d = data

    def answer(self, api: str, path: str, query: dict, body: bytes) -> tuple[int, str, dict]:
        handler = getattr(self, api)
        return handler(path, lambda name, default="": (query.get(name) or [default])[0], query, body)

    def openalex(self, path, arg, query, body):
        d = self.d
        if path.startswith("/works/doi:"):
            i = work_of(unquote(path.removeprefix("/works/doi:")))
            return (200, json.dumps(d.openalex_work(i)), {}) if d.known(i) else (404, "<html>Not Found</html>", {"Content-Type": "text/html"})
        clauses = dict(c.split(":", 1) for c in arg("filter").split(",") if ":" in c)
        per_page = int(arg("per_page", "25"))
        if "cites" in clauses:
            everything = [(int(w.removeprefix("W")) - 9_000_000_000) for w in clauses["cites"].split("|")]
            listed = [(i, k) for i in everything if d.known(i) for k in range(citations(i))]
            cursor = arg("cursor", "*")
            start = 0 if cursor == "*" else int(cursor)
            page = [d.openalex_citing_work(i, k) for i, k in listed[start:start + per_page]]
            keep = arg("select").split(",") if arg("select") else None
            if keep:
                page = [{f: w[f] for f in keep if f in w} for w in page]
            meta = {"count": len(listed), "per_page": per_page, "page": None,
                    "next_cursor": str(start + len(page)) if page else None}
            return 200, json.dumps({"meta": meta, "results": page, "group_by": []}), {}
        found = [d.openalex_work(i) for i in map(work_of, clauses.get("doi", "").split("|")) if d.known(i)]
        if arg("select"):
            found = [{f: w[f] for f in arg("select").split(",") if f in w} for w in found]
        meta = {"count": len(found), "db_response_time_ms": 12, "page": 1, "per_page": per_page}
        return 200, json.dumps({"meta": meta, "results": found[:per_page], "group_by": []}), {}

    def crossref(self, path, arg, query, body):
        d = self.d
        if path.startswith("/works/"):
            i = work_of(unquote(path.removeprefix("/works/")))
            if not d.known(i):
                return 404, "Resource not found.", {"Content-Type": "text/plain"}
            return 200, json.dumps({"status": "ok", "message-type": "work", "message": d.crossref_work(i)}), {}
        items = [d.crossref_work(i) for c in arg("filter").split(",") if d.known(i := work_of(c.removeprefix("doi:")))]
        if arg("select"):
            items = [{f: w[f] for f in arg("select").split(",") if f in w} for w in items]
        message = {"total-results": len(items), "items": items, "items-per-page": len(items)}
        return 200, json.dumps({"status": "ok", "message-type": "work-list", "message": message}), {}

    def semanticscholar(self, path, arg, query, body):
        d = self.d
        if path == "/paper/batch":
            ids = json.loads(body)["ids"]
            return 200, json.dumps([d.s2_paper(i) if d.known(i := work_of(x.removeprefix("DOI:"))) else None for x in ids]), {}
        match = re.fullmatch(r"/paper/([0-9a-f]{40})/citations", path)
        if match:
            i = int(match.group(1), 16)
            offset, limit = int(arg("offset", "0")), int(arg("limit", "100"))
            total = citations(i)
            data = [d.s2_edge(i, k) for k in range(offset, min(total, offset + limit))]
            page = {"offset": offset, "data": data}
            if offset + limit < total:
                page["next"] = offset + limit
            return 200, json.dumps(page), {}
        return 404, json.dumps({"error": "not found"}), {}

    def opencitations(self, path, arg, query, body):
        d = self.d
        if path.startswith("/meta/v1/metadata/"):
            i = work_of(unquote(path.removeprefix("/meta/v1/metadata/doi:")))
            return 200, json.dumps([{"id": f"doi:{PREFIX}{i} omid:br/0618{i:08d}"}] if d.known(i) else []), {}
        operation, _, value = path.strip("/").partition("/")
        i = work_of(unquote(value.removeprefix("doi:")))
        if not d.known(i):
            return 200, "[]", {}
        if operation == "citation-count":
            return 200, json.dumps([{"count": str(citations(i))}]), {}
        return 200, json.dumps([d.oc_row(i, k) for k in range(citations(i))]), {}

    def europepmc(self, path, arg, query, body):
        d = self.d
        match = re.fullmatch(r"/MED/(\d+)/citations", path)
        if match:
            i = int(match.group(1)) - PMID0
            page, size = int(arg("page", "1")), int(arg("pageSize", "25"))
            total = citations(i)
            entries = [d.epmc_citation(i, k) for k in range((page - 1) * size, min(total, page * size))]
            return 200, json.dumps({"version": "6.9", "hitCount": total, "request": {"id": str(PMID0 + i), "source": "MED"},
                                    "citationList": {"citation": entries}}), {}
        wanted = [work_of(x) for x in re.findall(r'DOI:"([^"]+)"', arg("query"))]
        results = [d.epmc_record(i) for i in wanted if d.known(i)]
        if arg("resultType", "lite") == "lite":
            results = [lite(record) for record in results]
        return 200, json.dumps({"version": "6.9", "hitCount": len(results), "resultList": {"result": results}}), {}

    def icite(self, path, arg, query, body):
        wanted = [int(p) - PMID0 for p in arg("pmids").split(",") if p]
        return 200, json.dumps({"meta": {}, "data": [self.d.icite_record(i) for i in wanted if self.d.known(i)]}), {}

    def pubmed(self, path, arg, query, body):
        ids = [p for value in query.get("id", []) for p in value.split(",") if p]
        head = '<?xml version="1.0" encoding="UTF-8" ?>\n'
        if path == "/efetch.fcgi":
            articles = "".join(
                f'<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM"><PMID Version="1">{p}</PMID>'
                f"<Article><ArticleTitle>Work</ArticleTitle><PublicationTypeList><PublicationType>Journal Article"
                "</PublicationType></PublicationTypeList></Article></MedlineCitation></PubmedArticle>\n" for p in ids)
            return 200, head + f"<PubmedArticleSet>\n{articles}</PubmedArticleSet>\n", {"Content-Type": "text/xml"}
        sets = []
        for p in ids:
            i = int(p) - PMID0
            links = "".join(f"<Link><Id>{CITING_PMID0 + i * 1000 + k}</Id></Link>" for k in range(min(citations(i), 1000)))
            db = f"<LinkSetDb><DbTo>pubmed</DbTo><LinkName>pubmed_pubmed_citedin</LinkName>{links}</LinkSetDb>" if links else ""
            sets.append(f"<LinkSet><DbFrom>pubmed</DbFrom><IdList><Id>{p}</Id></IdList>{db}</LinkSet>")
        return 200, head + "<eLinkResult>" + "".join(sets) + "</eLinkResult>", {"Content-Type": "text/xml"}

    def dimensions(self, path, arg, query, body):
        i = work_of(unquote(path.removeprefix("/doi/")))
        if not self.d.known(i):
            return 404, '{"error": "not found"}', {}
        return 200, json.dumps({**self.d.dimensions, "doi": f"{PREFIX}{i}", "times_cited": citations(i)}), {}

    def unpaywall(self, path, arg, query, body):
        i = work_of(unquote(path.lstrip("/")))
        if not self.d.known(i):
            return 404, '{"error": true}', {}
        return 200, json.dumps({**self.d.unpaywall, "doi": f"{PREFIX}{i}"}), {}

    def scopus(self, path, arg, query, body):
        wanted = [work_of(x) for x in re.findall(r'DOI\("([^"]+)"\)', arg("query"))]
        template = self.d.scopus
        entries = [{**template, "prism:doi": f"{PREFIX}{i}", "citedby-count": str(citations(i))} for i in wanted if self.d.known(i)]
        results = {"opensearch:totalResults": str(len(entries)), "entry": entries or [{"error": "Result set was empty"}]}
        return 200, json.dumps({"search-results": results}), {}

    def altmetric(self, path, arg, query, body):
        i = work_of(unquote(path.removeprefix("/doi/")))
        if not self.d.known(i):
            return 404, "Not Found", {"Content-Type": "text/plain"}
        return 200, json.dumps({**self.d.altmetric, "doi": f"{PREFIX}{i}"}), {}


if __name__ == "__main__":
    sys.exit(main())
