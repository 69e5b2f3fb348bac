"""Screening questions: a short checklist per stage ("Population: adults with diabetes?"),
answered yes / no / unclear by each reviewer on each record, exported and measured for
agreement question by question."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from reviewflow.reviews.models import Review
from screening.models.identification import Record
from screening.models.screening import Stage


class Answer(models.TextChoices):
    YES = "yes", "Yes"
    NO = "no", "No"
    UNCLEAR = "unclear", "Unclear"


class ScreeningQuestion(models.Model):
    """One question of a stage's checklist; owners define them."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="questions")
    stage = models.CharField(max_length=20, choices=Stage.choices)
    text = models.CharField(max_length=200)
    order = models.PositiveSmallIntegerField(default=0)
    exclusion_reason = models.CharField(
        max_length=200,
        blank=True,
        help_text="The exclusion reason a 'no' proposes (one of the stage's reasons).",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["review", "stage", "text"], name="question_text_unique"
            ),
            models.CheckConstraint(
                condition=Q(stage__in=Stage.values), name="question_stage_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.text


class QuestionAnswer(models.Model):
    """One reviewer's answer to one question on one record.

    An answer says as much about a reviewer's judgement as a vote, so others see it under
    the same rule as votes: once the record is settled or in conflict at the question's
    stage, or when the stage is not blind.
    """

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="+")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(
        ScreeningQuestion, on_delete=models.CASCADE, related_name="answers"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    answer = models.CharField(max_length=10, choices=Answer.choices)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["question__order", "question_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["question", "record", "reviewer"], name="answer_once_per_reviewer"
            ),
            models.CheckConstraint(condition=Q(answer__in=Answer.values), name="answer_valid"),
        ]
        indexes = [
            models.Index(fields=["review", "record"], name="answer_review_record"),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer_id}: {self.answer} to {self.question_id} on {self.record_id}"
