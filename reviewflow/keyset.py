"""Keyset pagination: pages of a long list read by their sort key, never by ``OFFSET`` (#25).

Django's ``Paginator`` (and DRF's page numbers) read page ``n`` with ``OFFSET (n-1)*size``:
the database walks and throws away every row before the page, so a deep page of a
100,000-record list costs as much as reading the list. Here a page after another is read
as "the rows whose key follows the last row's key" (``(a, b) > (x, y)``, a row comparison
that PostgreSQL answers from an index on the key, SQLite by Django's expansion), so the
first, the next, the previous and the last page cost the same wherever they are.

The key is the list's order, ending in a unique column (a record's ``(search_id,
position)``, an event's ``(created_at, id)``), of columns that are never null. All
ascending or all descending, it is one row comparison; in mixed directions (a duplicate
pair's ``(-score, id)``) its first column is bounded alone and ties are sorted out by the
rest.

What a page still offers a person: the count of matching rows (one ``COUNT``, as before),
"page X of Y", and links to the first, previous, next and last page. The page's number
travels in its cursor; rows written after the first page was read can leave it out by a
few rows until the list is opened again, never the rows themselves.

``?page=N`` (old bookmarks, and the first and last pages) stays: page 1 and the last page
(``page=last`` or any number past it) are keyset reads; a number in between jumps there
by the key of the row just outside the page, found with an ``OFFSET`` counted from the
nearer end over the key's columns alone — the one read left that costs its depth (an
index walk, without the page's annotations or wide columns), and only when someone asks
for a page by number.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from django.db.models import F, Model, Q, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.http import QueryDict
from rest_framework.pagination import BasePagination, PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from reviewflow.errors import ReviewflowError
from reviewflow.params import parse_int, text_param

M = TypeVar("M", bound=Model)

CURSOR_PARAMS = ("after", "before", "page")


class BadCursor(ReviewflowError):
    """An ``after``/``before``/``page`` value that names no page (the message says which)."""


def _encode(number: int, key: Sequence[Any]) -> str:
    values = [v.isoformat() if isinstance(v, datetime.datetime | datetime.date) else v for v in key]
    raw = json.dumps([number, *values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass(frozen=True)
class Keyset:
    """A list's order as a key: field names, each ``-`` prefixed where the list is
    descending, the last one unique, none nullable."""

    order: tuple[str, ...]

    @property
    def uniform(self) -> bool:
        """All ascending or all descending: a row comparison, that an index answers."""
        return len({name.startswith("-") for name in self.order}) == 1

    @property
    def descending(self) -> bool:
        return self.order[0].startswith("-")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name.lstrip("-") for name in self.order)

    @property
    def reversed_order(self) -> tuple[str, ...]:
        return tuple(name[1:] if name.startswith("-") else f"-{name}" for name in self.order)

    def key_of(self, row: Any) -> list[Any]:
        return [getattr(row, name) for name in self.names]

    def decode(self, model: type[Model], token: str, *, name: str) -> tuple[int, list[Any]]:
        """The page number and key a cursor carries; ``BadCursor`` for anything this list
        did not hand out."""
        message = f"{name}: not a cursor of this list; start again from the first page."
        try:
            raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise BadCursor(message, field=name) from None
        if not isinstance(raw, list) or len(raw) != len(self.names) + 1:
            raise BadCursor(message, field=name)
        number, *values = raw
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise BadCursor(message, field=name)
        key = []
        for field_name, value in zip(self.names, values, strict=True):
            model_field: Any = model._meta.get_field(field_name.removesuffix("_id"))
            target = getattr(model_field, "target_field", model_field)
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                raise BadCursor(message, field=name)
            if isinstance(value, float) and not math.isfinite(value):
                raise BadCursor(message, field=name)
            try:
                key.append(target.to_python(value))
            except Exception:  # noqa: BLE001 (to_python raises ValidationError or its own)
                raise BadCursor(message, field=name) from None
            if isinstance(key[-1], int) and not -(2**63) <= key[-1] < 2**63:
                raise BadCursor(message, field=name)
        return number, key


@dataclass
class KeysetPage(Generic[M]):
    """One page of a keyset-paginated list. Reads like Django's ``Page`` for templates
    (``number``, ``paginator.count``, ``paginator.num_pages``, ``has_next`` …), with
    ``first_query``, ``previous_query``, ``next_query`` and ``last_query`` for links."""

    object_list: list[M]
    count: int
    number: int
    size: int
    has_previous: bool
    has_next: bool
    keyset: Keyset
    params: dict[str, str] = field(default_factory=dict)
    cursor: dict[str, str] = field(default_factory=dict)  # what reached this page

    def __iter__(self) -> Iterator[M]:
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)

    @property
    def paginator(self) -> KeysetPage[M]:
        return self  # ``page.paginator.count`` and ``num_pages``, as templates read them

    @property
    def num_pages(self) -> int:
        return max(1, math.ceil(self.count / self.size))

    def has_other_pages(self) -> bool:
        return self.has_previous or self.has_next

    def start_index(self) -> int:
        return (self.number - 1) * self.size + 1 if self.object_list else 0

    def end_index(self) -> int:
        return self.start_index() + len(self.object_list) - 1 if self.object_list else 0

    def _query(self, **cursor: str) -> str:
        return urlencode({**self.params, **cursor})

    @property
    def next_cursor(self) -> str | None:
        if not self.has_next:
            return None
        return _encode(self.number + 1, self.keyset.key_of(self.object_list[-1]))

    @property
    def previous_cursor(self) -> str | None:
        if not self.has_previous:
            return None
        return _encode(max(1, self.number - 1), self.keyset.key_of(self.object_list[0]))

    @property
    def this_query(self) -> str:
        """This page's own address (its filters and the cursor that reached it)."""
        return self._query(**self.cursor)

    @property
    def first_query(self) -> str:
        return self._query()

    @property
    def last_query(self) -> str:
        return self._query(page="last")

    @property
    def next_query(self) -> str:
        cursor = self.next_cursor
        return self._query(after=cursor) if cursor else ""

    @property
    def previous_query(self) -> str:
        if self.number == 2 or not self.previous_cursor:
            return self._query()  # the first page's own address
        return self._query(before=self.previous_cursor)


