"""The two-phase stopping rule with the database: the switch to a random sample once the
ranking flattens, the walk serving that sample, and what the rule reads back."""

from __future__ import annotations

from typing import Any

import pytest

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import AuditEvent
from screening.models import RankingRun, Record, RelevanceScore
from screening.prioritisation import stopping
from screening.services import early_stop, identification, prioritisation
from screening.services.screening.assignment import next_record
from screening.services.screening.stage_settings import update_stage_settings
from tests.screening.factories import upload
from tests.screening.screening_fixtures import vote
from tests.screening.test_prioritisation_service import TA, relevance_on, topical_ris


@pytest.fixture
def topical(review: Any, owner: Any) -> tuple[list[Record], list[Record]]:
    """6 records on the topic, 24 off it (as in test_prioritisation_service)."""
    search = identification.create_search(
        review=review,
        actor=owner,
        file=upload(topical_ris(6, 24), "topic.ris"),
        filename="topic.ris",
        source="PubMed",
    )
    identification.run_import(search_id=search.pk)
    records = list(Record.objects.filter(search=search).order_by("position"))
    return records[:6], records[6:]


@pytest.fixture
def short_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    # 30 records: the ranking "flattens" after 3 excludes in a row (the default waits for 50).
    monkeypatch.setattr(stopping, "SWITCH_RUN_MIN", 3)


def _screen_ranked(review: Any, reviewer: Any, relevant: list, other: list) -> None:
    for r in relevant:
        vote(review, r, reviewer, "include")
    for r in other[:3]:
        vote(review, r, reviewer, "exclude")


def test_flat_ranking_switches_to_a_random_sample_served_by_next(
    review, owner, reviewer, topical, short_switch
):
    relevant, other = topical
    relevance_on(review, owner)
    report = early_stop.stopping_report(review, TA)
    two = next(r for r in report.rules if r.key == "two_phase")
    assert (two.kind, two.stop, two.details["phase"]) == ("guarantee", False, 1)
    _screen_ranked(review, reviewer, relevant, other)
    two = next(r for r in early_stop.stopping_report(review, TA).rules if r.key == "two_phase")
    assert two.summary.startswith(
        "The ranking has flattened (3 records since the last include): start the random sample."
    )
    # Retraining alone never changes the order: an owner starts the sample.
    assert prioritisation.retrain_ranking(review_id=review.pk, stage=TA).model != (
        prioritisation.RANDOM_MODEL
    )
    prioritisation.start_random_sample(review=review, stage=TA, actor=owner)
    run = prioritisation.retrain_ranking(review_id=review.pk, stage=TA)
    assert run.model == prioritisation.RANDOM_MODEL
    event = AuditEvent.objects.get(review=review, action=prioritisation.RANDOM_SAMPLE_ACTION)
    assert (event.target, event.after["remaining"], event.after["held"]) == (TA, 21, [])
    # The walk reads the random keys like scores: highest first, no other order.
    keys = dict(
        RelevanceScore.objects.filter(review=review, stage=TA).values_list("record_id", "score")
    )
    assert len(keys) == 21 and all(0 <= k < 1 for k in keys.values())
    offered = next_record(review=review, stage=TA, reviewer=reviewer)
    assert offered.pk == max(keys, key=lambda pk: (keys[pk], -pk))
    # A second retrain keeps the sample's order: the keys are fixed for the sample.
    prioritisation.retrain_ranking(review_id=review.pk, stage=TA)
    again = dict(
        RelevanceScore.objects.filter(review=review, stage=TA).values_list("record_id", "score")
    )
    assert again == keys
    # The rule reads the sample: five random records screened, none relevant.
    for _ in range(5):
        record = next_record(review=review, stage=TA, reviewer=reviewer)
        vote(review, record, reviewer, "exclude")
    state = prioritisation.sample_state(review, TA)
    assert (state.switched, state.found_before, state.screened_before, state.remaining) == (
        True,
        6,
        9,
        21,
    )
    assert state.sample == (0,) * 5 and state.in_progress == 0
    needed = stopping.random_sample_needed(
        (0,) * 5, found_before=6, remaining=21, recall_target=0.95, confidence=0.95
    )
    report = early_stop.stopping_report(review, TA)
    two = next(r for r in report.rules if r.key == "two_phase")
    assert two.summary.startswith(f"Screen a random sample of {needed} more records")
    assert not two.stop
    # The screening page says why the order is random now.
    run = prioritisation.retrain_ranking(review_id=review.pk, stage=TA)
    assert run.message.startswith(
        f"Random order for the stopping rule: screen a random sample of {needed} more records"
    )
    extras = prioritisation.screening_page_extras(
        review=review, stage=TA, conf=report_conf(review), record=None
    )
    assert extras["order_note"] == run.message


