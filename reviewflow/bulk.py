"""The one bulk writer, for both databases: many rows written as one statement's work.

``insert_rows`` adds rows to a model's table: on PostgreSQL one ``COPY … FROM STDIN`` that
takes each row as it comes (psycopg 3's ``Copy.write_row``), so a generator that parses a
file while the server stores its records never holds a batch in memory; on SQLite one
prepared ``INSERT`` run for every row (``executemany``), a few thousand rows at a time.
``update_rows`` sets columns of many rows by key: the rows go into a temporary table the
same way, then one ``UPDATE … FROM`` joins it to the table.

Why not the ORM: ``bulk_create`` prepares every field of every instance (several times the
cost of parsing an import's file), ``bulk_update`` builds ``CASE`` expressions whose cost
grows with the square of the batch (minutes for a review of 100,000 records), and binding
thousands of parameters costs the driver more than the write itself.

Rows hold values as the database takes them: JSON as its text, encoded once by the caller
(an import encodes its rows in the parser process), datetimes aware. A value goes through
no model field, so a row is written exactly as given. Names of tables and columns come
from models and code, never from input.

Both write all of their rows or none (they run in a transaction, the caller's if there is
one), and a row the database refuses raises Django's error for it (``IntegrityError``, …)
on either database. Used by imports (records), deduplication (new pairs, their changed
scores, merges and the fields primaries take), and prioritisation (relevance scores).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, islice
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

Row = Sequence[Any]

CHUNK_ROWS = 5000  # rows per ``executemany``: memory stays flat for any number of rows
_STAGING = "rf_bulk_update"  # the temporary table of ``update_rows``


def insert_rows(
    model: type[Model],
    columns: Sequence[str],
    rows: Iterable[Row],
    *,
    using: str = DEFAULT_DB_ALIAS,
) -> int:
    """Insert ``rows`` (values in the order of ``columns``, the table's column names) into
    ``model``'s table; return how many were inserted.

    ``rows`` is read once, as it is written: on PostgreSQL a generator is consumed inside
    the ``COPY`` (an error it raises aborts the ``COPY``, and nothing is inserted).
    """
    connection = connections[using]
    with transaction.atomic(using=using, savepoint=False):
        return _insert(connection, model._meta.db_table, columns, rows)


def update_rows(
    model: type[Model],
    columns: Sequence[str],
    rows: Iterable[Row],
    *,
    key: str = "id",
    using: str = DEFAULT_DB_ALIAS,
) -> int:
    """Set ``columns`` of ``model``'s table from ``rows`` of ``(key, value, …)``: each row
    names the row of the table whose ``key`` column equals its first value. Return how
    many rows of the table were updated.

    The values go into a temporary table shaped like those columns (same types, so no cast
    is written here; on PostgreSQL the same compression too), then one ``UPDATE … FROM``
    sets them all.
    """
    remaining = iter(rows)
    first = next(remaining, None)
    if first is None:
        return 0  # no temporary table for nothing
    connection = connections[using]
    quote = connection.ops.quote_name
    table, staging = quote(model._meta.db_table), quote(_STAGING)
    names = [key, *columns]
    listed = ", ".join(quote(name) for name in names)
    sets = ", ".join(f"{quote(name)} = {staging}.{quote(name)}" for name in columns)
    with transaction.atomic(using=using, savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {staging} AS SELECT {listed} FROM {table} LIMIT 0"  # noqa: S608 - names are ours
        )
        if connection.vendor == "postgresql":
            _compress_like(cursor, connection, table, staging, columns)
        _insert(connection, _STAGING, names, chain([first], remaining))
        cursor.execute(
            f"UPDATE {table} SET {sets} FROM {staging} "  # noqa: S608 - names are ours
            f"WHERE {table}.{quote(key)} = {staging}.{quote(key)}"
        )
        updated = cursor.rowcount
        cursor.execute(f"DROP TABLE {staging}")
    return int(updated)


def _insert(
    connection: BaseDatabaseWrapper, table: str, columns: Sequence[str], rows: Iterable[Row]
) -> int:
    quote = connection.ops.quote_name
    listed = ", ".join(quote(name) for name in columns)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Text format: the server reads each value as it reads typed input (JSON text
            # into a jsonb column), so no value needs its type named here.
            # The driver's own cursor (Django's has no COPY): its errors are made Django's
            # (``IntegrityError``, …) as they are for SQLite's ``executemany``.
            with (
                connection.wrap_database_errors,
                cursor.cursor.copy(f"COPY {quote(table)} ({listed}) FROM STDIN") as copy,
            ):
                write = copy.write_row
                for row in rows:
                    write(row)
                    count += 1
            return count
        marks = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {quote(table)} ({listed}) VALUES ({marks})"  # noqa: S608 - names are ours
        for chunk in _chunks(rows):
            cursor.executemany(sql, chunk)
            count += len(chunk)
    return count


def _compress_like(
    cursor: Any,
    connection: BaseDatabaseWrapper,
    table: str,
    staging: str,
    columns: Sequence[str],
) -> None:
    """Give the staging table's columns the compression of the table's (lz4 for the long
    columns of records, see migration 0008): an ``UPDATE`` stores a value compressed as
    it was in the staging table, and only values written anew are compressed again."""
    cursor.execute(
        "SELECT attname, attcompression FROM pg_attribute WHERE attrelid = %s::regclass "
        "AND attname = ANY(%s) AND attcompression <> ''",
        [table, list(columns)],
    )
    methods = {"p": "pglz", "l": "lz4"}
    for name, method in cursor.fetchall():
        cursor.execute(
            f"ALTER TABLE {staging} ALTER COLUMN {connection.ops.quote_name(name)} "
            f"SET COMPRESSION {methods[method]}"
        )


def _chunks(rows: Iterable[Row]) -> Iterator[list[Row]]:
    remaining = iter(rows)
    while chunk := list(islice(remaining, CHUNK_ROWS)):
        yield chunk
