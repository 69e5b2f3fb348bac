"""Open-access retrieval (issue #22): for the records at full text without a PDF, look up
free copies (Unpaywall by DOI, OpenAlex's best open-access location, Europe PMC's PMC copy),
download them in a Celery task with size and type checks, and attach each like an uploaded
PDF, recording its source, address, licence and version. What is not found stays listed
for the team: marking a report "not retrieved" remains a person's decision."""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable
from datetime import timedelta
from email.utils import parseaddr
from functools import partial

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from reviewflow.broker import send_task
from reviewflow.errors import ReviewflowError
from reviewflow.heartbeat import beating, later_beat
from reviewflow.reviews.models import Review
from reviewflow.reviews.services import record_audit
from screening.connectors import HttpClient, RateLimiter
from screening.connectors.download import download_pdf
from screening.connectors.openaccess import (
    Found,
    Lookup,
    europepmc_locations,
    find_open_copy,
    openalex_locations,
)
from screening.connectors.unpaywall import unpaywall_locations
from screening.models import (
    FullTextReport,
    OaOutcome,
    OaResult,
    OaRun,
    PdfBatchStatus,
    Record,
)
from screening.pdfmatch import PdfText, read_pdf
from screening.selectors.openaccess import records_without_pdf
from screening.services.fulltext import attach_full_text

log = logging.getLogger(__name__)

OA_TASK = "screening.tasks.run_oa_lookup"
SOURCE_NAMES = {"unpaywall": "Unpaywall", "openalex": "OpenAlex", "europepmc": "Europe PMC"}
ACTIVE = (PdfBatchStatus.QUEUED, PdfBatchStatus.RUNNING)
# Requests a second to each look-up service: Unpaywall asks for under 100,000 a day;
# OpenAlex's polite pool allows 10 a second; Europe PMC has its own setting.
LOOKUPS_PER_SECOND = 5.0
LOOKUP_CRASHED = "The look-up stopped on an unexpected error (logged for the administrator)."
NOTHING_TO_DO = (
    "Every record at full text has a PDF or is marked not retrieved: there is nothing to look up."
)


def unpaywall_email() -> str:
    """The contact address sent to Unpaywall (which refuses requests without one)."""
    return (
        settings.UNPAYWALL_EMAIL
        or settings.CONNECTOR_EMAIL
        or parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    )


@transaction.atomic
def start_oa_run(*, review: Review, actor: User | None) -> OaRun:
    """Queue a look-up of open-access copies for the review's records at full text without
    a PDF; refused while one is queued or running, or when no record needs one."""
    actor = actor if actor is not None and actor.is_authenticated else None
    active = OaRun.objects.filter(review=review, status__in=ACTIVE).first()
    if active is not None:
        raise _already_running(active.pk)
    total = records_without_pdf(review).count()
    if not total:
        raise ReviewflowError(NOTHING_TO_DO)
    try:
        with transaction.atomic():
            run = OaRun.objects.create(review=review, created_by=actor, records_total=total)
    except IntegrityError:  # another request started one a moment ago
        raise _already_running(None) from None
    record_audit(
        review=review,
        actor=actor,
        action="fulltext.oa_started",
        target=f"open-access run {run.pk}",
        after={"records": total},
        object_type="oarun",
        object_id=run.pk,
    )
    run_id = run.pk
    transaction.on_commit(lambda: send_task(OA_TASK, run_id))
    return run


def _already_running(run_id: int | None) -> ReviewflowError:
    which = f" (run {run_id})" if run_id else ""
    return ReviewflowError(
        f"A look-up of open-access copies is already under way{which}; wait for it to finish.",
        code="conflict",
    )


def _claim(run_id: int) -> tuple[OaRun, int] | None:
    with transaction.atomic():
        run = OaRun.objects.select_for_update().select_related("review").get(pk=run_id)
        if run.status == PdfBatchStatus.DONE:
            return None
        run.attempt += 1
        run.status = PdfBatchStatus.RUNNING
        run.started_at = run.started_at or timezone.now()
        run.heartbeat_at = timezone.now()
        run.save()
        return run, run.attempt


def _beat(run_id: int, attempt: int) -> None:
    OaRun.objects.filter(pk=run_id, attempt=attempt, status=PdfBatchStatus.RUNNING).update(
        heartbeat_at=later_beat(timezone.now())
    )


