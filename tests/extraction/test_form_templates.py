"""The templates owners start from: valid forms, in the shape the issue asks for. No database."""

from __future__ import annotations

import json
from typing import Any

import pytest

from extraction import rob2
from extraction.form_templates import TEMPLATES, template_choices
from extraction.spec import FormSpec, check_form_spec, clean_values


def test_the_templates_are_offered():
    assert template_choices() == [
        ("study-characteristics", "Study characteristics"),
        ("outcomes", "Outcome data"),
        ("rob2", "Cochrane RoB 2 (individually randomized trials, effect of assignment)"),
        ("quadas2", "QUADAS-2 (diagnostic accuracy studies)"),
        ("rob1", "Cochrane RoB 1 (randomized trials, 2011)"),
        ("nos-cohort", "Newcastle–Ottawa Scale (cohort studies)"),
        ("nos-case-control", "Newcastle–Ottawa Scale (case–control studies)"),
        ("robins-i", "ROBINS-I (non-randomised studies of interventions, 2016)"),
    ]


@pytest.mark.parametrize("key", list(TEMPLATES))
def test_every_template_is_a_valid_form_that_survives_json(key):
    spec = TEMPLATES[key]
    check_form_spec(spec)
    assert FormSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert spec.extractors_needed == 2


def _kinds(spec: FormSpec) -> dict[str, str]:
    return {f.key: f.kind for f in spec.fields()}


def test_study_characteristics_cover_design_setting_population_pico_and_funding():
    spec = TEMPLATES["study-characteristics"]
    kinds = _kinds(spec)
    for key in (
        "design",
        "country",
        "setting",
        "inclusion_criteria",
        "age",
        "women_percent",
        "intervention",
        "comparator",
        "outcomes",
        "funding_source",
        "conflicts_of_interest",
    ):
        assert key in kinds, key
    assert kinds["arms"] == "table"
    arms = spec.field("arms")
    assert arms is not None
    assert [(c.key, c.kind) for c in arms.columns] == [
        ("arm", "short_text"),
        ("intervention", "short_text"),
        ("n_randomized", "integer"),
    ]


def test_a_filled_in_study_characteristics_form_submits():
    values = {
        "design": "Individually randomized parallel-group trial",
        "country": "Denmark",
        "women_percent": "52.0",
        "n_randomized": "240",
        "intervention": "Exercise programme, 12 weeks",
        "comparator": "Usual care",
        "funding_source": ["Government or public body", "Industry"],
        "arms": [
            {"arm": "Exercise", "intervention": "Exercise", "n_randomized": "120"},
            {"arm": "Control", "intervention": "Usual care", "n_randomized": "120"},
        ],
    }
    cleaned, errors = clean_values(TEMPLATES["study-characteristics"], values, complete=True)
    assert errors == []
    assert cleaned["women_percent"] == "52"
    assert cleaned["funding_source"] == ["Industry", "Government or public body"]
    assert cleaned["arms"][1] == {
        "arm": "Control",
        "intervention": "Usual care",
        "n_randomized": 120,
    }


def test_study_characteristics_reject_a_share_of_women_above_100():
    _, errors = clean_values(
        TEMPLATES["study-characteristics"], {"women_percent": "101"}, complete=False
    )
    assert [str(e) for e in errors] == ["Women: must be at most 100"]


def test_outcome_tables_have_the_columns_meta_analysis_needs():
    spec = TEMPLATES["outcomes"]
    dichotomous, continuous = spec.field("dichotomous"), spec.field("continuous")
    assert dichotomous is not None and continuous is not None
    assert [(c.key, c.kind, c.required) for c in dichotomous.columns] == [
        ("outcome", "short_text", True),
        ("time_point", "short_text", True),
        ("arm", "short_text", True),
        ("events", "integer", True),
        ("total", "integer", True),
    ]
    assert [(c.key, c.kind) for c in continuous.columns] == [
        ("outcome", "short_text"),
        ("time_point", "short_text"),
        ("arm", "short_text"),
        ("mean", "decimal"),
        ("sd", "decimal"),
        ("n", "integer"),
        ("unit", "short_text"),
    ]


