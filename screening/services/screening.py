"""Screening: which record a reviewer gets next, votes, outcomes, conflicts, full texts.

Invariants the database keeps: one vote per reviewer, record and stage; at most
``reviewers_needed`` votes per record and stage (vote slots); one outcome per record and
stage. Votes on one record are serialised by locking the record's row, so the vote that
completes a record always sees the others and settles it (agreement or conflict).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Mod
from django.utils import timezone

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Membership, Review, Role
from reviewflow.reviews.services import record_audit
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
    RetrievalStatus,
    SourceType,
    Stage,
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
    """The stage's settings, created with defaults the first time they are asked for."""
    if stage not in Stage.values:
        raise ReviewflowError(f"Unknown stage “{stage}”: use title-abstract or full-text.")
    found = StageSettings.objects.filter(review=review, stage=stage).first()
    if found:
        return found
    defaults: dict[str, Any] = {}
    if stage == Stage.FULL_TEXT:
        defaults = {"reasons_required": True, "exclusion_reasons": DEFAULT_FULL_TEXT_REASONS}
    obj, _ = StageSettings.objects.get_or_create(review=review, stage=stage, defaults=defaults)
    return obj


SETTINGS_FIELDS = (
    "reviewers_needed",
    "blind",
    "criteria",
    "include_terms",
    "exclude_terms",
    "exclusion_reasons",
    "reasons_required",
    "adjudicators",
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
        return qs.exclude(search__source_type=SourceType.OTHER)
    passed = Outcome.objects.filter(stage=Stage.TITLE_ABSTRACT, decision=Decision.INCLUDE).values(
        "record_id"
    )
    return qs.filter(Q(pk__in=passed) | Q(search__source_type=SourceType.OTHER)).exclude(
        report__status=RetrievalStatus.NOT_RETRIEVED
    )


def check_screener(review: Review, reviewer: User) -> None:
    membership = Membership.objects.filter(review=review, user=reviewer).first()
    if membership is None or not membership.has_role(Role.REVIEWER):
        raise ReviewflowError("Only reviewers and owners screen records.", code="forbidden")


SHUFFLE = Mod(F("id") * 7919, 10007)


def _count(qs: QuerySet[Any]) -> Coalesce:
    """Correlated ``count(*)`` of ``qs`` per outer record, 0 when none."""
    return Coalesce(
        Subquery(qs.order_by().values("record").annotate(n=Count("*")).values("n")[:1]), 0
    )


def next_record(*, review: Review, stage: str, reviewer: User) -> Record | None:
    """The record ``reviewer`` should screen next, or ``None`` when nothing is left for them.

    Records that already have votes come first (so pairs complete), then a fixed shuffled
    order (so nobody screens in the order a database exported). A record is never offered
    to a reviewer who voted on it, nor when its open votes are held by other reviewers.

    Picking and claiming is one transaction that locks the picked record (skipping records
    another reviewer is claiming or voting on this instant) and re-counts votes and claims
    after the lock, so two reviewers asking at once are not offered the same last vote.
    """
    conf = get_stage_settings(review, stage)
    needed = conf.reviewers_needed
    now = timezone.now()
    votes = Vote.objects.filter(record=OuterRef("pk"), stage=stage)
    others = Claim.objects.filter(record=OuterRef("pk"), stage=stage, expires_at__gt=now).exclude(
        reviewer=reviewer
    )
    settled = Outcome.objects.filter(record=OuterRef("pk"), stage=stage)
    conflicted = Conflict.objects.filter(record=OuterRef("pk"), stage=stage)
    open_ = eligible_records(review, stage).filter(
        ~Exists(votes.filter(reviewer=reviewer)), ~Exists(settled), ~Exists(conflicted)
    )
    mine = Claim.objects.filter(reviewer=reviewer, stage=stage, expires_at__gt=now).first()
    if mine is not None:
        held = (
            open_.filter(pk=mine.record_id)
            .alias(n_votes=_count(votes))
            .filter(n_votes__lt=needed)
            .select_related("search")
            .first()
        )
        if held is not None:
            return held
    # Other reviewers' live claims: a handful of rows, one per reviewer at most.
    claims = Counter(
        Claim.objects.filter(stage=stage, expires_at__gt=now)
        .exclude(reviewer=reviewer)
        .values_list("record_id", flat=True)
    )
    # Records with some but not all votes, found from the votes (narrow, indexed), not by
    # grouping every record of the review.
    open_votes = (
        Vote.objects.filter(review=review, stage=stage)
        .values("record_id")
        .annotate(n=Count("id"))
        .filter(n__lt=needed)
        .values("record_id")
    )
    started = (
        open_.filter(pk__in=open_votes)
        .alias(n_votes=_count(votes), taken=_count(votes) + _count(others))
        .filter(taken__lt=needed)
        .order_by("-n_votes", SHUFFLE, "id")
    )
    # Untouched records in the fixed shuffled order: walks record_screening_order.
    untouched = (
        open_.filter(~Exists(votes))
        .exclude(pk__in=[pk for pk, n in claims.items() if n >= needed])
        .order_by(SHUFFLE, "id")
    )
    skip: list[int] = []
    with transaction.atomic():
        while True:  # ends: each pass skips one more record, or finds none
            pk = None
            for candidates in (started, untouched):
                pk = (
                    candidates.exclude(pk__in=skip)
                    .select_for_update(skip_locked=True, of=("self",))
                    .values_list("pk", flat=True)
                    .first()
                )
                if pk is not None:
                    break
            if pk is None:
                return None
            # The lock is ours: a claim or vote that committed meanwhile is visible now.
            taken = (
                Vote.objects.filter(record_id=pk, stage=stage).count()
                + Claim.objects.filter(record_id=pk, stage=stage, expires_at__gt=now)
                .exclude(reviewer=reviewer)
                .count()
            )
            if taken < needed:
                break
            skip.append(pk)
        Claim.objects.update_or_create(
            reviewer=reviewer,
            stage=stage,
            defaults={"record_id": pk, "expires_at": now + timedelta(minutes=CLAIM_MINUTES)},
        )
    return Record.objects.select_related("search").get(pk=pk)


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
    record: Record,
    reviewer: User,
    stage: str,
    decision: str,
    reason: str = "",
    note: str = "",
) -> Vote:
    """Store one reviewer's vote; the last vote a record needs settles it."""
    conf = get_stage_settings(review, stage)
    check_screener(review, reviewer)
    note = note.strip()
    reason = check_vote_fields(conf=conf, stage=stage, decision=decision, reason=reason)
    with transaction.atomic():
        locked = Record.objects.select_for_update().filter(pk=record.pk, review=review).first()
        if locked is None or not eligible_records(review, stage).filter(pk=record.pk).exists():
            raise ReviewflowError(
                "This record is not screened at this stage.", field="record", code="not_found"
            )
        if (
            Outcome.objects.filter(record=record, stage=stage).exists()
            or Conflict.objects.filter(record=record, stage=stage).exists()
        ):
            raise ReviewflowError(
                "This record already has all the votes it needs.", code="conflict"
            )
        taken = list(
            Vote.objects.filter(record=record, stage=stage).values_list("slot", "reviewer_id")
        )
        if any(uid == reviewer.pk for _, uid in taken):
            raise ReviewflowError(
                "You have already voted on this record (press u to undo your last vote).",
                code="conflict",
            )
        free = sorted(set(range(1, conf.reviewers_needed + 1)) - {slot for slot, _ in taken})
        if not free:
            raise ReviewflowError(
                "This record already has all the votes it needs.", code="conflict"
            )
        try:
            with transaction.atomic():
                vote = Vote.objects.create(
                    review=review,
                    record=record,
                    stage=stage,
                    reviewer=reviewer,
                    slot=free[0],
                    decision=decision,
                    reason=reason[:200],
                    note=note,
                )
        except IntegrityError:
            raise ReviewflowError(
                "This record already has all the votes it needs.", code="conflict"
            ) from None
        Claim.objects.filter(reviewer=reviewer, stage=stage).delete()
        _audit_record(
            review=review,
            actor=reviewer,
            action="vote.cast",
            after={"stage": stage, "decision": decision, "reason": reason, "note": note},
            record_id=record.pk,
        )
        if len(taken) + 1 == conf.reviewers_needed:
            _settle(review, record, stage)
    return vote


