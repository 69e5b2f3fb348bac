"""Twenty reviewers voting 200 times each at the same moment on PostgreSQL, each through
its own database connection: every vote the service accepted is stored, and no record gets
more votes than its stage needs."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from django.db import connections

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Role
from reviewflow.reviews.services import add_member, create_review
from screening.models import Conflict, Outcome, ScreeningState, Vote
from screening.services.screening.stage_settings import get_stage_settings
from screening.services.screening.votes import cast_vote
from tests.conftest import needs_postgresql
from tests.screening.screening_fixtures import import_records

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 20
VOTES_EACH = 200
TA = "title-abstract"
REFUSALS = {
    "This record already has all the votes it needs.",
    "You have already voted on this record (press u to undo your last vote).",
}


def test_twenty_reviewers_voting_at_once_lose_no_accepted_vote(make_user):
    needs_postgresql()
    owner = make_user("lead")
    review = create_review(title="Crowd", slug="crowd", owner=owner)
    reviewers = [make_user(f"reviewer{i:02}") for i in range(THREADS)]
    for user in reviewers:
        add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
    needed = get_stage_settings(review, TA).reviewers_needed
    # At each step the twenty reviewers fall on the same few records: ``needed`` of them
    # on each fresh record (all can vote), and every fifth step all twenty on one record
    # that already has its votes or soon will (all but the open slots must be refused).
    per_step = THREADS // needed
    records = import_records(review, owner, VOTES_EACH * per_step)
    accepted: dict[str, list[int]] = {}
    refused: Counter[str] = Counter()
    unexpected: list[str] = []
    barrier = threading.Barrier(THREADS)

    def work(n: int, user) -> None:
        mine: list[int] = []
        try:
            barrier.wait()
            for i in range(VOTES_EACH):
                if i % 5 == 4:
                    target = records[(i - 1) * per_step]
                else:
                    target = records[i * per_step + n // needed]
                try:
                    vote = cast_vote(
                        review=review,
                        record=target,
                        reviewer=user,
                        stage=TA,
                        decision=("include", "exclude", "maybe")[(n + i) % 3],
                    )
                    mine.append(vote.pk)
                except ReviewflowError as exc:
                    if exc.message in REFUSALS and exc.code == "conflict":
                        refused[exc.message] += 1
                    else:
                        unexpected.append(f"{exc.code}: {exc.message}")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertions below
            unexpected.append(repr(exc))
        finally:
            accepted[user.username] = mine
            connections.close_all()

    threads = [threading.Thread(target=work, args=(n, u)) for n, u in enumerate(reviewers)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    elapsed = time.monotonic() - started
    assert not any(t.is_alive() for t in threads), "a voter thread hung"
    assert not unexpected, unexpected[:5]

    accepted_ids = [pk for ids in accepted.values() for pk in ids]
    stored = dict(Vote.objects.values_list("pk", "reviewer__username"))
    attempts = THREADS * VOTES_EACH
    print(
        f"\n{attempts} vote requests in {elapsed:.1f} s: {len(accepted_ids)} accepted, "
        f"{len(stored)} stored, refused {dict(refused)}"
    )
    assert len(accepted_ids) + sum(refused.values()) == attempts
    # Every accepted vote is stored, as the reviewer who cast it; nothing else is stored.
    assert len(accepted_ids) == len(set(accepted_ids)) == len(stored)
    assert set(accepted_ids) == set(stored)
    assert all(stored[pk] == name for name, ids in accepted.items() for pk in ids)
    # Each record a pair of reviewers was sent to ends with exactly the votes it needs
    # (a slot taken by a reviewer who came early from another step is refused to the
    # pair's latecomer); records nobody was sent to have none.
    targeted = {
        records[i * per_step + k].pk
        for i in range(VOTES_EACH)
        if i % 5 != 4
        for k in range(per_step)
    }
    per_record = Counter(Vote.objects.values_list("record_id", flat=True))
    assert per_record == dict.fromkeys(targeted, needed)
    assert len(accepted_ids) == len(targeted) * needed
    assert set(Vote.objects.values_list("slot", flat=True)) <= set(range(1, needed + 1))
    # The screening state agrees with the votes, and each complete record is settled once.
    states = dict(ScreeningState.objects.values_list("record_id", "votes"))
    assert states == dict(per_record)
    complete = {rid for rid, n in per_record.items() if n == needed}
    settled = set(Outcome.objects.filter(stage=TA).values_list("record_id", flat=True))
    conflicts = set(Conflict.objects.filter(stage=TA).values_list("record_id", flat=True))
    assert settled | conflicts == complete and not settled & conflicts
