"""ORM queries compiled to SQL once per process, then run with new values.

Screening's ``next`` and vote run the same few queries on every request, with only the
review, the reviewer, the record and the time changing. Building and compiling those
querysets cost more CPU than the database spends answering them (about half of a
``next`` + vote), so the hot path compiles each one once: the queryset is built with
*sentinel* values in place of the changing ones, compiled, and the positions of the
sentinels among its parameters are remembered. A later run fills in the real values and
sends the same SQL. The ORM stays the one place the SQL is written, for every database.

A sentinel must reach the parameters unchanged (integers do; a datetime goes through the
backend's own adaptation, done here the same way), and nothing else in the query may vary
between runs: whatever else it depends on (stage, votes needed, …) belongs in the key.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connections, router
from django.db.models import Model, QuerySet

# Values no real row or moment has: ids above any a review reaches, a time long past.
REVIEW = 2_000_000_001
REVIEWER = 2_000_000_002
RECORD = 2_000_000_003
USER = 2_000_000_004
NOW = datetime(2001, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)
SLUG = "rf-sentinel-slug-5d1c"
TOKEN = "rf-sentinel-token-5d1c"  # noqa: S105 (a placeholder the SQL is built with)

_NAMES: dict[int | str, str] = {
    REVIEW: "review",
    REVIEWER: "reviewer",
    RECORD: "record",
    USER: "user",
    SLUG: "slug",
    TOKEN: "token",
}


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]  # constants, and the names of the values to fill in
    slots: tuple[tuple[int, str], ...]  # (position, name) of each sentinel


_cache: dict[tuple[Hashable, ...], _Compiled] = {}


def _compile(queryset: QuerySet[Any], alias: str) -> _Compiled:
    connection = connections[alias]
    sql, params = queryset.query.get_compiler(using=alias).as_sql()
    # A value written into the SQL text rather than passed would be run for ever.
    if "200000000" in sql or "2001-02-03" in sql or "rf-sentinel" in sql:
        raise ValueError(f"a sentinel is written into the SQL, not passed: {sql}")
    now = connection.ops.adapt_datetimefield_value(NOW)
    slots: list[tuple[int, str]] = []
    for position, value in enumerate(params):
        if isinstance(value, int | str) and not isinstance(value, bool) and value in _NAMES:
            slots.append((position, _NAMES[value]))
        elif type(value) is type(now) and value == now:
            slots.append((position, "now"))
    return _Compiled(sql=sql, params=tuple(params), slots=tuple(slots))


def _prepare(
    key: tuple[Hashable, ...], build: Callable[[], QuerySet[Any]], model: type[Model], values: Any
) -> tuple[str, str, list[Any]]:
    alias = router.db_for_read(model)
    connection = connections[alias]
    full_key = (alias, connection.vendor, *key)
    compiled = _cache.get(full_key)
    if compiled is None:
        # Compiled inside the caller's transaction: a locking query checks for one.
        compiled = _cache[full_key] = _compile(build(), alias)
    params = list(compiled.params)
    for position, name in compiled.slots:
        value = values[name]
        params[position] = (
            connection.ops.adapt_datetimefield_value(value) if name == "now" else value
        )
    return alias, compiled.sql, params


def rows(
    key: tuple[Hashable, ...],
    build: Callable[[], QuerySet[Any]],
    *,
    model: type[Model],
    **values: Any,
) -> list[tuple[Any, ...]]:
    """Run the query ``build`` makes (with the sentinels of this module where ``values``
    go) and return its rows as tuples.

    ``key`` names the query and everything else it depends on; ``values`` maps ``review``,
    ``reviewer``, ``record``, ``user``, ``slug``, ``token`` and ``now`` to this run's
    values. The rows are the database's
    own values: booleans may be 0/1, nothing goes through a field's converters, so build
    querysets ending in ``values_list`` of plain columns, counts and flags.
    """
    alias, sql, params = _prepare(key, build, model, values)
    with _cursor(alias) as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _cursor(alias: str) -> Any:
    """A cursor of ``alias``; on PostgreSQL one that binds values on the server, so each
    query is a prepared statement, planned once per connection instead of at each run
    (planning these queries took PostgreSQL longer than running them). It is Django's
    cursor wrapper still: errors are Django's, queries are logged and counted."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return connection.cursor()
    import psycopg

    connection.ensure_connection()
    raw = connection.connection
    raw.prepare_threshold = 0  # prepare at first use; Django's own cursors never prepare
    return connection._prepare_cursor(psycopg.Cursor(raw))  # type: ignore[attr-defined]


