"""Screening: which record a reviewer gets next, votes, outcomes, conflicts, full texts.

Invariants the database keeps: one vote per reviewer, record and stage; at most
``reviewers_needed`` votes per record and stage (vote slots); one outcome per record and
stage. Votes on one record are serialised by locking the record's row, so the vote that
completes a record always sees the others and settles it (agreement or conflict).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.db import IntegrityError, transaction
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

from reviewflow import compiled
from reviewflow.errors import ReviewflowError, not_saved_on_database_failure
from reviewflow.reviews.models import ROLE_RANK, AuditEvent, Membership, Review, Role
from reviewflow.reviews.services import audit_fields, record_audit
from screening.models import (
    Adjudicators,
    Claim,
    Conflict,
    Decision,
    FullTextReport,
    Outcome,
    OutcomeKind,
    Record,
    RecordQuerySet,
    ReservedVote,
    RetrievalStatus,
    ScreeningState,
    Search,
    SearchStatus,
    SourceType,
    Stage,
    StageOrder,
    StageSettings,
    Vote,
)

CLAIM_MINUTES = 15
DEFAULT_FULL_TEXT_REASONS = [
    "Wrong population",
    "Wrong intervention",
    "Wrong comparator",
    "Wrong outcome",
    "Wrong study design",
    "Duplicate report",
    "Full text not in an eligible language",
]


def _audit_record(
    *,
    review: Review,
    actor: User | None,
    action: str,
    record_id: int,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """An audit event about one record, found again in that record's history."""
    record_audit(
        review=review,
        actor=actor,
        action=action,
        target=f"record {record_id}",
        before=before,
        after=after,
        object_type="record",
        object_id=record_id,
    )


def get_stage_settings(review: Review, stage: str) -> StageSettings:
    """The stage's settings, created with defaults the first time they are asked for.

    Kept on the ``review`` instance once read: a request reads them once however many
    services ask (views get a fresh ``Review`` per request; ``update_stage_settings``
    changes the kept object itself).
    """
    if stage not in Stage.values:
        raise ReviewflowError(f"Unknown stage “{stage}”: use title-abstract or full-text.")
    memo: dict[str, StageSettings] = review.__dict__.setdefault("_stage_settings", {})
    if stage in memo:
        return memo[stage]
    found = next(
        iter(
            compiled.instances(
                ("stage.settings", stage),
                lambda: StageSettings.objects.filter(review_id=compiled.REVIEW, stage=stage),
                model=StageSettings,
                review=review.pk,
            )
        ),
        None,
    )
    if found is None:
        defaults: dict[str, Any] = {}
        if stage == Stage.FULL_TEXT:
            defaults = {"reasons_required": True, "exclusion_reasons": DEFAULT_FULL_TEXT_REASONS}
        found, _ = StageSettings.objects.get_or_create(
            review=review, stage=stage, defaults=defaults
        )
    memo[stage] = found
    return found


SETTINGS_FIELDS = (
    "reviewers_needed",
    "blind",
    "criteria",
    "include_terms",
    "exclude_terms",
    "exclusion_reasons",
    "reasons_required",
    "adjudicators",
    "order",  # random | relevance (screening prioritisation)
    "show_scores",
)


