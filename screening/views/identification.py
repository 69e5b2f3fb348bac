"""Pages of identification: searches (upload, progress, summary) and records."""

from __future__ import annotations

from urllib.parse import parse_qsl

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from reviewflow.errors import ReviewflowError
from reviewflow.keyset import keyset_page
from reviewflow.params import choice_param, int_param, text_param
from reviewflow.reviews.access import ReviewAccess, get_review_for, signed_in_user
from reviewflow.reviews.models import AuditEvent, Role
from screening.forms.identification import SOURCES, SearchUploadForm
from screening.models import (
    Answer,
    Decision,
    FullTextReport,
    Record,
    RecordQuerySet,
    ScreeningQuestion,
    Search,
    Stage,
)
from screening.selectors.identification import STATUSES
from screening.selectors.labels import current_stage, labels_of, visible_labels_by_record
from screening.selectors.records import (
    EXPORT_FORMATS,
    RECORD_ORDER,
    bulk_label_message,
    export_selection,
    filtered_records,
    ids_from,
    parse_ids,
    parse_record_filters,
    record_screening,
    screeners_of,
    selected_records,
    stage_columns,
    with_list_annotations,
)
from screening.selectors.retractions import notices_of, with_notice_flags
from screening.services import identification
from screening.services import labels as label_services
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
    "position",  # with search_id, the key the list's pages are read by
    "search__source_type",
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
    filters = parse_record_filters(request.GET, review=review)
    qs = (
        with_notice_flags(with_list_annotations(filtered_records(review, access.user, filters)))
        .only(*RECORD_LIST_FIELDS)
        .select_related("search")
    )
    query = filters.query()
    # Read by key, never by OFFSET: the last of 2,000 pages costs what the first does (#25).
    page = keyset_page(
        qs, keyset=RECORD_ORDER, size=50, params=request.GET, keep=dict(parse_qsl(query))
    )
    # One query per column family for the page's records: labels, votes, outcomes,
    # conflicts (``stage_columns``), whatever the page's size.
    ids = [r.pk for r in page]
    page_labels = visible_labels_by_record(review, access.user, ids) if filters.labels else {}
    columns = stage_columns(review, access.user, page.object_list)
    for row in page.object_list:
        row.visible_labels = page_labels.get(row.pk, [])  # type: ignore[attr-defined]
        row.stage_cells = list(columns.get(row.pk, {}).values())  # type: ignore[attr-defined]
    return render(
        request,
        "screening/records.html",
        {
            "access": access,
            "review": review,
            "page": page,
            "f": filters,
            "q": filters.q,
            "query": query,
            # Back to this very page after a bulk action: its cursor, or its filters alone.
            "back": f"{request.path}?{page.this_query}" if page.this_query else request.path,
            "search_id": filters.search,
            "duplicates": filters.duplicates,
            "stage": filters.stage,
            "status": filters.status,
            "reason": filters.reason,
            "statuses": STATUSES.items(),
            "labels": filters.labels,
            "label": filters.label,
            "stages": Stage.choices,
            "decisions": Decision.choices,
            "answers": Answer.choices,
            "questions": ScreeningQuestion.objects.filter(review=review).order_by(
                "stage", "order", "id"
            ),
            "screeners": screeners_of(review),
            "formats": [("ris", "RIS"), ("csv", "CSV"), ("bibtex", "BibTeX")],
            "searches": Search.objects.for_review(review)
            .counted()
            .only("id", "source", "filename"),
        },
    )


def _selection(
    data: QueryDict, access: ReviewAccess, *, by_filter: bool
) -> tuple[RecordQuerySet, str]:
    """The records a bulk form selected: every record matching the filter it carries (its
    ``filter`` field, when ``scope`` is ``all``; a GET's own query), or the ticked ``ids``;
    and how, for the audit trail."""
    if by_filter or choice_param(data, "scope", choices=("all",), default="") == "all":
        given = data if by_filter else QueryDict(text_param(data, "filter"))
        filters = parse_record_filters(given, review=access.review)
        qs = selected_records(access.review, access.user, ids=None, filters=filters)
        return qs, f"filter: {filters.query()}" if filters.query() else "every record"
    ids = parse_ids(ids_from(data))
    return selected_records(access.review, access.user, ids=ids, filters=None), "ids"


def _back_to_list(request: HttpRequest, slug: str) -> HttpResponse:
    back = text_param(request.POST, "next")
    list_url = reverse("review-records", args=[slug])
    # Only back to the records list (with its filters), never elsewhere.
    return redirect(back if back.startswith(f"{list_url}?") else list_url)


@login_required
@require_POST
def records_bulk(request: HttpRequest, slug: str) -> HttpResponse:
    """Put a label on the selected records, or take the caller's own off: all or nothing."""
    access = get_review_for(request.user, slug, role=Role.REVIEWER)
    action = choice_param(request.POST, "action", choices=("label", "unlabel"), default="")
    # ``bulk_label``: the list page has a filter by label too.
    label_id = int_param(request.POST, "bulk_label", default=None, min_value=1)
    label = labels_of(access.review).filter(pk=label_id).first() if label_id else None
    try:
        if not action:
            raise ReviewflowError("Choose what to do with the selected records.")
        if label is None:
            raise ReviewflowError("Choose a label.", field="bulk_label")
        selected, how = _selection(request.POST, access, by_filter=False)
        service = (
            label_services.apply_label_in_bulk
            if action == "label"
            else label_services.remove_label_in_bulk
        )
        n, changed = service(
            review=access.review,
            records=selected,
            label=label,
            user=signed_in_user(request),
            selection=how,
        )
    except ReviewflowError as exc:
        messages.error(request, exc.message)
        return _back_to_list(request, slug)
    messages.success(request, bulk_label_message(action, label.name, n, changed))
    return _back_to_list(request, slug)


@login_required
@require_http_methods(["GET", "POST"])
def records_export(request: HttpRequest, slug: str) -> HttpResponse | StreamingHttpResponse:
    """The selected records (POST: the bulk form's ticked ids or its filter) or those the
    query's filters match (GET), as RIS, CSV or BibTeX: every member exports what they
    can see (a CSV's labels column follows blinding)."""
    access = get_review_for(request.user, slug)
    data = request.POST if request.method == "POST" else request.GET
    fmt = choice_param(data, "format", choices=EXPORT_FORMATS, default="csv")
    try:
        selected, _ = _selection(data, access, by_filter=request.method == "GET")
        chunks, content_type, extension = export_selection(
            access.review, access.user, selected, fmt
        )
    except ReviewflowError as exc:
        if request.method == "GET":
            return HttpResponseBadRequest(exc.message, content_type="text/plain; charset=utf-8")
        messages.error(request, exc.message)
        return _back_to_list(request, slug)
    response = StreamingHttpResponse(chunks, content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{slug}-records.{extension}"'
    return response


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
            # Retractions and corrections Crossref reports (#21).
            "notices": notices_of(record),
            # The full text: its PDF and where that came from (an open-access copy's source,
            # address, licence and version, #22); its extracted text is not needed here.
            "report": FullTextReport.objects.filter(record=record)
            .defer("text")
            .select_related("updated_by")
            .first(),
            # Votes as blinding allows (``votes_visible_to``), outcomes, open conflicts.
            "screening": record_screening(access.review, access.user, record),
            **record_labels_context(
                access,
                record,
                current_stage(record),
                back=reverse("record-detail", args=[slug, record.pk]),
            ),
        },
    )
