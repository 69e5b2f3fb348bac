"""What every risk-of-bias tool in the registry offers; pure, no Django.

A tool has domains, each with its signalling questions (possibly none) and the judgement
levels its assessors choose from. Where the tool defines a rule that proposes a domain's
judgement from the answers, ``domain_judgement`` returns it; tools without one return
``None``, and the pages then ask for the judgement without proposing anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

OVERALL = "overall"


@dataclass(frozen=True)
class Question:
    """A signalling question, with the answers the tool offers."""

    id: str
    text: str
    answers: tuple[str, ...]
    conditional: bool = False
    condition_text: str = ""  # the tool's "If Y/PY to 1.1", for people


@dataclass(frozen=True)
class Tool:
    """A risk-of-bias tool. ``proposer`` names what proposes judgements ("algorithm",
    "guidance") or is empty when the tool proposes none. ``aspects`` are the judgements a
    domain has besides risk of bias (QUADAS-2's applicability concerns), each with its
    levels; they are never proposed."""

    key: str
    name: str
    domains: tuple[str, ...]
    domain_titles: Mapping[str, str]
    judgements: Mapping[str, str]
    questions: Mapping[str, tuple[Question, ...]] = field(default_factory=dict)
    proposer: str = ""
    aspects: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    proposed_by: str = ""  # for pages: "the RoB 2 algorithm"; derived when left empty

    def proposer_phrase(self) -> str:
        """What proposes, for pages and messages; ``""`` when the tool proposes nothing."""
        if not self.proposer:
            return ""
        return self.proposed_by or f"the {self.name} {self.proposer}"

    def labels(self, aspect: str | None = None) -> Mapping[str, str]:
        """Stored value → the words shown, for risk of bias or for ``aspect``."""
        return self.aspects[aspect] if aspect else self.judgements

    def parse_judgement(self, word: str, aspect: str | None = None) -> str | None:
        """The stored value for ``word`` (a value or its label, any case), or ``None``."""
        labels = self.labels(aspect)
        key = "_".join(word.strip().lower().replace("-", " ").replace("_", " ").split())
        if key in labels:
            return key
        by_label = {"_".join(v.lower().split()): k for k, v in labels.items()}
        return by_label.get(key)

    def proposes(self, domain: str) -> bool:
        """Whether the tool proposes a judgement for ``domain`` (or ``"overall"``)."""
        return bool(self.proposer)

    def no_proposal_text(self, domain: str) -> str:
        """What the page says while a proposing domain has no proposal yet."""
        return "not yet (answer the signalling questions)"

    def needed_questions(self, domain: str, answers: Mapping[str, str]) -> list[str]:
        """Questions of ``domain`` still unanswered, or answered with a code not offered.
        Conditional questions (the tool's "If … to x.y") are left to the assessor."""
        return [
            q.id
            for q in self.questions.get(domain, ())
            if not q.conditional
            and (answers.get(q.id) in (None, "") or answers.get(q.id) not in q.answers)
        ]

    def domain_judgement(self, domain: str, answers: Mapping[str, str]) -> str | None:
        """The proposed judgement of ``domain``; ``None`` when the tool proposes none or a
        question is unanswered."""
        return None

    def overall_judgement(self, judgements: Mapping[str, str | None]) -> str | None:
        """The proposed overall judgement from the domains' judgements, or ``None``."""
        return None

    def overall_from_answers(self, answers: Mapping[str, Mapping[str, str]]) -> str | None:
        """For tools whose overall rating comes from the answers rather than from domain
        judgements (NOS stars); ``None`` for the others."""
        return None

    def note(self, answers: Mapping[str, Mapping[str, str]]) -> str:
        """A line shown beside the overall proposal (NOS: the star counts), or ``""``."""
        return ""


def worst(
    order: tuple[str, ...], judgements: Mapping[str, str | None], domains: tuple[str, ...]
) -> str | None:
    """The least favourable of the domains' judgements in ``order`` (best first), or
    ``None`` while a domain has none or one outside ``order``."""
    values = [judgements.get(d) for d in domains]
    if any(v not in order for v in values):
        return None
    return max((v for v in values if v is not None), key=order.index)
