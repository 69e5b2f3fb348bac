"""Citation and table exports: pure writers over plain records, with no ORM inside.

Each writer takes an iterable of mappings (``Record.objects….values(…).iterator()`` fits)
and writes as it reads, so an export of 100,000 records never holds them all in memory.
The ``iter_*`` twins yield the text record by record for a ``StreamingHttpResponse``.

Record keys read by the citation writers (missing keys are empty): ``id`` and every
bibliographic field of ``screening.bibliography.FIELDS`` (``authors`` a list of
``"Family, Given"``, ``keywords`` a list); RIS and BibTeX also write ``reason`` as a note
(``Excluded: …``) and ignore every other key. Each format names the fields its own way,
so each writer maps them itself; ``tests/screening/test_field_table.py`` exports a record
with every field of the table and reads it back through our importers, so a field added
to the table and left out here fails there.

Every text cell of a CSV or XLSX export goes through ``safe_cell``: a cell a user opens in
a spreadsheet must never run as a formula (titles such as ``=HYPERLINK(…)`` or ``-2 mg``
come from the databases as they are). RIS and CSV are written with ``\\r\\n`` line ends
(as their specifications ask): open files for them with ``newline=""``.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, BinaryIO, TextIO

from reviewflow.exports import safe_cell
from screening.importers.base import strip_accents

__all__ = [
    "bibtex_type",
    "iter_bibtex",
    "iter_csv",
    "iter_ris",
    "iter_rows_csv",
    "ris_type",
    "write_bibtex",
    "write_csv",
    "write_ris",
    "write_rows_csv",
    "write_rows_xlsx",
]

LIST_SEPARATOR = "; "

# ------------------------------------------------------------------ shared helpers


def _text(value: Any) -> str:
    """A scalar value as text on one line (``None`` is empty)."""
    if value is None:
        return ""
    # str.split() also splits on every character str.splitlines() breaks on (\x1c, \u2028…),
    # so no value can start a new line in a line-based format.
    return " ".join(str(value).split())


def _items(value: Any) -> list[str]:
    """A list field (authors, keywords) as non-empty one-line strings."""
    if value is None:
        return []
    if isinstance(value, str):
        values: Iterable[Any] = [value]
    elif isinstance(value, Iterable):
        values = value
    else:
        values = [value]
    return [text for text in (_text(v) for v in values) if text]


_PAGES_RE = re.compile(r"^\s*([^\s\-\u2010-\u2015]+)\s*[\-\u2010-\u2015]+\s*(\S+)\s*$")


def _split_pages(pages: str) -> tuple[str, str]:
    """``"123-130"`` → ``("123", "130")``; ``"e123"`` or ``"1-5, 7"`` → ``(pages, "")``."""
    match = _PAGES_RE.match(pages)
    if match:
        return match.group(1), match.group(2)
    return pages, ""


# ------------------------------------------------------------------------- RIS

# Types from the RIS specification: a record whose publication type already is one of
# them (it was imported from RIS) keeps it.
_RIS_TYPE_CODES = """
    ABST ADVS AGGR ANCIENT ART BILL BLOG BOOK CASE CHAP CHART CLSWK COMP CONF CPAPER CTLG
    DATA DBASE DICT EBOOK ECHAP EDBOOK EJOUR ELEC ENCYC EQUA FIGURE GEN GOVDOC GRANT HEAR
    ICOMM INPR JFULL JOUR LEGAL MANSCPT MAP MGZN MPCT MULTI MUSIC NEWS PAMP PAT PCOMM RPRT
    SER SLIDE SOUND STAND STAT THES UNBILL UNPB VIDEO
