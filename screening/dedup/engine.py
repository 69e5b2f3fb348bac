"""Find records that are the same publication, and say why.

Pure Python over :class:`MatchRecord` values (no ORM): the Django side turns records into
``MatchRecord`` and stores the :class:`Match` results. Three steps:

1. **Blocking** — only records that share a *key* are compared, so the work grows with
   the number of records, not its square. Keys: the DOI; the PMID; the first 32 letters of
   the title (without stopwords, spaces and punctuation); its last 32 letters (catches a
   prefix the other database added or dropped); the title's four longest words in sort
   order (word order and small edits); first author's family name, first initial and year;
   year + volume + first page (finds titles translated differently); the ISBN of a record
   without a title. A key shared by more than ``BLOCK_LIMIT`` records (generic titles such
   as "Editorial", common names) is not compared all-to-all: its records are sorted by
   title and each is compared with its next ``NEIGHBOURS``.
2. **Comparing** a candidate pair field by field (the rules below; :func:`explain`).
3. **Clustering** the sure links with :func:`build_clusters`, never joining records a person
   has separated.

Rules of comparison, in the words a librarian would use. Titles are compared after
folding (case, accents, punctuation, HTML, bracketed notes such as "[Review]" or
"[Chinese]"); "alike" is the share of characters two titles have in common, and a title cut
short is compared with the same length of the other.

*Vetoes* — any one and the pair is **distinct**, however alike the titles:

- both records have a DOI and the DOIs differ (case, a ``https://doi.org/`` prefix or a
  supplementary-file suffix such as ``.s001`` are not differences);
- both have a PMID and they differ;
- the years are more than one year apart (online-first vs print explains one year);
- one record is a notice about a publication (erratum, correction, retraction, expression
  of concern, comment, reply) and the other isn't: "Erratum: <same title>" is not the
  article;
- one record says it is a meeting abstract (publication type, a journal such as
  "… Abstracts" or "Conference …", an issue "Meeting Abstracts", or a single supplement
  page) and the other is a paper in a regular issue (a page range, no supplement).

Two exceptions send a vetoed pair to a person (**pending**) instead: the same DOI or PMID
with titles at least 90 % alike (a database with a wrong year, say), and DOIs that differ
while title (95 %), year, first page, volume and first author or journal all agree (one of
the DOIs is probably wrong: databases attach another article's DOI now and then). When
first author, journal and the opening of the abstract agree as well, nothing but the DOI
differs and the pair is **auto**, with the reason "everything but the DOI is identical".

*Shared identifier* — the same DOI or PMID with titles at least 95 % alike (or one record
without a title) is **auto**, whatever volumes, pages or author spellings say: those fields
are noisier than identifiers.

*Softer vetoes* — distinct unless the same DOI/PMID and titles 80 % alike, which go to a
person (so do titles differing only in a number when everything else agrees: often a typo
such as "p6INK4a" for "p16INK4a"):

- the titles are alike but their numbers differ ("Part I" / "Part II", "type 1" /
  "type 2 diabetes", "10 000" = "10000" is no difference);
- volumes and first pages both differ;
- journals and volumes both differ.

*Conflicts* — stop an automatic merge: volumes differ; page ranges that cannot belong to
one article (they don't overlap; an article number such as ``e0123`` and printed pages are
not compared); first authors differ and most co-authors differ too; a number in one title
only.

*Automatic merge* (**auto**) — no veto, no conflict, and one of:

- the same DOI or PMID, and titles at least 85 % alike;
- titles at least 95 % alike, years at most one apart, the same first author (for records
  without authors: abstracts that open alike), and the same journal, volume, first page or
  abstract opening (journals named differently need volume and first page);
- titles at least 90 % alike, the same first author, volume and first page;
- titles at least 95 % alike, the same year, volume and first page, the journal not
  different, and most co-authors shared (the first author spelt differently);
- titles at least 98 % alike, the same first author, journal, year, volume and issue, the
  pages alone conflicting (two articles of one issue don't share a title; databases do
  disagree on pages).

*A person decides* (**pending**) — not automatic, and one of:

- the same DOI or PMID and titles at least 70 % alike;
- titles at least 95 % alike with at most one conflict;
- no conflict, the same first author, and titles at least 80 % alike or the same year (±1),
  volume and first page (a title translated differently);
- no conflict, titles at least 80 % alike, and the same journal or volume and first page.

Everything else is **distinct** and is not returned. Each :class:`Match` carries its
reasons ("same DOI", "titles 97 % alike", "first author matches", "pages conflict",
"years 3 apart (veto)", …) so every merge can be explained; :func:`explain` gives them for
any pair. First authors match when the family names agree (with the same first initial
when both give one), allowing particles, typos and names written in the other order.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz
from rapidfuzz.distance import Indel

from screening.dedup.normalise import (
    STOPWORDS,
    author_parts,
    compare_pages,
    dois_compatible,
    first_number,
    fold,
    is_meeting_abstract,
    is_supplement,
    journal_tokens,
    journals_compatible,
    match_doi,
    notice_kind,
    parse_pages,
    title_for_matching,
    title_numbers,
)

__all__ = [
    "BLOCK_LIMIT",
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

Outcome = Literal["auto", "pending", "distinct"]

#: Blocks larger than this are compared by sorted neighbourhood instead of all-to-all.
BLOCK_LIMIT = 16
#: Characters of the (folded) abstract compared.
ABSTRACT_CHARS = 200
#: Shortest title (characters, folded) compared with a stretch of a longer title.
MIN_CONTAINED = 24
#: Neighbours each record of an oversized block is compared with.
NEIGHBOURS = 4
#: The decision a person records for a pair they judged to be one publication; any other
#: value in ``decided`` (e.g. ``"separated"``) means "different publications".
CONFIRMED = "confirmed"


@dataclass(frozen=True, slots=True)
class MatchRecord:
    """The fields of one record that matching looks at, as the importers normalised them.

    ``authors`` are ``"Family, Given"`` in the order published; ``doi`` is lower-case
    without a URL prefix (the engine normalises again, so raw values work too); ``pages``
    as exported (``"221-8"``, ``"e1234"``, …); an empty string or ``None`` means unknown.
    ``abstract`` is optional: only its opening is compared.
    """

    id: int
    title: str
    authors: tuple[str, ...] = ()
    year: int | None = None
    journal: str = ""
    volume: str = ""
    issue: str = ""
    pages: str = ""
    doi: str = ""
    pmid: str = ""
    isbn: str = ""
    publication_type: str = ""
    abstract: str = ""


@dataclass(frozen=True, slots=True)
class Match:
    """A candidate pair (``a < b``) with the engine's verdict, a 0-1 score and its reasons."""

    a: int
    b: int
    outcome: Outcome
    score: float
    reasons: tuple[str, ...]

    @property
    def pair(self) -> frozenset[int]:
        return frozenset((self.a, self.b))


