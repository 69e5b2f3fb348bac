"""Counting PRISMA can trust (#19): one export counts once, a new run replaces the search
it repeats, a failed search counts nowhere, and a review in progress is not an alarm."""

from __future__ import annotations

import gzip
import io
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.progress import progress_for_reviews
from screening.importers.fingerprint import (
    content_fingerprint,
    record_identity,
    records_fingerprint,
)
from screening.models import Record, Search
from screening.prisma import PrismaCounts, build_layout, check, in_progress, prisma_svg
from screening.services import identification
from screening.services.prisma import prisma_counts
from screening.services.screening.votes import cast_vote
from tests.screening.factories import ris_records, upload, write

pytestmark = pytest.mark.django_db(transaction=True)  # imports run on commit

TA = "title-abstract"
BROKEN = "Not an export at all, just a sentence.\n"


def imported(review, owner, text, name, source="PubMed", **kwargs):
    search = identification.create_search(
        review=review,
        actor=owner,
        file=upload(text, name),
        filename=name,
        source=source,
        search_date=date(2026, 11, 3),
        **kwargs,
    )
    search.refresh_from_db()
    return search


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


# --- fingerprints (pure) ------------------------------------------------------------------


def test_content_fingerprint_reads_through_gzip_and_leaves_the_stream_where_it_was():
    data = ris_records(3).encode()
    plain, packed = io.BytesIO(data), io.BytesIO(gzip.compress(data))
    assert content_fingerprint(plain, gzip_limit=10**6) == content_fingerprint(
        packed, gzip_limit=10**6
    )
    assert plain.tell() == 0 and packed.tell() == 0
    assert content_fingerprint(io.BytesIO(data + b"\n"), gzip_limit=10**6) != (
        content_fingerprint(plain, gzip_limit=10**6)
    )


def test_records_fingerprint_ignores_order_and_case_but_not_a_missing_record():
    a = record_identity(doi="10.1/X", pmid="", title="", year=None)
    b = record_identity(doi="", pmid="123", title="Whatever", year=2001)
    c = record_identity(doi="", pmid="", title="Stem cells: a trial!", year=2020)
    assert c == record_identity(doi="", pmid="", title="stem  CELLS a trial", year=2020)
    assert records_fingerprint([a, b, c]) == records_fingerprint([c, a, b])
    assert records_fingerprint([a, b]) != records_fingerprint([a, b, c])
    assert a == record_identity(doi=" 10.1/x", pmid="9", title="", year=None)


# --- the same file twice ------------------------------------------------------------------


def test_the_same_file_twice_is_refused_naming_the_earlier_search(review, owner):
    first = imported(review, owner, ris_records(5), "pubmed.ris")
    with pytest.raises(identification.RepeatedSearch) as refused:
        imported(review, owner, ris_records(5), "pubmed-again.ris", source="Scopus")
    assert refused.value.message == (
        f"This file was already imported as PubMed, 3 Nov 2026, pubmed.ris (search {first.pk}); "
        "importing it again would count its records twice in PRISMA. If it is a new run of "
        f"that search, choose it under “New run of” (API: supersedes={first.pk}; "
        f"importcitations --supersedes {first.pk}) and it replaces the earlier one."
    )
    assert refused.value.earlier == first
    assert Search.objects.count() == 1
    assert prisma_counts(review).database_results == 5


def test_a_gzipped_copy_of_an_imported_file_is_the_same_file(review, owner):
    imported(review, owner, ris_records(5), "pubmed.ris")
    with pytest.raises(identification.RepeatedSearch):
        imported(review, owner, gzip.compress(ris_records(5).encode()), "pubmed.ris.gz")
    assert Search.objects.count() == 1


def test_a_failed_search_does_not_block_uploading_the_same_file_again(review, owner):
    failed = imported(review, owner, BROKEN, "broken.ris")
    assert failed.status == "failed"
    again = imported(review, owner, BROKEN, "broken.ris")
    assert again.pk != failed.pk


