"""Which record a reviewer screens next, and the claim that holds it for them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import (
    Exists,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Mod
from django.utils import timezone

from reviewflow import compiled
from reviewflow.reviews.models import Review
from screening.models import (
    Claim,
    Record,
    RecordQuerySet,
    ScreeningState,
    Search,
    StageOrder,
    Vote,
)
from screening.selectors.screening import (
    OFFER_ORDER,
    SHUFFLE,
    eligible_records,
    held_by_others,
    with_standing,
)
from screening.services.screening.stage_settings import get_stage_settings

CLAIM_MINUTES = 15


def _resumed(untouched: RecordQuerySet, *, review: Review, stage: str) -> RecordQuerySet:
    """``untouched`` from just after the furthest record any reviewer was offered from it.

    The records before that point were offered already and nearly all have votes: walking
    past them on every ``next`` would cost more the further the review gets. Those still
    untouched (a claim that expired, records imported later) are found by the walk from
    the start once this one runs out. Only for the fixed shuffle, where a record's place
    is a function of its id.
    """
    walked = (
        Claim.objects.filter(stage=stage, record__review=review, walked_to__isnull=False)
        .annotate(key=Mod(F("walked_to") * 7919, 10007))
        .order_by("-key", "-walked_to")
    )
    last_key = Subquery(walked.values("key")[:1])
    last_id = Subquery(walked.values("walked_to")[:1])
    return (
        untouched.alias(key=SHUFFLE)
        .filter(key__gte=last_key)
        .exclude(key=last_key, id__lte=last_id)
    )


def next_record(*, review: Review, stage: str, reviewer: User) -> Record | None:
    """The record ``reviewer`` should screen next, or ``None`` when nothing is left for them.

    Records that already have votes come first (so pairs complete), then the others in
    ``OFFER_ORDER``. A record is never offered to a reviewer who voted on it, nor when its
    open votes are held by other reviewers' claims.

    Picking and claiming is one transaction that locks the picked record (skipping records
    another reviewer is claiming or voting on this instant) and reads its votes and claims
    again after the lock, so two reviewers asking at once are not offered the same last vote.
    Each query is an index lookup: started records come from the few open screening states,
    untouched ones from walking ``record_screening_order``. Each is compiled once per
    process (``reviewflow.compiled``): building the querysets cost more than running them.
    """
    conf = get_stage_settings(review, stage)
    needed = conf.reviewers_needed
    now = timezone.now()
    ids = {"review": review.pk, "reviewer": reviewer.pk, "now": now}
    # The querysets below are built with sentinels where these values go.
    s_review, s_reviewer = Review(pk=compiled.REVIEW), User(pk=compiled.REVIEWER)

    def eligible() -> RecordQuerySet:
        return eligible_records(s_review, stage)

    def held_query() -> QuerySet[Any]:
        mine = Claim.objects.filter(
            reviewer=s_reviewer, stage=stage, expires_at__gt=compiled.NOW
        ).values("record_id")[:1]
        return _offered(eligible().filter(pk=Subquery(mine)), stage, s_reviewer)

    held = compiled.instances(("next.held", stage), held_query, model=Record, **ids)
    if held:
        record = held[0]
        if not record.mine and not record.is_closed and record.n_votes < needed:
            return _with_search(record)  # what this reviewer was offered and has not voted on

    walks = _walks(
        review=s_review, reviewer=s_reviewer, now=compiled.NOW, stage=stage, needed=needed
    )
    if conf.order != StageOrder.RELEVANCE:
        walks = [(name, build) for name, build in walks if name != "ranked"]

    def reread() -> QuerySet[Any]:
        return _offered(Record.objects.filter(pk=compiled.RECORD), stage, s_reviewer, now=True)

    # A record taken under us is skipped; the walks then run with the real values instead
    # of compiled (the skipped ids vary): rare enough.
    real_walks = dict(_walks(review=review, reviewer=reviewer, now=now, stage=stage, needed=needed))
    skip: list[int] = []
    with transaction.atomic():
        while True:  # ends: each pass skips one more record, or finds none
            pk = None
            for name, candidates in walks:
                if skip:
                    pk = _first_unlocked_skipping(real_walks[name](), skip)
                else:
                    pk = _first_unlocked((name, stage, needed), candidates, ids)
                if pk is not None:
                    break
            if pk is None:
                return None
            # The lock is ours: a claim or vote that committed meanwhile is visible now.
            (record,) = compiled.instances(
                ("next.reread", stage), reread, model=Record, record=pk, **ids
            )
            if not record.mine and not record.is_closed and record.n_votes + record.held < needed:
                break
            skip.append(pk)
        walked = name in ("resumed", "untouched")  # the shuffle's walk resumes after it
        claim_record(reviewer=reviewer, stage=stage, record_id=pk, now=now, walked=walked)
    return _with_search(record)


def _walks(
    *, review: Review, reviewer: User, now: datetime, stage: str, needed: int
) -> list[tuple[str, Callable[[], RecordQuerySet]]]:
    """The candidates ``next_record`` walks, best first: each builds its queryset only when
    the ones before it found nothing (``ranked`` only for "most relevant first")."""

    def eligible() -> RecordQuerySet:
        return eligible_records(review, stage)

    def started() -> RecordQuerySet:
        state = FilteredRelation("screening_states", condition=Q(screening_states__stage=stage))
        return (
            eligible()
            .annotate(state=state)
            .filter(state__review=review, state__closed=False, state__votes__lt=needed)
            .filter(
                ~Exists(Vote.objects.filter(record=OuterRef("pk"), stage=stage, reviewer=reviewer))
            )
            .alias(held=held_by_others(stage, reviewer, now))
            .filter(held__lt=needed - F("state__votes"))
            .order_by("-state__votes", *OFFER_ORDER)
        )

    def untouched() -> RecordQuerySet:
        # Others' claims are left to the re-read under the lock: walks resume past the
        # records just offered, so an untouched record is rarely claimed by enough others.
        return (
            eligible()
            .filter(~Exists(ScreeningState.objects.filter(record=OuterRef("pk"), stage=stage)))
            .order_by(*OFFER_ORDER)
        )

    def resumed() -> RecordQuerySet:
        return _resumed(untouched(), review=review, stage=stage)

    def ranked() -> RecordQuerySet:
        # Screening prioritisation: most relevant first, walking relevance_review_stage_score;
        # records not scored yet (none before the model can start) follow in the shuffle.
        return (
            untouched()
            .filter(relevance_scores__stage=stage)
            .order_by("-relevance_scores__score", "id")
        )

    return [
        ("started", started),
        ("ranked", ranked),
        ("resumed", resumed),
        ("untouched", untouched),
    ]


def _locking_first(qs: RecordQuerySet) -> QuerySet[Any]:
    return qs.select_for_update(skip_locked=True, of=("self",)).values_list("pk")[:1]


def _first_unlocked(
    key: tuple[str, str, int], candidates: Callable[[], RecordQuerySet], ids: dict[str, Any]
) -> int | None:
    """The first of ``candidates`` (built with sentinels) that nobody has locked, locked
    now; compiled on first use, inside the caller's transaction (it locks)."""
    found = compiled.rows(
        ("next.walk", *key), lambda: _locking_first(candidates()), model=Record, **ids
    )
    return int(found[0][0]) if found else None


def _first_unlocked_skipping(candidates: RecordQuerySet, skip: list[int]) -> int | None:
    """As ``_first_unlocked``, for candidates built with the real values, less ``skip``."""
    found = list(_locking_first(candidates.exclude(pk__in=skip)))
    return int(found[0][0]) if found else None


def _offered(qs: RecordQuerySet, stage: str, reviewer: User, *, now: bool = False) -> Any:
    """``qs`` as offered records: what the screening page and the API show ("raw" is not
    read), the search's name, and the record's standing (``with_standing``)."""
    return with_standing(
        qs.defer("raw").annotate(
            search_review_id=F("search__review_id"),
            search_source=F("search__source"),
            search_source_type=F("search__source_type"),
        ),
        stage=stage,
        reviewer=reviewer,
        now=compiled.NOW if now else None,
    )


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
    compiled.upsert(
        claim,
        ("record", "stage", "reviewer", "expires_at", "walked_to"),
        unique=("reviewer", "stage"),
        update=("record", "expires_at", *(("walked_to",) if walked else ())),
    )