def report_conf(review: Any) -> Any:
    from screening.selectors.screening import stage_settings_of

    return stage_settings_of(review, TA)


def test_sample_records_still_being_screened_hold_the_stop(
    review, owner, reviewer, reviewer2, topical, short_switch
):
    relevant, other = topical
    update_stage_settings(
        review=review, stage=TA, actor=owner, order="relevance", reviewers_needed=2
    )
    for r in relevant + other[:3]:
        decision = "include" if r in relevant else "exclude"
        vote(review, r, reviewer, decision)
        vote(review, r, reviewer2, decision)
    prioritisation.start_random_sample(review=review, stage=TA, actor=owner)
    prioritisation.retrain_ranking(review_id=review.pk, stage=TA)
    record = next_record(review=review, stage=TA, reviewer=reviewer)
    vote(review, record, reviewer, "exclude")  # one of two votes: not settled yet
    state = prioritisation.sample_state(review, TA)
    assert (state.sample, state.in_progress, state.found_before) == ((), 1, 6)


def test_without_the_owner_nothing_changes(review, owner, reviewer, topical, short_switch):
    relevant, other = topical
    relevance_on(review, owner)
    _screen_ranked(review, reviewer, relevant, other)  # flat, but nobody started the sample
    run = prioritisation.retrain_ranking(review_id=review.pk, stage=TA)
    assert run.model != prioritisation.RANDOM_MODEL
    assert not AuditEvent.objects.filter(action=prioritisation.RANDOM_SAMPLE_ACTION).exists()
    assert prioritisation.sample_state(review, TA).switched is False
    assert RankingRun.objects.get(review=review, stage=TA).status == "done"


def test_starting_the_sample_is_refused_with_a_reason(review, owner, reviewer, topical):
    with pytest.raises(ReviewflowError) as err:
        prioritisation.start_random_sample(review=review, stage=TA, actor=owner)
    assert err.value.message == (
        "The stage is in random order: switch it to “most relevant first” first; the random "
        "sample follows the prioritised part."
    )
    relevance_on(review, owner)
    event = prioritisation.start_random_sample(review=review, stage=TA, actor=owner)
    assert (event.actor, event.after["remaining"]) == (owner, 30)
    with pytest.raises(ReviewflowError) as err:
        prioritisation.start_random_sample(review=review, stage=TA, actor=owner)
    assert err.value.message == "The random sample of this stage has already started."


def test_records_imported_after_the_switch_are_no_part_of_the_sample(
    review, owner, reviewer, topical, short_switch
):
    from tests.screening.screening_fixtures import import_records

    relevant, other = topical
    relevance_on(review, owner)
    _screen_ranked(review, reviewer, relevant, other)
    prioritisation.start_random_sample(review=review, stage=TA, actor=owner)
    late = import_records(review, owner, 3, name="late.ris")
    state = prioritisation.sample_state(review, TA)
    assert (state.remaining, state.in_progress) == (21, 3)  # the new ones hold the stop
    for r in late:
        vote(review, r, reviewer, "exclude")
    state = prioritisation.sample_state(review, TA)
    assert (state.sample, state.in_progress, state.screened_before) == ((), 0, 12)
