"""Forms to start from: study characteristics, outcome data for meta-analysis, and the
risk-of-bias tools (``extraction.rob_templates``: RoB 2, QUADAS-2, RoB 1, Newcastle–Ottawa,
ROBINS-I).

A template is a plain ``FormSpec``; creating a form from one copies it, and the owner
edits the copy like any other draft. Every template passes ``check_form_spec`` (tested).
"""

from __future__ import annotations

from decimal import Decimal

from .rob_templates import rob_templates
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
TEMPLATES: dict[str, FormSpec] = {
    "study-characteristics": _study_characteristics(),
    "outcomes": _outcomes(),
    **rob_templates(),
}


def template_choices() -> list[tuple[str, str]]:
    """``(key, title)`` of every template, for a select box."""
    return [(key, spec.title) for key, spec in TEMPLATES.items()]
