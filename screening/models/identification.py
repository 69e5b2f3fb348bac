"""Identification: searches (one export file each) and the records imported from them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Mod
from django.utils import timezone

from reviewflow.reviews.models import Review
from screening.models.fields import JSONTextField


class SourceType(models.TextChoices):
    DATABASE = "database", "Database"
    REGISTER = "register", "Register"
    OTHER = "other", "Other method"


class OtherMethod(models.TextChoices):
    """What kind of 'other method' a search of type ``other`` was (PRISMA's right column)."""

    WEBSITE = "website", "Websites"
    ORGANISATION = "organisation", "Organisations"
    CITATION = "citation", "Citation searching"


class SearchStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    # Replaced by a new run of the same search (``Search.supersedes``): its records are gone
    # and it counts nowhere; the row stays as the history of what was searched when.
    SUPERSEDED = "superseded", "Superseded"


class SearchQuerySet(models.QuerySet["Search"]):
    def for_review(self, review: Review) -> SearchQuerySet:
        return self.filter(review=review)

    def counted(self) -> SearchQuerySet:
        """Searches whose records count (PRISMA, the dashboard): imported, not replaced."""
        return self.filter(status=SearchStatus.DONE)


class Search(models.Model):
    """One export file from one source, with its import status, progress and counts."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="searches")
    source = models.CharField(max_length=120, help_text="e.g. PubMed, Embase, Scopus")
    source_type = models.CharField(
        max_length=10, choices=SourceType.choices, default=SourceType.DATABASE
    )
    other_method = models.CharField(
        max_length=15,
        choices=OtherMethod.choices,
        blank=True,
        help_text="For other methods: websites, organisations or citation searching.",
    )
    search_date = models.DateField(null=True, blank=True)
    search_string = models.TextField(blank=True)
    file = models.FileField(upload_to="searches/%Y/%m/")
    filename = models.CharField(max_length=255)
    file_size = models.BigIntegerField(default=0)
    format_requested = models.CharField(max_length=10, default="auto")
    format = models.CharField(max_length=10, blank=True)
    column_map = models.JSONField(default=dict, blank=True)
    encoding_requested = models.CharField(
        max_length=20, default="auto", help_text="auto (detect), or the encoding the uploader named"
    )
    encoding = models.CharField(max_length=20, blank=True)
    status = models.CharField(
        max_length=10, choices=SearchStatus.choices, default=SearchStatus.QUEUED
    )
    attempt = models.PositiveIntegerField(default=0)
    bytes_read = models.BigIntegerField(default=0)
    records_read = models.PositiveIntegerField(default=0)
    records_imported = models.PositiveIntegerField(default=0)
    records_rejected = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    failure = models.TextField(blank=True, help_text="Why the whole file could not be imported.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set in the transaction that finishes the import, cleared by the deduplication that
    # compares this search's records: while set, the worker sends the deduplication again
    # each time it connects to the broker (a Redis restart loses the messages it held).
    dedup_requested_at = models.DateTimeField(null=True, blank=True)
    # The last sign of life of the import (while ``running``) or of the deduplication (while
    # one runs for this search; cleared when it ends): a worker restarts a task silent for
    # ``STALE_TASK_SECONDS``, whose whole worker died (``identification.restart_stale_imports``).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Fingerprints that keep one export from counting twice in PRISMA: the SHA-256 of the
    # file's bytes (inflated when gzipped), set on upload; and of the sorted identities of
    # its records (DOI, else PMID, else title and year), set when the import ends.
    content_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    records_sha256 = models.CharField(max_length=64, blank=True)
    supersedes = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="superseded_by",
        help_text="The earlier search this one is a new run of; it replaces it once imported.",
    )
    round = models.PositiveSmallIntegerField(
        default=1,
        help_text="The update round the search belongs to (1: the review as first done).",
    )
    imported_mid_screening = models.BooleanField(
        default=False,
        help_text="Imported once the review's screening had begun (a re-run, a search of an "
        "update round): its records are offered before the older untouched ones.",
    )

    objects = SearchQuerySet.as_manager()

    # Not stored: set by ``create_search`` when the import task could not be sent (the
    # broker was down), so the page can say so. The search is queued all the same, and the
    # worker sends its import when it connects.
    import_deferred: bool = False

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "searches"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=SearchStatus.values), name="search_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(source_type__in=SourceType.values), name="search_source_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} ({self.filename})"

    @property
    def percent(self) -> int:
        if self.status == SearchStatus.DONE:
            return 100
        if not self.file_size:
            return 0
        return min(99, int(100 * self.bytes_read / self.file_size))

    @property
    def is_finished(self) -> bool:
        return self.status in (SearchStatus.DONE, SearchStatus.FAILED, SearchStatus.SUPERSEDED)

    def describe(self) -> str:
        """How a message names this search: source, date and file."""
        when = self.search_date or timezone.localtime(self.created_at).date()
        return f"{self.source}, {when.day} {when:%b %Y}, {self.filename} (search {self.pk})"

    @property
    def dedup_pending(self) -> bool:
        return self.dedup_requested_at is not None


class MergeKind(models.TextChoices):
    AUTO = "auto", "Merged automatically"
    CONFIRMED = "confirmed", "Merged by a person"


class RecordQuerySet(models.QuerySet["Record"]):
    def for_review(self, review: Review) -> RecordQuerySet:
        # Records of a search still importing (or failed) are not shown anywhere.
        return self.filter(review=review, search__status=SearchStatus.DONE)

    def unique(self) -> RecordQuerySet:
        """Records that are not duplicates of another: the ones that go on to screening."""
        return self.filter(duplicate_of__isnull=True)


class Record(models.Model):
    """One imported citation: normalised fields for matching, raw fields as the source gave."""

    # Neither foreign key has an index of its own: each leads an index below (``review``:
    # record_review_order, ``search``: record_unique_position), and every index more is
    # written at each imported record (#25).
    review = models.ForeignKey(
        Review, on_delete=models.CASCADE, related_name="records", db_index=False
    )
    search = models.ForeignKey(
        Search, on_delete=models.CASCADE, related_name="records", db_index=False
    )
    position = models.PositiveIntegerField(help_text="1-based position of the record in its file")
    line = models.PositiveIntegerField(help_text="Line of the file where the record starts")
    source_record_id = models.CharField(max_length=255, blank=True)
    # The bibliographic fields of ``screening.bibliography.FIELDS``, in its order, spelled
    # out for mypy and the migrations; tests/screening/test_field_table.py checks they agree.
    title = models.TextField(blank=True)
    abstract = models.TextField(blank=True)
    authors = models.JSONField(default=list, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    journal = models.CharField(max_length=500, blank=True)
    volume = models.CharField(max_length=100, blank=True)
    issue = models.CharField(max_length=100, blank=True)
    pages = models.CharField(max_length=100, blank=True)
    # Not indexed: records are never looked up by DOI or PMID across reviews, and within
    # a review the matching reads them whole (#25).
    doi = models.CharField(max_length=255, blank=True)
    pmid = models.CharField(max_length=20, blank=True)
    pmcid = models.CharField(max_length=20, blank=True)
    issn = models.CharField(max_length=100, blank=True)
    isbn = models.CharField(max_length=100, blank=True)
    keywords = models.JSONField(default=list, blank=True)
    language = models.CharField(max_length=100, blank=True)
    publication_type = models.CharField(max_length=200, blank=True)
    url = models.TextField(blank=True)
    incomplete = models.BooleanField(
        default=False, help_text="Imported, but without a title or without authors."
    )
    # Stored as text, not jsonb: written once per imported record, read whole (see fields.py).
    raw = JSONTextField(default=dict, blank=True)
    duplicate_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="duplicates",
        help_text="The primary record of this record's cluster, when this is a duplicate.",
    )
    merge_kind = models.CharField(max_length=10, choices=MergeKind.choices, blank=True)
    filled_from = models.JSONField(
        default=dict,
        blank=True,
        help_text="Fields this primary record took from a duplicate: {field: record id}.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = RecordQuerySet.as_manager()

    class Meta:
        ordering = ["search_id", "position"]
        constraints = [
            # A re-run import can never store a record of a file twice.
            models.UniqueConstraint(fields=["search", "position"], name="record_unique_position"),
            models.CheckConstraint(
                condition=Q(duplicate_of__isnull=True, merge_kind="")
                | Q(duplicate_of__isnull=False, merge_kind__in=MergeKind.values),
                name="record_merge_kind_matches",
            ),
            models.CheckConstraint(
                condition=~Q(duplicate_of=models.F("id")), name="record_not_own_duplicate"
            ),
        ]
        indexes = [
            models.Index(fields=["review", "year"], name="record_review_year"),
            # A review's merged records (the duplicates page's counts, merges to undo): without
            # it, at 2 million records, the planner read every review's merged records through
            # the foreign key's index of ``duplicate_of`` (#25).
            models.Index(
                fields=["review", "duplicate_of"],
                name="record_review_merged",
                condition=Q(duplicate_of__isnull=False),
            ),
            # The records list's order within the review: walked, not filtered from every
            # review's records in (search, position) order (#25).
            models.Index(fields=["review", "search", "position"], name="record_review_order"),
            # The order next_record offers untouched records in, walked instead of sorted.
            models.Index(
                models.F("review"),
                Mod(models.F("id") * 7919, 10007),
                models.F("id"),
                name="record_screening_order",
                condition=Q(duplicate_of__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.title[:80] or self.doi or self.pmid or f"record {self.pk}"

    @property
    def first_author(self) -> str:
        return self.authors[0] if self.authors else ""

    @property
    def publication_type_display(self) -> str:
        """The publication type in words: a RIS type code (``JOUR``) as what it means."""
        return RIS_TYPES.get(self.publication_type.strip().upper(), self.publication_type)


# The RIS reference types exports use most, as a reader would say them.
RIS_TYPES = {
    "ABST": "Abstract",
    "BOOK": "Book",
    "CHAP": "Book chapter",
    "CONF": "Conference proceedings",
    "CPAPER": "Conference paper",
    "DATA": "Dataset",
    "EJOUR": "Electronic article",
    "ELEC": "Web page",
    "GEN": "Generic",
    "JFULL": "Journal (full)",
    "JOUR": "Journal article",
    "MGZN": "Magazine article",
    "NEWS": "Newspaper article",
    "RPRT": "Report",
    "SER": "Serial publication",
    "THES": "Thesis",
    "UNPB": "Unpublished work",
}
