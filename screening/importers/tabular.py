"""CSV, TSV and XLSX import: one record per row, columns found by their header.

The header row is matched against the column names of the exports we know (Scopus,
Embase, Web of Science tab-delimited, PubMed, IEEE, Springer, Zotero, ASReview/SYNERGY)
and common generic names (``title``, ``abstract``, ``authors``, ``doi``, …), compared
case-insensitively with ``_`` read as a space. ``column_map`` (file header → field name)
overrides them. Lines above the header are skipped (Embase can put a preamble there):
the header is the first of the first 50 rows with a column we recognise.

``line`` is the physical 1-based line where the row starts (a quoted cell may span
several lines) or, in a workbook, the row number. ``record_id`` is the ``id`` or
``record_id`` column (``UT`` in Web of Science files, where ``ID`` means Keywords Plus),
else the row's 1-based position among the records. ``raw`` keeps every non-empty cell
under its header. Cells are text: a formula such as ``=HYPERLINK(…)`` in a CSV is stored
as written, never evaluated.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import BinaryIO
from urllib.parse import parse_qs, urlsplit
from xml.etree.ElementTree import ParseError  # noqa: S405 - only its error class

from defusedxml import DefusedXmlException

from .base import (
    NORMALISED_FIELDS,
    FileFormatError,
    ParsedRecord,
    ParseResult,
    clean_text,
    finish,
    join_pages,
    normalise_author,
    normalise_doi,
    normalise_isbn,
    normalise_issn,
    normalise_pmcid,
    normalise_pmid,
    parse_year,
    unescape_entities,
)

__all__ = ["FIELD_NAMES", "parse_delimited", "parse_xlsx"]

#: The field names ``column_map`` may map a column to.
# The fields a column can be mapped to: every normalised field, and the record's id.
FIELD_NAMES = (*NORMALISED_FIELDS, "record_id")

# Bounded, so that one unclosed quote cannot read a whole large file into one cell.
FIELD_SIZE_LIMIT = 10 * 1024 * 1024
HEADER_SEARCH_ROWS = 50
_SNIFF_LINES = 400
_DELIMITERS = (",", "\t", ";")

# Field → header names, best first. Besides the public field names, internal roles
# start with "_": page start/end, article number, and columns that are parsed for
# several fields (Embase "Source", PubMed "Citation", Embase "Open URL Link").
_GENERIC_ALIASES: dict[str, tuple[str, ...]] = {
    "title": ("title", "article title", "document title", "item title", "primary title"),
    "abstract": ("abstract", "abstract note", "abstracts"),
    "authors": (
        "author full names",
        "authors",
        "author",
        "author names",
        "author(s)",
        "creators",
        "creator",
    ),
    "year": (
        "year",
        "publication year",
        "pubyear",
        "pub year",
        "year published",
        "publication date",
        "date of publication",
        "pub date",
        "date",
    ),
    "journal": (
        "source title",
        "journal",
        "journal/book",
        "journal title",
        "journal name",
        "publication title",
        "publication",
        "secondary title",
        "periodical",
        "container title",
        "abbreviated source title",
        "journal abbreviation",
    ),
    "volume": ("volume", "journal volume", "vol", "vol."),
    "issue": ("issue", "journal issue", "issue number", "number"),
    "pages": ("pages", "page", "pagination", "page range", "page numbers"),
    "_page_start": ("page start", "start page", "first page", "beginning page"),
    "_page_end": ("page end", "end page", "last page", "ending page"),
    "_article_number": ("art. no.", "article number", "article no."),
    "doi": ("doi", "item doi", "digital object identifier"),
    "pmid": ("pubmed id", "pmid", "pubmedid", "medline pmid", "pubmed"),
    "pmcid": ("pmcid", "pmc id"),
    "issn": ("issn", "eissn", "e-issn", "issns"),
    "isbn": ("isbn", "isbns", "e-isbn"),
    "keywords": (
        "author keywords",
        "index keywords",
        "keywords",
        "keyword",
        "manual tags",
        "ieee terms",
        "mesh terms",
    ),
    "language": ("language of original document", "language", "language of article"),
    "publication_type": (
        "document type",
        "publication type",
        "item type",
        "content type",
        "type",
        "category",
    ),
    "url": ("link", "url", "urls", "full text link", "pdf link", "openalex id"),
    "record_id": ("record id", "id"),
    "_source": ("source",),
    "_citation": ("citation",),
    "_openurl": ("open url link",),
}

# Web of Science tab-delimited files: two-letter field tags as headers.
_WOS_ALIASES: dict[str, tuple[str, ...]] = {
    "title": ("ti",),
    "abstract": ("ab",),
    "authors": ("af", "au"),
    "_group_authors": ("ca",),
    "year": ("py", "ey"),
    "journal": ("so", "j9", "ji"),
    "volume": ("vl",),
    "issue": ("is",),
    "_page_start": ("bp",),
    "_page_end": ("ep",),
    "_article_number": ("ar",),
    "doi": ("di", "d2"),
    "pmid": ("pm",),
    "issn": ("sn", "ei"),
    "isbn": ("bn",),
    "keywords": ("de", "id"),
    "language": ("la",),
    "publication_type": ("dt", "pt"),
    "record_id": ("ut",),
}
_WOS_MARKERS = frozenset({"pt", "au", "ti", "so", "py", "ut"})

_IDENTIFYING_ROLES = frozenset({"title", "doi", "pmid"})
# Roles whose cells are all gathered rather than the first non-empty one taken.
_GATHERED = frozenset({"keywords", "_group_authors"})

_WS_UNDERSCORE_RE = re.compile(r"[\s_]+")
_INITIALS_RE = re.compile(r"(?:[A-Z]\.?(?:-[A-Z]\.?)?){1,4}")
_GIVEN_NAME_RE = re.compile(r"[A-Z][\w'’-]*\.?")
_SCOPUS_AUTHOR_ID_RE = re.compile(r"\s*\(\d{5,}\)\s*$")
_ET_AL_RE = re.compile(r"et\.?\s+al\.?", re.IGNORECASE)
_AND_RE = re.compile(r"\s+and\s+")
_EMBASE_SOURCE_RE = re.compile(
    r"(?P<journal>.+?)\s*\((?P<year>\d{4})\)\s*(?P<volume>[^:\s(]+)?(?::(?P<issue>[^\s(]+))?"
    r"\s*(?:\((?P<pages>[^)]*)\))?"
)
_PUBMED_CITATION_RE = re.compile(
    r";\s*(?P<volume>[^(:;\s]+)?(?:\((?P<issue>[^)]+)\))?:(?P<pages>[^.;\s]+)"
)


@dataclass
class _Layout:
    """What the header row says: the name of each column and which fields they hold."""

    line: int
    headers: list[str]
    roles: dict[str, list[int]] = field(default_factory=dict)
    wos: bool = False


def _header_key(name: str) -> str:
    """How headers are compared: no BOM, trimmed, lower-case, ``_`` read as a space."""
    return _WS_UNDERSCORE_RE.sub(" ", name.replace("\ufeff", "")).strip().lower()


def _alias_index(aliases: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, int]]:
    index: dict[str, tuple[str, int]] = {}
    for role, names in aliases.items():
        for rank, name in enumerate(names):
            index.setdefault(name, (role, rank))
    return index


_GENERIC_INDEX = _alias_index(_GENERIC_ALIASES)
_WOS_INDEX = _alias_index(_WOS_ALIASES)


def _is_wos_header(keys: list[str]) -> bool:
    named = [key for key in keys if key]
    tags = [key for key in named if re.fullmatch(r"[a-z][a-z0-9]", key)]
    return len(tags) >= 3 and len(tags) >= 0.8 * len(named) and bool(_WOS_MARKERS & set(tags))


def _layout(line: int, cells: list[str], column_map: dict[str, str]) -> _Layout:
    headers = [cell.replace("\ufeff", "").strip() for cell in cells]
    keys = [_header_key(cell) for cell in headers]
    wos = _is_wos_header(keys)
    index = _WOS_INDEX if wos else _GENERIC_INDEX
    ranked: dict[str, list[tuple[int, int]]] = {}
    mapped_roles = set(column_map.values())
    for position, key in enumerate(keys):
        if key in column_map:
            ranked.setdefault(column_map[key], []).append((-1, position))
        elif key in index:
            role, rank = index[key]
            if role not in mapped_roles:
                ranked.setdefault(role, []).append((rank, position))
    roles = {role: [position for _, position in sorted(found)] for role, found in ranked.items()}
    return _Layout(line=line, headers=headers, roles=roles, wos=wos)


@dataclass
class _ColumnMap:
    """``column_map`` with its headers compared as ``_header_key`` compares them."""

    fields: dict[str, str]  # header key → field name
    given: dict[str, str]  # header key → the header as the caller wrote it


def _check_column_map(column_map: dict[str, str] | None) -> _ColumnMap:
    checked = _ColumnMap(fields={}, given={})
    for header, name in (column_map or {}).items():
        if name not in FIELD_NAMES:
            raise ValueError(
                f"column_map maps {header!r} to {name!r}, which is not one of: "
                + ", ".join(FIELD_NAMES)
            )
        checked.fields[_header_key(header)] = name
        checked.given[_header_key(header)] = header.strip()
    return checked


def _find_header(
    rows: list[tuple[int, list[str]]], column_map: dict[str, str]
) -> tuple[int, _Layout] | None:
    """The index in ``rows`` of the header row and its layout, or ``None``.

    The header is the first row with a title, DOI or PMID column (or a column of
    ``column_map``); failing that, the first row with any column we know. A preamble
    table of search history ("No.", "Query", "Results", "Date") is thus passed over.
    """
    fallback: tuple[int, _Layout] | None = None
    for number, (line, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        layout = _layout(line, cells, column_map)
        if not layout.roles:
            continue
        keys = {_header_key(cell) for cell in cells}
        if _IDENTIFYING_ROLES & set(layout.roles) or keys & set(column_map):
            return number, layout
        if fallback is None:
            fallback = number, layout
    return fallback


def _no_header_error(rows: list[tuple[int, list[str]]]) -> FileFormatError:
    cells = next((cells for _, cells in rows if any(c.strip() for c in cells)), [])
    shown = ", ".join(f'"{clean_text(cell)[:40]}"' for cell in cells[:8])
    if len(cells) > 8:
        shown += ", …"
    return FileFormatError(f"could not find a title, DOI or PMID column in the header: {shown}")


def _parse_rows(
    rows: Iterator[tuple[int, list[str]]], column_map: _ColumnMap
) -> Iterator[ParseResult]:
    """Records from ``(line, cells)`` rows: the shared part of CSV and XLSX reading."""
    head = list(islice(rows, HEADER_SEARCH_ROWS))
    if not any(any(cell.strip() for cell in cells) for _, cells in head):
        raise FileFormatError("the file has no rows")
    found = _find_header(head, column_map.fields)
    header = found[1].headers if found else next(cells for _, cells in head if any(cells))
    missing = sorted(set(column_map.fields) - {_header_key(cell) for cell in header})
    if missing:
        raise FileFormatError(
            "the column map names columns that are not in the header: "
            + ", ".join(f'"{column_map.given[key]}"' for key in missing)
        )
    if found is None:
        raise _no_header_error(head)
    number, layout = found
    position = 0
    for line, cells in chain(head[number + 1 :], rows):
        if not any(cell.strip() for cell in cells):
            continue
        position += 1
        yield _read_row(line, position, cells, layout)


# ---------------------------------------------------------------- CSV / TSV


def parse_delimited(
    lines: Iterable[str],
    *,
    delimiter: str | None = None,
    column_map: dict[str, str] | None = None,
) -> Iterator[ParseResult]:
    """Parse a CSV or TSV export. ``delimiter`` ``None`` picks comma, tab or semicolon,
    whichever makes the most header cells we recognise."""
    checked_map = _check_column_map(column_map)
    if csv.field_size_limit() < FIELD_SIZE_LIMIT:
        csv.field_size_limit(FIELD_SIZE_LIMIT)
    source = iter(_with_line_ends(lines))
    buffered = list(islice(source, _SNIFF_LINES))
    if delimiter is None:
        delimiter = _sniff_delimiter(buffered, checked_map.fields)
    wos = False
    if delimiter == "\t":
        sample = list(_csv_rows(buffered, delimiter, strict=False))
        found = _find_header(sample, checked_map.fields)
        wos = found is not None and found[1].wos
    # Web of Science does not quote cells, and a title may start with a quote mark.
    rows = _csv_rows(chain(buffered, source), delimiter, quoted=not wos, strict=True)
    yield from _parse_rows(rows, checked_map)


def _with_line_ends(lines: Iterable[str]) -> Iterator[str]:
    """Each line with its line end, so that csv keeps the line breaks inside quoted cells.

    ``lines`` may also be a whole text, which is split on ``\\r\\n``, ``\\r`` and ``\\n``.
    """
    if isinstance(lines, str):
        lines = io.StringIO(lines, newline="")
    for line in lines:
        if line:
            yield line if line.endswith(("\n", "\r")) else line + "\n"


def _csv_rows(
    lines: Iterable[str], delimiter: str, *, quoted: bool = True, strict: bool
) -> Iterator[tuple[int, list[str]]]:
    """``(start line, cells)`` per row. Strict rows raise ``FileFormatError`` on bad quoting
    (a lenient reader would silently merge the rest of the file into one cell)."""
    if quoted:
        reader = csv.reader(lines, delimiter=delimiter, strict=strict)
    else:
        reader = csv.reader(lines, delimiter=delimiter, quoting=csv.QUOTE_NONE, strict=strict)
    end = 0
    while True:
        start = end + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            if not strict:
                return
            raise _csv_error(error, start, reader.line_num) from error
        end = reader.line_num
        yield start, cells


def _csv_error(error: csv.Error, start: int, line: int) -> FileFormatError:
    reason = str(error)
    if "unexpected end of data" in reason:
        return FileFormatError(f"line {start}: a quoted cell is never closed")
    if "expected after" in reason:
        return FileFormatError(
            f'line {line}: a quote mark inside a quoted cell must be doubled ("")'
        )
    if "field larger than field limit" in reason:
        return FileFormatError(f"line {start}: a cell is larger than 10 MB")
    return FileFormatError(f"line {line}: the file is not valid CSV ({reason})")


def _sniff_delimiter(lines: list[str], column_map: dict[str, str]) -> str:
    best, best_score = ",", (-1, -1)
    for candidate in _DELIMITERS:
        rows = list(_csv_rows(lines, candidate, strict=False))
        found = _find_header(rows, column_map)
        if found is None:
            continue
        layout = found[1]
        recognised = sum(len(columns) for columns in layout.roles.values())
        score = (recognised, len(layout.headers))
        if score > best_score:
            best, best_score = candidate, score
    return best


# ---------------------------------------------------------------- XLSX


def parse_xlsx(
    stream: BinaryIO, *, column_map: dict[str, str] | None = None
) -> Iterator[ParseResult]:
    """Parse the first sheet of an XLSX workbook (the values Excel last showed: formulas
    are not evaluated, their cached result is read)."""
    import openpyxl  # imported here: only workbooks need it
    from openpyxl.utils.exceptions import InvalidFileException

    checked_map = _check_column_map(column_map)
    try:
        workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    except (
        zipfile.BadZipFile,
        InvalidFileException,
        KeyError,
        OSError,
        ValueError,  # openpyxl's "Unable to read workbook"; defusedxml refusing entities
        ParseError,  # XML that is not well-formed
    ) as error:
        raise FileFormatError("the file is not a valid XLSX workbook") from error
    try:
        if not workbook.worksheets:
            raise FileFormatError("the workbook has no sheet")
        sheet = workbook.worksheets[0]
        # Some writers record a wrong sheet size; read every cell that is there instead.
        if hasattr(sheet, "reset_dimensions"):
            sheet.reset_dimensions()
        rows = (
            (number, [_cell_text(value) for value in values])
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
        )
        try:
            yield from _parse_rows(rows, checked_map)
        except (ParseError, DefusedXmlException, zipfile.BadZipFile) as error:
            # A read-only sheet is parsed while its rows are read.
            raise FileFormatError("the workbook's first sheet is not valid XML") from error
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 2012.0 → "2012", a PMID read as a number → digits
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


# ---------------------------------------------------------------- one row


def _read_row(line: int, position: int, cells: list[str], layout: _Layout) -> ParseResult:
    raw: dict[str, list[str]] = {}
    for number, value in enumerate(cells):
        if value.strip():
            name = layout.headers[number] if number < len(layout.headers) else ""
            raw.setdefault(name or f"column {number + 1}", []).append(value)

    def cell(role: str) -> str:
        for number in layout.roles.get(role, ()):
            if number < len(cells) and cells[number].strip():
                return clean_text(cells[number])
        return ""

    def gathered(role: str) -> list[str]:
        return [
            cells[number]
            for number in layout.roles.get(role, ())
            if number < len(cells) and cells[number].strip()
        ]

    source = _embase_source(cell("_source"))
    citation = _PUBMED_CITATION_RE.search(cell("_citation"))
    openurl = _openurl(cell("_openurl"))

    def parsed(name: str) -> str:
        for match in (source, citation):
            if match and name in match.re.groupindex and match.group(name):
                return clean_text(match.group(name))
        return ""

    url = cell("url").split(" ")[0]
    doi = normalise_doi(cell("doi")) or normalise_doi(openurl.get("doi", ""))
    if not doi and re.match(r"https?://(dx\.)?doi\.org/", url, re.IGNORECASE):
        doi = normalise_doi(url)
    authors = _split_authors(cell("authors"))
    for group in gathered("_group_authors"):
        authors.extend(clean_text(name) for name in group.split(";") if clean_text(name))
    record = ParsedRecord(
        line=line,
        record_id=cell("record_id") or str(position),
        raw=raw,
        title=cell("title"),
        abstract=cell("abstract"),
        authors=authors,
        year=parse_year(cell("year")) or parse_year(parsed("year") or openurl.get("date")),
        journal=cell("journal") or (source.group("journal") if source else ""),
        volume=cell("volume") or parsed("volume") or openurl.get("volume", ""),
        issue=cell("issue") or parsed("issue") or openurl.get("issue", ""),
        pages=cell("pages")
        or join_pages(cell("_page_start"), cell("_page_end"))
        or cell("_article_number")
        or parsed("pages")
        or join_pages(openurl.get("spage"), openurl.get("epage")),
        doi=doi,
        pmid=normalise_pmid(cell("pmid") or openurl.get("pmid")),
        pmcid=normalise_pmcid(cell("pmcid")),
        issn=normalise_issn(cell("issn") or openurl.get("issn")),
        isbn=normalise_isbn(cell("isbn")),
        keywords=_keywords(gathered("keywords")),
        language=cell("language"),
        publication_type=cell("publication_type"),
        url=url,
    )
    return finish(record)


def _embase_source(value: str) -> re.Match[str] | None:
    """Embase's "Source": ``Cancer (2004) 102:4 (253-258). Date of Publication: …``."""
    return _EMBASE_SOURCE_RE.match(value) if value else None


