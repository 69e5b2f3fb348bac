"""When may a team stop screening? Rules read the decisions in the order they were made
(1 relevant, 0 not) and the number of records in the stage.

Each rule says whether it is a **guarantee** (a statistical statement whose error rate is
bounded under a stated assumption) or a **heuristic** (a rule of thumb with no such bound).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import hypergeom

GUARANTEE = "guarantee"
HEURISTIC = "heuristic"


@dataclass(frozen=True)
class RuleResult:
    key: str
    name: str
    kind: str  # GUARANTEE or HEURISTIC
    stop: bool
    summary: str  # one line for the page: what the rule found
    method: str  # how it works and what it assumes
    details: dict[str, float | int | None] = field(default_factory=dict)


def _as_array(labels: object) -> np.ndarray:
    return np.asarray(labels, dtype=np.int64).reshape(-1)


# ------------------------------------------------------------------ hypergeometric test


def hypergeometric_p(labels: object, n_total: int, recall_target: float) -> float:
    """Smallest p-value, over every "last k screened records" sample, of the null hypothesis
    "recall is below ``recall_target``" (Callaghan & Müller-Hansen, Syst Rev 2020;9:282).

    For the sample of the last ``k`` records, with ``r_before`` relevant records found
    before it and ``k_rel`` in it, the null hypothesis needs at least
    ``K = floor(r_seen / target − r_before) + 1`` relevant records among the sample and
    the unscreened records together (else recall would already reach the target). Under
    random sampling, the chance of seeing at most ``k_rel`` of them in ``k`` draws from
    those ``N_k`` records is the hypergeometric CDF; a small value rejects the null.
    """
    seq = _as_array(labels)
    n_seen = seq.size
    if n_seen == 0 or n_total <= 0:
        return 1.0
    if not 0 < recall_target <= 1:
        raise ValueError("the recall target is a fraction in (0, 1]")
    r_seen = int(seq.sum())
    tail = seq[::-1]
    in_sample = np.cumsum(tail)  # relevant among the last k, k = 1..n_seen
    sizes = np.arange(1, n_seen + 1)
    r_before = r_seen - in_sample
    k_hat = np.floor(r_seen / recall_target - r_before) + 1
    population = n_total - (n_seen - sizes)  # the sample plus every unscreened record
    # When the null needs more relevant records than the population holds, it is
    # impossible for that sample: p = 0.
    p = hypergeom.cdf(in_sample, population, np.minimum(k_hat, population), sizes)
    p = np.where(k_hat > population, 0.0, p)
    return float(np.clip(np.nan_to_num(p.min(), nan=1.0), 0.0, 1.0))


def recall_lower_bound(
    labels: object, n_total: int, confidence: float = 0.95, step: float = 0.01
) -> float:
    """The highest recall target (a multiple of ``step``) the hypergeometric test accepts at
    ``confidence``: "with 95 % confidence, recall is at least this" (0 when nothing can be
    said). A higher target needs more relevant records to hide, so p grows with the target
    (up to rounding steps of K): a binary search finds the bound in a few tests, and only
    ever returns a target the test accepted."""
    alpha = 1 - confidence
    lo, hi = 0, round(1 / step)  # accepted so far (0: none), highest candidate
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if hypergeometric_p(labels, n_total, min(mid * step, 1.0)) < alpha:
            lo = mid
        else:
            hi = mid - 1
    return round(lo * step, 4)


def hypergeometric_rule(
    labels: object, n_total: int, *, recall_target: float = 0.95, confidence: float = 0.95
) -> RuleResult:
    seq = _as_array(labels)
    p = hypergeometric_p(seq, n_total, recall_target)
    bound = recall_lower_bound(seq, n_total, confidence)
    stop = seq.size > 0 and p < 1 - confidence
    pct, conf = f"{recall_target:.0%}", f"{confidence:.0%}"
    summary = (
        f"Stop: with {conf} confidence, recall ≥ {pct} (p = {p:.3f})."
        if stop
        else f"Keep screening: recall ≥ {pct} is not yet shown (p = {p:.3f}, needs < "
        f"{1 - confidence:.2f})."
    )
    return RuleResult(
        key="hypergeometric",
        name=f"Hypergeometric test (recall ≥ {pct}, {conf} confidence)",
        kind=GUARANTEE,
        stop=bool(stop),
        summary=summary,
        method=(
            "Callaghan & Müller-Hansen (Syst Rev 2020): treats the most recently screened "
            "records as a sample drawn from the records that were unscreened before it, "
            "and tests the hypothesis that recall is still below the target. Assumption: "
            "that sample is at least as rich in relevant records as a random draw from "
            "what is left. It holds exactly when, after prioritising, the stage's order is "
            "switched back to random (the records screened since are a true random "
            "sample), and conservatively while prioritising works (the model puts "
            "relevant records first). It fails if reviewers pick records themselves."
        ),
        details={"p": p, "recall_lower_bound": bound, "target": recall_target},
    )


# ------------------------------------------------------------------ heuristics


def consecutive_irrelevant(labels: object) -> int:
    """How many records were screened since the last relevant one."""
    seq = _as_array(labels)
    hits = np.flatnonzero(seq)
    return int(seq.size if hits.size == 0 else seq.size - 1 - hits[-1])


def consecutive_threshold(n_total: int) -> int:
    return max(50, math.ceil(0.05 * n_total))


def consecutive_rule(labels: object, n_total: int, threshold: int | None = None) -> RuleResult:
    seq = _as_array(labels)
    limit = threshold or consecutive_threshold(n_total)
    run = consecutive_irrelevant(seq)
    stop = bool(seq.sum() > 0 and run >= limit)
    return RuleResult(
        key="consecutive",
        name=f"{limit} irrelevant in a row",
        kind=HEURISTIC,
        stop=stop,
        summary=f"{run} records screened since the last include (rule: {limit}).",
        method=(
            "Stop after a run of irrelevant records (here the larger of 50 and 5 % of the "
            "stage's records). A rule of thumb: no statement about recall follows from it."
        ),
        details={"run": run, "threshold": limit},
    )


def knee_rule(labels: object, *, min_screened: int = 150) -> RuleResult:
    """Cormack & Grossman's knee method (SIGIR 2016): find the knee of the gain curve (the
    point farthest above the straight line to the current point) and stop when the slope
    before the knee is at least ``156 − min(relevant, 150)`` times the slope after it."""
    seq = _as_array(labels)
    n = seq.size
    found = int(seq.sum())
    ratio: float | None = None
    knee: int | None = None
    stop = False
    if n >= 2 and found:
        gain = np.cumsum(seq)
        ranks = np.arange(1, n + 1)
        # Distance above the chord from (0, 0) to (n, found), up to a constant factor.
        distance = gain * n - ranks * found
        knee = int(np.argmax(distance)) + 1
        before = gain[knee - 1] / knee
        after = (found - gain[knee - 1] + 1) / max(n - knee, 1)
        ratio = float(before / after)
        stop = n >= min_screened and ratio >= 156 - min(found, 150)
    needed = 156 - min(found, 150)
    return RuleResult(
        key="knee",
        name="Knee of the recall curve",
        kind=HEURISTIC,
        stop=bool(stop),
        summary=(
            f"Slope ratio {ratio:.1f} at record {knee} (rule: ≥ {needed}, after ≥ "
            f"{min_screened} screened)."
            if ratio is not None
            else "No knee yet: nothing relevant found."
        ),
        method=(
            "Cormack & Grossman (SIGIR 2016): the recall curve flattens once most relevant "
            "records are found; stop when the slope before its knee is much steeper than "
            "after it. A heuristic tuned on other collections: no recall guarantee."
        ),
        details={"ratio": ratio, "knee": knee, "needed": needed},
    )


def all_rules(
    labels: object,
    n_total: int,
    *,
    recall_target: float = 0.95,
    confidence: float = 0.95,
) -> list[RuleResult]:
    return [
        hypergeometric_rule(labels, n_total, recall_target=recall_target, confidence=confidence),
        consecutive_rule(labels, n_total),
        knee_rule(labels),
    ]
