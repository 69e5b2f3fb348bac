"""EndNote XML import (``<xml><records><record>…``), streamed through defusedxml.

The file is fed in chunks to defusedxml's expat-based parser with a small *target* that
keeps only the record being read: no element tree is built, so memory stays flat
however large the export. The target also reads expat's line counter when a
``<record>`` opens, which ``iterparse`` cannot report.

``line`` is the line on which the ``<record>`` starts. EndNote writes the whole export on
one line, so messages about a record also name its position: ``record 12: …``.

Every element's text is kept in ``raw`` under its path below ``<record>``
(``titles/title``, ``contributors/authors/author``, ``urls/related-urls/url``, …); the
``<style>`` wrappers EndNote puts around text are dropped and their text joined.
Attributes are kept as ``path@name`` (``ref-type@name`` → ``Journal Article``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import BinaryIO, NoReturn
from xml.parsers.expat import ErrorString

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden
from defusedxml.ElementTree import DefusedXMLParser, ParseError

from .base import (
    FileFormatError,
    ParsedRecord,
    ParseResult,
    Rejection,
    clean_text,
    finish,
    first,
    normalise_author,
    normalise_doi,
    normalise_isbn,
    normalise_issn,
    normalise_pmcid,
    normalise_pmid,
    parse_year,
    split_keywords,
)

__all__ = ["parse_endnote_xml"]

_CHUNK_SIZE = 1 << 16
_PMID_VALUE_RE = re.compile(r"(?:PMID|PUBMED)\s*:?\s*(\d{1,9})", re.IGNORECASE)
_DOI_URL_RE = re.compile(r"https?://(dx\.)?doi\.org/", re.IGNORECASE)
_CUSTOM_FIELDS = tuple(f"custom{n}" for n in range(1, 8))


class _NotEndNote(Exception):
    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.root = root


def _no_line() -> int:
    return 0


class _RecordCollector:
    """Parser target that turns each ``<record>`` into ``(line, raw)`` as it closes."""

    def __init__(self) -> None:
        self.line_number: Callable[[], int] = _no_line  # replaced by expat's line counter
        self.root: str | None = None
        self.finished: list[tuple[int, dict[str, list[str]]]] = []
        self._raw: dict[str, list[str]] | None = None
        self._line = 0
        self._path: list[str] = []
        self._texts: list[list[str]] = []

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if self.root is None:
            self.root = tag
            if tag != "xml":
                raise _NotEndNote(tag)
        raw = self._raw
        if raw is None:
            if tag == "record":
                self._raw = {}
                self._line = self.line_number()
                self._path = []
                self._texts = []
            return
        if tag == "style":  # formatting only: its text belongs to the enclosing field
            return
        self._path.append(tag)
        self._texts.append([])
        path = "/".join(self._path)
        for name, value in attrib.items():
            if value.strip():
                raw.setdefault(f"{path}@{name}", []).append(value)

    def data(self, text: str) -> None:
        if self._texts:
            self._texts[-1].append(text)

    def end(self, tag: str) -> None:
        raw = self._raw
        if raw is None or tag == "style":
            return
        if not self._path:  # the </record> itself
            self.finished.append((self._line, raw))
            self._raw = None
            return
        path = "/".join(self._path)
        text = "".join(self._texts.pop())
        self._path.pop()
        if text.strip():
            raw.setdefault(path, []).append(text)

    def close(self) -> None:
        return None


def parse_endnote_xml(stream: BinaryIO) -> Iterator[ParseResult]:
    """Parse an EndNote XML export, yielding one result per ``<record>`` as it is read.

    Raises ``FileFormatError`` for anything that is not a well-formed EndNote XML file,
    and for XML that declares a DTD or entities (refused for safety: entity expansion
    bombs, external entities).
    """
    collector = _RecordCollector()
    parser = DefusedXMLParser(
        target=collector, forbid_dtd=False, forbid_entities=True, forbid_external=True
    )
    expat = parser.parser
    collector.line_number = lambda: int(expat.CurrentLineNumber)
    # Entity declarations raise as they are read (defusedxml); any other DOCTYPE is
    # refused once it ends, so that the more precise entity message wins.
    expat.EndDoctypeDeclHandler = _refuse_doctype

    position = 0
    seen_bytes = False
    try:
        while True:
            chunk = stream.read(_CHUNK_SIZE)
            if not chunk:
                break
            seen_bytes = seen_bytes or bool(chunk.strip())
            parser.feed(chunk)
            for line, raw in collector.finished:
                position += 1
                yield _read_record(line, position, raw)
            collector.finished.clear()
        if not seen_bytes:
            raise FileFormatError("the file is empty")
        try:
            parser.close()
        except ParseError as error:
            _raise_not_well_formed(error, collector, at_end=True)
    except ParseError as error:
        _raise_not_well_formed(error, collector, at_end=False)
    except _NotEndNote as error:
        raise FileFormatError(
            f"the XML is not an EndNote export: its root element is <{error.root}>, not <xml>"
        ) from error
    except EntitiesForbidden as error:
        if error.sysid or error.pubid:
            raise FileFormatError(
                "the XML declares an external entity, which is refused for safety"
            ) from error
        raise FileFormatError("the XML declares entities, which are refused for safety") from error
    except DTDForbidden as error:
        raise FileFormatError(
            "the XML declares a document type (DTD), which is refused for safety"
        ) from error
    except DefusedXmlException as error:  # external references and the like
        raise FileFormatError(
            "the XML refers to an external resource, which is refused for safety"
        ) from error

    for line, raw in collector.finished:
        position += 1
        yield _read_record(line, position, raw)
    if not position:
        raise FileFormatError("no <record> elements were found in the EndNote XML")


def _refuse_doctype() -> NoReturn:
    raise DTDForbidden(None, None, None)


def _raise_not_well_formed(
    error: ParseError, collector: _RecordCollector, *, at_end: bool
) -> NoReturn:
    line, column = error.position
    reason = ErrorString(error.code) if error.code else str(error)
    if collector.root is None:
        raise FileFormatError(
            f"the file is not XML ({reason} at line {line}, column {column})"
        ) from error
    if at_end:
        raise FileFormatError(
            f"the XML ends before the document is complete (line {line}, column {column}): "
            "the file may be truncated"
        ) from error
    raise FileFormatError(
        f"the XML is not well-formed at line {line}, column {column}: {reason}"
    ) from error


def _read_record(line: int, position: int, raw: dict[str, list[str]]) -> ParseResult:
    urls = [
        url
        for tag in ("urls/related-urls/url", "urls/web-urls/url", "urls/text-urls/url")
        for value in raw.get(tag, ())
        for url in value.split()
    ]
    record = ParsedRecord(
        line=line,
        record_id=first(raw, "rec-number") or str(position),
        raw=raw,
        title=first(raw, "titles/title"),
        abstract=first(raw, "abstract"),
        authors=[name for name in map(_author, raw.get("contributors/authors/author", ())) if name],
        year=parse_year(first(raw, "dates/year")) or parse_year(first(raw, "dates/pub-dates/date")),
        journal=first(
            raw,
            "titles/secondary-title",
            "periodical/full-title",
            "periodical/abbr-1",
            "titles/alt-title",
        ),
        volume=first(raw, "volume"),
        issue=first(raw, "number", "issue"),
        pages=first(raw, "pages"),
        doi=normalise_doi(first(raw, "electronic-resource-num"))
        or next((normalise_doi(url) for url in urls if _DOI_URL_RE.match(url)), ""),
        pmid=_pmid(raw),
        pmcid=next(
            (normalise_pmcid(v) for tag in _CUSTOM_FIELDS for v in raw.get(tag, ()) if "PMC" in v),
            "",
        ),
        issn=normalise_issn(first(raw, "isbn")),
        isbn=normalise_isbn(first(raw, "isbn")),
        keywords=split_keywords(v.replace("\r", "\n") for v in raw.get("keywords/keyword", ())),
        language=first(raw, "language"),
        publication_type=first(raw, "ref-type@name"),
        url=urls[0] if urls else "",
    )
    result = finish(record)
    if isinstance(result, Rejection):
        return Rejection(line=line, message=f"record {position}: {result.message}")
    return result


def _author(value: str) -> str:
    """EndNote stores people as ``Family, Given``; a name without a comma is a group
    ("Neurite Investigators") and one ending in a comma a corporate author
    ("World Health Organization,"): neither is turned around."""
    name = clean_text(value).strip(" ;,")
    return normalise_author(name) if "," in name else name


def _pmid(raw: dict[str, list[str]]) -> str:
    """The PMID, where the record says it is one.

    ``accession-num`` is a PMID only for records from PubMed/MEDLINE (Embase and
    PsycINFO put their own numbers there); Ovid writes ``PUBMED 22115993`` and others
    ``PMID: 22115993`` into a custom field.
    """
    source = " ".join(
        first(raw, tag) for tag in ("remote-database-name", "remote-database-provider")
    ).lower()
    accession = first(raw, "accession-num")
    if accession and any(name in source for name in ("pubmed", "medline", "nlm")):
        return normalise_pmid(accession)
    for tag in ("accession-num", *_CUSTOM_FIELDS, "label"):
        for value in raw.get(tag, ()):
            match = _PMID_VALUE_RE.fullmatch(clean_text(value))
            if match:
                return match.group(1)
    return ""
