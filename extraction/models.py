"""Extraction forms (versioned), one extractor's values for one study, and the consensus."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from reviewflow.reviews.models import Review
from screening.models import Record


class FormStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    SUPERSEDED = "superseded", "Superseded by a newer version"


class FormQuerySet(models.QuerySet["Form"]):
    def for_review(self, review: Review) -> FormQuerySet:
        return self.filter(review=review)

    def published(self) -> FormQuerySet:
        return self.filter(status=FormStatus.PUBLISHED)


class Form(models.Model):
    """One version of an extraction form. ``spec`` holds the definition
    (``FormSpec.to_dict()``); once published it never changes: editing makes a new version
    of the same ``family``."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="extraction_forms")
    family = models.UUIDField(default=uuid.uuid4, help_text="The same for every version.")
    version = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=12, choices=FormStatus.choices, default=FormStatus.DRAFT)
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    extractors_needed = models.PositiveSmallIntegerField(
        default=2, help_text="How many people extract each study (1 or 2)."
    )
    spec = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)

    objects = FormQuerySet.as_manager()

    class Meta:
        ordering = ["title", "family", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["family", "version"], name="form_version_unique"),
            models.UniqueConstraint(
                fields=["family"],
                condition=Q(status="draft"),
                name="form_one_draft_per_family",
            ),
            models.UniqueConstraint(
                fields=["family"],
                condition=Q(status="published"),
                name="form_one_published_per_family",
            ),
            models.CheckConstraint(
                condition=Q(status__in=FormStatus.values), name="form_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(extractors_needed__gte=1, extractors_needed__lte=2),
                name="form_extractors_1_or_2",
            ),
            models.CheckConstraint(
                condition=Q(status="draft", published_at__isnull=True)
                | (~Q(status="draft") & Q(published_at__isnull=False)),
                name="form_published_at_matches",
            ),
        ]
        indexes = [models.Index(fields=["review", "status"], name="form_review_status")]

    def __str__(self) -> str:
        return f"{self.title} (v{self.version}, {self.status})"

    @property
    def is_draft(self) -> bool:
        return self.status == FormStatus.DRAFT

    @property
    def is_published(self) -> bool:
        return self.status == FormStatus.PUBLISHED


class ExtractionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"


