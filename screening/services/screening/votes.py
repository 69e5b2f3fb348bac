"""Votes: casting one (the last a record needs settles it) and taking one back.

Invariants the database keeps: one vote per reviewer, record and stage; at most
``reviewers_needed`` votes per record and stage (vote slots); one outcome per record and
stage. Votes on one record are serialised by locking the record's row, so the vote that
completes a record always sees the others and settles it (agreement or conflict).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import (
    F,
)
from django.utils import timezone

from reviewflow.errors import ReviewflowError, not_saved_on_database_failure
from reviewflow.reviews.models import AuditEvent, Review
from reviewflow.reviews.services import audit_fields, record_audit_for_record
from screening.models import (
    Conflict,
    Decision,
    Outcome,
    OutcomeKind,
    Record,
    ReservedVote,
    ScreeningState,
    Stage,
    StageOrder,
    StageSettings,
    Vote,
)
from screening.selectors import screening_sql
from screening.selectors.screening import (
    check_screener,
)
from screening.selectors.screening_sql import LOCK_RECORD, STATEMENTS, VOTE_FACTS
from screening.services.screening.assignment import claim_record
from screening.services.screening.stage_settings import get_stage_settings


def _mapped(decision: str, stage: str) -> str:
    # At title/abstract "maybe" moves on like "include": the full text decides.
    if stage == Stage.TITLE_ABSTRACT and decision == Decision.MAYBE:
        return Decision.INCLUDE
    return decision


def check_vote_fields(*, conf: StageSettings, stage: str, decision: str, reason: str) -> str:
    """Validate a decision and its reason; return the reason to store."""
    reason = reason.strip()
    if decision not in Decision.values:
        raise ReviewflowError(
            f"Unknown decision “{decision}”: use include, exclude or maybe.", field="decision"
        )
    if stage == Stage.FULL_TEXT and decision == Decision.MAYBE:
        raise ReviewflowError(
            "At full text, decide include or exclude: there is no “maybe”.", field="decision"
        )
    if decision != Decision.EXCLUDE:
        return ""  # only exclusions carry a reason
    if conf.needs_reason and not reason:
        where = "at full text" if stage == Stage.FULL_TEXT else "in this review"
        raise ReviewflowError(
            f"Choose a reason for excluding this record: exclusions {where} need one.",
            field="reason",
        )
    if reason and conf.exclusion_reasons and reason not in conf.exclusion_reasons:
        raise ReviewflowError(
            f"“{reason}” is not one of this stage's exclusion reasons.", field="reason"
        )
    return reason


def cast_vote(
    *,
    review: Review,
    record: Record | int,
    reviewer: User,
    stage: str,
    decision: str,
    reason: str = "",
    note: str = "",
) -> Vote:
    """Store one reviewer's vote on ``record`` (a record or its id); the last vote a record
    needs settles it.

    One locking query reads everything the checks need (membership, eligibility, the
    record's screening state, the reviewer's own vote, the free slot); the vote, the state
    and the audit events follow, so a vote is a handful of index lookups and inserts.
    """
    conf = get_stage_settings(review, stage)
    note = note.strip()
    record_id = record if isinstance(record, int) else record.pk
    with not_saved_on_database_failure("Your vote"), transaction.atomic():
        # Lock the record in a statement of its own, then read: on PostgreSQL a statement
        # that waited for the lock still reads votes and state as they were when it began,
        # so a vote queued behind another saw a stale free slot and was refused.
        screening_sql.rows(LOCK_RECORD, record=record_id)
        found = screening_sql.rows(
            STATEMENTS[stage]["vote_facts"],
            record=record_id,
            review=review.pk,
            reviewer=reviewer.pk,
            stage=stage,
        )
        facts = dict(zip(VOTE_FACTS, found[0], strict=True)) if found else None
        if facts is None or not facts["screener"]:
            check_screener(review, reviewer)  # says why, for a record of another review too
        reason = check_vote_fields(conf=conf, stage=stage, decision=decision, reason=reason)
        if facts is None:
            raise ReviewflowError(
                "No such record in this review.", field="record", code="not_found"
            )
        if not facts["eligible"]:
            raise ReviewflowError(
                "This record is not screened at this stage.", field="record", code="not_found"
            )
        if facts["is_closed"]:
            raise ReviewflowError(
                "This record already has all the votes it needs.", code="conflict"
            )
        if facts["mine"]:
            raise ReviewflowError(
                "You have already voted on this record (press u to undo your last vote).",
                code="conflict",
            )
        if facts["kept_for"] is not None and facts["kept_for"] != reviewer.pk:
            raise ReviewflowError(
                "This record's open vote is kept for the reviewer who took theirs back.",
                code="conflict",
            )
        votes = facts["n_votes"]
        slot = next((n for n in (1, 2, 3) if not facts["slots"] & (1 << (n - 1))), 0)
        if not slot or slot > conf.reviewers_needed or votes >= conf.reviewers_needed:
            raise ReviewflowError(
                "This record already has all the votes it needs.", code="conflict"
            )
        vote = Vote(
            review=review,
            record_id=record_id,
            stage=stage,
            reviewer=reviewer,
            slot=slot,
            decision=decision,
            reason=reason[:200],
            note=note,
        )
        try:
            Vote.objects.bulk_create([vote])
        except IntegrityError:
            # The record's lock makes this unreachable for votes cast here; the
            # constraints still refuse any other writer. The transaction rolls back.
            raise ReviewflowError(
                "This record already has all the votes it needs.", code="conflict"
            ) from None
        if facts["kept_row"]:  # this vote fills the kept slot (or one kept for nobody now)
            ReservedVote.objects.filter(record_id=record_id, stage=stage).delete()
        complete = votes + 1 == conf.reviewers_needed
        if votes:
            ScreeningState.objects.filter(record_id=record_id, stage=stage).update(
                votes=votes + 1, closed=complete
            )
        else:
            state = ScreeningState(
                review=review, record_id=record_id, stage=stage, votes=1, closed=complete
            )
            ScreeningState.objects.bulk_create([state])
        events = [
            audit_fields(
                review=review,
                actor=reviewer,
                action="vote.cast",
                target=f"record {record_id}",
                after={"stage": stage, "decision": decision, "reason": reason, "note": note},
                object_type="record",
                object_id=record_id,
            )
        ]
        if complete:
            events.append(_settle(review, record_id, stage))
        AuditEvent.objects.bulk_create([AuditEvent(**fields) for fields in events])
    if conf.order == StageOrder.RELEVANCE:  # no query at all in random order
        from screening.services.prioritisation import after_vote

        after_vote(review=review, stage=stage)  # maybe queues a retrain, after commit
    return vote


def _settle(review: Review, record_id: int, stage: str) -> dict[str, Any]:
    """Open the outcome or conflict of a record whose votes are all in; return the audit
    event's fields (the caller writes it with the vote's)."""
    votes = list(
        Vote.objects.filter(record_id=record_id, stage=stage).values_list("decision", "reason")
    )
    decisions = {_mapped(decision, stage) for decision, _ in votes}
    reasons = {reason for decision, reason in votes if decision == Decision.EXCLUDE}
    agreed = len(decisions) == 1 and (
        stage != Stage.FULL_TEXT or decisions != {Decision.EXCLUDE} or len(reasons) == 1
    )
    if agreed:
        decision = decisions.pop()
        Outcome.objects.create(
            review=review,
            record_id=record_id,
            stage=stage,
            decision=decision,
            reason=reasons.pop() if decision == Decision.EXCLUDE and len(reasons) == 1 else "",
            kind=OutcomeKind.AGREEMENT,
        )
        action, after = "outcome.agreed", {"stage": stage, "decision": decision}
    else:
        Conflict.objects.create(review=review, record_id=record_id, stage=stage)
        action, after = "conflict.opened", {"stage": stage}
    return audit_fields(
        review=review,
        actor=None,
        action=action,
        target=f"record {record_id}",
        after=after,
        object_type="record",
        object_id=record_id,
    )


@transaction.atomic
def undo_last_vote(*, review: Review, reviewer: User, stage: str) -> Vote:
    """Take back the reviewer's most recent vote at ``stage`` while the record is not yet
    decided by adjudication or screened at the next stage."""
    vote = (
        Vote.objects.select_for_update()
        .filter(review=review, reviewer=reviewer, stage=stage)
        .order_by("-created_at", "-id")
        .first()
    )
    if vote is None:
        raise ReviewflowError("You have no vote to undo at this stage.")
    Record.objects.select_for_update().filter(pk=vote.record_id).first()
    outcome = Outcome.objects.filter(record_id=vote.record_id, stage=stage).first()
    if outcome is not None and outcome.kind == OutcomeKind.ADJUDICATION:
        raise ReviewflowError(
            "This record's conflict was resolved: the vote can no longer be undone."
        )
    if (
        stage == Stage.TITLE_ABSTRACT
        and Vote.objects.filter(record_id=vote.record_id, stage=Stage.FULL_TEXT).exists()
    ):
        raise ReviewflowError("This record is already being screened at full text.")
    conflicts = Conflict.objects.filter(
        record_id=vote.record_id, stage=stage, resolved_at__isnull=True
    )
    # Settled or in conflict, the record's votes were visible to every member: at a blind
    # stage, the slot this undo reopens stays with this reviewer (see ``ReservedVote``).
    if (
        (outcome is not None or conflicts.exists())
        and get_stage_settings(review, stage).blind
        and Vote.objects.filter(record_id=vote.record_id, stage=stage).exclude(pk=vote.pk).exists()
    ):
        ReservedVote.objects.update_or_create(
            record_id=vote.record_id, stage=stage, defaults={"review": review, "reviewer": reviewer}
        )
    if outcome is not None:
        outcome.delete()
    conflicts.delete()
    vote.delete()
    state = ScreeningState.objects.filter(record_id=vote.record_id, stage=stage)
    state.filter(votes__lte=1).delete()  # no vote left: no state
    state.filter(votes__gt=1).update(votes=F("votes") - 1, closed=False)
    record_audit_for_record(
        review=review,
        actor=reviewer,
        action="vote.undone",
        before={"stage": stage, "decision": vote.decision, "reason": vote.reason},
        record_id=vote.record_id,
    )
    # Offer the same record again.
    claim_record(
        reviewer=reviewer, stage=stage, record_id=vote.record_id, now=timezone.now(), walked=False
    )
    return vote


def others_votes(*, review: Review, stage: str, record: Record, reviewer: User) -> list[Vote]:
    """Other reviewers' votes on ``record``, shown beside it when the stage is not blind;
    none (and no query) when it is blind, the default."""
    if get_stage_settings(review, stage).blind:
        return []
    return list(
        Vote.objects.filter(record=record, stage=stage)
        .exclude(reviewer=reviewer)
        .select_related("reviewer")
        .order_by("created_at", "id")
    )