"""
_RIS_TYPES = frozenset(_RIS_TYPE_CODES.split())
# Publication types as PubMed, Embase, Web of Science, Scopus, EndNote, BibTeX and CSV
# exports write them (lower-cased). Anything else is a journal article, which is what
# nearly every record of a systematic review search is.
_RIS_TYPE_NAMES = {
    "journal article": "JOUR",
    "article": "JOUR",
    "review": "JOUR",
    "article in press": "INPR",
    "in press": "INPR",
    "electronic article": "EJOUR",
    "conference abstract": "ABST",
    "meeting abstract": "ABST",
    "abstract": "ABST",
    "conference paper": "CPAPER",
    "proceedings paper": "CPAPER",
    "conference review": "CPAPER",
    "inproceedings": "CPAPER",
    "conference proceedings": "CONF",
    "conference proceeding": "CONF",
    "proceedings": "CONF",
    "conference": "CONF",
    "congress": "CONF",
    "book": "BOOK",
    "electronic book": "EBOOK",
    "edited book": "EDBOOK",
    "book chapter": "CHAP",
    "book section": "CHAP",
    "chapter": "CHAP",
    "incollection": "CHAP",
    "inbook": "CHAP",
    "thesis": "THES",
    "dissertation": "THES",
    "dissertation/thesis": "THES",
    "phdthesis": "THES",
    "mastersthesis": "THES",
    "report": "RPRT",
    "techreport": "RPRT",
    "technical report": "RPRT",
    "government document": "GOVDOC",
    "web page": "ELEC",
    "webpage": "ELEC",
    "website": "ELEC",
    "online": "ELEC",
    "preprint": "UNPB",
    "unpublished": "UNPB",
    "newspaper article": "NEWS",
    "magazine article": "MGZN",
    "patent": "PAT",
    "dataset": "DATA",
    "standard": "STAND",
    "misc": "GEN",
    "generic": "GEN",
}
_TYPE_SPLIT_RE = re.compile(r"[;,]")


def ris_type(publication_type: str | None) -> str:
    """The RIS ``TY`` for a publication type as any source wrote it (``JOUR`` if unknown).

    PubMed lists several types (``Journal Article; Review``): the first one known decides.
    """
    text = _text(publication_type)
    if text.upper() in _RIS_TYPES:
        return text.upper()
    for part in _TYPE_SPLIT_RE.split(text.lower()):
        kind = _RIS_TYPE_NAMES.get(part.strip())
        if kind:
            return kind
    return "JOUR"


def iter_ris(records: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """Yield each record as RIS text (``TY`` to ``ER`` and a blank line)."""
    for record in records:
        yield _ris_record(record)


def write_ris(records: Iterable[Mapping[str, Any]], out: TextIO) -> int:
    """Write ``records`` as RIS to ``out``; return how many were written.

    Every value is written on one line (newlines in abstracts become spaces). The PMID
    goes in ``AN`` with ``DB  - PubMed`` (an accession number means nothing without its
    database; EndNote and Ovid write it so), the PMCID in ``C2`` (the specification's
    PMCID field), the original publication type in ``M3`` when ``TY`` cannot say it.
    """
    count = 0
    for chunk in iter_ris(records):
        out.write(chunk)
        count += 1
    return count


def _ris_record(record: Mapping[str, Any]) -> str:
    get = record.get
    kind = ris_type(get("publication_type"))
    lines: list[str] = []

    def add(tag: str, value: Any) -> None:
        text = _text(value)
        if text:
            lines.append(f"{tag}  - {text}\r\n")

    add("TY", kind)
    add("ID", get("id"))
    add("TI", get("title"))
    for author in _items(get("authors")):
        add("AU", author)
    add("PY", get("year"))
    journal = _text(get("journal"))
    add("T2", journal)
    if kind == "JOUR":
        add("JO", journal)  # older readers (Mendeley, RefWorks) look for the journal here
    add("VL", get("volume"))
    add("IS", get("issue"))
    start, end = _split_pages(_text(get("pages")))
    add("SP", start)
    add("EP", end)
    add("SN", get("issn"))
    add("SN", get("isbn"))
    add("DO", get("doi"))
    pmid = _text(get("pmid"))
    if pmid:
        add("AN", pmid)
        add("DB", "PubMed")
    add("C2", get("pmcid"))
    for keyword in _items(get("keywords")):
        add("KW", keyword)
    add("LA", get("language"))
    add("AB", get("abstract"))
    add("UR", get("url"))
    publication_type = _text(get("publication_type"))
    if publication_type and publication_type.upper() != kind:
        add("M3", publication_type)
    reason = _text(get("reason"))
    if reason:
        add("N1", f"Excluded: {reason}")
    lines.append("ER  - \r\n\r\n")
    return "".join(lines)


# ---------------------------------------------------------------------- BibTeX

_BIBTEX_TYPES = {
    "JOUR": "article",
    "EJOUR": "article",
    "INPR": "article",
    "ABST": "article",
    "MGZN": "article",
    "NEWS": "article",
    "CPAPER": "inproceedings",
    "CONF": "inproceedings",
    "BOOK": "book",
    "EBOOK": "book",
    "EDBOOK": "book",
    "CHAP": "incollection",
    "ECHAP": "incollection",
    "THES": "phdthesis",
    "RPRT": "techreport",
    "GOVDOC": "techreport",
}
_BIBTEX_ENTRY_TYPE_NAMES = """
    article book booklet inbook incollection inproceedings manual mastersthesis misc
    phdthesis proceedings techreport unpublished
