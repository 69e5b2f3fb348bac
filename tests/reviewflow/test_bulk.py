"""The one bulk writer (``reviewflow.bulk``): rows go in exactly as given, all or none, by
``COPY`` on PostgreSQL and ``executemany`` on SQLite; set-based updates touch only the
named columns of the keyed rows. Runs on the database of the suite (PostgreSQL when
``DATABASE_URL`` is set); the PostgreSQL-only tests say so."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reviewflow import bulk
from reviewflow.reviews.models import AuditEvent
from tests.conftest import needs_postgresql

pytestmark = pytest.mark.django_db

COLUMNS = ("review_id", "action", "target", "object_type", "object_id", "after", "created_at")
ACTION = "bulk.test"


def event_rows(review: Any, n: int) -> Iterator[tuple[Any, ...]]:
    now = timezone.now()
    for i in range(n):
        yield (review.pk, ACTION, f"row {i}", "row", i, json.dumps({"n": i, "name": "Müller"}), now)


def written() -> Any:
    return AuditEvent.objects.filter(action=ACTION).order_by("object_id")


# ------------------------------------------------------------------------- inserts


def test_insert_rows_writes_every_row_as_given_and_counts_them(review):
    n = 2 * bulk.CHUNK_ROWS + 7

    assert bulk.insert_rows(AuditEvent, COLUMNS, event_rows(review, n)) == n

    assert written().count() == n
    last = written().last()
    assert (last.review_id, last.target, last.object_id) == (review.pk, f"row {n - 1}", n - 1)
    assert last.after == {"n": n - 1, "name": "Müller"}  # JSON text in, the value out


def test_insert_rows_keeps_text_exactly_and_writes_none_as_null(review):
    text = "Tab\there, new\nline, back\\slash, quote ' and \" , émoji 🧪"
    now = timezone.now()
    rows = [
        (review.pk, ACTION, text, "", None, None, now),
        (review.pk, ACTION, "", "", 1, "null", now),
    ]

    bulk.insert_rows(AuditEvent, COLUMNS, rows)

    first, second = written().order_by("id")
    assert (first.target, first.object_id, first.after) == (text, None, None)
    assert (second.target, second.object_id, second.after) == ("", 1, None)


def test_insert_rows_of_nothing_writes_nothing(review):
    assert bulk.insert_rows(AuditEvent, COLUMNS, []) == 0
    assert not written().exists()


def test_rows_that_fail_half_way_leave_no_row(review):
    def failing() -> Iterator[tuple[Any, ...]]:
        yield from event_rows(review, bulk.CHUNK_ROWS + 10)  # one chunk is written first
        raise RuntimeError("line 212: the file broke")

    with pytest.raises(RuntimeError, match="line 212: the file broke"), transaction.atomic():
        bulk.insert_rows(AuditEvent, COLUMNS, failing())

    assert not written().exists()


def test_a_row_the_database_refuses_is_its_integrity_error_and_leaves_no_row(review):
    refused = (review.pk, None, "no action", "", 9, "{}", timezone.now())  # action: NOT NULL
    rows = [*event_rows(review, bulk.CHUNK_ROWS + 3), refused]

    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.insert_rows(AuditEvent, COLUMNS, rows)

    assert not written().exists()


# ------------------------------------------------------------------------- updates


def test_update_rows_sets_only_the_named_columns_of_the_keyed_rows(review):
    bulk.insert_rows(AuditEvent, COLUMNS, event_rows(review, 3))
    ids = list(written().values_list("id", flat=True))

    updated = bulk.update_rows(
        AuditEvent,
        ["target", "after"],
        [(ids[0], "changed", json.dumps([1, "two"])), (ids[2], "also", None)],
    )

    assert updated == 2
    rows = list(written().values_list("target", "after", "action", "object_id"))
    assert rows == [
        ("changed", [1, "two"], ACTION, 0),
        ("row 1", {"n": 1, "name": "Müller"}, ACTION, 1),
        ("also", None, ACTION, 2),
    ]


def test_update_rows_of_keys_not_in_the_table_update_nothing(review):
    bulk.insert_rows(AuditEvent, COLUMNS, event_rows(review, 1))

    assert bulk.update_rows(AuditEvent, ["target"], [(10**12, "nobody")]) == 0
    assert written().get().target == "row 0"


def test_update_rows_of_nothing_runs_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert bulk.update_rows(AuditEvent, ["target"], iter([])) == 0


def test_update_rows_many_rows_twice_in_one_transaction(review):
    n = 2 * bulk.CHUNK_ROWS + 3
    bulk.insert_rows(AuditEvent, COLUMNS, event_rows(review, n))
    ids = list(written().values_list("id", flat=True))

    with transaction.atomic():
        assert bulk.update_rows(AuditEvent, ["object_id"], ((i, -i) for i in ids)) == n
        # The staging table of the first update is gone: the second makes its own.
        assert bulk.update_rows(AuditEvent, ["target"], ((i, "done") for i in ids)) == n

    assert set(written().values_list("target", flat=True)) == {"done"}
    assert sorted(written().values_list("object_id", flat=True)) == sorted(-i for i in ids)


def test_update_rows_by_another_unique_key(make_user):
    make_user("ada")
    make_user("grace")
    from django.contrib.auth import get_user_model

    users = get_user_model().objects

    updated = bulk.update_rows(
        get_user_model(), ["email"], [("grace", "grace@example.net")], key="username"
    )

    assert updated == 1
    assert dict(users.values_list("username", "email")) == {
        "ada": "ada@example.org",
        "grace": "grace@example.net",
    }


# ------------------------------------------------------------------ PostgreSQL only


def test_postgresql_streams_rows_into_one_copy_while_they_are_read(review):
    needs_postgresql()
    from psycopg.pq import TransactionStatus

    states = []

    def watched() -> Iterator[tuple[Any, ...]]:
        for row in event_rows(review, 3):
            # A command (the COPY) is running on the connection while each row is made.
            states.append(connection.connection.info.transaction_status)
            yield row

    with CaptureQueriesContext(connection) as queries:
        assert bulk.insert_rows(AuditEvent, COLUMNS, watched()) == 3

    assert states == [TransactionStatus.ACTIVE] * 3
    assert not [q for q in queries if "INSERT" in q["sql"]]
    assert written().count() == 3


def test_postgresql_long_values_keep_their_columns_compression(review):
    """Record columns ``raw`` and ``abstract`` use lz4 where the server has it (migration
    0008): a COPY into the table compresses with it, and so does an update through the
    staging table (an UPDATE would otherwise keep the staging table's compression)."""
    needs_postgresql()
    from screening.importers import ParsedRecord
    from screening.importers.pipeline import record_values
    from screening.models import Record, Search
    from screening.services.identification import RECORD_COLUMNS

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        expected = "lz4" if cursor.fetchone()[0] else "pglz"
    search = Search.objects.create(review=review, source="X", filename="x.ris", file="x")
    long_text = "Mesenchymal stromal cells lowered HbA1c in every arm. " * 200
    records = [
        ParsedRecord(line=1, record_id="1", raw={"AB": [long_text]}, title="A", abstract=long_text),
        ParsedRecord(line=9, record_id="2", raw={}, title="B"),
    ]
    now = timezone.now()
    rows = [
        (review.pk, search.pk, n, *record_values(record, n), now)
        for n, record in enumerate(records, start=1)
    ]

    bulk.insert_rows(Record, RECORD_COLUMNS, rows)
    second = Record.objects.get(search=search, position=2)
    bulk.update_rows(Record, ["abstract"], [(second.pk, long_text)])

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT position, pg_column_compression(abstract), pg_column_compression(raw) "
            "FROM screening_record WHERE search_id = %s ORDER BY position",
            [search.pk],
        )
        assert cursor.fetchall() == [(1, expected, expected), (2, expected, None)]
