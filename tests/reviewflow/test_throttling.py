from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reviewflow.reviews.models import FailedLogin
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


@pytest.fixture(autouse=True)
def limits(settings):
    settings.LOGIN_MAX_FAILURES = 3
    settings.LOGIN_MAX_FAILURES_PER_IP = 6
    settings.LOGIN_FAILURE_WINDOW_MINUTES = 15
    settings.USE_X_FORWARDED_FOR = False


def sign_in(client, username, password, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def test_sign_in_page_is_the_throttled_one():
    assert reverse("login") == LOGIN


def test_failures_below_the_limit_still_let_the_right_password_in(client, owner):
    for _ in range(2):
        assert sign_in(client, "olivia", "wrong").status_code == 200
    response = sign_in(client, "olivia", PASSWORD)
    assert response.status_code == 302
    # A successful sign-in forgets the username's failures.
    assert not FailedLogin.objects.filter(username="olivia").exists()


def test_too_many_failures_for_a_username_refuse_even_the_right_password(client, owner):
    for _ in range(3):
        sign_in(client, "olivia", "wrong")
    response = sign_in(client, "olivia", PASSWORD)
    assert response.status_code == 429
    assert (
        "Too many failed sign-ins for this username from your network address: "
        "try again in 15 minutes." in response.content.decode()
    )
    assert "_auth_user_id" not in client.session
    # A refused attempt is not counted again, so the lock does not stretch itself.
    assert FailedLogin.objects.filter(username="olivia").count() == 3


def test_wrong_passwords_from_another_address_do_not_lock_the_user_out(client, owner):
    attacker, user = "203.0.113.9", "198.51.100.7"
    for _ in range(5):
        sign_in(client, "olivia", "wrong", REMOTE_ADDR=attacker)
    assert sign_in(client, "olivia", PASSWORD, REMOTE_ADDR=attacker).status_code == 429
    response = sign_in(client, "olivia", PASSWORD, REMOTE_ADDR=user)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(owner.pk)


def test_signing_in_forgets_only_the_failures_from_the_same_address(client, owner):
    for _ in range(2):
        sign_in(client, "olivia", "wrong", REMOTE_ADDR="203.0.113.9")
        sign_in(client, "olivia", "wrong", REMOTE_ADDR="198.51.100.7")
    assert sign_in(client, "olivia", PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 302
    # The guesser elsewhere gets no fresh tries: one more failure there locks that address.
    assert list(FailedLogin.objects.values_list("ip", flat=True)) == ["203.0.113.9"] * 2
    client.logout()
    sign_in(client, "olivia", "wrong", REMOTE_ADDR="203.0.113.9")
    assert sign_in(client, "olivia", PASSWORD, REMOTE_ADDR="203.0.113.9").status_code == 429


def test_username_is_counted_whatever_its_case(client, owner):
    for name in ("olivia", "OLIVIA", " Olivia"):
        sign_in(client, name, "wrong")
    assert sign_in(client, "olivia", PASSWORD).status_code == 429


def test_unknown_usernames_are_throttled_like_real_ones(client):
    for _ in range(3):
        sign_in(client, "nobody", "wrong")
    response = sign_in(client, "nobody", "wrong")
    assert response.status_code == 429
    assert "Too many failed sign-ins for this username" in response.content.decode()


def test_lock_lifts_when_the_oldest_failure_leaves_the_window(client, owner):
    for _ in range(3):
        sign_in(client, "olivia", "wrong")
    FailedLogin.objects.update(created_at=timezone.now() - timedelta(minutes=14, seconds=30))
    page = sign_in(client, "olivia", PASSWORD).content.decode()
    assert "try again in 1 minute." in page
    FailedLogin.objects.update(created_at=timezone.now() - timedelta(minutes=16))
    assert sign_in(client, "olivia", PASSWORD).status_code == 302


def test_one_address_trying_many_usernames_is_refused(client, owner):
    for i in range(6):
        sign_in(client, f"user{i}", "wrong")
    response = sign_in(client, "olivia", PASSWORD)
    assert response.status_code == 429
    assert "Too many failed sign-ins for your network address" in response.content.decode()


def test_other_addresses_are_not_refused_for_one_address(client, owner):
    for i in range(6):
        sign_in(client, f"user{i}", "wrong", REMOTE_ADDR="203.0.113.9")
    assert sign_in(client, "olivia", PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 302


def test_behind_a_proxy_the_forwarded_address_is_counted(client, owner, settings):
    settings.USE_X_FORWARDED_FOR = True
    for i in range(6):
        sign_in(client, f"user{i}", "wrong", HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.9")
    assert FailedLogin.objects.filter(ip="203.0.113.9").count() == 6
    # The client-supplied first hop is not trusted: changing it does not escape the limit.
    response = sign_in(client, "olivia", PASSWORD, HTTP_X_FORWARDED_FOR="8.8.8.8, 203.0.113.9")
    assert response.status_code == 429
    other = sign_in(client, "olivia", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert other.status_code == 302


def test_old_failures_are_pruned_when_a_new_one_is_recorded(client):
    FailedLogin.objects.create(username="old", created_at=timezone.now() - timedelta(days=2))
    sign_in(client, "someone", "wrong")
    assert list(FailedLogin.objects.values_list("username", flat=True)) == ["someone"]


def test_admin_sign_in_is_throttled_too(client, make_user):
    make_user("ada", is_staff=True, is_superuser=True)
    for _ in range(3):
        client.post("/admin/login/", {"username": "ada", "password": "wrong"})
    page = client.post("/admin/login/", {"username": "ada", "password": PASSWORD})
    assert "Too many failed sign-ins for this username" in page.content.decode()
    assert "_auth_user_id" not in client.session
