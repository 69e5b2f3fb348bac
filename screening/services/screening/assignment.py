"""Which record a reviewer screens next, and the claim that holds it for them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from reviewflow.reviews.models import Review
from screening.models import (
    Claim,
    Record,
    Search,
    StageOrder,
)
from screening.selectors import screening_sql
from screening.selectors.screening_sql import STATEMENTS, Statement
from screening.selectors.work import stage_has_assignments
from screening.services.screening.stage_settings import get_stage_settings

CLAIM_MINUTES = 15


def next_record(*, review: Review, stage: str, reviewer: User) -> Record | None:
    """The record ``reviewer`` should screen next, or ``None`` when nothing is left for them.

    The records an owner assigned to the reviewer come first (``ScreeningAssignment``, in
    the order they were assigned in: the stage's order when they were assigned; none left
    and the stage's ``open_after_assigned`` off: nothing more, once the stage has
    assignments). Then records that already have votes (so pairs complete), then untouched
    records new since the review's screening began (a re-run's, an update round's: in the
    stage's order), then, for "most relevant first", the untouched records by relevance,
    then the others in a fixed shuffle. A record is never offered to a reviewer who voted
    on it, nor when its open votes are held by other reviewers' claims.

    Picking and claiming is one transaction that locks the picked record (skipping records
    another reviewer is claiming or voting on this instant) and reads its votes and claims
    again after the lock, so two reviewers asking at once are not offered the same last vote.
    Each statement (``screening.selectors.screening_sql``) is an index lookup: started
    records come from the few open screening states, untouched ones from walking
    ``record_screening_order``.
    """
    conf = get_stage_settings(review, stage)
    needed = conf.reviewers_needed
    sql = STATEMENTS[stage]
    now = timezone.now()
    values: dict[str, Any] = {
        "review": review.pk,
        "reviewer": reviewer.pk,
        "stage": stage,
        "now": now,
    }
    held = screening_sql.records(sql["held"], **values)
    if held:
        record = held[0]
        if not record.mine and not record.is_closed and record.n_votes < needed:
            return _with_search(record)  # what this reviewer was offered and has not voted on

    # Records an owner assigned to this reviewer come first (#20); when none is left, the
    # open records, unless the owner keeps reviewers to their assigned work. Records new
    # since screening began (a re-run, an update round: #21) come before the older
    # untouched ones, after the started records (their pairs complete first).
    ((has_assigned, has_fresh),) = screening_sql.rows(sql["probe"], **values)
    assigned = ["assigned_resumed", "assigned"] if has_assigned else []
    ranked = conf.order == StageOrder.RELEVANCE
    fresh = ["fresh_ranked" if ranked else "fresh"] if has_fresh else []
    walks = [*assigned, "started", *fresh, *(["ranked"] if ranked else []), "resumed", "untouched"]
    if not conf.open_after_assigned and stage_has_assignments(review, stage):
        walks = assigned
    skip: list[int] = []  # records taken under us
    with transaction.atomic():
        while True:  # ends: each pass skips one more record, or finds none
            picked = _first_of_walks(walks, sql, skip=skip, needed=needed, values=values)
            if picked is None:
                return None
            pk, walk = picked
            # The lock is ours: a claim or vote that committed meanwhile is visible now.
            (record,) = screening_sql.records(sql["reread"], record=pk, **values)
            if not record.mine and not record.is_closed and record.n_votes + record.held < needed:
                break
            skip.append(pk)
        walked = walk in ("resumed", "untouched")  # the shuffle's walk resumes after it
        claim_record(reviewer=reviewer, stage=stage, record_id=pk, now=now, walked=walked)
    return _with_search(record)


def _first_of_walks(
    walks: list[str],
    sql: dict[str, Statement],
    *,
    skip: list[int],
    needed: int,
    values: dict[str, Any],
) -> tuple[int, str] | None:
    """The record the first walk that finds one locks (each walk runs only when the ones
    before it found nothing), and that walk's name."""
    for walk in walks:
        found = screening_sql.rows(sql[walk], skip=skip, needed=needed, **values)
        if found:
            return int(found[0][0]), walk
    return None


_SEARCH_FIELDS = ["id", "review_id", "source", "source_type"]


def _with_search(record: Record) -> Record:
    """``record`` with its search (the fields read with it; the others load if asked for)."""
    values = [
        record.search_id,
        record.search_review_id,  # type: ignore[attr-defined]
        record.search_source,  # type: ignore[attr-defined]
        record.search_source_type,  # type: ignore[attr-defined]
    ]
    record.search = Search.from_db(record._state.db, _SEARCH_FIELDS, values)
    return record


def claim_record(
    *, reviewer: User, stage: str, record_id: int, now: datetime, walked: bool
) -> None:
    """Hold ``record_id`` for ``reviewer`` (one claim per reviewer and stage: an upsert);
    ``walked`` when it came from the untouched records' walk, which resumes after it."""
    claim = Claim(
        reviewer=reviewer,
        stage=stage,
        record_id=record_id,
        expires_at=now + timedelta(minutes=CLAIM_MINUTES),
        walked_to=record_id if walked else None,
    )
    Claim.objects.bulk_create(
        [claim],
        update_conflicts=True,
        unique_fields=["reviewer", "stage"],
        update_fields=["record", "expires_at", *(["walked_to"] if walked else [])],
    )
