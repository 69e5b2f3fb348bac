"""Votes, outcomes, conflicts, assignment and full texts."""

from __future__ import annotations

import pytest

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import AuditEvent
from screening.models import Claim, Conflict, Outcome, OutcomeKind, ReservedVote, Vote
from screening.services.fulltext import attach_full_text, mark_not_retrieved
from screening.services.screening.assignment import next_record
from screening.services.screening.conflicts import resolve_conflict
from screening.services.screening.stage_settings import update_stage_settings
from screening.services.screening.votes import undo_last_vote
from tests.screening.screening_fixtures import import_records, vote

pytestmark = pytest.mark.django_db

TA, FT = "title-abstract", "full-text"


@pytest.fixture
def records(review, owner):
    return import_records(review, owner, 6)


def test_agreeing_votes_settle_the_record(review, records, reviewer, reviewer2):
    vote(review, records[0], reviewer, "include")
    assert not Outcome.objects.exists()
    vote(review, records[0], reviewer2, "maybe")  # maybe advances like include at TA
    outcome = Outcome.objects.get()
    assert (outcome.decision, outcome.kind) == ("include", OutcomeKind.AGREEMENT)


def test_second_disagreeing_vote_opens_a_conflict(review, records, reviewer, reviewer2, owner):
    vote(review, records[0], reviewer, "include")
    vote(review, records[0], reviewer2, "exclude")
    conflict = Conflict.objects.get()
    assert not Outcome.objects.exists()
    outcome = resolve_conflict(conflict=conflict, actor=owner, decision="exclude")
    assert (outcome.kind, outcome.decided_by) == (OutcomeKind.ADJUDICATION, owner)
    assert AuditEvent.objects.filter(action="conflict.resolved", actor=owner).exists()
    with pytest.raises(ReviewflowError, match="already resolved"):
        resolve_conflict(conflict=conflict, actor=owner, decision="include")


def test_reviewer_who_voted_cannot_adjudicate(review, records, reviewer, reviewer2):
    vote(review, records[0], reviewer, "include")
    vote(review, records[0], reviewer2, "exclude")
    with pytest.raises(ReviewflowError, match="You may not resolve conflicts"):
        resolve_conflict(conflict=Conflict.objects.get(), actor=reviewer, decision="include")


def test_record_never_gets_more_votes_than_needed(review, records, reviewer, reviewer2, owner):
    vote(review, records[0], reviewer, "include")
    vote(review, records[0], reviewer2, "include")
    with pytest.raises(ReviewflowError) as err:
        vote(review, records[0], owner, "exclude")
    assert err.value.message == "This record already has all the votes it needs."
    assert Vote.objects.filter(record=records[0]).count() == 2


def test_voting_twice_is_refused(review, records, reviewer):
    vote(review, records[0], reviewer, "include")
    with pytest.raises(ReviewflowError, match="You have already voted on this record"):
        vote(review, records[0], reviewer, "exclude")


def test_resending_the_vote_that_closed_a_record_says_it_was_yours(
    review, records, reviewer, reviewer2
):
    # A client that lost the answer to the record's last vote (a web process killed, say)
    # sends it again: it is told its own vote is there, not that others filled the record.
    vote(review, records[0], reviewer, "include")
    vote(review, records[0], reviewer2, "include")
    with pytest.raises(ReviewflowError, match="You have already voted on this record"):
        vote(review, records[0], reviewer2, "include")
    assert Vote.objects.filter(record=records[0]).count() == 2


def test_viewer_cannot_vote(review, records, viewer):
    with pytest.raises(ReviewflowError, match="Only reviewers and owners screen records."):
        vote(review, records[0], viewer, "include")


def test_next_never_repeats_and_completes_pairs_first(review, records, reviewer, reviewer2):
    seen = []
    for _ in range(3):
        record = next_record(review=review, stage=TA, reviewer=reviewer)
        seen.append(record.pk)
        vote(review, record, reviewer, "exclude")
    assert len(set(seen)) == 3
    # The second reviewer is offered the records that already have a vote first.
    first = next_record(review=review, stage=TA, reviewer=reviewer2)
    assert first.pk in seen
    # Asking again without voting offers the same record (it is held for them).
    assert next_record(review=review, stage=TA, reviewer=reviewer2).pk == first.pk


