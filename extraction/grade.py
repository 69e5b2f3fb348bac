"""GRADE certainty of evidence and the summary-of-findings table, pure (no ORM).

For each outcome the table gives the studies and participants pooled, the relative effect
with its CI, the absolute effect per 1,000 for a binary outcome, and the certainty: it
starts at high for randomised trials (low for observational studies) and drops a level for
each domain judged serious, two for very serious (GRADE Handbook, section 5).

What reviewflow proposes, for the owner to confirm or change with a reason:

- **Risk of bias**, from the final consensus of the review's risk-of-bias form: the share
  of the pooled weight coming from studies judged at high risk overall (RoB 2 "high", RoB 1
  "high", ROBINS-I "serious"/"critical", ...). Half the weight or more from high-risk
  studies: very serious; half or more from high-risk or some-concerns studies: serious.
  No risk-of-bias consensus for the studies: no proposal.
- **Inconsistency**, from I²: 50% or more serious, 75% or more very serious (the Cochrane
  Handbook's "substantial" and "considerable" heterogeneity, section 10.10.2).
- **Imprecision**, from the CI: it includes no effect: serious; for a ratio it also reaches
  both an appreciable benefit and an appreciable harm (below 0.75 and above 1.25, GRADE's
  default 25% relative risk reduction or increase): very serious. One study alone: serious.
- **Indirectness** and **publication bias** have no proposal (a funnel plot helps with the
  latter from 10 studies on).

The assumed control risk (ACR) of a binary outcome is, by default, the pooled risk of the
control arms (their events over their participants, the "study population" risk of
GRADEpro); an owner may choose the median or the mean of the control arms' own risks
instead, or type a risk per 1,000 with its source (a cohort study of the population the
review is about: GRADE Handbook 5.2.4, "baseline risk from observational studies"). The
intervention risk follows from the relative effect: RR × ACR; OR × ACR / (1 − ACR + OR ×
ACR); ACR + RD.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from extraction.synthesis import Measure, MetaResult

__all__ = [
    "DESIGNS",
    "DOMAINS",
    "LEVELS",
    "Judgement",
    "certainty",
    "control_risk",
    "control_risk_label",
    "corresponding_risk",
    "propose",
]

DOMAINS = {
    "risk_of_bias": "Risk of bias",
    "inconsistency": "Inconsistency",
    "indirectness": "Indirectness",
    "imprecision": "Imprecision",
    "publication_bias": "Publication bias",
}
LEVELS = {"not_serious": "Not serious", "serious": "Serious", "very_serious": "Very serious"}
DROP = {"not_serious": 0, "serious": 1, "very_serious": 2}
DESIGNS = {"randomised": "Randomised trials", "observational": "Observational studies"}
CERTAINTY = ("very_low", "low", "moderate", "high")
CERTAINTY_LABELS = {"high": "High", "moderate": "Moderate", "low": "Low", "very_low": "Very low"}
HIGH_RISK = {"high", "serious", "critical", "poor"}
SOME_CONCERNS = {"some_concerns", "moderate", "unclear", "fair"}
APPRECIABLE = (0.75, 1.25)


@dataclass(frozen=True)
class Judgement:
    level: str  # a key of LEVELS
    reason: str = ""

    @property
    def label(self) -> str:
        return LEVELS.get(self.level, self.level)


def certainty(design: str, judgements: Mapping[str, Judgement]) -> str:
    """The certainty after the downgrades: high, moderate, low or very_low."""
    start = 3 if design == "randomised" else 1
    drop = sum(DROP.get(j.level, 0) for j in judgements.values())
    return CERTAINTY[max(start - drop, 0)]


def _risk_of_bias(
    result: MetaResult, overall_by_study: Mapping[str, str | None] | None
) -> Judgement | None:
    if not overall_by_study:
        return None
    weights = dict(zip(result.studies, result.weights, strict=True))
    judged = {s: overall_by_study.get(s) for s in weights}
    if not any(judged.values()):
        return None
    high = sum(w for s, w in weights.items() if judged[s] in HIGH_RISK)
    concerns = sum(w for s, w in weights.items() if judged[s] in SOME_CONCERNS)
    unjudged = [s for s, j in judged.items() if not j]
    missing = f"; {len(unjudged)} stud{'y' if len(unjudged) == 1 else 'ies'} not assessed"
    tail = missing if unjudged else ""
    if high >= 50:
        return Judgement("very_serious", f"{high:.0f}% of the weight from high-risk studies{tail}")
    if high + concerns >= 50:
        return Judgement(
            "serious",
            f"{high + concerns:.0f}% of the weight from studies at high risk or with some "
            f"concerns{tail}",
        )
    return Judgement(
        "not_serious", f"{high + concerns:.0f}% of the weight from studies at risk{tail}"
    )


def _inconsistency(result: MetaResult) -> Judgement:
    if result.k < 2:
        return Judgement("not_serious", "one study: inconsistency cannot be judged")
    text = f"I² = {result.i2:.0f}%"
    if result.i2 >= 75:
        return Judgement("very_serious", f"{text}: considerable heterogeneity")
    if result.i2 >= 50:
        return Judgement("serious", f"{text}: substantial heterogeneity")
    return Judgement("not_serious", text)


def _imprecision(result: MetaResult) -> Judgement:
    back = math.exp if result.measure.is_ratio else float
    low, high = back(result.ci_low), back(result.ci_high)
    ci = f"CI {low:.2f} to {high:.2f}"
    null = 1.0 if result.measure.is_ratio else 0.0
    if result.k == 1:
        return Judgement("serious", f"one study ({ci})")
    if low <= null <= high:
        if result.measure.is_ratio and low < APPRECIABLE[0] and high > APPRECIABLE[1]:
            return Judgement(
                "very_serious", f"{ci}: includes appreciable benefit and appreciable harm"
            )
        return Judgement("serious", f"{ci}: includes no effect")
    return Judgement("not_serious", ci)


def propose(
    result: MetaResult, overall_by_study: Mapping[str, str | None] | None = None
) -> dict[str, Judgement | None]:
    """The proposed judgement of each domain (``None``: no proposal; the owner decides)."""
    return {
        "risk_of_bias": _risk_of_bias(result, overall_by_study),
        "inconsistency": _inconsistency(result),
        "indirectness": None,
        "imprecision": _imprecision(result),
        "publication_bias": None,
    }


def corresponding_risk(measure: Measure, acr: float, value: float) -> float:
    """The intervention-group risk for a control risk ``acr`` and an effect ``value`` on the
    measure's own scale (a ratio for OR and RR)."""
    if measure == Measure.RR:
        return acr * value
    if measure == Measure.OR:
        return acr * value / (1 - acr + acr * value)
    if measure == Measure.RD:
        return acr + value
    raise ValueError(f"{measure} has no absolute effect")


def control_risk(tables: Sequence[tuple[float, float]], how: str = "pooled") -> float | None:
    """The assumed control risk from the control arms' ``(events, total)``: ``pooled``
    Σ events / Σ participants; ``median`` or ``mean`` of each arm's events / total (arms
    without participants left out). ``None`` when no arm has participants."""
    arms = [(e, n) for e, n in tables if n > 0]
    if not arms:
        return None
    if how == "pooled":
        return sum(e for e, _ in arms) / sum(n for _, n in arms)
    risks = [e / n for e, n in arms]
    if how == "median":
        return statistics.median(risks)
    if how == "mean":
        return statistics.fmean(risks)
    raise ValueError(f"unknown control risk {how!r}")


def control_risk_label(how: str, arms: int, source: str = "") -> str:
    """Where the assumed control risk comes from, for the table."""
    plural = "arm" if arms == 1 else "arms"
    if how == "typed":
        return f"from {source}" if source else "typed"
    if how == "median":
        return f"median of {arms} control {plural}"
    if how == "mean":
        return f"mean of {arms} control {plural}"
    return f"{arms} control {plural} pooled"
