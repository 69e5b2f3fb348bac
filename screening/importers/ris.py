"""RIS (``TY  - JOUR`` … ``ER  -``) from every database that writes it.

One pass over the lines, one record in memory; most lines are read by slicing, the others
with one regular expression. Each record in the file comes out as a ``ParsedRecord`` or a
``Rejection`` (via ``finish``), so the caller can account for every record.

What real exports do, and what this parser does about it:

- A UTF-8 byte-order mark glued to the first ``TY`` is ignored (a reader that misses it
  loses the first record).
- Lines without a tag continue the previous field (EndNote writes one keyword per line
  under one ``KW``; WoS puts "Total Times Cited" under ``N1``); they are joined with a
  newline, so keywords split on it. Inside a record a blank line before such a line is
  a paragraph break (Lens abstracts); after an ``ER`` a blank line ends the field.
- Lines outside records (Ovid's ``1.`` numbers and "Link to the Ovid Full Text" lines,
  JSTOR's ``Provider:`` headers, comments, blank lines) are skipped.
- A record that lacks ``ER`` ends where the next ``TY`` begins or where the file ends, and
  is imported with a warning.
- Tagged lines after an ``ER`` and before the next ``TY`` (orphan lines):
  if an ``ER`` closes them, they are a record that lacks its ``TY`` line: imported with a
  warning, or rejected when nothing in them identifies a publication. Otherwise, if they
  identify nothing, they are trailer lines of the record before (Ovid writes ``NL  - ``
  after ``ER``) and join its raw fields; if they do identify something (a title, an
  author, …) they are a record of their own, imported with the same warning.
- A file with tagged lines but no ``TY`` or ``ER`` at all is not RIS: ``FileFormatError``.
- Tags are two characters, two spaces, a dash; one space (for known tags only) and the
  four-letter ``PMID`` tag (PsycINFO, IEEE) are accepted too.
- An abstract written on one line is kept as it is (it is shown, not matched, and is most
  of the file's text); every other field goes through ``clean_text``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from .base import (
    FileFormatError,
    ParsedRecord,
    ParseResult,
    clean_text,
    finish,
    normalise_doi,
    normalise_pmcid,
    normalise_pmid,
    split_authors,
    split_issn_isbn,
    split_keywords,
    year_from,
)

# "TY  - JOUR", "ER  -", "KW - keyword", "PMID  - 123"; group 2 is the gap before the dash.
_TAG_RE = re.compile(r"\ufeff?([A-Z][A-Z0-9]|PMID)( {1,2})-(?: (.*)|\s*$)")

# Tags accepted with one space before the dash (a looser writer) — only known ones, so a
# continuation line such as "CD - 4 cells" is not taken for a tag.
_KNOWN_TAG_NAMES = """
TY ER ID T1 TI T2 T3 CT BT ST A1 A2 A3 A4 AU AD AB N1 N2 KW PY Y1 Y2 DA JF JO JA J1 J2 VL VO
IS CP SP EP SN DO UR L1 L2 L3 L4 LA M1 M2 M3 AN DB DP CY PB C1 C2 C3 C4 C5 C6 C7 C8 ET NV OP
RP SE LB CN CA TT PMID
"""
_KNOWN_TAGS = frozenset(_KNOWN_TAG_NAMES.split())

NO_ER_WARNING = "record has no ER line; it ends where the next record begins"
NO_ER_AT_END_WARNING = "record has no ER line; the file ends inside it"
NO_TY_WARNING = "record has no TY line"
NOT_RIS_MESSAGE = "no records found: the file does not look like RIS"

_PUBMED_SOURCES = ("pubmed", "medline", "nlm")
_PUBMED_URL_RE = re.compile(r"ncbi\.nlm\.nih\.gov/pubmed/(\d+)|pubmed\.ncbi\.nlm\.nih\.gov/(\d+)")


class _Block:
    """Tagged lines collected for one record."""

    __slots__ = ("line", "raw", "warnings")

    def __init__(self, line: int) -> None:
        self.line = line
        self.raw: dict[str, list[str]] = {}
        self.warnings: list[str] = []


def parse_ris(lines: Iterable[str]) -> Iterator[ParseResult]:
    """Parse RIS lines (with or without line endings) into records and rejections.

    ``record_id`` is the record's ``ID``, else its ``AN``, else its 1-based position among
    the file's records; ``line`` is the line of its ``TY``.
    """
    match = _TAG_RE.match
    known = _KNOWN_TAGS
    block: _Block | None = None  # the record being read (between TY and ER)
    raw: dict[str, list[str]] = {}  # block.raw, kept at hand for the common case
    closed: _Block | None = None  # the last record read, kept until its trailer lines end
    orphan: _Block | None = None  # tagged lines after an ER, before the next TY
    values: list[str] | None = None  # the list the last tag's value went to
    gap = False  # a blank line since the last value: a continuation starts a paragraph
    position = 0  # records given out so far

    for lineno, line in enumerate(lines, 1):
        # Most lines are "XX  - value": read them by slicing, the rest with the expression.
        tag = line[:2] if line.startswith("  -", 2) else ""
        if tag and tag.isupper():
            value = line[5:].strip()
        else:
            m = match(line)
            if m is None or (m.group(2) == " " and m.group(1) not in known):
                if values is not None:
                    text = line.strip()
                    if text:
                        values[-1] = f"{values[-1]}\n\n{text}" if gap else f"{values[-1]}\n{text}"
                        gap = False
                    elif block is not None:
                        gap = True  # a paragraph break inside a value (Lens abstracts)
                    else:
                        values = None  # after an ER, text past a blank line is a trailer
                # Else outside a record: numbers, headers, trailers, blank lines.
                continue
            tag = m.group(1)
            value = (m.group(3) or "").strip()
        gap = False
        if block is not None and tag != "TY" and tag != "ER":
            values = raw.get(tag)
            if values is None:
                values = raw[tag] = [value]
            else:
                values.append(value)
        elif tag == "TY":
            if block is not None:
                block.warnings.append(NO_ER_WARNING)
                done = [block]
            else:
                done = _settle(orphan, closed)
                orphan = closed = None
            for finished in done:
                position += 1
                yield _build(finished, position)
            block = _Block(lineno)
            raw = block.raw
            values = raw["TY"] = [value]
        elif tag == "ER":
            if block is not None:
                closed, block = block, None
            elif orphan is not None:
                orphan.warnings.append(NO_TY_WARNING)
                done = [orphan] if closed is None else [closed, orphan]
                for finished in done:
                    position += 1
                    yield _build(finished, position)
                orphan = closed = None
            values = None
        else:  # a tag outside a record
            if orphan is None:
                orphan = _Block(lineno)
            values = orphan.raw.setdefault(tag, [])
            values.append(value)

    if block is not None:
        block.warnings.append(NO_ER_AT_END_WARNING)
        done = [block]
    elif orphan is not None and closed is None and position == 0:
        # Tagged lines, but not one TY or ER in the whole file (MEDLINE read as RIS).
        raise FileFormatError(NOT_RIS_MESSAGE)
    else:
        done = _settle(orphan, closed)
    for finished in done:
        position += 1
        yield _build(finished, position)


def _settle(orphan: _Block | None, closed: _Block | None) -> list[_Block]:
    """The records to give out when a ``TY`` or the end of the file follows an ``ER``.

    Tagged lines in between (``orphan``) that identify nothing are trailer lines of the
    record before (Ovid's ``NL``) and join its raw fields; lines that do identify something
    are a record whose ``TY`` line is missing.
    """
    if orphan is None:
        return [closed] if closed is not None else []
    if closed is not None and not _record(orphan, 0).has_identifying_content():
        for tag, vals in orphan.raw.items():
            closed.raw.setdefault(tag, []).extend(vals)
        return [closed]
    orphan.warnings.append(NO_TY_WARNING)
    return [orphan] if closed is None else [closed, orphan]


def _build(block: _Block, position: int) -> ParseResult:
    return finish(_record(block, position))


def _record(block: _Block, position: int) -> ParsedRecord:
    """The normalised fields of one block of RIS lines."""
    raw = block.raw
    get = raw.get
    source = " ".join(get("DB", []) + get("DP", [])).lower()

    pmid = normalise_pmid(_pick(raw, "PMID"))
    pmcid = ""
    for value in get("C2", ()):
        if value.upper().startswith("PMC"):
            pmcid = pmcid or normalise_pmcid(value)
        elif value.isdigit() and "scopus" in source:
            pmid = pmid or value  # Scopus writes the PubMed ID in C2
    if not pmid and source and any(name in source for name in _PUBMED_SOURCES):
        accession = _pick(raw, "AN")
        if accession.isdigit():
            pmid = accession
    urls = get("UR", []) + get("L2", []) + get("L1", [])
    if not pmid:
        for url in urls:
            found = _PUBMED_URL_RE.search(url) if "pubmed" in url else None
            if found:
                pmid = found.group(1) or found.group(2)
                break

    doi = normalise_doi(_pick(raw, "DO", "DI"))
    if not doi:
        for value in get("M3", []) + [u for u in urls if "doi.org/" in u]:
            doi = normalise_doi(value)
            if doi:
                break

    start, end = _pick(raw, "SP"), _pick(raw, "EP")
    if start == "No" and end == "Specified":  # Ovid's way of saying there are none
        start = end = ""
    # join_pages, inlined: _pick has cleaned both already.
    pages = (f"{start}-{end}" if start and end and end != start else start or end) or _pick(
        raw, "C7"
    )

    issn, isbn = split_issn_isbn(get("SN", ()))
    kind = _pick(raw, "M3")
    if not kind or len(kind) > 40 or "[" in kind or "doi" in kind.lower():
        kind = _pick(raw, "TY")

    authors = split_authors(get("AU", []) + get("A1", []))

    return ParsedRecord(
        line=block.line,
        record_id=_pick(raw, "ID", "AN") or str(position),
        raw=raw,
        title=_pick(raw, "TI", "T1", "CT", "BT", "ST"),
        abstract=_abstract(raw),
        authors=authors,
        year=year_from(get("PY", []) + get("Y1", []) + get("DA", [])),
        journal=_pick(raw, "JF", "T2", "JO", "JA", "J2", "J1"),
        volume=_pick(raw, "VL", "VO"),
        issue=_pick(raw, "IS", "CP"),
        pages=pages,
        doi=doi,
        pmid=pmid,
        pmcid=pmcid,
        issn=issn,
        isbn=isbn,
        keywords=split_keywords(get("KW", ())),
        language=_pick(raw, "LA"),
        publication_type=kind,
        url=clean_text(urls[0]) if urls else "",
        warnings=block.warnings,
    )


def _pick(raw: dict[str, list[str]], *tags: str) -> str:
    """The first non-empty value among ``tags``, whitespace collapsed."""
    for tag in tags:
        values = raw.get(tag)
        if values:
            for value in values:
                if value:
                    # clean_text, inlined (called for most fields of every record)
                    if value.isprintable() and "  " not in value and value[0] != " " != value[-1]:
                        return value
                    return " ".join(value.split())
    return ""


def _abstract(raw: dict[str, list[str]]) -> str:
    """The abstract as the source wrote it, lines joined.

    Abstracts are most of a file's text and are shown, not matched, so they are not
    scanned character by character: a value from one line is kept as it is (stripped, with
    any double or no-break spaces); one joined from continuation lines goes through
    ``clean_text``.
    """
    for tag in ("AB", "N2"):
        for value in raw.get(tag, ()):
            if value:
                return clean_text(value) if "\n" in value else value
    return ""
