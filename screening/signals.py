"""Signal receivers of the screening app, connected in ``ScreeningConfig.ready``."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from reviewflow.reviews.models import Review, review_deleting
from screening.models import Record

RECORDS_PER_DELETE = 5_000


@receiver(review_deleting, sender=Review, dispatch_uid="screening.delete_records_in_chunks")
def delete_records_in_chunks(sender: type[Review], review: Review, **kwargs: Any) -> None:
    """A review's records go before the review, a few thousand at a time, with what hangs
    on them (votes, outcomes, pairs, reports…): Django's cascade would put every record's
    id in one statement, more than PostgreSQL takes for a large review.

    Merges are undone first, in one statement: deleting a primary record sets its
    duplicates' ``duplicate_of`` to NULL and leaves ``merge_kind``, which the
    ``record_merge_kind_matches`` constraint refuses. Runs inside the deletion's
    transaction (``Review.delete``)."""
    records = Record.objects.filter(review=review)
    records.filter(duplicate_of__isnull=False).update(duplicate_of=None, merge_kind="")
    ids = list(records.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), RECORDS_PER_DELETE):
        Record.objects.filter(pk__in=ids[start : start + RECORDS_PER_DELETE]).delete()