class _Prepared:
    """Per-record normalised fields, computed once (see ``normalise.py``)."""

    __slots__ = (
        "id",
        "new",
        "title",
        "title_len",
        "numbers",
        "kind",
        "meeting",
        "regular_issue",
        "year",
        "families",
        "author_count",
        "first_family",
        "first_initial",
        "first_author",
        "journal",
        "volume",
        "issue",
        "page",
        "pages",
        "doi",
        "pmid",
        "isbn",
        "record",
        "_abstract",
    )

    def __init__(self, record: MatchRecord, new: bool) -> None:
        self.id = record.id
        self.new = new
        self.title = title_for_matching(record.title)
        self.title_len = len(self.title)
        self.numbers = title_numbers(self.title)
        self.kind = notice_kind(record.title, record.publication_type)
        supplement = is_supplement(record.volume, record.issue, record.pages)
        self.meeting = is_meeting_abstract(
            record.publication_type, record.journal, record.issue
        ) or (supplement and _single_page(record.pages))
        self.regular_issue = bool(record.journal) and not supplement and _page_range(record.pages)
        self.year = record.year
        families: list[str] = []
        initial = ""
        first_author = ""
        for author in record.authors[:12]:
            family, init = author_parts(author)
            if family:
                if not families:
                    initial = init
                    first_author = author
                families.append(family)
        self.families = tuple(families)
        self.author_count = len(set(families))
        self.first_family = families[0] if families else ""
        self.first_initial = initial
        self.first_author = first_author  # the name as given, for names in another order
        self.journal = journal_tokens(record.journal)
        self.volume = first_number(record.volume)
        self.issue = first_number(record.issue)
        self.pages = parse_pages(record.pages)
        self.page = str(self.pages.first) if self.pages else ""
        self.doi = match_doi(record.doi)
        self.pmid = first_number(record.pmid)
        self.isbn = "".join(c for c in record.isbn if c.isalnum()).lower()
        self.record = record  # for the abstract, read only when a pair needs it
        self._abstract: str | None = None

    @property
    def abstract(self) -> str:
        """The folded opening of the abstract (worked out on first use, then kept)."""
        if self._abstract is None:
            self._abstract = _abstract_opening(self.record)
        return self._abstract


