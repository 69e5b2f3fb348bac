"""Duplicate detection: pure functions over :class:`MatchRecord`.

``blocking.py`` picks the pairs worth comparing, ``rules.py`` judges a pair,
``clustering.py`` turns sure links into clusters and ``engine.py`` runs the three.
"""

from screening.dedup.clustering import (
    CONFIRMED,
    build_clusters,
    choose_primary,
    fill_from_duplicates,
)
from screening.dedup.engine import find_matches
from screening.dedup.records import Match, MatchRecord, Outcome
from screening.dedup.rules import explain

__all__ = [
    "CONFIRMED",
    "Match",
    "MatchRecord",
    "Outcome",
    "build_clusters",
    "choose_primary",
    "explain",
    "fill_from_duplicates",
    "find_matches",
]
