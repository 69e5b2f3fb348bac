"""Screening questions: owners define a stage's checklist; reviewers answer it per record,
and a vote carries its reviewer's answers.

Checks come first (each raises the message a person reads, naming the field); writes only
write. Defining, changing, reordering and deleting a question is audited. Answering is not,
like putting a label on a record: an audit event on a record is read by every member in its
history, and an answer hints at its author's vote (blinding); the ``QuestionAnswer`` row
keeps who and when (``created_at``, ``updated_at``).

When answers can change: while the record's votes at that stage have not been shown to
the team — before the reviewer voted, and after, as long as the record is neither settled
nor in conflict there (and no vote taken back after such a reveal is being cast again).
Answers then stay blind, like the votes their agreement statistics sit beside. A vote cast
again after a reveal keeps its reviewer's answers as they were. A record the reviewer
cannot screen at that stage (another review's, a duplicate, one not screened at that
stage) is refused with a message saying so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Review
from reviewflow.reviews.services import record_audit
from screening.models import (
    Answer,
    Conflict,
    Decision,
    Outcome,
    QuestionAnswer,
    Record,
    ReservedVote,
    ScreeningQuestion,
    Stage,
    Vote,
)
from screening.selectors.questions import questions_of
from screening.selectors.screening import check_screener, eligible_records
from screening.services.screening.stage_settings import get_stage_settings
from screening.services.screening.votes import cast_vote

TEXT_MAX = 200
QUESTIONS_MAX = 20  # a short checklist: every question is a key press on every record


def _clean(text: str) -> str:
    return " ".join(text.split())


def _check_stage(stage: str) -> str:
    if stage not in Stage.values:
        raise ReviewflowError(
            f"Unknown stage “{stage}”: use title-abstract or full-text.", field="stage"
        )
    return stage


def check_question_fields(
    *,
    review: Review,
    stage: str,
    text: str,
    exclusion_reason: str,
    question: ScreeningQuestion | None = None,
) -> tuple[str, str]:
    """Validate a question's text and the exclusion reason a "no" proposes; return both
    as they are stored."""
    text = _clean(text)
    if not text:
        raise ReviewflowError("Write the question.", field="text")
    if len(text) > TEXT_MAX:
        raise ReviewflowError(
            f"A question has at most {TEXT_MAX} characters (this one has {len(text)}).",
            field="text",
        )
    exclusion_reason = exclusion_reason.strip()
    reasons = get_stage_settings(review, stage).exclusion_reasons
    if exclusion_reason and exclusion_reason not in reasons:
        if not reasons:
            raise ReviewflowError(
                f"{Stage(stage).label} has no exclusion reasons to propose: add them in the "
                "stage's settings first.",
                field="exclusion_reason",
            )
        raise ReviewflowError(
            f"“{exclusion_reason}” is not one of this stage's exclusion reasons.",
            field="exclusion_reason",
        )
    others = ScreeningQuestion.objects.filter(review=review, stage=stage)
    if question is not None:
        others = others.exclude(pk=question.pk)
    same = [t for t in others.values_list("text", flat=True) if t.lower() == text.lower()]
    if same:
        raise ReviewflowError(f"This stage asks “{same[0]}” already.", field="text")
    return text, exclusion_reason


def _fields(question: ScreeningQuestion) -> dict[str, Any]:
    return {
        "stage": question.stage,
        "text": question.text,
        "order": question.order,
        "exclusion_reason": question.exclusion_reason,
    }


def _saved(write: Any) -> Any:
    try:
        with transaction.atomic():
            return write()
    except IntegrityError:
        raise ReviewflowError(
            "Another question with this text was saved at the same moment: reload and try again.",
            code="conflict",
        ) from None


def create_question(
    *, review: Review, actor: User, stage: str, text: str, exclusion_reason: str = ""
) -> ScreeningQuestion:
    """A new question of ``review`` at ``stage``, last in the stage's order."""
    _check_stage(stage)
    text, exclusion_reason = check_question_fields(
        review=review, stage=stage, text=text, exclusion_reason=exclusion_reason
    )
    existing = ScreeningQuestion.objects.filter(review=review, stage=stage)
    if existing.count() >= QUESTIONS_MAX:
        raise ReviewflowError(
            f"A stage has at most {QUESTIONS_MAX} questions: keep the checklist short.",
            field="text",
        )
    last = existing.aggregate(m=Max("order"))["m"]
    order = 0 if last is None else last + 1
    question: ScreeningQuestion = _saved(
        lambda: ScreeningQuestion.objects.create(
            review=review,
            stage=stage,
            text=text,
            order=order,
            exclusion_reason=exclusion_reason,
        )
    )
    record_audit(
        review=review,
        actor=actor,
        action="question.created",
        target=question.text,
        after=_fields(question),
        object_type="question",
        object_id=question.pk,
    )
    return question


