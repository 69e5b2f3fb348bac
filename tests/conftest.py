"""Personas (an owner, two reviewers, a viewer, an outsider) and small factories."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

# Django imports stay inside the fixtures: the parser and matcher tests run without Django.

PASSWORD = "correct horse battery staple"


def skip_or_fail(reason: str) -> None:
    """A test that needs a missing service skips locally with ``reason``; in CI it fails."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def needs_service(name: str, env: str) -> None:
    """Skip locally, fail in CI, when the service named by ``env`` is not configured."""
    if not os.environ.get(env):
        skip_or_fail(f"{name} not configured: set {env} to run this test")


def needs_postgresql() -> None:
    """Skip locally, fail in CI, unless the test database is PostgreSQL (row locks, real
    concurrent writers, column compression: SQLite would prove nothing)."""
    from django.db import connection

    needs_service("PostgreSQL", "DATABASE_URL")
    if connection.vendor != "postgresql":
        skip_or_fail(f"needs PostgreSQL; DATABASE_URL points at {connection.vendor}")


@pytest.fixture(autouse=True)
def no_connector_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test waits out a connector's back-off between attempts. The outside services
    cannot be reached from a test, and a page that starts a check on its own (an update
    round's retraction check, run in the calling process) would otherwise sleep 1 + 2 + 4
    + 8 s per request before failing: minutes for one parameter sweep. Tests of the waits
    and the rate limits patch ``_sleep`` themselves, after this."""
    from screening.services import connectors, retractions

    monkeypatch.setattr(connectors, "_sleep", lambda seconds: None)
    monkeypatch.setattr(retractions, "_sleep", lambda seconds: None)


@pytest.fixture
def make_user(db: None) -> Callable[..., Any]:
    from django.contrib.auth import get_user_model

    def make(username: str, **extra: Any) -> Any:
        return get_user_model().objects.create_user(
            username=username, password=PASSWORD, email=f"{username}@example.org", **extra
        )

    return make


@pytest.fixture
def owner(make_user: Callable[..., Any]) -> Any:
    return make_user("olivia")


@pytest.fixture
def reviewer(make_user: Callable[..., Any]) -> Any:
    return make_user("rachel")


@pytest.fixture
def reviewer2(make_user: Callable[..., Any]) -> Any:
    return make_user("roberto")


@pytest.fixture
def viewer(make_user: Callable[..., Any]) -> Any:
    return make_user("victor")


@pytest.fixture
def outsider(make_user: Callable[..., Any]) -> Any:
    return make_user("oscar")


@pytest.fixture
def review(owner: Any, reviewer: Any, reviewer2: Any, viewer: Any) -> Any:
    from reviewflow.reviews import services
    from reviewflow.reviews.models import Role

    review = services.create_review(
        title="MSC therapy in type 2 diabetes",
        slug="msc-t2d",
        owner=owner,
        question="Do MSCs lower HbA1c?",
        protocol_registration="CRD42024000001",
    )
    services.add_member(review=review, actor=owner, user=reviewer, role=Role.REVIEWER)
    services.add_member(review=review, actor=owner, user=reviewer2, role=Role.REVIEWER)
    services.add_member(review=review, actor=owner, user=viewer, role=Role.VIEWER)
    return review


@pytest.fixture
def client_for() -> Callable[[Any], Any]:
    from django.test import Client

    def make(user: Any) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make
