"""A plain (non-editable) install: the wheel carries the templates and the command works."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT


def test_wheel_ships_templates_and_renders_without_the_source_tree(tmp_path):
    wheels = tmp_path / "wheels"
    source = tmp_path / "source"  # a copy, so that no stale build/ folder can leak into the wheel
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", "build", "state", "*.egg-info", "__pycache__", "test-artifacts", ".*_cache"
        ),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = wheels.glob("citation_monitor-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "monitor/templates/work.html" in names
    shipped = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "templates").rglob("*")
        if p.is_file() and p.suffix != ".py"
    }
    assert {f"monitor/{p}" for p in shipped} <= set(names)
    assert "monitor/templates/_partials/headline.html" in names
    # what `init` writes and points at
    assert {"monitor/skeleton/config.toml", "monitor/datasette/metadata.json"} <= set(names)
    assert {f"monitor/docs/{p.name}" for p in (ROOT / "docs").glob("*.md")} <= set(names)
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    project = tmp_path / "elsewhere"
    project.mkdir()
    (project / "config.toml").write_text('[[works]]\ndoi = "10.1016/j.drup.2021.100752"\n')
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        """The command from the unpacked wheel alone, in ``project``."""
        code = f"import monitor, sys; from monitor.cli import cli; print(monitor.__file__, file=sys.stderr); cli({list(args)!r})"
        return subprocess.run(
            [sys.executable, "-c", code],
            cwd=project,
            env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    proc = cli("report")
    assert proc.returncode == 0, proc.stderr
    assert str(site) in proc.stderr  # the unpacked wheel, not the source tree
    assert Path(project / "state/report/index.html").read_text().startswith("<!doctype html>")
    init = cli("init", "--config", "new/config.toml")
    assert init.returncode == 0, init.stderr
    assert (project / "new/config.toml").read_text() == (ROOT / "config.toml").read_text()
    assert f"Documentation: {site / 'monitor' / 'docs'}" in init.stdout


def test_python_dash_m_monitor_runs_the_cli():
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("citation-monitor, version ")