def update_question(
    *,
    question: ScreeningQuestion,
    actor: User,
    text: str | None = None,
    exclusion_reason: str | None = None,
    order: int | None = None,
) -> ScreeningQuestion:
    """Change a question's text, proposed exclusion reason or place (None leaves it).
    Its answers stay: rewording a question keeps what reviewers answered."""
    text, exclusion_reason = check_question_fields(
        review=question.review,
        stage=question.stage,
        text=question.text if text is None else text,
        exclusion_reason=question.exclusion_reason
        if exclusion_reason is None
        else exclusion_reason,
        question=question,
    )
    if order is not None and not 0 <= order <= 32767:
        raise ReviewflowError(
            "A question's order is a whole number from 0 to 32767.", field="order"
        )
    before = _fields(question)
    question.text, question.exclusion_reason = text, exclusion_reason
    if order is not None:
        question.order = order
    _saved(lambda: question.save(update_fields=["text", "exclusion_reason", "order"]))
    if _fields(question) != before:
        record_audit(
            review=question.review,
            actor=actor,
            action="question.changed",
            target=question.text,
            before=before,
            after=_fields(question),
            object_type="question",
            object_id=question.pk,
        )
    return question


@transaction.atomic
def move_question(*, question: ScreeningQuestion, actor: User, by: int) -> ScreeningQuestion:
    """Move a question ``by`` places up (negative) or down its stage's list; the stage's
    questions are renumbered 0, 1, 2… Moving past either end leaves it there."""
    ordered = list(
        questions_of(question.review, question.stage).select_for_update().only("id", "order")
    )
    ids = [q.pk for q in ordered]
    if question.pk not in ids:
        raise ReviewflowError("No such question in this review.", code="not_found")
    at = ids.index(question.pk)
    to = max(0, min(len(ids) - 1, at + by))
    if to == at:
        return question
    ids.insert(to, ids.pop(at))
    for n, pk in enumerate(ids):
        ScreeningQuestion.objects.filter(pk=pk).update(order=n)
    record_audit(
        review=question.review,
        actor=actor,
        action="question.moved",
        target=question.text,
        before={"position": at + 1},
        after={"position": to + 1},
        object_type="question",
        object_id=question.pk,
    )
    question.order = to
    return question


def delete_question(*, question: ScreeningQuestion, actor: User) -> int:
    """Delete a question and its answers; return how many answers it had."""
    with transaction.atomic():
        answers = question.answers.count()
        record_audit(
            review=question.review,
            actor=actor,
            action="question.deleted",
            target=question.text,
            before={**_fields(question), "answers": answers},
            object_type="question",
            object_id=question.pk,
        )
        question.delete()
    return answers


# ------------------------------------------------------------------------------ answers


def check_answer_value(answer: str | None) -> str:
    """The answer to store ("" clears it)."""
    value = (answer or "").strip().lower()
    if value and value not in Answer.values:
        raise ReviewflowError(
            f"Unknown answer “{answer}”: use yes, no or unclear (or nothing to clear it).",
            field="answers",
        )
    return value


