from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewflow.reviews.models import Review
from screening.exporters import write_bibtex, write_csv, write_ris
from screening.selectors.identification import EXPORT_COLUMNS, records_for_export


class Command(BaseCommand):
    help = "Export a review's records as RIS, CSV or BibTeX."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument(
            "--stage",
            default="all",
            choices=["all", "unique", "ta-included", "included", "excluded"],
            help="all records, unique ones (no duplicates), included at title/abstract or at full "
            "text, or "
            "excluded (with the reason)",
        )
        parser.add_argument("--format", default="ris", choices=["ris", "csv", "bibtex"])
        parser.add_argument("-o", "--output", type=Path, help="File to write (default: stdout)")

    def handle(self, *args: Any, **opts: Any) -> None:
        review = Review.objects.filter(slug=opts["slug"]).first()
        if review is None:
            raise CommandError(f"No review with the slug “{opts['slug']}”.")
        rows = records_for_export(review, opts["stage"])
        out = (
            opts["output"].open("w", encoding="utf-8", newline="") if opts["output"] else sys.stdout
        )
        try:
            if opts["format"] == "ris":
                n = write_ris(rows, out)
            elif opts["format"] == "bibtex":
                n = write_bibtex(rows, out)
            else:
                n = write_csv(rows, out, columns=EXPORT_COLUMNS)
        finally:
            if opts["output"]:
                out.close()
        if opts["output"]:
            self.stdout.write(f"Wrote {n} records to {opts['output']}.")