def instances(
    key: tuple[Hashable, ...],
    build: Callable[[], QuerySet[Any]],
    *,
    model: type[Model],
    **values: Any,
) -> list[Any]:
    """Like ``rows``, for a queryset of ``model`` instances (no ``select_related``): each
    column of one of the model's fields goes through the field's converters, as the ORM
    does it; the other columns (annotations) are set as attributes with the database's own
    values. Fields the query does not select are deferred."""
    alias, sql, params = _prepare(key, build, model, values)
    connection = connections[alias]
    with _cursor(alias) as cursor:
        cursor.execute(sql, params)
        names = [column[0] for column in cursor.description]
        fetched = cursor.fetchall()
    by_column = {field.column: field for field in model._meta.concrete_fields}
    fields = [(i, by_column[name]) for i, name in enumerate(names) if name in by_column]
    extra = [(i, name) for i, name in enumerate(names) if name not in by_column]
    table = model._meta.db_table
    converters = []
    for i, field in fields:
        column = field.get_col(table)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        converters.append((i, column, found))
    attnames = [field.attname for _, field in fields]
    made = []
    for row in fetched:
        field_values = []
        for i, column, found in converters:
            value = row[i]
            for convert in found:
                value = convert(value, column, connection)
            field_values.append(value)
        instance = model.from_db(alias, attnames, field_values)
        for i, name in extra:
            setattr(instance, name, row[i])
        made.append(instance)
    return made


_insert_sql: dict[tuple[Any, ...], str] = {}


def insert(instances: Model | Sequence[Model], fields: Sequence[str]) -> None:
    """Write ``instances`` (of one model) as new rows of their ``fields`` in one statement
    (values prepared by each field, as ``save`` prepares them) and set their primary keys
    from ``RETURNING``: what ``create`` or ``bulk_create`` do, without building an insert
    query each time. No signals are sent (the models written this way have no receivers)."""
    many = [instances] if isinstance(instances, Model) else list(instances)
    _write(many, fields, (), ())


def upsert(
    instance: Model, fields: Sequence[str], *, unique: Sequence[str], update: Sequence[str]
) -> None:
    """Like ``insert``; when a row with the same ``unique`` fields exists, set its ``update``
    fields instead (``ON CONFLICT … DO UPDATE``, on PostgreSQL and SQLite alike)."""
    _write([instance], fields, unique, update)


def _write(
    instances: list[Model], fields: Sequence[str], unique: Sequence[str], update: Sequence[str]
) -> None:
    if not instances:
        return
    model = type(instances[0])
    alias = router.db_for_write(model)
    connection = connections[alias]
    opts = model._meta
    key = (
        alias,
        connection.vendor,
        model,
        tuple(fields),
        tuple(unique),
        tuple(update),
        len(instances),
    )
    chosen: list[Any] = [opts.get_field(name) for name in fields]
    sql = _insert_sql.get(key)
    if sql is None:
        quote = connection.ops.quote_name

        def column(name: str) -> str:
            return quote(str(opts.get_field(name).column))  # type: ignore[union-attr]

        columns = ", ".join(quote(f.column) for f in chosen)
        row = f"({', '.join(['%s'] * len(chosen))})"
        conflict = ""
        if unique:
            sets = ", ".join(f"{column(n)} = EXCLUDED.{column(n)}" for n in update)
            conflict = f" ON CONFLICT ({', '.join(map(column, unique))}) DO UPDATE SET {sets}"
        sql = _insert_sql[key] = (
            f"INSERT INTO {quote(opts.db_table)} ({columns}) "  # noqa: S608 - the model's names
            f"VALUES {', '.join([row] * len(instances))}{conflict} "
            f"RETURNING {quote(str(opts.pk.column))}"
        )
    params = [
        f.get_db_prep_save(f.pre_save(instance, True), connection)
        for instance in instances
        for f in chosen
    ]
    with _cursor(alias) as cursor:
        cursor.execute(sql, params)
        keys = cursor.fetchall()
    # RETURNING gives the rows in the order of VALUES on PostgreSQL and on SQLite.
    for instance, (pk,) in zip(instances, keys, strict=True):
        instance.pk = pk
        instance._state.adding = False
        instance._state.db = alias


def clear() -> None:
    """Forget every compiled query (tests that change what a query depends on)."""
    _cache.clear()


def names_used(key: tuple[Hashable, ...], alias: str = "default") -> Sequence[str]:
    """The values a compiled query fills in (for tests)."""
    connection = connections[alias]
    compiled = _cache[(alias, connection.vendor, *key)]
    return [name for _, name in compiled.slots]