def _settle(review: Review, record: Record, stage: str) -> None:
    votes = list(Vote.objects.filter(record=record, stage=stage))
    decisions = {_mapped(v.decision, stage) for v in votes}
    reasons = {v.reason for v in votes if v.decision == Decision.EXCLUDE}
    agreed = len(decisions) == 1 and (
        stage != Stage.FULL_TEXT or decisions != {Decision.EXCLUDE} or len(reasons) == 1
    )
    if agreed:
        decision = decisions.pop()
        Outcome.objects.create(
            review=review,
            record=record,
            stage=stage,
            decision=decision,
            reason=reasons.pop() if decision == Decision.EXCLUDE and len(reasons) == 1 else "",
            kind=OutcomeKind.AGREEMENT,
        )
        _audit_record(
            review=review,
            actor=None,
            action="outcome.agreed",
            after={"stage": stage, "decision": decision},
            record_id=record.pk,
        )
    else:
        Conflict.objects.create(review=review, record=record, stage=stage)
        _audit_record(
            review=review,
            actor=None,
            action="conflict.opened",
            after={"stage": stage},
            record_id=record.pk,
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
    if outcome is not None:
        outcome.delete()
    Conflict.objects.filter(
        record_id=vote.record_id, stage=stage, resolved_at__isnull=True
    ).delete()
    vote.delete()
    _audit_record(
        review=review,
        actor=reviewer,
        action="vote.undone",
        before={"stage": stage, "decision": vote.decision, "reason": vote.reason},
        record_id=vote.record_id,
    )
    # Offer the same record again.
    Claim.objects.update_or_create(
        reviewer=reviewer,
        stage=stage,
        defaults={
            "record_id": vote.record_id,
            "expires_at": timezone.now() + timedelta(minutes=CLAIM_MINUTES),
        },
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


def stage_progress(review: Review, stage: str, reviewer: User) -> dict[str, int]:
    """Counts for the screening page, in a fixed number of queries."""
    eligible = eligible_records(review, stage)
    total = eligible.count()
    settled = Outcome.objects.filter(review=review, stage=stage)
    return {
        "total": total,
        "mine": Vote.objects.filter(review=review, stage=stage, reviewer=reviewer).count(),
        "settled": settled.count(),
        "included": settled.filter(decision=Decision.INCLUDE).count(),
        "excluded": settled.filter(decision=Decision.EXCLUDE).count(),
        "conflicts": Conflict.objects.filter(
            review=review, stage=stage, resolved_at__isnull=True
        ).count(),
    }


def votes_visible_to(user: User, qs: QuerySet[Vote]) -> QuerySet[Vote]:
    """Blinding: the votes ``user`` may see — their own, and others' only on records that
    are settled or in conflict (where everyone has voted)."""
    done = Outcome.objects.filter(record=OuterRef("record"), stage=OuterRef("stage"))
    conflict = Conflict.objects.filter(record=OuterRef("record"), stage=OuterRef("stage"))
    return qs.filter(Q(reviewer=user) | Exists(done) | Exists(conflict))


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
