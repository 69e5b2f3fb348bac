"""Progress of several reviews at a glance, in a fixed number of queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Count, Q

from reviewflow.reviews.models import Review


def plural(n: int, one: str, many: str | None = None) -> str:
    """``1 record``, ``2 records``: a count with its noun, never "record(s)"."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


@dataclass
class ReviewProgress:
    # Imported searches only: a failed or superseded search counts nowhere.
    searches: int = 0
    searches_running: int = 0
    searches_failed: int = 0
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
        if self.searches_running:
            return f"Importing {plural(self.searches_running, 'search', 'searches')}"
        if self.searches == 0:
            return "No searches imported yet"
        if self.pending_duplicates:
            waits = "waits" if self.pending_duplicates == 1 else "wait"
            return (
                f"Deduplication: {plural(self.pending_duplicates, 'pair')} of possible "
                f"duplicates {waits} for a decision"
            )
        return "Identification done"

    @property
    def next_step(self) -> str:
        """What the team should do next, in a sentence (the dashboard card says it)."""
        if self.searches_failed:
            return (
                f"Fix {plural(self.searches_failed, 'failed search', 'failed searches')}: "
                "upload the corrected file and delete the failed one."
            )
        if self.searches_running:
            return "Wait for the imports to finish; the Searches page shows their progress."
        if self.searches == 0:
            return "Next: import the export file of each database search (Searches)."
        if self.pending_duplicates:
            return "Next: decide the possible duplicates (Duplicates)."
        if self.conflicts:
            return f"Next: resolve {plural(self.conflicts, 'conflict')} (Conflicts)."
        if self.ta_settled < self.unique:
            return (
                f"Next: screen titles and abstracts — "
                f"{plural(self.unique - self.ta_settled, 'record')} still open."
            )
        if self.ft_settled < self.ta_included:
            return (
                f"Next: screen full texts — {plural(self.ta_included - self.ft_settled, 'report')}"
                " still open."
            )
        return "Next: extract data from the included studies and report (PRISMA)."


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
            n=Count("id", filter=Q(status=SearchStatus.DONE)),
            running=Count("id", filter=Q(status__in=[SearchStatus.QUEUED, SearchStatus.RUNNING])),
            failed=Count("id", filter=Q(status=SearchStatus.FAILED)),
        )
    ):
        result[row["review_id"]].searches = row["n"]
        result[row["review_id"]].searches_running = row["running"]
        result[row["review_id"]].searches_failed = row["failed"]
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
