"""QUADAS-2: risk of bias and applicability of diagnostic accuracy studies.

Source: Whiting PF, Rutjes AWS, Westwood ME, Mallett S, Deeks JJ, Reitsma JB, Leeflang MMG,
Sterne JAC, Bossuyt PMM, and the QUADAS-2 Group. QUADAS-2: a revised tool for the quality
assessment of diagnostic accuracy studies. Ann Intern Med 2011;155:529-536, Table 1 and the
tool's template (bristol.ac.uk/population-health-sciences/projects/quadas/quadas-2): four
domains, signalling questions answered yes/no/unclear, "Could … have introduced bias?"
judged low/high/unclear, and "Is there concern that …?" (applicability) judged
low/high/unclear for the first three domains. The wording below is the tool's.

QUADAS-2 has **no algorithm**. Its guidance (Whiting 2011, "Risk of bias"): "If all
signalling questions for a domain are answered 'yes' then risk of bias can be judged 'low'.
If any signalling question is answered 'no' this flags the potential for bias", and
"unclear" is for when "insufficient data are reported to permit a judgment". The proposal
here applies that guidance, no more: all yes → low; any no → high (the flagged potential
for bias, which the assessor confirms or overrides with a reason); otherwise (some unclear,
no no) → unclear. Applicability concerns are never proposed.

Overall: Whiting 2011 says a study judged low in every domain may be judged low overall,
and one judged high or unclear in one or more domains "at risk of bias"; the proposal takes
the least favourable domain (high before unclear before low), which is also how robvis's
QUADAS-2 example data (``data_raw/data_quadas.csv``) fills its Overall column.
"""

from __future__ import annotations

from collections.abc import Mapping

from .base import Question, Tool, worst

ANSWERS = ("Yes", "No", "Unclear")
JUDGEMENTS = {"low": "Low risk", "high": "High risk", "unclear": "Unclear risk"}
APPLICABILITY = {"low": "Low concern", "high": "High concern", "unclear": "Unclear concern"}
DOMAINS = ("D1", "D2", "D3", "D4")
DOMAIN_TITLES = {
    "D1": "Patient selection",
    "D2": "Index test(s)",
    "D3": "Reference standard",
    "D4": "Flow and timing",
}


def _q(qid: str, text: str) -> Question:
    return Question(qid, text, ANSWERS)


QUESTIONS: dict[str, tuple[Question, ...]] = {
    "D1": (
        _q("1.1", "Was a consecutive or random sample of patients enrolled?"),
        _q("1.2", "Was a case-control design avoided?"),
        _q("1.3", "Did the study avoid inappropriate exclusions?"),
    ),
    "D2": (
        _q(
            "2.1",
            "Were the index test results interpreted without knowledge of the results of the "
            "reference standard?",
        ),
        _q("2.2", "If a threshold was used, was it pre-specified?"),
    ),
    "D3": (
        _q("3.1", "Is the reference standard likely to correctly classify the target condition?"),
        _q(
            "3.2",
            "Were the reference standard results interpreted without knowledge of the results "
            "of the index test?",
        ),
    ),
    "D4": (
        _q(
            "4.1", "Was there an appropriate interval between index test(s) and reference standard?"
        ),
        _q("4.2", "Did all patients receive a reference standard?"),
        _q("4.3", "Did patients receive the same reference standard?"),
        _q("4.4", "Were all patients included in the analysis?"),
    ),
}
# The judgement question and the applicability question of each domain, as the tool asks.
RISK_QUESTIONS = {
    "D1": "Could the selection of patients have introduced bias?",
    "D2": "Could the conduct or interpretation of the index test have introduced bias?",
    "D3": "Could the reference standard, its conduct, or its interpretation have introduced bias?",
    "D4": "Could the patient flow have introduced bias?",
}
APPLICABILITY_QUESTIONS = {
    "D1": "Is there concern that the included patients do not match the review question?",
    "D2": "Is there concern that the index test, its conduct, or interpretation differ from "
    "the review question?",
    "D3": "Is there concern that the target condition as defined by the reference standard "
    "does not match the review question?",
}
DESCRIBE = {
    "D1": "Describe methods of patient selection",
    "D2": "Describe the index test and how it was conducted and interpreted",
    "D3": "Describe the reference standard and how it was conducted and interpreted",
    "D4": "Describe any patients who did not receive the index test(s) and/or reference "
    "standard or who were excluded from the 2x2 table (refer to flow diagram); describe the "
    "time interval and any interventions between index test(s) and reference standard",
}


class Quadas2(Tool):
    def domain_judgement(self, domain: str, answers: Mapping[str, str]) -> str | None:
        if domain not in QUESTIONS:
            raise ValueError(f"unknown QUADAS-2 domain {domain!r}")
        if self.needed_questions(domain, answers):
            return None
        given = [answers[q.id] for q in QUESTIONS[domain]]
        if all(a == "Yes" for a in given):
            return "low"
        if "No" in given:
            return "high"
        return "unclear"

    def overall_judgement(self, judgements: Mapping[str, str | None]) -> str | None:
        return worst(("low", "unclear", "high"), judgements, DOMAINS)


TOOL = Quadas2(
    key="quadas2",
    name="QUADAS-2",
    domains=DOMAINS,
    domain_titles=DOMAIN_TITLES,
    judgements=JUDGEMENTS,
    questions=QUESTIONS,
    proposer="guidance",
    aspects={"applicability": APPLICABILITY},
)
