"""What makes next + vote cheap: the screening state kept beside the votes, the walk that
resumes where a reviewer left off, progress counted from indexes, and the pinned number of
queries of a next + vote on the API and on the page."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from screening.models import (
    Claim,
    Record,
    RelevanceScore,
    ScreeningAssignment,
    ScreeningState,
    Vote,
)
from screening.selectors.screening import SHUFFLE, eligible_records, stage_progress
from screening.services.fulltext import mark_not_retrieved
from screening.services.screening.assignment import next_record
from screening.services.screening.stage_settings import update_stage_settings
from screening.services.screening.votes import undo_last_vote
from tests.screening.screening_fixtures import import_records, vote

pytestmark = pytest.mark.django_db

TA, FT = "title-abstract", "full-text"


def states() -> dict[int, tuple[int, bool]]:
    return {s.record_id: (s.votes, s.closed) for s in ScreeningState.objects.filter(stage=TA)}


def test_screening_state_follows_votes_settling_and_undo(review, owner, reviewer, reviewer2):
    first, second = import_records(review, owner, 2)
    assert states() == {}
    vote(review, first, reviewer, "include")
    assert states() == {first.pk: (1, False)}
    vote(review, first, reviewer2, "exclude")  # a conflict closes the record too
    vote(review, second, reviewer, "include")
    assert states() == {first.pk: (2, True), second.pk: (1, False)}
    undo_last_vote(review=review, reviewer=reviewer2, stage=TA)
    assert states() == {first.pk: (1, False), second.pk: (1, False)}
    undo_last_vote(review=review, reviewer=reviewer, stage=TA)
    assert states() == {first.pk: (1, False)}  # no vote left on the second: no state
    # (The first record's open vote is kept for reviewer2, who saw the conflict: the other
    # vote stays until they vote again.)
    vote(review, first, reviewer2, "exclude")
    assert states() == {first.pk: (2, True)}


def test_migration_fills_states_from_existing_votes(review, owner, reviewer, reviewer2):
    first, second, _ = import_records(review, owner, 3)
    vote(review, first, reviewer, "include")
    vote(review, first, reviewer2, "include")
    vote(review, second, reviewer, "exclude")
    expected = states()
    ScreeningState.objects.all().delete()
    migration = importlib.import_module("screening.migrations.0007_screening_state")
    migration.fill_states(apps, None)
    assert states() == expected == {first.pk: (2, True), second.pk: (1, False)}


def test_progress_counts_the_records_of_each_stage(review, owner, reviewer, reviewer2):
    from screening.services import identification
    from tests.screening.factories import ris_records, upload

    records = import_records(review, owner, 6)
    # A duplicate and a search still importing are not screened; records found by other
    # methods skip title/abstract and go straight to full text.
    Record.objects.filter(pk=records[5].pk).update(duplicate_of=records[0], merge_kind="auto")
    identification.create_search(
        review=review,
        actor=owner,
        file=upload(ris_records(2, prefix="Queued"), "queued.ris"),
        filename="queued.ris",
        source="Embase",
    )
    other = identification.create_search(
        review=review,
        actor=owner,
        file=upload(ris_records(2, prefix="Website"), "web.ris"),
        filename="web.ris",
        source="Google",
        source_type="other",
        other_method="website",
    )
    identification.run_import(search_id=other.pk)
    for record in records[:3]:
        vote(review, record, reviewer, "include")
        vote(review, record, reviewer2, "include")
    vote(review, records[3], reviewer, "include")
    vote(review, records[3], reviewer2, "exclude")
    mark_not_retrieved(review=review, record=records[2], actor=owner)
    for stage in (TA, FT):
        progress = stage_progress(review, stage, reviewer)
        assert progress["total"] == eligible_records(review, stage).count()
    assert stage_progress(review, TA, reviewer) == {
        "total": 5,
        "mine": 4,
        "included": 3,
        "excluded": 0,
        "settled": 3,
        "conflicts": 1,
    }
    assert stage_progress(review, FT, reviewer)["total"] == 2 + 2  # 2 passed + web


def test_next_resumes_after_the_furthest_offered_record_and_finds_those_left_behind(
    review, owner, reviewer, reviewer2
):
    import_records(review, owner, 6)
    order = list(eligible_records(review, TA).order_by(SHUFFLE, "id").values_list("pk", flat=True))
    # The first reviewer is offered the first record and walks away from it.
    assert next_record(review=review, stage=TA, reviewer=reviewer).pk == order[0]
    Claim.objects.filter(reviewer=reviewer).update(expires_at=timezone.now() - timedelta(1))
    # Another reviewer screens on from there, each walk resuming after the last offered.
    offered = []
    for _ in range(5):
        record = next_record(review=review, stage=TA, reviewer=reviewer2)
        offered.append(record.pk)
        vote(review, record, reviewer2, "exclude")
    assert offered == order[1:]
    assert Claim.objects.get(reviewer=reviewer2).walked_to == order[5]
    # The abandoned record is still untouched: the walk from the start finds it.
    assert next_record(review=review, stage=TA, reviewer=reviewer2).pk == order[0]
    vote(review, order[0], reviewer2, "exclude")
    assert next_record(review=review, stage=TA, reviewer=reviewer2) is None
    # A record imported later sits anywhere in the order: it is found the same way.
    (late,) = import_records(review, owner, 1, name="late.ris")
    assert next_record(review=review, stage=TA, reviewer=reviewer2).pk == late.pk


def test_claim_kept_after_its_vote_does_not_hold_the_record_from_others(
    review, owner, reviewer, reviewer2
):
    (record,) = import_records(review, owner, 1)
    assert next_record(review=review, stage=TA, reviewer=reviewer).pk == record.pk
    vote(review, record, reviewer, "include")
    assert Claim.objects.filter(reviewer=reviewer, record=record).exists()
    assert next_record(review=review, stage=TA, reviewer=reviewer2).pk == record.pk
    # The first reviewer's claim still stands, but they voted: nothing is offered twice.
    assert next_record(review=review, stage=TA, reviewer=reviewer) is None


def test_a_record_others_hold_is_skipped_for_the_next_one(review, owner, reviewer, reviewer2):
    # The walk of untouched records leaves others' claims to the re-read under the lock:
    # a record found held there is skipped, and the walk goes on to the next record (with
    # the real review, reviewer and time: the skip path builds its queries afresh).
    update_stage_settings(review=review, stage=TA, actor=owner, reviewers_needed=1)
    import_records(review, owner, 3)
    order = list(eligible_records(review, TA).order_by(SHUFFLE, "id").values_list("pk", flat=True))
    later = timezone.now() + timedelta(minutes=10)
    Claim.objects.create(record_id=order[0], stage=TA, reviewer=reviewer2, expires_at=later)
    assert next_record(review=review, stage=TA, reviewer=reviewer).pk == order[1]
    Claim.objects.filter(reviewer=reviewer2).update(record_id=order[2])  # no walk to resume
    Claim.objects.filter(reviewer=reviewer).delete()
    assert next_record(review=review, stage=TA, reviewer=reviewer).pk == order[0]


def api_client(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


# Counted statements include the transaction's two (SAVEPOINT/RELEASE here, BEGIN/COMMIT in
# production). Every request also has its authentication: token + membership on the API,
# session + user + membership on the page.
@pytest.mark.parametrize("n", [50, 2_000])
def test_api_next_and_vote_take_a_fixed_number_of_queries(
    n, review, owner, reviewer, reviewer2, django_assert_num_queries
):
    import_records(review, owner, n)
    base = f"/api/v1/reviews/{review.slug}/screening/{TA}"
    first, second = api_client(reviewer), api_client(reviewer2)
    record = first.get(f"{base}/next/").json()["id"]  # settings are created on first use

    def vote_on(client, record, queries):
        # settings, lock, facts, vote, state, audit (completing: + the votes, the outcome);
        # the caller's answers on the record, for the response
        with django_assert_num_queries(2 + 1 + 2 + queries + 1):
            response = client.post(
                f"{base}/votes/", {"record": record, "decision": "include"}, format="json"
            )
        assert response.status_code == 201

    def next_for(client, queries):
        # settings, the held claim, whether the reviewer has assigned work (#20), then in
        # the transaction: candidates, re-read, claim
        with django_assert_num_queries(2 + 2 + 1 + 2 + queries):
            return client.get(f"{base}/next/").json()["id"]

    vote_on(first, record, 5)
    assert next_for(second, 3) == record  # started records first: one candidate query
    vote_on(second, record, 7)
    assert next_for(first, 4) != record  # untouched: no started one, then the walk
    assert Vote.objects.count() == 2


@pytest.mark.parametrize("n", [50, 2_000])
def test_page_vote_shows_the_next_record_in_a_fixed_number_of_queries(
    n, client_for, review, owner, reviewer, django_assert_num_queries
):
    import_records(review, owner, n)
    client = client_for(reviewer)
    page = client.get(reverse("screen", args=[review.slug, TA]))
    record = page.context["record"].pk
    # authentication 3; vote 2 + 6 (settings, lock, facts, vote, state, audit); pilot
    # round; next 2 + 6 (held claim, assigned work?, started, walk, re-read, claim);
    # progress; labels; the stage's questions with the reviewer's answers; my pace and the
    # next record's discussion (its blinding rule, its comments: #18)
    with django_assert_num_queries(3 + 8 + 1 + 8 + 1 + 1 + 1 + 1 + 2):
        response = client.post(
            reverse("screen-vote", args=[review.slug, TA]),
            {"record": record, "decision": "include"},
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200 and response.context["record"].pk != record
    assert Vote.objects.get().record_id == record


# ------------------------------------------------ records new since screening began (#21)


def _in_shuffle(records):
    return sorted((r.pk for r in records), key=lambda pk: ((pk * 7919) % 10007, pk))


def test_a_search_imported_once_screening_began_is_offered_before_the_older_records(
    review, owner, reviewer, reviewer2
):
    update_stage_settings(review=review, stage=TA, actor=owner, reviewers_needed=1)
    old = import_records(review, owner, 5)
    assert not old[0].search.imported_mid_screening  # nobody had voted yet
    first = next_record(review=review, stage=TA, reviewer=reviewer)
    vote(review, first, reviewer, "exclude")
    late = import_records(review, owner, 3, name="late.ris")
    assert late[0].search.imported_mid_screening
    offered = []
    for _ in range(7):
        record = next_record(review=review, stage=TA, reviewer=reviewer2)
        offered.append(record.pk)
        vote(review, record, reviewer2, "exclude")
    # The new records first, in the shuffle; then the older ones where the walk left off.
    assert offered[:3] == _in_shuffle(late)
    assert sorted(offered[3:]) == sorted(r.pk for r in old if r.pk != first.pk)
    assert next_record(review=review, stage=TA, reviewer=reviewer2) is None


def test_new_records_wait_behind_started_ones_and_assigned_work(review, owner, reviewer, reviewer2):
    old = import_records(review, owner, 4)
    started = next_record(review=review, stage=TA, reviewer=reviewer)
    vote(review, started, reviewer, "include")  # one vote of two: its pair completes first
    late = import_records(review, owner, 2, name="late.ris")
    assert next_record(review=review, stage=TA, reviewer=reviewer2).pk == started.pk
    vote(review, started, reviewer2, "include")
    assert next_record(review=review, stage=TA, reviewer=reviewer2).pk == _in_shuffle(late)[0]
    # An owner's assignment still comes before everything else.
    assigned = next(r for r in old if r.pk != started.pk)
    ScreeningAssignment.objects.create(review=review, record=assigned, stage=TA, reviewer=reviewer)
    assert next_record(review=review, stage=TA, reviewer=reviewer).pk == assigned.pk


def test_most_relevant_first_orders_the_new_records_by_score_before_the_older_ones(
    review, owner, reviewer
):
    update_stage_settings(review=review, stage=TA, actor=owner, reviewers_needed=1)
    old = import_records(review, owner, 4)
    first = next_record(review=review, stage=TA, reviewer=reviewer)
    vote(review, first, reviewer, "exclude")
    late = import_records(review, owner, 3, name="late.ris")
    update_stage_settings(review=review, stage=TA, actor=owner, order="relevance")
    best_old = next(r for r in old if r.pk != first.pk)
    scores = [(best_old, 0.99), (late[2], 0.4), (late[1], 0.6)]
    for record, score in scores:
        RelevanceScore.objects.create(review=review, record=record, stage=TA, score=score)
    offered = []
    while (record := next_record(review=review, stage=TA, reviewer=reviewer)) is not None:
        offered.append(record.pk)
        vote(review, record, reviewer, "exclude")
    # Scored new records by score, the unscored new one, then the older ones (scored first).
    assert offered[:4] == [late[1].pk, late[2].pk, late[0].pk, best_old.pk]
    assert len(offered) == 6


def test_next_takes_as_many_queries_with_new_records_as_without(review, owner, reviewer):
    update_stage_settings(review=review, stage=TA, actor=owner, reviewers_needed=1)
    import_records(review, owner, 20)

    def queries_of_next():
        with CaptureQueriesContext(connection) as run:
            record = next_record(review=review, stage=TA, reviewer=reviewer)
        vote(review, record, reviewer, "exclude")
        return len(run.captured_queries), record

    queries_of_next()  # the stage's settings are stored on first use
    without, _ = queries_of_next()  # held claim, probe, started, resumed, re-read, claim
    (late,) = import_records(review, owner, 1, name="late.ris")
    with_new, record = queries_of_next()
    assert record.pk == late.pk
    assert with_new == without


def test_migration_flags_the_searches_imported_after_the_first_vote(review, owner, reviewer):
    from screening.models import Search

    first, _ = import_records(review, owner, 2)
    vote(review, first, reviewer, "include")
    (late,) = import_records(review, owner, 1, name="late.ris")
    Search.objects.update(imported_mid_screening=False)
    migration = importlib.import_module("screening.migrations.0026_round_prisma_counts")
    migration.flag_searches_imported_mid_screening(apps, None)
    flagged = dict(Search.objects.values_list("pk", "imported_mid_screening"))
    assert flagged == {first.search_id: False, late.search_id: True}
