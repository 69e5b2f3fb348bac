from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.backup import backup_review
from reviewflow.reviews.models import Review


class Command(BaseCommand):
    help = (
        "Write one review, with its members, searches and their files, records, "
        "screening, full texts and audit trail, to a zip archive that restorereview reads."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument(
            "-o", "--output", type=Path, help="Archive to write (default: SLUG-YYYYMMDD-HHMM.zip)"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        review = Review.objects.filter(slug=opts["slug"]).first()
        if review is None:
            raise CommandError(f"No review with the slug “{opts['slug']}”.")
        path = opts["output"] or Path(f"{review.slug}-{timezone.now():%Y%m%d-%H%M}.zip")
        try:
            summary = backup_review(review=review, path=path)
        except ReviewflowError as exc:
            raise CommandError(exc.message) from None
        rows = sum(summary.counts.values())
        self.stdout.write(
            f"Backed up “{review.title}” ({review.slug}) to {summary.path}: {rows} rows, "
            f"{summary.files} files."
        )
        for label, n in summary.counts.items():
            if n:
                self.stdout.write(f"  {label}: {n}")
        for missing in summary.missing_files:
            self.stderr.write(f"warning: stored file missing, not in the archive: {missing}")
