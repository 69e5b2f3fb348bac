"""Full texts: the report (PDF) of a record, or why it could not be retrieved."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from reviewflow.reviews.models import Review
from screening.models.identification import Record


class RetrievalStatus(models.TextChoices):
    RETRIEVED = "retrieved", "Retrieved"
    NOT_RETRIEVED = "not_retrieved", "Not retrieved"


class FullTextReport(models.Model):
    """The full text (a *report*, in PRISMA's words) of a record that passed title/abstract."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="reports")
    record = models.OneToOneField(Record, on_delete=models.CASCADE, related_name="report")
    status = models.CharField(max_length=15, choices=RetrievalStatus.choices)
    pdf = models.FileField(upload_to="fulltext/%Y/%m/", blank=True)
    filename = models.CharField(max_length=255, blank=True)
    note = models.CharField(max_length=300, blank=True)
    same_study_as = models.ForeignKey(
        Record,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Another report of the same study (PRISMA counts studies and reports).",
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"report of record {self.record_id} ({self.status})"