def _after(qs: QuerySet[M], keyset: Keyset, key: list[Any], *, forward: bool) -> QuerySet[M]:
    """Rows whose key comes after ``key`` in the list's order (``forward``) or before it."""
    if keyset.uniform:
        columns = Tuple(*(F(name) for name in keyset.names))
        greater = forward != keyset.descending
        lookup = TupleGreaterThan if greater else TupleLessThan
        return qs.filter(lookup(columns, tuple(key)))
    return qs.filter(_beyond(keyset.order, key, forward=forward))


def _beyond(order: Sequence[str], key: Sequence[Any], *, forward: bool) -> Q:
    """A key of mixed directions (``-score``, ``id``): the rows after ``key`` (before it,
    not ``forward``). The first column is bounded on its own (``score <= x``), so an index
    on the order is walked from ``key`` on, and the rows that tie on it are sorted out by
    the rest: ``NOT (score = x AND NOT rest after)``."""
    name, *rest = order
    column, descending = name.lstrip("-"), name.startswith("-")
    up = forward != descending
    if not rest:
        return Q(**{f"{column}__{'gt' if up else 'lt'}": key[0]})
    tail = _beyond(rest, key[1:], forward=forward)
    return Q(**{f"{column}__{'gte' if up else 'lte'}": key[0]}) & ~(Q(**{column: key[0]}) & ~tail)