def _block_keys(record: _Prepared) -> list[str]:
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


def _single_page(pages: str) -> bool:
    """One page (``S112``, ``A129``): how meeting abstracts are paged in supplements."""
    start, _, end = pages.partition("-")
    return bool(start) and (not end or end.strip() == start.strip())


def _page_range(pages: str) -> bool:
    """A real range of printed pages (``221-228``), as articles in a regular issue have."""
    start, _, end = pages.partition("-")
    return bool(first_number(start)) and bool(first_number(end)) and start.strip() != end.strip()


# ------------------------------------------------------------------------------ comparing


def _title_similarity(a: _Prepared, b: _Prepared, floor: float = 0.0) -> tuple[float, bool]:
    """Percentage alike, and whether it came from one title containing the other.

    A title cut short, or lengthened by a series name ("Annual research review: …") or a
    subtitle, is compared with the best-matching stretch of the other, of its own length.
    Below ``floor`` the containment score isn't worked out (it is the costly part).
    """
    if a.title == b.title:
        return 100.0, False
    if not a.title or not b.title:
        return 0.0, False
    whole = Indel.normalized_similarity(a.title, b.title) * 100
    if _may_contain(a, b):
        short, long_ = (a.title, b.title) if a.title_len <= b.title_len else (b.title, a.title)
        part = fuzz.partial_ratio(short, long_, score_cutoff=max(whole, floor))
        if part > whole:
            return part, True
    return whole, False


def _may_contain(a: _Prepared, b: _Prepared) -> bool:
    """Whether one title may be a stretch of the other: clearly shorter, long enough to be
    specific, and sharing its first or last words with the other (a cheap hint)."""
    short, long_ = (a.title, b.title) if a.title_len <= b.title_len else (b.title, a.title)
    return MIN_CONTAINED <= len(short) < 0.9 * len(long_) and (
        short[:12] in long_ or short[-12:] in long_
    )


def _authors_overlap(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """Share of the shorter author list (first 12 family names) found in the other."""
    if not a or not b:
        return 0.0
    sa, sb = set(a), set(b)
    return len(sa & sb) / min(len(sa), len(sb))


def _abstract_opening(record: MatchRecord) -> str:
    """The folded opening of the abstract, or ``""`` when there is too little to compare."""
    if len(record.abstract) < ABSTRACT_CHARS // 2:
        return ""
    opening = fold(record.abstract[: ABSTRACT_CHARS + 100])[:ABSTRACT_CHARS]
    return opening if len(opening) >= ABSTRACT_CHARS // 2 else ""


def _same_family(a: str, b: str) -> bool:
    """Same first-author family name, allowing the ways databases mangle names.

    Particles and compound names (``benzeev`` / ``zeev``, ``laan`` / ``laanvanhaeringen``),
    a given name glued on (``windymcnerney``), transliterations and broken accents
    (``konig`` / ``koenig``).
    """
    if a == b:
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) >= 4 and (long_.startswith(short) or long_.endswith(short)):
        return True
    return len(short) >= 4 and fuzz.ratio(a, b) >= 80


def _same_first_author(a: _Prepared, b: _Prepared) -> bool | None:
    """``None`` when a record has no author; else whether the first authors agree.

    Equal family names must also share the first initial (``Wang, X`` is not ``Wang, Y``);
    names that match only loosely (particles, typos) or that a database wrote in the other
    order (``Ching-yi, Wu`` / ``Wu, Ching-yi``) are accepted without the initial.
    """
    if not a.first_family or not b.first_family:
        return None
    if a.first_family == b.first_family:
        return not (a.first_initial and b.first_initial) or a.first_initial == b.first_initial
    if _same_family(a.first_family, b.first_family):
        return True
    return (
        a.first_family in fold(b.first_author).split()
        or b.first_family in fold(a.first_author).split()
    )


