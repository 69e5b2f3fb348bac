from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from extraction.exports import (
    build_export,
    select_forms,
    write_csv_files,
    write_csv_zip,
    write_json,
    write_studies_csv,
    write_xlsx,
)
from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Membership, Review


class Command(BaseCommand):
    help = (
        "Export a review's extraction data (the final consensus of each study, or one "
        "extractor's submitted extractions) as CSV, XLSX or JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--format", default="csv", choices=["csv", "xlsx", "json"])
        parser.add_argument(
            "-o",
            "--output",
            type=Path,
            help="File to write. CSV: FILE.csv gets the studies and FILE_<table>.csv each "
            "table beside it; FILE.zip gets them all. Default: stdout (CSV: the studies only).",
        )
        parser.add_argument(
            "--form",
            help="Which form: its title, id or family id, with @N for version N "
            "(default: every published form)",
        )
        parser.add_argument(
            "--extractor", help="Export this user's submitted extractions instead of consensus"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        review = Review.objects.filter(slug=opts["slug"]).first()
        if review is None:
            raise CommandError(f"No review with the slug “{opts['slug']}”.")
        extractor = None
        if opts["extractor"]:
            extractor = User.objects.filter(username=opts["extractor"]).first()
            if (
                extractor is None
                or not Membership.objects.filter(review=review, user=extractor).exists()
            ):
                raise CommandError(f"No member named “{opts['extractor']}” in this review.")
        output: Path | None = opts["output"]
        fmt = opts["format"]
        try:
            forms = select_forms(review, opts["form"])
            export = build_export(review=review, forms=forms, extractor=extractor)
            if output is None:
                self._to_stdout(export, fmt)
                return
            written = self._to_file(export, fmt, output)
        except ReviewflowError as exc:
            raise CommandError(exc.message) from None
        except OSError as exc:
            raise CommandError(f"Cannot write {exc.filename or output}: {exc.strerror}") from None
        for path in written:
            self.stdout.write(str(path))
        what = f"{extractor.username}'s extractions" if extractor else "final consensus"
        self.stdout.write(
            f"Exported {export.study_count} studies ({what}) from "
            f"{len(export.forms)} form{'s' if len(export.forms) != 1 else ''}."
        )

    def _to_stdout(self, export: Any, fmt: str) -> None:
        if fmt == "xlsx":
            raise CommandError("XLSX is a binary file: give -o FILE.xlsx.")
        if fmt == "json":
            write_json(export, sys.stdout)
        else:
            write_studies_csv(export, sys.stdout)

    def _to_file(self, export: Any, fmt: str, output: Path) -> list[Path]:
        if fmt == "csv":
            if output.suffix.lower() == ".zip":
                with output.open("wb") as out:
                    write_csv_zip(export, out, output.stem)
                return [output]
            return write_csv_files(export, output)
        if fmt == "xlsx":
            with output.open("wb") as out:
                write_xlsx(export, out)
        else:
            with output.open("w", encoding="utf-8") as text:
                write_json(export, text)
        return [output]
