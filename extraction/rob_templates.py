"""Risk-of-bias form templates: Cochrane RoB 2, QUADAS-2, RoB 1, Newcastle–Ottawa and
ROBINS-I, each built from its tool's definitions (``extraction.rob``, ``extraction.rob2``).
``extraction.form_templates`` lists them with the other templates."""

from __future__ import annotations

from . import rob, rob2
from .rob import nos, quadas2, rob1, robins_i
from .spec import FieldSpec, FormSpec, SectionSpec

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


def _quadas2_domain(domain: str) -> SectionSpec:
    tool = {"tool": "quadas2", "domain": domain}
    number = domain[1:]
    fields: list[FieldSpec] = [
        FieldSpec(f"d{number}_description", quadas2.DESCRIBE[domain], "long_text")
    ]
    fields.extend(
        FieldSpec(
            "qd" + q.id.replace(".", "_"),
            f"{q.id} {q.text}",
            "single_choice",
            required=True,
            choices=q.answers,
            rob2={**tool, "question": q.id},
        )
        for q in quadas2.QUESTIONS[domain]
    )
    fields.append(
        FieldSpec(
            f"d{number}_judgement",
            f"Risk of bias: {quadas2.RISK_QUESTIONS[domain]}",
            "judgement",
            required=True,
            rob2=tool,
        )
    )
    if domain in quadas2.APPLICABILITY_QUESTIONS:
        fields.append(
            FieldSpec(
                f"d{number}_applicability",
                f"Concerns regarding applicability: {quadas2.APPLICABILITY_QUESTIONS[domain]}",
                "judgement",
                required=True,
                rob2={**tool, "aspect": "applicability"},
            )
        )
    return SectionSpec(
        f"Domain {number}: {quadas2.DOMAIN_TITLES[domain]}",
        description="Answer each signalling question yes, no or unclear. Following the "
        "QUADAS-2 guidance (not an algorithm), all yes proposes low risk and any no proposes "
        "high risk; a different judgement needs a reason.",
        fields=tuple(fields),
    )


def _quadas2() -> FormSpec:
    overall = SectionSpec(
        "Overall risk of bias",
        description="Proposed: the least favourable domain (low only if every domain is low).",
        fields=(
            FieldSpec(
                "overall_judgement",
                "Overall risk-of-bias judgement",
                "judgement",
                rob2={"tool": "quadas2", "domain": rob.OVERALL},
            ),
        ),
    )
    return FormSpec(
        title="QUADAS-2 (diagnostic accuracy studies)",
        description="Quality assessment of diagnostic accuracy studies, QUADAS-2 "
        "(Whiting et al., Ann Intern Med 2011;155:529-536): risk of bias in four domains and "
        "concerns regarding applicability in three.",
        extractors_needed=2,
        sections=(*(_quadas2_domain(d) for d in quadas2.DOMAINS), overall),
    )


def _rob1() -> FormSpec:
    sections = [
        SectionSpec(
            rob1.DOMAIN_TITLES[domain],
            fields=(
                FieldSpec(
                    f"d{domain[1:]}_support",
                    "Support for judgement",
                    "long_text",
                    help=rob1.SUPPORT_HELP[domain],
                ),
                FieldSpec(
                    f"d{domain[1:]}_judgement",
                    "Risk-of-bias judgement",
                    "judgement",
                    required=True,
                    rob2={"tool": "rob1", "domain": domain},
                ),
            ),
        )
        for domain in rob1.DOMAINS
    ]
    overall = SectionSpec(
        "Overall risk of bias",
        description="Optional: RoB 1 gives no rule for an overall judgement.",
        fields=(
            FieldSpec(
                "overall_judgement",
                "Overall risk-of-bias judgement",
                "judgement",
                rob2={"tool": "rob1", "domain": rob.OVERALL},
            ),
        ),
    )
    return FormSpec(
        title="Cochrane RoB 1 (randomized trials, 2011)",
        description="The Cochrane Collaboration's tool for assessing risk of bias (Higgins et "
        "al., Cochrane Handbook 5.1, table 8.5.a; BMJ 2011;343:d5928). RoB 1 has no "
        "signalling questions and no algorithm: judge each domain from the support you record.",
        extractors_needed=2,
        sections=(*sections, overall),
    )


