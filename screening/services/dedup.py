"""Deduplication of a review's records: run the matching engine, store its verdicts, merge
clusters, and let people decide, merge and undo.

One mechanism, ``_apply_clusters``, turns the stored pairs into merges: the engine's sure
links, the pairs people confirmed and the merges that already exist join records; pairs
people separated can never end up in one cluster. Each run of the engine and each decision
calls it, so a new run can add merges but never undo one a person made or confirmed.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models.functions import Substr
from django.utils import timezone

from reviewflow import bulk
from reviewflow.errors import ReviewflowError
from reviewflow.heartbeat import beat_every, beating, later_beat
from reviewflow.reviews.models import AuditEvent, Review
from reviewflow.reviews.services import audit_fields, record_audit
from screening import bibliography
from screening.dedup import (
    Match,
    MatchRecord,
    build_clusters,
    choose_primary,
    explain,
    fill_from_duplicates,
    find_matches,
)
from screening.dedup.wording import explanation
from screening.models import (
    DuplicatePair,
    MergeKind,
    PairDecision,
    Record,
    Search,
    SearchStatus,
    Vote,
)

log = logging.getLogger(__name__)

# The columns of a new pair row, in ``_store_matches``'s order.
PAIR_COLUMNS = (
    "review_id",
    "record_a_id",
    "record_b_id",
    "score",
    "reasons",
    "decision",
    "created_at",
)

# What matching reads of a record: its id and the fields the engine compares, of a long
# text only the opening it compares (don't load whole abstracts of 100,000 records).
MATCH_FIELDS = ("id", *(f.name for f in bibliography.MATCHED))
MATCH_COLUMNS = (
    "id",
    *(
        Substr(f.name, 1, f.match_opening) if f.match_opening else f.name
        for f in bibliography.MATCHED
    ),
)


@dataclass
class DedupResult:
    compared: int = 0
    new_auto: int = 0
    new_pending: int = 0
    merged: int = 0
    clusters: int = 0
    pending_total: int = 0
    details: dict[str, int] = field(default_factory=dict)
    skipped: bool = False  # ``only_if_pending`` and another run had done it already


def _match_records(rows: Iterable[tuple[Any, ...]]) -> list[MatchRecord]:
    """Rows of ``MATCH_COLUMNS`` as the engine's records."""
    names = MATCH_FIELDS[1:]
    lists = [f.name for f in bibliography.MATCHED if f.kind is bibliography.Kind.LIST]
    openings = [(f.name, f.match_opening) for f in bibliography.MATCHED if f.match_opening]
    out = []
    for rid, *values in rows:
        fields = dict(zip(names, values, strict=True))
        for name in lists:
            fields[name] = tuple(fields[name] or ())
        for name, length in openings:
            fields[name] = fields[name][:length]
        out.append(MatchRecord(id=rid, **fields))
    return out


def _lock(review_id: int) -> Review:
    # One deduplication (or decision) at a time per review.
    return Review.objects.select_for_update().get(pk=review_id)


def _human_decisions(review: Review) -> dict[frozenset[int], str]:
    rows = DuplicatePair.objects.filter(
        review=review, decision__in=[PairDecision.CONFIRMED, PairDecision.SEPARATED]
    ).values_list("record_a_id", "record_b_id", "decision")
    return {frozenset((a, b)): d for a, b, d in rows}


def _existing_clusters(review: Review) -> list[set[int]]:
    groups: dict[int, set[int]] = defaultdict(set)
    for rid, primary in Record.objects.filter(
        review=review, duplicate_of__isnull=False
    ).values_list("id", "duplicate_of_id"):
        groups[primary].update((primary, rid))
    return list(groups.values())


