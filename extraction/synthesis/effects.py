"""Effect sizes of single studies, computed as metafor's ``escalc`` computes them.

Pure functions, no Django. Each study gives its effect ``yi`` on the analysis scale (the log
scale for OR and RR), its sampling variance ``vi`` and a Wald confidence interval.

Inputs, per study (the column names are metafor's):

- binary, a 2×2 table: ``ai``/``ci`` events and ``bi``/``di`` non-events in the treatment and
  control arms (or ``n1i``/``n2i`` arm totals instead of the non-events);
- continuous: ``m1i, sd1i, n1i`` and ``m2i, sd2i, n2i``, means, SDs and sizes of the arms;
- a reported estimate with its confidence interval (``estimate, ci_low, ci_high``, on the
  ratio scale for OR and RR, as papers report them) or its standard error (``estimate, se``,
  the SE on the analysis scale: of the log ratio for OR and RR).

Choices, each metafor's default unless said otherwise:

- Zero cells: a study with a zero in any of its four cells gets 1/2 added to all four
  (``escalc(add=1/2, to="only0")``); the effect says so (``corrected`` and ``note``).
- No events in either arm (or only events in both) for OR and RR: the study is excluded with
  the reason stated. This is metafor's ``drop00=TRUE`` (the default of ``rma.mh``, and what
  RevMan does); ``escalc`` and ``rma`` default to ``drop00=FALSE``, which would keep such a
  study with corrected counts. RD is estimable (0) and such a study is kept.
- Variances: the large-sample ones (``vtype="LS"``): OR ``1/ai+1/bi+1/ci+1/di``, RR
  ``1/ai-1/n1i+1/ci-1/n2i``, RD ``p1(1-p1)/n1i+p2(1-p2)/n2i``, MD ``sd1i²/n1i+sd2i²/n2i``
  (no equal-variance assumption).
- SMD is Hedges' g: Cohen's d on the pooled SD, times the *exact* small-sample correction
  ``c(m) = Γ(m/2) / (√(m/2) Γ((m-1)/2))`` with ``m = n1i+n2i-2`` (metafor's ``.cmicalc``,
  computed with log-gamma as metafor does), variance ``1/n1i+1/n2i+g²/(2(n1i+n2i))``.
  statsmodels' ``effectsize_smd`` uses the approximation ``1-3/(4N-9)`` and another variance
  (``N-3.94``), so its values differ from metafor's in the third decimal for small studies;
  we compute SMD ourselves. For OR, RR and RD, ``effect_2proportions`` below is checked
  against statsmodels' ``effectsize_2proportions`` in the tests.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from scipy.stats import norm

__all__ = [
    "BINARY_COLUMNS",
    "CONTINUOUS_COLUMNS",
    "RATIO_MEASURES",
    "REPORTED_COLUMNS",
    "EffectSet",
    "EffectSize",
    "Exclusion",
    "Measure",
    "SynthesisError",
    "compute_effects",
    "effect_2proportions",
    "effect_from_counts",
    "effect_from_means",
    "effect_from_reported",
    "hedges_correction",
    "missing_inputs",
]

ZERO_CELL_ADD = 0.5


class SynthesisError(ValueError):
    """An input the analysis cannot use, with a message a user can act on."""


class Measure(StrEnum):
    OR = "OR"
    RR = "RR"
    RD = "RD"
    MD = "MD"
    SMD = "SMD"

    @property
    def label(self) -> str:
        return {
            "OR": "odds ratio",
            "RR": "risk ratio",
            "RD": "risk difference",
            "MD": "mean difference",
            "SMD": "standardised mean difference (Hedges' g)",
        }[self.value]

    @property
    def is_ratio(self) -> bool:
        return self in RATIO_MEASURES

    @property
    def is_binary(self) -> bool:
        return self in (Measure.OR, Measure.RR, Measure.RD)

    @property
    def null_value(self) -> float:
        """No effect, on the analysis scale (log 1 = 0 for ratios)."""
        return 0.0


RATIO_MEASURES = frozenset({Measure.OR, Measure.RR})
BINARY_COLUMNS = ("ai", "bi", "ci", "di")
BINARY_TOTAL_COLUMNS = ("ai", "n1i", "ci", "n2i")
CONTINUOUS_COLUMNS = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")
REPORTED_COLUMNS = ("estimate", "ci_low", "ci_high", "se")


def _z(level: float) -> float:
    return float(norm.ppf(1 - (1 - level) / 2))


@dataclass(frozen=True)
class EffectSize:
    """One study's effect on the analysis scale (log for OR/RR) and its sampling variance.

    ``counts`` keeps the 2×2 table as given (before any correction), for Mantel–Haenszel.
    """

    study: str
    measure: Measure
    yi: float
    vi: float
    corrected: bool = False
    note: str = ""
    source: str = "counts"  # counts | means | reported
    counts: tuple[float, float, float, float] | None = None
    subgroup: str | None = None

    @property
    def se(self) -> float:
        return math.sqrt(self.vi)

    def ci(self, level: float = 0.95) -> tuple[float, float]:
        half = _z(level) * self.se
        return self.yi - half, self.yi + half

    @property
    def ci_low(self) -> float:
        return self.ci()[0]

    @property
    def ci_high(self) -> float:
        return self.ci()[1]

    def to_dict(self) -> dict[str, object]:
        low, high = self.ci()
        out: dict[str, object] = {
            "study": self.study,
            "yi": self.yi,
            "vi": self.vi,
            "se": self.se,
            "ci_low": low,
            "ci_high": high,
            "corrected": self.corrected,
        }
        if self.note:
            out["note"] = self.note
        if self.subgroup is not None:
            out["subgroup"] = self.subgroup
        return out


@dataclass(frozen=True)
class Exclusion:
    """A study left out of the analysis, and why (in words a reviewer can act on)."""

    study: str
    reason: str
    counts: tuple[float, float, float, float] | None = None
    subgroup: str | None = None

    def __str__(self) -> str:
        return f"study '{self.study}': {self.reason}"


@dataclass
class EffectSet:
    """The effects of one outcome, plus the studies that could not be used."""

    measure: Measure
    effects: list[EffectSize] = field(default_factory=list)
    excluded: list[Exclusion] = field(default_factory=list)

    @property
    def corrections(self) -> list[str]:
        return [f"study '{e.study}': {e.note}" for e in self.effects if e.corrected]


def hedges_correction(m: float) -> float:
    """The exact small-sample correction c(m) of Hedges (1981), as metafor's ``.cmicalc``."""
    if m <= 1:
        raise SynthesisError(f"Hedges' correction needs more than 1 degree of freedom, not {m:g}")
    return math.exp(math.lgamma(m / 2) - math.log(math.sqrt(m / 2)) - math.lgamma((m - 1) / 2))