def _openurl(value: str) -> dict[str, str]:
    """Citation fields from an OpenURL link (Embase's "Open URL Link")."""
    if not value.startswith(("http://", "https://")):
        return {}
    query = parse_qs(urlsplit(value).query)
    out = {name: values[0] for name, values in query.items() if values and values[0].strip()}
    for identifier in query.get("id", []):
        scheme, _, rest = identifier.partition(":")
        if scheme.lower() in ("doi", "pmid") and rest:
            out[scheme.lower()] = rest
    return out


# ---------------------------------------------------------------- authors, keywords


def _split_authors(value: str) -> list[str]:
    """Authors from one cell, in the many ways exports join them.

    ``;`` separates names wherever it is used (Scopus, WoS, Zotero, ASReview). Without
    it: ``Smith, J and Doe, A`` (BibTeX style); ``Smith J, Doe A`` or ``Liu R., Adler D.G.``
    (PubMed, Embase, older Scopus) and ``Joseph Rottman, Erran Carmel`` (IEEE), where each
    comma ends a name; ``Achenbach, T. M., Rescorla, L. A.``, where every second comma does.
    """
    value = clean_text(value)
    if not value:
        return []
    if ";" in value and "&" in value:  # "M&uuml;ller" is one name, not two
        value = unescape_entities(value)
    if ";" in value:
        parts = value.split(";")
    elif "," in value and _AND_RE.search(value):
        parts = _AND_RE.split(value)
        if not all("," in part for part in parts):
            parts = _split_on_commas(value.replace(" and ", ", "))
    elif "," in value:
        parts = _split_on_commas(value)
    else:
        parts = [value]
    names = (_person(part) for part in parts if not _ET_AL_RE.fullmatch(part.strip(" ,;")))
    return [name for name in names if name]