@transaction.atomic
def update_stage_settings(
    *, review: Review, stage: str, actor: User, **changes: Any
) -> StageSettings:
    """Change how a stage is screened (owners only; the caller checks the role)."""
    current = get_stage_settings(review, stage)
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ReviewflowError(f"Unknown setting: {', '.join(sorted(unknown))}.")
    needed = changes.get("reviewers_needed", current.reviewers_needed)
    if needed not in (1, 2, 3):
        raise ReviewflowError("Each record needs 1, 2 or 3 reviewers.", field="reviewers_needed")
    if (
        needed < current.reviewers_needed
        and Vote.objects.filter(review=review, stage=stage, slot__gt=needed).exists()
    ):
        raise ReviewflowError(
            f"Some records already have more than {needed} votes: the number of reviewers "
            "can no longer go down.",
            field="reviewers_needed",
        )
    if "exclusion_reasons" in changes:
        reasons = [str(r).strip()[:200] for r in changes["exclusion_reasons"] if str(r).strip()]
        changes["exclusion_reasons"] = list(dict.fromkeys(reasons))
    before = {k: getattr(current, k) for k in changes if getattr(current, k) != changes[k]}
    if not before:
        return current
    for key, value in changes.items():
        setattr(current, key, value)
    current.save()
    record_audit(
        review=review,
        actor=actor,
        action="stage.settings_changed",
        target=stage,
        before=before,
        after={k: changes[k] for k in before},
    )
    return current


def eligible_records(review: Review, stage: str) -> RecordQuerySet:
    """Records that are screened at ``stage``: unique records at title/abstract; at full
    text, those that passed title/abstract and whose report was not marked not retrieved."""
    qs = Record.objects.for_review(review).unique()
    if stage == Stage.TITLE_ABSTRACT:
        # Records found by other methods (websites, citation searching…) go straight to
        # full text: PRISMA's "other methods" column has no "records screened" box.
        # Records excluded by an automation tool (the team stopped early) are not screened.
        automated = Outcome.objects.filter(
            record=OuterRef("pk"), stage=stage, kind=OutcomeKind.AUTOMATION
        )
        return qs.exclude(search__source_type=SourceType.OTHER).filter(~Exists(automated))
    passed = Outcome.objects.filter(
        review=review, stage=Stage.TITLE_ABSTRACT, decision=Decision.INCLUDE
    ).values("record_id")
    return qs.filter(Q(pk__in=passed) | Q(search__source_type=SourceType.OTHER)).exclude(
        report__status=RetrievalStatus.NOT_RETRIEVED
    )


def check_screener(review: Review, reviewer: User) -> None:
    membership = Membership.objects.filter(review=review, user=reviewer).first()
    if membership is None or not membership.has_role(Role.REVIEWER):
        raise ReviewflowError("Only reviewers and owners screen records.", code="forbidden")


SHUFFLE = Mod(F("id") * 7919, 10007)


# The order records are offered in among those with as many votes: a fixed shuffle (so
# nobody screens in the order a database exported), walked on the index
# ``record_screening_order`` rather than sorted. "Most relevant first" walks the relevance
# scores before it (``next_record``).
OFFER_ORDER = (SHUFFLE, "id")


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


def _number(qs: QuerySet[Any]) -> Subquery:
    """``count(*)`` of ``qs`` as a scalar subquery, to read several counts in one query."""
    return Subquery(qs.order_by().annotate(n=Func(Value(1), function="COUNT")).values("n"))


def _kept(stage: str) -> QuerySet[ReservedVote]:
    """The outer record's kept vote slot (``ReservedVote``), while its reviewer still
    screens in the review: a reviewer removed, or made a viewer, keeps nothing."""
    screens = Membership.objects.filter(
        review=OuterRef("review"), user=OuterRef("reviewer"), role__in=SCREENER_ROLES
    )
    return ReservedVote.objects.filter(record=OuterRef("pk"), stage=stage).filter(Exists(screens))


def _held_by_others(stage: str, reviewer: User, now: datetime) -> Any:
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
        When(Exists(_kept(stage).filter(~Q(reviewer=reviewer))), then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )
    return _number(claims) + kept


