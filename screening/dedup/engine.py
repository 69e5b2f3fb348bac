"""Find records that are the same publication, and say why.

Pure Python over :class:`MatchRecord` values (no ORM): the Django side turns records into
``MatchRecord`` and stores the :class:`Match` results. Three steps, one module each:

1. **Blocking** (``blocking.py``) — only records that share a key are compared.
2. **Comparing** a candidate pair field by field (``rules.py``: the rules, written once
   as a table that both the fast screen and :func:`explain` read).
3. **Clustering** the sure links (``clustering.py``: :func:`build_clusters`), never
   joining records a person has separated.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Mapping, Sequence

from screening.dedup.blocking import candidate_pairs
from screening.dedup.clustering import one_question_per_cluster_pair
from screening.dedup.records import Match, MatchRecord, Prepared
from screening.dedup.rules import screen

__all__ = ["find_matches"]


def find_matches(
    new: Sequence[MatchRecord],
    existing: Sequence[MatchRecord] = (),
    *,
    decided: Mapping[frozenset[int], str] | None = None,
    clusters: Iterable[Iterable[int]] = (),
) -> list[Match]:
    """Pairs among ``new`` and between ``new`` and ``existing`` that are or may be duplicates.

    ``existing`` records are never compared with each other (that was done when they
    arrived). ``decided`` maps pairs a person already judged to ``"confirmed"`` or
    ``"separated"``; they are not compared again, so nobody is asked twice. ``clusters``
    are the groups the records already form (earlier merges).

    Returns ``auto`` and ``pending`` matches, strongest first. The pending queue holds one
    question per pair of clusters: a pending pair inside one cluster (already implied by
    sure links) is dropped, and of several pending pairs between the same two clusters
    only the strongest is kept — deciding it decides the clusters.
    """
    decided = decided or {}
    # Hundreds of thousands of small objects and no reference cycles: pausing the cyclic
    # garbage collector while they are built saves about a third of the time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        matches = _match(new, existing, decided)
    finally:
        if collecting:
            gc.enable()
    matches.sort(key=lambda m: (-m.score, m.a, m.b))
    return one_question_per_cluster_pair(matches, decided, clusters)


def _match(
    new: Sequence[MatchRecord],
    existing: Sequence[MatchRecord],
    decided: Mapping[frozenset[int], str],
) -> list[Match]:
    prepared = [Prepared(r, True) for r in new] + [Prepared(r, False) for r in existing]
    matches: list[Match] = []
    for i, j in candidate_pairs(prepared):
        a, b = prepared[i], prepared[j]
        if a.id == b.id:
            continue
        low, high = (a.id, b.id) if a.id < b.id else (b.id, a.id)
        if decided and frozenset((low, high)) in decided:
            continue
        verdict = screen(a, b)
        if verdict is None:
            continue
        outcome, score, reasons = verdict
        if outcome != "distinct":
            matches.append(Match(low, high, outcome, score, reasons))
    return matches
