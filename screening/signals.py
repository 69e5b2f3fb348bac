"""Signal receivers of the screening app, connected in ``ScreeningConfig.ready``."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from reviewflow.reviews.models import Review
from screening.models import Record


@receiver(pre_delete, sender=Review, dispatch_uid="screening.unmerge_before_review_delete")
def unmerge_before_review_delete(sender: type[Review], instance: Review, **kwargs: Any) -> None:
    """A review's records go with it, duplicates included. Django's cascade sets a
    duplicate's ``duplicate_of`` to NULL on its own, leaving ``merge_kind``, which the
    ``record_merge_kind_matches`` constraint refuses; so the merges are undone first, in
    one statement, inside the deletion's transaction (Django sends ``pre_delete`` there,
    and not when the admin only lists what a deletion would remove)."""
    Record.objects.filter(review=instance, duplicate_of__isnull=False).update(
        duplicate_of=None, merge_kind=""
    )