def _with_standing(
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
    return qs if now is None else qs.annotate(held=_held_by_others(stage, reviewer, now))


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
        _claim(reviewer=reviewer, stage=stage, record_id=pk, now=now, walked=walked)
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
            .alias(held=_held_by_others(stage, reviewer, now))
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
    read), the search's name, and the record's standing (``_with_standing``)."""
    return _with_standing(
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


def _claim(*, reviewer: User, stage: str, record_id: int, now: datetime, walked: bool) -> None:
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


def _slots_taken(stage: str) -> Coalesce:
    """The outer record's vote slots that votes hold, as bits (slot n is bit n - 1)."""
    bit = Case(When(slot=1, then=Value(1)), When(slot=2, then=Value(2)), default=Value(4))
    taken = Vote.objects.filter(record=OuterRef("pk"), stage=stage).order_by()
    return Coalesce(Subquery(taken.annotate(bits=Func(bit, function="SUM")).values("bits")), 0)


SCREENER_ROLES = [role for role, rank in ROLE_RANK.items() if rank >= ROLE_RANK[Role.REVIEWER]]
_FACTS = ("eligible", "screener", "n_votes", "is_closed", "mine", "slots", "kept_for", "kept_row")
# The columns a vote writes (``reviewflow.compiled.insert``).
_VOTE_FIELDS = (
    "review", "record", "stage", "reviewer", "slot", "decision", "reason", "note", "created_at"
)  # fmt: skip
_STATE_FIELDS = ("review", "record", "stage", "votes", "closed")
_AUDIT_FIELDS = (
    "review", "actor", "action", "target", "before", "after", "object_type", "object_id",
    "created_at",
)  # fmt: skip


def _lock_record() -> QuerySet[Any]:
    return (
        Record.objects.select_for_update(of=("self",)).filter(pk=compiled.RECORD).values_list("pk")
    )


def _vote_facts(stage: str) -> QuerySet[Any]:
    """Everything a vote's checks need about one record, in one locking query (built with
    ``screening.compiled``'s sentinels)."""
    review, reviewer = Review(pk=compiled.REVIEW), User(pk=compiled.REVIEWER)
    return (
        _with_standing(
            Record.objects.select_for_update(of=("self",)).filter(
                pk=compiled.RECORD, review=review
            ),
            stage=stage,
            reviewer=reviewer,
        )
        .annotate(
            eligible=Exists(eligible_records(review, stage).filter(pk=OuterRef("pk"))),
            screener=Exists(
                Membership.objects.filter(review=review, user=reviewer, role__in=SCREENER_ROLES)
            ),
            slots=_slots_taken(stage),
            kept_for=Subquery(_kept(stage).values("reviewer_id")[:1]),
            kept_row=Exists(ReservedVote.objects.filter(record=OuterRef("pk"), stage=stage)),
        )
        .order_by()
        .values_list(*_FACTS)[:1]
    )


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
        compiled.rows(("vote.lock",), _lock_record, model=Record, record=record_id)
        found = compiled.rows(
            ("vote.facts", stage),
            lambda: _vote_facts(stage),
            model=Record,
            record=record_id,
            review=review.pk,
            reviewer=reviewer.pk,
        )
        facts = dict(zip(_FACTS, found[0], strict=True)) if found else None
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
            compiled.insert(vote, _VOTE_FIELDS)
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
            compiled.insert(state, _STATE_FIELDS)
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
        compiled.insert([AuditEvent(**fields) for fields in events], _AUDIT_FIELDS)
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
    _audit_record(
        review=review,
        actor=reviewer,
        action="vote.undone",
        before={"stage": stage, "decision": vote.decision, "reason": vote.reason},
        record_id=vote.record_id,
    )
    # Offer the same record again.
    _claim(
        reviewer=reviewer, stage=stage, record_id=vote.record_id, now=timezone.now(), walked=False
    )
    return vote


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
    _audit_record(
        review=review,
        actor=actor,
        action="conflict.resolved",
        before={"stage": conflict.stage},
        after={"decision": decision, "reason": outcome.reason},
        record_id=conflict.record_id,
    )
    return outcome


# ------------------------------------------------------------------------------ full texts


