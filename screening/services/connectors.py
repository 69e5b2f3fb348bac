"""Saved database searches, run from inside reviewflow (PubMed, Europe PMC, OpenAlex,
ClinicalTrials.gov).

"Run now" queues ``screening.tasks.run_saved_search``, which calls ``run_saved_search``:
the whole search is fetched first (``screening.connectors``), so a failure half-way
changes nothing but the run's status and message; then the records become a search exactly
like an uploaded export (``identification.create_search``: same file storage, progress
bar, rejections, provenance and deduplication), linked from the run that made it.
"""

from __future__ import annotations

import calendar
import dataclasses
import io
import logging
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from reviewflow.broker import send_task
from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Review
from reviewflow.reviews.services import record_audit
from screening.connectors import (
    ConnectorError,
    Fetched,
    HttpClient,
    RateLimiter,
    fetch_clinicaltrials,
    fetch_crossref,
    fetch_europepmc,
    fetch_openalex,
    fetch_pubmed,
)
from screening.connectors.openalex import fetch_openalex_citations
from screening.connectors.seen import leave_out_seen
from screening.exporters import write_ris
from screening.models import (
    ConnectorSource,
    Decision,
    OtherMethod,
    Outcome,
    Record,
    RunStatus,
    SavedSearch,
    SavedSearchRun,
    Schedule,
    Search,
    SearchMethod,
    SearchStatus,
    SourceType,
    Stage,
)
from screening.services import identification

log = logging.getLogger(__name__)

RUN_TASK = "screening.tasks.run_saved_search"
MAX_QUERY_LENGTH = 10_000
RUN_NOT_SENT = (
    "The task queue could not be reached, so the search was not run; nothing was imported. "
    "Run it again when the worker is back."
)
RUN_CRASHED = (
    "The run stopped on an unexpected error and nothing was imported; the server log has "
    "the details."
)
RUN_LOST = "The run stopped without finishing (its worker was lost); nothing was imported."
# A run queued or fetching for longer than this lost its worker: a new run may start.
RUN_STALE_AFTER = timedelta(hours=1)
NO_RECORDS = "The database found no records, so no search was added to the review."
NOTHING_NEW = (
    "Every record found is in the review already (from earlier runs or exports of this "
    "source), so no search was added."
)
# What PRISMA counts each source's searches as: ClinicalTrials.gov is a trial register.
SOURCE_TYPES: dict[str, str] = {ConnectorSource.CLINICALTRIALS: SourceType.REGISTER}
# Requests a second: OpenAlex's polite pool allows 10; ClinicalTrials.gov asks for about
# 50 a minute.
OPENALEX_REQUESTS_PER_SECOND = 10.0
CLINICALTRIALS_REQUESTS_PER_SECOND = 0.8
# Crossref allows list queries (searches) 1 a second in its public pool and 3 in the polite
# pool (with ``mailto``), one at a time (its blog, "Announcing changes to REST API rate
# limits", 1 December 2025): 1 a second keeps to both, and its pages of 1000 works take
# longer than that to come anyway.
CROSSREF_REQUESTS_PER_SECOND = 1.0


def _sleep(seconds: float) -> None:
    # A function of this module, so tests can skip the waits.
    time.sleep(seconds)


def check_saved_search(
    *, source: str, query: str, date_from: date | None, date_to: date | None
) -> str:
    """The query, trimmed, if a saved search of it may be made; else the user's message."""
    if source not in ConnectorSource.values:
        raise ReviewflowError(
            f"Unknown source “{source}”: choose {' or '.join(ConnectorSource.values)}.",
            field="source",
        )
    query = query.strip()
    if not query:
        raise ReviewflowError("Write the search query.", field="query")
    if len(query) > MAX_QUERY_LENGTH:
        raise ReviewflowError(
            f"The query is {len(query)} characters long; the limit is {MAX_QUERY_LENGTH}.",
            field="query",
        )
    if date_from and date_to and date_from > date_to:
        raise ReviewflowError(
            f"The start date ({date_from:%-d %b %Y}) is after the end date ({date_to:%-d %b %Y}).",
            field="date_to",
        )
    return query


CITATION_SOURCE = "OpenAlex citation searching"  # the searches' source name
NO_INCLUDED_DOIS = (
    "No included study has a DOI yet: citation searching starts from the DOIs of the studies "
    "included at full text. Run it once some are."
)


