"""What waits for a member in a review's screening, for their digest
(``reviewflow.reviews.digest``): records left for them per stage, conflicts they may
adjudicate, and their assigned records due soon or overdue. Counts only, never a vote: a
digest keeps blinding as the pages do (the records left are those the records list calls
"awaiting me"; the conflicts those the adjudication desk lets them decide)."""

from __future__ import annotations

from datetime import date

from django.db.models import Count, Exists, Min, OuterRef, Q
from django.urls import reverse
from django.utils.formats import date_format

from reviewflow.reviews.models import Membership, Role
from screening.models import (
    Adjudicators,
    Conflict,
    Outcome,
    Record,
    ScreeningAssignment,
    Stage,
    Vote,
)
from screening.selectors.identification import filter_by_stage_status
from screening.selectors.screening import stage_settings_of


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def adjudicable_conflicts(membership: Membership, stage: str) -> int:
    """Open conflicts at ``stage`` the member may decide (the rule of
    ``services.screening.conflicts.may_adjudicate``): every one for an owner; for a
    reviewer, where the stage lets reviewers adjudicate, those on records they did not
    vote on."""
    open_conflicts = Conflict.objects.filter(
        review_id=membership.review_id, stage=stage, resolved_at__isnull=True
    )
    if membership.role == Role.OWNER:
        return open_conflicts.count()
    conf = stage_settings_of(membership.review, stage)
    if membership.role != Role.REVIEWER or conf.adjudicators != Adjudicators.REVIEWERS:
        return 0
    voted = Vote.objects.filter(
        record=OuterRef("record"), stage=stage, reviewer_id=membership.user_id
    )
    return open_conflicts.filter(~Exists(voted)).count()


def screening_lines(membership: Membership, *, today: date, horizon: date) -> list[tuple[str, str]]:
    """(text, path) of each thing waiting for the member, stage by stage."""
    if not membership.has_role(Role.REVIEWER):
        return []
    review, user = membership.review, membership.user
    lines: list[tuple[str, str]] = []
    for stage in Stage:
        where = stage.label.lower()
        screen = reverse("screen", args=[review.slug, stage.value])
        left = filter_by_stage_status(
            Record.objects.for_review(review),
            review=review,
            user=user,
            stage=stage.value,
            status="awaiting_me",
        ).count()
        if left:
            lines.append((f"{_n(left, 'record', 'records')} left for you at {where}", screen))
        conflicts = adjudicable_conflicts(membership, stage.value)
        if conflicts:
            lines.append(
                (
                    f"{_n(conflicts, 'conflict', 'conflicts')} to adjudicate at {where}",
                    reverse("conflicts", args=[review.slug]) + f"?stage={stage.value}",
                )
            )
        lines.extend(_deadlines(membership, stage, today=today, horizon=horizon, url=screen))
    return lines


def _deadlines(
    membership: Membership, stage: Stage, *, today: date, horizon: date, url: str
) -> list[tuple[str, str]]:
    """Assigned records not yet screened by the member (nor settled) due by ``horizon``."""
    voted = Vote.objects.filter(
        record=OuterRef("record"), stage=stage.value, reviewer_id=membership.user_id
    )
    settled = Outcome.objects.filter(record=OuterRef("record"), stage=stage.value)
    due = (
        ScreeningAssignment.objects.filter(
            review_id=membership.review_id,
            stage=stage.value,
            reviewer_id=membership.user_id,
            due_date__lte=horizon,
        )
        .filter(~Exists(voted), ~Exists(settled))
        .aggregate(
            overdue=Count("id", filter=Q(due_date__lt=today)),
            first_overdue=Min("due_date", filter=Q(due_date__lt=today)),
            soon=Count("id", filter=Q(due_date__gte=today)),
            first_soon=Min("due_date", filter=Q(due_date__gte=today)),
        )
    )
    where = stage.label.lower()
    lines = []
    if due["overdue"]:
        since = date_format(due["first_overdue"], "j F Y")
        lines.append(
            (
                f"{_n(due['overdue'], 'assigned record', 'assigned records')} overdue at "
                f"{where} (due since {since})",
                url,
            )
        )
    if due["soon"]:
        first = date_format(due["first_soon"], "j F Y")
        lines.append(
            (
                f"{_n(due['soon'], 'assigned record', 'assigned records')} due soon at "
                f"{where} (the first on {first})",
                url,
            )
        )
    return lines
