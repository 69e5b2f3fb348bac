"""PRISMA counts from a scripted review, checked box by box against hand-computed numbers."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from screening.models import Conflict, Record
from screening.prisma import check, in_progress
from screening.services import identification
from screening.services.fulltext import link_same_study, mark_not_retrieved
from screening.services.prisma import prisma_counts, update_prisma_settings
from screening.services.screening.conflicts import resolve_conflict
from screening.services.screening.votes import cast_vote
from tests.screening.factories import ris_records, upload

pytestmark = pytest.mark.django_db(transaction=True)  # imports and dedup run on commit

TA, FT = "title-abstract", "full-text"


def search(review, owner, text, name, source, source_type="database", other_method=""):
    s = identification.create_search(
        review=review,
        actor=owner,
        file=upload(text, name),
        filename=name,
        source=source,
        source_type=source_type,
        other_method=other_method,
    )
    s.refresh_from_db()
    assert s.status == "done", s.failure
    return s


def both(review, record, a, b, decision, stage=TA, reason=""):
    for user in (a, b):
        cast_vote(
            review=review,
            record=record,
            reviewer=user,
            stage=stage,
            decision=decision,
            reason=reason,
        )


def build_scripted(review, owner, reviewer, reviewer2, *, other_methods):
    """PubMed 10 records, Embase 6 (4 of them the same as PubMed's 1-4), a register with 2,
    and (with other methods) 2 records from citation searching."""
    search(review, owner, ris_records(10), "pubmed.ris", "PubMed")
    search(review, owner, ris_records(4) + ris_records(2, start=11), "embase.ris", "Embase")
    search(
        review,
        owner,
        ris_records(2, start=50, prefix="Registered trial"),
        "ctgov.ris",
        "ClinicalTrials.gov",
        source_type="register",
    )
    if other_methods:
        search(
            review,
            owner,
            ris_records(2, start=80, prefix="Cited study"),
            "citations.ris",
            "Citation searching",
            source_type="other",
            other_method="citation",
        )
    unique = list(
        Record.objects.for_review(review)
        .unique()
        .exclude(search__source_type="other")
        .order_by("pk")
    )
    assert len(unique) == 14  # 10 + 6 + 2 identified, 4 duplicates removed
    # Title/abstract: 8 excluded (one after a conflict), 6 pass.
    for record in unique[:7]:
        both(review, record, reviewer, reviewer2, "exclude")
    cast_vote(review=review, record=unique[7], reviewer=reviewer, stage=TA, decision="include")
    cast_vote(review=review, record=unique[7], reviewer=reviewer2, stage=TA, decision="exclude")
    resolve_conflict(conflict=Conflict.objects.get(), actor=owner, decision="exclude")
    for record in unique[8:]:
        both(review, record, reviewer, reviewer2, "include")
    passed = unique[8:]
    # Full text: one not retrieved, two excluded (two reasons), three included, two of which
    # report one study.
    mark_not_retrieved(review=review, record=passed[0], actor=owner)
    both(review, passed[1], reviewer, reviewer2, "exclude", FT, "Wrong population")
    both(review, passed[2], reviewer, reviewer2, "exclude", FT, "Wrong outcome")
    for record in passed[3:6]:
        both(review, record, reviewer, reviewer2, "include", FT)
    link_same_study(review=review, record=passed[5], actor=owner, study_of=passed[4])
    if other_methods:
        # Other methods: one cited study included, one excluded.
        cited = list(
            Record.objects.for_review(review).filter(search__source_type="other").order_by("pk")
        )
        both(review, cited[0], reviewer, reviewer2, "include", FT)
        both(review, cited[1], reviewer, reviewer2, "exclude", FT, "Wrong study design")
    return review


@pytest.fixture
def scripted(review, owner, reviewer, reviewer2):
    return build_scripted(review, owner, reviewer, reviewer2, other_methods=True)


@pytest.fixture
def scripted_databases_only(review, owner, reviewer, reviewer2):
    return build_scripted(review, owner, reviewer, reviewer2, other_methods=False)


def expect_databases_and_registers(c):
    assert c.database_results == 16
    assert c.database_specific_results == [("Embase", 6), ("PubMed", 10)]
    assert (c.register_results, c.register_specific_results) == (2, [("ClinicalTrials.gov", 2)])
    assert (c.duplicates, c.excluded_automatic, c.excluded_other) == (4, 0, 0)
    assert (c.records_screened, c.records_excluded) == (14, 8)
    assert (c.dbr_sought_reports, c.dbr_notretrieved_reports, c.dbr_assessed) == (6, 1, 5)
    assert c.dbr_excluded == [("Wrong outcome", 1), ("Wrong population", 1)]
    assert c.dbr_included_reports == 3


def test_every_box_of_a_new_review_with_other_methods(scripted):
    c = prisma_counts(scripted)
    assert (c.updated, c.other_methods) == (False, True)
    expect_databases_and_registers(c)
    assert (c.citations_results, c.website_results, c.organisation_results) == (2, 0, 0)
    assert (c.duplicates, c.excluded_automatic, c.excluded_other) == (4, 0, 0)
    assert (c.records_screened, c.records_excluded) == (14, 8)
    assert (c.dbr_sought_reports, c.dbr_notretrieved_reports, c.dbr_assessed) == (6, 1, 5)
    assert c.dbr_excluded == [("Wrong outcome", 1), ("Wrong population", 1)]
    assert c.dbr_included_reports == 3
    assert (c.other_sought_reports, c.other_notretrieved_reports, c.other_assessed) == (2, 0, 2)
    assert c.other_excluded == [("Wrong study design", 1)]
    assert (c.new_reports, c.new_studies) == (4, 3)  # two reports of one study
    assert check(c) == []


def test_updated_review_with_entered_counts(scripted, owner):
    update_prisma_settings(
        review=scripted,
        actor=owner,
        updated_review=True,
        previous_studies=7,
        previous_reports=9,
        duplicates_before_import=3,
    )
    c = prisma_counts(scripted)
    assert (c.updated, c.other_methods) == (True, True)
    assert (c.previous_studies, c.previous_reports) == (7, 9)
    assert (c.total_studies, c.total_reports) == (10, 13)
    assert c.database_results == 19 and c.duplicates == 7
    assert ("Removed before import (entered by an owner)", 3) in c.database_specific_results
    assert check(c) == []


def test_unsettled_screening_is_in_progress_not_a_problem(review, owner, reviewer):
    # Changed by #19: records still open used to be reported as "do not add up".
    search(review, owner, ris_records(3), "pubmed.ris", "PubMed")
    c = prisma_counts(review)
    assert c.other_methods is False
    assert check(c) == []
    assert in_progress(c) == ["Screening in progress: 3 records still open at title/abstract."]


def test_prisma_page_api_and_command(scripted, client_for, viewer, owner, tmp_path):
    page = client_for(viewer).get(reverse("prisma", args=[scripted.slug])).content.decode()
    assert "Identification of new studies via other methods" in page
    assert "Wrong population (n = 1)" in page
    for fmt, magic in (("svg", b"<"), ("png", b"\x89PNG"), ("pdf", b"%PDF-")):
        body = (
            client_for(viewer).get(reverse("prisma", args=[scripted.slug]), {"format": fmt}).content
        )
        assert body.lstrip().startswith(magic), fmt
    client = APIClient()
    client.force_authenticate(viewer)
    data = client.get(f"/api/v1/reviews/{scripted.slug}/prisma/").json()
    assert data["records_screened"] == 14 and data["problems"] == []
    assert {"name": "PubMed", "n": 10} in data["database_specific_results"]
    out = tmp_path / "prisma.csv"
    call_command("prisma", scripted.slug, "--format", "csv", "-o", str(out))
    assert out.read_text().startswith("data,node,box,description,boxtext,tooltips,url,n")


def test_entered_counts_are_for_owners_and_audited(review, client_for, owner, reviewer):
    url = reverse("prisma", args=[review.slug])
    assert client_for(reviewer).post(url, {"excluded_other": 2}).status_code == 403
    response = client_for(owner).post(
        url,
        {
            "previous_studies": "",
            "previous_reports": "",
            "duplicates_before_import": 0,
            "excluded_automatic": 0,
            "excluded_other": 2,
            "website_results": 0,
            "organisation_results": 0,
            "citations_results": 0,
        },
    )
    assert response.status_code == 302
    from reviewflow.reviews.models import AuditEvent

    event = AuditEvent.objects.get(action="prisma.counts_changed")
    assert event.before == {"excluded_other": 0} and event.after == {"excluded_other": 2}
    page = client_for(reviewer).get(url).content.decode()
    assert "Counts entered by an owner" in page
    assert "Removed before screening for other reasons: <strong>2</strong>" in page


def test_every_box_of_a_new_review_without_other_methods(scripted_databases_only):
    from screening.prisma import prisma_svg

    c = prisma_counts(scripted_databases_only)
    assert (c.updated, c.other_methods) == (False, False)
    expect_databases_and_registers(c)
    assert (c.website_results, c.organisation_results, c.citations_results) == (0, 0, 0)
    assert (c.new_reports, c.new_studies, c.total_studies) == (3, 2, None)
    assert check(c) == []
    svg = prisma_svg(c)
    assert "via other methods" not in svg and "Previous studies" not in svg


def test_every_box_of_an_updated_review_without_other_methods(scripted_databases_only, owner):
    from screening.prisma import prisma_svg

    update_prisma_settings(
        review=scripted_databases_only,
        actor=owner,
        updated_review=True,
        previous_studies=4,
        previous_reports=5,
    )
    c = prisma_counts(scripted_databases_only)
    assert (c.updated, c.other_methods) == (True, False)
    expect_databases_and_registers(c)
    assert (c.previous_studies, c.previous_reports) == (4, 5)
    assert (c.new_reports, c.new_studies) == (3, 2)
    assert (c.total_studies, c.total_reports) == (6, 8)
    assert check(c) == []
    svg = prisma_svg(c)
    assert "Previous studies" in svg and "via other methods" not in svg
