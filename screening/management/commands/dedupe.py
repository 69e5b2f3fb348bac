from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewflow.exports import safe_cell
from reviewflow.reviews.models import Review
from screening.services import dedup


class Command(BaseCommand):
    help = (
        "Compare every record of a review with every other, merge sure duplicates and queue "
        "unsure pairs (decisions people made are kept)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument(
            "--export-clusters",
            type=Path,
            metavar="FILE.csv",
            help="Write record_id,search,cluster_id,status for every record",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        review = Review.objects.filter(slug=opts["slug"]).first()
        if review is None:
            raise CommandError(f"No review with the slug “{opts['slug']}”.")
        result = dedup.run_dedup(review_id=review.pk)
        self.stdout.write(
            f"Compared {result.compared} records: {result.new_auto} new sure pairs, "
            f"{result.new_pending} new pairs for a person; {result.merged} records merged; "
            f"{result.clusters} clusters; {result.pending_total} pairs wait in the queue."
        )
        if opts["export_clusters"]:
            rows = dedup.cluster_rows(review)
            with opts["export_clusters"].open("w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(
                    fh, fieldnames=["record_id", "search", "cluster_id", "status"]
                )
                writer.writeheader()
                writer.writerows({k: safe_cell(v) for k, v in row.items()} for row in rows)
            self.stdout.write(f"Wrote {len(rows)} rows to {opts['export_clusters']}.")
