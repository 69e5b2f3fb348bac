"""Reads of assigned work (#20): what a split may assign, and the workload figures.

No figure here reveals a decision: every count is of votes or assignments, never of
includes or excludes, so the workload page stays blind while the stage is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Count, Exists, Min, OuterRef, Q

from reviewflow.reviews.models import Membership, Review
from screening.models import (
    Record,
    RelevanceScore,
    ScreeningAssignment,
    ScreeningState,
    StageOrder,
    Vote,
)
from screening.selectors.screening import SCREENER_ROLES, eligible_records

PACE_DAYS = 7  # pace is votes per day over this many days


@dataclass(frozen=True)
class OpenRecord:
    """A record of the stage that still needs votes, as a split sees it."""

    id: int
    search_id: int
    votes: int  # cast so far
    voters: frozenset[int]  # who voted on it
    assignees: frozenset[int]  # who it is assigned to


def records_needing_votes(
    review: Review, stage: str, *, needed: int, searches: list[int] | None = None
) -> list[OpenRecord]:
    """The stage's records that still need votes (not settled, not in conflict, fewer
    votes than ``needed``), by id, each with its voters and assignees (three queries)."""
    qs = eligible_records(review, stage).filter(
        ~Exists(
            ScreeningState.objects.filter(record=OuterRef("pk"), stage=stage).filter(
                Q(closed=True) | Q(votes__gte=needed)
            )
        )
    )
    if searches is not None:
        qs = qs.filter(search_id__in=searches)
    rows = list(qs.order_by("id").values_list("id", "search_id"))
    ids = [pk for pk, _ in rows]
    voters: dict[int, set[int]] = defaultdict(set)
    assignees: dict[int, set[int]] = defaultdict(set)
    if ids:
        open_ids = qs.values("id")  # as a subquery: no list of ids sent back
        for record_id, reviewer_id in Vote.objects.filter(
            review=review, stage=stage, record_id__in=open_ids
        ).values_list("record_id", "reviewer_id"):
            voters[record_id].add(reviewer_id)
        for record_id, reviewer_id in ScreeningAssignment.objects.filter(
            review=review, stage=stage, record_id__in=open_ids
        ).values_list("record_id", "reviewer_id"):
            assignees[record_id].add(reviewer_id)
    return [
        OpenRecord(
            id=pk,
            search_id=search_id,
            votes=len(voters[pk]),
            voters=frozenset(voters[pk]),
            assignees=frozenset(assignees[pk]),
        )
        for pk, search_id in rows
    ]


def offer_key(review: Review, stage: str, order: str) -> Callable[[int], tuple[Any, ...]]:
    """The order ``next`` offers records in, as a sort key on record ids: records new since
    screening began first (``Search.imported_mid_screening``, #21), then the fixed shuffle
    (``screening_sql._SHUFFLE``), behind the relevance scores for "most relevant first"
    (scored records first). Assignments are made in this order, and offered in it."""
    scores: dict[int, float] = {}
    if order == StageOrder.RELEVANCE:
        scores = dict(
            RelevanceScore.objects.filter(review=review, stage=stage).values_list(
                "record_id", "score"
            )
        )
    fresh = set(
        Record.objects.filter(review=review, search__imported_mid_screening=True).values_list(
            "id", flat=True
        )
    )

    def key(record_id: int) -> tuple[Any, ...]:
        score = scores.get(record_id)
        ranked = (0, -score) if score is not None else (1, 0.0)
        return (record_id not in fresh, *ranked, (record_id * 7919) % 10007, record_id)

    return key


def open_assignment_counts(review: Review, stage: str) -> dict[int, int]:
    """How many assignments each reviewer has at ``stage`` that they have not voted on."""
    return dict(
        _annotated(review, stage)
        .filter(voted=False)
        .values("reviewer_id")
        .annotate(n=Count("id"))
        .values_list("reviewer_id", "n")
    )


def screeners(review: Review) -> list[User]:
    """The members who screen (owners and reviewers), by username."""
    return [
        m.user
        for m in Membership.objects.filter(review=review, role__in=SCREENER_ROLES)
        .select_related("user")
        .order_by("user__username")
    ]


def stage_has_assignments(review: Review, stage: str) -> bool:
    return ScreeningAssignment.objects.filter(review=review, stage=stage).exists()


def has_assignments(review: Review, stage: str, reviewer: User) -> bool:
    return ScreeningAssignment.objects.filter(
        review=review, stage=stage, reviewer=reviewer
    ).exists()


def _annotated(review: Review, stage: str) -> Any:
    voted = Vote.objects.filter(
        record_id=OuterRef("record_id"), stage=stage, reviewer_id=OuterRef("reviewer_id")
    )
    return ScreeningAssignment.objects.filter(review=review, stage=stage).annotate(
        voted=Exists(voted)
    )


@dataclass(frozen=True)
class WorkloadRow:
    """One reviewer's work at one stage (or at extraction).

    ``left`` counts assigned records that still wait for their vote; assigned records
    that others completed (or an adjudicator settled) before they voted are neither done
    nor left (``covered``).
    """

    username: str
    user_id: int
    assigned: int
    done: int
    left: int
    overdue: int
    due_date: date | None  # the earliest due date of the work left
    pace: float  # votes (or submissions) per day over the last PACE_DAYS days
    finish: date | None  # projected: today + left / pace, when both are above zero
    member: bool = True  # False: no longer screens in the review

    @property
    def covered(self) -> int:
        return self.assigned - self.done - self.left


def _finish(left: int, recent: int, today: date) -> date | None:
    """Today plus the days ``left`` records take at ``recent`` votes per PACE_DAYS days."""
    if left <= 0 or recent <= 0:
        return None
    return today + timedelta(days=-(-left * PACE_DAYS // recent))


def screening_workload(
    review: Review,
    stage: str,
    *,
    needed: int,
    now: datetime,
    today: date,
    only: User | None = None,
) -> list[WorkloadRow]:
    """Each screener's figures at ``stage`` (only ``only``'s when given): four queries
    whatever the number of reviewers and records."""
    people = [u for u in screeners(review) if only is None or u.pk == only.pk]
    still_open = ~Exists(
        ScreeningState.objects.filter(record_id=OuterRef("record_id"), stage=stage).filter(
            Q(closed=True) | Q(votes__gte=needed)
        )
    )
    eligible = Exists(eligible_records(review, stage).filter(pk=OuterRef("record_id")))
    qs = _annotated(review, stage).annotate(still_open=still_open, eligible=eligible)
    if only is not None:
        qs = qs.filter(reviewer=only)
    left = Q(voted=False, still_open=True, eligible=True)
    figures = {
        row["reviewer_id"]: row
        for row in qs.values("reviewer_id").annotate(
            assigned=Count("id"),
            done=Count("id", filter=Q(voted=True)),
            left=Count("id", filter=left),
            overdue=Count("id", filter=left & Q(due_date__lt=today)),
            due=Min("due_date", filter=left),
        )
    }
    votes = Vote.objects.filter(
        review=review, stage=stage, created_at__gte=now - timedelta(days=PACE_DAYS)
    )
    if only is not None:
        votes = votes.filter(reviewer=only)
    recent = dict(
        votes.values("reviewer_id").annotate(n=Count("id")).values_list("reviewer_id", "n")
    )
    members = {u.pk for u in people}
    # Reviewers who left with work assigned: listed, so an owner can move their open work.
    gone = sorted(set(figures) - members)
    if gone:
        people += list(User.objects.filter(pk__in=gone).order_by("username"))
    return [
        _row(user, figures.get(user.pk), recent.get(user.pk, 0), today, member=user.pk in members)
        for user in people
    ]


def _row(
    user: User, figures: dict[str, Any] | None, recent: int, today: date, *, member: bool = True
) -> WorkloadRow:
    figures = figures or {}
    left = int(figures.get("left") or 0)
    pace = round(recent / PACE_DAYS, 2)
    return WorkloadRow(
        username=user.get_username(),
        user_id=user.pk,
        assigned=int(figures.get("assigned") or 0),
        done=int(figures.get("done") or 0),
        left=left,
        overdue=int(figures.get("overdue") or 0),
        due_date=figures.get("due"),
        pace=pace,
        finish=_finish(left, recent, today),
        member=member,
    )


def extraction_rows(
    people: list[User], figures: dict[int, dict[str, Any]], recent: dict[int, int], today: date
) -> list[WorkloadRow]:
    """Workload rows from extraction figures (``extraction.selectors`` reads them: the
    screening app never imports extraction)."""
    return [_row(user, figures.get(user.pk), recent.get(user.pk, 0), today) for user in people]
