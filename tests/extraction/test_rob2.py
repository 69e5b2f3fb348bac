"""RoB 2 algorithms against the guidance (22 August 2019), branch by branch and exhaustively.

Two formulations meet here: ``extraction.rob2`` walks the decision trees of the guidance's
algorithm figures; the reference functions below restate the guidance's "criteria for
judgements" tables as flat conditions. Every combination of answers must give the same
judgement both ways. No database.
"""

from __future__ import annotations

import itertools

import pytest

from extraction import rob2
from extraction.form_templates import TEMPLATES
from extraction.rob2 import (
    applicable_questions,
    domain_judgement,
    needed_questions,
    overall_judgement,
    parse_judgement,
    proposed_judgements,
)

LOW, SOME, HIGH = "low", "some_concerns", "high"
YES = {"Y", "PY"}
NO = {"N", "PN"}
YES_NI = YES | {"NI"}
NO_NI = NO | {"NI"}


# --- Worked examples: each leaf of each algorithm figure ------------------------------

D1_CASES = [
    # 1.1, 1.2, 1.3 → judgement
    (("Y", "Y", "N"), LOW),  # random, concealed, no problematic imbalance
    (("PY", "PY", "PN"), LOW),
    (("NI", "Y", "NI"), LOW),  # no information on sequence or baseline still low if concealed
    (("N", "Y", "N"), SOME),  # concealed but not random
    (("PN", "Y", "Y"), SOME),
    (("Y", "Y", "Y"), SOME),  # baseline differences suggest a problem
    (("Y", "PY", "PY"), SOME),
    (("Y", "NI", "N"), SOME),  # no information on concealment, baseline fine
    (("N", "NI", "NI"), SOME),
    (("Y", "NI", "Y"), HIGH),  # no information on concealment, problematic baseline
    (("Y", "NI", "PY"), HIGH),
    (("Y", "N", "N"), HIGH),  # not concealed
    (("Y", "PN", "NI"), HIGH),
]


@pytest.mark.parametrize(("answers", "expected"), D1_CASES)
def test_domain_1_follows_the_randomization_algorithm(answers, expected):
    given = dict(zip(("1.1", "1.2", "1.3"), answers, strict=True))
    assert domain_judgement("D1", given) == expected


D2_CASES = [
    # part 1 low (nobody aware) + part 2 low (appropriate analysis)
    ({"2.1": "N", "2.2": "PN", "2.6": "Y"}, LOW),
    # aware, but no deviations arising from the trial context
    ({"2.1": "Y", "2.2": "N", "2.3": "N", "2.6": "PY"}, LOW),
    ({"2.1": "PN", "2.2": "NI", "2.3": "PN", "2.6": "Y"}, LOW),
    # no information on deviations
    ({"2.1": "Y", "2.2": "Y", "2.3": "NI", "2.6": "Y"}, SOME),
    # deviations, but unlikely to have affected the outcome
    ({"2.1": "Y", "2.2": "Y", "2.3": "Y", "2.4": "N", "2.6": "Y"}, SOME),
    # deviations that may have affected the outcome, but balanced
    ({"2.1": "Y", "2.2": "Y", "2.3": "PY", "2.4": "Y", "2.5": "Y", "2.6": "Y"}, SOME),
    ({"2.1": "Y", "2.2": "Y", "2.3": "Y", "2.4": "NI", "2.5": "PY", "2.6": "Y"}, SOME),
    # … and not balanced (or no information): high
    ({"2.1": "Y", "2.2": "Y", "2.3": "Y", "2.4": "Y", "2.5": "N", "2.6": "Y"}, HIGH),
    ({"2.1": "Y", "2.2": "Y", "2.3": "Y", "2.4": "PY", "2.5": "NI", "2.6": "Y"}, HIGH),
    ({"2.1": "NI", "2.2": "N", "2.3": "Y", "2.4": "NI", "2.5": "PN", "2.6": "Y"}, HIGH),
    # part 2: inappropriate analysis without / with potential for substantial impact
    ({"2.1": "N", "2.2": "N", "2.6": "N", "2.7": "N"}, SOME),
    ({"2.1": "N", "2.2": "N", "2.6": "NI", "2.7": "PN"}, SOME),
    ({"2.1": "N", "2.2": "N", "2.6": "PN", "2.7": "Y"}, HIGH),
    ({"2.1": "N", "2.2": "N", "2.6": "N", "2.7": "NI"}, HIGH),
    # the domain is the less favourable of its two parts
    ({"2.1": "Y", "2.2": "Y", "2.3": "NI", "2.6": "N", "2.7": "N"}, SOME),
    ({"2.1": "Y", "2.2": "Y", "2.3": "NI", "2.6": "N", "2.7": "Y"}, HIGH),
    ({"2.1": "Y", "2.2": "Y", "2.3": "Y", "2.4": "Y", "2.5": "N", "2.6": "N", "2.7": "N"}, HIGH),
]


