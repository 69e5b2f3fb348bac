"""Forms to start from: study characteristics, outcome data for meta-analysis, Cochrane RoB 2.

A template is a plain ``FormSpec``; creating a form from one copies it, and the owner
edits the copy like any other draft. Every template passes ``check_form_spec`` (tested).
"""

from __future__ import annotations

from decimal import Decimal

from . import rob2
from .spec import ColumnSpec, FieldSpec, FormSpec, SectionSpec

__all__ = ["TEMPLATES", "template_choices"]

_ZERO = Decimal(0)


def _study_characteristics() -> FormSpec:
    design = FieldSpec(
        "design",
        "Study design",
        "single_choice",
        required=True,
        choices=(
            "Individually randomized parallel-group trial",
            "Cluster-randomized parallel-group trial",
            "Individually randomized cross-over trial",
            "Non-randomized controlled study",
            "Cohort study",
            "Case-control study",
            "Other",
        ),
    )
    return FormSpec(
        title="Study characteristics",
        description="Design, setting, population, interventions (PICO), arms and funding of "
        "each included study.",
        extractors_needed=2,
        sections=(
            SectionSpec(
                "Study",
                fields=(
                    design,
                    FieldSpec(
                        "registration",
                        "Trial registration",
                        "short_text",
                        help="Registry and number, e.g. NCT01234567 or ISRCTN12345678.",
                    ),
                    FieldSpec(
                        "country",
                        "Country",
                        "short_text",
                        required=True,
                        help="Country or countries where participants were recruited.",
                    ),
                    FieldSpec(
                        "setting",
                        "Setting",
                        "short_text",
                        help="E.g. primary care, 12 hospitals, schools.",
                    ),
                    FieldSpec(
                        "study_period",
                        "Study period",
                        "short_text",
                        help="Recruitment and follow-up dates as reported.",
                    ),
                ),
            ),
            SectionSpec(
                "Population",
                fields=(
                    FieldSpec("inclusion_criteria", "Inclusion criteria", "long_text"),
                    FieldSpec("exclusion_criteria", "Exclusion criteria", "long_text"),
                    FieldSpec(
                        "age",
                        "Age",
                        "short_text",
                        help="As reported, e.g. mean 54 (SD 9) or median 61 (range 18-90).",
                    ),
                    FieldSpec(
                        "women_percent",
                        "Women",
                        "decimal",
                        help="Share of randomized participants who are women.",
                        min=_ZERO,
                        max=Decimal(100),
                        unit="%",
                    ),
                    FieldSpec(
                        "n_randomized",
                        "Participants randomized",
                        "integer",
                        help="Total over all arms.",
                        min=_ZERO,
                    ),
                ),
            ),
            SectionSpec(
                "Interventions and outcomes",
                fields=(
                    FieldSpec("intervention", "Intervention", "long_text", required=True),
                    FieldSpec("comparator", "Comparator", "long_text", required=True),
                    FieldSpec(
                        "outcomes",
                        "Outcomes",
                        "long_text",
                        help="Outcomes measured and how, with time points.",
                    ),
                    FieldSpec("follow_up", "Length of follow-up", "short_text"),
                ),
            ),
            SectionSpec(
                "Arms",
                description="One row per arm, as randomized.",
                fields=(
                    FieldSpec(
                        "arms",
                        "Arms",
                        "table",
                        columns=(
                            ColumnSpec("arm", "Arm name", "short_text", required=True),
                            ColumnSpec("intervention", "Intervention", "short_text"),
                            ColumnSpec("n_randomized", "N randomized", "integer", min=_ZERO),
                        ),
                    ),
                ),
            ),
            SectionSpec(
                "Funding and conflicts of interest",
                fields=(
                    FieldSpec(
                        "funding_source",
                        "Funding source",
                        "multiple_choice",
                        choices=(
                            "Industry",
                            "Government or public body",
                            "Non-profit or charity",
                            "No funding",
                            "Not reported",
                        ),
                    ),
                    FieldSpec("funding_details", "Funders", "long_text"),
                    FieldSpec(
                        "conflicts_of_interest",
                        "Conflicts of interest",
                        "single_choice",
                        choices=("None declared", "Declared", "Not reported"),
                    ),
                    FieldSpec(
                        "conflicts_details",
                        "Conflicts of interest: details",
                        "long_text",
                    ),
                ),
            ),
            SectionSpec("Notes", fields=(FieldSpec("notes", "Notes", "long_text"),)),
        ),
    )


def _outcomes() -> FormSpec:
    outcome = ColumnSpec("outcome", "Outcome", "short_text", required=True)
    time_point = ColumnSpec(
        "time_point", "Time point", "short_text", required=True, help="E.g. 12 weeks."
    )
    arm = ColumnSpec("arm", "Arm", "short_text", required=True)
    return FormSpec(
        title="Outcome data",
        description="Results per arm and time point, in the shape meta-analysis needs: one "
        "row per outcome × time point × arm.",
        extractors_needed=2,
        sections=(
            SectionSpec(
                "Dichotomous outcomes",
                description="Number of participants with the event, and number analysed.",
                fields=(
                    FieldSpec(
                        "dichotomous",
                        "Dichotomous outcomes",
                        "table",
                        columns=(
                            outcome,
                            time_point,
                            arm,
                            ColumnSpec("events", "Events", "integer", required=True, min=_ZERO),
                            ColumnSpec("total", "Total", "integer", required=True, min=_ZERO),
                        ),
                    ),
                ),
            ),
            SectionSpec(
                "Continuous outcomes",
                description="Mean, standard deviation and number analysed.",
                fields=(
                    FieldSpec(
                        "continuous",
                        "Continuous outcomes",
                        "table",
                        columns=(
                            outcome,
                            time_point,
                            arm,
                            ColumnSpec("mean", "Mean", "decimal", required=True),
                            ColumnSpec("sd", "SD", "decimal", min=_ZERO),
                            ColumnSpec("n", "N", "integer", required=True, min=_ZERO),
                            ColumnSpec("unit", "Unit", "short_text", help="E.g. mmHg."),
                        ),
                    ),
                ),
            ),
            SectionSpec("Notes", fields=(FieldSpec("notes", "Notes", "long_text"),)),
        ),
    )


