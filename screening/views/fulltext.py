"""Pages for full texts: attach a PDF or mark it not retrieved, read it, link the reports
of one study; upload many PDFs at once (a batch) and decide the matches the matcher was
unsure of."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST, require_safe

from reviewflow.errors import ReviewflowError
from reviewflow.params import parse_int, text_param
from reviewflow.reviews.access import get_review_for
from reviewflow.reviews.models import Review, Role
from screening.models import (
    FullTextReport,
    PdfBatch,
    PdfFile,
    PdfMatch,
    Record,
    Stage,
)
from screening.services.fulltext import attach_full_text, link_same_study, mark_not_retrieved
from screening.services.pdfs import batch_counts, create_pdf_batch, resolve_pdf_file

# How many waiting PDFs each list of the page shows (the rest follow once these are done).
QUEUE_SIZE = 50


@login_required
@require_POST
def fulltext_attach(request: HttpRequest, slug: str, record_id: int) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.REVIEWER)
    record = get_object_or_404(Record.objects.for_review(access.review), pk=record_id)
    upload = request.FILES.get("pdf")
    action, note = text_param(request.POST, "action"), text_param(request.POST, "note")
    try:
        if action == "not_retrieved":
            mark_not_retrieved(
                review=access.review,
                record=record,
                actor=access.user,
                note=note,
            )
            messages.success(request, f"Record {record.pk} marked: full text not retrieved.")
        elif upload is None:
            raise ReviewflowError("Choose the PDF file to attach.")
        else:
            attach_full_text(
                review=access.review,
                record=record,
                actor=access.user,
                file=upload,
                filename=upload.name or "fulltext.pdf",
            )
            messages.success(request, "Full text attached.")
    except ReviewflowError as exc:
        messages.error(request, exc.message)
    return redirect("screen", slug=slug, stage=Stage.FULL_TEXT)


@login_required
@xframe_options_sameorigin
@require_safe
def fulltext_pdf(request: HttpRequest, slug: str, record_id: int) -> FileResponse:
    access = get_review_for(request.user, slug)
    report = get_object_or_404(FullTextReport, record_id=record_id, review=access.review)
    if not report.pdf:
        raise Http404("No PDF attached.")
    if not access.membership.has_role(Role.VIEWER):
        raise PermissionDenied
    response = FileResponse(report.pdf.open("rb"), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="record-{record_id}.pdf"'
    response["Content-Security-Policy"] = "sandbox"
    return response


@login_required
@require_POST
def fulltext_study(request: HttpRequest, slug: str, record_id: int) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.REVIEWER)
    record = get_object_or_404(Record.objects.for_review(access.review), pk=record_id)
    other_id = text_param(request.POST, "study_of").strip().lstrip("#")
    try:
        study_of = None
        if other_id:
            other_pk = parse_int(other_id, min_value=0)
            if other_pk is None:
                raise ReviewflowError("Give the record number of the other report, e.g. 1234.")
            study_of = Record.objects.for_review(access.review).filter(pk=other_pk).first()
            if study_of is None:
                raise ReviewflowError(f"There is no record {other_id} in this review.")
        link_same_study(review=access.review, record=record, actor=access.user, study_of=study_of)
    except ReviewflowError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Record {record.pk} is another report of the study of record {study_of.pk}."
            if study_of
            else f"Record {record.pk} is a study of its own.",
        )
    return redirect("screen", slug=slug, stage=Stage.FULL_TEXT)


def _queue(review: Review, status: str) -> list[dict[str, object]]:
    """The review's PDFs with ``status``, each with its candidate records (two queries)."""
    files = list(
        PdfFile.objects.filter(review=review, status=status)
        .exclude(file="")
        .defer("text")
        .order_by("pk")[:QUEUE_SIZE]
    )
    ids = {c["record"] for f in files for c in f.candidates}
    records = {
        r.pk: r
        for r in Record.objects.filter(review=review, pk__in=ids)
        .select_related("report")
        .only("id", "title", "authors", "year", "journal", "doi", "pmid", "report__pdf")
    }
    return [
        {
            "file": f,
            "candidates": [
                {**c, "obj": records[c["record"]], "has_pdf": _has_pdf(records[c["record"]])}
                for c in f.candidates
                if c["record"] in records
            ],
        }
        for f in files
    ]


def _has_pdf(record: Record) -> bool:
    try:
        return bool(record.report.pdf)
    except FullTextReport.DoesNotExist:
        return False


@login_required
def fulltext_batches(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the Full texts page (upload form, the batches, the unsure and unmatched PDFs).
    POST (reviewers and owners): upload PDFs or zips of PDFs as a new batch."""
    access = get_review_for(request.user, slug)
    if request.method == "POST":
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        uploads = request.FILES.getlist("files")
        try:
            batch = create_pdf_batch(
                review=access.review,
                actor=access.user,
                files=[(u.name or "upload.pdf", u) for u in uploads],
            )
        except ReviewflowError as exc:
            messages.error(request, exc.message)
            return redirect("fulltext-batches", slug=slug)
        messages.success(request, f"{batch.files_total} file(s) uploaded; matching them now.")
        return redirect("fulltext-batch", slug=slug, batch_id=batch.pk)
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405)
    context = {
        "access": access,
        "review": access.review,
        "batches": PdfBatch.objects.filter(review=access.review)[:10],
        "unsure": _queue(access.review, PdfMatch.UNSURE),
        "unmatched": _queue(access.review, PdfMatch.UNMATCHED),
    }
    return render(request, "screening/fulltext/batches.html", context)


@login_required
@require_safe
def fulltext_batch(request: HttpRequest, slug: str, batch_id: int) -> HttpResponse:
    """One batch: its progress (polled with htmx while it runs) and each file's result."""
    access = get_review_for(request.user, slug)
    batch = get_object_or_404(PdfBatch, pk=batch_id, review=access.review)
    files = list(batch.files.defer("text").select_related("record").order_by("pk"))
    template = (
        "screening/fulltext/_batch_status.html"
        if getattr(request, "htmx", False)
        else "screening/fulltext/batch.html"
    )
    context = {
        "access": access,
        "review": access.review,
        "batch": batch,
        "files": files,
        "counts": batch_counts(batch),
    }
    return render(request, template, context)


@login_required
@require_POST
def fulltext_resolve(request: HttpRequest, slug: str, file_id: int) -> HttpResponse:
    """Attach a waiting PDF to a record (``record``, ``replace`` to put it in place of the
    record's PDF) or to none (``action=none``)."""
    access = get_review_for(request.user, slug, role=Role.REVIEWER)
    pdf = get_object_or_404(PdfFile, pk=file_id, review=access.review)
    try:
        record = None
        if text_param(request.POST, "action") != "none":
            raw = text_param(request.POST, "record").strip().lstrip("#")
            record_pk = parse_int(raw, min_value=1) if raw else None
            if record_pk is None:
                raise ReviewflowError("Give the number of the record to attach it to, e.g. 1234.")
            record = Record.objects.for_review(access.review).filter(pk=record_pk).first()
            if record is None:
                raise ReviewflowError(f"There is no record {record_pk} in this review.")
        pdf = resolve_pdf_file(
            pdf_file=pdf,
            actor=access.user,
            record=record,
            replace=text_param(request.POST, "replace") == "1",
        )
    except ReviewflowError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, pdf.message)
    return redirect("fulltext-batches", slug=slug)
