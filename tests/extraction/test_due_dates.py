"""Extraction assignments with due dates, and the extractors' workload (#20)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from extraction.models import Extraction
from extraction.selectors import extraction_workload
from extraction.services.extractions import assign_extractor, submit_extraction
from reviewflow.errors import ReviewflowError
from tests.extraction.helpers import GOOD, included_records, published_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(review, owner, reviewer, reviewer2):
    return included_records(review, owner, (reviewer, reviewer2), n=3)


@pytest.fixture
def form(review, owner, records):
    return published_form(review, owner)


def test_an_owner_assigns_an_extraction_with_a_due_date(form, records, owner, reviewer):
    due = timezone.localdate() + timedelta(days=10)
    made = assign_extractor(
        form=form, record=records[0], extractor=reviewer, actor=owner, due_date=due
    )
    assert Extraction.objects.get(pk=made.pk).due_date == due
    with pytest.raises(ReviewflowError) as err:
        assign_extractor(
            form=form,
            record=records[1],
            extractor=reviewer,
            actor=owner,
            due_date=timezone.localdate() - timedelta(days=1),
        )
    assert (err.value.field, err.value.message) == ("due_date", "The due date is in the past.")
    assert Extraction.objects.count() == 1


def test_extraction_workload_by_hand(form, records, owner, reviewer, reviewer2):
    today = timezone.localdate()
    for record in records[:3]:
        assign_extractor(
            form=form,
            record=record,
            extractor=reviewer,
            actor=owner,
            due_date=today + timedelta(days=2),
        )
    assign_extractor(form=form, record=records[0], extractor=reviewer2, actor=owner)
    first = Extraction.objects.get(record=records[0], extractor=reviewer)
    submit_extraction(extraction=first, actor=reviewer, values=GOOD)
    Extraction.objects.filter(record=records[1], extractor=reviewer).update(
        due_date=today - timedelta(days=1)
    )
    rows = {
        r.username: r for r in extraction_workload(form.review, now=timezone.now(), today=today)
    }
    mine = rows[reviewer.username]
    assert (mine.assigned, mine.done, mine.left, mine.overdue) == (3, 1, 2, 1)
    assert mine.due_date == today - timedelta(days=1)
    assert mine.finish == today + timedelta(days=14)  # 2 left at 1 a week
    other = rows[reviewer2.username]
    assert (other.assigned, other.done, other.left, other.pace, other.finish) == (1, 0, 1, 0, None)
    own = extraction_workload(form.review, now=timezone.now(), today=today, only=reviewer2)
    assert [r.username for r in own] == [reviewer2.username]


def test_the_assign_form_takes_a_due_date_and_the_extractor_sees_it(
    form, records, owner, reviewer, client_for
):
    url = reverse("extraction-action", args=[form.review.slug, form.pk, records[0].pk])
    owner_client = client_for(owner)
    bad = owner_client.post(
        url, {"action": "assign", "extractor": reviewer.username, "due_date": "soon"}
    )
    assert bad.status_code == 302
    assert not Extraction.objects.exists()
    due = timezone.localdate() + timedelta(days=3)
    owner_client.post(
        url, {"action": "assign", "extractor": reviewer.username, "due_date": due.isoformat()}
    )
    assert Extraction.objects.get().due_date == due
    home = client_for(reviewer).get(reverse("extraction-home", args=[form.review.slug]))
    body = home.content.decode()
    assert f"due {due.isoformat()}" in body
    assert f'data-extractor="{reviewer.username}"' in body
    page = client_for(reviewer).get(
        reverse("extraction-page", args=[form.review.slug, form.pk, records[0].pk])
    )
    assert f"due {due.isoformat()}" in page.content.decode()
    api = client_for(owner).get(f"/api/v1/reviews/{form.review.slug}/extractions/")
    assert api.json()["results"][0]["due_date"] == due.isoformat()


def test_the_extractor_is_notified_of_the_assignment_with_its_due_date(
    form, records, owner, reviewer
):
    from reviewflow.reviews.models import Notification

    due = timezone.localdate() + timedelta(days=10)
    assign_extractor(form=form, record=records[0], extractor=reviewer, actor=owner, due_date=due)
    (told,) = Notification.objects.filter(user=reviewer)
    title = records[0].title if len(records[0].title) <= 90 else records[0].title[:89]
    assert told.kind == "assignment"
    assert told.text.startswith(f"“{title.rstrip()}")
    assert told.text.endswith(f"” assigned to you for extraction, due {due:%d %b %Y}.")
    assert told.url == reverse("extraction-page", args=[form.review.slug, form.pk, records[0].pk])
    # Owners who take a study themselves are not told about their own choice.
    assign_extractor(form=form, record=records[1], extractor=owner, actor=owner)
    assert not Notification.objects.filter(user=owner).exists()