@pytest.mark.parametrize(("answers", "expected"), D2_CASES)
def test_domain_2_follows_the_effect_of_assignment_algorithm(answers, expected):
    assert domain_judgement("D2", answers) == expected


D3_CASES = [
    ({"3.1": "Y"}, LOW),  # data for (nearly) all participants
    ({"3.1": "PY"}, LOW),
    ({"3.1": "N", "3.2": "Y"}, LOW),  # evidence the result was not biased
    ({"3.1": "NI", "3.2": "PY"}, LOW),
    ({"3.1": "N", "3.2": "N", "3.3": "N"}, LOW),  # missingness could not depend on true value
    ({"3.1": "PN", "3.2": "PN", "3.3": "PN"}, LOW),
    ({"3.1": "N", "3.2": "N", "3.3": "Y", "3.4": "N"}, SOME),  # could, but not likely
    ({"3.1": "N", "3.2": "N", "3.3": "NI", "3.4": "PN"}, SOME),
    ({"3.1": "N", "3.2": "N", "3.3": "Y", "3.4": "Y"}, HIGH),  # likely
    ({"3.1": "NI", "3.2": "PN", "3.3": "PY", "3.4": "NI"}, HIGH),
]


@pytest.mark.parametrize(("answers", "expected"), D3_CASES)
def test_domain_3_follows_the_missing_outcome_data_algorithm(answers, expected):
    assert domain_judgement("D3", answers) == expected


D4_CASES = [
    ({"4.1": "Y", "4.2": "N"}, HIGH),  # inappropriate method
    ({"4.1": "PY", "4.2": "NI"}, HIGH),
    ({"4.1": "N", "4.2": "Y"}, HIGH),  # measurement could differ between groups
    ({"4.1": "NI", "4.2": "PY"}, HIGH),
    # 4.2 N/PN branch
    ({"4.1": "N", "4.2": "N", "4.3": "N"}, LOW),  # blinded assessors
    ({"4.1": "NI", "4.2": "PN", "4.3": "PN"}, LOW),
    ({"4.1": "N", "4.2": "N", "4.3": "Y", "4.4": "N"}, LOW),  # could not be influenced
    ({"4.1": "N", "4.2": "N", "4.3": "NI", "4.4": "PN"}, LOW),
    ({"4.1": "N", "4.2": "N", "4.3": "Y", "4.4": "Y", "4.5": "N"}, SOME),
    ({"4.1": "N", "4.2": "N", "4.3": "Y", "4.4": "NI", "4.5": "PN"}, SOME),
    ({"4.1": "N", "4.2": "N", "4.3": "Y", "4.4": "Y", "4.5": "Y"}, HIGH),
    ({"4.1": "N", "4.2": "N", "4.3": "PY", "4.4": "PY", "4.5": "NI"}, HIGH),
    # 4.2 NI branch: what would be low is some concerns
    ({"4.1": "N", "4.2": "NI", "4.3": "N"}, SOME),
    ({"4.1": "N", "4.2": "NI", "4.3": "Y", "4.4": "N"}, SOME),
    ({"4.1": "N", "4.2": "NI", "4.3": "Y", "4.4": "Y", "4.5": "N"}, SOME),
    ({"4.1": "N", "4.2": "NI", "4.3": "Y", "4.4": "Y", "4.5": "Y"}, HIGH),
]


@pytest.mark.parametrize(("answers", "expected"), D4_CASES)
def test_domain_4_follows_the_measurement_algorithm(answers, expected):
    assert domain_judgement("D4", answers) == expected


D5_CASES = [
    (("Y", "N", "N"), LOW),
    (("PY", "PN", "N"), LOW),
    (("N", "N", "N"), SOME),  # no pre-specified plan
    (("NI", "PN", "PN"), SOME),
    (("Y", "NI", "N"), SOME),  # no information on selection
    (("Y", "N", "NI"), SOME),
    (("Y", "Y", "N"), HIGH),  # selected from multiple measurements
    (("Y", "N", "PY"), HIGH),  # … or analyses
    (("NI", "NI", "Y"), HIGH),
]


