from __future__ import annotations

import pytest
from django.urls import reverse

from reviewflow.reviews.models import AuditEvent, Invitation, Membership, Role

pytestmark = pytest.mark.django_db

REVIEW_PAGES = ["review-detail", "review-members", "review-searches", "review-records"]
OWNER_PAGES = ["review-settings", "review-audit"]


@pytest.mark.parametrize("name", REVIEW_PAGES + OWNER_PAGES)
def test_anonymous_is_sent_to_sign_in(client, review, name):
    url = reverse(name, args=[review.slug])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("name", REVIEW_PAGES + OWNER_PAGES)
def test_outsider_gets_404(client_for, review, outsider, name):
    response = client_for(outsider).get(reverse(name, args=[review.slug]))
    assert response.status_code == 404


@pytest.mark.parametrize("name", REVIEW_PAGES)
def test_every_member_can_read(client_for, review, viewer, name):
    assert client_for(viewer).get(reverse(name, args=[review.slug])).status_code == 200


@pytest.mark.parametrize("name", OWNER_PAGES)
def test_owner_pages_refuse_reviewers(client_for, review, reviewer, name):
    assert client_for(reviewer).get(reverse(name, args=[review.slug])).status_code == 403


def test_dashboard_lists_only_my_reviews(client_for, review, outsider, owner):
    from reviewflow.reviews import services

    services.create_review(title="Outsider's own review", slug="other", owner=outsider)
    page = client_for(owner).get(reverse("dashboard")).content.decode()
    assert "MSC therapy in type 2 diabetes" in page
    assert "Outsider&#x27;s own review" not in page


def test_dashboard_query_count_does_not_grow_with_reviews(
    client_for, owner, django_assert_num_queries
):
    from reviewflow.reviews import services

    client = client_for(owner)
    services.create_review(title="R1", slug="r1", owner=owner)
    with django_assert_num_queries(8):
        client.get(reverse("dashboard"))
    for i in range(2, 8):
        services.create_review(title=f"R{i}", slug=f"r{i}", owner=owner)
    with django_assert_num_queries(8):
        client.get(reverse("dashboard"))


def test_viewer_cannot_change_anything(client_for, review, viewer, reviewer):
    client = client_for(viewer)
    m = Membership.objects.get(review=review, user=reviewer)
    assert (
        client.post(
            reverse("review-settings", args=[review.slug]), {"title": "x", "slug": "x"}
        ).status_code
        == 403
    )
    assert (
        client.post(reverse("member-role", args=[review.slug, m.pk]), {"role": "owner"}).status_code
        == 403
    )
    assert client.post(reverse("member-remove", args=[review.slug, m.pk])).status_code == 403
    assert (
        client.post(
            reverse("review-members", args=[review.slug]),
            {"invite-role": "owner", "invite-days": 3},
        ).status_code
        == 403
    )
    assert Membership.objects.get(pk=m.pk).role == Role.REVIEWER
    assert not Invitation.objects.exists()


def test_reviewer_cannot_manage_members(client_for, review, reviewer, outsider):
    client = client_for(reviewer)
    response = client.post(
        reverse("review-members", args=[review.slug]),
        {"add-username": outsider.username, "add-role": "owner"},
    )
    assert response.status_code == 403
    assert not Membership.objects.filter(user=outsider).exists()


def test_owner_adds_changes_and_removes_a_member(client_for, review, owner, outsider):
    client = client_for(owner)
    url = reverse("review-members", args=[review.slug])
    response = client.post(url, {"add-username": "oscar", "add-role": "viewer"})
    assert response.status_code == 302
    m = Membership.objects.get(review=review, user=outsider)
    assert m.role == Role.VIEWER
    client.post(reverse("member-role", args=[review.slug, m.pk]), {"role": "reviewer"})
    assert Membership.objects.get(pk=m.pk).role == Role.REVIEWER
    client.post(reverse("member-remove", args=[review.slug, m.pk]))
    assert not Membership.objects.filter(pk=m.pk).exists()
    actions = list(
        AuditEvent.objects.filter(review=review, target="oscar")
        .order_by("created_at", "id")
        .values_list("action", flat=True)
    )
    assert actions == ["member.added", "member.role_changed", "member.removed"]


