"""From a form's values to effect sizes and a meta-analysis: what the live effect-size panel,
the synthesis page, its downloads and the API all call. Pure (no ORM): the caller passes each
study's label and values; the numbers come from ``extraction.synthesis``, the engine the
``metaanalysis`` command uses.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from extraction.effect_inputs import Comparison, InvalidCell, comparisons_of, effect_tables
from extraction.spec import FormSpec, clean_values
from extraction.synthesis import (
    EffectSet,
    EffectSize,
    Exclusion,
    Measure,
    MetaResult,
    Method,
    SubgroupResult,
    SynthesisError,
    compute_effects,
    mantel_haenszel,
    meta_analyse,
    subgroup_analysis,
)
from extraction.synthesis.effects import missing_inputs
from reviewflow.exports import safe_cell

__all__ = [
    "METHODS",
    "Analysis",
    "LiveComparison",
    "LiveEffect",
    "OutcomeChoice",
    "StudyInput",
    "live_comparisons",
    "live_values",
    "outcome_choices",
    "inputs_csv",
    "results_csv",
    "run_analysis",
    "scale_of",
    "subgroup_fields",
]

# MH is offered for binary measures only; the rest are ``Method`` values.
METHODS = {
    "FE": "Fixed effect, inverse variance",
    "MH": "Fixed effect, Mantel–Haenszel (binary)",
    "DL": "Random effects, DerSimonian–Laird",
    "REML": "Random effects, REML",
}
SUBGROUP_KINDS = ("short_text", "single_choice", "boolean", "integer", "decimal", "date")


def scale_of(measure: Measure) -> Callable[[float], float]:
    """From the analysis scale to the measure's own (exp for OR and RR)."""
    if measure.is_ratio:
        return math.exp
    return float


def _effect(
    comparison: Comparison, measure: Measure, study: str, subgroup: str | None = None
) -> EffectSize | Exclusion:
    """The comparison's effect for ``measure``, an ``Exclusion`` naming the missing inputs in
    the form's words, or ``SynthesisError`` for an invalid value."""
    values = dict(comparison.values)
    if comparison.kind == "reported" and comparison.measure != measure:
        reason = (
            f"reports a {comparison.measure.value}, not a {measure.value}"
            if comparison.measure is not None
            else "its reported estimate has no measure"
        )
        return Exclusion(study, reason, subgroup=subgroup)
    gap = missing_inputs(values, measure)
    if gap:
        words = comparison.human([g for g in gap if g in comparison.names] or gap)
        return Exclusion(study, "missing: " + "; ".join(words), subgroup=subgroup)
    result = compute_effects([(study, values, subgroup)], measure)
    return result.effects[0] if result.effects else result.excluded[0]


@dataclass(frozen=True)
class LiveEffect:
    measure: Measure
    effect: EffectSize | None = None
    missing: str = ""
    error: str = ""
    invalid: str = ""  # the inputs typed but not valid, each named with why

    def shown(self) -> dict[str, Any]:
        """The numbers on the measure's own scale (ratios back from the log scale)."""
        e = self.effect
        if e is None:
            return {}
        back = scale_of(self.measure)
        return {
            "estimate": back(e.yi),
            "ci_low": back(e.ci_low),
            "ci_high": back(e.ci_high),
            "yi": e.yi,
            "vi": e.vi,
            "se": e.se,
            "corrected": e.corrected,
            "note": e.note,
        }


@dataclass(frozen=True)
class LiveComparison:
    comparison: Comparison
    effects: tuple[LiveEffect, ...]


_INPUT_NAME = re.compile(r"\b(ai|bi|ci|di|n1i|n2i|m1i|m2i|sd1i|sd2i|se|estimate|ci_low|ci_high)\b")


def _in_form_words(message: str, comparison: Comparison) -> str:
    """An engine message ("ai (12 events) is more than n1i (10 participants)") with each
    input named as the form names it ("Events (arm 1: Drug) ...")."""
    return _INPUT_NAME.sub(lambda m: comparison.names.get(m.group(1), m.group(1)), message)