def _split_on_commas(value: str) -> list[str]:
    tokens = [re.sub(r"^(?:&|and)\s+", "", token.strip()) for token in value.split(",")]
    tokens = [token for token in tokens if token]
    if all(len(token.split()) >= 2 for token in tokens):
        return tokens
    names: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if following and _looks_like_given_name(following) and not _ends_with_initials(token):
            names.append(f"{token}, {following}")
            index += 2
        else:
            names.append(token)
            index += 1
    return names


def _looks_like_given_name(token: str) -> bool:
    compact = token.replace(" ", "")
    return bool(_INITIALS_RE.fullmatch(compact) or _GIVEN_NAME_RE.fullmatch(token))


def _ends_with_initials(token: str) -> bool:
    words = token.split()
    return len(words) >= 2 and bool(_INITIALS_RE.fullmatch(words[-1]))


def _person(value: str) -> str:
    """One name as ``Family, Given``: ``Liu R.`` → ``Liu, R.``; ``Joseph Rottman`` →
    ``Rottman, Joseph``; ``Smith, John (57200000000)`` (Scopus) → ``Smith, John``."""
    name = _SCOPUS_AUTHOR_ID_RE.sub("", clean_text(value)).strip(" ,;")
    if "," not in name and _ends_with_initials(name):
        family, _, initials = name.rpartition(" ")
        return f"{family}, {initials}"
    return normalise_author(name)


def _keywords(values: list[str]) -> list[str]:
    """Keywords from one or more cells: ``;``-separated, else ``,``-separated outside
    brackets (Embase: ``cyst (diagnosis, surgery), colonoscopy``)."""
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        parts = re.split(r"[;\n]", value) if ";" in value or "\n" in value else _split_commas(value)
        for part in parts:
            keyword = clean_text(part)
            if keyword and keyword.lower() not in seen:
                seen.add(keyword.lower())
                out.append(keyword)
    return out


def _split_commas(value: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in value:
        if char in "([":
            depth += 1
        elif char in ")]" and depth:
            depth -= 1
        if char == "," and not depth:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts
