"""Reads of extraction that several callers share: who may extract, a form's definition,
the studies to extract, their (blinded) status, and which values a user may see.

Blinding: an extractor never sees another extractor's values (nor their status beyond "n of
m submitted") before they themselves and every other extractor of that study have
submitted. Owners adjudicate: they see every value once all extractors of a study have
submitted, and only statuses before. Viewers see the consensus only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.contrib.auth.models import User
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from extraction.models import (
    Consensus,
    ConsensusStatus,
    Extraction,
    ExtractionStatus,
    Form,
)
from extraction.spec import FieldComparison, FormSpec, compare_values
from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Membership, Review, Role
from screening.models import Record
from screening.selectors.identification import included_at_full_text
from screening.selectors.work import PACE_DAYS, WorkloadRow, extraction_rows
from screening.services.rounds import SHOWN, ChangeItem, ChangelogSection

EXTRACTOR_ROLES = (Role.OWNER, Role.REVIEWER)


# ------------------------------------------------------------------------------ roles


def _role(review: Review, user: User | None) -> str | None:
    if user is None or not user.is_authenticated:
        return None
    return (
        Membership.objects.filter(review=review, user=user).values_list("role", flat=True).first()
    )


def is_owner(review: Review, user: User | None) -> bool:
    return _role(review, user) == Role.OWNER


def can_extract(review: Review, user: User | None) -> bool:
    """Extractors are members with the reviewer or owner role."""
    return _role(review, user) in EXTRACTOR_ROLES


def require_owner(review: Review, user: User, what: str) -> None:
    """The check before an owner's write: ``what`` completes "Only owners of this review can"."""
    if not is_owner(review, user):
        raise ReviewflowError(f"Only owners of this review can {what}.", code="forbidden")


def extractor_candidates(review: Review) -> QuerySet[User]:
    """The members who can extract: reviewers and owners, by username."""
    return User.objects.filter(
        memberships__review=review, memberships__role__in=EXTRACTOR_ROLES
    ).order_by("username")


# ------------------------------------------------------------------------------ forms


def form_spec(form: Form) -> FormSpec:
    """The form's definition (parsed once per instance)."""
    cached = form.__dict__.get("_parsed_spec")
    if cached is None or form.__dict__.get("_parsed_from") is not form.spec:
        cached = FormSpec.from_dict(form.spec)
        form.__dict__["_parsed_spec"] = cached
        form.__dict__["_parsed_from"] = form.spec
    return cached


def latest_forms(review: Review) -> QuerySet[Form]:
    """Each form family's newest version (for lists of forms)."""
    newest = (
        Form.objects.filter(family=OuterRef("family"))
        .order_by()
        .values("family")
        .annotate(v=Max("version"))
        .values("v")
    )
    return (
        Form.objects.filter(review=review)
        .annotate(newest=Subquery(newest))
        .filter(version=F("newest"))
        .order_by("title", "pk")
    )


# ------------------------------------------------------------------------------ studies


def included_studies(review: Review) -> QuerySet[Record]:
    """The studies to extract: records included at full text, one per study. A report
    linked as "same study as" another belongs to that study's record (followed to the end
    of the chain, as PRISMA counts studies)."""
    _, roots = included_at_full_text(review)
    return Record.objects.filter(review=review, pk__in=roots).order_by("pk")


def submitted_count(form: Form, record_id: int) -> int:
    """How many extractors of one study have submitted (callers hold the study's lock)."""
    return Extraction.objects.filter(
        form=form, record_id=record_id, status=ExtractionStatus.SUBMITTED
    ).count()


# ------------------------------------------------------------------------------ blinding


@dataclass(frozen=True)
class StudyStatus:
    """What anyone in the review may know of a study's extraction: counts only."""

    needed: int
    assigned: int
    submitted: int
    consensus: str = ""  # "", "draft" or "final"

    @property
    def complete(self) -> bool:
        return self.submitted >= self.needed

    @property
    def label(self) -> str:
        if self.consensus == ConsensusStatus.FINAL:
            return "Consensus final"
        if self.consensus == ConsensusStatus.DRAFT:
            return "Consensus in progress"
        return f"{self.submitted} of {self.needed} submitted"


