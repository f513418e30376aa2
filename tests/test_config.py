"""config.toml: defaults, resolution, and a one-line error for each mistake, exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.errors import ConfigError
from tests.conftest import ROOT

WORK = '[[works]]\ndoi = "10.1016/j.drup.2021.100752"\n'


def write(tmp_path: Path, text: str) -> Path:
    """A config of ``text``, tracking one work unless ``text`` says what to track."""
    path = tmp_path / "config.toml"
    if "works" not in text and "[[collections]]" not in text:
        text += "\n" + WORK
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
        ('[http]\ntimeout_seconds = -1\n', "[http] timeout_seconds must be at least 0.1 and at most 3600 seconds, got -1; the default is 30"),
        ('[email]\nmax_items_per_work = 0\n', "[email] max_items_per_work must be at least 1 and at most 1000, got 0"),
        ('[citing]\nmax_lookup_requests = -1\n', "[citing] max_lookup_requests must be at least 0 and at most 1000, got -1"),
        ('[schedule]\ncron = "0 6 * * * *"\n', "[schedule] cron must have 5 fields, got 6"),
        ('[schedule]\ncron = "0 6 * * 1-5"\n', "cron day of week '1-5' must use names (mon, tue, ... sun)"),
        ('[schedule]\ncron = "61 6 * * *"\n', "[schedule] cron '61 6 * * *' is not valid"),
        ('[schedule]\ntimezone = "Mars/Olympus"\n', "timezone 'Mars/Olympus' is not a known time zone"),
        ('[alerts]\nmilestones = [100, 0]\n', "[alerts] milestones must be whole numbers from 1 to 1000000000"),
        ('[alerts]\nmilestone = [100]\n', "[alerts] has unknown key 'milestone'; did you mean 'milestones'?"),
        ('[alerts]\njump_percent = "a lot"\n', "[alerts] jump_percent must be a number"),
        ('[email]\nenabled = true\nsender = "m@example.org"\n', "[email] is enabled but has no recipients"),
        ('[email]\nrecipients = ["nobody"]\n', "[email] recipients 'nobody' is not an email address"),
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


# --- the corpus: every mistake a user can make, through `run` -------------------------------

BASE = {
    "monitor": '[monitor]\ncontact_email = "monitor@example.org"\n',
    "works": WORK,
    # nobody listens on port 9 here: a config let through by mistake fails fast, exit 1 not 2
    "sources": "".join(f'[sources.{n}]\nbase_url = "http://127.0.0.1:9/{n}"\n' for n in ("openalex", "crossref")),
}
ALL_SOURCES = (
    "openalex", "crossref", "semanticscholar", "opencitations", "europepmc", "icite", "pubmed",
    "dimensions", "unpaywall", "scopus", "altmetric",
)


def bad(key: str, *sections: str, setup=None, raw: str | bytes | None = None):
    """One bad config: TOML ``sections`` replace the base's tables of the same name (or add one);
    ``key`` must be named in the error; ``setup(folder)`` makes files it needs."""
    text = dict(BASE)
    for section in sections:
        name = section.strip().lstrip("[").split("]")[0].split(".")[0] if section.strip() else "empty"
        text[name] = section
    body = raw if raw is not None else "".join(text.values())
    return pytest.param(body, key, setup, id=f"{key}: {(sections or [repr(raw)])[0][:40]}")


def every_source(enabled: str) -> str:
    return "".join(f"[sources.{n}]\nenabled = {enabled}\n" for n in ALL_SOURCES)


def file_at(name: str):
    return lambda folder: (folder / name).write_text("a file")


def folder_at(name: str):
    return lambda folder: (folder / name).mkdir()


CORPUS = [
    # [monitor]
    bad("[monitor] contact_email", '[monitor]\ncontact_email = "not-an-address"\n'),
    bad("[monitor] contact_email", '[monitor]\ncontact_email = "m@example.org\\nBcc: x@example.org"\n'),
    bad("[monitor] contact_email", "[monitor]\ncontact_email = 42\n"),
    bad("[monitor] database", '[monitor]\ndatabase = ""\n'),
    bad("[monitor] database", '[monitor]\ndatabase = "   "\n'),
    bad("[monitor] report_dir", '[monitor]\nreport_dir = ""\n'),
    bad("[monitor] database", "[monitor]\ndatabase = 5\n"),
    bad("[monitor] database", '[monitor]\ndatabase = "db\\u0000x.db"\n'),
    bad("[monitor] has unknown key 'databse'", '[monitor]\ndatabse = "x.db"\n'),
    bad("[monitor] report_dir", '[monitor]\nreport_dir = "."\n'),  # would replace the config's folder
    bad("[monitor] report_dir", '[monitor]\nreport_dir = "state"\n'),  # holds the database
    bad("[monitor] database", '[monitor]\ndatabase = "db.d"\n', setup=folder_at("db.d")),
    bad("[monitor] database", '[monitor]\ndatabase = "a-file/monitor.db"\n', setup=file_at("a-file")),
    bad("[monitor] report_dir", '[monitor]\nreport_dir = "report.txt"\n', setup=file_at("report.txt")),
    bad("[monitor] report_dir", '[monitor]\nreport_dir = "a-file/report"\n', setup=file_at("a-file")),
    bad("[monitor] must be a table", "", raw="monitor = 3\n" + WORK),
    # [[works]]: none, or wrong
    bad("[[works]]", "", raw=BASE["monitor"] + BASE["sources"]),
    bad("[[works]]", "", raw="works = []\n" + BASE["monitor"]),
    bad("[[works]]", "", raw=""),
    bad("[[works]]", "", raw="# nothing here yet\n"),
    bad("works must be an array of tables", "", raw='works = "10.1016/j.drup.2021.100752"\n'),
    bad("works must be an array of tables", "", raw='[works]\ndoi = "10.1016/j.drup.2021.100752"\n'),
    bad("[[works]] #1 has no doi", '[[works]]\nlabel = "x"\n'),
    bad("[[works]] #1 doi", '[[works]]\ndoi = "not-a-doi"\n'),
    bad("[[works]] #1 doi", '[[works]]\ndoi = "10.1016"\n'),
    bad("[[works]] #1 doi", '[[works]]\ndoi = "10.1000/a\\u0007b"\n'),
    bad("[[works]] #1 doi", "[[works]]\ndoi = 10\n"),
    bad("[[works]] #2 doi", '[[works]]\ndoi = "10.1234/a"\n[[works]]\ndoi = "doi:10.1234/A"\n'),
    bad("[[works]] #1 pmid", '[[works]]\ndoi = "10.1234/a"\npmid = "abc"\n'),
    bad("[[works]] #1 pmid", '[[works]]\ndoi = "10.1234/a"\npmid = "123456789012345"\n'),
    bad("[[works]] #1 label", '[[works]]\ndoi = "10.1234/a"\nlabel = 5\n'),
    bad("[[works]] #1 label", '[[works]]\ndoi = "10.1234/a"\nlabel = "a\\nb"\n'),
    bad("[[works]] #1 has unknown key 'titel'", '[[works]]\ndoi = "10.1234/a"\ntitel = "x"\n'),
    # [http]: every number bounded, NaN and inf never
    bad("[http] timeout_seconds", "[http]\ntimeout_seconds = nan\n"),
    bad("[http] timeout_seconds", "[http]\ntimeout_seconds = inf\n"),
    bad("[http] timeout_seconds", "[http]\ntimeout_seconds = 0\n"),
    bad("[http] timeout_seconds", "[http]\ntimeout_seconds = -1\n"),
    bad("[http] timeout_seconds", "[http]\ntimeout_seconds = 1e9\n"),
    bad("[http] timeout_seconds", '[http]\ntimeout_seconds = "30"\n'),
    bad("[http] max_retries", "[http]\nmax_retries = 1000000000\n"),
    bad("[http] max_retries", "[http]\nmax_retries = 1e9\n"),
    bad("[http] max_retries", "[http]\nmax_retries = -1\n"),
    bad("[http] max_retries", "[http]\nmax_retries = 2.5\n"),
    bad("[http] max_retries", "[http]\nmax_retries = true\n"),
    bad("[http] backoff_seconds", "[http]\nbackoff_seconds = nan\n"),
    bad("[http] backoff_seconds", "[http]\nbackoff_seconds = -0.5\n"),
    bad("[http] backoff_seconds", "[http]\nbackoff_seconds = 1e12\n"),
    bad("[http] max_retry_after_seconds", "[http]\nmax_retry_after_seconds = -inf\n"),
    bad("[http] max_retry_after_seconds", "[http]\nmax_retry_after_seconds = 1e7\n"),
    bad("[http] request_deadline_seconds", "[http]\nrequest_deadline_seconds = 0\n"),
    bad("[http] request_deadline_seconds", "[http]\nrequest_deadline_seconds = nan\n"),
    bad("[http] source_deadline_minutes", "[http]\nsource_deadline_minutes = -inf\n"),
    bad("[http] source_deadline_minutes", "[http]\nsource_deadline_minutes = 0\n"),
    bad("[http] run_deadline_minutes", "[http]\nrun_deadline_minutes = 100000\n"),
    bad("[http] run_deadline_minutes", "[http]\nrun_deadline_minutes = inf\n"),
    bad("[http] has unknown key 'timeout'", "[http]\ntimeout = 3\n"),
    bad("[http] must be a table", "", raw="http = [1]\n" + WORK),
    # [sources.NAME]
    bad("[sources.openalex] base_url", '[sources.openalex]\nbase_url = "http://exa mple.org"\n'),
    bad("[sources.openalex] base_url", '[sources.openalex]\nbase_url = "http://example.org:99999"\n'),
    bad("[sources.openalex] base_url", '[sources.openalex]\nbase_url = "http://example.org:0"\n'),
    bad("[sources.openalex] base_url", '[sources.openalex]\nbase_url = "http://example.org:port"\n'),
    bad("[sources.openalex] base_url", '[sources.openalex]\nbase_url = "ftp://example.org"\n'),
    bad("[sources.openalex] base_url", '[sources.openalex]\nbase_url = "http://"\n'),
    bad("[sources.openalex] base_url", '[sources.openalex]\nbase_url = ""\n'),
    bad("[sources.openalex] base_url", '[sources.openalex]\nbase_url = "api.openalex.org"\n'),
    bad("[sources.openalex] base_url", '[sources.openalex]\nbase_url = "https://user:secret@example.org"\n'),
    bad("[sources.openalex] base_url", '[sources.openalex]\nbase_url = "https://example.org/?api_key=x"\n'),
    bad("[sources.openalex] base_url", '[sources.openalex]\nbase_url = "https://exa_mple.org"\n'),
    bad("[sources.openalex] base_url", '[sources.openalex]\nbase_url = "https://example.org\\n"\n'),
    bad("[sources.openalex] requests_per_second", "[sources.openalex]\nrequests_per_second = 0\n"),
    bad("[sources.openalex] requests_per_second", "[sources.openalex]\nrequests_per_second = nan\n"),
    bad("[sources.openalex] requests_per_second", "[sources.openalex]\nrequests_per_second = -1\n"),
    bad("[sources.openalex] requests_per_second", "[sources.openalex]\nrequests_per_second = 1e9\n"),
    bad("[sources.openalex] requests_per_second", '[sources.openalex]\nrequests_per_second = "fast"\n'),
    bad("[sources.openalex] timeout_seconds", "[sources.openalex]\ntimeout_seconds = 0\n"),
    bad("[sources.openalex] timeout_seconds", "[sources.openalex]\ntimeout_seconds = nan\n"),
    bad("[sources.openalex] api_key_env", '[sources.openalex]\napi_key_env = "MY-KEY"\n'),
    bad("[sources.openalex] api_key_env", '[sources.openalex]\napi_key_env = "sk-live-1234"\n'),
    bad("[sources.openalex] enabled", '[sources.openalex]\nenabled = "yes"\n'),
    bad("[sources.openalx] is not a known source", "[sources.openalx]\nenabled = true\n"),
    bad("[sources.crossref] has unknown key 'rate'", "[sources.crossref]\nrate = 3\n"),
    bad("[sources] has every source disabled", every_source("false")),
    # [citing]
    bad("[citing] max_pages", "[citing]\nmax_pages = 0\n"),
    bad("[citing] max_pages", "[citing]\nmax_pages = -1\n"),
    bad("[citing] max_pages", "[citing]\nmax_pages = 1e9\n"),
    bad("[citing] max_pages", "[citing]\nmax_pages = 100000000\n"),
    bad("[citing] max_list_age_days", "[citing]\nmax_list_age_days = nan\n"),
    bad("[citing] max_list_age_days", "[citing]\nmax_list_age_days = -1\n"),
    bad("[citing] enabled", "[citing]\nenabled = 1\n"),
    # [schedule]
    bad("[schedule] cron", '[schedule]\ncron = "0 6 * * * *"\n'),
    bad("[schedule] cron", '[schedule]\ncron = "61 6 * * *"\n'),
    bad("[schedule] cron", '[schedule]\ncron = "0 6 * * 1-5"\n'),
    bad("[schedule] timezone", '[schedule]\ntimezone = "Mars/Olympus"\n'),
    bad("[schedule] misfire_grace_minutes", "[schedule]\nmisfire_grace_minutes = -1\n"),
    bad("[schedule] misfire_grace_minutes", "[schedule]\nmisfire_grace_minutes = 100000000\n"),
    bad("[schedule] misfire_grace_minutes", "[schedule]\nmisfire_grace_minutes = nan\n"),
    # [alerts]
    bad("[alerts] milestones", "[alerts]\nmilestones = [0]\n"),
    bad("[alerts] milestones", '[alerts]\nmilestones = ["a"]\n'),
    bad("[alerts] milestones", "[alerts]\nmilestones = [10000000000]\n"),
    bad("[alerts] jump_min", "[alerts]\njump_min = 0\n"),
    bad("[alerts] jump_percent", "[alerts]\njump_percent = nan\n"),
    bad("[alerts] jump_percent", "[alerts]\njump_percent = -5\n"),
    bad("[alerts] drop_min", "[alerts]\ndrop_min = 0\n"),
    bad("[alerts] failing_runs", "[alerts]\nfailing_runs = -1\n"),
    bad("[alerts] failing_runs", "[alerts]\nfailing_runs = 100000\n"),
    # [email]
    bad("[email] is enabled but has no recipients", '[email]\nenabled = true\nsender = "m@example.org"\n'),
    bad("[email] is enabled but has no sender", '[email]\nenabled = true\nrecipients = ["y@example.org"]\n'),
    bad("[email] smtp_host", '[email]\nenabled = true\nsmtp_host = ""\nsender = "m@example.org"\n'
                             'recipients = ["y@example.org"]\n'),
    bad("[email] smtp_host", '[email]\nsmtp_host = "smtp example.org"\n'),
    bad("[email] smtp_host", '[email]\nsmtp_host = "smtp.example.org\\nRCPT TO: x"\n'),
    bad("[email] smtp_port", "[email]\nsmtp_port = 0\n"),
    bad("[email] smtp_port", "[email]\nsmtp_port = 70000\n"),
    bad("[email] smtp_port", '[email]\nsmtp_port = "587"\n'),
    bad("[email] sender", '[email]\nsender = "m@example.org\\nBcc: evil@example.org"\n'),
    bad("[email] sender", '[email]\nsender = "monitor"\n'),
    bad("[email] sender", '[email]\nsender = "Monitor <m@example.org>"\n'),
    bad("[email] recipients", '[email]\nrecipients = ["you@example.org\\r\\nBcc: x@example.org"]\n'),
    bad("[email] recipients", '[email]\nrecipients = ["nobody"]\n'),
    bad("[email] recipients", '[email]\nrecipients = "you@example.org"\n'),
    bad("[email] recipients", "[email]\nrecipients = [5]\n"),
    bad("[email] security", '[email]\nsecurity = "tls"\n'),
    bad("[email] policy", '[email]\npolicy = "daily"\n'),
    bad("[email] needs both username_env and password_env", '[email]\nusername_env = "SMTP_USER"\n'),
    bad("[email] password_env", '[email]\nusername_env = "U"\npassword_env = "bad name"\n'),
    bad("[email] report_url", '[email]\nreport_url = "javascript:alert(1)"\n'),
    bad("[email] report_url", '[email]\nreport_url = "https://exa mple.org/"\n'),
    # the file itself
    bad("top level has unknown key 'bogus'", "[bogus]\nx = 1\n"),
    bad("not valid TOML", "", raw="[monitor\n"),
    bad("not valid TOML", "", raw='[monitor]\ncontact_email = "a@b.org"\ncontact_email = "c@d.org"\n'),
    bad("not UTF-8", "", raw=b'[monitor]\ncontact_email = "\xff@example.org"\n'),
]


def files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def test_the_corpus_is_large():
    assert len(CORPUS) >= 80


@pytest.mark.parametrize("text, key, setup", CORPUS)
def test_a_bad_config_is_one_line_naming_file_and_key_exit_2_and_nothing_written(
    tmp_path, invoke, text, key, setup
):
    path = tmp_path / "config.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    if setup:
        setup(tmp_path)
    before = files(tmp_path)
    result = invoke("run", "--config", str(path))
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"Error: {path}: ") and result.output.count("\n") == 1, result.output
    assert key in result.output
    assert files(tmp_path) == before  # no database, no report folder, no lock file


@pytest.mark.parametrize(
    "key, value, says",
    [("database", "state/monitor.db", "cannot be created"), ("report_dir", "report", "not writable")],
)
def test_a_path_that_cannot_be_written_stops_run_before_it_starts(tmp_path, invoke, read_only_folder, key, value, says):
    read_only_folder.seal()
    path = tmp_path / "config.toml"
    path.write_text(f'[monitor]\n{key} = "{read_only_folder.folder}/{value}"\n' + WORK)
    result = invoke("run", "--config", str(path))
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {path}: [monitor] {key} ") and result.output.count("\n") == 1
    assert says in result.output
    assert files(tmp_path) == {"config.toml", "read-only"}  # no database, no report


def test_every_number_of_every_section_has_bounds():
    """A number added to a config dataclass without bounds would accept NaN and 1e9."""
    import dataclasses

    from monitor import config

    for cls in (config.HttpConfig, config.CitingConfig, config.ScheduleConfig, config.AlertsConfig,
                config.EmailConfig, config.SourceConfig):
        for f in dataclasses.fields(cls):
            if f.type in ("int", "float", "float | None"):
                assert config.bounds_of(cls, f.name) is not None, f"{cls.__name__}.{f.name}"


def test_the_deadlines_have_defaults_and_take_fractions(tmp_path):
    config = load_config(
        write(tmp_path, WORK + "[http]\nsource_deadline_minutes = 0.5\n"), environ={}
    )
    assert config.http.source_deadline_minutes == 0.5
    assert (config.http.request_deadline_seconds, config.http.run_deadline_minutes) == (300, 120)
