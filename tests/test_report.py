"""The report: rendered from stored data only; escaping, overrides, regeneration as of a date."""

from __future__ import annotations

import sqlite3

from tests.conftest import DEFAULT_DOI

PAGE = "state/report/works/10.1016-j.drup.2021.100752.html"


def test_report_numbers_match_the_database(write_config, invoke, tmp_path):
    invoke("run", "--config", str(write_config()))
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    page = (tmp_path / PAGE).read_text()
    for source, citations, obs_id in conn.execute("select source, citations, observation_id from latest_counts"):
        if citations is not None:
            assert f'<td class="num">{citations}' in page
        assert f'<td class="num">{obs_id}</td>' in page  # provenance table


def test_a_citing_title_with_script_is_shown_as_text(write_config, invoke, fake_api, tmp_path):
    fake_api.records["crossref"][DEFAULT_DOI]["title"] = ["<script>alert(1)</script> & more"]
    invoke("run", "--config", str(write_config()))
    for path in (tmp_path / "state/report").rglob("*.html"):
        text = path.read_text()
        assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in (tmp_path / PAGE).read_text()


def test_templates_beside_the_config_override_the_shipped_ones(write_config, invoke, tmp_path):
    config = write_config()
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates/index.html").write_text("custom index: {{ report.works | length }} works")
    invoke("run", "--config", str(config))
    assert (tmp_path / "state/report/index.html").read_text() == "custom index: 1 works"
    assert "Drug Resistance Updates" in (tmp_path / PAGE).read_text()  # not overridden: shipped


def test_report_as_of_regenerates_the_past(write_config, invoke, fake_api, tmp_path):
    from tests.fakeapi.routes import openalex as fake_openalex

    config = write_config()
    invoke("run", "--config", str(config))
    conn = sqlite3.connect(tmp_path / "state/monitor.db")
    # move the first run into the past, so that "as of" that day excludes the second
    conn.execute("update observations set observed_at = '2026-01-01T06:00:00.000000+00:00'")
    conn.execute("update runs set started_at = '2026-01-01T06:00:00.000000+00:00'")
    conn.commit()
    invoke("report", "--config", str(config))
    first = (tmp_path / PAGE).read_text()
    fake_openalex.set_count(fake_api, DEFAULT_DOI, 50)
    invoke("run", "--config", str(config))
    assert "50" in (tmp_path / PAGE).read_text()
    result = invoke("report", "--config", str(config), "--as-of", "2026-01-01")
    assert result.exit_code == 0, result.output
    past = (tmp_path / PAGE).read_text()
    assert '<td class="num">41' in past and '<td class="num">50' not in past

    def body(html: str) -> str:
        return html.split("<main>")[1].split("</main>")[0]

    assert body(past) == body(first)


def test_report_of_an_empty_database_says_so(tmp_path, invoke):
    config = tmp_path / "config.toml"
    config.write_text("[monitor]\n")
    result = invoke("report", "--config", str(config))
    assert result.exit_code == 0
    assert "No works are tracked yet" in (tmp_path / "state/report/index.html").read_text()