class Extraction(models.Model):
    """One extractor's values for one study (its main record) with one form version.

    ``slot`` (1…form.extractors_needed) is taken under a lock; the unique constraint on
    (form, record, slot) lets the database refuse a third extractor however many start at
    the same moment.
    """

    form = models.ForeignKey(Form, on_delete=models.RESTRICT, related_name="extractions")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="extractions")
    extractor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="extractions"
    )
    slot = models.PositiveSmallIntegerField()
    status = models.CharField(
        max_length=10, choices=ExtractionStatus.choices, default=ExtractionStatus.DRAFT
    )
    values = models.JSONField(default=dict, blank=True)
    carried_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="carried_to"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    due_date = models.DateField(
        null=True, blank=True, help_text="When the owner who assigned it wants it submitted."
    )
    # Where each value was read: {field key: {"quote": text, "page": n}} (a table's cells
    # under "key.row.column"); the values themselves stay in ``values``.
    evidence = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["form_id", "record_id", "slot"]
        constraints = [
            models.UniqueConstraint(
                fields=["form", "record", "extractor"], name="extraction_once_per_extractor"
            ),
            models.UniqueConstraint(fields=["form", "record", "slot"], name="extraction_slot"),
            models.CheckConstraint(
                condition=Q(slot__gte=1, slot__lte=2), name="extraction_slot_1_or_2"
            ),
            models.CheckConstraint(
                condition=Q(status="draft", submitted_at__isnull=True)
                | Q(status="submitted", submitted_at__isnull=False),
                name="extraction_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["extractor", "status"], name="extraction_extractor_status"),
        ]

    def __str__(self) -> str:
        return f"extraction of record {self.record_id} by {self.extractor_id} ({self.status})"

    @property
    def is_submitted(self) -> bool:
        return self.status == ExtractionStatus.SUBMITTED


class ConsensusStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    FINAL = "final", "Final"


class Consensus(models.Model):
    """The agreed values for one study with one form version, settled by an adjudicator.

    Created, pre-filled with the values every extractor agreed on, when the last one
    submits. ``updated_by`` stays empty until a person edits it.
    """

    form = models.ForeignKey(Form, on_delete=models.RESTRICT, related_name="consensus_rows")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="consensus_rows")
    values = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=ConsensusStatus.choices, default=ConsensusStatus.DRAFT
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    finalised_at = models.DateTimeField(null=True, blank=True)
    # As ``Extraction.evidence``: the quote and page behind each agreed value.
    evidence = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["form_id", "record_id"]
        verbose_name_plural = "consensus rows"
        constraints = [
            models.UniqueConstraint(fields=["form", "record"], name="consensus_once_per_study"),
            models.CheckConstraint(
                condition=Q(status="draft", finalised_at__isnull=True)
                | Q(status="final", finalised_at__isnull=False),
                name="consensus_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"consensus on record {self.record_id} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status == ConsensusStatus.FINAL


class GradeDesign(models.TextChoices):
    RANDOMISED = "randomised", "Randomised trials"
    OBSERVATIONAL = "observational", "Observational studies"


class GradeMethod(models.TextChoices):
    """How a summary-of-findings row pools its studies (the methods of the synthesis page)."""

    FE = "FE", "Fixed effect, inverse variance"
    MH = "MH", "Fixed effect, Mantel–Haenszel"
    DL = "DL", "Random effects, DerSimonian–Laird"
    REML = "REML", "Random effects, REML"


class GradeControlRisk(models.TextChoices):
    """Where the assumed control risk of a binary outcome comes from."""

    POOLED = "pooled", "Control arms pooled (their events over their participants)"
    MEDIAN = "median", "Median of the control arms' risks"
    MEAN = "mean", "Mean of the control arms' risks"
    TYPED = "typed", "A risk per 1,000 from another source"


class GradeAssessment(models.Model):
    """The owners' GRADE judgements on one outcome of a form: a row of the
    summary-of-findings table (``extraction/grade.py`` proposes them; the numbers come from
    the meta-analysis, never stored). The row also holds how the outcome is pooled and where
    its assumed control risk comes from; a row saved with only those has no judgements yet
    (``judgements == {}``) and the table keeps showing the proposals."""

    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="grade_assessments")
    outcome_key = models.CharField(max_length=1000)
    design = models.CharField(
        max_length=20, choices=GradeDesign.choices, default=GradeDesign.RANDOMISED
    )
    # {domain: {"level": "not_serious" | "serious" | "very_serious", "reason": text}}
    judgements = models.JSONField(default=dict, blank=True)
    method = models.CharField(max_length=4, choices=GradeMethod.choices, default=GradeMethod.REML)
    knha = models.BooleanField(default=False)  # Hartung–Knapp, random effects only
    control_risk = models.CharField(
        max_length=10, choices=GradeControlRisk.choices, default=GradeControlRisk.POOLED
    )
    # Only for ``typed``: the risk per 1,000 and where it comes from (a cohort study, a registry).
    control_risk_per_1000 = models.DecimalField(
        max_digits=8, decimal_places=3, null=True, blank=True
    )
    control_risk_source = models.CharField(max_length=500, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["form_id", "outcome_key"]
        constraints = [
            models.UniqueConstraint(fields=["form", "outcome_key"], name="grade_once_per_outcome"),
            models.CheckConstraint(
                condition=Q(knha=False) | Q(method__in=["DL", "REML"]),
                name="grade_knha_random_effects_only",
            ),
            models.CheckConstraint(
                condition=Q(
                    control_risk="typed",
                    control_risk_per_1000__isnull=False,  # NULL would pass a CHECK
                    control_risk_per_1000__gte=0,
                    control_risk_per_1000__lte=1000,
                )
                & ~Q(control_risk_source="")
                | (~Q(control_risk="typed") & Q(control_risk_per_1000__isnull=True)),
                name="grade_typed_control_risk_has_value_and_source",
            ),
        ]

    def __str__(self) -> str:
        return f"GRADE of {self.outcome_key} ({self.form_id})"
