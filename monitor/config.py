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
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from monitor.doi import InvalidDOI, normalize_doi
from monitor.errors import ConfigError
from monitor.models import Work
from monitor.sources import SOURCES

CONFIG_ENV = "CITATION_MONITOR_CONFIG"
CONTACT_ENV = "CITATION_MONITOR_CONTACT_EMAIL"
DEFAULT_CONFIG = "config.toml"


@dataclass(frozen=True)
class SourceConfig:
    name: str
    enabled: bool
    base_url: str
    requests_per_second: float
    api_key_env: str | None = None
    timeout_seconds: float | None = None
    api_key: str | None = field(default=None, repr=False)  # read from api_key_env, never stored

    @property
    def has_key(self) -> bool:
        return bool(self.api_key)


@dataclass(frozen=True)
class HttpConfig:
    timeout_seconds: float = 30.0
    max_retries: int = 3
    backoff_seconds: float = 1.0
    max_retry_after_seconds: float = 120.0


@dataclass(frozen=True)
class CitingConfig:
    enabled: bool = True  # fetch lists of citing works (the ledger)
    max_list_age_days: float = 30.0  # refetch a list this old even if its count is unchanged
    max_pages: int = 100  # a safety cap per source and work; a capped list is incomplete
    # per run: batched lookups (OpenAlex, then Crossref) that name citing works a list gave
    # by an identifier only (monitor.enrich); 0 turns them off
    max_lookup_requests: int = 10


@dataclass(frozen=True)
class ScheduleConfig:
    cron: str = "0 6 * * *"
    timezone: str = "UTC"
    misfire_grace_minutes: int = 60


@dataclass(frozen=True)
class AlertsConfig:
    """Which changes raise an alert after a run (see monitor/alerts.py)."""

    new_citations: bool = True  # new citing works in the ledger, else a count that rose
    milestones: tuple[int, ...] = (50, 100, 250, 500, 1000)  # the highest count passes one
    jumps: bool = True  # one source's count rises unusually in one run:
    jump_min: int = 10  # ... by at least this many citations
    jump_percent: float = 25.0  # ... and by at least this share of its previous count
    drops: bool = True  # a source's count falls, with the likely cause
    drop_min: int = 1
    retractions: bool = True  # retraction or correction of the work or of a citing work
    failing_runs: int = 3  # a source failed this many runs in a row (0: never)


@dataclass(frozen=True)
class EmailConfig:
    enabled: bool = False
    smtp_host: str = "localhost"
    smtp_port: int = 587
    security: str = "starttls"
    username_env: str | None = None
    password_env: str | None = None
    sender: str = ""
    recipients: tuple[str, ...] = ()
    policy: str = "on-change"
    report_url: str = ""
    max_items_per_work: int = 20  # new citing works listed per work; then "and N more"


@dataclass(frozen=True)
class Config:
    path: Path
    contact_email: str | None
    database: Path
    report_dir: Path
    works: tuple[Work, ...]
    sources: dict[str, SourceConfig]
    http: HttpConfig = HttpConfig()
    citing: CitingConfig = CitingConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    email: EmailConfig = EmailConfig()
    alerts: AlertsConfig = AlertsConfig()

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def enabled_sources(self) -> list[SourceConfig]:
        return [s for s in self.sources.values() if s.enabled]


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


