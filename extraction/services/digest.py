"""What waits for a member in a review's extraction, for their digest
(``reviewflow.reviews.digest``): the extractions assigned to them and not yet submitted
(an ``Extraction`` in draft is one an extractor has, or was given), and those due soon or
overdue. A read, kept beside the services that write these rows: ``extraction`` has one
module of selectors, shared by pages that need no digest."""

from __future__ import annotations

from datetime import date

from django.db.models import Count, Min, Q
from django.urls import reverse
from django.utils.formats import date_format

from extraction.models import Extraction, ExtractionStatus
from reviewflow.reviews.models import Membership, Role


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def extraction_lines(
    membership: Membership, *, today: date, horizon: date
) -> list[tuple[str, str]]:
    """(text, path) of the member's unsubmitted extractions and their deadlines."""
    if not membership.has_role(Role.REVIEWER):
        return []
    found = Extraction.objects.filter(
        form__review_id=membership.review_id,
        extractor_id=membership.user_id,
        status=ExtractionStatus.DRAFT,
    ).aggregate(
        drafts=Count("id"),
        overdue=Count("id", filter=Q(due_date__lt=today)),
        first_overdue=Min("due_date", filter=Q(due_date__lt=today)),
        soon=Count("id", filter=Q(due_date__gte=today, due_date__lte=horizon)),
        first_soon=Min("due_date", filter=Q(due_date__gte=today, due_date__lte=horizon)),
    )
    if not found["drafts"]:
        return []
    url = reverse("extraction-home", args=[membership.review.slug])
    lines = [(f"{_n(found['drafts'], 'extraction', 'extractions')} assigned to you", url)]
    if found["overdue"]:
        since = date_format(found["first_overdue"], "j F Y")
        lines.append(
            (
                f"{_n(found['overdue'], 'extraction', 'extractions')} overdue (due since {since})",
                url,
            )
        )
    if found["soon"]:
        first = date_format(found["first_soon"], "j F Y")
        lines.append(
            (
                f"{_n(found['soon'], 'extraction', 'extractions')} due soon (the first on {first})",
                url,
            )
        )
    return lines
