"""Single sign-on in Chromium (#20), through a real OpenID Connect provider started here
(npm's oidc-provider, OpenID Certified: tests/oidc/), its own login and consent pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth.models import User
from playwright.sync_api import expect

from reviewflow.reviews import services
from reviewflow.reviews.models import Membership, Role
from reviewflow.sso_config import provider_origins
from tests.oidc.server import provider_app, running_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PROVIDER = "testidp"


@pytest.fixture
def provider(live_server: Any, settings: Any) -> Iterator[str]:
    """The provider, with reviewflow configured for it as OIDC_PROVIDERS would."""
    callback = f"{live_server.url}/accounts/oidc/{PROVIDER}/login/callback/"
    with running_provider([callback]) as issuer:
        app = provider_app(issuer, PROVIDER, "Test IdP")
        settings.SOCIALACCOUNT_PROVIDERS = {"openid_connect": {"APPS": [app]}}
        policy = settings.CONTENT_SECURITY_POLICY
        directives = dict(policy["DIRECTIVES"])
        directives["form-action"] = [*directives["form-action"], *provider_origins([app])]
        settings.CONTENT_SECURITY_POLICY = {**policy, "DIRECTIVES": directives}
        yield issuer


def sign_in_at_provider(page: Any, login: str | None) -> None:
    """Choose the provider on our page, then use its own login and consent pages (none
    when ``login`` is None: the provider remembers the person and their consent)."""
    page.get_by_role("button", name="Sign in with Test IdP").click()
    if login is None:
        return
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password: the test provider takes any")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()


def sign_out(page: Any, base: str) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{base}/accounts/login/")


def test_a_verified_address_links_the_existing_account_and_an_unverified_one_is_refused(
    live_server: Any, provider: str, new_page: Any, make_user: Any, settings: Any
) -> None:
    settings.OIDC_CREATE_USERS = False
    ada = make_user("ada")  # ada@example.org, as the provider's "ada" verified
    base = live_server.url
    page = new_page()

    page.goto(f"{base}/accounts/login/")
    sign_in_at_provider(page, "ada")
    expect(page).to_have_url(f"{base}/")
    expect(page.locator(".user-nav")).to_contain_text("ada")
    account = SocialAccount.objects.get(provider=PROVIDER)
    assert account.user == ada
    assert account.uid == "ada"
    sign_out(page, base)

    # The second time the link is used; the provider remembers ada and her consent.
    sign_in_at_provider(page, None)
    expect(page).to_have_url(f"{base}/")
    expect(page.locator(".user-nav")).to_contain_text("ada")
    assert SocialAccount.objects.count() == 1
    sign_out(page, base)

    users = User.objects.count()
    other = new_page()
    other.goto(f"{base}/accounts/login/")
    sign_in_at_provider(other, "mallory")
    expect(other).to_have_url(f"{base}/accounts/login/")
    expect(other.locator(".messages")).to_contain_text(
        "Test IdP has not verified your e-mail address mallory@example.org, so it cannot "
        "sign you in here: verify the address with Test IdP first."
    )
    expect(other.locator(".user-nav")).not_to_contain_text("mallory")

    # A verified address nobody here uses, with accounts made from invitations only.
    third = new_page()
    third.goto(f"{base}/accounts/login/")
    sign_in_at_provider(third, "newton")
    expect(third.locator(".messages")).to_contain_text(
        "No account here uses isaac@example.org, and accounts are made only from an "
        "invitation: ask an owner of a review to invite you."
    )
    assert User.objects.count() == users
    assert SocialAccount.objects.count() == 1


def test_a_first_sign_in_makes_the_account_where_allowed(
    live_server: Any, provider: str, new_page: Any, settings: Any
) -> None:
    settings.OIDC_CREATE_USERS = True
    base = live_server.url
    page = new_page()
    page.goto(f"{base}/accounts/login/")
    sign_in_at_provider(page, "newton")
    expect(page).to_have_url(f"{base}/")
    expect(page.locator(".user-nav")).to_contain_text("newton")
    user = User.objects.get(username="newton")
    assert user.email == "isaac@example.org"
    assert not user.has_usable_password()
    assert SocialAccount.objects.get(provider=PROVIDER).user == user
    sign_out(page, base)


def test_an_invitation_link_lets_a_new_person_in_through_the_provider(
    live_server: Any, provider: str, new_page: Any, settings: Any, owner: Any
) -> None:
    settings.OIDC_CREATE_USERS = False
    review = services.create_review(title="MSC knee OA", slug="msc-oa", owner=owner)
    invitation = services.create_invitation(review=review, actor=owner, role=Role.VIEWER)
    base = live_server.url
    page = new_page()
    page.goto(f"{base}/invitations/{invitation.token}/")
    expect(page).to_have_url(f"{base}/accounts/login/?next=/invitations/{invitation.token}/")
    sign_in_at_provider(page, "newton")
    expect(page).to_have_url(f"{base}/invitations/{invitation.token}/")
    expect(page.locator("main")).to_contain_text("invites you to join")
    page.get_by_role("button", name="Join the review").click()
    expect(page.locator(".messages")).to_contain_text("You joined “MSC knee OA” as viewer.")
    user = User.objects.get(email="isaac@example.org")
    assert Membership.objects.get(review=review, user=user).role == Role.VIEWER
    sign_out(page, base)