def _is_url(value: str) -> bool:
    parts = urlparse(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class _Parser:
    def __init__(self, path: Path, env: dict[str, str] | os._Environ[str]):
        self.path = path
        self.env = env

    def fail(self, where: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: {where} {message}")

    def table(self, raw: Any, where: str, known: dict[str, Any]) -> dict[str, Any]:
        """Check a table's keys and the types of its values against ``known`` defaults."""
        if not isinstance(raw, dict):
            raise self.fail(where, f"must be a table, got {_kind(raw)}")
        for key, value in raw.items():
            if key not in known:
                hint = difflib.get_close_matches(key, known, n=1)
                fix = f"did you mean '{hint[0]}'?" if hint else f"known keys: {', '.join(known)}"
                raise self.fail(where, f"has unknown key '{key}'; {fix}")
            self.check_type(where, key, value, known[key])
        return raw

    def check_type(self, where: str, key: str, value: Any, default: Any) -> None:
        expected: tuple[type, ...]
        if isinstance(default, bool):
            expected, name = (bool,), "true or false"
        elif isinstance(default, (int, float)) and not isinstance(default, bool):
            expected, name = ((int, float) if isinstance(default, float) else (int,)), "a number"
        elif isinstance(default, (list, tuple)):
            expected, name = (list,), "a list"
        elif isinstance(default, dict):
            expected, name = (dict,), "a table"
        else:
            expected, name = (str,), "a string"
        if not isinstance(value, expected) or (bool not in expected and isinstance(value, bool)):
            raise self.fail(where, f"{key} must be {name}, got {_kind(value)} {value!r}")
        if name == "a number" and value < 0:
            raise self.fail(where, f"{key} must not be negative, got {value!r}")

    def resolve(self, value: str) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else (self.path.parent / p)

    def config(self, raw: dict[str, Any]) -> Config:
        top = {"monitor": {}, "works": [], "sources": {}, "http": {}, "citing": {}, "schedule": {}, "email": {}, "alerts": {}}
        self.table(raw, "top level", top)
        monitor = self.table(
            raw.get("monitor", {}),
            "[monitor]",
            {"contact_email": "", "database": "", "report_dir": ""},
        )
        contact = (self.env.get(CONTACT_ENV) or monitor.get("contact_email") or "").strip()
        if contact and "@" not in contact:
            raise self.fail("[monitor]", f"contact_email {contact!r} is not an email address")
        return Config(
            path=self.path,
            contact_email=contact or None,
            database=self.resolve(monitor.get("database") or "state/monitor.db"),
            report_dir=self.resolve(monitor.get("report_dir") or "state/report"),
            works=self.works(raw.get("works", [])),
            sources=self.sources(raw.get("sources", {})),
            http=self.dataclass(raw.get("http", {}), "[http]", HttpConfig),
            citing=self.dataclass(raw.get("citing", {}), "[citing]", CitingConfig),
            schedule=self.schedule(raw.get("schedule", {})),
            email=self.email(raw.get("email", {})),
            alerts=self.alerts(raw.get("alerts", {})),
        )

    def dataclass(self, raw: Any, where: str, cls: Callable[..., Any]) -> Any:
        defaults = cls()
        known = {k: v if v is not None else "" for k, v in vars(defaults).items()}
        values = self.table(raw, where, known)
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

    def email(self, raw: Any) -> EmailConfig:
        email = self.dataclass(raw, "[email]", EmailConfig)
        if email.security not in ("starttls", "ssl", "none"):
            raise self.fail("[email]", f"security must be starttls, ssl or none, got {email.security!r}")
        if email.policy not in ("on-change", "every-run", "weekly"):
            raise self.fail(
                "[email]", f"policy must be on-change, every-run or weekly, got {email.policy!r}"
            )
        for address in (email.sender, *email.recipients):
            if address and "@" not in address:
                raise self.fail("[email]", f"{address!r} is not an email address")
        if email.enabled and not email.recipients:
            raise self.fail("[email]", 'is enabled but has no recipients; add recipients = ["you@example.org"]')
        if email.enabled and not email.sender:
            raise self.fail("[email]", 'is enabled but has no sender; add sender = "monitor@example.org"')
        if email.report_url and not _is_url(email.report_url):
            raise self.fail("[email]", f"report_url {email.report_url!r} is not an http(s) URL")
        if email.max_items_per_work < 1:
            raise self.fail("[email]", f"max_items_per_work must be 1 or more, got {email.max_items_per_work}")
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
        if not all(isinstance(m, int) and not isinstance(m, bool) and m > 0 for m in alerts.milestones):
            raise self.fail("[alerts]", f"milestones must be whole numbers above 0, e.g. [50, 100], got {list(alerts.milestones)!r}")
        if alerts.drop_min < 1:
            raise self.fail("[alerts]", "drop_min must be 1 or more; set drops = false to turn drop alerts off")
        return replace(alerts, milestones=tuple(sorted(set(alerts.milestones))))

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
            if pmid is not None and not pmid.isdigit():
                raise self.fail(where, f"pmid {pmid!r} must be digits only, e.g. \"33945765\"")
            works.append(Work(doi=doi, label=item.get("label") or None, pmid=pmid))
        return tuple(works)

    def sources(self, raw: Any) -> dict[str, SourceConfig]:
        if not isinstance(raw, dict):
            raise self.fail("sources", "must be a table of [sources.NAME] sections")
        for name in raw:
            if name not in SOURCES:
                hint = difflib.get_close_matches(name, SOURCES, n=1)
                fix = f"did you mean '{hint[0]}'?" if hint else f"known: {', '.join(SOURCES)}"
                raise self.fail(f"[sources.{name}]", f"is not a known source; {fix}")
        result = {}
        for name, module in SOURCES.items():
            spec = module.SPEC
            where = f"[sources.{name}]"
            known = {
                "enabled": spec.enabled_by_default,
                "base_url": spec.base_url,
                "api_key_env": spec.api_key_env or "",
                "requests_per_second": spec.requests_per_second,
                "timeout_seconds": 0.0,
            }
            values = self.table(raw.get(name, {}), where, known)
            base_url = values.get("base_url", spec.base_url).rstrip("/")
            if not _is_url(base_url):
                raise self.fail(
                    where, f"base_url {base_url!r} is not an http(s) URL; e.g. {spec.base_url}"
                )
            rate = float(values.get("requests_per_second", spec.requests_per_second))
            if rate <= 0:
                raise self.fail(where, "requests_per_second must be above 0")
            key_env = values.get("api_key_env", spec.api_key_env) or None
            result[name] = SourceConfig(
                name=name,
                enabled=values.get("enabled", spec.enabled_by_default),
                base_url=base_url,
                requests_per_second=rate,
                api_key_env=key_env,
                timeout_seconds=values.get("timeout_seconds") or None,
                api_key=(self.env.get(key_env) or None) if key_env else None,
            )
        return result


def _kind(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)