def test_last_open_vote_is_not_offered_to_two_reviewers(review, owner, reviewer, reviewer2):
    (record,) = import_records(review, owner, 1)
    vote(review, record, owner, "include")
    assert next_record(review=review, stage=TA, reviewer=reviewer).pk == record.pk
    assert next_record(review=review, stage=TA, reviewer=reviewer2) is None


def test_everything_screened_means_nothing_next(review, owner, reviewer, reviewer2):
    (record,) = import_records(review, owner, 1)
    vote(review, record, reviewer, "exclude")
    vote(review, record, reviewer2, "exclude")
    assert next_record(review=review, stage=TA, reviewer=owner) is None


def test_undo_last_vote(review, records, reviewer, reviewer2):
    vote(review, records[0], reviewer, "include")
    vote(review, records[0], reviewer2, "include")
    undone = undo_last_vote(review=review, reviewer=reviewer2, stage=TA)
    assert undone.record_id == records[0].pk
    assert not Outcome.objects.exists()
    assert next_record(review=review, stage=TA, reviewer=reviewer2).pk == records[0].pk
    with pytest.raises(ReviewflowError, match="You have no vote to undo"):
        undo_last_vote(review=review, reviewer=reviewer2, stage=TA)


@pytest.mark.parametrize("second", ["include", "exclude"], ids=["agreed", "in-conflict"])
def test_a_vote_taken_back_after_settling_is_kept_for_its_reviewer(
    review, records, reviewer, reviewer2, owner, make_user, second
):
    """Once settled (or in conflict), a record's votes are visible to every member; the
    vote slot an undo reopens must not go to someone who has read the remaining vote."""
    from reviewflow.reviews.services import add_member

    third = make_user("theo")
    add_member(review=review, actor=owner, user=third, role="reviewer")
    vote(review, records[0], reviewer, "include")
    vote(review, records[0], reviewer2, second)
    undo_last_vote(review=review, reviewer=reviewer2, stage=TA)

    # Nobody else is offered the record, even with the undoer's claim gone…
    Claim.objects.filter(reviewer=reviewer2).delete()
    for other in (third, owner):
        offered = []
        while (record := next_record(review=review, stage=TA, reviewer=other)) is not None:
            offered.append(record.pk)
            vote(review, record, other, "exclude")
        assert records[0].pk not in offered
    # …nor may vote on it,
    with pytest.raises(ReviewflowError) as err:
        vote(review, records[0], third, "exclude")
    assert err.value.message == (
        "This record's open vote is kept for the reviewer who took theirs back."
    )
    # while its reviewer gets it back and votes again.
    assert next_record(review=review, stage=TA, reviewer=reviewer2).pk == records[0].pk
    vote(review, records[0], reviewer2, "include")
    if second == "include":  # the vote is the same as its first, blind one: agreed
        assert Outcome.objects.get(record=records[0]).decision == "include"
    else:  # changed after the conflict showed the other vote: an adjudicator decides
        assert Conflict.objects.filter(record=records[0]).exists()
        assert not Outcome.objects.filter(record=records[0]).exists()
    assert not ReservedVote.objects.exists()


def test_a_vote_taken_back_before_settling_frees_the_slot_for_anyone(
    review, owner, reviewer, reviewer2
):
    (record,) = import_records(review, owner, 1)
    vote(review, record, reviewer, "include")
    undo_last_vote(review=review, reviewer=reviewer, stage=TA)
    assert not ReservedVote.objects.exists()
    vote(review, record, reviewer2, "include")  # nobody could read a vote: no reservation


def test_a_kept_vote_is_freed_when_its_reviewer_stops_screening(
    review, records, reviewer, reviewer2, owner, make_user
):
    from reviewflow.reviews.models import Membership
    from reviewflow.reviews.services import add_member, remove_member

    third = make_user("theo")
    add_member(review=review, actor=owner, user=third, role="reviewer")
    vote(review, records[0], reviewer, "include")
    vote(review, records[0], reviewer2, "exclude")
    undo_last_vote(review=review, reviewer=reviewer2, stage=TA)
    remove_member(membership=Membership.objects.get(review=review, user=reviewer2), actor=owner)
    vote(review, records[0], third, "exclude")  # the record can be finished without them
    assert not ReservedVote.objects.exists()


