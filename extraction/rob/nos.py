"""Newcastle–Ottawa Scale (NOS), cohort and case–control versions, with star counts.

Source: Wells GA, Shea B, O'Connell D, Peterson J, Welch V, Losos M, Tugwell P. The
Newcastle-Ottawa Scale (NOS) for assessing the quality of nonrandomised studies in
meta-analyses (ohri.ca/programs/clinical_epidemiology/oxford.asp), the two one-page forms
"Newcastle - Ottawa quality assessment scale, case control studies / cohort studies", as
also reproduced in AHRQ's "Validity and inter-rater reliability testing of quality
assessment instruments" (Hartling et al. 2012, NBK92291, appendix E). Item names and
options are the forms' words; an option marked ``*`` earns the item's star. The forms leave
blanks ("truly representative of the average ____ in the community", "study controls for
____"): the review fills them in its protocol, so the options here keep the blanks out.

"A study can be awarded a maximum of one star for each numbered item within the Selection
and Outcome [Exposure] categories. A maximum of two stars can be given for Comparability."
The comparability item's two starred options (a: the most important factor, b: any
additional factor) can both apply, so they are asked as two yes/no parts, 1a and 1b. Stars:
selection 0–4, comparability 0–2, outcome/exposure 0–3, total 0–9.

NOS itself gives no cut-offs. The proposal is the commonly used conversion to the AHRQ
standards (as stated with NOS ratings in many reviews, e.g. PMC9292924 Table 4): good =
3–4 stars in selection AND 1–2 in comparability AND 2–3 in outcome/exposure; fair = 2 in
selection AND 1–2 in comparability AND 2–3 in outcome/exposure; poor = 0–1 in selection OR
0 in comparability OR 0–1 in outcome/exposure. It is a convention, not part of NOS, and is
offered as a proposal the assessor may override with a reason.
"""

from __future__ import annotations

from collections.abc import Mapping

from .base import OVERALL, Question, Tool

JUDGEMENTS = {"good": "Good quality", "fair": "Fair quality", "poor": "Poor quality"}
SECTIONS = ("selection", "comparability", "outcome")
MAX_STARS = {"selection": 4, "comparability": 2, "outcome": 3}
YES_NO = ("Yes *", "No")


def _q(qid: str, text: str, *answers: str) -> Question:
    return Question(qid, text, answers)


COHORT_TITLES = {
    "selection": "Selection",
    "comparability": "Comparability",
    "outcome": "Outcome",
    OVERALL: "Quality (AHRQ standards)",
}
CASE_CONTROL_TITLES = {**COHORT_TITLES, "outcome": "Exposure"}

COHORT: dict[str, tuple[Question, ...]] = {
    "selection": (
        _q(
            "S1",
            "Representativeness of the exposed cohort",
            "a) truly representative of the average in the community *",
            "b) somewhat representative of the average in the community *",
            "c) selected group of users e.g. nurses, volunteers",
            "d) no description of the derivation of the cohort",
        ),
        _q(
            "S2",
            "Selection of the non exposed cohort",
            "a) drawn from the same community as the exposed cohort *",
            "b) drawn from a different source",
            "c) no description of the derivation of the non exposed cohort",
        ),
        _q(
            "S3",
            "Ascertainment of exposure",
            "a) secure record (e.g. surgical records) *",
            "b) structured interview *",
            "c) written self report",
            "d) no description",
        ),
        _q(
            "S4",
            "Demonstration that outcome of interest was not present at start of study",
            "a) yes *",
            "b) no",
        ),
    ),
    "comparability": (
        _q(
            "C1a",
            "Comparability of cohorts on the basis of the design or analysis: study controls "
            "for the most important factor",
            *YES_NO,
        ),
        _q(
            "C1b",
            "Comparability of cohorts on the basis of the design or analysis: study controls "
            "for any additional factor",
            *YES_NO,
        ),
    ),
    "outcome": (
        _q(
            "O1",
            "Assessment of outcome",
            "a) independent blind assessment *",
            "b) record linkage *",
            "c) self report",
            "d) no description",
        ),
        _q(
            "O2",
            "Was follow-up long enough for outcomes to occur",
            "a) yes (an adequate follow up period for the outcome of interest) *",
            "b) no",
        ),
        _q(
            "O3",
            "Adequacy of follow up of cohorts",
            "a) complete follow up - all subjects accounted for *",
            "b) subjects lost to follow up unlikely to introduce bias - small number lost, or "
            "description provided of those lost *",
            "c) follow up rate below the adequate rate and no description of those lost",
            "d) no statement",
        ),
    ),
}

