"""PDF batches: many full texts uploaded at once (files or zips), read and matched to the
review's records at full text in a Celery task; sure matches attach, the rest wait for a
person (``resolve_pdf_file``)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import IO

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from reviewflow.broker import send_task
from reviewflow.errors import ReviewflowError
from reviewflow.heartbeat import beating, later_beat
from reviewflow.reviews.models import Review
from reviewflow.reviews.services import record_audit
from screening.models import (
    Decision,
    FullTextReport,
    PdfBatch,
    PdfBatchStatus,
    PdfFile,
    PdfMatch,
    Record,
    SourceType,
    Stage,
)
from screening.pdfmatch import Candidate, PdfText, candidates_from, match_pdf, read_pdf
from screening.services.fulltext import _check_full_text_record, attach_full_text

BATCH_TASK = "screening.tasks.match_pdf_batch"
# A zip is read in the request: these keep a hostile one (a zip bomb, a million entries)
# from filling the disk or the memory.
MAX_ZIP_ENTRIES = 1000
MAX_ZIP_TOTAL_MB = 2048
MAX_FILES = 1000
EXCERPT_CHARS = 1500


@dataclass(frozen=True)
class _Incoming:
    filename: str
    data: bytes | None  # None: refused before storing, ``message`` says why
    message: str = ""


def _pdf_limit() -> int:
    return int(settings.MAX_PDF_MB) * 1024 * 1024


def _too_big(name: str, size: int) -> str:
    return f"{name}: the file is {size / 1048576:.1f} MB; the limit is {settings.MAX_PDF_MB} MB."


def _unsafe(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")


def _read_zip(name: str, file: IO[bytes]) -> Iterator[_Incoming]:
    """The PDFs of a zip, one at a time, each capped at the PDF size limit; the whole zip is
    refused when it holds too many entries or inflates past ``MAX_ZIP_TOTAL_MB``."""
    try:
        archive = zipfile.ZipFile(file)
        infos = [i for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ReviewflowError(f"{name}: the zip file could not be read ({exc}).") from None
    infos = [i for i in infos if not i.filename.startswith("__MACOSX/")]
    if len(infos) > MAX_ZIP_ENTRIES:
        raise ReviewflowError(
            f"{name}: the zip holds {len(infos)} files; the limit is {MAX_ZIP_ENTRIES}."
        )
    too_far = f"{name}: the zip inflates to more than {MAX_ZIP_TOTAL_MB} MB; split it up."
    total_limit = MAX_ZIP_TOTAL_MB * 1024 * 1024
    if sum(i.file_size for i in infos) > total_limit:
        raise ReviewflowError(too_far)
    limit, inflated = _pdf_limit(), 0
    for info in infos:
        entry = f"{name}: {info.filename}"
        if _unsafe(info.filename):
            yield _Incoming(entry, None, f"{entry}: a path outside the zip; skipped.")
            continue
        if info.file_size > limit:
            yield _Incoming(entry, None, _too_big(entry, info.file_size))
            continue
        try:
            with archive.open(info) as fh:
                # The sizes in a zip's directory can lie: never inflate past the limit.
                data = fh.read(limit + 1)
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
            yield _Incoming(entry, None, f"{entry}: could not be unzipped ({exc}).")
            continue
        if len(data) > limit:
            yield _Incoming(entry, None, _too_big(entry, len(data)))
            continue
        inflated += len(data)
        if inflated > total_limit:
            raise ReviewflowError(too_far)
        yield _Incoming(info.filename.replace("\\", "/").rsplit("/", 1)[-1], data)


def _incoming(files: Iterable[tuple[str, IO[bytes]]]) -> Iterator[_Incoming]:
    """Each uploaded PDF, and each PDF of each uploaded zip, read one at a time (a batch of
    large files is never all in memory)."""
    limit, count = _pdf_limit(), 0
    for name, file in files:
        head = file.read(4)
        file.seek(0)
        if head.startswith(b"PK\x03\x04") or name.lower().endswith(".zip"):
            items: Iterable[_Incoming] = _read_zip(name, file)
        else:
            data = file.read(limit + 1)
            if len(data) > limit:
                size = getattr(file, "size", None) or len(data)
                items = [_Incoming(name, None, _too_big(name, int(size)))]
            else:
                items = [_Incoming(name, data)]
        for item in items:
            count += 1
            if count > MAX_FILES:
                raise ReviewflowError(f"Upload at most {MAX_FILES} PDFs at a time.")
            yield item


def _stored_copy(review: Review, sha256: str) -> tuple[PdfFile | None, int | None]:
    """An earlier PDF of the review with these bytes, and the record holding them if any."""
    record_id = (
        FullTextReport.objects.filter(review=review, content_sha256=sha256)
        .values_list("record_id", flat=True)
        .first()
    )
    earlier = PdfFile.objects.filter(review=review, sha256=sha256).order_by("pk").first()
    return earlier, record_id


def _store(batch: PdfBatch, item: _Incoming, seen: dict[str, PdfFile]) -> PdfFile:
    row = PdfFile(batch=batch, review=batch.review, filename=item.filename[:255])
    if item.data is None:
        row.status, row.message = PdfMatch.FAILED, item.message[:500]
    else:
        row.size = len(item.data)
        row.sha256 = hashlib.sha256(item.data).hexdigest()
        earlier, holder = _stored_copy(batch.review, row.sha256)
        earlier = seen.get(row.sha256, earlier)
        if holder is not None:
            row.status, row.duplicate_of, row.record_id = PdfMatch.DUPLICATE, earlier, holder
            row.message = f"{row.filename}: the same file is already attached to record {holder}."
        elif earlier is not None:
            row.status, row.duplicate_of = PdfMatch.DUPLICATE, earlier
            row.message = (
                f"{row.filename}: the same file was already uploaded ({earlier.filename}, "
                f"batch {earlier.batch_id})."
            )
        else:
            row.file.save(f"batch-{batch.pk}.pdf", ContentFile(item.data), save=False)
    row.save()
    if row.status == PdfMatch.PENDING:
        seen[row.sha256] = row
    return row


@transaction.atomic
def create_pdf_batch(
    *, review: Review, actor: User | None, files: Iterable[tuple[str, IO[bytes]]]
) -> PdfBatch:
    """Store uploaded PDFs (``(filename, file)`` pairs; zips are opened) as a batch and queue
    its reading and matching after commit. Files already in the review (same SHA-256) are
    not stored again: they are listed as duplicates, naming the record that holds them.
    A refused upload (a zip past its limits, too many files) stores nothing."""
    actor = actor if actor is not None and actor.is_authenticated else None
    batch = PdfBatch.objects.create(review=review, created_by=actor)
    seen: dict[str, PdfFile] = {}
    stored: list[PdfFile] = []
    try:
        for item in _incoming(files):
            stored.append(_store(batch, item, seen))
    except ReviewflowError:
        for row in stored:  # the rows roll back; their files would stay behind
            if row.file:
                row.file.delete(save=False)
        raise
    if not stored:
        raise ReviewflowError("Choose the PDF files (or zip files of PDFs) to upload.")
    batch.files_total = len(stored)
    batch.files_done = sum(1 for row in stored if row.status != PdfMatch.PENDING)
    if batch.files_done == batch.files_total:
        batch.status, batch.finished_at = PdfBatchStatus.DONE, timezone.now()
    batch.save()
    record_audit(
        review=review,
        actor=actor,
        action="fulltext.batch_uploaded",
        target=f"PDF batch {batch.pk}",
        after={"files": batch.files_total},
        object_type="pdfbatch",
        object_id=batch.pk,
    )
    if batch.status == PdfBatchStatus.QUEUED:
        batch_id = batch.pk
        transaction.on_commit(lambda: send_task(BATCH_TASK, batch_id))
    return batch


def full_text_records(review: Review) -> list[dict[str, object]]:
    """The records a PDF can be attached to: unique, and past title/abstract (or found by
    other methods), as ``_check_full_text_record`` admits them. One query."""
    found = (
        Record.objects.for_review(review)
        .unique()
        .filter(
            Q(search__source_type=SourceType.OTHER)
            | Q(outcomes__stage=Stage.TITLE_ABSTRACT, outcomes__decision=Decision.INCLUDE)
        )
        .distinct()
        .values("id", "title", "authors", "doi", "pmid", "year", "volume", "pages", "abstract")
    )
    return [dict(row) for row in found]


def _claim(batch_id: int) -> tuple[PdfBatch, int] | None:
    with transaction.atomic():
        batch = PdfBatch.objects.select_for_update().get(pk=batch_id)
        if batch.is_finished:
            return None
        batch.attempt += 1
        batch.status = PdfBatchStatus.RUNNING
        batch.started_at = batch.heartbeat_at = timezone.now()
        batch.save()
        return batch, batch.attempt


def _beat(batch_id: int, attempt: int) -> None:
    PdfBatch.objects.filter(pk=batch_id, attempt=attempt, status=PdfBatchStatus.RUNNING).update(
        heartbeat_at=later_beat(timezone.now())
    )


def run_pdf_batch(*, batch_id: int) -> PdfBatch:
    """Read and match each waiting PDF of the batch, one transaction per file; safe to run
    again (files already handled are left as they are)."""
    claimed = _claim(batch_id)
    if claimed is None:
        return PdfBatch.objects.get(pk=batch_id)
    batch, attempt = claimed
    candidates = candidates_from(full_text_records(batch.review))
    pending = PdfFile.objects.filter(batch=batch, status=PdfMatch.PENDING).order_by("pk")
    with beating(lambda: _beat(batch_id, attempt)):
        for pdf_id in list(pending.values_list("pk", flat=True)):
            with transaction.atomic():
                pdf = PdfFile.objects.select_for_update().get(pk=pdf_id)
                if pdf.status != PdfMatch.PENDING:
                    continue
                _process(batch, pdf, candidates)
                PdfBatch.objects.filter(pk=batch_id).update(
                    files_done=F("files_done") + 1, heartbeat_at=timezone.now()
                )
    with transaction.atomic():
        batch = PdfBatch.objects.select_for_update().get(pk=batch_id)
        batch.status, batch.finished_at, batch.heartbeat_at = (
            PdfBatchStatus.DONE,
            timezone.now(),
            None,
        )
        batch.files_done = batch.files_total
        batch.save()
        counts = batch_counts(batch)
        record_audit(
            review=batch.review,
            actor=None,
            action="fulltext.batch_matched",
            target=f"PDF batch {batch.pk}",
            after=counts,
            object_type="pdfbatch",
            object_id=batch.pk,
        )
    return batch


def batch_counts(batch: PdfBatch) -> dict[str, int]:
    counts = dict.fromkeys(PdfMatch.values, 0)
    for status in PdfFile.objects.filter(batch=batch).values_list("status", flat=True):
        counts[status] += 1
    return counts


def _drop_file(pdf: PdfFile) -> None:
    """Forget the stored copy; the bytes go once the transaction commits (rolled back, the
    row still names them, so they must still be there)."""
    if pdf.file:
        storage, name = pdf.file.storage, pdf.file.name
        pdf.file = None
        transaction.on_commit(lambda: storage.delete(name))


def _process(batch: PdfBatch, pdf: PdfFile, candidates: list[Candidate]) -> None:
    try:
        data = _stored_bytes(pdf)
    except ReviewflowError as exc:
        pdf.status, pdf.message = PdfMatch.FAILED, exc.message[:500]
        pdf.save()
        return
    extracted = read_pdf(data)
    if extracted.error:
        pdf.status, pdf.message = PdfMatch.FAILED, f"{pdf.filename}: {extracted.error}"[:500]
        _drop_file(pdf)
        pdf.save()
        return
    pdf.text, pdf.page_count, pdf.no_text = (
        extracted.text,
        extracted.page_count,
        extracted.no_text,
    )
    pdf.excerpt = extracted.text.split("\f", 1)[0][:EXCERPT_CHARS]
    holder = (
        FullTextReport.objects.filter(review=batch.review, content_sha256=pdf.sha256)
        .values_list("record_id", flat=True)
        .first()
    )
    if holder is not None:
        pdf.status, pdf.record_id = PdfMatch.DUPLICATE, holder
        pdf.message = f"{pdf.filename}: the same file is already attached to record {holder}."
        _drop_file(pdf)
        pdf.save()
        return
    match = match_pdf(extracted, candidates)
    pdf.candidates = [
        {"record": c.record, "score": c.score, "reason": c.reason} for c in match.candidates
    ]
    pdf.confidence = match.best.score if match.best else None
    if match.verdict == "none":
        pdf.status = PdfMatch.UNMATCHED
        pdf.message = (
            f"{pdf.filename}: no text to match (a scan?); attach it by hand."
            if extracted.no_text
            else f"{pdf.filename}: no record at full text matches it."
        )
        pdf.save()
        return
    best = match.best
    assert best is not None
    record = Record.objects.get(pk=best.record)
    if match.verdict == "sure":
        existing = _existing_pdf(record)
        if existing:
            pdf.status, pdf.record = PdfMatch.UNSURE, record
            pdf.message = (
                f"{pdf.filename} matches record {record.pk} ({best.reason}), which already "
                f"has a full text ({existing}): attach it to replace that one, or choose none."
            )
            pdf.save()
            return
        try:
            _attach(batch.review, pdf, record, batch.created_by, extracted, data)
        except ReviewflowError as exc:
            # The record changed since the batch started (its title/abstract outcome, say):
            # a person decides.
            pdf.status, pdf.record = PdfMatch.UNSURE, record
            pdf.message = f"{pdf.filename} matches record {record.pk}, but: {exc.message}"[:500]
        else:
            pdf.message = f"Attached to record {record.pk}: {best.reason}."
        pdf.save()
        return
    pdf.status, pdf.record = PdfMatch.UNSURE, record
    pdf.message = f"{pdf.filename}: {len(match.candidates)} possible record(s); choose one."
    pdf.save()


def _existing_pdf(record: Record) -> str:
    report = FullTextReport.objects.filter(record=record).exclude(pdf="").first()
    return (report.filename or "a PDF") if report is not None else ""


def _stored_bytes(pdf: PdfFile) -> bytes:
    try:
        with pdf.file.open("rb") as fh:
            return bytes(fh.read())
    except (OSError, ValueError):  # ValueError: the row names no file
        raise ReviewflowError(
            f"{pdf.filename}: the uploaded file is missing from the server's storage; "
            "upload it again."
        ) from None


def _attach(
    review: Review,
    pdf: PdfFile,
    record: Record,
    actor: User | None,
    extracted: PdfText,
    data: bytes,
) -> None:
    attach_full_text(
        review=review,
        record=record,
        actor=actor,
        file=io.BytesIO(data),
        filename=pdf.filename,
        extracted=extracted,
        source="batch",
    )
    pdf.status, pdf.record = PdfMatch.ATTACHED, record
    _drop_file(pdf)


@transaction.atomic
def resolve_pdf_file(
    *, pdf_file: PdfFile, actor: User, record: Record | None, replace: bool = False
) -> PdfFile:
    """A person decides where a PDF the matcher was unsure of (or found no record for)
    goes: attach it to ``record`` (``replace`` to put it in place of the record's PDF), or,
    with ``None``, to no record (it stays listed as unmatched)."""
    pdf = PdfFile.objects.select_for_update().get(pk=pdf_file.pk)
    if pdf.status not in (PdfMatch.UNSURE, PdfMatch.UNMATCHED) or not pdf.file:
        raise ReviewflowError(
            f"{pdf.filename} is {pdf.get_status_display().lower()}: there is nothing to decide."
        )
    review = pdf.review
    before = {"status": pdf.status, "record": pdf.record_id}
    if record is None:
        pdf.status, pdf.record = PdfMatch.UNMATCHED, None
        pdf.message = f"{pdf.filename}: no record chosen; attach it by record number."
    else:
        if record.review_id != review.pk:
            raise ReviewflowError(f"There is no record {record.pk} in this review.")
        _check_full_text_record(review, record)
        existing = _existing_pdf(record)
        if existing and not replace:
            raise ReviewflowError(
                f"Record {record.pk} already has a full text ({existing}). Tick “replace” "
                "to put this PDF in its place.",
                field="replace",
                code="conflict",
            )
        extracted = PdfText(text=pdf.text, page_count=pdf.page_count or 0)
        _attach(review, pdf, record, actor, extracted, _stored_bytes(pdf))
        pdf.message = f"Attached to record {record.pk} by {actor.get_username()}." + (
            f" It replaced {existing}." if existing else ""
        )
    pdf.resolved_by, pdf.resolved_at = actor, timezone.now()
    pdf.save()
    record_audit(
        review=review,
        actor=actor,
        action="fulltext.batch_resolved",
        target=pdf.filename,
        before=before,
        after={"status": pdf.status, "record": pdf.record_id, "replaced": bool(replace)},
        object_type="pdffile",
        object_id=pdf.pk,
    )
    return pdf


def restart_stale_pdf_batches(stale_after: timedelta) -> list[int]:
    """Send again the task of every batch running but silent for ``stale_after`` (its
    worker died whole), and of every batch queued that long (its message was lost); return
    their ids. Each is claimed by one conditional UPDATE, so two passes at once send it once;
    the task skips the files already handled."""
    now = timezone.now()
    cutoff = now - stale_after
    stale = PdfBatch.objects.filter(
        Q(status=PdfBatchStatus.RUNNING, heartbeat_at__lt=cutoff)
        | Q(status=PdfBatchStatus.QUEUED, created_at__lt=cutoff, heartbeat_at=None)
        | Q(status=PdfBatchStatus.QUEUED, heartbeat_at__lt=cutoff)
    )
    restarted = []
    for batch_id in list(stale.order_by("pk").values_list("pk", flat=True)):
        if stale.filter(pk=batch_id).update(heartbeat_at=now):
            restarted.append(batch_id)
            send_task(BATCH_TASK, batch_id)
    return restarted
