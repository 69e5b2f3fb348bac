from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Review, Role
from screening.models import OaOutcome, OaResult, OaRun
from screening.services import openaccess


class Command(BaseCommand):
    help = (
        "Look up open-access copies (Unpaywall, OpenAlex, Europe PMC) of the review's records "
        "at full text without a PDF, and attach them, through Celery."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--wait", action="store_true", help="Wait until the look-up ends")
        parser.add_argument("--timeout", type=int, default=3600, help="Seconds --wait waits")

    def handle(self, *args: Any, **opts: Any) -> None:
        review = Review.objects.filter(slug=opts["slug"]).first()
        if review is None:
            raise CommandError(f"No review with the slug “{opts['slug']}”.")
        owner = review.memberships.filter(role=Role.OWNER).select_related("user").first()
        try:
            run = openaccess.start_oa_run(review=review, actor=owner.user if owner else None)
        except ReviewflowError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"Looking for open-access copies of {run.records_total} record(s) (run {run.pk})."
        )
        if not opts["wait"]:
            return
        run = self._wait(run, opts["timeout"])
        counts = openaccess.run_counts(run)
        self.stdout.write(
            f"Run {run.pk}: {counts['attached']} attached, {counts['not_found']} with no "
            f"open-access copy, {counts['failed']} failed, {counts['skipped']} skipped."
        )
        for result in OaResult.objects.filter(run=run).order_by("pk"):
            where = f" from {result.source} ({result.url})" if result.url else ""
            licence = f", licence {result.licence}" if result.licence else ""
            self.stdout.write(
                f"  record {result.record_id}: {result.outcome}{where}{licence}. {result.message}"
            )
        if counts[OaOutcome.FAILED]:
            raise CommandError("Some look-ups failed (see above); run the command again later.")

    def _wait(self, run: OaRun, timeout: int) -> OaRun:
        deadline = time.monotonic() + timeout
        while True:
            run.refresh_from_db()
            if run.is_finished:
                return run
            if time.monotonic() > deadline:
                raise CommandError(
                    f"Open-access run {run.pk}: still {run.status} after {timeout} s; "
                    "is a Celery worker running?"
                )
            time.sleep(0.5)
