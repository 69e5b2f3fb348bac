"""PRISMA: what the flow diagram needs that the data cannot know."""

from __future__ import annotations

from django.db import models

from reviewflow.reviews.models import Review


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
