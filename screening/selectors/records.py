"""Reads of the records list (#18): its filters, each record's standing per stage as the
user may see it, and the selection a bulk action or an export works on.

Blinding decides every filter here as it decides what pages show: a filter by another
reviewer's vote, decision, reason or answer lists only records where ``user`` may see that
vote or answer (``votes_visible_to``; ``answers_visible_to`` applies the same rule), so a
count or a list can never tell a reviewer what a colleague decided on a record the
reviewer has yet to finish. Owners who screen are bound by the same rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.contrib.auth.models import User
from django.db.models import Case, Count, Exists, F, Max, OuterRef, Q, Value, When
from django.http import QueryDict

from reviewflow.errors import ReviewflowError
from reviewflow.keyset import Keyset
from reviewflow.params import choice_param, parse_int, text_param
from reviewflow.reviews.models import Membership, Review
from screening.exporters import iter_bibtex, iter_csv, iter_ris
from screening.models import (
    Answer,
    Conflict,
    Decision,
    FullTextReport,
    Label,
    Outcome,
    OutcomeKind,
    QuestionAnswer,
    Record,
    RecordQuerySet,
    RetrievalStatus,
    ScreeningQuestion,
    SourceType,
    Stage,
    StageSettings,
    Vote,
)
from screening.selectors.identification import (
    EXPORT_COLUMNS,
    STATUSES,
    filter_by_stage_status,
    filter_records,
)
from screening.selectors.labels import filter_by_label, label_names, visible_labels_by_record
from screening.selectors.questions import answers_visible_to
from screening.selectors.retractions import NOTICE_COLUMNS, notice_cells, notices_by_record
from screening.selectors.screening import SCREENER_ROLES, votes_visible_to

# The most records a bulk action or an export takes by id; more go by the filter.
MAX_IDS = 5000
EXPORT_FORMATS = {
    "ris": ("application/x-research-info-systems", "ris"),
    "csv": ("text/csv", "csv"),
    "bibtex": ("application/x-bibtex", "bib"),
}
# The records list's order, the key its pages are read by (page and API): unique, as
# ``record_unique_position`` holds, and walked by ``record_review_order``.
RECORD_ORDER = Keyset(("search_id", "position"))
# A records CSV ends with the labels the exporter may see on each record (blinding).
SELECTION_CSV_COLUMNS = (*EXPORT_COLUMNS, "labels", *NOTICE_COLUMNS)


# ------------------------------------------------------------------------------ filters


@dataclass
class RecordFilters:
    """The records list's filters, parsed: what a page, the API and a bulk action share."""

    q: str = ""
    search: str = ""
    year: str = ""
    duplicates: str = ""
    stage: str = ""
    status: str = ""
    reason: str = ""
    label: int | None = None
    question: int | None = None
    answer: str = ""
    reviewer: User | None = None
    decision: str = ""
    labels: list[Label] = field(default_factory=list)

    def query(self) -> str:
        """The filters as a query string (the page's links and its bulk form keep them)."""
        values = {
            "q": self.q,
            "search": self.search,
            "year": self.year,
            "duplicates": self.duplicates,
            "stage": self.stage,
            "status": self.status,
            "reason": self.reason,
            "label": self.label or "",
            "question": self.question or "",
            "answer": self.answer,
            "reviewer": self.reviewer.username if self.reviewer else "",
            "decision": self.decision,
        }
        return urlencode({k: v for k, v in values.items() if v})


def _bad(strict: bool, name: str, message: str) -> None:
    if strict:
        raise ReviewflowError(f"{name}: {message}", field=name)