def study_status(form: Form, record: Record) -> StudyStatus:
    return study_statuses(form, [record.pk])[record.pk]


def study_statuses(form: Form, record_ids: Iterable[int] | None = None) -> dict[int, StudyStatus]:
    """``study_status`` of many studies in two queries (every included study by default)."""
    ids = (
        list(record_ids)
        if record_ids is not None
        else list(included_studies(form.review).values_list("pk", flat=True))
    )
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for record_id, status, n in (
        Extraction.objects.filter(form=form, record_id__in=ids)
        .values("record_id", "status")
        .annotate(n=Count("id"))
        .values_list("record_id", "status", "n")
    ):
        counts[record_id][0] += n
        if status == ExtractionStatus.SUBMITTED:
            counts[record_id][1] += n
    consensus = dict(
        Consensus.objects.filter(form=form, record_id__in=ids).values_list("record_id", "status")
    )
    return {
        rid: StudyStatus(
            needed=form.extractors_needed,
            assigned=counts[rid][0],
            submitted=counts[rid][1],
            consensus=consensus.get(rid, ""),
        )
        for rid in ids
    }


def _values_visible(
    *, form: Form, user: User, extractions: list[Extraction], owner: bool | None = None
) -> bool:
    """May ``user`` see every extractor's values of one study (``extractions``)?"""
    submitted = [e for e in extractions if e.status == ExtractionStatus.SUBMITTED]
    if len(submitted) < form.extractors_needed:
        return False
    if owner is None:
        owner = is_owner(form.review, user)
    return owner or any(e.extractor_id == user.pk for e in submitted)


def visible_extractions(*, form: Form, record: Record, user: User) -> list[Extraction]:
    """The extractions of one study whose values ``user`` may see: their own, and the
    others' once every extractor has submitted (to owners and to those extractors)."""
    extractions = list(
        Extraction.objects.filter(form=form, record=record)
        .select_related("extractor")
        .order_by("slot")
    )
    if _values_visible(form=form, user=user, extractions=extractions):
        return extractions
    return [e for e in extractions if e.extractor_id == user.pk]


def annotate_visibility(
    qs: QuerySet[Extraction], user: User, *, owner: bool, visible_only: bool = False
) -> QuerySet[Extraction]:
    """Extractions ``user`` may list, each with ``values_visible`` (may they see its values).

    Owners list every extraction (statuses), with values only on complete studies; others
    list their own, and the others of studies they extracted once all have submitted.
    ``visible_only`` keeps only the extractions whose values ``user`` may see.
    """
    submitted = (
        Extraction.objects.filter(
            form=OuterRef("form"), record=OuterRef("record"), status=ExtractionStatus.SUBMITTED
        )
        .order_by()
        .values("form")
        .annotate(n=Count("id"))
        .values("n")
    )
    mine_submitted = Extraction.objects.filter(
        form=OuterRef("form"),
        record=OuterRef("record"),
        extractor=user,
        status=ExtractionStatus.SUBMITTED,
    )
    qs = qs.annotate(n_submitted=Coalesce(Subquery(submitted), Value(0)))
    complete = Q(n_submitted__gte=F("form__extractors_needed"))
    if owner:
        visible = Q(extractor=user) | complete
    else:
        qs = qs.annotate(mine_submitted=Exists(mine_submitted))
        visible = Q(extractor=user) | (complete & Q(mine_submitted=True))
        qs = qs.filter(visible)
    if visible_only:
        qs = qs.filter(visible)
    return qs.annotate(values_visible=ExpressionWrapper(visible, output_field=BooleanField()))


