"""Digests (#20): what waits for each member of a scripted team, per review — records left
for them per stage, conflicts they may adjudicate, extractions assigned, deadlines near and
past — daily or weekly from the configured hour, once per period however often beat checks,
nothing sent when there is nothing to say, and never another reviewer's decision. One digest
goes through a real SMTP server (aiosmtpd) with its unsubscribe link."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.test import Client

from extraction.models import Extraction
from extraction.services.forms import create_form, publish_form
from reviewflow.reviews import digest, notifications
from reviewflow.reviews.models import DigestSent, EmailKind, Membership, OutgoingEmail
from screening.models import ScreeningAssignment
from screening.services.screening.stage_settings import update_stage_settings
from tests.conftest import needs_service
from tests.extraction.helpers import spec
from tests.reviewflow.test_email import FROM, inbox, parts, smtp  # noqa: F401  (fixtures)
from tests.screening.screening_fixtures import import_records, vote
from tests.worker import real_worker, wait_for

pytestmark = pytest.mark.django_db

TA, FT = "title-abstract", "full-text"
UTC = ZoneInfo("UTC")
MONDAY = datetime(2026, 12, 7, 7, 30, tzinfo=UTC)  # ISO week 50
TODAY = MONDAY.date()


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 5, tzinfo=UTC)


# ------------------------------------------------------------------------------ periods


@pytest.mark.parametrize(
    ("now", "frequency", "period"),
    [
        (at(TODAY, 6), "daily", None),
        (at(TODAY, 7), "daily", "daily:2026-12-07"),
        (at(TODAY, 23), "daily", "daily:2026-12-07"),
        (at(TODAY, 6), "weekly", None),  # Monday before the hour
        (at(TODAY, 7), "weekly", "weekly:2026-W50"),
        (at(TODAY + timedelta(days=3), 2), "weekly", "weekly:2026-W50"),  # late: still due
        (at(TODAY - timedelta(days=1), 23), "weekly", "weekly:2026-W49"),  # Sunday: last week
        (at(TODAY, 12), "none", None),
    ],
)
def test_a_digest_is_due_from_its_hour_and_weekday(now, frequency, period):
    assert digest.digest_period(now, frequency, hour=7, weekday=0) == period


# ------------------------------------------------------------------------------ content


@pytest.fixture
def team(review, owner, reviewer, reviewer2):
    """Four records: rachel included #0 and #1, roberto excluded #0 (a conflict); roberto
    has three assigned records (one overdue, one due soon, one later) and olivia an
    extraction due tomorrow."""
    records = import_records(review, owner, 4)
    vote(review, records[0], reviewer, "include")
    vote(review, records[1], reviewer, "include")
    vote(review, records[0], reviewer2, "exclude")
    for record, days in ((records[2], -1), (records[3], 2), (records[1], 10)):
        ScreeningAssignment.objects.create(
            review=review,
            record=record,
            stage=TA,
            reviewer=reviewer2,
            due_date=TODAY + timedelta(days=days),
        )
    form = publish_form(form=create_form(review=review, actor=owner, spec=spec()), actor=owner)
    Extraction.objects.create(
        form=form, record=records[0], extractor=owner, slot=1, due_date=TODAY + timedelta(days=1)
    )
    return records


def lines_of(review, user):
    membership = Membership.objects.select_related("review", "user").get(review=review, user=user)
    return [line.text for line in digest.lines_for(membership, today=TODAY)]


def test_each_member_s_digest_names_what_waits_for_them(
    team, review, owner, reviewer, reviewer2, viewer
):
    assert lines_of(review, reviewer) == ["2 records left for you at title and abstract"]
    assert lines_of(review, reviewer2) == [
        "3 records left for you at title and abstract",
        "1 assigned record overdue at title and abstract (due since 6 December 2026)",
        "1 assigned record due soon at title and abstract (the first on 9 December 2026)",
    ]
    assert lines_of(review, owner) == [
        "3 records left for you at title and abstract",
        "1 conflict to adjudicate at title and abstract",
        "1 extraction assigned to you",
        "1 extraction due soon (the first on 8 December 2026)",
    ]
    assert lines_of(review, viewer) == []


def test_reviewers_see_conflicts_only_where_the_stage_lets_them_adjudicate(
    team, review, owner, reviewer, reviewer2, make_user
):
    from reviewflow.reviews.services import add_member

    third = make_user("tess")
    add_member(review=review, actor=owner, user=third, role="reviewer")
    assert "conflict" not in " ".join(lines_of(review, third))
    update_stage_settings(review=review, stage=TA, actor=owner, adjudicators="reviewers")
    assert "1 conflict to adjudicate at title and abstract" in lines_of(review, third)
    # Those who voted on the disputed record do not adjudicate it.
    assert "conflict" not in " ".join(lines_of(review, reviewer) + lines_of(review, reviewer2))


def test_a_digest_never_gives_away_another_reviewer_s_decision(team, review, reviewer2):
    membership = Membership.objects.select_related("review", "user").get(
        review=review, user=reviewer2
    )
    lines = digest.lines_for(membership, today=TODAY)
    composed, _ = digest.compose_digest(membership, lines, frequency="daily")
    for text in (composed.subject, composed.text, composed.html):
        lowered = text.lower()
        for word in ("include", "exclude", "maybe", "rachel", "olivia", "vote"):
            assert word not in lowered, (word, text)


# ------------------------------------------------------------------------------ sending


def test_digests_go_once_per_period_and_only_with_something_to_say(
    team, review, owner, reviewer, reviewer2, viewer, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    for user in (owner, reviewer, reviewer2, viewer):
        notifications.set_preferences(user=user, review=None, digest="daily")
    notifications.set_preferences(user=reviewer, review=review, digest="none")
    with django_capture_on_commit_callbacks(execute=True):
        assert digest.send_due_digests(at(TODAY, 6)) == 0
        assert digest.send_due_digests(at(TODAY, 7)) == 2  # olivia and roberto
        assert digest.send_due_digests(at(TODAY, 8)) == 0  # beat checks again: nothing twice
    assert sorted(m.to[0] for m in mail.outbox) == ["olivia@example.org", "roberto@example.org"]
    # The viewer had nothing waiting: the day is done for them, without a message.
    assert DigestSent.objects.filter(user=viewer, email__isnull=True).count() == 1
    assert not DigestSent.objects.filter(user=reviewer).exists()
    assert OutgoingEmail.objects.filter(kind=EmailKind.DIGEST).count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert digest.send_due_digests(at(TODAY + timedelta(days=1), 7)) == 2


def test_a_weekly_digest_goes_once_a_week_even_when_beat_was_late(
    team, review, owner, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DIGEST_WEEKDAY = 2  # Wednesday
    with django_capture_on_commit_callbacks(execute=True):
        assert digest.send_due_digests(at(TODAY + timedelta(days=1), 12)) == 0  # Tuesday
        # Beat was down on Wednesday: Thursday's first check sends the week's digests.
        sent = digest.send_due_digests(at(TODAY + timedelta(days=3), 1))
        assert sent == 3  # olivia, rachel and roberto (weekly is the default)
        assert digest.send_due_digests(at(TODAY + timedelta(days=4), 9)) == 0
    assert set(DigestSent.objects.values_list("period", flat=True)) == {"weekly:2026-W50"}


def test_a_digest_reaches_a_real_mail_server_and_its_unsubscribe_link_works(
    team,
    review,
    reviewer2,
    smtp,  # noqa: F811
    settings,
    django_capture_on_commit_callbacks,
):
    notifications.set_preferences(user=reviewer2, review=review, digest="daily")
    settings.SITE_URL = "http://testserver"
    with django_capture_on_commit_callbacks(execute=True):
        assert digest.send_due_digests(at(TODAY, 9)) >= 1
    [message] = [m for m in smtp.messages if m["To"] == "roberto@example.org"]
    assert message["Subject"] == f"[{review.title}] Your daily digest: 3 things waiting for you"
    text, html = parts(message)
    assert "1 assigned record overdue at title and abstract" in text
    assert "<li><a href=" in html
    unsubscribe = message["List-Unsubscribe"].strip().strip("<>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe in text
    path = unsubscribe.removeprefix("http://testserver")
    response = Client().post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert notifications.preferences_for(reviewer2, review).digest == "none"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_beat_s_task_sends_the_digests_through_a_real_worker_on_redis(
    inbox,  # noqa: F811
    tmp_path,
    monkeypatch,
    review,
    owner,
    reviewer,
):
    needs_service("Redis", "REDIS_URL")
    from reviewflow.broker import send_task

    monkeypatch.setenv("EMAIL_URL", f"smtp://127.0.0.1:{inbox.port}")
    monkeypatch.setenv("DEFAULT_FROM_EMAIL", FROM)
    monkeypatch.setenv("DIGEST_HOUR", "0")  # due whenever the test runs
    monkeypatch.setenv("SITE_URL", "https://reviews.example.org")
    import_records(review, owner, 2)
    notifications.set_preferences(user=reviewer, review=review, digest="daily")
    with real_worker("redis", tmp_path) as worker:
        for _ in range(2):  # beat checks twice: one digest
            assert send_task("reviewflow.reviews.tasks.send_due_digests")
        wait_for(
            lambda: OutgoingEmail.objects.filter(kind=EmailKind.DIGEST, status="sent").first(),
            timeout=60,
            what="the digest e-mail sent",
            worker=worker,
        )
    [message] = [m for m in inbox.messages if m["To"] == "rachel@example.org"]
    text, _ = parts(message)
    assert "2 records left for you at title and abstract" in text
    assert "https://reviews.example.org/notifications/unsubscribe/" in text
    assert DigestSent.objects.filter(user=reviewer).count() == 1
