"""Shared fixtures: the HTTP fake, configs that point at it, the CLI, real recordings."""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from monitor.cli import cli
from tests.fakeapi import FakeAPI

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "fixtures" / "real"
DEFAULT_DOI = "10.1016/j.drup.2021.100752"


def real_path(relative: str) -> Path:
    """A genuine recorded response, read in place; skip when ../shared is absent."""
    path = REAL / relative
    if not path.exists():
        pytest.skip(f"real recording {relative} not available: ../shared/fixtures/real is absent")
    return path


def real_json(relative: str) -> Any:
    return json.loads(real_path(relative).read_text())


def real_files(api: str, pattern: str = "*.json") -> list[Path]:
    """All real recordings of one API (collected at import: empty when ../shared is absent)."""
    return sorted((REAL / api).glob(pattern)) if (REAL / api).is_dir() else []


@pytest.fixture
def fake_api() -> Any:
    with FakeAPI() as fake:
        yield fake


ConfigWriter = Callable[..., Path]


@pytest.fixture
def write_config(tmp_path: Path, fake_api: FakeAPI) -> ConfigWriter:
    """Write a config.toml whose every source points at the fake; returns its path.

    Keyword arguments: ``works`` (list of DOIs or dicts), ``sources`` (name → dict of
    overrides, e.g. ``{"crossref": {"enabled": False}}``), ``extra`` (raw TOML appended),
    ``only`` (enable just these sources), ``http`` (overrides of the ``[http]`` values).

    Every source asks about every work at every run (``refresh_days = 0``), and OpenAlex and
    Europe PMC for their whole records (``metadata_days = 0``), so that a test's second run
    sees what the fake changed; tests of the refresh policy (test_plan.py) and of brief answers
    (test_brief_answers.py) set them through ``sources``.
    """

    def write(
        works: list[Any] | None = None,
        sources: dict[str, dict[str, Any]] | None = None,
        extra: str = "",
        contact_email: str = "monitor-tests@example.org",
        only: tuple[str, ...] | None = None,
        http: dict[str, Any] | None = None,
    ) -> Path:
        from monitor.sources import SOURCES

        settings = {
            "timeout_seconds": 10,  # generous: a loaded CI machine must not time out
            "max_retries": 2,
            "backoff_seconds": 0.01,
            "max_retry_after_seconds": 5,
            **(http or {}),
        }
        lines = [
            "[monitor]",
            f'contact_email = "{contact_email}"',
            'database = "state/monitor.db"',
            'report_dir = "state/report"',
            "",
            "[http]",
            *(f"{k} = {json.dumps(v)}" for k, v in settings.items()),
            "",
        ]
        for work in works if works is not None else [DEFAULT_DOI]:
            entry = work if isinstance(work, dict) else {"doi": work}
            lines.append("[[works]]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in entry.items()]
        for name in SOURCES:
            lines += [
                "",
                f"[sources.{name}]",
                f'base_url = "{fake_api.base_url(name)}"',
                "requests_per_second = 1000",
            ]
            overrides = (sources or {}).get(name, {})
            if "refresh_days" not in overrides:
                lines.append("refresh_days = 0")
            if SOURCES[name].SPEC.brief_fields and "metadata_days" not in overrides:
                lines.append("metadata_days = 0")
            if only is not None and "enabled" not in overrides:
                lines.append(f"enabled = {'true' if name in only else 'false'}")
            for key, value in overrides.items():
                lines.append(f"{key} = {json.dumps(value)}")
        lines += ["", "[orcid]", f'base_url = "{fake_api.base_url("orcid")}"', "requests_per_second = 1000"]
        path = tmp_path / "config.toml"
        path.write_text("\n".join(lines) + "\n" + extra)
        return path

    return write


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run the CLI in-process, with no API keys from the developer's environment."""
    from monitor.sources import SOURCES

    for module in SOURCES.values():
        if module.SPEC.api_key_env:
            monkeypatch.delenv(module.SPEC.api_key_env, raising=False)
    monkeypatch.delenv("CITATION_MONITOR_CONTACT_EMAIL", raising=False)
    monkeypatch.delenv("CITATION_MONITOR_CONFIG", raising=False)
    monkeypatch.delenv("CITATION_MONITOR_WRITER", raising=False)

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    return run


@pytest.fixture
def smtp_server() -> Any:
    """``smtp_server(port=None, **aiosmtpd_options)`` starts a loopback SMTP server (aiosmtpd)
    that keeps what it receives; returns its ``tests.mail.Inbox``."""
    from tests.mail import start_smtp

    controllers: list[Any] = []
    yield functools.partial(start_smtp, controllers)
    for controller in controllers:
        controller.stop()


@pytest.fixture
def make_session(fake_api: FakeAPI) -> Callable[..., Any]:
    """A real Session for one source module, pointed at the fake (for source tests).

    ``make_session(module, api_key=None, contact_email="...", **http_overrides)``
    """
    from monitor.config import HttpConfig, SourceConfig
    from monitor.fetching import Session, make_client

    clients: list[Any] = []

    def make(
        module: Any,
        api_key: str | None = None,
        contact_email: str | None = "monitor-tests@example.org",
        **http: Any,
    ) -> Session:
        spec = module.SPEC
        settings = HttpConfig(
            **{
                "timeout_seconds": 2.0,
                "max_retries": 1,
                "backoff_seconds": 0.01,
                "max_retry_after_seconds": 5.0,
                **http,
            }
        )
        source = SourceConfig(
            name=spec.name,
            enabled=True,
            base_url=fake_api.base_url(spec.name),
            requests_per_second=1000.0,
            api_key_env=spec.api_key_env,
            api_key=api_key,
        )
        client = make_client(contact_email, settings)
        clients.append(client)
        return Session(
            source, client, settings, contact_email=contact_email, secret_params=spec.secret_params
        )

    yield make
    for client in clients:
        client.close()


def run_and_read_ledger(
    config_path: Path, source: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One run through the collector (no report), then ``source``'s list fetches and the ledger."""
    from monitor import citing, collect, store
    from monitor.config import load_config

    config = load_config(config_path, environ={})
    collect.run(config)
    db = store.open_db(config.database)
    try:
        fetches = list(db.query("SELECT * FROM citing_fetches WHERE source = ?", [source]))
        return fetches, citing.ledger_rows(db, DEFAULT_DOI)
    finally:
        db.close()


@contextmanager
def tmpfs(folder: Path, size: str = "4m") -> Iterator[Path]:
    """A size-limited tmpfs mounted at ``folder``; the test skips, saying why, where the
    machine allows no mount (not root, no CAP_SYS_ADMIN, no mount command)."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs", str(folder)],
            capture_output=True, text=True, check=False,
        )
    except FileNotFoundError:
        pytest.skip("no mount command: cannot make a size-limited or read-only file system here")
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or 'mount failed'}); needs root")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


class ReadOnly:
    """A folder to fill, then make read-only: a read-only tmpfs as root (for whom permissions
    do not count), else permissions."""

    def __init__(self, folder: Path, mounted: bool):
        self.folder, self.mounted = folder, mounted

    def seal(self) -> None:
        if self.mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(self.folder)], check=True)
        else:
            for path in [*self.folder.rglob("*"), self.folder]:
                path.chmod(0o555 if path.is_dir() else 0o444)

    def unseal(self) -> None:
        if self.mounted:
            subprocess.run(["mount", "-o", "remount,rw", str(self.folder)], check=True)
        else:
            for path in [self.folder, *self.folder.rglob("*")]:
                path.chmod(0o755 if path.is_dir() else 0o644)


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[ReadOnly]:
    folder = tmp_path / "read-only"
    if os.geteuid() != 0:
        folder.mkdir()
        ro = ReadOnly(folder, mounted=False)
        yield ro
        ro.unseal()
        return
    with tmpfs(folder, "64m"):
        yield ReadOnly(folder, mounted=True)


# --- real processes ---------------------------------------------------------------


def children(pid: int) -> set[int]:
    """The processes ``pid`` started that are still alive (a writer process among them)."""
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found |= {int(child) for child in (task / "children").read_text().split()}
        except OSError:
            pass
    return found


def other_threads(pid: int) -> list[int]:
    """The ids of the threads of process ``pid`` but its main one.

    ``os.kill`` on one of them gives the process a signal that thread takes: what the kernel
    may do with a signal sent to the pid, when the main thread is asleep on a loaded machine
    (Python runs the handler in the main thread, once it next runs Python code)."""
    return [int(tid) for tid in os.listdir(f"/proc/{pid}/task") if int(tid) != pid]


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] not in "ZX"
    except OSError:
        return False


def clean_env() -> dict[str, str]:
    """The environment for a real citation-monitor process: no keys from the developer's."""
    from monitor.sources import SOURCES

    drop = {m.SPEC.api_key_env for m in SOURCES.values()} | {
        "CITATION_MONITOR_CONFIG",
        "CITATION_MONITOR_CONTACT_EMAIL",
        "CITATION_MONITOR_WRITER",
    }
    return {k: v for k, v in os.environ.items() if k not in drop}


def db_rows(path: Path, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """The rows of ``sql`` on the database at ``path``, as dicts, read by a connection of its own."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def wait_for(condition: Callable[[], Any], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def assert_lock_free(db: Path) -> None:
    from monitor.errors import LockHeldError
    from monitor.lock import run_lock

    try:
        with run_lock(db):
            pass
    except LockHeldError as exc:  # pragma: no cover - the failure being tested for
        pytest.fail(f"the run lock is still held: {exc}")


class FakeClock:
    """A monotonic clock and the sleep that advances it: waits cost no real time."""

    def __init__(self, start: float = 1000.0):
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(0.0, seconds)