def run_oa_lookup(*, run_id: int) -> OaRun:
    """Look up and fetch a free copy for each record of the run still without a PDF, one
    record at a time (the requests outside any transaction, each result in its own); safe
    to run again: a record with a result in this run is not looked up twice."""
    claimed = _claim(run_id)
    if claimed is None:
        return OaRun.objects.get(pk=run_id)
    run, attempt = claimed
    pending = list(
        records_without_pdf(run.review)
        .exclude(oa_results__run=run)
        .values_list("pk", "doi", "pmid")
    )
    OaRun.objects.filter(pk=run_id).update(records_total=F("records_done") + len(pending))
    clients = _clients()
    with beating(lambda: _beat(run_id, attempt)):
        for record_id, doi, pmid in pending:
            try:
                found = look_up(doi=doi or "", pmid=pmid or "", review=run.review, clients=clients)
            except Exception:
                # One record's surprise must not stall the run (a restart would meet it
                # again): it is logged and listed as failed, and the run goes on.
                log.exception("open-access look-up of record %s failed", record_id)
                found = Found(outcome=OaOutcome.FAILED, tried=[LOOKUP_CRASHED])
            _save_result(run_id, record_id, found)
    return _finish(run_id)


def _clients() -> dict[str, HttpClient]:
    attempts = min(3, settings.CONNECTOR_ATTEMPTS)
    rates = {
        "unpaywall": LOOKUPS_PER_SECOND,
        "openalex": LOOKUPS_PER_SECOND,
        "europepmc": float(settings.EUROPEPMC_REQUESTS_PER_SECOND),
    }
    return {
        key: HttpClient(
            SOURCE_NAMES[key], limiter=RateLimiter(rate), attempts=attempts, timeout=30.0
        )
        for key, rate in rates.items()
    }


def lookups_for(*, doi: str, pmid: str, clients: dict[str, HttpClient]) -> list[Lookup]:
    """The sources to ask for one record, in order: Unpaywall and OpenAlex by DOI (only),
    Europe PMC by DOI or PMID."""
    found: list[Lookup] = []
    if doi:
        email = unpaywall_email()
        found.append(
            (
                "Unpaywall",
                partial(
                    unpaywall_locations,
                    clients["unpaywall"],
                    base_url=settings.UNPAYWALL_URL,
                    doi=doi,
                    email=email,
                ),
            )
        )
        found.append(
            (
                "OpenAlex",
                partial(
                    openalex_locations,
                    clients["openalex"],
                    base_url=settings.OPENALEX_URL,
                    doi=doi,
                    email=settings.CONNECTOR_EMAIL,
                ),
            )
        )
    if doi or pmid:
        found.append(
            (
                "Europe PMC",
                partial(
                    europepmc_locations,
                    clients["europepmc"],
                    base_url=settings.EUROPEPMC_URL,
                    doi=doi,
                    pmid=pmid,
                    email=settings.CONNECTOR_EMAIL,
                ),
            )
        )
    return found


def _fetch(url: str) -> bytes:
    return download_pdf(
        url,
        max_bytes=int(settings.MAX_PDF_MB) * 1024 * 1024,
        timeout=float(settings.OA_DOWNLOAD_TIMEOUT),
        allow_private=settings.OA_ALLOW_PRIVATE_ADDRESSES,
    ).data


def _acceptor(review: Review) -> Callable[[bytes], tuple[PdfText | None, str]]:
    def accept(data: bytes) -> tuple[PdfText | None, str]:
        holder = _holder_of(review, data)
        if holder is not None:
            return None, f"the same PDF is already attached to record {holder}"
        extracted = read_pdf(data)
        if extracted.error:
            return None, extracted.error.rstrip(".")
        return extracted, ""

    return accept


def _holder_of(review: Review, data: bytes) -> int | None:
    sha256 = hashlib.sha256(data).hexdigest()
    return (
        FullTextReport.objects.filter(review=review, content_sha256=sha256)
        .values_list("record_id", flat=True)
        .first()
    )


def look_up(*, doi: str, pmid: str, review: Review, clients: dict[str, HttpClient]) -> Found:
    """Ask the sources for one record and download the first real PDF (no database write)."""
    lookups = lookups_for(doi=doi.strip(), pmid=pmid.strip(), clients=clients)
    if not lookups:
        return Found(outcome=OaOutcome.SKIPPED, tried=["no DOI or PMID to look it up by"])
    accept = _acceptor(review)
    return find_open_copy(lookups, fetch=_fetch, accept=accept)