def _nos(tool: nos.Nos, title: str, design: str) -> FormSpec:
    sections = [
        SectionSpec(
            tool.domain_titles[section],
            description=f"At most {nos.MAX_STARS[section]} "
            f"star{'s' if nos.MAX_STARS[section] > 1 else ''}; an option marked * earns one.",
            fields=tuple(
                FieldSpec(
                    "nos_" + q.id.lower(),
                    f"{q.id} {q.text}",
                    "single_choice",
                    required=True,
                    choices=q.answers,
                    rob2={"tool": tool.key, "domain": section, "question": q.id},
                )
                for q in tool.questions[section]
            ),
        )
        for section in nos.SECTIONS
    ]
    rating = SectionSpec(
        "Quality rating",
        description="Newcastle–Ottawa gives star counts only. The proposal converts them with "
        "the commonly used AHRQ thresholds (good: selection 3–4, comparability 1–2 and "
        f"{tool.domain_titles['outcome'].lower()} 2–3 stars; fair: selection 2 with the same; "
        "poor: selection 0–1, comparability 0 or "
        f"{tool.domain_titles['outcome'].lower()} 0–1). A different rating needs a reason.",
        fields=(
            FieldSpec(
                "overall_judgement",
                "Quality rating (AHRQ standards)",
                "judgement",
                required=True,
                rob2={"tool": tool.key, "domain": rob.OVERALL},
            ),
            FieldSpec("notes", "Notes", "long_text", help="E.g. the factors controlled for."),
        ),
    )
    return FormSpec(
        title=title,
        description=f"Newcastle–Ottawa Scale for {design} (Wells et al., ohri.ca): selection "
        "(4 stars), comparability (2), "
        f"{tool.domain_titles['outcome'].lower()} (3); 9 stars in all.",
        extractors_needed=2,
        sections=(*sections, rating),
    )


def _robins_i_domain(domain: str) -> SectionSpec:
    number = domain[1:]
    meta = {"tool": "robins_i", "domain": domain}
    fields = [
        FieldSpec(
            "ri" + q.id.replace(".", "_"),
            f"{q.id} {q.text}",
            "single_choice",
            required=not q.conditional,
            help=f"{q.condition_text}; otherwise answer NA." if q.conditional else "",
            choices=q.answers,
            rob2={**meta, "question": q.id},
        )
        for q in robins_i.QUESTIONS[domain]
    ]
    fields.append(
        FieldSpec(
            f"d{number}_judgement",
            f"Domain {number} risk-of-bias judgement",
            "judgement",
            required=True,
            rob2=meta,
        )
    )
    fields.append(
        FieldSpec(
            f"d{number}_support",
            f"Domain {number} support for judgement",
            "long_text",
            help="Quotes and reasons behind the answers and the judgement.",
        )
    )
    guidance = (
        "The guidance proposes low risk only when 1.1 is N or PN; otherwise judge from its "
        "criteria."
        if domain == "D1"
        else "ROBINS-I (2016) defines no rule from these answers to a judgement: judge from "
        "the guidance's criteria."
    )
    return SectionSpec(
        f"Domain {number}: {robins_i.DOMAIN_TITLES[domain]}",
        description="Y yes, PY probably yes, PN probably no, N no, NI no information, NA not "
        f"applicable. {guidance}",
        fields=tuple(fields),
    )


def _robins_i() -> FormSpec:
    overall = SectionSpec(
        "Overall risk of bias",
        description="Proposed: critical if any domain is critical; else serious if any is "
        "serious; else no information if any domain lacks information (when that domain is "
        "not a key one, judge otherwise and say why); low if every domain is low; otherwise "
        "moderate.",
        fields=(
            FieldSpec(
                "overall_judgement",
                "Overall risk-of-bias judgement",
                "judgement",
                required=True,
                rob2={"tool": "robins_i", "domain": rob.OVERALL},
            ),
        ),
    )
    preliminary = SectionSpec(
        "Preliminary considerations",
        fields=(
            FieldSpec("outcome", "Outcome being assessed", "short_text", required=True),
            FieldSpec(
                "effect_of_interest",
                "Effect of interest",
                "single_choice",
                required=True,
                choices=(
                    "Effect of assignment to intervention",
                    "Effect of starting and adhering to intervention",
                ),
                help="Domain 4 asks 4.1-4.2 for the first, 4.3-4.6 for the second.",
            ),
            FieldSpec(
                "confounders",
                "Confounding domains relevant to this study",
                "long_text",
            ),
        ),
    )
    return FormSpec(
        title="ROBINS-I (non-randomised studies of interventions, 2016)",
        description="Risk Of Bias In Non-randomised Studies of Interventions (Sterne et al., "
        "BMJ 2016;355:i4919), detailed guidance of 20 October 2016.",
        extractors_needed=2,
        sections=(
            preliminary,
            *(_robins_i_domain(d) for d in robins_i.DOMAINS),
            overall,
        ),
    )


def rob_templates() -> dict[str, FormSpec]:
    """The risk-of-bias templates by key, in the order the template list shows them."""
    return {
        "rob2": _rob2(),
        "quadas2": _quadas2(),
        "rob1": _rob1(),
        "nos-cohort": _nos(
            nos.COHORT_TOOL, "Newcastle–Ottawa Scale (cohort studies)", "cohort studies"
        ),
        "nos-case-control": _nos(
            nos.CASE_CONTROL_TOOL,
            "Newcastle–Ottawa Scale (case–control studies)",
            "case–control studies",
        ),
        "robins-i": _robins_i(),
    }