"""
_BIBTEX_ENTRY_TYPES = frozenset(_BIBTEX_ENTRY_TYPE_NAMES.split())
# Where each entry type keeps the name of what the work appeared in.
_CONTAINER_FIELDS = {
    "inproceedings": "booktitle",
    "incollection": "booktitle",
    "inbook": "booktitle",
    "book": "series",
    "proceedings": "series",
}

# LaTeX specials, escaped so that a title comes out of LaTeX as it went in.
_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "%": r"\%",
    "&": r"\&",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_LATEX_SPECIAL_RE = re.compile(r"[\\{}%&$#_~^]")
# LaTeX joins some character pairs into one glyph: two hyphens into a dash, two quotes
# into a curly quote, "?" or "!" and a backquote into an inverted mark, "<<" ">>" ",,"
# into guillemets and a low quote. An empty group between the two keeps them apart.
_LIGATURE_RE = re.compile(r"-(?=-)|[`?!](?=`)|'(?=')|<(?=<)|>(?=>)|,(?=,)")
# Verbatim fields (DOI, URL) are not LaTeX: only what would break the entry is encoded.
_VERBATIM_ESCAPES = {"{": "%7B", "}": "%7D", "\\": "%5C"}
_VERBATIM_SPECIAL_RE = re.compile(r"[{}\\]")
_KEY_JUNK_RE = re.compile(r"[^A-Za-z0-9]")
_AND_RE = re.compile(r"\band\b", re.IGNORECASE)


def bibtex_type(publication_type: str | None) -> str:
    """The BibTeX entry type (``article``, ``inproceedings``, ``book``, …) for a record."""
    text = _text(publication_type).lower()
    if text in _BIBTEX_ENTRY_TYPES:  # imported from BibTeX
        return text
    kind = ris_type(publication_type)
    return _BIBTEX_TYPES.get(kind, "misc")


def _latex(value: str) -> str:
    escaped = _LATEX_SPECIAL_RE.sub(lambda m: _LATEX_ESCAPES[m.group(0)], value)
    return _LIGATURE_RE.sub(r"\g<0>{}", escaped)


def _verbatim(value: str) -> str:
    return _VERBATIM_SPECIAL_RE.sub(lambda m: _VERBATIM_ESCAPES[m.group(0)], value)


def _bibtex_name(name: str) -> str:
    """One author for BibTeX's ``author`` field, which splits on ``and`` and on commas.

    ``"Family, Given"`` stays as it is; a name without a comma is an organisation (or a
    single name) and is braced whole, or BibTeX would read ``World Health Organization``
    as given names ``World Health``, family ``Organization``.
    """
    family, comma, given = name.partition(",")
    family, given = family.strip(), given.strip()
    if not comma or not given:
        return "{" + _name_part(family) + "}" if " " in family else _name_part(family)
    family_text = _name_part(family)
    if _AND_RE.search(family):
        family_text = "{" + family_text + "}"
    given_text = _name_part(given)
    if "," in given or _AND_RE.search(given):
        given_text = "{" + given_text + "}"
    return f"{family_text}, {given_text}"


def _name_part(value: str) -> str:
    # Name splitters count braces without looking at backslashes: a literal brace goes
    # in a group of its own.
    return _latex(value).replace(r"\{", r"{\{}").replace(r"\}", r"{\}}")


class _CitationKeys:
    """Citation keys ``Family2020``, ``Family2020_2``, …: ASCII and unique in one file.

    A base key holds only letters and digits, so a numbered key never equals a base key.
    Keys are compared without case (JabRef and biber treat ``Smith2020``/``smith2020`` as
    the same entry).
    """

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def make(self, record: Mapping[str, Any]) -> str:
        authors = _items(record.get("authors"))
        family = authors[0].partition(",")[0] if authors else ""
        family = _KEY_JUNK_RE.sub("", strip_accents(family))[:24] or "Anon"
        year = re.search(r"\d{4}", _text(record.get("year")))
        base = family + (year.group(0) if year else "")
        n = self._seen.get(base.lower(), 0) + 1
        self._seen[base.lower()] = n
        return base if n == 1 else f"{base}_{n}"


def iter_bibtex(records: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """Yield each record as one BibTeX entry followed by a blank line."""
    keys = _CitationKeys()
    for record in records:
        yield _bibtex_entry(record, keys.make(record))


def write_bibtex(records: Iterable[Mapping[str, Any]], out: TextIO) -> int:
    """Write ``records`` as BibTeX entries to ``out``; return how many were written.

    Text is UTF-8 with LaTeX specials escaped (``{ } \\ % & $ # _ ~ ^``); DOI and URL are
    written verbatim (biblatex reads them so). Keywords are joined with ``"; "`` (MeSH
    terms contain commas), pages as ``123--130``.
    """
    count = 0
    for chunk in iter_bibtex(records):
        out.write(chunk)
        count += 1
    return count


def _bibtex_entry(record: Mapping[str, Any], key: str) -> str:
    get = record.get
    entry_type = bibtex_type(get("publication_type"))
    fields: list[tuple[str, str]] = []

    def add(name: str, value: str) -> None:
        if value:
            fields.append((name, value))

    add("author", " and ".join(_bibtex_name(a) for a in _items(get("authors"))))
    add("title", _latex(_text(get("title"))))
    add(_CONTAINER_FIELDS.get(entry_type, "journal"), _latex(_text(get("journal"))))
    add("year", _latex(_text(get("year"))))
    add("volume", _latex(_text(get("volume"))))
    add("number", _latex(_text(get("issue"))))
    start, end = _split_pages(_text(get("pages")))
    add("pages", f"{_latex(start)}--{_latex(end)}" if end else _latex(start))
    add("doi", _verbatim(_text(get("doi"))))
    add("pmid", _verbatim(_text(get("pmid"))))
    add("pmcid", _verbatim(_text(get("pmcid"))))
    add("issn", _verbatim(_text(get("issn"))))
    add("isbn", _verbatim(_text(get("isbn"))))
    add("keywords", _latex(LIST_SEPARATOR.join(_items(get("keywords")))))
    add("language", _latex(_text(get("language"))))
    add("abstract", _latex(_text(get("abstract"))))
    add("url", _verbatim(_text(get("url"))))
    publication_type = _text(get("publication_type"))
    if publication_type.lower() != entry_type:  # "Journal Article": what @article loses
        add("type", _latex(publication_type))
    reason = _text(get("reason"))
    if reason:
        add("note", _latex(f"Excluded: {reason}"))
    body = "".join(f"  {name} = {{{value}}},\n" for name, value in fields)
    return f"@{entry_type}{{{key},\n{body}}}\n\n"


# -------------------------------------------------------------------- CSV / XLSX


def _cell_text(value: Any) -> str:
    """A value that is not a native spreadsheet type, as text (lists joined by "; ",
    mappings as JSON)."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, list | tuple | set | frozenset):
        return LIST_SEPARATOR.join(str(v) for v in value if v is not None and v != "")
    return str(value)


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal):  # bool is an int
        return value
    return safe_cell(_cell_text(value) if not isinstance(value, str) else value)


