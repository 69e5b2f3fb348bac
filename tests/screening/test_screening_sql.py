"""Each named statement of ``screening.selectors.screening_sql`` against its ORM twin
(``tests/screening/screening_twins.py``, the queryset it replaced), on the database the suite
runs on (SQLite locally, PostgreSQL in CI), for records in every state a record can be in:
duplicates, records of a search still importing or found by other methods, excluded by an
automation tool, with one vote or all of them, in conflict, claimed live or long ago, with a
slot kept for a reviewer who still screens or no longer does, passed or not to full text,
reports not retrieved, with relevance scores, walked to by the shuffle's walk."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from reviewflow.reviews.models import Membership, Review, Role
from reviewflow.reviews.services import add_member, create_review
from screening.models import (
    Claim,
    Conflict,
    Decision,
    FullTextReport,
    MergeKind,
    Outcome,
    OutcomeKind,
    Record,
    RelevanceScore,
    ReservedVote,
    RetrievalStatus,
    ScreeningAssignment,
    ScreeningState,
    Search,
    SearchStatus,
    SourceType,
    Stage,
    Vote,
)
from screening.selectors import screening_sql
from screening.selectors.screening import SCREENER_ROLES
from screening.selectors.screening_sql import LOCK_RECORD, STATEMENTS, VOTE_FACTS
from screening.services import identification
from tests.screening import screening_twins as twins
from tests.screening.factories import ris_records, upload
from tests.screening.screening_fixtures import import_records

pytestmark = pytest.mark.django_db(transaction=True)

TA, FT = Stage.TITLE_ABSTRACT, Stage.FULL_TEXT


@pytest.fixture
def world(review: Any, owner: Any, reviewer: Any, reviewer2: Any, viewer: Any) -> dict[str, Any]:
    """A review whose records are in every state a record can be in, and another review."""
    records = import_records(review, owner, 40)
    other_method = import_records(review, owner, 4, name="hand-search.ris")
    Search.objects.filter(pk=other_method[0].search_id).update(source_type=SourceType.OTHER)
    importing = import_records(review, owner, 3, name="importing.ris")
    Search.objects.filter(pk=importing[0].search_id).update(status=SearchStatus.RUNNING)
    elsewhere = create_review(title="Elsewhere", slug="elsewhere", owner=owner)
    add_member(review=elsewhere, actor=owner, user=reviewer, role=Role.REVIEWER)
    foreign = import_records(elsewhere, owner, 3, name="elsewhere.ris")
    demoted = _user("demoted")
    Membership.objects.create(review=review, user=demoted, role=Role.VIEWER)

    now = timezone.now()
    live, gone = now + timedelta(minutes=10), now - timedelta(minutes=10)
    r = records
    Record.objects.filter(pk=r[1].pk).update(duplicate_of=r[0], merge_kind=MergeKind.AUTO)
    Outcome.objects.create(
        review=review, record=r[2], stage=TA, decision=Decision.EXCLUDE, kind=OutcomeKind.AUTOMATION
    )

    def state(record: Record, stage: str, votes: list[tuple[Any, str]], closed: bool) -> None:
        for slot, (user, decision) in enumerate(votes, start=1):
            Vote.objects.create(
                review=review,
                record=record,
                stage=stage,
                reviewer=user,
                slot=slot,
                decision=decision,
            )
        ScreeningState.objects.create(
            review=review, record=record, stage=stage, votes=len(votes), closed=closed
        )

    # One vote, waiting for more: by each reviewer, and one with others' claims on it.
    state(r[3], TA, [(reviewer, Decision.INCLUDE)], closed=False)
    state(r[4], TA, [(reviewer2, Decision.EXCLUDE)], closed=False)
    state(r[5], TA, [(owner, Decision.INCLUDE)], closed=False)
    Claim.objects.create(record=r[5], stage=TA, reviewer=reviewer2, expires_at=live)
    state(r[6], TA, [(owner, Decision.INCLUDE)], closed=False)
    Claim.objects.create(record=r[6], stage=TA, reviewer=demoted, expires_at=gone)
    # Settled: agreed include (goes on to full text), agreed exclude, in conflict.
    for record, decision in [(r[7], Decision.INCLUDE), (r[8], Decision.EXCLUDE)]:
        state(record, TA, [(reviewer, decision), (reviewer2, decision)], closed=True)
        Outcome.objects.create(
            review=review, record=record, stage=TA, decision=decision, kind=OutcomeKind.AGREEMENT
        )
    state(r[9], TA, [(reviewer, Decision.INCLUDE), (reviewer2, Decision.EXCLUDE)], closed=True)
    Conflict.objects.create(review=review, record=r[9], stage=TA)
    # A slot kept for a reviewer who took their vote back, and one kept for a reviewer who
    # no longer screens (made a viewer).
    state(r[10], TA, [(reviewer2, Decision.INCLUDE)], closed=False)
    ReservedVote.objects.create(review=review, record=r[10], stage=TA, reviewer=reviewer)
    state(r[11], TA, [(reviewer, Decision.INCLUDE)], closed=False)
    ReservedVote.objects.create(review=review, record=r[11], stage=TA, reviewer=demoted)
    # Two positions of the shuffle's walk, from untouched records in shuffle order.
    by_key = sorted(r[24:40], key=lambda record: (record.pk * 7919) % 10007)
    # Untouched records with claims: live by another reviewer, expired, the caller's own.
    Claim.objects.create(record=r[12], stage=TA, reviewer=owner, expires_at=live)
    Claim.objects.create(
        record=r[13], stage=TA, reviewer=viewer, expires_at=live, walked_to=by_key[3].pk
    )
    # Full text: passed records (and those found by other methods); one not retrieved; one
    # with a vote; one included that is a report retrieved.
    for record in r[14:20]:
        state(record, TA, [(reviewer, Decision.INCLUDE), (reviewer2, Decision.MAYBE)], closed=True)
        Outcome.objects.create(
            review=review,
            record=record,
            stage=TA,
            decision=Decision.INCLUDE,
            kind=OutcomeKind.AGREEMENT,
        )
    FullTextReport.objects.create(review=review, record=r[14], status=RetrievalStatus.NOT_RETRIEVED)
    FullTextReport.objects.create(review=review, record=r[15], status=RetrievalStatus.RETRIEVED)
    state(r[16], FT, [(reviewer, Decision.INCLUDE)], closed=False)
    Claim.objects.create(record=r[17], stage=FT, reviewer=reviewer2, expires_at=live)
    # Three votes (every slot taken), and a second walk position further along the shuffle.
    state(
        r[23],
        TA,
        [(reviewer, Decision.INCLUDE), (reviewer2, Decision.INCLUDE), (owner, Decision.MAYBE)],
        closed=True,
    )
    far = by_key[8]  # the walk resumes after the furthest position: records remain after it
    Claim.objects.create(record=far, stage=TA, reviewer=reviewer, expires_at=gone, walked_to=far.pk)
    # Relevance scores for a few untouched records (and one already started).
    for n, record in enumerate([r[20], r[21], r[22], r[3]]):
        RelevanceScore.objects.create(review=review, record=record, stage=TA, score=0.9 - n / 10)
    # A re-run imported once screening had begun: untouched records (two scored, one a
    # duplicate, one passed on to full text), one started; and found by other methods.
    rerun = identification.create_search(
        review=review,
        actor=owner,
        file=upload(ris_records(8, start=100, prefix="Re-run trial"), "rerun.ris"),
        filename="rerun.ris",
        source="PubMed",
    )
    identification.run_import(search_id=rerun.pk)
    fresh = list(Record.objects.filter(search=rerun).order_by("position"))
    Search.objects.filter(pk=fresh[0].search_id).update(imported_mid_screening=True)
    Search.objects.filter(pk=other_method[0].search_id).update(imported_mid_screening=True)
    for score, record in [(0.7, fresh[0]), (0.95, fresh[1])]:
        RelevanceScore.objects.create(review=review, record=record, stage=TA, score=score)
    Record.objects.filter(pk=fresh[2].pk).update(duplicate_of=r[0], merge_kind=MergeKind.AUTO)
    state(fresh[3], TA, [(reviewer, Decision.INCLUDE)], closed=False)
    state(fresh[4], TA, [(reviewer, Decision.INCLUDE), (reviewer2, Decision.INCLUDE)], closed=True)
    Outcome.objects.create(
        review=review,
        record=fresh[4],
        stage=TA,
        decision=Decision.INCLUDE,
        kind=OutcomeKind.AGREEMENT,
    )
    return {
        "review": review,
        "elsewhere": elsewhere,
        "records": records + other_method + importing + foreign + fresh,
        "people": [owner, reviewer, reviewer2, viewer, demoted],
        "now": now,
    }


def _user(name: str) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username=name, password="x" * 12)


def _offered(record: Any) -> tuple[Any, ...]:
    """What a page shows of an offered record, and its standing, in plain values."""
    return (
        record.pk,
        record.title,
        record.authors,
        record.year,
        record.created_at,
        record.search_source,
        record.search_source_type,
        record.search_review_id,
        int(record.n_votes),
        bool(record.is_closed),
        bool(record.mine),
        int(getattr(record, "held", 0)),
    )


def _cases(world: dict[str, Any]) -> list[tuple[Review, str, Any]]:
    return [
        (review, stage, person)
        for review in (world["review"], world["elsewhere"])
        for stage in (TA, FT)
        for person in world["people"]
    ]


def test_the_roles_written_into_the_sql_are_the_roles_that_screen() -> None:
    assert sorted(SCREENER_ROLES) == ["owner", "reviewer"]


def test_held_is_its_twin(world: dict[str, Any]) -> None:
    for review, stage, person in _cases(world):
        values = {"review": review.pk, "reviewer": person.pk, "stage": stage, "now": world["now"]}
        got = [_offered(r) for r in screening_sql.records(STATEMENTS[stage]["held"], **values)]
        twin = twins.held(review=review, stage=stage, reviewer=person, now=world["now"])
        assert got == [_offered(r) for r in twin], (review.slug, stage, person.username)
    # The cases above are not vacuous: the owner holds an untouched record.
    review, owner = world["review"], world["people"][0]
    held = screening_sql.records(
        STATEMENTS[TA]["held"], review=review.pk, reviewer=owner.pk, stage=TA, now=world["now"]
    )
    assert [r.pk for r in held] == [world["records"][12].pk]


def test_reread_is_its_twin_for_every_record(world: dict[str, Any]) -> None:
    for _, stage, person in _cases(world)[:10]:
        for record in world["records"]:
            values = {"reviewer": person.pk, "stage": stage, "now": world["now"]}
            (got,) = screening_sql.records(STATEMENTS[stage]["reread"], record=record.pk, **values)
            (twin,) = twins.reread(
                record_id=record.pk, stage=stage, reviewer=person, now=world["now"]
            )
            assert _offered(got) == _offered(twin), (stage, person.username, record.pk)


@pytest.mark.parametrize(
    "walk", ["started", "fresh", "fresh_ranked", "ranked", "resumed", "untouched"]
)
@pytest.mark.parametrize("needed", [1, 2, 3])
def test_each_walk_offers_the_records_of_its_twin_in_the_same_order(
    world: dict[str, Any], walk: str, needed: int
) -> None:
    """Walked to the end, skipping each record found (as ``next`` skips one taken under
    it): the whole order, and the statement with a skip list, not only its first row."""
    seen_any = False
    for review, stage, person in _cases(world):
        twin_walks = dict(
            twins.walks(
                review=review, reviewer=person, now=world["now"], stage=stage, needed=needed
            )
        )
        values = {"review": review.pk, "reviewer": person.pk, "stage": stage, "now": world["now"]}
        got: list[int] = []
        expected: list[int] = []
        with transaction.atomic():
            while True:
                found = screening_sql.rows(
                    STATEMENTS[stage][walk], skip=got, needed=needed, **values
                )
                if not found:
                    break
                got.append(int(found[0][0]))
            candidates = twin_walks[walk]()
            expected = [int(pk) for pk in candidates.values_list("pk", flat=True)]
        assert got == expected, (walk, review.slug, stage, person.username, needed)
        seen_any = seen_any or bool(got)
    # Not vacuous: each walk finds records (started ones only when a record needs 2 or 3).
    assert seen_any == (walk != "started" or needed > 1), (walk, needed)


def test_probe_is_its_twin(world: dict[str, Any]) -> None:
    review, reviewer = world["review"], world["people"][1]
    ScreeningAssignment.objects.create(
        review=review, record=world["records"][30], stage=TA, reviewer=reviewer
    )
    found = set()
    for review, stage, person in _cases(world):
        values = {"review": review.pk, "reviewer": person.pk, "stage": stage, "now": world["now"]}
        ((assigned, fresh),) = screening_sql.rows(STATEMENTS[stage]["probe"], **values)
        got = (bool(assigned), bool(fresh))
        assert got == twins.probe(review=review, reviewer=person, stage=stage), (
            review.slug,
            stage,
            person.username,
        )
        found.add((review.slug, stage, got))
    # Not vacuous: fresh records at both stages of the review, none elsewhere; assignments.
    assert (world["review"].slug, TA, (True, True)) in found
    assert (world["review"].slug, FT, (False, True)) in found
    assert (world["elsewhere"].slug, TA, (False, False)) in found


def test_vote_facts_are_their_twin_for_every_record(world: dict[str, Any]) -> None:
    missing = max(r.pk for r in world["records"]) + 1000
    for review, stage, person in _cases(world):
        for record_id in [r.pk for r in world["records"]] + [missing]:
            with transaction.atomic():
                screening_sql.rows(LOCK_RECORD, record=record_id)
                got = screening_sql.rows(
                    STATEMENTS[stage]["vote_facts"],
                    record=record_id,
                    review=review.pk,
                    reviewer=person.pk,
                    stage=stage,
                )
                twin = list(
                    twins.vote_facts(
                        review=review, record_id=record_id, reviewer=person, stage=stage
                    )
                )
            assert _facts(got) == _facts(twin), (review.slug, stage, person.username, record_id)


def _facts(found: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The facts as plain values: SQLite gives its booleans as 0 and 1."""
    kinds = dict(zip(VOTE_FACTS, (bool, bool, int, bool, bool, int, _id, bool), strict=True))
    return [
        tuple(kinds[name](value) for name, value in zip(VOTE_FACTS, row, strict=True))
        for row in found
    ]


def _id(value: Any) -> int | None:
    return None if value is None else int(value)
