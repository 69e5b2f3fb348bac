"""Saved searches of bibliographic databases that reviewflow runs itself, and their runs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from reviewflow.reviews.models import Review
from screening.models.identification import Search


class ConnectorSource(models.TextChoices):
    PUBMED = "pubmed", "PubMed"
    EUROPEPMC = "europepmc", "Europe PMC"
    OPENALEX = "openalex", "OpenAlex"
    CLINICALTRIALS = "clinicaltrials", "ClinicalTrials.gov"
    CROSSREF = "crossref", "Crossref"


class SearchMethod(models.TextChoices):
    """What a saved search asks its database: a query, or (OpenAlex) the citations of the
    review's included studies (PRISMA: "other methods: citation searching")."""

    QUERY = "", "Search with a query"
    REFERENCES = "references", "References of the included studies (backward)"
    CITED_BY = "cited-by", "Works citing the included studies (forward)"
    CITATIONS = "citations", "References and citing works of the included studies"


class Schedule(models.TextChoices):
    """How often a saved search runs by itself (Celery beat checks every few minutes)."""

    NONE = "", "Only when run by hand"
    WEEKLY = "weekly", "Every week"
    MONTHLY = "monthly", "Every month"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Fetching"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class SavedSearch(models.Model):
    """One database search kept with the review: run it again at any time."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="saved_searches")
    source = models.CharField(max_length=20, choices=ConnectorSource.choices)
    query = models.TextField()
    method = models.CharField(
        max_length=12, choices=SearchMethod.choices, default=SearchMethod.QUERY, blank=True
    )
    date_from = models.DateField(null=True, blank=True, help_text="Published on or after")
    date_to = models.DateField(null=True, blank=True, help_text="Published on or before")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_run_at = models.DateTimeField(null=True, blank=True)
    schedule = models.CharField(
        max_length=10, choices=Schedule.choices, default=Schedule.NONE, blank=True
    )
    next_run_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the schedule runs it next (empty without a schedule).",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The beat task's lookup of due searches: only scheduled ones are indexed.
            models.Index(
                fields=["next_run_at"],
                name="saved_search_due",
                condition=Q(next_run_at__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(schedule__in=Schedule.values), name="saved_search_schedule_valid"
            ),
            models.CheckConstraint(
                condition=Q(method="") | Q(method__in=SearchMethod.values, source="openalex"),
                name="saved_search_citations_from_openalex",
            ),
            models.CheckConstraint(
                condition=Q(schedule="", next_run_at__isnull=True) | ~Q(schedule=""),
                name="saved_search_next_run_only_scheduled",
            ),
            models.CheckConstraint(
                condition=Q(source__in=ConnectorSource.values), name="saved_search_source_valid"
            ),
            models.CheckConstraint(
                condition=Q(date_from__isnull=True)
                | Q(date_to__isnull=True)
                | Q(date_from__lte=F("date_to")),
                name="saved_search_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()}: {self.query[:80]}"


class SavedSearchRunQuerySet(models.QuerySet["SavedSearchRun"]):
    def with_counts(self) -> SavedSearchRunQuerySet:
        """With their search and ``duplicates``: how many of its records deduplication
        found already in the review (one query for any number of runs)."""
        return self.select_related("search").annotate(
            duplicates=models.Count(
                "search__records", filter=Q(search__records__duplicate_of__isnull=False)
            )
        )


class SavedSearchRun(models.Model):
    """One "Run now" of a saved search: what the database reported, what came back, and the
    search (an import like an upload) it became; or why nothing was imported."""

    saved_search = models.ForeignKey(SavedSearch, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    query_sent = models.TextField(blank=True)
    reported_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="How many records the database said it found."
    )
    fetched_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="How many records the database answered."
    )
    known_count = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="How many of the fetched records the review had already from this source "
        "(an earlier run, an uploaded export): left out of the import.",
    )
    scheduled = models.BooleanField(
        default=False, help_text="Started by the saved search's schedule, not by a person."
    )
    notes = models.JSONField(default=list, blank=True)
    failure = models.TextField(blank=True, help_text="Why nothing was imported.")
    search = models.OneToOneField(
        Search,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="saved_search_run",
    )

    objects = SavedSearchRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=RunStatus.values), name="saved_search_run_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.saved_search_id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (RunStatus.DONE, RunStatus.FAILED)