def live_values(spec: FormSpec, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The values typed so far, cleaned as a draft is, except in the tables that hold effect
    inputs: there a cell that does not clean stays as an ``InvalidCell`` saying why (and a
    row none of whose cells cleaned stays too), so the panel can call an input invalid, not
    missing."""
    values, _ = clean_values(spec, raw, complete=False)
    for table in effect_tables(spec):
        rows = raw.get(table.key)
        if isinstance(rows, Mapping):
            try:
                rows = [rows[k] for k in sorted(rows, key=lambda k: int(k))]
            except (TypeError, ValueError):
                continue
        if not isinstance(rows, list | tuple):
            continue
        kept: list[dict[str, Any]] = []
        for raw_row in rows:
            if not isinstance(raw_row, Mapping):
                continue
            cleaned, errors = clean_values(spec, {table.key: [raw_row]}, complete=False)
            row: dict[str, Any] = dict((cleaned.get(table.key) or [{}])[0])
            for error in errors:
                if error.column is not None and error.column not in row:
                    typed = raw_row.get(error.column)
                    row[error.column] = InvalidCell(str(typed), error.message)
            if row:
                kept.append(row)
        if kept:
            values[table.key] = kept
    return values


def live_comparisons(spec: FormSpec, values: Mapping[str, Any]) -> list[LiveComparison]:
    """Each comparison in the values typed so far (``live_values``), with every measure its
    inputs can give; a measure that cannot be computed says which inputs are invalid and
    why, which are missing, or what is wrong with the numbers, in the form's words."""
    out = []
    for comparison in comparisons_of(spec, values):
        effects = []
        invalid = "; ".join(
            f"{comparison.names.get(name, name)}: {why}" for name, why in comparison.invalid.items()
        )
        for measure in comparison.measures:
            try:
                result = _effect(comparison, measure, comparison.label)
            except SynthesisError as exc:
                message = _in_form_words(str(exc).split("': ", 1)[-1], comparison)
                effects.append(LiveEffect(measure, error=message, invalid=invalid))
                continue
            if isinstance(result, Exclusion):
                missing = result.reason
                if invalid and missing.startswith("missing: "):
                    # An invalid input is not also called missing.
                    gap = missing_inputs(comparison.values, measure)
                    absent = [g for g in gap if g not in comparison.invalid]
                    missing = "missing: " + "; ".join(comparison.human(absent)) if absent else ""
                effects.append(LiveEffect(measure, missing=missing, invalid=invalid))
            else:
                effects.append(LiveEffect(measure, effect=result))
        if not comparison.measures and invalid:
            comparison.notes.append(f"invalid: {invalid}")
        out.append(LiveComparison(comparison, tuple(effects)))
    return out


@dataclass(frozen=True)
class StudyInput:
    """One study with a final consensus: its label and values."""

    study_id: int
    label: str
    values: Mapping[str, Any]


@dataclass(frozen=True)
class OutcomeChoice:
    key: str
    label: str
    kind: str  # binary | continuous | reported
    measures: tuple[Measure, ...]
    studies: int


def outcome_choices(spec: FormSpec, studies: Sequence[StudyInput]) -> list[OutcomeChoice]:
    """The outcomes the studies report (table × outcome × time point), in first-seen order."""
    seen: dict[str, dict[str, Any]] = {}
    for study in studies:
        for c in comparisons_of(spec, study.values):
            item = seen.setdefault(
                c.key,
                {"label": f"{c.label} ({c.table_label})", "kinds": [], "measures": [], "n": set()},
            )
            item["n"].add(study.study_id)
            if c.kind not in item["kinds"]:
                item["kinds"].append(c.kind)
            for m in c.measures:
                if m not in item["measures"]:
                    item["measures"].append(m)
    order = list(Measure)
    return [
        OutcomeChoice(
            key,
            item["label"],
            item["kinds"][0] if len(item["kinds"]) == 1 else "mixed",
            tuple(sorted(item["measures"], key=order.index)),
            len(item["n"]),
        )
        for key, item in seen.items()
    ]


def subgroup_fields(spec: FormSpec) -> list[tuple[str, str]]:
    """(key, label) of the form's fields that can split studies into subgroups."""
    return [(f.key, f.label) for f in spec.fields() if f.kind in SUBGROUP_KINDS]


@dataclass
class Analysis:
    outcome: OutcomeChoice
    measure: Measure
    method: str
    knha: bool
    subgroup_field: str
    effects: EffectSet
    result: MetaResult | None = None
    subgroups: SubgroupResult | None = None
    error: str = ""
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (study, why)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": {"key": self.outcome.key, "label": self.outcome.label},
            "measure": self.measure.value,
            "method": self.method,
            "knha": self.knha,
            "subgroup_field": self.subgroup_field or None,
            "studies": [
                {
                    **{k: v for k, v in e.to_dict().items() if k != "note"},
                    "subgroup": e.subgroup,
                    "note": e.note,
                    "weight": self.weight(e.study),
                }
                for e in self.effects.effects
            ],
            "left_out": [{"study": s, "reason": r} for s, r in self.left_out],
            "result": self.result.to_dict() if self.result is not None else None,
            "subgroups": self.subgroups.to_dict() if self.subgroups is not None else None,
            "error": self.error,
        }

    def weight(self, study: str) -> float | None:
        if self.result is None:
            return None
        return dict(zip(self.result.studies, self.result.weights, strict=True)).get(study)


