"""Pages and API of identification: upload, status, records list and detail."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from screening.models import Record, Search
from screening.services import identification
from tests.screening.factories import ris_records, upload

pytestmark = pytest.mark.django_db(transaction=True)  # imports run on commit


def imported(review, owner, n=3, name="a.ris", source="PubMed"):
    search = identification.create_search(
        review=review,
        actor=owner,
        file=upload(ris_records(n), name),
        filename=name,
        source=source,
    )
    search.refresh_from_db()
    return search


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_owner_uploads_through_the_page(client_for, review, owner):
    response = client_for(owner).post(
        reverse("review-searches", args=[review.slug]),
        {
            "file": SimpleUploadedFile("pubmed.ris", ris_records(4).encode()),
            "source": "PubMed",
            "source_type": "database",
            "search_date": "2026-11-01",
            "search_string": "mesenchymal[tiab]",
            "format": "auto",
        },
    )
    search = Search.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("search-detail", args=[review.slug, search.pk])
    assert (search.status, search.records_imported, str(search.search_date)) == (
        "done",
        4,
        "2026-11-01",
    )
    page = client_for(owner).get(response["Location"]).content.decode()
    assert 'data-count="imported">4<' in page


def test_reviewer_cannot_upload(client_for, review, reviewer):
    response = client_for(reviewer).post(
        reverse("review-searches", args=[review.slug]),
        {
            "file": SimpleUploadedFile("x.ris", ris_records(1).encode()),
            "source": "PubMed",
            "source_type": "database",
            "format": "auto",
        },
    )
    assert response.status_code == 403
    assert not Search.objects.exists()


def test_progress_fragment_for_htmx(client_for, review, owner):
    search = imported(review, owner)
    response = client_for(owner).get(
        reverse("search-detail", args=[review.slug, search.pk]), HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="search-status"')
    assert "hx-trigger" not in body  # finished: polling stops


def test_records_page_searches_and_pins_query_count(
    client_for, review, owner, viewer, django_assert_num_queries
):
    imported(review, owner, n=5)
    client = client_for(viewer)
    url = reverse("review-records", args=[review.slug])
    # + the review's labels (the filter's choices); + screeners and questions (the filters'
    # choices), votes, outcomes, conflicts and stage settings (the stage columns, #18).
    with django_assert_num_queries(6 + 1 + 6):
        page = client.get(url).content.decode()
    assert "number 5" in page
    imported(review, owner, n=120, name="b.ris", source="Embase")
    with django_assert_num_queries(6 + 1 + 6):
        client.get(url)
    page = client.get(url, {"q": "number 117"}).content.decode()
    assert 'Records <span class="muted">(1)</span>' in page
    page = client.get(url, {"q": "10.1000/test.3"}).content.decode()
    assert "(2)" in page  # the same DOI in both searches


def test_record_detail_shows_raw_fields(client_for, review, owner, viewer):
    imported(review, owner, n=1)
    record = Record.objects.get()
    page = (
        client_for(viewer)
        .get(reverse("record-detail", args=[review.slug, record.pk]))
        .content.decode()
    )
    assert "<code>TI</code>" in page and "Family1, Given" in page
    # The page's <title> is one line; the history is in the body, once.
    from screening.services.screening.votes import cast_vote

    cast_vote(
        review=review, record=record, reviewer=owner, stage="title-abstract", decision="maybe"
    )
    page = (
        client_for(owner).get(reverse("record-detail", args=[review.slug, record.pk])).content
    ).decode()
    title = page.split("<title>", 1)[1].split("</title>", 1)[0]
    assert "History" not in title and "<" not in title
    assert page.count("<h2>History</h2>") == 1


def test_outsider_cannot_see_records(client_for, review, owner, outsider):
    imported(review, owner, n=1)
    record = Record.objects.get()
    client = client_for(outsider)
    assert client.get(reverse("record-detail", args=[review.slug, record.pk])).status_code == 404
    assert (
        api(outsider).get(f"/api/v1/reviews/{review.slug}/records/{record.pk}/").status_code == 404
    )


def test_api_upload_returns_202_and_status_url(review, owner):
    client = api(owner)
    response = client.post(
        f"/api/v1/reviews/{review.slug}/searches/",
        {"file": upload(ris_records(7), "s.ris"), "source": "Scopus", "source_type": "database"},
        format="multipart",
    )
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"id", "status", "url", "task_sent", "message"}
    assert (body["task_sent"], body["message"]) == (True, "s.ris is queued for import.")
    status = client.get(body["url"]).json()
    assert status["status"] == "done"
    assert (status["records_read"], status["records_imported"], status["records_rejected"]) == (
        7,
        7,
        0,
    )
    assert status["errors"] == []


def test_api_records_list_and_filters(review, owner, viewer):
    a = imported(review, owner, n=3)
    imported(review, owner, n=2, name="b.ris", source="Embase")
    client = api(viewer)
    body = client.get(f"/api/v1/reviews/{review.slug}/records/").json()
    assert body["count"] == 5
    first = body["results"][0]
    assert {"id", "title", "authors", "year", "journal", "doi", "pmid", "search"} <= set(first)
    assert client.get(f"/api/v1/reviews/{review.slug}/records/?search={a.pk}").json()["count"] == 3
    assert client.get(f"/api/v1/reviews/{review.slug}/records/?q=number+2").json()["count"] == 2


def test_api_records_filters_answer_odd_query_strings_without_a_server_error(review, owner):
    """Found by the API fuzz test: each of these answered 500 (a NUL byte on PostgreSQL, an
    id beyond the column on SQLite, a "digit" that int() refuses)."""
    a = imported(review, owner, n=3)
    client = api(owner)
    url = f"/api/v1/reviews/{review.slug}/records/"
    for query, count in [
        ({"q": "number\x002"}, 1),
        ({"q": "\x00"}, 3),
        ({"search": str(10**30)}, 0),
        ({"search": "\u00b2"}, 3),
        ({"year": "\u00b2"}, 3),
        ({"search": "9" * 5000}, 0),
        ({"year": "9" * 5000}, 0),
        ({"search": str(a.pk)}, 3),
    ]:
        response = client.get(url, query)
        assert response.status_code == 200, query
        assert response.json()["count"] == count, query


def test_api_reports_failed_file(review, owner):
    client = api(owner)
    response = client.post(
        f"/api/v1/reviews/{review.slug}/searches/",
        {"file": upload(b"%PDF-1.7\n\x00\x9c\xff" * 50, "x.bin"), "source": "Scopus"},
        format="multipart",
    )
    status = client.get(response.json()["url"]).json()
    assert status["status"] == "failed"
    assert status["failure"] == "x.bin: the file is binary, not a text export"


def test_api_delete_search(review, owner, reviewer):
    search = imported(review, owner)
    url = f"/api/v1/reviews/{review.slug}/searches/{search.pk}/"
    assert api(reviewer).delete(url).status_code == 403
    assert api(owner).delete(url).status_code == 204
    assert not Record.objects.exists()
