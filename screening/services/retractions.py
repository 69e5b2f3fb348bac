"""Retraction watch of a living review (#21): its studies checked against Crossref's
retraction and correction notices, which carry the Retraction Watch database.

Which records: those that reached full text (included at title/abstract: PRISMA's reports
sought and assessed) and the studies included at full text, when they have a DOI. A
notice on a study the review includes changes its results; one on a report being assessed
is worth knowing before it is. Excluded records are not checked.

A check runs in the background (``screening.tasks.run_retraction_check``) when an owner
asks for one and when an update round starts. The whole answer is fetched before anything
is written: a network failure marks the check failed with the reason and changes nothing
else. Notices are stored once (``EditorialNotice``'s unique record, kind and notice DOI):
a second check adds only what is new, and ``record_notices`` returns those new ones, for
whoever tells the owners.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from reviewflow.broker import send_task
from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Membership, Review, Role
from reviewflow.reviews.notifications import notify
from reviewflow.reviews.services import record_audit, record_audit_for_record
from screening.connectors import ConnectorError, HttpClient, RateLimiter
from screening.connectors.retractions import Notice, fetch_notices
from screening.models import (
    EditorialNotice,
    Record,
    RetractionCheck,
)
from screening.selectors.retractions import FINISHED, watched

log = logging.getLogger(__name__)

CHECK_TASK = "screening.tasks.run_retraction_check"
ON_DEMAND, ROUND_START = "on demand", "round start"
# Crossref's list queries: 3 a second in its polite pool, 1 without (the same limit the
# saved searches keep, screening.services.connectors); each request asks for 40 DOIs.
REQUESTS_PER_SECOND = 1.0
# A check queued or running this long lost its worker: another may start.
STALE_AFTER = timedelta(hours=1)
ALREADY_RUNNING = "A retraction check is already under way; wait for it to finish."
NOT_SENT = (
    "The task queue could not be reached, so the check did not run; nothing was changed. "
    "Run it again when the worker is back."
)
LOST = "The check stopped without finishing (its worker was lost); nothing was changed."
CRASHED = (
    "The check stopped on an unexpected error and nothing was changed; the server log has "
    "the details."
)

Fetch = Callable[[Sequence[str]], tuple[set[str], list[Notice]]]


def watched_records(review: Review) -> list[Record]:
    return list(watched(review).only("id", "doi", "title").order_by("id"))


@transaction.atomic
def request_check(
    *, review: Review, actor: User | None, trigger: str = ON_DEMAND
) -> RetractionCheck:
    """Queue a check of the review's records (sent after commit); refused while another is
    under way. ``trigger``: ``on demand`` or ``round start``."""
    Review.objects.select_for_update().get(pk=review.pk)
    unfinished = RetractionCheck.objects.filter(review=review).exclude(status__in=FINISHED)
    unfinished.filter(created_at__lt=timezone.now() - STALE_AFTER).update(
        status=RetractionCheck.Status.FAILED, error=LOST, finished_at=timezone.now()
    )
    if unfinished.exists():
        raise ReviewflowError(ALREADY_RUNNING, code="conflict")
    check = RetractionCheck.objects.create(
        review=review,
        trigger=trigger,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    record_audit(
        review=review,
        actor=actor,
        action="retraction_check.requested",
        target=f"retraction check {check.pk}",
        after={"trigger": trigger},
        object_type="retraction_check",
        object_id=check.pk,
    )
    check_id = check.pk

    def send() -> None:
        if not send_task(CHECK_TASK, check_id):
            RetractionCheck.objects.filter(
                pk=check_id, status=RetractionCheck.Status.QUEUED
            ).update(
                status=RetractionCheck.Status.FAILED, error=NOT_SENT, finished_at=timezone.now()
            )

    transaction.on_commit(send)
    return check


def check_on_round_start(*, review: Review, actor: User | None) -> RetractionCheck | None:
    """The check an update round starts (``rounds.start_update_round``); none when one is
    already under way (its answer is as new)."""
    try:
        return request_check(review=review, actor=actor, trigger=ROUND_START)
    except ReviewflowError:
        return None


def run_check(*, check_id: int, fetch: Fetch | None = None) -> RetractionCheck:
    """Ask Crossref about the watched records, then store the new notices; safe to run
    twice (a finished check is left alone; notices are stored once). ``fetch`` replaces
    the Crossref client (tests)."""
    with transaction.atomic():
        check = RetractionCheck.objects.select_for_update().get(pk=check_id)
        if check.status in FINISHED:
            return check
        check.status = RetractionCheck.Status.RUNNING
        check.save(update_fields=["status"])
    review = Review.objects.get(pk=check.review_id)
    records = watched_records(review)
    try:
        # Nothing to ask about: no request (a review with no included study yet).
        fetched = (fetch or fetch_from_crossref)([r.doi for r in records]) if records else None
        notices = fetched[1] if fetched else []
    except ConnectorError as exc:
        return _fail(check, review, f"Crossref could not be asked: {exc.message}")
    except Exception:
        log.exception("retraction check %s failed", check_id)
        _fail(check, review, CRASHED)
        raise
    with transaction.atomic():
        new = record_notices(review=review, records=records, notices=notices)
        check.status = RetractionCheck.Status.DONE
        check.records_checked = len(records)
        check.notices_found = len(new)
        check.finished_at = timezone.now()
        check.save(update_fields=["status", "records_checked", "notices_found", "finished_at"])
        record_audit(
            review=review,
            actor=None,
            action="retraction_check.finished",
            target=f"retraction check {check.pk}",
            after={"records": len(records), "new_notices": len(new)},
            object_type="retraction_check",
            object_id=check.pk,
        )
        if new:
            _tell_owners(review, new)
    return check


def _tell_owners(review: Review, new: Sequence[EditorialNotice]) -> None:
    """Owners hear of new notices about the review's studies (#21): how many, of which
    kinds, with a link to the retraction watch page."""
    kinds = sorted({notice.get_kind_display().lower() for notice in new})
    studies = len({notice.record_id for notice in new})
    text = (
        f"Crossref reports new editorial notices ({', '.join(kinds)}) about {studies} "
        f"stud{'ies' if studies != 1 else 'y'} of the review."
    )
    url = reverse("retractions", args=[review.slug])
    owners = Membership.objects.filter(review=review, role=Role.OWNER).select_related("user")
    for membership in owners.order_by("user_id"):
        notify(user=membership.user, review=review, kind="retraction", text=text, url=url)


def fetch_from_crossref(dois: Sequence[str]) -> tuple[set[str], list[Notice]]:
    """Crossref's notices about ``dois``, with the address and contact of the settings."""
    client = HttpClient(
        "Crossref",
        limiter=RateLimiter(REQUESTS_PER_SECOND, sleep=_sleep),
        attempts=settings.CONNECTOR_ATTEMPTS,
        sleep=_sleep,
    )
    return fetch_notices(
        client, base_url=settings.CROSSREF_URL, dois=dois, email=settings.CONNECTOR_EMAIL
    )


