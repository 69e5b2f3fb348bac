"""Issue #17 (1): a vote changed after the record's votes were shown does not settle it.

At a blind stage a record's votes are shown to the team once it is settled or in conflict.
A reviewer who then takes their vote back and votes differently has read the others' votes:
the record goes to an adjudicator, who sees the first, blind vote and the changed one, and
the agreement statistics count the blind vote. Undo before the reveal stays free.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import AuditEvent, Membership
from reviewflow.reviews.services import add_member, remove_member
from screening.models import Conflict, Outcome, OutcomeKind, ReservedVote, Vote
from screening.selectors.screening import agreement_report
from screening.services.screening.conflicts import resolve_conflict
from screening.services.screening.stage_settings import update_stage_settings
from screening.services.screening.votes import undo_last_vote
from tests.screening.screening_fixtures import import_records, vote

pytestmark = pytest.mark.django_db

TA, FT = "title-abstract", "full-text"


def api(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def record(review: Any, owner: Any) -> Any:
    return import_records(review, owner, 3)[0]


def _issue_scenario(review: Any, record: Any, a: Any, b: Any) -> Vote:
    """B excludes (reason, note); A includes: a conflict shows B's vote to A. A takes the
    vote back and excludes."""
    vote(review, record, b, "exclude", reason="Animal study", note="mice only")
    vote(review, record, a, "include", note="looks relevant")
    assert Conflict.objects.filter(record=record, resolved_at__isnull=True).exists()
    undo_last_vote(review=review, reviewer=a, stage=TA)
    return vote(review, record, a, "exclude", reason="Animal study")


def test_a_vote_changed_after_the_conflict_was_shown_goes_to_the_adjudicator(
    review, record, reviewer, reviewer2, owner
):
    changed = _issue_scenario(review, record, reviewer, reviewer2)

    # The votes now agree, but the agreement was not blind: still a conflict, no outcome.
    assert not Outcome.objects.filter(record=record).exists()
    conflict = Conflict.objects.get(record=record, stage=TA, resolved_at__isnull=True)
    changed.refresh_from_db()
    assert changed.after_reveal
    assert (changed.blind_decision, changed.blind_reason, changed.blind_note) == (
        "include",
        "",
        "looks relevant",
    )
    # B's vote was cast blind.
    assert not Vote.objects.get(record=record, reviewer=reviewer2).after_reveal
    opened = AuditEvent.objects.filter(action="conflict.opened", object_id=record.pk).latest("pk")
    assert opened.after == {"stage": TA, "changed_after_reveal": True}
    cast = AuditEvent.objects.filter(action="vote.cast", actor=reviewer).latest("pk")
    assert cast.after["after_reveal"] is True and cast.after["blind_decision"] == "include"
    # The adjudicator settles it as any conflict.
    outcome = resolve_conflict(conflict=conflict, actor=owner, decision="exclude")
    assert outcome.kind == OutcomeKind.ADJUDICATION


def test_a_vote_cast_again_unchanged_settles_as_before(review, record, reviewer, reviewer2):
    vote(review, record, reviewer2, "include")
    vote(review, record, reviewer, "maybe")  # settles: agreed include
    undo_last_vote(review=review, reviewer=reviewer, stage=TA)
    again = vote(review, record, reviewer, "include")  # "maybe" and "include" settle alike
    assert again.after_reveal and again.blind_decision == "maybe"
    outcome = Outcome.objects.get(record=record, stage=TA)
    assert (outcome.decision, outcome.kind) == ("include", OutcomeKind.AGREEMENT)


def test_undo_before_the_reveal_is_free(review, record, reviewer, reviewer2):
    vote(review, record, reviewer, "include")  # a misclick, while still blind
    undo_last_vote(review=review, reviewer=reviewer, stage=TA)
    corrected = vote(review, record, reviewer, "exclude")
    vote(review, record, reviewer2, "exclude")
    assert not corrected.after_reveal
    assert Outcome.objects.get(record=record).kind == OutcomeKind.AGREEMENT


def test_the_blind_vote_is_kept_across_repeated_undos(review, record, reviewer, reviewer2):
    vote(review, record, reviewer2, "exclude")
    vote(review, record, reviewer, "include")
    undo_last_vote(review=review, reviewer=reviewer, stage=TA)
    vote(review, record, reviewer, "exclude")  # changed: conflict
    undo_last_vote(review=review, reviewer=reviewer, stage=TA)
    kept = ReservedVote.objects.get(record=record)
    assert (kept.reviewer, kept.blind_decision) == (reviewer, "include")
    back = vote(review, record, reviewer, "exclude")
    assert back.blind_decision == "include"  # not the changed vote it replaced
    assert Conflict.objects.filter(record=record).exists()
    assert not Outcome.objects.filter(record=record).exists()


def test_a_full_text_reason_changed_after_the_reveal_goes_to_the_adjudicator(
    review, record, reviewer, reviewer2
):
    vote(review, record, reviewer, "include")
    vote(review, record, reviewer2, "include")
    vote(review, record, reviewer2, "exclude", stage=FT, reason="Wrong population")
    vote(review, record, reviewer, "exclude", stage=FT, reason="Wrong outcome")
    undo_last_vote(review=review, reviewer=reviewer, stage=FT)
    vote(review, record, reviewer, "exclude", stage=FT, reason="Wrong population")
    assert Conflict.objects.filter(record=record, stage=FT).exists()
    assert not Outcome.objects.filter(record=record, stage=FT).exists()


def test_a_vote_in_a_slot_freed_by_a_reviewer_who_left_is_not_blind(
    review, record, reviewer, reviewer2, owner, make_user
):
    third = make_user("theo")
    add_member(review=review, actor=owner, user=third, role="reviewer")
    vote(review, record, reviewer2, "exclude")
    vote(review, record, reviewer, "include")  # conflict: third may read both votes
    undo_last_vote(review=review, reviewer=reviewer, stage=TA)
    remove_member(membership=Membership.objects.get(review=review, user=reviewer), actor=owner)
    taken = vote(review, record, third, "exclude")
    assert taken.after_reveal and taken.blind_decision == ""
    assert Conflict.objects.filter(record=record).exists()
    assert not Outcome.objects.filter(record=record).exists()


def test_with_three_reviewers_a_second_vote_is_not_taken_back_while_one_is_redone(
    review, record, owner, reviewer, reviewer2
):
    """One record keeps one slot for a reviewer voting again; a second reviewer who saw the
    votes may not free theirs for anyone meanwhile."""
    update_stage_settings(review=review, stage=TA, actor=owner, reviewers_needed=3)
    vote(review, record, owner, "include")
    vote(review, record, reviewer2, "exclude")
    vote(review, record, reviewer, "include")  # all in: a conflict shows every vote
    undo_last_vote(review=review, reviewer=reviewer, stage=TA)
    with pytest.raises(ReviewflowError) as err:
        undo_last_vote(review=review, reviewer=reviewer2, stage=TA)
    assert err.value.message == (
        "This record's votes were shown and another reviewer is voting on it again: "
        "your vote can be undone once the record has all its votes."
    )
    assert Vote.objects.filter(record=record, reviewer=reviewer2).exists()
    vote(review, record, reviewer, "exclude")  # changed: still a conflict
    assert not Outcome.objects.filter(record=record).exists()
    undo_last_vote(review=review, reviewer=reviewer2, stage=TA)  # kept for them now
    assert ReservedVote.objects.get(record=record).reviewer == reviewer2


@pytest.mark.parametrize(
    ("blind", "needed"), [(False, 2), (True, 1)], ids=["not-blind", "one-reviewer"]
)
def test_no_rule_where_no_vote_was_blind_or_none_was_shown(
    review, record, owner, reviewer, reviewer2, blind, needed
):
    """A stage that is not blind shows votes before anyone votes: nothing is independent to
    protect. With one reviewer per record there is no other vote to have seen."""
    update_stage_settings(
        review=review, stage=TA, actor=owner, blind=blind, reviewers_needed=needed
    )
    if needed == 2:
        vote(review, record, reviewer2, "exclude")
    vote(review, record, reviewer, "include")
    undo_last_vote(review=review, reviewer=reviewer, stage=TA)
    again = vote(review, record, reviewer, "exclude")
    assert not again.after_reveal
    assert Outcome.objects.get(record=record).kind == OutcomeKind.AGREEMENT


def test_agreement_statistics_count_the_first_blind_votes(
    review, record, reviewer, reviewer2, owner
):
    _issue_scenario(review, record, reviewer, reviewer2)
    resolve_conflict(conflict=Conflict.objects.get(), actor=owner, decision="exclude")
    (ta, _ft) = agreement_report(review)
    ((_, _, pair),) = ta.pairs
    assert (pair.items, pair.agreement) == (1, 0.0)  # include against exclude, blind
    assert ta.after_reveal == 1
    page = APIClient()
    page.force_login(owner)
    body = page.get(reverse("agreement", args=[review.slug])).content.decode()
    assert "1 vote cast again after the record's votes were shown" in body


def test_the_conflicts_page_shows_the_blind_and_the_changed_vote(
    client_for, review, record, reviewer, reviewer2, owner, outsider
):
    changed = _issue_scenario(review, record, reviewer, reviewer2)
    url = reverse("conflicts", args=[review.slug]) + f"?stage={TA}"
    assert client_for(outsider).get(url).status_code == 404
    response = client_for(owner).get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert "A reviewer changed their vote after the record's votes were shown" in body
    assert f'data-blind-vote="{changed.pk}"' in body
    assert "first, blind vote" in body and "looks relevant" in body
    assert "changed after the votes were shown" in body
    assert response.context["detail"].changed == {changed.pk}


def test_the_screening_page_tells_the_reviewer_their_changed_vote_goes_to_adjudication(
    client_for, review, record, reviewer, reviewer2
):
    vote(review, record, reviewer2, "exclude", reason="Animal study", note="mice only")
    vote(review, record, reviewer, "include")
    client = client_for(reviewer)
    undone = client.post(reverse("screen-undo", args=[review.slug, TA]), HTTP_HX_REQUEST="true")
    assert "an adjudicator decides the record" in undone.context["info"]
    response = client.post(
        reverse("screen-vote", args=[review.slug, TA]),
        {"record": record.pk, "decision": "exclude"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert response.context["info"] == (
        "You voted again after this record's votes were shown: your vote differs from your "
        "first, blind vote, so an adjudicator decides the record."
    )
    assert Conflict.objects.filter(record=record).exists()
    page = client.get(reverse("screen", args=[review.slug, TA])).content.decode()
    assert "your new vote differs from your first, blind vote" in page


def test_the_api_behaves_as_the_page(review, record, reviewer, reviewer2, outsider):
    base = f"/api/v1/reviews/{review.slug}"
    b, a = api(reviewer2), api(reviewer)
    assert b.post(f"{base}/screening/{TA}/votes/", {"record": record.pk, "decision": "exclude"})
    first = a.post(f"{base}/screening/{TA}/votes/", {"record": record.pk, "decision": "include"})
    assert first.status_code == 201 and first.json()["after_reveal"] is False
    assert a.post(f"{base}/screening/{TA}/votes/undo/").status_code == 200
    again = a.post(f"{base}/screening/{TA}/votes/", {"record": record.pk, "decision": "exclude"})
    assert again.status_code == 201
    assert (again.json()["after_reveal"], again.json()["blind_decision"]) == (True, "include")
    assert api(outsider).get(f"{base}/conflicts/?stage={TA}").status_code == 404
    (conflict,) = b.get(f"{base}/conflicts/?stage={TA}").json()["results"]
    assert conflict["record"] == record.pk
    votes = {v["reviewer"]: v for v in conflict["votes"]}
    assert (votes["rachel"]["decision"], votes["rachel"]["blind_decision"]) == (
        "exclude",
        "include",
    )
    assert votes["roberto"]["after_reveal"] is False
    prisma = b.get(f"{base}/prisma/").json()
    assert prisma["records_excluded"] == 0  # a conflict until adjudicated