@pytest.mark.parametrize(("answers", "expected"), D5_CASES)
def test_domain_5_follows_the_selective_reporting_algorithm(answers, expected):
    given = dict(zip(("5.1", "5.2", "5.3"), answers, strict=True))
    assert domain_judgement("D5", given) == expected


# --- The criteria tables, restated, against every combination of answers --------------


def _criteria_d1(a):
    if a["1.2"] in NO or (a["1.2"] == "NI" and a["1.3"] in YES):
        return HIGH
    if a["1.2"] in YES and a["1.1"] in YES_NI and a["1.3"] in NO_NI:
        return LOW
    return SOME


def _criteria_d2(a):
    aware = a["2.1"] in YES_NI or a["2.2"] in YES_NI
    part1_high = aware and a["2.3"] in YES and a["2.4"] in YES_NI and a["2.5"] in NO_NI
    part2_high = a["2.6"] in NO_NI and a["2.7"] in YES_NI
    if part1_high or part2_high:
        return HIGH
    if (not aware or a["2.3"] in NO) and a["2.6"] in YES:
        return LOW
    return SOME


def _criteria_d3(a):
    if a["3.1"] in YES or a["3.2"] in YES or a["3.3"] in NO:
        return LOW
    return HIGH if a["3.4"] in YES_NI else SOME


def _criteria_d4(a):
    possible = a["4.3"] in YES_NI and a["4.4"] in YES_NI
    if a["4.1"] in YES or a["4.2"] in YES or (possible and a["4.5"] in YES_NI):
        return HIGH
    if a["4.2"] == "NI" or (possible and a["4.5"] in NO):
        return SOME
    return LOW


def _criteria_d5(a):
    if a["5.2"] in YES or a["5.3"] in YES:
        return HIGH
    if a["5.1"] in YES and a["5.2"] in NO and a["5.3"] in NO:
        return LOW
    return SOME


CRITERIA = {
    "D1": _criteria_d1,
    "D2": _criteria_d2,
    "D3": _criteria_d3,
    "D4": _criteria_d4,
    "D5": _criteria_d5,
}


@pytest.mark.parametrize("domain", rob2.DOMAINS)
def test_every_combination_of_answers_matches_the_criteria_table(domain):
    questions = rob2.QUESTIONS[domain]
    options = [[c for c in q.answers if c != "NA"] for q in questions]
    seen = set()
    for combo in itertools.product(*options):
        answers = {q.id: answer for q, answer in zip(questions, combo, strict=True)}
        proposed = domain_judgement(domain, answers)
        assert proposed == CRITERIA[domain](answers), answers
        # Only the questions on the path matter: unreached ones may say anything, or NA.
        reached = applicable_questions(domain, answers)
        only_path = {q: (answers[q] if q in reached else "NA") for q in answers}
        assert domain_judgement(domain, only_path) == proposed
        seen.add(proposed)
    assert seen == {LOW, SOME, HIGH}


def test_no_proposal_until_the_questions_on_the_path_are_answered():
    assert domain_judgement("D1", {"1.1": "Y", "1.2": "Y"}) is None
    assert needed_questions("D1", {"1.1": "Y", "1.2": "Y"}) == ["1.3"]
    aware = {"2.1": "Y", "2.2": "N", "2.6": "Y"}
    assert needed_questions("D2", aware) == ["2.3"]
    assert domain_judgement("D2", aware) is None
    assert domain_judgement("D2", {**aware, "2.3": "NA"}) is None  # it applies: NA won't do
    assert domain_judgement("D2", {**aware, "2.3": "N"}) == LOW
    assert domain_judgement("D2", {}) is None


def test_unreached_conditional_questions_may_be_left_empty_or_answered_na():
    unaware = {"2.1": "N", "2.2": "N", "2.6": "Y"}
    assert applicable_questions("D2", unaware) == ["2.1", "2.2", "2.6"]
    assert domain_judgement("D2", unaware) == LOW
    assert domain_judgement("D2", {**unaware, "2.3": "NA", "2.7": "NA"}) == LOW
    # An answer left over from an earlier path is ignored, not used.
    assert domain_judgement("D2", {**unaware, "2.3": "Y", "2.4": "Y", "2.5": "N"}) == LOW


