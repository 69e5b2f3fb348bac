"""The summary-of-findings table of a form: one row per outcome, from the meta-analysis of
the final consensus (RR for binary outcomes, MD for continuous ones, a reported estimate's
own measure; pooled by the method the owners chose for the outcome, random effects REML
until they choose), the GRADE proposals of ``extraction/grade.py`` and the owners' saved
judgements. Binary outcomes get absolute effects per 1,000 from the assumed control risk
the owners chose (the control arms pooled until they choose). Written as HTML (the page
and a standalone file) and as DOCX (python-docx)."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django.template.loader import render_to_string
from docx import Document
from docx.shared import Pt

from extraction import exports, robplots
from extraction.effect_inputs import comparisons_of
from extraction.grade import (
    CERTAINTY_LABELS,
    DESIGNS,
    DOMAINS,
    LEVELS,
    Judgement,
    certainty,
    control_risk,
    control_risk_label,
    corresponding_risk,
    propose,
)
from extraction.models import Form, FormStatus, GradeAssessment, GradeControlRisk, GradeMethod
from extraction.selectors import form_spec
from extraction.services.grade import GradeSettings, settings_of
from extraction.spec import FormSpec
from extraction.synthesis import Measure
from extraction.synthesis_inputs import consensus_studies
from extraction.synthesis_run import (
    Analysis,
    OutcomeChoice,
    StudyInput,
    outcome_choices,
    run_analysis,
    scale_of,
)
from reviewflow.reviews.access import ReviewAccess

__all__ = ["SofRow", "sof_docx", "sof_html", "sof_rows"]


@dataclass
class SofRow:
    outcome: OutcomeChoice
    analysis: Analysis
    participants: int
    design: str
    proposals: dict[str, Judgement | None]
    judgements: dict[str, Judgement]
    saved: bool
    settings: GradeSettings = field(default_factory=GradeSettings)
    acr: float | None = None
    acr_source: str = ""  # where the assumed control risk comes from, for the table
    absolute: dict[str, float] = field(default_factory=dict)

    @property
    def method_label(self) -> str:
        """How the row is pooled, for the table: "Random effects, REML, Hartung–Knapp"."""
        label = GradeMethod(self.settings.method).label
        return f"{label}, Hartung–Knapp" if self.settings.knha else label

    @property
    def binary(self) -> bool:
        return self.analysis.measure.is_binary

    @property
    def certainty(self) -> str:
        return certainty(self.design, self.judgements)

    @property
    def certainty_label(self) -> str:
        return CERTAINTY_LABELS[self.certainty]

    @property
    def relative(self) -> str:
        r = self.analysis.result
        if r is None:
            return "not estimable"
        back = scale_of(r.measure)
        digits = 3 if r.measure == Measure.RD else 2
        return (
            f"{r.measure.value} {back(r.estimate):.{digits}f} "
            f"({back(r.ci_low):.{digits}f} to {back(r.ci_high):.{digits}f})"
        )

    @property
    def downgrades(self) -> list[str]:
        return [
            f"{DOMAINS[d]}: {LEVELS[j.level].lower()} ({j.reason})" if j.reason else DOMAINS[d]
            for d, j in self.judgements.items()
            if j.level != "not_serious"
        ]

    @property
    def domains(self) -> list[tuple[str, str, Judgement, Judgement | None]]:
        return [(d, DOMAINS[d], self.judgements[d], self.proposals.get(d)) for d in DOMAINS]


def _measure(outcome: OutcomeChoice) -> Measure | None:
    for wanted in (Measure.RR, Measure.MD):
        if wanted in outcome.measures:
            return wanted
    return outcome.measures[0] if outcome.measures else None


def _rob_overall(access: ReviewAccess, studies: Sequence[StudyInput]) -> dict[str, str | None]:
    """Each study's overall risk-of-bias judgement (label → stored value) from the final
    consensus of the review's newest risk-of-bias form that has one."""
    forms = Form.objects.filter(review=access.review).exclude(status=FormStatus.DRAFT)
    labels = {s.study_id: s.label for s in studies}
    for form in forms.order_by("-published_at", "-pk"):
        spec = form_spec(form)
        if robplots.plotted_tool(spec) is None:
            continue
        rows = exports.build_export(review=access.review, forms=[form], visible_to=access.user)
        judged = [(r["study_id"], r["values"]) for r in rows.forms[0].json["studies"]]
        data = robplots.form_plot_data(spec, [(str(pk), v) for pk, v in judged])
        if data is None or not data.studies:
            continue
        return {
            labels[int(s.label)]: s.judgements.get("overall")
            for s in data.studies
            if int(s.label) in labels
        }
    return {}


def _participants_and_control(
    spec: FormSpec, studies: Sequence[StudyInput], outcome: OutcomeChoice, pooled: set[str]
) -> tuple[int, list[tuple[float, float]]]:
    total, control = 0, []
    for study in studies:
        if study.label not in pooled:
            continue
        match = next((c for c in comparisons_of(spec, study.values) if c.key == outcome.key), None)
        if match is None:
            continue
        v = match.values
        n1 = v.get("n1i") or ((v.get("ai") or 0) + (v.get("bi") or 0))
        n2 = v.get("n2i") or ((v.get("ci") or 0) + (v.get("di") or 0))
        total += int(n1 + n2)
        if v.get("ci") is not None and n2:
            control.append((float(v["ci"] or 0), float(n2)))
    return total, control


