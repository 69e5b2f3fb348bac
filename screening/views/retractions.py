"""The retraction watch's pages (#21): the review's flagged records and its checks, a
button that checks now (owners), and the dashboard's panel of flagged studies."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.access import get_review_for, signed_in_user
from reviewflow.reviews.models import Role
from screening.selectors.retractions import (
    flagged_records,
    recent_checks,
    unfinished_check,
    watched,
)
from screening.services import retractions


@login_required
@require_safe
def retractions_page(request: HttpRequest, slug: str) -> HttpResponse:
    access = get_review_for(request.user, slug)
    review = access.review
    return render(
        request,
        "screening/retractions/page.html",
        {
            "access": access,
            "review": review,
            "flagged": flagged_records(review),
            "checks": recent_checks(review),
            "running": unfinished_check(review),
            "watched": watched(review).count(),
        },
    )


@login_required
@require_POST
def retractions_check(request: HttpRequest, slug: str) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    try:
        retractions.request_check(review=access.review, actor=signed_in_user(request))
    except ReviewflowError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            "Checking the included and full-text records against Crossref's retraction and "
            "correction notices; this page shows what it finds.",
        )
    return redirect("retractions", slug=slug)


@login_required
@require_safe
def retractions_panel(request: HttpRequest, slug: str) -> HttpResponse:
    """The dashboard's panel (loaded by htmx): the included studies and full-text records
    that carry a notice."""
    access = get_review_for(request.user, slug)
    return render(
        request,
        "screening/retractions/_panel.html",
        {
            "access": access,
            "review": access.review,
            "flagged": flagged_records(access.review, included_only=True),
        },
    )
