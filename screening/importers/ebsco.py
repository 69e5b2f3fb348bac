"""EBSCOhost "detailed record" as plain text (copied or saved from the record page).

The page text looks like this (``data/seed/ebsco-detailed-record.txt``)::

    Back to Search Start Over

    Human mesenchymal stem/stromal cell based-therapy in diabetes mellitus: …

    Authors :
    Zeinhom A
    Fadallah SA
    Source :
    Stem cell research & therapy [Stem Cell Res Ther] 2024 Oct 29; Vol. 15 (1), pp. 384. …
    Publication Year :
    2024

    Abstract

    Diabetes mellitus (DM), …

    Details

    Language :
    English
    Accession number :
    39468609
    Full Text :
    https://doi.org/10.1186/s13287-024-03974-z

A field is a known label followed by a colon (``Authors :``, ``DOI:``); its value is the text
on the same line after the colon and the lines below it, up to the next label. ``Abstract``
and ``Details`` on a line of their own are section headings. Text before the first label
is the title. Authors come one per line or separated by ``;``.

Several records in one file: a record starts at each "Back to Search" page header, at a
``Record: 3`` / ``Record 3`` line (EBSCO's saved-results layout), or at a ``Title:`` label
when the record being read already has a title. ``record_id`` is the accession number,
else the PMID, else the record's position; ``line`` is the line of its first text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from .base import (
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

# label (lower case, single spaces) -> field key used in ``raw``
_LABELS = {
    "title": "Title",
    "authors": "Authors",
    "author": "Authors",
    "source": "Source",
    "publication year": "Publication Year",
    "publication date": "Publication Date",
    "abstract": "Abstract",
    "subjects": "Subjects",
    "subject terms": "Subjects",
    "major subjects": "Subjects",
    "minor subjects": "Subjects",
    "mesh terms": "Subjects",
    "keywords": "Keywords",
    "author-supplied keywords": "Keywords",
    "language": "Language",
    "issn": "ISSN",
    "isbn": "ISBN",
    "volume": "Volume",
    "issue": "Issue",
    "pages": "Pages",
    "page count": "Page Count",
    "number of pages": "Page Count",
    "database": "Database",
    "journal": "Journal",
    "publication type": "Publication Type",
    "document type": "Document Type",
    "accession number": "Accession Number",
    "an": "Accession Number",
    "pmid": "PMID",
    "pmcid": "PMCID",
    "doi": "DOI",
    "full text": "Full Text",
    "url": "URL",
    "publisher": "Publisher",
    "author affiliations": "Author Affiliations",
    "affiliation": "Author Affiliations",
    "date of electronic publication": "Date of Electronic Publication",
    "imprint name": "Publisher",
    "place of publication": "Place of Publication",
    "grant information": "Grant Information",
    "comments": "Comments",
    "update code": "Update Code",
    "sort code": "Sort Code",
    "contributors": "Contributors",
    "editors": "Editors",
}
_HEADINGS = frozenset({"abstract", "details", "subjects", "keywords"})
_LABEL_RE = re.compile(r"\s*([A-Za-z][A-Za-z -]{0,40}?)\s*:(?:\s+(.*)|\s*$)")
_PAGE_HEADER_RE = re.compile(r"\s*Back to Search\b", re.IGNORECASE)
_RECORD_RE = re.compile(r"\s*<?Record:?\s+\d+>?\s*$", re.IGNORECASE)
# "Stem cell research & therapy [Stem Cell Res Ther] 2024 Oct 29; Vol. 15 (1), pp. 384."
_SOURCE_JOURNAL_RE = re.compile(r"^(.*?)(?:\s*\[[^\]]*\])?\s*(?:,\s*)?(?:\d{4}\b|Vol\.|$)")
_SOURCE_VOLUME_RE = re.compile(r"\bVol\.?\s*([\w-]+)(?:\s*\(([^)]*)\))?", re.IGNORECASE)
_SOURCE_ISSUE_RE = re.compile(r"\b(?:Issue|Iss\.|No\.)\s*([\w-]+)", re.IGNORECASE)
_SOURCE_PAGES_RE = re.compile(r"\bpp?\.\s*(\d\w*(?:\s*-\s*\w+)?)")
_MEDLINE_DATABASES = ("medline", "pubmed")


def parse_ebsco(lines: Iterable[str]) -> Iterator[ParseResult]:
    """Parse the text of EBSCOhost detailed records into records and rejections."""
    raw: dict[str, list[str]] = {}
    start = 0
    field: list[str] | None = None  # the lines of the field being read
    position = 0

    for lineno, line in enumerate(lines, 1):
        text = line.strip()
        if not text:
            if field is not None and field and field[-1]:
                field.append("")  # keep paragraph breaks inside a value
            continue
        if _PAGE_HEADER_RE.match(text) or _RECORD_RE.match(text):
            if raw:
                position += 1
                yield _build(raw, start, position)
            raw, start, field = {}, 0, None
            continue
        key, value = _label(text)
        if key == "Title" and "Title" in raw:
            position += 1
            yield _build(raw, start, position)
            raw, start, field = {}, 0, None
        if not start:
            start = lineno
        if key is not None:
            field = raw.setdefault(key, [])
            if value:
                field.append(value)
        elif text.lower() in _HEADINGS:
            heading = text.lower()
            field = raw.setdefault(_LABELS[heading], []) if heading != "details" else None
        elif field is None and "Title" not in raw and not raw:
            field = raw.setdefault("Title", [])
            field.append(text)
        elif field is not None:
            field.append(text)
    if raw:
        position += 1
        yield _build(raw, start, position)


def _label(text: str) -> tuple[str | None, str]:
    """``(field key, value after the colon)`` when ``text`` starts with a known label."""
    m = _LABEL_RE.match(text)
    if m is None:
        return None, ""
    key = _LABELS.get(" ".join(m.group(1).lower().split()))
    return (key, (m.group(2) or "").strip()) if key else (None, "")


def _joined(raw: dict[str, list[str]], key: str) -> str:
    return clean_text(" ".join(raw.get(key, ())))


def _build(raw: dict[str, list[str]], line: int, position: int) -> ParseResult:
    for values in raw.values():  # drop the trailing paragraph break of each value
        while values and not values[-1]:
            values.pop()
    source = _joined(raw, "Source")
    journal = _joined(raw, "Journal")
    volume, issue, pages = _joined(raw, "Volume"), _joined(raw, "Issue"), _joined(raw, "Pages")
    if source:
        if not journal:
            found = _SOURCE_JOURNAL_RE.match(source)
            journal = found.group(1).strip(" .;,") if found else ""
        vol = _SOURCE_VOLUME_RE.search(source)
        if vol:
            volume = volume or vol.group(1)
            issue = issue or (vol.group(2) or "")
        if not issue and (iss := _SOURCE_ISSUE_RE.search(source)):
            issue = iss.group(1)
        if not pages and (pp := _SOURCE_PAGES_RE.search(source)):
            pages = pp.group(1).replace(" ", "")

    authors = split_authors(raw.get("Authors", ()))

    database = _joined(raw, "Database").lower()
    accession = _joined(raw, "Accession Number")
    pmid = normalise_pmid(_joined(raw, "PMID"))
    if not pmid and accession.isdigit() and any(d in database for d in _MEDLINE_DATABASES):
        pmid = accession
    links = raw.get("Full Text", []) + raw.get("URL", [])
    doi = normalise_doi(_joined(raw, "DOI"))
    if not doi:
        for link in links:
            if "doi" in link.lower() and (doi := normalise_doi(link)):
                break
    issn, isbn = split_issn_isbn(raw.get("ISSN", []) + raw.get("ISBN", []))

    record = ParsedRecord(
        line=line,
        record_id=accession or pmid or str(position),
        raw=raw,
        title=_joined(raw, "Title"),
        abstract=_joined(raw, "Abstract"),
        authors=authors,
        year=year_from(
            [_joined(raw, "Publication Year"), _joined(raw, "Publication Date"), source]
        ),
        journal=journal,
        volume=volume,
        issue=issue,
        pages=pages,
        doi=doi,
        pmid=pmid,
        pmcid=normalise_pmcid(_joined(raw, "PMCID")),
        issn=issn,
        isbn=isbn,
        keywords=split_keywords(raw.get("Keywords", []) + raw.get("Subjects", [])),
        language=_joined(raw, "Language"),
        publication_type=_joined(raw, "Publication Type") or _joined(raw, "Document Type"),
        url=clean_text(links[0]) if links else "",
    )
    return finish(record)
