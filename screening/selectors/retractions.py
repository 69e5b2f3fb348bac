"""Reads of the retraction watch (#21): the review's editorial notices, the records they
flag, and its checks. A fixed number of queries, whatever the review's size."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, QuerySet

from reviewflow.reviews.models import Review
from screening.models import (
    Decision,
    EditorialNotice,
    NoticeKind,
    Outcome,
    Record,
    RetractionCheck,
    Stage,
)

FINISHED = (RetractionCheck.Status.DONE, RetractionCheck.Status.FAILED)
# The most serious first: a record's flag is its first kind in this order.
SEVERITY: list[str] = [
    NoticeKind.RETRACTION,
    NoticeKind.WITHDRAWAL,
    NoticeKind.EXPRESSION_OF_CONCERN,
    NoticeKind.CORRECTION,
    NoticeKind.OTHER,
]
INCLUDED, AT_FULL_TEXT, NOT_INCLUDED = "included", "full-text", "not-included"
PLACE_LABELS = {
    INCLUDED: "Included study",
    AT_FULL_TEXT: "At full text",
    NOT_INCLUDED: "Not included",
}


@dataclass
class FlaggedRecord:
    record: Record
    place: str  # INCLUDED, AT_FULL_TEXT or NOT_INCLUDED
    notices: list[EditorialNotice] = field(default_factory=list)

    @property
    def place_label(self) -> str:
        return PLACE_LABELS[self.place]

    @property
    def worst(self) -> str:
        kinds = {n.kind for n in self.notices}
        return next((k for k in SEVERITY if k in kinds), NoticeKind.OTHER)


# The columns exports give a record's retractions and corrections (#21): kinds, notice DOIs
# and dates, one per notice in the same order (by date), joined by "; ".
NOTICE_COLUMNS = ("notice_kind", "notice_doi", "notice_date")


def notice_cells(notices: Iterable[EditorialNotice]) -> dict[str, str]:
    """A record's notices as the three ``NOTICE_COLUMNS`` cells (empty without notices)."""
    notices = list(notices)
    return {
        "notice_kind": "; ".join(n.kind for n in notices),
        "notice_doi": "; ".join(n.notice_doi for n in notices),
        "notice_date": "; ".join(
            n.notice_date.isoformat() if n.notice_date else "" for n in notices
        ),
    }


def notices_of(record: Record) -> list[EditorialNotice]:
    return list(EditorialNotice.objects.filter(record=record).order_by("notice_date", "id"))


def notices_by_record(
    review: Review, record_ids: Iterable[int] | None = None
) -> dict[int, list[EditorialNotice]]:
    """The review's notices, by record (all records, or those of ``record_ids``)."""
    qs = EditorialNotice.objects.filter(review=review)
    if record_ids is not None:
        qs = qs.filter(record_id__in=list(record_ids))
    found: dict[int, list[EditorialNotice]] = defaultdict(list)
    for notice in qs.order_by("record_id", "notice_date", "id"):
        found[notice.record_id].append(notice)
    return dict(found)


def flagged_records(review: Review, *, included_only: bool = False) -> list[FlaggedRecord]:
    """Every record with a notice, with where it stands (an included study, at full text,
    or no longer included), included studies first. ``included_only``: those included at
    title/abstract or at full text (the dashboard)."""
    by_record = notices_by_record(review)
    if not by_record:
        return []
    places: dict[int, str] = {}
    for record_id, stage in Outcome.objects.filter(
        review=review, record_id__in=list(by_record), decision=Decision.INCLUDE
    ).values_list("record_id", "stage"):
        if stage == Stage.FULL_TEXT:
            places[record_id] = INCLUDED
        else:
            places.setdefault(record_id, AT_FULL_TEXT)
    # A record excluded at full text after passing title/abstract is no longer at full text.
    excluded = set(
        Outcome.objects.filter(
            review=review,
            record_id__in=list(by_record),
            stage=Stage.FULL_TEXT,
            decision=Decision.EXCLUDE,
        ).values_list("record_id", flat=True)
    )
    records = Record.objects.filter(pk__in=list(by_record)).only(
        "id", "title", "doi", "year", "authors"
    )
    order = {INCLUDED: 0, AT_FULL_TEXT: 1, NOT_INCLUDED: 2}
    rows = []
    for record in records:
        place = NOT_INCLUDED if record.pk in excluded else places.get(record.pk, NOT_INCLUDED)
        if included_only and place == NOT_INCLUDED:
            continue
        rows.append(FlaggedRecord(record=record, place=place, notices=by_record[record.pk]))
    rows.sort(key=lambda r: (order[r.place], SEVERITY.index(r.worst), r.record.pk))
    return rows


def watched(review: Review) -> QuerySet[Record]:
    """The records a check asks about: not duplicates, with a DOI, and included at title
    and abstract or at full text."""
    passed = Outcome.objects.filter(
        review=review,
        stage__in=(Stage.TITLE_ABSTRACT, Stage.FULL_TEXT),
        decision=Decision.INCLUDE,
    ).values("record_id")
    return Record.objects.for_review(review).unique().filter(pk__in=passed).exclude(doi="")


def unfinished_check(review: Review) -> RetractionCheck | None:
    """The check under way, if any (pages show it in place of the button)."""
    return (
        RetractionCheck.objects.filter(review=review)
        .exclude(status__in=FINISHED)
        .order_by("-created_at")
        .first()
    )


def recent_checks(review: Review, limit: int = 10) -> list[RetractionCheck]:
    return list(
        RetractionCheck.objects.filter(review=review)
        .select_related("created_by")
        .order_by("-created_at", "-id")[:limit]
    )


def with_notice_flags(qs: QuerySet[Record]) -> QuerySet[Record]:
    """Records with ``retracted`` (a retraction or withdrawal) and ``has_notice`` (any
    notice): the records list's badges, in the list's own query."""
    notices = EditorialNotice.objects.filter(record=OuterRef("pk"))
    return qs.annotate(
        retracted=Exists(notices.filter(kind__in=(NoticeKind.RETRACTION, NoticeKind.WITHDRAWAL))),
        has_notice=Exists(notices),
    )