def run_dedup(
    *, review_id: int, search_id: int | None = None, only_if_pending: bool = False
) -> DedupResult:
    """Compare a search's records with the review's others (or, without ``search_id``, every
    record with every other), store the verdicts and merge the sure clusters.

    Safe to run again: verdicts are upserted, decisions people made are kept. The run
    clears the "deduplication pending" mark (``Search.dedup_requested_at``) of the searches
    it compared; with ``only_if_pending`` (the task an import sends, and its re-sent copies)
    it does nothing when that mark is already clear, so a re-sent task that was not lost
    after all does not run a second time.

    While it runs, the searches it is for carry a heartbeat (``Search.heartbeat_at``), so
    a worker restarts it if its own worker dies whole (``restart_stale_dedups``).
    """
    running = Search.objects.filter(
        review_id=review_id, status=SearchStatus.DONE, dedup_requested_at__isnull=False
    )
    if search_id is not None:
        running = running.filter(pk=search_id)

    def beat() -> None:
        # Rows another run is clearing (it holds them until it commits) need no beat, and
        # waiting for them while holding others could deadlock with that run.
        with transaction.atomic():
            ids = list(running.select_for_update(skip_locked=True).values_list("pk", flat=True))
            Search.objects.filter(pk__in=ids).update(heartbeat_at=later_beat(timezone.now()))

    beat()
    # On SQLite the run holds the database's write lock from start to end, so no beat could
    # be written meanwhile; nor can a restart pass claim it (that is a write too) until the
    # run has committed (mark cleared: nothing to restart) or died (lock freed).
    every = 0.0 if connection.vendor == "sqlite" else beat_every()
    with beating(beat, every=every):
        return _run_dedup(review_id=review_id, search_id=search_id, only_if_pending=only_if_pending)


def _run_dedup(*, review_id: int, search_id: int | None, only_if_pending: bool) -> DedupResult:
    with transaction.atomic():
        review = _lock(review_id)
        # Read before the records: a search that finishes importing after this read is not
        # compared by this run, and keeps its mark.
        pending = Search.objects.filter(
            review=review, status=SearchStatus.DONE, dedup_requested_at__isnull=False
        )
        if search_id is not None:
            pending = pending.filter(pk=search_id)
        pending_ids = list(pending.values_list("pk", flat=True))
        if only_if_pending and search_id is not None and not pending_ids:
            return DedupResult(skipped=True)
        visible = Record.objects.filter(review=review, search__status=SearchStatus.DONE)
        rows = visible.values_list(*MATCH_COLUMNS)
        if search_id is None:
            new, existing = _match_records(rows), []
        else:
            new = _match_records(rows.filter(search_id=search_id))
            existing = _match_records(rows.exclude(search_id=search_id))
        decided = _human_decisions(review)
        clusters = _existing_clusters(review)
        matches = find_matches(new, existing, decided=decided, clusters=clusters)
        result = _store_matches(review, _not_yet_separated(matches, decided, clusters))
        result.compared = len(new)
        known = {r.id: r for r in new}
        known.update((r.id, r) for r in existing)
        merged = _apply_clusters(review, actor=None, known=known)
        result.merged = merged
        result.pending_total = DuplicatePair.objects.filter(
            review=review, decision=PairDecision.PENDING
        ).count()
        result.clusters = len(_existing_clusters(review))
        if pending_ids:
            Search.objects.filter(pk__in=pending_ids).update(
                dedup_requested_at=None, heartbeat_at=None
            )
        record_audit(
            review=review,
            actor=None,
            action="dedup.run",
            target="all records" if search_id is None else f"search {search_id}",
            after={
                "compared": result.compared,
                "new_auto": result.new_auto,
                "new_pending": result.new_pending,
                "merged": merged,
                "pending": result.pending_total,
            },
        )
    return result


def _not_yet_separated(
    matches: Sequence[Match], decided: dict[frozenset[int], str], clusters: list[set[int]]
) -> list[Match]:
    """Drop pending questions about two clusters a person already said are different
    (they answered for one pair of records; the answer holds for both clusters)."""
    cluster_of = {rid: i for i, group in enumerate(clusters) for rid in group}

    def key(rid: int) -> tuple[str, int]:
        return ("cluster", cluster_of[rid]) if rid in cluster_of else ("record", rid)

    apart = set()
    for pair, decision in decided.items():
        if decision == PairDecision.SEPARATED:
            x, y = tuple(pair)
            apart.add(frozenset((key(x), key(y))))
    return [
        m for m in matches if m.outcome == "auto" or frozenset((key(m.a), key(m.b))) not in apart
    ]


