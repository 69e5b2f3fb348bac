"""Reads of screening that several callers share: eligibility, standing, progress, blinding."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models import (
    Exists,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Mod

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import ROLE_RANK, AuditEvent, Membership, Review, Role
from screening.agreement import PairAgreement, fleiss_kappa, pairwise_agreement
from screening.models import (
    Conflict,
    Decision,
    Outcome,
    OutcomeKind,
    Record,
    RecordQuerySet,
    RetrievalStatus,
    Search,
    SearchStatus,
    SourceType,
    Stage,
    StageSettings,
    Vote,
)

DEFAULT_FULL_TEXT_REASONS = [
    "Wrong population",
    "Wrong intervention",
    "Wrong comparator",
    "Wrong outcome",
    "Wrong study design",
    "Duplicate report",
    "Full text not in an eligible language",
]


def stage_settings_of(review: Review, stage: str) -> StageSettings:
    """The stage's settings as stored, or (unsaved) its defaults when nobody set them.

    Kept on the ``review`` instance once read: a request reads them once however many
    callers ask (views get a fresh ``Review`` per request).
    """
    if stage not in Stage.values:
        raise ReviewflowError(f"Unknown stage “{stage}”: use title-abstract or full-text.")
    memo: dict[str, StageSettings] = review.__dict__.setdefault("_stage_settings", {})
    if stage in memo:
        return memo[stage]
    found = StageSettings.objects.filter(review_id=review.pk, stage=stage).first()
    if found is None:
        found = StageSettings(review=review, stage=stage)
        if stage == Stage.FULL_TEXT:
            found.reasons_required = True
            found.exclusion_reasons = list(DEFAULT_FULL_TEXT_REASONS)
    memo[stage] = found
    return found


def eligible_records(review: Review, stage: str) -> RecordQuerySet:
    """Records that are screened at ``stage``: unique records at title/abstract; at full
    text, those that passed title/abstract and whose report was not marked not retrieved.
    At either, less those an automation tool excluded (the team stopped early)."""
    qs = Record.objects.for_review(review).unique()
    automated = Outcome.objects.filter(
        record=OuterRef("pk"), stage=stage, kind=OutcomeKind.AUTOMATION
    )
    if stage == Stage.TITLE_ABSTRACT:
        # Records found by other methods (websites, citation searching…) go straight to
        # full text: PRISMA's "other methods" column has no "records screened" box.
        return qs.exclude(search__source_type=SourceType.OTHER).filter(~Exists(automated))
    passed = Outcome.objects.filter(
        review=review, stage=Stage.TITLE_ABSTRACT, decision=Decision.INCLUDE
    ).values("record_id")
    return (
        qs.filter(Q(pk__in=passed) | Q(search__source_type=SourceType.OTHER))
        .exclude(report__status=RetrievalStatus.NOT_RETRIEVED)
        .filter(~Exists(automated))
    )


def check_screener(review: Review, reviewer: User) -> None:
    membership = Membership.objects.filter(review=review, user=reviewer).first()
    if membership is None or not membership.has_role(Role.REVIEWER):
        raise ReviewflowError("Only reviewers and owners screen records.", code="forbidden")


# The fixed shuffle ``next`` offers untouched records in (so nobody screens in the order a
# database exported), walked on the index ``record_screening_order``; the named SQL of
# ``screening_sql`` writes it as ``MOD(r.id * 7919, 10007)``.
SHUFFLE = Mod(F("id") * 7919, 10007)


def count_of(qs: QuerySet[Any]) -> Subquery:
    """``count(*)`` of ``qs`` as a scalar subquery, to read several counts in one query."""
    return Subquery(qs.order_by().annotate(n=Func(Value(1), function="COUNT")).values("n"))


SCREENER_ROLES = [role for role, rank in ROLE_RANK.items() if rank >= ROLE_RANK[Role.REVIEWER]]


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
        .annotate(**{f"n_{name}": count_of(qs) for name, qs in counts.items()})
        .values(*(f"n_{name}" for name in counts))
        .get()
    )
    progress = {name: row[f"n_{name}"] for name in counts}
    progress["total"] = sum(sign * progress.pop(f"part{n}") for n, (sign, _) in enumerate(parts))
    # An outcome is include or exclude (a constraint says so): settled is their sum.
    progress["settled"] = progress["included"] + progress["excluded"]
    return progress


def votes_visible_to(
    user: User, qs: QuerySet[Vote], *, review: Review | None = None
) -> QuerySet[Vote]:
    """Blinding: the votes ``user`` may see — their own, and others' only on records that
    are settled or in conflict (where everyone has voted), or at a stage an owner set to
    "not blind"."""
    done = Outcome.objects.filter(record=OuterRef("record"), stage=OuterRef("stage"))
    conflict = Conflict.objects.filter(record=OuterRef("record"), stage=OuterRef("stage"))
    if review is not None:
        # Implied by ``record``, but over many votes PostgreSQL hashes the subqueries: the
        # review keeps that to this review's outcomes, not every review's (#25).
        done, conflict = done.filter(review=review), conflict.filter(review=review)
    open_stage = StageSettings.objects.filter(
        review=OuterRef("review"), stage=OuterRef("stage"), blind=False
    )
    return qs.filter(Q(reviewer=user) | Exists(done) | Exists(conflict) | Exists(open_stage))


HIDDEN = {"hidden": "blind screening: shown once the record is settled"}


def mask_audit_events(events: Sequence[AuditEvent], user: User) -> None:
    """Hide the content of other people's votes on records ``user`` has not finished with.

    Owners read the audit trail, and owners often screen too: a vote event shows its
    decision, reason and note only when the viewer cast it, or the record is settled or in
    conflict (every vote is in), at that stage, or the stage is not blind.
    """
    votes = [e for e in events if e.action.startswith("vote.") and e.object_type == "record"]
    if not votes:
        return
    ids = {e.object_id for e in votes}
    mine = set(
        Vote.objects.filter(record_id__in=ids, reviewer=user).values_list("record_id", "stage")
    )
    done = set(Outcome.objects.filter(record_id__in=ids).values_list("record_id", "stage"))
    done |= set(Conflict.objects.filter(record_id__in=ids).values_list("record_id", "stage"))
    # Stages an owner set to "not blind" show every vote to the team.
    open_stages = set(
        StageSettings.objects.filter(
            review_id__in={e.review_id for e in votes}, blind=False
        ).values_list("review_id", "stage")
    )
    for event in votes:
        if event.actor_id == user.pk:
            continue
        data = event.after or event.before or {}
        key = (event.object_id, data.get("stage"))
        if (event.review_id, data.get("stage")) in open_stages:
            continue
        if key not in mine and key not in done:
            event.before = HIDDEN if event.before else None
            event.after = HIDDEN if event.after else None


@dataclass
class StageAgreement:
    stage: str
    label: str
    records: int = 0
    pairs: list[tuple[str, str, PairAgreement]] = field(default_factory=list)
    fleiss: float | None = None
    # Votes cast after the record's votes were shown (their blind votes count instead).
    after_reveal: int = 0


def agreement_report(review: Review) -> list[StageAgreement]:
    """Percentage agreement and Cohen's kappa per reviewer pair, and Fleiss' kappa for
    stages screened by three, on the decisions that settle records (at title/abstract
    "maybe" counts as "include").

    Each reviewer's first, blind vote counts: a vote changed after the record's votes were
    shown counts as the blind vote it replaced (``Vote.blind_decision``), and a vote cast
    after the reveal by someone who had no blind vote on the record does not count."""
    users = dict(
        get_user_model()
        .objects.filter(votes__review=review)
        .values_list("pk", "username")
        .distinct()
    )
    needed = dict(
        StageSettings.objects.filter(review=review).values_list("stage", "reviewers_needed")
    )
    report = []
    for stage, label in Stage.choices:
        triples = []
        by_record: dict[int, list[str]] = defaultdict(list)
        # Only records with all their votes: the votes on a record still open would tell
        # an owner who screens it how colleagues voted on it (with three reviewers, two
        # votes agree or not before the third is cast).
        settled = Vote.objects.filter(
            review=review,
            stage=stage,
            record__screening_states__stage=stage,
            record__screening_states__closed=True,
        )
        after = 0
        for record_id, reviewer_id, decision, after_reveal, blind_decision in settled.values_list(
            "record_id", "reviewer_id", "decision", "after_reveal", "blind_decision"
        ):
            if after_reveal:
                after += 1
                if not blind_decision:
                    continue
                decision = blind_decision
            if stage == Stage.TITLE_ABSTRACT and decision == Decision.MAYBE:
                decision = Decision.INCLUDE
            triples.append((record_id, reviewer_id, decision))
            by_record[record_id].append(decision)
        result = StageAgreement(
            stage=stage, label=label, records=len(by_record), after_reveal=after
        )
        result.pairs = [
            (users.get(p.rater_a, "?"), users.get(p.rater_b, "?"), p)
            for p in pairwise_agreement(triples)
        ]
        if needed.get(stage, 2) == 3:
            complete = [labels for labels in by_record.values() if len(labels) == 3]
            result.fleiss = fleiss_kappa(complete) if complete else None
        report.append(result)
    return report
