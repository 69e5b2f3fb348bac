"""The PRISMA 2020 counts of a review, derived from its data as it stands, plus what an
owner entered; and the owner's edits to those entered counts."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Review
from reviewflow.reviews.services import record_audit
from screening.models import (
    Decision,
    FullTextReport,
    OtherMethod,
    Outcome,
    OutcomeKind,
    PrismaSettings,
    Record,
    RetrievalStatus,
    RoundPrismaCounts,
    SearchStatus,
    SourceType,
    Stage,
    UpdateRound,
)
from screening.prisma import PrismaCounts
from screening.selectors.identification import included_at_full_text
from screening.selectors.rounds import current_round

MANUAL_FIELDS = (
    "updated_review",
    "previous_studies",
    "previous_reports",
    "duplicates_before_import",
    "excluded_automatic",
    "excluded_other",
    "website_results",
    "organisation_results",
    "citations_results",
)


# What an update round's diagram takes from an owner: the records removed before import and
# those found outside reviewflow (its previous studies and reports come from the earlier
# rounds, and whether the review updates an earlier one is said once, for round 1).
ROUND_FIELDS = (
    "duplicates_before_import",
    "excluded_automatic",
    "excluded_other",
    "website_results",
    "organisation_results",
    "citations_results",
)


def prisma_settings(review: Review) -> PrismaSettings:
    found = PrismaSettings.objects.filter(review=review).first()
    return found or PrismaSettings(review=review)


def entered_counts(review: Review, round_number: int = 1) -> PrismaSettings | RoundPrismaCounts:
    """The counts an owner entered for round ``round_number``'s diagram (unsaved zeros when
    none were); ``ReviewflowError`` for a round the review does not have."""
    if round_number == 1:
        return prisma_settings(review)
    update_round = UpdateRound.objects.filter(review=review, number=round_number).first()
    if update_round is None:
        raise ReviewflowError(
            f"This review has no round {round_number}.", field="round", code="not_found"
        )
    found = RoundPrismaCounts.objects.filter(update_round=update_round).first()
    return found or RoundPrismaCounts(update_round=update_round)


def entered_fields(round_number: int) -> tuple[str, ...]:
    """The counts an owner enters for round ``round_number``."""
    return MANUAL_FIELDS if round_number == 1 else ROUND_FIELDS


@transaction.atomic
def update_prisma_settings(
    *, review: Review, actor: User, round_number: int = 1, **changes: Any
) -> PrismaSettings | RoundPrismaCounts:
    """Owner-entered counts of round ``round_number``'s diagram (1: the review as first
    done); every change is in the audit trail."""
    allowed = entered_fields(round_number)
    unknown = set(changes) - set(MANUAL_FIELDS)
    if unknown:
        raise ReviewflowError(f"Unknown PRISMA field: {', '.join(sorted(unknown))}.")
    not_here = [name for name in changes if name not in allowed]
    if not_here:
        raise ReviewflowError(
            f"Round {round_number} takes no {not_here[0].replace('_', ' ')}: an update "
            "round's previous studies and reports are those the earlier rounds included, "
            "and whether the review updates an earlier one is entered for round 1.",
            field=not_here[0],
        )
    for name, value in changes.items():
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            raise ReviewflowError(
                f"{name.replace('_', ' ').capitalize()} cannot be negative.", field=name
            )
    current = entered_counts(review, round_number)
    before = {k: getattr(current, k) for k in changes if getattr(current, k) != changes[k]}
    if not before:
        return current
    for name, value in changes.items():
        setattr(current, name, value)
    current.save()
    record_audit(
        review=review,
        actor=actor,
        action="prisma.counts_changed" if round_number == 1 else "prisma.round_counts_changed",
        target="entered counts" if round_number == 1 else f"round {round_number}",
        before=before,
        after={k: changes[k] for k in before},
    )
    return current


def prisma_counts(review: Review, round_number: int | None = None) -> PrismaCounts:
    """Every box of the flow diagram from the review's searches, duplicates, outcomes and
    reports, plus the counts an owner entered. Records found by other methods skip the
    title/abstract stage, as in PRISMA's right-hand column.

    ``round_number`` (default: the current round): a living review's update round. Each
    round's diagram counts the records of that round's searches; from round 2 on it is the
    "updated review" template, its previous studies and reports being those included from
    the earlier rounds (plus, where an owner said the review updates an earlier one, the
    counts they entered). Each round's diagram has the counts an owner entered for it
    (``entered_counts``): records removed before import, records found outside reviewflow.
    """
    number = round_number or current_round(review)
    manual = prisma_settings(review)
    if number > 1:
        entered = entered_counts(review, number)
        manual = PrismaSettings(
            review=review,
            updated_review=True,
            previous_studies=manual.previous_studies if manual.updated_review else 0,
            previous_reports=manual.previous_reports if manual.updated_review else 0,
            **{name: getattr(entered, name) for name in ROUND_FIELDS},
        )
    in_round = Q(record__search__round=number)
    records = Record.objects.filter(
        review=review, search__status=SearchStatus.DONE, search__round=number
    )
    # One pass over the round's records, counted per search source: all, duplicates, the
    # rest, and of these the ones with no title/abstract outcome yet (read by the review's
    # outcome index, as a constant). Four scans of a 100,000-record review were a third
    # of the diagram's time (#25).
    unique = Q(duplicate_of__isnull=True)
    per_source: dict[str, Counter[str]] = defaultdict(Counter)
    duplicates = screened = other_unique = records_open = 0
    for source_type, source, other_method, n, unique_n, open_n in (
        records.values("search__source_type", "search__source", "search__other_method")
        .annotate(
            n=Count("id"),
            unique_n=Count("id", filter=unique),
            open_n=Count("id", filter=unique & ~_outcome_at(review, Stage.TITLE_ABSTRACT)),
        )
        .values_list(
            "search__source_type",
            "search__source",
            "search__other_method",
            "n",
            "unique_n",
            "open_n",
        )
    ):
        by_other_method = source_type == SourceType.OTHER
        per_source[other_method if by_other_method else source_type][source] += n
        if by_other_method:
            other_unique += unique_n
        else:
            duplicates += n - unique_n
            screened += unique_n
            records_open += open_n

    # Records left unscreened when the team stopped early were "marked as ineligible by
    # automation tools" (PRISMA box 3): not screened, so not in the screened/excluded boxes.
    automated = (
        Outcome.objects.filter(
            in_round, review=review, stage=Stage.TITLE_ABSTRACT, kind=OutcomeKind.AUTOMATION
        )
        .exclude(record__search__source_type=SourceType.OTHER)
        .count()
    )
    screened -= automated

    # Reports left unread when the team stopped full-text screening early were sought and
    # then excluded by the stopping rule: they count among the reports assessed, under the
    # reason the stop gave them ("Not assessed: screening stopped early by …", see
    # ``early_stop.stop_label``), so box 8 − box 9 is still the included reports and
    # the diagram says plainly how many were never read. PRISMA's CSV template has no box
    # for them, and a separate one would leave sought − not retrieved ≠ assessed.
    outcomes: defaultdict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for stage, decision, other, n in (
        Outcome.objects.filter(in_round, review=review)
        .exclude(kind=OutcomeKind.AUTOMATION, stage=Stage.TITLE_ABSTRACT)
        .values("stage", "decision", "record__search__source_type")
        .annotate(n=Count("id"))
        .values_list("stage", "decision", "record__search__source_type", "n")
    ):
        column = "other" if other == SourceType.OTHER else "dbr"
        outcomes[(stage, column)][decision] += n
    reasons: dict[str, Counter[str]] = {"dbr": Counter(), "other": Counter()}
    for reason, other, n in (
        Outcome.objects.filter(
            in_round, review=review, stage=Stage.FULL_TEXT, decision=Decision.EXCLUDE
        )
        .values("reason", "record__search__source_type")
        .annotate(n=Count("id"))
        .values_list("reason", "record__search__source_type", "n")
    ):
        reasons["other" if other == SourceType.OTHER else "dbr"][reason or "No reason given"] += n
    not_retrieved = Counter(
        "other" if other == SourceType.OTHER else "dbr"
        for other in FullTextReport.objects.filter(
            in_round, review=review, status=RetrievalStatus.NOT_RETRIEVED
        ).values_list("record__search__source_type", flat=True)
    )
    ta = outcomes[(Stage.TITLE_ABSTRACT, "dbr")]
    ft_dbr, ft_other = outcomes[(Stage.FULL_TEXT, "dbr")], outcomes[(Stage.FULL_TEXT, "other")]
    sought_dbr = ta[Decision.INCLUDE]
    included_reports, included_studies = included_at_full_text(review, rounds=[number])
    new_reports, new_studies = len(included_reports), len(included_studies)
    if number > 1:
        earlier_reports, earlier_studies = included_at_full_text(review, rounds=range(1, number))
        # A new report of a study included earlier is a new report, not a new study.
        new_studies = len(included_studies - earlier_studies)
        manual.previous_studies = (manual.previous_studies or 0) + len(earlier_studies)
        manual.previous_reports = (manual.previous_reports or 0) + len(earlier_reports)

    def total(name: str) -> int:
        return sum(per_source[name].values())

    website = total(OtherMethod.WEBSITE) + manual.website_results
    organisation = total(OtherMethod.ORGANISATION) + manual.organisation_results
    citations = total(OtherMethod.CITATION) + manual.citations_results
    other_methods = bool(website or organisation or citations or other_unique)
    # Records an owner says were removed before import were still identified by the
    # databases: they count in "identified" and in the "removed before screening" box.
    removed_before = (
        manual.duplicates_before_import + manual.excluded_automatic + manual.excluded_other
    )
    databases: list[tuple[str, int]] = sorted(per_source[SourceType.DATABASE].items())
    if removed_before:
        databases.append(("Removed before import (entered by an owner)", removed_before))
    previous_studies = manual.previous_studies if manual.updated_review else None
    previous_reports = manual.previous_reports if manual.updated_review else None
    return PrismaCounts(
        updated=manual.updated_review,
        other_methods=other_methods,
        previous_studies=previous_studies,
        previous_reports=previous_reports,
        database_results=total(SourceType.DATABASE) + removed_before,
        database_specific_results=databases,
        register_results=total(SourceType.REGISTER),
        register_specific_results=sorted(per_source[SourceType.REGISTER].items()),
        website_results=website,
        organisation_results=organisation,
        citations_results=citations,
        duplicates=duplicates + manual.duplicates_before_import,
        excluded_automatic=manual.excluded_automatic + automated,
        excluded_other=manual.excluded_other,
        records_screened=screened,
        records_excluded=ta[Decision.EXCLUDE],
        dbr_sought_reports=sought_dbr,
        dbr_notretrieved_reports=not_retrieved["dbr"],
        dbr_assessed=sum(ft_dbr.values()),
        dbr_excluded=sorted(reasons["dbr"].items()),
        dbr_included_reports=ft_dbr[Decision.INCLUDE],
        other_sought_reports=other_unique if other_methods else None,
        other_notretrieved_reports=not_retrieved["other"] if other_methods else None,
        other_assessed=sum(ft_other.values()) if other_methods else None,
        other_excluded=sorted(reasons["other"].items()),
        other_included_reports=ft_other[Decision.INCLUDE] if other_methods else None,
        new_studies=new_studies,
        new_reports=new_reports,
        total_studies=new_studies + (previous_studies or 0) if manual.updated_review else None,
        total_reports=new_reports + (previous_reports or 0) if manual.updated_review else None,
        records_open=records_open,
        **_reports_open(review, records),
    )


def _outcome_at(review: Review, stage: str) -> Exists:
    """The record (the outer query's) has an outcome at ``stage``. The review as a constant
    in the subquery: at scale the planner then reads this review's outcomes, not a hashed
    anti-join over every review's (#25)."""
    return Exists(Outcome.objects.filter(record=OuterRef("pk"), review=review, stage=stage))


def _reports_open(review: Review, records: Any) -> dict[str, int]:
    """Reports still being screened, counted from the records themselves (not from the
    boxes), so that only a real inconsistency shows as one (``check``); the records still
    open at title/abstract are counted so in ``prisma_counts``' pass over the records."""
    is_other = Q(search__source_type=SourceType.OTHER)
    unique = records.filter(duplicate_of__isnull=True)
    not_retrieved = Exists(
        FullTextReport.objects.filter(
            record=OuterRef("pk"), review=review, status=RetrievalStatus.NOT_RETRIEVED
        )
    )
    passed = Exists(
        Outcome.objects.filter(
            record=OuterRef("pk"),
            review=review,
            stage=Stage.TITLE_ABSTRACT,
            decision=Decision.INCLUDE,
        )
    )
    awaiting_full_text = unique.filter(~_outcome_at(review, Stage.FULL_TEXT), ~not_retrieved)
    return {
        "dbr_reports_open": awaiting_full_text.exclude(is_other).filter(passed).count(),
        "other_reports_open": awaiting_full_text.filter(is_other).count(),
    }
