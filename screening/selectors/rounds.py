"""Reads of update rounds, used by imports, PRISMA and the changelog."""

from __future__ import annotations

from django.db.models import Max

from reviewflow.reviews.models import Review
from screening.models import UpdateRound


def current_round(review: Review) -> int:
    """The round new searches belong to: the latest started, or 1."""
    latest = UpdateRound.objects.filter(review=review).aggregate(n=Max("number"))["n"]
    return latest or 1


def rounds_of(review: Review) -> list[int]:
    """Every round of the review, 1 first."""
    return [1, *UpdateRound.objects.filter(review=review).values_list("number", flat=True)]
