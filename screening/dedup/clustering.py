"""Clustering the sure links into publications, and what each cluster keeps.

:func:`build_clusters` joins the records that ``auto`` matches and people's confirmations
link, never joining records a person has separated; :func:`one_question_per_cluster_pair`
trims the pending queue to one question per pair of clusters. Of each cluster,
:func:`choose_primary` picks the record kept and :func:`fill_from_duplicates` the values it
takes from the others.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from screening.dedup.records import Match, MatchRecord

__all__ = [
    "CONFIRMED",
    "FILLABLE",
    "build_clusters",
    "choose_primary",
    "fill_from_duplicates",
    "one_question_per_cluster_pair",
]

#: The decision a person records for a pair they judged to be one publication; any other
#: value in ``decided`` (e.g. ``"separated"``) means "different publications".
CONFIRMED = "confirmed"


def one_question_per_cluster_pair(
    matches: list[Match],
    decided: Mapping[frozenset[int], str],
    clusters: Iterable[Iterable[int]],
) -> list[Match]:
    """``matches`` (strongest first) with one pending question per pair of clusters.

    A pending pair inside one cluster (already implied by sure links, confirmations or
    earlier merges) is dropped; of several between the same two clusters only the
    strongest is kept. ``auto`` matches are all kept.
    """
    confirmed = [pair for pair, decision in decided.items() if decision == CONFIRMED]
    separated = [pair for pair, decision in decided.items() if decision != CONFIRMED]
    for group in clusters:
        ids = sorted(group)
        confirmed += [frozenset((ids[0], other)) for other in ids[1:]]
    cluster_of: dict[int, int] = {}
    for number, group in enumerate(
        build_clusters(matches, separated=separated, confirmed=confirmed)
    ):
        for record_id in group:
            cluster_of[record_id] = number
    kept: list[Match] = []
    asked: set[tuple[int, int]] = set()
    for match in matches:  # strongest first
        if match.outcome != "pending":
            kept.append(match)
            continue
        ca, cb = cluster_of.get(match.a, -match.a), cluster_of.get(match.b, -match.b)
        if ca == cb:
            continue
        key = (ca, cb) if ca < cb else (cb, ca)
        if key in asked:
            continue
        asked.add(key)
        kept.append(match)
    return kept


def build_clusters(
    matches: Iterable[Match],
    *,
    separated: Iterable[frozenset[int]] = (),
    confirmed: Iterable[frozenset[int]] = (),
) -> list[set[int]]:
    """Clusters (size ≥ 2) joined by ``auto`` matches and pairs a person ``confirmed``.

    Links are applied strongest first (confirmed pairs, then by descending score); a link
    that would put two ``separated`` records in one cluster is skipped, so no chain of
    links can undo a person's "these are different". Pending matches join nothing.
    """
    cannot: dict[int, set[int]] = defaultdict(set)
    for pair in separated:
        if len(pair) == 2:
            x, y = tuple(pair)
            cannot[x].add(y)
            cannot[y].add(x)

    parent: dict[int, int] = {}
    members: dict[int, set[int]] = {}
    # Each root keeps the records its cluster may never join (union of members' cannot-links).
    forbidden: dict[int, set[int]] = {}

    def find(x: int) -> int:
        root = parent.setdefault(x, x)
        if root == x:
            return x
        path = []
        while parent[x] != x:
            path.append(x)
            x = parent[x]
        for node in path:
            parent[node] = x
        return x

    def union(x: int, y: int) -> None:
        rx, ry = find(x), find(y)
        if rx == ry:
            return
        mx = members.setdefault(rx, {rx})
        my = members.setdefault(ry, {ry})
        fx = forbidden.setdefault(rx, set(cannot.get(rx, ())))
        fy = forbidden.setdefault(ry, set(cannot.get(ry, ())))
        if fx & my or fy & mx:
            return
        if len(mx) < len(my):
            rx, ry, mx, my, fx, fy = ry, rx, my, mx, fy, fx
        parent[ry] = rx
        mx |= my
        fx |= fy
        del members[ry], forbidden[ry]

    links: list[tuple[float, int, int]] = []
    for pair in confirmed:
        if len(pair) == 2:
            x, y = sorted(pair)
            links.append((2.0, x, y))  # a person's word outranks any score
    links += [(m.score, m.a, m.b) for m in matches if m.outcome == "auto"]
    links.sort(key=lambda link: (-link[0], link[1], link[2]))
    for _, x, y in links:
        union(x, y)
    return [set(group) for group in members.values() if len(group) > 1]


# ------------------------------------------------------------------------------- merging

#: Fields a primary record may take from its duplicates, in the order they are filled.
FILLABLE = ("doi", "pmid", "abstract", "pages", "volume", "issue", "journal", "year", "isbn")


def _completeness(record: MatchRecord) -> int:
    """How much a record tells: one point per known field, more for identifiers."""
    points = sum(
        1
        for value in (
            record.title,
            record.journal,
            record.volume,
            record.issue,
            record.pages,
            record.year,
            record.publication_type,
            record.isbn,
        )
        if value
    )
    points += 2 * bool(record.doi) + 2 * bool(record.pmid) + 2 * bool(record.abstract)
    points += min(len(record.authors), 3)
    return points


def choose_primary(cluster: Iterable[int], records: Mapping[int, MatchRecord]) -> int:
    """The record a cluster keeps: the most complete; ties go to the lowest id."""
    return min(cluster, key=lambda rid: (-_completeness(records[rid]), rid))


def fill_from_duplicates(
    primary: MatchRecord, duplicates: Iterable[MatchRecord]
) -> dict[str, tuple[object, int]]:
    """Values the primary lacks and a duplicate has: ``{field: (value, source record id)}``.

    Duplicates are tried most complete first (ties: lowest id); the primary's own values
    are never overwritten. Authors are taken only when the primary has none.
    """
    ordered = sorted(duplicates, key=lambda r: (-_completeness(r), r.id))
    filled: dict[str, tuple[object, int]] = {}
    for name in (*FILLABLE, "authors"):
        if getattr(primary, name):
            continue
        for duplicate in ordered:
            value = getattr(duplicate, name)
            if value:
                filled[name] = (value, duplicate.id)
                break
    return filled
