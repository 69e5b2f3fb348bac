"""The lookups every request makes first, each one query: membership, stage settings, API
tokens, and the claim a reviewer holds (an upsert)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.http import Http404
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from reviewflow.reviews.access import get_review_for
from reviewflow.reviews.models import Membership, Review, Role
from screening.models import Stage
from screening.services.screening.stage_settings import get_stage_settings, update_stage_settings

pytestmark = pytest.mark.django_db


def test_stage_settings_are_read_with_their_json_decoded(review):
    update_stage_settings(
        review=review,
        stage=Stage.FULL_TEXT,
        actor=review.created_by,
        exclusion_reasons=["Wrong population", "Wrong dose"],
    )
    fresh = Review.objects.get(pk=review.pk)
    conf = get_stage_settings(fresh, Stage.FULL_TEXT)
    assert conf.exclusion_reasons == ["Wrong population", "Wrong dose"]  # JSON, decoded


def test_review_access_is_the_members_own(review, owner, viewer, outsider):
    access = get_review_for(viewer, "msc-t2d")
    assert (access.review.pk, access.role, access.user) == (review.pk, Role.VIEWER, viewer)
    assert access.membership.pk == Membership.objects.get(review=review, user=viewer).pk
    assert get_review_for(owner, "msc-t2d").is_owner
    with pytest.raises(Http404):
        get_review_for(outsider, "msc-t2d")
    with pytest.raises(Http404):
        get_review_for(owner, "no-such-review")


def test_api_tokens_answer_as_drf_does(review, owner):
    # 403, not 401: session authentication comes first and sends no WWW-Authenticate.
    token = Token.objects.create(user=owner)
    url = "/api/v1/reviews/msc-t2d/"
    ok = Client().get(url, HTTP_AUTHORIZATION=f"Token {token.key}")
    assert ok.status_code == 200 and ok.json()["slug"] == "msc-t2d"
    wrong = Client().get(url, HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert (wrong.status_code, wrong.json()["detail"]) == (403, "Invalid token.")
    User.objects.filter(pk=owner.pk).update(is_active=False)
    inactive = Client().get(url, HTTP_AUTHORIZATION=f"Token {token.key}")
    assert (inactive.status_code, inactive.json()["detail"]) == (403, "User inactive or deleted.")


def test_a_claim_is_one_row_per_reviewer_and_stage_updated_in_place(review, owner, reviewer):
    from screening.models import Claim
    from screening.services.screening.assignment import CLAIM_MINUTES, claim_record
    from tests.screening.screening_fixtures import import_records

    first, second = import_records(review, owner, 2)
    now = timezone.now()
    later = now + timedelta(minutes=CLAIM_MINUTES)
    claim_record(
        reviewer=reviewer, stage=Stage.TITLE_ABSTRACT, record_id=first.pk, now=now, walked=True
    )
    (made,) = Claim.objects.filter(reviewer=reviewer)
    assert (made.record_id, made.walked_to, made.expires_at) == (first.pk, first.pk, later)
    # The same reviewer and stage: the row is updated; a claim not from the walk keeps
    # where the walk got to.
    claim_record(
        reviewer=reviewer, stage=Stage.TITLE_ABSTRACT, record_id=second.pk, now=now, walked=False
    )
    (again,) = Claim.objects.filter(reviewer=reviewer)
    assert again.pk == made.pk
    assert (again.record_id, again.walked_to, again.expires_at) == (second.pk, first.pk, later)
    claim_record(
        reviewer=reviewer, stage=Stage.TITLE_ABSTRACT, record_id=second.pk, now=now, walked=True
    )
    assert Claim.objects.get(reviewer=reviewer).walked_to == second.pk
