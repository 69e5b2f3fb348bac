"""Deduplication: candidate pairs of records and the decisions on them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from reviewflow.reviews.models import Review
from screening.dedup.wording import explanation
from screening.models.identification import Record


class PairDecision(models.TextChoices):
    PENDING = "pending", "Waiting for a person"
    AUTO = "auto", "Merged automatically"
    CONFIRMED = "confirmed", "Duplicate (decided by a person)"
    SEPARATED = "separated", "Not a duplicate (decided by a person)"


class DuplicatePair(models.Model):
    """Two records the matching engine found alike, its score and reasons, and the decision.

    Decisions made by people (``confirmed``, ``separated``) are never changed by a new run:
    a separated pair is never merged again, a confirmed merge never undone by the engine.
    """

    # Foreign keys indexed as the first column of pair_review_queue and pair_unique.
    review = models.ForeignKey(
        Review, on_delete=models.CASCADE, related_name="duplicate_pairs", db_index=False
    )
    record_a = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="+", db_index=False)
    record_b = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField(default=0)
    reasons = models.JSONField(default=list, blank=True)
    decision = models.CharField(
        max_length=10, choices=PairDecision.choices, default=PairDecision.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-score", "id"]
        constraints = [
            models.UniqueConstraint(fields=["record_a", "record_b"], name="pair_unique"),
            models.CheckConstraint(
                condition=Q(record_a__lt=models.F("record_b")), name="pair_ordered"
            ),
            models.CheckConstraint(
                condition=Q(decision__in=PairDecision.values), name="pair_decision_valid"
            ),
        ]
        indexes = [
            # The duplicate queue: a review's pending pairs, best first (#25); its first two
            # columns also count a review's pairs by decision.
            models.Index(fields=["review", "decision", "-score", "id"], name="pair_review_queue"),
        ]

    def __str__(self) -> str:
        return f"{self.record_a_id} ~ {self.record_b_id} ({self.decision})"

    @property
    def explanation(self) -> str:
        """Why the pair waits for a person (or what a merge rested on), in one sentence."""
        return explanation(self.reasons)