def _fmt(value: float) -> str:
    return f"{value:g}"


def _check_counts(study: str, ai: float, bi: float, ci: float, di: float) -> None:
    for name, value in zip(BINARY_COLUMNS, (ai, bi, ci, di), strict=True):
        if value < 0:
            raise SynthesisError(f"study '{study}': {name} is negative ({_fmt(value)})")


def effect_2proportions(
    ai: float, bi: float, ci: float, di: float, measure: Measure
) -> tuple[float, float]:
    """``(yi, vi)`` of a 2×2 table with no zero cell (no correction applied here)."""
    n1, n2 = ai + bi, ci + di
    p1, p2 = ai / n1, ci / n2
    if measure == Measure.OR:
        return math.log(ai * di / (bi * ci)), 1 / ai + 1 / bi + 1 / ci + 1 / di
    if measure == Measure.RR:
        return math.log(p1 / p2), 1 / ai - 1 / n1 + 1 / ci - 1 / n2
    if measure == Measure.RD:
        return p1 - p2, p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
    raise SynthesisError(f"{measure} is not a measure for a 2×2 table")


def effect_from_counts(
    study: str,
    ai: float,
    bi: float,
    ci: float,
    di: float,
    measure: Measure,
    *,
    subgroup: str | None = None,
) -> EffectSize | Exclusion:
    """OR, RR or RD from events (``ai``, ``ci``) and non-events (``bi``, ``di``)."""
    measure = Measure(measure)
    _check_counts(study, ai, bi, ci, di)
    counts = (ai, bi, ci, di)
    if ai + bi == 0 or ci + di == 0:
        arm = "treatment" if ai + bi == 0 else "control"
        return Exclusion(study, f"the {arm} arm has no participants", counts, subgroup)
    if measure.is_ratio and ai == 0 and ci == 0:
        return Exclusion(
            study,
            f"no events in either arm: the {measure.label} is not estimable "
            "(excluded, as RevMan and metafor's drop00=TRUE do)",
            counts,
            subgroup,
        )
    if measure.is_ratio and bi == 0 and di == 0:
        return Exclusion(
            study,
            f"every participant in both arms had the event: the {measure.label} is not "
            "estimable (excluded, as RevMan and metafor's drop00=TRUE do)",
            counts,
            subgroup,
        )
    corrected = 0 in counts
    note = ""
    if corrected:
        ai, bi, ci, di = (x + ZERO_CELL_ADD for x in counts)
        note = "a cell is zero: 0.5 was added to all four cells"
    yi, vi = effect_2proportions(ai, bi, ci, di, measure)
    return EffectSize(study, measure, yi, vi, corrected, note, "counts", counts, subgroup=subgroup)


