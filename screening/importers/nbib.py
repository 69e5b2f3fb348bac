"""PubMed/MEDLINE text (``.nbib``, "PubMed format"), also as ERIC writes it.

Each line is a tag left-justified in four columns, ``- `` and a value (``PMID- 123``,
``FAU - Smith, John``, ``AU  - Smith J``); a line that starts with spaces continues the
value above it. Records are separated by blank lines and start with ``PMID-`` (ERIC's start
with ``OWN -`` and have no PMID). A ``PMID-`` line also starts a new record when no blank
line came before it, and the last record needs no blank line or line ending after it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from .base import (
    ParsedRecord,
    ParseResult,
    cached_author,
    clean_text,
    finish,
    first,
    normalise_doi,
    normalise_pmcid,
    normalise_pmid,
    split_issn_isbn,
    split_keywords,
    year_from,
)

# "PMID- 1", "FAU - Smith, J", "AU  - Smith J", "AB  -" (empty); the tag fills four columns.
_TAG_RE = re.compile(r"([A-Z][A-Z0-9]{1,3}) {0,3}-(?: (.*)|\s*$)")


def parse_nbib(lines: Iterable[str]) -> Iterator[ParseResult]:
    """Parse MEDLINE lines (with or without line endings) into records and rejections.

    ``record_id`` is the PMID, else the record's 1-based position in the file; ``line`` is
    the line of the record's first tag.
    """
    match = _TAG_RE.match
    raw: dict[str, list[str]] = {}
    start = 0  # line of the current record's first tag (0: no record open)
    values: list[str] | None = None
    position = 0

    for lineno, line in enumerate(lines, 1):
        # Most lines are "TAG - value" with the dash in the fifth column.
        if line.startswith("- ", 4) and line[0] != " ":
            tag = line[:4].rstrip()
            value = line[6:].strip()
        elif line[:1] == " " and (text := line.strip()):
            if values is not None:  # a continuation line
                last = values[-1]
                values[-1] = f"{last} {text}" if last else text
            continue
        else:  # other tags, blank lines (or of spaces: they end a record too), loose text
            m = match(line)
            if m is None:
                if not line.strip():
                    if raw:
                        position += 1
                        yield _build(raw, start, position)
                        raw = {}
                    values = None
                elif values is not None:  # unindented text: keep it with the value above
                    values[-1] = f"{values[-1]} {line.strip()}"
                # Text outside a record (before the first tag) is skipped.
                continue
            tag = m.group(1)
            value = (m.group(2) or "").strip()
        if not raw:
            start = lineno
        elif tag == "PMID":  # a new record without a blank line before it
            position += 1
            yield _build(raw, start, position)
            raw = {}
            start = lineno
        values = raw.get(tag)
        if values is None:
            values = raw[tag] = [value]
        else:
            values.append(value)
    if raw:
        position += 1
        yield _build(raw, start, position)


def _build(raw: dict[str, list[str]], line: int, position: int) -> ParseResult:
    get = raw.get
    doi = ""
    url = ""
    locators = get("LID", []) + get("AID", [])
    for value in locators:
        if value.endswith("[doi]"):
            doi = normalise_doi(value)
            break
    if not doi:
        for value in locators:
            if "[pii]" not in value and (doi := normalise_doi(value)):
                break
    for value in locators:
        if value.startswith("http") and not normalise_doi(value):
            url = clean_text(value)
            break
    authors = get("FAU") or get("AU") or get("CN") or ()
    issn, isbn = split_issn_isbn(get("IS", []) + get("ISSN", []))
    if not isbn:
        isbn = split_issn_isbn(get("ISBN", []))[1]
    pmid = normalise_pmid(first(raw, "PMID"))
    record = ParsedRecord(
        line=line,
        record_id=pmid or str(position),
        raw=raw,
        title=first(raw, "TI", "BTI", "CTI"),
        abstract=next((v for v in get("AB", ()) if v), ""),  # lines already joined
        authors=[name for value in authors if (name := cached_author(value))],
        year=year_from(get("DP", []) + get("DEP", [])),
        journal=first(raw, "JT", "TA", "BTI"),
        volume=first(raw, "VI"),
        issue=first(raw, "IP"),
        pages=first(raw, "PG"),
        doi=doi,
        pmid=pmid,
        pmcid=normalise_pmcid(first(raw, "PMC")),
        issn=issn,
        isbn=isbn,
        keywords=split_keywords(get("OT", []) + get("MH", [])),
        language=first(raw, "LA"),
        publication_type=_publication_type(get("PT")),
        url=url,
    )
    return finish(record)


def _publication_type(values: list[str] | None) -> str:
    """The record's publication types, in order and each once: ``Journal Article; Review``."""
    if not values:
        return ""
    if len(values) == 1:
        return values[0]
    return "; ".join(dict.fromkeys(filter(None, values)))
