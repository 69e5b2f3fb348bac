"""Searches (one export file each) and the records imported from them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Mod
from django.utils import timezone

from reviewflow.reviews.models import Review
from screening.fields import JSONTextField


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


class SearchQuerySet(models.QuerySet["Search"]):
    def for_review(self, review: Review) -> SearchQuerySet:
        return self.filter(review=review)


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

    objects = SearchQuerySet.as_manager()

    # Not stored: set by ``create_search`` when the import task could not be sent (the
    # broker was down), so the page can say so. The search is queued all the same, and the
    # worker sends its import when it connects.
    import_deferred: bool = False

    class Meta:
        ordering = ["created_at", "id"]
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
        return self.status in (SearchStatus.DONE, SearchStatus.FAILED)

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

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="records")
    search = models.ForeignKey(Search, on_delete=models.CASCADE, related_name="records")
    position = models.PositiveIntegerField(help_text="1-based position of the record in its file")
    line = models.PositiveIntegerField(help_text="Line of the file where the record starts")
    source_record_id = models.CharField(max_length=255, blank=True)
    title = models.TextField(blank=True)
    abstract = models.TextField(blank=True)
    authors = models.JSONField(default=list, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    journal = models.CharField(max_length=500, blank=True)
    volume = models.CharField(max_length=100, blank=True)
    issue = models.CharField(max_length=100, blank=True)
    pages = models.CharField(max_length=100, blank=True)
    doi = models.CharField(max_length=255, blank=True, db_index=True)
    pmid = models.CharField(max_length=20, blank=True, db_index=True)
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

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="duplicate_pairs")
    record_a = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="+")
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
        indexes = [models.Index(fields=["review", "decision"], name="pair_review_decision")]

    def __str__(self) -> str:
        return f"{self.record_a_id} ~ {self.record_b_id} ({self.decision})"


# ------------------------------------------------------------------------------ screening


class Stage(models.TextChoices):
    TITLE_ABSTRACT = "title-abstract", "Title and abstract"
    FULL_TEXT = "full-text", "Full text"


class Decision(models.TextChoices):
    INCLUDE = "include", "Include"
    EXCLUDE = "exclude", "Exclude"
    MAYBE = "maybe", "Maybe"


class Adjudicators(models.TextChoices):
    OWNERS = "owners", "Owners"
    REVIEWERS = "reviewers", "Owners and reviewers (not on records they voted on)"


class StageOrder(models.TextChoices):
    RANDOM = "random", "Random (the right choice for a pilot round)"
    RELEVANCE = "relevance", "Most relevant first"


class StageSettings(models.Model):
    """How one stage of a review is screened; owners change it."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="stage_settings")
    stage = models.CharField(max_length=20, choices=Stage.choices)
    reviewers_needed = models.PositiveSmallIntegerField(
        default=2, help_text="How many reviewers vote on each record (1, 2 or 3)."
    )
    blind = models.BooleanField(
        default=True, help_text="Reviewers cannot see each other's votes until a record is settled."
    )
    criteria = models.TextField(
        blank=True, help_text="Eligibility criteria shown beside every record."
    )
    include_terms = models.TextField(blank=True, help_text="One per line; * is a wildcard.")
    exclude_terms = models.TextField(blank=True, help_text="One per line; * is a wildcard.")
    exclusion_reasons = models.JSONField(default=list, blank=True)
    reasons_required = models.BooleanField(
        default=False, help_text="Exclusions need a reason (always so at full text)."
    )
    adjudicators = models.CharField(
        max_length=10, choices=Adjudicators.choices, default=Adjudicators.OWNERS
    )
    order = models.CharField(
        max_length=10,
        choices=StageOrder.choices,
        default=StageOrder.RANDOM,
        help_text="The order unscreened records are offered in.",
    )
    show_scores = models.BooleanField(
        default=False,
        help_text="Show each record's relevance score on the screening page (a score can "
        "anchor a reviewer: keep it off while screening is blind).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["review", "stage"], name="stage_settings_unique"),
            models.CheckConstraint(
                condition=Q(order__in=StageOrder.values), name="stage_order_valid"
            ),
            models.CheckConstraint(
                condition=Q(reviewers_needed__gte=1, reviewers_needed__lte=3),
                name="stage_reviewers_1_to_3",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.review} — {self.get_stage_display()}"

    @property
    def needs_reason(self) -> bool:
        return self.stage == Stage.FULL_TEXT or self.reasons_required


class Vote(models.Model):
    """One reviewer's decision on one record at one stage.

    ``slot`` (1…reviewers_needed) is taken at insert: the unique constraint on
    (record, stage, slot) lets the database refuse a vote beyond what the stage needs,
    however many reviewers vote at the same moment.
    """

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="votes")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="votes")
    stage = models.CharField(max_length=20, choices=Stage.choices)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="votes"
    )
    slot = models.PositiveSmallIntegerField()
    decision = models.CharField(max_length=10, choices=Decision.choices)
    reason = models.CharField(max_length=200, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["record", "stage", "reviewer"], name="vote_once_per_reviewer"
            ),
            models.UniqueConstraint(fields=["record", "stage", "slot"], name="vote_slot_unique"),
            models.CheckConstraint(condition=Q(slot__gte=1, slot__lte=3), name="vote_slot_1_to_3"),
            models.CheckConstraint(
                condition=Q(decision__in=Decision.values), name="vote_decision_valid"
            ),
            models.CheckConstraint(condition=Q(stage__in=Stage.values), name="vote_stage_valid"),
        ]
        indexes = [
            models.Index(fields=["review", "stage", "reviewer"], name="vote_review_stage_user"),
            models.Index(fields=["review", "stage", "record"], name="vote_review_stage_record"),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} {self.decision} record {self.record_id} ({self.stage})"


