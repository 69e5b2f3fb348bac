"""Simulated screening on a labelled set: the model orders the records, an oracle answers
from the labels. Used by the bench and tests; the same model and schedule as the service."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from screening.prioritisation.model import DEFAULT_MODEL, rank_unlabelled, score_records

RETRAIN_EVERY = 5  # the service retrains after this many new decisions, too


@dataclass(frozen=True)
class Simulation:
    order: np.ndarray  # row indices in the order they were screened (priors first)
    labels_in_order: np.ndarray


def pick_priors(labels: np.ndarray, seed: int) -> list[int]:
    """The start of a simulation: one included and one excluded row, drawn with ``seed``
    (the bench gives ASReview the same two)."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    included = int(rng.choice(np.flatnonzero(labels == 1)))
    excluded = int(rng.choice(np.flatnonzero(labels == 0)))
    return [included, excluded]


def simulate(
    matrix: sparse.csr_matrix,
    labels: np.ndarray,
    *,
    priors: list[int],
    retrain_every: int = RETRAIN_EVERY,
    model: str = DEFAULT_MODEL,
    stop_at_all_found: bool = True,
) -> Simulation:
    """Screen every record (or until all relevant ones are found): after every
    ``retrain_every`` decisions the model is refit and the rest re-ranked."""
    labels = np.asarray(labels, dtype=np.int8)
    n = labels.size
    total_relevant = int(labels.sum())
    screened = np.zeros(n, dtype=bool)
    order: list[int] = list(priors)
    screened[priors] = True
    found = int(labels[priors].sum())
    while len(order) < n:
        if stop_at_all_found and found == total_relevant:
            break
        idx = np.asarray(order)
        ranking = score_records(matrix, idx, labels[idx], model=model)
        queue = rank_unlabelled(ranking.scores, np.flatnonzero(~screened))
        for row in queue[:retrain_every]:
            order.append(int(row))
            screened[row] = True
            found += int(labels[row])
    if len(order) < n:
        # Everything relevant is found: the rest would be irrelevant in any order.
        order.extend(int(i) for i in np.flatnonzero(~screened))
    arr = np.asarray(order)
    return Simulation(order=arr, labels_in_order=labels[arr])
