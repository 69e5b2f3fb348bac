"""Pages for open-access retrieval: start a look-up of free copies for the records at full
text without a PDF, follow a run (polled with htmx while it runs), and see the records
still without a PDF."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_safe

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.access import get_review_for
from reviewflow.reviews.models import Role
from screening.models import OaRun
from screening.selectors.openaccess import latest_results, records_without_pdf
from screening.services.openaccess import run_counts, start_oa_run

# How many records without a PDF the page lists (the count says how many there are).
LISTED = 200


@login_required
def oa_runs(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the open-access page (the button, recent runs, the records still without a
    PDF). POST (reviewers and owners, like uploading PDFs): start a look-up."""
    access = get_review_for(request.user, slug)
    if request.method == "POST":
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        try:
            run = start_oa_run(review=access.review, actor=access.user)
        except ReviewflowError as exc:
            messages.error(request, exc.message)
            return redirect("oa-runs", slug=slug)
        messages.success(
            request, f"Looking for open-access copies of {run.records_total} record(s)."
        )
        return redirect("oa-run", slug=slug, run_id=run.pk)
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405)
    missing = records_without_pdf(access.review)
    listed = list(missing.only("id", "title", "authors", "year", "doi", "pmid")[:LISTED])
    latest = latest_results([r.pk for r in listed])
    context = {
        "access": access,
        "review": access.review,
        "runs": OaRun.objects.filter(review=access.review)[:10],
        "missing": [{"record": r, "result": latest.get(r.pk)} for r in listed],
        "missing_count": missing.count(),
        "listed": LISTED,
    }
    return render(request, "screening/openaccess/runs.html", context)


@login_required
@require_safe
def oa_run(request: HttpRequest, slug: str, run_id: int) -> HttpResponse:
    """One run: its progress and each record's result (source, address, licence)."""
    access = get_review_for(request.user, slug)
    run = get_object_or_404(OaRun, pk=run_id, review=access.review)
    template = (
        "screening/openaccess/_run_status.html"
        if getattr(request, "htmx", False)
        else "screening/openaccess/run.html"
    )
    context = {
        "access": access,
        "review": access.review,
        "run": run,
        "results": list(run.results.select_related("record").order_by("pk")),
        "counts": run_counts(run),
    }
    return render(request, template, context)