# What the domain's "predicted direction of bias" question asks about, in [G]'s words.
_DIRECTION_ABOUT = {
    "D1": "arising from the randomization process",
    "D2": "due to deviations from intended interventions",
    "D3": "due to missing outcome data",
    "D4": "in measurement of the outcome",
    "D5": "due to selection of the reported result",
    rob2.OVERALL: "for this outcome",
}


def _domain_section(domain: str) -> SectionSpec:
    number = domain[1:]
    fields: list[FieldSpec] = []
    for question in rob2.QUESTIONS[domain]:
        help_text = (
            f"{question.condition_text}; otherwise answer NA." if question.conditional else ""
        )
        fields.append(
            FieldSpec(
                "q" + question.id.replace(".", "_"),
                f"{question.id} {question.text}",
                "single_choice",
                required=not question.conditional,
                help=help_text,
                choices=question.answers,
                rob2={"domain": domain, "question": question.id},
            )
        )
    fields.extend(_judgement_fields(domain, f"d{number}"))
    return SectionSpec(
        f"Domain {number}: {rob2.DOMAIN_TITLES[domain]}",
        description="Y yes, PY probably yes, PN probably no, N no, NI no information, NA not "
        "applicable. The algorithm proposes a judgement from the answers; a different "
        "judgement needs a reason.",
        fields=tuple(fields),
    )


def _judgement_fields(domain: str, prefix: str) -> tuple[FieldSpec, ...]:
    name = "Overall" if domain == rob2.OVERALL else f"Domain {domain[1:]}"
    return (
        FieldSpec(
            f"{prefix}_judgement",
            f"{name} risk-of-bias judgement",
            "judgement",
            required=True,
            rob2={"domain": domain},
        ),
        FieldSpec(
            f"{prefix}_direction",
            f"Optional: What is the predicted direction of bias {_DIRECTION_ABOUT[domain]}?",
            "single_choice",
            choices=rob2.DIRECTIONS,
        ),
        FieldSpec(
            f"{prefix}_support",
            f"{name} support for judgement",
            "long_text",
            help="Quotes and reasons behind the answers and the judgement.",
        ),
    )


def _rob2() -> FormSpec:
    preliminary = SectionSpec(
        "Preliminary considerations",
        description="RoB 2 assesses one result. This form assesses the effect of assignment "
        "to intervention (the 'intention-to-treat' effect) in an individually randomized "
        "parallel-group trial.",
        fields=(
            FieldSpec("experimental", "Experimental intervention", "short_text", required=True),
            FieldSpec("comparator", "Comparator", "short_text", required=True),
            FieldSpec("outcome", "Outcome being assessed", "short_text", required=True),
            FieldSpec(
                "numerical_result",
                "Numerical result being assessed",
                "short_text",
                required=True,
                help="E.g. RR = 1.52 (95% CI 0.83 to 2.77), or where it is reported "
                "(table, figure or paragraph).",
            ),
            FieldSpec(
                "sources",
                "Sources of information",
                "multiple_choice",
                choices=(
                    "Journal article(s)",
                    "Trial protocol",
                    "Statistical analysis plan (SAP)",
                    "Non-commercial trial registry record",
                    "Company-owned trial registry record",
                    "Grey literature (e.g. unpublished thesis)",
                    "Conference abstract(s)",
                    "Regulatory document",
                    "Research ethics application",
                    "Grant database summary",
                    "Personal communication with trialist",
                    "Personal communication with the sponsor",
                ),
            ),
        ),
    )
    overall = SectionSpec(
        "Overall risk of bias",
        description="Proposed: low if every domain is low, high if any domain is high, "
        "otherwise some concerns. When some concerns in several domains substantially lower "
        "confidence in the result, judge high risk and give the reason.",
        fields=_judgement_fields(rob2.OVERALL, "overall"),
    )
    return FormSpec(
        title="Cochrane RoB 2 (individually randomized trials, effect of assignment)",
        description="Revised Cochrane risk-of-bias tool for randomized trials (RoB 2), "
        "guidance of 22 August 2019 (Sterne et al., BMJ 2019;366:l4898).",
        extractors_needed=2,
        sections=(preliminary, *(_domain_section(d) for d in rob2.DOMAINS), overall),
    )


TEMPLATES: dict[str, FormSpec] = {
    "study-characteristics": _study_characteristics(),
    "outcomes": _outcomes(),
    "rob2": _rob2(),
}


def template_choices() -> list[tuple[str, str]]:
    """``(key, title)`` of every template, for a select box."""
    return [(key, spec.title) for key, spec in TEMPLATES.items()]
