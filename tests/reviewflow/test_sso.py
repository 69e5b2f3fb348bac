"""Single sign-on (#20): the providers' settings, the rules that link or make an account,
and passwords switched off. The sign-in itself, through a real provider, is in
tests/browser/test_sso_browser.py."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.sso import choose_account, invitation_token_from
from reviewflow.sso_config import oidc_apps_from_env
from tests.conftest import PASSWORD

KEYCLOAK = {
    "id": "keycloak",
    "name": "University login",
    "server_url": "https://id.example.org/realms/staff",
    "client_id": "reviewflow",
    "secret": "s1",
}
ENTRA = {
    "id": "entra-id",
    "server_url": "https://login.microsoftonline.com/tenant-id/v2.0",
    "client_id": "abc",
    "scopes": ["openid", "email"],
}


def _apps(providers: Any, **env: str) -> list[dict[str, Any]]:
    return oidc_apps_from_env({"OIDC_PROVIDERS": json.dumps(providers), **env})


def test_several_providers_become_allauth_apps_and_a_secret_may_come_from_its_own_variable():
    keycloak, entra = _apps([KEYCLOAK, ENTRA], OIDC_ENTRA_ID_SECRET="s2")
    assert keycloak == {
        "provider_id": "keycloak",
        "name": "University login",
        "client_id": "reviewflow",
        "secret": "s1",
        "settings": {
            "server_url": "https://id.example.org/realms/staff",
            "scope": ["openid", "email", "profile"],
            "oauth_pkce_enabled": True,
        },
    }
    assert entra["name"] == "entra-id"
    assert entra["secret"] == "s2"
    assert entra["settings"]["scope"] == ["openid", "email"]


def test_no_providers_is_an_empty_list():
    assert oidc_apps_from_env({}) == []
    assert oidc_apps_from_env({"OIDC_PROVIDERS": "  "}) == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("[{", "OIDC_PROVIDERS: not valid JSON (Expecting property name enclosed in double"),
        ('{"id": "x"}', "OIDC_PROVIDERS: must be a JSON list of providers, [{…}, …]"),
        ('["x"]', "OIDC_PROVIDERS: provider 1 must be a JSON object"),
        (json.dumps([{"name": "x"}]), "OIDC_PROVIDERS: provider 1 needs “id” (a non-empty"),
        (
            json.dumps([KEYCLOAK | {"id": "a b"}]),
            "OIDC_PROVIDERS: provider 1: id “a b” may hold only letters, digits, - and _",
        ),
        (
            json.dumps([KEYCLOAK, KEYCLOAK | {"id": "KEYCLOAK"}]),
            "OIDC_PROVIDERS: provider “KEYCLOAK” is listed twice",
        ),
        (
            json.dumps([KEYCLOAK | {"issuer": "x"}]),
            "OIDC_PROVIDERS: provider “keycloak”: unknown field “issuer” (known: client_id, id,",
        ),
        (
            json.dumps([{k: v for k, v in KEYCLOAK.items() if k != "server_url"}]),
            "OIDC_PROVIDERS: provider “keycloak” needs “server_url” (a non-empty string)",
        ),
        (
            json.dumps([KEYCLOAK | {"server_url": "id.example.org"}]),
            "OIDC_PROVIDERS: provider “keycloak”: server_url must start with https://",
        ),
        (
            json.dumps([{k: v for k, v in KEYCLOAK.items() if k != "secret"}]),
            "OIDC_PROVIDERS: provider “keycloak” needs “secret” (or OIDC_KEYCLOAK_SECRET)",
        ),
        (
            json.dumps([KEYCLOAK | {"scopes": ["email"]}]),
            "OIDC_PROVIDERS: provider “keycloak”: scopes must include “openid”",
        ),
        (
            json.dumps([KEYCLOAK | {"scopes": "openid"}]),
            "OIDC_PROVIDERS: provider “keycloak”: scopes must be a list of strings",
        ),
    ],
)
def test_a_wrong_provider_list_names_the_provider_and_the_field(raw: str, message: str):
    with pytest.raises(ImproperlyConfigured) as caught:
        oidc_apps_from_env({"OIDC_PROVIDERS": raw})
    assert str(caught.value).startswith(message)


def test_passwords_off_without_a_provider_refuses_to_start(tmp_path):
    import os
    import subprocess
    import sys

    env = os.environ | {"LOCAL_PASSWORDS": "0", "REVIEWFLOW_DATA_DIR": str(tmp_path)}
    env.pop("OIDC_PROVIDERS", None)
    done = subprocess.run(
        [sys.executable, "-c", "import reviewflow.settings"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert "LOCAL_PASSWORDS=0 needs at least one provider in OIDC_PROVIDERS" in done.stderr


def test_links_to_invitations_are_recognised_and_nothing_else():
    assert invitation_token_from("/invitations/abc/") == "abc"
    assert invitation_token_from("/invitations/abc/signup/?x=1") == "abc"
    assert invitation_token_from("/r/msc/") is None
    assert invitation_token_from("/nowhere/at/all/") is None
    assert invitation_token_from(None) is None
    assert invitation_token_from("http://[::1/") is None


# ---------------------------------------------------------------- who gets in


def _choose(**given: Any) -> User | None:
    args: dict[str, Any] = {
        "email": "olivia@example.org",
        "verified": True,
        "provider": "Keycloak",
        "create_allowed": False,
    }
    return choose_account(**(args | given))


@pytest.mark.django_db
def test_a_verified_address_links_to_the_account_using_it(owner: Any):
    assert _choose() == owner
    assert _choose(email=" OLIVIA@Example.org ") == owner


@pytest.mark.django_db
@pytest.mark.parametrize("create_allowed", [False, True])
def test_an_unverified_address_never_links_nor_makes_an_account(owner: Any, create_allowed: bool):
    for email in ("olivia@example.org", "new@example.org"):
        with pytest.raises(ReviewflowError) as caught:
            _choose(email=email, verified=False, create_allowed=create_allowed)
        assert caught.value.message == (
            f"Keycloak has not verified your e-mail address {email}, so it cannot sign you "
            "in here: verify the address with Keycloak first."
        )


@pytest.mark.django_db
def test_no_address_is_refused():
    with pytest.raises(ReviewflowError) as caught:
        _choose(email="", create_allowed=True)
    assert caught.value.message.startswith("Keycloak did not share your e-mail address")


@pytest.mark.django_db
def test_a_new_address_makes_an_account_only_where_allowed():
    assert _choose(email="new@example.org", create_allowed=True) is None
    with pytest.raises(ReviewflowError) as caught:
        _choose(email="new@example.org")
    assert caught.value.message == (
        "No account here uses new@example.org, and accounts are made only from an "
        "invitation: ask an owner of a review to invite you."
    )


@pytest.mark.django_db
def test_a_switched_off_or_shared_address_is_refused(owner: Any, make_user: Any):
    User.objects.filter(pk=owner.pk).update(is_active=False)
    with pytest.raises(ReviewflowError, match="The account that uses olivia@example.org is"):
        _choose()
    make_user("olivia2")
    User.objects.filter(username="olivia2").update(email="Olivia@example.org")
    with pytest.raises(ReviewflowError, match="Several accounts here use olivia@example.org"):
        _choose()


# ---------------------------------------------------------------- the sign-in page


@pytest.fixture
def one_provider(settings: Any) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = {"openid_connect": {"APPS": _apps([KEYCLOAK])}}


@pytest.mark.django_db
def test_the_sign_in_page_offers_each_provider(client: Client, one_provider: None):
    page = client.get(reverse("login") + "?next=/r/x/").content.decode()
    assert 'action="/accounts/oidc/keycloak/login/"' in page
    assert "Sign in with University login" in page
    assert '<input type="hidden" name="next" value="/r/x/">' in page
    assert 'name="password"' in page


@pytest.mark.django_db
def test_with_passwords_off_no_password_is_checked_anywhere(
    client: Client, settings: Any, one_provider: None, owner: Any
):
    settings.LOCAL_PASSWORDS = False
    page = client.get(reverse("login")).content.decode()
    assert 'name="password"' not in page
    assert "Forgot your password" not in page
    assert "Sign in with University login" in page
    response = client.post(reverse("login"), {"username": "olivia", "password": PASSWORD})
    assert response.status_code == 200
    assert (
        "Passwords are switched off here: sign in with your organisation&#x27;s account."
        in response.content.decode()
    )
    assert "_auth_user_id" not in client.session
    User.objects.filter(pk=owner.pk).update(is_staff=True, is_superuser=True)
    response = client.post(
        reverse("admin:login"), {"username": "olivia", "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    # Nor does the API take a password (it knows sessions and tokens only).
    basic = base64.b64encode(f"olivia:{PASSWORD}".encode()).decode()
    api = client.get("/api/v1/reviews/", HTTP_AUTHORIZATION=f"Basic {basic}")
    assert api.status_code in (401, 403)