def test_outcome_rows_are_checked_cell_by_cell():
    values = {
        "dichotomous": [
            {
                "outcome": "Death",
                "time_point": "1 year",
                "arm": "Drug",
                "events": "4",
                "total": "100",
            },
            {"outcome": "Death", "time_point": "1 year", "arm": "Placebo", "events": "-1"},
        ],
        "continuous": [
            {
                "outcome": "SBP",
                "time_point": "12 weeks",
                "arm": "Drug",
                "mean": "131.40",
                "sd": "12",
                "n": "98",
                "unit": "mmHg",
            },
        ],
    }
    cleaned, errors = clean_values(TEMPLATES["outcomes"], values, complete=True)
    assert [str(e) for e in errors] == [
        "Dichotomous outcomes, row 2, Events: must be at least 0",
        "Dichotomous outcomes, row 2, Total: This field is required.",
    ]
    assert cleaned["continuous"] == [
        {
            "outcome": "SBP",
            "time_point": "12 weeks",
            "arm": "Drug",
            "mean": "131.4",
            "sd": "12",
            "n": 98,
            "unit": "mmHg",
        }
    ]


def test_rob2_has_one_section_per_domain_with_the_guidance_questions():
    spec = TEMPLATES["rob2"]
    titles = [s.title for s in spec.sections]
    assert titles[0] == "Preliminary considerations"
    assert titles[1:6] == [f"Domain {d[1:]}: {rob2.DOMAIN_TITLES[d]}" for d in rob2.DOMAINS]
    assert titles[6] == "Overall risk of bias"
    for section, domain in zip(spec.sections[1:6], rob2.DOMAINS, strict=True):
        questions = [f for f in section.fields if f.rob2 and "question" in f.rob2]
        assert [f.rob2["question"] for f in questions if f.rob2] == [
            q.id for q in rob2.QUESTIONS[domain]
        ]
        for fld, question in zip(questions, rob2.QUESTIONS[domain], strict=True):
            assert fld.kind == "single_choice"
            assert fld.label == f"{question.id} {question.text}"
            # NA only where the guidance makes the question conditional.
            assert ("NA" in fld.choices) == question.conditional
            assert fld.required == (not question.conditional)
        kinds = [f.kind for f in section.fields if not (f.rob2 and "question" in f.rob2)]
        assert kinds == ["judgement", "single_choice", "long_text"]  # judgement, direction, support
    judgement_domains = [
        f.rob2["domain"] for f in spec.fields() if f.kind == "judgement" and f.rob2
    ]
    assert judgement_domains == [*rob2.DOMAINS, "overall"]


def test_rob2_direction_of_bias_is_optional_with_the_guidance_options():
    direction = TEMPLATES["rob2"].field("d1_direction")
    assert direction is not None
    assert direction.label == (
        "Optional: What is the predicted direction of bias arising from the randomization process?"
    )
    assert direction.choices == (
        "NA",
        "Favours experimental",
        "Favours comparator",
        "Towards null",
        "Away from null",
        "Unpredictable",
    )
    assert not direction.required


def test_a_complete_rob2_assessment_submits_and_gets_proposals():
    answers = {
        "experimental": "Drug",
        "comparator": "Placebo",
        "outcome": "Mortality at 1 year",
        "numerical_result": "RR 0.8 (95% CI 0.6 to 1.1)",
        "q1_1": "Y",
        "q1_2": "Y",
        "q1_3": "N",
        "q2_1": "Y",
        "q2_2": "Y",
        "q2_3": "NI",
        "q2_4": "NA",
        "q2_5": "NA",
        "q2_6": "Y",
        "q3_1": "PY",
        "q4_1": "N",
        "q4_2": "N",
        "q4_3": "N",
        "q5_1": "Y",
        "q5_2": "N",
        "q5_3": "N",
    }
    proposals = rob2.proposed_judgements(TEMPLATES["rob2"], answers)
    assert proposals == {
        "d1_judgement": "low",
        "d2_judgement": "some_concerns",
        "d3_judgement": "low",
        "d4_judgement": "low",
        "d5_judgement": "low",
        "overall_judgement": "some_concerns",
    }
    values: dict[str, Any] = {**answers, **{k: v for k, v in proposals.items() if v}}
    cleaned, errors = clean_values(TEMPLATES["rob2"], values, complete=True)
    assert errors == []
    assert cleaned["overall_judgement"] == {"judgement": "some_concerns", "override_reason": ""}
    # The assessor judges the overall risk high: allowed, with a reason.
    values["overall_judgement"] = {"judgement": "high", "override_reason": ""}
    _, errors = clean_values(TEMPLATES["rob2"], values, complete=True)
    assert [str(e) for e in errors] == [
        'Overall risk-of-bias judgement: the algorithm proposes "Some concerns"; give a reason '
        "for overriding it"
    ]