def consensus_visible_to(user: User, qs: QuerySet[Consensus]) -> QuerySet[Consensus]:
    """Blinding: the consensus of a study holds the values its extractors agreed on, so it
    is hidden from anyone with an unsubmitted extraction of that study (a slot freed after
    the consensus opened, and taken again) until they submit."""
    drafting = Extraction.objects.filter(
        form=OuterRef("form"),
        record=OuterRef("record"),
        extractor=user,
        status=ExtractionStatus.DRAFT,
    )
    return qs.filter(~Exists(drafting))


def comparison_for(*, form: Form, record: Record, user: User) -> list[FieldComparison]:
    """The extractions of one study compared field by field (tables row by row), in slot
    order, once every extractor has submitted; for owners and the study's extractors."""
    extractions = list(Extraction.objects.filter(form=form, record=record).order_by("slot"))
    if not _values_visible(form=form, user=user, extractions=extractions):
        status = study_status(form, record)
        raise ReviewflowError(
            "The comparison opens when every extractor of this study has submitted "
            f"({status.submitted} of {status.needed} so far), to owners and the study's "
            "extractors.",
            code="forbidden",
        )
    spec = form_spec(form)
    a = extractions[0].values
    b = extractions[1].values if len(extractions) > 1 else a
    return compare_values(spec, a, b)


def round_extraction_section(
    review: Review, starts: datetime, ends: datetime | None
) -> ChangelogSection:
    """The changelog section of an update round (``screening.services.rounds``): extractions
    submitted and consensus rows finalised in the round, each a set of new values."""
    during = Q(submitted_at__gte=starts) & (Q(submitted_at__lt=ends) if ends else Q())
    submitted = Extraction.objects.filter(during, form__review=review).select_related(
        "record", "extractor", "form"
    )
    finalised = Consensus.objects.filter(
        Q(finalised_at__gte=starts) & (Q(finalised_at__lt=ends) if ends else Q()),
        form__review=review,
    ).select_related("record", "form")
    items = [
        ChangeItem(
            e.submitted_at or e.updated_at,
            e.record_id,
            e.record.title,
            f"{e.extractor.get_username()} submitted {len(e.values)} values ({e.form.title})",
        )
        for e in submitted.order_by("submitted_at", "id")[:SHOWN]
    ] + [
        ChangeItem(
            c.finalised_at or c.updated_at,
            c.record_id,
            c.record.title,
            f"consensus finalised: {len(c.values)} values ({c.form.title})",
        )
        for c in finalised.order_by("finalised_at", "id")[:SHOWN]
    ]
    return ChangelogSection(
        "New extraction values",
        submitted.count() + finalised.count(),
        sorted(items, key=lambda item: item.when)[:SHOWN],
    )


def extraction_workload(
    review: Review, *, now: datetime, today: date, only: User | None = None
) -> list[WorkloadRow]:
    """Each extractor's assigned work (#20): their extractions (assigned, or started by
    themselves), submitted, drafts left, drafts past their due date, and submissions per
    day over the last days; counts only, never a value. One query."""
    qs = Extraction.objects.filter(form__review=review)
    if only is not None:
        qs = qs.filter(extractor=only)
    draft = Q(status=ExtractionStatus.DRAFT)
    since = now - timedelta(days=PACE_DAYS)
    rows = list(
        qs.values("extractor_id", "extractor__username")
        .annotate(
            assigned=Count("id"),
            done=Count("id", filter=~draft),
            left=Count("id", filter=draft),
            overdue=Count("id", filter=draft & Q(due_date__lt=today)),
            due=Min("due_date", filter=draft),
            recent=Count("id", filter=~draft & Q(submitted_at__gte=since)),
        )
        .order_by("extractor__username")
    )
    people = [User(pk=row["extractor_id"], username=row["extractor__username"]) for row in rows]
    figures = {row["extractor_id"]: row for row in rows}
    recent = {row["extractor_id"]: row["recent"] for row in rows}
    return extraction_rows(people, figures, recent, today)
