"""Duplicate detection: pure functions over :class:`MatchRecord` (see ``engine.py``)."""

from screening.dedup.engine import (
    CONFIRMED,
    Match,
    MatchRecord,
    Outcome,
    build_clusters,
    choose_primary,
    explain,
    fill_from_duplicates,
    find_matches,
)

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
