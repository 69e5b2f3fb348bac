"""The recall curve and the usual simulation measures (WSS, RRF)."""

from __future__ import annotations

import math

import numpy as np


def recall_curve(labels: object, *, max_points: int = 200) -> list[tuple[int, int]]:
    """(records screened, relevant found) pairs along the screening order, thinned to at
    most ``max_points`` points (always keeping the last)."""
    seq = np.asarray(labels, dtype=np.int64).reshape(-1)
    if seq.size == 0:
        return [(0, 0)]
    gain = np.cumsum(seq)
    step = max(1, math.ceil(seq.size / max_points))
    points = [(0, 0)] + [(i + 1, int(gain[i])) for i in range(step - 1, seq.size, step)]
    if points[-1][0] != seq.size:
        points.append((int(seq.size), int(gain[-1])))
    return points


def screened_to_recall(labels_in_order: object, recall: float) -> int:
    """How many records, in screening order, it takes to find ``recall`` of the relevant."""
    seq = np.asarray(labels_in_order, dtype=np.int64).reshape(-1)
    total = int(seq.sum())
    if total == 0:
        return 0
    needed = math.ceil(recall * total - 1e-9)
    return int(np.searchsorted(np.cumsum(seq), needed) + 1)


def wss(labels_in_order: object, recall: float = 0.95) -> float:
    """Work saved over sampling at ``recall`` (Cohen 2006): the share of records not
    screened when that recall is reached, minus what random screening would save."""
    seq = np.asarray(labels_in_order, dtype=np.int64).reshape(-1)
    return (seq.size - screened_to_recall(seq, recall)) / seq.size - (1 - recall)


def rrf(labels_in_order: object, percent: float = 10) -> float:
    """Relevant records found after screening ``percent`` % of the records."""
    seq = np.asarray(labels_in_order, dtype=np.int64).reshape(-1)
    total = int(seq.sum())
    if total == 0:
        return 0.0
    head = math.ceil(seq.size * percent / 100)
    return float(seq[:head].sum() / total)
