"""Screening prioritisation of a review: retrain the relevance model on the team's own
decisions and re-rank the unscreened records; estimate when screening may stop; stop early.

The model reads the review's document-term matrix, built once per set of records (it
changes when records are imported, merged or unmerged) and cached on disk and in memory,
so a retrain is a database read of the decisions, a fit, a predict and a bulk write.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from scipy import sparse

from reviewflow import bulk
from reviewflow.broker import send_task
from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import AuditEvent, Review
from reviewflow.reviews.services import record_audit
from screening.models import (
    Claim,
    Decision,
    Outcome,
    OutcomeKind,
    RankingRun,
    RankingStatus,
    Record,
    RelevanceScore,
    StageOrder,
    StageSettings,
    StoppingDecision,
    Vote,
)
from screening.prioritisation import features, model, stopping
from screening.selectors.screening import eligible_records, stage_settings_of

log = logging.getLogger(__name__)

RETRAIN_EVERY = 5  # new votes at a stage before the model is retrained
STALE_AFTER = timedelta(minutes=10)  # a queued/running retrain older than this is lost
RETRAIN_TASK = "screening.tasks.retrain_ranking"  # queued by name: the tasks call this module
RECALL_TARGET = 0.95
CONFIDENCE = 0.95
# The two-phase stopping rule: once the ranking flattens, the unscreened records are served
# in a random order. The switch is recorded as an audit event (its ``after`` holds what the
# rule needs) and the retrain writes random keys in place of scores, so ``next`` walks the
# random sample through the same index with the same queries.
RANDOM_SAMPLE_ACTION = "screening.random_sample_started"
RANDOM_MODEL = "random-sample"

# ------------------------------------------------------------------ document-term matrix

_MATRICES: dict[int, tuple[str, np.ndarray, sparse.csr_matrix]] = {}
# Matrices a worker keeps in memory (the rest are read from disk): at most this many
# reviews' and about this many bytes (a 20,000-record review's matrix is about 140 MB, a
# 100,000-record one's about 700 MB); the latest is always kept.
_MATRICES_KEPT = 4
_MATRICES_BYTES = 1_000_000_000


def _nbytes(matrix: sparse.csr_matrix) -> int:
    return int(matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes)


def _remember(review_id: int, entry: tuple[str, np.ndarray, sparse.csr_matrix]) -> None:
    _MATRICES.pop(review_id, None)
    budget = _MATRICES_BYTES - _nbytes(entry[2])
    while _MATRICES and (
        len(_MATRICES) >= _MATRICES_KEPT
        or sum(_nbytes(m) for _, _, m in _MATRICES.values()) > budget
    ):
        _MATRICES.pop(next(iter(_MATRICES)))  # the oldest first
    _MATRICES[review_id] = entry


def _cache_path(review_id: int) -> Path:
    return Path(settings.DATA_DIR) / "prioritisation" / f"review-{review_id}.npz"


def document_matrix(review: Review) -> tuple[np.ndarray, sparse.csr_matrix]:
    """Record ids and the TF-IDF matrix (one row each) of the review's unique records.

    The matrix is built over every record of the review, so merging or unmerging
    duplicates only picks other rows of it; it is rebuilt only when records are imported or
    deleted (the fingerprint of their ids changes): from memory, else from the file under
    the data folder, else from the records' text (``build_document_matrix`` does that when
    an import finishes, so the first retrain does not wait for it).
    """
    unique = np.fromiter(
        Record.objects.for_review(review).unique().order_by("pk").values_list("pk", flat=True),
        dtype=np.int64,
    )
    all_ids, full = _full_matrix(review)
    rows = np.searchsorted(all_ids, unique)
    return unique, full[rows]


def _full_matrix(review: Review) -> tuple[np.ndarray, sparse.csr_matrix]:
    ids = np.fromiter(
        Record.objects.filter(review=review).order_by("pk").values_list("pk", flat=True),
        dtype=np.int64,
    )
    key = features.fingerprint(ids.tolist())
    cached = _MATRICES.get(review.pk)
    if cached and cached[0] == key:
        return cached[1], cached[2]
    path = _cache_path(review.pk)
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["fingerprint"]) == key:
                    matrix = sparse.csr_matrix(
                        (data["data"], data["indices"], data["indptr"]),
                        shape=tuple(data["shape"]),
                    )
                    _remember(review.pk, (key, ids, matrix))
                    return ids, matrix
        except (OSError, KeyError, ValueError):
            log.warning("prioritisation: unreadable matrix cache %s, rebuilding", path)
    texts = {
        pk: features.record_text(title, abstract, keywords or ())
        for pk, title, abstract, keywords in Record.objects.filter(review=review)
        .order_by()
        .values_list("pk", "title", "abstract", "keywords")
        .iterator(chunk_size=2000)
    }
    matrix = features.build_matrix([texts.get(int(pk), "") for pk in ids])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        fingerprint=np.array(key),
        data=matrix.data,
        indices=matrix.indices,
        indptr=matrix.indptr,
        shape=np.array(matrix.shape),
    )
    tmp.replace(path)
    _remember(review.pk, (key, ids, matrix))
    return ids, matrix


def build_document_matrix(*, review_id: int) -> int:
    """Build (or find cached) the review's document-term matrix, when a stage of it is
    ordered by relevance; called when an import finishes. Returns the rows built (0: no
    stage needs it)."""
    review = Review.objects.get(pk=review_id)
    if not StageSettings.objects.filter(review=review, order=StageOrder.RELEVANCE).exists():
        return 0
    ids, _ = _full_matrix(review)
    return int(ids.size)


# ------------------------------------------------------------------ labels and order


def training_labels(review: Review, stage: str) -> dict[int, int]:
    """1 (relevant) or 0 per record the team decided on at ``stage``: the outcome where
    there is one, else the votes so far (relevant when any vote includes or says maybe,
    since a missed relevant record costs more than a wasted look). Records excluded by an
    automation tool are no decision of the team and are left out."""
    labels: dict[int, int] = {}
    for record_id, decision in Vote.objects.filter(review=review, stage=stage).values_list(
        "record_id", "decision"
    ):
        relevant = int(decision != Decision.EXCLUDE)
        labels[record_id] = max(labels.get(record_id, 0), relevant)
    for record_id, decision, kind in Outcome.objects.filter(review=review, stage=stage).values_list(
        "record_id", "decision", "kind"
    ):
        if kind == OutcomeKind.AUTOMATION:
            labels.pop(record_id, None)
        else:
            labels[record_id] = int(decision == Decision.INCLUDE)
    return labels


def screening_sequence(review: Review, stage: str) -> list[int]:
    """The team's settled decisions at ``stage`` in the order they were settled (1 included,
    0 excluded): what the recall curve and the stopping rules read."""
    return [
        int(decision == Decision.INCLUDE)
        for decision in Outcome.objects.filter(review=review, stage=stage)
        .exclude(kind=OutcomeKind.AUTOMATION)
        .order_by("created_at", "id")
        .values_list("decision", flat=True)
    ]


# ------------------------------------------------------------------ retraining


def untouched_records(review: Review, stage: str) -> Any:
    votes = Vote.objects.filter(record=OuterRef("pk"), stage=stage)
    settled = Outcome.objects.filter(record=OuterRef("pk"), stage=stage)
    return eligible_records(review, stage).filter(~Exists(votes), ~Exists(settled))


def retrain_ranking(*, review_id: int, stage: str) -> RankingRun:
    """Retrain the stage's ranking (``_retrain``). A crash is recorded on the run as failed,
    with its message, and raised again, so the task retries it (a few times, with
    backoff) and the page never shows a retrain "running" that died."""
    try:
        return _retrain(review_id=review_id, stage=stage)
    except Exception as exc:
        message = (
            f"The last retrain failed ({type(exc).__name__}: {exc}); it is retried a few "
            "times, and the last ranking (or the random order) is used meanwhile."
        )
        RankingRun.objects.filter(review_id=review_id, stage=stage).update(
            status=RankingStatus.FAILED, message=message[:300]
        )
        raise


def _retrain(*, review_id: int, stage: str) -> RankingRun:
    """Fit the relevance model on the stage's decisions and store a score for every record
    nobody has voted on yet. Safe to run twice: each run replaces the scores wholesale.

    Before the team has one include and one exclude there is nothing to learn from: the
    scores are cleared (the order stays random) and the run says why.
    """
    review = Review.objects.get(pk=review_id)
    run, _ = RankingRun.objects.get_or_create(review=review, stage=stage)
    started = time.perf_counter()
    RankingRun.objects.filter(pk=run.pk).update(
        status=RankingStatus.RUNNING, started_at=timezone.now()
    )
    decisions = Vote.objects.filter(review=review, stage=stage).count()
    switch = _random_sample_event(review, stage)
    if switch is not None:
        return _write_random_keys(review, stage, run, switch, decisions, started)
    labels = training_labels(review, stage)
    ids, matrix = document_matrix(review)
    row_of = {int(pk): i for i, pk in enumerate(ids)}
    labelled = [(row_of[pk], y) for pk, y in labels.items() if pk in row_of]
    rows = np.array([r for r, _ in labelled], dtype=np.int64)
    ys = np.array([y for _, y in labelled], dtype=np.int8)
    try:
        ranking = model.score_records(matrix, rows, ys)
    except model.NotTrainable as exc:
        with transaction.atomic():
            RelevanceScore.objects.filter(review=review, stage=stage).delete()
            RankingRun.objects.filter(pk=run.pk).update(
                status=RankingStatus.WAITING,
                message=str(exc),
                decisions=decisions,
                n_included=int((ys == 1).sum()),
                n_excluded=int((ys == 0).sum()),
                n_scored=0,
                seconds=time.perf_counter() - started,
                trained_at=None,
            )
        run.refresh_from_db()
        _requeue_if_behind(review, stage, run)
        return run
    untouched = untouched_records(review, stage).values_list("pk", flat=True)
    open_ids = [pk for pk in untouched if pk in row_of]
    rows_out = [(review.pk, pk, stage, float(ranking.scores[row_of[pk]])) for pk in open_ids]
    with transaction.atomic():
        RelevanceScore.objects.filter(review=review, stage=stage).delete()
        bulk.insert_rows(RelevanceScore, ("review_id", "record_id", "stage", "score"), rows_out)
        RankingRun.objects.filter(pk=run.pk).update(
            status=RankingStatus.DONE,
            message="",
            model=ranking.model,
            decisions=decisions,
            n_included=ranking.n_included,
            n_excluded=ranking.n_excluded,
            n_scored=len(rows_out),
            seconds=time.perf_counter() - started,
            trained_at=timezone.now(),
        )
    run.refresh_from_db()
    _requeue_if_behind(review, stage, run)
    return run


def _random_sample_event(review: Review, stage: str) -> AuditEvent | None:
    return (
        AuditEvent.objects.filter(review=review, action=RANDOM_SAMPLE_ACTION, target=stage)
        .order_by("-created_at", "-id")
        .first()
    )


@transaction.atomic
def start_random_sample(*, review: Review, stage: str, actor: User) -> AuditEvent:
    """Begin the random phase of the two-phase rule at ``stage``: the records nobody has
    touched (and nobody holds on screen now) are the population it samples, recorded in
    the audit trail with their count (the test's ``M``); the retrain queued here writes
    their random keys, which ``next`` then walks. The caller checks that ``actor`` is an
    owner."""
    conf = stage_settings_of(review, stage)
    if conf.order != StageOrder.RELEVANCE:
        raise ReviewflowError(
            "The stage is in random order: switch it to “most relevant first” first; the "
            "random sample follows the prioritised part.",
            field="order",
        )
    if _random_sample_event(review, stage) is not None:
        raise ReviewflowError("The random sample of this stage has already started.")
    if StoppingDecision.objects.filter(review=review, stage=stage).exists():
        raise ReviewflowError("Screening at this stage was stopped early: undo that first.")
    held = set(
        Claim.objects.filter(record__review=review, stage=stage).values_list("record_id", flat=True)
    )
    population = list(untouched_records(review, stage).values_list("pk", flat=True))
    if not population:
        raise ReviewflowError("Every record has been screened: there is nothing to sample.")
    remaining = sum(1 for pk in population if pk not in held)
    event = record_audit(
        review=review,
        actor=actor,
        action=RANDOM_SAMPLE_ACTION,
        target=stage,
        after={
            "remaining": remaining,
            "held": sorted(pk for pk in population if pk in held),
            "last_record": max(population),
            "rule": "two_phase",
        },
    )
    request_retrain(review=review, stage=stage, force=True)
    return event


def _random_key(seed: str, record_id: int) -> float:
    """A record's place in the random sample: uniform on [0, 1), fixed for the sample (the
    walk reads it like a score, highest first), and unrelated to anything about the record."""
    digest = hashlib.blake2b(f"{seed}:{record_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _write_random_keys(
    review: Review,
    stage: str,
    run: RankingRun,
    switch: AuditEvent,
    decisions: int,
    started: float,
) -> RankingRun:
    seed = f"{review.pk}:{stage}:{switch.pk}:{switch.created_at.isoformat()}"
    open_ids = list(untouched_records(review, stage).values_list("pk", flat=True))
    rows_out = [(review.pk, pk, stage, _random_key(seed, pk)) for pk in open_ids]
    state = sample_state(review, stage)
    result = stopping.two_phase_rule(state, recall_target=RECALL_TARGET, confidence=CONFIDENCE)
    needed = int(result.details.get("needed") or 0)
    message = (
        f"Random order for the stopping rule: screen a random sample of {needed} more "
        "records (if none is relevant) to show recall ≥ "
        f"{RECALL_TARGET:.0%} with {CONFIDENCE:.0%} confidence."
        if needed
        else "Random order for the stopping rule: the sample is large enough; see the "
        "prioritisation page."
    )
    with transaction.atomic():
        RelevanceScore.objects.filter(review=review, stage=stage).delete()
        bulk.insert_rows(RelevanceScore, ("review_id", "record_id", "stage", "score"), rows_out)
        RankingRun.objects.filter(pk=run.pk).update(
            status=RankingStatus.DONE,
            message=message[:300],
            model=RANDOM_MODEL,
            decisions=decisions,
            n_scored=len(rows_out),
            seconds=time.perf_counter() - started,
            trained_at=timezone.now(),
        )
    run.refresh_from_db()
    _requeue_if_behind(review, stage, run)
    return run


def sample_state(review: Review, stage: str) -> stopping.SampleState:
    """Where ``stage`` stands in the two-phase rule, read from the switch's audit event and
    the votes and outcomes since: the sample is every record whose first vote came after
    the switch (records held on screen at the switch are left out of it), in the order
    their decisions settled."""
    event = _random_sample_event(review, stage)
    if event is None:
        return stopping.SampleState(switched=False, screened_before=0, found_before=0, remaining=0)
    after = event.after or {}
    held = {int(pk) for pk in after.get("held", [])}
    first_vote: dict[int, Any] = {}
    for record_id, created in Vote.objects.filter(review=review, stage=stage).values_list(
        "record_id", "created_at"
    ):
        if record_id not in first_vote or created < first_vote[record_id]:
            first_vote[record_id] = created
    # Records imported after the switch were not in its population: they are screened in
    # full (they hold the stop until settled), never counted in the sample.
    last = int(after.get("last_record", 0)) or None
    in_sample = {
        pk
        for pk, created in first_vote.items()
        if created >= event.created_at and pk not in held and (last is None or pk <= last)
    }
    sample: list[int] = []
    found_before = screened_before = 0
    settled: set[int] = set()
    for record_id, decision in (
        Outcome.objects.filter(review=review, stage=stage)
        .exclude(kind=OutcomeKind.AUTOMATION)
        .order_by("created_at", "id")
        .values_list("record_id", "decision")
    ):
        settled.add(record_id)
        relevant = int(decision == Decision.INCLUDE)
        if record_id in in_sample:
            sample.append(relevant)
        else:
            found_before += relevant
            screened_before += 1
    return stopping.SampleState(
        switched=True,
        screened_before=screened_before,
        found_before=found_before,
        remaining=int(after.get("remaining", 0)),
        sample=tuple(sample),
        in_progress=len(in_sample - settled)
        + (untouched_records(review, stage).filter(pk__gt=last).count() if last else 0),
    )


def _requeue_if_behind(review: Review, stage: str, run: RankingRun) -> None:
    """Votes cast while the model trained were not in it: queue one more run if enough."""
    behind = Vote.objects.filter(review=review, stage=stage).count() - run.decisions
    needed = 1 if run.status == RankingStatus.WAITING else RETRAIN_EVERY
    if behind >= needed:
        request_retrain(review=review, stage=stage, force=True)


def request_retrain(*, review: Review, stage: str, force: bool = False) -> bool:
    """Queue a retrain after the current transaction commits, when the stage is ordered by
    relevance and enough new votes arrived (every ``RETRAIN_EVERY``; every vote until the
    model can start). Coalesced: nothing is queued while a retrain is queued or running.
    Returns whether one was queued."""
    conf = stage_settings_of(review, stage)
    if conf.order != StageOrder.RELEVANCE:
        return False
    run, _ = RankingRun.objects.get_or_create(review=review, stage=stage)
    now = timezone.now()
    busy = (RankingStatus.QUEUED, RankingStatus.RUNNING)
    if run.status in busy and run.queued_at and now - run.queued_at < STALE_AFTER:
        return False
    if not force and run.status in (
        RankingStatus.DONE,
        RankingStatus.WAITING,
        RankingStatus.FAILED,
    ):
        needed = 1 if run.status == RankingStatus.WAITING else RETRAIN_EVERY
        if Vote.objects.filter(review=review, stage=stage).count() - run.decisions < needed:
            return False
    queued = (
        RankingRun.objects.filter(pk=run.pk, status=run.status)
        .exclude(status__in=busy, queued_at__gte=now - STALE_AFTER)
        .update(status=RankingStatus.QUEUED, queued_at=now)
    )
    if not queued:
        return False  # another request queued it first
    review_id = review.pk
    # The broker down must not fail the vote that asked: the run stays queued, and a vote
    # after STALE_AFTER queues it again.
    transaction.on_commit(lambda: send_task(RETRAIN_TASK, review_id, stage))
    return True


def after_vote(*, review: Review, stage: str) -> None:
    """The hook screening calls after a vote: maybe queue a retrain (never waits for it)."""
    request_retrain(review=review, stage=stage)


def screening_page_extras(
    *, review: Review, stage: str, conf: Any, record: Record | None
) -> dict[str, Any]:
    """What the screening page adds when a stage is ordered by relevance: the record's
    score (only when owners chose to show scores) and why the order is still random.
    No query at all in random order, so the page's pinned query count stays."""
    extras: dict[str, Any] = {"relevance_score": None, "order_note": ""}
    if conf.order != StageOrder.RELEVANCE:
        return extras
    if record is not None and conf.show_scores:
        extras["relevance_score"] = (
            RelevanceScore.objects.filter(record=record, stage=stage)
            .values_list("score", flat=True)
            .first()
        )
    run = (
        RankingRun.objects.filter(review=review, stage=stage)
        .only("status", "message", "model")
        .first()
    )
    if run is not None and run.model == RANDOM_MODEL and run.message:
        extras["order_note"] = run.message
    elif run is None or run.status in (RankingStatus.IDLE, RankingStatus.WAITING):
        extras["order_note"] = (run.message if run else "") or (
            "Records come in random order until the model can start: it needs at least one "
            "include and one exclude."
        )
    return extras
