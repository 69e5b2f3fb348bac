"""Pilot (calibration) rounds: every reviewer screens the same few records first."""

from __future__ import annotations

import random

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Review
from reviewflow.reviews.services import record_audit
from screening.agreement import PairAgreement, pairwise_agreement
from screening.models import Decision, PilotRound, PilotVote, Record, Stage, Vote
from screening.selectors.screening import check_screener, eligible_records
from screening.services.screening.stage_settings import get_stage_settings
from screening.services.screening.votes import check_vote_fields


def open_pilot(review: Review, stage: str) -> PilotRound | None:
    return PilotRound.objects.filter(review=review, stage=stage, closed_at__isnull=True).first()


@transaction.atomic
def start_pilot(*, review: Review, stage: str, actor: User, size: int) -> PilotRound:
    """Start a pilot round of ``size`` random records nobody has screened yet."""
    get_stage_settings(review, stage)
    if not 2 <= size <= 200:
        raise ReviewflowError("A pilot round has 2 to 200 records.", field="size")
    if open_pilot(review, stage):
        raise ReviewflowError("A pilot round is already open at this stage.")
    pool = list(
        eligible_records(review, stage)
        .exclude(pk__in=Vote.objects.filter(review=review, stage=stage).values("record_id"))
        .values_list("pk", flat=True)
    )
    if len(pool) < size:
        raise ReviewflowError(
            f"Only {len(pool)} records are left unscreened: choose a smaller pilot.", field="size"
        )
    chosen = random.SystemRandom().sample(pool, size)
    try:
        with transaction.atomic():
            pilot = PilotRound.objects.create(review=review, stage=stage, started_by=actor)
    except IntegrityError:
        raise ReviewflowError("A pilot round is already open at this stage.") from None
    pilot.records.set(chosen)
    record_audit(
        review=review,
        actor=actor,
        action="pilot.started",
        target=stage,
        after={"size": size},
        object_type="pilot",
        object_id=pilot.pk,
    )
    return pilot


def pilot_next(*, pilot: PilotRound, reviewer: User) -> Record | None:
    """The next pilot record ``reviewer`` has not screened yet."""
    done = PilotVote.objects.filter(pilot=pilot, reviewer=reviewer).values("record_id")
    return pilot.records.exclude(pk__in=done).select_related("search").order_by("pk").first()


def cast_pilot_vote(
    *,
    pilot: PilotRound,
    record: Record,
    reviewer: User,
    decision: str,
    reason: str = "",
    note: str = "",
) -> PilotVote:
    if pilot.closed_at is not None:
        raise ReviewflowError("This pilot round is closed.", code="conflict")
    check_screener(pilot.review, reviewer)
    if not pilot.records.filter(pk=record.pk).exists():
        raise ReviewflowError("This record is not part of the pilot round.", field="record")
    reason = check_vote_fields(
        conf=get_stage_settings(pilot.review, pilot.stage),
        stage=pilot.stage,
        decision=decision,
        reason=reason,
    )
    try:
        with transaction.atomic():
            return PilotVote.objects.create(
                pilot=pilot,
                record=record,
                reviewer=reviewer,
                decision=decision,
                reason=reason,
                note=note.strip(),
            )
    except IntegrityError:
        raise ReviewflowError(
            "You have already screened this pilot record.", code="conflict"
        ) from None


@transaction.atomic
def close_pilot(*, pilot: PilotRound, actor: User) -> PilotRound:
    """End the pilot: the main round starts, and the pilot records go back to the pool."""
    if pilot.closed_at is not None:
        raise ReviewflowError("This pilot round is already closed.")
    pilot.closed_at = timezone.now()
    pilot.save(update_fields=["closed_at"])
    record_audit(
        review=pilot.review,
        actor=actor,
        action="pilot.closed",
        target=pilot.stage,
        after={"votes": pilot.votes.count()},
        object_type="pilot",
        object_id=pilot.pk,
    )
    return pilot


def pilot_agreement(pilot: PilotRound) -> list[PairAgreement]:
    """Cohen's kappa and percentage agreement for each pair of reviewers in the pilot."""
    triples = []
    for record_id, reviewer_id, decision in pilot.votes.values_list(
        "record_id", "reviewer_id", "decision"
    ):
        if pilot.stage == Stage.TITLE_ABSTRACT and decision == Decision.MAYBE:
            decision = Decision.INCLUDE
        triples.append((record_id, reviewer_id, decision))
    return pairwise_agreement(triples)
