"""Risk-of-bias tools: a small registry, and the proposals for a form's judgement fields.

Each tool is a module (``rob2`` adapts ``extraction.rob2``; ``quadas2``, ``rob1``) giving a
``Tool``: its domains, signalling questions and answers, judgement levels, and the rule
that proposes a domain's judgement where the tool defines one. Pure: no Django, no ORM.

A form field names its tool, domain and question in its ``rob2`` metadata (the name is kept
from when RoB 2 was the only tool, so stored forms read as before): ``{"tool": "quadas2",
"domain": "D1", "question": "1.1"}`` on a signalling question, ``{"tool": "quadas2",
"domain": "D1"}`` on a judgement field (``"domain": "overall"`` for the overall one), and
``"aspect": "applicability"`` on a QUADAS-2 applicability judgement. Without ``"tool"`` the
field is RoB 2's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import nos, quadas2, rob1, rob2, robins_i
from .base import OVERALL, Question, Tool

if TYPE_CHECKING:
    from extraction.spec import FieldSpec, FormSpec

__all__ = [
    "OVERALL",
    "TOOLS",
    "Question",
    "Tool",
    "judgement_labels",
    "needed_question_keys",
    "proposal_labels",
    "proposal_notes",
    "proposed_judgements",
    "tool_of",
]

TOOLS: dict[str, Tool] = {
    t.key: t
    for t in (
        rob2.TOOL,
        quadas2.TOOL,
        rob1.TOOL,
        nos.COHORT_TOOL,
        nos.CASE_CONTROL_TOOL,
        robins_i.TOOL,
    )
}
DEFAULT_TOOL = "rob2"


def tool_of(meta: Mapping[str, str] | None) -> Tool | None:
    """The tool a field's metadata names (RoB 2 when it names none); ``None`` when the field
    has no metadata or names an unknown tool."""
    if meta is None:
        return None
    return TOOLS.get(meta.get("tool", DEFAULT_TOOL))


def judgement_labels(fld: FieldSpec) -> Mapping[str, str]:
    """The levels a judgement field offers, stored value → words shown."""
    tool = tool_of(fld.rob2)
    if tool is None:
        return TOOLS[DEFAULT_TOOL].judgements
    aspect = (fld.rob2 or {}).get("aspect")
    return tool.labels(aspect if aspect in tool.aspects else None)


def proposal_labels(spec: FormSpec) -> dict[str, str]:
    """Stored value → words, for every risk-of-bias level a proposal of this form can take."""
    labels: dict[str, str] = {}
    for fld in spec.fields():
        if fld.kind == "judgement":
            labels.update(judgement_labels(fld))
    return labels


def _grouped(spec: FormSpec) -> dict[str, list[FieldSpec]]:
    groups: dict[str, list[FieldSpec]] = {}
    for fld in spec.fields():
        tool = tool_of(fld.rob2)
        if tool is not None:
            groups.setdefault(tool.key, []).append(fld)
    return groups


def _answers(fields: list[FieldSpec], values: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    answers: dict[str, dict[str, str]] = {}
    for fld in fields:
        meta = fld.rob2 or {}
        if fld.kind != "judgement" and meta.get("question"):
            answer = values.get(fld.key)
            if isinstance(answer, str):
                answers.setdefault(meta.get("domain", ""), {})[meta["question"]] = answer
    return answers


def needed_question_keys(spec: FormSpec, values: Mapping[str, Any]) -> set[str]:
    """Keys of signalling-question fields a proposal needs, given the answers so far."""
    needed: set[str] = set()
    for key, fields in _grouped(spec).items():
        tool = TOOLS[key]
        keys: dict[str, dict[str, str]] = {}
        for fld in fields:
            meta = fld.rob2 or {}
            if fld.kind != "judgement" and meta.get("question"):
                keys.setdefault(meta.get("domain", ""), {})[meta["question"]] = fld.key
        answers = _answers(fields, values)
        for domain, by_question in keys.items():
            if domain not in tool.questions:
                continue
            needed.update(
                by_question[q]
                for q in tool.needed_questions(domain, answers.get(domain, {}))
                if q in by_question
            )
    return needed


def proposed_judgements(spec: FormSpec, values: Mapping[str, Any]) -> dict[str, str | None]:
    """Judgement field key → the tool's proposal (``None`` where it proposes nothing).

    RoB 2 fields go through ``extraction.rob2.proposed_judgements`` unchanged. For the other
    tools a domain's proposal uses that domain's signalling-question fields; the overall
    proposal uses each domain's recorded judgement (after any override) when there is one,
    and the domain's proposal otherwise. Applicability judgements are never proposed.
    """
    from extraction import rob2 as rob2_core  # the RoB 2 core reads the form itself

    result: dict[str, str | None] = {}
    for key, fields in _grouped(spec).items():
        if key == DEFAULT_TOOL:
            result.update(rob2_core.proposed_judgements(spec, values))
            continue
        tool = TOOLS[key]
        answers = _answers(fields, values)
        asked = {(f.rob2 or {}).get("domain") for f in fields if (f.rob2 or {}).get("question")}
        proposals = {
            d: tool.domain_judgement(d, answers.get(d, {})) if d in asked else None
            for d in tool.domains
        }
        recorded: dict[str, str] = {}
        for fld in fields:
            meta = fld.rob2 or {}
            value = values.get(fld.key)
            if fld.kind == "judgement" and not meta.get("aspect") and isinstance(value, Mapping):
                judgement = value.get("judgement")
                if (
                    meta.get("domain") in tool.domains
                    and isinstance(judgement, str)
                    and judgement in tool.judgements
                ):
                    recorded[meta["domain"]] = judgement
        for fld in fields:
            meta = fld.rob2 or {}
            if fld.kind != "judgement":
                continue
            domain = meta.get("domain", "")
            if meta.get("aspect"):
                result[fld.key] = None
            elif domain == OVERALL:
                from_answers = tool.overall_from_answers(answers)
                result[fld.key] = (
                    from_answers
                    if from_answers is not None
                    else tool.overall_judgement(
                        {d: recorded.get(d) or proposals[d] for d in tool.domains}
                    )
                )
            else:
                result[fld.key] = proposals.get(domain)
    return result


def proposal_notes(spec: FormSpec, values: Mapping[str, Any]) -> dict[str, str]:
    """Judgement field key → a line the page shows beside the proposal (the NOS star
    counts); only fields whose tool has something to say."""
    notes: dict[str, str] = {}
    for key, fields in _grouped(spec).items():
        tool = TOOLS[key]
        answers = _answers(fields, values)
        for fld in fields:
            if fld.kind == "judgement" and (fld.rob2 or {}).get("domain") == OVERALL:
                note = tool.note(answers)
                if note:
                    notes[fld.key] = note
    return notes