@transaction.atomic
def create_saved_search(
    *,
    review: Review,
    actor: User | None,
    source: str,
    query: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
    method: str = SearchMethod.QUERY,
) -> SavedSearch:
    """Keep a database search with the review (run it with ``request_run``).

    ``method``: a query search, or citation searching (OpenAlex) of the studies the review
    includes when it runs; the query is then the method's description."""
    if method not in SearchMethod.values:
        raise ReviewflowError(f"Unknown search method “{method}”.", field="method")
    if method:
        source, query = ConnectorSource.OPENALEX, SearchMethod(method).label
        date_from = date_to = None
    query = check_saved_search(source=source, query=query, date_from=date_from, date_to=date_to)
    saved = SavedSearch.objects.create(
        review=review,
        source=source,
        method=method,
        query=query,
        date_from=date_from,
        date_to=date_to,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    record_audit(
        review=review,
        actor=actor,
        action="saved_search.created",
        target=str(saved),
        after={
            "source": source,
            "method": method,
            "query": query,
            "date_from": date_from.isoformat() if date_from else None,
            "date_to": date_to.isoformat() if date_to else None,
        },
        object_type="saved_search",
        object_id=saved.pk,
    )
    return saved


@transaction.atomic
def request_run(
    *, saved_search: SavedSearch, actor: User | None, scheduled: bool = False
) -> SavedSearchRun:
    """Queue a run of ``saved_search`` (after commit); refused while one is under way.
    ``scheduled``: started by the saved search's schedule (``run_due_saved_searches``)."""
    SavedSearch.objects.select_for_update().get(pk=saved_search.pk)
    unfinished = saved_search.runs.filter(status__in=(RunStatus.QUEUED, RunStatus.RUNNING))
    unfinished.filter(created_at__lt=timezone.now() - RUN_STALE_AFTER).update(
        status=RunStatus.FAILED, failure=RUN_LOST, finished_at=timezone.now()
    )
    if unfinished.exists():
        raise ReviewflowError("This search is already running; wait for it to finish.")
    run = SavedSearchRun.objects.create(
        saved_search=saved_search,
        requested_by=actor if actor is not None and actor.is_authenticated else None,
        scheduled=scheduled,
    )
    record_audit(
        review=saved_search.review,
        actor=actor,
        action="saved_search.run_requested",
        target=str(saved_search),
        after={"scheduled": scheduled},
        object_type="saved_search",
        object_id=saved_search.pk,
    )
    run_id = run.pk

    def send() -> None:
        if not send_task(RUN_TASK, run_id):
            SavedSearchRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
                status=RunStatus.FAILED, failure=RUN_NOT_SENT, finished_at=timezone.now()
            )

    transaction.on_commit(send)
    return run


def run_saved_search(
    *, run_id: int, fetch: Callable[[SavedSearch], Fetched] | None = None
) -> SavedSearchRun:
    """Fetch the whole search, then store it as a search of the review; safe to run twice.

    A run already finished is left as it is. A run found running (its worker died, the
    broker delivered the task again) fetches again: nothing was written before the fetch
    ended. ``fetch`` replaces the connector (tests).
    """
    with transaction.atomic():
        run = SavedSearchRun.objects.select_for_update().get(pk=run_id)
        if run.is_finished:
            return run
        run.status = RunStatus.RUNNING
        run.started_at = timezone.now()
        run.save(update_fields=["status", "started_at"])
    saved = SavedSearch.objects.select_related("review").get(pk=run.saved_search_id)
    try:
        fetched = (fetch or fetch_saved_search)(saved)
        return _store(run, saved, fetched)
    except ConnectorError as exc:
        return _finish(run, saved, failure=exc.message)
    except Exception:
        log.exception("run %s of saved search %s failed", run_id, saved.pk)
        _finish(run, saved, failure=RUN_CRASHED)
        raise