def effect_from_means(
    study: str,
    m1i: float,
    sd1i: float,
    n1i: float,
    m2i: float,
    sd2i: float,
    n2i: float,
    measure: Measure,
    *,
    subgroup: str | None = None,
) -> EffectSize | Exclusion:
    """MD or SMD (Hedges' g, exact correction) from the arms' means, SDs and sizes."""
    measure = Measure(measure)
    for name, value in (("sd1i", sd1i), ("sd2i", sd2i)):
        if value < 0:
            raise SynthesisError(f"study '{study}': {name} is negative ({_fmt(value)})")
    for name, value in (("n1i", n1i), ("n2i", n2i)):
        if value <= 0:
            raise SynthesisError(f"study '{study}': {name} must be at least 1, not {_fmt(value)}")
    if measure == Measure.MD:
        vi = sd1i**2 / n1i + sd2i**2 / n2i
        if vi == 0:
            return Exclusion(study, "both SDs are 0: the variance is 0", subgroup=subgroup)
        return EffectSize(study, measure, m1i - m2i, vi, source="means", subgroup=subgroup)
    if measure == Measure.SMD:
        m = n1i + n2i - 2
        if m <= 1:
            return Exclusion(
                study, "an SMD needs more than 3 participants in all", subgroup=subgroup
            )
        sdp = math.sqrt(((n1i - 1) * sd1i**2 + (n2i - 1) * sd2i**2) / m)
        if sdp == 0:
            return Exclusion(study, "the pooled SD is 0", subgroup=subgroup)
        g = hedges_correction(m) * (m1i - m2i) / sdp
        vi = 1 / n1i + 1 / n2i + g**2 / (2 * (n1i + n2i))
        return EffectSize(study, measure, g, vi, source="means", subgroup=subgroup)
    raise SynthesisError(f"{measure} is not a measure for means and SDs")


def effect_from_reported(
    study: str,
    estimate: float,
    measure: Measure,
    *,
    ci_low: float | None = None,
    ci_high: float | None = None,
    se: float | None = None,
    level: float = 0.95,
    subgroup: str | None = None,
) -> EffectSize:
    """An effect a paper reports: the estimate with its CI (natural scale) or its SE.

    For OR and RR the estimate and CI are ratios (as reported) and the SE is of the log
    ratio. The SE from a CI is its width on the analysis scale over 2·z.
    """
    measure = Measure(measure)
    if measure.is_ratio:
        for name, value in (("estimate", estimate), ("ci_low", ci_low), ("ci_high", ci_high)):
            if value is not None and value <= 0:
                raise SynthesisError(
                    f"study '{study}': {name} must be above 0 for a {measure.label}, "
                    f"not {_fmt(value)}"
                )
    yi = math.log(estimate) if measure.is_ratio else estimate
    if se is not None:
        if se <= 0:
            raise SynthesisError(f"study '{study}': se must be above 0, not {_fmt(se)}")
        note = "from the reported estimate and SE"
    elif ci_low is not None and ci_high is not None:
        if not ci_low < ci_high:
            raise SynthesisError(
                f"study '{study}': ci_low ({_fmt(ci_low)}) must be below ci_high ({_fmt(ci_high)})"
            )
        if not ci_low <= estimate <= ci_high:
            raise SynthesisError(
                f"study '{study}': the estimate {_fmt(estimate)} is outside its CI "
                f"({_fmt(ci_low)} to {_fmt(ci_high)})"
            )
        lo, hi = (math.log(ci_low), math.log(ci_high)) if measure.is_ratio else (ci_low, ci_high)
        se = (hi - lo) / (2 * _z(level))
        note = f"from the reported estimate and {level:.0%} CI"
    else:
        raise SynthesisError(f"study '{study}': ci_low and ci_high, or se, missing")
    return EffectSize(study, measure, yi, se**2, note=note, source="reported", subgroup=subgroup)


