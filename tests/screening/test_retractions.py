"""Retraction watch (#21): a review's included and full-text records checked against
Crossref's notices, end to end against a local server replaying real recorded works
(test_retractions_connector.py); the flags on the record page, the records list, the
dashboard and the exports; who may do what; a new update round starts a check."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.audit_words import Event, describe
from reviewflow.reviews.models import AuditEvent
from screening.models import EditorialNotice, Record, RetractionCheck, Stage
from screening.selectors.retractions import NOTICE_COLUMNS
from screening.services import identification, retractions, rounds
from screening.services.screening.votes import cast_vote
from tests.screening.factories import upload
from tests.screening.test_connectors import Replay
from tests.screening.test_retractions_connector import served

pytestmark = pytest.mark.django_db

LANCET = "10.1016/s0140-6736(20)31180-6"  # retracted, corrected, an expression of concern
APSUSC = "10.1016/j.apsusc.2007.01.131"  # retracted, with an erratum
ICETCE = "10.1109/icetce.2011.5774727"  # retracted in place
CLEAN = "10.1111/ele.14024"  # no notice
DOIS = {"lancet": LANCET, "apsusc": APSUSC, "icetce": ICETCE, "clean": CLEAN}


def ris(title: str, doi: str) -> str:
    lines = ["TY  - JOUR", f"TI  - {title}", "AU  - Family, Given", "PY  - 2020"]
    if doi:
        lines.append(f"DO  - {doi}")
    return "\n".join([*lines, "ER  - ", ""])


@pytest.fixture
def crossref(settings, monkeypatch):
    server = Replay()
    server.answer = served()
    settings.CROSSREF_URL = server.url
    settings.CONNECTOR_EMAIL = "team@example.org"
    settings.CONNECTOR_ATTEMPTS = 2
    monkeypatch.setattr(retractions, "_sleep", lambda seconds: None)
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def studies(review, owner, reviewer, reviewer2, django_capture_on_commit_callbacks):
    """Five records: the Lancet paper and a clean one included at full text, a paper at
    full text (passed title/abstract), one excluded at title/abstract, one without DOI."""
    text = "".join(ris(f"Study {name}", doi) for name, doi in [*DOIS.items(), ("no doi", "")])
    with django_capture_on_commit_callbacks(execute=True):
        identification.create_search(
            review=review, actor=owner, file=upload(text), filename="s.ris", source="Embase"
        )
    found = {r.title.removeprefix("Study "): r for r in Record.objects.filter(review=review)}

    def vote(record: Record, stage: str, decision: str) -> None:
        for person in (reviewer, reviewer2):
            cast_vote(review=review, record=record, reviewer=person, stage=stage, decision=decision)

    for name in ("lancet", "clean", "apsusc", "no doi"):
        vote(found[name], Stage.TITLE_ABSTRACT, "include")
    for name in ("lancet", "clean"):
        vote(found[name], Stage.FULL_TEXT, "include")
    vote(found["icetce"], Stage.TITLE_ABSTRACT, "exclude")
    return found


def check_now(review, owner, capture, trigger=retractions.ON_DEMAND) -> RetractionCheck:
    with capture(execute=True):
        check = retractions.request_check(review=review, actor=owner, trigger=trigger)
    check.refresh_from_db()
    return check


def notices(record: Record) -> list[tuple[str, str]]:
    return [
        (n.kind, n.notice_doi) for n in EditorialNotice.objects.filter(record=record).order_by("id")
    ]


# ----------------------------------------------------------------------------- the check


def test_a_check_stores_the_notices_of_included_and_full_text_records(
    review, owner, studies, crossref, django_capture_on_commit_callbacks
):
    check = check_now(review, owner, django_capture_on_commit_callbacks)
    assert (check.status, check.error) == (RetractionCheck.Status.DONE, "")
    assert (check.trigger, check.records_checked, check.notices_found) == ("on demand", 3, 8)
    assert check.finished_at is not None and check.created_by == owner
    # Only the three watched DOIs were asked about (not the excluded one), in one request.
    (sent,) = crossref.calls("works")
    assert sent["filter"] == f"doi:{APSUSC},doi:{LANCET},doi:{CLEAN}"
    assert sent["mailto"] == "team@example.org"
    assert notices(studies["lancet"]) == [
        ("concern", "10.1016/s0140-6736(20)31290-3"),
        ("correction", "10.1016/s0140-6736(20)31249-6"),
        ("retraction", "10.1016/s0140-6736(20)31324-6"),
        ("retraction", "10.1016/s0140-6736(20)31174-0"),
        ("correction", "10.1016/s0140-6736(20)31324-6"),
        ("correction", "10.1016/s0140-6736(20)31528-2"),
    ]
    retraction = EditorialNotice.objects.get(
        record=studies["lancet"], kind="retraction", notice_doi="10.1016/s0140-6736(20)31324-6"
    )
    assert (retraction.label, str(retraction.notice_date), retraction.source) == (
        "Retraction",
        "2020-06-05",
        "retraction-watch",
    )
    assert notices(studies["apsusc"]) == [
        ("retraction", "10.1016/j.apsusc.2017.07.145"),
        ("correction", "10.1016/j.apsusc.2017.07.145"),
    ]
    assert notices(studies["icetce"]) == notices(studies["clean"]) == []
    # Each new notice is in its record's history; the check in the audit trail.
    found = AuditEvent.objects.filter(
        action="record.editorial_notice_found", object_id=studies["apsusc"].pk
    )
    assert found.count() == 2
    finished = AuditEvent.objects.get(action="retraction_check.finished")
    assert str(describe(Event(action=finished.action, after=finished.after))) == (
        "The retraction check read 3 records and found 8 new notices"
    )


def test_a_second_check_adds_only_what_is_new(
    review, owner, studies, crossref, django_capture_on_commit_callbacks
):
    check_now(review, owner, django_capture_on_commit_callbacks)
    assert EditorialNotice.objects.count() == 8
    again = check_now(review, owner, django_capture_on_commit_callbacks)
    assert (again.status, again.records_checked, again.notices_found) == ("done", 3, 0)
    assert EditorialNotice.objects.count() == 8
    # A notice the review did not hold yet is the only one recorded and returned.
    EditorialNotice.objects.filter(record=studies["apsusc"], kind="correction").delete()
    _found, fetched = retractions.fetch_from_crossref([APSUSC, LANCET])
    new = retractions.record_notices(
        review=review, records=[studies["apsusc"], studies["lancet"]], notices=fetched
    )
    assert [(n.record_id, n.kind, n.label) for n in new] == [
        (studies["apsusc"].pk, "correction", "Erratum")
    ]
    assert EditorialNotice.objects.count() == 8


def test_running_a_finished_check_again_changes_nothing(
    review, owner, studies, crossref, django_capture_on_commit_callbacks
):
    check = check_now(review, owner, django_capture_on_commit_callbacks)
    assert retractions.run_check(check_id=check.pk).notices_found == 8
    assert len(crossref.requests) == 1


def test_a_network_failure_fails_the_check_with_the_reason_and_changes_nothing(
    review, owner, studies, crossref, django_capture_on_commit_callbacks
):
    crossref.answer = lambda path, params: (503, {}, b"")
    check = check_now(review, owner, django_capture_on_commit_callbacks)
    assert check.status == RetractionCheck.Status.FAILED
    assert check.error == (
        "Crossref could not be asked: Crossref did not answer after 2 attempts (HTTP 503); "
        "nothing was imported. Run the search again later."
    )
    assert (check.records_checked, check.notices_found) == (0, 0)
    assert not EditorialNotice.objects.exists()
    assert AuditEvent.objects.filter(action="retraction_check.failed").count() == 1


def test_a_review_with_nothing_included_asks_crossref_nothing(
    review, owner, crossref, django_capture_on_commit_callbacks
):
    check = check_now(review, owner, django_capture_on_commit_callbacks)
    assert (check.status, check.records_checked) == ("done", 0)
    assert crossref.requests == []


def test_a_second_check_is_refused_while_one_is_under_way_unless_it_was_lost(review, owner):
    first = retractions.request_check(review=review, actor=owner)
    with pytest.raises(ReviewflowError) as caught:
        retractions.request_check(review=review, actor=owner)
    assert caught.value.message == "A retraction check is already under way; wait for it to finish."
    RetractionCheck.objects.filter(pk=first.pk).update(
        created_at=timezone.now() - timedelta(hours=2)
    )
    second = retractions.request_check(review=review, actor=owner)
    first.refresh_from_db()
    assert (first.status, first.error) == ("failed", retractions.LOST)
    assert second.status == "queued"


def test_a_check_the_queue_cannot_take_fails_and_says_so(
    review, owner, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(retractions, "send_task", lambda *args: False)
    check = check_now(review, owner, django_capture_on_commit_callbacks)
    assert (check.status, check.error) == ("failed", retractions.NOT_SENT)


def test_starting_an_update_round_checks_the_included_studies(
    review, owner, studies, crossref, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        rounds.start_update_round(review=review, actor=owner, label="2027 update")
    check = RetractionCheck.objects.get(review=review)
    assert (check.trigger, check.status, check.notices_found) == ("round start", "done", 8)
    requested = AuditEvent.objects.get(action="retraction_check.requested")
    assert str(describe(Event(action=requested.action, actor="olivia", after=requested.after))) == (
        "olivia asked for a check of the included studies against Crossref's retraction and "
        "correction notices (an update round started)"
    )


def test_a_round_starts_even_while_a_check_is_under_way(review, owner):
    retractions.request_check(review=review, actor=owner)
    assert rounds.start_update_round(review=review, actor=owner).number == 2
    assert RetractionCheck.objects.filter(review=review).count() == 1


# ---------------------------------------------------------------------------- the flags


@pytest.fixture
def checked(review, owner, studies, crossref, django_capture_on_commit_callbacks):
    check_now(review, owner, django_capture_on_commit_callbacks)
    return studies


def test_the_record_page_shows_its_notices(review, viewer, checked, client_for):
    client = client_for(viewer)
    page = client.get(reverse("record-detail", args=[review.slug, checked["lancet"].pk]))
    html = page.content.decode()
    assert "data-editorial-notices" in html
    assert "Crossref reports 6 editorial notices about this record" in html
    assert 'data-notice="retraction"' in html and "10.1016/s0140-6736(20)31324-6" in html
    assert "5 Jun 2020" in html
    clean = client.get(reverse("record-detail", args=[review.slug, checked["clean"].pk]))
    assert "data-editorial-notices" not in clean.content.decode()


def test_the_records_list_flags_retracted_records_without_more_queries(
    review, owner, viewer, studies, crossref, client_for, django_capture_on_commit_callbacks
):
    client = client_for(viewer)
    url = reverse("review-records", args=[review.slug])
    client.get(url)  # the session's first request

    def page_queries() -> tuple[Any, int]:
        with CaptureQueriesContext(connection) as counted:
            page = client.get(url)
        return page, len(counted.captured_queries)

    _before, unflagged = page_queries()
    check_now(review, owner, django_capture_on_commit_callbacks)
    page, flagged = page_queries()
    assert flagged == unflagged  # the flags come in the list's own query
    rows = {r.pk: r for r in page.context["page"]}
    assert (rows[studies["lancet"].pk].retracted, rows[studies["clean"].pk].has_notice) == (
        True,
        False,
    )
    html = page.content.decode()
    assert html.count("data-notice-flag") == 2  # the Lancet paper and the apsusc one


def test_the_dashboard_panel_lists_flagged_included_and_full_text_studies(
    review, viewer, checked, client_for
):
    client = client_for(viewer)
    dashboard = client.get(reverse("review-detail", args=[review.slug])).content.decode()
    assert reverse("retractions-panel", args=[review.slug]) in dashboard
    panel = client.get(reverse("retractions-panel", args=[review.slug]))
    flagged = [f.record.pk for f in panel.context["flagged"]]
    assert flagged == [checked["lancet"].pk, checked["apsusc"].pk]  # included first
    assert [f.place_label for f in panel.context["flagged"]] == ["Included study", "At full text"]
    assert "2 included or full-text studies carry a retraction" in panel.content.decode()


def test_the_records_export_has_the_notice_columns(review, viewer, checked, client_for):
    response = client_for(viewer).get(
        reverse("export-records", args=[review.slug, "included", "csv"])
    )
    text = b"".join(response.streaming_content).decode()
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(text))}
    lancet = rows[str(checked["lancet"].pk)]
    # By date of notice, the three columns in step.
    kinds, dois, dates = (lancet[c].split("; ") for c in NOTICE_COLUMNS)
    assert list(zip(kinds, dois, dates, strict=True)) == [
        ("retraction", "10.1016/s0140-6736(20)31174-0", "2020-05-22"),
        ("correction", "10.1016/s0140-6736(20)31249-6", "2020-05-30"),
        ("concern", "10.1016/s0140-6736(20)31290-3", "2020-06-03"),
        ("retraction", "10.1016/s0140-6736(20)31324-6", "2020-06-05"),
        ("correction", "10.1016/s0140-6736(20)31324-6", "2020-06-13"),
        ("correction", "10.1016/s0140-6736(20)31528-2", "2020-07-18"),
    ]
    assert rows[str(checked["clean"].pk)]["notice_kind"] == ""


def test_the_records_list_export_of_a_selection_has_the_notice_columns(
    review, viewer, checked, client_for
):
    ids = [checked["lancet"].pk, checked["clean"].pk]
    response = client_for(viewer).post(
        reverse("records-export", args=[review.slug]),
        {"format": "csv", "ids": ids},
    )
    text = b"".join(response.streaming_content).decode()
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(text))}
    assert set(rows) == {str(pk) for pk in ids}
    lancet = rows[str(checked["lancet"].pk)]
    assert lancet["notice_kind"].split("; ")[:2] == ["retraction", "correction"]
    assert lancet["notice_doi"].split("; ")[0] == "10.1016/s0140-6736(20)31174-0"
    assert lancet["notice_date"].split("; ")[0] == "2020-05-22"
    assert rows[str(checked["clean"].pk)]["notice_kind"] == ""


# ------------------------------------------------------------------- pages and permissions


def test_owners_check_from_the_page_and_members_see_the_results(
    review,
    owner,
    viewer,
    outsider,
    studies,
    crossref,
    client_for,
    django_capture_on_commit_callbacks,
):
    page_url = reverse("retractions", args=[review.slug])
    check_url = reverse("retractions-check", args=[review.slug])
    assert client_for(outsider).get(page_url).status_code == 404
    assert client_for(outsider).post(check_url).status_code == 404
    seen = client_for(viewer).get(page_url)
    assert seen.status_code == 200 and "data-check-now" not in seen.content.decode()
    assert seen.context["watched"] == 3
    assert client_for(viewer).post(check_url).status_code == 403
    assert not RetractionCheck.objects.exists()
    owner_client = client_for(owner)
    assert "data-check-now" in owner_client.get(page_url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(check_url)
    assert response.status_code == 302 and response.url == page_url
    after = owner_client.get(page_url)
    assert [f.record.pk for f in after.context["flagged"]] == [
        studies["lancet"].pk,
        studies["apsusc"].pk,
    ]
    assert [(c.status, c.notices_found) for c in after.context["checks"]] == [("done", 8)]


def test_a_second_check_from_the_page_says_one_is_under_way(review, owner, client_for):
    retractions.request_check(review=review, actor=owner)
    client = client_for(owner)
    response = client.post(reverse("retractions-check", args=[review.slug]), follow=True)
    assert "A retraction check is already under way" in response.content.decode()
    assert "data-check-running" in response.content.decode()


def test_the_api_lists_starts_and_shows_checks_and_lists_notices(
    review, owner, viewer, outsider, studies, crossref, django_capture_on_commit_callbacks
):
    from rest_framework.test import APIClient

    def api(user: Any) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    base = f"/api/v1/reviews/{review.slug}"
    assert api(outsider).get(f"{base}/retraction-checks/").status_code == 404
    assert api(viewer).post(f"{base}/retraction-checks/").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        started = api(owner).post(f"{base}/retraction-checks/")
    assert started.status_code == 202
    check_id = started.json()["id"]
    shown = api(viewer).get(f"{base}/retraction-checks/{check_id}/").json()
    assert (shown["status"], shown["trigger"], shown["notices_found"]) == ("done", "on demand", 8)
    assert shown["created_by"] == owner.username
    assert [c["id"] for c in api(viewer).get(f"{base}/retraction-checks/").json()] == [check_id]
    assert api(viewer).get(f"{base}/retraction-checks/999999/").status_code == 404
    found = api(viewer).get(f"{base}/editorial-notices/").json()
    assert len(found) == 8
    assert {(n["record"], n["record_doi"]) for n in found} == {
        (studies["lancet"].pk, LANCET),
        (studies["apsusc"].pk, APSUSC),
    }
    assert api(outsider).get(f"{base}/editorial-notices/").status_code == 404
    # While one is under way, another is refused with a conflict.
    retractions.request_check(review=review, actor=owner)
    refused = api(owner).post(f"{base}/retraction-checks/")
    assert refused.status_code == 409
    assert refused.json()["detail"] == retractions.ALREADY_RUNNING


def test_owners_are_notified_of_new_notices_once(
    review, owner, reviewer, studies, crossref, django_capture_on_commit_callbacks
):
    from reviewflow.reviews.models import Notification

    check_now(review, owner, django_capture_on_commit_callbacks)
    (told,) = Notification.objects.filter(review=review)
    assert (told.user, told.kind, told.url) == (
        owner,
        "retraction",
        f"/r/{review.slug}/retractions/",
    )
    assert told.text == (
        "Crossref reports new editorial notices (correction, expression of concern, "
        "retraction) about 2 studies of the review."
    )
    check_now(review, owner, django_capture_on_commit_callbacks)  # nothing new: no word
    assert Notification.objects.filter(review=review).count() == 1
