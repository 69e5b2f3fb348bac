"""ROBINS-I: Risk Of Bias In Non-randomised Studies of Interventions (2016).

Sources:

- [T] Sterne JAC, Hernán MA, Reeves BC, et al. ROBINS-I: a tool for assessing risk of bias
  in non-randomised studies of interventions. BMJ 2016;355:i4919, and the tool itself
  ("ROBINS-I tool", riskofbias.info): seven domains, their signalling questions, the
  answers Y/PY/PN/N/NI (1.1 has no NI; questions the tool asks "If …" also take NA), and
  the judgements Low / Moderate / Serious / Critical / No information.
- [DG] Sterne JAC, Higgins JPT, Elbers RG, Reeves BC. ROBINS-I: detailed guidance, updated
  20 October 2016, section 3.5 (overall judgement) and section 4 (per domain).
- The wording was checked against the tool as reproduced in Cochrane reviews (e.g.
  CD010682, PMC8094735, domain 1) and BMJ Open 2020 (domains 1–5 as applied), and the
  domain names against robvis's ROBINS-I template (``data_raw/data_robins_i.csv``).

**Domain proposals.** The 2016 tool gives "criteria for judgements" in prose tables, not
a mapping from the answers to a judgement; its only unambiguous mapping is in domain 1:
"If N/PN to 1.1: the study can be considered to be at low risk of bias due to confounding
and no further signalling questions need be considered". That is the one proposal made
(domain 1, 1.1 N/PN → low). Every other answer pattern, and domains 2–7, get no proposal:
the assessor judges, and no reason is asked because there is nothing to override.
(ROBINS-I V2, 2024, adds algorithms; this is the 2016 tool.)

**Overall.** [DG] 3.5 / [T] Table: low if low in all domains; moderate if low or moderate
in all; serious if serious in at least one but critical in none; critical if critical in at
least one; no information if there is "no clear indication that the study is at serious or
critical risk of bias and there is a lack of information in one or more key domains". The
proposal applies this in that order, treating any domain judged "no information" as a key
one; when that domain is not key for the review the assessor overrides with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping

from .base import OVERALL, Question, Tool

JUDGEMENTS = {
    "low": "Low risk",
    "moderate": "Moderate risk",
    "serious": "Serious risk",
    "critical": "Critical risk",
    "no_information": "No information",
}
DOMAINS = ("D1", "D2", "D3", "D4", "D5", "D6", "D7")
DOMAIN_TITLES = {
    "D1": "Bias due to confounding",
    "D2": "Bias in selection of participants into the study",
    "D3": "Bias in classification of interventions",
    "D4": "Bias due to deviations from intended interventions",
    "D5": "Bias due to missing data",
    "D6": "Bias in measurement of outcomes",
    "D7": "Bias in selection of the reported result",
}
_FULL = ("Y", "PY", "PN", "N", "NI")
_NA = (*_FULL, "NA")


def _q(qid: str, text: str) -> Question:
    return Question(qid, text, _FULL)


def _if(qid: str, text: str, condition: str) -> Question:
    return Question(qid, text, _NA, conditional=True, condition_text=condition)


QUESTIONS: dict[str, tuple[Question, ...]] = {
    "D1": (
        Question(
            "1.1",
            "Is there potential for confounding of the effect of intervention in this study?",
            ("Y", "PY", "PN", "N"),
        ),
        _if(
            "1.2",
            "Was the analysis based on splitting participants' follow up time according to "
            "intervention received?",
            "If Y/PY to 1.1",
        ),
        _if(
            "1.3",
            "Were intervention discontinuations or switches likely to be related to factors "
            "that are prognostic for the outcome?",
            "If Y/PY to 1.2",
        ),
        _if(
            "1.4",
            "Did the authors use an appropriate analysis method that controlled for all the "
            "important confounding domains?",
            "Baseline confounding only: if N/PN to 1.2, or N/PN to 1.3",
        ),
        _if(
            "1.5",
            "Were confounding domains that were controlled for measured validly and reliably by "
            "the variables available in this study?",
            "If Y/PY to 1.4",
        ),
        _if(
            "1.6",
            "Did the authors control for any post-intervention variables that could have been "
            "affected by the intervention?",
            "Baseline confounding only: if N/PN to 1.2, or N/PN to 1.3",
        ),
        _if(
            "1.7",
            "Did the authors use an appropriate analysis method that controlled for all the "
            "important confounding domains and for time-varying confounding?",
            "Baseline and time-varying confounding: if Y/PY to 1.3",
        ),
        _if(
            "1.8",
            "Were confounding domains that were controlled for measured validly and reliably by "
            "the variables available in this study?",
            "If Y/PY to 1.7",
        ),
    ),
    "D2": (
        _q(
            "2.1",
            "Was selection of participants into the study (or into the analysis) based on "
            "participant characteristics observed after the start of intervention?",
        ),
        _if(
            "2.2",
            "Were the post-intervention variables that influenced selection likely to be "
            "associated with intervention?",
            "If Y/PY to 2.1",
        ),
        _if(
            "2.3",
            "Were the post-intervention variables that influenced selection likely to be "
            "influenced by the outcome or a cause of the outcome?",
            "If Y/PY to 2.2",
        ),
        _q(
            "2.4",
            "Do start of follow-up and start of intervention coincide for most participants?",
        ),
        _if(
            "2.5",
            "Were adjustment techniques used that are likely to correct for the presence of "
            "selection biases?",
            "If Y/PY to 2.2 and 2.3, or N/PN to 2.4",
        ),
    ),
    "D3": (
        _q("3.1", "Were intervention groups clearly defined?"),
        _q(
            "3.2",
            "Was the information used to define intervention groups recorded at the start of "
            "the intervention?",
        ),
        _q(
            "3.3",
            "Could classification of intervention status have been affected by knowledge of "
            "the outcome or risk of the outcome?",
        ),
    ),
    "D4": (
        _if(
            "4.1",
            "Were there deviations from the intended intervention beyond what would be "
            "expected in usual practice?",
            "If your aim is the effect of assignment to intervention",
        ),
        _if(
            "4.2",
            "Were these deviations from intended intervention unbalanced between groups and "
            "likely to have affected the outcome?",
            "If Y/PY to 4.1",
        ),
        _if(
            "4.3",
            "Were important co-interventions balanced across intervention groups?",
            "If your aim is the effect of starting and adhering to intervention",
        ),
        _if(
            "4.4",
            "Was the intervention implemented successfully for most participants?",
            "If your aim is the effect of starting and adhering to intervention",
        ),
        _if(
            "4.5",
            "Did study participants adhere to the assigned intervention regimen?",
            "If your aim is the effect of starting and adhering to intervention",
        ),
        _if(
            "4.6",
            "Was an appropriate analysis used to estimate the effect of starting and adhering "
            "to the intervention?",
            "If N/PN to 4.3, 4.4 or 4.5",
        ),
    ),
    "D5": (
        _q("5.1", "Were outcome data available for all, or nearly all, participants?"),
        _q("5.2", "Were participants excluded due to missing data on intervention status?"),
        _q(
            "5.3",
            "Were participants excluded due to missing data on other variables needed for the "
            "analysis?",
        ),
        _if(
            "5.4",
            "Are the proportion of participants and reasons for missing data similar across "
            "interventions?",
            "If PN/N to 5.1, or Y/PY to 5.2 or 5.3",
        ),
        _if(
            "5.5",
            "Is there evidence that results were robust to the presence of missing data?",
            "If PN/N to 5.1, or Y/PY to 5.2 or 5.3",
        ),
    ),
    "D6": (
        _q(
            "6.1",
            "Could the outcome measure have been influenced by knowledge of the intervention "
            "received?",
        ),
        _q(
            "6.2",
            "Were outcome assessors aware of the intervention received by study participants?",
        ),
        _q(
            "6.3",
            "Were the methods of outcome assessment comparable across intervention groups?",
        ),
        _q(
            "6.4",
            "Were any systematic errors in measurement of the outcome related to intervention "
            "received?",
        ),
    ),
    "D7": (
        _q(
            "7.1",
            "Is the reported effect estimate likely to be selected, on the basis of the "
            "results, from multiple outcome measurements within the outcome domain?",
        ),
        _q(
            "7.2",
            "Is the reported effect estimate likely to be selected, on the basis of the "
            "results, from multiple analyses of the intervention-outcome relationship?",
        ),
        _q(
            "7.3",
            "Is the reported effect estimate likely to be selected, on the basis of the "
            "results, from different subgroups?",
        ),
    ),
}


class RobinsI(Tool):
    def proposes(self, domain: str) -> bool:
        return domain in ("D1", OVERALL)

    def no_proposal_text(self, domain: str) -> str:
        if domain == "D1":
            return "none: the guidance proposes low only when 1.1 is N or PN"
        return super().no_proposal_text(domain)

    def domain_judgement(self, domain: str, answers: Mapping[str, str]) -> str | None:
        if domain not in QUESTIONS:
            raise ValueError(f"unknown ROBINS-I domain {domain!r}")
        # The tool's one unambiguous mapping (see the module docstring).
        if domain == "D1" and answers.get("1.1") in ("N", "PN"):
            return "low"
        return None

    def overall_judgement(self, judgements: Mapping[str, str | None]) -> str | None:
        values = [judgements.get(d) for d in DOMAINS]
        if any(v not in JUDGEMENTS for v in values):
            return None
        for level in ("critical", "serious", "no_information"):
            if level in values:
                return level
        return "low" if all(v == "low" for v in values) else "moderate"


TOOL = RobinsI(
    key="robins_i",
    name="ROBINS-I",
    domains=DOMAINS,
    domain_titles=DOMAIN_TITLES,
    judgements=JUDGEMENTS,
    questions=QUESTIONS,
    proposer="guidance",
)