class OutcomeKind(models.TextChoices):
    AGREEMENT = "agreement", "Reviewers agreed"
    ADJUDICATION = "adjudication", "Conflict resolved"
    # Unscreened records excluded when the team stopped screening early; ``reason`` holds
    # the stopping method (see StoppingDecision). PRISMA: "marked ineligible by automation".
    AUTOMATION = "automation", "Excluded by automation tool"


class Outcome(models.Model):
    """A record's settled result at a stage: by agreement of its votes or by adjudication."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="outcomes")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="outcomes")
    stage = models.CharField(max_length=20, choices=Stage.choices)
    decision = models.CharField(max_length=10, choices=Decision.choices)
    reason = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=15, choices=OutcomeKind.choices)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["record", "stage"], name="outcome_once_per_stage"),
            models.CheckConstraint(
                condition=Q(decision__in=[Decision.INCLUDE, Decision.EXCLUDE]),
                name="outcome_include_or_exclude",
            ),
        ]
        indexes = [
            models.Index(fields=["review", "stage", "decision"], name="outcome_stage"),
            # The few records an automation tool excluded: ``next`` and votes leave them out
            # with a lookup here rather than a scan of every outcome of the review.
            models.Index(
                fields=["record", "stage"],
                name="outcome_automation",
                condition=Q(kind="automation"),
            ),
        ]

    def __str__(self) -> str:
        return f"record {self.record_id}: {self.decision} at {self.stage}"


class Conflict(models.Model):
    """Votes on a record that disagree; open until an adjudicator decides."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="conflicts")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="conflicts")
    stage = models.CharField(max_length=20, choices=Stage.choices)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["record", "stage"], name="conflict_once_per_stage"),
        ]

    def __str__(self) -> str:
        return f"conflict on record {self.record_id} ({self.stage})"


class Claim(models.Model):
    """A record offered to a reviewer by ``next``, held for a few minutes so two reviewers
    are not offered the last open vote of one record at once (the vote slots stay the hard
    guarantee)."""

    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="+")
    stage = models.CharField(max_length=20, choices=Stage.choices)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    expires_at = models.DateTimeField()
    walked_to = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="The last record this reviewer was offered from the untouched records' "
        "order: walks resume after the furthest of these, not from the start.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["reviewer", "stage"], name="claim_one_per_reviewer"),
        ]
        indexes = [models.Index(fields=["record", "stage"], name="claim_record_stage")]

    def __str__(self) -> str:
        return f"record {self.record_id} held for {self.reviewer_id}"


class ReservedVote(models.Model):
    """A vote slot kept for the reviewer who took their vote back (``undo_last_vote``) on a
    record that was already settled or in conflict at a blind stage. Its other votes were
    then visible to every member (``votes_visible_to``), so the reopened slot must not go
    to someone who may have read them; it is kept for the reviewer who had it, while they
    still screen in the review, and goes with their next vote on the record."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="+")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="+")
    stage = models.CharField(max_length=20, choices=Stage.choices)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["record", "stage"], name="reserved_vote_one_per_record"
            ),
        ]

    def __str__(self) -> str:
        return f"a vote on record {self.record_id} kept for {self.reviewer_id}"


class ScreeningState(models.Model):
    """Where one record stands at one stage, kept beside its votes so that finding the next
    record is an index lookup rather than a count over every vote of the review.

    A row exists exactly while the record has at least one vote at the stage. ``votes``
    counts them; ``closed`` says the record has an outcome or a conflict. Only the
    screening services write it, inside the transaction (holding the record's row lock)
    that adds or removes the vote.
    """

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="+")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="screening_states")
    stage = models.CharField(max_length=20, choices=Stage.choices)
    votes = models.PositiveSmallIntegerField()
    closed = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["record", "stage"], name="state_once_per_stage"),
            models.CheckConstraint(
                condition=Q(votes__gte=1, votes__lte=3), name="state_votes_1_to_3"
            ),
            models.CheckConstraint(condition=Q(stage__in=Stage.values), name="state_stage_valid"),
        ]
        indexes = [
            # Records waiting for more votes: few at any time, whatever the review's size.
            models.Index(
                fields=["review", "stage", "votes"],
                name="state_open",
                condition=Q(closed=False),
            ),
        ]

    def __str__(self) -> str:
        return f"record {self.record_id}: {self.votes} votes at {self.stage}"


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


class PilotRound(models.Model):
    """A calibration round: every reviewer screens the same records first, and owners see
    each pair's agreement before the main round starts. Pilot votes do not count."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="pilot_rounds")
    stage = models.CharField(max_length=20, choices=Stage.choices)
    records = models.ManyToManyField(Record, related_name="+")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["review", "stage"],
                condition=Q(closed_at__isnull=True),
                name="pilot_one_open_per_stage",
            ),
        ]

    def __str__(self) -> str:
        return f"pilot of {self.review} ({self.stage})"


