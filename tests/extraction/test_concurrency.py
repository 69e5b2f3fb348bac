"""Many extractors starting the same study at once, and two submitting at once: the
database keeps each study within its extractors, and the last submission opens the
consensus exactly once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections

from extraction.models import Consensus, Extraction
from extraction.services.extractions import start_extraction, submit_extraction
from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Role
from reviewflow.reviews.services import add_member, create_review
from tests.extraction.helpers import GOOD, include, published_form
from tests.screening.screening_fixtures import import_records

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 6


def in_parallel(users: list[Any], work: Callable[[Any], None]) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(users))

    def run(user: Any) -> None:
        try:
            barrier.wait()
            work(user)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return errors


@pytest.fixture
def setup(make_user):
    owner = make_user("lead")
    review = create_review(title="Race", slug="race", owner=owner)
    users = [make_user(f"x{i}") for i in range(THREADS)]
    for user in users:
        add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
    records = import_records(review, owner, 2)
    for record in records:
        include(review, record, users[0], users[1])
    return review, owner, users, records


def test_parallel_starts_fill_two_slots_and_refuse_the_rest(setup):
    review, owner, users, records = setup
    form = published_form(review, owner)
    refused: list[str] = []

    def start(user: Any) -> None:
        try:
            start_extraction(form=form, record=records[0], extractor=user)
        except ReviewflowError as exc:
            refused.append(exc.message)

    assert in_parallel(users, start) == []
    slots = sorted(Extraction.objects.filter(record=records[0]).values_list("slot", flat=True))
    assert slots == [1, 2]
    assert refused == ["This study already has its 2 extractors."] * (THREADS - 2)


def test_two_submissions_at_once_open_the_consensus_once(setup):
    review, owner, users, records = setup
    form = published_form(review, owner)
    extractions = {
        u.pk: start_extraction(form=form, record=records[1], extractor=u) for u in users[:2]
    }

    def submit(user: Any) -> None:
        submit_extraction(extraction=extractions[user.pk], actor=user, values=GOOD)

    assert in_parallel(users[:2], submit) == []
    assert Consensus.objects.filter(form=form, record=records[1]).count() == 1
