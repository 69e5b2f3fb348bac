"""Cochrane RoB 2: the signalling questions and the algorithms that propose judgements.

Scope: individually randomized parallel-group trials, effect of assignment to intervention
(the "intention-to-treat" effect), which is the variant of domain 2 this module implements.

Sources (cited per mapping below):

- [G] Higgins JPT, Savović J, Page MJ, Sterne JAC (eds). *Revised Cochrane risk-of-bias tool
  for randomized trials (RoB 2)*, full guidance, version of 22 August 2019
  (riskofbias.info): signalling questions and response options in Boxes 4, 6, 8, 10, 11
  (pp. 17, 28-29, 45-46, 54, 63-65); the algorithm figures and the "criteria for
  judgements" tables of each domain; the overall judgement table.
- [BMJ] Sterne JAC et al. RoB 2: a revised tool for assessing risk of bias in randomised
  trials. BMJ 2019;366:l4898, Table 2 (overall judgement).
- [H8] Cochrane Handbook v6, chapter 8 (Higgins et al. 2019), key points: "The overall risk
  of bias for the result is the least favourable assessment across the domains of bias.
  Both the proposed domain-level and overall risk-of-bias judgements can be overridden by
  the review authors, with justification."

The mappings were cross-checked against two restatements of [G]'s criteria tables: the
domain 1 and 2 table reproduced in Syst Rev 2021;10:171, Table 2 (PMC8191126), and an
open-source transcription of all five tables (rob2-kit, "Deterministic transcription of the
official RoB 2 proposed-judgement tables"). ``tests/extraction/test_rob2.py`` restates the
criteria tables independently and compares them with these trees for every combination of
answers.

Answers are the tool's codes: ``Y`` yes, ``PY`` probably yes, ``PN`` probably no, ``N`` no,
``NI`` no information, and ``NA`` (not applicable) for the conditional questions the
guidance marks "If … to x.y" — ``NA`` is what an assessor answers when the path through the
algorithm does not reach the question. A question whose condition is met must be answered
with something else; until it is, the algorithm proposes nothing (``None``).

The algorithms are written as the decision trees of [G]'s figures, walked from the first
question; every branch is pinned by a test in ``tests/extraction/test_rob2.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # spec imports this module; the form types are only needed for typing
    from .spec import FormSpec

__all__ = [
    "ANSWERS",
    "ANSWER_LABELS",
    "DIRECTIONS",
    "DOMAINS",
    "DOMAIN_TITLES",
    "JUDGEMENTS",
    "OVERALL",
    "QUESTIONS",
    "Question",
    "applicable_questions",
    "domain_judgement",
    "needed_questions",
    "overall_judgement",
    "parse_judgement",
    "proposed_judgements",
]

ANSWERS = ("Y", "PY", "PN", "N", "NI", "NA")
ANSWER_LABELS = {
    "Y": "Yes",
    "PY": "Probably yes",
    "PN": "Probably no",
    "N": "No",
    "NI": "No information",
    "NA": "Not applicable",
}
JUDGEMENTS = {"low": "Low risk", "some_concerns": "Some concerns", "high": "High risk"}
DOMAINS = ("D1", "D2", "D3", "D4", "D5")
OVERALL = "overall"
DOMAIN_TITLES = {
    "D1": "Risk of bias arising from the randomization process",
    "D2": "Risk of bias due to deviations from the intended interventions "
    "(effect of assignment to intervention)",
    "D3": "Risk of bias due to missing outcome data",
    "D4": "Risk of bias in measurement of the outcome",
    "D5": "Risk of bias in selection of the reported result",
    OVERALL: "Overall risk of bias",
}
# "Optional: What is the predicted direction of bias …?" — the options of [G]'s forms.
DIRECTIONS = (
    "NA",
    "Favours experimental",
    "Favours comparator",
    "Towards null",
    "Away from null",
    "Unpredictable",
)

YES = frozenset({"Y", "PY"})
NO = frozenset({"N", "PN"})
NI = "NI"
YES_NI = YES | {NI}
NO_NI = NO | {NI}
_FULL = ("Y", "PY", "PN", "N", "NI")


@dataclass(frozen=True)
class Question:
    """A signalling question. ``condition`` is ``None`` when the question is always asked;
    otherwise it says, from the answers so far, whether the path reaches the question
    (the guidance's "If Y/PY/NI to 2.1 or 2.2: …"), and ``condition_text`` says the same
    for people."""

    id: str
    text: str
    answers: tuple[str, ...] = _FULL
    condition: Callable[[Mapping[str, str]], bool] | None = None
    condition_text: str = ""

    @property
    def conditional(self) -> bool:
        return self.condition is not None


def _when(question: str, accepted: frozenset[str]) -> Callable[[Mapping[str, str]], bool]:
    return lambda a: a.get(question) in accepted


# Wording, order, response options and conditions: [G] Box 4 (D1, p. 17), Box 6 (D2,
# effect of assignment, pp. 28-29), Box 8 (D3, pp. 45-46), Box 10 (D4, p. 54), Box 11 (D5,
# pp. 63-65). Conditional questions also take "NA"; 3.2 has no "NI" option in [G].
QUESTIONS: dict[str, tuple[Question, ...]] = {
    "D1": (
        Question("1.1", "Was the allocation sequence random?"),
        Question(
            "1.2",
            "Was the allocation sequence concealed until participants were enrolled and "
            "assigned to interventions?",
        ),
        Question(
            "1.3",
            "Did baseline differences between intervention groups suggest a problem with the "
            "randomization process?",
        ),
    ),
    "D2": (
        Question("2.1", "Were participants aware of their assigned intervention during the trial?"),
        Question(
            "2.2",
            "Were carers and people delivering the interventions aware of participants' "
            "assigned intervention during the trial?",
        ),
        Question(
            "2.3",
            "Were there deviations from the intended intervention that arose because of the "
            "trial context?",
            (*_FULL, "NA"),
            lambda a: a.get("2.1") in YES_NI or a.get("2.2") in YES_NI,
            "If Y/PY/NI to 2.1 or 2.2",
        ),
        Question(
            "2.4",
            "Were these deviations likely to have affected the outcome?",
            (*_FULL, "NA"),
            _when("2.3", YES),
            "If Y/PY to 2.3",
        ),
        Question(
            "2.5",
            "Were these deviations from intended intervention balanced between groups?",
            (*_FULL, "NA"),
            _when("2.4", YES_NI),
            "If Y/PY/NI to 2.4",
        ),
        Question(
            "2.6",
            "Was an appropriate analysis used to estimate the effect of assignment to "
            "intervention?",
        ),
        Question(
            "2.7",
            "Was there potential for a substantial impact (on the result) of the failure to "
            "analyse participants in the group to which they were randomized?",
            (*_FULL, "NA"),
            _when("2.6", NO_NI),
            "If N/PN/NI to 2.6",
        ),
    ),
    "D3": (
        Question(
            "3.1",
            "Were data for this outcome available for all, or nearly all, participants randomized?",
        ),
        Question(
            "3.2",
            "Is there evidence that the result was not biased by missing outcome data?",
            ("Y", "PY", "PN", "N", "NA"),
            _when("3.1", NO_NI),
            "If N/PN/NI to 3.1",
        ),
        Question(
            "3.3",
            "Could missingness in the outcome depend on its true value?",
            (*_FULL, "NA"),
            _when("3.2", NO),
            "If N/PN to 3.2",
        ),
        Question(
            "3.4",
            "Is it likely that missingness in the outcome depended on its true value?",
            (*_FULL, "NA"),
            _when("3.3", YES_NI),
            "If Y/PY/NI to 3.3",
        ),
    ),
    "D4": (
        Question("4.1", "Was the method of measuring the outcome inappropriate?"),
        Question(
            "4.2",
            "Could measurement or ascertainment of the outcome have differed between "
            "intervention groups?",
        ),
        Question(
            "4.3",
            "Were outcome assessors aware of the intervention received by study participants?",
            (*_FULL, "NA"),
            lambda a: a.get("4.1") in NO_NI and a.get("4.2") in NO_NI,
            "If N/PN/NI to 4.1 and 4.2",
        ),
        Question(
            "4.4",
            "Could assessment of the outcome have been influenced by knowledge of intervention "
            "received?",
            (*_FULL, "NA"),
            _when("4.3", YES_NI),
            "If Y/PY/NI to 4.3",
        ),
        Question(
            "4.5",
            "Is it likely that assessment of the outcome was influenced by knowledge of "
            "intervention received?",
            (*_FULL, "NA"),
            _when("4.4", YES_NI),
            "If Y/PY/NI to 4.4",
        ),
    ),
    "D5": (
        Question(
            "5.1",
            "Were the data that produced this result analysed in accordance with a "
            "pre-specified analysis plan that was finalized before unblinded outcome data "
            "were available for analysis?",
        ),
        Question(
            "5.2",
            "Is the numerical result being assessed likely to have been selected, on the basis "
            "of the results, from multiple eligible outcome measurements (e.g. scales, "
            "definitions, time points) within the outcome domain?",
        ),
        Question(
            "5.3",
            "Is the numerical result being assessed likely to have been selected, on the basis "
            "of the results, from multiple eligible analyses of the data?",
        ),
    ),
}


def parse_judgement(word: str) -> str | None:
    """``"low"``, ``"Low risk"``, ``"Some concerns"``, ``"some-concerns"``, ``"High"`` … → the
    stored value (``"low"``, ``"some_concerns"``, ``"high"``); ``None`` when it is none."""
    key = "_".join(word.strip().lower().replace("-", " ").replace("_", " ").split())
    key = {"low_risk": "low", "high_risk": "high"}.get(key, key)
    return key if key in JUDGEMENTS else None


def applicable_questions(domain: str, answers: Mapping[str, str]) -> list[str]:
    """Ids of the domain's questions that the path through the algorithm reaches."""
    return [q.id for q in QUESTIONS[domain] if q.condition is None or q.condition(answers)]


def needed_questions(domain: str, answers: Mapping[str, str]) -> list[str]:
    """Applicable questions still unanswered (empty or ``NA``) or answered with a code the
    question does not offer; the algorithm proposes nothing while this is not empty."""
    allowed = {q.id: q.answers for q in QUESTIONS[domain]}
    return [
        qid
        for qid in applicable_questions(domain, answers)
        if answers.get(qid) in (None, "", "NA") or answers.get(qid) not in allowed[qid]
    ]


def _worst(*judgements: str) -> str:
    order = ("low", "some_concerns", "high")
    return max(judgements, key=order.index)


def _d1(a: Mapping[str, str]) -> str:
    # [G] domain 1 algorithm figure and criteria table: low needs concealment (1.2 Y/PY)
    # with 1.1 Y/PY/NI and 1.3 N/PN/NI; not concealed (1.2 N/PN) is high; no information on
    # concealment (1.2 NI) is high only when baseline differences suggest a problem.
    if a["1.2"] in NO:
        return "high"
    if a["1.2"] == NI:
        return "high" if a["1.3"] in YES else "some_concerns"
    if a["1.1"] in NO or a["1.3"] in YES:
        return "some_concerns"
    return "low"


def _d2(a: Mapping[str, str]) -> str:
    # [G] domain 2 (effect of assignment) algorithm figure: part 1 (2.1-2.5, deviations
    # arising from the trial context) and part 2 (2.6-2.7, the analysis) are judged
    # separately; the domain takes the less favourable ("low" only if both are low, "high"
    # if either is high, otherwise "some concerns").
    if (a["2.1"] in NO and a["2.2"] in NO) or a["2.3"] in NO:
        part1 = "low"  # nobody aware, or no deviations arising from the trial context
    elif a["2.3"] == NI or a["2.4"] in NO or a["2.5"] in YES:
        part1 = "some_concerns"  # 2.3 NI; or 2.3 Y/PY and 2.4 N/PN; or 2.4 Y/PY/NI, 2.5 Y/PY
    else:
        part1 = "high"  # 2.3 Y/PY, 2.4 Y/PY/NI, 2.5 N/PN/NI
    if a["2.6"] in YES:
        part2 = "low"
    elif a["2.7"] in NO:  # 2.6 N/PN/NI
        part2 = "some_concerns"
    else:  # 2.7 Y/PY/NI
        part2 = "high"
    return _worst(part1, part2)


def _d3(a: Mapping[str, str]) -> str:
    # [G] domain 3 algorithm figure: data for (nearly) all (3.1 Y/PY), evidence of no bias
    # (3.2 Y/PY) or missingness that could not depend on the true value (3.3 N/PN) is low;
    # otherwise 3.4 decides: N/PN some concerns, Y/PY/NI high.
    if a["3.1"] in YES or a["3.2"] in YES or a["3.3"] in NO:
        return "low"
    return "some_concerns" if a["3.4"] in NO else "high"


def _d4(a: Mapping[str, str]) -> str:
    # [G] domain 4 algorithm figure: an inappropriate method (4.1 Y/PY) or measurement that
    # could differ between groups (4.2 Y/PY) is high. Otherwise the path 4.3 → 4.4 → 4.5
    # ends low when assessors were unaware (4.3 N/PN) or their knowledge could not have
    # influenced the assessment (4.4 N/PN) — but only "some concerns" when there is no
    # information on 4.2 — some concerns when influence was possible but unlikely (4.5
    # N/PN), and high when it was likely (4.5 Y/PY/NI).
    if a["4.1"] in YES or a["4.2"] in YES:
        return "high"
    if a["4.3"] in NO or a["4.4"] in NO:
        return "some_concerns" if a["4.2"] == NI else "low"
    return "some_concerns" if a["4.5"] in NO else "high"


def _d5(a: Mapping[str, str]) -> str:
    # [G] domain 5 algorithm figure: selection from multiple measurements or analyses
    # (5.2 or 5.3 Y/PY) is high; no information on either (NI, neither Y/PY) is some
    # concerns; with both N/PN, a pre-specified plan (5.1 Y/PY) is low, otherwise (5.1
    # N/PN/NI) some concerns.
    if a["5.2"] in YES or a["5.3"] in YES:
        return "high"
    if a["5.2"] == NI or a["5.3"] == NI:
        return "some_concerns"
    return "low" if a["5.1"] in YES else "some_concerns"


_ALGORITHMS: dict[str, Callable[[Mapping[str, str]], str]] = {
    "D1": _d1,
    "D2": _d2,
    "D3": _d3,
    "D4": _d4,
    "D5": _d5,
}


def domain_judgement(domain: str, answers: Mapping[str, str]) -> str | None:
    """The judgement the algorithm proposes for ``domain`` ("D1".."D5") from the answers
    (question id → code), or ``None`` while a question the path reaches is unanswered.

    Answers to questions the path does not reach are ignored, whatever they are.
    """
    if domain not in _ALGORITHMS:
        raise ValueError(f"unknown RoB 2 domain {domain!r}")
    if needed_questions(domain, answers):
        return None
    # The path only reads reached questions; unreached ones are absent or "NA".
    reached = {qid: answers[qid] for qid in applicable_questions(domain, answers)}
    return _ALGORITHMS[domain](_Reached(reached))


class _Reached(dict[str, str]):
    """Answers on the path; reading an unreached question is a bug in an algorithm above,
    caught by the exhaustive tests, rather than a silent ``None``."""

    def __missing__(self, key: str) -> str:
        raise KeyError(f"RoB 2 algorithm read unreached question {key}")


def overall_judgement(judgements: Mapping[str, str | None]) -> str | None:
    """The proposed overall judgement from the five domain judgements ("D1".."D5").

    [G]/[BMJ] overall table: low risk when every domain is low; high risk when at least one
    domain is high; some concerns when at least one domain has some concerns and none is
    high. [G] also lets the assessor judge the result at high risk when some concerns in
    several domains together "substantially lower confidence in the result"; that is a
    judgement, not a count, so it is not automatic here: the proposal stays "some_concerns"
    and the assessor overrides it (the override needs a reason, like any override).
    ``None`` while any domain has no judgement.
    """
    values = [judgements.get(d) for d in DOMAINS]
    if any(v not in JUDGEMENTS for v in values):
        return None
    if "high" in values:
        return "high"
    if "some_concerns" in values:
        return "some_concerns"
    return "low"


def proposed_judgements(spec: FormSpec, values: Mapping[str, Any]) -> dict[str, str | None]:
    """Judgement field key → the algorithm's proposal, from a form's values.

    Signalling-question fields and judgement fields are found by their ``rob2`` metadata.
    A domain proposal uses that domain's question fields. The overall proposal uses each
    domain's recorded judgement (after any override) when the extractor has given one, and
    the domain's proposal otherwise.
    """
    answers: dict[str, dict[str, str]] = {d: {} for d in DOMAINS}
    judgement_fields: list[tuple[str, str]] = []
    recorded: dict[str, str] = {}
    for fld in spec.fields():
        meta = fld.rob2
        if not meta or meta.get("tool", "rob2") != "rob2":  # other tools: extraction.rob
            continue
        domain = meta.get("domain", "")
        if fld.kind == "judgement":
            judgement_fields.append((fld.key, domain))
            value = values.get(fld.key)
            if domain in DOMAINS and isinstance(value, Mapping):
                judgement = value.get("judgement")
                if isinstance(judgement, str) and judgement in JUDGEMENTS:
                    recorded[domain] = judgement
        elif domain in answers and meta.get("question"):
            answer = values.get(fld.key)
            if isinstance(answer, str):
                answers[domain][meta["question"]] = answer
    domain_proposals = {
        d: domain_judgement(d, answers[d]) if _has_questions(spec, d) else None for d in DOMAINS
    }
    result: dict[str, str | None] = {}
    for key, domain in judgement_fields:
        if domain == OVERALL:
            result[key] = overall_judgement(
                {d: recorded.get(d) or domain_proposals[d] for d in DOMAINS}
            )
        else:
            result[key] = domain_proposals.get(domain)
    return result


def _has_questions(spec: FormSpec, domain: str) -> bool:
    return any(
        f.rob2
        and f.rob2.get("tool", "rob2") == "rob2"
        and f.rob2.get("domain") == domain
        and f.rob2.get("question")
        for f in spec.fields()
    )