class _Line:
    """A file-like object whose ``write`` returns the line, for ``csv.writer`` in a generator."""

    def write(self, value: str) -> str:
        return value


def iter_csv(records: Iterable[Mapping[str, Any]], *, columns: Sequence[str]) -> Iterator[str]:
    """Yield the CSV header line, then one line per record (see ``write_csv``)."""
    writer = csv.writer(_Line())
    yield writer.writerow([_csv_cell(c) for c in columns])
    for record in records:
        yield writer.writerow([_csv_cell(record.get(c)) for c in columns])


def write_csv(records: Iterable[Mapping[str, Any]], out: TextIO, *, columns: Sequence[str]) -> int:
    """Write a header of ``columns`` and one row per record; return the number of rows.

    A missing key is an empty cell; lists are joined with ``"; "``, mappings written as
    JSON; dates and datetimes are ISO 8601 (with the offset when timezone-aware); every
    text cell goes through ``safe_cell``.
    """
    writer = csv.writer(out)
    writer.writerow([_csv_cell(c) for c in columns])
    count = 0
    for record in records:
        writer.writerow([_csv_cell(record.get(c)) for c in columns])
        count += 1
    return count


def iter_rows_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """Yield the header line, then one CSV line per row (see ``write_rows_csv``)."""
    writer = csv.writer(_Line())
    yield writer.writerow([_csv_cell(c) for c in header])
    for row in rows:
        yield writer.writerow([_csv_cell(c) for c in row])