def _assumed_control_risk(
    chosen: GradeSettings, control: Sequence[tuple[float, float]]
) -> tuple[float | None, str]:
    """The assumed control risk (a proportion) and where it comes from."""
    if chosen.control_risk == GradeControlRisk.TYPED and chosen.control_risk_per_1000 is not None:
        return (
            float(chosen.control_risk_per_1000) / 1000,
            control_risk_label("typed", 0, chosen.control_risk_source),
        )
    arms = [(e, n) for e, n in control if n > 0]
    acr = control_risk(arms, chosen.control_risk)
    return acr, control_risk_label(chosen.control_risk, len(arms)) if acr is not None else ""


def sof_rows(access: ReviewAccess, form: Form) -> list[SofRow]:
    """The table's rows, one per outcome the final consensus reports."""
    spec = form_spec(form)
    studies = consensus_studies(access, form)
    saved = {g.outcome_key: g for g in GradeAssessment.objects.filter(form=form)}
    rob = _rob_overall(access, studies)
    rows = []
    for outcome in outcome_choices(spec, studies):
        measure = _measure(outcome)
        if measure is None:
            continue
        stored = saved.get(outcome.key)
        chosen = settings_of(stored)
        analysis = run_analysis(
            spec,
            studies,
            outcome=outcome,
            measure=measure,
            method=chosen.method,
            knha=chosen.knha,
        )
        pooled = {e.study for e in analysis.effects.effects}
        participants, control = _participants_and_control(spec, studies, outcome, pooled)
        proposals = (
            propose(analysis.result, rob) if analysis.result is not None else dict.fromkeys(DOMAINS)
        )
        rated = stored is not None and set(stored.judgements) == set(DOMAINS)
        if stored is not None and rated:
            judgements = {d: Judgement(**stored.judgements[d]) for d in DOMAINS}
        else:
            judgements = {d: proposals[d] or Judgement("not_serious") for d in DOMAINS}
        row = SofRow(
            outcome=outcome,
            analysis=analysis,
            participants=participants,
            design=stored.design if stored is not None else "randomised",
            proposals=proposals,
            judgements=judgements,
            saved=rated,
            settings=chosen,
        )
        r = analysis.result
        if r is not None and measure.is_binary:
            acr, source = _assumed_control_risk(chosen, control)
            if acr is not None:
                back = scale_of(measure)
                row.acr = acr
                row.acr_source = source
                row.absolute = {
                    "control": 1000 * acr,
                    "estimate": 1000 * corresponding_risk(measure, acr, back(r.estimate)),
                    "low": 1000 * corresponding_risk(measure, acr, back(r.ci_low)),
                    "high": 1000 * corresponding_risk(measure, acr, back(r.ci_high)),
                }
        rows.append(row)
    return rows


def sof_html(form: Form, rows: Sequence[SofRow], *, review_title: str) -> str:
    """A standalone HTML document of the table (no script, styles in its own <style>: it is
    a download, not a page of ours)."""
    return render_to_string(
        "extraction/grade_export.html",
        {
            "form": form,
            "rows": rows,
            "review_title": review_title,
            "designs": DESIGNS,
            "footnote": FOOTNOTE,
        },
    )


FOOTNOTE = (
    "Pooled from the final consensus by the method under each relative effect. Risk with "
    "control: the assumed control risk, from the source under it (the control arms pooled, "
    "their median or mean risk, or a risk typed from another source). GRADE certainty starts "
    "high for randomised trials, low for observational studies, and drops a level per "
    "serious concern (two for very serious)."
)

HEADER = (
    "Outcome",
    "Participants (studies)",
    "Relative effect (95% CI)",
    "Risk with control",
    "Risk with intervention (95% CI)",
    "Certainty",
    "Reasons",
)


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def table_cells(row: SofRow) -> list[str]:
    """The row's cells as text (control characters XML cannot hold removed)."""
    a: Mapping[str, float] = row.absolute
    cells = [
        row.outcome.label,
        f"{row.participants} ({row.analysis.result.k if row.analysis.result else 0})",
        f"{row.relative}\n{row.method_label}",
        f"{a['control']:.0f} per 1,000\n({row.acr_source})" if a else "—",
        f"{a['estimate']:.0f} per 1,000 ({a['low']:.0f} to {a['high']:.0f})" if a else "—",
        f"{row.certainty_label} ({DESIGNS[row.design].lower()})",
        "; ".join(row.downgrades) or "No downgrade",
    ]
    return [_CONTROL.sub("", c) for c in cells]


def sof_docx(form: Form, rows: Sequence[SofRow], *, review_title: str) -> bytes:
    """The table as a Word document (python-docx)."""
    document = Document()
    document.add_heading(f"Summary of findings: {form.title}", level=1)
    document.add_paragraph(review_title)
    table = document.add_table(rows=1, cols=len(HEADER))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, HEADER, strict=True):
        cell.text = text
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row in rows:
        cells = table.add_row().cells
        for cell, text in zip(cells, table_cells(row), strict=True):
            cell.text = text
    for paragraph_row in table.rows:
        for cell in paragraph_row.cells:
            for run in cell.paragraphs[0].runs:
                run.font.size = Pt(9)
    document.add_paragraph(FOOTNOTE)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
