"""Screening: stage settings, votes, outcomes, conflicts, claims and pilot rounds."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from reviewflow.reviews.models import Review
from screening.models.identification import Record


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
    open_after_assigned = models.BooleanField(
        default=True,
        help_text="When a reviewer has screened every record assigned to them, offer them "
        "any open record.",
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

    A vote cast into a slot reopened after the record's votes were shown (a blind stage,
    the record settled or in conflict, a vote taken back: ``ReservedVote``) is not blind:
    ``after_reveal`` says so, and ``blind_*`` keep the first, blind vote of the same
    reviewer that it replaces (empty when the reviewer had none). Such a vote settles the
    record only if it repeats that blind vote; otherwise the record goes to adjudication,
    and agreement statistics read the blind vote.
    """

    # Foreign keys indexed as the first column of the indexes and constraints below.
    review = models.ForeignKey(
        Review, on_delete=models.CASCADE, related_name="votes", db_index=False
    )
    record = models.ForeignKey(
        Record, on_delete=models.CASCADE, related_name="votes", db_index=False
    )
    stage = models.CharField(max_length=20, choices=Stage.choices)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="votes"
    )
    slot = models.PositiveSmallIntegerField()
    decision = models.CharField(max_length=10, choices=Decision.choices)
    reason = models.CharField(max_length=200, blank=True)
    note = models.TextField(blank=True)
    after_reveal = models.BooleanField(
        default=False,
        help_text="Cast after the record's other votes were shown (a vote taken back and "
        "cast again once the record was settled or in conflict at a blind stage).",
    )
    blind_decision = models.CharField(
        max_length=10,
        choices=Decision.choices,
        blank=True,
        help_text="The reviewer's first, blind decision that this vote replaces.",
    )
    blind_reason = models.CharField(max_length=200, blank=True)
    blind_note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["record", "stage", "reviewer"], name="vote_once_per_reviewer"
            ),
            # Only a vote cast after the reveal replaces a blind one.
            models.CheckConstraint(
                condition=Q(after_reveal=True)
                | Q(blind_decision="", blind_reason="", blind_note=""),
                name="vote_blind_only_after_reveal",
            ),
            models.CheckConstraint(
                condition=Q(blind_decision__in=["", *Decision.values]),
                name="vote_blind_decision_valid",
            ),
            models.UniqueConstraint(fields=["record", "stage", "slot"], name="vote_slot_unique"),
            models.CheckConstraint(condition=Q(slot__gte=1, slot__lte=3), name="vote_slot_1_to_3"),
            models.CheckConstraint(
                condition=Q(decision__in=Decision.values), name="vote_decision_valid"
            ),
            models.CheckConstraint(condition=Q(stage__in=Stage.values), name="vote_stage_valid"),
        ]
        indexes = [
            models.Index(fields=["review", "stage", "record"], name="vote_review_stage_record"),
            # A reviewer's history, newest first, walked by its key: any page of 100,000
            # votes is read without sorting them all (#25). It also serves a reviewer's votes
            # at a stage (its first three columns).
            models.Index(
                fields=["review", "stage", "reviewer", "created_at", "id"], name="vote_history"
            ),
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

    # Foreign keys indexed as the first column of outcome_stage and outcome_once_per_stage.
    review = models.ForeignKey(
        Review, on_delete=models.CASCADE, related_name="outcomes", db_index=False
    )
    record = models.ForeignKey(
        Record, on_delete=models.CASCADE, related_name="outcomes", db_index=False
    )
    stage = models.CharField(max_length=20, choices=Stage.choices)
    decision = models.CharField(max_length=10, choices=Decision.choices)
    reason = models.CharField(max_length=200, blank=True)
    note = models.TextField(
        blank=True, help_text="The adjudicator's note: why the conflict was decided so."
    )
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
    # Indexed as the first column of conflict_once_per_stage.
    record = models.ForeignKey(
        Record, on_delete=models.CASCADE, related_name="conflicts", db_index=False
    )
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

    # Foreign keys indexed as the first column of claim_record_stage and
    # claim_one_per_reviewer.
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="+", db_index=False)
    stage = models.CharField(max_length=20, choices=Stage.choices)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
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
    still screen in the review, and goes with their next vote on the record.

    ``blind_*`` keep that reviewer's first, blind vote on the record (the vote taken back,
    or the blind vote it had replaced): the vote cast into the slot is ``after_reveal``
    and carries them (``Vote``)."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="+")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="+")
    stage = models.CharField(max_length=20, choices=Stage.choices)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    blind_decision = models.CharField(max_length=10, choices=Decision.choices, blank=True)
    blind_reason = models.CharField(max_length=200, blank=True)
    blind_note = models.TextField(blank=True)
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
    # Indexed as the first column of state_once_per_stage.
    record = models.ForeignKey(
        Record, on_delete=models.CASCADE, related_name="screening_states", db_index=False
    )
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
