"""What the extraction pages share: the form and the study a URL names, and the
page context."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404

from extraction.forms import JUDGEMENTS
from extraction.models import Form
from extraction.selectors import included_studies
from reviewflow.reviews.access import ReviewAccess
from screening.models import Record


def get_form(access: ReviewAccess, form_id: int) -> Form:
    """The review's form with this id, else 404."""
    return get_object_or_404(Form, pk=form_id, review=access.review)


def get_study(access: ReviewAccess, record_id: int) -> Record:
    """An included study of the review, else 404."""
    return get_object_or_404(included_studies(access.review), pk=record_id)


def page_context(access: ReviewAccess, **extra: Any) -> dict[str, Any]:
    return {"access": access, "review": access.review, "judgements": JUDGEMENTS, **extra}
