"""Shared types and normalisers for the citation importers.

Every importer is a pure function over text lines (no ORM, no Django): it yields one
``ParsedRecord`` per record it could read and one ``Rejection`` per record it could not,
so the caller can account for every record in a file. A file that cannot be read at all
raises ``FileFormatError`` with one sentence a user can act on.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain
from operator import attrgetter
from typing import Any

from screening.bibliography import NAMES, PROSE, Kind


class FileFormatError(Exception):
    """The whole file cannot be read (wrong format, binary, truncated, too large, …)."""


@dataclass
class ParsedRecord:
    """One citation as read from a file.

    ``line`` is the 1-based line (or, for XML, the record's start line) where the record
    begins; ``record_id`` is its identifier in the file (RIS ``ID``/``AN``, PMID, BibTeX key,
    CSV ``id`` column, …) or its 1-based position when the file gives none; ``raw`` keeps
    every original field (tag → list of values) so nothing the source said is lost.

    The other attributes but ``warnings`` are the bibliographic fields of
    ``screening.bibliography.FIELDS``, spelled out for mypy (a test checks they agree).
    """

    line: int
    record_id: str
    raw: dict[str, list[str]]
    title: str = ""
    abstract: str = ""
    authors: list[str] = field(default_factory=list)  # "Family, Given"
    year: int | None = None
    journal: str = ""
    volume: str = ""
    issue: str = ""
    pages: str = ""
    doi: str = ""
    pmid: str = ""
    pmcid: str = ""
    issn: str = ""
    isbn: str = ""
    keywords: list[str] = field(default_factory=list)
    language: str = ""
    publication_type: str = ""
    url: str = ""
    warnings: list[str] = field(default_factory=list)

    def has_identifying_content(self) -> bool:
        return bool(self.title or self.doi or self.pmid or self.authors or self.journal or self.url)


@dataclass
class Rejection:
    """A record that could not be imported, with the line it starts on and why."""

    line: int
    message: str


ParseResult = ParsedRecord | Rejection

# The bibliographic fields a ``ParsedRecord`` carries, in the table's order.
NORMALISED_FIELDS = NAMES


# The fields ``finish`` decodes HTML entities in, by kind.
_PROSE_TEXTS = tuple(f.name for f in PROSE if f.kind is not Kind.LIST)
_PROSE_LISTS = tuple(f.name for f in PROSE if f.kind is Kind.LIST)
_prose_texts = attrgetter(*_PROSE_TEXTS)
_prose_lists = attrgetter(*_PROSE_LISTS)


def finish(record: ParsedRecord) -> ParseResult:
    """Return the record, or a rejection when it carries nothing that identifies it.

    HTML entities in its text fields (not in identifiers and links) are decoded here, for
    every format alike: Scopus writes ``p &lt; 0.001`` in RIS as CSV exports and BibTeX
    do. Markup itself (``<sup>``) is kept as the publisher wrote it.
    """
    # One look for "&" over all the text: most records have no entity at all.
    if "&" in "".join(_prose_texts(record)) or "&" in "".join(
        chain.from_iterable(_prose_lists(record))
    ):
        _decode_entities(record)
    if not record.has_identifying_content():
        return Rejection(
            line=record.line,
            message="record has no title, authors, journal, DOI, PMID or URL",
        )
    return record


def _decode_entities(record: ParsedRecord) -> None:
    for name in _PROSE_TEXTS:
        value = getattr(record, name)
        if "&" in value:
            value = unescape_entities(value)
            # An abstract keeps its spacing as written (importers do not clean it either);
            # other fields are cleaned again, as an entity may have been a space.
            setattr(record, name, value if name == "abstract" else clean_text(value))
    for name in _PROSE_LISTS:
        values = getattr(record, name)
        if any("&" in value for value in values):
            decoded = (clean_text(unescape_entities(value)) for value in values)
            setattr(record, name, [value for value in decoded if value])


# ---------------------------------------------------------------- normalisers

_DOI_RE = re.compile(r"10\.\d{4,9}/\S+", re.IGNORECASE)
_WS_RE = re.compile(r"\s+")


def clean_text(value: str | None) -> str:
    """Collapse whitespace and strip; ``None`` becomes ``""``."""
    if not value:
        return ""
    # Fast path for text that is already clean (parsers call this on every field of
    # 100,000-record files): a printable string has no whitespace but the ASCII space.
    if value.isprintable() and "  " not in value and value[0] != " " and value[-1] != " ":
        return value
    return " ".join(value.split())  # the same as _WS_RE.sub(" ", value).strip()


def normalise_doi(value: str | None) -> str:
    """Lower-case DOI without ``https://doi.org/``, ``doi:`` or trailing punctuation."""
    if not value:
        return ""
    match = _DOI_RE.search(value.replace("%2F", "/").replace("%2f", "/"))
    if not match:
        return ""
    doi = match.group(0).rstrip(".,;)]}>").lower()
    return doi


_YEAR_RE = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?!\d)")