def record_notices(
    *, review: Review, records: Iterable[Record], notices: Iterable[Notice]
) -> list[EditorialNotice]:
    """Store the notices about ``records`` (matched by DOI) that the review does not hold
    yet; return the new ones, each with its record. Each new notice is in its record's
    history (the audit trail)."""
    by_doi: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        by_doi[record.doi.lower()].append(record)
    wanted = [(record, n) for n in notices for record in by_doi.get(n.doi, [])]
    if not wanted:
        return []
    held = set(
        EditorialNotice.objects.filter(
            record_id__in={record.pk for record, _ in wanted}
        ).values_list("record_id", "kind", "notice_doi")
    )
    new: list[EditorialNotice] = []
    for record, n in wanted:
        key = (record.pk, n.kind, n.notice_doi)
        if key in held:
            continue
        held.add(key)
        notice = EditorialNotice.objects.create(
            review=review,
            record=record,
            kind=n.kind,
            label=n.label,
            notice_doi=n.notice_doi,
            notice_date=n.notice_date,
            source=n.source,
        )
        record_audit_for_record(
            review=review,
            actor=None,
            action="record.editorial_notice_found",
            record_id=record.pk,
            after={
                "kind": n.kind,
                "label": n.label,
                "notice_doi": n.notice_doi,
                "date": n.notice_date.isoformat() if n.notice_date else None,
                "source": n.source,
            },
        )
        new.append(notice)
    return new


def _fail(check: RetractionCheck, review: Review, message: str) -> RetractionCheck:
    check.status = RetractionCheck.Status.FAILED
    check.error = message[:500]
    check.finished_at = timezone.now()
    check.save(update_fields=["status", "error", "finished_at"])
    record_audit(
        review=review,
        actor=None,
        action="retraction_check.failed",
        target=f"retraction check {check.pk}",
        after={"error": check.error},
        object_type="retraction_check",
        object_id=check.pk,
    )
    return check


def _sleep(seconds: float) -> None:
    # A function of this module, so tests can skip the waits.
    time.sleep(seconds)
