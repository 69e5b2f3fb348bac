"""Exports: citations round trip, formula-safe cells, blinding in vote exports."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from screening.models import Record, Search
from screening.services import identification
from screening.services.screening.votes import cast_vote
from tests.screening.factories import ris_records, upload

pytestmark = pytest.mark.django_db(transaction=True)

TA = "title-abstract"


def imported(review, owner, text, name="pubmed.ris"):
    s = identification.create_search(
        review=review, actor=owner, file=upload(text, name), filename=name, source="PubMed"
    )
    s.refresh_from_db()
    return s


def body(response):
    if hasattr(response, "streaming_content"):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def test_exported_ris_imports_back_with_the_same_records(review, owner, tmp_path):
    imported(review, owner, ris_records(25))
    out = tmp_path / "unique.ris"
    call_command(
        "exportcitations", review.slug, "--stage", "unique", "--format", "ris", "-o", str(out)
    )
    before = sorted(Record.objects.values_list("title", "doi", "year", "journal", "pages"))
    from reviewflow.reviews.services import create_review

    other = create_review(title="Round trip", slug="round-trip", owner=owner)
    call_command("importcitations", other.slug, str(out), "--source", "reviewflow", "--wait")
    search = Search.objects.get(review=other)
    assert (search.records_read, search.records_imported, search.records_rejected) == (25, 25, 0)
    after = sorted(
        Record.objects.filter(review=other).values_list("title", "doi", "year", "journal", "pages")
    )
    assert after == before


def test_records_csv_cells_are_formula_safe(client_for, review, owner, viewer):
    text = 'TY  - JOUR\nTI  - =HYPERLINK("http://evil.example","click")\nAU  - X, Y\nER  - \n'
    imported(review, owner, text)
    response = client_for(viewer).get(reverse("export-records", args=[review.slug, "all", "csv"]))
    rows = list(csv.DictReader(io.StringIO(body(response))))
    assert rows[0]["title"].startswith("'=HYPERLINK")


def test_vote_export_keeps_unsettled_votes_blind(client_for, review, owner, reviewer, reviewer2):
    imported(review, owner, ris_records(2))
    first, second = Record.objects.order_by("pk")
    for user in (reviewer, reviewer2):
        cast_vote(
            review=review,
            record=first,
            reviewer=user,
            stage=TA,
            decision="exclude",
            note=f"note by {user.username}",
        )
    cast_vote(
        review=review,
        record=second,
        reviewer=reviewer,
        stage=TA,
        decision="include",
        note="secret-unsettled-note",
    )
    response = client_for(owner).get(reverse("export-votes", args=[review.slug, "csv"]))
    text = body(response)
    assert "note by rachel" in text and "note by roberto" in text
    assert "secret-unsettled-note" not in text
    assert (
        client_for(reviewer).get(reverse("export-votes", args=[review.slug, "csv"])).status_code
        == 403
    )
    xlsx = client_for(owner).get(reverse("export-votes", args=[review.slug, "xlsx"])).content
    assert xlsx[:2] == b"PK"
    audit = body(client_for(owner).get(reverse("export-audit", args=[review.slug])))
    assert "secret-unsettled-note" not in audit and "note by rachel" in audit


def test_outsider_cannot_export(client_for, review, outsider):
    for url in (
        reverse("exports", args=[review.slug]),
        reverse("export-records", args=[review.slug, "all", "ris"]),
        reverse("export-votes", args=[review.slug, "csv"]),
        reverse("export-audit", args=[review.slug]),
    ):
        assert client_for(outsider).get(url).status_code == 404, url


def test_exports_at_each_stage(client_for, review, owner, reviewer, reviewer2, tmp_path):
    imported(review, owner, ris_records(3))
    a, b, c = Record.objects.order_by("pk")
    for user in (reviewer, reviewer2):
        cast_vote(review=review, record=a, reviewer=user, stage=TA, decision="include")
        cast_vote(review=review, record=b, reviewer=user, stage=TA, decision="exclude")
    for user in (reviewer, reviewer2):
        cast_vote(review=review, record=a, reviewer=user, stage="full-text", decision="include")
    client = client_for(owner)

    def ids(stage):
        text = body(client.get(reverse("export-records", args=[review.slug, stage, "csv"])))
        return [int(r["id"]) for r in csv.DictReader(io.StringIO(text))]

    assert ids("ta-included") == [a.pk] and ids("included") == [a.pk]
    assert ids("excluded") == [b.pk] and ids("unique") == [a.pk, b.pk, c.pk]
    ris = body(client.get(reverse("export-records", args=[review.slug, "excluded", "ris"])))
    assert "N1  - Excluded: title/abstract" in ris
    bib = body(client.get(reverse("export-records", args=[review.slug, "all", "bib"])))
    assert bib.count("@article{") == 3
