from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Review, Role
from screening.importers import ENCODINGS, FORMATS
from screening.models import Search, SearchStatus, SourceType
from screening.services import identification


class Command(BaseCommand):
    help = "Import export files as searches of a review (one search per file) through Celery."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument("--source", help="Source name (default: the file name)")
        parser.add_argument("--source-type", default=SourceType.DATABASE, choices=SourceType.values)
        parser.add_argument("--format", default="auto", choices=["auto", *FORMATS])
        parser.add_argument(
            "--encoding",
            default="auto",
            choices=["auto", *ENCODINGS],
            help="The text files' encoding (default: detect it from the content)",
        )
        parser.add_argument(
            "--supersedes",
            type=int,
            metavar="ID",
            help="The file is a new run of the search with this id: it replaces that search "
            "in every count (one file only). Without it, a file already imported is refused.",
        )
        parser.add_argument("--wait", action="store_true", help="Wait until each import ends")
        parser.add_argument("--timeout", type=int, default=3600, help="Seconds --wait waits")

    def handle(self, *args: Any, **opts: Any) -> None:
        review = Review.objects.filter(slug=opts["slug"]).first()
        if review is None:
            raise CommandError(f"No review with the slug “{opts['slug']}”.")
        owner = review.memberships.filter(role=Role.OWNER).select_related("user").first()
        actor = owner.user if owner else None
        if opts["supersedes"] is not None and len(opts["files"]) != 1:
            raise CommandError("--supersedes replaces one search: give exactly one file.")
        searches = []
        for path in opts["files"]:
            if not path.is_file():
                raise CommandError(f"{path}: no such file.")
            with path.open("rb") as fh:
                try:
                    search = identification.create_search(
                        review=review,
                        actor=actor,
                        file=fh,
                        filename=path.name,
                        source=opts["source"] or path.stem,
                        source_type=opts["source_type"],
                        fmt=opts["format"],
                        encoding=opts["encoding"],
                        supersedes=opts["supersedes"],
                    )
                except ReviewflowError as exc:
                    raise CommandError(exc.message) from None
            if search.import_deferred:
                self.stderr.write(
                    f"{path.name}: saved as search {search.pk}. {identification.IMPORT_DEFERRED}"
                )
            else:
                self.stdout.write(f"{path.name}: queued as search {search.pk}.")
            searches.append(search)
        if not opts["wait"]:
            return
        failed = False
        for search in searches:
            search = self._wait(search, opts["timeout"])
            if search.status == SearchStatus.FAILED:
                failed = True
                self.stderr.write(f"{search.filename}: failed — {search.failure}")
                continue
            self.stdout.write(
                f"{search.filename}: {search.format}, {search.records_read} read, "
                f"{search.records_imported} imported, {search.records_rejected} rejected."
            )
            self.stdout.write(f"  encoding: {search.encoding}")
            for error in search.errors[:20]:
                self.stdout.write(f"  line {error['line']}: {error['message']}")
            for warning in search.warnings:
                self.stdout.write(f"  warning: {warning}")
        if failed:
            raise CommandError("Some files could not be imported (see above).")

    def _wait(self, search: Search, timeout: int) -> Search:
        deadline = time.monotonic() + timeout
        while True:
            search.refresh_from_db()
            if search.is_finished:
                return search
            if time.monotonic() > deadline:
                raise CommandError(
                    f"{search.filename}: still {search.status} after {timeout} s; "
                    "is a Celery worker running?"
                )
            time.sleep(0.5)