def test_the_page_shows_the_refusal_and_offers_a_new_run(client_for, review, owner):
    first = imported(review, owner, ris_records(4), "pubmed.ris")
    url = reverse("review-searches", args=[review.slug])
    post = {"source": "PubMed", "source_type": "database", "format": "auto"}
    response = client_for(owner).post(
        url, {**post, "file": SimpleUploadedFile("pubmed.ris", ris_records(4).encode())}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "This file was already imported as PubMed, 3 Nov 2026, pubmed.ris" in page
    assert f'<option value="{first.pk}">PubMed, 3 Nov 2026, pubmed.ris' in page
    assert Search.objects.count() == 1
    # Saying it is a new run of that search replaces it.
    response = client_for(owner).post(
        url,
        {
            **post,
            "file": SimpleUploadedFile("pubmed.ris", ris_records(4).encode()),
            "supersedes": str(first.pk),
        },
    )
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.status == "superseded"


def test_the_api_refuses_a_repeat_with_409_and_takes_supersedes(review, owner):
    first = imported(review, owner, ris_records(4), "pubmed.ris")
    url = reverse("api-searches", args=[review.slug])
    refused = api(owner).post(
        url,
        {"file": SimpleUploadedFile("p.ris", ris_records(4).encode()), "source": "PubMed"},
        format="multipart",
    )
    assert refused.status_code == 409
    assert refused.json()["field"] == "supersedes"
    assert f"supersedes={first.pk}" in refused.json()["detail"]
    accepted = api(owner).post(
        url,
        {
            "file": SimpleUploadedFile("p.ris", ris_records(6).encode()),
            "source": "PubMed",
            "supersedes": first.pk,
        },
        format="multipart",
    )
    assert accepted.status_code == 202
    assert api(owner).get(accepted.json()["url"]).json()["supersedes"] == first.pk
    assert prisma_counts(review).database_results == 6


def test_importcitations_refuses_a_repeat_and_takes_supersedes(review, owner, tmp_path):
    path = write(tmp_path, "pubmed.ris", ris_records(4))
    call_command("importcitations", review.slug, str(path), "--source", "PubMed")
    first = Search.objects.get()
    with pytest.raises(CommandError, match=f"already imported as PubMed, .*search {first.pk}"):
        call_command("importcitations", review.slug, str(path), "--source", "PubMed")
    call_command(
        "importcitations", review.slug, str(path), "--source", "PubMed", "--supersedes", first.pk
    )
    assert list(Search.objects.values_list("status", flat=True)) == ["superseded", "done"]
    with pytest.raises(CommandError, match="give exactly one file"):
        call_command("importcitations", review.slug, str(path), str(path), "--supersedes", "1")


# --- the same records from the same source ------------------------------------------------


def test_the_same_records_from_the_same_source_fail_naming_the_earlier_search(review, owner):
    first = imported(review, owner, ris_records(5), "pubmed.ris")
    # The same five records, in another order and with Windows line endings: another file.
    text = (ris_records(2, start=4) + "\n" + ris_records(3)).replace("\n", "\r\n")
    again = imported(review, owner, text, "pubmed-2.ris", source="pubmed")
    assert again.status == "failed"
    assert again.failure == (
        "pubmed-2.ris: the same 5 records from pubmed were already imported as PubMed, "
        f"3 Nov 2026, pubmed.ris (search {first.pk}); counting them again would inflate "
        "“records identified”. Nothing was imported. If this is a new run of that search, "
        f"upload it again choosing that search under “New run of” (API: supersedes={first.pk}; "
        f"importcitations --supersedes {first.pk}), and delete this failed search."
    )
    assert not Record.objects.filter(search=again).exists()
    assert prisma_counts(review).database_results == 5
    # From another database the same records are a search of their own.
    other = imported(review, owner, text, "embase.ris", source="Embase")
    assert other.status == "done"


# --- a new run replaces the search it repeats ----------------------------------------------


def test_a_new_run_replaces_the_earlier_search_in_every_count(review, owner, client_for):
    first = imported(review, owner, ris_records(5), "pubmed.ris")
    embase = imported(review, owner, ris_records(2, start=4), "embase.ris", source="Embase")
    assert Record.objects.filter(search=embase, duplicate_of__search=first).count() == 2
    rerun = imported(review, owner, ris_records(7), "pubmed-2027.ris", supersedes=first.pk)
    first.refresh_from_db()
    assert (rerun.status, first.status) == ("done", "superseded")
    assert not Record.objects.filter(search=first).exists()
    # Embase's records and the new run's are compared: the two they share are merged.
    merged = Record.objects.filter(search=embase, duplicate_of__search=rerun).count()
    merged += Record.objects.filter(search=rerun, duplicate_of__search=embase).count()
    assert merged == 2
    counts = prisma_counts(review)
    assert (counts.database_results, counts.database_specific_results) == (
        9,
        [("Embase", 2), ("PubMed", 7)],
    )
    assert (counts.duplicates, counts.records_screened) == (2, 7)
    assert progress_for_reviews([review])[review.pk].searches == 2
    page = client_for(owner).get(reverse("search-detail", args=[review.slug, first.pk]))
    assert "Replaced by a new run of this search" in page.content.decode()
    with pytest.raises(ReviewflowError, match="already been replaced"):
        imported(review, owner, ris_records(8), "pubmed-2028.ris", supersedes=first.pk)


def test_a_search_with_votes_cannot_be_replaced(review, owner, reviewer):
    first = imported(review, owner, ris_records(3), "pubmed.ris")
    record = Record.objects.filter(search=first).first()
    cast_vote(review=review, record=record, reviewer=reviewer, stage=TA, decision="include")
    with pytest.raises(ReviewflowError) as refused:
        imported(review, owner, ris_records(4), "pubmed-2.ris", supersedes=first.pk)
    assert refused.value.message == (
        f"Records of PubMed, 3 Nov 2026, pubmed.ris (search {first.pk}) have been screened, "
        "so a new run cannot replace it: the votes would be lost. Import the new run as a "
        "search of its own; deduplication merges the records both runs found."
    )
    assert Search.objects.count() == 1


def test_supersedes_must_name_an_imported_search_of_the_review(review, owner):
    with pytest.raises(ReviewflowError, match="Search 999999 is not a search of this review"):
        imported(review, owner, ris_records(3), "a.ris", supersedes=999999)
    failed = imported(review, owner, BROKEN, "broken.ris")
    with pytest.raises(ReviewflowError, match="only an imported search can be replaced"):
        imported(review, owner, ris_records(3), "a.ris", supersedes=failed.pk)


# --- failed searches count nowhere ---------------------------------------------------------


def test_a_failed_search_counts_nowhere_says_how_to_fix_and_can_be_deleted(
    client_for, review, owner
):
    imported(review, owner, ris_records(3), "pubmed.ris")
    failed = imported(review, owner, BROKEN, "broken.ris")
    assert failed.status == "failed"
    progress = progress_for_reviews([review])[review.pk]
    assert (progress.searches, progress.searches_failed) == (1, 1)
    assert progress.next_step == (
        "Fix 1 failed search: upload the corrected file and delete the failed one."
    )
    dashboard = client_for(owner).get(reverse("dashboard")).content.decode()
    assert 'data-count="searches">1<' in dashboard
    listing = client_for(owner).get(reverse("review-searches", args=[review.slug]))
    assert "Counted nowhere. Fix the file" in listing.content.decode()
    response = client_for(owner).post(reverse("search-delete", args=[review.slug, failed.pk]))
    assert response.status_code == 302
    assert not Search.objects.filter(pk=failed.pk).exists()


def test_the_upload_page_leaves_no_queued_banner_behind(client_for, review, owner):
    response = client_for(owner).post(
        reverse("review-searches", args=[review.slug]),
        {
            "file": SimpleUploadedFile("pubmed.ris", ris_records(2).encode()),
            "source": "PubMed",
            "source_type": "database",
            "format": "auto",
        },
        follow=True,
    )
    assert "queued for import" not in response.content.decode()


# --- PRISMA while screening is under way ---------------------------------------------------


def test_a_review_in_progress_is_calm_and_a_real_inconsistency_is_not(
    review, owner, reviewer, reviewer2, client_for
):
    search = imported(review, owner, ris_records(6), "pubmed.ris")
    records = list(Record.objects.filter(search=search))
    for record, decision in ((records[0], "include"), (records[1], "exclude")):
        for user in (reviewer, reviewer2):
            cast_vote(review=review, record=record, reviewer=user, stage=TA, decision=decision)
    counts = prisma_counts(review)
    assert (counts.records_open, counts.dbr_reports_open) == (4, 1)
    assert check(counts) == []
    assert in_progress(counts) == [
        "Screening in progress: 4 records still open at title/abstract.",
        "Full-text screening in progress: 1 report still open.",
    ]
    page = client_for(owner).get(reverse("prisma", args=[review.slug])).content.decode()
    assert 'id="problems"' not in page
    assert "Screening in progress: 4 records still open at title/abstract." in page
    # A count that is really off is still reported, beside what is open.
    broken = PrismaCounts(**{**counts.__dict__, "dbr_sought_reports": 3})
    assert [p.message for p in check(broken)] == [
        "Reports sought for retrieval (databases and registers) is 3 but screened − excluded "
        "gives (with the 4 records still open set aside) 1 (2 too many)",
        "Reports assessed for eligibility (databases and registers) is 0 but sought − not "
        "retrieved gives (with the 1 reports still open set aside) 2 (2 missing)",
    ]


def test_an_exported_diagram_carries_the_warning_box_only_as_a_draft(client_for, review, owner):
    broken = PrismaCounts(
        database_results=10,
        register_results=0,
        duplicates=0,
        excluded_automatic=0,
        excluded_other=0,
        records_screened=7,
    )
    assert "warnings" not in {box.key for box in build_layout(broken).boxes}
    assert "warnings" in {box.key for box in build_layout(broken, draft=True).boxes}
    assert "do not add up" not in prisma_svg(broken)
    imported(review, owner, ris_records(3), "pubmed.ris")
    url = reverse("prisma", args=[review.slug])
    svg = client_for(owner).get(url, {"format": "svg"})
    assert "do not add up" not in svg.content.decode()
    assert svg["Content-Disposition"] == f'attachment; filename="{review.slug}-prisma.svg"'
    draft = client_for(owner).get(url, {"format": "svg", "draft": "1"})
    assert draft["Content-Disposition"] == (
        f'attachment; filename="{review.slug}-prisma-draft.svg"'
    )


@pytest.mark.parametrize(
    "damaged",
    [
        b"\x1f\x8b\x08\x00\x00\xd1\xe9\x14k\x04\xff\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        gzip.compress(b"TY  - JOUR\n")[:15],
    ],
)
def test_a_damaged_gzip_file_fails_as_an_import_not_as_an_upload(review, owner, damaged):
    search = imported(review, owner, damaged, "broken.ris.gz")
    assert (search.status, search.content_sha256) == ("failed", "")
    assert search.failure.startswith("broken.ris.gz: ")
