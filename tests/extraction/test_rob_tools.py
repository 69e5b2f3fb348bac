"""Risk-of-bias tools beyond RoB 2: the registry, QUADAS-2 and RoB 1 templates, their
proposals (where the tool defines one), and the extraction pages that show them."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from extraction import rob
from extraction.form_templates import TEMPLATES
from extraction.forms import compared_fields
from extraction.models import Extraction
from extraction.rob import quadas2, rob1, robins_i
from extraction.selectors import included_studies
from extraction.services.forms import create_form_from_template, publish_form
from extraction.spec import (
    FieldSpec,
    FormSpec,
    SectionSpec,
    check_form_spec,
    clean_values,
    compare_values,
)
from reviewflow.errors import ReviewflowError
from tests.screening.screening_fixtures import import_records, vote

QUADAS = TEMPLATES["quadas2"]
ROB1 = TEMPLATES["rob1"]
ALL_YES = {
    "qd1_1": "Yes",
    "qd1_2": "Yes",
    "qd1_3": "Yes",
    "qd2_1": "Yes",
    "qd2_2": "Yes",
    "qd3_1": "Yes",
    "qd3_2": "Yes",
    "qd4_1": "Yes",
    "qd4_2": "Yes",
    "qd4_3": "Yes",
    "qd4_4": "Yes",
}


# --- QUADAS-2: the tool as Whiting et al. 2011 (Table 1) and its template word it ------


def test_quadas2_has_the_four_domains_and_the_official_signalling_questions():
    # Restated from the QUADAS-2 tool template (bristol.ac.uk/…/quadas-2), in order.
    expected = {
        "Patient selection": [
            "Was a consecutive or random sample of patients enrolled?",
            "Was a case-control design avoided?",
            "Did the study avoid inappropriate exclusions?",
        ],
        "Index test(s)": [
            "Were the index test results interpreted without knowledge of the results of the "
            "reference standard?",
            "If a threshold was used, was it pre-specified?",
        ],
        "Reference standard": [
            "Is the reference standard likely to correctly classify the target condition?",
            "Were the reference standard results interpreted without knowledge of the results "
            "of the index test?",
        ],
        "Flow and timing": [
            "Was there an appropriate interval between index test(s) and reference standard?",
            "Did all patients receive a reference standard?",
            "Did patients receive the same reference standard?",
            "Were all patients included in the analysis?",
        ],
    }
    got = {
        quadas2.DOMAIN_TITLES[d]: [q.text for q in quadas2.QUESTIONS[d]] for d in quadas2.DOMAINS
    }
    assert got == expected
    for section, domain in zip(QUADAS.sections[:4], quadas2.DOMAINS, strict=True):
        questions = [f for f in section.fields if f.kind == "single_choice"]
        assert [f.label for f in questions] == [
            f"{q.id} {q.text}" for q in quadas2.QUESTIONS[domain]
        ]
        assert all(f.choices == ("Yes", "No", "Unclear") and f.required for f in questions)


def test_quadas2_asks_applicability_in_the_first_three_domains_only():
    applicability = [
        f.rob2["domain"]
        for f in QUADAS.fields()
        if f.kind == "judgement" and f.rob2 and f.rob2.get("aspect") == "applicability"
    ]
    assert applicability == ["D1", "D2", "D3"]
    assert QUADAS.field("d1_applicability").label == (
        "Concerns regarding applicability: Is there concern that the included patients do not "
        "match the review question?"
    )
    assert QUADAS.field("d4_judgement").label == (
        "Risk of bias: Could the patient flow have introduced bias?"
    )


@pytest.mark.parametrize(
    ("answers", "proposal"),
    [
        (("Yes", "Yes", "Yes"), "low"),
        (("Yes", "No", "Yes"), "high"),
        (("Unclear", "No", "Yes"), "high"),
        (("Yes", "Unclear", "Yes"), "unclear"),
        (("Unclear", "Unclear", "Unclear"), "unclear"),
        (("Yes", "Yes", None), None),
    ],
)
def test_quadas2_guidance_proposes_low_when_all_yes_and_high_when_any_no(answers, proposal):
    given = {f"1.{i}": a for i, a in enumerate(answers, start=1) if a is not None}
    assert quadas2.TOOL.domain_judgement("D1", given) == proposal


def test_quadas2_overall_is_the_least_favourable_domain():
    overall = quadas2.TOOL.overall_judgement
    assert overall({"D1": "low", "D2": "low", "D3": "low", "D4": "low"}) == "low"
    assert overall({"D1": "low", "D2": "unclear", "D3": "low", "D4": "low"}) == "unclear"
    assert overall({"D1": "high", "D2": "unclear", "D3": "low", "D4": "low"}) == "high"
    assert overall({"D1": "low", "D2": None, "D3": "low", "D4": "low"}) is None


def test_quadas2_form_proposals_follow_answers_and_recorded_overrides():
    values = {**ALL_YES, "qd2_2": "Unclear", "qd4_4": "No"}
    proposals = rob.proposed_judgements(QUADAS, values)
    assert proposals == {
        "d1_judgement": "low",
        "d1_applicability": None,
        "d2_judgement": "unclear",
        "d2_applicability": None,
        "d3_judgement": "low",
        "d3_applicability": None,
        "d4_judgement": "high",
        "overall_judgement": "high",
    }
    overridden = {
        **values,
        "d4_judgement": {"judgement": "low", "override_reason": "Only 2 of 300 excluded."},
    }
    assert rob.proposed_judgements(QUADAS, overridden)["overall_judgement"] == "unclear"


def test_a_complete_quadas2_assessment_submits_and_an_override_needs_a_reason():
    judgements = {
        f"d{n}_judgement": {"judgement": "low", "override_reason": ""} for n in range(1, 5)
    }
    applicability = {f"d{n}_applicability": "Low concern" for n in range(1, 4)}
    values = {**ALL_YES, **judgements, **applicability, "overall_judgement": "low"}
    cleaned, errors = clean_values(QUADAS, values, complete=True)
    assert errors == []
    assert cleaned["d1_applicability"] == {"judgement": "low", "override_reason": ""}
    _, errors = clean_values(QUADAS, {**values, "d1_judgement": "Unclear risk"}, complete=True)
    assert [str(e) for e in errors] == [
        "Risk of bias: Could the selection of patients have introduced bias?: the guidance "
        'proposes "Low risk"; give a reason for overriding it',
        # the recorded (overridden) domain now drives the overall proposal
        'Overall risk-of-bias judgement: the guidance proposes "Unclear risk"; give a reason '
        "for overriding it",
    ]
    missing = {k: v for k, v in values.items() if k != "qd3_2"}
    _, errors = clean_values(QUADAS, missing, complete=True)
    assert [e.field for e in errors] == ["qd3_2"]


def test_quadas2_judgements_take_only_the_tools_levels():
    _, errors = clean_values(QUADAS, {"d1_judgement": "Some concerns"}, complete=False)
    assert [str(e) for e in errors] == [
        "Risk of bias: Could the selection of patients have introduced bias?: "
        '"Some concerns" is not one of the allowed values'
    ]
    _, errors = clean_values(QUADAS, {"d1_applicability": {"judgement": 3}}, complete=False)
    assert errors[0].message == "must be Low concern, High concern or Unclear concern"
    cleaned, errors = clean_values(QUADAS, {"d2_applicability": "high concern"}, complete=False)
    assert errors == []
    assert cleaned["d2_applicability"]["judgement"] == "high"


# --- RoB 1 (Handbook 5.1, table 8.5.a): no questions, no algorithm ------------------------


def test_rob1_has_the_seven_handbook_domains_each_with_support_and_judgement():
    assert [s.title for s in ROB1.sections[:7]] == [
        "Random sequence generation (selection bias)",
        "Allocation concealment (selection bias)",
        "Blinding of participants and personnel (performance bias)",
        "Blinding of outcome assessment (detection bias)",
        "Incomplete outcome data (attrition bias)",
        "Selective reporting (reporting bias)",
        "Other bias",
    ]
    for section in ROB1.sections[:7]:
        assert [f.kind for f in section.fields] == ["long_text", "judgement"]
    assert not any(f.kind == "single_choice" for f in ROB1.fields())
    assert dict(rob1.TOOL.judgements) == {
        "low": "Low risk",
        "high": "High risk",
        "unclear": "Unclear risk",
    }


def test_rob1_proposes_nothing_so_any_judgement_needs_no_reason():
    values = {f"d{n}_judgement": "Unclear risk" for n in range(1, 8)}
    assert set(rob.proposed_judgements(ROB1, values).values()) == {None}
    cleaned, errors = clean_values(ROB1, values, complete=True)
    assert errors == []
    assert cleaned["d3_judgement"] == {"judgement": "unclear", "override_reason": ""}
    _, errors = clean_values(ROB1, {}, complete=True)
    assert [e.field for e in errors] == [f"d{n}_judgement" for n in range(1, 8)]


# --- The registry's checks on a form's metadata ---------------------------------------


def _form(*fields: FieldSpec) -> FormSpec:
    return FormSpec(title="F", sections=(SectionSpec("S", fields=fields),))


@pytest.mark.parametrize(
    ("fld", "message"),
    [
        (
            FieldSpec("j", "J", "judgement", rob2={"tool": "nope", "domain": "D1"}),
            'Section 1, field 1 ("J"): unknown risk-of-bias tool "nope" (use rob2, quadas2, '
            "rob1, nos_cohort, nos_case_control, robins_i)",
        ),
        (
            FieldSpec("j", "J", "judgement", rob2={"tool": "quadas2", "domain": "D5"}),
            'Section 1, field 1 ("J"): unknown QUADAS-2 domain "D5"',
        ),
        (
            FieldSpec("j", "J", "judgement", rob2={"domain": "D1", "aspect": "applicability"}),
            'Section 1, field 1 ("J"): unknown RoB 2 setting aspect',
        ),
        (
            FieldSpec(
                "j",
                "J",
                "judgement",
                rob2={"tool": "quadas2", "domain": "D4", "aspect": "whatever"},
            ),
            'Section 1, field 1 ("J"): "whatever" is not a judgement of QUADAS-2 domain D4',
        ),
        (
            FieldSpec(
                "q",
                "Q",
                "single_choice",
                choices=("Y", "N"),
                rob2={"tool": "quadas2", "domain": "D1", "question": "1.1"},
            ),
            'Section 1, field 1 ("Q"): "Y" is not an answer to QUADAS-2 question 1.1 (use Yes, '
            "No, Unclear)",
        ),
        (
            FieldSpec(
                "q",
                "Q",
                "single_choice",
                choices=("Yes",),
                rob2={"tool": "rob1", "domain": "D1", "question": "1.1"},
            ),
            'Section 1, field 1 ("Q"): "1.1" is not a signalling question of RoB 1 domain D1',
        ),
    ],
)
def test_risk_of_bias_metadata_is_checked_against_the_registry(fld, message):
    with pytest.raises(ReviewflowError) as exc:
        check_form_spec(_form(fld))
    assert exc.value.message == message


def test_the_same_domain_of_two_tools_and_risk_and_applicability_can_share_a_form():
    spec = _form(
        FieldSpec("a", "A", "judgement", rob2={"domain": "D1"}),
        FieldSpec("b", "B", "judgement", rob2={"tool": "quadas2", "domain": "D1"}),
        FieldSpec(
            "c",
            "C",
            "judgement",
            rob2={"tool": "quadas2", "domain": "D1", "aspect": "applicability"},
        ),
    )
    check_form_spec(spec)
    with pytest.raises(ReviewflowError, match="the D1 applicability judgement is already asked"):
        check_form_spec(
            _form(
                *spec.sections[0].fields,
                FieldSpec(
                    "d",
                    "D",
                    "judgement",
                    rob2={"tool": "quadas2", "domain": "D1", "aspect": "applicability"},
                ),
            )
        )


def test_stored_rob2_forms_read_as_before():
    data = TEMPLATES["rob2"].to_dict()
    assert data["sections"][1]["fields"][0]["rob2"] == {"domain": "D1", "question": "1.1"}
    assert json.loads(json.dumps(QUADAS.to_dict()))["sections"][0]["fields"][1]["rob2"] == {
        "tool": "quadas2",
        "domain": "D1",
        "question": "1.1",
    }


def test_the_comparison_shows_each_tools_words():
    a = {"d1_applicability": {"judgement": "unclear", "override_reason": ""}}
    b = {"d1_applicability": {"judgement": "high", "override_reason": ""}}
    shown = {c.label: (c.a, c.b) for c in compared_fields(compare_values(QUADAS, a, b))}
    label = QUADAS.field("d1_applicability").label
    assert shown[label] == ("Unclear concern", "High concern")


# --- Pages --------------------------------------------------------------------------------


@pytest.fixture
def studies(review, owner, reviewer, reviewer2):
    records = import_records(review, owner, 2)
    for record in records:
        for stage in ("title-abstract", "full-text"):
            for user in (reviewer, reviewer2):
                vote(review, record, user, "include", stage=stage)
    return records


def _published(review, owner, template):
    draft = create_form_from_template(review=review, actor=owner, template=template)
    return publish_form(form=draft, actor=owner)


def _page(form, record):
    return reverse("extraction-page", args=[form.review.slug, form.pk, record.pk])


def _start(client, form, record):
    client.post(
        reverse("extraction-action", args=[form.review.slug, form.pk, record.pk]),
        {"action": "start"},
    )


@pytest.mark.django_db
def test_quadas2_page_shows_the_guidance_proposal_live_and_keeps_an_override_with_reason(
    client_for, review, owner, reviewer, studies
):
    form = _published(review, owner, "quadas2")
    record = included_studies(review).first()
    client = client_for(reviewer)
    _start(client, form, record)
    live = client.post(
        reverse("extraction-rob2", args=[review.slug, form.pk]),
        {"f-qd1_1": "Yes", "f-qd1_2": "Unclear", "f-qd1_3": "Yes"},
    ).json()
    assert live["proposals"]["d1_judgement"] == "unclear"
    assert live["proposals"]["d1_applicability"] is None
    assert live["labels"]["unclear"] == "Unclear risk"
    answers = {"f-qd1_1": "Yes", "f-qd1_2": "Yes", "f-qd1_3": "Yes"}
    client.post(_page(form, record), {**answers, "action": "draft"})
    page = client.get(_page(form, record)).content.decode()
    assert "Proposed by the QUADAS-2 guidance:" in page
    assert 'data-proposal-for="d1_judgement">Low risk<' in page
    assert "QUADAS-2 proposes no judgement here: choose one." in page  # applicability
    assert '<option value="unclear">Unclear concern</option>' in page
    response = client.post(
        _page(form, record),
        {
            **answers,
            "f-d1_judgement-judgement": "high",
            "f-d1_judgement-override_reason": "Half the sample was referred after a positive test.",
            "action": "draft",
        },
    )
    assert response.status_code == 302
    mine = Extraction.objects.get(extractor=reviewer, form=form)
    assert mine.values["d1_judgement"] == {
        "judgement": "high",
        "override_reason": "Half the sample was referred after a positive test.",
    }


@pytest.mark.django_db
def test_rob1_page_asks_each_judgement_without_proposing_one(
    client_for, review, owner, reviewer, studies
):
    form = _published(review, owner, "rob1")
    record = included_studies(review).first()
    client = client_for(reviewer)
    _start(client, form, record)
    page = client.get(_page(form, record)).content.decode()
    assert "Proposed by" not in page
    assert page.count("RoB 1 proposes no judgement here: choose one.") == 8
    assert "Reason for overriding the proposal" not in page
    assert '<option value="unclear">Unclear risk</option>' in page


# --- Newcastle–Ottawa: items, stars, the AHRQ conversion as a proposal ---------------------

NOS_COHORT = TEMPLATES["nos-cohort"]
NOS_CASE_CONTROL = TEMPLATES["nos-case-control"]


def _starred(spec: FormSpec, **unstarred: str) -> dict[str, str]:
    """Every item answered with its first (starred) option, except those given."""
    values = {f.key: f.choices[0] for f in spec.fields() if f.kind == "single_choice"}
    return {**values, **unstarred}


def test_nos_versions_have_the_forms_items_in_their_sections():
    cohort = {s.title: [f.label for f in s.fields] for s in NOS_COHORT.sections[:3]}
    assert cohort == {
        "Selection": [
            "S1 Representativeness of the exposed cohort",
            "S2 Selection of the non exposed cohort",
            "S3 Ascertainment of exposure",
            "S4 Demonstration that outcome of interest was not present at start of study",
        ],
        "Comparability": [
            "C1a Comparability of cohorts on the basis of the design or analysis: study "
            "controls for the most important factor",
            "C1b Comparability of cohorts on the basis of the design or analysis: study "
            "controls for any additional factor",
        ],
        "Outcome": [
            "O1 Assessment of outcome",
            "O2 Was follow-up long enough for outcomes to occur",
            "O3 Adequacy of follow up of cohorts",
        ],
    }
    case_control = [f.label for s in NOS_CASE_CONTROL.sections[:3] for f in s.fields]
    assert case_control[:4] == [
        "S1 Is the case definition adequate?",
        "S2 Representativeness of the cases",
        "S3 Selection of controls",
        "S4 Definition of controls",
    ]
    assert case_control[6:] == [
        "E1 Ascertainment of exposure",
        "E2 Same method of ascertainment for cases and controls",
        "E3 Non-response rate",
    ]
    assert NOS_CASE_CONTROL.sections[2].title == "Exposure"
    # The starred options, as the forms mark them.
    starred = [c for f in NOS_COHORT.fields() for c in f.choices if c.endswith("*")]
    assert len(starred) == 13
    assert NOS_COHORT.field("nos_s3").choices == (
        "a) secure record (e.g. surgical records) *",
        "b) structured interview *",
        "c) written self report",
        "d) no description",
    )


@pytest.mark.parametrize(
    ("unstarred", "stars", "rating"),
    [
        ({}, (4, 2, 3, 9), "good"),
        ({"nos_s1": "c) selected group of users e.g. nurses, volunteers"}, (3, 2, 3, 8), "good"),
        (
            {"nos_s1": "d) no description of the derivation of the cohort", "nos_s4": "b) no"},
            (2, 2, 3, 7),
            "fair",
        ),
        (
            {
                "nos_s2": "b) drawn from a different source",
                "nos_s4": "b) no",
                "nos_s3": "d) no description",
            },
            (1, 2, 3, 6),
            "poor",
        ),
        ({"nos_c1a": "No", "nos_c1b": "No"}, (4, 0, 3, 7), "poor"),
        ({"nos_c1b": "No"}, (4, 1, 3, 8), "good"),
        ({"nos_o1": "c) self report", "nos_o2": "b) no"}, (4, 2, 1, 7), "poor"),
        ({"nos_o3": "d) no statement"}, (4, 2, 2, 8), "good"),
    ],
)
def test_nos_counts_stars_per_section_and_proposes_the_ahrq_rating(unstarred, stars, rating):
    values = _starred(NOS_COHORT, **unstarred)
    assert rob.proposed_judgements(NOS_COHORT, values) == {"overall_judgement": rating}
    selection, comparability, outcome, total = stars
    assert rob.proposal_notes(NOS_COHORT, values) == {
        "overall_judgement": f"Stars: selection {selection}/4, comparability "
        f"{comparability}/2, outcome {outcome}/3; total {total}/9"
    }


def test_nos_proposes_no_rating_until_every_item_is_answered():
    values = _starred(NOS_CASE_CONTROL)
    del values["nos_e3"]
    assert rob.proposed_judgements(NOS_CASE_CONTROL, values) == {"overall_judgement": None}
    assert rob.proposal_notes(NOS_CASE_CONTROL, values)["overall_judgement"] == (
        "Stars: selection 4/4, comparability 2/2, exposure 2/3; total 8/9"
    )
    _, errors = clean_values(
        NOS_CASE_CONTROL, {**values, "overall_judgement": "Good quality"}, complete=True
    )
    assert [e.field for e in errors] == ["nos_e3"]


def test_a_nos_rating_other_than_the_conversion_needs_a_reason():
    values = {**_starred(NOS_COHORT), "overall_judgement": "Fair quality"}
    _, errors = clean_values(NOS_COHORT, values, complete=True)
    assert [str(e) for e in errors] == [
        'Quality rating (AHRQ standards): the AHRQ conversion proposes "Good quality"; give '
        "a reason for overriding it"
    ]
    values["overall_judgement"] = {
        "judgement": "fair",
        "override_reason": "Exposure came from a registry known to miss private clinics.",
    }
    _, errors = clean_values(NOS_COHORT, values, complete=True)
    assert errors == []


@pytest.mark.django_db
def test_nos_page_shows_the_stars_beside_the_proposed_rating(
    client_for, review, owner, reviewer, studies
):
    form = _published(review, owner, "nos-cohort")
    record = included_studies(review).first()
    client = client_for(reviewer)
    _start(client, form, record)
    posted = {f"f-{k}": v for k, v in _starred(NOS_COHORT, nos_c1b="No").items()}
    live = client.post(reverse("extraction-rob2", args=[review.slug, form.pk]), posted).json()
    assert live["proposals"] == {"overall_judgement": "good"}
    assert live["labels"]["good"] == "Good quality"
    assert live["notes"]["overall_judgement"].endswith("total 8/9")
    client.post(_page(form, record), {**posted, "action": "draft"})
    page = client.get(_page(form, record)).content.decode()
    assert "Proposed by the AHRQ conversion of the stars:" in page
    assert (
        'data-proposal-note-for="overall_judgement">Stars: selection 4/4, comparability 1/2, '
        "outcome 3/3; total 8/9</span>" in page
    )


# --- ROBINS-I (2016): questions, the one domain mapping, the overall rule -----------------

ROBINS = TEMPLATES["robins-i"]


def test_robins_i_has_seven_domains_with_the_tools_questions_and_answers():
    assert [s.title for s in ROBINS.sections[1:8]] == [
        "Domain 1: Bias due to confounding",
        "Domain 2: Bias in selection of participants into the study",
        "Domain 3: Bias in classification of interventions",
        "Domain 4: Bias due to deviations from intended interventions",
        "Domain 5: Bias due to missing data",
        "Domain 6: Bias in measurement of outcomes",
        "Domain 7: Bias in selection of the reported result",
    ]
    counts = {d: len(qs) for d, qs in robins_i.QUESTIONS.items()}
    assert counts == {"D1": 8, "D2": 5, "D3": 3, "D4": 6, "D5": 5, "D6": 4, "D7": 3}
    q11 = ROBINS.field("ri1_1")
    assert q11.label == (
        "1.1 Is there potential for confounding of the effect of intervention in this study?"
    )
    assert q11.choices == ("Y", "PY", "PN", "N")  # the tool offers no NI here
    q25 = ROBINS.field("ri2_5")
    assert q25.choices == ("Y", "PY", "PN", "N", "NI", "NA")
    assert not q25.required
    assert q25.help == "If Y/PY to 2.2 and 2.3, or N/PN to 2.4; otherwise answer NA."
    assert ROBINS.field("ri7_3").label == (
        "7.3 Is the reported effect estimate likely to be selected, on the basis of the "
        "results, from different subgroups?"
    )
    assert list(robins_i.JUDGEMENTS.values()) == [
        "Low risk",
        "Moderate risk",
        "Serious risk",
        "Critical risk",
        "No information",
    ]


@pytest.mark.parametrize(
    ("answer", "proposal"), [("N", "low"), ("PN", "low"), ("Y", None), ("PY", None)]
)
def test_robins_i_proposes_only_the_guidances_domain_1_rule(answer, proposal):
    assert robins_i.TOOL.domain_judgement("D1", {"1.1": answer}) == proposal
    everything_no = {q.id: "N" for q in robins_i.QUESTIONS["D2"]}
    assert robins_i.TOOL.domain_judgement("D2", everything_no) is None


@pytest.mark.parametrize(
    ("domains", "overall"),
    [
        (["low"] * 7, "low"),
        (["low"] * 6 + ["moderate"], "moderate"),
        (["moderate", "serious", "low", "low", "no_information", "low", "low"], "serious"),
        (["critical", "serious", "low", "low", "low", "low", "low"], "critical"),
        (["moderate", "low", "low", "low", "no_information", "low", "low"], "no_information"),
        (["moderate", "low", "low", "low", None, "low", "low"], None),
    ],
)
def test_robins_i_overall_follows_the_guidances_order(domains, overall):
    judgements = dict(zip(robins_i.DOMAINS, domains, strict=True))
    assert robins_i.TOOL.overall_judgement(judgements) == overall


def test_robins_i_form_proposes_domain_1_and_overall_from_recorded_judgements():
    recorded = {
        f"d{n}_judgement": {"judgement": "moderate", "override_reason": ""} for n in range(2, 8)
    }
    proposals = rob.proposed_judgements(ROBINS, {"ri1_1": "PN", **recorded})
    assert proposals["d1_judgement"] == "low"
    assert proposals["d2_judgement"] is None
    assert proposals["overall_judgement"] == "moderate"
    # Domains without a rule take any judgement without a reason.
    values = {
        "outcome": "Mortality",
        "effect_of_interest": "Effect of assignment to intervention",
        **{
            f.key: "N"
            for f in ROBINS.fields()
            if f.kind == "single_choice" and f.required and f.key.startswith("ri")
        },
        "ri1_1": "Y",
        **{f"d{n}_judgement": "Serious risk" for n in range(1, 8)},
        "overall_judgement": "Serious risk",
    }
    _, errors = clean_values(ROBINS, values, complete=True)
    assert errors == []
    values["overall_judgement"] = "Critical risk"
    _, errors = clean_values(ROBINS, values, complete=True)
    assert [str(e) for e in errors] == [
        'Overall risk-of-bias judgement: the guidance proposes "Serious risk"; give a reason '
        "for overriding it"
    ]


@pytest.mark.django_db
def test_robins_i_page_says_which_domains_the_guidance_proposes(
    client_for, review, owner, reviewer, studies
):
    form = _published(review, owner, "robins-i")
    record = included_studies(review).first()
    client = client_for(reviewer)
    _start(client, form, record)
    page = client.get(_page(form, record)).content.decode()
    assert page.count("Proposed by the ROBINS-I guidance:") == 2  # domain 1 and overall
    assert "none: the guidance proposes low only when 1.1 is N or PN" in page
    assert page.count("ROBINS-I proposes no judgement here: choose one.") == 6
