"""My votes (#18): the history page and API, back and forward through my votes on the
screening page, a jump to a record by id, a change of vote while the record waits for
other votes (and its refusal once they were shown), "N left for me" and my pace."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import AuditEvent
from screening.models import Conflict, Outcome, ReservedVote, ScreeningState, Vote
from screening.selectors.history import Status, my_votes, pace_of, status_of, vote_neighbours
from screening.selectors.screening import eligible_records, stage_progress
from screening.services.screening.conflicts import resolve_conflict
from screening.services.screening.stage_settings import update_stage_settings
from screening.services.screening.votes import cast_vote, change_vote, undo_last_vote
from tests.conftest import needs_postgresql
from tests.screening.screening_fixtures import import_records, vote

TA, FT = "title-abstract", "full-text"

SHOWN = (
    "This record is settled or in conflict, so its votes were shown to the team: your vote "
    "can no longer be changed. Undo it (u, while it is your last vote) and vote again: if "
    "the new vote differs from your first, blind vote, an adjudicator decides the record."
)


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def records(review, owner):
    return import_records(review, owner, 6)


def change(review, user, record, decision, **extra):
    return change_vote(
        review=review, stage=TA, reviewer=user, record=record, decision=decision, **extra
    )


# ------------------------------------------------------------------------------ change_vote


@pytest.mark.django_db
def test_a_vote_changes_while_the_record_waits_and_the_trail_keeps_before_and_after(
    review, records, reviewer
):
    r = records[0]
    cast = vote(review, r, reviewer, "include", note="first look")
    changed = change(review, reviewer, r, "exclude", reason="", note="  read it again ")
    assert changed.pk == cast.pk
    stored = Vote.objects.get(pk=cast.pk)
    assert (stored.decision, stored.note, stored.slot) == ("exclude", "read it again", cast.slot)
    assert stored.created_at == cast.created_at  # its place in the history stays
    state = ScreeningState.objects.get(record=r, stage=TA)
    assert (state.votes, state.closed) == (1, False)
    event = AuditEvent.objects.get(action="vote.changed")
    assert event.before == {"stage": TA, "decision": "include", "reason": "", "note": "first look"}
    assert event.after == {
        "stage": TA,
        "decision": "exclude",
        "reason": "",
        "note": "read it again",
    }
    assert (event.object_type, event.object_id, event.actor) == ("record", r.pk, reviewer)


@pytest.mark.django_db
def test_the_completing_vote_settles_on_the_changed_vote(review, records, reviewer, reviewer2):
    vote(review, records[0], reviewer, "include")
    change(review, reviewer, records[0], "exclude")
    vote(review, records[0], reviewer2, "exclude")
    assert Outcome.objects.get(record=records[0], stage=TA).decision == "exclude"
    vote(review, records[1], reviewer, "exclude")
    change(review, reviewer, records[1], "maybe")
    vote(review, records[1], reviewer2, "exclude")
    assert Conflict.objects.filter(record=records[1], stage=TA).exists()


@pytest.mark.django_db
def test_an_unchanged_vote_writes_nothing(review, records, reviewer):
    vote(review, records[0], reviewer, "include")
    change(review, reviewer, records[0], "include")
    assert not AuditEvent.objects.filter(action="vote.changed").exists()


@pytest.mark.django_db
def test_once_the_votes_were_shown_the_change_is_refused_and_says_to_undo(
    review, records, owner, reviewer, reviewer2
):
    settled, conflict = records[0], records[1]
    for record, theirs in ((settled, "include"), (conflict, "exclude")):
        vote(review, record, reviewer, "include")
        vote(review, record, reviewer2, theirs)
    for record in (settled, conflict):
        with pytest.raises(ReviewflowError) as exc:
            change(review, reviewer, record, "exclude")
        assert (exc.value.message, exc.value.code) == (SHOWN, "conflict")
    resolve_conflict(
        conflict=Conflict.objects.get(record=conflict), actor=owner, decision="include"
    )
    with pytest.raises(ReviewflowError) as exc:
        change(review, reviewer, conflict, "exclude")
    assert (
        exc.value.message
        == "This record's conflict was resolved: your vote can no longer be changed."
    )
    assert list(Vote.objects.filter(reviewer=reviewer).values_list("decision", flat=True)) == [
        "include",
        "include",
    ]


@pytest.mark.django_db
def test_a_record_whose_votes_were_shown_and_reopened_cannot_be_changed_either(
    review, records, owner, reviewer, reviewer2, make_user
):
    """Three reviewers: after the reveal one took theirs back (a kept slot); the others'
    votes were shown, so they are not changed silently now."""
    update_stage_settings(review=review, stage=TA, actor=owner, reviewers_needed=3)
    r = records[0]
    vote(review, r, reviewer, "include")
    vote(review, r, reviewer2, "include")
    vote(review, r, owner, "exclude")
    undo_last_vote(review=review, reviewer=owner, stage=TA)
    assert ReservedVote.objects.filter(record=r).exists()
    with pytest.raises(ReviewflowError) as exc:
        change(review, reviewer, r, "exclude")
    assert exc.value.message == SHOWN


@pytest.mark.django_db
def test_change_vote_checks_its_fields_and_that_there_is_a_vote(
    review, records, owner, reviewer, viewer
):
    with pytest.raises(ReviewflowError) as exc:
        change(review, reviewer, records[0], "include")
    assert exc.value.message == (
        "You have not voted on this record at this stage: there is no vote to change."
    )
    vote(review, records[0], reviewer, "include")
    with pytest.raises(ReviewflowError) as exc:
        change(review, reviewer, records[0], "perhaps")
    assert exc.value.message == "Unknown decision “perhaps”: use include, exclude or maybe."
    with pytest.raises(ReviewflowError) as exc:
        change(review, viewer, records[0], "include")
    assert exc.value.message == "Only reviewers and owners screen records."
    # At full text an exclusion needs its reason, on a change as on a first vote.
    for record in records[1:3]:
        vote(review, record, reviewer, "include")
        vote(review, record, owner, "include")
    vote(review, records[1], reviewer, "include", stage=FT)
    with pytest.raises(ReviewflowError) as exc:
        change_vote(
            review=review, stage=FT, reviewer=reviewer, record=records[1], decision="exclude"
        )
    assert (
        exc.value.message
        == "Choose a reason for excluding this record: exclusions at full text need one."
    )
    change_vote(
        review=review,
        stage=FT,
        reviewer=reviewer,
        record=records[1].pk,
        decision="exclude",
        reason="Wrong population",
    )
    assert Vote.objects.get(record=records[1], stage=FT).reason == "Wrong population"


@pytest.mark.django_db(transaction=True)
def test_a_change_and_the_completing_vote_at_the_same_moment_never_disagree(make_user):
    """PostgreSQL, real threads: A changes include → exclude while B casts the completing
    include. Either the change came first (B's vote sees it: a conflict) or B's came first
    (the record is settled include, and the change is refused): never a settled record
    whose votes now disagree."""
    needs_postgresql()
    from reviewflow.reviews.models import Role
    from reviewflow.reviews.services import add_member, create_review

    owner, a, b = make_user("lead"), make_user("ann"), make_user("ben")
    review = create_review(title="Race", slug="race", owner=owner)
    for user in (a, b):
        add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
    records = import_records(review, owner, 20)
    for record in records:
        cast_vote(review=review, record=record, reviewer=a, stage=TA, decision="include")
    outcomes: dict[int, str] = {}
    errors: list[BaseException] = []

    def race(record):
        barrier = threading.Barrier(2)

        def changer():
            try:
                barrier.wait()
                change_vote(review=review, stage=TA, reviewer=a, record=record, decision="exclude")
                outcomes[record.pk] = "changed"
            except ReviewflowError as exc:
                assert exc.message == SHOWN
                outcomes[record.pk] = "refused"
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                connections.close_all()

        def completer():
            try:
                barrier.wait()
                cast_vote(review=review, record=record, reviewer=b, stage=TA, decision="include")
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=changer), threading.Thread(target=completer)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)

    for record in records:
        race(record)
    assert not errors, errors
    for record in records:
        a_vote = Vote.objects.get(record=record, reviewer=a, stage=TA).decision
        if outcomes[record.pk] == "changed":
            assert a_vote == "exclude"
            assert Conflict.objects.filter(record=record, stage=TA).exists()
            assert not Outcome.objects.filter(record=record, stage=TA).exists()
        else:
            assert a_vote == "include"
            assert Outcome.objects.get(record=record, stage=TA).decision == "include"
        assert ScreeningState.objects.get(record=record, stage=TA).closed


@pytest.mark.django_db(transaction=True)
def test_the_completing_vote_waits_for_a_change_in_progress_and_settles_on_it(
    make_user, monkeypatch
):
    """PostgreSQL: while A's change holds the record's lock, B's completing vote waits for
    it, then sees the changed vote (a conflict), not the vote as it was."""
    needs_postgresql()
    from reviewflow.reviews.models import Role
    from reviewflow.reviews.services import add_member, create_review
    from screening.services.screening import votes as votes_module

    owner, a, b = make_user("lead"), make_user("ann"), make_user("ben")
    review = create_review(title="Lock", slug="lock", owner=owner)
    for user in (a, b):
        add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
    record = import_records(review, owner, 1)[0]
    cast_vote(review=review, record=record, reviewer=a, stage=TA, decision="include")
    locked, release = threading.Event(), threading.Event()
    checks = votes_module.check_vote_fields

    def held(**kwargs):  # runs in change_vote just after it took the record's lock
        if threading.current_thread().name == "changer":
            locked.set()
            assert release.wait(30)
        return checks(**kwargs)

    monkeypatch.setattr(votes_module, "check_vote_fields", held)
    errors: list[BaseException] = []

    def run(work):
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    changer = threading.Thread(
        name="changer",
        target=run,
        args=(
            lambda: change_vote(
                review=review, stage=TA, reviewer=a, record=record, decision="exclude"
            ),
        ),
    )
    completer = threading.Thread(
        name="completer",
        target=run,
        args=(
            lambda: cast_vote(
                review=review, record=record, reviewer=b, stage=TA, decision="include"
            ),
        ),
    )
    changer.start()
    assert locked.wait(30)
    completer.start()
    completer.join(timeout=1)
    assert completer.is_alive(), "B's vote did not wait for the record's lock"
    release.set()
    changer.join(timeout=30)
    completer.join(timeout=30)
    assert not errors, errors
    assert Vote.objects.get(record=record, reviewer=a).decision == "exclude"
    assert Conflict.objects.filter(record=record, stage=TA).exists()
    assert not Outcome.objects.filter(record=record, stage=TA).exists()


# ------------------------------------------------------------------------------ selectors


@pytest.mark.django_db
def test_history_shows_my_votes_newest_first_with_each_records_standing_only(
    review, records, owner, reviewer, reviewer2
):
    r = records
    vote(review, r[0], reviewer, "include")  # waiting
    vote(review, r[1], reviewer, "include")
    vote(review, r[1], reviewer2, "maybe")  # settled include
    vote(review, r[2], reviewer, "exclude")
    vote(review, r[2], reviewer2, "exclude")  # settled exclude
    vote(review, r[3], reviewer, "exclude")
    vote(review, r[3], reviewer2, "include")  # in conflict
    vote(review, r[4], reviewer2, "include")  # not mine
    rows = list(my_votes(review, TA, reviewer))
    assert [(v.record_id, status_of(v)) for v in rows] == [
        (r[3].pk, Status.CONFLICT),
        (r[2].pk, Status.EXCLUDED),
        (r[1].pk, Status.INCLUDED),
        (r[0].pk, Status.WAITING),
    ]
    assert [v.record_id for v in my_votes(review, TA, reviewer, decision="exclude")] == [
        r[3].pk,
        r[2].pk,
    ]
    assert [v.record_id for v in my_votes(review, TA, reviewer, q=str(r[1].pk))] == [r[1].pk]
    assert [v.record_id for v in my_votes(review, TA, reviewer, q=f"#{r[2].pk}")] == [r[2].pk]
    found = [v.record_id for v in my_votes(review, TA, reviewer, q="S.RIS NUMBER 1")]
    assert found == [r[0].pk]  # words of the title, any case
    author = r[2].authors[0]
    assert r[2].pk in [v.record_id for v in my_votes(review, TA, reviewer, q=author)]
    assert list(my_votes(review, TA, reviewer, q="no such words")) == []


@pytest.mark.django_db
def test_neighbours_walk_my_votes_in_the_order_i_cast_them(review, records, reviewer, reviewer2):
    votes = [vote(review, r, reviewer, "include") for r in records[:3]]
    vote(review, records[3], reviewer2, "include")  # another's vote is no neighbour
    assert vote_neighbours(votes[0]).previous is None
    assert vote_neighbours(votes[0]).following == records[1].pk
    assert vote_neighbours(votes[1]).previous == records[0].pk
    assert vote_neighbours(votes[2]).following is None


@pytest.mark.django_db
def test_left_for_me_counts_the_records_i_can_still_vote_on(
    review, records, owner, reviewer, reviewer2
):
    r = records
    vote(review, r[0], reviewer, "include")  # mine, waiting: not left for me
    vote(review, r[1], reviewer2, "include")  # theirs, waiting: left for me
    vote(review, r[2], reviewer2, "include")
    vote(review, r[2], owner, "include")  # settled without me: not left
    vote(review, r[3], owner, "exclude")
    vote(review, r[3], reviewer2, "include")  # in conflict: not left
    old = vote(review, r[4], reviewer, "exclude")
    Vote.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=3))
    pace = pace_of(review, TA, reviewer, stage_progress(review, TA, reviewer))
    # The ORM twin: eligible records with no outcome, no open conflict and no vote of mine.
    twin = (
        eligible_records(review, TA)
        .exclude(outcomes__stage=TA)
        .exclude(conflicts__stage=TA, conflicts__resolved_at__isnull=True)
        .exclude(votes__stage=TA, votes__reviewer=reviewer)
        .count()
    )
    assert pace.left == twin == 2  # r[1] and r[5]
    assert (pace.last_hour, pace.last_day) == (1, 2)


# ------------------------------------------------------------------------------ pages


@pytest.mark.django_db
def test_history_page_is_for_screeners_of_the_review(client, client_for, review, viewer, outsider):
    url = reverse("screen-history", args=[review.slug, TA])
    response = client.get(url)
    assert response.status_code == 302 and "/login" in response["Location"]
    assert client_for(outsider).get(url).status_code == 404
    assert client_for(viewer).get(url).status_code == 403
    assert (
        client_for(outsider).get(reverse("screen-record", args=[review.slug, TA, 1])).status_code
        == 404
    )


@pytest.mark.django_db
def test_history_page_lists_my_votes_searchable_with_a_fixed_number_of_queries(
    client_for, review, owner, reviewer, reviewer2, django_assert_num_queries
):
    records = import_records(review, owner, 40)
    for r in records[:5]:
        vote(review, r, reviewer, "include", note="ZQX-MINE")
        vote(review, r, reviewer2, "exclude", note="ZQX-THEIRS")
    client = client_for(reviewer)
    url = reverse("screen-history", args=[review.slug, TA])
    client.get(url)
    # session, user, membership; count; page
    with django_assert_num_queries(5):
        html = client.get(url).content.decode()
    assert html.count("data-history-row=") == 5 and html.count('data-status="conflict"') == 5
    assert "ZQX-THEIRS" not in html
    for r in records[5:35]:
        vote(review, r, reviewer, "exclude")
    with django_assert_num_queries(5):
        html = client.get(url + "?page=2").content.decode()
    assert html.count("data-history-row=") == 10  # 35 votes, 25 a page
    one = client.get(url, {"q": str(records[3].pk)}).content.decode()
    assert one.count("data-history-row=") == 1
    excluded = client.get(url, {"decision": "exclude"}).content.decode()
    assert "Page 1 of 2" in excluded
    bogus = client.get(url, {"decision": "bogus", "page": "x"})
    assert bogus.status_code == 200


@pytest.mark.django_db
def test_a_past_vote_on_a_waiting_record_shows_with_buttons_that_change_it(
    client_for, review, records, reviewer
):
    first = vote(review, records[0], reviewer, "include")
    vote(review, records[1], reviewer, "exclude")
    client = client_for(reviewer)
    html = client.get(
        reverse("screen-record", args=[review.slug, TA, records[0].pk])
    ).content.decode()
    assert 'data-my-vote="include"' in html and "data-change-vote" in html
    assert reverse("screen-change", args=[review.slug, TA, records[0].pk]) in html
    # Back: none before the first vote; forward: the second vote's record.
    assert "data-nav-prev" not in html
    assert reverse("screen-record", args=[review.slug, TA, records[1].pk]) in html
    response = client.post(
        reverse("screen-change", args=[review.slug, TA, records[0].pk]),
        {"decision": "exclude"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert f"Your vote on record {records[0].pk} is now “Exclude”." in response.content.decode()
    assert Vote.objects.get(pk=first.pk).decision == "exclude"


@pytest.mark.django_db
def test_a_past_vote_on_a_settled_record_is_read_only(
    client_for, review, records, reviewer, reviewer2
):
    vote(review, records[0], reviewer, "include")
    vote(review, records[0], reviewer2, "include")
    client = client_for(reviewer)
    html = client.get(
        reverse("screen-record", args=[review.slug, TA, records[0].pk])
    ).content.decode()
    assert "record settled: include" in html
    assert "data-change-vote" not in html and 'button class="include"' not in html
    response = client.post(
        reverse("screen-change", args=[review.slug, TA, records[0].pk]),
        {"decision": "exclude"},
        HTTP_HX_REQUEST="true",
    )
    assert SHOWN in response.content.decode()


@pytest.mark.django_db
def test_jump_to_a_record_i_have_not_voted_on_offers_the_vote_form(
    client_for, review, records, owner, reviewer, reviewer2
):
    client = client_for(reviewer)
    goto = reverse("screen-goto", args=[review.slug, TA])
    response = client.get(goto, {"record": str(records[4].pk)})
    assert response.status_code == 302
    assert response["Location"] == reverse("screen-record", args=[review.slug, TA, records[4].pk])
    html = client.get(goto, {"record": records[4].pk}, HTTP_HX_REQUEST="true").content.decode()
    assert f'data-record="{records[4].pk}"' in html
    assert reverse("screen-vote", args=[review.slug, TA]) in html
    missing = client.get(goto, {"record": "999999"}, HTTP_HX_REQUEST="true").content.decode()
    assert "There is no record “999999” in this review: type its number." in missing
    # A record settled without me: its standing, no vote form.
    vote(review, records[5], reviewer2, "exclude")
    vote(review, records[5], owner, "exclude")
    html = client.get(
        reverse("screen-record", args=[review.slug, TA, records[5].pk])
    ).content.decode()
    assert "You have not voted on this record; it is settled: exclude." in html
    assert 'hx-post="' + reverse("screen-vote", args=[review.slug, TA]) not in html


@pytest.mark.django_db
def test_the_screening_header_shows_what_is_left_for_me_and_my_pace(
    client_for, review, records, reviewer
):
    vote(review, records[0], reviewer, "include")
    html = client_for(reviewer).get(reverse("screen", args=[review.slug, TA])).content.decode()
    assert 'data-count="left">5</strong> left for me' in html
    assert "1 vote in the last hour · 1 in the last day" in html
    assert reverse("screen-record", args=[review.slug, TA, records[0].pk]) in html  # "["


# ------------------------------------------------------------------------------ API


@pytest.mark.django_db
def test_api_history_lists_my_votes_only_paginated_with_a_fixed_number_of_queries(
    review, records, reviewer, reviewer2, django_assert_num_queries
):
    for r in records[:3]:
        vote(review, r, reviewer, "include")
    vote(review, records[0], reviewer2, "exclude", note="ZQX-THEIRS")
    url = f"/api/v1/reviews/{review.slug}/screening/{TA}/history/"
    client = api(reviewer)
    with django_assert_num_queries(3):  # membership (forced authentication); count; page
        body = client.get(url).json()
    assert body["count"] == 3
    first = body["results"][-1]
    assert (first["record"], first["status"], first["changeable"]) == (
        records[0].pk,
        "conflict",
        False,
    )
    assert body["results"][0]["changeable"] is True
    assert "ZQX-THEIRS" not in str(body)
    assert client.get(url, {"decision": "bogus"}).status_code == 400
    assert client.get(url, {"q": str(records[1].pk)}).json()["count"] == 1
    for r in records[3:]:
        vote(review, r, reviewer, "exclude")
    with django_assert_num_queries(3):
        assert client.get(url).json()["count"] == 6


@pytest.mark.django_db
def test_api_patch_changes_my_own_vote_and_others_are_404(review, records, reviewer, reviewer2):
    mine = vote(review, records[0], reviewer, "include")
    theirs = vote(review, records[1], reviewer2, "include")
    url = f"/api/v1/reviews/{review.slug}/screening/{TA}/votes/%s/"
    response = api(reviewer).patch(url % mine.pk, {"decision": "exclude"}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["decision"], response.json()["status"]) == ("exclude", "waiting")
    assert (
        api(reviewer).patch(url % theirs.pk, {"decision": "exclude"}, format="json").status_code
        == 404
    )
    assert api(reviewer).get(url % theirs.pk).status_code == 404
    assert api(reviewer).get(url % mine.pk).json()["decision"] == "exclude"
    vote(review, records[0], reviewer2, "exclude")  # settled: exclude
    refused = api(reviewer).patch(url % mine.pk, {"decision": "include"}, format="json")
    assert refused.status_code == 409 and refused.json() == {"detail": SHOWN}
    wrong_stage = f"/api/v1/reviews/{review.slug}/screening/{FT}/votes/{mine.pk}/"
    assert (
        api(reviewer).patch(wrong_stage, {"decision": "include"}, format="json").status_code == 404
    )
