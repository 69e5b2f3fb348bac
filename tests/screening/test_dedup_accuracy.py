"""The duplicate engine on the five labelled benchmark sets (``../shared/data/dedup/``).

Record-level sensitivity and specificity as ASySD defines them (see ``bench/dedup_data.py``).
A wrong automatic merge silently loses a study, so none is tolerated; the pending queue a
person works through stays under 2 % of the records.
"""

from __future__ import annotations

import pytest

from bench.dedup_data import ALL_SETS, ASYSD_SETS, Evaluation, evaluate, load_labelled_set
from screening.dedup import find_matches
from tests.shared_data import shared_path

_CACHE: dict[str, Evaluation] = {}


def _evaluation(name: str) -> Evaluation:
    if name not in _CACHE:
        _CACHE[name] = evaluate(load_labelled_set(shared_path("dedup", name)))
    return _CACHE[name]


@pytest.mark.parametrize("name", ALL_SETS)
def test_no_automatic_merge_joins_two_different_studies(name: str) -> None:
    result = _evaluation(name)
    assert result.auto.false_merges == 0
    assert result.auto.removed_wrong == 0
    assert result.auto.specificity == 1.0
    assert result.auto.pair_precision == 1.0


@pytest.mark.parametrize("name", ALL_SETS)
def test_automatic_merges_remove_nearly_all_duplicates(name: str) -> None:
    result = _evaluation(name)
    floor = 0.98 if name in ASYSD_SETS else 0.94
    assert result.auto.sensitivity >= floor


@pytest.mark.parametrize("name", ALL_SETS)
def test_sure_and_pending_links_together_find_the_rest(name: str) -> None:
    assert _evaluation(name).with_pending.sensitivity >= 0.995


@pytest.mark.parametrize("name", ALL_SETS)
def test_pending_queue_stays_under_two_percent_of_records(name: str) -> None:
    result = _evaluation(name)
    assert result.pending <= 0.02 * result.auto.records


@pytest.mark.parametrize("name", ALL_SETS)
def test_a_labelled_set_takes_well_under_a_few_seconds(name: str) -> None:
    assert _evaluation(name).seconds < 5


def test_incremental_passes_find_the_same_sure_links_as_one_full_pass() -> None:
    records = load_labelled_set(shared_path("dedup", "stroke")).records
    first, second = records[: len(records) // 2], records[len(records) // 2 :]
    full = {m.pair for m in find_matches(records) if m.outcome == "auto"}
    earlier = {m.pair for m in find_matches(first) if m.outcome == "auto"}
    later = {m.pair for m in find_matches(second, first) if m.outcome == "auto"}
    assert earlier | later == full
