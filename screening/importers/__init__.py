"""Citation importers: read an export file into records, without touching the database.

``parse_file`` is the one entry point the import service needs: it finds the file's
encoding and format from its content and returns the records lazily, so a large export is
parsed while it is read. A file that cannot be read at all raises ``FileFormatError`` with
one sentence for the user; most do so at once (empty, binary, unknown format), some while
the records are read (truncated EndNote XML, a tagged file with no record in it), so the
caller handles ``FileFormatError`` around the iteration too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, TextIO

from .base import FileFormatError, ParsedRecord, ParseResult, Rejection
from .detect import EMPTY_MESSAGE, ZIP_SIGNATURE, detect_format
from .ebsco import parse_ebsco
from .encoding import (
    ENCODINGS,
    binary_stream,
    check_encoding,
    decode_head,
    read_head,
    sniff_encoding,
    text_stream,
)
from .nbib import parse_nbib
from .ris import parse_ris
from .wos import parse_wos

__all__ = [
    "ENCODINGS",
    "FORMATS",
    "FileFormatError",
    "ParseResult",
    "ParsedFile",
    "ParsedRecord",
    "Rejection",
    "parse_file",
]

# The DESIGN contract's --format choices first; wos, tsv and xlsx are extras.
FORMATS = ("ris", "nbib", "bibtex", "endnote", "csv", "ebsco", "wos", "tsv", "xlsx")

FORMAT_NAMES = {
    "ris": "RIS",
    "nbib": "PubMed/MEDLINE",
    "bibtex": "BibTeX",
    "endnote": "EndNote XML",
    "csv": "CSV",
    "ebsco": "EBSCOhost text",
    "wos": "Web of Science",
    "tsv": "TSV",
    "xlsx": "XLSX",
}

WARNING_LINES_SHOWN = 20  # lines listed for one kind of record warning

_TAGGED: dict[str, Callable[[Iterable[str]], Iterator[ParseResult]]] = {
    "ris": parse_ris,
    "nbib": parse_nbib,
    "wos": parse_wos,
    "ebsco": parse_ebsco,
}


@dataclass
class ParsedFile:
    """A file being read: its format, encoding, file-level warnings and lazy results.

    ``warnings`` may grow while ``results`` is consumed (bytes that are not UTF-8 found
    after the first 64 KB) and when it ends (the records' own warnings, counted, with their
    lines), so read it after the iteration.
    """

    format: str
    encoding: str
    warnings: list[str]
    results: Iterator[ParseResult]


def parse_file(
    stream: BinaryIO,
    *,
    fmt: str = "auto",
    column_map: dict[str, str] | None = None,
    encoding: str = "auto",
) -> ParsedFile:
    """Open an uploaded export and return its records lazily.

    ``fmt`` is ``"auto"`` (detect from the content) or one of ``FORMATS``; ``column_map``
    maps CSV/TSV/XLSX column headers to record fields; ``encoding`` is ``"auto"`` (detect
    it) or one of ``ENCODINGS`` (for text formats; XLSX and EndNote XML say their own).
    Raises ``FileFormatError`` when the file is empty, binary or in no format we read.
    """
    if fmt != "auto" and fmt not in FORMATS:
        raise FileFormatError(f"unknown format {fmt!r}: use auto or one of {', '.join(FORMATS)}")
    check_encoding(encoding)
    head = read_head(stream)
    if not head.strip():
        raise FileFormatError(EMPTY_MESSAGE)
    if fmt == "auto" and head.startswith(ZIP_SIGNATURE):
        fmt = detect_format(head, "")  # "xlsx", or the binary-file error for other ZIPs
    if fmt == "xlsx":
        warnings: list[str] = []
        results = _gather_warnings(_xlsx(head, stream, column_map), warnings)
        return ParsedFile("xlsx", "binary", warnings, results)

    codec, encoding, bom_length, warnings = sniff_encoding(head, encoding)
    text_head = decode_head(head, codec, bom_length)
    if not text_head.strip():
        raise FileFormatError(EMPTY_MESSAGE)
    if fmt == "auto":
        fmt = detect_format(head, text_head, columns=(column_map or {}).keys())
    if fmt == "endnote":
        # The XML parser reads the encoding from the XML declaration itself.
        warnings = []
        results = _gather_warnings(_endnote(head, stream), warnings)
        return ParsedFile("endnote", "xml", warnings, results)

    text = text_stream(head, stream, codec, bom_length, warnings)
    if fmt in _TAGGED:
        results = _require_records(_TAGGED[fmt](text), fmt)
    elif fmt == "bibtex":
        results = _bibtex(text)
    else:
        results = _delimited(text, delimiter="\t" if fmt == "tsv" else None, column_map=column_map)
    return ParsedFile(fmt, encoding, warnings, _gather_warnings(results, warnings))


def _gather_warnings(results: Iterator[ParseResult], warnings: list[str]) -> Iterator[ParseResult]:
    """Pass ``results`` through; when they end, add the records' own warnings (a missing
    ``TY`` line, an undefined BibTeX macro, …) to the file's ``warnings``, one line per
    kind of warning: how many records it concerns and the lines they start on."""
    lines_by_warning: dict[str, list[int]] = {}
    for result in results:
        if isinstance(result, ParsedRecord) and result.warnings:
            for warning in result.warnings:
                lines_by_warning.setdefault(warning, []).append(result.line)
        yield result
    for warning, lines in lines_by_warning.items():
        warnings.append(_counted(warning, lines))


def _counted(warning: str, lines: list[int]) -> str:
    """``line 12: …``, or ``3 records: … (lines 12, 40, 77)``, the first lines only."""
    if len(lines) == 1:
        return f"line {lines[0]}: {warning}"
    shown = ", ".join(str(line) for line in lines[:WARNING_LINES_SHOWN])
    more = (
        f" and {len(lines) - WARNING_LINES_SHOWN:,} more"
        if len(lines) > WARNING_LINES_SHOWN
        else ""
    )
    return f"{len(lines):,} records: {warning} (lines {shown}{more})"


def _require_records(results: Iterator[ParseResult], fmt: str) -> Iterator[ParseResult]:
    """Pass ``results`` through; a tagged file in which no record starts is not that format."""
    seen = False
    for result in results:
        seen = True
        yield result
    if not seen:
        raise FileFormatError(f"no records found: the file does not look like {FORMAT_NAMES[fmt]}")


# The formats below are read by modules imported when first needed (they pull in
# bibtexparser, defusedxml and openpyxl).


def _bibtex(text: TextIO) -> Iterator[ParseResult]:
    from .bibtex import parse_bibtex

    yield from parse_bibtex(text.read())


def _endnote(head: bytes, rest: BinaryIO) -> Iterator[ParseResult]:
    from .endnote import parse_endnote_xml

    yield from parse_endnote_xml(binary_stream(head, rest))


def _delimited(
    text: TextIO, *, delimiter: str | None, column_map: dict[str, str] | None
) -> Iterator[ParseResult]:
    from .tabular import parse_delimited

    yield from parse_delimited(text, delimiter=delimiter, column_map=column_map)


def _xlsx(head: bytes, rest: BinaryIO, column_map: dict[str, str] | None) -> Iterator[ParseResult]:
    import io

    from .tabular import parse_xlsx

    # A workbook is a ZIP file, read from its end: give the reader a seekable stream.
    if rest.seekable():
        rest.seek(-len(head), io.SEEK_CUR)
        stream: BinaryIO = rest
    else:
        stream = io.BytesIO(head + rest.read())
    yield from parse_xlsx(stream, column_map=column_map)
