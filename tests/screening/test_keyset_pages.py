"""Lists that can reach 100,000 rows read their pages by key, never by OFFSET (#25): the
records list (page and API), the audit trail (page and API) and a reviewer's history of
votes (page and API). Each test walks a list to its end and back by its links, checks the
rows against the list's order read in one query, and that no query of a page reached by a
link, or of the last page, has an OFFSET."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from reviewflow.keyset import _encode
from screening.models import Record
from tests.screening.screening_fixtures import import_records

pytestmark = pytest.mark.django_db

STAGE = "title-abstract"

_NEXT = re.compile(r'<a href="\?([^"]*)" rel="next">')
_PREV = re.compile(r'<a href="\?([^"]*)" rel="prev">')
_ROW = re.compile(r'data-record-row="(\d+)"')


def api(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _offsets(ctx: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if re.search(r"\bOFFSET\b", q["sql"])]


def _get(client: Any, url: str) -> tuple[Any, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response, _offsets(ctx)


@pytest.fixture
def many_records(review: Any, owner: Any) -> list[int]:
    """Five pages and a half of records in two searches, in the list's order."""
    import_records(review, owner, 160, name="a.ris")
    import_records(review, owner, 115, name="b.ris")
    return list(
        Record.objects.filter(review=review)
        .order_by("search_id", "position")
        .values_list("pk", flat=True)
    )


# ------------------------------------------------------------------------------ records


def test_records_page_walks_to_the_end_and_back_by_key_without_offset(
    client_for: Any, review: Any, reviewer: Any, many_records: list[int]
) -> None:
    client = client_for(reviewer)
    base = reverse("review-records", args=[review.slug])
    response, offsets = _get(client, base)
    assert not offsets
    html = response.content.decode()
    assert "Page 1 of 6" in html and "(rows 1–50 of 275)" in html
    seen, pages = [int(i) for i in _ROW.findall(html)], 1
    while match := _NEXT.search(html):
        response, offsets = _get(client, f"{base}?{unescape(match.group(1))}")
        assert not offsets, f"page {pages + 1}: {offsets}"
        html = response.content.decode()
        pages += 1
        assert f"Page {pages} of 6" in html
        seen += [int(i) for i in _ROW.findall(html)]
    assert seen == many_records and pages == 6
    assert "(rows 251–275 of 275)" in html and 'rel="last"' not in html
    back: list[int] = []
    while match := _PREV.search(html):
        response, offsets = _get(client, f"{base}?{unescape(match.group(1))}")
        assert not offsets
        html = response.content.decode()
        back = [int(i) for i in _ROW.findall(html)] + back
    assert back == many_records[:250] and "Page 1 of 6" in html


def test_records_page_last_and_numbered_pages(
    client_for: Any, review: Any, reviewer: Any, many_records: list[int]
) -> None:
    client = client_for(reviewer)
    base = reverse("review-records", args=[review.slug])
    for asked in ("last", "6", "60"):  # an old bookmark past the end: the last page
        response, offsets = _get(client, f"{base}?page={asked}")
        assert not offsets, asked
        html = response.content.decode()
        assert [int(i) for i in _ROW.findall(html)] == many_records[250:], asked
        assert "Page 6 of 6" in html
    # A page asked for by its number (an old link) still answers, with that page's rows;
    # its one OFFSET (from the nearer end: page 5 of 6 counts from the last) reads the
    # key's columns alone, not the list's annotations and wide columns.
    key_only = re.compile(
        r'^SELECT "screening_record"\."search_id"( AS "search_id")?, '
        r'"screening_record"\."position"( AS "position")? FROM '
    )
    for number in (2, 5):
        response, offsets = _get(client, f"{base}?page={number}")
        assert len(offsets) == 1 and key_only.match(offsets[0]), offsets
        assert "LIMIT 1 OFFSET" in offsets[0], offsets
        html = response.content.decode()
        rows = [int(i) for i in _ROW.findall(html)]
        assert rows == many_records[(number - 1) * 50 : number * 50], number
        assert f"Page {number} of 6" in html
    # A malformed cursor on a page is the first page, as a malformed page number was.
    for bad in ("after=zz", "before=WzEsMl0", "after=WyJ4IiwxLDJd", "page=abc"):
        html = client.get(f"{base}?{bad}").content.decode()
        assert [int(i) for i in _ROW.findall(html)] == many_records[:50], bad


