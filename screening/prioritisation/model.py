"""The relevance model: trained on a review's own decisions, it scores every record.

A linear support vector machine on TF-IDF features, as ASReview LAB's current default
("ELAS u4"), with relevant records weighted up: the classes are very unbalanced (often under
5 % relevant). The features add character 4-grams to ELAS u4's words (``features``), which
puts the ranking ahead of ELAS u4 on every labelled set (bench/prioritisation.py). Naive
Bayes (ASReview's former default) is kept for comparison in the bench.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.naive_bayes import MultinomialNB
from sklearn.svm import LinearSVC

MODEL_NAMES = ("svm", "nb")
DEFAULT_MODEL = "svm"
# Relevant records weigh RELEVANT_WEIGHT_RATIO times the irrelevant ones in total, however
# few they are (ASReview's "balanced" weighting; its tuned ratio is 9.8, ours was chosen on
# the bench sets: see bench/README.md).
RELEVANT_WEIGHT_RATIO = 20.0
SVM_C = 0.11


class NotTrainable(ValueError):
    """The labels do not allow a model yet (the message says why)."""


@dataclass(frozen=True)
class Ranking:
    scores: np.ndarray  # one relevance score in (0, 1) per row of the matrix (not a probability)
    n_included: int
    n_excluded: int
    model: str


def check_labels(labels: np.ndarray) -> tuple[int, int]:
    included = int((labels == 1).sum())
    excluded = int((labels == 0).sum())
    if not included or not excluded:
        raise NotTrainable(
            "Prioritisation starts after at least one include and one exclude "
            f"(so far: {included} included, {excluded} excluded); until then the order "
            "stays random."
        )
    return included, excluded


def class_weights(labels: np.ndarray, ratio: float = RELEVANT_WEIGHT_RATIO) -> np.ndarray:
    """Per-row weights: the relevant rows together weigh ``ratio`` times the irrelevant
    ones; normalised so the weights sum to the number of rows."""
    included = (labels == 1).sum()
    excluded = (labels == 0).sum()
    weights = np.where(labels == 1, 1.0, included / (ratio * excluded))
    return np.asarray(weights * (labels.size / weights.sum()), dtype=np.float64)


def score_records(
    matrix: sparse.csr_matrix,
    labelled: np.ndarray,
    labels: np.ndarray,
    *,
    model: str = DEFAULT_MODEL,
) -> Ranking:
    """Fit on the rows ``labelled`` (labels 1 relevant, 0 not) and score every row."""
    labels = np.asarray(labels, dtype=np.int8)
    included, excluded = check_labels(labels)
    x = matrix[labelled]
    if model == "svm":
        svm = LinearSVC(C=SVM_C)
        svm.fit(x, labels, sample_weight=class_weights(labels))
        margin = svm.decision_function(matrix)
        scores = 1.0 / (1.0 + np.exp(-np.clip(margin, -30, 30)))
    elif model == "nb":
        nb = MultinomialNB(alpha=3.822)
        nb.fit(x, labels, sample_weight=class_weights(labels, ratio=1.0))
        scores = nb.predict_proba(matrix)[:, 1]
    else:
        raise ValueError(f"unknown model {model!r}: use one of {', '.join(MODEL_NAMES)}")
    return Ranking(
        scores=np.asarray(scores, dtype=np.float64),
        n_included=included,
        n_excluded=excluded,
        model=model,
    )


def rank_unlabelled(scores: np.ndarray, unlabelled: np.ndarray) -> np.ndarray:
    """Indices of ``unlabelled`` rows, most relevant first (ties by row order: stable)."""
    order = np.argsort(-scores[unlabelled], kind="stable")
    return np.asarray(unlabelled[order])
