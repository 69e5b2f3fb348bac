"""Web of Science "plain text" (tagged) exports.

Layout: a header (``FN Clarivate Analytics Web of Science``, ``VR 1.0``), then records from
``PT J`` to ``ER``, and ``EF`` at the end. A tag is two characters and a space; a line that
starts with three spaces continues the field above. In list fields (authors, addresses,
cited references) each continuation line is a further value; in text fields (title,
abstract, keywords) it continues the same value.

A record that lacks ``ER`` ends at the next ``PT`` or at the end of the file, with a
warning. Tagged lines outside records other than the header and ``EF`` start a record
that lacks its ``PT`` line (imported with a warning, or rejected when it identifies
nothing).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from .base import (
    ParsedRecord,
    ParseResult,
    finish,
    first,
    join_pages,
    normalise_doi,
    normalise_pmid,
    split_authors,
    split_issn_isbn,
    split_keywords,
    year_from,
)

_TAG_RE = re.compile(r"\ufeff?([A-Z][A-Z0-9])(?: (.*)|\s*$)")

# Fields whose continuation lines are separate values (one author, address or reference each).
_LIST_TAGS = frozenset({"AU", "AF", "BA", "BF", "BE", "CA", "GP", "CR", "C1", "C3", "RP", "EM"})
_FILE_TAGS = frozenset({"FN", "VR", "EF"})

NO_ER_WARNING = "record has no ER line; it ends where the next record begins"
NO_ER_AT_END_WARNING = "record has no ER line; the file ends inside it"
NO_PT_WARNING = "record has no PT line"


def parse_wos(lines: Iterable[str]) -> Iterator[ParseResult]:
    """Parse Web of Science tagged lines into records and rejections.

    ``record_id`` is the accession number (``UT``, e.g. ``WOS:000444108200009``), else the
    record's 1-based position; ``line`` is the line of its ``PT``.
    """
    match = _TAG_RE.match
    raw: dict[str, list[str]] | None = None
    start = 0
    warnings: list[str] = []
    values: list[str] | None = None
    is_list = False
    position = 0

    for lineno, line in enumerate(lines, 1):
        if line.startswith("   "):
            text = line.strip()
            if values is not None and text:
                if is_list:
                    values.append(text)
                else:
                    values[-1] = f"{values[-1]} {text}" if values[-1] else text
            continue
        m = match(line)
        if m is None:
            continue  # blank lines and text outside records
        tag = m.group(1)
        value = (m.group(2) or "").strip()
        if tag == "ER":
            if raw is not None:
                position += 1
                yield _build(raw, start, position, warnings)
                raw = None
            values = None
            continue
        if tag in _FILE_TAGS and raw is None:
            values = None
            continue
        if tag == "PT" and raw is not None:
            warnings.append(NO_ER_WARNING)
            position += 1
            yield _build(raw, start, position, warnings)
            raw = None
        if raw is None:
            raw, start, warnings = {}, lineno, []
            if tag != "PT":
                warnings.append(NO_PT_WARNING)
        is_list = tag in _LIST_TAGS
        values = raw.get(tag)
        if values is None:
            values = raw[tag] = [value]
        else:
            values.append(value)

    if raw is not None:
        warnings.append(NO_ER_AT_END_WARNING)
        position += 1
        yield _build(raw, start, position, warnings)


def _build(raw: dict[str, list[str]], line: int, position: int, warnings: list[str]) -> ParseResult:
    get = raw.get
    issn, isbn = split_issn_isbn(get("SN", []) + get("EI", []) + get("BN", []))
    authors = get("AF") or get("AU") or get("CA") or []
    record = ParsedRecord(
        line=line,
        record_id=first(raw, "UT") or str(position),
        raw=raw,
        title=first(raw, "TI"),
        abstract=first(raw, "AB"),
        authors=split_authors(authors),
        year=year_from(get("PY", []) + get("EA", []) + get("PD", [])),
        journal=first(raw, "SO", "SE", "J9", "JI"),
        volume=first(raw, "VL"),
        issue=first(raw, "IS"),
        # Zoological Record and WoS-MEDLINE records give their pages in PS ("134-141").
        pages=join_pages(first(raw, "BP"), first(raw, "EP")) or first(raw, "PS", "AR"),
        doi=normalise_doi(first(raw, "DI", "D2")),
        pmid=normalise_pmid(first(raw, "PM")),
        issn=issn,
        isbn=isbn,
        keywords=split_keywords(get("DE", []) + get("ID", [])),
        language=first(raw, "LA"),
        publication_type=first(raw, "DT", "PT"),
        url=first(raw, "DL"),
        warnings=warnings,
    )
    return finish(record)