def _check_full_text_record(review: Review, record: Record) -> None:
    if (
        record.search.source_type != SourceType.OTHER
        and not Outcome.objects.filter(
            record=record, stage=Stage.TITLE_ABSTRACT, decision=Decision.INCLUDE
        ).exists()
    ):
        raise ReviewflowError("Only records that passed title/abstract screening have a full text.")


@transaction.atomic
def attach_full_text(
    *, review: Review, record: Record, actor: User, file: IO[bytes], filename: str
) -> FullTextReport:
    """Store the PDF of a record's full text."""
    _check_full_text_record(review, record)
    size = getattr(file, "size", None)
    limit = int(settings.MAX_PDF_MB) * 1024 * 1024
    if size is not None and size > limit:
        raise ReviewflowError(
            f"{filename}: the file is {size / 1048576:.1f} MB; the limit is "
            f"{settings.MAX_PDF_MB} MB.",
            field="pdf",
        )
    head = file.read(5)
    file.seek(0)
    if head != b"%PDF-":
        raise ReviewflowError(f"{filename}: this is not a PDF file.", field="pdf")
    report, _ = FullTextReport.objects.get_or_create(
        record=record, defaults={"review": review, "status": RetrievalStatus.RETRIEVED}
    )
    if report.pdf:
        report.pdf.delete(save=False)
    report.pdf.save(f"record-{record.pk}.pdf", File(file), save=False)
    report.status, report.filename = RetrievalStatus.RETRIEVED, filename[:255]
    report.updated_by, report.updated_at = actor, timezone.now()
    report.save()
    _audit_record(
        review=review,
        actor=actor,
        action="fulltext.attached",
        after={"file": filename},
        record_id=record.pk,
    )
    return report


@transaction.atomic
def mark_not_retrieved(
    *, review: Review, record: Record, actor: User, note: str = ""
) -> FullTextReport:
    """The full text could not be had: PRISMA counts it as "reports not retrieved"."""
    _check_full_text_record(review, record)
    if Vote.objects.filter(record=record, stage=Stage.FULL_TEXT).exists():
        raise ReviewflowError("This report is already being screened: it was retrieved.")
    report, _ = FullTextReport.objects.get_or_create(
        record=record, defaults={"review": review, "status": RetrievalStatus.NOT_RETRIEVED}
    )
    before = report.status
    report.status, report.note = RetrievalStatus.NOT_RETRIEVED, note.strip()[:300]
    report.updated_by, report.updated_at = actor, timezone.now()
    report.save()
    Claim.objects.filter(record=record, stage=Stage.FULL_TEXT).delete()
    _audit_record(
        review=review,
        actor=actor,
        action="fulltext.not_retrieved",
        before={"status": before},
        after={"status": report.status, "note": report.note},
        record_id=record.pk,
    )
    return report


def _eligible_counts(review: Review, stage: str) -> list[tuple[int, QuerySet[Any]]]:
    """(sign, queryset) pairs whose signed counts add up to
    ``eligible_records(review, stage).count()``, each counted from an index rather than by
    reading every record of the review."""
    if stage == Stage.TITLE_ABSTRACT:
        # Unique records, less those of searches not screened here (still importing, or
        # other methods): few, found by their search.
        skipped = Search.objects.filter(review=review).exclude(
            Q(status=SearchStatus.DONE) & ~Q(source_type=SourceType.OTHER)
        )
        unique = Record.objects.filter(review=review, duplicate_of__isnull=True)
        return [(1, unique), (-1, unique.filter(search__in=skipped))]
    # Full text: records that passed title/abstract, and those found by other methods.
    retrieved = ~Q(record__report__status=RetrievalStatus.NOT_RETRIEVED)
    passed = Outcome.objects.filter(
        review=review,
        stage=Stage.TITLE_ABSTRACT,
        decision=Decision.INCLUDE,
        record__duplicate_of__isnull=True,
        record__search__status=SearchStatus.DONE,
    ).filter(retrieved, ~Q(record__search__source_type=SourceType.OTHER))
    other = Record.objects.filter(
        review=review,
        duplicate_of__isnull=True,
        search__in=Search.objects.filter(
            review=review, status=SearchStatus.DONE, source_type=SourceType.OTHER
        ),
    ).exclude(report__status=RetrievalStatus.NOT_RETRIEVED)
    return [(1, passed), (1, other)]


