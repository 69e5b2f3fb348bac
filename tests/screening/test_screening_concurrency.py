"""Many reviewers asking for records and voting at the same moment: the database keeps
every record within its number of votes, and no accepted vote is lost."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection, connections

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Role
from reviewflow.reviews.services import add_member, create_review
from screening.models import Conflict, Outcome, Vote
from screening.services.screening.assignment import next_record
from screening.services.screening.votes import cast_vote
from tests.screening.screening_fixtures import import_records

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8
ROUNDS = 15


def test_parallel_next_and_vote(make_user):
    owner = make_user("lead")
    review = create_review(title="Race", slug="race", owner=owner)
    reviewers = [make_user(f"r{i}") for i in range(THREADS)]
    for user in reviewers:
        add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
    records = import_records(review, owner, 40)
    accepted: Counter[int] = Counter()
    refused: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def work(user):
        try:
            barrier.wait()
            for i in range(ROUNDS):
                record = next_record(review=review, stage="title-abstract", reviewer=user)
                if record is None:
                    # Also hammer a record someone else holds, to test the hard limit.
                    record = records[i % len(records)]
                try:
                    cast_vote(
                        review=review,
                        record=record,
                        reviewer=user,
                        stage="title-abstract",
                        decision="include" if (user.pk + i) % 3 else "exclude",
                    )
                    accepted[record.pk] += 1
                except ReviewflowError as exc:
                    refused.append(exc.message)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(u,)) for u in reviewers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    per_record = Counter(Vote.objects.values_list("record_id", flat=True))
    assert sum(per_record.values()) == sum(accepted.values())  # nothing accepted was lost
    assert per_record == accepted
    assert max(per_record.values()) <= 2  # never more votes than the stage needs
    for record_id, n in per_record.items():
        if n == 2:
            settled = Outcome.objects.filter(record_id=record_id).exists()
            assert settled or Conflict.objects.filter(record_id=record_id).exists()
    assert set(refused) <= {
        "This record already has all the votes it needs.",
        "You have already voted on this record (press u to undo your last vote).",
    }
    assert connection.vendor in ("postgresql", "sqlite")
