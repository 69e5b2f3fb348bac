"""What matching reads and returns, and a record's fields normalised once.

:class:`MatchRecord` goes in (the Django side builds it from a record), :class:`Match` comes
out; :class:`Prepared` holds the normalised fields (``normalise.py``) that blocking and the
rules of comparison look at, worked out once per record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from screening.dedup.normalise import (
    author_parts,
    first_number,
    fold,
    generic_title,
    is_meeting_abstract,
    is_supplement,
    journal_tokens,
    match_doi,
    notice_kind,
    parse_pages,
    title_for_matching,
    title_numbers,
)

__all__ = ["ABSTRACT_CHARS", "Match", "MatchRecord", "Outcome", "Prepared"]

Outcome = Literal["auto", "pending", "distinct"]

#: Characters of the (folded) abstract compared.
ABSTRACT_CHARS = 200


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


class Prepared:
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
        "generic",
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
        self.generic = generic_title(self.title)
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


def _single_page(pages: str) -> bool:
    """One page (``S112``, ``A129``): how meeting abstracts are paged in supplements."""
    start, _, end = pages.partition("-")
    return bool(start) and (not end or end.strip() == start.strip())


def _page_range(pages: str) -> bool:
    """A real range of printed pages (``221-228``), as articles in a regular issue have."""
    start, _, end = pages.partition("-")
    return bool(first_number(start)) and bool(first_number(end)) and start.strip() != end.strip()


def _abstract_opening(record: MatchRecord) -> str:
    """The folded opening of the abstract, or ``""`` when there is too little to compare."""
    if len(record.abstract) < ABSTRACT_CHARS // 2:
        return ""
    opening = fold(record.abstract[: ABSTRACT_CHARS + 100])[:ABSTRACT_CHARS]
    return opening if len(opening) >= ABSTRACT_CHARS // 2 else ""