def parse_year(value: str | None) -> int | None:
    """First plausible four-digit year in ``value`` (``1988//``, ``2020 Jan 5``, …)."""
    if not value:
        return None
    head = value[:4]
    # The common case at once: the value starts with the year ("2020", "2020 Jan 5").
    if (
        len(head) == 4
        and "1500" <= head <= "2099"
        and head.isascii()
        and head.isdigit()
        and (len(value) == 4 or not value[4].isdecimal())
    ):
        return int(head)
    match = _YEAR_RE.search(value)
    return int(match.group(1)) if match else None


# Lower-case words that only occur in names of organisations ("Name of a University").
_ORGANISATION_WORDS = frozenset({"of", "and", "for", "the", "&", "on", "in"})
#: Words that make a short name an organisation ("Mayo Clinic", "Pfizer Inc", "Novartis
#: Pharmaceuticals"), compared in lower case: never turned round into "Clinic, Mayo".
_ORGANISATION_NOUNS = frozenset(
    {
        "clinic", "hospital", "hospitals", "university", "universitat", "universite",
        "institute", "institut", "instituto", "center", "centre", "centro", "inc", "inc.",
        "ltd", "ltd.", "llc", "gmbh", "ag", "plc", "corp", "corp.", "corporation",
        "company", "pharmaceuticals", "pharmaceutical", "pharma", "laboratories", "group",
        "foundation", "association", "society", "council", "trust", "consortium",
        "collaboration", "network", "committee", "investigators", "ministry", "agency",
    }
)  # fmt: skip
_DOTTED_INITIALS_RE = re.compile(r"(?:[A-Z]\.-?){1,4}$")


def normalise_author(value: str) -> str:
    """Return an author as ``Family, Given``.

    Accepts ``Family, Given``, ``Family Given-initials`` (MEDLINE ``AU``: ``Smith JA``)
    and ``Given Family``. Organisation names without a comma are kept as they are when
    they look like one (more than four words, a connective, or a word such as "Clinic",
    "University" or "Inc").
    """
    name = clean_text(value).strip(" ;,")
    if not name:
        return ""
    if "," in name:
        family, _, given = name.partition(",")
        family, given = family.strip(), given.strip()
        return f"{family}, {given}" if given else family
    parts = name.split(" ")
    if len(parts) == 1 or len(parts) > 4 or not _ORGANISATION_WORDS.isdisjoint(parts):
        return name
    if not _ORGANISATION_NOUNS.isdisjoint(part.lower() for part in parts):
        return name  # "Mayo Clinic", "Novartis Pharmaceuticals"
    last = parts[-1]
    # MEDLINE style: "Smith JA" — the initials come last, upper-case, no dots;
    # Embase style: "Adler D.G." — the same with dots.
    if (last.isupper() and len(last) <= 3 and last.isalpha()) or _DOTTED_INITIALS_RE.match(last):
        return f"{' '.join(parts[:-1])}, {last}"
    return f"{last}, {' '.join(parts[:-1])}"


@lru_cache(maxsize=1 << 16)
def cached_author(value: str) -> str:
    """``normalise_author`` remembered: the same names come back record after record."""
    return normalise_author(value)


def split_authors(values: Sequence[str]) -> list[str]:
    """Authors from tagged lines, one or several a line: some sources put a whole list on
    one ``AU`` line, separated by ``;`` (``AU Joffe, Hadine; Hall, Janet E``)."""
    if ";" not in "".join(values):  # one name a line: the usual case, at C speed
        return list(filter(None, map(cached_author, values)))
    authors: list[str] = []
    for value in values:
        if ";" in value:
            # Decoded first: "M&uuml;ller" is one name, not two.
            value = unescape_entities(value) if "&" in value else value
            authors.extend(filter(None, map(cached_author, value.split(";"))))
        elif name := cached_author(value):
            authors.append(name)
    return authors


_PMID_RE = re.compile(r"\d{1,9}")
_PMCID_RE = re.compile(r"PMC\d+", re.IGNORECASE)


def normalise_pmid(value: str | None) -> str:
    if not value:
        return ""
    if len(value) <= 9 and value.isdecimal():  # what \d matches: the common case, at once
        return value
    match = _PMID_RE.search(value)
    return match.group(0) if match else ""


def normalise_pmcid(value: str | None) -> str:
    if not value:
        return ""
    match = _PMCID_RE.search(value)
    return match.group(0).upper() if match else ""


def join_pages(start: str | None, end: str | None) -> str:
    start, end = clean_text(start), clean_text(end)
    if start and end and end != start:
        return f"{start}-{end}"
    return start or end


_KEYWORD_SPLIT_RE = re.compile(r";|\n")


def split_keywords(values: Iterable[str]) -> list[str]:
    """Keywords from one or several values, split on ``;`` and de-duplicated in order."""
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        if ";" in value and "&" in value:  # "Sj&ouml;gren syndrome" is one keyword
            value = unescape_entities(value)
        parts = _KEYWORD_SPLIT_RE.split(value) if ";" in value or "\n" in value else (value,)
        for part in parts:
            # clean_text, inlined: a file has as many keywords as lines of everything else.
            if part.isprintable() and "  " not in part and part[:1] != " " and part[-1:] != " ":
                kw = part
            else:
                kw = " ".join(part.split())
            if kw:
                key = kw.lower()
                if key not in seen:
                    seen.add(key)
                    out.append(kw)
    return out


