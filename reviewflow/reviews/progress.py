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

    @property
    def stage(self) -> str:
        if self.searches == 0:
            return "No searches imported yet"
        if self.searches_running:
            return f"Importing {self.searches_running} search(es)"
        if self.pending_duplicates:
            return f"Deduplication: {self.pending_duplicates} pair(s) wait for a decision"
        return "Identification done"


def progress_for_reviews(reviews: Sequence[Review]) -> dict[int, ReviewProgress]:
    from screening.models import DuplicatePair, PairDecision, Record, Search, SearchStatus

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
    return result