def _store_matches(review: Review, matches: Sequence[Match]) -> DedupResult:
    result = DedupResult()
    stored = {
        (a, b): (pk, decision, score)
        for pk, a, b, decision, score in DuplicatePair.objects.filter(review=review).values_list(
            "pk", "record_a_id", "record_b_id", "decision", "score"
        )
    }
    now = timezone.now()
    to_create: list[tuple[Any, ...]] = []
    to_update: list[tuple[Any, ...]] = []
    for m in matches:
        decision = PairDecision.AUTO if m.outcome == "auto" else PairDecision.PENDING
        known = stored.get((m.a, m.b))
        if known is None:
            to_create.append(
                (review.pk, m.a, m.b, m.score, json.dumps(list(m.reasons)), decision, now)
            )
            if decision == PairDecision.AUTO:
                result.new_auto += 1
            else:
                result.new_pending += 1
        elif known[1] in (PairDecision.AUTO, PairDecision.PENDING) and (
            known[2] != m.score or (decision == PairDecision.AUTO and known[1] != decision)
        ):
            # An engine verdict may grow from pending to auto, never back.
            grown = (
                PairDecision.AUTO
                if PairDecision.AUTO in (decision, known[1])
                else PairDecision.PENDING
            )
            to_update.append((known[0], m.score, json.dumps(list(m.reasons)), grown))
    bulk.insert_rows(DuplicatePair, PAIR_COLUMNS, to_create)
    bulk.update_rows(DuplicatePair, ["score", "reasons", "decision"], to_update)
    return result


def _apply_clusters(
    review: Review,
    *,
    actor: User | None,
    preferred: dict[frozenset[int], int] | None = None,
    known: dict[int, MatchRecord] | None = None,
) -> int:
    """Merge the records that the stored pairs and existing merges join; return how many
    records became duplicates. ``preferred`` names the primary a person chose for a cluster
    that contains the given pair."""
    pairs = DuplicatePair.objects.filter(review=review).exclude(decision=PairDecision.PENDING)
    auto: list[Match] = []
    confirmed: list[frozenset[int]] = []
    separated: list[frozenset[int]] = []
    confirmed_ids: set[frozenset[int]] = set()
    for a, b, decision, score in pairs.values_list(
        "record_a_id", "record_b_id", "decision", "score"
    ):
        pair = frozenset((a, b))
        if decision == PairDecision.AUTO:
            auto.append(Match(a, b, "auto", score, ()))
        elif decision == PairDecision.CONFIRMED:
            confirmed.append(pair)
            confirmed_ids.add(pair)
        else:
            separated.append(pair)
    current: dict[int, int | None] = {}
    kinds: dict[int, str] = {}
    for rid, primary, kind in Record.objects.filter(
        review=review, duplicate_of__isnull=False
    ).values_list("id", "duplicate_of_id", "merge_kind"):
        current[rid] = primary
        kinds[rid] = kind
        confirmed.append(frozenset((rid, primary)))  # existing merges stay
    clusters = build_clusters(auto, separated=separated, confirmed=confirmed)
    if not clusters:
        return 0
    ids = {rid for cluster in clusters for rid in cluster}
    missing = ids - set(known or {})
    records = {i: (known or {})[i] for i in ids - missing}
    for chunk in _chunks(sorted(missing)):
        records.update(
            (r.id, r)
            for r in _match_records(Record.objects.filter(pk__in=chunk).values_list(*MATCH_COLUMNS))
        )
    primaries_now = {p for p in current.values() if p is not None}
    screened_ids = _voted(review) & ids
    changed: dict[int, tuple[int | None, str]] = {}
    fills: dict[int, dict[str, tuple[object, int]]] = {}
    for cluster in clusters:
        primary = _primary_for(cluster, records, primaries_now, current, preferred, screened_ids)
        members = cluster - {primary}
        for rid in members:
            linked_by_person = any(
                frozenset((rid, other)) in confirmed_ids for other in cluster if other != rid
            )
            kind = MergeKind.CONFIRMED if linked_by_person else kinds.get(rid, MergeKind.AUTO)
            if current.get(rid) != primary or kinds.get(rid) != kind:
                changed[rid] = (primary, kind)
        if current.get(primary) is not None:
            changed[primary] = (None, "")
        fills[primary] = fill_from_duplicates(records[primary], [records[r] for r in members])
    newly = {rid for rid in changed if current.get(rid) is None and changed[rid][0]}
    _write_merges(review, actor, changed, fills, newly)
    return len(newly)