def stage_progress(review: Review, stage: str, reviewer: User) -> dict[str, int]:
    """Counts for the screening page, in one query."""
    outcomes = Outcome.objects.filter(review=review, stage=stage)
    parts = _eligible_counts(review, stage)
    counts = {
        **{f"part{n}": qs for n, (_, qs) in enumerate(parts)},
        "mine": Vote.objects.filter(review=review, stage=stage, reviewer=reviewer),
        "included": outcomes.filter(decision=Decision.INCLUDE),
        "excluded": outcomes.filter(decision=Decision.EXCLUDE),
        "conflicts": Conflict.objects.filter(review=review, stage=stage, resolved_at__isnull=True),
    }
    row = (
        Review.objects.filter(pk=review.pk)
        .annotate(**{f"n_{name}": _number(qs) for name, qs in counts.items()})
        .values(*(f"n_{name}" for name in counts))
        .get()
    )
    progress = {name: row[f"n_{name}"] for name in counts}
    progress["total"] = sum(sign * progress.pop(f"part{n}") for n, (sign, _) in enumerate(parts))
    # An outcome is include or exclude (a constraint says so): settled is their sum.
    progress["settled"] = progress["included"] + progress["excluded"]
    return progress


def votes_visible_to(user: User, qs: QuerySet[Vote]) -> QuerySet[Vote]:
    """Blinding: the votes ``user`` may see — their own, and others' only on records that
    are settled or in conflict (where everyone has voted), or at a stage an owner set to
    "not blind"."""
    done = Outcome.objects.filter(record=OuterRef("record"), stage=OuterRef("stage"))
    conflict = Conflict.objects.filter(record=OuterRef("record"), stage=OuterRef("stage"))
    open_stage = StageSettings.objects.filter(
        review=OuterRef("review"), stage=OuterRef("stage"), blind=False
    )
    return qs.filter(Q(reviewer=user) | Exists(done) | Exists(conflict) | Exists(open_stage))


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


@transaction.atomic
def link_same_study(
    *, review: Review, record: Record, actor: User, study_of: Record | None
) -> FullTextReport:
    """Say that ``record``'s report is another report of the study ``study_of`` reports
    (or, with ``None``, a study of its own): PRISMA counts studies and reports apart."""
    _check_full_text_record(review, record)
    if study_of is not None:
        _check_full_text_record(review, study_of)
        if study_of.pk == record.pk:
            raise ReviewflowError("A report cannot be another report of itself.", field="study_of")
        root: Record | None = study_of
        seen: set[int] = set()
        while root is not None and root.pk not in seen:
            if root.pk == record.pk:
                raise ReviewflowError(
                    f"Record {study_of.pk} is already linked to this report's study.",
                    field="study_of",
                )
            seen.add(root.pk)
            link = (
                FullTextReport.objects.filter(record=root)
                .values_list("same_study_as", flat=True)
                .first()
            )
            root = Record.objects.filter(pk=link).first() if link else None
    report, _ = FullTextReport.objects.get_or_create(
        record=record, defaults={"review": review, "status": RetrievalStatus.RETRIEVED}
    )
    before = report.same_study_as_id
    report.same_study_as = study_of
    report.updated_by, report.updated_at = actor, timezone.now()
    report.save()
    _audit_record(
        review=review,
        actor=actor,
        action="fulltext.study_linked",
        before={"same_study_as": before},
        after={"same_study_as": study_of.pk if study_of else None},
        record_id=record.pk,
    )
    return report
