"""Conflicts: who may adjudicate, and settling one."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Membership, Review, Role
from reviewflow.reviews.services import record_audit_for_record
from screening.models import (
    Adjudicators,
    Conflict,
    Decision,
    Outcome,
    OutcomeKind,
    Vote,
)
from screening.services.screening.stage_settings import get_stage_settings


def can_adjudicate(*, review: Review, user: User, conflict: Conflict) -> bool:
    membership = Membership.objects.filter(review=review, user=user).first()
    if membership is None:
        return False
    if membership.role == Role.OWNER:
        return True
    conf = get_stage_settings(review, conflict.stage)
    return (
        conf.adjudicators == Adjudicators.REVIEWERS
        and membership.role == Role.REVIEWER
        and not Vote.objects.filter(
            record=conflict.record, stage=conflict.stage, reviewer=user
        ).exists()
    )


@transaction.atomic
def resolve_conflict(
    *, conflict: Conflict, actor: User, decision: str, reason: str = ""
) -> Outcome:
    """An adjudicator settles a conflict."""
    conflict = (
        Conflict.objects.select_for_update().select_related("review", "record").get(pk=conflict.pk)
    )
    review = conflict.review
    if not can_adjudicate(review=review, user=actor, conflict=conflict):
        raise ReviewflowError("You may not resolve conflicts in this review.", code="forbidden")
    if conflict.resolved_at is not None:
        raise ReviewflowError("This conflict was already resolved.", code="conflict")
    if decision not in (Decision.INCLUDE, Decision.EXCLUDE):
        raise ReviewflowError("Resolve a conflict with include or exclude.", field="decision")
    conf = get_stage_settings(review, conflict.stage)
    reason = reason.strip()
    if decision == Decision.EXCLUDE and conf.needs_reason and not reason:
        raise ReviewflowError("Choose a reason for excluding this record.", field="reason")
    outcome = Outcome.objects.create(
        review=review,
        record=conflict.record,
        stage=conflict.stage,
        decision=decision,
        reason=reason[:200] if decision == Decision.EXCLUDE else "",
        kind=OutcomeKind.ADJUDICATION,
        decided_by=actor,
    )
    conflict.resolved_at, conflict.resolved_by = timezone.now(), actor
    conflict.save(update_fields=["resolved_at", "resolved_by"])
    record_audit_for_record(
        review=review,
        actor=actor,
        action="conflict.resolved",
        before={"stage": conflict.stage},
        after={"decision": decision, "reason": outcome.reason},
        record_id=conflict.record_id,
    )
    return outcome