def _primary_for(
    cluster: set[int],
    records: dict[int, MatchRecord],
    primaries_now: set[int],
    current: dict[int, int | None],
    preferred: dict[frozenset[int], int] | None,
    screened_ids: set[int],
) -> int:
    for pair, chosen in (preferred or {}).items():
        if pair <= cluster:
            return chosen
    kept = [rid for rid in cluster if rid in primaries_now and current.get(rid) is None]
    if kept:
        # A cluster keeps the primary it had (screening may have started on it).
        return choose_primary(kept, records)
    screened = [rid for rid in cluster if rid in screened_ids]
    if screened:
        # Screening goes on with a record that already has votes.
        return choose_primary(screened, records)
    return choose_primary(cluster, records)


def _write_merges(
    review: Review,
    actor: User | None,
    changed: dict[int, tuple[int | None, str]],
    fills: dict[int, dict[str, tuple[object, int]]],
    newly: set[int],
) -> None:
    voted = _voted(review)
    screened = {rid for rid in newly if rid in voted}
    events = []
    automatic: list[list[int | None]] = []
    for rid, (primary, kind) in changed.items():
        if rid not in newly:
            continue
        if kind == MergeKind.AUTO and rid not in screened:
            # Automatic merges of one run are one event (there can be tens of thousands);
            # the pair's reasons explain each of them.
            automatic.append([rid, primary])
            continue
        events.append(
            AuditEvent(
                **audit_fields(
                    review=review,
                    actor=actor,
                    action="record.merged_after_screening"
                    if rid in screened
                    else "record.merged_by_person",
                    target=f"record {rid} into record {primary}",
                    after={"duplicate_of": primary, "kind": kind},
                    object_type="record",
                    object_id=rid,
                )
            )
        )
    if automatic:
        events.append(
            AuditEvent(
                **audit_fields(
                    review=review,
                    actor=actor,
                    action="records.merged_automatically",
                    target=f"{len(automatic)} records",
                    after={"merges": automatic},
                )
            )
        )
    bulk.update_rows(
        Record,
        ["duplicate_of_id", "merge_kind"],
        [(rid, p, k) for rid, (p, k) in changed.items()],
    )
    # A primary takes only what it lacks: read its current values of the fields on offer.
    wanted = {name for filled in fills.values() for name in filled}
    current = {
        row["id"]: row
        for ids in _chunks(list(fills))
        for row in Record.objects.filter(pk__in=ids).values("id", "filled_from", *wanted)
    }
    # Matching loaded only the opening of abstracts: fill with the whole text.
    abstract_sources = {
        src for filled in fills.values() for n, (_, src) in filled.items() if n == "abstract"
    }
    full_abstracts = {
        rid: text
        for ids in _chunks(list(abstract_sources))
        for rid, text in Record.objects.filter(pk__in=ids).values_list("id", "abstract")
    }
    per_field: dict[str, list[tuple[Any, ...]]] = {}
    provenance: list[tuple[Any, ...]] = []
    for primary, filled in fills.items():
        row = current[primary]
        taken = dict(row["filled_from"] or {})
        for name, (value, source) in filled.items():
            if not row[name]:
                if name == "abstract":
                    value = full_abstracts.get(source, value)
                per_field.setdefault(name, []).append((primary, _column_value(name, value)))
                taken[name] = source
        if taken != (row["filled_from"] or {}):
            provenance.append((primary, json.dumps(taken)))
    for name, rows in per_field.items():
        bulk.update_rows(Record, [name], rows)
    bulk.update_rows(Record, ["filled_from"], provenance)
    AuditEvent.objects.bulk_create(events, batch_size=2000)


def _column_value(name: str, value: Any) -> Any:
    """A bibliographic field's value as ``bulk`` writes it: a list as JSON text."""
    if bibliography.BY_NAME[name].kind is bibliography.Kind.LIST:
        return json.dumps(list(value))
    return value