def _subgroup_of(values: Mapping[str, Any], key: str) -> str | None:
    if not key:
        return None
    value = values.get(key)
    if value is None or value == "":
        return "(not recorded)"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def run_analysis(
    spec: FormSpec,
    studies: Sequence[StudyInput],
    *,
    outcome: OutcomeChoice,
    measure: Measure,
    method: str,
    knha: bool = False,
    subgroup_field: str = "",
    level: float = 0.95,
) -> Analysis:
    """Pool one outcome over the studies. A study without the outcome, or without the inputs
    the measure needs, is left out with the reason; an invalid value in one study is named
    (with the study) rather than stopping the page."""
    effects = EffectSet(measure)
    left_out: list[tuple[str, str]] = []
    for study in studies:
        matches = [c for c in comparisons_of(spec, study.values) if c.key == outcome.key]
        if not matches:
            left_out.append((study.label, "does not report this outcome"))
            continue
        subgroup = _subgroup_of(study.values, subgroup_field)
        try:
            one = _effect(matches[0], measure, study.label, subgroup)
        except SynthesisError as exc:
            left_out.append((study.label, str(exc).split("': ", 1)[-1]))
            continue
        if isinstance(one, Exclusion):
            effects.excluded.append(one)
            left_out.append((study.label, one.reason))
        else:
            effects.effects.append(one)
    analysis = Analysis(outcome, measure, method, knha, subgroup_field, effects, left_out=left_out)
    try:
        mh = method == "MH"
        if mh and not measure.is_binary:
            raise SynthesisError(f"Mantel–Haenszel pools OR, RR or RD, not {measure.value}")
        if mh:
            analysis.result = mantel_haenszel(effects, level=level)
        else:
            analysis.result = meta_analyse(effects, method=Method(method), knha=knha, level=level)
        if subgroup_field and analysis.result is not None:
            analysis.subgroups = subgroup_analysis(
                effects,
                method=Method.FE if mh else Method(method),
                knha=knha,
                mh=mh,
                level=level,
            )
    except SynthesisError as exc:
        analysis.result, analysis.subgroups, analysis.error = None, None, str(exc)
    return analysis


RESULT_HEADER = [
    "study",
    "subgroup",
    "measure",
    "estimate",
    "ci_low",
    "ci_high",
    "yi",
    "vi",
    "se",
    "weight_percent",
    "note",
]


def results_csv(analysis: Analysis) -> str:
    """The studies' effects and the pooled result as CSV (estimates on the measure's scale,
    ``yi``/``vi`` on the analysis scale); every text cell made formula-safe."""
    back = scale_of(analysis.measure)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(RESULT_HEADER)
    m = analysis.measure.value
    for e in analysis.effects.effects:
        writer.writerow(
            [
                safe_cell(e.study),
                safe_cell(e.subgroup or ""),
                m,
                back(e.yi),
                back(e.ci_low),
                back(e.ci_high),
                e.yi,
                e.vi,
                e.se,
                analysis.weight(e.study),
                safe_cell(e.note),
            ]
        )
    r = analysis.result
    if r is not None:
        label = (
            f"Pooled ({r.method_label}; k={r.k}; tau2={r.tau2:.6g}; I2={r.i2:.4g}%; Q={r.q:.6g})"
        )
        writer.writerow(
            [
                label,
                "",
                m,
                back(r.estimate),
                back(r.ci_low),
                back(r.ci_high),
                r.estimate,
                r.se**2,
                r.se,
                100.0,
                "",
            ]
        )
    for study, reason in analysis.left_out:
        writer.writerow(
            [safe_cell(study), "", m, "", "", "", "", "", "", "", safe_cell(f"left out: {reason}")]
        )
    return buffer.getvalue()


INPUT_COLUMNS = (
    "ai", "bi", "ci", "di", "n1i", "n2i", "m1i", "sd1i", "m2i", "sd2i",
    "estimate", "ci_low", "ci_high", "se",
)  # fmt: skip


def inputs_csv(spec: FormSpec, studies: Sequence[StudyInput], analysis: Analysis) -> str:
    """One row per study of the outcome: its inputs in metafor's column names (what
    ``escalc``, Stata's ``meta esize`` and our ``metaanalysis`` command read), its arms, and
    its ``yi``/``vi`` for the analysis's measure (empty when left out)."""
    effects = {e.study: e for e in analysis.effects.effects}
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(
        ["study", "subgroup", "outcome", "time_point", "arm1", "arm2", *INPUT_COLUMNS,
         "measure", "yi", "vi"]
    )  # fmt: skip
    for study in studies:
        match = next(
            (c for c in comparisons_of(spec, study.values) if c.key == analysis.outcome.key), None
        )
        if match is None:
            continue
        arms = [*match.arms, "", ""][:2]
        effect = effects.get(study.label)
        writer.writerow(
            [
                safe_cell(study.label),
                safe_cell(_subgroup_of(study.values, analysis.subgroup_field) or ""),
                safe_cell(match.outcome),
                safe_cell(match.time_point),
                *(safe_cell(a) for a in arms),
                *(_cell(match.values.get(c)) for c in INPUT_COLUMNS),
                analysis.measure.value,
                effect.yi if effect is not None else "",
                effect.vi if effect is not None else "",
            ]
        )
    return buffer.getvalue()


def _cell(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:g}" if float(value).is_integer() else repr(float(value))