def parse_record_filters(
    params: QueryDict, *, review: Review, strict: bool = False
) -> RecordFilters:
    """The filters of ``params``. A page (``strict`` False) drops a malformed or unknown
    value, as a person who edited the address bar expects; the API (``strict``) answers
    400 naming the parameter."""
    f = RecordFilters(
        q=text_param(params, "q").strip(),
        search=text_param(params, "search").strip(),
        year=text_param(params, "year").strip(),
        # Free text in the API since the first round: anything else reads as "all records".
        duplicates=choice_param(params, "duplicates", choices=("exclude", "only"), default=""),
        stage=choice_param(params, "stage", choices=Stage.values, default="", strict=strict),
        status=choice_param(params, "status", choices=list(STATUSES), default="", strict=strict),
        reason=" ".join(text_param(params, "reason").split()),
        answer=choice_param(params, "answer", choices=Answer.values, default="", strict=strict),
        decision=choice_param(
            params, "decision", choices=Decision.values, default="", strict=strict
        ),
    )
    if f.status and not f.stage:
        _bad(strict, "status", "give the stage too (title-abstract or full-text).")
        f.status = ""
    f.labels = list(Label.objects.filter(review=review).order_by("order", "name", "id"))
    if raw := text_param(params, "label").strip():
        label = parse_int(raw, min_value=1)
        if label is None:
            _bad(strict, "label", "give a label's id, a whole number.")
        # A label of another review filters nothing on a page; in the API it finds nothing.
        elif strict or label in {x.pk for x in f.labels}:
            f.label = label
    if raw := text_param(params, "question").strip():
        question = parse_int(raw, min_value=1)
        if question is None:
            _bad(strict, "question", "give a screening question's id, a whole number.")
        elif strict or ScreeningQuestion.objects.filter(review=review, pk=question).exists():
            f.question = question
    if f.question is None and f.answer:
        _bad(strict, "answer", "give the question too (question=<id>).")
        f.answer = ""
    if f.question is not None and not f.answer:
        _bad(strict, "question", "give the answer too (answer=yes, no or unclear).")
        f.question = None
    if name := text_param(params, "reviewer").strip():
        member = (
            Membership.objects.filter(review=review, user__username=name, role__in=SCREENER_ROLES)
            .select_related("user")
            .first()
        )
        if member is None:
            _bad(strict, "reviewer", f"nobody who screens in this review is named “{name}”.")
        else:
            f.reviewer = member.user
    return f


def filter_by_answer(
    qs: RecordQuerySet,
    *,
    review: Review,
    user: User,
    question: int,
    answer: str,
    reviewer: User | None = None,
) -> RecordQuerySet:
    """Records where ``question`` was answered ``answer`` (by ``reviewer`` when given), as
    far as ``user`` may see the answer."""
    answers = QuestionAnswer.objects.filter(
        review=review, question_id=question, answer=answer, record=OuterRef("pk")
    )
    if reviewer is not None:
        answers = answers.filter(reviewer=reviewer)
    return qs.filter(Exists(answers_visible_to(user, answers)))


def filter_by_votes(
    qs: RecordQuerySet,
    *,
    review: Review,
    user: User,
    stage: str = "",
    reviewer: User | None = None,
    decision: str = "",
    reason: str = "",
) -> RecordQuerySet:
    """Records with a vote (at ``stage``, or either) by ``reviewer`` (or anyone), with
    ``decision`` and ``reason`` when given, as far as ``user`` may see that vote."""
    votes = Vote.objects.filter(review=review, record=OuterRef("pk"))
    if stage:
        votes = votes.filter(stage=stage)
    if reviewer is not None:
        votes = votes.filter(reviewer=reviewer)
    if decision:
        votes = votes.filter(decision=decision)
    if reason:
        votes = votes.filter(reason__iexact=reason)
    return qs.filter(Exists(votes_visible_to(user, votes)))


def filtered_records(review: Review, user: User, f: RecordFilters) -> RecordQuerySet:
    """The review's records that pass every filter of ``f``, as ``user`` may see them.

    ``reason`` with the status "Excluded" is the outcome's reason; otherwise, like
    ``reviewer`` and ``decision``, it asks for a vote ``user`` may see."""
    qs = filter_records(
        Record.objects.for_review(review),
        q=f.q,
        search=f.search,
        year=f.year,
        duplicates=f.duplicates,
    )
    if f.stage and f.status:
        qs = filter_by_stage_status(
            qs,
            review=review,
            user=user,
            stage=f.stage,
            status=f.status,
            reason=f.reason if f.status == "excluded" else "",
        )
    vote_reason = f.reason if f.status != "excluded" else ""
    if f.reviewer is not None or f.decision or vote_reason:
        qs = filter_by_votes(
            qs,
            review=review,
            user=user,
            stage=f.stage,
            reviewer=f.reviewer,
            decision=f.decision,
            reason=vote_reason,
        )
    if f.label is not None:
        qs = filter_by_label(qs, review=review, user=user, label=f.label)
    if f.question is not None and f.answer:
        qs = filter_by_answer(
            qs,
            review=review,
            user=user,
            question=f.question,
            answer=f.answer,
            reviewer=f.reviewer,
        )
    return qs