def _voted(review: Review) -> set[int]:
    """Records of the review that have screening votes."""
    return set(Vote.objects.filter(review=review).values_list("record_id", flat=True))


def _chunks(ids: list[int], size: int = 2000) -> Iterator[list[int]]:
    # Tens of thousands of parameters in one IN (...) make the driver's query conversion
    # slow (seconds); a few thousand at a time cost nothing.
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def reapply_clusters(review: Review) -> int:
    """Merge again from the stored pairs (after records were removed, say)."""
    return _apply_clusters(review, actor=None)


@transaction.atomic
def decide_pair(
    *, pair: DuplicatePair, actor: User, duplicate: bool, primary_id: int | None = None
) -> DuplicatePair:
    """A person's verdict on a pending pair: the same publication (merge, optionally keeping
    ``primary_id``) or not (never merged again)."""
    _lock(pair.review_id)
    pair = DuplicatePair.objects.select_related("review").get(pk=pair.pk)
    if pair.decision != PairDecision.PENDING:
        raise ReviewflowError(
            f"This pair was already decided ({pair.get_decision_display().lower()}).",
            code="conflict",
        )
    ids = {pair.record_a_id, pair.record_b_id}
    if primary_id is not None and primary_id not in ids:
        raise ReviewflowError("The primary record must be one of the pair.", field="primary")
    pair.decision = PairDecision.CONFIRMED if duplicate else PairDecision.SEPARATED
    pair.decided_by, pair.decided_at = actor, timezone.now()
    pair.save(update_fields=["decision", "decided_by", "decided_at"])
    record_audit(
        review=pair.review,
        actor=actor,
        action="duplicate.confirmed" if duplicate else "duplicate.separated",
        target=f"records {pair.record_a_id} and {pair.record_b_id}",
        before={"decision": "pending"},
        after={"decision": pair.decision, "primary": primary_id},
        object_type="pair",
        object_id=pair.pk,
    )
    if duplicate:
        preferred = {frozenset(ids): primary_id} if primary_id else None
        _apply_clusters(pair.review, actor=actor, preferred=preferred)
    _settle_implied(pair, actor)
    return pair


def _settle_implied(decided: DuplicatePair, actor: User) -> None:
    """Other pending pairs that the decision answers: pairs now inside one cluster (the
    person said the clusters are one), or between the two clusters a person separated."""
    cluster_of: dict[int, int] = {}
    for group in _existing_clusters(decided.review):
        for rid in group:
            cluster_of[rid] = min(group)

    def key(rid: int) -> int:
        return cluster_of.get(rid, rid)

    sides = frozenset((key(decided.record_a_id), key(decided.record_b_id)))
    settled = []
    for other in DuplicatePair.objects.filter(
        review=decided.review, decision=PairDecision.PENDING
    ).only("id", "record_a_id", "record_b_id"):
        ka, kb = key(other.record_a_id), key(other.record_b_id)
        if ka == kb or frozenset((ka, kb)) == sides:
            settled.append(other.pk)
    if settled:
        DuplicatePair.objects.filter(pk__in=settled).update(
            decision=decided.decision, decided_by=actor, decided_at=timezone.now()
        )


@transaction.atomic
def undo_merge(*, record: Record, actor: User) -> Record:
    """Take a duplicate out of its cluster: it becomes a record of its own again, the
    primary gives back what it took from it, and the two are never merged again."""
    _lock(record.review_id)
    record = Record.objects.select_related("review").get(pk=record.pk)
    primary_id = record.duplicate_of_id
    if primary_id is None:
        raise ReviewflowError("This record is not merged into another.")
    cluster = [primary_id] + list(
        Record.objects.filter(duplicate_of_id=primary_id)
        .exclude(pk=record.pk)
        .values_list("pk", flat=True)
    )
    kind = record.merge_kind
    record.duplicate_of_id, record.merge_kind = None, ""
    record.save(update_fields=["duplicate_of", "merge_kind"])
    for other in cluster:
        a, b = sorted((record.pk, other))
        DuplicatePair.objects.update_or_create(
            record_a_id=a,
            record_b_id=b,
            defaults={
                "review": record.review,
                "decision": PairDecision.SEPARATED,
                "decided_by": actor,
                "decided_at": timezone.now(),
            },
        )
    primary = Record.objects.get(pk=primary_id)
    returned = [name for name, source in primary.filled_from.items() if source == record.pk]
    for name in returned:
        setattr(primary, name, bibliography.BY_NAME[name].empty)
        del primary.filled_from[name]
    primary.save()
    record_audit(
        review=record.review,
        actor=actor,
        action="record.unmerged",
        target=f"record {record.pk} from record {primary_id}",
        before={"duplicate_of": primary_id, "kind": kind},
        after={"duplicate_of": None, "fields_returned": returned},
        object_type="record",
        object_id=record.pk,
    )
    # The primary may take the returned fields from its remaining duplicates.
    _apply_clusters(record.review, actor=actor)
    return record