def test_records_page_keeps_its_filters_in_its_links_and_bulk_form(
    client_for: Any, review: Any, reviewer: Any, many_records: list[int]
) -> None:
    client = client_for(reviewer)
    base = reverse("review-records", args=[review.slug])
    # "Trial a.ris": the first search's 160 records, four pages.
    html = client.get(base, {"q": "Trial a.ris"}).content.decode()
    link = unescape(_NEXT.search(html).group(1))
    assert link.startswith("q=Trial+a.ris&after=")
    html = client.get(f"{base}?{link}").content.decode()
    assert [int(i) for i in _ROW.findall(html)] == many_records[50:100]
    # After a bulk action the list comes back to this very page.
    assert f'name="next" value="{base}?{link.replace("&", "&amp;")}"' in html
    html = client.get(f"{base}?q=Trial+a.ris&page=last").content.decode()
    assert [int(i) for i in _ROW.findall(html)] == many_records[150:160]
    assert "Page 4 of 4" in html


def test_records_api_follows_next_by_cursor_and_keeps_page_numbers(
    review: Any, reviewer: Any, many_records: list[int]
) -> None:
    client = api(reviewer)
    url: str | None = f"/api/v1/reviews/{review.slug}/records/"
    seen: list[int] = []
    while url:
        response, offsets = _get(client, url)
        assert not offsets, url
        body = response.json()
        assert body["count"] == 275 and set(body) == {"count", "next", "previous", "results"}
        seen += [r["id"] for r in body["results"]]
        url = body["next"]
        assert url is None or "after=" in url
    assert seen == many_records
    assert "before=" in body["previous"]
    previous = client.get(body["previous"]).json()
    assert [r["id"] for r in previous["results"]] == many_records[200:250]
    # ?page=N, as clients of the first API send it; and the last page by key.
    page3 = client.get(f"/api/v1/reviews/{review.slug}/records/?page=3").json()
    assert [r["id"] for r in page3["results"]] == many_records[100:150]
    assert "after=" in page3["next"] and "before=" in page3["previous"]
    second = client.get(f"/api/v1/reviews/{review.slug}/records/?page=2").json()
    assert second["previous"].endswith("/records/")  # the first page's own address
    last, offsets = _get(client, f"/api/v1/reviews/{review.slug}/records/?page=last")
    assert not offsets and [r["id"] for r in last.json()["results"]] == many_records[250:]


def test_records_api_answers_a_malformed_cursor_with_a_400_naming_it(
    review: Any, reviewer: Any, many_records: list[int]
) -> None:
    client = api(reviewer)
    base = f"/api/v1/reviews/{review.slug}/records/"
    for name, value in (("after", "zz"), ("before", "WzEsMl0"), ("after", _encode(0, [1, 2]))):
        response = client.get(base, {name: value})
        assert response.status_code == 400, (name, value)
        assert response.json() == {
            "detail": f"{name}: not a cursor of this list; start again from the first page.",
            "field": name,
        }
    response = client.get(base, {"page": "abc"})
    assert response.status_code == 400
    assert response.json()["field"] == "page"


# ------------------------------------------------------------------------------ pairs


@pytest.fixture
def many_pairs(review: Any, many_records: list[int]) -> list[int]:
    """180 duplicate pairs, scores in seven values (ties broken by id), in the queue's
    order: best first, then by id."""
    from screening.models import DuplicatePair

    DuplicatePair.objects.bulk_create(
        DuplicatePair(
            review=review,
            record_a_id=many_records[i],
            record_b_id=many_records[i + 1],
            score=round(0.5 + (i * 37 % 7) / 20, 2),
        )
        for i in range(180)
    )
    return list(
        DuplicatePair.objects.filter(review=review)
        .order_by("-score", "id")
        .values_list("pk", flat=True)
    )


