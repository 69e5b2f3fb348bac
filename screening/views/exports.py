"""Downloads: records at any stage, every vote and outcome, and the audit trail."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from reviewflow.reviews.access import get_review_for
from reviewflow.reviews.models import AuditEvent, Role
from screening.exporters import iter_bibtex, iter_csv, iter_ris, iter_rows_csv, write_rows_xlsx
from screening.models import Outcome, Vote
from screening.selectors.identification import EXPORT_COLUMNS, records_for_export
from screening.selectors.labels import label_names, visible_labels_by_record
from screening.selectors.questions import questions_of, visible_answers_by_vote
from screening.selectors.retractions import NOTICE_COLUMNS, notice_cells, notices_by_record
from screening.selectors.screening import mask_audit_events, votes_visible_to

RECORD_STAGES = {
    "all": "All records (duplicates too)",
    "unique": "Unique records",
    "ta-included": "Included at title/abstract",
    "included": "Included at full text",
    "excluded": "Excluded, with reasons",
}
# ``labels``: on a vote's row, its reviewer's labels on the record at that stage; on an
# outcome's, every label on the record at that stage (settled: all may be seen).
VOTE_HEADER = [
    "record",
    "title",
    "stage",
    "reviewer",
    "decision",
    "reason",
    "note",
    "voted_at",
    "labels",
]
OUTCOME_HEADER = [
    "record",
    "title",
    "stage",
    "decision",
    "reason",
    "how",
    "decided_by",
    "at",
    "labels",
]
# A records CSV ends with the labels the exporter may see on each record (blinding), then
# the retractions and corrections Crossref reports on it (#21, ``NOTICE_COLUMNS``).
RECORD_CSV_COLUMNS = (*EXPORT_COLUMNS, "labels", *NOTICE_COLUMNS)


@login_required
@require_safe
def exports(request: HttpRequest, slug: str) -> HttpResponse:
    access = get_review_for(request.user, slug)
    return render(
        request,
        "screening/exports.html",
        {"access": access, "review": access.review, "stages": RECORD_STAGES.items()},
    )


@login_required
@require_safe
def export_records(request: HttpRequest, slug: str, stage: str, fmt: str) -> StreamingHttpResponse:
    access = get_review_for(request.user, slug)
    if stage not in RECORD_STAGES or fmt not in ("ris", "csv", "bib"):
        raise Http404("No such export.")
    rows = records_for_export(access.review, stage)
    chunks: Iterator[str]
    if fmt == "ris":
        chunks, content_type = iter_ris(rows), "application/x-research-info-systems"
    elif fmt == "bib":
        chunks, content_type = iter_bibtex(rows), "application/x-bibtex"
    else:
        rows = _with_notices(_with_labels(rows, access), access)
        chunks, content_type = iter_csv(rows, columns=RECORD_CSV_COLUMNS), "text/csv"
    response = StreamingHttpResponse(chunks, content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{slug}-{stage}.{fmt}"'
    return response


def _with_labels(rows: Iterator[dict[str, Any]], access: Any) -> Iterator[dict[str, Any]]:
    # Read once, before the stream: the labels a review carries are few beside its records.
    by_record = visible_labels_by_record(access.review, access.user)
    for row in rows:
        row["labels"] = label_names(by_record.get(row["id"], []))
        yield row


def _with_notices(rows: Iterator[dict[str, Any]], access: Any) -> Iterator[dict[str, Any]]:
    # Read once, before the stream: notices are few beside a review's records.
    by_record = notices_by_record(access.review)
    for row in rows:
        row.update(notice_cells(by_record.get(row["id"], [])))
        yield row


def _labels_by(access: Any) -> dict[tuple[int, str, int | None], list[str]]:
    """Label names the exporter may see, per (record, stage, author) and (record, stage,
    None) for all authors together."""
    found: dict[tuple[int, str, int | None], list[str]] = {}
    for applications in visible_labels_by_record(access.review, access.user).values():
        for a in applications:
            for key in ((a.record_id, a.stage, a.applied_by_id), (a.record_id, a.stage, None)):
                names = found.setdefault(key, [])
                if a.label.name not in names:
                    names.append(a.label.name)
    return found


def _question_columns(access: Any) -> tuple[list[str], list[int]]:
    """The votes export's question columns, ``Q1: <text>``…, numbered across the review
    (title/abstract first, each stage in its order), and their question ids."""
    questions = list(questions_of(access.review))
    return [f"Q{n}: {q.text}" for n, q in enumerate(questions, 1)], [q.pk for q in questions]


def _vote_rows(access: Any, question_ids: list[int] | None = None) -> Iterator[list[Any]]:
    labels = _labels_by(access)
    # On a vote's row, its reviewer's answers on the record (as far as the exporter may see
    # them, ``answers_visible_to``: the same rule as the vote itself).
    answers = visible_answers_by_vote(access.review, access.user) if question_ids else {}
    votes = (
        votes_visible_to(
            access.user, Vote.objects.filter(review=access.review), review=access.review
        )
        .select_related("reviewer", "record")
        .order_by("record_id", "stage", "created_at")
    )
    for v in votes.iterator(chunk_size=2000):
        yield [
            v.record_id,
            v.record.title,
            v.stage,
            v.reviewer.username,
            v.decision,
            v.reason,
            v.note,
            timezone.localtime(v.created_at).isoformat(),
            "; ".join(labels.get((v.record_id, v.stage, v.reviewer_id), [])),
            *(
                answers.get((v.record_id, v.stage, v.reviewer_id), {}).get(q, "")
                for q in question_ids or []
            ),
        ]


def _outcome_rows(access: Any) -> Iterator[list[Any]]:
    labels = _labels_by(access)
    outcomes = Outcome.objects.filter(review=access.review).select_related("record", "decided_by")
    for o in outcomes.order_by("record_id", "stage").iterator(chunk_size=2000):
        yield [
            o.record_id,
            o.record.title,
            o.stage,
            o.decision,
            o.reason,
            o.get_kind_display(),
            o.decided_by.username if o.decided_by else "",
            timezone.localtime(o.created_at).isoformat(),
            "; ".join(labels.get((o.record_id, o.stage, None), [])),
        ]


@login_required
@require_safe
def export_votes(request: HttpRequest, slug: str, fmt: str) -> HttpResponse | StreamingHttpResponse:
    """Every vote and outcome, per reviewer, with times, reasons and notes. Blind screening
    holds here too: another reviewer's vote is left out until the record is settled."""
    access = get_review_for(request.user, slug, role=Role.OWNER)
    response: HttpResponse | StreamingHttpResponse
    columns, question_ids = _question_columns(access)
    vote_header = [*VOTE_HEADER, *columns]
    if fmt == "csv":
        response = StreamingHttpResponse(
            iter_rows_csv(vote_header, _vote_rows(access, question_ids)),
            content_type="text/csv; charset=utf-8",
        )
    elif fmt == "xlsx":
        buffer = io.BytesIO()
        write_rows_xlsx(
            {
                "Votes": (vote_header, _vote_rows(access, question_ids)),
                "Outcomes": (OUTCOME_HEADER, _outcome_rows(access)),
            },
            buffer,
        )
        response = HttpResponse(
            buffer.getvalue(),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        raise Http404("No such export.")
    response["Content-Disposition"] = f'attachment; filename="{slug}-votes.{fmt}"'
    return response


@login_required
@require_safe
def export_audit(request: HttpRequest, slug: str) -> StreamingHttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    header = ["when", "who", "action", "target", "before", "after"]

    def rows() -> Iterator[list[Any]]:
        events = AuditEvent.objects.filter(review=access.review).select_related("actor")
        batch: list[AuditEvent] = []
        for event in events.order_by("created_at", "id").iterator(chunk_size=2000):
            batch.append(event)
            if len(batch) == 2000:
                yield from _audit_rows(batch, access.user)
                batch = []
        yield from _audit_rows(batch, access.user)

    response = StreamingHttpResponse(
        iter_rows_csv(header, rows()), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{slug}-audit.csv"'
    return response


def _audit_rows(events: list[AuditEvent], user: Any) -> Iterator[list[Any]]:
    mask_audit_events(events, user)
    for e in events:
        yield [
            timezone.localtime(e.created_at).isoformat(),
            e.actor.username if e.actor else "system",
            e.action,
            e.target,
            e.before,
            e.after,
        ]
