"""Digests: a daily or weekly e-mail, per user and review, of what waits for the user there —
records left for them to screen, conflicts they may adjudicate, extractions assigned to
them, deadlines near or past. Counts and links only: a digest never names a vote, so it
cannot break blinding.

Celery beat runs ``send_due_digests`` every ``DIGEST_CHECK_SECONDS``. A daily digest is due
from ``DIGEST_HOUR`` (the clock of ``TIME_ZONE``) each day, a weekly one from that hour on
``DIGEST_WEEKDAY`` each ISO week; a check that finds one due (also a late one, after beat was
stopped) writes a ``DigestSent`` row for the period, whose unique constraint makes the digest
go once however many checks and workers run. Nothing to say: the row is written, no e-mail.

The sections come from the apps (``screening.selectors.digest``,
``extraction.services.digest``), imported when a digest is built: the core imports neither
app at module level.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from reviewflow.reviews import emails, outbox
from reviewflow.reviews.models import (
    DigestFrequency,
    DigestSent,
    EmailKind,
    Membership,
    NotificationPreference,
)
from reviewflow.reviews.notifications import (
    DIGEST,
    pick_preferences,
    unsubscribe_headers,
    unsubscribe_url,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DigestLine:
    """One thing waiting for the reader, with the path of the page where they do it."""

    text: str
    url: str


def digest_period(now: datetime, frequency: str, *, hour: int, weekday: int) -> str | None:
    """The period a digest of ``frequency`` is due for at ``now`` (local time), or ``None``
    before its hour: ``daily:2026-12-06``, ``weekly:2026-W49``."""
    if frequency == DigestFrequency.DAILY:
        return f"daily:{now.date().isoformat()}" if now.hour >= hour else None
    if frequency == DigestFrequency.WEEKLY:
        if (now.weekday(), now.hour) < (weekday, hour):
            return None
        year, week, _ = now.isocalendar()
        return f"weekly:{year}-W{week:02d}"
    return None


def lines_for(membership: Membership, *, today: date) -> list[DigestLine]:
    """What waits for the member in their review, in the order the work flows."""
    from extraction.services.digest import extraction_lines
    from screening.selectors.digest import screening_lines

    horizon = today + timedelta(days=settings.DIGEST_DEADLINE_DAYS)
    found: list[tuple[str, str]] = [
        *screening_lines(membership, today=today, horizon=horizon),
        *extraction_lines(membership, today=today, horizon=horizon),
    ]
    return [DigestLine(text=text, url=url) for text, url in found]


def compose_digest(
    membership: Membership, lines: list[DigestLine], *, frequency: str
) -> tuple[emails.Composed, dict[str, str]]:
    """The digest message and its unsubscribe headers."""
    unsubscribe = unsubscribe_url(
        user_id=membership.user_id, review_id=membership.review_id, what=DIGEST
    )
    composed = emails.compose(
        "digest",
        {
            "review": membership.review,
            "user": membership.user,
            "lines": [(line.text, settings.SITE_URL + line.url) for line in lines],
            "frequency": DigestFrequency(frequency).label.lower(),
            "review_url": settings.SITE_URL
            + reverse("review-detail", args=[membership.review.slug]),
            "settings_url": settings.SITE_URL + reverse("notification-settings"),
            "unsubscribe_url": unsubscribe,
            "site_url": settings.SITE_URL + "/",
        },
    )
    return composed, unsubscribe_headers(unsubscribe)


def _due(memberships: Iterable[Membership], now: datetime) -> list[tuple[Membership, str, str]]:
    """(membership, frequency, period) of each digest due now, not yet done."""
    members = list(memberships)
    users = {m.user_id for m in members}
    rows: dict[int, list[NotificationPreference]] = {user_id: [] for user_id in users}
    for row in NotificationPreference.objects.filter(user_id__in=users):
        rows[row.user_id].append(row)
    due: list[tuple[Membership, str, str]] = []
    for membership in members:
        frequency = pick_preferences(rows[membership.user_id], membership.review_id).digest
        period = digest_period(
            now, frequency, hour=settings.DIGEST_HOUR, weekday=settings.DIGEST_WEEKDAY
        )
        if period is not None:
            due.append((membership, frequency, period))
    done = set(
        DigestSent.objects.filter(
            user_id__in=users, period__in={period for _, _, period in due}
        ).values_list("user_id", "review_id", "period")
    )
    return [
        (m, frequency, period)
        for m, frequency, period in due
        if (m.user_id, m.review_id, period) not in done
    ]


def send_digest(membership: Membership, *, frequency: str, period: str, today: date) -> bool:
    """Send one member's digest for ``period`` unless it was done; whether a message went."""
    lines = lines_for(membership, today=today)
    try:
        with transaction.atomic():
            sent = DigestSent.objects.create(
                user_id=membership.user_id, review_id=membership.review_id, period=period
            )
            if not lines:
                return False
            composed, headers = compose_digest(membership, lines, frequency=frequency)
            sent.email = outbox.queue_email(
                kind=EmailKind.DIGEST,
                to=membership.user.email,
                composed=composed,
                review=membership.review,
                headers=headers,
            )
            sent.save(update_fields=["email"])
    except IntegrityError:
        return False  # another check (another worker) did this period first
    return True


def send_due_digests(now: datetime | None = None) -> int:
    """Send every digest due at ``now`` (default: now) and not yet sent; how many went."""
    local = timezone.localtime(now or timezone.now())
    memberships = (
        Membership.objects.filter(user__is_active=True)
        .exclude(user__email="")
        .select_related("user", "review")
        .order_by("id")
    )
    sent = 0
    for membership, frequency, period in _due(memberships, local):
        if send_digest(membership, frequency=frequency, period=period, today=local.date()):
            sent += 1
    if sent:
        log.info("queued %d digests", sent)
    return sent
