"""init, add, remove, import: config.toml written and edited with its comments kept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.config_edit import template
from monitor.sources import SOURCES
from tests.conftest import DEFAULT_DOI, ROOT

COMMENTS = [line for line in template().splitlines() if line.lstrip().startswith("#")]


def point_at_fake(path: Path, fake_api) -> None:
    """What a user does after init, in a test: every base URL to the loopback fake."""
    text = path.read_text()
    for name, module in SOURCES.items():
        text = text.replace(f'base_url = "{module.SPEC.base_url}"', f'base_url = "{fake_api.base_url(name)}"')
    text = text.replace('base_url = "https://pub.orcid.org/v3.0"', f'base_url = "{fake_api.base_url("orcid")}"')
    assert "https://" not in re.sub(r"(?m)^\s*#.*$", "", text).replace("https://doi.org", "")
    path.write_text(text.replace("timeout_seconds = 30", "timeout_seconds = 10"))


def test_init_then_run_works_from_a_clean_folder(tmp_path, invoke, fake_api):
    path = tmp_path / "fresh" / "config.toml"
    result = invoke("init", "--config", str(path))
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Wrote {path}")
    docs = Path(re.search(r"Documentation: (\S+)", result.output).group(1))
    assert (docs / "schema.md").is_file() and (docs / "metrics.md").is_file()
    metadata = Path(re.search(r"Datasette metadata: (\S+)", result.output).group(1))
    assert metadata.is_file()
    assert path.read_text() == template()
    point_at_fake(path, fake_api)
    run = invoke("run", "--config", str(path), "--status")
    assert run.exit_code == 0, run.output
    assert (tmp_path / "fresh" / "state" / "report" / "index.html").is_file()


def test_init_never_overwrites(tmp_path, invoke):
    path = tmp_path / "config.toml"
    path.write_text("mine")
    result = invoke("init", "--config", str(path))
    assert result.exit_code == 2
    assert result.output == f"Error: {path} already exists; edit it, or pass --config with a new path\n"
    assert path.read_text() == "mine"


def test_the_projects_config_is_the_template_init_writes():
    assert (ROOT / "config.toml").read_text() == template(), (
        "config.toml and monitor/skeleton/config.toml differ: copy one onto the other"
    )


@pytest.fixture
def fresh(tmp_path, invoke) -> Path:
    path = tmp_path / "config.toml"
    assert invoke("init", "--config", str(path)).exit_code == 0
    return path


def dois(path: Path) -> list[str]:
    return [w.doi for w in load_config(path, environ={}).works]


def test_add_keeps_every_comment_and_puts_the_entry_after_the_last_work(fresh, invoke):
    result = invoke("add", "--config", str(fresh), "10.1038/NATURE12373", "https://doi.org/10.1126/science.1259855")
    assert result.exit_code == 0, result.output
    assert result.output == f"Added to {fresh}: 10.1038/nature12373, 10.1126/science.1259855\n"
    assert dois(fresh) == [DEFAULT_DOI, "10.1038/nature12373", "10.1126/science.1259855"]
    text = fresh.read_text()
    assert [line for line in text.splitlines() if line.lstrip().startswith("#")] == COMMENTS
    # the new entries sit with the works, before the collections' comment block
    assert text.index('doi = "10.1126/science.1259855"') < text.index("# Collections:") < text.index("[http]")
    assert text.replace('[[works]]\ndoi = "10.1038/nature12373"\n\n[[works]]\ndoi = "10.1126/science.1259855"\n\n', "") \
        == template()


@pytest.mark.parametrize(
    "args, message",
    [
        (["nonsense"], "'nonsense' is not a DOI; expected a form like 10.1016/j.drup.2021.100752; nothing was changed"),
        ([f"https://doi.org/{DEFAULT_DOI.upper()}"], f"{DEFAULT_DOI} is already listed ([[works]] #1); nothing was added"),
        (["10.1000/a.1", "doi:10.1000/A.1"], "10.1000/a.1 is already listed (twice in this command); nothing was added"),
    ],
)
def test_add_refuses_malformed_dois_and_duplicates_in_one_line(fresh, invoke, args, message):
    result = invoke("add", "--config", str(fresh), *args)
    assert result.exit_code == 2
    assert result.output == f"Error: {fresh}: {message}\n"
    assert fresh.read_text() == template()


def test_remove_keeps_the_comments_that_describe_what_follows(fresh, invoke):
    invoke("add", "--config", str(fresh), "10.1000/a.1", "10.1000/b.2")
    result = invoke("remove", "--config", str(fresh), DEFAULT_DOI, "10.1000/b.2")
    assert result.exit_code == 0, result.output
    assert dois(fresh) == ["10.1000/a.1"]
    text = fresh.read_text()
    assert [line for line in text.splitlines() if line.lstrip().startswith("#")] == COMMENTS
    # what is left is the template with its one entry replaced by the one kept
    default = '[[works]]\ndoi = "10.1016/j.drup.2021.100752"\nlabel = "Jiang et al. 2021, Drug Resistance Updates 56:100752"\n'
    assert text == template().replace(default, '[[works]]\ndoi = "10.1000/a.1"\n')


def test_remove_refuses_what_is_not_listed_and_leaving_nothing_tracked(fresh, invoke):
    result = invoke("remove", "--config", str(fresh), "10.1000/zz.9")
    assert result.exit_code == 2 and "10.1000/zz.9 is not in [[works]]; nothing was removed" in result.output
    result = invoke("remove", "--config", str(fresh), DEFAULT_DOI)
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {fresh}: tracks nothing: add a [[works]] entry")
    assert result.output.rstrip().endswith("; nothing was changed")
    assert fresh.read_text() == template()


def test_import_adds_new_works_with_their_titles_and_lists_what_it_skipped(fresh, invoke, tmp_path):
    bib = tmp_path / "mine.bib"
    bib.write_text(
        f"@article{{known, doi = {{https://doi.org/{DEFAULT_DOI}}}}}\n"
        "@article{new1, title = {A {New} Result}, doi = {10.1000/n.1}}\n"
        "@misc{pre, title = {On arXiv}, eprint = {2202.01037}, archivePrefix = {arXiv}}\n"
        "@book{none, title = {No identifier}}\n"
    )
    result = invoke("import", "--config", str(fresh), str(bib))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"Imported 2 works into {fresh}; 1 already listed, 1 skipped",
        "  skipped @book{none} (line 4) “No identifier”: no DOI or arXiv id",
    ]
    assert dois(fresh) == [DEFAULT_DOI, "10.1000/n.1", "10.48550/arxiv.2202.01037"]
    assert 'doi = "10.1000/n.1" # A New Result' in fresh.read_text()
    again = invoke("import", "--config", str(fresh), str(bib))
    assert again.output.startswith(f"Imported 0 works into {fresh}; 3 already listed, 1 skipped")


def test_import_of_a_missing_or_broken_file_is_one_line(fresh, invoke, tmp_path):
    result = invoke("import", "--config", str(fresh), str(tmp_path / "nope.ris"))
    assert (result.exit_code, result.output) == (2, f"Error: {tmp_path / 'nope.ris'}: no such file\n")
    broken = tmp_path / "broken.ris"
    broken.write_text("TY  - JOUR\nDO  - 10.1000/a.1\n")
    result = invoke("import", "--config", str(fresh), str(broken))
    assert result.output == f"Error: {broken}: the record from line 1 has no closing ER tag\n"


def test_collections_lists_each_before_and_after_a_run(fresh, invoke):
    assert invoke("collections", "--config", str(fresh)).output.startswith("No collections in ")
    fresh.write_text(fresh.read_text() + '\n[[collections]]\nname = "mine"\nworks = ["10.1000/a.1"]\n')
    result = invoke("collections", "--config", str(fresh))
    assert result.output.splitlines() == [
        "mine: 1 DOI listed in config.toml",
        "  never resolved: run `citation-monitor run`",
    ]