def test_a_keyset_in_mixed_directions_walks_both_ways(
    review: Any, owner: Any, many_pairs: list[int]
) -> None:
    # The duplicate queue is best first, ties by id: a key of mixed directions.
    client = api(owner)
    base = f"/api/v1/reviews/{review.slug}/duplicates/"
    seen, count = _walk_api(client, base)
    assert seen == many_pairs and count == 180
    back, url = [], client.get(base, {"page": "last"}).json()
    while True:
        back = [row["id"] for row in url["results"]] + back
        if not url["previous"]:
            break
        assert "before=" in url["previous"] or url["previous"].endswith("/duplicates/")
        url = client.get(url["previous"]).json()
    assert back == many_pairs
    for number in (2, 3):  # a jump by number (of 4), from the front and from the back
        response, offsets = _get(client, f"{base}?page={number}")
        assert [r["id"] for r in response.json()["results"]] == many_pairs[
            (number - 1) * 50 : number * 50
        ]
        assert len(offsets) == 1 and "LIMIT 1 OFFSET" in offsets[0]


def test_the_conflicts_and_assignments_apis_walk_by_key(
    review: Any, owner: Any, reviewer: Any, many_records: list[int]
) -> None:
    from screening.models import Conflict, ScreeningAssignment

    Conflict.objects.bulk_create(
        Conflict(review=review, record_id=pk, stage=STAGE) for pk in many_records[:120]
    )
    ScreeningAssignment.objects.bulk_create(
        ScreeningAssignment(review=review, record_id=pk, stage=STAGE, reviewer=reviewer)
        for pk in many_records[:130]
    )
    conflicts = list(Conflict.objects.order_by("created_at", "id").values_list("pk", flat=True))
    assigned = list(ScreeningAssignment.objects.order_by("id").values_list("pk", flat=True))
    stage_api = f"/api/v1/reviews/{review.slug}/screening/{STAGE}"
    assert _walk_api(api(owner), f"/api/v1/reviews/{review.slug}/conflicts/") == (conflicts, 120)
    assert _walk_api(api(reviewer), f"{stage_api}/assignments/") == (assigned, 130)


# ------------------------------------------------------------------------------ a walk


def _walk_page(client: Any, base: str, *, rows: Any) -> tuple[list[Any], int, list[Any]]:
    """Every row of an HTML list by its "next" links, then back by "previous": the rows
    forward, the number of pages, the rows of the pages before the last read backwards."""
    response, offsets = _get(client, base)
    assert not offsets
    seen, pages = rows(response), 1
    html = response.content.decode()
    while match := _NEXT.search(html):
        response, offsets = _get(client, f"{base}?{unescape(match.group(1))}")
        assert not offsets, f"page {pages + 1}: {offsets}"
        pages += 1
        html = response.content.decode()
        assert f"Page {pages} of " in html
        seen += rows(response)
    back: list[Any] = []
    while match := _PREV.search(html):
        response, offsets = _get(client, f"{base}?{unescape(match.group(1))}")
        assert not offsets
        html = response.content.decode()
        back = rows(response) + back
    return seen, pages, back


def _walk_api(client: Any, url: str | None) -> tuple[list[int], int]:
    seen: list[int] = []
    count = -1
    while url:
        response, offsets = _get(client, url)
        assert not offsets, url
        body = response.json()
        count = body["count"]
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    return seen, count


# ------------------------------------------------------------------------------ audit trail


@pytest.fixture
def many_events(review: Any, owner: Any) -> list[int]:
    """130 events more, forty of them written in the same instant (ties in the key's first
    column, broken by id), newest first."""
    from django.utils import timezone

    from reviewflow.reviews.models import AuditEvent
    from reviewflow.reviews.services import record_audit

    made = [
        record_audit(review=review, actor=owner, action="member.added", target=f"user{i}")
        for i in range(130)
    ]
    AuditEvent.objects.filter(pk__in=[e.pk for e in made[40:80]]).update(created_at=timezone.now())
    return list(
        AuditEvent.objects.filter(review=review)
        .order_by("-created_at", "-id")
        .values_list("pk", flat=True)
    )


