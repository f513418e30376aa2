"""config.toml: defaults, resolution, and a one-line error for each mistake, exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.errors import ConfigError
from tests.conftest import ROOT


def write(tmp_path: Path, text: str) -> Path:
    """A config of ``text``, tracking one work unless ``text`` says what to track."""
    path = tmp_path / "config.toml"
    if "[[works]]" not in text and "[[collections]]" not in text:
        text += '\n[[works]]\ndoi = "10.1016/j.drup.2021.100752"\n'
    path.write_text(text)
    return path


def test_the_shipped_config_tracks_the_default_article():
    config = load_config(ROOT / "config.toml", environ={})
    assert [w.doi for w in config.works] == ["10.1016/j.drup.2021.100752"]
    assert config.database == ROOT / "state/monitor.db"
    assert config.report_dir == ROOT / "state/report"
    assert {"openalex", "crossref"} <= {s.name for s in config.enabled_sources}


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    config = load_config(write(tmp_path, '[monitor]\ndatabase = "data/x.db"\n'), environ={})
    assert config.database == tmp_path / "data/x.db"
    assert config.report_dir == tmp_path / "state/report"


def test_contact_email_env_overrides_and_keys_come_from_env(tmp_path):
    path = write(tmp_path, '[monitor]\ncontact_email = "a@example.org"\n[sources.openalex]\napi_key_env = "MY_KEY"\n')
    config = load_config(path, environ={"CITATION_MONITOR_CONTACT_EMAIL": "b@example.org", "MY_KEY": "s3cret"})
    assert config.contact_email == "b@example.org"
    assert config.sources["openalex"].api_key == "s3cret"
    assert "s3cret" not in repr(config)


def test_doi_forms_are_normalised(tmp_path):
    config = load_config(write(tmp_path, '[[works]]\ndoi = "https://doi.org/10.1016/J.DRUP.2021.100752"\n'), environ={})
    assert config.works[0].doi == "10.1016/j.drup.2021.100752"


@pytest.mark.parametrize(
    "text, message",
    [
        ('[monitor]\ndatabse = "x.db"\n', "[monitor] has unknown key 'databse'; did you mean 'database'?"),
        ('[[works]]\ndoi = "not-a-doi"\n', "[[works]] #1 doi: 'not-a-doi' is not a DOI"),
        ('[[works]]\nlabel = "x"\n', "[[works]] #1 has no doi"),
        ('[sources.openalex]\nbase_url = "ftp://x"\n', "[sources.openalex] base_url 'ftp://x' is not an http(s) URL"),
        ('[sources.crossref]\nenabled = "yes"\n', "[sources.crossref] enabled must be true or false, got a string 'yes'"),
        ('[sources.crossref]\nrequests_per_second = "fast"\n', "requests_per_second must be a number"),
        ('[sources.openalx]\n', "[sources.openalx] is not a known source; did you mean 'openalex'?"),
        ("[monitor\n", "not valid TOML"),
        ('[[works]]\ndoi = "10.1234/a"\n[[works]]\ndoi = "doi:10.1234/A"\n', "listed twice"),
        ('[email]\nsecurity = "tls"\n', "security must be starttls, ssl or none"),
        ('[http]\ntimeout_seconds = -1\n', "timeout_seconds must not be negative"),
        ('[email]\nmax_items_per_work = 0\n', "[email] max_items_per_work must be 1 or more, got 0"),
        ('[citing]\nmax_lookup_requests = -1\n', "[citing] max_lookup_requests must not be negative"),
        ('[schedule]\ncron = "0 6 * * * *"\n', "[schedule] cron must have 5 fields, got 6"),
        ('[schedule]\ncron = "0 6 * * 1-5"\n', "cron day of week '1-5' must use names (mon, tue, ... sun)"),
        ('[schedule]\ncron = "61 6 * * *"\n', "[schedule] cron '61 6 * * *' is not valid"),
        ('[schedule]\ntimezone = "Mars/Olympus"\n', "timezone 'Mars/Olympus' is not a known time zone"),
        ('[alerts]\nmilestones = [100, 0]\n', "[alerts] milestones must be whole numbers above 0"),
        ('[alerts]\nmilestone = [100]\n', "[alerts] has unknown key 'milestone'; did you mean 'milestones'?"),
        ('[alerts]\njump_percent = "a lot"\n', "[alerts] jump_percent must be a number"),
        ('[email]\nenabled = true\nsender = "m@example.org"\n', "[email] is enabled but has no recipients"),
        ('[email]\nrecipients = ["nobody"]\n', "[email] 'nobody' is not an email address"),
        ('[email]\npolicy = "daily"\n', "policy must be on-change, every-run or weekly"),
        ('[email]\nusername_env = "SMTP_USER"\n', "needs both username_env and password_env"),
    ],
)
def test_each_mistake_is_one_line_naming_file_key_and_fix(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    text = str(info.value)
    assert message in text
    assert text.startswith(str(path))
    assert "\n" not in text


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found; pass --config PATH"):
        load_config(tmp_path / "nope.toml", environ={})


def test_bad_config_exits_2_and_writes_nothing(tmp_path, invoke):
    path = write(tmp_path, '[[works]]\ndoi = "10.1016"\n')
    result = invoke("run", "--config", str(path))
    assert result.exit_code == 2
    assert result.output.startswith("Error: ")
    assert "is not a DOI" in result.output
    assert not (tmp_path / "state").exists()


def test_config_path_from_environment(tmp_path, invoke):
    path = write(tmp_path, '[monitor]\nbogus = 1\n')
    result = invoke("run", env={"CITATION_MONITOR_CONFIG": str(path)})
    assert result.exit_code == 2 and "unknown key 'bogus'" in result.output


def test_schedule_alerts_and_email_defaults(tmp_path):
    config = load_config(write(tmp_path, "[alerts]\nmilestones = [100, 50, 100]\n"), environ={})
    assert config.schedule.cron == "0 6 * * *" and config.schedule.timezone == "UTC"
    assert config.schedule.misfire_grace_minutes == 60
    assert config.alerts.milestones == (50, 100)  # sorted, once each
    assert config.alerts.new_citations and config.alerts.failing_runs == 3
    assert config.email.enabled is False and config.email.policy == "on-change"