def check_answerable(*, review: Review, record: Record | int, reviewer: User, stage: str) -> int:
    """Whether ``reviewer`` may change their answers on ``record`` at ``stage`` (see the
    module docstring); the record's id."""
    check_screener(review, reviewer)
    _check_stage(stage)
    record_id = record if isinstance(record, int) else record.pk
    if not Record.objects.for_review(review).filter(pk=record_id).exists():
        raise ReviewflowError("No such record in this review.", field="record", code="not_found")
    if not eligible_records(review, stage).filter(pk=record_id).exists():
        raise ReviewflowError(
            "This record is not screened at this stage: there is nothing to answer.",
            field="record",
            code="conflict",
        )
    if _votes_shown(record_id, stage):
        raise ReviewflowError(
            "This record's votes were shown to the team (settled or in conflict): answers "
            "on it can no longer change.",
            field="record",
            code="conflict",
        )
    return record_id


def _votes_shown(record_id: int, stage: str) -> bool:
    """Whether the record's votes at ``stage`` were shown to the team: it is settled or in
    conflict, or a vote taken back after that is being cast again (``ReservedVote``)."""
    return (
        Outcome.objects.filter(record_id=record_id, stage=stage).exists()
        or Conflict.objects.filter(record_id=record_id, stage=stage).exists()
        or ReservedVote.objects.filter(record_id=record_id, stage=stage).exists()
    )


def _questions_for(
    review: Review, stage: str, answers: Mapping[Any, str | None]
) -> list[tuple[ScreeningQuestion, str]]:
    """(question, answer) for each entry of ``answers`` (keys: question ids, as numbers or
    text), in the questions' order; every id must be a question of the stage."""
    wanted: dict[int, str] = {}
    for key, value in answers.items():
        try:
            question_id = int(key)
        except (TypeError, ValueError):
            raise ReviewflowError(
                f"“{key}” is not a question's id: answers are keyed by question id.",
                field="answers",
            ) from None
        wanted[question_id] = check_answer_value(value)
    questions = {q.pk: q for q in questions_of(review, stage).filter(pk__in=list(wanted))}
    missing = sorted(set(wanted) - set(questions))
    if missing:
        raise ReviewflowError(
            f"Question {missing[0]} is not a question of this review at "
            f"{Stage(stage).label.lower()}.",
            field="answers",
        )
    return [(q, wanted[q.pk]) for q in questions_of(review, stage) if q.pk in wanted]


def _write_answers(
    *, review: Review, record_id: int, reviewer: User, pairs: list[tuple[ScreeningQuestion, str]]
) -> list[QuestionAnswer]:
    """Set (or clear, for "") each answer; return the answers now stored of ``pairs``."""
    now = timezone.now()
    kept: list[QuestionAnswer] = []
    clear = [q.pk for q, value in pairs if not value]
    if clear:
        QuestionAnswer.objects.filter(
            question_id__in=clear, record_id=record_id, reviewer=reviewer
        ).delete()
    for question, value in pairs:
        if not value:
            continue
        answer, _ = QuestionAnswer.objects.update_or_create(
            question=question,
            record_id=record_id,
            reviewer=reviewer,
            defaults={"answer": value, "updated_at": now},
            create_defaults={
                "review": review,
                "answer": value,
                "created_at": now,
                "updated_at": now,
            },
        )
        kept.append(answer)
    return kept