# ------------------------------------------------------------------------------ columns


@dataclass
class StageCell:
    """One record's standing at one stage, as its viewer may see it: counts of votes, the
    outcome (every member reads it), and the viewer's own vote; never another's decision."""

    stage: str
    status: str  # "", not_screened, waiting, conflict, included, excluded
    votes: int = 0
    needed: int = 0
    reason: str = ""
    automated: bool = False
    my_decision: str = ""
    my_reason: str = ""

    @property
    def text(self) -> str:
        if self.status == "waiting":
            return f"waiting ({self.votes} of {self.needed} votes)"
        if self.status == "excluded":
            why = "by automation" if self.automated else self.reason
            return f"excluded ({why})" if why else "excluded"
        return {
            "": "—",
            "not_screened": "not screened",
            "conflict": "conflict",
            "included": "included",
        }[self.status]

    def as_dict(self) -> dict[str, object]:
        return {
            "status": self.status or None,
            "text": self.text,
            "votes": self.votes,
            "needed": self.needed,
            "reason": self.reason,
            "my_vote": {"decision": self.my_decision, "reason": self.my_reason}
            if self.my_decision
            else None,
        }


def reviewers_needed(review: Review) -> dict[str, int]:
    """How many votes each stage needs, read in one query (defaults where nobody set it)."""
    default = StageSettings._meta.get_field("reviewers_needed").get_default()
    needed = dict.fromkeys(Stage.values, default)
    needed.update(
        StageSettings.objects.filter(review=review).values_list("stage", "reviewers_needed")
    )
    return needed


def with_list_annotations(qs: RecordQuerySet) -> RecordQuerySet:
    """What the stage columns read off the record itself: whether its full text was not
    retrieved (no full-text screening then)."""
    return qs.annotate(
        not_retrieved=Exists(
            FullTextReport.objects.filter(
                record=OuterRef("pk"), status=RetrievalStatus.NOT_RETRIEVED
            )
        )
    )


def stage_columns(
    review: Review, user: User, records: Iterable[Record]
) -> dict[int, dict[str, StageCell]]:
    """Per record id, per stage, its ``StageCell`` for ``user``: four queries whatever the
    number of records (votes counted, outcomes, open conflicts, the stages' settings).

    ``records`` carry ``search`` (its ``source_type``) and, from
    ``with_list_annotations``, ``not_retrieved``."""
    rows = list(records)
    ids = [r.pk for r in rows]
    if not ids:
        return {}
    votes: dict[tuple[int, str], tuple[int, str, str]] = {}
    mine = Q(reviewer=user)
    for record_id, stage, n, my_decision, my_reason in (
        Vote.objects.filter(record_id__in=ids)
        .order_by()
        .values("record_id", "stage")
        .annotate(
            n=Count("id"),
            # Only the user's own decision and reason leave the database.
            my_decision=Max(Case(When(mine, then=F("decision")), default=Value(""))),
            my_reason=Max(Case(When(mine, then=F("reason")), default=Value(""))),
        )
        .values_list("record_id", "stage", "n", "my_decision", "my_reason")
    ):
        votes[(record_id, stage)] = (n, my_decision or "", my_reason or "")
    outcomes = {
        (record_id, stage): (decision, reason, kind)
        for record_id, stage, decision, reason, kind in Outcome.objects.filter(
            record_id__in=ids
        ).values_list("record_id", "stage", "decision", "reason", "kind")
    }
    conflicts = set(
        Conflict.objects.filter(record_id__in=ids, resolved_at__isnull=True).values_list(
            "record_id", "stage"
        )
    )
    needed = reviewers_needed(review)
    found: dict[int, dict[str, StageCell]] = {}
    for record in rows:
        other = record.search.source_type == SourceType.OTHER
        passed = outcomes.get((record.pk, Stage.TITLE_ABSTRACT), ("",))[0] == Decision.INCLUDE
        eligible: dict[str, bool] = {
            Stage.TITLE_ABSTRACT: not other,
            Stage.FULL_TEXT: (passed or other) and not getattr(record, "not_retrieved", False),
        }
        cells = {}
        for stage in Stage.values:
            key = (record.pk, stage)
            n, my_decision, my_reason = votes.get(key, (0, "", ""))
            cell = StageCell(
                stage=stage,
                status="",
                votes=n,
                needed=needed[stage],
                my_decision=my_decision,
                my_reason=my_reason,
            )
            if key in outcomes:
                decision, reason, kind = outcomes[key]
                cell.status = "included" if decision == Decision.INCLUDE else "excluded"
                cell.reason = reason if decision == Decision.EXCLUDE else ""
                cell.automated = kind == OutcomeKind.AUTOMATION
            elif key in conflicts:
                cell.status = "conflict"
            elif n:
                cell.status = "waiting"
            elif eligible[stage] and record.duplicate_of_id is None:
                cell.status = "not_screened"
            cells[stage] = cell
        found[record.pk] = cells
    return found


