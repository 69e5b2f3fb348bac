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


# ------------------------------------------------------------------ two-phase certified rule

SWITCH_RUN_SHARE = 0.10  # the ranking "flattens": this share of the stage without an include
SWITCH_RUN_MIN = 50  # ... and never fewer records than this in a row


def _needed_relevant(found_before: int, found_in_sample: np.ndarray, target: float) -> np.ndarray:
    """K_tar: the fewest relevant records among the records unscreened at the switch for
    recall to be below ``target`` (Callaghan & Müller-Hansen's K_tar), given the relevant
    records found before it and in the sample so far."""
    seen = found_before + found_in_sample
    # recall < target ⟺ seen / (found_before + K) < target ⟺ K > seen/target − found_before
    return np.floor(seen / target - found_before + 1e-9).astype(np.int64) + 1


def level_weight(found_in_sample: object) -> np.ndarray:
    """The share ``w_j = 6 / (π² (j + 1)²)`` of α spent on stopping with ``j`` relevant
    records in the sample (the shares sum to 1: the union bound in ``two_phase_rule``)."""
    j = np.asarray(found_in_sample, dtype=np.float64)
    return 6.0 / (math.pi**2 * (j + 1) ** 2)


def random_sample_p(
    sample: object, *, found_before: int, remaining: int, recall_target: float
) -> np.ndarray:
    """p-value of "recall < ``recall_target``" after each prefix of a simple random sample
    drawn without replacement from the ``remaining`` records unscreened at the switch
    (``found_before`` relevant records were found before it). See ``two_phase_rule``."""
    seq = _as_array(sample)
    if not 0 < recall_target <= 1:
        raise ValueError("the recall target is a fraction in (0, 1]")
    if seq.size > remaining:
        raise ValueError(
            f"the random sample has {seq.size} records but only {remaining} were unscreened"
        )
    if seq.size == 0:
        return np.ones(0)
    k = np.cumsum(seq)
    n = np.arange(1, seq.size + 1)
    k_tar = _needed_relevant(found_before, k, recall_target)
    p = hypergeom.cdf(k, remaining, np.minimum(k_tar, remaining), n) / level_weight(k)
    return np.clip(np.where(k_tar > remaining, 0.0, np.nan_to_num(p, nan=1.0)), 0.0, 1.0)


def random_sample_needed(
    sample: object,
    *,
    found_before: int,
    remaining: int,
    recall_target: float,
    confidence: float,
) -> int:
    """How many more randomly sampled records the test needs, if none of them is relevant,
    to reject "recall < target" (0 when it already does; a relevant record found later
    raises the count, and the page says so)."""
    seq = _as_array(sample)
    alpha = 1 - confidence
    k = int(seq.sum())
    k_tar = int(_needed_relevant(found_before, np.array([k]), recall_target)[0])
    if k_tar > remaining:
        return 0
    sizes = np.arange(seq.size, remaining + 1)
    p = hypergeom.cdf(k, remaining, k_tar, sizes) / level_weight(k)
    ok = np.flatnonzero(p < alpha)
    return int(sizes[ok[0]] - seq.size) if ok.size else int(remaining - seq.size)


def should_switch(ranked: object, n_total: int) -> bool:
    """Whether the ranking has flattened: at least one include, then a run of
    ``max(SWITCH_RUN_MIN, SWITCH_RUN_SHARE × records)`` records without one. Only when the
    random phase starts depends on it; the guarantee holds wherever it starts."""
    seq = _as_array(ranked)
    return bool(
        seq.sum() > 0
        and consecutive_irrelevant(seq)
        >= max(SWITCH_RUN_MIN, math.ceil(SWITCH_RUN_SHARE * n_total))
    )


@dataclass(frozen=True)
class SampleState:
    """Where the stage stands in the two-phase rule. ``switched``: the random phase has
    begun, when ``screened_before`` records had been touched and ``remaining`` were not;
    ``found_before`` relevant among the former; ``sample`` the decisions on records of the
    random sample so far, in order; ``in_progress`` records of the sample with votes but no
    settled decision (they must be settled before the test may stop)."""

    switched: bool
    screened_before: int
    found_before: int
    remaining: int
    sample: tuple[int, ...] = ()
    in_progress: int = 0


