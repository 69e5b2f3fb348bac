from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewflow.reviews.models import Review
from screening.prisma import check, in_progress, prisma_pdf, prisma_png, prisma_svg, to_csv
from screening.selectors.rounds import rounds_of
from screening.services.prisma import prisma_counts


class Command(BaseCommand):
    help = "Write the review's PRISMA 2020 flow diagram or its counts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--format", default="svg", choices=["svg", "png", "pdf", "json", "csv"])
        parser.add_argument("-o", "--output", type=Path, help="File to write (default: stdout)")
        parser.add_argument(
            "--round",
            type=int,
            help="The update round whose diagram to write (default: the current round)",
        )
        parser.add_argument(
            "--draft",
            action="store_true",
            help="Frame the boxes that do not add up in red, with a panel saying why",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        review = Review.objects.filter(slug=opts["slug"]).first()
        if review is None:
            raise CommandError(f"No review with the slug “{opts['slug']}”.")
        every = rounds_of(review)
        if opts["round"] is not None and opts["round"] not in every:
            raise CommandError(
                f"The review has no round {opts['round']}: its rounds are "
                f"{', '.join(map(str, every))}."
            )
        counts = prisma_counts(review, opts["round"] or every[-1])
        fmt = opts["format"]
        if fmt in ("png", "pdf") and not opts["output"]:
            raise CommandError(f"Name the file to write the {fmt.upper()} to with -o FILE.")
        body: str | bytes
        if fmt == "svg":
            body = prisma_svg(counts, draft=opts["draft"])
        elif fmt == "png":
            body = prisma_png(counts, draft=opts["draft"])
        elif fmt == "pdf":
            body = prisma_pdf(counts, draft=opts["draft"])
        elif fmt == "csv":
            body = to_csv(counts)
        else:
            body = json.dumps(counts.to_json(), indent=2)
        if opts["output"]:
            if isinstance(body, bytes):
                opts["output"].write_bytes(body)
            else:
                opts["output"].write_text(body, encoding="utf-8")
            self.stdout.write(f"Wrote {opts['output']}.")
        else:
            sys.stdout.write(body if isinstance(body, str) else "")
        for note in in_progress(counts):
            self.stderr.write(note)
        for problem in check(counts):
            self.stderr.write(f"warning: {problem.message}")
