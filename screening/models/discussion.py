"""Discussion: comments on a record, with mentions of members."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from reviewflow.reviews.models import Review
from screening.models.identification import Record
from screening.models.screening import Stage


class Comment(models.Model):
    """One member's comment on one record, written while the record was at ``stage``.

    A comment can give a vote away ("excluded: wrong population"), so on a blind stage a
    reader sees the record's comments only once they have voted on it themselves, or once
    the record is settled or in conflict there (its votes are then shown anyway). The
    author always sees their own. Deleting keeps the row (``deleted_at``) so a thread
    stays readable and the audit trail has what was said.
    """

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="+")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="comments")
    stage = models.CharField(max_length=20, choices=Stage.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField(max_length=5000)
    mentions = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="mentioned_in_comments"
    )
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(stage__in=Stage.values), name="comment_stage_valid"),
        ]
        indexes = [
            models.Index(fields=["review", "record", "stage"], name="comment_review_record"),
        ]

    def __str__(self) -> str:
        return f"comment {self.pk} on record {self.record_id}"