CASE_CONTROL: dict[str, tuple[Question, ...]] = {
    "selection": (
        _q(
            "S1",
            "Is the case definition adequate?",
            "a) yes, with independent validation *",
            "b) yes, e.g. record linkage or based on self reports",
            "c) no description",
        ),
        _q(
            "S2",
            "Representativeness of the cases",
            "a) consecutive or obviously representative series of cases *",
            "b) potential for selection biases or not stated",
        ),
        _q(
            "S3",
            "Selection of controls",
            "a) community controls *",
            "b) hospital controls",
            "c) no description",
        ),
        _q(
            "S4",
            "Definition of controls",
            "a) no history of disease (endpoint) *",
            "b) no description of source",
        ),
    ),
    "comparability": (
        _q(
            "C1a",
            "Comparability of cases and controls on the basis of the design or analysis: study "
            "controls for the most important factor",
            *YES_NO,
        ),
        _q(
            "C1b",
            "Comparability of cases and controls on the basis of the design or analysis: study "
            "controls for any additional factor",
            *YES_NO,
        ),
    ),
    "outcome": (
        _q(
            "E1",
            "Ascertainment of exposure",
            "a) secure record (e.g. surgical records) *",
            "b) structured interview where blind to case/control status *",
            "c) interview not blinded to case/control status",
            "d) written self report or medical record only",
            "e) no description",
        ),
        _q(
            "E2",
            "Same method of ascertainment for cases and controls",
            "a) yes *",
            "b) no",
        ),
        _q(
            "E3",
            "Non-response rate",
            "a) same rate for both groups *",
            "b) non respondents described",
            "c) rate different and no designation",
        ),
    ),
}


def stars(
    questions: Mapping[str, tuple[Question, ...]], answers: Mapping[str, str]
) -> dict[str, int]:
    """Stars per section (``selection``, ``comparability``, ``outcome``) and ``total``: one
    for each item answered with a starred option. Unanswered items earn none."""
    counts = {
        section: sum(1 for q in questions[section] if answers.get(q.id, "").endswith("*"))
        for section in SECTIONS
    }
    counts["total"] = sum(counts.values())
    return counts


def ahrq_rating(counts: Mapping[str, int]) -> str:
    """The AHRQ-standard rating of star counts (see the module docstring): ``good``,
    ``fair`` or ``poor``."""
    selection, comparability, outcome = (counts[s] for s in SECTIONS)
    if selection <= 1 or comparability == 0 or outcome <= 1:
        return "poor"
    if selection >= 3:
        return "good"
    return "fair"  # selection 2, comparability 1-2, outcome 2-3


class Nos(Tool):
    """A NOS version. Its sections are the registry's domains; only the overall rating is a
    judgement, proposed from the stars once every item is answered."""

    def overall_from_answers(self, answers: Mapping[str, Mapping[str, str]]) -> str | None:
        if any(self.needed_questions(d, answers.get(d, {})) for d in self.domains):
            return None
        flat = {q: a for d in self.domains for q, a in answers.get(d, {}).items()}
        return ahrq_rating(stars(self.questions, flat))

    def note(self, answers: Mapping[str, Mapping[str, str]]) -> str:
        flat = {q: a for d in self.domains for q, a in answers.get(d, {}).items()}
        counts = stars(self.questions, flat)
        parts = [f"{self.domain_titles[s].lower()} {counts[s]}/{MAX_STARS[s]}" for s in SECTIONS]
        return f"Stars: {', '.join(parts)}; total {counts['total']}/9"


def _tool(
    key: str, name: str, questions: dict[str, tuple[Question, ...]], titles: dict[str, str]
) -> Nos:
    return Nos(
        key=key,
        name=name,
        domains=SECTIONS,
        domain_titles=titles,
        judgements=JUDGEMENTS,
        questions=questions,
        proposer="AHRQ conversion",
        proposed_by="the AHRQ conversion of the stars",
    )


COHORT_TOOL = _tool("nos_cohort", "Newcastle–Ottawa (cohort)", COHORT, COHORT_TITLES)
CASE_CONTROL_TOOL = _tool(
    "nos_case_control", "Newcastle–Ottawa (case–control)", CASE_CONTROL, CASE_CONTROL_TITLES
)
