"""The two-phase certified stopping rule (pure): its guarantee checked by simulation on
configurations where recall is just below the target, its "screen N more" count, and the
floor no rule with the same guarantee can beat."""

from __future__ import annotations

import math

import numpy as np
import pytest

from screening.prioritisation import stopping
from screening.prioritisation.stopping import SampleState

ALPHA = 0.05
TARGET = 0.95


def _stop_after(sample: np.ndarray, found_before: int) -> int:
    p = stopping.random_sample_p(
        sample, found_before=found_before, remaining=sample.size, recall_target=TARGET
    )
    ok = np.flatnonzero(p < ALPHA)
    return int(ok[0]) + 1 if ok.size else sample.size


def _failure_rate(found_before: int, hidden: int, remaining: int, reps: int, seed: int) -> float:
    """Share of random samples after which the rule stops with recall below the target,
    when ``hidden`` relevant records are left among ``remaining``."""
    rng = np.random.default_rng(seed)
    base = np.zeros(remaining, dtype=np.int64)
    base[:hidden] = 1
    total = found_before + hidden
    fails = 0
    for _ in range(reps):
        sample = rng.permutation(base)
        n = _stop_after(sample, found_before)
        fails += (found_before + int(sample[:n].sum())) / total < TARGET
    return fails / reps


@pytest.mark.parametrize(
    ("found_before", "hidden", "remaining"),
    [
        (21, 2, 1500),  # recall 91 % at the switch: one relevant record decides
        (20, 3, 1500),
        (80, 10, 800),  # several levels of k can fail: the looks add up, the shares hold
        (180, 20, 2500),
    ],
)
def test_two_phase_stops_below_target_at_most_alpha_of_the_time(found_before, hidden, remaining):
    rate = _failure_rate(found_before, hidden, remaining, reps=400, seed=found_before)
    # 400 draws: a true rate of 5 % would exceed 0.065 with probability < 10 %; the union
    # bound keeps the true rate well under 5 %.
    assert rate <= 0.065, f"stopped below {TARGET:.0%} recall in {rate:.1%} of samples"


def test_the_check_catches_a_rule_that_counts_one_hidden_record_too_many(monkeypatch):
    """The simulation above can fail: with K_tar one too high (an easy slip in the
    floor-plus-one formula), the rule stops far too early and the check sees it."""
    needed = stopping._needed_relevant
    monkeypatch.setattr(
        stopping,
        "_needed_relevant",
        lambda before, found, target: needed(before, found, target) + 1,
    )
    assert _failure_rate(21, 2, 1500, reps=400, seed=21) > 0.065


def test_exact_when_one_relevant_record_decides():
    # 21 found, 2 hidden among 1,500: the rule fails only if the sample misses both, and
    # the chance of that at its stopping size is below α × w_0 exactly.
    n = _stop_after(np.zeros(1500, dtype=np.int64), 21)
    missed_both = math.comb(1500 - n, 2) / math.comb(1500, 2)
    assert missed_both < ALPHA * stopping.level_weight(0)
    assert math.comb(1500 - n + 1, 2) / math.comb(1500, 2) >= ALPHA * stopping.level_weight(0)


def test_synthetic_rankings_reach_the_target_in_95_percent_of_runs():
    """Rankings with known recall: 40 relevant among 3,000; the model finds 36 early and
    hides 4 at random places in the rest (true recall of the ranked phase: 90 %)."""
    rng = np.random.default_rng(3)
    reached = []
    for _ in range(200):
        ranking = np.zeros(3000, dtype=np.int64)
        ranking[rng.choice(300, 36, replace=False)] = 1
        ranking[300 + rng.choice(2700, 4, replace=False)] = 1
        screened, found = stopping.two_phase_stop(ranking, 3000, rng)
        assert screened >= stopping.certified_floor(3000, found) - 3000  # sanity: a count
        reached.append(found / 40 >= TARGET)
    assert np.mean(reached) >= 0.95


def test_the_page_count_is_what_the_test_needs():
    state = SampleState(switched=True, screened_before=400, found_before=30, remaining=2000)
    result = stopping.two_phase_rule(state, recall_target=TARGET, confidence=0.95)
    needed = result.details["needed"]
    assert not result.stop
    assert result.summary.startswith(f"Screen a random sample of {needed} more records")
    after = SampleState(**{**state.__dict__, "sample": (0,) * needed})
    assert stopping.two_phase_rule(after).stop
    short = SampleState(**{**state.__dict__, "sample": (0,) * (needed - 1)})
    assert not stopping.two_phase_rule(short).stop


def test_records_in_progress_hold_the_stop():
    needed = stopping.random_sample_needed(
        (), found_before=30, remaining=2000, recall_target=TARGET, confidence=0.95
    )
    state = SampleState(
        switched=True,
        screened_before=400,
        found_before=30,
        remaining=2000,
        sample=(0,) * needed,
        in_progress=2,
    )
    result = stopping.two_phase_rule(state)
    assert not result.stop
    assert "2 of its records are still being screened" in result.summary


def test_before_the_switch_the_rule_says_what_starts_it():
    ranked = [1, 0, 1] + [0] * 40
    result = stopping.two_phase_rule(
        SampleState(switched=False, screened_before=0, found_before=0, remaining=0),
        ranked=ranked,
        n_total=1000,
    )
    assert (result.stop, result.kind, result.details["phase"]) == (False, "guarantee", 1)
    assert "40 records since the last include; the ranking has flattened after 100 in a row" in (
        result.summary
    )


def test_a_sample_larger_than_what_was_left_is_refused():
    with pytest.raises(ValueError, match="the random sample has 3 records but only 2"):
        stopping.random_sample_p([0, 0, 0], found_before=5, remaining=2, recall_target=TARGET)


def test_floor_matches_brute_force_on_a_tiny_stage():
    # N = 30, R = 4: m = 1 hidden record puts recall below 95 %; a rule must touch any
    # given irrelevant record with probability ≥ 95 %, so E[unscreened] ≤ 0.05 × 26.
    assert stopping.certified_floor(30, 4) == 30 - math.floor(0.05 * 26)
    # R = 23: two hidden records; u(u − 1) ≤ 0.05 (N − R)(N − R − 1).
    n, r = 2333, 23
    u = max(x for x in range(n - r + 1) if x * (x - 1) <= ALPHA * (n - r) * (n - r - 1))
    assert stopping.certified_floor(n, r) == n - u


def test_two_phase_never_beats_the_floor_on_average():
    rng = np.random.default_rng(11)
    ranking = np.zeros(2333, dtype=np.int64)
    ranking[rng.choice(200, 23, replace=False)] = 1  # a perfect-ish ranking
    mean = np.mean([stopping.two_phase_stop(ranking, 2333, rng)[0] for _ in range(50)])
    assert mean >= stopping.certified_floor(2333, 23)