def cluster_rows(review: Review) -> list[dict[str, Any]]:
    """One row per record for ``dedupe --export-clusters``: record_id, search, cluster_id,
    status (unique, primary, auto, confirmed, pending)."""
    records = list(
        Record.objects.for_review(review)
        .order_by("search_id", "position")
        .values_list(
            "id", "source_record_id", "search__source", "search_id", "duplicate_of_id", "merge_kind"
        )
    )
    primaries = {dup_of for *_, dup_of, _ in records if dup_of}
    pending: dict[int, int] = {}
    for a, b in DuplicatePair.objects.filter(
        review=review, decision=PairDecision.PENDING
    ).values_list("record_a_id", "record_b_id"):
        pending.setdefault(b, a)
        pending.setdefault(a, b)
    cluster_of = {rid: (dup_of or rid) for rid, _, _, _, dup_of, _ in records}
    rows = []
    for rid, source_id, source, search_id, dup_of, kind in records:
        if dup_of:
            status = kind
        elif rid in primaries:
            status = "primary"
        elif rid in pending:
            status = "pending"
        else:
            status = "unique"
        cluster = cluster_of[rid]
        if status == "pending":
            cluster = cluster_of.get(pending[rid], pending[rid])
        rows.append(
            {
                "record_id": source_id,
                "search": f"{source} ({search_id})",
                "cluster_id": cluster,
                "status": status,
            }
        )
    return rows


# ------------------------------------------------------------- merges the rules no longer make


@dataclass(frozen=True)
class StaleMerge:
    """A merge the engine made under earlier rules that the current rules would leave to a
    person (``pending``) or not make at all (``distinct``)."""

    pair: DuplicatePair
    outcome: str
    reasons: tuple[str, ...]

    @property
    def explanation(self) -> str:
        return explanation(self.reasons)


def stale_merges(review: Review) -> list[StaleMerge]:
    """Automatic merges of ``review`` that the current rules would not make: each stored
    ``auto`` pair compared again, kept when its records would no longer end up in one
    cluster (a pair whose records other sure links still join changes nothing).

    Reads only. Nothing the engine or a person decided changes until an owner applies the
    rules (:func:`apply_current_rules`, ``manage.py dedupe SLUG --apply-new-rules``).
    """
    pairs = list(
        DuplicatePair.objects.filter(review=review, decision=PairDecision.AUTO).select_related(
            "record_a", "record_b"
        )
    )
    ids = sorted({rid for p in pairs for rid in (p.record_a_id, p.record_b_id)})
    records: dict[int, MatchRecord] = {}
    for chunk in _chunks(ids):
        records.update(
            (r.id, r)
            for r in _match_records(Record.objects.filter(pk__in=chunk).values_list(*MATCH_COLUMNS))
        )
    stale: list[StaleMerge] = []
    kept: list[Match] = []
    for pair in pairs:
        now = explain(records[pair.record_a_id], records[pair.record_b_id])
        if now.outcome == "auto":
            kept.append(now)
        else:
            stale.append(StaleMerge(pair, now.outcome, now.reasons))
    if not stale:
        return []
    people = DuplicatePair.objects.filter(
        review=review, decision__in=[PairDecision.CONFIRMED, PairDecision.SEPARATED]
    ).values_list("record_a_id", "record_b_id", "decision")
    confirmed = [frozenset((a, b)) for a, b, d in people if d == PairDecision.CONFIRMED]
    separated = [frozenset((a, b)) for a, b, d in people if d == PairDecision.SEPARATED]
    # Merges a person made stay whatever the rules say.
    confirmed += [
        frozenset((rid, primary))
        for rid, primary in Record.objects.filter(
            review=review, merge_kind=MergeKind.CONFIRMED, duplicate_of__isnull=False
        ).values_list("id", "duplicate_of_id")
    ]
    cluster_of = {
        rid: n
        for n, cluster in enumerate(build_clusters(kept, separated=separated, confirmed=confirmed))
        for rid in cluster
    }
    return [
        s
        for s in stale
        if cluster_of.get(s.pair.record_a_id, -1) != cluster_of.get(s.pair.record_b_id, -2)
    ]


