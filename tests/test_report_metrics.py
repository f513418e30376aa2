"""Metrics shown right and in full: percentiles, MeSH, topics, intents, the partial year,
each metric's trend, a status that never repeats itself."""

from __future__ import annotations

from datetime import date

import pytest

from monitor import analysis, charts
from monitor.report.pages import SourceRow


@pytest.mark.parametrize("value, shown", [
    (99.9758, "99.98th percentile · top 1 %"),
    (86.1, "86.1st percentile · top 25 %"),
    (99.92, "99.92nd percentile · top 1 %"),
    (96.0, "96th percentile · top 5 %"),
    (91.0, "91st percentile · top 10 %"),
    (50.0, "50th percentile"),
    (12.0, "12th percentile"),
    (100.0, "100th percentile · top 1 %"),
])
def test_percentiles_read_as_percentiles_with_their_top_mark(value, shown):
    assert analysis.percentile_text(value) == shown


def test_openalex_fraction_and_nih_scale_give_the_same_words():
    fraction = analysis.Metric("Citation percentile", "", "openalex", 0.999758, False, 1, "2026-01-01",
                               "citation_percentile", "fraction_percentile")
    nih = analysis.Metric("NIH percentile", "", "icite", 99.9758, False, 1, "2026-01-01", "nih_percentile", "percentile")
    assert fraction.shown == nih.shown == "99.98th percentile · top 1 %"


def test_a_metric_keeps_its_values_over_time():
    rows = [{"id": i, "observed_at": f"2026-0{i}-01T06:00:00+00:00", "metrics": {"fwci": v}}
            for i, v in ((1, 1.5), (2, 1.5), (3, 1.8))]
    [fwci] = analysis.metrics({"openalex": rows[-1]}, {"openalex": rows})
    assert fwci.history == (("2026-01-01", 1.5), ("2026-02-01", 1.5), ("2026-03-01", 1.8))
    assert fwci.changed == (("2026-01-01", 1.5), ("2026-03-01", 1.8))
    assert "<svg" in fwci.trend_svg and "FWCI: 1.50 on 2026-01-01, 1.80 on 2026-03-01" in fwci.trend_svg


def test_mesh_descriptors_once_each_with_their_qualifiers():
    record = {"mesh_headings": [
        {"descriptor": "Oligonucleotides, Antisense", "qualifiers": ["therapeutic use"], "major": True},
        {"descriptor": "Oligonucleotides, Antisense", "qualifiers": ["pharmacology"], "major": False},
        {"descriptor": "Humans", "qualifiers": [], "major": False},
    ], "mesh": ["ignored when headings exist"]}
    assert analysis.mesh(record) == [
        analysis.MeshHeading("Oligonucleotides, Antisense", ("therapeutic use", "pharmacology"), True),
        analysis.MeshHeading("Humans"),
    ]
    plain = {"mesh": ["Oligonucleotides, Antisense"] * 6 + ["Humans"]}  # OpenAlex: once per qualifier
    assert [m.descriptor for m in analysis.mesh(plain)] == ["Oligonucleotides, Antisense", "Humans"]


def test_topic_bars_only_when_the_scores_tell_the_topics_apart():
    alike = {"topics": [{"name": n, "score": s} for n, s in (("A", 0.9998), ("B", 0.9871), ("C", 0.9702))]}
    assert [t.bar for t in analysis.topics(alike)] == [None, None, None]
    apart = {"topics": [{"name": "B", "score": 0.4}, {"name": "A", "score": 0.8}]}
    assert [(t.name, t.bar) for t in analysis.topics(apart)] == [("A", 100.0), ("B", 50.0)]


def test_intents_are_summed_over_the_citing_works():
    rows = [{"intents": ["background", "methodology"]}, {"intents": ["background"]}, {"intents": []},
            {"intents": ["result", "background", "background"]}]
    assert analysis.intents(rows) == [("background", 3), ("methodology", 1), ("result", 1)]


def test_the_current_year_is_partial_until_it_ends():
    years = [("2025", 10), ("2026", 3)]
    assert analysis.partial_year(years, date(2026, 11, 27)) == "2026"
    assert analysis.partial_year(years, date(2026, 12, 31)) is None
    assert analysis.partial_year([("2025", 10)], date(2026, 3, 1)) is None
    chart = charts.bars(years, "t", "d", partial="2026", partial_note="2026 so far, to 2026-11-27")
    assert 'stroke-dasharray="4 3"' in chart and "3*" in chart and "* 2026 so far, to 2026-11-27" in chart


