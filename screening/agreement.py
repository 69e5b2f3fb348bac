"""Agreement between screeners: percent agreement, Cohen's kappa, Fleiss' kappa.

Pure Python over labels (``"include"``, ``"exclude"``, ``"maybe"`` or any other strings);
the Django side turns votes into ``(item_id, rater_id, label)`` triples. Arithmetic is done
on integer counts and fractions, so a kappa that is 0.4 on paper is 0.4 here, and the
"everybody said the same thing" cases are decided exactly, not by float comparison.

Kappa is agreement corrected for chance: ``(p_o - p_e) / (1 - p_e)``, where ``p_o`` is the
observed agreement and ``p_e`` the agreement expected if the raters labelled at random with
their own label frequencies. 1 is perfect agreement, 0 is no better than chance, below 0 is
worse than chance. When chance alone already gives ``p_e = 1`` (every rating of the whole set
is the same label) kappa is undefined; we return 1.0 if the raters agreed on every item and
0.0 otherwise, so a table of rater pairs has a number rather than a hole.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations

__all__ = [
    "PairAgreement",
    "cohen_kappa",
    "fleiss_kappa",
    "pairwise_agreement",
    "percent_agreement",
]


def percent_agreement(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Share of items on which both raters gave the same label, in percent (0-100).

    ``None`` when there is no item.
    """
    if not pairs:
        return None
    agreed = sum(1 for a, b in pairs if a == b)
    return 100 * agreed / len(pairs)


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Cohen's kappa of two raters; one ``(label_of_rater_a, label_of_rater_b)`` per item.

    With ``n`` items, ``a_k`` / ``b_k`` the number of items rater A / B labelled ``k``::

        p_o = (items with the same label) / n
        p_e = sum over labels k of (a_k / n) * (b_k / n)
        kappa = (p_o - p_e) / (1 - p_e)

    ``None`` when there is no item; see the module docstring for ``p_e = 1``.
    """
    n = len(pairs)
    if not n:
        return None
    agreed = sum(1 for a, b in pairs if a == b)
    counts_a = Counter(a for a, _ in pairs)
    counts_b = Counter(b for _, b in pairs)
    # Multiplied through by n * n, everything stays an integer:
    # kappa = (n * agreed - sum a_k b_k) / (n * n - sum a_k b_k)
    chance = sum(count * counts_b[label] for label, count in counts_a.items())
    if chance == n * n:
        return 1.0 if agreed == n else 0.0
    return (n * agreed - chance) / (n * n - chance)


def fleiss_kappa(ratings: Sequence[Sequence[str]]) -> float | None:
    """Fleiss' kappa: each inner sequence holds the labels one item got, from ``m >= 2`` raters.

    Every item must have the same number of ratings ``m`` (the raters need not be the same
    people). With ``N`` items, ``n_ik`` the number of raters who gave item ``i`` label ``k``::

        P_i   = (sum_k n_ik * (n_ik - 1)) / (m * (m - 1))   agreeing rater pairs on item i
        p_o   = mean of P_i over the items
        p_k   = (sum_i n_ik) / (N * m)                       share of all ratings that are k
        p_e   = sum_k p_k ** 2
        kappa = (p_o - p_e) / (1 - p_e)

    ``None`` when there is no item. Raises :class:`ValueError` when the items have different
    numbers of ratings or fewer than two.
    """
    if not ratings:
        return None
    m = len(ratings[0])
    for index, labels in enumerate(ratings):
        if len(labels) != m:
            raise ValueError(
                f"item {index + 1} has {len(labels)} ratings and item 1 has {m}: "
                "Fleiss' kappa needs the same number of ratings for every item"
            )
    if m < 2:
        raise ValueError(f"Fleiss' kappa needs at least two ratings per item, got {m}")
    n_items = len(ratings)
    totals: Counter[str] = Counter()
    agreeing_pairs = 0
    for labels in ratings:
        counts = Counter(labels)
        totals.update(counts)
        agreeing_pairs += sum(c * (c - 1) for c in counts.values())
    p_o = Fraction(agreeing_pairs, n_items * m * (m - 1))
    p_e = sum((Fraction(total, n_items * m) ** 2 for total in totals.values()), Fraction(0))
    if p_e == 1:
        return 1.0 if p_o == 1 else 0.0
    return float((p_o - p_e) / (1 - p_e))


@dataclass(frozen=True, slots=True)
class PairAgreement:
    """Agreement of two raters over the items both of them rated."""

    rater_a: int
    rater_b: int
    items: int
    agreement: float | None  # percent, 0-100; None when they share no item
    kappa: float | None  # Cohen's kappa; None when they share no item


def pairwise_agreement(votes: Iterable[tuple[int, int, str]]) -> list[PairAgreement]:
    """Agreement of every pair of raters, from ``(item_id, rater_id, label)`` votes.

    One :class:`PairAgreement` per pair of raters seen in the votes (``rater_a < rater_b``,
    sorted), including pairs that share no item (``items=0``, agreement and kappa ``None``).
    Raises :class:`ValueError` when a rater gave one item two different labels.
    """
    labels_by_item: dict[int, dict[int, str]] = defaultdict(dict)
    raters: set[int] = set()
    for item_id, rater_id, label in votes:
        given = labels_by_item[item_id].setdefault(rater_id, label)
        if given != label:
            raise ValueError(
                f"item {item_id}: rater {rater_id} voted both {given!r} and {label!r}; "
                "pass one vote per rater and item"
            )
        raters.add(rater_id)
    pairs: dict[tuple[int, int], list[tuple[str, str]]] = defaultdict(list)
    for labels in labels_by_item.values():
        for rater_a, rater_b in combinations(sorted(labels), 2):
            pairs[rater_a, rater_b].append((labels[rater_a], labels[rater_b]))
    result = []
    for rater_a, rater_b in combinations(sorted(raters), 2):
        shared = pairs.get((rater_a, rater_b), [])
        result.append(
            PairAgreement(
                rater_a=rater_a,
                rater_b=rater_b,
                items=len(shared),
                agreement=percent_agreement(shared),
                kappa=cohen_kappa(shared),
            )
        )
    return result
