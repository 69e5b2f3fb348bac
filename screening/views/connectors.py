"""Pages of saved database searches: keep a PubMed, Europe PMC, OpenAlex or ClinicalTrials.gov
search, run it now."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.access import get_review_for, signed_in_user
from reviewflow.reviews.models import Role
from screening.forms.connectors import CitationSearchForm, SavedSearchForm, ScheduleForm
from screening.models import SavedSearch, SavedSearchRun, Schedule
from screening.services import connectors


@login_required
def saved_searches(request: HttpRequest, slug: str) -> HttpResponse:
    access = get_review_for(request.user, slug)
    review = access.review
    form = SavedSearchForm()
    citations = CitationSearchForm()
    if request.method == "POST" and "method" in request.POST:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        citations = CitationSearchForm(request.POST)
        if citations.is_valid():
            saved = connectors.create_saved_search(
                review=review,
                actor=signed_in_user(request),
                source="openalex",
                method=citations.cleaned_data["method"],
            )
            messages.success(request, f"Saved: {saved}. Run it when you are ready.")
            return redirect("saved-searches", slug=slug)
    elif request.method == "POST":
        access = get_review_for(request.user, slug, role=Role.OWNER)
        form = SavedSearchForm(request.POST)
        if form.is_valid():
            try:
                saved = connectors.create_saved_search(
                    review=review, actor=signed_in_user(request), **form.cleaned_data
                )
            except ReviewflowError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, f"Saved: {saved}. Run it when you are ready.")
                return redirect("saved-searches", slug=slug)
    runs = SavedSearchRun.objects.with_counts().select_related("saved_search")
    kept = (
        SavedSearch.objects.filter(review=review)
        .select_related("created_by")
        .prefetch_related(Prefetch("runs", queryset=runs))
    )
    rows = [(s, [(run, connectors.explain_run(run)) for run in s.runs.all()]) for s in kept]
    return render(
        request,
        "screening/connectors/saved_searches.html",
        {
            "access": access,
            "review": review,
            "rows": rows,
            "form": form,
            "citations": citations,
            "included_dois": len(connectors.included_dois(review)),
            "schedules": Schedule.choices,
        },
    )


@login_required
@require_POST
def saved_search_run(request: HttpRequest, slug: str, saved_search_id: int) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    saved = get_object_or_404(SavedSearch, pk=saved_search_id, review=access.review)
    try:
        connectors.request_run(saved_search=saved, actor=signed_in_user(request))
    except ReviewflowError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Running {saved}. Its records appear under Searches.")
    return redirect("saved-searches", slug=slug)


@login_required
@require_POST
def saved_search_schedule(request: HttpRequest, slug: str, saved_search_id: int) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    saved = get_object_or_404(SavedSearch, pk=saved_search_id, review=access.review)
    form = ScheduleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose every week, every month, or only by hand.")
        return redirect("saved-searches", slug=slug)
    saved = connectors.set_schedule(
        saved_search=saved, actor=signed_in_user(request), schedule=form.cleaned_data["schedule"]
    )
    if saved.next_run_at:
        messages.success(
            request,
            f"{saved} runs {saved.get_schedule_display().lower()}; next on "
            f"{saved.next_run_at:%-d %b %Y}. New records it finds go to screening; records "
            "already in the review are left out, with their decisions.",
        )
    else:
        messages.success(request, f"{saved} runs only when you run it.")
    return redirect("saved-searches", slug=slug)