def test_audit_trail_page_walks_by_key_without_offset(
    client_for: Any, review: Any, owner: Any, many_events: list[int]
) -> None:
    base = reverse("review-audit", args=[review.slug])
    seen, pages, back = _walk_page(
        client_for(owner), base, rows=lambda r: [e.pk for e in r.context["page"].object_list]
    )
    assert seen == many_events and pages == 3
    assert back == many_events[:100]
    response, offsets = _get(client_for(owner), f"{base}?page=last")
    assert not offsets
    assert [e.pk for e in response.context["page"].object_list] == many_events[100:]


def test_audit_api_follows_next_by_cursor(review: Any, owner: Any, many_events: list[int]) -> None:
    seen, count = _walk_api(api(owner), f"/api/v1/reviews/{review.slug}/audit/")
    assert seen == many_events and count == len(many_events)
    page2 = api(owner).get(f"/api/v1/reviews/{review.slug}/audit/?page=2").json()
    assert [e["id"] for e in page2["results"]] == many_events[50:100]


# ------------------------------------------------------------------------------ my votes


@pytest.fixture
def my_votes(review: Any, owner: Any, reviewer: Any) -> list[int]:
    """60 votes of the reviewer, thirty cast in the same instant; newest first."""
    from django.utils import timezone

    from screening.models import Vote
    from tests.screening.screening_fixtures import vote

    made = [vote(review, r, reviewer, "include") for r in import_records(review, owner, 60)]
    Vote.objects.filter(pk__in=[v.pk for v in made[10:40]]).update(created_at=timezone.now())
    return list(
        Vote.objects.filter(reviewer=reviewer)
        .order_by("-created_at", "-id")
        .values_list("pk", flat=True)
    )


def test_history_page_walks_by_key_without_offset(
    client_for: Any, review: Any, reviewer: Any, my_votes: list[int]
) -> None:
    base = reverse("screen-history", args=[review.slug, "title-abstract"])
    seen, pages, back = _walk_page(
        client_for(reviewer), base, rows=lambda r: [row["vote"].pk for row in r.context["rows"]]
    )
    assert seen == my_votes and pages == 3  # 25 a page
    assert back == my_votes[:50]


def test_history_api_follows_next_by_cursor(
    review: Any, reviewer: Any, my_votes: list[int]
) -> None:
    url = f"/api/v1/reviews/{review.slug}/screening/title-abstract/history/"
    seen, count = _walk_api(api(reviewer), url)
    assert seen == my_votes and count == 60
    # Filters travel with the cursor: the next page of a search is of that search.
    first = api(reviewer).get(url, {"decision": "include"}).json()
    assert "decision=include" in first["next"] and "after=" in first["next"]


def test_own_votes_api_follows_next_by_cursor(
    review: Any, reviewer: Any, my_votes: list[int]
) -> None:
    url = f"/api/v1/reviews/{review.slug}/screening/title-abstract/votes/"
    seen, count = _walk_api(api(reviewer), url)
    assert seen == my_votes[::-1] and count == 60  # oldest first


# ------------------------------------------------------------------------------ notifications


def test_notifications_page_and_api_walk_by_key_without_offset(
    client_for: Any, review: Any, owner: Any, reviewer: Any
) -> None:
    from reviewflow.reviews.models import Notification, NotificationKind

    Notification.objects.bulk_create(
        Notification(user=reviewer, review=review, kind=NotificationKind.values[0], text=f"n{i}")
        for i in range(120)
    )
    expected = list(
        Notification.objects.filter(user=reviewer)
        .order_by("-created_at", "-id")
        .values_list("pk", flat=True)
    )
    seen, pages, back = _walk_page(
        client_for(reviewer),
        reverse("notifications"),
        rows=lambda r: [n.pk for n in r.context["page"].object_list],
    )
    assert seen == expected and pages == 3 and back == expected[:100]
    seen, count = _walk_api(api(reviewer), "/api/v1/notifications/")
    assert seen == expected and count == 120
