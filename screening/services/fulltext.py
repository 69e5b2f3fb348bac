"""Full texts: attaching a record's PDF, marking it not retrieved, linking reports of one study."""

from __future__ import annotations

import hashlib
from typing import IO

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Review
from reviewflow.reviews.services import record_audit_for_record
from screening.models import (
    Claim,
    Decision,
    FullTextReport,
    Outcome,
    OutcomeKind,
    Record,
    RetrievalStatus,
    SourceType,
    Stage,
    Vote,
)
from screening.pdfmatch import PdfText, read_pdf


def _check_full_text_record(review: Review, record: Record) -> None:
    if (
        record.search.source_type != SourceType.OTHER
        and not Outcome.objects.filter(
            record=record, stage=Stage.TITLE_ABSTRACT, decision=Decision.INCLUDE
        ).exists()
    ):
        raise ReviewflowError("Only records that passed title/abstract screening have a full text.")


@transaction.atomic
def attach_full_text(
    *,
    review: Review,
    record: Record,
    actor: User | None,
    file: IO[bytes],
    filename: str,
    extracted: PdfText | None = None,
    source: str = "upload",
    url: str = "",
    licence: str = "",
    version: str = "",
) -> FullTextReport:
    """Store the PDF of a record's full text, with its content hash and text (extracted
    here unless the caller already has it: ``extracted``, as a PDF batch does), and where
    it came from: ``source`` ("upload", "batch", or an open-access source with the copy's
    ``url``, ``licence`` and ``version``)."""
    _check_full_text_record(review, record)
    size = getattr(file, "size", None)
    limit = int(settings.MAX_PDF_MB) * 1024 * 1024
    if size is not None and size > limit:
        raise ReviewflowError(
            f"{filename}: the file is {size / 1048576:.1f} MB; the limit is "
            f"{settings.MAX_PDF_MB} MB.",
            field="pdf",
        )
    head = file.read(5)
    file.seek(0)
    if head != b"%PDF-":
        raise ReviewflowError(f"{filename}: this is not a PDF file.", field="pdf")
    data = file.read()
    file.seek(0)
    if extracted is None:
        extracted = read_pdf(data)
    report, _ = FullTextReport.objects.get_or_create(
        record=record, defaults={"review": review, "status": RetrievalStatus.RETRIEVED}
    )
    if report.pdf:
        report.pdf.delete(save=False)
    report.pdf.save(f"record-{record.pk}.pdf", File(file), save=False)
    report.status, report.filename = RetrievalStatus.RETRIEVED, filename[:255]
    report.content_sha256 = hashlib.sha256(data).hexdigest()
    report.text, report.page_count = extracted.text, extracted.page_count or None
    report.no_text = extracted.no_text
    report.pdf_source, report.pdf_url = source[:20], url[:1000]
    report.pdf_licence, report.pdf_version = licence[:100], version[:40]
    report.updated_by, report.updated_at = actor, timezone.now()
    report.save()
    after = {"file": filename, "sha256": report.content_sha256, "source": source}
    if url:
        after.update(url=url, licence=licence, version=version)
    record_audit_for_record(
        review=review,
        actor=actor,
        action="fulltext.attached",
        after=after,
        record_id=record.pk,
    )
    return report


@transaction.atomic
def mark_not_retrieved(
    *, review: Review, record: Record, actor: User, note: str = ""
) -> FullTextReport:
    """The full text could not be had: PRISMA counts it as "reports not retrieved"."""
    _check_full_text_record(review, record)
    if Vote.objects.filter(record=record, stage=Stage.FULL_TEXT).exists():
        raise ReviewflowError("This report is already being screened: it was retrieved.")
    # PRISMA counts a report stopped early among those assessed: not retrieved as well
    # would count it twice (#24).
    if Outcome.objects.filter(
        record=record, stage=Stage.FULL_TEXT, kind=OutcomeKind.AUTOMATION
    ).exists():
        raise ReviewflowError(
            "Full-text screening was stopped early and this report excluded by automation "
            "tool: undo the early stop first."
        )
    report, _ = FullTextReport.objects.get_or_create(
        record=record, defaults={"review": review, "status": RetrievalStatus.NOT_RETRIEVED}
    )
    before = report.status
    report.status, report.note = RetrievalStatus.NOT_RETRIEVED, note.strip()[:300]
    report.updated_by, report.updated_at = actor, timezone.now()
    report.save()
    Claim.objects.filter(record=record, stage=Stage.FULL_TEXT).delete()
    record_audit_for_record(
        review=review,
        actor=actor,
        action="fulltext.not_retrieved",
        before={"status": before},
        after={"status": report.status, "note": report.note},
        record_id=record.pk,
    )
    return report


@transaction.atomic
def link_same_study(
    *, review: Review, record: Record, actor: User, study_of: Record | None
) -> FullTextReport:
    """Say that ``record``'s report is another report of the study ``study_of`` reports
    (or, with ``None``, a study of its own): PRISMA counts studies and reports apart."""
    _check_full_text_record(review, record)
    if study_of is not None:
        _check_full_text_record(review, study_of)
        if study_of.pk == record.pk:
            raise ReviewflowError("A report cannot be another report of itself.", field="study_of")
        root: Record | None = study_of
        seen: set[int] = set()
        while root is not None and root.pk not in seen:
            if root.pk == record.pk:
                raise ReviewflowError(
                    f"Record {study_of.pk} is already linked to this report's study.",
                    field="study_of",
                )
            seen.add(root.pk)
            link = (
                FullTextReport.objects.filter(record=root)
                .values_list("same_study_as", flat=True)
                .first()
            )
            root = Record.objects.filter(pk=link).first() if link else None
    report, _ = FullTextReport.objects.get_or_create(
        record=record, defaults={"review": review, "status": RetrievalStatus.RETRIEVED}
    )
    before = report.same_study_as_id
    report.same_study_as = study_of
    report.updated_by, report.updated_at = actor, timezone.now()
    report.save()
    record_audit_for_record(
        review=review,
        actor=actor,
        action="fulltext.study_linked",
        before={"same_study_as": before},
        after={"same_study_as": study_of.pk if study_of else None},
        record_id=record.pk,
    )
    return report
