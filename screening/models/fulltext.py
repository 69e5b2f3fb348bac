"""Full texts: the report (PDF) of a record, or why it could not be retrieved."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
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
    # Set when a PDF is attached: the SHA-256 of its bytes (one file is never stored for two
    # records unnoticed) and its text, extracted once (pages split by form feeds).
    content_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    text = models.TextField(blank=True)
    page_count = models.PositiveIntegerField(null=True, blank=True)
    no_text = models.BooleanField(
        default=False, help_text="The PDF has no extractable text (a scan without OCR)."
    )
    # Where the attached PDF came from: "upload", "batch", or an open-access source
    # ("unpaywall", "openalex", "europepmc"), with the copy's address, licence and version.
    pdf_source = models.CharField(max_length=20, blank=True)
    pdf_url = models.URLField(max_length=1000, blank=True)
    pdf_licence = models.CharField(max_length=100, blank=True)
    pdf_version = models.CharField(max_length=40, blank=True)

    def __str__(self) -> str:
        return f"report of record {self.record_id} ({self.status})"


class PdfBatchStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"


class PdfBatch(models.Model):
    """PDFs uploaded together (files or zips) to be read and matched to the review's records
    at full text by a Celery task; the page polls its progress."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="pdf_batches")
    status = models.CharField(
        max_length=10, choices=PdfBatchStatus.choices, default=PdfBatchStatus.QUEUED
    )
    attempt = models.PositiveIntegerField(default=0)
    files_total = models.PositiveIntegerField(default=0)
    files_done = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The running task's last sign of life (``reviewflow.heartbeat``).
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "PDF batches"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PdfBatchStatus.values), name="pdf_batch_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"PDF batch {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status == PdfBatchStatus.DONE

    @property
    def percent(self) -> int:
        if self.is_finished:
            return 100
        if not self.files_total:
            return 0
        return min(99, int(100 * self.files_done / self.files_total))


class PdfMatch(models.TextChoices):
    PENDING = "pending", "Waiting to be read"
    ATTACHED = "attached", "Attached"
    UNSURE = "unsure", "Unsure: a person decides"
    UNMATCHED = "unmatched", "No matching record"
    DUPLICATE = "duplicate", "Identical file already uploaded"
    FAILED = "failed", "Could not be read"


class PdfFile(models.Model):
    """One PDF of a batch: its text, and the record it was matched (or attached) to."""

    batch = models.ForeignKey(PdfBatch, on_delete=models.CASCADE, related_name="files")
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="pdf_files")
    filename = models.CharField(max_length=255)
    # Emptied once the PDF is attached (the report holds it) or when it is refused: the
    # same bytes are never stored twice.
    file = models.FileField(upload_to="pdfbatches/%Y/%m/", blank=True)
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    status = models.CharField(max_length=10, choices=PdfMatch.choices, default=PdfMatch.PENDING)
    message = models.CharField(max_length=500, blank=True)
    text = models.TextField(blank=True)
    # The start of the first page, shown beside the candidate records (``text`` stays unread).
    excerpt = models.TextField(blank=True)
    page_count = models.PositiveIntegerField(null=True, blank=True)
    no_text = models.BooleanField(
        default=False, help_text="The PDF has no extractable text (a scan without OCR)."
    )
    # ``[{"record", "score", "reason"}]``, best first: what the matcher considered.
    candidates = models.JSONField(default=list, blank=True)
    confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    record = models.ForeignKey(
        Record, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PdfMatch.values), name="pdf_file_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"


class OaRun(models.Model):
    """One background look-up of open-access copies for a review's records at full text that
    have no PDF (Unpaywall by DOI, OpenAlex's best open-access location, Europe PMC)."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="oa_runs")
    status = models.CharField(
        max_length=10, choices=PdfBatchStatus.choices, default=PdfBatchStatus.QUEUED
    )
    attempt = models.PositiveIntegerField(default=0)
    records_total = models.PositiveIntegerField(default=0)
    records_done = models.PositiveIntegerField(default=0)
    attached = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PdfBatchStatus.values), name="oa_run_status_valid"
            ),
            # One look-up at a time per review: a second would fetch the same records.
            models.UniqueConstraint(
                fields=["review"],
                condition=Q(status__in=[PdfBatchStatus.QUEUED, PdfBatchStatus.RUNNING]),
                name="oa_run_one_active_per_review",
            ),
        ]

    def __str__(self) -> str:
        return f"open-access run {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status == PdfBatchStatus.DONE

    @property
    def percent(self) -> int:
        if self.is_finished:
            return 100
        if not self.records_total:
            return 0
        return min(99, int(100 * self.records_done / self.records_total))


class OaOutcome(models.TextChoices):
    ATTACHED = "attached", "Attached"
    NOT_FOUND = "not_found", "No open-access copy"
    FAILED = "failed", "Download failed"
    SKIPPED = "skipped", "Skipped"


class OaResult(models.Model):
    """What one run found for one record: the source, address and licence tried."""

    run = models.ForeignKey(OaRun, on_delete=models.CASCADE, related_name="results")
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="+")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="oa_results")
    outcome = models.CharField(max_length=10, choices=OaOutcome.choices)
    source = models.CharField(max_length=20, blank=True)
    url = models.URLField(max_length=1000, blank=True)
    licence = models.CharField(max_length=100, blank=True)
    version = models.CharField(max_length=40, blank=True)
    message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "record"], name="oa_result_once_per_run"),
        ]

    def __str__(self) -> str:
        return f"{self.outcome} for record {self.record_id}"
