from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from reviewflow.errors import ReviewflowError
from reviewflow.reviews import services
from reviewflow.reviews.models import AuditEvent, Invitation, Membership, Role

pytestmark = pytest.mark.django_db


def test_create_review_makes_creator_owner_and_audits(owner):
    review = services.create_review(title="MSC in ALS", slug="msc-als", owner=owner)
    assert Membership.objects.get(review=review, user=owner).role == Role.OWNER
    actions = list(AuditEvent.objects.filter(review=review).values_list("action", flat=True))
    assert set(actions) == {"review.created", "member.added"}


@pytest.mark.parametrize(
    "slug", ["Has Caps", "spaces here", "-leading", "double--hyphen", "", "ünïcode"]
)
def test_bad_slug_is_refused_with_a_message(owner, slug):
    with pytest.raises(ReviewflowError) as err:
        services.create_review(title="A review", slug=slug, owner=owner)
    assert err.value.field == "slug"
    assert "lower-case letters, digits and single hyphens" in err.value.message


def test_taken_slug_is_refused(review, owner):
    with pytest.raises(ReviewflowError, match="A review with the slug “msc-t2d” already exists."):
        services.create_review(title="Other", slug="msc-t2d", owner=owner)


def test_update_review_records_before_and_after(review, owner):
    services.update_review(review=review, actor=owner, title="New title", question="Q2")
    event = AuditEvent.objects.filter(review=review, action="review.updated").get()
    assert event.before == {
        "title": "MSC therapy in type 2 diabetes",
        "question": "Do MSCs lower HbA1c?",
    }
    assert event.after == {"title": "New title", "question": "Q2"}
    assert event.actor == owner


def test_last_owner_cannot_be_demoted_or_removed(review, owner):
    membership = Membership.objects.get(review=review, user=owner)
    message = "This is the review's last owner: make another member an owner first."
    with pytest.raises(ReviewflowError) as err:
        services.change_role(membership=membership, actor=owner, role=Role.VIEWER)
    assert err.value.message == message
    with pytest.raises(ReviewflowError) as err:
        services.remove_member(membership=membership, actor=owner)
    assert err.value.message == message
    assert Membership.objects.get(pk=membership.pk).role == Role.OWNER


def test_owner_can_step_down_once_there_is_another_owner(review, owner, reviewer):
    other = Membership.objects.get(review=review, user=reviewer)
    services.change_role(membership=other, actor=owner, role=Role.OWNER)
    mine = Membership.objects.get(review=review, user=owner)
    services.remove_member(membership=mine, actor=owner)
    assert not Membership.objects.filter(review=review, user=owner).exists()
    event = AuditEvent.objects.filter(review=review, action="member.removed").get()
    assert event.target == "olivia" and event.before == {"role": "owner"}


def test_role_change_is_audited_with_before_and_after(review, owner, reviewer):
    m = Membership.objects.get(review=review, user=reviewer)
    services.change_role(membership=m, actor=owner, role=Role.VIEWER)
    event = AuditEvent.objects.filter(action="member.role_changed").get()
    assert (event.before, event.after, event.actor) == (
        {"role": "reviewer"},
        {"role": "viewer"},
        owner,
    )


def test_adding_an_existing_member_twice_is_refused(review, owner, reviewer):
    with pytest.raises(ReviewflowError, match="rachel is already a member of this review."):
        services.add_member(review=review, actor=owner, user=reviewer, role=Role.VIEWER)


def test_invitation_is_single_use(review, owner, outsider, make_user):
    invitation = services.create_invitation(review=review, actor=owner, role=Role.REVIEWER)
    membership = services.accept_invitation(token=invitation.token, user=outsider)
    assert membership.role == Role.REVIEWER
    with pytest.raises(ReviewflowError) as err:
        services.accept_invitation(token=invitation.token, user=make_user("someone"))
    assert err.value.message == (
        "This invitation link has been used: ask an owner of the review for a new one."
    )


def test_expired_and_revoked_invitations_do_not_work(review, owner, outsider):
    expired = services.create_invitation(review=review, actor=owner, role=Role.VIEWER)
    Invitation.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(ReviewflowError, match="has expired: ask an owner"):
        services.accept_invitation(token=expired.token, user=outsider)
    revoked = services.create_invitation(review=review, actor=owner, role=Role.VIEWER)
    services.revoke_invitation(invitation=revoked, actor=owner)
    with pytest.raises(ReviewflowError, match="has been revoked: ask an owner"):
        services.accept_invitation(token=revoked.token, user=outsider)
    assert not Membership.objects.filter(review=review, user=outsider).exists()


def test_unknown_invitation_token(outsider):
    with pytest.raises(ReviewflowError, match="This invitation link is not valid."):
        services.accept_invitation(token="nope", user=outsider)


def test_invitation_tokens_are_long_and_unique(review, owner):
    tokens = {
        services.create_invitation(review=review, actor=owner, role=Role.VIEWER).token
        for _ in range(20)
    }
    assert len(tokens) == 20
    assert all(len(t) >= 40 for t in tokens)