# ------------------------------------------------------------------------------ selection


def parse_ids(values: Iterable[object], *, name: str = "ids") -> list[int]:
    """Record ids as given (a list, or text "1,2,3"), each a whole number; at most
    ``MAX_IDS``. Raises the message a person reads."""
    ids: list[int] = []
    for value in values:
        parts: list[object] = list(value.split(",")) if isinstance(value, str) else [value]
        for part in parts:
            if isinstance(part, str) and not part.strip():
                continue
            number = (
                part
                if isinstance(part, int) and not isinstance(part, bool)
                else parse_int(str(part), min_value=1)
            )
            if not isinstance(number, int) or number < 1:
                raise ReviewflowError(f"{name}: “{part}” is not a record's id.", field=name)
            ids.append(number)
    unique = list(dict.fromkeys(ids))
    if len(unique) > MAX_IDS:
        raise ReviewflowError(
            f"{name}: select at most {MAX_IDS:,} records by id (these are "
            f"{len(unique):,}), or select all that match the filter.",
            field=name,
        )
    return unique


def selected_records(
    review: Review, user: User, *, ids: list[int] | None, filters: RecordFilters | None
) -> RecordQuerySet:
    """The records a bulk action or an export works on: ``ids`` (every one a record of
    the review, or nothing is done) or every record that passes ``filters``."""
    if ids is not None:
        if not ids:
            raise ReviewflowError("Select at least one record.", field="ids")
        qs = Record.objects.for_review(review).filter(pk__in=ids)
        missing = len(ids) - qs.count()
        if missing:
            raise ReviewflowError(
                f"{missing} of the {len(ids)} selected records are not in this review: "
                "reload the page and select again.",
                field="ids",
            )
        return qs
    return filtered_records(review, user, filters or RecordFilters())


def selection_rows(review: Review, qs: RecordQuerySet) -> Iterator[dict[str, object]]:
    """The selected records as plain dicts for the export writers, streamed, with the
    reason of an exclusion (outcomes: every member reads them)."""
    reasons: dict[int, str] = {}
    for record_id, stage, reason in Outcome.objects.filter(
        review=review, decision=Decision.EXCLUDE, record__in=qs.values("pk")
    ).values_list("record_id", "stage", "reason"):
        at = "title/abstract" if stage == Stage.TITLE_ABSTRACT else "full text"
        reasons[record_id] = f"{at}: {reason}" if reason else at
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