def fetch_saved_search(saved: SavedSearch) -> Fetched:
    """The whole search from its database, with the addresses and limits of the settings."""
    if saved.method:
        dois = included_dois(saved.review)
        if not dois:
            raise ConnectorError(NO_INCLUDED_DOIS)
        fetched = fetch_openalex_citations(
            _client("OpenAlex", per_second=OPENALEX_REQUESTS_PER_SECOND),
            base_url=settings.OPENALEX_URL,
            dois=dois,
            direction=saved.method,
            email=settings.CONNECTOR_EMAIL,
        )
        return dataclasses.replace(fetched, source=CITATION_SOURCE)
    if saved.source == ConnectorSource.PUBMED:
        key = settings.PUBMED_API_KEY
        client = _client("PubMed", per_second=10 if key else 3)
        return fetch_pubmed(
            client,
            base_url=settings.PUBMED_EUTILS_URL,
            query=saved.query,
            date_from=saved.date_from,
            date_to=saved.date_to,
            api_key=key,
            email=settings.CONNECTOR_EMAIL,
        )
    if saved.source == ConnectorSource.OPENALEX:
        return fetch_openalex(
            _client("OpenAlex", per_second=OPENALEX_REQUESTS_PER_SECOND),
            base_url=settings.OPENALEX_URL,
            query=saved.query,
            date_from=saved.date_from,
            date_to=saved.date_to,
            email=settings.CONNECTOR_EMAIL,
        )
    if saved.source == ConnectorSource.CROSSREF:
        return fetch_crossref(
            _client("Crossref", per_second=CROSSREF_REQUESTS_PER_SECOND),
            base_url=settings.CROSSREF_URL,
            query=saved.query,
            date_from=saved.date_from,
            date_to=saved.date_to,
            email=settings.CONNECTOR_EMAIL,
        )
    if saved.source == ConnectorSource.CLINICALTRIALS:
        return fetch_clinicaltrials(
            _client("ClinicalTrials.gov", per_second=CLINICALTRIALS_REQUESTS_PER_SECOND),
            base_url=settings.CLINICALTRIALS_URL,
            query=saved.query,
            date_from=saved.date_from,
            date_to=saved.date_to,
        )
    client = _client("Europe PMC", per_second=settings.EUROPEPMC_REQUESTS_PER_SECOND)
    return fetch_europepmc(
        client,
        base_url=settings.EUROPEPMC_URL,
        query=saved.query,
        date_from=saved.date_from,
        date_to=saved.date_to,
        email=settings.CONNECTOR_EMAIL,
    )


def included_dois(review: Review) -> list[str]:
    """The DOIs of the records included at full text (where citation searching starts)."""
    included = Outcome.objects.filter(
        review=review, stage=Stage.FULL_TEXT, decision=Decision.INCLUDE
    ).values("record_id")
    return sorted(
        set(Record.objects.filter(pk__in=included).exclude(doi="").values_list("doi", flat=True))
    )


def _client(service: str, *, per_second: float) -> HttpClient:
    return HttpClient(
        service,
        limiter=RateLimiter(per_second, sleep=_sleep),
        attempts=settings.CONNECTOR_ATTEMPTS,
        sleep=_sleep,
    )


def _export(fetched: Fetched) -> bytes:
    """The fetched search as the export file the importer reads."""
    if fetched.fmt == "ris":
        out = io.StringIO()
        write_ris(fetched.records, out)
        return out.getvalue().encode("utf-8")
    return fetched.text.encode("utf-8")


def _store(run: SavedSearchRun, saved: SavedSearch, fetched: Fetched) -> SavedSearchRun:
    if fetched.fetched == 0:
        return _finish(run, saved, fetched=fetched, notes=[NO_RECORDS])
    supersedes = _replaceable_search(saved)
    known: int | None = None  # not looked for: a first run, or one replacing the last
    kept = fetched
    if supersedes is None and _ran_before(saved, run):
        # A re-run whose earlier records have been screened: keep those (and their
        # decisions), import only what the review has not seen from this source. (A first
        # run imports everything; deduplication finds what overlaps other searches.)
        kept, known = leave_out_seen(fetched, known_source_ids(saved, fetched.source))
        if kept.fetched == 0:
            return _finish(run, saved, fetched=fetched, known=known, notes=[NOTHING_NEW])
    content = _export(kept)
    today = timezone.localdate()
    filename = f"{saved.source}-{today:%Y-%m-%d}-run{run.pk}.{fetched.fmt}"
    search_string = fetched.query_sent
    if (saved.date_from or saved.date_to) and fetched.query_sent == saved.query:
        # PubMed, OpenAlex and ClinicalTrials.gov take date limits apart from the query;
        # their first note says how they were sent, and the search keeps it.
        search_string += "\n" + fetched.notes[0]
    with transaction.atomic():
        current = SavedSearchRun.objects.select_for_update().get(pk=run.pk)
        if current.is_finished:
            return current  # another delivery of the task stored it meanwhile
        try:
            search = identification.create_search(
                review=saved.review,
                actor=run.requested_by,
                file=io.BytesIO(content),
                filename=filename,
                source=fetched.source,
                source_type=(
                    SourceType.OTHER
                    if saved.method
                    else SOURCE_TYPES.get(saved.source, SourceType.DATABASE)
                ),
                other_method=OtherMethod.CITATION if saved.method else "",
                search_date=today,
                search_string=search_string,
                fmt=fetched.fmt,
                supersedes=supersedes,
            )
        except ReviewflowError as exc:
            return _finish(run, saved, fetched=fetched, failure=exc.message)
        return _finish(run, saved, fetched=fetched, search=search, known=known)


