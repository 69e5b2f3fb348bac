"""Screening work assigned to reviewers, with due dates (#20)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from reviewflow.reviews.models import Review
from screening.models.identification import Record
from screening.models.screening import Stage


class ScreeningAssignment(models.Model):
    """A record an owner asked one reviewer to screen at a stage, by a due date.

    An assignment is an offer order, not a permission: ``next`` offers a reviewer their
    assigned records first; the per-record reviewer count and blinding still decide whether
    they may vote. Removing or moving an assignment never touches a vote.
    """

    review = models.ForeignKey(
        Review, on_delete=models.CASCADE, related_name="screening_assignments"
    )
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="+")
    stage = models.CharField(max_length=20, choices=Stage.choices)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="screening_assignments"
    )
    due_date = models.DateField(null=True, blank=True)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["record", "stage", "reviewer"], name="assignment_once_per_reviewer"
            ),
            models.CheckConstraint(
                condition=Q(stage__in=Stage.values), name="assignment_stage_valid"
            ),
        ]
        indexes = [
            # ``next`` walks a reviewer's assignments in id order (the offer order: made in
            # the stage's order of records), resuming after the last one offered.
            models.Index(fields=["review", "stage", "reviewer", "id"], name="assignment_reviewer"),
            models.Index(fields=["review", "stage", "record"], name="assignment_record"),
        ]

    def __str__(self) -> str:
        return f"record {self.record_id} to {self.reviewer_id} at {self.stage}"


class NoticeKind(models.TextChoices):
    RETRACTION = "retraction", "Retraction"
    CORRECTION = "correction", "Correction"
    EXPRESSION_OF_CONCERN = "concern", "Expression of concern"
    WITHDRAWAL = "withdrawal", "Withdrawal"
    OTHER = "other", "Other update"


class EditorialNotice(models.Model):
    """A retraction, correction or expression of concern that updates a record's DOI, as
    Crossref reports it (its ``update-to`` data, which carries Retraction Watch's)."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="editorial_notices")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="editorial_notices")
    kind = models.CharField(max_length=12, choices=NoticeKind.choices)
    label = models.CharField(max_length=120, blank=True, help_text="As the source words it.")
    notice_doi = models.CharField(max_length=255, blank=True)
    notice_date = models.DateField(null=True, blank=True)
    source = models.CharField(
        max_length=40, blank=True, help_text="e.g. retraction-watch, publisher"
    )
    found_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["record_id", "notice_date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["record", "kind", "notice_doi"], name="editorial_notice_once"
            ),
        ]
        indexes = [models.Index(fields=["review", "kind"], name="editorial_notice_review")]

    def __str__(self) -> str:
        return f"{self.kind} of record {self.record_id}"


class RetractionCheck(models.Model):
    """One check of a review's included and full-text records against Crossref's notices."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="retraction_checks")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=20, blank=True, help_text="on demand, round start")
    records_checked = models.PositiveIntegerField(default=0)
    notices_found = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"retraction check {self.pk} of {self.review} ({self.status})"
