"""Named SQL for the two requests a reviewer makes all day long: ``next`` and a vote.

Built with the ORM, these statements cost more CPU to build and compile (3–6 ms each: nested
subqueries for a record's standing, its eligibility and other reviewers' claims) than the
database spends running them (index lookups), and a reviewer's ``next`` + vote needs six of
them. So they are written here once, as SQL with named parameters (``%(review)s``), and run
through Django's cursor as they are: nothing is built per request. The constants of the
schema (``'done'``, ``'automation'``, the roles that screen) are written into the text, so
PostgreSQL can use the partial indexes that name them.

Each statement has an ORM twin in ``tests/screening/test_screening_sql.py``, the queryset
it replaced, which must return the same rows on SQLite and on PostgreSQL for records in
every state a record can be in; a change to one without the other fails there.

Aliases: ``r`` the record, ``s`` its search. Statements that pick a record lock it
(``FOR UPDATE … SKIP LOCKED`` on PostgreSQL; SQLite has one writer at a time and no row
locks).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from django.db import connection

from screening.models import Record, Stage

# The records a stage screens (``selectors.screening.eligible_records``), as a condition on
# ``r`` and ``s``: at title/abstract the unique records of imported searches, less those
# found by other methods (they go straight to full text) and those an automation tool
# excluded; at full text, those that passed title/abstract or were found by other methods,
# less reports marked not retrieved and those an automation tool excluded (#24).
_ELIGIBLE = {
    Stage.TITLE_ABSTRACT: """
        r.review_id = %(review)s
        AND s.status = 'done'
        AND r.duplicate_of_id IS NULL
        AND s.source_type <> 'other'
        AND NOT EXISTS (
            SELECT 1 FROM screening_outcome o
            WHERE o.record_id = r.id AND o.stage = 'title-abstract' AND o.kind = 'automation'
        )""",
    Stage.FULL_TEXT: """
        r.review_id = %(review)s
        AND s.status = 'done'
        AND r.duplicate_of_id IS NULL
        AND (
            r.id IN (
                SELECT o.record_id FROM screening_outcome o
                WHERE o.review_id = %(review)s AND o.stage = 'title-abstract'
                    AND o.decision = 'include'
            )
            OR s.source_type = 'other'
        )
        AND NOT EXISTS (
            SELECT 1 FROM screening_fulltextreport ft
            WHERE ft.record_id = r.id AND ft.status = 'not_retrieved'
        )
        AND NOT EXISTS (
            SELECT 1 FROM screening_outcome o
            WHERE o.record_id = r.id AND o.stage = 'full-text' AND o.kind = 'automation'
        )""",
}


# The vote slot of the record ``alias`` kept for a reviewer who took their vote back after
# its votes were visible (``ReservedVote``), while that reviewer still screens in the review.
def _kept(alias: str) -> str:
    return f"""
        screening_reservedvote k
        WHERE k.record_id = {alias}.id AND k.stage = %(stage)s
            AND EXISTS (
                SELECT 1 FROM reviews_membership m
                WHERE m.review_id = k.review_id AND m.user_id = k.reviewer_id
                    AND m.role IN ('owner', 'reviewer')
            )"""


# How many of r's open votes others hold: live claims of reviewers who have not voted on
# it, and a slot kept for another reviewer.
_HELD_BY_OTHERS = f"""
    (
        SELECT COUNT(*) FROM screening_claim c
        WHERE c.record_id = r.id AND c.stage = %(stage)s AND c.expires_at > %(now)s
            AND c.reviewer_id <> %(reviewer)s
            AND NOT EXISTS (
                SELECT 1 FROM screening_vote v
                WHERE v.record_id = c.record_id AND v.reviewer_id = c.reviewer_id
                    AND v.stage = %(stage)s
            )
    )
    + CASE WHEN EXISTS (SELECT 1 FROM {_kept("r")} AND k.reviewer_id <> %(reviewer)s)
        THEN 1 ELSE 0 END"""

# Whether the reviewer voted on r.
_MINE = """
    EXISTS (
        SELECT 1 FROM screening_vote v
        WHERE v.record_id = r.id AND v.stage = %(stage)s AND v.reviewer_id = %(reviewer)s
    )"""

_NOT_STARTED = """
    NOT EXISTS (
        SELECT 1 FROM screening_screeningstate st
        WHERE st.record_id = r.id AND st.stage = %(stage)s
    )"""

# Every column of a record but ``raw`` (a page never shows it), its search's, and its
# standing at the stage.
_OFFERED = (
    ", ".join(
        f'r."{field.column}"' for field in Record._meta.concrete_fields if field.name != "raw"
    )
    + f""",
    s.review_id AS search_review_id, s.source AS search_source,
    s.source_type AS search_source_type,
    COALESCE(st.votes, 0) AS n_votes, COALESCE(st.closed, FALSE) AS is_closed,
    {_MINE} AS mine"""
)

_FROM_OFFERED = """
    FROM screening_record r
    JOIN screening_search s ON s.id = r.search_id
    LEFT JOIN screening_screeningstate st ON st.record_id = r.id AND st.stage = %(stage)s"""

# The walks of ``next``, each picking one record to lock. A record taken under the walker
# is skipped (``skip``, a JSON list of ids) on the next try.
_SKIP = {
    "postgresql": """
        AND r.id NOT IN (SELECT value::bigint FROM json_array_elements_text(%(skip)s::json))""",
    "sqlite": "AND r.id NOT IN (SELECT value FROM json_each(%(skip)s))",
}

_SHUFFLE = "MOD(r.id * 7919, 10007)"  # the fixed shuffle; index record_screening_order

# Records of a search imported once the review's screening had begun.
_FRESH = "s.imported_mid_screening = TRUE"


@dataclass(frozen=True)
class Statement:
    """One named statement; ``lock`` the alias of the row it locks, if it locks one."""

    name: str
    text: str
    lock: str = ""
    skip_locked: bool = False

    def sql(self, vendor: str, *, skipping: bool = False) -> str:
        """The text for ``vendor``, composed once per process (it runs on every request)."""
        return _composed(self, vendor, skipping)


@cache
def _composed(statement: Statement, vendor: str, skipping: bool) -> str:
    skip = _SKIP.get(vendor, _SKIP["sqlite"]) if skipping else ""
    text = statement.text.replace("{skip}", skip)
    if statement.lock and vendor == "postgresql":
        text += f"\nFOR UPDATE OF {statement.lock}"
        text += " SKIP LOCKED" if statement.skip_locked else ""
    return text


def _walk(name: str, stage: str, body: str) -> Statement:
    return Statement(f"walk.{name}.{stage}", body, lock="r", skip_locked=True)


def _assigned(eligible: str, after: str) -> str:
    # The reviewer's own vote is checked first: it is what passes over the records of
    # their work already done.
    return f"""SELECT r.id FROM screening_screeningassignment a
            JOIN screening_record r ON r.id = a.record_id
            JOIN screening_search s ON s.id = r.search_id
            LEFT JOIN screening_screeningstate st
                ON st.record_id = r.id AND st.stage = %(stage)s
            WHERE a.review_id = %(review)s AND a.stage = %(stage)s
                AND a.reviewer_id = %(reviewer)s {after}
                AND NOT {_MINE}
                AND NOT COALESCE(st.closed, FALSE) AND COALESCE(st.votes, 0) < %(needed)s
                AND {eligible}
                AND {_HELD_BY_OTHERS} < %(needed)s - COALESCE(st.votes, 0)
                {{skip}}
            ORDER BY a.id
            LIMIT 1"""


def _statements(stage: str) -> dict[str, Statement]:
    eligible = _ELIGIBLE[Stage(stage)]
    # Constant fragments of this module only: every value is a parameter.
    return {
        # What the reviewer was offered and still holds a live claim on.
        "held": Statement(
            f"held.{stage}",
            f"""SELECT {_OFFERED} {_FROM_OFFERED}
            WHERE r.id = (
                SELECT c.record_id FROM screening_claim c
                WHERE c.reviewer_id = %(reviewer)s AND c.stage = %(stage)s
                    AND c.expires_at > %(now)s
            )
            AND {eligible}""",
        ),
        # The records an owner assigned to the reviewer (``ScreeningAssignment``) that still
        # wait for their vote, in the order they were assigned in (the stage's order of
        # records, ``services.work``), walking the index ``assignment_reviewer``:
        # ``assigned_resumed`` after the assignment of the record last offered to them,
        # ``assigned`` from the start (records passed over, and the end of their work).
        "assigned_resumed": _walk(
            "assigned_resumed",
            stage,
            _assigned(
                eligible,
                """AND a.id > (
                    SELECT ca.id FROM screening_claim c
                    JOIN screening_screeningassignment ca
                        ON ca.record_id = c.record_id AND ca.stage = c.stage
                        AND ca.reviewer_id = c.reviewer_id
                    WHERE c.reviewer_id = %(reviewer)s AND c.stage = %(stage)s
                )""",
            ),
        ),
        "assigned": _walk("assigned", stage, _assigned(eligible, "")),
        # Which walks have anything to walk, in one row: whether the reviewer has
        # assignments at all (one index probe, cheaper to plan than the two walks it spares
        # everyone who has none), and whether searches imported once screening had begun
        # (``Search.imported_mid_screening``: few, and their records found by their search)
        # still have untouched records. The records are looked for search by search, in
        # their search's order (index record_unique_position; ``OFFSET 0`` keeps PostgreSQL
        # from turning it into a join): as a join, a review alone in its database had its
        # 100,000 records scanned at every ``next`` (250 ms), the planner expecting all of
        # them in any one search.
        "probe": Statement(
            f"probe.{stage}",
            f"""SELECT
                EXISTS (
                    SELECT 1 FROM screening_screeningassignment a
                    WHERE a.review_id = %(review)s AND a.stage = %(stage)s
                        AND a.reviewer_id = %(reviewer)s
                ) AS assigned,
                EXISTS (
                    SELECT 1 FROM screening_search s
                    WHERE s.review_id = %(review)s AND {_FRESH}
                        AND EXISTS (
                            SELECT 1 FROM screening_record r
                            WHERE r.search_id = s.id AND {eligible} AND {_NOT_STARTED}
                            ORDER BY r.position
                            LIMIT 1 OFFSET 0
                        )
                ) AS fresh""",
        ),
        # Records that have votes and wait for more, most votes first (pairs complete).
        "started": _walk(
            "started",
            stage,
            f"""SELECT r.id FROM screening_record r
            JOIN screening_search s ON s.id = r.search_id
            JOIN screening_screeningstate st ON st.record_id = r.id AND st.stage = %(stage)s
            WHERE {eligible}
                AND st.review_id = %(review)s AND NOT st.closed AND st.votes < %(needed)s
                AND NOT {_MINE}
                AND {_HELD_BY_OTHERS} < %(needed)s - st.votes
                {{skip}}
            ORDER BY st.votes DESC, {_SHUFFLE}, r.id
            LIMIT 1""",
        ),
        # Untouched records new to the review since its screening began (a re-run, an
        # update round's search), ahead of the older ones: in the shuffle, or for "most
        # relevant first" by relevance score (those not scored yet following in the shuffle).
        "fresh": _walk(
            "fresh",
            stage,
            f"""SELECT r.id FROM screening_record r
            JOIN screening_search s ON s.id = r.search_id
            WHERE {_FRESH} AND {eligible} AND {_NOT_STARTED} {{skip}}
            ORDER BY {_SHUFFLE}, r.id
            LIMIT 1""",
        ),
        "fresh_ranked": _walk(
            "fresh_ranked",
            stage,
            f"""SELECT r.id FROM screening_record r
            JOIN screening_search s ON s.id = r.search_id
            LEFT JOIN screening_relevancescore rs
                ON rs.record_id = r.id AND rs.stage = %(stage)s AND rs.review_id = %(review)s
            WHERE {_FRESH} AND {eligible} AND {_NOT_STARTED} {{skip}}
            ORDER BY CASE WHEN rs.score IS NULL THEN 1 ELSE 0 END, rs.score DESC,
                {_SHUFFLE}, r.id
            LIMIT 1""",
        ),
        # "Most relevant first": untouched records by relevance score.
        "ranked": _walk(
            "ranked",
            stage,
            f"""SELECT r.id FROM screening_record r
            JOIN screening_search s ON s.id = r.search_id
            JOIN screening_relevancescore rs ON rs.record_id = r.id AND rs.stage = %(stage)s
            WHERE {eligible} AND rs.review_id = %(review)s AND {_NOT_STARTED} {{skip}}
            ORDER BY rs.score DESC, r.id
            LIMIT 1""",
        ),
        # Untouched records in the shuffle, from just after the furthest one any reviewer
        # was offered from this walk (the records before it nearly all have votes).
        "resumed": _walk(
            "resumed",
            stage,
            f"""WITH last AS (
                SELECT MOD(c.walked_to * 7919, 10007) AS key, c.walked_to AS id
                FROM screening_claim c JOIN screening_record cr ON cr.id = c.record_id
                WHERE cr.review_id = %(review)s AND c.stage = %(stage)s
                    AND c.walked_to IS NOT NULL
                ORDER BY 1 DESC, 2 DESC
                LIMIT 1
            )
            SELECT r.id FROM screening_record r
            JOIN screening_search s ON s.id = r.search_id
            WHERE {eligible} AND {_NOT_STARTED}
                AND {_SHUFFLE} >= (SELECT key FROM last)
                AND NOT ({_SHUFFLE} = (SELECT key FROM last) AND r.id <= (SELECT id FROM last))
                {{skip}}
            ORDER BY {_SHUFFLE}, r.id
            LIMIT 1""",
        ),
        # Untouched records in the shuffle, from the start.
        "untouched": _walk(
            "untouched",
            stage,
            f"""SELECT r.id FROM screening_record r
            JOIN screening_search s ON s.id = r.search_id
            WHERE {eligible} AND {_NOT_STARTED} {{skip}}
            ORDER BY {_SHUFFLE}, r.id
            LIMIT 1""",
        ),
        # The picked record again, under its lock, with other reviewers' hold on it.
        "reread": Statement(
            f"reread.{stage}",
            f"""SELECT {_OFFERED}, {_HELD_BY_OTHERS} AS held {_FROM_OFFERED}
            WHERE r.id = %(record)s""",
        ),
        # Everything a vote's checks need about one record of the review, locking it.
        "vote_facts": Statement(
            f"vote.facts.{stage}",
            f"""SELECT
                EXISTS (
                    SELECT 1 FROM screening_record r
                    JOIN screening_search s ON s.id = r.search_id
                    WHERE r.id = x.id AND {eligible}
                ) AS eligible,
                EXISTS (
                    SELECT 1 FROM reviews_membership m
                    WHERE m.review_id = %(review)s AND m.user_id = %(reviewer)s
                        AND m.role IN ('owner', 'reviewer')
                ) AS screener,
                COALESCE(st.votes, 0) AS n_votes,
                COALESCE(st.closed, FALSE) AS is_closed,
                EXISTS (
                    SELECT 1 FROM screening_vote v
                    WHERE v.record_id = x.id AND v.stage = %(stage)s
                        AND v.reviewer_id = %(reviewer)s
                ) AS mine,
                COALESCE((
                    SELECT SUM(CASE v.slot WHEN 1 THEN 1 WHEN 2 THEN 2 ELSE 4 END)
                    FROM screening_vote v WHERE v.record_id = x.id AND v.stage = %(stage)s
                ), 0) AS slots,
                (SELECT k.reviewer_id FROM {_kept("x")} LIMIT 1) AS kept_for,
                EXISTS (
                    SELECT 1 FROM screening_reservedvote k
                    WHERE k.record_id = x.id AND k.stage = %(stage)s
                ) AS kept_row
            FROM screening_record x
            LEFT JOIN screening_screeningstate st ON st.record_id = x.id AND st.stage = %(stage)s
            WHERE x.id = %(record)s AND x.review_id = %(review)s""",
            lock="x",
        ),
    }


STATEMENTS: dict[str, dict[str, Statement]] = {stage: _statements(stage) for stage in Stage}

# The locking statement a vote starts with: on PostgreSQL a statement that waited for a
# lock still reads the others' rows as they were when it began, so the vote's facts are
# read by a second statement, once the lock is ours.
LOCK_RECORD = Statement(
    "vote.lock", "SELECT x.id FROM screening_record x WHERE x.id = %(record)s", lock="x"
)

# The order of the facts ``vote_facts`` returns.
VOTE_FACTS = (
    "eligible", "screener", "n_votes", "is_closed", "mine", "slots", "kept_for", "kept_row"
)  # fmt: skip


def _params(values: dict[str, Any]) -> dict[str, Any]:
    now = values.get("now")
    if isinstance(now, datetime):  # as the ORM would send it (naive UTC text on SQLite)
        values["now"] = connection.ops.adapt_datetimefield_value(now)
    return values


def rows(statement: Statement, *, skip: Sequence[int] = (), **values: Any) -> list[tuple[Any, ...]]:
    """Run ``statement`` with ``values`` (and, for a walk, the ids to ``skip``) and return its
    rows as the database gives them (SQLite's booleans are 0 and 1)."""
    params = _params(dict(values))
    if skip:
        params["skip"] = json.dumps(list(skip))
    with connection.cursor() as cursor:
        cursor.execute(statement.sql(connection.vendor, skipping=bool(skip)), params)
        return list(cursor.fetchall())


def records(statement: Statement, **values: Any) -> list[Any]:
    """Run a statement that selects offered records (``held``, ``reread``): records with
    every field but ``raw`` (deferred), and their standing as attributes."""
    return list(Record.objects.raw(statement.sql(connection.vendor), _params(dict(values))))
