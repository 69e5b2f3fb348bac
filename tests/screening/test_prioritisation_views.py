"""The owners' prioritisation page: who may see it, what it says, stopping early, and a
query count that does not grow with the review."""

from __future__ import annotations

import pytest
from django.urls import reverse

from screening.models import Outcome, OutcomeKind, StageOrder
from screening.services import prioritisation
from screening.services.screening.stage_settings import update_stage_settings
from tests.screening.screening_fixtures import import_records, vote

TA = "title-abstract"


@pytest.fixture
def records(review, owner):
    return import_records(review, owner, 12)


def test_page_is_for_owners_only(client, client_for, review, records, owner, reviewer, outsider):
    url = reverse("prioritisation", args=[review.slug, TA])
    assert client.get(url).status_code == 302  # anonymous: sent to log in
    assert client_for(outsider).get(url).status_code == 404
    assert client_for(reviewer).get(url).status_code == 403
    response = client_for(owner).get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Random order (the default, and the right choice for a pilot round)" in html
    assert 'data-rule="hypergeometric" data-kind="guarantee"' in html
    assert 'data-rule="knee" data-kind="heuristic"' in html
    assert "Guarantee" in html and "Heuristic" in html


def test_page_says_why_the_order_is_still_random(client_for, review, records, owner, reviewer):
    update_stage_settings(
        review=review, stage=TA, actor=owner, order=StageOrder.RELEVANCE, reviewers_needed=1
    )
    vote(review, records[0], reviewer, "exclude")
    prioritisation.retrain_ranking(review_id=review.pk, stage=TA)
    html = client_for(owner).get(reverse("prioritisation", args=[review.slug, TA])).content
    assert (
        "Prioritisation starts after at least one include and one exclude (so far: 0 "
        "included, 1 excluded); until then the order stays random."
    ) in html.decode()


def test_stop_early_needs_confirmation_then_excludes_the_rest(
    client_for, review, records, owner, reviewer
):
    update_stage_settings(review=review, stage=TA, actor=owner, reviewers_needed=1)
    vote(review, records[0], reviewer, "include")
    vote(review, records[1], reviewer, "exclude")
    url = reverse("prioritisation-stop", args=[review.slug, TA])
    client = client_for(owner)
    client.post(url, {"method": "hypergeometric"})
    assert not Outcome.objects.filter(kind=OutcomeKind.AUTOMATION).exists()
    assert client_for(reviewer).post(url, {"method": "knee", "confirm": "yes"}).status_code == 403
    response = client.post(url, {"method": "hypergeometric", "confirm": "yes"}, follow=True)
    assert Outcome.objects.filter(kind=OutcomeKind.AUTOMATION).count() == 10
    html = response.content.decode()
    assert "10 unscreened records were excluded by automation tool" in html
    assert "Stopped early (guarantee): Hypergeometric test" in html


@pytest.mark.parametrize("n", [5, 40])
def test_page_query_count_does_not_grow(
    n, client_for, review, owner, reviewer, django_assert_num_queries
):
    records = import_records(review, owner, n)
    update_stage_settings(review=review, stage=TA, actor=owner, reviewers_needed=1)
    for r in records[:4]:
        vote(review, r, reviewer, "exclude")
    client = client_for(owner)
    url = reverse("prioritisation", args=[review.slug, TA])
    client.get(url)
    # 10: one of them reads where the two-phase rule stands (its switch, an audit event).
    with django_assert_num_queries(10):
        assert client.get(url).status_code == 200


def test_api_exposes_settings_and_estimate_to_owners(review, records, owner, reviewer, outsider):
    from rest_framework.test import APIClient

    url = f"/api/v1/reviews/{review.slug}/screening/{TA}/prioritisation/"
    api = APIClient()
    api.force_authenticate(outsider)
    assert api.get(url).status_code == 404
    api.force_authenticate(reviewer)
    assert api.get(url).status_code == 403
    api.force_authenticate(owner)
    body = api.get(url).json()
    assert (body["order"], body["show_scores"], body["stopped"]) == ("random", False, None)
    assert [(r["key"], r["kind"]) for r in body["rules"]] == [
        ("hypergeometric", "guarantee"),
        ("two_phase", "guarantee"),
        ("consecutive", "heuristic"),
        ("knee", "heuristic"),
    ]
    assert body["estimate"]["records"] == 12
    body = api.patch(url, {"order": "relevance"}, format="json").json()
    assert body["order"] == "relevance"
    assert api.patch(url, {"order": "alphabetical"}, format="json").status_code == 400
    update_stage_settings(review=review, stage=TA, actor=owner, reviewers_needed=1)
    vote(review, records[0], reviewer, "include")
    response = api.post(url + "stop/", {"method": "knee"}, format="json")
    assert response.status_code == 201
    assert response.json()["stopped"]["records_excluded"] == 11
