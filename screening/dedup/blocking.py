"""Blocking: which pairs of records are worth comparing at all.

Only records that share a *key* are compared, so the work grows with the number of
records, not its square. Keys: the DOI; the PMID; the first 32 letters of the title
(without stopwords, spaces and punctuation); its last 32 letters (catches a prefix the
other database added or dropped); the title's four longest words in sort order (word order
and small edits); first author's family name, first initial and year; year + volume + first
page (finds titles translated differently); the ISBN of a record without a title. A key
shared by more than ``BLOCK_LIMIT`` records (generic titles such as "Editorial", common
names) is not compared all-to-all: its records are sorted by title and each is compared
with its next ``NEIGHBOURS``.
"""

from __future__ import annotations

from collections.abc import Iterator

from screening.dedup.normalise import STOPWORDS
from screening.dedup.records import Prepared

__all__ = ["BLOCK_LIMIT", "NEIGHBOURS", "block_keys", "candidate_pairs"]

#: Blocks larger than this are compared by sorted neighbourhood instead of all-to-all.
BLOCK_LIMIT = 16
#: Neighbours each record of an oversized block is compared with.
NEIGHBOURS = 4


def block_keys(record: Prepared) -> list[str]:
    """The blocking keys of one record (see the module docstring)."""
    keys: list[str] = []
    if record.doi:
        keys.append("d" + record.doi)
    if record.pmid:
        keys.append("p" + record.pmid)
    if record.isbn and not record.title:
        keys.append("i" + record.isbn)
    words = [t for t in record.title.split() if t not in STOPWORDS]
    squashed = "".join(words)
    if len(squashed) >= 12:
        keys.append("t" + squashed[:32])
        keys.append("e" + squashed[-32:])
    long_words = sorted(sorted((t for t in words if len(t) > 3), key=len)[-4:])
    if len(long_words) >= 3:
        keys.append("w" + " ".join(long_words))
    if record.first_family and record.year:
        keys.append(f"a{record.first_family}|{record.first_initial}|{record.year}")
    if record.volume and record.page and record.year:
        keys.append(f"v{record.year}|{record.volume}|{record.page}")
    return keys


def candidate_pairs(prepared: list[Prepared]) -> Iterator[tuple[int, int]]:
    """Index pairs (i < j) sharing a key, at least one of them new, each pair once.

    Blocks of up to ``BLOCK_LIMIT`` records are compared all-to-all; larger ones are sorted
    by title and each record is compared with its next ``NEIGHBOURS`` records, so the number
    of pairs grows linearly with the number of records whatever the keys.
    """
    # Keys are replaced by their hash (a collision only adds a pair to compare); most keys
    # belong to one record: remember its index and make a list on a second one.
    first: dict[int, int] = {}
    blocks: dict[int, list[int]] = {}
    for index, record in enumerate(prepared):
        for key in block_keys(record):
            code = hash(key)
            seen = first.setdefault(code, index)
            if seen != index:
                members = blocks.get(code)
                if members is None:
                    blocks[code] = [seen, index]
                elif members[-1] != index:
                    members.append(index)
    del first
    count = len(prepared)
    all_new = all(record.new for record in prepared)
    done: set[int] = set()
    for members in blocks.values():
        size = len(members)
        if size > BLOCK_LIMIT:
            members.sort(key=lambda k: (prepared[k].title, prepared[k].year or 0))
            window = NEIGHBOURS
        else:
            window = size
        for x in range(size - 1):
            i = members[x]
            new_i = all_new or prepared[i].new
            for j in members[x + 1 : x + 1 + window]:
                if new_i or prepared[j].new:
                    code = i * count + j if i < j else j * count + i
                    if code not in done:
                        done.add(code)
                        yield (i, j)
