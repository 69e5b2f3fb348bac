"""Assigned screening work (#20) against a scripted team: three reviewers (anna, bert,
carl), dual screening. Splits, top-ups, ``next`` order, reassigning, and the workload
figures worked out by hand."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import AuditEvent, Membership, Role
from reviewflow.reviews.services import add_member, create_review, remove_member
from screening.models import ScreeningAssignment, Vote
from screening.selectors.work import offer_key
from screening.services.screening.assignment import next_record
from screening.services.screening.stage_settings import update_stage_settings
from screening.services.work import (
    check_split,
    reassign_open_work,
    remove_open_assignments,
    split_work,
)
from tests.conftest import needs_postgresql
from tests.screening.screening_fixtures import import_records, vote

TA = "title-abstract"
UNKNOWN = "Unknown mode 'random': use one of evenly, share, search, batch."
BATCH = "Give a batch size from 1 to 100,000 records per reviewer."


@pytest.fixture
def team(make_user: Any) -> dict[str, Any]:
    owner = make_user("olga")
    review = create_review(title="Work", slug="work", owner=owner)
    people = [make_user(name) for name in ("anna", "bert", "carl")]
    for user in people:
        add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
    records = import_records(review, owner, 6)
    records.sort(key=lambda r: r.pk)
    return {"review": review, "owner": owner, "people": people, "records": records}


def _split(t: dict[str, Any], mode: str = "evenly", **kw: Any) -> list[ScreeningAssignment]:
    split = check_split(review=t["review"], mode=mode, reviewers=t["people"], **kw)
    return split_work(review=t["review"], stage=TA, actor=t["owner"], split=split)


def _by_record(t: dict[str, Any]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for a in ScreeningAssignment.objects.filter(review=t["review"]).order_by("reviewer__username"):
        found.setdefault(t["records"].index(a.record), []).append(a.reviewer.username)
    return found


def test_even_split_gives_each_record_two_distinct_reviewers_in_a_fixed_plan(team):
    made = _split(team, due_date=timezone.localdate() + timedelta(days=7))
    assert len(made) == 12
    # Lowest load first, ties by name: worked out by hand.
    assert _by_record(team) == {
        0: ["anna", "bert"],
        1: ["anna", "carl"],
        2: ["bert", "carl"],
        3: ["anna", "bert"],
        4: ["anna", "carl"],
        5: ["bert", "carl"],
    }
    assert {a.due_date for a in made} == {timezone.localdate() + timedelta(days=7)}
    event = AuditEvent.objects.get(action="screening.work_assigned")
    assert event.after["per_reviewer"] == {"anna": 4, "bert": 4, "carl": 4}


def test_a_split_never_assigns_a_record_to_its_voter_nor_beyond_its_open_slots(team):
    anna, bert, carl = team["people"]
    r = team["records"]
    vote(team["review"], r[0], anna, "include")
    vote(team["review"], r[1], anna, "include")
    vote(team["review"], r[1], bert, "include")  # settled: needs nothing more
    _split(team)
    plan = _by_record(team)
    assert plan[0] == ["bert"]  # one slot left, and not anna's
    assert 1 not in plan
    assert all(len(v) == 2 for k, v in plan.items() if k >= 2)


def test_running_a_split_again_tops_up_rather_than_duplicating(team):
    _split(team)
    assert _split(team) == []
    extra = import_records(team["review"], team["owner"], 2, name="more.ris")
    made = _split(team)
    assert sorted({a.record_id for a in made}) == sorted(r.pk for r in extra)
    assert len(made) == 4
    assert ScreeningAssignment.objects.count() == 16


def test_split_by_share(team):
    update_stage_settings(review=team["review"], stage=TA, actor=team["owner"], reviewers_needed=1)
    import_records(team["review"], team["owner"], 2, name="more.ris")  # 8 records
    _split(team, mode="share", shares={"anna": 2, "bert": 1, "carl": 1})
    counts = {
        u.username: ScreeningAssignment.objects.filter(reviewer=u).count() for u in team["people"]
    }
    assert counts == {"anna": 4, "bert": 2, "carl": 2}


def test_split_a_fixed_batch_each(team):
    made = _split(team, mode="batch", batch_size=2)
    assert len(made) == 6
    assert _by_record(team) == {0: ["anna", "bert"], 1: ["anna", "carl"], 2: ["bert", "carl"]}


def test_split_by_search_assigns_only_the_chosen_searches_records(team):
    extra = import_records(team["review"], team["owner"], 3, name="embase.ris")
    made = _split(team, mode="search", searches=[extra[0].search_id])
    assert {a.record_id for a in made} == {r.pk for r in extra}


@pytest.mark.parametrize(
    ("kw", "field", "message"),
    [
        ({"mode": "random"}, "mode", UNKNOWN),
        ({"mode": "share", "shares": {"anna": 0}}, "shares", "Give anna a share from 1 to 100."),
        ({"mode": "search", "searches": []}, "searches", "Choose at least one search."),
        ({"mode": "search", "searches": [99999]}, "searches", "No search 99999 in this review."),
        ({"mode": "batch"}, "batch_size", BATCH),
        ({"mode": "evenly", "due_date": "past"}, "due_date", "The due date is in the past."),
    ],
)  # fmt: skip
def test_a_bad_split_names_its_field_and_changes_nothing(team, kw, field, message):
    if kw.get("due_date") == "past":
        kw["due_date"] = timezone.localdate() - timedelta(days=1)
    with pytest.raises(ReviewflowError) as err:
        check_split(review=team["review"], reviewers=team["people"], **kw)
    assert (err.value.field, err.value.message) == (field, message)
    assert not ScreeningAssignment.objects.exists()


def test_an_outsider_cannot_be_given_work(team, make_user):
    with pytest.raises(ReviewflowError, match="zed is not a reviewer or owner of this review."):
        check_split(review=team["review"], mode="evenly", reviewers=[make_user("zed")])


def _screen_all(t: dict[str, Any], user: Any) -> list[int]:
    """Record positions ``user`` is offered and votes on, in order, until none is left."""
    seen = []
    while (record := next_record(review=t["review"], stage=TA, reviewer=user)) is not None:
        seen.append(t["records"].index(record) if record in t["records"] else record.pk)
        vote(t["review"], record, user, "include")
    return seen


def test_next_offers_assigned_records_first_then_any_open_record(team):
    anna = team["people"][0]
    _split(team)
    offered = _screen_all(team, anna)
    assert sorted(offered[:4]) == [0, 1, 3, 4]  # her assigned records first
    assert sorted(offered[4:]) == [2, 5]  # then the open ones (their slots are free)


def test_a_split_after_a_rerun_assigns_the_new_records_first(team):
    """Assignments are made (and offered) in the order ``next`` offers open records: the
    records imported once screening had begun come first (#21)."""
    review, owner, anna = team["review"], team["owner"], team["people"][0]
    vote(review, team["records"][0], owner, "include")
    late = import_records(review, owner, 2, name="late.ris")
    assert late[0].search.imported_mid_screening
    key = offer_key(review, TA, "random")
    order = sorted([r.pk for r in team["records"]] + [r.pk for r in late], key=key)
    assert set(order[:2]) == {r.pk for r in late}
    _split(team)
    written = ScreeningAssignment.objects.order_by("pk").values_list("record_id", flat=True)
    assert list(dict.fromkeys(written))[:2] == order[:2]
    hers = ScreeningAssignment.objects.filter(reviewer=anna).order_by("pk").first()
    assert next_record(review=review, stage=TA, reviewer=anna).pk == hers.record_id


def test_next_offers_nothing_after_assigned_work_when_the_owner_says_so(team, client_for):
    anna = team["people"][0]
    update_stage_settings(
        review=team["review"], stage=TA, actor=team["owner"], open_after_assigned=False
    )
    _split(team)
    assert sorted(_screen_all(team, anna)) == [0, 1, 3, 4]
    page = client_for(anna).get("/r/work/screen/title-abstract/")
    assert "Your assigned records are done." in page.content.decode()
    assert "Nothing left for you to screen" not in page.content.decode()


def test_an_assigned_record_whose_votes_others_filled_is_skipped(team):
    anna, bert, carl = team["people"]
    _split(team)  # record 0: anna and bert
    vote(team["review"], team["records"][0], carl, "include")
    vote(team["review"], team["records"][0], bert, "exclude")
    offered = _screen_all(team, anna)
    assert 0 not in offered
    assert not Vote.objects.filter(record=team["records"][0], reviewer=anna).exists()
    assert Vote.objects.filter(record=team["records"][0]).count() == 2


def test_reassigning_a_departed_reviewers_open_work_keeps_their_votes(team):
    review, owner = team["review"], team["owner"]
    anna, bert, carl = team["people"]
    r = team["records"]
    _split(team)  # anna: 0, 1, 3, 4
    vote(review, r[0], anna, "include")
    remove_member(membership=Membership.objects.get(review=review, user=anna), actor=owner)
    made = reassign_open_work(
        review=review, stage=TA, from_reviewer=anna, to_reviewers=[bert, carl], actor=owner
    )
    # 1, 3, 4 move: to whoever of bert and carl does not have them yet.
    assert sorted((r.index(a.record), a.reviewer.username) for a in made) == [
        (1, "bert"),
        (3, "carl"),
        (4, "bert"),
    ]
    assert Vote.objects.filter(reviewer=anna).count() == 1
    assert list(
        ScreeningAssignment.objects.filter(reviewer=anna).values_list("record_id", flat=True)
    ) == [r[0].pk]
    with pytest.raises(ReviewflowError, match="anna has no open assigned work at this stage."):
        reassign_open_work(
            review=review, stage=TA, from_reviewer=anna, to_reviewers=[bert], actor=owner
        )


def test_removing_open_assignments_never_touches_votes(team):
    anna = team["people"][0]
    _split(team)
    vote(team["review"], team["records"][0], anna, "include")
    assert (
        remove_open_assignments(review=team["review"], stage=TA, reviewer=anna, actor=team["owner"])
        == 3
    )
    assert Vote.objects.filter(reviewer=anna).count() == 1
    assert ScreeningAssignment.objects.filter(reviewer=anna).count() == 1


def test_workload_figures_worked_out_by_hand(team):
    from screening.selectors.work import screening_workload

    review = team["review"]
    anna, bert, carl = team["people"]
    r = team["records"]
    today = timezone.localdate()
    _split(team, due_date=today + timedelta(days=3))  # anna 0 1 3 4, bert 0 2 3 5, carl 1 2 4 5
    ScreeningAssignment.objects.filter(reviewer=bert).update(due_date=today - timedelta(days=1))
    vote(review, r[0], anna, "include")
    vote(review, r[1], anna, "exclude")
    Vote.objects.filter(reviewer=anna, record=r[1]).update(
        created_at=timezone.now() - timedelta(days=8)  # outside the 7 days of pace
    )
    vote(review, r[3], carl, "include")  # not assigned to carl: open walk
    vote(review, r[3], bert, "include")  # settled: anna's record 3 is covered by others
    vote(review, r[2], bert, "exclude")
    rows = {row.username: row for row in screening_workload(
        review, TA, needed=2, now=timezone.now(), today=today
    )}  # fmt: skip
    a, b, c = rows["anna"], rows["bert"], rows["carl"]
    assert (a.assigned, a.done, a.left, a.covered, a.overdue) == (4, 2, 1, 1, 0)
    assert a.pace == round(1 / 7, 2)  # one vote in the last 7 days
    assert a.finish == today + timedelta(days=7)  # 1 left / 0.14 a day, rounded up
    assert a.due_date == today + timedelta(days=3)
    assert (b.assigned, b.done, b.left, b.overdue) == (4, 2, 2, 2)  # 0 and 5, due yesterday
    assert b.pace == round(2 / 7, 2) and b.finish == today + timedelta(days=7)
    assert (c.assigned, c.done, c.left, c.covered) == (4, 0, 4, 0)
    assert c.pace == round(1 / 7, 2) and c.finish == today + timedelta(days=28)
    assert rows["olga"].assigned == 0 and rows["olga"].finish is None


def test_workload_page_owner_sees_everyone_reviewer_only_themself(team, client_for, viewer):
    _split(team)
    owner_page = client_for(team["owner"]).get("/r/work/screen/title-abstract/workload/")
    assert owner_page.status_code == 200
    body = owner_page.content.decode()
    assert 'data-reviewer="bert"' in body and "data-split" in body
    mine = client_for(team["people"][0]).get("/r/work/screen/title-abstract/workload/")
    body = mine.content.decode()
    assert 'data-reviewer="anna"' in body
    assert 'data-reviewer="bert"' not in body and "data-split" not in body


def test_workload_page_split_and_reassign(team, client_for):
    owner = client_for(team["owner"])
    url = "/r/work/screen/title-abstract/workload/"
    due = (timezone.localdate() + timedelta(days=5)).isoformat()
    bad = owner.post(url + "split/", {"mode": "evenly", "due_date": due})
    assert bad.status_code == 400
    assert "This field is required." in bad.content.decode()
    assert not ScreeningAssignment.objects.exists()
    done = owner.post(
        url + "split/", {"mode": "evenly", "reviewers": ["anna", "bert", "carl"], "due_date": due}
    )
    assert done.status_code == 302
    assert ScreeningAssignment.objects.count() == 12
    moved = owner.post(url + "reassign/", {"source": "anna", "to": ["bert", "carl"]})
    assert moved.status_code == 302
    assert not ScreeningAssignment.objects.filter(reviewer__username="anna").exists()
    assert ScreeningAssignment.objects.count() == 12  # each of anna's records to the free one
    same = owner.post(url + "reassign/", {"source": "bert", "to": ["bert"]})
    assert same.status_code == 400
    assert "bert cannot take over their own work." in same.content.decode()


def test_workload_page_access(team, client_for, outsider):
    url = "/r/work/screen/title-abstract/workload/"
    assert client_for(outsider).get(url).status_code == 404
    assert client_for(team["people"][0]).post(url + "split/", {}).status_code == 403
    from django.test import Client

    assert Client().get(url).status_code == 302


def test_api_split_list_workload_and_reassign(team, client_for):
    api = client_for(team["owner"])
    base = "/api/v1/reviews/work/screening/title-abstract/"
    bad = api.post(
        base + "assignments/",
        {"mode": "share", "reviewers": ["anna"], "shares": {"anna": 500}},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert "Give anna a share from 1 to 100." in bad.content.decode()
    made = api.post(
        base + "assignments/",
        {"mode": "evenly", "reviewers": ["anna", "bert", "carl"], "open_after_assigned": False},
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    assert made.json() == {
        "created": 12,
        "records": 6,
        "per_reviewer": {"anna": 4, "bert": 4, "carl": 4},
    }
    listed = client_for(team["people"][0]).get(base + "assignments/").json()
    assert listed["count"] == 4
    assert {a["status"] for a in listed["results"]} == {"open"}
    load = api.get(base + "workload/").json()
    assert load["open_after_assigned"] is False
    assert [(r["reviewer"], r["assigned"], r["left"]) for r in load["rows"]] == [
        ("anna", 4, 4), ("bert", 4, 4), ("carl", 4, 4), ("olga", 0, 0)
    ]  # fmt: skip
    moved = api.post(
        base + "assignments/reassign/",
        {"reviewer": "anna", "to": ["bert", "carl"]},
        content_type="application/json",
    )
    assert moved.status_code == 200 and moved.json()["created"] == 4
    removed = api.post(
        base + "assignments/remove/", {"reviewer": "bert"}, content_type="application/json"
    )
    assert removed.json() == {"removed": 6}
    assert (
        client_for(team["people"][0])
        .post(base + "assignments/", {}, content_type="application/json")
        .status_code
        == 403
    )


@pytest.mark.django_db(transaction=True)
def test_reviewers_asking_next_at_once_keep_the_reviewer_count(make_user):
    """Every record assigned to all three (more than its two votes): racing for them, the
    database still lets only two vote on each."""
    import threading

    from django.db import connections

    needs_postgresql()  # a race between row locks: SQLite would prove nothing
    owner = make_user("olga")
    review = create_review(title="Race", slug="race-work", owner=owner)
    people = [make_user(name) for name in ("anna", "bert", "carl")]
    for user in people:
        add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
    records = import_records(review, owner, 8)
    ScreeningAssignment.objects.bulk_create(
        ScreeningAssignment(review=review, record=r, stage=TA, reviewer=u)
        for r in records
        for u in people
    )
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(people))

    def work(user: Any) -> None:
        try:
            barrier.wait()
            while (record := next_record(review=review, stage=TA, reviewer=user)) is not None:
                # A vote refused by its own checks (the hard limit) is fine here.
                with contextlib.suppress(ReviewflowError):
                    vote(review, record, user, "include")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(u,)) for u in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    per_record = {r.pk: Vote.objects.filter(record=r).count() for r in records}
    assert set(per_record.values()) == {2}  # all screened, none beyond two votes


def test_the_assigned_walk_is_its_orm_twin(team):
    """``assigned``'s SQL picks what this queryset picks (SQLite and PostgreSQL), and
    ``assigned_resumed`` the same after the record last offered."""
    from django.db.models import Exists, OuterRef, Subquery

    from screening.models import ScreeningState
    from screening.selectors import screening_sql
    from screening.selectors.screening import eligible_records
    from screening.selectors.screening_sql import STATEMENTS
    from screening.services.screening.assignment import claim_record

    review = team["review"]
    anna, bert, carl = team["people"]
    r = team["records"]
    _split(team)  # anna 0 1 3 4
    vote(review, r[3], bert, "include")  # started: comes first
    vote(review, r[4], carl, "include")
    vote(review, r[4], bert, "include")  # full: skipped
    vote(review, r[0], anna, "include")  # hers: skipped
    now = timezone.now()

    mine = ScreeningAssignment.objects.filter(record=OuterRef("pk"), stage=TA, reviewer=anna)

    def twin(after: int = 0) -> list[int]:
        states = ScreeningState.objects.filter(record=OuterRef("pk"), stage=TA)
        return list(
            eligible_records(review, TA)
            .filter(Exists(mine.filter(pk__gt=after)))
            .exclude(Exists(states.filter(closed=True)))
            .exclude(Exists(states.filter(votes__gte=2)))
            .exclude(Exists(Vote.objects.filter(record=OuterRef("pk"), stage=TA, reviewer=anna)))
            .annotate(assignment=Subquery(mine.values("pk")))
            .order_by("assignment")
            .values_list("id", flat=True)
        )

    def walk(name: str) -> list[int]:
        got: list[int] = []
        values = {"needed": 2, "review": review.pk, "reviewer": anna.pk, "stage": TA}
        while found := screening_sql.rows(STATEMENTS[TA][name], skip=got, now=now, **values):
            got.append(int(found[0][0]))
        return got

    assert walk("assigned") == twin()
    assert set(walk("assigned")) == {r[1].pk, r[3].pk}
    assert walk("assigned_resumed") == []  # nothing offered yet: the walk from the start
    first = ScreeningAssignment.objects.filter(reviewer=anna).order_by("pk").first()
    claim_record(reviewer=anna, stage=TA, record_id=first.record_id, now=now, walked=False)
    assert walk("assigned_resumed") == twin(after=first.pk)


def test_each_reviewer_given_work_is_notified_with_counts_and_the_due_date(team):
    from reviewflow.reviews.models import Notification
    from screening.models import Stage

    due = timezone.localdate() + timedelta(days=7)
    _split(team, due_date=due)
    label = Stage(TA).label.lower()
    got = {
        n.user.username: (n.kind, n.text, n.url)
        for n in Notification.objects.filter(review=team["review"]).select_related("user")
    }
    url = f"/r/work/screen/{TA}/"
    text = f"4 records at {label} assigned to you, due {due:%d %b %Y}."
    assert got == dict.fromkeys(("anna", "bert", "carl"), ("assignment", text, url))
    # A top-up that assigns nothing new tells nobody anything.
    _split(team)
    assert Notification.objects.filter(review=team["review"]).count() == 3
