"""The API's default permission: anonymous callers learn nothing about reviews (SECURITY.md)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from reviewflow.reviews.models import Review

pytestmark = pytest.mark.django_db

REVIEW_URLS = [
    "/api/v1/reviews/{slug}/",
    "/api/v1/reviews/{slug}/members/",
    "/api/v1/reviews/{slug}/records/",
    "/api/v1/reviews/{slug}/screening/title-abstract/next/",
    "/api/v1/reviews/{slug}/prisma.svg",
    "/api/v1/reviews/{slug}/forms/",
]


def answer(client: APIClient, method: str, url: str) -> tuple[int, object]:
    response = getattr(client, method)(url, {}, format="json")
    return response.status_code, response.json()


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_anonymous_gets_the_non_members_404_for_every_review_url(review, outsider, method):
    stranger = APIClient()
    stranger.force_authenticate(outsider)
    for template in REVIEW_URLS:
        existing = template.format(slug=review.slug)
        unknown = template.format(slug="no-such-review")
        expected = (404, {"detail": "No such review."})
        assert answer(APIClient(), method, existing) == expected, existing
        assert answer(APIClient(), method, unknown) == expected, unknown
        if method == "get":  # a non-member's read: the very same answer
            assert answer(stranger, method, existing) == expected, existing
    assert Review.objects.filter(slug=review.slug).exists()


def test_anonymous_outside_a_review_is_still_refused_with_403(review):
    response = APIClient().get("/api/v1/reviews/")
    assert response.status_code == 403
    assert review.slug not in response.content.decode()


def test_a_wrong_token_is_refused_the_same_for_every_review(review):
    client = APIClient(HTTP_AUTHORIZATION="Token not-a-token")
    for slug in (review.slug, "no-such-review"):
        response = client.get(f"/api/v1/reviews/{slug}/")
        assert (response.status_code, response.json()) == (403, {"detail": "Invalid token."})
