"""Reads of labels that pages, the API and exports share; blinding decides what shows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from reviewflow.reviews.models import Review
from screening.models import (
    Conflict,
    Decision,
    Label,
    Outcome,
    Record,
    RecordLabel,
    RecordQuerySet,
    SourceType,
    Stage,
    StageSettings,
)


def labels_visible_to(user: User, qs: QuerySet[RecordLabel]) -> QuerySet[RecordLabel]:
    """Blinding, as for votes (``votes_visible_to``): the labels ``user`` may see — their
    own, and others' only on records settled or in conflict at the label's stage, or at a
    stage an owner set to "not blind". A label may hint at its author's vote."""
    done = Outcome.objects.filter(record=OuterRef("record"), stage=OuterRef("stage"))
    conflict = Conflict.objects.filter(record=OuterRef("record"), stage=OuterRef("stage"))
    open_stage = StageSettings.objects.filter(
        review=OuterRef("review"), stage=OuterRef("stage"), blind=False
    )
    return qs.filter(Q(applied_by=user) | Exists(done) | Exists(conflict) | Exists(open_stage))


def labels_of(review: Review) -> QuerySet[Label]:
    return Label.objects.filter(review=review).order_by("order", "name", "id")


def label_counts(review: Review, user: User) -> dict[int, int]:
    """Per label id, how many records carry it as far as ``user`` may see (one query)."""
    visible = labels_visible_to(user, RecordLabel.objects.filter(review=review))
    rows = visible.order_by().values("label_id").annotate(n=Count("record_id", distinct=True))
    return {row["label_id"]: row["n"] for row in rows}


def visible_labels_by_record(
    review: Review, user: User, record_ids: Iterable[int] | None = None
) -> dict[int, list[RecordLabel]]:
    """The labels ``user`` may see, per record id (all of the review's records, or those of
    ``record_ids``), with their label and author read in the same query."""
    qs = RecordLabel.objects.filter(review=review)
    if record_ids is not None:
        qs = qs.filter(record_id__in=list(record_ids))
    found: dict[int, list[RecordLabel]] = defaultdict(list)
    for applied in (
        labels_visible_to(user, qs)
        .select_related("label", "applied_by")
        .order_by("label__order", "label__name", "stage", "applied_by__username")
    ):
        found[applied.record_id].append(applied)
    return dict(found)


def label_names(applications: Iterable[RecordLabel]) -> str:
    """The distinct label names of ``applications``, in label order, for an export cell."""
    seen: dict[int, str] = {}
    for applied in applications:
        seen.setdefault(applied.label_id, applied.label.name)
    return "; ".join(seen.values())


def filter_by_label(
    qs: RecordQuerySet, *, review: Review, user: User, label: int
) -> RecordQuerySet:
    """Records carrying ``label`` as far as ``user`` may see: a filter by label must not
    tell a reviewer which records a colleague labelled before the record is settled."""
    visible = labels_visible_to(
        user, RecordLabel.objects.filter(review=review, label_id=label, record=OuterRef("pk"))
    )
    return qs.filter(Exists(visible))


def current_stage(record: Record) -> str:
    """The stage a record is screened at now, which a label put on it from its own page
    belongs to: full text once it passed title/abstract (or was found by other methods)."""
    if record.search.source_type == SourceType.OTHER:
        return Stage.FULL_TEXT
    passed = Outcome.objects.filter(
        record=record, stage=Stage.TITLE_ABSTRACT, decision=Decision.INCLUDE
    ).exists()
    return Stage.FULL_TEXT if passed else Stage.TITLE_ABSTRACT