def _save_result(run_id: int, record_id: int, found: Found) -> None:
    with transaction.atomic():
        run = OaRun.objects.select_for_update().select_related("review").get(pk=run_id)
        if OaResult.objects.filter(run=run, record_id=record_id).exists():
            return  # a second task of the same run got here first
        record = Record.objects.select_related("search").get(pk=record_id)
        outcome, message = found.outcome, found.message
        place = found.location
        if outcome == OaOutcome.ATTACHED:
            assert place is not None and found.data is not None
            outcome, message = _attach(run, record, found)
        result = OaResult.objects.create(
            run=run,
            review=run.review,
            record=record,
            outcome=outcome,
            source=place.source if place else "",
            url=place.url[:1000] if place else "",
            licence=place.licence[:100] if place else "",
            version=place.version[:40] if place else "",
            message=message[:500],
        )
        OaRun.objects.filter(pk=run_id).update(
            records_done=F("records_done") + 1,
            attached=F("attached") + (1 if result.outcome == OaOutcome.ATTACHED else 0),
            heartbeat_at=timezone.now(),
        )


def _attach(run: OaRun, record: Record, found: Found) -> tuple[str, str]:
    place, data = found.location, found.data
    assert place is not None and data is not None
    if FullTextReport.objects.filter(record=record).exclude(pdf="").exists():
        return OaOutcome.SKIPPED, "A PDF was attached by someone else meanwhile; left as it is."
    holder = _holder_of(run.review, data)
    if holder is not None:
        return OaOutcome.FAILED, f"{place.url}: the same PDF is already attached to record {holder}"
    name = SOURCE_NAMES.get(place.source, place.source)
    try:
        attach_full_text(
            review=run.review,
            record=record,
            actor=run.created_by,
            file=io.BytesIO(data),
            filename=f"{place.source}-record-{record.pk}.pdf",
            extracted=found.extracted,
            source=place.source,
            url=place.url,
            licence=place.licence,
            version=place.version,
        )
    except ReviewflowError as exc:  # the record left full text since the run started
        return OaOutcome.FAILED, f"{place.url}: {exc.message}"
    host = f" ({place.host})" if place.host else ""
    return OaOutcome.ATTACHED, f"Attached from {name}{host}."


def _finish(run_id: int) -> OaRun:
    with transaction.atomic():
        run = OaRun.objects.select_for_update().select_related("review").get(pk=run_id)
        if run.status == PdfBatchStatus.DONE:
            return run
        run.status, run.finished_at, run.heartbeat_at = (
            PdfBatchStatus.DONE,
            timezone.now(),
            None,
        )
        run.save()
        counts = run_counts(run)
        record_audit(
            review=run.review,
            actor=None,
            action="fulltext.oa_finished",
            target=f"open-access run {run.pk}",
            after=counts,
            object_type="oarun",
            object_id=run.pk,
        )
    return run


def run_counts(run: OaRun) -> dict[str, int]:
    """The run's records by outcome (every outcome present, zero or not)."""
    counts = dict.fromkeys(OaOutcome.values, 0)
    for outcome in OaResult.objects.filter(run=run).values_list("outcome", flat=True):
        counts[outcome] += 1
    return counts


def restart_stale_oa_runs(stale_after: timedelta) -> list[int]:
    """Send again the task of every run running but silent for ``stale_after`` (its worker
    died whole), and of every run queued that long (its message was lost); each is claimed
    by one conditional UPDATE, so two passes at once send it once."""
    now = timezone.now()
    cutoff = now - stale_after
    stale = OaRun.objects.filter(
        Q(status=PdfBatchStatus.RUNNING, heartbeat_at__lt=cutoff)
        | Q(status=PdfBatchStatus.QUEUED, created_at__lt=cutoff, heartbeat_at=None)
        | Q(status=PdfBatchStatus.QUEUED, heartbeat_at__lt=cutoff)
    )
    restarted = []
    for run_id in list(stale.order_by("pk").values_list("pk", flat=True)):
        if stale.filter(pk=run_id).update(heartbeat_at=now):
            restarted.append(run_id)
            send_task(OA_TASK, run_id)
    return restarted
