"""Pages of identification: searches (upload, progress, summary) and records."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from reviewflow.errors import ReviewflowError
from reviewflow.params import choice_param, int_param, text_param
from reviewflow.reviews.access import get_review_for, signed_in_user
from reviewflow.reviews.models import AuditEvent, Role
from screening.forms.identification import SOURCES, SearchUploadForm
from screening.models import Record, Search, Stage
from screening.selectors.identification import STATUSES, filter_by_stage_status, filter_records
from screening.selectors.labels import (
    current_stage,
    filter_by_label,
    labels_of,
    visible_labels_by_record,
)
from screening.services import identification
from screening.views.labels import record_labels_context

RECORD_LIST_FIELDS = (
    "id",
    "title",
    "authors",
    "year",
    "journal",
    "doi",
    "pmid",
    "incomplete",
    "search__source",
    "search_id",
    "duplicate_of",
    "merge_kind",
)


@login_required
def searches(request: HttpRequest, slug: str) -> HttpResponse:
    access = get_review_for(request.user, slug)
    review = access.review
    earlier = list(Search.objects.for_review(review).counted().order_by("created_at", "pk"))
    form = SearchUploadForm(earlier=earlier)
    if request.method == "POST":
        access = get_review_for(request.user, slug, role=Role.OWNER)
        form = SearchUploadForm(request.POST, request.FILES, earlier=earlier)
        if form.is_valid():
            data = form.cleaned_data
            upload = data["file"]
            try:
                search = identification.create_search(
                    review=review,
                    actor=signed_in_user(request),
                    file=upload,
                    filename=upload.name,
                    source=data["source"],
                    source_type=data["source_type"],
                    other_method=data["other_method"],
                    search_date=data["search_date"],
                    search_string=data["search_string"],
                    fmt=data["format"],
                    encoding=data["encoding"],
                    column_map=data["column_map"],
                    supersedes=data["supersedes"],
                )
            except ReviewflowError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                if search.import_deferred:
                    messages.warning(
                        request, f"{search.filename}: {identification.IMPORT_DEFERRED}"
                    )
                # Otherwise the page's live status says where the import is; a "queued"
                # message would stay on it after the import is done.
                return redirect("search-detail", slug=slug, search_id=search.pk)
    context = {
        "access": access,
        "review": review,
        "searches": Search.objects.for_review(review)
        .select_related("supersedes")
        .order_by("-created_at"),
        "form": form,
        "sources": SOURCES,
    }
    return render(request, "screening/searches.html", context)


@login_required
@require_safe
def search_detail(request: HttpRequest, slug: str, search_id: int) -> HttpResponse:
    access = get_review_for(request.user, slug)
    search = get_object_or_404(Search, pk=search_id, review=access.review)
    template = (
        "screening/_search_status.html"
        if getattr(request, "htmx", False)
        else "screening/search_detail.html"
    )
    return render(request, template, {"access": access, "review": access.review, "search": search})


@login_required
@require_POST
def search_delete(request: HttpRequest, slug: str, search_id: int) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    search = get_object_or_404(Search, pk=search_id, review=access.review)
    try:
        identification.delete_search(search=search, actor=signed_in_user(request))
    except ReviewflowError as exc:
        messages.error(request, exc.message)
        return redirect("search-detail", slug=slug, search_id=search_id)
    messages.success(request, f"Search {search.source} ({search.filename}) deleted.")
    return redirect("review-searches", slug=slug)


@login_required
@require_safe
def records(request: HttpRequest, slug: str) -> HttpResponse:
    access = get_review_for(request.user, slug)
    review = access.review
    params = request.GET
    q = text_param(params, "q").strip()
    # The selector reads the search and year as whole numbers (or ignores them).
    search_id = text_param(params, "search")
    duplicates = choice_param(params, "duplicates", choices=("exclude", "only"), default="")
    qs = (
        filter_records(
            Record.objects.for_review(review),
            q=q,
            search=search_id,
            year=text_param(params, "year"),
            duplicates=duplicates,
        )
        .only(*RECORD_LIST_FIELDS)
        .select_related("search")
    )
    stage = choice_param(params, "stage", choices=Stage.values, default="")
    status = choice_param(params, "status", choices=STATUSES, default="")
    reason = text_param(params, "reason")
    if stage and status:
        qs = filter_by_stage_status(
            qs, review=review, user=access.user, stage=stage, status=status, reason=reason
        )
    labels = list(labels_of(review))
    label = int_param(params, "label", default=None, min_value=1)
    if label is not None and label in {x.pk for x in labels}:
        qs = filter_by_label(qs, review=review, user=access.user, label=label)
    else:
        label = None
    page = Paginator(qs.order_by("search_id", "position"), 50).get_page(
        int_param(params, "page", default=1, min_value=1)
    )
    # The labels the user may see on this page's records (none to read without labels).
    page.object_list = list(page.object_list)
    page_labels = (
        visible_labels_by_record(review, access.user, [r.pk for r in page]) if labels else {}
    )
    for row in page.object_list:
        row.visible_labels = page_labels.get(row.pk, [])  # type: ignore[attr-defined]
    query = urlencode(
        {
            k: v
            for k, v in {
                "q": q,
                "search": search_id,
                "duplicates": duplicates,
                "stage": stage,
                "status": status,
                "reason": reason,
                "label": label or "",
            }.items()
            if v
        }
    )
    return render(
        request,
        "screening/records.html",
        {
            "access": access,
            "review": review,
            "page": page,
            "q": q,
            "query": query,
            "search_id": search_id,
            "duplicates": duplicates,
            "stage": stage,
            "status": status,
            "reason": reason,
            "statuses": STATUSES.items(),
            "labels": labels,
            "label": label,
            "stages": Stage.choices,
            "searches": Search.objects.for_review(review)
            .counted()
            .only("id", "source", "filename"),
        },
    )


@login_required
@require_safe
def record_detail(request: HttpRequest, slug: str, record_id: int) -> HttpResponse:
    access = get_review_for(request.user, slug)
    record = get_object_or_404(
        Record.objects.for_review(access.review).select_related("search", "duplicate_of__search"),
        pk=record_id,
    )
    duplicates = record.duplicates.select_related("search").only(
        "id", "title", "merge_kind", "position", "search__source", "duplicate_of_id"
    )
    # Other people's votes stay out of the history: blind screening.
    history = (
        AuditEvent.objects.filter(review=access.review, object_type="record", object_id=record.pk)
        .exclude(Q(action__startswith="vote.") & ~Q(actor=access.user))
        .select_related("actor")
    )
    return render(
        request,
        "screening/record_detail.html",
        {
            "access": access,
            "review": access.review,
            "record": record,
            "duplicates": duplicates,
            "history": history,
            "filled": sorted(record.filled_from.items()),
            **record_labels_context(
                access,
                record,
                current_stage(record),
                back=reverse("record-detail", args=[slug, record.pk]),
            ),
        },
    )