def strip_accents(value: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", value) if not unicodedata.combining(c))


def first(raw: dict[str, list[str]], *tags: str) -> str:
    """The first non-empty value among ``tags`` in ``raw``, cleaned."""
    for tag in tags:
        values = raw.get(tag)
        if values:
            for value in values:
                # clean_text, inlined (called for most fields of every record)
                if not value:
                    continue
                if value.isprintable() and "  " not in value and value[0] != " " != value[-1]:
                    return value
                text = " ".join(value.split())
                if text:
                    return text
    return ""


def as_dict(record: ParsedRecord) -> dict[str, Any]:
    """The normalised fields of ``record`` as a plain dict (for storage and matching)."""
    return {name: getattr(record, name) for name in NORMALISED_FIELDS}


def iter_lines(text: str) -> Iterator[str]:
    """Lines of ``text`` without their line endings (``\\r\\n``, ``\\r`` or ``\\n``)."""
    yield from text.splitlines()


# ------------------------------------------- helpers added for the tagged importers

_ISSN_ISBN_TOKEN_RE = re.compile(r"[0-9Xx][0-9Xx-]*")
_COMPACT_DATE_RE = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?:0[1-9]|1[0-2])(?:[0-3]\d)?(?!\d)")


def split_issn_isbn(values: Iterable[str]) -> tuple[str, str]:
    """The first ISSN (``NNNN-NNNC``) and first ISBN (digits only) found in ``values``.

    Exports put both in one field (RIS ``SN``) and mix print and electronic numbers:
    ``0964-6906 (Print)0964-6906``, ``1999-7777(Electronic),0222-6666(Print)``,
    ``00155555``, ``9798373627394``. Eight characters make an ISSN, ten or thirteen an ISBN.
    """
    issn = isbn = ""
    for value in values:
        # The same few journals' numbers come back record after record.
        found_issn, found_isbn = _issn_isbn_of(value)
        issn = issn or found_issn
        isbn = isbn or found_isbn
        if issn and isbn:
            break
    return issn, isbn


@lru_cache(maxsize=1 << 12)
def _issn_isbn_of(value: str) -> tuple[str, str]:
    """The first ISSN and the first ISBN in one value."""
    issn = isbn = ""
    for token in _ISSN_ISBN_TOKEN_RE.findall(value):
        digits = token.replace("-", "").upper()
        if len(digits) == 8 and digits[:7].isdigit():
            issn = issn or f"{digits[:4]}-{digits[4:]}"
        elif (len(digits) == 13 and digits.isdigit()) or (
            len(digits) == 10 and digits[:9].isdigit()
        ):
            isbn = isbn or digits
    return issn, isbn


def year_from(values: Iterable[str | None]) -> int | None:
    """The first year found in ``values``, also in compact dates (``Start date: 20170812``)."""
    for value in values:
        year = parse_year(value)
        if year is None and value:
            match = _COMPACT_DATE_RE.search(value)
            year = int(match.group(1)) if match else None
        if year is not None:
            return year
    return None


# ---------------------------------------------------------------- ISSN / ISBN

_ID_TOKEN_SPLIT_RE = re.compile(r"[\s;,/()\[\]:]+")
_ISSN_TOKEN_RE = re.compile(r"(\d{4})-?(\d{3}[\dX])")


def normalise_issn(value: str | None) -> str:
    """First ISSN in ``value`` as ``NNNN-NNNC`` (``0008543X`` → ``0008-543X``), else ``""``.

    Fields such as EndNote's ``isbn`` or a CSV ``ISSN`` cell often hold several numbers
    (``0269-9052 (Print) 1362-301X (Linking)``); only whole tokens are considered, so an
    ISBN never yields an ISSN.
    """
    for token in _ID_TOKEN_SPLIT_RE.split((value or "").upper()):
        match = _ISSN_TOKEN_RE.fullmatch(token)
        if match:
            return f"{match.group(1)}-{match.group(2)}"
    return ""


def normalise_isbn(value: str | None) -> str:
    """First ISBN-10 or ISBN-13 in ``value``, digits only.

    ``978-0-12-345678-9 (Hardcover)`` → ``9780123456789``.
    """
    for token in _ID_TOKEN_SPLIT_RE.split((value or "").upper()):
        digits = token.replace("-", "")
        if re.fullmatch(r"\d{9}[\dX]|\d{13}", digits):
            return digits
    return ""


_HTML_ENTITY_RE = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def unescape_entities(value: str) -> str:
    """Decode HTML entities that exports leave in text (``&apos;``, ``&#x0027;``, ``&amp;``).

    Only complete entities (ending in ``;``) are decoded, so ``R&D`` or ``&para`` in
    running text stay as they are.
    """
    if "&" not in value:
        return value
    return _HTML_ENTITY_RE.sub(lambda match: html.unescape(match.group(0)), value)
