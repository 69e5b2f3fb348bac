"""Update rounds of a living review (#21): starting one, and what changed in each.

A round is a period of the review's life: round 1 from its creation, each later round from
the moment an owner starts it. Searches imported during a round belong to it
(``Search.round``), and its PRISMA diagram counts them (``prisma.prisma_counts``). The
changelog says what the round added: new records, new inclusions, decisions taken again on
records of earlier rounds, and new extraction values (the extraction app contributes that
section: screening does not import it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import AuditEvent, Review
from reviewflow.reviews.services import record_audit
from screening.models import Decision, Outcome, Record, SearchStatus, Stage, UpdateRound
from screening.selectors.rounds import current_round
from screening.services import retractions

# Listed in full up to this many; beyond, the changelog counts them and its CSV lists all.
SHOWN = 50


@dataclass
class ChangeItem:
    when: datetime
    record_id: int | None
    title: str
    what: str


@dataclass
class ChangelogSection:
    name: str
    count: int
    items: list[ChangeItem] = field(default_factory=list)


@dataclass
class Changelog:
    number: int
    label: str
    starts: datetime
    ends: datetime | None  # None: the current round
    sections: list[ChangelogSection]


# Sections other apps add: ``(review, starts, ends) -> ChangelogSection`` (extraction
# registers its own in its AppConfig.ready()).
SECTION_PROVIDERS: list[Callable[[Review, datetime, datetime | None], ChangelogSection]] = []


@transaction.atomic
def start_update_round(*, review: Review, actor: User | None, label: str = "") -> UpdateRound:
    """Start the next round: searches imported from now on belong to it, and its PRISMA
    diagram is the "updated review" template with what the earlier rounds included as
    "previous". Refused while a search is still importing (it would fall in either round)."""
    Review.objects.select_for_update().get(pk=review.pk)
    busy = review.searches.filter(status__in=(SearchStatus.QUEUED, SearchStatus.RUNNING))
    if busy.exists():
        raise ReviewflowError(
            "A search is still importing; start the new round once it has finished, so "
            "that its records count in one round only."
        )
    number = current_round(review) + 1
    try:
        with transaction.atomic():
            started = UpdateRound.objects.create(
                review=review,
                number=number,
                label=label.strip()[:120],
                started_by=actor if actor is not None and actor.is_authenticated else None,
            )
    except IntegrityError:
        raise ReviewflowError("Another owner started this round a moment ago.") from None
    record_audit(
        review=review,
        actor=actor,
        action="round.started",
        target=f"round {number}",
        after={"number": number, "label": started.label},
        object_type="round",
        object_id=started.pk,
    )
    # A new round checks the included studies against Crossref's retraction notices (#21).
    retractions.check_on_round_start(review=review, actor=actor)
    return started


def round_window(review: Review, number: int) -> tuple[datetime, datetime | None, str]:
    """When round ``number`` started and ended (None: still current), and its label;
    ``ReviewflowError`` for a round the review does not have."""
    rounds = {r.number: r for r in UpdateRound.objects.filter(review=review)}
    if number != 1 and number not in rounds:
        raise ReviewflowError(f"This review has no round {number}.", field="round")
    starts = review.created_at if number == 1 else rounds[number].started_at
    following = rounds.get(number + 1)
    label = "" if number == 1 else rounds[number].label
    return starts, (following.started_at if following else None), label


def round_changelog(review: Review, number: int, *, shown: int = SHOWN) -> Changelog:
    """What round ``number`` changed, section by section (at most ``shown`` items each)."""
    starts, ends, label = round_window(review, number)
    during = Q(created_at__gte=starts) & (Q(created_at__lt=ends) if ends else Q())

    records = Record.objects.filter(
        review=review, search__round=number, search__status=SearchStatus.DONE
    )
    counts = records.aggregate(
        total=Count("id"), unique=Count("id", filter=Q(duplicate_of__isnull=True))
    )
    searches = list(
        review.searches.filter(round=number, status=SearchStatus.DONE)
        .annotate(n=Count("records"))
        .order_by("created_at", "id")
    )
    new_records = ChangelogSection(
        "New records",
        counts["total"],
        [
            ChangeItem(s.created_at, None, f"{s.source} ({s.filename})", _imported(s.n))  # type: ignore[attr-defined]
            for s in searches[:shown]
        ],
    )
    new_records.name = (
        f"New records ({counts['unique']} after removing "
        f"{counts['total'] - counts['unique']} duplicates)"
    )

    included = Outcome.objects.filter(
        during, review=review, stage=Stage.FULL_TEXT, decision=Decision.INCLUDE
    ).select_related("record")
    inclusions = ChangelogSection(
        "New inclusions",
        included.count(),
        [
            ChangeItem(
                o.created_at, o.record_id, o.record.title, f"included ({o.get_kind_display()})"
            )
            for o in included.order_by("created_at", "id")[:shown]
        ],
    )

    # Decisions taken again: a vote changed or taken back in this round, and records of
    # earlier rounds settled (again) in it.
    events = AuditEvent.objects.filter(
        during, review=review, action__in=("vote.changed", "vote.undone")
    ).select_related("actor")
    resettled = Outcome.objects.filter(
        during, review=review, record__search__round__lt=number
    ).select_related("record")
    titles = dict(
        Record.objects.filter(
            pk__in=[e.object_id for e in events[:shown] if e.object_id]
        ).values_list("pk", "title")
    )
    changed_items = [
        ChangeItem(
            e.created_at,
            e.object_id,
            titles.get(e.object_id or 0, e.target),
            "a vote changed" if e.action == "vote.changed" else "a vote taken back",
        )
        for e in events.order_by("created_at", "id")[:shown]
    ] + [
        ChangeItem(
            o.created_at,
            o.record_id,
            o.record.title,
            f"{o.get_stage_display().lower()}: {o.get_decision_display().lower()}"
            f" ({o.get_kind_display().lower()})",
        )
        for o in resettled.order_by("created_at", "id")[:shown]
    ]
    changed = ChangelogSection(
        "Changed decisions",
        events.count() + resettled.count(),
        sorted(changed_items, key=lambda item: item.when)[:shown],
    )
    sections = [new_records, inclusions, changed]
    sections += [provide(review, starts, ends) for provide in SECTION_PROVIDERS]
    return Changelog(number, label, starts, ends, sections)


def _imported(n: int) -> str:
    return f"{n} record{'s' if n != 1 else ''} imported"


def changelog_rows(changelog: Changelog) -> list[list[str]]:
    """The changelog as CSV rows (header first)."""
    rows = [["round", "section", "when", "record", "title", "what"]]
    for section in changelog.sections:
        for item in section.items:
            rows.append(
                [
                    str(changelog.number),
                    section.name,
                    timezone.localtime(item.when).isoformat(timespec="seconds"),
                    str(item.record_id or ""),
                    item.title,
                    item.what,
                ]
            )
    return rows
