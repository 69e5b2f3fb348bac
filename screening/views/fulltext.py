"""Pages for full texts: attach a PDF or mark it not retrieved, read it, link the reports
of one study."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST, require_safe

from reviewflow.errors import ReviewflowError
from reviewflow.params import parse_int, text_param
from reviewflow.reviews.access import get_review_for
from reviewflow.reviews.models import Role
from screening.models import (
    FullTextReport,
    Record,
    Stage,
)
from screening.services.fulltext import attach_full_text, link_same_study, mark_not_retrieved


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
