"""The reads behind the audit trail page: filters, the events of one page, and the
sentences with their links (``audit_words`` says the words; this module finds the pages).

A page costs a fixed number of queries whatever its size: the events, their count, the
members for the person filter, the masking of blinded votes, and at most one query each for
the records and the searches its sentences name.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.db.models import F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from reviewflow.keyset import Keyset
from reviewflow.reviews.audit_words import KINDS, Event, Ref, Sentence, describe
from reviewflow.reviews.models import AuditEvent, Membership, Review

SYSTEM_CHOICE = "system"
OTHER_KIND = "other"
RUN_ROW = "records.merged_automatically"
RUN = "dedup.run"
# System events written by votes, while a deduplication may be running in parallel.
_VOTE_SYSTEM_EVENTS = ("outcome.agreed", "conflict.opened")
# A run writes its merges, then (after updating the merged records) its own row.
RUN_WINDOW = datetime.timedelta(minutes=5)


class AuditFilterForm(forms.Form):
    """Filters of the audit trail; each field that does not parse is left out, never an
    error page."""

    person = forms.ChoiceField(required=False, label="Person")
    kind = forms.ChoiceField(
        required=False,
        label="Kind",
        choices=[("", "Everything"), *((k, label) for k, label, _ in KINDS), (OTHER_KIND, "Other")],
    )
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, members: Sequence[Membership], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        person = self.fields["person"]
        assert isinstance(person, forms.ChoiceField)
        person.choices = [
            ("", "Everyone"),
            *((str(m.user_id), m.user.get_username()) for m in members),
            (SYSTEM_CHOICE, "reviewflow (automatic)"),
        ]

    def valid_filters(self) -> dict[str, Any]:
        """The filters that parsed (a malformed one is dropped: the page shows everything
        it would have shown without it)."""
        self.is_valid()
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}


def kind_filter(kind: str) -> Q:
    """Events of one kind of ``audit_words.KINDS`` (an action counts under the first kind
    with a prefix it starts with, as ``audit_words.kind_of`` says)."""
    earlier = Q()
    for key, _, prefixes in KINDS:
        mine = Q()
        for prefix in prefixes:
            mine |= Q(action__startswith=prefix)
        if key == kind:
            return mine & ~earlier if earlier else mine
        earlier |= mine
    return ~earlier  # OTHER_KIND


# A day at either end of the calendar would overflow a datetime in some time zones: a
# "from" before FIRST_DAY counts from it, a "to" after LAST_DAY sets no bound.
FIRST_DAY = datetime.date.min + datetime.timedelta(days=2)
LAST_DAY = datetime.date.max - datetime.timedelta(days=2)


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(max(day, FIRST_DAY), datetime.time.min))


# The trail's order (newest first, as ``AuditEvent.Meta.ordering``), the key its pages are
# read by: ``audit_review_time`` walks it within the review.
AUDIT_ORDER = Keyset(("-created_at", "-id"))


def audit_events(review: Review, filters: dict[str, Any]) -> QuerySet[AuditEvent]:
    """The review's events, newest first, with the filters applied.

    A deduplication run is one line: the row listing its automatic merges (one row per
    run, with every merged pair) is left out when the run's own ``dedup.run`` row follows
    it. The rows carry no run id, so "follows" means: the next system event of the review
    by id, within ``RUN_WINDOW`` (both are written in one transaction, the merges first).
    A vote's system events are skipped, as votes may be cast while a deduplication runs.
    Merges made outside a run (after a person's decision, a deleted search) keep their own
    line.
    """
    events = AuditEvent.objects.filter(review=review).select_related("actor")
    person = filters.get("person")
    if person == SYSTEM_CHOICE:
        events = events.filter(actor__isnull=True)
    elif person and str(person).isdigit():
        events = events.filter(actor_id=int(person))
    if filters.get("kind"):
        events = events.filter(kind_filter(filters["kind"]))
    # Days in the site's time zone, as bounds on the indexed column itself.
    if isinstance(filters.get("date_from"), datetime.date):
        events = events.filter(created_at__gte=_day_start(filters["date_from"]))
    if isinstance(filters.get("date_to"), datetime.date) and filters["date_to"] < LAST_DAY:
        next_day = filters["date_to"] + datetime.timedelta(days=1)
        events = events.filter(created_at__lt=_day_start(next_day))
    next_system = (
        # The review as a constant, read through the index of its system events: only this
        # review's later system events, not every later event of every review. Ordered by an
        # expression of the id, as the primary key's own order would tempt the planner into
        # walking the whole table from this id on (it assumes a match comes soon).
        AuditEvent.objects.filter(review=review, id__gt=OuterRef("id"))
        .filter(actor__isnull=True, created_at__lte=OuterRef("created_at") + RUN_WINDOW)
        .exclude(action__in=_VOTE_SYSTEM_EVENTS)
        .order_by(F("id") + 0)
        .values("action")[:1]
    )
    return events.alias(next_system=Coalesce(Subquery(next_system), Value(""))).exclude(
        Q(action=RUN_ROW) & Q(actor__isnull=True) & Q(next_system=RUN)
    )


@dataclass(frozen=True)
class Link:
    text: str
    url: str = ""
    record_title: str | None = None  # source text: the template renders it with source_text


@dataclass(frozen=True)
class Line:
    event: AuditEvent
    parts: list[str | Link]
    text: str


def _event(e: AuditEvent, initiators: dict[str, str]) -> Event:
    return Event(
        action=e.action,
        actor=e.actor.get_username() if e.actor is not None else None,
        target=e.target,
        object_type=e.object_type,
        object_id=e.object_id,
        before=e.before,
        after=e.after,
        initiator=initiators.get(e.target) if e.action == "search.imported" else None,
    )


def audit_lines(review: Review, events: Sequence[AuditEvent]) -> list[Line]:
    """Each event as a sentence whose records and searches link to their pages."""
    # Sentences first without initiators: they name every search the page needs.
    sentences = [describe(_event(e, {})) for e in events]
    refs = [p for s in sentences for p in s.parts if isinstance(p, Ref)]
    titles, searches, by_key = _look_up(review, refs)
    initiators = {key: s["created_by"] for key, s in by_key.items() if s["created_by"]}
    if initiators:
        sentences = [
            describe(_event(e, initiators)) if e.action == "search.imported" else s
            for e, s in zip(events, sentences, strict=True)
        ]
    return [
        Line(event=e, parts=_linked(review, s, titles, searches, by_key), text=s.text)
        for e, s in zip(events, sentences, strict=True)
    ]


def _look_up(
    review: Review, refs: Sequence[Ref]
) -> tuple[dict[int, str], dict[int, dict[str, Any]], dict[str, dict[str, Any]]]:
    # Lazy: the core shows screening's records and searches by id, when a page names them.
    from screening.models import Record, Search

    record_ids = {r.id for r in refs if r.kind == "record" and r.id is not None}
    titles = (
        dict(Record.objects.filter(review=review, pk__in=record_ids).values_list("id", "title"))
        if record_ids
        else {}
    )
    search_ids = {r.id for r in refs if r.kind == "search" and r.id is not None}
    keys = {r.key for r in refs if r.kind == "search" and r.id is None and r.key}
    wanted = Q(pk__in=search_ids) if search_ids else Q()
    for key in keys:
        source, _, filename = key.partition(": ")
        wanted |= Q(source=source, filename=filename)
    searches: dict[int, dict[str, Any]] = {}
    by_key: dict[str, dict[str, Any]] = {}
    if search_ids or keys:
        rows = Search.objects.filter(wanted, review=review).values(
            "id", "source", "filename", "created_by__username"
        )
        named: dict[str, list[dict[str, Any]]] = {}
        for found in rows:
            row: dict[str, Any] = {**found, "created_by": found["created_by__username"]}
            searches[row["id"]] = row
            named.setdefault(f"{row['source']}: {row['filename']}", []).append(row)
        # A file name imported twice from one source names no single search: no link.
        by_key = {key: same[0] for key, same in named.items() if len(same) == 1}
    return titles, searches, by_key


def _linked(
    review: Review,
    sentence: Sentence,
    titles: dict[int, str],
    searches: dict[int, dict[str, Any]],
    by_key: dict[str, dict[str, Any]],
) -> list[str | Link]:
    parts: list[str | Link] = []
    for part in sentence.parts:
        if isinstance(part, str):
            parts.append(part)
        elif part.kind == "record" and part.id in titles:
            url = reverse("record-detail", args=[review.slug, part.id])
            parts.append(Link(part.text, url, record_title=titles[part.id] or "(no title)"))
        elif part.kind == "search":
            row = searches.get(part.id) if part.id is not None else by_key.get(part.key)
            if row is None:
                parts.append(part.text)
                continue
            text = part.text if part.key else f"search '{row['filename']}' from {row['source']}"
            parts.append(Link(text, reverse("search-detail", args=[review.slug, row["id"]])))
        elif part.kind == "duplicates":
            parts.append(Link(part.text, reverse("review-duplicates", args=[review.slug])))
        elif part.kind == "saved_search":
            parts.append(Link(part.text, reverse("saved-searches", args=[review.slug])))
        else:
            parts.append(part.text)
    return parts
