"""The ORM twins of the named SQL of ``screening.selectors.screening_sql``: the querysets
``next`` and a vote ran before their statements were written out. Tests run both and
compare rows; nothing in the application uses these."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db.models import (
    Case,
    Exists,
    F,
    FilteredRelation,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Mod
from django.utils import timezone

from reviewflow.reviews.models import Membership, Review
from screening.models import (
    Claim,
    Record,
    RecordQuerySet,
    ReservedVote,
    ScreeningAssignment,
    ScreeningState,
    Vote,
)
from screening.selectors.screening import SCREENER_ROLES, SHUFFLE, count_of, eligible_records
from screening.selectors.screening_sql import VOTE_FACTS


def held(*, review: Review, stage: str, reviewer: User, now: datetime) -> Any:
    """The record ``reviewer`` holds a live claim on, if it is still eligible."""
    mine = Claim.objects.filter(reviewer=reviewer, stage=stage, expires_at__gt=now).values(
        "record_id"
    )[:1]
    return offered(eligible_records(review, stage).filter(pk=Subquery(mine)), stage, reviewer)


def reread(*, record_id: int, stage: str, reviewer: User, now: datetime) -> Any:
    return offered(Record.objects.filter(pk=record_id), stage, reviewer, now=now)


OFFER_ORDER = (SHUFFLE, "id")


def kept_slot(stage: str) -> QuerySet[ReservedVote]:
    """The outer record's kept vote slot (``ReservedVote``), while its reviewer still
    screens in the review: a reviewer removed, or made a viewer, keeps nothing."""
    screens = Membership.objects.filter(
        review=OuterRef("review"), user=OuterRef("reviewer"), role__in=SCREENER_ROLES
    )
    return ReservedVote.objects.filter(record=OuterRef("pk"), stage=stage).filter(Exists(screens))


def held_by_others(stage: str, reviewer: User, now: datetime) -> Any:
    """How many of the outer record's open votes others hold: live claims of reviewers who
    have not voted on it (a claim stays after its vote until that reviewer's next ``next``
    moves it), and a vote slot kept for another reviewer (``ReservedVote``)."""
    voted = Vote.objects.filter(
        record=OuterRef("record"), stage=stage, reviewer=OuterRef("reviewer")
    )
    claims = Claim.objects.filter(record=OuterRef("pk"), stage=stage, expires_at__gt=now).filter(
        ~Q(reviewer=reviewer), ~Exists(voted)
    )
    kept = Case(
        When(Exists(kept_slot(stage).filter(~Q(reviewer=reviewer))), then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )
    return count_of(claims) + kept


def with_standing(
    qs: QuerySet[Any], *, stage: str, reviewer: User, now: datetime | None = None
) -> Any:
    """Each record with its votes and whether it is closed (from its screening state),
    whether ``reviewer`` voted on it and, given ``now``, other reviewers' claims on it."""
    state = ScreeningState.objects.filter(record=OuterRef("pk"), stage=stage)
    qs = qs.annotate(
        n_votes=Coalesce(Subquery(state.values("votes")[:1]), 0),
        is_closed=Coalesce(Subquery(state.values("closed")[:1]), False),
        mine=Exists(Vote.objects.filter(record=OuterRef("pk"), stage=stage, reviewer=reviewer)),
    )
    return qs if now is None else qs.annotate(held=held_by_others(stage, reviewer, now))


def resumed_after(untouched: RecordQuerySet, *, review: Review, stage: str) -> RecordQuerySet:
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


def probe(*, review: Review, reviewer: User, stage: str) -> tuple[bool, bool]:
    """Whether the reviewer has assignments at the stage, and whether searches imported once
    screening had begun still have untouched records there."""
    now = timezone.now()
    fresh = dict(walks(review=review, reviewer=reviewer, now=now, stage=stage, needed=1))["fresh"]
    return (
        ScreeningAssignment.objects.filter(review=review, stage=stage, reviewer=reviewer).exists(),
        fresh().exists(),
    )


def walks(
    *, review: Review, reviewer: User, now: datetime, stage: str, needed: int
) -> list[tuple[str, Callable[[], RecordQuerySet]]]:
    """The candidates ``next_record`` walks, best first: each builds its queryset only when
    the ones before it found nothing (``ranked`` and ``fresh_ranked`` only for "most
    relevant first", ``fresh`` otherwise; both only when ``probe`` finds fresh records)."""

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
        return resumed_after(untouched(), review=review, stage=stage)

    def fresh() -> RecordQuerySet:
        # Records of searches imported once screening had begun, before the older ones.
        return untouched().filter(search__imported_mid_screening=True)

    def fresh_ranked() -> RecordQuerySet:
        score = FilteredRelation(
            "relevance_scores",
            condition=Q(relevance_scores__stage=stage, relevance_scores__review=review),
        )
        return (
            fresh()
            .annotate(score=score)
            .order_by(F("score__score").desc(nulls_last=True), *OFFER_ORDER)
        )

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
        ("fresh", fresh),
        ("fresh_ranked", fresh_ranked),
        ("ranked", ranked),
        ("resumed", resumed),
        ("untouched", untouched),
    ]


def offered(qs: RecordQuerySet, stage: str, reviewer: User, *, now: datetime | None = None) -> Any:
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
        now=now,
    )


def slots_taken(stage: str) -> Coalesce:
    """The outer record's vote slots that votes hold, as bits (slot n is bit n - 1)."""
    bit = Case(When(slot=1, then=Value(1)), When(slot=2, then=Value(2)), default=Value(4))
    taken = Vote.objects.filter(record=OuterRef("pk"), stage=stage).order_by()
    return Coalesce(Subquery(taken.annotate(bits=Func(bit, function="SUM")).values("bits")), 0)


def vote_facts(*, review: Review, record_id: int, reviewer: User, stage: str) -> QuerySet[Any]:
    """Everything a vote's checks need about one record, in one locking query."""
    return (
        with_standing(
            Record.objects.select_for_update(of=("self",)).filter(pk=record_id, review=review),
            stage=stage,
            reviewer=reviewer,
        )
        .annotate(
            eligible=Exists(eligible_records(review, stage).filter(pk=OuterRef("pk"))),
            screener=Exists(
                Membership.objects.filter(review=review, user=reviewer, role__in=SCREENER_ROLES)
            ),
            slots=slots_taken(stage),
            kept_for=Subquery(kept_slot(stage).values("reviewer_id")[:1]),
            kept_row=Exists(ReservedVote.objects.filter(record=OuterRef("pk"), stage=stage)),
        )
        .order_by()
        .values_list(*VOTE_FACTS)[:1]
    )
