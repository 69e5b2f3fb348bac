"""Keeping a review current (#21): saved searches on a schedule, run by Celery beat, and
re-runs that import only the records the review has not seen from their source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reviewflow.reviews.models import AuditEvent
from screening.connectors import Fetched
from screening.connectors.seen import leave_out_seen
from screening.models import Record, RunStatus, SavedSearch, SavedSearchRun, Search, Stage
from screening.services import connectors
from screening.services.screening.votes import cast_vote
from tests.screening.test_connectors import (  # the replayed PubMed answers
    MEDLINE,
    MEDLINE_RECORDS,
    PMIDS,
    Replay,
    pubmed,
    run_now,
)


@pytest.fixture
def services_at(settings, monkeypatch):
    server = Replay()
    settings.PUBMED_EUTILS_URL = server.url
    settings.PUBMED_API_KEY = ""
    monkeypatch.setattr(connectors, "_sleep", lambda seconds: None)
    yield server
    server.server.shutdown()
    server.server.server_close()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "schedule", "expected"),
    [
        ("2026-12-06T07:00", "weekly", "2026-12-13T07:00"),
        ("2026-12-06T07:00", "monthly", "2027-01-06T07:00"),
        ("2027-01-31T23:30", "monthly", "2027-02-28T23:30"),
        ("2028-01-31T08:00", "monthly", "2028-02-29T08:00"),
        ("2027-03-31T08:00", "monthly", "2027-04-30T08:00"),
    ],
)
def test_next_run_is_a_week_or_a_calendar_month_later(moment, schedule, expected):
    assert connectors.next_run_after(at(moment), schedule) == at(expected)


def test_no_schedule_has_no_next_run():
    assert connectors.next_run_after(at("2026-12-06T07:00"), "") is None


# ------------------------------------------------------------------ leaving out the known


def test_medline_records_already_seen_are_left_out_by_pmid():
    fetched = Fetched(
        source="PubMed", query_sent="q", reported=4, fetched=4, fmt="nbib", text=MEDLINE
    )
    kept, left_out = leave_out_seen(fetched, {PMIDS[0], PMIDS[2]})
    assert left_out == 2 and kept.fetched == 2 and kept.reported == 4
    assert [line for line in kept.text.splitlines() if line.startswith("PMID-")] == [
        f"PMID- {PMIDS[1]}",
        f"PMID- {PMIDS[3]}",
    ]
    # The records kept are whole: every line of them as fetched.
    assert kept.text.strip() == "\n\n".join(MEDLINE_RECORDS[i].strip("\n") for i in (1, 3)).strip()


def test_rows_already_seen_are_left_out_by_their_id_and_rows_without_one_kept():
    rows = [{"id": "W1", "title": "a"}, {"id": "W2", "title": "b"}, {"title": "no id"}]
    fetched = Fetched(
        source="OpenAlex", query_sent="q", reported=3, fetched=3, fmt="ris", records=rows
    )
    kept, left_out = leave_out_seen(fetched, {"W2"})
    assert left_out == 1 and kept.fetched == 2
    assert [r["title"] for r in kept.records] == ["a", "no id"]


def test_nothing_seen_leaves_the_search_as_it_came():
    fetched = Fetched(source="PubMed", query_sent="q", reported=4, fetched=4, fmt="nbib", text="x")
    assert leave_out_seen(fetched, set()) == (fetched, 0)


# -------------------------------------------------------------------------- re-runs


@pytest.mark.django_db
def test_a_rerun_after_screening_imports_only_new_records_and_keeps_the_votes(
    review, owner, reviewer, services_at, django_capture_on_commit_callbacks
):
    saved = connectors.create_saved_search(
        review=review, actor=owner, source="pubmed", query="stem cells"
    )
    services_at.answer = pubmed(records=MEDLINE_RECORDS[:2], count=2)
    first = run_now(saved, owner, django_capture_on_commit_callbacks)
    screened = Record.objects.get(search=first.search, pmid=PMIDS[0])
    vote = cast_vote(
        review=review,
        record=screened,
        reviewer=reviewer,
        stage=Stage.TITLE_ABSTRACT,
        decision="exclude",
    )
    # A month later PubMed finds the two records again and two new ones.
    services_at.answer = pubmed()
    again = run_now(saved, owner, django_capture_on_commit_callbacks)
    assert again.status == RunStatus.DONE, again.failure
    assert (again.reported_count, again.fetched_count, again.known_count) == (4, 4, 2)
    assert again.search.supersedes_id is None
    assert sorted(Record.objects.filter(search=again.search).values_list("pmid", flat=True)) == (
        sorted(PMIDS[2:])
    )
    first.search.refresh_from_db()
    assert first.search.status == "done"  # the first run still counts, with its vote
    vote.refresh_from_db()
    assert vote.decision == "exclude"
    assert connectors.explain_run(again) == [
        "PubMed reported 4 records; 4 were fetched.",
        "2 of them were in the review already (earlier runs or exports of this source) and "
        "were left out; their decisions stand.",
        "2 were imported.",
    ]
    assert Record.objects.filter(review=review).count() == 4


@pytest.mark.django_db
def test_a_rerun_finding_nothing_new_adds_no_search(
    review, owner, reviewer, services_at, django_capture_on_commit_callbacks
):
    saved = connectors.create_saved_search(review=review, actor=owner, source="pubmed", query="q")
    services_at.answer = pubmed()
    first = run_now(saved, owner, django_capture_on_commit_callbacks)
    cast_vote(
        review=review,
        record=Record.objects.filter(search=first.search).first(),
        reviewer=reviewer,
        stage=Stage.TITLE_ABSTRACT,
        decision="include",
    )
    again = run_now(saved, owner, django_capture_on_commit_callbacks)
    assert again.status == RunStatus.DONE and again.search is None
    assert again.known_count == 4
    assert connectors.explain_run(again)[-1] == connectors.NOTHING_NEW
    assert Search.objects.filter(review=review).count() == 1


@pytest.mark.django_db
def test_a_rerun_before_screening_still_replaces_the_last_run(
    review, owner, services_at, django_capture_on_commit_callbacks
):
    services_at.answer = pubmed()
    saved = connectors.create_saved_search(review=review, actor=owner, source="pubmed", query="q")
    first = run_now(saved, owner, django_capture_on_commit_callbacks)
    again = run_now(saved, owner, django_capture_on_commit_callbacks)
    assert again.search.supersedes_id == first.search.pk and again.known_count is None


# ------------------------------------------------------------------------ schedules


@pytest.mark.django_db
def test_setting_a_schedule_sets_the_next_run_and_is_audited(review, owner):
    saved = connectors.create_saved_search(review=review, actor=owner, source="pubmed", query="q")
    before = timezone.now()
    saved = connectors.set_schedule(saved_search=saved, actor=owner, schedule="weekly")
    assert before + timedelta(days=7) <= saved.next_run_at <= timezone.now() + timedelta(days=7)
    event = AuditEvent.objects.get(action="saved_search.scheduled")
    assert (event.before, event.after["schedule"]) == ({"schedule": ""}, "weekly")
    saved = connectors.set_schedule(saved_search=saved, actor=owner, schedule="")
    assert saved.next_run_at is None


@pytest.mark.django_db
def test_an_unknown_schedule_is_refused(review, owner):
    saved = connectors.create_saved_search(review=review, actor=owner, source="pubmed", query="q")
    with pytest.raises(connectors.ReviewflowError) as caught:
        connectors.set_schedule(saved_search=saved, actor=owner, schedule="daily")
    assert caught.value.message == "Unknown schedule “daily”: choose weekly, monthly, or none."


@pytest.mark.django_db
def test_due_searches_run_once_and_move_on_a_period(
    review, owner, services_at, django_capture_on_commit_callbacks
):
    services_at.answer = pubmed()
    due = connectors.create_saved_search(review=review, actor=owner, source="pubmed", query="a")
    later = connectors.create_saved_search(review=review, actor=owner, source="pubmed", query="b")
    manual = connectors.create_saved_search(review=review, actor=owner, source="pubmed", query="c")
    for saved in (due, later):
        connectors.set_schedule(saved_search=saved, actor=owner, schedule="monthly")
    now = timezone.now()
    SavedSearch.objects.filter(pk=due.pk).update(next_run_at=now - timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        queued = connectors.run_due_saved_searches(now=now)
    run = SavedSearchRun.objects.get()
    assert queued == [run.pk] and run.saved_search_id == due.pk
    assert run.scheduled and run.requested_by is None
    assert run.status == RunStatus.DONE and run.search.records_imported == 4
    due.refresh_from_db()
    assert due.next_run_at == connectors.next_run_after(now, "monthly")
    # The beat again at once (or a second beat): nothing is due any more.
    with django_capture_on_commit_callbacks(execute=True):
        assert connectors.run_due_saved_searches(now=now) == []
    assert not manual.runs.exists() and not later.runs.exists()


@pytest.mark.django_db
def test_a_due_search_still_running_waits_for_its_next_date(review, owner):
    saved = connectors.create_saved_search(review=review, actor=owner, source="pubmed", query="a")
    connectors.set_schedule(saved_search=saved, actor=owner, schedule="weekly")
    SavedSearchRun.objects.create(saved_search=saved, status=RunStatus.RUNNING)
    now = timezone.now()
    SavedSearch.objects.filter(pk=saved.pk).update(next_run_at=now)
    assert connectors.run_due_saved_searches(now=now) == []
    saved.refresh_from_db()
    assert saved.next_run_at == now + timedelta(days=7)
    assert saved.runs.count() == 1


@pytest.mark.django_db
def test_the_beat_task_is_in_the_celery_timetable(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["run-due-saved-searches"]
    assert entry["task"] == "screening.tasks.run_due_saved_searches"
    from screening import tasks

    assert tasks.run_due_saved_searches.name == entry["task"]


# --------------------------------------------------------------------- page and API


@pytest.mark.django_db
def test_owner_schedules_from_the_page_and_others_cannot(
    review, owner, reviewer, outsider, client_for
):
    saved = connectors.create_saved_search(review=review, actor=owner, source="pubmed", query="q")
    url = reverse("saved-search-schedule", args=[review.slug, saved.pk])
    assert client_for(outsider).post(url, {"schedule": "weekly"}).status_code == 404
    client_for(reviewer).post(url, {"schedule": "weekly"})
    saved.refresh_from_db()
    assert saved.schedule == ""
    response = client_for(owner).post(url, {"schedule": "monthly"}, follow=True)
    saved.refresh_from_db()
    assert saved.schedule == "monthly" and saved.next_run_at is not None
    page = response.content.decode()
    assert "Runs every month; next run" in page
    assert "records already in the review are left out" in page
    client_for(owner).post(url, {"schedule": "hourly"})
    saved.refresh_from_db()
    assert saved.schedule == "monthly"


@pytest.mark.django_db
def test_api_sets_and_shows_the_schedule(review, owner, reviewer, client_for):
    saved = connectors.create_saved_search(review=review, actor=owner, source="pubmed", query="q")
    url = reverse("api-saved-search", args=[review.slug, saved.pk])
    denied = client_for(reviewer).patch(
        url, {"schedule": "weekly"}, content_type="application/json"
    )
    assert denied.status_code in (403, 404)
    answer = client_for(owner).patch(url, {"schedule": "weekly"}, content_type="application/json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["schedule"] == "weekly" and answer.json()["next_run_at"]
    bad = client_for(owner).patch(url, {"schedule": "daily"}, content_type="application/json")
    assert bad.status_code == 400 and "schedule" in bad.json()
