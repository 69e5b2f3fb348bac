from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewflow.errors import ReviewflowError
from reviewflow.exports import safe_cell
from reviewflow.reviews.models import Review
from screening.services import dedup


class Command(BaseCommand):
    help = (
        "Compare every record of a review with every other, merge sure duplicates and queue "
        "unsure pairs (decisions people made are kept). After an upgrade, --recheck lists "
        "the automatic merges the current rules would no longer make, and "
        "--apply-new-rules undoes them and puts their pairs in the queue."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument(
            "--export-clusters",
            type=Path,
            metavar="FILE.csv",
            help="Write record_id,search,cluster_id,status for every record",
        )
        parser.add_argument(
            "--recheck",
            action="store_true",
            help="List automatic merges the current rules would not make; change nothing",
        )
        parser.add_argument(
            "--apply-new-rules",
            action="store_true",
            help=(
                "Undo the automatic merges the current rules would not make and queue their "
                "pairs for a person (decisions people made are kept)"
            ),
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="With --apply-new-rules: apply even where the records carry screening votes",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        review = Review.objects.filter(slug=opts["slug"]).first()
        if review is None:
            raise CommandError(f"No review with the slug “{opts['slug']}”.")
        if opts["recheck"] or opts["apply_new_rules"]:
            self._recheck(review, apply=opts["apply_new_rules"], force=opts["force"])
            return
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

    def _recheck(self, review: Review, *, apply: bool, force: bool) -> None:
        stale = dedup.stale_merges(review)
        if not stale:
            self.stdout.write(
                "Every automatic merge of this review is one the current rules make too."
            )
            return
        self.stdout.write(
            f"{len(stale)} automatic merge{'s' if len(stale) != 1 else ''} the current rules "
            "would not make:"
        )
        for s in stale:
            verdict = "for a person" if s.outcome == "pending" else "distinct"
            self.stdout.write(
                f"  records {s.pair.record_a_id} and {s.pair.record_b_id} "
                f"({s.pair.record_a.title[:60]!r}): now {verdict}: {s.explanation}"
            )
        if not apply:
            self.stdout.write(
                "Nothing changed. Run with --apply-new-rules to undo these merges and put "
                "their pairs in the duplicate queue."
            )
            return
        try:
            result = dedup.apply_current_rules(review, force=force)
        except ReviewflowError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"Applied: {result.requeued} pairs back in the queue, {result.unmerged} records "
            f"unmerged; {result.pending_total} pairs wait in the queue."
        )