def two_phase_rule(
    state: SampleState,
    *,
    ranked: object = (),
    n_total: int = 0,
    recall_target: float = 0.95,
    confidence: float = 0.95,
) -> RuleResult:
    """The two-phase certified rule (Callaghan & Müller-Hansen, Syst Rev 2020;9:273, their
    "random sampling" workflow, made exact by sampling only after the switch).

    Phase 1: records in order of relevance until the ranking flattens (``should_switch``;
    the page then asks an owner to start the sample: it changes the order for the whole
    team). Phase 2: every record left unscreened at the switch, ``M`` of them, is screened
    in a random order. Before the switch the team had found ``r_AL`` relevant records.
    After ``n`` records of the sample, ``k`` of them relevant, recall at the end would be
    below ``τ`` only if the ``M`` records held at least ``K_tar(k) = ⌊(r_AL + k)/τ − r_AL⌋
    + 1`` relevant ones. The sample is a simple random draw without replacement, so if
    there were ``K ≥ K_tar(k)``, the chance of seeing at most ``k`` in ``n`` draws is
    ``HypergeomCDF(k; M, K, n) ≤ HypergeomCDF(k; M, K_tar(k), n)``. The test is looked at
    after every record, so each level ``k = j`` gets its own share of α,
    ``α_j = α · w_j`` with ``w_j = 6 / (π² (j + 1)²)`` (Σ w_j = 1): the rule stops at the
    first ``n`` with ``HypergeomCDF(k; M, K_tar(k), n) < α_k``.

    Guarantee: for every placement of the relevant records, P(stop with recall < τ) ≤ α.
    Proof: fix the true ``K``. Stopping with recall < τ means stopping at some ``n`` with
    ``k_n = j`` for a ``j`` with ``K ≥ K_tar(j)`` and ``n ≥ n_j`` (the first size at which
    level ``j`` may stop: the CDF falls as ``n`` grows); since ``k`` never decreases,
    ``k_{n_j} ≤ j``. So the failure lies in the union over such ``j`` of
    ``{k_{n_j} ≤ j}``, each of probability ``HypergeomCDF(j; M, K, n_j) ≤
    HypergeomCDF(j; M, K_tar(j), n_j) < α_j``, and the sum is below α. The tests check it by
    simulation on configurations with recall just below the target
    (``tests/screening/test_stopping_two_phase.py``), and that the check fails for a rule
    that counts one hidden record too many.

    Its price: ``certified_floor`` shows that no rule with this guarantee can stop much
    earlier when a stage has few relevant records (with 23 of 2,333, it must screen about
    78 % of them on average); the hypergeometric rule above stops earlier under its
    assumption, not under this guarantee.

    Assumptions the software enforces: the sample is served in a random order the team does
    not choose (the next-record walk reads random keys in phase 2), records in progress are
    settled before the rule says stop (a disagreement must not delay a relevant record out
    of the sample), and the switch does not look at records after it.
    """
    pct, conf = f"{recall_target:.0%}", f"{confidence:.0%}"
    name = f"Two-phase random sample (recall ≥ {pct}, {conf} confidence)"
    method = (
        "Callaghan & Müller-Hansen (Syst Rev 2020), two-phase: prioritise until the "
        "ranking flattens, then screen the remaining records in a random order. Under "
        "random sampling the hypergeometric test of “recall is below the target” is exact, "
        "whatever the model did: with probability at least "
        f"{conf}, recall is at least {pct} when it says stop."
    )
    alpha = 1 - confidence
    seq = _as_array(ranked)
    if not state.switched:
        switch_run = max(SWITCH_RUN_MIN, math.ceil(SWITCH_RUN_SHARE * n_total))
        run = consecutive_irrelevant(seq)
        found = int(seq.sum())
        remaining = max(n_total - seq.size, 0)
        if_now = random_sample_needed(
            (),
            found_before=found,
            remaining=remaining,
            recall_target=recall_target,
            confidence=confidence,
        )
        flat = should_switch(seq, n_total)
        return RuleResult(
            key="two_phase",
            name=name,
            kind=GUARANTEE,
            stop=False,
            summary=(
                f"The ranking has flattened ({run} records since the last include): start "
                f"the random sample. It needs at least {if_now} of the {remaining} "
                "unscreened records, more if it finds relevant ones."
                if flat
                else f"Prioritising: {run} records since the last include; the ranking has "
                f"flattened after {switch_run} in a row. Were the random sample to start "
                f"now, it would need at least {if_now} of the {remaining} unscreened records."
            ),
            method=method,
            details={"phase": 1, "switch_run": switch_run, "needed": if_now, "flat": flat},
        )
    sample = _as_array(state.sample)
    p_all = random_sample_p(
        sample,
        found_before=state.found_before,
        remaining=state.remaining,
        recall_target=recall_target,
    )
    p = float(p_all[-1]) if p_all.size else 1.0
    needed = random_sample_needed(
        sample,
        found_before=state.found_before,
        remaining=state.remaining,
        recall_target=recall_target,
        confidence=confidence,
    )
    met = p < alpha
    stop = bool(met and state.in_progress == 0)
    k = int(sample.sum())
    if stop:
        summary = (
            f"Stop: {sample.size} random records screened, {k} relevant among them; with "
            f"{conf} confidence, recall ≥ {pct} (p = {p:.3f})."
        )
    elif met:
        summary = (
            f"The sample shows recall ≥ {pct} (p = {p:.3f}), but {state.in_progress} of its "
            "records are still being screened: settle them first."
        )
    else:
        summary = (
            f"Screen a random sample of {needed} more records (the order is random now): "
            f"{sample.size} of the {state.remaining} records unscreened at the switch are "
            f"screened, {k} relevant. If none of the next {needed} is relevant, recall ≥ "
            f"{pct} is shown with {conf} confidence (p = {p:.3f} now, needs < {alpha:.2f})."
        )
    return RuleResult(
        key="two_phase",
        name=name,
        kind=GUARANTEE,
        stop=stop,
        summary=summary,
        method=method,
        details={
            "phase": 2,
            "p": p,
            "needed": needed,
            "sample": int(sample.size),
            "sample_relevant": k,
            "remaining_at_switch": state.remaining,
            "found_before": state.found_before,
            "target": recall_target,
        },
    )


