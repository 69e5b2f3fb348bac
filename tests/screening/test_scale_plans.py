"""Every query a hot path runs reads the large tables through an index scoped by review,
checked with ``EXPLAIN (FORMAT JSON)`` on PostgreSQL (#25).

How the planner is made to plan as it would in a hosted database: instead of faking
statistics (``pg_class.reltuples`` cannot be set by a migration or a test honestly, and
``ALTER TABLE … SET STATISTICS`` only changes the sample size), the test fills the
database the way a hosted installation is filled — many other reviews, sizes skewed (one
of 24,000 records, a few of several thousand, most of a few hundred), abstracts of about
a thousand characters so that a table's pages are as wide as real ones, and votes,
outcomes, screening states, duplicate pairs and audit rows in the proportions of a
screened review — then runs ``ANALYZE``. The review under test holds 3,000 records, a
few per cent of the database, as most reviews of a 2-million-record installation hold
well under one per cent: a sequential scan of a large table costs the planner more than
the review's index there, as it does at scale, so a plan that still chooses one (or an
index walked without a review condition) is a missing index or a query that lost its
review filter, and fails here rather than on a customer's server.

The hot paths are driven through the real views (API and pages) while every query is
captured; each captured ``SELECT``, ``UPDATE`` or ``DELETE`` is then explained.

Limits, measured: data of this size does not reproduce every plan of a 2-million-record
database. There, the records list walked ``record_unique_position`` over every review's
records and the duplicate queue read every review's pairs, while here both plans were
already scoped (they stayed so with ``0027_scale_indexes``'s indexes dropped). So
``bench/scale.py`` runs ``explain_all`` over the same paths on its large database as well;
this test keeps a bad plan that shows at moderate size out of CI.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import needs_postgresql

pytestmark = pytest.mark.django_db

STAGE = "title-abstract"
# Other reviews: one large, a few medium, many small (a skewed distribution, as real ones).
OTHER_SIZES = [24_000, 8_000, 6_000, 4_000, 3_000, 2_000, 2_000] + [600] * 20 + [200] * 10
TARGET_SIZE = 3_000
SCREENED = 0.6  # share of each review's records with both votes and an outcome
PAIR_EVERY = 20  # one duplicate pair per twenty records


def _table(model: Any) -> str:
    return str(model._meta.db_table)


LARGE = {
    "screening_record",
    "screening_vote",
    "screening_outcome",
    "screening_screeningstate",
    "screening_duplicatepair",
    "screening_conflict",
    "reviews_auditevent",
}


def _insert_series(model: Any, count_sql: str, exprs: dict[str, str]) -> None:
    """``INSERT INTO <model's table> SELECT … FROM <rows of count_sql>``: columns in
    ``exprs`` take the SQL given (``g`` is the row's number, ``src`` the source row when
    ``count_sql`` is a query); every other column its field's default, so a column another
    migration adds needs no change here."""
    columns: list[str] = []
    values: list[str] = []
    defaults: list[Any] = []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.column in exprs:
            values.append(exprs[field.column].replace("%", "%%"))
            continue
        if not field.has_default() and not field.null and not field.empty_strings_allowed:
            raise AssertionError(f"{_table(model)}.{field.column}: no default, give it an expr")
        values.append("%s")
        defaults.append(field.get_db_prep_save(field.get_default(), connection))
    sql = (
        f"INSERT INTO {_table(model)} ({', '.join(columns)}) "  # noqa: S608 (model names)
        f"SELECT {', '.join(values)} FROM {count_sql.replace('%', '%%')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, defaults)


def fill_review(review: Any, search: Any, size: int, voters: list[Any]) -> None:
    """``size`` records in ``search``; the first ``SCREENED`` of them with a vote of each
    of ``voters``, a screening state and an outcome; a pair per ``PAIR_EVERY`` records; an
    audit row per vote."""
    from reviewflow.reviews.models import AuditEvent
    from screening.models import (
        Conflict,
        DuplicatePair,
        Outcome,
        Record,
        ScreeningState,
        Vote,
    )

    _insert_series(
        Record,
        f"generate_series(1, {int(size)}) AS g",
        {
            "review_id": str(review.pk),
            "search_id": str(search.pk),
            "position": "g",
            "line": "1 + (g - 1) * 24",
            "source_record_id": "g::text",
            "title": "'Effect of intervention ' || g || ' on outcomes in adults: a trial'",
            "abstract": "repeat(md5(g::text) || ' ', 30)",
            "authors": """'["Smith, A.", "Lee, B.", "Patel, C."]'::jsonb""",
            "year": "(1995 + g % 30)",
            "journal": "'BMJ'",
            "doi": f"'10.1000/{int(review.pk)}.' || g",
            "pmid": f"({int(review.pk)} * 1000000 + g)::text",
        },
    )
    # A quarter of a review's records are duplicates (merged before screening began).
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table(Record)} SET duplicate_of_id = id - 1, merge_kind = 'auto' "  # noqa: S608
            f"WHERE search_id = {int(search.pk)} AND position % 4 = 2"
        )
    screened = f"""(SELECT r.id, r.position FROM {_table(Record)} r
                    WHERE r.review_id = {review.pk} AND r.duplicate_of_id IS NULL
                    AND r.position <= {int(size * SCREENED)}) AS src"""  # noqa: S608
    for slot, voter in enumerate(voters, start=1):
        _insert_series(
            Vote,
            screened,
            {
                "review_id": str(review.pk),
                "record_id": "src.id",
                "stage": f"'{STAGE}'",
                "reviewer_id": str(voter.pk),
                "slot": str(slot),
                "decision": "CASE WHEN src.position % 5 = 0 THEN 'include' ELSE 'exclude' END",
            },
        )
    _insert_series(
        ScreeningState,
        screened,
        {
            "review_id": str(review.pk),
            "record_id": "src.id",
            "stage": f"'{STAGE}'",
            "votes": str(len(voters)),
            "closed": "true",
        },
    )
    # One screened record in ten was a disagreement: a conflict, resolved or not.
    _insert_series(
        Conflict,
        f"{screened[:-8]} AND r.position % 10 = 3) AS src",
        {"review_id": str(review.pk), "record_id": "src.id", "stage": f"'{STAGE}'"},
    )
    _insert_series(
        Outcome,
        f"{screened[:-8]} AND r.position % 10 <> 3) AS src",
        {
            "review_id": str(review.pk),
            "record_id": "src.id",
            "stage": f"'{STAGE}'",
            "decision": "CASE WHEN src.position % 5 = 0 THEN 'include' ELSE 'exclude' END",
            "kind": "'agreement'",
        },
    )
    _insert_series(
        DuplicatePair,
        f"""(SELECT a.id AS a_id, b.id AS b_id, a.position FROM {_table(Record)} a
             JOIN {_table(Record)} b ON b.search_id = a.search_id AND b.position = a.position + 1
             WHERE a.search_id = {search.pk} AND a.position % {PAIR_EVERY} = 0) AS src""",  # noqa: S608
        {
            "review_id": str(review.pk),
            "record_a_id": "src.a_id",
            "record_b_id": "src.b_id",
            "score": "0.5 + (src.position % 40) / 100.0",
            # People have decided most pairs; three in ten wait in the queue.
            "decision": "CASE WHEN src.position % 100 < 30 THEN 'pending' ELSE 'confirmed' END",
        },
    )
    # Audit rows as the app writes them: each vote by its voter, each settled record a
    # system event (no actor). System events are then a third of the table, as in a real
    # installation; the bench once had none, and the planner read them across reviews.
    _insert_series(
        AuditEvent,
        f"(SELECT v.id, v.reviewer_id FROM {_table(Vote)} v "  # noqa: S608
        f"WHERE v.review_id = {review.pk}) AS src",
        {
            "review_id": str(review.pk),
            "actor_id": "src.reviewer_id",
            "action": "'vote.cast'",
            "object_type": "'vote'",
            "object_id": "src.id",
        },
    )
    for model, action in ((Outcome, "outcome.agreed"), (Conflict, "conflict.opened")):
        _insert_series(
            AuditEvent,
            f"(SELECT x.record_id FROM {_table(model)} x WHERE x.review_id = {review.pk}) AS src",  # noqa: S608
            {
                "review_id": str(review.pk),
                "action": f"'{action}'",
                "object_type": "'record'",
                "object_id": "src.record_id",
            },
        )


@pytest.fixture(scope="module")
def hosted_data(django_db_setup: None, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    """The review under test among many others in one database, analysed: built once for
    the module (it takes several seconds), committed, and removed afterwards."""
    from django.contrib.auth.models import User

    from reviewflow.reviews import services
    from reviewflow.reviews.models import Review, Role
    from screening.models import Search, SearchStatus

    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            yield {}
            return
        owner = User.objects.create_user("scale-owner")
        reviewer = User.objects.create_user("scale-reviewer")
        voters = [User.objects.create_user(f"scale-earlier-{n}") for n in (1, 2)]
        try:
            for n, size in enumerate(OTHER_SIZES):
                other = services.create_review(
                    title=f"Other review {n}", slug=f"scale-other-{n}", owner=owner
                )
                search = Search.objects.create(
                    review=other, source="MEDLINE", filename="o.ris", status=SearchStatus.DONE
                )
                fill_review(other, search, size, voters)
            review = services.create_review(title="Review under test", slug="scale", owner=owner)
            services.add_member(review=review, actor=owner, user=reviewer, role=Role.REVIEWER)
            search = Search.objects.create(
                review=review, source="MEDLINE", filename="m.ris", status=SearchStatus.DONE
            )
            fill_review(review, search, TARGET_SIZE, voters)
            with connection.cursor() as cursor:
                for table in sorted(LARGE):
                    cursor.execute(f"ANALYZE {table}")
            yield {"review": review, "owner": owner, "reviewer": reviewer}
        finally:
            with connection.cursor() as cursor:
                # Everything of a review hangs from it; the users' rows go after.
                cursor.execute(f"TRUNCATE {_table(Review)} CASCADE")  # noqa: S608
            User.objects.filter(username__startswith="scale-").delete()


@pytest.fixture
def hosted(hosted_data: dict[str, Any]) -> dict[str, Any]:
    needs_postgresql()
    return hosted_data


# ---------------------------------------------------------------- plan reading


def _index_tables() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, tablename FROM pg_indexes WHERE schemaname = 'public'")
        return dict(cursor.fetchall())


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


# A condition that looks up rows by key (``id = …``, ``record_id = ANY (…)``) is scoped by
# the review-scoped step that found the key; a range or no condition at all walks the
# whole index, every review's rows.
_RANGE = re.compile(r"[<>]|~~")


def plan_problems(plan: dict[str, Any], index_tables: dict[str, str]) -> list[str]:
    """What in ``plan`` reads a large table other than through the review."""
    problems = []
    for node in _nodes(plan):
        kind = node["Node Type"]
        table = node.get("Relation Name") or index_tables.get(node.get("Index Name", ""), "")
        if table not in LARGE:
            continue
        if kind == "Seq Scan":
            problems.append(f"sequential scan of {table}")
        elif kind in ("Index Scan", "Index Only Scan", "Bitmap Index Scan"):
            cond = node.get("Index Cond", "")
            scoped = "review_id" in cond or (cond and "=" in cond and not _RANGE.search(cond))
            if not scoped:
                problems.append(
                    f"{kind} of {table} by {node['Index Name']} not scoped by review"
                    f" (Index Cond: {cond or 'none'}; Filter: {node.get('Filter', 'none')})"
                )
    return problems


def explain_all(queries: list[dict[str, str]], *, index_paths_only: bool = False) -> list[str]:
    """Each query's plan problems. ``index_paths_only`` plans with sequential scans priced
    out (``enable_seqscan = off``): at the test's size a small table's sequential scan is
    the planner's right choice, and which one it makes varies with ANALYZE's sample, so the
    test asks the question that holds at any size, whether a path through an index scoped
    by review exists (a sequential scan still shows where none does). ``bench/scale.py``
    plans its 2-million-record database as it is."""
    index_tables = _index_tables()
    failures = []
    seen = set()
    with connection.cursor() as cursor:
        if index_paths_only:
            cursor.execute("SET enable_seqscan = off")
        for query in queries:
            sql = query["sql"]
            if not re.match(r"\s*(SELECT|UPDATE|DELETE|WITH)\b", sql, re.IGNORECASE):
                continue
            if sql in seen or not any(t in sql for t in LARGE):
                continue
            seen.add(sql)
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
            (doc,) = cursor.fetchone()
            for problem in plan_problems(doc[0]["Plan"], index_tables):
                failures.append(f"{problem}\n    in: {sql[:400]}")
        if index_paths_only:
            cursor.execute("RESET enable_seqscan")
    return failures


def _capture(run: Callable[[], None]) -> list[dict[str, str]]:
    with CaptureQueriesContext(connection) as ctx:
        run()
    return list(ctx.captured_queries)


# ---------------------------------------------------------------- the hot paths


def _next_and_vote(client: Any, slug: str) -> None:
    base = f"/api/v1/reviews/{slug}/screening/{STAGE}"
    response = client.get(f"{base}/next/")
    assert response.status_code == 200, response.content[:300]
    record = response.json()["id"]
    response = client.post(
        f"{base}/votes/", {"record": record, "decision": "include"}, content_type="application/json"
    )
    assert response.status_code == 201, response.content[:300]


def _page(client: Any, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    if response.streaming:
        b"".join(response.streaming_content)


def _follow_next(client: Any, url: str) -> None:
    """``url``, then the page its "next" link gives (a keyset cursor, #25)."""
    response = client.get(url)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    if url.startswith("/api/"):
        following = response.json()["next"]
    else:
        found = re.search(r'<a href="(\?[^"]*)" rel="next">', response.content.decode())
        assert found, f"{url}: no next link"
        following = url.split("?")[0] + found.group(1).replace("&amp;", "&")
    _page(client, following)


HOT_PATHS: dict[str, Callable[[Any, str], None]] = {
    "next + vote (API)": _next_and_vote,
    "screening page": lambda c, s: _page(c, f"/r/{s}/screen/{STAGE}/"),
    "records list page": lambda c, s: _page(c, f"/r/{s}/records/"),
    "records list, last page": lambda c, s: _page(c, f"/r/{s}/records/?page=60"),
    "records list (API)": lambda c, s: _page(c, f"/api/v1/reviews/{s}/records/"),
    "records list (API), deep page": lambda c, s: _page(c, f"/api/v1/reviews/{s}/records/?page=25"),
    "audit trail page": lambda c, s: _page(c, f"/r/{s}/audit/"),
    "audit trail, deep page": lambda c, s: _page(c, f"/r/{s}/audit/?page=40"),
    # Pages read by key (#25): the page after a deep one, by its cursor.
    "records list, deep page by cursor": lambda c, s: _follow_next(c, f"/r/{s}/records/?page=30"),
    "records list (API), deep page by cursor": lambda c, s: _follow_next(
        c, f"/api/v1/reviews/{s}/records/?page=30"
    ),
    "audit trail, deep page by cursor": lambda c, s: _follow_next(c, f"/r/{s}/audit/?page=39"),
    "audit trail, system events": lambda c, s: _page(c, f"/r/{s}/audit/?person=system"),
    "screening history page": lambda c, s: _page(c, f"/r/{s}/screen/{STAGE}/history/"),
    "export of votes (CSV)": lambda c, s: _page(c, f"/r/{s}/exports/votes.csv"),
    "PRISMA (API)": lambda c, s: _page(c, f"/api/v1/reviews/{s}/prisma/"),
    "PRISMA page": lambda c, s: _page(c, f"/r/{s}/prisma/"),
    "duplicate pairs page": lambda c, s: _page(c, f"/r/{s}/duplicates/"),
    "duplicate pairs (API)": lambda c, s: _page(c, f"/api/v1/reviews/{s}/duplicates/"),
    "duplicate pairs (API), deep page by cursor": lambda c, s: _follow_next(
        c, f"/api/v1/reviews/{s}/duplicates/?decision=all&page=2"
    ),
    "open conflicts (API)": lambda c, s: _page(c, f"/api/v1/reviews/{s}/conflicts/"),
    "export of all records (CSV)": lambda c, s: _page(c, f"/r/{s}/exports/records-all.csv"),
    "export of included records (RIS)": lambda c, s: _page(
        c, f"/r/{s}/exports/records-ta-included.ris"
    ),
}


# Hot paths with a known unscoped plan, each xfail(strict) until mended: when one is
# mended, the test says so and its entry goes. None today. (At 2 million records the audit
# page's "next system event" was read through the actor's index, ``actor IS NULL``, over
# every review's system events; ``reviews/0007`` indexes set actors only.)
KNOWN: dict[str, str] = {}  # hot paths with a known unscoped plan: xfail(strict) until mended


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=KNOWN[p])) if p in KNOWN else p
        for p in HOT_PATHS
    ],
)
def test_hot_path_reads_large_tables_through_the_review(
    path: str, hosted: dict[str, Any], client_for: Callable[[Any], Any]
) -> None:
    screening = path.startswith("next") or path.startswith("screening")
    client = client_for(hosted["reviewer"] if screening else hosted["owner"])
    queries = _capture(lambda: HOT_PATHS[path](client, hosted["review"].slug))
    assert any(any(t in q["sql"] for t in LARGE) for q in queries), "no query read a large table"
    failures = explain_all(queries, index_paths_only=True)
    assert not failures, f"{path}:\n" + "\n".join(failures)


def test_the_check_fails_a_query_without_its_review(hosted: dict[str, Any]) -> None:
    """The checker is not blind: a list of records ordered by id with no review condition,
    and one filtered by a column no index covers, are both reported."""
    from screening.models import Record

    qs_all = Record.objects.order_by("id")[:50]
    failures = explain_all(
        [{"sql": str(qs_all.query)}, {"sql": "SELECT * FROM screening_record WHERE volume = '7'"}],
        index_paths_only=True,  # as the hot paths are checked: a missing index still shows
    )
    assert len(failures) == 2, failures
    assert "not scoped by review" in failures[0] or "sequential scan" in failures[0]
    assert "sequential scan of screening_record" in failures[1]
