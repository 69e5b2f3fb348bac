"""Reads for open-access retrieval: the records at full text that still have no PDF."""

from __future__ import annotations

from django.db.models import Q

from reviewflow.reviews.models import Review
from screening.models import (
    Decision,
    OaResult,
    Record,
    RetrievalStatus,
    SourceType,
    Stage,
)
from screening.models.identification import RecordQuerySet


def records_without_pdf(review: Review) -> RecordQuerySet:
    """Unique records past title/abstract (or found by other methods) with no PDF attached,
    leaving out those a person marked "not retrieved" (that stays their decision), in
    record order."""
    at_full_text = (
        Record.objects.for_review(review)
        .unique()
        .filter(
            Q(search__source_type=SourceType.OTHER)
            | Q(outcomes__stage=Stage.TITLE_ABSTRACT, outcomes__decision=Decision.INCLUDE)
        )
        .values("pk")
    )
    return (
        Record.objects.filter(pk__in=at_full_text)
        .filter(Q(report__isnull=True) | Q(report__pdf=""))
        .exclude(report__status=RetrievalStatus.NOT_RETRIEVED)
        .order_by("pk")
    )


def latest_results(record_ids: list[int]) -> dict[int, OaResult]:
    """Each record's most recent open-access result (one query)."""
    latest: dict[int, OaResult] = {}
    for result in OaResult.objects.filter(record_id__in=record_ids).order_by("-id"):
        latest.setdefault(result.record_id, result)
    return latest
