"""Form definitions, their checks, and extractors' values: cleaning, comparing, carrying.

Pure Python, no database. Messages are what the person reads, so they are pinned exactly.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from extraction.form_templates import TEMPLATES
from extraction.spec import (
    COLUMN_KINDS,
    KINDS,
    ColumnSpec,
    FieldError,
    FieldSpec,
    FormSpec,
    SectionSpec,
    agreed_values,
    carry_values,
    check_form_spec,
    clean_values,
    compare_values,
    make_key,
)
from reviewflow.errors import ReviewflowError

ARMS = FieldSpec(
    "arms",
    "Arms",
    "table",
    columns=(
        ColumnSpec("arm", "Arm", "short_text", required=True),
        ColumnSpec("events", "Events", "integer", min=Decimal(0)),
        ColumnSpec("mean", "Mean", "decimal", unit="mmHg"),
    ),
)


def form(*fields: FieldSpec, title: str = "Data") -> FormSpec:
    return FormSpec(title=title, sections=(SectionSpec("Study", fields=fields),))


def clean(spec: FormSpec, values: dict, complete: bool = False):
    cleaned, errors = clean_values(spec, values, complete=complete)
    return cleaned, [str(e) for e in errors]


# --- The definition -----------------------------------------------------------------


def test_kinds_are_the_agreed_ones():
    assert KINDS == (
        "short_text",
        "long_text",
        "integer",
        "decimal",
        "boolean",
        "date",
        "single_choice",
        "multiple_choice",
        "table",
        "judgement",
    )
    assert "table" not in COLUMN_KINDS and "judgement" not in COLUMN_KINDS
    assert len(COLUMN_KINDS) == 8


def test_a_form_survives_a_round_trip_through_json():
    spec = FormSpec(
        title="Data",
        description="All of it",
        extractors_needed=1,
        sections=(
            SectionSpec(
                "Study",
                "About the study",
                fields=(
                    FieldSpec("n", "Sample size", "integer", True, "Randomized", Decimal(0)),
                    FieldSpec(
                        "dose", "Dose", "decimal", min=Decimal("0.5"), max=Decimal(10), unit="mg"
                    ),
                    FieldSpec("country", "Country", "single_choice", choices=("UK", "France")),
                    ARMS,
                ),
            ),
            SectionSpec("Bias", fields=TEMPLATES["rob2"].sections[1].fields),
        ),
    )
    data = json.loads(json.dumps(spec.to_dict()))
    assert FormSpec.from_dict(data) == spec
    assert data["sections"][0]["fields"][1]["min"] == "0.5"
    assert data["sections"][0]["fields"][1]["max"] == "10"
    assert data["sections"][1]["fields"][0]["rob2"] == {"domain": "D1", "question": "1.1"}


def test_from_dict_fills_in_defaults():
    spec = FormSpec.from_dict(
        {
            "title": " Data ",
            "sections": [
                {
                    "title": "Study",
                    "fields": [{"key": "n", "label": "N", "kind": "integer", "min": 0}],
                }
            ],
        }
    )
    assert spec == FormSpec(
        title="Data",
        extractors_needed=2,
        sections=(SectionSpec("Study", fields=(FieldSpec("n", "N", "integer", min=Decimal(0)),)),),
    )
    assert spec.field("n") is spec.fields()[0]
    assert spec.field("missing") is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "The form must be an object."),
        ({"title": "T", "sections": {}}, "Form: sections must be a list"),
        ({"title": 5}, "Form: title must be text"),
        ({"title": "T", "extractors_needed": "two"}, "Extractors per study must be 1 or 2."),
        ({"title": "T", "sections": ["x"]}, "Section 1: must be an object"),
        (
            {"title": "T", "sections": [{"title": "S", "fields": [{"key": "a", "min": "ten"}]}]},
            "Section 1, field 1: min must be a number",
        ),
        (
            {"title": "T", "sections": [{"title": "S", "fields": [{"choices": "A,B"}]}]},
            "Section 1, field 1: choices must be a list of texts",
        ),
        (
            {"title": "T", "sections": [{"title": "S", "fields": [{"required": "yes"}]}]},
            "Section 1, field 1: required must be true or false",
        ),
        (
            {"title": "T", "sections": [{"title": "S", "fields": [{"columns": [{"max": []}]}]}]},
            "Section 1, field 1, column 1: max must be a number",
        ),
    ],
)
def test_from_dict_names_the_place_of_a_wrong_shape(data, message):
    with pytest.raises(ReviewflowError) as exc:
        FormSpec.from_dict(data)
    assert exc.value.message == message


def test_templates_and_a_sensible_form_pass_the_checks():
    check_form_spec(form(FieldSpec("n", "Sample size", "integer", min=Decimal(0)), ARMS))
    for spec in TEMPLATES.values():
        check_form_spec(spec)


N = FieldSpec("n", "Sample size", "integer")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (form(N, title=""), "The form needs a title."),
        (FormSpec("Data", extractors_needed=3), "Extractors per study must be 1 or 2."),
        (FormSpec("Data", sections=(SectionSpec(""),)), "Section 1: needs a title"),
        (
            FormSpec(
                "Data",
                sections=(
                    SectionSpec("One", fields=(N,)),
                    SectionSpec(
                        "Two",
                        fields=(
                            FieldSpec("a", "A", "short_text"),
                            FieldSpec("b", "B", "short_text"),
                            FieldSpec("n", "Sample size", "integer"),
                        ),
                    ),
                ),
            ),
            'Section 2, field 3 ("Sample size"): key "n" is used twice',
        ),
        (
            form(FieldSpec("", "Sample size", "integer")),
            'Section 1, field 1 ("Sample size"): needs a key',
        ),
        (
            form(FieldSpec("Sample-size", "Sample size", "integer")),
            'Section 1, field 1 ("Sample size"): key "Sample-size" may contain only a-z, 0-9 and _',
        ),
        (form(FieldSpec("n", "", "integer")), "Section 1, field 1: needs a label"),
        (form(FieldSpec("n", "N", "number")), 'Section 1, field 1 ("N"): unknown kind "number"'),
        (
            form(FieldSpec("c", "Country", "single_choice")),
            'Section 1, field 1 ("Country"): needs at least one choice',
        ),
        (
            form(FieldSpec("c", "Country", "multiple_choice", choices=("UK", "UK"))),
            'Section 1, field 1 ("Country"): choice "UK" is listed twice',
        ),
        (
            form(FieldSpec("c", "Country", "single_choice", choices=("UK", ""))),
            'Section 1, field 1 ("Country"): a choice is empty',
        ),
        (
            form(FieldSpec("c", "Country", "short_text", choices=("UK",))),
            'Section 1, field 1 ("Country"): only choice fields have choices',
        ),
        (
            form(FieldSpec("n", "N", "integer", min=Decimal(5), max=Decimal(1))),
            'Section 1, field 1 ("N"): the minimum (5) is greater than the maximum (1)',
        ),
        (
            form(FieldSpec("n", "N", "integer", min=Decimal("0.5"))),
            'Section 1, field 1 ("N"): the minimum must be a whole number',
        ),
        (
            form(FieldSpec("n", "N", "decimal", max=Decimal("Infinity"))),
            'Section 1, field 1 ("N"): the maximum must be a number',
        ),
        (
            form(FieldSpec("d", "Date", "date", min=Decimal(0))),
            'Section 1, field 1 ("Date"): only number fields have a minimum or maximum',
        ),
        (
            form(FieldSpec("d", "Name", "short_text", unit="kg")),
            'Section 1, field 1 ("Name"): only number fields have a unit',
        ),
        (
            form(FieldSpec("arms", "Arms", "table")),
            'Section 1, field 1 ("Arms"): a table needs at least one column',
        ),
        (
            form(FieldSpec("n", "N", "integer", columns=(ColumnSpec("a", "A", "integer"),))),
            'Section 1, field 1 ("N"): only tables have columns',
        ),
        (
            form(
                FieldSpec(
                    "arms",
                    "Arms",
                    "table",
                    columns=(ColumnSpec("n", "N", "integer"), ColumnSpec("n", "Events", "integer")),
                )
            ),
            'Section 1, field 1 ("Arms"), column 2 ("Events"): key "n" is used twice',
        ),
        (
            form(FieldSpec("arms", "Arms", "table", columns=(ColumnSpec("t", "Sub", "table"),))),
            'Section 1, field 1 ("Arms"), column 1 ("Sub"): a table cannot be a table column',
        ),
        (
            form(FieldSpec("arms", "Arms", "table", columns=(ColumnSpec("e", "", "integer"),))),
            'Section 1, field 1 ("Arms"), column 1: needs a label',
        ),
        (
            form(FieldSpec("j", "Judgement", "judgement")),
            'Section 1, field 1 ("Judgement"): a judgement field must name its RoB 2 domain',
        ),
        (
            form(FieldSpec("j", "Judgement", "judgement", rob2={"domain": "D9"})),
            'Section 1, field 1 ("Judgement"): unknown RoB 2 domain "D9"',
        ),
        (
            form(
                FieldSpec("j", "Judgement", "judgement", rob2={"domain": "D1", "question": "1.1"})
            ),
            'Section 1, field 1 ("Judgement"): a judgement field does not name a signalling '
            "question",
        ),
        (
            form(
                FieldSpec(
                    "q",
                    "Q",
                    "single_choice",
                    choices=("Y",),
                    rob2={"domain": "D1", "question": "2.1"},
                )
            ),
            'Section 1, field 1 ("Q"): "2.1" is not a signalling question of RoB 2 domain D1',
        ),
        (
            form(FieldSpec("q", "Q", "short_text", rob2={"domain": "D1", "question": "1.1"})),
            'Section 1, field 1 ("Q"): RoB 2 settings belong on judgement fields and on '
            "signalling questions (single choice)",
        ),
        (
            form(
                FieldSpec(
                    "q",
                    "Q",
                    "single_choice",
                    choices=("Y", "NA"),
                    rob2={"domain": "D1", "question": "1.1"},
                )
            ),
            'Section 1, field 1 ("Q"): "NA" is not an answer to RoB 2 question 1.1 '
            "(use Y, PY, PN, N, NI)",
        ),
        (
            form(
                FieldSpec(
                    "q",
                    "Q",
                    "single_choice",
                    choices=("Y",),
                    rob2={"domain": "D1", "question": "1.1", "x": "1"},
                )
            ),
            'Section 1, field 1 ("Q"): unknown RoB 2 setting x',
        ),
        (
            form(
                FieldSpec("j1", "J1", "judgement", rob2={"domain": "D1"}),
                FieldSpec("j2", "J2", "judgement", rob2={"domain": "D1"}),
            ),
            'Section 1, field 2 ("J2"): the D1 judgement is already asked in Section 1, '
            'field 1 ("J1")',
        ),
    ],
)
def test_check_names_the_first_place_that_breaks_a_rule(spec, message):
    with pytest.raises(ReviewflowError) as exc:
        check_form_spec(spec)
    assert exc.value.message == message


def test_make_key_turns_a_label_into_a_free_slug():
    assert make_key("Sample size (n)") == "sample_size_n"
    assert make_key("Sample size (n)", {"sample_size_n", "sample_size_n_2"}) == "sample_size_n_3"
    assert make_key("Ärzte %") == "arzte"
    assert make_key("???") == "field"


# --- Cleaning values ----------------------------------------------------------------


def test_field_errors_read_as_field_row_column_message():
    assert str(FieldError("n", "Sample size", "must be a whole number")) == (
        "Sample size: must be a whole number"
    )
    error = FieldError(
        "arms", "Arms", "must be at least 0", row=2, column="events", column_label="Events"
    )
    assert str(error) == "Arms, row 2, Events: must be at least 0"


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("short_text", "  Two arms  ", "Two arms"),
        ("long_text", "Line 1\nLine 2\n", "Line 1\nLine 2"),
        ("integer", 12, 12),
        ("integer", " -3 ", -3),
        ("integer", "+7", 7),
        ("integer", 4.0, 4),
        ("decimal", "12.50", "12.5"),
        ("decimal", 12.5, "12.5"),
        ("decimal", 3, "3"),
        ("decimal", "1e2", "100"),
        ("decimal", "-0.0", "0"),
        ("decimal", ".5", "0.5"),
        ("decimal", Decimal("2.000"), "2"),
        ("boolean", True, True),
        ("boolean", False, False),
        ("boolean", "yes", True),
        ("boolean", "Yes", True),
        ("boolean", "true", True),
        ("boolean", "on", True),
        ("boolean", "no", False),
        ("boolean", "false", False),
        ("date", "2024-02-29", "2024-02-29"),
        ("date", dt.date(2023, 1, 5), "2023-01-05"),
    ],
)
def test_values_are_normalised_by_kind(kind, raw, expected):
    spec = form(FieldSpec("x", "X", kind))
    assert clean(spec, {"x": raw}) == ({"x": expected}, [])


@pytest.mark.parametrize(
    ("field", "raw", "message"),
    [
        (FieldSpec("x", "Sample size", "integer"), "3.5", "Sample size: must be a whole number"),
        (FieldSpec("x", "Sample size", "integer"), 3.5, "Sample size: must be a whole number"),
        (FieldSpec("x", "Sample size", "integer"), True, "Sample size: must be a whole number"),
        (
            FieldSpec("x", "Sample size", "integer"),
            "12 people",
            "Sample size: must be a whole number",
        ),
        (
            FieldSpec("x", "Sample size", "integer", min=Decimal(1)),
            "0",
            "Sample size: must be at least 1",
        ),
        (
            FieldSpec("x", "Sample size", "integer", max=Decimal(500)),
            501,
            "Sample size: must be at most 500",
        ),
        (FieldSpec("x", "Dose", "decimal"), "12,5", "Dose: must be a number"),
        (FieldSpec("x", "Dose", "decimal"), "NaN", "Dose: must be a number"),
        (FieldSpec("x", "Dose", "decimal"), "Infinity", "Dose: must be a number"),
        (FieldSpec("x", "Dose", "decimal"), False, "Dose: must be a number"),
        (FieldSpec("x", "Dose", "decimal"), [1], "Dose: must be a number"),
        (
            FieldSpec("x", "Dose", "decimal", max=Decimal("0.3")),
            "0.30000001",
            "Dose: must be at most 0.3",
        ),
        (
            FieldSpec("x", "Dose", "decimal", min=Decimal("-1.50")),
            "-1.51",
            "Dose: must be at least -1.5",
        ),
        (FieldSpec("x", "Blinded", "boolean"), "maybe", "Blinded: must be yes or no"),
        (FieldSpec("x", "Blinded", "boolean"), 1, "Blinded: must be yes or no"),
        (FieldSpec("x", "Start", "date"), "2024-02-30", "Start: must be a date written YYYY-MM-DD"),
        (FieldSpec("x", "Start", "date"), "2024-2-3", "Start: must be a date written YYYY-MM-DD"),
        (FieldSpec("x", "Start", "date"), "03/02/2024", "Start: must be a date written YYYY-MM-DD"),
        (
            FieldSpec("x", "Start", "date"),
            dt.datetime(2024, 1, 1),
            "Start: must be a date written YYYY-MM-DD",
        ),
        (FieldSpec("x", "Title", "short_text"), 5, "Title: must be text"),
        (
            FieldSpec("x", "Title", "short_text"),
            "x" * 1001,
            "Title: must be at most 1000 characters",
        ),
        (
            FieldSpec("x", "Country", "single_choice", choices=("UK", "France")),
            "Atlantis",
            'Country: "Atlantis" is not one of the allowed values',
        ),
        (
            FieldSpec("x", "Country", "single_choice", choices=("UK",)),
            ["UK"],
            "Country: must be one of the allowed values",
        ),
        (
            FieldSpec("x", "Funding", "multiple_choice", choices=("Industry", "Public")),
            ["Public", "Lottery"],
            'Funding: "Lottery" is not one of the allowed values',
        ),
        (
            FieldSpec("x", "Funding", "multiple_choice", choices=("Industry",)),
            {"Industry": True},
            "Funding: must be a list of the allowed values",
        ),
    ],
)
def test_wrong_values_are_named_by_field(field, raw, message):
    cleaned, errors = clean(form(field), {"x": raw})
    assert cleaned == {}
    assert errors == [message]


def test_decimal_bounds_compare_exactly_not_as_floats():
    spec = form(FieldSpec("x", "Share", "decimal", min=Decimal("0.1"), max=Decimal("0.3")))
    assert clean(spec, {"x": "0.3"}) == ({"x": "0.3"}, [])
    assert clean(spec, {"x": 0.1}) == ({"x": "0.1"}, [])
    assert clean(spec, {"x": "0.30"}) == ({"x": "0.3"}, [])


def test_choices_are_kept_in_the_forms_order_without_duplicates():
    spec = form(
        FieldSpec("x", "Funding", "multiple_choice", choices=("Industry", "Public", "None"))
    )
    assert clean(spec, {"x": ["None", "Industry", "None", " "]}) == (
        {"x": ["Industry", "None"]},
        [],
    )
    assert clean(spec, {"x": "Public"}) == ({"x": ["Public"]}, [])
    single = form(FieldSpec("x", "Country", "single_choice", choices=("UK",)))
    assert clean(single, {"x": " UK "}) == ({"x": "UK"}, [])


@pytest.mark.parametrize("empty", [None, "", "   ", [], {}])
def test_empty_values_are_left_out(empty):
    for kind in ("short_text", "integer", "decimal", "boolean", "date", "multiple_choice"):
        choices = ("A",) if kind == "multiple_choice" else ()
        spec = form(FieldSpec("x", "X", kind, choices=choices))
        assert clean(spec, {"x": empty}) == ({}, [])


def test_unknown_keys_are_errors():
    assert clean(form(N), {"n": 3, "colour": "red"}) == (
        {"n": 3},
        ["colour: is not a field of this form"],
    )


def test_required_fields_are_only_demanded_on_submit():
    spec = form(
        FieldSpec("n", "Sample size", "integer", required=True),
        FieldSpec("c", "Comment", "long_text"),
    )
    assert clean(spec, {}) == ({}, [])
    assert clean(spec, {"n": ""}, complete=True) == ({}, ["Sample size: This field is required."])
    assert clean(spec, {"n": "0"}, complete=True) == ({"n": 0}, [])
    # A wrong value is reported once, as wrong, not also as missing.
    assert clean(spec, {"n": "many"}, complete=True) == (
        {},
        ["Sample size: must be a whole number"],
    )


def test_a_required_yes_no_answered_no_is_an_answer():
    spec = form(FieldSpec("b", "Blinded", "boolean", required=True))
    assert clean(spec, {"b": "no"}, complete=True) == ({"b": False}, [])
    assert clean(spec, {"b": ""}, complete=True) == ({}, ["Blinded: This field is required."])


def test_error_details_locate_the_field_row_and_column():
    _, errors = clean_values(
        form(ARMS), {"arms": [{"arm": "A"}, {"arm": "B", "events": "-1"}]}, complete=False
    )
    assert errors == [
        FieldError(
            "arms", "Arms", "must be at least 0", row=2, column="events", column_label="Events"
        )
    ]


# --- Tables -------------------------------------------------------------------------


def test_table_rows_are_cleaned_cell_by_cell_and_empty_rows_dropped():
    rows = [
        {"arm": " Drug ", "events": "12", "mean": "140.50"},
        {"arm": "", "events": "", "mean": None},
        {"arm": "Placebo", "events": 0},
    ]
    assert clean(form(ARMS), {"arms": rows}, complete=True) == (
        {"arms": [{"arm": "Drug", "events": 12, "mean": "140.5"}, {"arm": "Placebo", "events": 0}]},
        [],
    )


def test_table_errors_name_row_and_column_in_column_order():
    rows = [
        {"arm": "Drug", "events": "3"},
        {"events": "-1", "mean": "high"},
        {"arm": "Placebo", "colour": "red"},
    ]
    cleaned, errors = clean(form(ARMS), {"arms": rows}, complete=True)
    assert errors == [
        "Arms, row 2, Arm: This field is required.",
        "Arms, row 2, Events: must be at least 0",
        "Arms, row 2, Mean: must be a number",
        'Arms, row 3: unknown column "colour"',
    ]
    assert cleaned == {"arms": [{"arm": "Drug", "events": 3}, {"arm": "Placebo"}]}


def test_required_columns_are_only_demanded_on_submit():
    assert clean(form(ARMS), {"arms": [{"events": "3"}]}) == ({"arms": [{"events": 3}]}, [])


def test_a_required_table_needs_a_row_on_submit():
    spec = form(FieldSpec("arms", "Arms", "table", required=True, columns=ARMS.columns))
    assert clean(spec, {"arms": [{}]}, complete=True) == ({}, ["Arms: This field is required."])


def test_table_rows_may_come_keyed_by_position():
    rows = {"1": {"arm": "Placebo"}, "0": {"arm": "Drug"}, "10": {"arm": "Third"}}
    assert clean(form(ARMS), {"arms": rows}) == (
        {"arms": [{"arm": "Drug"}, {"arm": "Placebo"}, {"arm": "Third"}]},
        [],
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("Drug, Placebo", "Arms: must be a list of rows"),
        ({"a": {"arm": "Drug"}}, "Arms: must be a list of rows"),
        (["Drug"], "Arms, row 1: must be a set of columns"),
        ([{}] * 1001, "Arms: may have at most 1000 rows"),
    ],
)
def test_malformed_tables_are_reported(raw, message):
    assert clean(form(ARMS), {"arms": raw}) == ({}, [message])


# --- Judgements ---------------------------------------------------------------------

D1_QUESTIONS = tuple(f for f in TEMPLATES["rob2"].sections[1].fields if f.rob2)
RISK = form(*D1_QUESTIONS)  # 1.1-1.3 and the domain 1 judgement


def test_judgements_are_stored_with_their_reason():
    assert clean(RISK, {"d1_judgement": "Low risk"}) == (
        {"d1_judgement": {"judgement": "low", "override_reason": ""}},
        [],
    )
    value = {"judgement": "high", "override_reason": "  Envelopes were not opaque. "}
    assert clean(RISK, {"d1_judgement": value}) == (
        {"d1_judgement": {"judgement": "high", "override_reason": "Envelopes were not opaque."}},
        [],
    )
    assert clean(RISK, {"d1_judgement": {"judgement": "", "override_reason": ""}}) == ({}, [])


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("unclear", 'Domain 1 risk-of-bias judgement: "unclear" is not one of the allowed values'),
        (3, "Domain 1 risk-of-bias judgement: must be a judgement"),
        (
            {"judgement": 3},
            "Domain 1 risk-of-bias judgement: must be Low risk, Some concerns or High risk",
        ),
        (
            {"judgement": "low", "reason": "x"},
            "Domain 1 risk-of-bias judgement: unknown part reason",
        ),
        (
            {"judgement": "low", "override_reason": 5},
            "Domain 1 risk-of-bias judgement: the reason must be text",
        ),
        (
            {"override_reason": "Because"},
            "Domain 1 risk-of-bias judgement: choose a judgement for this reason",
        ),
    ],
)
def test_wrong_judgements_are_reported(raw, message):
    assert clean(RISK, {"d1_judgement": raw}) == ({}, [message])


LOW_D1 = {"q1_1": "Y", "q1_2": "Y", "q1_3": "N"}


def test_a_judgement_that_follows_the_proposal_needs_no_reason():
    assert clean(RISK, {**LOW_D1, "d1_judgement": "low"}, complete=True)[1] == []


def test_overriding_the_proposal_needs_a_reason_on_submit():
    values: dict[str, Any] = {**LOW_D1, "d1_judgement": "high"}
    assert clean(RISK, values)[1] == []  # a draft may be half done
    assert clean(RISK, values, complete=True)[1] == [
        'Domain 1 risk-of-bias judgement: the algorithm proposes "Low risk"; give a reason for '
        "overriding it"
    ]
    values["d1_judgement"] = {"judgement": "high", "override_reason": "Allocation by a clerk."}
    assert clean(RISK, values, complete=True)[1] == []


def test_signalling_questions_the_path_reaches_are_required_on_submit():
    d2 = form(*(f for f in TEMPLATES["rob2"].sections[2].fields if f.rob2))
    aware = {"q2_1": "Y", "q2_2": "N", "q2_6": "Y", "d2_judgement": "low"}
    label = (
        "2.3 Were there deviations from the intended intervention that arose because of the "
        "trial context?"
    )
    assert clean(d2, aware, complete=True)[1] == [f"{label}: This field is required."]
    assert clean(d2, {**aware, "q2_3": "NA"}, complete=True)[1] == [
        f'{label}: cannot be "NA": the answers to the questions before it make it apply'
    ]
    assert clean(d2, {**aware, "q2_3": "N"}, complete=True)[1] == []
    # Not reached: may stay empty or say NA.
    unaware = {"q2_1": "N", "q2_2": "N", "q2_6": "Y", "d2_judgement": "low"}
    assert clean(d2, unaware, complete=True)[1] == []
    assert clean(d2, {**unaware, "q2_3": "NA", "q2_7": "NA"}, complete=True)[1] == []


def test_a_signalling_question_only_takes_its_answers():
    assert clean(RISK, {"q1_1": "NA"})[1] == [
        '1.1 Was the allocation sequence random?: "NA" is not one of the allowed values'
    ]


# --- Comparing two extractions ------------------------------------------------------

TWO = form(
    FieldSpec("n", "Sample size", "integer"),
    FieldSpec("country", "Country", "single_choice", choices=("UK", "France")),
    FieldSpec("note", "Note", "long_text"),
    ARMS,
    *D1_QUESTIONS,
)


def test_comparison_goes_field_by_field_and_row_by_row():
    a = {
        "n": 120,
        "country": "UK",
        "arms": [{"arm": "Drug", "events": 3}, {"arm": "Placebo", "events": 5}],
        "d1_judgement": {"judgement": "low", "override_reason": ""},
    }
    b = {
        "n": 121,
        "country": "UK",
        "arms": [
            {"arm": "Drug", "events": 3},
            {"arm": "Placebo", "events": 6},
            {"arm": "Usual care"},
        ],
        "d1_judgement": {"judgement": "low", "override_reason": "As proposed."},
    }
    by_key = {c.field.key: c for c in compare_values(TWO, a, b)}
    assert list(by_key) == [f.key for f in TWO.fields()]
    assert (by_key["n"].a, by_key["n"].b, by_key["n"].agree) == (120, 121, False)
    assert by_key["country"].agree
    assert by_key["note"].agree  # both empty
    assert by_key["d1_judgement"].agree  # same judgement, whatever the reasons
    arms = by_key["arms"]
    assert not arms.agree
    assert [(r.index, r.agree, r.cells) for r in arms.rows] == [
        (1, True, {"arm": True, "events": True, "mean": True}),
        (2, False, {"arm": True, "events": False, "mean": True}),
        (3, False, {"arm": False, "events": True, "mean": True}),
    ]
    assert arms.rows[2].a is None and arms.rows[2].b == {"arm": "Usual care"}


def test_identical_tables_agree():
    rows = [{"arm": "Drug", "events": 3}]
    (comparison,) = [
        c
        for c in compare_values(TWO, {"arms": rows}, {"arms": list(rows)})
        if c.field.key == "arms"
    ]
    assert comparison.agree and comparison.rows[0].agree


def test_agreed_values_keep_what_both_said():
    a = {
        "n": 120,
        "country": "UK",
        "arms": [
            {"arm": "Drug", "events": 3, "mean": "1.5"},
            {"arm": "Placebo", "events": 5},
            {"arm": "X"},
        ],
        "q1_1": "Y",
        "d1_judgement": {"judgement": "high", "override_reason": "Alternation."},
    }
    b = {
        "n": 121,
        "country": "UK",
        "arms": [{"arm": "Drug", "events": 3, "mean": "1.5"}, {"arm": "Placebo", "events": 6}],
        "q1_1": "PY",
        "d1_judgement": {"judgement": "high", "override_reason": "Date of birth."},
    }
    assert agreed_values(TWO, a, b) == {
        "country": "UK",
        "arms": [{"arm": "Drug", "events": 3, "mean": "1.5"}, {"arm": "Placebo"}],
        "d1_judgement": {"judgement": "high", "override_reason": "Alternation.\n\nDate of birth."},
    }


def test_agreed_judgement_keeps_one_copy_of_a_shared_reason():
    same = {"d1_judgement": {"judgement": "low", "override_reason": "x"}}
    assert agreed_values(TWO, same, same) == same
    assert agreed_values(TWO, {}, {}) == {}


def test_agreed_values_clean_again_without_errors():
    a = {"n": 5, "arms": [{"arm": "Drug", "events": 1}, {"arm": "Placebo", "events": 2}]}
    b = {"n": 5, "arms": [{"arm": "Drug", "events": 9}, {"arm": "Other", "events": 8}]}
    agreed = agreed_values(TWO, a, b)
    assert agreed == {"n": 5, "arms": [{"arm": "Drug"}]}
    assert clean(TWO, agreed) == (agreed, [])


# --- Carrying values to a new version -----------------------------------------------


def test_values_are_carried_by_key_when_still_valid():
    old = form(
        FieldSpec("n", "Sample size", "integer"),
        FieldSpec("dose", "Dose", "decimal"),
        FieldSpec("country", "Country", "single_choice", choices=("UK", "France")),
        FieldSpec("gone", "Old question", "short_text"),
        FieldSpec("age", "Mean age", "decimal"),
        ARMS,
    )
    new = form(
        FieldSpec("n", "Participants", "decimal"),  # integer → decimal
        FieldSpec("dose", "Dose", "integer"),  # decimal → integer: only whole values
        FieldSpec("country", "Countries", "multiple_choice", choices=("UK", "Spain")),
        FieldSpec("age", "Mean age", "decimal", max=Decimal(60)),
        FieldSpec(
            "arms",
            "Arms",
            "table",
            columns=(
                ColumnSpec("arm", "Arm", "long_text"),
                ColumnSpec("events", "Events", "integer", max=Decimal(4)),
            ),
        ),
        FieldSpec("new", "New question", "short_text"),
    )
    values = {
        "n": 120,
        "dose": "2.5",
        "country": "UK",
        "gone": "text",
        "age": "61.5",
        "arms": [{"arm": "Drug", "events": 3, "mean": "1.5"}, {"arm": "Placebo", "events": 5}],
    }
    carried, keys, dropped = carry_values(old, new, values)
    assert carried == {
        "n": "120",
        "country": ["UK"],
        "arms": [{"arm": "Drug", "events": 3}, {"arm": "Placebo"}],
    }
    assert keys == ["n", "country", "arms"]
    assert dropped == [
        "Dose: must be a whole number",
        "Old question: the field is no longer in the form",
        "Mean age: must be at most 60",
        "Arms, Mean: the column is no longer in the table",
        "Arms, row 2, Events: must be at most 4",
    ]


@pytest.mark.parametrize(
    ("old_field", "new_field", "value", "expected", "reason"),
    [
        (FieldSpec("x", "X", "integer"), FieldSpec("x", "X", "short_text"), 5, "5", None),
        (FieldSpec("x", "X", "boolean"), FieldSpec("x", "X", "long_text"), False, "no", None),
        (
            FieldSpec("x", "X", "date"),
            FieldSpec("x", "X", "short_text"),
            "2024-01-02",
            "2024-01-02",
            None,
        ),
        (FieldSpec("x", "X", "long_text"), FieldSpec("x", "X", "short_text"), "a\nb", "a\nb", None),
        (
            FieldSpec("x", "X", "short_text"),
            FieldSpec("x", "X", "single_choice", choices=("UK",)),
            "UK",
            "UK",
            None,
        ),
        (
            FieldSpec("x", "X", "multiple_choice", choices=("A", "B")),
            FieldSpec("x", "X", "single_choice", choices=("A", "B")),
            ["B"],
            "B",
            None,
        ),
        (
            FieldSpec("x", "X", "multiple_choice", choices=("A", "B")),
            FieldSpec("x", "X", "single_choice", choices=("A", "B")),
            ["A", "B"],
            None,
            "X: more than one choice cannot become a single choice",
        ),
        (
            FieldSpec("x", "X", "short_text"),
            FieldSpec("x", "X", "integer"),
            "12",
            None,
            "X: a short text cannot become a whole number",
        ),
        (
            FieldSpec("x", "X", "short_text"),
            FieldSpec("x", "X", "table", columns=(ColumnSpec("a", "A", "short_text"),)),
            "12",
            None,
            "X: a short text cannot become a table",
        ),
        (
            FieldSpec("x", "X", "single_choice", choices=("UK", "France")),
            FieldSpec("x", "X", "single_choice", choices=("UK",)),
            "France",
            None,
            'X: "France" is not one of the allowed values',
        ),
    ],
)
def test_carrying_converts_compatible_kinds(old_field, new_field, value, expected, reason):
    carried, keys, dropped = carry_values(form(old_field), form(new_field), {"x": value})
    if expected is None:
        assert (carried, keys, dropped) == ({}, [], [reason])
    else:
        assert (carried, keys, dropped) == ({"x": expected}, ["x"], [])


def test_a_rob2_assessment_carries_to_an_unchanged_new_version():
    spec = TEMPLATES["rob2"]
    values = {**LOW_D1, "d1_judgement": {"judgement": "high", "override_reason": "Why"}}
    assert carry_values(spec, spec, values) == (
        values,
        ["q1_1", "q1_2", "q1_3", "d1_judgement"],
        [],
    )


@pytest.mark.parametrize(
    ("field", "raw", "message"),
    [
        (FieldSpec("x", "N", "integer"), "9" * 5000, "N: must be a whole number"),
        (FieldSpec("x", "N", "integer"), 10**15, "N: is too large"),
        (FieldSpec("x", "N", "integer"), "-1000000000000000", "N: is too large"),
        (FieldSpec("x", "Dose", "decimal"), "1e999999999", "Dose: is too large"),
        (FieldSpec("x", "Dose", "decimal"), "1e-16", "Dose: may have at most 15 decimal places"),
        (FieldSpec("x", "Dose", "decimal"), "1" * 61, "Dose: must be a number"),
    ],
)
def test_numbers_are_bounded_in_size(field, raw, message):
    assert clean(form(field), {"x": raw}) == ({}, [message])


def test_largest_numbers_that_fit_are_kept():
    assert clean(form(FieldSpec("x", "N", "integer")), {"x": 10**15 - 1}) == ({"x": 10**15 - 1}, [])
    decimal = form(FieldSpec("x", "Dose", "decimal"))
    assert clean(decimal, {"x": "999999999999999.5"}) == ({"x": "999999999999999.5"}, [])
    assert clean(decimal, {"x": "0.000000000000001"}) == ({"x": "0.000000000000001"}, [])
    assert clean(decimal, {"x": "0e5"}) == ({"x": "0"}, [])


def test_fields_can_be_used_as_dictionary_keys():
    spec = TEMPLATES["rob2"]
    assert len({f: f.key for f in spec.fields()}) == len(spec.fields())
