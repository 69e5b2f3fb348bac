"""Making an account from an invitation link (#20): the only sign-up there is."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from reviewflow.errors import ReviewflowError
from reviewflow.reviews import services
from reviewflow.reviews.models import Invitation, Membership, Role
from reviewflow.reviews.signup import sign_up_from_invitation
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

GOOD = {
    "username": "nadia",
    "email": "nadia@example.org",
    "password1": "lantern orchard pebble 42",
    "password2": "lantern orchard pebble 42",
}


@pytest.fixture
def invitation(review: Any, owner: Any) -> Invitation:
    return services.create_invitation(
        review=review, actor=owner, role=Role.REVIEWER, email="nadia@example.org"
    )


def _signup_url(invitation: Invitation) -> str:
    return reverse("invitation-signup", args=[invitation.token])


def test_a_visitor_without_an_account_is_offered_to_make_one_from_the_sign_in_page(
    client: Client, invitation: Invitation
) -> None:
    link = reverse("invitation-accept", args=[invitation.token])
    response = client.get(link)
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Create your account from your invitation" in page
    assert f'href="{_signup_url(invitation)}"' in page
    # The sign-in page of anyone else offers no sign-up.
    assert "Create your account" not in client.get(reverse("login")).content.decode()


def test_the_sign_up_page_shows_the_invitation_and_the_address_it_was_sent_to(
    client: Client, invitation: Invitation
) -> None:
    page = client.get(_signup_url(invitation)).content.decode()
    assert "invites you to join <strong>MSC therapy in type 2 diabetes</strong>" in page
    assert 'value="nadia@example.org"' in page
    assert "disabled" in page
    assert "The address your invitation was sent to." in page
    invitation.refresh_from_db()
    assert invitation.opened_at is not None  # the owner sees "opened"


def test_signing_up_makes_the_account_and_the_membership_and_signs_in(
    client: Client, review: Any, invitation: Invitation
) -> None:
    response = client.post(_signup_url(invitation), GOOD | {"email": "someone@else.org"})
    assert response.status_code == 302
    assert response["Location"] == reverse("review-detail", args=[review.slug])
    user = User.objects.get(username="nadia")
    # The address cannot be changed here: the invitation's is kept.
    assert user.email == "nadia@example.org"
    assert user.check_password(GOOD["password1"])
    assert Membership.objects.get(review=review, user=user).role == Role.REVIEWER
    invitation.refresh_from_db()
    assert invitation.accepted_by == user
    page = client.get(response["Location"]).content.decode()
    assert "Welcome, nadia: you joined “MSC therapy in type 2 diabetes” as reviewer." in page


def test_where_the_site_allows_it_the_address_may_be_changed(
    client: Client, settings: Any, invitation: Invitation
) -> None:
    settings.SIGNUP_EMAIL_EDITABLE = True
    assert "disabled" not in client.get(_signup_url(invitation)).content.decode()
    client.post(_signup_url(invitation), GOOD | {"email": "nadia@uni.example"})
    assert User.objects.get(username="nadia").email == "nadia@uni.example"


def test_a_weak_password_is_refused_by_djangos_validators_and_nothing_is_made(
    client: Client, invitation: Invitation
) -> None:
    response = client.post(
        _signup_url(invitation), GOOD | {"password1": "12345678", "password2": "12345678"}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "This password is too common." in page
    assert "This password is entirely numeric." in page
    assert not User.objects.filter(username="nadia").exists()
    invitation.refresh_from_db()
    assert invitation.status == "open"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("username", "OLIVIA", "A user with that username already exists."),
        ("password2", "something else 42", "The two password fields didn’t match."),
    ],
)
def test_a_taken_username_or_mismatched_passwords_are_refused(
    client: Client, invitation: Invitation, field: str, value: str, message: str
) -> None:
    users = User.objects.count()
    page = client.post(_signup_url(invitation), GOOD | {field: value}).content.decode()
    assert message in page
    assert User.objects.count() == users
    assert not Membership.objects.filter(user__username="nadia").exists()


def test_an_address_another_account_uses_is_refused(
    client: Client, settings: Any, invitation: Invitation
) -> None:
    settings.SIGNUP_EMAIL_EDITABLE = True
    page = client.post(
        _signup_url(invitation), GOOD | {"email": "OLIVIA@example.org"}
    ).content.decode()
    assert "An account already uses OLIVIA@example.org: sign in with it to accept the" in page
    assert not User.objects.filter(username="nadia").exists()


@pytest.mark.parametrize(
    ("close", "says"),
    [
        ("expire", "This invitation link has expired"),
        ("revoke", "This invitation link has been revoked"),
        ("use", "This invitation link has been used"),
    ],
)
def test_a_closed_link_says_so_and_makes_nothing(
    client: Client, owner: Any, outsider: Any, invitation: Invitation, close: str, says: str
) -> None:
    if close == "expire":
        Invitation.objects.filter(pk=invitation.pk).update(
            expires_at=timezone.now() - timedelta(minutes=1)
        )
    elif close == "revoke":
        services.revoke_invitation(invitation=invitation, actor=owner)
    else:
        services.accept_invitation(token=invitation.token, user=outsider)
    assert says in client.get(_signup_url(invitation)).content.decode()
    users = User.objects.count()
    response = client.post(_signup_url(invitation), GOOD)
    assert response.status_code == 400
    assert says in response.content.decode()
    assert User.objects.count() == users


def test_an_unknown_link_says_so(client: Client, review: Any) -> None:
    url = reverse("invitation-signup", args=["not-a-token"])
    assert "This invitation link is not valid." in client.get(url).content.decode()
    assert client.post(url, GOOD).status_code == 400
    assert not User.objects.filter(username="nadia").exists()


def test_the_link_closing_between_page_and_submit_undoes_the_account(
    owner: Any, invitation: Invitation
) -> None:
    """The check inside the transaction, after the account was made: both or neither."""
    Invitation.objects.filter(pk=invitation.pk).update(revoked_at=timezone.now())
    with pytest.raises(ReviewflowError) as caught:
        sign_up_from_invitation(
            token=invitation.token, username="nadia", email="", password=GOOD["password1"]
        )
    assert caught.value.message == (
        "This invitation link has been revoked: ask an owner of the review for a new one."
    )
    assert not User.objects.filter(username="nadia").exists()


def test_sign_up_attempts_are_throttled_like_sign_ins(
    client: Client, settings: Any, invitation: Invitation
) -> None:
    settings.LOGIN_MAX_FAILURES = 3
    bad = GOOD | {"password1": "12345678", "password2": "12345678"}
    for _ in range(3):
        assert client.post(_signup_url(invitation), bad).status_code == 200
    response = client.post(_signup_url(invitation), GOOD)
    assert response.status_code == 429
    assert (
        "Too many failed sign-ins for this username from your network address: try again in"
        in response.content.decode()
    )
    assert not User.objects.filter(username="nadia").exists()


def test_a_signed_in_user_is_sent_to_accept_the_invitation(
    client_for: Any, outsider: Any, invitation: Invitation
) -> None:
    response = client_for(outsider).get(_signup_url(invitation))
    assert response.status_code == 302
    assert response["Location"] == reverse("invitation-accept", args=[invitation.token])


def test_with_passwords_switched_off_the_page_offers_single_sign_on_only(
    client: Client, settings: Any, invitation: Invitation
) -> None:
    settings.LOCAL_PASSWORDS = False
    page = client.get(_signup_url(invitation)).content.decode()
    assert 'name="password1"' not in page
    assert client.post(_signup_url(invitation), GOOD).status_code == 400
    assert not User.objects.filter(username="nadia").exists()


def test_an_existing_user_still_signs_in_from_the_link_and_joins(
    client: Client, review: Any, outsider: Any, invitation: Invitation
) -> None:
    link = reverse("invitation-accept", args=[invitation.token])
    response = client.post(
        f"{reverse('login')}?next={link}",
        {"username": outsider.username, "password": PASSWORD, "next": link},
    )
    assert response["Location"] == link
    client.post(link)
    assert Membership.objects.filter(review=review, user=outsider).exists()