class PilotVote(models.Model):
    pilot = models.ForeignKey(PilotRound, on_delete=models.CASCADE, related_name="votes")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="+")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decision = models.CharField(max_length=10, choices=Decision.choices)
    reason = models.CharField(max_length=200, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pilot", "record", "reviewer"], name="pilot_vote_once"),
        ]

    def __str__(self) -> str:
        return f"pilot vote by {self.reviewer_id} on {self.record_id}"


class PrismaSettings(models.Model):
    """What the flow diagram cannot learn from the data, entered by an owner."""

    review = models.OneToOneField(Review, on_delete=models.CASCADE, related_name="prisma")
    updated_review = models.BooleanField(
        default=False, help_text="An update of an earlier review (adds “Previous studies”)."
    )
    previous_studies = models.PositiveIntegerField(null=True, blank=True)
    previous_reports = models.PositiveIntegerField(null=True, blank=True)
    duplicates_before_import = models.PositiveIntegerField(
        default=0, help_text="Duplicates removed before the exports reached reviewflow."
    )
    excluded_automatic = models.PositiveIntegerField(
        default=0, help_text="Records marked ineligible by automation tools outside reviewflow."
    )
    excluded_other = models.PositiveIntegerField(
        default=0, help_text="Records removed before screening for other reasons."
    )
    website_results = models.PositiveIntegerField(
        default=0, help_text="Records from websites identified outside reviewflow."
    )
    organisation_results = models.PositiveIntegerField(default=0)
    citations_results = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"PRISMA counts of {self.review}"


# ------------------------------------------------------------------------------ prioritisation


class RankingStatus(models.TextChoices):
    IDLE = "idle", "Not trained yet"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Training"
    DONE = "done", "Ranked"
    WAITING = "waiting", "Waiting for decisions"
    FAILED = "failed", "Failed"


class RankingRun(models.Model):
    """The relevance model of one stage: its last training and whether one is queued.

    One row per review and stage. ``status`` coalesces retrains: a vote queues one only
    when none is queued or running, and a run that ends re-queues itself if enough new
    decisions arrived meanwhile.
    """

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="ranking_runs")
    stage = models.CharField(max_length=20, choices=Stage.choices)
    status = models.CharField(
        max_length=10, choices=RankingStatus.choices, default=RankingStatus.IDLE
    )
    message = models.CharField(max_length=300, blank=True)
    model = models.CharField(max_length=20, blank=True)
    decisions = models.PositiveIntegerField(
        default=0, help_text="Votes at this stage when the model was last trained."
    )
    n_included = models.PositiveIntegerField(default=0)
    n_excluded = models.PositiveIntegerField(default=0)
    n_scored = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    trained_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["review", "stage"], name="ranking_run_unique"),
            models.CheckConstraint(
                condition=Q(status__in=RankingStatus.values), name="ranking_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"ranking of {self.review} ({self.stage}): {self.status}"


class RelevanceScore(models.Model):
    """The model's score of one unscreened record at one stage (higher: more likely
    relevant). Replaced wholesale at each retrain; read by ``next_record``."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="+")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="relevance_scores")
    stage = models.CharField(max_length=20, choices=Stage.choices)
    score = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["record", "stage"], name="relevance_once_per_stage"),
        ]
        indexes = [
            # next_record walks this index from the top: most relevant first.
            models.Index(
                models.F("review"),
                models.F("stage"),
                models.F("score").desc(),
                name="relevance_review_stage_score",
            ),
        ]

    def __str__(self) -> str:
        return f"record {self.record_id}: {self.score:.3f} ({self.stage})"


class StoppingDecision(models.Model):
    """An owner stopped screening a stage early: the records left unscreened were excluded
    as "excluded by automation tool", with the method and what it said at the time."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="stopping_decisions")
    stage = models.CharField(max_length=20, choices=Stage.choices)
    method = models.CharField(max_length=20)
    method_label = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, help_text="guarantee or heuristic")
    summary = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    records_screened = models.PositiveIntegerField()
    records_excluded = models.PositiveIntegerField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-decided_at"]

    def __str__(self) -> str:
        return f"{self.review} stopped early at {self.stage} ({self.method})"
