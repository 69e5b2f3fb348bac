"""Which form tables hold effect inputs (the column-key rule), the comparisons they make, and
the live effect sizes with the inputs still missing, named in the form's own words."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from extraction.effect_inputs import comparisons_of, effect_tables, outcome_key
from extraction.form_templates import TEMPLATES
from extraction.spec import ColumnSpec, FieldSpec, FormSpec, SectionSpec
from extraction.synthesis import Measure
from extraction.synthesis_run import (
    OutcomeChoice,
    StudyInput,
    live_comparisons,
    outcome_choices,
    results_csv,
    run_analysis,
)

OUTCOMES = TEMPLATES["outcomes"]


def _arm(outcome, arm, events=None, total=None, time_point="12 weeks"):
    row = {"outcome": outcome, "time_point": time_point, "arm": arm}
    if events is not None:
        row["events"] = events
    if total is not None:
        row["total"] = total
    return row


def test_the_outcomes_template_has_a_binary_and_a_continuous_per_arm_table():
    tables = effect_tables(OUTCOMES)
    assert [(t.key, t.layout, t.kind) for t in tables] == [
        ("dichotomous", "per_arm", "binary"),
        ("continuous", "per_arm", "continuous"),
    ]


def test_a_table_without_the_named_columns_holds_no_effect_inputs():
    arms = FieldSpec(
        "arms",
        "Arms",
        "table",
        columns=(ColumnSpec("arm", "Arm", "short_text"), ColumnSpec("n", "N", "integer")),
    )
    spec = FormSpec("T", sections=(SectionSpec("S", fields=(arms,)),))
    assert effect_tables(spec) == []


def test_rows_of_one_outcome_and_time_point_pair_first_arm_with_second():
    values = {
        "dichotomous": [
            _arm("Mortality", "Drug", 10, 100),
            _arm("Stroke", "Drug", 3, 100),
            _arm(" mortality ", "Placebo", 20, 100),  # same outcome: case and spaces aside
        ]
    }
    [mortality, stroke] = comparisons_of(OUTCOMES, values)
    assert mortality.arms == ("Drug", "Placebo")
    assert mortality.values == {"ai": 10, "n1i": 100, "ci": 20, "n2i": 100}
    assert mortality.key == outcome_key("dichotomous", "mortality", "12 weeks")
    assert stroke.values == {"ai": 3, "n1i": 100, "ci": None, "n2i": None}
    assert stroke.names["ci"] == "Events (arm 2, the comparator: a second row for this outcome)"


def test_live_effects_compute_or_rr_rd_with_variance_and_ci():
    [live] = live_comparisons(
        OUTCOMES,
        {
            "dichotomous": [
                _arm("Mortality", "Drug", 10, 100),
                _arm("Mortality", "Placebo", 20, 100),
            ]
        },
    )
    by = {e.measure: e for e in live.effects}
    assert list(by) == [Measure.OR, Measure.RR, Measure.RD]
    odds = by[Measure.OR].shown()
    # By hand: OR = (10·80)/(90·20), var(log OR) = 1/10 + 1/90 + 1/20 + 1/80.
    assert odds["estimate"] == pytest.approx(800 / 1800)
    vi = 1 / 10 + 1 / 90 + 1 / 20 + 1 / 80
    assert odds["vi"] == pytest.approx(vi)
    assert odds["ci_low"] == pytest.approx(
        math.exp(math.log(800 / 1800) - 1.959964 * math.sqrt(vi))
    )
    assert by[Measure.RR].shown()["estimate"] == pytest.approx(0.5)
    assert by[Measure.RR].shown()["vi"] == pytest.approx(1 / 10 - 1 / 100 + 1 / 20 - 1 / 100)
    assert by[Measure.RD].shown()["estimate"] == pytest.approx(-0.1)
    assert by[Measure.RD].shown()["vi"] == pytest.approx(0.09 / 100 + 0.16 / 100)


def test_a_zero_cell_gets_half_added_and_says_so():
    [live] = live_comparisons(
        OUTCOMES,
        {"dichotomous": [_arm("Death", "A", 0, 50), _arm("Death", "B", 5, 50)]},
    )
    odds = live.effects[0].shown()
    assert odds["corrected"] is True
    assert odds["note"] == "a cell is zero: 0.5 was added to all four cells"
    assert odds["estimate"] == pytest.approx(0.5 * 45.5 / (50.5 * 5.5))


def test_missing_inputs_are_named_with_the_column_and_the_arm():
    [live] = live_comparisons(
        OUTCOMES,
        {"dichotomous": [_arm("Death", "Drug", 4, 40), _arm("Death", "Placebo", None, 40)]},
    )
    assert [e.missing for e in live.effects] == ["missing: Events (arm 2: Placebo)"] * 3
    [live] = live_comparisons(
        OUTCOMES,
        {
            "continuous": [
                {"outcome": "HbA1c", "time_point": "6 mo", "arm": "Drug", "mean": "7.1", "n": 30}
            ]
        },
    )
    assert live.effects[0].missing == (
        "missing: SD (arm 1: Drug); Mean (arm 2, the comparator: a second row for this "
        "outcome); SD (arm 2, the comparator: a second row for this outcome); N (arm 2, the "
        "comparator: a second row for this outcome)"
    )


def test_an_invalid_value_is_named_not_computed():
    [live] = live_comparisons(
        OUTCOMES,
        {"dichotomous": [_arm("Death", "Drug", 12, 10), _arm("Death", "Placebo", 1, 10)]},
    )
    # In the form's words, not the engine's (metafor's) names.
    assert live.effects[0].error == (
        "Events (arm 1: Drug) (12 events) is more than Total (arm 1: Drug) (10 participants)"
    )


def test_live_values_keep_an_invalid_cell_saying_why():
    from extraction.synthesis_run import live_values

    raw = {
        "dichotomous": [
            {"outcome": "Death", "arm": "Drug", "events": "ten", "total": "10"},
            {"outcome": "Death", "arm": "Placebo", "events": "-1", "total": "x"},
        ]
    }
    [live] = live_comparisons(OUTCOMES, live_values(OUTCOMES, raw))
    assert live.comparison.values["n1i"] == 10 and live.comparison.values["ai"] is None
    assert live.effects[0].invalid == (
        "Events (arm 1: Drug): “ten” must be a whole number; "
        "Events (arm 2: Placebo): “-1” must be at least 0; "
        "Total (arm 2: Placebo): “x” must be a whole number"
    )
    assert live.effects[0].missing == ""  # nothing else is missing


def test_continuous_rows_give_md_and_hedges_g():
    rows = [
        {
            "outcome": "HbA1c",
            "time_point": "6 mo",
            "arm": "Drug",
            "mean": "7.1",
            "sd": "1.2",
            "n": 30,
        },
        {
            "outcome": "HbA1c",
            "time_point": "6 mo",
            "arm": "Usual",
            "mean": "7.6",
            "sd": "1.0",
            "n": 28,
        },
    ]
    [live] = live_comparisons(OUTCOMES, {"continuous": rows})
    md, smd = (e.shown() for e in live.effects)
    assert md["estimate"] == pytest.approx(-0.5)
    assert md["vi"] == pytest.approx(1.44 / 30 + 1.0 / 28)
    sdp = math.sqrt((29 * 1.44 + 27 * 1.0) / 56)
    m = 56
    c = math.exp(math.lgamma(m / 2) - math.log(math.sqrt(m / 2)) - math.lgamma((m - 1) / 2))
    g = c * -0.5 / sdp
    assert smd["estimate"] == pytest.approx(g)
    assert smd["vi"] == pytest.approx(1 / 30 + 1 / 28 + g**2 / (2 * 58))


def test_more_than_two_arms_compare_the_first_two_and_say_so():
    rows = [_arm("Death", a, 1, 10) for a in ("Low dose", "High dose", "Placebo")]
    [c] = comparisons_of(OUTCOMES, {"dichotomous": rows})
    assert c.notes == [
        "3 arms: arm 1 (Low dose) is compared with arm 2 (High dose); the other arms are left out"
    ]


WIDE = FormSpec(
    "Reported",
    sections=(
        SectionSpec(
            "Results",
            fields=(
                FieldSpec(
                    "results",
                    "Results",
                    "table",
                    columns=(
                        ColumnSpec("outcome", "Outcome", "short_text"),
                        ColumnSpec("measure", "Measure", "single_choice", choices=("OR", "MD")),
                        ColumnSpec("estimate", "Estimate", "decimal"),
                        ColumnSpec("ci_low", "Lower CI", "decimal"),
                        ColumnSpec("ci_high", "Upper CI", "decimal"),
                        ColumnSpec("se", "SE", "decimal", min=Decimal(0)),
                    ),
                ),
            ),
        ),
    ),
)


def test_a_reported_estimate_with_its_ci_gives_its_own_measure():
    values = {
        "results": [
            {
                "outcome": "Death",
                "measure": "OR",
                "estimate": "0.5",
                "ci_low": "0.25",
                "ci_high": "1",
            },
            {"outcome": "Pain", "estimate": "1.2", "se": "0.3"},
        ]
    }
    [death, pain] = live_comparisons(WIDE, values)
    [odds] = death.effects
    assert odds.measure == Measure.OR
    assert odds.shown()["se"] == pytest.approx((math.log(1) - math.log(0.25)) / (2 * 1.959964))
    assert pain.effects == ()
    assert pain.comparison.notes == [
        "a reported estimate needs its measure (OR, RR, RD, MD or SMD) in a 'measure' column"
    ]


def _study(pk, label, a, b):
    values = {"dichotomous": [_arm("Death", "Drug", *a), _arm("Death", "Placebo", *b)]}
    return StudyInput(pk, label, values)


def test_analysis_pools_the_outcome_and_lists_who_is_left_out():
    studies = [
        _study(1, "Ann 2001", (10, 100), (20, 100)),
        _study(2, "Bo 2002", (0, 50), (5, 50)),
        _study(3, "Cy 2003", (4, 40), (None, 40)),
        StudyInput(4, "Di 2004", {}),
    ]
    [choice] = outcome_choices(OUTCOMES, studies)
    assert (choice.label, choice.studies) == ("Death · 12 weeks (Dichotomous outcomes)", 3)
    analysis = run_analysis(OUTCOMES, studies, outcome=choice, measure=Measure.OR, method="FE")
    # Fixed effect by hand: inverse-variance mean of the two studies' log ORs.
    y = [math.log(800 / 1800), math.log(0.5 * 45.5 / (50.5 * 5.5))]
    v = [1 / 10 + 1 / 90 + 1 / 20 + 1 / 80, 1 / 0.5 + 1 / 50.5 + 1 / 5.5 + 1 / 45.5]
    w = [1 / x for x in v]
    assert analysis.result is not None
    assert analysis.result.estimate == pytest.approx(sum(a * b for a, b in zip(w, y)) / sum(w))
    assert analysis.result.se == pytest.approx(math.sqrt(1 / sum(w)))
    assert analysis.left_out == [
        ("Cy 2003", "missing: Events (arm 2: Placebo)"),
        ("Di 2004", "does not report this outcome"),
    ]


def test_results_csv_is_formula_safe():
    studies = [
        _study(1, "=HYPERLINK(1)", (10, 100), (20, 100)),
        _study(2, "+Bo", (3, 50), (5, 50)),
    ]
    [choice] = outcome_choices(OUTCOMES, studies)
    analysis = run_analysis(OUTCOMES, studies, outcome=choice, measure=Measure.RR, method="DL")
    text = results_csv(analysis)
    lines = text.splitlines()
    assert lines[0] == "study,subgroup,measure,estimate,ci_low,ci_high,yi,vi,se,weight_percent,note"
    assert lines[1].startswith("'=HYPERLINK(1),,RR,0.5,")
    assert lines[2].startswith("'+Bo,,RR,")
    assert lines[3].startswith('"Pooled (random effects, DerSimonian–Laird; k=2;')


def test_an_unknown_outcome_choice_leaves_every_study_out():
    studies = [_study(1, "Ann 2001", (10, 100), (20, 100))]
    missing = OutcomeChoice("dichotomous|x|y", "x", "binary", (Measure.OR,), 0)
    analysis = run_analysis(OUTCOMES, studies, outcome=missing, measure=Measure.OR, method="REML")
    assert analysis.result is None
    assert analysis.error == "no study has an effect to pool"
