"""Progress of several reviews at a glance, in a fixed number of queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Count, Q

from reviewflow.reviews.models import Review


@dataclass
class ReviewProgress:
    searches: int = 0
    searches_running: int = 0
    records: int = 0
    unique: int = 0
    pending_duplicates: int = 0
    ta_settled: int = 0
    ta_included: int = 0
    ft_settled: int = 0
    ft_included: int = 0
    conflicts: int = 0

    @property
    def stage(self) -> str:
        if self.ft_settled:
            return f"Full-text screening: {self.ft_included} included so far"
        if self.ta_settled:
            return f"Title/abstract screening: {self.ta_settled} of {self.unique} settled"
        if self.searches == 0:
            return "No searches imported yet"
        if self.searches_running:
            return f"Importing {self.searches_running} search(es)"
        if self.pending_duplicates:
            return f"Deduplication: {self.pending_duplicates} pair(s) wait for a decision"
        return "Identification done"


def progress_for_reviews(reviews: Sequence[Review]) -> dict[int, ReviewProgress]:
    from screening.models import (
        Conflict,
        DuplicatePair,
        Outcome,
        PairDecision,
        Record,
        Search,
        SearchStatus,
        Stage,
    )

    ids = [r.pk for r in reviews]
    result = {pk: ReviewProgress() for pk in ids}
    if not ids:
        return result
    for row in (
        Search.objects.filter(review_id__in=ids)
        .values("review_id")
        .annotate(
            n=Count("id"),
            running=Count("id", filter=Q(status__in=[SearchStatus.QUEUED, SearchStatus.RUNNING])),
        )
    ):
        result[row["review_id"]].searches = row["n"]
        result[row["review_id"]].searches_running = row["running"]
    for row in (
        Record.objects.filter(review_id__in=ids, search__status=SearchStatus.DONE)
        .values("review_id")
        .annotate(n=Count("id"), unique=Count("id", filter=Q(duplicate_of__isnull=True)))
    ):
        result[row["review_id"]].records = row["n"]
        result[row["review_id"]].unique = row["unique"]
    for row in (
        DuplicatePair.objects.filter(review_id__in=ids, decision=PairDecision.PENDING)
        .values("review_id")
        .annotate(n=Count("id"))
    ):
        result[row["review_id"]].pending_duplicates = row["n"]
    for row in (
        Outcome.objects.filter(review_id__in=ids)
        .values("review_id", "stage")
        .annotate(n=Count("id"), included=Count("id", filter=Q(decision="include")))
    ):
        progress = result[row["review_id"]]
        if row["stage"] == Stage.TITLE_ABSTRACT:
            progress.ta_settled, progress.ta_included = row["n"], row["included"]
        else:
            progress.ft_settled, progress.ft_included = row["n"], row["included"]
    for row in (
        Conflict.objects.filter(review_id__in=ids, resolved_at__isnull=True)
        .values("review_id")
        .annotate(n=Count("id"))
    ):
        result[row["review_id"]].conflicts = row["n"]
    return result