def _compare(
    a: _Prepared, b: _Prepared, title: tuple[float, bool] | None = None
) -> tuple[Outcome, float, tuple[str, ...]]:
    """Apply the rules of the module docstring to one pair: outcome, score, reasons.

    ``title`` is the pair's title similarity when the caller has already computed it.
    """
    reasons: list[str] = []
    hard: list[str] = []  # vetoes that even a shared identifier cannot override
    soft: list[str] = []  # vetoes that a shared DOI/PMID with the same title overrides
    conflicts: list[str] = []  # disagreements that stop an automatic merge

    same_id = False
    if a.doi and b.doi:
        if dois_compatible(a.doi, b.doi):
            same_id = True
            reasons.append("same DOI")
        else:
            hard.append("different DOIs (veto)")
    if a.pmid and b.pmid:
        if a.pmid == b.pmid:
            same_id = True
            reasons.append("same PMID")
        else:
            hard.append("different PMIDs (veto)")

    year_gap: int | None = None
    if a.year and b.year:
        year_gap = abs(a.year - b.year)
        if year_gap > 1:
            hard.append(f"years {year_gap} apart (veto)")
    if a.kind != b.kind:
        kinds = sorted(k or "article" for k in (a.kind, b.kind))
        hard.append(f"{kinds[0]} vs {kinds[1]} (veto)")
    if (a.meeting and b.regular_issue and not b.meeting) or (
        b.meeting and a.regular_issue and not a.meeting
    ):
        hard.append("meeting abstract vs journal article (veto)")

    title_sim, truncated = title or _title_similarity(a, b)
    if a.title and b.title:
        if truncated:
            reasons.append(f"one title contains the other ({title_sim:.0f} % alike)")
        else:
            reasons.append(f"titles {title_sim:.0f} % alike")
    if title_sim >= 80 and not truncated and a.numbers != b.numbers:
        if a.numbers and b.numbers:
            soft.append("titles differ in their numbers (veto)")
        else:
            conflicts.append("number in one title only")

    first_author = _same_first_author(a, b)
    overlap = _authors_overlap(a.families, b.families)
    coauthors = overlap >= 0.5 and min(a.author_count, b.author_count) >= 2
    if first_author:
        reasons.append("first author matches")
    elif first_author is False:
        if coauthors:
            reasons.append("first authors differ, most co-authors match")
        else:
            conflicts.append("first authors differ")

    journal = journals_compatible(a.journal, b.journal)
    if journal:
        reasons.append("same journal")
    volume: bool | None = None
    if a.volume and b.volume:
        volume = a.volume == b.volume
        if volume:
            reasons.append("same volume")
        else:
            conflicts.append("volumes conflict")
    same_issue = bool(volume and a.issue and a.issue == b.issue)
    if same_issue:
        reasons.append("same issue")
    page = compare_pages(a.pages, b.pages)
    if page:
        reasons.append("same first page")
    elif page is False:
        conflicts.append("pages conflict")
    if volume is False and page is False:
        soft.append("volume and pages conflict (veto)")
    elif volume is False and a.journal and b.journal and not journal:
        soft.append("journal and volume differ (veto)")
    if year_gap == 0:
        reasons.append("same year")
    elif year_gap == 1:
        reasons.append("years 1 apart")
    abstract = False
    if a.record.abstract and b.record.abstract and a.abstract and b.abstract:
        abstract_sim = Indel.normalized_similarity(a.abstract, b.abstract) * 100
        abstract = abstract_sim >= 90
        if abstract:
            reasons.append(f"abstracts {abstract_sim:.0f} % alike")

    score = round(
        0.55 * title_sim / 100
        + (0.2 if same_id else 0.0)
        + (0.1 if first_author else 0.0)
        + 0.05 * overlap
        + (0.04 if journal else 0.0)
        + (0.03 if volume else 0.0)
        + (0.03 if page else 0.0),
        4,
    )
    explained = tuple(reasons + hard + soft + conflicts)
    year_ok = year_gap is not None and year_gap <= 1
    both_titled = bool(a.title and b.title)

    if hard:
        if same_id and title_sim >= 90:
            return "pending", score, explained
        if (
            hard == ["different DOIs (veto)"]
            and not soft
            and title_sim >= 95
            and year_gap == 0
            and first_author is not False
            and (first_author or journal)
            and page
            and volume is not False
        ):
            # Everything but the DOI agrees: one DOI is wrong (a database attached another
            # article's DOI). Identical abstracts settle it; otherwise a person decides.
            if not conflicts and first_author and journal and abstract:
                return "auto", score, (*explained, "everything but the DOI is identical")
            return "pending", score, explained
        return "distinct", 0.0, explained

    if same_id and (title_sim >= 95 or not both_titled):
        # A shared DOI/PMID with the same title outweighs noisy volumes, pages or names.
        return "auto", score, explained
    if soft:
        if (same_id and title_sim >= 80) or (
            soft == ["titles differ in their numbers (veto)"]
            and not conflicts
            and title_sim >= 95
            and first_author
            and year_ok
            and journal
        ):
            # Everything agrees but a number: often a typo ("p6INK4a" / "p16INK4a").
            return "pending", score, explained
        return "distinct", 0.0, explained

    other_journal = bool(a.journal and b.journal and not journal)
    if (
        conflicts == ["pages conflict"]
        and title_sim >= 98
        and first_author
        and journal
        and same_issue
        and year_gap == 0
    ):
        # One title, one first author, one issue of one journal: a single article whose
        # pages the databases disagree on (abstract page vs supplement page, say).
        return "auto", score, explained
    if not conflicts and (
        (same_id and title_sim >= 85)
        or (
            title_sim >= 95
            and year_ok
            and (first_author or (first_author is None and abstract))
            and (journal or volume or page or abstract)
            and not (other_journal and not (volume and page))
        )
        or (title_sim >= 90 and first_author and volume and page)
        or (
            title_sim >= 95
            and year_gap == 0
            and volume
            and page
            and coauthors
            and not other_journal
        )
    ):
        return "auto", score, explained
    if (
        (same_id and title_sim >= 70)
        or (title_sim >= 95 and len(conflicts) <= 1)
        or (not conflicts and first_author and (title_sim >= 80 or (year_ok and volume and page)))
        or (not conflicts and title_sim >= 80 and (journal or (volume and page)))
    ):
        return "pending", score, explained
    return "distinct", 0.0, explained


