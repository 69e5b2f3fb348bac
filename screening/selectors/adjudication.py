"""Reads of the adjudication desk, its compact table and the conflicts API: open conflicts
in order, everything an adjudicator weighs on one (votes, answers, labels, discussion), and
the progress of a stage's conflicts. Each read is a fixed number of queries, however many
conflicts it covers.

At a conflict every reviewer of the record has voted, so its votes and its answers at the
conflict's stage are shown to every member; labels and comments still go through their
own blinding rules (``labels_visible_to``, ``comments_visible_to``), as they may belong to
another stage.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import User
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from reviewflow.reviews.models import Review
from screening.models import (
    Comment,
    Conflict,
    Outcome,
    QuestionAnswer,
    RecordLabel,
    ScreeningQuestion,
    Vote,
)
from screening.selectors.discussion import comments_visible_to
from screening.selectors.labels import visible_labels_by_record


def open_conflicts(review: Review, stage: str) -> QuerySet[Conflict]:
    """The stage's open conflicts, oldest first, with their record and its search."""
    return (
        Conflict.objects.filter(review=review, stage=stage, resolved_at__isnull=True)
        .select_related("record", "record__search")
        .order_by("created_at", "id")
    )


def _after(conflict: Conflict) -> Q:
    return Q(created_at__gt=conflict.created_at) | Q(
        created_at=conflict.created_at, id__gt=conflict.pk
    )


def _before(conflict: Conflict) -> Q:
    return Q(created_at__lt=conflict.created_at) | Q(
        created_at=conflict.created_at, id__lt=conflict.pk
    )


def next_open_conflict(
    review: Review, stage: str, after: Conflict | None = None, *, wrap: bool = True
) -> Conflict | None:
    """The first open conflict after ``after`` (the first of all without it); with
    ``wrap``, the first of all when none comes after."""
    qs = open_conflicts(review, stage)
    if after is not None:
        found = qs.filter(_after(after)).first()
        if found is not None or not wrap:
            return found
        return qs.exclude(pk=after.pk).first()
    return qs.first()


@dataclass(frozen=True)
class DeskPlace:
    """Where a conflict stands among the stage's open ones (1-based ``position``)."""

    position: int
    previous_id: int | None
    next_id: int | None


def desk_place(review: Review, stage: str, conflict: Conflict) -> DeskPlace:
    """Three small queries, whatever the number of open conflicts."""
    qs = Conflict.objects.filter(review=review, stage=stage, resolved_at__isnull=True)
    previous = qs.filter(_before(conflict)).order_by("-created_at", "-id").only("id").first()
    following = qs.filter(_after(conflict)).order_by("created_at", "id").only("id").first()
    return DeskPlace(
        position=qs.filter(_before(conflict)).count() + 1,
        previous_id=previous.pk if previous else None,
        next_id=following.pk if following else None,
    )


@dataclass(frozen=True)
class ConflictProgress:
    total: int
    resolved: int
    resolved_today: int

    @property
    def open(self) -> int:
        return self.total - self.resolved


def conflict_progress(review: Review, stage: str, now: datetime | None = None) -> ConflictProgress:
    """How many of the stage's conflicts there are, how many are resolved, and how many of
    those today (since local midnight): one query."""
    now = timezone.localtime(now)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    row = Conflict.objects.filter(review=review, stage=stage).aggregate(
        total=Count("id"),
        resolved=Count("id", filter=Q(resolved_at__isnull=False)),
        today=Count("id", filter=Q(resolved_at__gte=midnight)),
    )
    return ConflictProgress(
        total=row["total"], resolved=row["resolved"], resolved_today=row["today"]
    )


@dataclass
class QuestionRow:
    """One screening question with each reviewer's answer to it on the record."""

    question: ScreeningQuestion
    answers: list[QuestionAnswer] = field(default_factory=list)


@dataclass
class ConflictDetail:
    """Everything an adjudicator weighs on one conflict."""

    conflict: Conflict
    votes: list[Vote]
    # Votes cast again after the record's votes were shown that differ from their
    # reviewer's first, blind vote: the reason the record is here.
    changed: set[int]
    questions: list[QuestionRow]
    labels: list[RecordLabel]
    comment_count: int
    outcome: Outcome | None = None

    @property
    def voters(self) -> set[int]:
        return {v.reviewer_id for v in self.votes}

    @property
    def answer_rows(self) -> list[QuestionAnswer]:
        return [a for row in self.questions for a in row.answers]


def conflict_details(
    conflicts: Sequence[Conflict],
    *,
    review: Review,
    user: User,
    changed_vote: Callable[[Vote], bool],
    with_outcomes: bool = False,
) -> list[ConflictDetail]:
    """The details of ``conflicts`` (their records loaded), in their order: four queries
    (five with the outcomes of resolved ones), however many conflicts. ``changed_vote`` is
    the screening rule (``vote_changed_after_reveal``, a service: selectors sit below)."""
    if not conflicts:
        return []
    review_id = review.pk
    record_ids = {c.record_id for c in conflicts}
    stages = {c.stage for c in conflicts}
    votes: dict[tuple[int, str], list[Vote]] = defaultdict(list)
    for v in (
        Vote.objects.filter(record_id__in=record_ids, stage__in=stages)
        .select_related("reviewer")
        .order_by("created_at", "id")
    ):
        votes[v.record_id, v.stage].append(v)
    answers: dict[tuple[int, str], dict[int, QuestionRow]] = defaultdict(dict)
    for a in (
        QuestionAnswer.objects.filter(
            review_id=review_id, record_id__in=record_ids, question__stage__in=stages
        )
        .select_related("question", "reviewer")
        .order_by("question__order", "question_id", "reviewer__username")
    ):
        rows = answers[a.record_id, a.question.stage]
        rows.setdefault(a.question_id, QuestionRow(a.question)).answers.append(a)
    labels = visible_labels_by_record(review, user, record_ids)
    # How many comments the user may read on each record (its discussion, every stage).
    counts = dict(
        comments_visible_to(
            user,
            Comment.objects.filter(
                review_id=review_id, record_id__in=record_ids, deleted_at__isnull=True
            ),
        )
        .order_by()
        .values_list("record_id")
        .annotate(n=Count("id"))
        .values_list("record_id", "n")
    )
    outcomes: dict[tuple[int, str], Outcome] = {}
    if with_outcomes and any(c.resolved_at is not None for c in conflicts):
        outcomes = {
            (o.record_id, o.stage): o
            for o in Outcome.objects.filter(
                record_id__in=record_ids, stage__in=stages
            ).select_related("decided_by")
        }
    return [
        ConflictDetail(
            conflict=c,
            votes=votes[c.record_id, c.stage],
            changed={v.pk for v in votes[c.record_id, c.stage] if changed_vote(v)},
            questions=list(answers[c.record_id, c.stage].values()),
            labels=labels.get(c.record_id, []),
            comment_count=counts.get(c.record_id, 0),
            outcome=outcomes.get((c.record_id, c.stage)),
        )
        for c in conflicts
    ]