def write_rows_csv(header: Sequence[str], rows: Iterable[Sequence[Any]], out: TextIO) -> int:
    """Write ``header`` and ``rows`` as CSV; return the number of rows (header not counted).

    Cells are written as in ``write_csv``.
    """
    writer = csv.writer(out)
    writer.writerow([_csv_cell(c) for c in header])
    count = 0
    for row in rows:
        writer.writerow([_csv_cell(c) for c in row])
        count += 1
    return count


_SHEET_TITLE_JUNK_RE = re.compile(r"[\[\]:*?/\\]")
_SHEET_TITLE_MAX = 31  # Excel's limit


def _sheet_titles(names: Iterable[str]) -> Iterator[str]:
    """Excel-valid sheet titles, unique without case: ``Form: A/B`` → ``Form_ A_B``."""
    seen: set[str] = set()
    for name in names:
        base = _SHEET_TITLE_JUNK_RE.sub("_", _text(name)).strip("'")[:_SHEET_TITLE_MAX]
        base = base or "Sheet"
        title, n = base, 1
        while title.lower() in seen:
            n += 1
            suffix = f" ({n})"
            title = base[: _SHEET_TITLE_MAX - len(suffix)] + suffix
        seen.add(title.lower())
        yield title


def write_rows_xlsx(
    sheets: Mapping[str, tuple[Sequence[str], Iterable[Sequence[Any]]]], out: BinaryIO
) -> None:
    """Write one worksheet per entry of ``sheets`` (title → header, rows) to ``out``.

    The workbook is write-only (rows go to disk as they come, so memory stays flat). Sheet
    titles are made valid for Excel (31 characters, no ``[]:*?/\\``, unique). Every text
    cell goes through ``safe_cell`` and is stored as text, never as a formula or an error
    value (``#N/A`` typed in a form stays text); characters XML cannot hold are dropped.
    Naive datetimes and dates are date cells; timezone-aware ones (which Excel cannot
    hold) are ISO 8601 text with their offset. Lists are joined with ``"; "``, mappings
    written as JSON.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    bold = Font(bold=True)

    def text_cell(sheet: Any, value: str, font: Any = None) -> Any:
        text = safe_cell(ILLEGAL_CHARACTERS_RE.sub("", value))
        if font is None and text not in ERROR_CODES:
            return text  # openpyxl stores it as a string: safe_cell took away any "="
        cell = WriteOnlyCell(sheet, value=text)
        cell.data_type = "s"  # "#N/A" or "#REF!" would otherwise become an error value
        if font is not None:
            cell.font = font
        return cell

    def cell(sheet: Any, value: Any) -> Any:
        if value is None or isinstance(value, int):  # bool is an int
            return value
        if isinstance(value, float | Decimal):  # Excel has no NaN or infinity
            return value if math.isfinite(value) else text_cell(sheet, str(value))
        if isinstance(value, dt.datetime | dt.time):
            return value if value.tzinfo is None else text_cell(sheet, value.isoformat())
        if isinstance(value, dt.date):
            return value
        return text_cell(sheet, value if isinstance(value, str) else _cell_text(value))

    titles = list(_sheet_titles(sheets)) or ["Sheet"]
    contents = list(sheets.values()) or [((), ())]
    for title, (header, rows) in zip(titles, contents):
        sheet = workbook.create_sheet(title=title)
        if header:
            sheet.freeze_panes = "A2"
            sheet.append([text_cell(sheet, _text(h), bold) for h in header])
        for row in rows:
            sheet.append([cell(sheet, value) for value in row])
    workbook.save(out)