# ------------------------------------------------------------------------------- blocking


def _candidate_pairs(prepared: list[_Prepared]) -> Iterator[tuple[int, int]]:
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
        for key in _block_keys(record):
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


def explain(a: MatchRecord, b: MatchRecord) -> Match:
    """The verdict on one pair with all its reasons, whatever the outcome.

    For a person asking "why were these not merged?" (and for tests): unlike
    :func:`find_matches` it also returns ``distinct`` verdicts, vetoes included.
    """
    outcome, score, reasons = _compare(_Prepared(a, True), _Prepared(b, True))
    low, high = sorted((a.id, b.id))
    return Match(low, high, outcome, score, reasons)


def _screen(a: _Prepared, b: _Prepared) -> tuple[float, bool] | None:
    """``None`` for a pair the cheap vetoes settle as distinct, else its title similarity.

    The same verdicts as :func:`_compare`, reached with less work: no shared identifier
    and years more than one apart, or a notice against an article; titles less than 80 %
    alike without the same volume and first page (a title translated differently); DOIs
    that differ with titles less than 95 % alike.
    """
    shared = (a.doi and b.doi and dois_compatible(a.doi, b.doi)) or (a.pmid and a.pmid == b.pmid)
    if not shared and ((a.year and b.year and abs(a.year - b.year) > 1) or a.kind != b.kind):
        return None
    if shared or not (a.title and b.title):
        return _title_similarity(a, b)
    if a.volume and a.volume == b.volume and a.page and a.page == b.page:
        return _title_similarity(a, b)
    if not Indel.normalized_similarity(a.title, b.title, score_cutoff=0.8) and not _may_contain(
        a, b
    ):
        return None  # the common case, settled by the fastest test
    title = _title_similarity(a, b, floor=80)
    if title[0] < 80 or (a.doi and b.doi and title[0] < 95):
        return None
    return title


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
    return _one_question_per_cluster_pair(matches, decided, clusters)


def _match(
    new: Sequence[MatchRecord],
    existing: Sequence[MatchRecord],
    decided: Mapping[frozenset[int], str],
) -> list[Match]:
    prepared = [_Prepared(r, True) for r in new] + [_Prepared(r, False) for r in existing]
    matches: list[Match] = []
    for i, j in _candidate_pairs(prepared):
        a, b = prepared[i], prepared[j]
        if a.id == b.id:
            continue
        low, high = (a.id, b.id) if a.id < b.id else (b.id, a.id)
        if decided and frozenset((low, high)) in decided:
            continue
        title = _screen(a, b)
        if title is None:
            continue
        outcome, score, reasons = _compare(a, b, title)
        if outcome != "distinct":
            matches.append(Match(low, high, outcome, score, reasons))
    return matches


def _one_question_per_cluster_pair(
    matches: list[Match],
    decided: Mapping[frozenset[int], str],
    clusters: Iterable[Iterable[int]],
) -> list[Match]:
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


# ------------------------------------------------------------------------------ clustering


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
