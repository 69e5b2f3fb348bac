"""What the synthesis page, its downloads and the API share: the studies' final consensus a
person may see, the analysis asked for in the query string, and the plots. Reads go through
the extraction export's rows, so the export's blinding applies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.shortcuts import get_object_or_404

from extraction import exports
from extraction.models import Form, FormStatus
from extraction.selectors import form_spec
from extraction.spec import FormSpec
from extraction.synthesis import Measure, SynthesisError
from extraction.synthesis.plots import forest_svg, funnel_svg
from extraction.synthesis_run import (
    METHODS,
    Analysis,
    OutcomeChoice,
    StudyInput,
    outcome_choices,
    run_analysis,
    subgroup_fields,
)
from reviewflow.params import choice_param
from reviewflow.reviews.access import ReviewAccess

__all__ = ["Choices", "analysis_for", "consensus_studies", "plot_svg", "synthesis_form"]


def synthesis_form(access: ReviewAccess, form_id: int) -> Form:
    """A published or superseded form of the review (drafts hold no consensus), else 404."""
    return get_object_or_404(
        Form.objects.exclude(status=FormStatus.DRAFT), pk=form_id, review=access.review
    )


def consensus_studies(access: ReviewAccess, form: Form) -> list[StudyInput]:
    """Each study with a final consensus the person may see, labelled "Author Year" (made
    unique by the record id), as the risk-of-bias plots label them."""
    data = exports.build_export(review=access.review, forms=[form], visible_to=access.user)
    rows = data.forms[0].json["studies"]
    labels = [
        " ".join(
            str(p)
            for p in ((row["first_author"] or "").split(",")[0].strip() or "Record", row["year"])
            if p
        )
        for row in rows
    ]
    return [
        StudyInput(
            row["study_id"],
            f"{label} ({row['study_id']})" if labels.count(label) > 1 else label,
            row["values"],
        )
        for label, row in zip(labels, rows, strict=True)
    ]


@dataclass
class Choices:
    outcomes: list[OutcomeChoice]
    outcome: OutcomeChoice | None
    measure: Measure | None
    method: str
    knha: bool
    subgroup: str
    subgroups: list[tuple[str, str]]


def read_choices(
    params: Any, spec: FormSpec, studies: list[StudyInput], *, strict: bool
) -> Choices:
    """The analysis asked for: outcome, measure, method, Hartung–Knapp, subgroup field; each
    a clean default when absent (and, for pages, when not one of the choices)."""
    outcomes = outcome_choices(spec, studies)
    by_key = {o.key: o for o in outcomes}
    key = choice_param(
        params,
        "outcome",
        choices=list(by_key),
        default=outcomes[0].key if outcomes else "",
        strict=strict,
    )
    outcome = by_key.get(key)
    measure: Measure | None = None
    method = "REML"
    if outcome is not None and outcome.measures:
        names = [m.value for m in outcome.measures]
        measure = Measure(
            choice_param(params, "measure", choices=names, default=names[0], strict=strict)
        )
        methods = [m for m in METHODS if m != "MH" or measure.is_binary]
        method = choice_param(params, "method", choices=methods, default="REML", strict=strict)
    fields = subgroup_fields(spec)
    knha = choice_param(params, "knha", choices=["1", "0"], default="0", strict=strict) == "1"
    subgroup = choice_param(
        params, "subgroup", choices=[k for k, _ in fields], default="", strict=strict
    )
    return Choices(outcomes, outcome, measure, method, knha and method != "MH", subgroup, fields)


def analysis_for(
    params: Any, access: ReviewAccess, form: Form, *, strict: bool = False
) -> tuple[Choices, Analysis | None, list[StudyInput], FormSpec]:
    spec = form_spec(form)
    studies = consensus_studies(access, form)
    choices = read_choices(params, spec, studies, strict=strict)
    analysis = None
    if choices.outcome is not None and choices.measure is not None:
        analysis = run_analysis(
            spec,
            studies,
            outcome=choices.outcome,
            measure=choices.measure,
            method=choices.method,
            knha=choices.knha,
            subgroup_field=choices.subgroup,
        )
    return choices, analysis, studies, spec


def plot_svg(analysis: Analysis, kind: str, title: str) -> str:
    """The forest (with subgroups when asked) or funnel plot; ``SynthesisError`` when it
    cannot be drawn (nothing pooled, or too few studies for a funnel)."""
    if analysis.result is None:
        raise SynthesisError(analysis.error or "nothing to plot")
    if kind == "funnel":
        return funnel_svg(analysis.effects, analysis.result)
    return forest_svg(analysis.effects, analysis.result, subgroups=analysis.subgroups, title=title)