def keyset_page(
    qs: QuerySet[M],
    *,
    keyset: Keyset,
    size: int,
    params: QueryDict,
    keep: dict[str, str] | None = None,
    strict: bool = False,
) -> KeysetPage[M]:
    """The page of ``qs`` that ``params`` asks for: ``after`` or ``before`` a cursor this
    list handed out, or ``page`` (a number, or ``last``); the first page otherwise.

    ``keep`` is the list's other parameters (its filters), carried on in the page's links.
    A malformed cursor is the first page on a page; with ``strict`` (the API) it raises
    ``BadCursor`` naming the parameter. Two queries: the count, then the page (three for a
    jump by number: the key before the page first)."""
    model = qs.model
    keep = keep or {}
    count = qs.order_by().count()
    pages = max(1, math.ceil(count / size))

    def page(
        rows: list[M], number: int, *, previous: bool, following: bool, **cursor: str
    ) -> KeysetPage[M]:
        return KeysetPage(
            object_list=rows,
            count=count,
            number=min(max(1, number), pages),
            size=size,
            has_previous=previous,
            has_next=following,
            keyset=keyset,
            params=keep,
            cursor=cursor,
        )

    def first() -> KeysetPage[M]:
        rows = list(qs.order_by(*keyset.order)[:size]) if count else []
        return page(rows, 1, previous=False, following=count > size)

    def last() -> KeysetPage[M]:
        tail = count - (pages - 1) * size
        rows = list(qs.order_by(*keyset.reversed_order)[:tail])[::-1] if count else []
        return page(rows, pages, previous=pages > 1, following=False, page="last")

    for name, forward in (("after", True), ("before", False)):
        token = text_param(params, name).strip()
        if not token:
            continue
        try:
            number, key = keyset.decode(model, token, name=name)
        except BadCursor:
            if strict:
                raise
            return first()
        ordered = qs.order_by(*(keyset.order if forward else keyset.reversed_order))
        rows = list(_after(ordered, keyset, key, forward=forward)[: size + 1])
        more = len(rows) > size
        rows = rows[:size]
        if forward:
            if not rows:
                return last()  # the rows after it went since: the list's end
            n = number if more else pages
            return page(rows, n, previous=True, following=more, after=token)
        if not rows:
            return first()
        # Nothing before these: the first page, whatever the cursor counted.
        n = number if more else 1
        return page(rows[::-1], n, previous=more, following=True, before=token)

    raw = text_param(params, "page").strip()
    if raw == "last":
        return last()
    asked = parse_int(raw, min_value=1) if raw else 1
    if asked is None:
        if strict:
            raise BadCursor("page: give a page number (1 or more) or “last”.", field="page")
        asked = 1
    if asked <= 1:
        return first()
    if asked >= pages:
        return last()
    # A jump to a page by its number: the key of the row just outside the page, found by
    # an OFFSET counted from the nearer end of the list over the key's columns alone (no
    # annotation, no wide column), then the page read after it by key.
    forward = asked <= pages - asked + 1
    skip = (asked - 1) * size - 1 if forward else count - asked * size - 1
    ordered = qs.order_by(*(keyset.order if forward else keyset.reversed_order))
    edge = list(ordered.values_list(*keyset.names)[skip : skip + 1])
    if not edge:  # rows went since the count: the list's end it is
        return last() if forward else first()
    rows = list(_after(ordered, keyset, list(edge[0]), forward=forward)[:size])
    rows = rows if forward else rows[::-1]
    return page(rows, asked, previous=True, following=True, page=str(asked))


class KeysetPagination(BasePagination):
    """DRF pagination by ``keyset_page``: the same answer as page numbers gave (``count``,
    ``next``, ``previous``, ``results``), with ``next`` and ``previous`` holding cursors
    (``after=…``, ``before=…``) instead of page numbers; ``?page=N`` and ``?page=last``
    still answer. A view's subclass sets ``keyset`` (its order) and may set ``page_size``.

    Not DRF's ``CursorPagination``: its cursor is one column's value plus an OFFSET past
    the rows that share it, and a list ordered by ``(search_id, position)`` shares the first
    column over a whole search (an OFFSET as deep as the search). Here the whole key is
    compared at once."""

    page_size = 50
    keyset: Keyset

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: APIView | None = None
    ) -> list[Any]:
        self.request = request
        # A malformed cursor or page: ``BadCursor``, a 400 naming the parameter.
        self.page = keyset_page(
            queryset,
            keyset=self.keyset,
            size=self.page_size,
            params=request.query_params,
            strict=True,
        )
        return self.page.object_list

    def _link(self, **cursor: str | None) -> str | None:
        url = self.request.build_absolute_uri()
        for name in CURSOR_PARAMS:
            url = remove_query_param(url, name)
        for name, value in cursor.items():
            if value is None:
                return None
            url = replace_query_param(url, name, value)
        return url

    def get_next_link(self) -> str | None:
        return self._link(after=self.page.next_cursor)

    def get_previous_link(self) -> str | None:
        if not self.page.has_previous:
            return None
        if self.page.number == 2:
            return self._link()  # the first page's own address
        return self._link(before=self.page.previous_cursor)

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "count": self.page.count,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        # The same fields as DRF's page numbers gave, so clients and the schema keep them.
        return PageNumberPagination().get_paginated_response_schema(schema)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        def param(name: str, description: str) -> dict[str, Any]:
            return {
                "name": name,
                "required": False,
                "in": "query",
                "description": description,
                "schema": {"type": "string"},
            }

        return [
            param("after", "The page after this cursor (from a response's `next`)."),
            param("before", "The page before this cursor (from a response's `previous`)."),
            param(
                "page",
                "A page by its number (1 or more; past the end: the last page), or `last`. "
                "Following `next` reads any page in the same time; a number jumps there.",
            ),
        ]