def test_question_3_2_offers_no_no_information_answer():
    assert "NI" not in next(q for q in rob2.QUESTIONS["D3"] if q.id == "3.2").answers
    assert needed_questions("D3", {"3.1": "N", "3.2": "NI"}) == ["3.2"]
    assert domain_judgement("D3", {"3.1": "N", "3.2": "NI"}) is None


def test_conditions_are_those_of_the_guidance():
    conditional = {q.id: q.condition_text for d in rob2.DOMAINS for q in rob2.QUESTIONS[d]}
    assert {k: v for k, v in conditional.items() if v} == {
        "2.3": "If Y/PY/NI to 2.1 or 2.2",
        "2.4": "If Y/PY to 2.3",
        "2.5": "If Y/PY/NI to 2.4",
        "2.7": "If N/PN/NI to 2.6",
        "3.2": "If N/PN/NI to 3.1",
        "3.3": "If N/PN to 3.2",
        "3.4": "If Y/PY/NI to 3.3",
        "4.3": "If N/PN/NI to 4.1 and 4.2",
        "4.4": "If Y/PY/NI to 4.3",
        "4.5": "If Y/PY/NI to 4.4",
    }
    assert [len(rob2.QUESTIONS[d]) for d in rob2.DOMAINS] == [3, 7, 4, 5, 3]


def test_unknown_domain_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown RoB 2 domain"):
        domain_judgement("D6", {})


# --- Overall ------------------------------------------------------------------------


def _all(judgement, **others):
    return {**dict.fromkeys(rob2.DOMAINS, judgement), **others}


def test_overall_is_low_only_when_every_domain_is_low():
    assert overall_judgement(_all(LOW)) == LOW
    assert overall_judgement(_all(LOW, D4=SOME)) == SOME


def test_overall_is_high_when_any_domain_is_high():
    assert overall_judgement(_all(LOW, D5=HIGH)) == HIGH
    assert overall_judgement(_all(SOME, D1=HIGH)) == HIGH


def test_some_concerns_in_several_domains_stay_some_concerns_until_the_assessor_overrides():
    assert overall_judgement(_all(SOME)) == SOME
    assert overall_judgement(_all(LOW, D1=SOME, D2=SOME, D3=SOME)) == SOME


def test_overall_waits_for_every_domain():
    assert overall_judgement(_all(LOW, D3=None)) is None
    assert overall_judgement({"D1": HIGH}) is None


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("low", LOW),
        ("Low risk", LOW),
        (" HIGH ", HIGH),
        ("High risk", HIGH),
        ("Some concerns", SOME),
        ("some-concerns", SOME),
        ("some_concerns", SOME),
        ("unclear", None),
        ("", None),
    ],
)
def test_judgements_are_read_from_values_and_labels(word, expected):
    assert parse_judgement(word) == expected


# --- Proposals on a form ------------------------------------------------------------

ALL_LOW_ANSWERS = {
    "q1_1": "Y",
    "q1_2": "Y",
    "q1_3": "N",
    "q2_1": "N",
    "q2_2": "N",
    "q2_6": "Y",
    "q3_1": "Y",
    "q4_1": "N",
    "q4_2": "N",
    "q4_3": "N",
    "q5_1": "Y",
    "q5_2": "N",
    "q5_3": "N",
}


def test_proposals_for_the_rob2_template_use_each_domains_questions():
    spec = TEMPLATES["rob2"]
    proposals = proposed_judgements(spec, {**ALL_LOW_ANSWERS, "q1_2": "NI", "q1_3": "Y"})
    assert proposals == {
        "d1_judgement": HIGH,
        "d2_judgement": LOW,
        "d3_judgement": LOW,
        "d4_judgement": LOW,
        "d5_judgement": LOW,
        "overall_judgement": HIGH,
    }


def test_overall_proposal_uses_the_recorded_domain_judgements_after_overrides():
    spec = TEMPLATES["rob2"]
    values = {
        **ALL_LOW_ANSWERS,
        "d3_judgement": {"judgement": SOME, "override_reason": "Loss to follow-up 12%."},
    }
    proposals = proposed_judgements(spec, values)
    assert proposals["d3_judgement"] == LOW
    assert proposals["overall_judgement"] == SOME


def test_no_overall_proposal_while_a_domain_is_unanswered():
    spec = TEMPLATES["rob2"]
    values = {k: v for k, v in ALL_LOW_ANSWERS.items() if not k.startswith("q4")}
    proposals = proposed_judgements(spec, values)
    assert proposals["d4_judgement"] is None
    assert proposals["overall_judgement"] is None
