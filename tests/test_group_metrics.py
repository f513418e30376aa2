"""Group metrics, each on a hand-computed example (docs/metrics.md)."""

from __future__ import annotations

import pytest

from monitor.group_metrics import (
    WorkFigures,
    compute,
    h5_index,
    h_index,
    i10_index,
    mean,
    median,
    share,
    total,
)


def test_h_index():
    # ranked 10, 8, 5, 4, 3: the 4th has 4 >= 4, the 5th has 3 < 5: h = 4
    assert h_index([3, 10, 4, 8, 5]) == 4
    # ranked 25, 8, 5, 3, 3, 0: the 3rd has 5 >= 3, the 4th has 3 < 4: h = 3
    assert h_index([25, 8, 5, 3, 3, 0]) == 3
    assert h_index([100]) == 1  # one work, however cited
    assert h_index([0, 0]) == 0
    assert h_index([]) == 0


def test_i10_index_counts_works_with_at_least_ten():
    assert i10_index([9, 10, 11, 250, 0]) == 3  # 10, 11 and 250


def test_h5_index_looks_at_the_five_complete_years_before():
    def work(year, citations):
        return WorkFigures(f"10.1/{year}.{citations}", citations, year=year)

    works = [
        work(2026, 99),  # this year: not yet
        work(2025, 6), work(2023, 5), work(2021, 4), work(2021, 1),  # 2021-2025
        work(2020, 50),  # six years back: out
        WorkFigures("10.1/x", None, year=2024),  # not indexed: out
    ]
    # within 2021-2025: 6, 5, 4, 1 → the 3rd has 4 >= 3, the 4th 1 < 4: h5 = 3
    assert h5_index(works, 2026) == 3
    assert h5_index([work(2026, 5)], 2026) is None  # no indexed work in the window


def test_sums_means_medians_and_shares_leave_unknowns_out():
    assert total([3, None, 4]) == 7 and total([None]) is None
    assert mean([1.0, None, 2.0, 4.5]) == 2.5  # (1 + 2 + 4.5) / 3
    assert median([1.0, None, 2.0, 4.5]) == 2.0
    assert median([1.0, 3.0]) == 2.0  # the mean of the middle two
    assert share([True, False, None, True, False]) == 0.5  # 2 of the 4 known
    assert share([None]) is None and mean([]) is None


def test_compute_on_the_worked_example_of_docs_metrics():
    works = [
        WorkFigures("10.1/a", 25, 2022, 4, fwci=3.0, rcr=2.0, top_10_percent=True, top_1_percent=True, open_access=True),
        WorkFigures("10.1/b", 12, 2023, 2, fwci=1.5, rcr=None, top_10_percent=True, top_1_percent=False, open_access=False),
        WorkFigures("10.1/c", 10, 2019, 0, fwci=1.0, rcr=1.0, top_10_percent=False, top_1_percent=False, open_access=False),
        WorkFigures("10.1/d", 3, 2024, 1, fwci=0.5, rcr=0.5, top_10_percent=False, top_1_percent=False, open_access=True),
        WorkFigures("10.1/e", 0, 2025, None, fwci=None, top_10_percent=False, top_1_percent=False, open_access=None),
        WorkFigures("10.1/f", None, 2025),
    ]
    group = compute(works, 2026)
    assert (group.works, group.not_indexed, group.citations) == (6, 1, 50)  # 25+12+10+3+0
    assert (group.h_index, group.i10_index) == (3, 3)
    # 2021-2025 indexed: 25 (2022), 12 (2023), 3 (2024), 0 (2025); 10 is from 2019.
    # ranked 25, 12, 3, 0: the 3rd has 3 >= 3: h5 = 3
    assert group.h5_index == 3
    assert group.citations_this_year == 7  # 4 + 2 + 0 + 1; e's is unknown
    assert (group.fwci_mean, group.fwci_median) == (1.5, 1.25)  # 6 / 4; (1.0 + 1.5) / 2
    assert group.rcr_mean == pytest.approx(3.5 / 3) and group.rcr_median == 1.0
    assert (group.top_10_percent_share, group.top_1_percent_share) == (0.4, 0.2)  # 2/5, 1/5
    assert group.open_access_share == 0.5  # a and d of the 4 known
    assert group.details == {
        "year": 2026, "indexed": 5, "with_citations_this_year": 4, "with_fwci": 4, "with_rcr": 3,
        "with_percentile": 5, "with_open_access": 4,
    }


def test_an_empty_or_unindexed_collection_has_no_figures_not_zeros():
    group = compute([WorkFigures("10.1/a", None)], 2026)
    assert (group.works, group.not_indexed) == (1, 1)
    assert group.citations is None and group.h_index is None and group.i10_index is None
    assert compute([], 2026).citations is None
