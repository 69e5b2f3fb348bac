"""Votes: casting one (the last a record needs settles it) and taking one back.

Invariants the database keeps: one vote per reviewer, record and stage; at most
``reviewers_needed`` votes per record and stage (vote slots); one outcome per record and
stage. Votes on one record are serialised by locking the record's row, so the vote that
completes a record always sees the others and settles it (agreement or conflict).

Independence: at a blind stage a record's votes are shown to the team once it is settled
or in conflict. A vote taken back after that and cast again is not blind (``Vote.after_reveal``,
the slot it fills was kept for its reviewer: ``ReservedVote``). It settles the record only
if it repeats the reviewer's first, blind vote; a changed vote sends the record to an
adjudicator, who sees both, and agreement statistics use the blind vote.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
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
        if facts["mine"]:
            raise ReviewflowError(
                "You have already voted on this record (press u to undo your last vote).",
                code="conflict",
            )
        if facts["is_closed"]:
            raise ReviewflowError(
                "This record already has all the votes it needs.", code="conflict"
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
        if facts["kept_row"]:  # this vote fills the kept slot (or one kept for nobody now)
            # The slot was reopened after the record's votes were shown: this vote is not
            # blind. It reads the kept slot: one query more, on this rare path only.
            _after_reveal(vote, ReservedVote.objects.filter(record_id=record_id, stage=stage))
        try:
            Vote.objects.bulk_create([vote])
        except IntegrityError:
            # The record's lock makes this unreachable for votes cast here; the
            # constraints still refuse any other writer. The transaction rolls back.
            raise ReviewflowError(
                "This record already has all the votes it needs.", code="conflict"
            ) from None
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
        after: dict[str, Any] = {
            "stage": stage,
            "decision": decision,
            "reason": reason,
            "note": note,
        }
        if vote.after_reveal:
            after.update(after_reveal=True, blind_decision=vote.blind_decision)
        events = [
            audit_fields(
                review=review,
                actor=reviewer,
                action="vote.cast",
                target=f"record {record_id}",
                after=after,
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


def _after_reveal(vote: Vote, kept: QuerySet[ReservedVote]) -> None:
    """Mark ``vote`` as cast after the reveal, with its reviewer's blind vote from the kept
    slot (``kept``, a queryset of the record's ``ReservedVote``); the slot goes with it.

    A slot kept for someone else is filled only once they stopped screening: the vote then
    replaces no blind vote of its own reviewer (``blind_*`` stay empty)."""
    row = kept.first()
    vote.after_reveal = True
    if row is not None and row.reviewer_id == vote.reviewer_id:
        vote.blind_decision = row.blind_decision
        vote.blind_reason = row.blind_reason
        vote.blind_note = row.blind_note
    kept.delete()


def blind_vote_of(vote: Vote) -> tuple[str, str, str] | None:
    """The first, blind (decision, reason, note) of ``vote``'s reviewer on its record: the
    vote itself unless it was cast after the reveal; ``None`` when that reviewer had none."""
    if not vote.after_reveal:
        return vote.decision, vote.reason, vote.note
    if not vote.blind_decision:
        return None
    return vote.blind_decision, vote.blind_reason, vote.blind_note


def _settles_as(decision: str, reason: str, stage: str) -> tuple[str, str]:
    """What of a vote decides the record: the decision (at title/abstract "maybe" is
    "include") and, for an exclusion at full text, its reason."""
    mapped = _mapped(decision, stage)
    return mapped, reason if stage == Stage.FULL_TEXT and mapped == Decision.EXCLUDE else ""


def changed_after_reveal(
    *, stage: str, decision: str, reason: str, blind_decision: str, blind_reason: str
) -> bool:
    """Whether a vote cast after the reveal settles the record differently from its
    reviewer's blind vote (or there was no blind vote: nothing shows it independent)."""
    return not blind_decision or _settles_as(decision, reason, stage) != _settles_as(
        blind_decision, blind_reason, stage
    )


def vote_changed_after_reveal(vote: Vote) -> bool:
    """Whether ``vote`` was cast after the reveal and differs from its reviewer's blind
    vote: such a vote sends its record to an adjudicator."""
    return vote.after_reveal and changed_after_reveal(
        stage=vote.stage,
        decision=vote.decision,
        reason=vote.reason,
        blind_decision=vote.blind_decision,
        blind_reason=vote.blind_reason,
    )


def _settle(review: Review, record_id: int, stage: str) -> dict[str, Any]:
    """Open the outcome or conflict of a record whose votes are all in; return the audit
    event's fields (the caller writes it with the vote's).

    Votes that agree settle the record, unless one of them was changed after the record's
    votes were shown (``changed_after_reveal``): that agreement was not reached blind, so
    the record goes to an adjudicator."""
    votes = list(
        Vote.objects.filter(record_id=record_id, stage=stage).values_list(
            "decision", "reason", "after_reveal", "blind_decision", "blind_reason"
        )
    )
    decisions = {_mapped(decision, stage) for decision, *_ in votes}
    reasons = {reason for decision, reason, *_ in votes if decision == Decision.EXCLUDE}
    changed = any(
        after_reveal
        and changed_after_reveal(
            stage=stage,
            decision=decision,
            reason=reason,
            blind_decision=blind_decision,
            blind_reason=blind_reason,
        )
        for decision, reason, after_reveal, blind_decision, blind_reason in votes
    )
    agreed = (
        len(decisions) == 1
        and (stage != Stage.FULL_TEXT or decisions != {Decision.EXCLUDE} or len(reasons) == 1)
        and not changed
    )
    after: dict[str, Any]
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
        if changed:
            after["changed_after_reveal"] = True
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
    revealed = outcome is not None or conflicts.exists()
    if not revealed and ReservedVote.objects.filter(record_id=vote.record_id, stage=stage).exists():
        # Another reviewer took their vote back after the record's votes were shown (three
        # reviewers a record): this vote was shown too, and one record keeps one slot.
        raise ReviewflowError(
            "This record's votes were shown and another reviewer is voting on it again: "
            "your vote can be undone once the record has all its votes."
        )
    # Settled or in conflict, the record's votes were visible to every member: at a blind
    # stage, the slot this undo reopens stays with this reviewer (see ``ReservedVote``).
    # The reservation keeps the reviewer's first, blind vote: the one taken back, or the
    # blind vote it had itself replaced (``Vote.after_reveal``).
    if (
        revealed
        and get_stage_settings(review, stage).blind
        and Vote.objects.filter(record_id=vote.record_id, stage=stage).exclude(pk=vote.pk).exists()
    ):
        blind = blind_vote_of(vote) or ("", "", "")
        ReservedVote.objects.update_or_create(
            record_id=vote.record_id,
            stage=stage,
            defaults={
                "review": review,
                "reviewer": reviewer,
                "blind_decision": blind[0],
                "blind_reason": blind[1],
                "blind_note": blind[2],
            },
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


def change_vote(
    *,
    review: Review,
    stage: str,
    reviewer: User,
    record: Record | int,
    decision: str,
    reason: str = "",
    note: str = "",
) -> Vote:
    """Change ``reviewer``'s vote on ``record`` (a record or its id) while the record waits
    for other votes: no outcome, no conflict and no slot kept after a reveal at ``stage``,
    so nobody has seen the votes yet and the change stays blind.

    Once the record is settled or in conflict its votes were shown: changing one then is
    the undo of #12 (``undo_last_vote``: the slot is kept and the new vote is marked
    ``after_reveal``), and this refuses with a message that says so. The record's row is
    locked as in ``cast_vote``, so a vote that completes the record at the same moment
    either comes after the change (and settles on the changed vote) or before it (and the
    change is refused). The vote keeps its slot and its time; the record's screening state
    does not change (same number of votes, still open)."""
    conf = get_stage_settings(review, stage)
    note = note.strip()
    record_id = record if isinstance(record, int) else record.pk
    with not_saved_on_database_failure("Your change"), transaction.atomic():
        screening_sql.rows(LOCK_RECORD, record=record_id)  # then read: see cast_vote
        check_screener(review, reviewer)
        reason = check_vote_fields(conf=conf, stage=stage, decision=decision, reason=reason)
        vote = (
            Vote.objects.select_for_update()
            .filter(review=review, record_id=record_id, stage=stage, reviewer=reviewer)
            .first()
        )
        if vote is None:
            raise ReviewflowError(
                "You have not voted on this record at this stage: there is no vote to change.",
                code="not_found",
            )
        outcome = Outcome.objects.filter(record_id=record_id, stage=stage).first()
        if outcome is not None and outcome.kind == OutcomeKind.ADJUDICATION:
            raise ReviewflowError(
                "This record's conflict was resolved: your vote can no longer be changed.",
                code="conflict",
            )
        if (
            outcome is not None
            or Conflict.objects.filter(record_id=record_id, stage=stage).exists()
            or ReservedVote.objects.filter(record_id=record_id, stage=stage).exists()
        ):
            raise ReviewflowError(
                "This record is settled or in conflict, so its votes were shown to the team: "
                "your vote can no longer be changed. Undo it (u, while it is your last vote) "
                "and vote again: if the new vote differs from your first, blind vote, an "
                "adjudicator decides the record.",
                code="conflict",
            )
        before = {"decision": vote.decision, "reason": vote.reason, "note": vote.note}
        after = {"decision": decision, "reason": reason[:200], "note": note}
        if before == after:
            return vote
        vote.decision, vote.reason, vote.note = decision, reason[:200], note
        vote.save(update_fields=["decision", "reason", "note"])
        record_audit_for_record(
            review=review,
            actor=reviewer,
            action="vote.changed",
            before={"stage": stage, **before},
            after={"stage": stage, **after},
            record_id=record_id,
        )
    if conf.order == StageOrder.RELEVANCE:
        from screening.services.prioritisation import after_vote

        after_vote(review=review, stage=stage)
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
