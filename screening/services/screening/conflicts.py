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
    StageSettings,
    Vote,
)
from screening.services.screening.stage_settings import get_stage_settings
from screening.services.screening.votes import check_vote_fields


def may_adjudicate(*, role: str, conf: StageSettings, voted: bool) -> bool:
    """The rule, for callers that hold the member's role, the stage's settings and whether
    they voted on the record (a page of conflicts asks it once per row, without queries):
    owners always; reviewers where the stage lets reviewers adjudicate, on records they did
    not vote on."""
    if role == Role.OWNER:
        return True
    return conf.adjudicators == Adjudicators.REVIEWERS and role == Role.REVIEWER and not voted


def can_adjudicate(*, review: Review, user: User, conflict: Conflict) -> bool:
    membership = Membership.objects.filter(review=review, user=user).first()
    if membership is None:
        return False
    if membership.role == Role.OWNER:
        return True
    return may_adjudicate(
        role=membership.role,
        conf=get_stage_settings(review, conflict.stage),
        voted=Vote.objects.filter(
            record=conflict.record_id, stage=conflict.stage, reviewer=user
        ).exists(),
    )


def check_resolution(*, conf: StageSettings, stage: str, decision: str, reason: str) -> str:
    """The adjudicator's decision and reason, by the rules votes follow (``check_vote_fields``)
    but without "maybe": the reason to store, or the message to show."""
    if decision not in (Decision.INCLUDE, Decision.EXCLUDE):
        raise ReviewflowError("Resolve a conflict with include or exclude.", field="decision")
    return check_vote_fields(conf=conf, stage=stage, decision=decision, reason=reason)[:200]


@transaction.atomic
def resolve_conflict(
    *, conflict: Conflict, actor: User, decision: str, reason: str = "", note: str = ""
) -> Outcome:
    """An adjudicator settles a conflict: an exclusion carries one of the stage's reasons
    (required at full text, or where the stage asks for one), and ``note`` says why."""
    conflict = (
        Conflict.objects.select_for_update().select_related("review", "record").get(pk=conflict.pk)
    )
    review = conflict.review
    if not can_adjudicate(review=review, user=actor, conflict=conflict):
        raise ReviewflowError("You may not resolve conflicts in this review.", code="forbidden")
    if conflict.resolved_at is not None:
        raise ReviewflowError("This conflict was already resolved.", code="conflict")
    conf = get_stage_settings(review, conflict.stage)
    reason = check_resolution(conf=conf, stage=conflict.stage, decision=decision, reason=reason)
    note = note.strip()
    outcome = Outcome.objects.create(
        review=review,
        record=conflict.record,
        stage=conflict.stage,
        decision=decision,
        reason=reason,
        note=note,
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
        after={"decision": decision, "reason": outcome.reason, "note": note},
        record_id=conflict.record_id,
    )
    return outcome
