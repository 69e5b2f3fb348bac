"""Update rounds of a living review (#21): a new round's searches, its own PRISMA diagram
(the updated-review template, previous studies and reports from the data), and its
changelog."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import AuditEvent
from screening.models import (
    Record,
    RoundPrismaCounts,
    SavedSearch,
    Search,
    Stage,
    UpdateRound,
    Vote,
)
from screening.selectors.rounds import current_round, rounds_of
from screening.services import connectors, identification, rounds
from screening.services.prisma import entered_counts, prisma_counts, update_prisma_settings
from screening.services.screening.assignment import next_record
from screening.services.screening.votes import cast_vote
from tests.screening.factories import ris_records, upload
from tests.screening.test_connectors import MEDLINE_RECORDS, PMIDS, Replay, pubmed, run_now


@pytest.fixture
def services_at(settings, monkeypatch):
    server = Replay()
    settings.PUBMED_EUTILS_URL = server.url
    settings.PUBMED_API_KEY = ""
    monkeypatch.setattr(connectors, "_sleep", lambda seconds: None)
    yield server
    server.server.shutdown()
    server.server.server_close()


def include(review, record, reviewers):
    for stage in (Stage.TITLE_ABSTRACT, Stage.FULL_TEXT):
        for person in reviewers:
            cast_vote(
                review=review, record=record, reviewer=person, stage=stage, decision="include"
            )


def import_ris(review, owner, capture, n, *, start=1, name="export.ris"):
    with capture(execute=True):
        return identification.create_search(
            review=review,
            actor=owner,
            file=upload(ris_records(n, start=start)),
            filename=name,
            source="Embase",
        )


@pytest.mark.django_db
def test_a_scheduled_rerun_in_a_new_round_brings_one_new_record_and_the_updated_diagram(
    review, owner, reviewer, reviewer2, services_at, django_capture_on_commit_callbacks
):
    # Round 1: a PubMed search finds one record; both reviewers include it to the end.
    saved = connectors.create_saved_search(
        review=review, actor=owner, source="pubmed", query="stem cells"
    )
    services_at.answer = pubmed(records=MEDLINE_RECORDS[:1], count=1)
    first = run_now(saved, owner, django_capture_on_commit_callbacks).search
    study = Record.objects.get(search=first)
    include(review, study, [reviewer, reviewer2])
    before = prisma_counts(review)
    assert (before.updated, before.new_studies, before.database_results) == (False, 1, 1)

    # The update: round 2 starts, and the scheduled re-run finds that record and a new one.
    rounds.start_update_round(review=review, actor=owner, label="2027 update")
    assert current_round(review) == 2 and rounds_of(review) == [1, 2]
    connectors.set_schedule(saved_search=saved, actor=owner, schedule="monthly")
    SavedSearch.objects.filter(pk=saved.pk).update(next_run_at=timezone.now())
    services_at.answer = pubmed(records=MEDLINE_RECORDS[:2], count=2)
    with django_capture_on_commit_callbacks(execute=True):
        (run_id,) = connectors.run_due_saved_searches()
    new_search = saved.runs.get(pk=run_id).search
    assert new_search.round == 2
    assert list(Record.objects.filter(search=new_search).values_list("pmid", flat=True)) == [
        PMIDS[1]
    ]
    # Decisions intact: the study's votes and outcomes are as they were.
    assert Vote.objects.filter(record=study).count() == 4
    assert study.outcomes.filter(decision="include").count() == 2
    # The new record is what the screeners are offered first (new to a review already
    # screened: ``Search.imported_mid_screening``).
    assert new_search.imported_mid_screening and not first.imported_mid_screening
    (new_record,) = Record.objects.filter(search=new_search)
    offered = next_record(review=review, stage=Stage.TITLE_ABSTRACT, reviewer=reviewer)
    assert offered.pk == new_record.pk

    updated = prisma_counts(review)  # the current round: 2
    assert updated.updated is True
    assert (updated.previous_studies, updated.previous_reports) == (1, 1)
    assert (updated.database_results, updated.duplicates, updated.records_screened) == (1, 0, 1)
    assert updated.database_specific_results == [("PubMed", 1)]
    assert (updated.new_studies, updated.new_reports) == (0, 0)
    assert (updated.total_studies, updated.total_reports) == (1, 1)
    assert updated.records_open == 1  # the new record waits for screening
    # Each round's diagram stays available: round 1's is what it was.
    assert prisma_counts(review, 1) == before


@pytest.mark.django_db
def test_a_study_included_in_the_new_round_is_a_new_study(
    review, owner, reviewer, reviewer2, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    old = import_ris(review, owner, capture, 2)
    include(review, Record.objects.filter(search=old).first(), [reviewer, reviewer2])
    rounds.start_update_round(review=review, actor=owner)
    new = import_ris(review, owner, capture, 3, start=10, name="update.ris")
    include(review, Record.objects.filter(search=new).first(), [reviewer, reviewer2])
    counts = prisma_counts(review, 2)
    assert (counts.previous_studies, counts.new_studies, counts.total_studies) == (1, 1, 2)
    assert (counts.database_results, counts.records_screened) == (3, 3)


@pytest.mark.django_db
def test_a_round_cannot_start_while_a_search_imports(review, owner):
    Search.objects.create(review=review, source="x", filename="x.ris", status="running")
    with pytest.raises(ReviewflowError) as caught:
        rounds.start_update_round(review=review, actor=owner)
    assert caught.value.message.startswith("A search is still importing;")
    assert not UpdateRound.objects.exists()


@pytest.mark.django_db
def test_starting_a_round_is_audited(review, owner):
    started = rounds.start_update_round(review=review, actor=owner, label="  2027  ")
    assert (started.number, started.label) == (2, "2027")
    event = AuditEvent.objects.get(action="round.started")
    assert event.after == {"number": 2, "label": "2027"}
    assert rounds.start_update_round(review=review, actor=owner).number == 3


@pytest.mark.django_db
def test_the_changelog_lists_what_the_round_added(
    review, owner, reviewer, reviewer2, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    old = import_ris(review, owner, capture, 2)
    waiting = Record.objects.filter(search=old).last()
    rounds.start_update_round(review=review, actor=owner)
    new = import_ris(review, owner, capture, 3, start=10, name="update.ris")
    fresh = Record.objects.filter(search=new).first()
    include(review, fresh, [reviewer, reviewer2])
    # A record of round 1 settled in round 2: a decision taken in the update.
    for person in (reviewer, reviewer2):
        cast_vote(
            review=review,
            record=waiting,
            reviewer=person,
            stage=Stage.TITLE_ABSTRACT,
            decision="exclude",
        )
    changelog = rounds.round_changelog(review, 2)
    sections = {s.name: s for s in changelog.sections}
    assert sections["New records (3 after removing 0 duplicates)"].count == 3
    assert [i.record_id for i in sections["New inclusions"].items] == [fresh.pk]
    changed = sections["Changed decisions"]
    assert [(i.record_id, i.what) for i in changed.items] == [
        (waiting.pk, "title and abstract: exclude (reviewers agreed)")
    ]
    assert sections["New extraction values"].count == 0
    # Round 1's changelog has none of it.
    first = {s.name: s for s in rounds.round_changelog(review, 1).sections}
    assert first["New inclusions"].count == 0
    assert first["New records (2 after removing 0 duplicates)"].count == 2
    with pytest.raises(ReviewflowError):
        rounds.round_changelog(review, 3)


@pytest.mark.django_db
def test_prisma_page_shows_each_round_and_its_changes(
    review, owner, reviewer, outsider, client_for, django_capture_on_commit_callbacks
):
    import_ris(review, owner, django_capture_on_commit_callbacks, 2)
    url = reverse("prisma", args=[review.slug])
    assert client_for(reviewer).post(reverse("round-start", args=[review.slug])).status_code in (
        403,
        404,
    )
    assert client_for(outsider).post(reverse("round-start", args=[review.slug])).status_code == 404
    assert not UpdateRound.objects.exists()
    page = client_for(owner).get(url).content.decode()
    assert "Start round 2" in page and "data-rounds" not in page
    client_for(owner).post(reverse("round-start", args=[review.slug]), {"label": "2027"})
    assert current_round(review) == 2
    page = client_for(owner).get(url).content.decode()
    assert 'href="?round=1"' in page and "What round 2 changed (2027)" in page
    assert "data-entered-round-1" in page  # the entered counts live on round 1's page
    first = client_for(reviewer).get(url + "?round=1").content.decode()
    assert "What round 1 changed" in first
    assert client_for(reviewer).get(url + "?round=99").status_code == 200  # the current one
    download = client_for(reviewer).get(url + "?round=1&format=svg")
    assert 'prisma-round1.svg"' in download["Content-Disposition"]
    changes = client_for(reviewer).get(reverse("round-changelog", args=[review.slug]) + "?round=1")
    rows = list(csv.reader(io.StringIO(changes.content.decode())))
    assert rows[0] == ["round", "section", "when", "record", "title", "what"]
    assert rows[1][:2] == ["1", "New records (2 after removing 0 duplicates)"]


@pytest.mark.django_db
def test_api_rounds_and_prisma_by_round(review, owner, reviewer, outsider, client_for):
    rounds_url = reverse("api-rounds", args=[review.slug])
    assert client_for(outsider).get(rounds_url).status_code == 404
    assert client_for(reviewer).post(rounds_url, {}).status_code in (403, 404)
    made = client_for(owner).post(rounds_url, {"label": "2027"}, content_type="application/json")
    assert made.status_code == 201 and made.json()["number"] == 2
    listed = client_for(reviewer).get(rounds_url).json()
    assert [r["number"] for r in listed] == [1, 2] and listed[1]["started_by"] == owner.username
    prisma = reverse("api-prisma", args=[review.slug])
    assert client_for(reviewer).get(prisma).json()["previous_studies"] == 0
    assert client_for(reviewer).get(prisma + "?round=1").json()["previous_studies"] is None
    assert client_for(reviewer).get(prisma + "?round=7").status_code == 404
    changes = client_for(reviewer).get(reverse("api-round-changelog", args=[review.slug, 2]))
    assert changes.status_code == 200 and changes.json()["number"] == 2
    missing = client_for(reviewer).get(reverse("api-round-changelog", args=[review.slug, 5]))
    assert missing.status_code == 404


@pytest.mark.django_db
def test_prisma_command_writes_a_round(review, owner, capsys, tmp_path):
    rounds.start_update_round(review=review, actor=owner)
    out = tmp_path / "r1.json"
    call_command("prisma", review.slug, "--format", "json", "--round", "1", "-o", str(out))
    assert json.loads(out.read_text())["previous_studies"] is None
    call_command("prisma", review.slug, "--format", "json", "-o", str(out))
    assert json.loads(out.read_text())["previous_studies"] == 0
    with pytest.raises(Exception) as caught:
        call_command("prisma", review.slug, "--round", "4")
    assert "The review has no round 4: its rounds are 1, 2." in str(caught.value)


# ------------------------------------------------------- entered counts of each round


@pytest.mark.django_db
def test_each_round_diagram_has_the_counts_entered_for_it(
    review, owner, django_capture_on_commit_callbacks
):
    import_ris(review, owner, django_capture_on_commit_callbacks, 2)
    update_prisma_settings(review=review, actor=owner, duplicates_before_import=3)
    rounds.start_update_round(review=review, actor=owner)
    import_ris(review, owner, django_capture_on_commit_callbacks, 2, start=20, name="u.ris")
    update_prisma_settings(
        review=review, actor=owner, round_number=2, website_results=4, excluded_other=1
    )
    first, second = prisma_counts(review, 1), prisma_counts(review, 2)
    assert (first.duplicates, first.website_results, first.excluded_other) == (3, 0, 0)
    assert (second.duplicates, second.website_results, second.excluded_other) == (0, 4, 1)
    assert second.database_results == 2 + 1  # its records, and the one removed before import
    event = AuditEvent.objects.get(action="prisma.round_counts_changed")
    assert event.target == "round 2"
    assert event.before == {"website_results": 0, "excluded_other": 0}
    assert event.after == {"website_results": 4, "excluded_other": 1}
    assert entered_counts(review, 1).website_results == 0


@pytest.mark.django_db
def test_a_round_takes_only_the_counts_it_can_have(review, owner):
    rounds.start_update_round(review=review, actor=owner)
    with pytest.raises(ReviewflowError) as caught:
        update_prisma_settings(review=review, actor=owner, round_number=2, previous_studies=3)
    assert caught.value.message == (
        "Round 2 takes no previous studies: an update round's previous studies and reports "
        "are those the earlier rounds included, and whether the review updates an earlier "
        "one is entered for round 1."
    )
    assert caught.value.field == "previous_studies"
    with pytest.raises(ReviewflowError) as caught:
        update_prisma_settings(review=review, actor=owner, round_number=3, website_results=1)
    assert caught.value.message == "This review has no round 3."
    with pytest.raises(ReviewflowError) as caught:
        update_prisma_settings(review=review, actor=owner, round_number=2, website_results=-1)
    assert caught.value.message == "Website results cannot be negative."
    assert not RoundPrismaCounts.objects.exists()
    assert not AuditEvent.objects.filter(action="prisma.round_counts_changed").exists()


ROUND_FORM = {
    "duplicates_before_import": 0,
    "excluded_automatic": 0,
    "excluded_other": 0,
    "website_results": 5,
    "organisation_results": 0,
    "citations_results": 2,
}


@pytest.mark.django_db
def test_owner_enters_a_round_counts_on_its_prisma_page(review, owner, reviewer, client_for):
    rounds.start_update_round(review=review, actor=owner)
    url = reverse("prisma", args=[review.slug]) + "?round=2"
    page = client_for(owner).get(url).content.decode()
    assert "Counts round 2's data cannot know" in page
    assert 'name="previous_studies"' not in page and 'name="website_results"' in page
    assert client_for(reviewer).post(url, ROUND_FORM).status_code in (403, 404)
    saved = client_for(owner).post(url, ROUND_FORM)
    assert saved.status_code == 302 and saved["Location"].endswith("/prisma/?round=2")
    counts = RoundPrismaCounts.objects.get()
    assert (counts.website_results, counts.citations_results) == (5, 2)
    page = client_for(reviewer).get(url).content.decode()
    assert "Records from websites found outside reviewflow: <strong>5</strong>" in page
    assert (
        prisma_counts(review, 2).website_results == 5
        and prisma_counts(review, 1).website_results == 0
    )
    refused = client_for(owner).post(url, {**ROUND_FORM, "website_results": -1})
    assert refused.status_code == 200 and RoundPrismaCounts.objects.get().website_results == 5


@pytest.mark.django_db
def test_api_reads_and_changes_a_round_entered_counts(
    review, owner, reviewer, outsider, client_for
):
    rounds.start_update_round(review=review, actor=owner)
    url = reverse("api-round-prisma-counts", args=[review.slug, 2])
    assert client_for(outsider).get(url).status_code == 404
    got = client_for(reviewer).get(url).json()
    assert got == {
        "round": 2,
        "duplicates_before_import": 0,
        "excluded_automatic": 0,
        "excluded_other": 0,
        "website_results": 0,
        "organisation_results": 0,
        "citations_results": 0,
        "updated_review": None,
        "previous_studies": None,
        "previous_reports": None,
    }
    body = {"organisation_results": 6}
    assert client_for(reviewer).patch(url, body, content_type="application/json").status_code in (
        403,
        404,
    )
    changed = client_for(owner).patch(url, body, content_type="application/json")
    assert changed.status_code == 200 and changed.json()["organisation_results"] == 6
    assert prisma_counts(review, 2).organisation_results == 6
    refused = client_for(owner).patch(url, {"previous_studies": 2}, content_type="application/json")
    assert refused.status_code == 400 and refused.json()["field"] == "previous_studies"
    negative = client_for(owner).patch(
        url, {"website_results": -2}, content_type="application/json"
    )
    assert negative.status_code == 400
    missing = reverse("api-round-prisma-counts", args=[review.slug, 7])
    assert client_for(reviewer).get(missing).status_code == 404
    assert (
        client_for(owner).patch(missing, body, content_type="application/json").status_code == 404
    )
    first = reverse("api-round-prisma-counts", args=[review.slug, 1])
    made = client_for(owner).patch(
        first, {"updated_review": True, "previous_studies": 3}, content_type="application/json"
    )
    assert made.status_code == 200
    assert (made.json()["updated_review"], made.json()["previous_studies"]) == (True, 3)
    assert AuditEvent.objects.filter(action="prisma.counts_changed").count() == 1
