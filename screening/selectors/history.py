"""Reads of a reviewer's own votes at a stage: the history page and API, back and forward
through them on the screening page, "N left for me" and the reviewer's pace.

Only the reviewer's own votes are read here. A record's standing (waiting, settled include
or exclude, in conflict) may show: every member sees whether a record is settled; what
others voted on it does not show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from reviewflow.keyset import Keyset
from reviewflow.params import parse_int
from reviewflow.reviews.models import Review
from screening.models import Conflict, Decision, Outcome, ReservedVote, ScreeningState, Vote
from screening.selectors.screening import count_of


class Status:
    """A record's standing at a stage as the history shows it."""

    WAITING = "waiting"
    INCLUDED = "settled-include"
    EXCLUDED = "settled-exclude"
    CONFLICT = "conflict"

    LABELS = {
        WAITING: "waiting",
        INCLUDED: "settled: include",
        EXCLUDED: "settled: exclude",
        CONFLICT: "in conflict",
    }


def with_standing(qs: QuerySet[Vote]) -> QuerySet[Vote]:
    """``qs`` with each vote's record's outcome decision (``outcome``), whether it is in
    conflict (``in_conflict``) and whether a slot is kept there after a reveal
    (``kept``), at the vote's stage: subqueries of the same query, no query per row."""
    outcome = Outcome.objects.filter(record=OuterRef("record"), stage=OuterRef("stage"))
    conflict = Conflict.objects.filter(
        record=OuterRef("record"), stage=OuterRef("stage"), resolved_at__isnull=True
    )
    kept = ReservedVote.objects.filter(record=OuterRef("record"), stage=OuterRef("stage"))
    return qs.annotate(
        outcome=Subquery(outcome.values("decision")[:1]),
        in_conflict=Exists(conflict),
        kept=Exists(kept),
    )


def status_of(vote: Vote) -> str:
    """The standing of ``vote``'s record (``vote`` from ``with_standing``)."""
    outcome = getattr(vote, "outcome", None)
    if outcome == Decision.INCLUDE:
        return Status.INCLUDED
    if outcome == Decision.EXCLUDE:
        return Status.EXCLUDED
    if getattr(vote, "in_conflict", False):
        return Status.CONFLICT
    return Status.WAITING


def changeable(vote: Vote) -> bool:
    """Whether ``vote`` (from ``with_standing``) may still be changed: its record waits for
    other votes, none of them shown (``change_vote`` decides, under the record's lock)."""
    return status_of(vote) == Status.WAITING and not getattr(vote, "kept", False)


# The history's order (newest first), the key its pages are read by: ``vote_history``
# walks it within the review, stage and reviewer.
HISTORY_ORDER = Keyset(("-created_at", "-id"))


def my_votes(
    review: Review, stage: str, reviewer: User, *, q: str = "", decision: str = ""
) -> QuerySet[Vote]:
    """``reviewer``'s votes at ``stage``, newest first, with their records' titles and
    standing; ``q`` is a record id (digits, or ``#`` and digits), else words of its title
    or authors; ``decision`` keeps one decision."""
    qs = Vote.objects.filter(review=review, stage=stage, reviewer=reviewer)
    if decision in Decision.values:
        qs = qs.filter(decision=decision)
    q = q.strip()
    if q:
        # A number (or #number) is a record's id: the way to find one record again.
        number = parse_int(q.removeprefix("#"), min_value=1)
        if number is not None:
            qs = qs.filter(record_id=number)
        else:
            qs = qs.filter(Q(record__title__icontains=q) | Q(record__authors__icontains=q))
    return (
        with_standing(qs)
        .select_related("record", "reviewer")
        .only(
            "id",
            "record_id",
            "stage",
            "decision",
            "reason",
            "note",
            "created_at",
            "after_reveal",
            "record__id",
            "record__title",
            "record__authors",
            "record__year",
            "reviewer__id",
            "reviewer__username",
        )
        .order_by(*HISTORY_ORDER.order)
    )


@dataclass(frozen=True)
class Neighbours:
    """The records of the reviewer's votes just before and just after one of them."""

    previous: int | None
    following: int | None


def vote_neighbours(vote: Vote) -> Neighbours:
    """The records of the reviewer's previous and next votes at ``vote``'s stage, in the
    order they were cast (one query)."""
    mine = Vote.objects.filter(
        review_id=vote.review_id, stage=vote.stage, reviewer=vote.reviewer_id
    )
    earlier = mine.filter(
        Q(created_at__lt=vote.created_at) | Q(created_at=vote.created_at, id__lt=vote.pk)
    ).order_by("-created_at", "-id")
    later = mine.filter(
        Q(created_at__gt=vote.created_at) | Q(created_at=vote.created_at, id__gt=vote.pk)
    ).order_by("created_at", "id")
    row = (
        Review.objects.filter(pk=vote.review_id)
        .annotate(
            previous=Subquery(earlier.values("record_id")[:1]),
            following=Subquery(later.values("record_id")[:1]),
        )
        .values_list("previous", "following")
        .get()
    )
    return Neighbours(previous=row[0], following=row[1])


@dataclass(frozen=True)
class Pace:
    """How many records are left for the reviewer and how fast they vote."""

    left: int
    last_hour: int
    last_day: int


def pace_of(review: Review, stage: str, reviewer: User, progress: dict[str, int]) -> Pace:
    """Records ``reviewer`` can still vote on at ``stage``, and their votes in the last hour
    and day (one query, from ``progress`` of ``stage_progress``).

    Left for me: records of the stage with neither an outcome nor an open conflict
    (``total - settled - conflicts``), less those still open that I voted on already. The
    last count reads the open screening states (few at any time: ``state_open``)."""
    now = timezone.now()
    mine = Vote.objects.filter(review=review, stage=stage, reviewer=reviewer)
    open_state = ScreeningState.objects.filter(record=OuterRef("record"), stage=stage, closed=False)
    counts = {
        "mine_open": mine.filter(Exists(open_state)),
        "hour": mine.filter(created_at__gte=now - timedelta(hours=1)),
        "day": mine.filter(created_at__gte=now - timedelta(days=1)),
    }
    row = (
        Review.objects.filter(pk=review.pk)
        .annotate(**{f"n_{name}": count_of(qs) for name, qs in counts.items()})
        .values(*(f"n_{name}" for name in counts))
        .get()
    )
    left = progress["total"] - progress["settled"] - progress["conflicts"] - row["n_mine_open"]
    return Pace(left=max(left, 0), last_hour=row["n_hour"], last_day=row["n_day"])