def certified_floor(
    n_total: int, relevant: int, *, recall_target: float = 0.95, confidence: float = 0.95
) -> int:
    """The fewest records, on average, that ANY rule with the guarantee "for every placement
    of the relevant records, P(recall ≥ target) ≥ confidence" must screen on a stage of
    ``n_total`` records of which ``relevant`` are relevant, once it has found them all.

    Proof: let ``m = ⌊R/τ − R⌋ + 1`` (the fewest extra relevant records that would put
    recall below τ). Make any ``m`` of the ``N − R`` irrelevant records relevant: until the
    rule touches one of them it sees the same labels and acts the same, and it must touch
    one with probability ≥ 1 − α. Averaged over all such m-sets, P(all m unscreened) =
    E[C(U, m)] / C(N − R, m) ≤ α, where U is the number left unscreened; C(·, m) is convex,
    so C(E[U], m) ≤ α C(N − R, m). The floor is N − (the largest such E[U]).
    """
    alpha = 1 - confidence
    irrelevant = n_total - relevant
    if relevant <= 0 or irrelevant <= 0:
        return n_total
    m = math.floor(relevant / recall_target - relevant + 1e-9) + 1
    if m > irrelevant:
        return relevant
    # log C(u, m) ≤ log α + log C(N − R, m), for the largest integer u (binary search).
    from scipy.special import gammaln

    def log_comb(u: float) -> float:
        return float(gammaln(u + 1) - gammaln(m + 1) - gammaln(u - m + 1))

    limit = math.log(alpha) + log_comb(irrelevant)
    lo, hi = m - 1, irrelevant  # C(m − 1, m) = 0 always fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if log_comb(mid) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return n_total - lo


def two_phase_stop(
    ranked_then_random: object,
    n_total: int,
    rng: np.random.Generator,
    *,
    recall_target: float = 0.95,
    confidence: float = 0.95,
) -> tuple[int, int]:
    """Simulate the two-phase rule on a labelled ranking (the bench and tests): walk the
    ranking until ``should_switch``, shuffle the rest with ``rng`` and screen it until the
    test stops. Returns (records screened at stop, relevant found by then)."""
    order = _as_array(ranked_then_random)
    if order.size != n_total:
        raise ValueError("the ranking must hold every record of the stage")
    run_needed = max(SWITCH_RUN_MIN, math.ceil(SWITCH_RUN_SHARE * n_total))
    hits = np.flatnonzero(order)
    switch = n_total
    if hits.size:
        # the first position after the first include where the run since the last include
        # reaches run_needed
        gaps_end = np.append(hits[1:], n_total)  # next include after each include
        long = np.flatnonzero(gaps_end - hits - 1 >= run_needed)
        if long.size:
            switch = int(hits[long[0]] + run_needed + 1)
    found_before = int(order[:switch].sum())
    rest = order[switch:].copy()
    rng.shuffle(rest)
    p = random_sample_p(
        rest, found_before=found_before, remaining=rest.size, recall_target=recall_target
    )
    ok = np.flatnonzero(p < 1 - confidence)
    n = int(ok[0]) + 1 if ok.size else rest.size
    return switch + n, found_before + int(rest[:n].sum())
