"""Recognising an export's format from its content (never from its file name).

Users rename files, and databases give the same extension to different formats (a ``.txt``
from PubMed can be MEDLINE or RIS; a ``.txt`` from Web of Science can be RIS or its own
tagged text), so only the first 64 KB of content decides.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from itertools import islice

from .base import FileFormatError
from .encoding import BINARY_MESSAGE, XLS_MESSAGE

EMPTY_MESSAGE = "the file is empty"
UNKNOWN_MESSAGE = (
    "could not recognise the format: expected RIS, PubMed/MEDLINE, BibTeX, EndNote XML, "
    "Web of Science, CSV/TSV/XLSX or EBSCOhost text"
)

ZIP_SIGNATURE = b"PK\x03\x04"

# RIS: "TY  - JOUR" (some writers use one space before the dash).
_RIS_RE = re.compile(r"^TY {1,2}-", re.MULTILINE)
# RIS whose records lack their TY line: "ER  -" ends records, other two-letter tags fill them.
_RIS_ER_RE = re.compile(r"^ER {1,2}-", re.MULTILINE)
_RIS_TAG_RE = re.compile(r"^[A-Z][A-Z0-9] {1,2}- ", re.MULTILINE)
# MEDLINE: the tag is left-justified in four columns, then "- ": "PMID- ", "FAU - ", "AU  - ".
_NBIB_PMID_RE = re.compile(r"^PMID- ", re.MULTILINE)
_NBIB_LONG_TAG_RE = re.compile(r"^(?:OWN |STAT|FAU |TI  |DP  |LID |AID |OID )- ", re.MULTILINE)
# Web of Science tagged text: "FN Clarivate Analytics Web of Science", "VR 1.0", "PT J".
_WOS_RE = re.compile(r"(?:FN |VR |PT [A-Z]\s*$)", re.MULTILINE)
_BIBTEX_RE = re.compile(r"^\s*@[A-Za-z]+\s*[{(]", re.MULTILINE)
# Refer / EndNote tagged text ("%T Title", "%A Author"): not supported, and its lines have
# commas that would otherwise pass for a CSV header.
_REFER_RE = re.compile(r"^%[0-9A-Z] ", re.MULTILINE)
_EBSCO_HEADER_RE = re.compile(r"^\s*Back to Search\b", re.IGNORECASE)
_EBSCO_LABEL_RE = re.compile(
    r"^(?:Title|Authors?|Source|Publication Year|Accession Number|Database|Publication Type"
    r"|Document Type|Subjects|Subject Terms|ISSN|DOI|PMID|Journal|Language)\s*:",
    re.MULTILINE | re.IGNORECASE,
)

# A CSV/TSV header names at least one citation field: a cell containing one of these words,
# or one of Web of Science's two-letter column codes.
_HEADER_WORD_RE = re.compile(
    r"\b(?:titles?|authors?|doi|pmid|pubmed|pmcid|abstract|journal|year|source|isbn|issn"
    r"|keywords?|accession|record|volume|issue|pages|publication|url|link|id)\b"
)
_HEADER_SEARCH_LINES = 30
_ROWS_CHECKED = 200  # physical lines read after a candidate header (cells may span lines)
_SHORT_HEADERS = frozenset({"ti", "au", "af", "py", "so", "ab", "di", "ut", "pm", "pt", "t1"})


def detect_format(head: bytes, text_head: str, *, columns: Iterable[str] = ()) -> str:
    """The format of a file, from its first bytes and their decoded text.

    Returns one of ``ris``, ``nbib``, ``wos``, ``ebsco``, ``bibtex``, ``endnote``, ``csv``,
    ``tsv``, ``xlsx``. ``columns`` are extra header names that make a CSV/TSV header
    (a caller's column map). Raises ``FileFormatError`` when the file is empty, binary or
    in no format we read.
    """
    if head.startswith(ZIP_SIGNATURE):
        if b"xl/" in head:
            return "xlsx"
        raise FileFormatError(BINARY_MESSAGE)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileFormatError(XLS_MESSAGE)
    text = text_head.lstrip("\ufeff")
    stripped = text.lstrip()
    if not stripped:
        raise FileFormatError(EMPTY_MESSAGE)
    if _RIS_RE.search(text):
        return "ris"
    if _NBIB_PMID_RE.search(text) or len(set(_NBIB_LONG_TAG_RE.findall(text))) >= 2:
        return "nbib"
    if _RIS_ER_RE.search(text) and _RIS_TAG_RE.search(text):
        return "ris"  # each record is imported with a warning that its TY line is missing
    if _WOS_RE.match(stripped):
        return "wos"
    if stripped.startswith(("{", "[")):
        raise FileFormatError(UNKNOWN_MESSAGE)  # JSON
    if stripped.startswith("<"):
        if "<records" in text[:4096] or "<xml>" in text[:4096]:
            return "endnote"
        raise FileFormatError(UNKNOWN_MESSAGE)
    if _BIBTEX_RE.search(text):
        return "bibtex"
    if _REFER_RE.search(text):
        raise FileFormatError(UNKNOWN_MESSAGE)
    if _EBSCO_HEADER_RE.match(stripped) or len(_EBSCO_LABEL_RE.findall(text)) >= 3:
        return "ebsco"
    return _delimited_format(stripped, columns)


def _delimited_format(text: str, columns: Iterable[str]) -> str:
    """``tsv`` or ``csv`` when one of the first lines is a header row of a table.

    A header must name a citation field (``Title``, ``Authors``, ``DOI``, Web of Science's
    ``TI``, …, or a column of ``columns``), and the rows under it (if any) must have about
    as many cells, so that a letter or a README with commas is not taken for a table. It
    need not be the first line: some databases write the search history above it.
    """
    wanted = {" ".join(c.lower().split()) for c in columns}
    lines = text.splitlines()
    for number, line in enumerate(lines[:_HEADER_SEARCH_LINES]):
        for delimiter, name in (("\t", "tsv"), (",", "csv"), (";", "csv")):
            if delimiter not in line:
                continue
            rows = csv.reader(lines[number : number + _ROWS_CHECKED], delimiter=delimiter)
            header = [" ".join(cell.lower().split()) for cell in next(rows)]
            if _is_header(header, wanted) and _rows_fit(header, rows):
                return name
    raise FileFormatError(UNKNOWN_MESSAGE)


def _is_header(cells: list[str], wanted: set[str]) -> bool:
    """Two or more short cells, none a link, one of them naming a citation field."""
    return (
        len(cells) >= 2
        and all(len(cell) <= 80 and "://" not in cell for cell in cells)
        and any(
            cell in wanted
            or cell in _SHORT_HEADERS
            or (cell.count(" ") < 4 and _HEADER_WORD_RE.search(cell) is not None)
            for cell in cells
        )
    )


def _rows_fit(header: list[str], rows: Iterator[list[str]]) -> bool:
    """True when each of the first rows under ``header`` has its number of cells (give or
    take a trailing empty one in wider tables), or when there are none (an export of zero
    records)."""
    slack = 1 if len(header) >= 3 else 0
    following = [row for row in islice(rows, 6) if any(cell.strip() for cell in row)]
    # The last row read may be cut short by the end of the 64 KB head.
    checked = following[:-1] or following
    return all(abs(len(row) - len(header)) <= slack for row in checked)
