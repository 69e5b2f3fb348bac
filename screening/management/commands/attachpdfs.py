from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Review, Role
from screening.models import PdfBatch, PdfFile, PdfMatch
from screening.services import pdfs


class Command(BaseCommand):
    help = (
        "Upload PDFs (files, folders of PDFs or zips) as one batch and match them to the "
        "review's records at full text through Celery."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
        parser.add_argument("--wait", action="store_true", help="Wait until the batch is matched")
        parser.add_argument("--timeout", type=int, default=3600, help="Seconds --wait waits")

    def handle(self, *args: Any, **opts: Any) -> None:
        review = Review.objects.filter(slug=opts["slug"]).first()
        if review is None:
            raise CommandError(f"No review with the slug “{opts['slug']}”.")
        owner = review.memberships.filter(role=Role.OWNER).select_related("user").first()
        files = self._files(opts["paths"])
        with ExitStack() as stack:
            opened: list[tuple[str, IO[bytes]]] = [
                (path.name, stack.enter_context(path.open("rb"))) for path in files
            ]
            try:
                batch = pdfs.create_pdf_batch(
                    review=review, actor=owner.user if owner else None, files=opened
                )
            except ReviewflowError as exc:
                raise CommandError(exc.message) from None
        self.stdout.write(f"{batch.files_total} file(s) queued as PDF batch {batch.pk}.")
        if not opts["wait"]:
            return
        batch = self._wait(batch, opts["timeout"])
        counts = pdfs.batch_counts(batch)
        self.stdout.write(
            f"Batch {batch.pk}: {counts['attached']} attached, {counts['unsure']} unsure, "
            f"{counts['unmatched']} unmatched, {counts['duplicate']} duplicate, "
            f"{counts['failed']} could not be read."
        )
        for pdf in PdfFile.objects.filter(batch=batch).defer("text").order_by("pk"):
            record = f" → record {pdf.record_id}" if pdf.record_id else ""
            self.stdout.write(f"  {pdf.filename}: {pdf.status}{record}. {pdf.message}")
        if counts[PdfMatch.FAILED]:
            raise CommandError("Some files could not be read (see above).")

    def _files(self, paths: list[Path]) -> list[Path]:
        found: list[Path] = []
        for path in paths:
            if path.is_dir():
                found += sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and p.suffix.lower() in (".pdf", ".zip")
                )
            elif path.is_file():
                found.append(path)
            else:
                raise CommandError(f"{path}: no such file or folder.")
        if not found:
            raise CommandError("No PDF or zip file in the paths given.")
        return found

    def _wait(self, batch: PdfBatch, timeout: int) -> PdfBatch:
        deadline = time.monotonic() + timeout
        while True:
            batch.refresh_from_db()
            if batch.is_finished:
                return batch
            if time.monotonic() > deadline:
                raise CommandError(
                    f"PDF batch {batch.pk}: still {batch.status} after {timeout} s; "
                    "is a Celery worker running?"
                )
            time.sleep(0.5)
