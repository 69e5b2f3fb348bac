from __future__ import annotations

import time
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Review, Role
from screening.models import ConnectorSource, RunStatus, SavedSearchRun, SearchStatus
from screening.services import connectors


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"“{value}” is not a date: write it as YYYY-MM-DD.") from None


class Command(BaseCommand):
    help = (
        "Search a bibliographic database or register (PubMed, Europe PMC, OpenAlex, "
        "Crossref, ClinicalTrials.gov) and import what it finds as a search of the review, "
        "like an uploaded export; the search is kept as a saved search."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--source", required=True, choices=ConnectorSource.values)
        parser.add_argument("--query", required=True, help="The query, in the database's syntax")
        parser.add_argument("--from", dest="date_from", help="Published on or after (YYYY-MM-DD)")
        parser.add_argument("--to", dest="date_to", help="Published on or before (YYYY-MM-DD)")
        parser.add_argument(
            "--wait", action="store_true", help="Wait until the records are imported"
        )
        parser.add_argument("--timeout", type=int, default=3600, help="Seconds --wait waits")

    def handle(self, *args: Any, **opts: Any) -> None:
        review = Review.objects.filter(slug=opts["slug"]).first()
        if review is None:
            raise CommandError(f"No review with the slug “{opts['slug']}”.")
        owner = review.memberships.filter(role=Role.OWNER).select_related("user").first()
        actor = owner.user if owner else None
        date_from = _date(opts["date_from"]) if opts["date_from"] else None
        date_to = _date(opts["date_to"]) if opts["date_to"] else None
        try:
            saved = connectors.create_saved_search(
                review=review,
                actor=actor,
                source=opts["source"],
                query=opts["query"],
                date_from=date_from,
                date_to=date_to,
            )
            run = connectors.request_run(saved_search=saved, actor=actor)
        except ReviewflowError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Saved search {saved.pk} ({saved}): run {run.pk} queued.")
        if not opts["wait"]:
            return
        run = self._wait(run, opts["timeout"])
        for line in connectors.explain_run(run):
            self.stdout.write(f"  {line}")
        if run.status == RunStatus.FAILED or (
            run.search is not None and run.search.status == SearchStatus.FAILED
        ):
            raise CommandError("The search was not imported (see above).")
        if run.search is not None:
            self.stdout.write(
                f"  search {run.search.pk}: {run.search.source}, {run.search.filename}"
            )

    def _wait(self, run: SavedSearchRun, timeout: int) -> SavedSearchRun:
        deadline = time.monotonic() + timeout
        query = SavedSearchRun.objects.with_counts().select_related("saved_search")
        while True:
            run = query.get(pk=run.pk)
            search = run.search
            if run.is_finished and (
                search is None or (search.is_finished and not search.dedup_pending)
            ):
                return run
            if time.monotonic() > deadline:
                raise CommandError(
                    f"Run {run.pk} still {run.get_status_display().lower()} after {timeout} s; "
                    "is a Celery worker running?"
                )
            time.sleep(0.5)
