"""Screening work assigned to reviewers (#20): splitting a stage's open records among
chosen reviewers with a due date, moving a reviewer's open work to others, removing it.

An assignment only orders what ``next`` offers (``services.screening.assignment``): the
per-record reviewer count and blinding still decide who may vote, and no function here
touches a vote. Every assignment is made by ``create_assignments``, the one place that
writes them (and audits), so whatever must follow a new assignment hooks in there.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from django.contrib.auth.models import User
from django.db import models, transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Review
from reviewflow.reviews.notifications import notify
from reviewflow.reviews.services import record_audit
from screening.models import ScreeningAssignment, Search, Stage, Vote
from screening.selectors.work import OpenRecord, offer_key, records_needing_votes, screeners
from screening.selectors.work import open_assignment_counts as _open_counts
from screening.services.screening.stage_settings import get_stage_settings

MAX_SHARE = 100
MAX_BATCH = 100_000


class SplitMode(models.TextChoices):
    EVENLY = "evenly", "Evenly"
    SHARE = "share", "By share"
    SEARCH = "search", "By search"
    BATCH = "batch", "A fixed batch each"


@dataclass(frozen=True)
class Split:
    """What a split asks for, checked (``check_split``)."""

    mode: str
    reviewers: list[User]
    weights: dict[int, int]
    searches: list[int] | None
    batch_size: int | None
    due_date: date | None


def check_split(
    *,
    review: Review,
    mode: str,
    reviewers: Sequence[User],
    shares: Mapping[str, int] | None = None,
    searches: Sequence[int] | None = None,
    batch_size: int | None = None,
    due_date: date | None = None,
) -> Split:
    """The split asked for, or the message of the first thing wrong with it (naming the
    field); ``shares`` are keyed by username."""
    if mode not in SplitMode.values:
        raise ReviewflowError(
            f"Unknown mode {mode!r}: use one of {', '.join(SplitMode.values)}.", field="mode"
        )
    people = _check_screeners(review, reviewers, field="reviewers")
    weights = {u.pk: 1 for u in people}
    if mode == SplitMode.SHARE:
        shares = shares or {}
        for user in people:
            share = shares.get(user.username)
            if not isinstance(share, int) or isinstance(share, bool) or not 1 <= share <= MAX_SHARE:
                raise ReviewflowError(
                    f"Give {user.username} a share from 1 to {MAX_SHARE}.", field="shares"
                )
            weights[user.pk] = share
    chosen: list[int] | None = None
    if mode == SplitMode.SEARCH:
        chosen = sorted(set(searches or []))
        if not chosen:
            raise ReviewflowError("Choose at least one search.", field="searches")
        found = set(
            Search.objects.filter(review=review, pk__in=chosen).values_list("pk", flat=True)
        )
        missing = [pk for pk in chosen if pk not in found]
        if missing:
            raise ReviewflowError(f"No search {missing[0]} in this review.", field="searches")
    if mode == SplitMode.BATCH and (batch_size is None or not 1 <= batch_size <= MAX_BATCH):
        raise ReviewflowError(
            f"Give a batch size from 1 to {MAX_BATCH:,} records per reviewer.", field="batch_size"
        )
    if due_date is not None and due_date < timezone.localdate():
        raise ReviewflowError("The due date is in the past.", field="due_date")
    return Split(
        mode=mode,
        reviewers=people,
        weights=weights,
        searches=chosen,
        batch_size=batch_size if mode == SplitMode.BATCH else None,
        due_date=due_date,
    )


def _check_screeners(review: Review, people: Sequence[User], *, field: str) -> list[User]:
    if not people:
        raise ReviewflowError("Choose at least one reviewer.", field=field)
    allowed = {u.pk for u in screeners(review)}
    for user in people:
        if user.pk not in allowed:
            raise ReviewflowError(
                f"{user.username} is not a reviewer or owner of this review.", field=field
            )
    return sorted({u.pk: u for u in people}.values(), key=lambda u: (u.username, u.pk))


def plan_split(
    records: Sequence[OpenRecord],
    reviewers: Sequence[int],
    *,
    needed: int,
    weights: Mapping[int, int],
    load: Mapping[int, int],
    batch_size: int | None = None,
) -> list[tuple[int, int]]:
    """(record, reviewer) pairs that give each record up to ``needed`` distinct reviewers,
    counting those who voted on it or have it assigned, never a voter twice.

    Records in id order; each open slot goes to the reviewer with the lowest load per
    share (``load``: open assignments they had already, plus what this plan gives them),
    ties by their order in ``reviewers``; with ``batch_size``, nobody gets more than that
    many new records. Deterministic: the same data gives the same plan.
    """
    position = {pk: i for i, pk in enumerate(reviewers)}
    given: dict[int, int] = defaultdict(int)
    pairs: list[tuple[int, int]] = []
    for record in records:
        taken = set(record.voters | record.assignees)
        for _ in range(needed - len(taken)):
            free = [
                u
                for u in reviewers
                if u not in taken and (batch_size is None or given[u] < batch_size)
            ]
            if not free:
                break
            pick = min(
                free, key=lambda u: ((load.get(u, 0) + given[u] + 1) / weights[u], position[u])
            )
            given[pick] += 1
            taken.add(pick)
            pairs.append((record.id, pick))
    return pairs


def split_work(
    *, review: Review, stage: str, actor: User, split: Split
) -> list[ScreeningAssignment]:
    """Assign the stage's records that still need votes among ``split.reviewers`` (the
    caller checks that ``actor`` is an owner, and the split with ``check_split``).

    Running it again tops up: records already assigned keep their reviewers, and only
    their open slots (and new records) are assigned.
    """
    needed = get_stage_settings(review, stage).reviewers_needed
    with transaction.atomic():
        _lock(review)  # two splits at once would plan the same slots
        records = records_needing_votes(review, stage, needed=needed, searches=split.searches)
        load = {} if split.mode == SplitMode.BATCH else _open_counts(review, stage)
        pairs = plan_split(
            records,
            [u.pk for u in split.reviewers],
            needed=needed,
            weights=split.weights,
            load=load,
            batch_size=split.batch_size,
        )
        return create_assignments(
            review=review,
            stage=stage,
            actor=actor,
            pairs=[(record, reviewer, split.due_date) for record, reviewer in pairs],
            action="screening.work_assigned",
            facts={
                "mode": split.mode,
                "reviewers": [u.username for u in split.reviewers],
                "due_date": split.due_date.isoformat() if split.due_date else None,
                **({"searches": split.searches} if split.searches else {}),
                **({"batch_size": split.batch_size} if split.batch_size else {}),
            },
        )


def create_assignments(
    *,
    review: Review,
    stage: str,
    actor: User,
    pairs: Sequence[tuple[int, int, date | None]],
    action: str,
    facts: Mapping[str, object],
) -> list[ScreeningAssignment]:
    """Write (record, reviewer, due date) assignments and audit them as ``action``; the
    one function that makes assignments (run inside the caller's transaction).

    They are written in the order ``next`` offers records at the stage (``offer_key``):
    ``next`` walks a reviewer's assignments by id."""
    now = timezone.now()
    key = offer_key(review, stage, get_stage_settings(review, stage).order)
    pairs = sorted(pairs, key=lambda pair: (key(pair[0]), pair[1]))
    made = ScreeningAssignment.objects.bulk_create(
        [
            ScreeningAssignment(
                review=review,
                record_id=record,
                stage=stage,
                reviewer_id=reviewer,
                due_date=due,
                assigned_by=actor,
                created_at=now,
            )
            for record, reviewer, due in pairs
        ],
        batch_size=1000,
    )
    per_reviewer: dict[int, int] = defaultdict(int)
    for _, reviewer, _ in pairs:
        per_reviewer[reviewer] += 1
    names = dict(User.objects.filter(pk__in=per_reviewer).values_list("pk", "username"))
    record_audit(
        review=review,
        actor=actor,
        action=action,
        target=stage,
        after={
            **facts,
            "assignments": len(made),
            "records": len({record for record, _, _ in pairs}),
            "per_reviewer": {names[pk]: n for pk, n in sorted(per_reviewer.items())},
        },
    )
    _tell_reviewers(review, stage, pairs, per_reviewer)
    return made


def _tell_reviewers(
    review: Review,
    stage: str,
    pairs: Sequence[tuple[int, int, date | None]],
    per_reviewer: Mapping[int, int],
) -> None:
    """A notification (and, by their preferences, an e-mail) to each reviewer given work:
    how many records, at which stage, by when. Counts only: nothing about anyone's votes."""
    due: dict[int, date] = {}
    for _, reviewer, day in pairs:
        if day is not None and (reviewer not in due or day < due[reviewer]):
            due[reviewer] = day
    url = reverse("screen", args=[review.slug, stage])
    label = Stage(stage).label.lower()
    for user in User.objects.filter(pk__in=per_reviewer).order_by("pk"):
        count = per_reviewer[user.pk]
        text = f"{count} record{'s' if count != 1 else ''} at {label} assigned to you"
        if user.pk in due:
            text += f", due {due[user.pk]:%d %b %Y}"
        notify(user=user, review=review, kind="assignment", text=text + ".", url=url)


def _unvoted(review: Review, stage: str, reviewer: User) -> models.QuerySet[ScreeningAssignment]:
    voted = Vote.objects.filter(
        record_id=OuterRef("record_id"), stage=stage, reviewer_id=reviewer.pk
    )
    return ScreeningAssignment.objects.filter(review=review, stage=stage, reviewer=reviewer).filter(
        ~Exists(voted)
    )


def reassign_open_work(
    *,
    review: Review,
    stage: str,
    from_reviewer: User,
    to_reviewers: Sequence[User],
    actor: User,
    due_date: date | None = None,
) -> list[ScreeningAssignment]:
    """Move ``from_reviewer``'s assigned records they have not voted on to ``to_reviewers``
    (evenly, as a split would; a record keeps its due date unless ``due_date`` is given).

    Their votes stay, and so do their assignments of records they voted on (the workload
    counts those as done). ``from_reviewer`` may have left the review already.
    """
    to = _check_screeners(review, to_reviewers, field="to")
    if any(u.pk == from_reviewer.pk for u in to):
        raise ReviewflowError(
            f"{from_reviewer.username} cannot take over their own work.", field="to"
        )
    if due_date is not None and due_date < timezone.localdate():
        raise ReviewflowError("The due date is in the past.", field="due_date")
    needed = get_stage_settings(review, stage).reviewers_needed
    with transaction.atomic():
        _lock(review)
        moving = _unvoted(review, stage, from_reviewer)
        due_of = dict(moving.values_list("record_id", "due_date"))
        if not due_of:
            raise ReviewflowError(
                f"{from_reviewer.username} has no open assigned work at this stage.",
                field="reviewer",
            )
        records = [
            replace(r, assignees=r.assignees - {from_reviewer.pk})
            for r in records_needing_votes(review, stage, needed=needed)
            if r.id in due_of
        ]
        moving.delete()
        pairs = plan_split(
            records,
            [u.pk for u in to],
            needed=needed,
            weights={u.pk: 1 for u in to},
            load=_open_counts(review, stage),
        )
        return create_assignments(
            review=review,
            stage=stage,
            actor=actor,
            pairs=[(record, reviewer, due_date or due_of[record]) for record, reviewer in pairs],
            action="screening.work_reassigned",
            facts={
                "from": from_reviewer.username,
                "to": [u.username for u in to],
                "released": len(due_of),
            },
        )


@transaction.atomic
def remove_open_assignments(*, review: Review, stage: str, reviewer: User, actor: User) -> int:
    """Remove ``reviewer``'s assignments they have not voted on (votes are untouched);
    how many were removed."""
    removed, _ = _unvoted(review, stage, reviewer).delete()
    if removed:
        record_audit(
            review=review,
            actor=actor,
            action="screening.assignments_removed",
            target=stage,
            after={"reviewer": reviewer.username, "assignments": removed},
        )
    return removed


def _lock(review: Review) -> None:
    Review.objects.select_for_update().filter(pk=review.pk).values_list("pk").first()
