"""Labels: names a review's owners define ("background reading", "non-English") that members
put on records while they screen, to filter, count and export by."""

from __future__ import annotations

import string

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from reviewflow.reviews.models import Review
from screening.models.identification import Record
from screening.models.screening import Stage

# After ``l`` on the screening page, one of these keys applies a label.
LABEL_KEYS = [*"123456789", *string.ascii_lowercase]


class LabelColour(models.TextChoices):
    """A fixed palette (the stylesheet has one class per colour: no inline style)."""

    GREY = "grey", "Grey"
    BLUE = "blue", "Blue"
    GREEN = "green", "Green"
    YELLOW = "yellow", "Yellow"
    ORANGE = "orange", "Orange"
    RED = "red", "Red"
    PURPLE = "purple", "Purple"
    TEAL = "teal", "Teal"


class Label(models.Model):
    """One label of a review; owners define them."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=60)
    colour = models.CharField(max_length=10, choices=LabelColour.choices, default="grey")
    key = models.CharField(
        max_length=1,
        blank=True,
        help_text="Pressed after l on the screening page: 1-9 or a letter.",
    )
    order = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["order", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["review", "name"], name="label_name_unique"),
            models.UniqueConstraint(
                fields=["review", "key"], condition=~Q(key=""), name="label_key_unique"
            ),
            models.CheckConstraint(condition=Q(key__in=["", *LABEL_KEYS]), name="label_key_valid"),
            models.CheckConstraint(
                condition=Q(colour__in=LabelColour.values), name="label_colour_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RecordLabel(models.Model):
    """One member's label on one record, put there while the record was at ``stage``.

    A label belongs to the person who applied it: a reviewer's "check references" or
    "non-English" may hint at their vote, so others see it under the same rule as votes
    (``labels_visible_to``): once the record is settled or in conflict at that stage, or
    when the stage is not blind.
    """

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="+")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="record_labels")
    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="applications")
    stage = models.CharField(max_length=20, choices=Stage.choices)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["record", "label", "stage", "applied_by"], name="record_label_once"
            ),
            models.CheckConstraint(
                condition=Q(stage__in=Stage.values), name="record_label_stage_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["review", "label"], name="record_label_review_label"),
        ]

    def __str__(self) -> str:
        return f"{self.label_id} on record {self.record_id} by {self.applied_by_id}"
