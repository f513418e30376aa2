"""The ``[sources.NAME]`` and ``[http]`` sections of config.toml: how each API is asked.

Each source's defaults come from its module's ``SourceSpec`` (monitor/sources/); a
section sets what differs. ``load_config`` (monitor/config.py) calls ``parse_sources``
with its parser, so every problem is the same one-line error as elsewhere.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from monitor.config_checks import Bounds, bounded, url_problem
from monitor.sources import SOURCES

if TYPE_CHECKING:
    from monitor.config import _Parser


@dataclass(frozen=True)
class SourceConfig:
    name: str
    enabled: bool
    base_url: str
    requests_per_second: float = field(metadata={"bounds": Bounds(0, 1000, above=True, unit="a second")})
    api_key_env: str | None = None
    timeout_seconds: float | None = bounded(None, 0.1, 3600, unit="seconds")
    api_key: str | None = field(default=None, repr=False)  # read from api_key_env, never stored
    # requests in flight at once (a server's x-concurrency-limit may lower it in a run)
    max_concurrency: int = bounded(1, 1, 64)
    # ask a work again once its last answer is this old (0: at every run); see monitor/plan.py
    refresh_days: float = bounded(0.0, 0, 3650, unit="days")
    # the most requests one run sends it (counts, lists and lookups together)
    max_requests: int = bounded(1_000_000, 1, 10_000_000)
    # a source with a brief answer (counts and ids): read its whole record of a work again once
    # this old, briefly in between (0: whole at every run); see monitor/plan.py
    metadata_days: float = bounded(0.0, 0, 3650, unit="days")

    @property
    def has_key(self) -> bool:
        return bool(self.api_key)


@dataclass(frozen=True)
class HttpConfig:
    timeout_seconds: float = bounded(30.0, 0.1, 3600, unit="seconds")
    max_retries: int = bounded(3, 0, 10)
    backoff_seconds: float = bounded(1.0, 0, 600, unit="seconds")
    # the longest wait; also the most one source waits to retry in a run
    max_retry_after_seconds: float = bounded(120.0, 0, 3600, unit="seconds")
    # wall-clock deadlines: one request with its retries and waits, one source, the whole run
    request_deadline_seconds: float = bounded(300.0, 0, 3600, above=True, unit="seconds")
    source_deadline_minutes: float = bounded(60.0, 0, 1440, above=True, unit="minutes")
    run_deadline_minutes: float = bounded(120.0, 0, 1440, above=True, unit="minutes")


def parse_sources(parser: _Parser, raw: Any) -> dict[str, SourceConfig]:
    """Every source's settings: its SPEC's defaults, overridden by its ``[sources.NAME]``."""
    if not isinstance(raw, dict):
        raise parser.fail("sources", "must be a table of [sources.NAME] sections")
    for name in raw:
        if name not in SOURCES:
            hint = difflib.get_close_matches(name, SOURCES, n=1)
            fix = f"did you mean '{hint[0]}'?" if hint else f"known: {', '.join(SOURCES)}"
            raise parser.fail(f"[sources.{name}]", f"is not a known source; {fix}")
    result = {}
    for name, module in SOURCES.items():
        spec = module.SPEC
        where = f"[sources.{name}]"
        known = {
            "enabled": spec.enabled_by_default,
            "base_url": spec.base_url,
            "api_key_env": spec.api_key_env or "",
            "requests_per_second": float(spec.requests_per_second),
            "timeout_seconds": 0.0,
            "max_concurrency": spec.max_concurrency,
            "refresh_days": float(spec.refresh_days),
            "max_requests": spec.max_requests,
        }
        if spec.brief_fields:  # only a source with a brief answer has a metadata cadence
            known["metadata_days"] = float(spec.metadata_days)
        elif isinstance(raw.get(name), dict) and "metadata_days" in raw[name]:
            briefs = ", ".join(n for n, m in SOURCES.items() if m.SPEC.brief_fields)
            raise parser.fail(
                where, f"metadata_days applies only to the sources with a brief answer ({briefs}); "
                f"{spec.title} reads the whole record at every answer: remove it"
            )
        values = parser.table(raw.get(name, {}), where, known, SourceConfig)
        base_url = values.get("base_url", spec.base_url).rstrip("/")
        parser.text(where, "base_url", base_url, url_problem, f"e.g. {spec.base_url}")
        key_env = parser.env_name(where, "api_key_env", values.get("api_key_env", spec.api_key_env))
        result[name] = SourceConfig(
            name=name,
            enabled=values.get("enabled", spec.enabled_by_default),
            base_url=base_url,
            requests_per_second=float(values.get("requests_per_second", spec.requests_per_second)),
            api_key_env=key_env,
            timeout_seconds=values.get("timeout_seconds"),
            api_key=(parser.env.get(key_env) or None) if key_env else None,
            max_concurrency=values.get("max_concurrency", spec.max_concurrency),
            refresh_days=float(values.get("refresh_days", spec.refresh_days)),
            max_requests=values.get("max_requests", spec.max_requests),
            metadata_days=float(values.get("metadata_days", spec.metadata_days)),
        )
    return result