def _ran_before(saved: SavedSearch, run: SavedSearchRun) -> bool:
    """Whether an earlier run of ``saved`` imported a search that still counts."""
    return (
        SavedSearchRun.objects.filter(saved_search=saved, status=RunStatus.DONE)
        .exclude(pk=run.pk)
        .filter(search__status=SearchStatus.DONE)
        .exists()
    )


def known_source_ids(saved: SavedSearch, source: str) -> set[str]:
    """The source identifiers of the review's records from ``source`` (the database's name,
    as its connector gives it): from earlier runs of any saved search of it, and from
    uploaded exports of it. A replaced (superseded) search no longer counts."""
    return set(
        Record.objects.filter(
            review_id=saved.review_id,
            search__source__iexact=source,
            search__status=SearchStatus.DONE,
        )
        .exclude(source_record_id="")
        .values_list("source_record_id", flat=True)
        .distinct()
    )


def _replaceable_search(saved: SavedSearch) -> int | None:
    """The search of this saved search's last imported run, when a new run may replace it
    (issue #19: a new run of a search replaces it in every count, unless its records have
    been screened; then the new run is a search of its own, deduplicated against it)."""
    last = (
        SavedSearchRun.objects.filter(
            saved_search=saved, status=RunStatus.DONE, search__status=SearchStatus.DONE
        )
        .order_by("-finished_at", "-pk")
        .values_list("search_id", flat=True)
        .first()
    )
    if last is None:
        return None
    try:
        identification.check_supersedes(review=saved.review, supersedes=last)
    except ReviewflowError:
        return None
    return last


def _finish(
    run: SavedSearchRun,
    saved: SavedSearch,
    *,
    fetched: Fetched | None = None,
    failure: str = "",
    search: Search | None = None,
    notes: list[str] | None = None,
    known: int | None = None,
) -> SavedSearchRun:
    """Record the run's outcome: counts and notes, or why nothing was imported."""
    with transaction.atomic():
        now = timezone.now()
        run.status = RunStatus.FAILED if failure else RunStatus.DONE
        run.failure = failure
        run.finished_at = now
        run.search = search
        run.known_count = known
        if fetched is not None:
            run.query_sent = fetched.query_sent
            run.reported_count, run.fetched_count = fetched.reported, fetched.fetched
            run.notes = [*fetched.notes, *(notes or [])]
        run.save()
        SavedSearch.objects.filter(pk=saved.pk).update(last_run_at=now)
        record_audit(
            review=saved.review,
            actor=None,
            action="saved_search.failed" if failure else "saved_search.ran",
            target=str(saved),
            after={
                "reported": run.reported_count,
                "fetched": run.fetched_count,
                "known": known,
                "search": search.pk if search else None,
                "failure": failure,
            },
            object_type="saved_search",
            object_id=saved.pk,
        )
    return run