Row = Mapping[str, float | None]


def missing_inputs(row: Row, measure: Measure) -> list[str]:
    """What the study lacks for the measure ([] if nothing): named for the raw data (the
    2×2 table, or means/SDs/sizes), or for the reported estimate if the row has any of it."""
    measure = Measure(measure)
    has = {k for k, v in row.items() if v is not None}
    raw: list[tuple[str, ...]] = (
        [BINARY_COLUMNS, BINARY_TOTAL_COLUMNS] if measure.is_binary else [CONTINUOUS_COLUMNS]
    )
    reported: list[tuple[str, ...]] = [("estimate", "ci_low", "ci_high"), ("estimate", "se")]
    ways = raw + reported
    gaps = [[c for c in way if c not in has] for way in ways]
    if any(not gap for gap in gaps):
        return []
    if not has & set(REPORTED_COLUMNS):
        gaps = gaps[: len(raw)]
    elif not has - set(REPORTED_COLUMNS):
        if "estimate" in has:
            return ["ci_low and ci_high, or se"]
        gaps = gaps[len(raw) :]
    # The most nearly complete way; on a tie, the first (raw data before a reported one).
    return min(gaps, key=len)


def _effect_of_row(
    study: str, row: Row, measure: Measure, subgroup: str | None, level: float
) -> EffectSize | Exclusion:
    def v(name: str) -> float:
        value = row.get(name)
        assert value is not None
        return value

    gap = missing_inputs(row, measure)
    if gap:
        return Exclusion(study, f"{', '.join(gap)} missing", subgroup=subgroup)
    has = {k for k, val in row.items() if val is not None}
    if measure.is_binary and set(BINARY_COLUMNS) <= has:
        return effect_from_counts(
            study, v("ai"), v("bi"), v("ci"), v("di"), measure, subgroup=subgroup
        )
    if measure.is_binary and set(BINARY_TOTAL_COLUMNS) <= has:
        for events, total in (("ai", "n1i"), ("ci", "n2i")):
            if v(events) > v(total):
                raise SynthesisError(
                    f"study '{study}': {events} ({_fmt(v(events))} events) is more than "
                    f"{total} ({_fmt(v(total))} participants)"
                )
        return effect_from_counts(
            study,
            v("ai"),
            v("n1i") - v("ai"),
            v("ci"),
            v("n2i") - v("ci"),
            measure,
            subgroup=subgroup,
        )
    if not measure.is_binary and set(CONTINUOUS_COLUMNS) <= has:
        m1i, sd1i, n1i, m2i, sd2i, n2i = (v(c) for c in CONTINUOUS_COLUMNS)
        return effect_from_means(study, m1i, sd1i, n1i, m2i, sd2i, n2i, measure, subgroup=subgroup)
    return effect_from_reported(
        study,
        v("estimate"),
        measure,
        ci_low=row.get("ci_low"),
        ci_high=row.get("ci_high"),
        se=row.get("se"),
        level=level,
        subgroup=subgroup,
    )


def compute_effects(
    rows: Iterable[tuple[str, Row]] | Iterable[tuple[str, Row, str | None]],
    measure: Measure | str,
    *,
    level: float = 0.95,
) -> EffectSet:
    """Every study's effect, or why it has none. ``rows``: ``(study, values[, subgroup])``.

    Values are numbers or ``None`` (missing). Raw data win over a reported estimate when a
    row has both. Invalid values (a negative count, more events than participants) raise
    ``SynthesisError``; missing ones exclude the study with the names of what is missing.
    """
    measure = Measure(measure)
    out = EffectSet(measure)
    for item in rows:
        study, row = item[0], item[1]
        subgroup = item[2] if len(item) > 2 else None
        result = _effect_of_row(study, row, measure, subgroup, level)
        if isinstance(result, Exclusion):
            out.excluded.append(result)
        else:
            out.effects.append(result)
    return out