def test_adding_an_unknown_user_says_so(client_for, review, owner):
    response = client_for(owner).post(
        reverse("review-members", args=[review.slug]),
        {"add-username": "ghost", "add-role": "viewer"},
    )
    assert response.status_code == 200
    assert "No user called “ghost”: send an invitation link instead." in response.content.decode()


def test_removing_the_last_owner_shows_the_reason(client_for, review, owner):
    client = client_for(owner)
    m = Membership.objects.get(review=review, user=owner)
    response = client.post(reverse("member-remove", args=[review.slug, m.pk]), follow=True)
    assert "This is the review&#x27;s last owner" in response.content.decode()
    assert Membership.objects.filter(pk=m.pk).exists()


def test_member_of_another_review_cannot_touch_this_one(client_for, review, outsider):
    from reviewflow.reviews import services

    services.create_review(title="Theirs", slug="theirs", owner=outsider)
    m = Membership.objects.get(review=review, role=Role.VIEWER)
    response = client_for(outsider).post(
        reverse("member-role", args=["theirs", m.pk]), {"role": "owner"}
    )
    assert response.status_code == 404
    assert Membership.objects.get(pk=m.pk).role == Role.VIEWER


def test_invitation_flow_through_pages(client_for, review, owner, outsider):
    client = client_for(owner)
    response = client.post(
        reverse("review-members", args=[review.slug]),
        {"invite-email": "oscar@example.org", "invite-role": "reviewer", "invite-days": 7},
        follow=True,
    )
    invitation = Invitation.objects.get()
    link = reverse("invitation-accept", args=[invitation.token])
    assert link in response.content.decode()
    other = client_for(outsider)
    page = other.get(link).content.decode()
    assert "invites you to join" in page
    response = other.post(link)
    assert response.status_code == 302
    assert Membership.objects.get(review=review, user=outsider).role == Role.REVIEWER
    assert "has been used" in other.get(link).content.decode()


def test_audit_trail_page_shows_who_did_what(client_for, review, owner):
    page = client_for(owner).get(reverse("review-audit", args=[review.slug])).content.decode()
    assert "member.added" in page and "review.created" in page and "olivia" in page


def test_create_review_page(client_for, outsider):
    client = client_for(outsider)
    response = client.post(
        reverse("review-create"),
        {
            "title": "MSC for COVID ARDS",
            "slug": "msc-ards",
            "question": "",
            "protocol_registration": "CRD1",
        },
    )
    assert response.status_code == 302
    assert Membership.objects.get(review__slug="msc-ards").user == outsider
    response = client.post(reverse("review-create"), {"title": "Again", "slug": "msc-ards"})
    assert "A review with the slug “msc-ards” already exists." in response.content.decode()


def test_password_change(client_for, outsider):
    from tests.conftest import PASSWORD

    client = client_for(outsider)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a-much-better-pass-9",
            "new_password2": "a-much-better-pass-9",
        },
    )
    assert response.status_code == 302
    outsider.refresh_from_db()
    assert outsider.check_password("a-much-better-pass-9")


def test_sign_in_and_out(client, outsider):
    from tests.conftest import PASSWORD

    response = client.post(reverse("login"), {"username": "oscar", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    response = client.post(reverse("logout"))
    assert client.get(reverse("dashboard")).status_code == 302


def test_admin_changes_are_audited(client, review, make_user):
    admin = make_user("sysadmin", is_staff=True, is_superuser=True)
    client.force_login(admin)
    from reviewflow.reviews.models import Membership

    m = Membership.objects.get(review=review, role=Role.VIEWER)
    response = client.post(
        f"/admin/reviews/membership/{m.pk}/change/",
        {
            "review": review.pk,
            "user": m.user_id,
            "role": "reviewer",
            "created_at_0": "2026-01-01",
            "created_at_1": "10:00:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(action="admin.membership.changed")
    assert event.actor == admin and event.after["role"] == "reviewer"
