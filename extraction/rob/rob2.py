"""RoB 2 in the registry: the tool itself lives in ``extraction.rob2`` (its questions and
algorithms, with their sources); this adapts it to the registry's ``Tool``."""

from __future__ import annotations

from collections.abc import Mapping

from extraction import rob2 as _rob2

from .base import Question, Tool


class Rob2(Tool):
    def needed_questions(self, domain: str, answers: Mapping[str, str]) -> list[str]:
        return _rob2.needed_questions(domain, answers)

    def domain_judgement(self, domain: str, answers: Mapping[str, str]) -> str | None:
        return _rob2.domain_judgement(domain, answers)

    def overall_judgement(self, judgements: Mapping[str, str | None]) -> str | None:
        return _rob2.overall_judgement(judgements)


TOOL = Rob2(
    key="rob2",
    name="RoB 2",
    domains=_rob2.DOMAINS,
    domain_titles=_rob2.DOMAIN_TITLES,
    judgements=_rob2.JUDGEMENTS,
    questions={
        d: tuple(Question(q.id, q.text, q.answers, q.conditional) for q in qs)
        for d, qs in _rob2.QUESTIONS.items()
    },
    proposer="algorithm",
)
