from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.restore import restore_review


class Command(BaseCommand):
    help = (
        "Restore a review from an archive written by backupreview, as a new review "
        "(all or nothing), beside the original if --slug names a new slug. Users are "
        "matched by username; missing ones are created without a usable password. An "
        "archive with a file over MAX_UPLOAD_MB, or an entry unpacking to more than 100 "
        "times its compressed size, is refused."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", type=Path)
        parser.add_argument("--slug", help="Slug of the restored review (default: the original)")
        parser.add_argument("--owner", help="Username to make an owner of the restored review")

    def handle(self, *args: Any, **opts: Any) -> None:
        path: Path = opts["archive"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}.")
        owner = None
        if opts["owner"]:
            owner = get_user_model().objects.filter(username=opts["owner"]).first()
            if owner is None:
                raise CommandError(f"No user called “{opts['owner']}”.")
        try:
            summary = restore_review(path=path, slug=opts["slug"], owner=owner)
        except ReviewflowError as exc:
            raise CommandError(exc.message) from None
        review = summary.review
        rows = sum(summary.counts.values())
        self.stdout.write(
            f"Restored “{review.title}” as {review.slug}: {rows} rows, {summary.files} files."
        )
        for label, n in summary.counts.items():
            if n:
                self.stdout.write(f"  {label}: {n}")
        if summary.users_created:
            self.stdout.write(
                "Created users without a password (set one in the admin): "
                + ", ".join(summary.users_created)
            )