@dataclass
class ApplyResult:
    requeued: int = 0  # automatic pairs sent back to the queue
    unmerged: int = 0  # records that are records of their own again
    pending_total: int = 0


@transaction.atomic
def apply_current_rules(
    review: Review, *, actor: User | None = None, force: bool = False
) -> ApplyResult:
    """Undo the automatic merges the current rules would not make and put each of their
    pairs in the queue, explained, for a person to decide.

    Decisions people made are kept (their merges and separations are never touched). When
    records these merges join carry screening votes, nothing changes unless ``force``: on a
    review in progress an owner should look first (``stale_merges`` lists them).
    """
    _lock(review.pk)
    stale = stale_merges(review)
    result = ApplyResult()
    if not stale:
        result.pending_total = DuplicatePair.objects.filter(
            review=review, decision=PairDecision.PENDING
        ).count()
        return result
    touched = {rid for s in stale for rid in (s.pair.record_a_id, s.pair.record_b_id)}
    primaries = set(
        Record.objects.filter(pk__in=touched, duplicate_of__isnull=False).values_list(
            "duplicate_of_id", flat=True
        )
    )
    clusters = touched | primaries
    members = set(Record.objects.filter(duplicate_of_id__in=clusters).values_list("pk", flat=True))
    clusters |= members
    voted = sorted(_voted(review) & clusters)
    if voted and not force:
        raise ReviewflowError(
            f"{len(voted)} of the records these merges join carry screening votes "
            f"(records {', '.join(map(str, voted[:10]))}{'…' if len(voted) > 10 else ''}). "
            "Look at the merges first; apply with --force to requeue them anyway."
        )
    for s in stale:
        DuplicatePair.objects.filter(pk=s.pair.pk).update(
            decision=PairDecision.PENDING,
            reasons=list(s.reasons),
            decided_by=None,
            decided_at=None,
        )
    result.requeued = len(stale)
    # The engine's merges in these clusters are made again from the pairs that still hold;
    # a person's merges stay.
    undone = list(
        Record.objects.filter(pk__in=clusters, merge_kind=MergeKind.AUTO).exclude(
            duplicate_of__isnull=True
        )
    )
    by_primary: dict[int, list[int]] = defaultdict(list)
    for record in undone:
        assert record.duplicate_of_id is not None
        by_primary[record.duplicate_of_id].append(record.pk)
    Record.objects.filter(pk__in=[r.pk for r in undone]).update(duplicate_of=None, merge_kind="")
    for primary in Record.objects.filter(pk__in=list(by_primary)):
        gone = set(by_primary[primary.pk])
        returned = [name for name, source in primary.filled_from.items() if source in gone]
        for name in returned:
            setattr(primary, name, bibliography.BY_NAME[name].empty)
            del primary.filled_from[name]
        if returned:
            primary.save()
    _apply_clusters(review, actor=actor)
    still = set(
        Record.objects.filter(
            pk__in=[r.pk for r in undone], duplicate_of__isnull=False
        ).values_list("pk", flat=True)
    )
    result.unmerged = len(undone) - len(still)
    result.pending_total = DuplicatePair.objects.filter(
        review=review, decision=PairDecision.PENDING
    ).count()
    record_audit(
        review=review,
        actor=actor,
        action="dedup.rules_applied",
        target="automatic merges the current rules would not make",
        before={"pairs": [[s.pair.record_a_id, s.pair.record_b_id] for s in stale]},
        after={"requeued": result.requeued, "unmerged": result.unmerged},
    )
    return result