def export_selection(
    review: Review, user: User, qs: RecordQuerySet, fmt: str
) -> tuple[Iterator[str], str, str]:
    """The selected records in ``fmt`` (ris, csv, bibtex): the text, streamed, its content
    type and the file name's extension. A CSV carries the labels ``user`` may see."""
    if fmt not in EXPORT_FORMATS:
        raise ReviewflowError(
            f"format must be one of: {', '.join(EXPORT_FORMATS)}.", field="format"
        )
    content_type, extension = EXPORT_FORMATS[fmt]
    rows = selection_rows(review, qs)
    if fmt == "ris":
        return iter_ris(rows), content_type, extension
    if fmt == "bibtex":
        return iter_bibtex(rows), content_type, extension

    def labelled() -> Iterator[dict[str, object]]:
        by_record = visible_labels_by_record(review, user)
        # Read once, before the stream: notices are few beside a review's records (#21).
        notices = notices_by_record(review)
        for row in rows:
            pk = int(str(row["id"]))
            row["labels"] = label_names(by_record.get(pk, []))
            row.update(notice_cells(notices.get(pk, [])))
            yield row

    return iter_csv(labelled(), columns=SELECTION_CSV_COLUMNS), content_type, extension


def screeners_of(review: Review) -> list[User]:
    """The review's members who screen (reviewers and owners), for the reviewer filter."""
    return [
        m.user
        for m in Membership.objects.filter(review=review, role__in=SCREENER_ROLES)
        .select_related("user")
        .order_by("user__username")
    ]


# ------------------------------------------------------------------------------ one record


@dataclass
class StageScreening:
    """A record's screening at one stage, for its page: the votes ``user`` may see, how
    many are hidden (a count, never a decision), the outcome and an open conflict."""

    stage: str
    label: str
    screened_here: bool
    votes: list[Vote]
    hidden: int
    needed: int
    outcome: Outcome | None
    conflict: Conflict | None

    @property
    def my_vote(self) -> Vote | None:
        return next((v for v in self.votes if v.is_mine), None)  # type: ignore[attr-defined]


def record_screening(review: Review, user: User, record: Record) -> list[StageScreening]:
    """Per stage, what ``user`` may see of ``record``'s screening (four queries)."""
    counts = dict(
        Vote.objects.filter(record=record)
        .order_by()
        .values("stage")
        .annotate(n=Count("id"))
        .values_list("stage", "n")
    )
    visible: dict[str, list[Vote]] = {}
    for vote in votes_visible_to(user, Vote.objects.filter(record=record)).select_related(
        "reviewer"
    ):
        vote.is_mine = vote.reviewer_id == user.pk  # type: ignore[attr-defined]
        visible.setdefault(vote.stage, []).append(vote)
    outcomes = {
        o.stage: o for o in Outcome.objects.filter(record=record).select_related("decided_by")
    }
    conflicts = {
        c.stage: c for c in Conflict.objects.filter(record=record, resolved_at__isnull=True)
    }
    needed = reviewers_needed(review)
    other = record.search.source_type == SourceType.OTHER
    ta = outcomes.get(Stage.TITLE_ABSTRACT)
    passed = ta is not None and ta.decision == Decision.INCLUDE
    screened_here: dict[str, bool] = {
        Stage.TITLE_ABSTRACT: not other,
        Stage.FULL_TEXT: passed or other,
    }
    return [
        StageScreening(
            stage=stage,
            label=str(label),
            screened_here=record.duplicate_of_id is None and screened_here[stage],
            votes=visible.get(stage, []),
            hidden=counts.get(stage, 0) - len(visible.get(stage, [])),
            needed=needed[stage],
            outcome=outcomes.get(stage),
            conflict=conflicts.get(stage),
        )
        for stage, label in Stage.choices
    ]


def ids_from(params: QueryDict, name: str = "ids") -> list[str]:
    """Every value of ``name`` (a form's ticked boxes, or ``ids=1,2,3``), for ``parse_ids``."""
    return params.getlist(name)


def bulk_label_message(action: str, name: str, n: int, changed: int) -> str:
    """What a bulk label action did, in the words a person reads (page and API alike)."""
    records = f"{n:,} record{'s' if n != 1 else ''}"
    if action == "label":
        already = f" ({n - changed:,} had it already)" if n - changed else ""
        return f"Label “{name}” put on {records}{already}."
    return f"Label “{name}” taken off {changed:,} of {records} (yours only)."
