"""Reads of screening questions and their answers that pages, the API, exports and the
agreement report share; blinding decides which answers show."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations

from django.contrib.auth.models import User
from django.db.models import (
    Case,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)

from reviewflow.reviews.models import Review
from screening.agreement import cohen_kappa, percent_agreement
from screening.models import (
    Conflict,
    Outcome,
    QuestionAnswer,
    ScreeningQuestion,
    ScreeningState,
    Stage,
    StageSettings,
)


def answers_visible_to(user: User, qs: QuerySet[QuestionAnswer]) -> QuerySet[QuestionAnswer]:
    """Blinding, as for votes and labels (``votes_visible_to``, ``labels_visible_to``): the
    answers ``user`` may see — their own, and others' only on records settled or in
    conflict at the question's stage, or at a stage an owner set to "not blind". A "no" to
    "adults with diabetes?" says as much as an exclusion."""
    stage = OuterRef("question__stage")
    done = Outcome.objects.filter(record=OuterRef("record"), stage=stage)
    conflict = Conflict.objects.filter(record=OuterRef("record"), stage=stage)
    open_stage = StageSettings.objects.filter(review=OuterRef("review"), stage=stage, blind=False)
    return qs.filter(Q(reviewer=user) | Exists(done) | Exists(conflict) | Exists(open_stage))


def questions_of(review: Review, stage: str | None = None) -> QuerySet[ScreeningQuestion]:
    """The review's questions (of one stage, or all: title/abstract first), in their order."""
    qs = ScreeningQuestion.objects.filter(review=review)
    if stage is not None:
        return qs.filter(stage=stage).order_by("order", "id")
    # Stage values sort as title-abstract after full-text: order by the choices instead.
    return sorted_by_stage(qs)


def sorted_by_stage(qs: QuerySet[ScreeningQuestion]) -> QuerySet[ScreeningQuestion]:
    rank = Case(
        *(When(stage=value, then=Value(n)) for n, value in enumerate(Stage.values)),
        output_field=IntegerField(),
    )
    return qs.annotate(stage_rank=rank).order_by("stage_rank", "order", "id")


def questions_with_my_answers(
    review: Review, stage: str, record_id: int, user: User
) -> list[ScreeningQuestion]:
    """The stage's questions, each with ``mine``: ``user``'s answer on the record ("" when
    none). One query."""
    mine = QuestionAnswer.objects.filter(
        question=OuterRef("pk"), record_id=record_id, reviewer=user
    ).values("answer")[:1]
    return list(questions_of(review, stage).annotate(mine=Subquery(mine)))


def my_answers(
    review: Review, user: User, *, stage: str, record_ids: Iterable[int]
) -> dict[int, dict[str, str]]:
    """``user``'s answers at ``stage``, per record id: ``{"<question id>": answer}``."""
    found: dict[int, dict[str, str]] = defaultdict(dict)
    for record_id, question_id, answer in QuestionAnswer.objects.filter(
        review=review, reviewer=user, question__stage=stage, record_id__in=list(record_ids)
    ).values_list("record_id", "question_id", "answer"):
        found[record_id][str(question_id)] = answer
    return dict(found)


def visible_answers_by_vote(
    review: Review, user: User
) -> dict[tuple[int, str, int], dict[int, str]]:
    """The answers ``user`` may see, per (record, stage, reviewer): ``{question id: answer}``
    (one query; for the votes export, where a vote's row carries its reviewer's answers)."""
    found: dict[tuple[int, str, int], dict[int, str]] = defaultdict(dict)
    rows = answers_visible_to(user, QuestionAnswer.objects.filter(review=review)).values_list(
        "record_id", "question__stage", "reviewer_id", "question_id", "answer"
    )
    for record_id, stage, reviewer_id, question_id, answer in rows:
        found[record_id, stage, reviewer_id][question_id] = answer
    return dict(found)


@dataclass
class QuestionAgreement:
    question: ScreeningQuestion
    records: int  # records answered by two reviewers or more
    pairs: int  # pairs of answers compared (one per record with two reviewers)
    agreement: float | None  # percent
    kappa: float | None


@dataclass
class StageQuestionAgreement:
    stage: str
    label: str
    questions: list[QuestionAgreement] = field(default_factory=list)


def question_agreement(review: Review) -> list[StageQuestionAgreement]:
    """Agreement per question, per stage, for the stages that have questions.

    Only records whose votes are all in at the stage count (as in ``agreement_report``:
    answers on a record still open would tell an owner who screens it how colleagues
    answered). On each record, every pair of reviewers who answered the question is one
    comparison (one pair with two reviewers a record, three with three); percent agreement
    and Cohen's kappa (``screening.agreement``) are over those pairs, pooled — the two
    raters of a pair are ordered by user id, so kappa treats "the first and the second
    reviewer" of a record as the two raters, as screening tools report it for rotating
    teams. Two queries."""
    questions = list(sorted_by_stage(ScreeningQuestion.objects.filter(review=review)))
    if not questions:
        return []
    closed = ScreeningState.objects.filter(
        record=OuterRef("record"), stage=OuterRef("question__stage"), closed=True
    )
    answers: dict[int, dict[int, dict[int, str]]] = defaultdict(lambda: defaultdict(dict))
    for question_id, record_id, reviewer_id, answer in (
        QuestionAnswer.objects.filter(review=review)
        .filter(Exists(closed))
        .values_list("question_id", "record_id", "reviewer_id", "answer")
    ):
        answers[question_id][record_id][reviewer_id] = answer
    report: list[StageQuestionAgreement] = []
    for stage, label in Stage.choices:
        of_stage = [q for q in questions if q.stage == stage]
        if not of_stage:
            continue
        result = StageQuestionAgreement(stage=stage, label=label)
        for question in of_stage:
            pairs: list[tuple[str, str]] = []
            records = 0
            for by_reviewer in answers.get(question.pk, {}).values():
                if len(by_reviewer) < 2:
                    continue
                records += 1
                for a, b in combinations(sorted(by_reviewer), 2):
                    pairs.append((by_reviewer[a], by_reviewer[b]))
            result.questions.append(
                QuestionAgreement(
                    question=question,
                    records=records,
                    pairs=len(pairs),
                    agreement=percent_agreement(pairs),
                    kappa=cohen_kappa(pairs),
                )
            )
        report.append(result)
    return report
