"""Prioritisation: ranking runs, relevance scores and stopping decisions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from reviewflow.reviews.models import Review
from screening.models.identification import Record
from screening.models.screening import Stage


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
