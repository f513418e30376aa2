"""Docs are tested: every command has help with an example and appears in the README."""

from __future__ import annotations

import re

import pytest

from monitor.cli import cli
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
COMMANDS = sorted(cli.commands)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_with_an_example(name, invoke):
    result = invoke(name, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output
    assert "--config" in result.output


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_is_in_the_readme(name):
    assert f"citation-monitor {name}" in README


def test_readme_quick_start_and_ci_agree():
    blocks = re.findall(r"```bash\n(.*?)\n```", README, re.DOTALL)
    assert "pip install -e . && citation-monitor run" in blocks
    assert "pip install -e '.[test]' && pytest" in blocks
    ci = (ROOT / ".ci/run").read_text().strip().splitlines()
    assert ci[-1] == "pip install -e '.[test]' && pytest"


def test_every_source_is_documented_in_the_readme():
    from monitor.sources import SOURCES

    for name in SOURCES:
        assert f"| `{name}` |" in README
