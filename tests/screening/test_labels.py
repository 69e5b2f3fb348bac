"""Labels (#18): owners define them, reviewers put their own on records (page, keyboard
panel, API), filter, count and export by them; a label never reveals a vote before the
record is settled at a blind stage."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.urls import reverse
from openpyxl import load_workbook
from rest_framework.test import APIClient

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import AuditEvent
from screening.models import Label, RecordLabel
from screening.selectors.labels import label_counts
from screening.services.labels import (
    apply_label,
    create_label,
    delete_label,
    remove_label,
    toggle_label,
    update_label,
)
from screening.services.screening.stage_settings import update_stage_settings
from tests.screening.screening_fixtures import import_records, vote

pytestmark = pytest.mark.django_db

TA, FT = "title-abstract", "full-text"
# Where a page shows labels put on records (not the review's list of labels).
APPLIED = re.compile(r"data-others-labels>(.*?)</p>|data-record-list-labels>(.*?)</small>", re.S)


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def records(review, owner):
    return import_records(review, owner, 4)


@pytest.fixture
def refs(review, owner):
    return create_label(review=review, actor=owner, name="Check references", colour="blue", key="r")


# ------------------------------------------------------------------------------ services


def test_owner_defines_labels_in_order_and_the_trail_keeps_it(review, owner, refs):
    second = create_label(review=review, actor=owner, name="  non-English  ")
    assert (second.name, second.colour, second.key, second.order) == ("non-English", "grey", "", 1)
    update_label(label=second, actor=owner, key="N", colour="red")
    second.refresh_from_db()
    assert (second.key, second.colour) == ("n", "red")
    actions = list(
        AuditEvent.objects.filter(review=review, object_type="label")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["label.created", "label.created", "label.changed"]


@pytest.mark.parametrize(
    ("fields", "message", "field"),
    [
        ({"name": " "}, "Give the label a name.", "name"),
        ({"name": "x" * 61}, "A label's name has at most 60 characters (this one has 61).", "name"),
        ({"name": "CHECK references"}, "This review has a label named “Check references” already.", "name"),  # noqa: E501
        ({"name": "Other", "key": "r"}, "The key r is the label “Check references”'s already.", "key"),  # noqa: E501
        ({"name": "Other", "key": "?"}, "Unknown key “?”: a label's key is one digit 1-9 or one letter a-z.", "key"),  # noqa: E501
        ({"name": "Other", "colour": "pink"}, "Unknown colour “pink”: choose one of grey, blue, green, yellow, orange, red, purple, teal.", "colour"),  # noqa: E501
    ],
)  # fmt: skip
def test_bad_label_fields_name_the_field_and_change_nothing(
    review, owner, refs, fields, message, field
):
    with pytest.raises(ReviewflowError) as caught:
        create_label(review=review, actor=owner, **fields)
    assert (caught.value.message, caught.value.field) == (message, field)
    assert list(Label.objects.values_list("name", flat=True)) == ["Check references"]


def test_a_label_is_each_persons_own_and_applying_twice_keeps_one(
    review, records, refs, reviewer, reviewer2
):
    r = records[0]
    apply_label(review=review, record=r, label=refs, user=reviewer)
    apply_label(review=review, record=r, label=refs, user=reviewer)
    apply_label(review=review, record=r, label=refs, user=reviewer2)
    assert RecordLabel.objects.filter(record=r).count() == 2
    assert RecordLabel.objects.get(record=r, applied_by=reviewer).stage == TA
    assert remove_label(review=review, record=r, label=refs, user=reviewer)
    assert not remove_label(review=review, record=r, label=refs, user=reviewer)
    assert RecordLabel.objects.get(record=r).applied_by == reviewer2  # not taken off by others
    assert toggle_label(review=review, record=r, label=refs, user=reviewer) is True
    assert toggle_label(review=review, record=r, label=refs, user=reviewer) is False


def test_viewers_do_not_label(review, records, refs, viewer):
    with pytest.raises(ReviewflowError, match="Only reviewers and owners screen records."):
        apply_label(review=review, record=records[0], label=refs, user=viewer)
    assert not RecordLabel.objects.exists()


def test_deleting_a_label_takes_it_off_every_record(review, owner, records, refs, reviewer):
    apply_label(review=review, record=records[0], label=refs, user=reviewer)
    apply_label(review=review, record=records[1], label=refs, user=owner)
    assert delete_label(label=refs, actor=owner) == 2
    assert not RecordLabel.objects.exists()
    event = AuditEvent.objects.get(action="label.deleted")
    assert event.before["records"] == 2


# ------------------------------------------------------------------------------ blinding


def test_others_labels_show_once_the_record_is_settled(review, records, refs, reviewer, reviewer2):
    r = records[0]
    apply_label(review=review, record=r, label=refs, user=reviewer2)
    assert label_counts(review, reviewer) == {}
    assert label_counts(review, reviewer2) == {refs.pk: 1}
    vote(review, r, reviewer2, "include")
    assert label_counts(review, reviewer) == {}  # waits for the reviewer's vote
    vote(review, r, reviewer, "include")  # settled: everyone sees
    assert label_counts(review, reviewer) == {refs.pk: 1}


def test_a_stage_that_is_not_blind_shows_labels_at_once(
    review, owner, records, refs, reviewer, reviewer2
):
    apply_label(review=review, record=records[0], label=refs, user=reviewer2)
    update_stage_settings(review=review, stage=TA, actor=owner, blind=False)
    assert label_counts(review, reviewer) == {refs.pk: 1}


def test_no_page_api_filter_or_export_shows_an_unsettled_record_s_others_labels(
    client_for, review, owner, records, refs, reviewer, reviewer2
):
    secret = create_label(review=review, actor=owner, name="ZQX-LABEL-SECRET", key="s")
    r = records[0]
    apply_label(review=review, record=r, label=secret, user=reviewer2)
    vote(review, r, reviewer2, "exclude")
    client, slug = client_for(reviewer), review.slug
    pages = [
        reverse("review-records", args=[slug]),
        reverse("review-records", args=[slug]) + f"?label={secret.pk}",
        reverse("record-detail", args=[slug, r.pk]),
        reverse("screen", args=[slug, TA]),
        reverse("review-labels", args=[slug]),
        reverse("export-records", args=[slug, "all", "csv"]),
    ]
    # Label names are the review's, shown to every member; what must not show is that
    # reviewer2 put one on the record: an application on the page, in a count or a cell.
    for url in pages:
        response = client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert response.status_code == 200, url
        for shown in APPLIED.findall(body.decode()):
            assert "ZQX-LABEL-SECRET" not in "".join(shown), url
        if "csv" in url:
            assert b"ZQX-LABEL-SECRET" not in body
    filtered = client.get(reverse("review-records", args=[slug]), {"label": secret.pk})
    assert filtered.context["page"].paginator.count == 0
    labels_page = client.get(reverse("review-labels", args=[slug]))
    assert {lab.pk: n for lab, n in labels_page.context["labels"]}[secret.pk] == 0
    on_record = api(reviewer).get(f"/api/v1/reviews/{slug}/records/{r.pk}/labels/").json()
    assert on_record == []
    listed = api(reviewer).get(f"/api/v1/reviews/{slug}/labels/").json()
    assert {x["name"]: x["records"] for x in listed}["ZQX-LABEL-SECRET"] == 0
    # The reviewer votes: the record is settled (agreement), and the label shows.
    vote(review, r, reviewer, "exclude")
    on_record = api(reviewer).get(f"/api/v1/reviews/{slug}/records/{r.pk}/labels/").json()
    assert [(x["name"], x["applied_by"]) for x in on_record] == [
        ("ZQX-LABEL-SECRET", reviewer2.username)
    ]
    filtered = client.get(reverse("review-records", args=[slug]), {"label": secret.pk})
    assert [row.pk for row in filtered.context["page"]] == [r.pk]


# ------------------------------------------------------------------------------ pages


def test_owner_manages_labels_on_the_labels_page(client_for, review, owner, refs):
    client, url = client_for(owner), reverse("review-labels", args=[review.slug])
    response = client.post(url, {"action": "create", "name": "Background", "colour": "green"})
    assert response.status_code == 302
    background = Label.objects.get(name="Background")
    response = client.post(
        url, {"action": "update", "label": background.pk, "name": "Background", "key": "r"}
    )
    assert response.status_code == 400
    assert "The key r is the label “Check references”&#x27;s already." in response.content.decode()
    response = client.post(url, {"action": "delete", "label": refs.pk})
    assert response.status_code == 302
    assert list(Label.objects.values_list("name", flat=True)) == ["Background"]


def test_labels_page_permissions(client_for, review, refs, viewer, reviewer, outsider):
    url = reverse("review-labels", args=[review.slug])
    assert client_for(outsider).get(url).status_code == 404
    assert client_for(viewer).get(url).status_code == 200
    response = client_for(reviewer).post(url, {"action": "create", "name": "Mine"})
    assert response.status_code == 403
    assert client_for(outsider).post(url, {"action": "create", "name": "Mine"}).status_code == 404
    assert Label.objects.count() == 1


def test_reviewer_toggles_a_label_from_the_screening_panel(
    client_for, review, records, refs, reviewer, viewer, outsider
):
    client = client_for(reviewer)
    page = client.get(reverse("screen", args=[review.slug, TA]))
    record = page.context["record"]
    assert b'data-label-key="r"' in page.content
    url = reverse("record-labels", args=[review.slug, record.pk])
    response = client.post(url, {"label": refs.pk, "stage": TA}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert b'aria-pressed="true"' in response.content
    assert RecordLabel.objects.get().applied_by == reviewer
    response = client.post(url, {"label": refs.pk, "stage": TA}, HTTP_HX_REQUEST="true")
    assert b'aria-pressed="false"' in response.content and not RecordLabel.objects.exists()
    # Without htmx, back to where the person was.
    back = reverse("screen", args=[review.slug, TA])
    response = client.post(url, {"label": refs.pk, "next": back})
    assert response.status_code == 302 and response["Location"] == back
    for elsewhere in ("https://evil.example/", "//evil.example/", "review-labels", "1"):
        response = client.post(url, {"label": refs.pk, "next": elsewhere})
        assert response["Location"] == reverse("record-detail", args=[review.slug, record.pk])
    assert client_for(viewer).post(url, {"label": refs.pk}).status_code == 403
    assert client_for(outsider).post(url, {"label": refs.pk}).status_code == 404
    assert client.post(url, {"label": "abc"}).status_code == 404
    assert client.post(url, {"label": 10**30}).status_code == 404


def test_record_page_labels_at_the_record_s_current_stage(
    client_for, review, records, refs, reviewer, reviewer2
):
    r = records[0]
    vote(review, r, reviewer, "include")
    vote(review, r, reviewer2, "include")  # passed title/abstract: on to full text
    client = client_for(reviewer)
    client.post(reverse("record-labels", args=[review.slug, r.pk]), {"label": refs.pk})
    assert RecordLabel.objects.get().stage == FT
    page = client.get(reverse("record-detail", args=[review.slug, r.pk])).content.decode()
    assert "Check references" in page and 'aria-pressed="true"' in page


def test_records_list_filters_by_label_and_shows_badges(
    client_for, review, records, refs, reviewer
):
    apply_label(review=review, record=records[2], label=refs, user=reviewer)
    client = client_for(reviewer)
    url = reverse("review-records", args=[review.slug])
    response = client.get(url, {"label": refs.pk})
    assert [row.pk for row in response.context["page"]] == [records[2].pk]
    assert b'class="badge label-blue"' in response.content
    # A label of another review, or nonsense, filters nothing.
    assert client.get(url, {"label": "x"}).context["page"].paginator.count == 4
    assert client.get(url, {"label": 99999}).context["page"].paginator.count == 4


def test_records_page_query_count_does_not_grow_with_labels(
    client_for, review, owner, reviewer, refs, django_assert_num_queries
):
    records = import_records(review, owner, 30)
    for r in records:
        apply_label(review=review, record=r, label=refs, user=reviewer)
    client = client_for(reviewer)
    url = reverse("review-records", args=[review.slug])
    # The records page's 6, the review's labels, and the labels on the page's records;
    # + the filters' screeners and questions, and the stage columns' 4 (#18).
    with django_assert_num_queries(8 + 6):
        client.get(url)
    more = import_records(review, owner, 30, name="more.ris")
    for r in more:
        apply_label(review=review, record=r, label=refs, user=reviewer)
    with django_assert_num_queries(8 + 6):
        client.get(url)


# ------------------------------------------------------------------------------ exports


def test_exports_carry_a_labels_column(client_for, review, owner, records, refs, reviewer2):
    other = create_label(review=review, actor=owner, name="Background")
    r = records[0]
    apply_label(review=review, record=r, label=refs, user=owner)
    apply_label(review=review, record=r, label=other, user=reviewer2)
    vote(review, r, owner, "include")
    vote(review, r, reviewer2, "include")
    client = client_for(owner)
    body = b"".join(
        client.get(reverse("export-records", args=[review.slug, "all", "csv"])).streaming_content
    )
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(body.decode("utf-8-sig")))}
    assert rows[str(r.pk)]["labels"] == "Check references; Background"
    assert rows[str(records[1].pk)]["labels"] == ""
    body = b"".join(
        client.get(reverse("export-votes", args=[review.slug, "csv"])).streaming_content
    )
    votes = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert {(v["reviewer"], v["labels"]) for v in votes} == {
        (owner.username, "Check references"),
        (reviewer2.username, "Background"),
    }
    xlsx = client.get(reverse("export-votes", args=[review.slug, "xlsx"])).content
    sheet = load_workbook(io.BytesIO(xlsx))["Outcomes"]
    header = [c.value for c in sheet[1]]
    row = dict(zip(header, [c.value for c in sheet[2]], strict=True))
    assert row["labels"] == "Check references; Background"


# ------------------------------------------------------------------------------ API


def test_api_labels_owner_writes_members_read(review, owner, refs, reviewer, viewer, outsider):
    url = f"/api/v1/reviews/{review.slug}/labels/"
    assert api(outsider).get(url).status_code == 404
    assert [x["name"] for x in api(viewer).get(url).json()] == ["Check references"]
    assert api(reviewer).post(url, {"name": "Mine"}, format="json").status_code == 403
    response = api(owner).post(url, {"name": "Background", "key": "b"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json() | {"id": 0} == {
        "id": 0,
        "name": "Background",
        "colour": "grey",
        "key": "b",
        "order": 1,
        "records": 0,
    }
    response = api(owner).post(url, {"name": "background"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "This review has a label named “Background” already.",
        "field": "name",
    }
    label_id = Label.objects.get(name="Background").pk
    detail = f"{url}{label_id}/"
    assert api(owner).patch(detail, {"colour": "teal"}, format="json").json()["colour"] == "teal"
    assert api(viewer).delete(detail).status_code == 403
    assert api(owner).delete(detail).status_code == 204
    assert not Label.objects.filter(pk=label_id).exists()


def test_api_record_labels(review, records, refs, reviewer, viewer, outsider):
    r = records[0]
    url = f"/api/v1/reviews/{review.slug}/records/{r.pk}/labels/"
    assert api(outsider).post(url, {"label": refs.pk}, format="json").status_code == 404
    assert api(viewer).post(url, {"label": refs.pk}, format="json").status_code == 403
    response = api(reviewer).post(url, {"label": refs.pk}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["stage"] == TA and response.json()["applied_by"] == reviewer.username
    assert [x["name"] for x in api(reviewer).get(url).json()] == ["Check references"]
    response = api(reviewer).post(url, {"label": refs.pk, "stage": "later"}, format="json")
    assert response.status_code == 400 and "stage" in response.json()
    assert api(reviewer).post(url, {"label": 999999}, format="json").status_code == 404
    assert api(reviewer).delete(f"{url}?label={refs.pk}").status_code == 204
    response = api(reviewer).delete(url, {"label": refs.pk}, format="json")
    assert response.status_code == 404
    assert response.json() == {
        "detail": "You have not put this label on this record at this stage."
    }
    assert not RecordLabel.objects.exists()


def test_api_records_filter_by_label(review, records, refs, reviewer, reviewer2):
    apply_label(review=review, record=records[1], label=refs, user=reviewer)
    url = f"/api/v1/reviews/{review.slug}/records/"
    mine = api(reviewer).get(url, {"label": refs.pk}).json()
    assert [r["id"] for r in mine["results"]] == [records[1].pk]
    assert api(reviewer2).get(url, {"label": refs.pk}).json()["count"] == 0  # not settled
    response = api(reviewer).get(url, {"label": "abc"})
    assert response.status_code == 400
    assert response.json() == {
        "detail": "label: give a label's id, a whole number.",
        "field": "label",
    }
