"""Blind extraction: an extractor never sees the other's values, or their status beyond
"n of m submitted", before both have submitted; in services, every API response, the
audit trail and exports."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from extraction.exports import build_export
from extraction.selectors import comparison_for, study_status, visible_extractions
from extraction.services.extractions import save_draft, start_extraction, submit_extraction
from reviewflow.errors import ReviewflowError
from reviewflow.reviews import services as review_services
from reviewflow.reviews.models import Role
from tests.extraction.helpers import GOOD, included_records, published_form

pytestmark = pytest.mark.django_db

BASE = "/api/v1/reviews/msc-t2d"
SECRET = "Zanzibar-only-rachel-wrote-this"


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def records(review, owner, reviewer, reviewer2):
    return included_records(review, owner, (reviewer, reviewer2))


@pytest.fixture
def form(review, owner, records):
    return published_form(review, owner)


@pytest.fixture
def third(review, owner, make_user):
    user = make_user("tessa")
    review_services.add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
    return user


@pytest.fixture
def rachels(form, records, reviewer):
    extraction = start_extraction(form=form, record=records[0], extractor=reviewer)
    save_draft(extraction=extraction, actor=reviewer, values={**GOOD, "country": SECRET})
    return extraction


def everything_roberto_can_read(form, records, rachels, user) -> str:
    """Every API response about extractions and consensus, as one text."""
    client = api(user)
    responses = [
        client.get(f"{BASE}/extractions/"),
        client.get(f"{BASE}/extractions/?record={records[0].pk}"),
        client.get(f"{BASE}/extractions/{rachels.pk}/"),
        client.patch(f"{BASE}/extractions/{rachels.pk}/", {"values": {}}, format="json"),
        client.post(f"{BASE}/extractions/{rachels.pk}/submit/", {}, format="json"),
        client.get(f"{BASE}/consensus/"),
        client.get(f"{BASE}/consensus/{form.pk}/{records[0].pk}/"),
    ]
    return "\n".join(r.content.decode() for r in responses)


def test_before_anyone_submits_the_other_extractor_sees_nothing(
    form, records, reviewer, reviewer2, rachels
):
    mine = start_extraction(form=form, record=records[0], extractor=reviewer2)
    assert visible_extractions(form=form, record=records[0], user=reviewer2) == [mine]
    with pytest.raises(ReviewflowError, match=r"\(0 of 2 so far\)"):
        comparison_for(form=form, record=records[0], user=reviewer2)
    text = everything_roberto_can_read(form, records, rachels, reviewer2)
    assert SECRET not in text
    assert "rachel" not in text
    listing = api(reviewer2).get(f"{BASE}/extractions/").json()["results"]
    assert [e["id"] for e in listing] == [mine.pk]
    assert api(reviewer2).get(f"{BASE}/extractions/{rachels.pk}/").status_code == 404


def test_after_one_submits_the_other_only_learns_the_count(
    form, records, reviewer, reviewer2, rachels
):
    submit_extraction(extraction=rachels, actor=reviewer, values={**GOOD, "country": SECRET})
    mine = start_extraction(form=form, record=records[0], extractor=reviewer2)
    text = everything_roberto_can_read(form, records, rachels, reviewer2)
    assert SECRET not in text and "rachel" not in text
    own = api(reviewer2).get(f"{BASE}/extractions/{mine.pk}/").json()
    assert own["study"] == {"submitted": 1, "needed": 2}
    assert study_status(form, records[0]).label == "1 of 2 submitted"
    # Rachel, who has submitted, still cannot see Roberto's draft.
    save_draft(extraction=mine, actor=reviewer2, values={"country": "Roberto-draft"})
    assert "Roberto-draft" not in api(reviewer).get(f"{BASE}/extractions/").content.decode()
    with pytest.raises(ReviewflowError):
        comparison_for(form=form, record=records[0], user=reviewer)


def test_owner_sees_statuses_but_no_values_while_extraction_is_in_progress(
    form, records, owner, reviewer, rachels
):
    listing = api(owner).get(f"{BASE}/extractions/").json()["results"]
    assert [(e["extractor"], e["status"], e["values"]) for e in listing] == [
        ("rachel", "draft", None)
    ]
    assert SECRET not in api(owner).get(f"{BASE}/extractions/{rachels.pk}/").content.decode()
    assert visible_extractions(form=form, record=records[0], user=owner) == []
    audit = api(owner).get(f"{BASE}/audit/").content.decode()
    assert SECRET not in audit


def test_once_both_submitted_the_extractors_and_owner_see_both(
    form, records, owner, reviewer, reviewer2, rachels, third
):
    submit_extraction(extraction=rachels, actor=reviewer, values={**GOOD, "country": SECRET})
    mine = start_extraction(form=form, record=records[0], extractor=reviewer2)
    submit_extraction(extraction=mine, actor=reviewer2, values=GOOD)
    for user in (reviewer2, owner):
        listing = api(user).get(f"{BASE}/extractions/?record={records[0].pk}").json()["results"]
        assert {e["extractor"]: e["values"]["country"] for e in listing} == {
            "rachel": SECRET,
            "roberto": "Spain",
        }
        comparison = comparison_for(form=form, record=records[0], user=user)
        assert next(c for c in comparison if c.field.key == "country").a == SECRET
    # A reviewer who did not extract this study sees the consensus, not the extractions.
    assert api(third).get(f"{BASE}/extractions/").json()["results"] == []
    assert api(third).get(f"{BASE}/extractions/{rachels.pk}/").status_code == 404
    with pytest.raises(ReviewflowError):
        comparison_for(form=form, record=records[0], user=third)


def test_an_extractors_export_shows_only_what_the_downloader_may_see(
    review, form, records, owner, reviewer, reviewer2, rachels
):
    submit_extraction(extraction=rachels, actor=reviewer, values={**GOOD, "country": SECRET})
    hidden = build_export(review=review, forms=[form], extractor=reviewer, visible_to=reviewer2)
    assert SECRET not in json.dumps(hidden.forms[0].json)
    assert hidden.study_count == 0
    as_owner = build_export(review=review, forms=[form], extractor=reviewer, visible_to=owner)
    assert as_owner.study_count == 0  # in progress: statuses only
    mine = start_extraction(form=form, record=records[0], extractor=reviewer2)
    submit_extraction(extraction=mine, actor=reviewer2, values=GOOD)
    shown = build_export(review=review, forms=[form], extractor=reviewer, visible_to=reviewer2)
    assert shown.study_count == 1
    assert shown.forms[0].json["studies"][0]["values"]["country"] == SECRET