def explain_run(run: SavedSearchRun) -> list[str]:
    """Sentences that account for every record between the count the database reported
    and the count imported (``run`` from ``SavedSearchRun.objects.with_counts()``)."""
    if run.status == RunStatus.FAILED:
        return [run.failure]
    if run.reported_count is None:
        return ["Waiting for the database's answer."]
    name = run.saved_search.get_source_display()
    lines = [f"{name} reported {run.reported_count} records; {run.fetched_count} were fetched."]
    if run.known_count:
        lines.append(
            f"{run.known_count} of them were in the review already (earlier runs or exports "
            "of this source) and were left out; their decisions stand."
        )
    search = run.search
    if search is None:
        return lines + list(run.notes)
    if search.status != SearchStatus.DONE:
        if search.status == SearchStatus.FAILED:
            return [*lines, f"The import failed: {search.failure}"]
        if search.status in (SearchStatus.QUEUED, SearchStatus.RUNNING):
            return [*lines, "Importing them now."]
        # e.g. replaced by a newer run of the same search (issue #19)
        return [*lines, f"The search is {search.get_status_display().lower()}."]
    if search.records_read != (run.fetched_count or 0) - (run.known_count or 0):
        lines.append(f"The importer read {search.records_read} of them.")
    if search.records_rejected:
        lines.append(
            f"{search.records_rejected} were rejected as empty (listed with their reasons on "
            "the search's page)."
        )
    lines.append(f"{search.records_imported} were imported.")
    duplicates = getattr(run, "duplicates", None)
    if search.dedup_requested_at is not None:
        lines.append("Deduplication against the review's other records is still running.")
    elif duplicates:
        lines.append(
            f"{duplicates} of them were found to duplicate records already in the review "
            "(see Duplicates); the others go on to screening."
        )
    return lines


# -- Schedules ----------------------------------------------------------------------------


def next_run_after(moment: datetime, schedule: str) -> datetime | None:
    """When a ``schedule`` runs next after ``moment``: a week later, or the same day of the
    next month (the month's last day when it is shorter: 31 Jan → 28/29 Feb)."""
    if schedule == Schedule.WEEKLY:
        return moment + timedelta(days=7)
    if schedule == Schedule.MONTHLY:
        year, month = (
            (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
        )
        day = min(moment.day, calendar.monthrange(year, month)[1])
        return moment.replace(year=year, month=month, day=day)
    return None


@transaction.atomic
def set_schedule(*, saved_search: SavedSearch, actor: User | None, schedule: str) -> SavedSearch:
    """Run ``saved_search`` by itself every week or month from now on (or never: ``""``).
    The first scheduled run comes one period from now; "Run now" stays available."""
    if schedule not in Schedule.values:
        raise ReviewflowError(
            f"Unknown schedule “{schedule}”: choose weekly, monthly, or none.", field="schedule"
        )
    saved = SavedSearch.objects.select_for_update().get(pk=saved_search.pk)
    before = {"schedule": saved.schedule}
    saved.schedule = schedule
    saved.next_run_at = next_run_after(timezone.now(), schedule)
    saved.save(update_fields=["schedule", "next_run_at"])
    record_audit(
        review=saved.review,
        actor=actor,
        action="saved_search.scheduled",
        target=str(saved),
        before=before,
        after={
            "schedule": schedule,
            "next_run_at": saved.next_run_at.isoformat() if saved.next_run_at else None,
        },
        object_type="saved_search",
        object_id=saved.pk,
    )
    return saved


def run_due_saved_searches(*, now: datetime | None = None, limit: int = 100) -> list[int]:
    """Queue a run of every scheduled saved search that is due; the ids of the runs queued.

    Celery beat calls this every few minutes (``screening.tasks.run_due_saved_searches``).
    Each due search is claimed by moving its ``next_run_at`` on with a conditional UPDATE,
    so two beats (or a beat delivered twice) never queue it twice. A search whose last run is
    still under way is skipped until its next date; runs missed while the server was down
    are not caught up one by one: the next comes one period after now.
    """
    now = now or timezone.now()
    due = list(
        SavedSearch.objects.filter(next_run_at__lte=now)
        .exclude(schedule="")
        .select_related("review")
        .order_by("next_run_at", "pk")[:limit]
    )
    queued = []
    for saved in due:
        following = next_run_after(now, saved.schedule)
        with transaction.atomic():
            claimed = SavedSearch.objects.filter(
                pk=saved.pk, next_run_at=saved.next_run_at, schedule=saved.schedule
            ).update(next_run_at=following)
            if not claimed:
                continue  # another beat took it, or an owner changed the schedule
            try:
                run = request_run(saved_search=saved, actor=None, scheduled=True)
            except ReviewflowError:
                log.info("saved search %s is still running; its scheduled run waits", saved.pk)
                continue
            queued.append(run.pk)
    return queued