def save_answers(
    *,
    review: Review,
    record: Record | int,
    reviewer: User,
    stage: str,
    answers: Mapping[Any, str | None],
) -> list[QuestionAnswer]:
    """Set ``reviewer``'s answers on ``record`` at ``stage``: ``{question id: "yes" | "no"
    | "unclear"}``; an empty answer (or None) clears one, questions not named stay as they
    were. All or nothing. Returns the answers now stored of the questions named."""
    _check_stage(stage)
    check_screener(review, reviewer)
    pairs = _questions_for(review, stage, answers)
    with transaction.atomic():
        # Lock the record as a vote does: a vote that settles it waits, or is waited for.
        record_id = record if isinstance(record, int) else record.pk
        list(Record.objects.select_for_update().filter(pk=record_id).values_list("pk"))
        check_answerable(review=review, record=record_id, reviewer=reviewer, stage=stage)
        try:
            with transaction.atomic():
                return _write_answers(
                    review=review, record_id=record_id, reviewer=reviewer, pairs=pairs
                )
        except IntegrityError:  # the same answer saved at the same moment (a double send)
            return _write_answers(
                review=review, record_id=record_id, reviewer=reviewer, pairs=pairs
            )


def answer_question(
    *, record: Record, question: ScreeningQuestion, reviewer: User, answer: str | None
) -> QuestionAnswer | None:
    """Set ``reviewer``'s answer to ``question`` on ``record`` (upsert), or clear it
    (``answer`` empty or None: returns None)."""
    if record.review_id != question.review_id:
        raise ReviewflowError("No such record in this review.", field="record", code="not_found")
    kept = save_answers(
        review=question.review,
        record=record,
        reviewer=reviewer,
        stage=question.stage,
        answers={question.pk: answer},
    )
    return kept[0] if kept else None


def proposed_reason(
    *, review: Review, stage: str, answers: Mapping[Any, str | None]
) -> tuple[str, ScreeningQuestion | None]:
    """The exclusion reason ``answers`` propose: that of the first question (in the
    stage's order) answered "no" that has one still among the stage's reasons; ("", None)
    when none does."""
    reasons = get_stage_settings(review, stage).exclusion_reasons
    for question, value in _questions_for(review, stage, answers):
        if value == Answer.NO and question.exclusion_reason in reasons:
            return question.exclusion_reason, question
    return "", None


def cast_vote_with_answers(
    *,
    review: Review,
    record: Record | int,
    reviewer: User,
    stage: str,
    decision: str,
    reason: str = "",
    note: str = "",
    answers: Mapping[Any, str | None] | None = None,
) -> Vote:
    """``cast_vote`` and the reviewer's answers on the record, in one transaction: a vote
    that is refused saves no answer, and answers that are refused cast no vote.

    ``answers`` is as for ``save_answers``. An exclusion without a reason takes the reason
    proposed by the answers: that of the first question, in the stage's order, answered
    "no" whose exclusion reason is one of the stage's (``proposed_reason``)."""
    if not answers:
        return cast_vote(
            review=review,
            record=record,
            reviewer=reviewer,
            stage=stage,
            decision=decision,
            reason=reason,
            note=note,
        )
    _check_stage(stage)
    check_screener(review, reviewer)
    pairs = _questions_for(review, stage, answers)
    if decision == Decision.EXCLUDE and not reason.strip():
        reason, _ = proposed_reason(review=review, stage=stage, answers=answers)
    with transaction.atomic():
        # The vote first: it locks the record and says why it cannot be voted on; the
        # answers follow in the same transaction (the vote may just have settled it).
        vote = cast_vote(
            review=review,
            record=record,
            reviewer=reviewer,
            stage=stage,
            decision=decision,
            reason=reason,
            note=note,
        )
        if vote.after_reveal:
            # Cast again after the record's votes were shown: the reviewer has seen the
            # others' answers, so theirs stay as they were (the page sends them unchanged).
            stored = dict(
                QuestionAnswer.objects.filter(
                    record_id=vote.record_id, reviewer=reviewer, question__stage=stage
                ).values_list("question_id", "answer")
            )
            if any(stored.get(q.pk, "") != value for q, value in pairs):
                raise ReviewflowError(
                    "This record's votes were shown to the team: your answers on it can no "
                    "longer change (your vote was not saved either).",
                    field="answers",
                    code="conflict",
                )
            return vote
        _write_answers(review=review, record_id=vote.record_id, reviewer=reviewer, pairs=pairs)
    return vote