def test_undo_after_adjudication_is_refused(review, records, reviewer, reviewer2, owner):
    vote(review, records[0], reviewer, "include")
    vote(review, records[0], reviewer2, "exclude")
    resolve_conflict(conflict=Conflict.objects.get(), actor=owner, decision="include")
    with pytest.raises(ReviewflowError, match="conflict was resolved"):
        undo_last_vote(review=review, reviewer=reviewer2, stage=TA)


def include_at_ta(review, record, a, b):
    vote(review, record, a, "include")
    vote(review, record, b, "include")


def test_full_text_exclusion_needs_a_reason(review, records, reviewer, reviewer2):
    include_at_ta(review, records[0], reviewer, reviewer2)
    with pytest.raises(ReviewflowError) as err:
        vote(review, records[0], reviewer, "exclude", stage=FT)
    assert err.value.message == (
        "Choose a reason for excluding this record: exclusions at full text need one."
    )
    assert err.value.field == "reason"
    vote(review, records[0], reviewer, "exclude", stage=FT, reason="Wrong population")
    with pytest.raises(ReviewflowError, match="is not one of this stage's exclusion reasons"):
        vote(review, records[0], reviewer2, "exclude", stage=FT, reason="Made up")


def test_full_text_exclusions_with_different_reasons_conflict(review, records, reviewer, reviewer2):
    include_at_ta(review, records[0], reviewer, reviewer2)
    vote(review, records[0], reviewer, "exclude", stage=FT, reason="Wrong population")
    vote(review, records[0], reviewer2, "exclude", stage=FT, reason="Wrong outcome")
    assert Conflict.objects.filter(stage=FT).exists()


def test_only_records_that_passed_title_abstract_reach_full_text(
    review, records, reviewer, reviewer2
):
    with pytest.raises(ReviewflowError, match="not screened at this stage"):
        vote(review, records[0], reviewer, "include", stage=FT)
    include_at_ta(review, records[1], reviewer, reviewer2)
    assert next_record(review=review, stage=FT, reviewer=reviewer).pk == records[1].pk


def test_not_retrieved_report_leaves_full_text_screening(review, records, reviewer, reviewer2):
    include_at_ta(review, records[0], reviewer, reviewer2)
    mark_not_retrieved(review=review, record=records[0], actor=reviewer, note="Library had none")
    assert next_record(review=review, stage=FT, reviewer=reviewer) is None


def test_full_text_pdf_must_be_a_pdf(review, records, reviewer, reviewer2):
    import io

    include_at_ta(review, records[0], reviewer, reviewer2)
    with pytest.raises(ReviewflowError, match="paper.pdf: this is not a PDF file."):
        attach_full_text(
            review=review,
            record=records[0],
            actor=reviewer,
            file=io.BytesIO(b"<html>"),
            filename="paper.pdf",
        )
    report = attach_full_text(
        review=review,
        record=records[0],
        actor=reviewer,
        file=io.BytesIO(b"%PDF-1.4\n%%EOF"),
        filename="paper.pdf",
    )
    assert report.status == "retrieved" and report.pdf


def test_settings_cannot_drop_below_votes_cast(review, records, owner, reviewer, reviewer2):
    update_stage_settings(review=review, stage=TA, actor=owner, reviewers_needed=3)
    vote(review, records[0], reviewer, "include")
    vote(review, records[0], reviewer2, "include")
    vote(review, records[0], owner, "include")
    with pytest.raises(ReviewflowError, match="can no longer go down"):
        update_stage_settings(review=review, stage=TA, actor=owner, reviewers_needed=2)


def test_single_reviewer_stage(review, records, owner, reviewer):
    update_stage_settings(review=review, stage=TA, actor=owner, reviewers_needed=1)
    vote(review, records[0], reviewer, "exclude")
    assert Outcome.objects.get().decision == "exclude"
