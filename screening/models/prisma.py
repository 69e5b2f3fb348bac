"""PRISMA: what the flow diagram needs that the data cannot know."""

from __future__ import annotations

from django.db import models

from reviewflow.reviews.models import Review
from screening.models.rounds import UpdateRound


class EnteredCounts(models.Model):
    """The counts of one diagram that happened outside reviewflow: records removed before
    the exports reached it, and records other methods found outside it."""

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

    class Meta:
        abstract = True


class PrismaSettings(EnteredCounts):
    """What the flow diagram cannot learn from the data, entered by an owner: round 1's
    counts (an update round's are ``RoundPrismaCounts``), and whether the review updates an
    earlier one."""

    review = models.OneToOneField(Review, on_delete=models.CASCADE, related_name="prisma")
    updated_review = models.BooleanField(
        default=False, help_text="An update of an earlier review (adds “Previous studies”)."
    )
    previous_studies = models.PositiveIntegerField(null=True, blank=True)
    previous_reports = models.PositiveIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"PRISMA counts of {self.review}"


class RoundPrismaCounts(EnteredCounts):
    """The counts an owner entered for an update round's diagram (round 2, 3, …). Its
    previous studies and reports are not entered: they are those the earlier rounds
    included."""

    update_round = models.OneToOneField(
        UpdateRound, on_delete=models.CASCADE, related_name="prisma_counts"
    )

    def __str__(self) -> str:
        return f"PRISMA counts of {self.update_round}"
