"""The MEDLINE reader reads blocks of text, not lines: it must give what reading line by line gives.

``parse_nbib`` reads a stream in chunks, cuts them into blocks where a record must start and
reads a whole block with one regular expression; anything unusual goes to the line-by-line
reader (``parse_nbib_lines``), which holds the format's rules. Every test here compares the
two, at chunk sizes down to one character, so a record cut across two chunks, a blank line
split in half or a ``PMID-`` line arriving one letter at a time must read the same.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from screening.importers.base import ParsedRecord, ParseResult, Rejection
from screening.importers.encoding import open_text
from screening.importers.nbib import parse_nbib, parse_nbib_lines
from tests.shared_data import shared_path

REAL_MEDLINE = [
    "exports/pybtexnbib/marcelis-20301770.nbib",
    "exports/colrev-loader-samples/loader_nbib_data.nbib",
    "exports/colrev-loader-samples/eric_nbib.nbib",
]
CHUNK_SIZES = [1, 2, 3, 5, 8, 13, 64, 1000, 1 << 20]


def by_blocks(text: str, chunk_size: int) -> list[ParseResult]:
    return list(parse_nbib(io.StringIO(text), chunk_size=chunk_size))


def by_lines(text: str) -> list[ParseResult]:
    return list(parse_nbib_lines(io.StringIO(text)))  # lines end at "\n", as in a file


def decoded(relative: str) -> str:
    with shared_path(relative).open("rb") as stream:
        text, _encoding, _warnings = open_text(stream)
        return text.read()


@pytest.mark.parametrize("relative", REAL_MEDLINE, ids=lambda r: r.rsplit("/", 1)[-1])
@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_real_export_reads_the_same_at_every_chunk_size(relative: str, chunk_size: int) -> None:
    text = decoded(relative)
    expected = by_lines(text)

    assert len(expected) == 1 and isinstance(expected[0], ParsedRecord)
    assert by_blocks(text, chunk_size) == expected


@pytest.mark.parametrize("relative", REAL_MEDLINE, ids=lambda r: r.rsplit("/", 1)[-1])
def test_real_export_read_from_the_file_reads_as_line_by_line(relative: str) -> None:
    path: Path = shared_path(relative)
    with path.open("rb") as stream:
        text, _encoding, _warnings = open_text(stream)
        results = list(parse_nbib(text))

    assert results == by_lines(decoded(relative))


# The same four records, many ways: continuation lines, short tags, a new PMID without a
# blank line, a blank line of spaces, loose text, text before the first tag, ERIC's OWN-first
# record and a last record without a line ending.
EDGE_CASES = (
    "PubMed export, saved 2024-10-30\n"  # text before the first tag: skipped
    "\n"
    "PMID- 111\n"
    "TI  - A title that goes on\n"
    "      over two lines \n"
    "AB  -\n"  # an empty value, dash without a space
    "      continued abstract\n"
    "AU - Short T\n"  # a tag shorter than four columns
    "loose text kept with the author\n"
    "PMID- 222\n"  # a new record without a blank line
    "TI  - Second\n"
    "   \n"  # a blank line of spaces ends the record
    "OWN - ERIC\n"
    "TI  - Paper title\n"
    "OAB - \n"  # an empty value, then its text on the next line
    "      other abstract\n"
    "AID - http://dx.doi.org/10.1000/123456789\n"
    "\n\n\n"
    "PMID- 333\n"
    "TI  - Third\n"
    "PMID - 444\n"  # a new record, though not written "PMID- "
    "TI  - Last, no line ending"
)


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_edge_cases_read_the_same_at_every_chunk_size(chunk_size: int) -> None:
    assert by_blocks(EDGE_CASES, chunk_size) == by_lines(EDGE_CASES)


def test_edge_cases_give_the_records_the_format_promises() -> None:
    results = by_blocks(EDGE_CASES, 1 << 20)

    assert all(isinstance(r, ParsedRecord) for r in results)
    first, second, eric, third, last = (r for r in results if isinstance(r, ParsedRecord))
    assert (first.line, first.pmid, first.title) == (
        3,
        "111",
        "A title that goes on over two lines",
    )
    assert first.abstract == "continued abstract"
    assert first.raw["AU"] == ["Short T loose text kept with the author"]
    assert (second.line, second.pmid, second.title) == (10, "222", "Second")
    assert (eric.line, eric.record_id, eric.doi) == (13, "3", "10.1000/123456789")
    assert eric.raw["OAB"] == ["other abstract"]
    assert (third.line, third.pmid, third.title) == (21, "333", "Third")
    assert (last.line, last.pmid, last.title) == (23, "444", "Last, no line ending")


def test_crlf_lines_given_one_by_one_read_as_from_a_file() -> None:
    lines = EDGE_CASES.replace("\n", "\r\n").splitlines(keepends=True)

    assert list(parse_nbib(iter(lines))) == by_lines(EDGE_CASES)
    assert list(parse_nbib(iter(lines))) == list(parse_nbib_lines(iter(lines)))


def test_a_block_longer_than_several_chunks_is_read_as_it_comes() -> None:
    # No blank line and no "PMID- " to cut at: the reader goes line by line, keeping its
    # place across chunks, and joins the fast way again after the next blank line.
    loose = "".join(f"loose line {n} of a preface\n" for n in range(50))
    long_record = "OWN - ERIC\nTI  - Long\n" + "".join(f"AU  - Author{n} A\n" for n in range(60))
    text = f"{loose}{long_record}\nPMID- 9\nTI  - After\n"

    results = by_blocks(text, 16)

    assert results == by_lines(text)
    assert [(r.line, r.title) for r in results if isinstance(r, ParsedRecord)] == [
        (51, "Long"),
        (114, "After"),
    ]
    assert len(results[0].raw["AU"]) == 60 if isinstance(results[0], ParsedRecord) else False


def test_an_empty_record_is_rejected_at_its_line_either_way() -> None:
    text = "PMID- 1\nTI  - One\n\nOWN - NLM\nSTAT- MEDLINE\n"

    assert by_blocks(text, 3) == by_lines(text)
    assert by_blocks(text, 3)[1] == Rejection(
        line=4, message="record has no title, authors, journal, DOI, PMID or URL"
    )


# ---------------------------------------------------------------- any text at all

_TAGS = ["PMID", "TI", "AB", "AU", "FAU", "OWN", "LID", "AID", "IS", "ISSN", "A", "Ab", "T1X"]
_SEPARATORS = ["- ", "  - ", " - ", "   - ", "-", "-  ", " -", "- \t", "-x "]
_WORDS = st.text(alphabet="ab Z1-.;[]\t\xa0é", max_size=12)

_line = st.one_of(
    st.builds(
        lambda tag, sep, value: f"{tag:<4}{sep}{value}",
        st.sampled_from(_TAGS),
        st.sampled_from(_SEPARATORS),
        _WORDS,
    ),
    st.builds(
        lambda tag, sep, value: f"{tag}{sep}{value}",
        st.sampled_from(_TAGS),
        st.sampled_from(_SEPARATORS),
        _WORDS,
    ),
    st.builds(lambda n, value: " " * n + value, st.integers(1, 7), _WORDS),  # continuation
    st.sampled_from(["", "", "", " ", "   ", "\t", "\xa0"]),  # blank lines
    st.builds(lambda n: f"PMID- {n}", st.integers(0, 99)),
    _WORDS,  # loose text
)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(_line, max_size=40),
    ending=st.sampled_from(["", "\n", "\n\n"]),
    chunk_size=st.sampled_from([1, 2, 3, 4, 7, 16, 50, 1 << 20]),
)
def test_any_text_reads_the_same_by_blocks_as_by_lines(
    lines: list[str], ending: str, chunk_size: int
) -> None:
    text = "\n".join(lines) + ending

    assert by_blocks(text, chunk_size) == by_lines(text)
    # Lines handed over one by one (with their endings, as a list) read the same too.
    given_lines = text.splitlines(keepends=True)
    assert list(parse_nbib(given_lines, chunk_size=chunk_size)) == list(
        parse_nbib_lines(given_lines)
    )


# Records as exports write them, with now and then something a little off: most blocks are
# read the fast way, and the odd one must fall back without changing a thing.
_usual_line = st.one_of(
    st.builds(
        lambda tag, value: f"{tag:<4}- {value}",
        st.sampled_from(["TI", "AB", "AU", "FAU", "LID", "OAB"]),
        _WORDS,
    ),
    st.builds(lambda value: f"      {value}", _WORDS),
    st.sampled_from(["PMID - 7", "PMID-  8", "AB  - ", "TI  -", "  ", "\xa0"]),
)
_usual_record = st.builds(
    lambda n, lines: "\n".join([f"PMID- {n}", *lines]),
    st.integers(0, 99),
    st.lists(_usual_line, max_size=8),
)


@settings(max_examples=300, deadline=None)
@given(
    records=st.lists(_usual_record, max_size=6),
    separator=st.sampled_from(["\n\n", "\n", "\n\n\n", "\n \n"]),
    chunk_size=st.sampled_from([1, 3, 16, 50, 1 << 20]),
)
def test_usual_records_read_the_same_by_blocks_as_by_lines(
    records: list[str], separator: str, chunk_size: int
) -> None:
    text = separator.join(records)

    assert by_blocks(text, chunk_size) == by_lines(text)


def test_a_pmid_written_oddly_after_other_tags_still_starts_a_record() -> None:
    text = "OWN - NLM\nTI  - One\nPMID -  5\nTI  - Two\n"

    results = by_blocks(text, 1 << 20)

    assert results == by_lines(text)
    assert [(r.line, r.title) for r in results if isinstance(r, ParsedRecord)] == [
        (1, "One"),
        (3, "Two"),
    ]
