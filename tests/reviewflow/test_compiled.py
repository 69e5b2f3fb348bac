"""Queries compiled once and run with new values (``reviewflow.compiled``), and the hot-path
lookups built on them: membership, stage settings, API tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.http import Http404
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from reviewflow import compiled
from reviewflow.reviews import services
from reviewflow.reviews.access import get_review_for
from reviewflow.reviews.models import Membership, Review, Role
from screening.models import Stage
from screening.services.screening.stage_settings import get_stage_settings, update_stage_settings

pytestmark = pytest.mark.django_db


def _memberships() -> object:
    return Membership.objects.filter(review_id=compiled.REVIEW, user_id=compiled.USER).values_list(
        "role"
    )


def test_each_run_uses_its_own_values_not_the_first_ones(review, owner, reviewer, viewer):
    other = services.create_review(title="Other", slug="other", owner=reviewer)
    key = ("test.memberships",)
    seen = [
        compiled.rows(key, _memberships, model=Membership, review=r.pk, user=u.pk)
        for r, u in [(review, owner), (review, viewer), (other, reviewer), (other, owner)]
    ]
    assert seen == [[("owner",)], [("viewer",)], [("owner",)], []]
    assert sorted(compiled.names_used(key)) == ["review", "user"]


def test_a_datetime_is_filled_in_as_the_database_wants_it(review, owner):
    def later_than() -> object:
        return Review.objects.filter(created_at__gt=compiled.NOW).values_list("slug")

    key = ("test.later",)
    before = timezone.now() - timedelta(days=1)
    after = timezone.now() + timedelta(days=1)
    assert compiled.rows(key, later_than, model=Review, now=before) == [("msc-t2d",)]
    assert compiled.rows(key, later_than, model=Review, now=after) == []


def test_a_sentinel_written_into_the_sql_is_refused():
    def inlined() -> object:
        where = [f"id = {compiled.REVIEW}"]  # the mistake the check is for
        return Review.objects.extra(where=where).values_list("pk")  # noqa: S610

    with pytest.raises(ValueError, match="written into the SQL"):
        compiled.rows(("test.inlined",), inlined, model=Review, review=1)


def test_instances_convert_fields_defer_the_rest_and_keep_annotations(review):
    update_stage_settings(
        review=review,
        stage=Stage.FULL_TEXT,
        actor=review.created_by,
        exclusion_reasons=["Wrong population", "Wrong dose"],
    )

    def reviews() -> object:
        from django.db.models import Count

        return (
            Review.objects.filter(pk=compiled.REVIEW)
            .annotate(members=Count("memberships"))
            .only("id", "slug", "created_at")
        )

    (found,) = compiled.instances(("test.reviews",), reviews, model=Review, review=review.pk)
    assert found.slug == "msc-t2d"
    assert found.created_at == review.created_at  # converted: an aware datetime
    assert found.members == 4
    assert found.get_deferred_fields() >= {"title", "question"}
    assert found.title == review.title  # a deferred field still loads when asked for
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


def test_insert_and_upsert_write_what_the_orm_would(review, owner, reviewer):
    from reviewflow.reviews.models import AuditEvent
    from screening.models import Claim
    from tests.screening.screening_fixtures import import_records

    events = [
        AuditEvent(review=review, actor=owner, action="test.one", after={"n": 1, "s": "é"}),
        AuditEvent(review=review, actor=None, action="test.two", before=None, object_id=7),
    ]
    columns = ("review", "actor", "action", "target", "object_type", "object_id", "before", "after")
    compiled.insert(events, (*columns, "created_at"))
    assert all(e.pk and not e._state.adding for e in events)
    one, two = (AuditEvent.objects.get(pk=e.pk) for e in events)
    assert (one.action, one.actor_id, one.after, one.before) == (
        "test.one",
        owner.pk,
        {"n": 1, "s": "é"},
        None,
    )
    assert (two.action, two.actor_id, two.object_id) == ("test.two", None, 7)
    assert AuditEvent.objects.filter(pk=two.pk, before__isnull=True).exists()  # SQL NULL

    first, second = import_records(review, owner, 2)
    later = timezone.now() + timedelta(minutes=5)
    fields = ("record", "stage", "reviewer", "expires_at", "walked_to")

    def hold(record: object, walked: int | None) -> Claim:
        claim = Claim(
            record=record,
            stage=Stage.TITLE_ABSTRACT,
            reviewer=reviewer,
            expires_at=later,
            walked_to=walked,
        )
        compiled.upsert(
            claim, fields, unique=("reviewer", "stage"), update=("record", "expires_at")
        )
        return claim

    made = hold(first, 11)
    again = hold(second, 99)  # the same reviewer and stage: the row is updated
    assert made.pk == again.pk
    (claim,) = Claim.objects.filter(reviewer=reviewer)
    assert (claim.record_id, claim.walked_to, claim.expires_at) == (second.pk, 11, later)
