"""Reads of records that pages and the API share."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.contrib.auth.models import User
from django.db.models import Count, Exists, OuterRef, Q

from reviewflow.reviews.models import Review
from screening.bibliography import NAMES
from screening.models import (
    Conflict,
    Decision,
    FullTextReport,
    Outcome,
    RecordQuerySet,
    Stage,
    Vote,
)
from screening.selectors.screening import eligible_records, stage_settings_of


def included_at_full_text(
    review: Review, *, rounds: Iterable[int] | None = None
) -> tuple[list[int], set[int]]:
    """Ids of the reports (records) included at full text, and of the studies they make:
    a report linked as "same study as" another belongs to the study at the end of that
    chain (PRISMA counts reports and studies apart; extraction works per study).
    ``rounds``: only reports whose search belongs to one of these update rounds."""
    included = Outcome.objects.filter(
        review=review, stage=Stage.FULL_TEXT, decision=Decision.INCLUDE
    )
    if rounds is not None:
        included = included.filter(record__search__round__in=list(rounds))
    reports = list(included.values_list("record_id", flat=True))
    links: dict[int, int] = dict(
        FullTextReport.objects.filter(review=review, same_study_as__isnull=False).values_list(
            "record_id", "same_study_as_id"
        )
    )
    studies = set()
    for current in reports:
        seen = set()
        while current in links and current not in seen:
            seen.add(current)
            current = links[current]
        studies.add(current)
    return reports, studies


def _whole_number(text: str) -> int | None:
    """``text`` as a whole number, or None: ``isdigit`` lets "²" through and ``int`` refuses
    it. More than 20 digits is beyond any column (and ``int`` refuses 4,300): -1, no row."""
    if not text.isdecimal():
        return None
    return int(text) if len(text) <= 20 else -1


def filter_records(
    qs: RecordQuerySet, *, q: str = "", search: str = "", year: str = "", duplicates: str = ""
) -> RecordQuerySet:
    """Narrow records by free text (title, authors, journal, DOI, PMID), search, year, and
    duplicates (``exclude``: only records that go on to screening; ``only``: merged ones)."""
    if duplicates == "exclude":
        qs = qs.filter(duplicate_of__isnull=True)
    elif duplicates == "only":
        qs = qs.filter(duplicate_of__isnull=False)
    # ``search__pk``, not ``search_id``: an id beyond the column's range then matches
    # nothing instead of crashing the query.
    if (search_id := _whole_number(search)) is not None:
        qs = qs.filter(search__pk=search_id)
    if (year_number := _whole_number(year)) is not None:
        qs = qs.filter(year=year_number)
    # No stored text holds a NUL byte, and PostgreSQL refuses one in a query.
    for term in q.replace("\x00", " ").split()[:8]:
        qs = qs.filter(
            Q(title__icontains=term)
            | Q(authors__icontains=term)
            | Q(journal__icontains=term)
            | Q(doi__iexact=term.lower())
            | Q(pmid=term)
            | Q(search__source__icontains=term)
        )
    return qs


STATUSES = {
    "awaiting_me": "Awaiting my vote",
    "awaiting_others": "Awaiting others",
    "conflict": "In conflict",
    "included": "Included",
    "excluded": "Excluded",
}


def filter_by_stage_status(
    qs: RecordQuerySet, *, review: Review, user: User, stage: str, status: str, reason: str = ""
) -> RecordQuerySet:
    """Records by where they stand at ``stage`` for ``user``; nothing here reveals another
    reviewer's vote (``awaiting_others`` lists records the user voted on)."""
    if stage not in Stage.values or status not in STATUSES:
        return qs
    settled = Outcome.objects.filter(record=OuterRef("pk"), stage=stage)
    conflicted = Conflict.objects.filter(
        record=OuterRef("pk"), stage=stage, resolved_at__isnull=True
    )
    mine = Vote.objects.filter(record=OuterRef("pk"), stage=stage, reviewer=user)
    if status == "awaiting_me":
        needed = stage_settings_of(review, stage).reviewers_needed
        return (
            qs.filter(pk__in=eligible_records(review, stage).values("pk"))
            .filter(~Exists(mine), ~Exists(settled), ~Exists(conflicted))
            .annotate(n_votes=Count("votes", filter=Q(votes__stage=stage)))
            .filter(n_votes__lt=needed)
        )
    if status == "awaiting_others":
        return qs.filter(Exists(mine), ~Exists(settled), ~Exists(conflicted))
    if status == "conflict":
        return qs.filter(Exists(conflicted))
    decision = "include" if status == "included" else "exclude"
    outcomes = Outcome.objects.filter(stage=stage, decision=decision)
    if reason and decision == "exclude":
        outcomes = outcomes.filter(reason=reason)
    return qs.filter(pk__in=outcomes.values("record_id"))


# Every bibliographic field, then where the record came from and what became of it.
EXPORT_COLUMNS = ("id", *NAMES, "source", "record_id", "duplicate_of", "reason")


def records_for_export(review: Review, stage: str) -> Iterator[dict[str, object]]:
    """Records as plain dicts for the export writers, streamed: ``all`` (duplicates too),
    ``unique``, ``included`` (at full text) or ``excluded`` (at either stage, with reason)."""
    from django.db.models import F

    from screening.models import Decision, Outcome, Record

    qs = Record.objects.for_review(review)
    reasons: dict[int, str] = {}
    if stage == "unique":
        qs = qs.unique()
    elif stage in ("included", "ta-included"):
        at = Stage.FULL_TEXT if stage == "included" else Stage.TITLE_ABSTRACT
        qs = qs.filter(
            pk__in=Outcome.objects.filter(
                review=review, stage=at, decision=Decision.INCLUDE
            ).values("record_id")
        )
    elif stage == "excluded":
        for record_id, st, reason in Outcome.objects.filter(
            review=review, decision=Decision.EXCLUDE
        ).values_list("record_id", "stage", "reason"):
            label = "title/abstract" if st == Stage.TITLE_ABSTRACT else "full text"
            reasons[record_id] = f"{label}: {reason}" if reason else label
        qs = qs.filter(pk__in=list(reasons))
    fields = [c for c in EXPORT_COLUMNS if c not in ("source", "record_id", "reason")]
    for row in (
        qs.order_by("search_id", "position")
        .annotate(source=F("search__source"), record_id=F("source_record_id"))
        .values(*fields, "source", "record_id")
        .iterator(chunk_size=2000)
    ):
        if row["id"] in reasons:
            row["reason"] = reasons[row["id"]]
        yield row