def test_chart_text_is_drawn_at_its_shown_size():
    """Each layout is drawn at the width it is shown, so 12 units of text stay 11+ CSS px:
    the narrow one at a phone's 358 px, the wide one at least at 520 px."""
    assert charts.NARROW.font * 358 / charts.NARROW.width >= 11
    assert charts.WIDE.font * 520 / charts.WIDE.width >= 11
    series = [charts.Series("OpenAlex", ((date(2026, 1, 1), 5), (date(2026, 2, 1), 9)))]
    both = charts.both(lambda layout: charts.cumulative(series, "t", "d", layout))
    assert both.count("<svg") == 2 and "chart-wide" in both and "chart-narrow" in both


def row(outcome: str, plain: str, message: str) -> SourceRow:
    return SourceRow("openalex", "OpenAlex", True, outcome, plain, message, None, None, None, None,
                     "2026-01-01T00:00:00+00:00", None, None, 1, None, None)


def test_a_status_never_repeats_itself():
    assert row("not_found", "not indexed by this source", "not indexed by this source").status == "not indexed by this source"
    assert row("not_found", "not indexed by this source", "Not indexed by this source.").status == "not indexed by this source"
    assert row("error", "failed", "HTTP 503").status == "failed: HTTP 503"
    assert row("ok", "ok", "").status == "ok"


# --- MeSH headings as the sources give them (genuine recordings, read in place) --------


def test_pubmed_mesh_headings_keep_qualifiers_and_major_topics():
    from monitor.sources import pubmed
    from tests.conftest import real_path

    body = real_path("pubmed/efetch_pubmed_xml_pmid28731372.xml").read_bytes()
    [meta] = pubmed.parse_efetch(body).values()
    headings = {h["descriptor"]: h for h in meta["mesh_headings"]}
    # <DescriptorName MajorTopicYN="N">Antibodies, Viral</DescriptorName><QualifierName MajorTopicYN="Y">blood
    assert headings["Antibodies, Viral"] == {"descriptor": "Antibodies, Viral", "qualifiers": ["blood"], "major": True}
    assert headings["Adult"] == {"descriptor": "Adult", "qualifiers": [], "major": False}
    assert len(headings) == len(meta["mesh_headings"]) == body.count(b"<MeshHeading>")


def test_europe_pmc_mesh_headings_keep_qualifiers():
    import json

    from monitor.sources import europepmc
    from tests.conftest import real_path

    payload = json.loads(real_path("europepmc/search_core_cancer_pageSize25.json").read_text())
    records = [r for r in payload["resultList"]["result"] if r.get("meshHeadingList")]
    assert records
    for record in records:
        headings = europepmc.parse_record(record).metadata["mesh_headings"]
        raw = record["meshHeadingList"]["meshHeading"]
        assert [h["descriptor"] for h in headings] == [m["descriptorName"] for m in raw]
        for heading, m in zip(headings, raw, strict=True):
            assert heading["qualifiers"] == [q["qualifierName"] for q in m.get("meshQualifierList", {}).get("meshQualifier", [])]
            assert heading["major"] == (m["majorTopic_YN"] == "Y")


def test_openalex_lists_a_descriptor_once_per_qualifier_and_we_group_them():
    from monitor.sources import openalex

    record = {"mesh": [
        {"descriptor_ui": "D016376", "descriptor_name": "Oligonucleotides, Antisense", "qualifier_ui": "Q000627",
         "qualifier_name": "therapeutic use", "is_major_topic": True},
        {"descriptor_ui": "D016376", "descriptor_name": "Oligonucleotides, Antisense", "qualifier_ui": "Q000494",
         "qualifier_name": "pharmacology", "is_major_topic": False},
        {"descriptor_ui": "D006801", "descriptor_name": "Humans", "qualifier_ui": None, "qualifier_name": None,
         "is_major_topic": False},
    ]}  # constructed on the shape OpenAlex documents for Work.mesh
    assert openalex.parse_metadata(record)["mesh_headings"] == [
        {"descriptor": "Oligonucleotides, Antisense", "qualifiers": ["therapeutic use", "pharmacology"], "major": True},
        {"descriptor": "Humans", "qualifiers": [], "major": False},
    ]
