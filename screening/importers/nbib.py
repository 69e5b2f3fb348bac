"""PubMed/MEDLINE text (``.nbib``, "PubMed format"), also as ERIC writes it.

Each line is a tag left-justified in four columns, ``- `` and a value (``PMID- 123``,
``FAU - Smith, John``, ``AU  - Smith J``); a line that starts with spaces continues the
value above it. Records are separated by blank lines and start with ``PMID-`` (ERIC's start
with ``OWN -`` and have no PMID). A ``PMID-`` line also starts a new record when no blank
line came before it, and the last record needs no blank line or line ending after it.
Some writers leave out the space of ``PMID-22664220``, or give a title or an abstract on
several ``TI``/``AB`` lines (joined into one value here).

A 100,000-record export has five million lines, too many to look at one by one in Python.
The text is read in small chunks, each cut where a record must start (a blank line, or a
line starting ``PMID- ``); one regular expression reads all the fields of a chunk with
their continuation lines. A chunk with anything unusual in it (loose text, a blank line of
spaces, a tag the expression does not take) is read block by block, and an unusual block
line by line, by the reader that holds the format's rules (``parse_nbib_lines``): every
way gives the same records, which ``tests/screening/test_importers_nbib_blocks.py`` checks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterable, Iterator
from itertools import chain
from typing import TextIO

from .base import (
    ParsedRecord,
    ParseResult,
    clean_text,
    finish,
    first,
    normalise_doi,
    normalise_pmcid,
    normalise_pmid,
    split_authors,
    split_issn_isbn,
    split_keywords,
    year_from,
)

# Characters read at a time (a few records). Small chunks read faster than large ones: a
# string holding one character beyond Latin-1 takes two bytes for every character, and a
# large chunk nearly always holds one (an en dash, a Greek letter), a small one seldom.
CHUNK_SIZE = 1 << 13

# "PMID- 1", "FAU - Smith, J", "AU  - Smith J", "AB  -" (empty); the tag fills four columns.
# Some writers leave out the space after "PMID-" ("PMID-22664220"): group 3 takes it.
_TAG_RE = re.compile(r"([A-Z][A-Z0-9]{1,3}) {0,3}-(?: (.*)|(?<=PMID-)(\S.*)|\s*$)")
# The same, for the chunk readers, which expect the space ("\n" first: a fast search).
_BARE_PMID_RE = re.compile(r"\nPMID-(?=\S)")
# One field of a block: its tag line and the continuation lines below it. Every line this
# takes, the line reader reads the same way (a tag line, or an indented line with text).
_FIELD_RE = re.compile(r"^([A-Z][A-Z0-9]{1,3}) {0,3}- (.*(?:\n +\S.*)*)", re.MULTILINE)
# Any line: a field as above (tag, value), or else the whole line (empty, nearly always).
# (Possessive: nothing to backtrack into, and sre runs faster without the bookkeeping.)
_LINE_RE = re.compile(
    r"^(?:([A-Z][A-Z0-9]{1,3}) {0,3}+- (.*+(?:\n +\S.*+)*+)|(.*+))$", re.MULTILINE
)
_NEW_RECORD = "\nPMID- "

Raw = dict[str, list[str]]


def parse_nbib(
    lines: Iterable[str] | TextIO, *, chunk_size: int = CHUNK_SIZE
) -> Iterator[ParseResult]:
    """Parse MEDLINE text into records and rejections.

    ``lines`` is a text stream (read in chunks of ``chunk_size`` characters) or any iterable
    of lines, with or without their line endings. ``record_id`` is the PMID, else the
    record's 1-based position in the file; ``line`` is the line of the record's first tag.
    """
    read = getattr(lines, "read", None)
    chunks = _chunks_of(read, chunk_size) if callable(read) else _joined(lines, chunk_size)
    for position, (raw, start) in enumerate(_blocks(chunks, chunk_size), 1):
        yield _build(raw, start, position)


def parse_nbib_lines(lines: Iterable[str]) -> Iterator[ParseResult]:
    """Parse MEDLINE lines one by one: slower than ``parse_nbib``, with the same results."""
    reader = _LineReader()
    for position, (raw, start) in enumerate(chain(reader.feed(lines, 1), reader.close()), 1):
        yield _build(raw, start, position)


def _chunks_of(read: Callable[[int], str], size: int) -> Iterator[str]:
    while chunk := read(size):
        yield chunk


def _joined(lines: Iterable[str], size: int) -> Iterator[str]:
    """Lines gathered into chunks of text, each line ended by a newline."""
    batch: list[str] = []
    length = 0
    for line in lines:
        if line[-1:] == "\n":
            line = line[:-1]
        batch.append(line)
        length += len(line) + 1
        if length >= size:
            batch.append("")
            yield "\n".join(batch)
            batch, length = [], 0
    if batch:
        batch.append("")
        yield "\n".join(batch)


def _blocks(chunks: Iterable[str], chunk_size: int) -> Iterator[tuple[Raw, int]]:
    """Records as ``(raw fields, line of the first tag)`` from text arriving in chunks.

    Each chunk is cut after its last complete block, where a record must start; the rest
    waits for the next chunk. A block longer than a few chunks (no blank line and no PMID
    in sight: one huge record, or a file of loose text) is read line by line as it comes,
    so memory stays flat.
    """
    reader = _LineReader()
    carry = ""  # text after the last cut
    line = 1  # the line ``carry`` starts on
    for chunk in chunks:
        text = carry + chunk if carry else chunk
        text = _BARE_PMID_RE.sub("\nPMID- ", text)
        if text.startswith("PMID-") and text[5:6].strip():
            text = f"PMID- {text[5:]}"
        if (cut := text.rfind("\n\n")) >= 0:
            line += (yield from _read_text(text, cut, line, reader)) + 1
            carry = text[cut + 2 :]
        elif (cut := text.rfind(_NEW_RECORD)) >= 0:
            line += yield from _read_text(text, cut, line, reader)
            carry = text[cut + 1 :]
        elif len(text) > 4 * chunk_size and (cut := text.rfind("\n")) >= 0:
            yield from reader.feed(text[:cut].split("\n"), line)
            line += text.count("\n", 0, cut) + 1
            carry = text[cut + 1 :]
        else:
            carry = text
    # The last line's ending changes nothing; without it the last block reads the fast way.
    carry = carry.removesuffix("\n")
    yield from _read_text(carry, len(carry), line, reader)


def _read_text(
    text: str, end: int, line: int, reader: _LineReader
) -> Generator[tuple[Raw, int], None, int]:
    """The records of ``text[:end]`` (whole blocks), from ``line`` on; returns its lines."""
    usual = None if reader.mid_block else _read_usual(text, end, line)
    if usual is None:
        head = text[:end]
        yield from _read_blocks(head, line, reader)
        return head.count("\n") + 1
    records, lines = usual
    yield from records
    return lines


def _read_usual(text: str, end: int, line: int) -> tuple[list[tuple[Raw, int]], int] | None:
    """The records of ``text[:end]`` (whole blocks) and its number of lines, or ``None``
    unless every line is a tag line, its continuation or blank: the line reader's rules for
    those lines, applied to all of them at once."""
    records: list[tuple[Raw, int]] = []
    raw: Raw = {}
    get = raw.get
    first_line = line  # ``line``: where the current record (``raw``) starts, or the next line
    continued = 0  # continuation lines in the current record
    for tag, value, other in _LINE_RE.findall(text, 0, end):
        if not tag:
            if other and not other.isspace():  # loose text, an odd tag: not for this way
                return None
            if raw:  # an empty line (or one of spaces) ends the record
                records.append((raw, line))
                line += sum(map(len, raw.values())) + continued
                raw, continued = {}, 0
                get = raw.get
            line += 1
            continue
        if tag == "PMID" and raw:  # a new record without a blank line before it
            records.append((raw, line))
            line += sum(map(len, raw.values())) + continued
            raw, continued = {}, 0
            get = raw.get
        if "\n" in value:  # continuation lines (each has text), joined as the line reader does
            parts = value.split("\n")
            continued += len(parts) - 1
            value = " ".join(map(str.strip, parts)).strip()
        else:
            value = value.strip()
        values = get(tag)
        if values is None:
            raw[tag] = [value]
        else:
            values.append(value)
    if raw:
        records.append((raw, line))
        line += sum(map(len, raw.values())) + continued
    return records, line - first_line


def _read_blocks(text: str, line: int, reader: _LineReader) -> Iterator[tuple[Raw, int]]:
    """The records of ``text``, whole blocks separated by blank lines, from ``line`` on."""
    for block in text.split("\n\n"):
        newlines = block.count("\n")
        if reader.mid_block:  # the block began in an earlier chunk: read it line by line
            yield from reader.feed(block.split("\n"), line)
            yield from reader.close()
        elif (raw := _fields(block, newlines)) is not None:
            yield raw, line
        else:
            yield from _read_unusual(block, line, reader)
        line += newlines + 2


def _read_unusual(block: str, line: int, reader: _LineReader) -> Iterator[tuple[Raw, int]]:
    """A block ``_fields`` does not take: records without a blank line between them are cut
    apart (each may then be usual), anything else is read line by line."""
    pieces = block.split(_NEW_RECORD)
    if len(pieces) == 1:
        yield from reader.feed(block.split("\n"), line)
        yield from reader.close()
        return
    for index, piece in enumerate(pieces):
        if index:
            piece = f"PMID- {piece}"
        newlines = piece.count("\n")
        if (raw := _fields(piece, newlines)) is not None:
            yield raw, line
        else:
            yield from reader.feed(piece.split("\n"), line)
            yield from reader.close()
        line += newlines + 1


def _fields(block: str, newlines: int) -> Raw | None:
    """The fields of a block of ``newlines + 1`` lines, or ``None`` unless every line is a
    tag line or its continuation and the block is one record (a second PMID starts another)."""
    fields = _FIELD_RE.findall(block)
    if not fields:
        return None
    raw: Raw = {}
    get = raw.get
    lines = len(fields)
    for tag, value in fields:
        if "\n" in value:  # continuation lines (each has text), joined as the line reader does
            parts = [part.strip() for part in value.split("\n")]
            lines += len(parts) - 1
            value = " ".join(parts) if parts[0] else " ".join(parts[1:])
        else:
            value = value.strip()
        values = get(tag)
        if values is None:
            raw[tag] = [value]
        else:
            values.append(value)
    if lines != newlines + 1:  # some line is not part of a field
        return None
    pmids = get("PMID")
    if pmids is not None and (len(pmids) > 1 or fields[0][0] != "PMID"):
        return None
    return raw


class _LineReader:
    """The format's rules, one line at a time; keeps its place between calls to ``feed``."""

    def __init__(self) -> None:
        self.raw: Raw = {}
        self.start = 0  # line of the current record's first tag
        self.values: list[str] | None = None  # the value continuation lines add to
        self.mid_block = False  # fed lines since the last blank line or ``close``

    def feed(self, lines: Iterable[str], first_line: int) -> Iterator[tuple[Raw, int]]:
        """Read ``lines`` (the first is line ``first_line``), yielding the records they end."""
        match = _TAG_RE.match
        raw, start, values = self.raw, self.start, self.values
        for lineno, line in enumerate(lines, first_line):
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
                            yield raw, start
                            raw = {}
                        values = None
                    elif values is not None:  # unindented text: keep it with the value above
                        values[-1] = f"{values[-1]} {line.strip()}"
                    # Text outside a record (before the first tag) is skipped.
                    continue
                tag = m.group(1)
                value = (m.group(2) or m.group(3) or "").strip()
            if not raw:
                start = lineno
            elif tag == "PMID":  # a new record without a blank line before it
                yield raw, start
                raw = {}
                start = lineno
            values = raw.get(tag)
            if values is None:
                values = raw[tag] = [value]
            else:
                values.append(value)
        self.raw, self.start, self.values = raw, start, values
        self.mid_block = True

    def close(self) -> Iterator[tuple[Raw, int]]:
        """End the block (a blank line, or the end of the file) and its record."""
        if self.raw:
            yield self.raw, self.start
        self.raw, self.values, self.mid_block = {}, None, False


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
        title=_all_of(raw, "TI") or first(raw, "BTI", "CTI"),
        abstract=_all_of(raw, "AB"),
        authors=split_authors(authors),
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


def _all_of(raw: Raw, tag: str) -> str:
    """A text field: on one line with its continuation lines (already joined), or, as some
    writers give titles and abstracts, on several lines with the same tag: all of them.
    A title is cleaned as ``first`` cleans it; an abstract on one line is kept as it is."""
    values = raw.get(tag)
    if not values:
        return ""
    if len(values) == 1 or not any(values[1:]):
        return first(raw, tag) if tag != "AB" else values[0]
    return clean_text(" ".join(values))


def _publication_type(values: list[str] | None) -> str:
    """The record's publication types, in order and each once: ``Journal Article; Review``."""
    if not values:
        return ""
    if len(values) == 1:
        return values[0]
    return "; ".join(dict.fromkeys(filter(None, values)))
