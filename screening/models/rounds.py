"""Update rounds of a living review: each round's searches, and its own PRISMA diagram."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from reviewflow.reviews.models import Review


class UpdateRound(models.Model):
    """The start of an update of the review (round 2, 3, …). Round 1 is the review as first
    done and has no row. Searches imported after a round starts belong to it
    (``Search.round``); its PRISMA diagram is the "updated review" template, with the
    studies and reports included in the earlier rounds as "previous"."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="update_rounds")
    number = models.PositiveSmallIntegerField()
    label = models.CharField(max_length=120, blank=True, help_text="e.g. “2027 update”")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["review", "number"], name="update_round_unique"),
            models.CheckConstraint(condition=Q(number__gte=2), name="update_round_from_2"),
        ]

    def __str__(self) -> str:
        return f"round {self.number} of {self.review}"
