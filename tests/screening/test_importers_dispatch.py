"""Reading an upload: encoding, format detection and ``parse_file``.

The user reads the messages pinned here, so they are asserted word for word.
"""

from __future__ import annotations

import codecs
import gzip
import io
import re

import pytest

from screening.importers import (
    FORMATS,
    FileFormatError,
    ParsedFile,
    ParsedRecord,
    ParseResult,
    Rejection,
    parse_file,
)
from screening.importers.detect import detect_format
from screening.importers.encoding import HEAD_SIZE, open_text
from tests.shared_data import shared_path

EMPTY = "the file is empty"
BINARY = "the file is binary, not a text export"
UNKNOWN = (
    "could not recognise the format: expected RIS, PubMed/MEDLINE, BibTeX, EndNote XML, "
    "Web of Science, CSV/TSV/XLSX or EBSCOhost text"
)
CP1252 = "file is not valid UTF-8; read as Windows-1252"

RIS = b"TY  - JOUR\nTI  - Caf\xc3\xa9 society\nAU  - M\xc3\xbcller, Anna\nER  - \n"
WOS = (
    "FN Clarivate Analytics Web of Science\nVR 1.0\n"
    "PT J\nAU M\u00fcller, A\nTI Caf\u00e9 society\nPY 2020\nUT WOS:000000000000001\nER\n\n"
    "PT J\nAU Smith, J\nTI Second\nPY 2021\nUT WOS:000000000000002\nER\n\nEF\n"
)


def parse(data: bytes, fmt: str = "auto") -> tuple[ParsedFile, list[ParseResult]]:
    parsed = parse_file(io.BytesIO(data), fmt=fmt)
    return parsed, list(parsed.results)


def titles(results: list[ParseResult]) -> list[str]:
    return [r.title for r in results if isinstance(r, ParsedRecord)]


class _Unseekable(io.RawIOBase):
    """A stream that cannot seek and returns short reads, like a socket or a gzip member."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self._data.read(min(len(buffer), 1000))
        buffer[: len(chunk)] = chunk
        return len(chunk)


# ---------------------------------------------------------------- encodings


def test_utf8_bom_is_stripped_before_the_first_tag() -> None:
    parsed, results = parse(codecs.BOM_UTF8 + RIS)

    assert (parsed.format, parsed.encoding, parsed.warnings) == ("ris", "utf-8-sig", [])
    assert titles(results) == ["Café society"]
    assert results[0].line == 1
    assert results[0].raw["TY"] == ["JOUR"]  # type: ignore[union-attr]


def test_open_text_reports_encoding_and_strips_the_bom() -> None:
    text, encoding, warnings = open_text(io.BytesIO(codecs.BOM_UTF8 + RIS))

    assert (encoding, warnings) == ("utf-8-sig", [])
    assert text.readline() == "TY  - JOUR\n"


def test_windows_1252_file_is_read_with_a_warning() -> None:
    data = "TY  - JOUR\nTI  - Caf\u00e9 \u2013 society\nER  - \n".encode("cp1252")

    parsed, results = parse(data)

    assert (parsed.encoding, parsed.warnings) == ("windows-1252", [CP1252])
    assert titles(results) == ["Café – society"]


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_web_of_science_file_with_bom(codec: str) -> None:
    bom = codecs.BOM_UTF16_LE if codec == "utf-16-le" else codecs.BOM_UTF16_BE
    parsed, results = parse(bom + WOS.encode(codec))

    assert (parsed.format, parsed.encoding, parsed.warnings) == ("wos", codec, [])
    assert titles(results) == ["Café society", "Second"]
    assert [r.line for r in results] == [3, 10]


def test_utf16_without_bom_is_recognised() -> None:
    parsed, results = parse(WOS.encode("utf-16-le"))

    assert (parsed.format, parsed.encoding) == ("wos", "utf-16-le")
    assert len(results) == 2


def test_bytes_that_are_not_utf8_after_the_head_are_replaced_with_a_warning() -> None:
    filler = b"".join(
        b"TY  - JOUR\nTI  - Record %d\nER  - \n\n" % n for n in range(1, 3001)
    )  # more than the 64 KB head
    assert len(filler) > HEAD_SIZE
    data = filler + b"TY  - JOUR\nTI  - Caf\xe9\nER  - \n"

    parsed, results = parse(data)

    assert parsed.encoding == "utf-8"
    assert titles(results)[-1] == "Caf\ufffd"
    assert len(results) == 3001
    assert len(parsed.warnings) == 1
    assert re.fullmatch(
        r"the file has bytes that are not valid UTF-8 \(first near byte [\d,]+\); "
        "they were replaced with \ufffd",
        parsed.warnings[0],
    )


def test_a_stream_that_cannot_seek_is_read_whole() -> None:
    # Multi-byte characters fall across the 1,000-byte reads: no false "not UTF-8" warning.
    data = "".join(
        f"TY  - JOUR\nTI  - Caf\u00e9 \u2013 r\u00e9sum\u00e9 {n}\nER  - \n" for n in range(1, 5001)
    ).encode()
    stream = io.BufferedReader(_Unseekable(data))

    parsed = parse_file(stream)
    results = list(parsed.results)

    assert len(results) == 5000
    assert titles(results)[-1] == "Café – résumé 5000"
    assert parsed.warnings == []


# ---------------------------------------------------------------- unreadable files


@pytest.mark.parametrize(
    "data",
    [b"", b"   \r\n\n\t", codecs.BOM_UTF8, codecs.BOM_UTF8 + b"\n\n", codecs.BOM_UTF16_LE],
    ids=["nothing", "whitespace", "utf8-bom", "bom-and-blank-lines", "utf16-bom"],
)
def test_empty_file_is_refused(data: bytes) -> None:
    with pytest.raises(FileFormatError) as error:
        parse_file(io.BytesIO(data))

    assert str(error.value) == EMPTY


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00word/document.xml",
        gzip.compress(RIS),
        b"TY  - JOUR\n\x00\x00\x01\x02binary\xff\xfe\x00",
    ],
    ids=["pdf", "png", "docx", "gzip", "nul-bytes"],
)
def test_binary_file_is_refused(data: bytes) -> None:
    with pytest.raises(FileFormatError) as error:
        parse_file(io.BytesIO(data))

    assert str(error.value) == BINARY


def test_old_excel_file_is_refused_with_what_to_do() -> None:
    with pytest.raises(FileFormatError) as error:
        parse_file(io.BytesIO(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100))

    assert str(error.value) == "old Excel .xls files cannot be read: save the sheet as .xlsx or CSV"


@pytest.mark.parametrize(
    "text",
    [
        "Dear colleague, please find attached the references we discussed.\n",
        "<!DOCTYPE html>\n<html><body>Search results</body></html>\n",
        "%0 Journal Article\n%T How Trust Leads to Commitment, and more\n%A Smith, J\n",
        '{"records": []}\n',
    ],
    ids=["prose", "html", "endnote-tagged", "json"],
)
def test_unknown_format_is_refused(text: str) -> None:
    with pytest.raises(FileFormatError) as error:
        parse_file(io.BytesIO(text.encode()))

    assert str(error.value) == UNKNOWN


def test_endnote_tagged_export_is_refused_rather_than_read_as_csv() -> None:
    path = shared_path("exports/colrev-loader-samples/ais_enl.txt")

    with path.open("rb") as stream, pytest.raises(FileFormatError) as error:
        parse_file(stream)

    assert str(error.value) == UNKNOWN


def test_a_forced_format_that_finds_no_record_says_so() -> None:
    parsed = parse_file(io.BytesIO(b"PMID- 1\nTI  - A MEDLINE record\n"), fmt="ris")

    with pytest.raises(FileFormatError) as error:
        list(parsed.results)

    assert str(error.value) == "no records found: the file does not look like RIS"


def test_an_unknown_format_name_is_refused() -> None:
    with pytest.raises(FileFormatError) as error:
        parse_file(io.BytesIO(RIS), fmt="marc")

    assert str(error.value) == (
        "unknown format 'marc': use auto or one of "
        "ris, nbib, bibtex, endnote, csv, ebsco, wos, tsv, xlsx"
    )


def test_formats_accept_the_design_contract_choices() -> None:
    assert set(FORMATS) >= {"ris", "nbib", "bibtex", "endnote", "csv", "ebsco"}
    assert FORMATS[:6] == ("ris", "nbib", "bibtex", "endnote", "csv", "ebsco")


def test_a_forced_format_is_used_without_detection() -> None:
    parsed, results = parse(b"TI  - no TY line here\nER  - \n", fmt="ris")

    assert parsed.format == "ris"
    assert titles(results) == ["no TY line here"]


# ---------------------------------------------------------------- detection from content


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TY  - JOUR\nTI  - x\nER  - \n", "ris"),
        ("\n\n1.\nTY  - JOUR\nID  - 2019-65183-001\n", "ris"),  # Ovid, numbered
        ("Provider: JSTOR\nDatabase: JSTOR\n\nTY  - JOUR\n", "ris"),
        ("PMID- 20301770\nSTAT- Publisher\nTI  - Feingold Syndrome 1.\n", "nbib"),
        ("\nOWN - ERIC\nTI  - Paper title\nAU  - Smith, Tom\nAID - 10.1/x\n", "nbib"),
        ("FN Clarivate Analytics Web of Science\nVR 1.0\nPT J\nAU Smith, J\n", "wos"),
        ("PT J\nAU Smith, J\nTI Title\nER\n", "wos"),
        ("Back to Search Start Over\n\nA title\n\nAuthors :\nSmith J\n", "ebsco"),
        ("Title:\nA title\nAuthors:\nSmith J\nSource:\nJ 2020\n", "ebsco"),
        ("% a comment\n@article{key1,\n  title = {A title},\n}\n", "bibtex"),
        ('<?xml version="1.0" encoding="UTF-8" ?><xml><records><record>', "endnote"),
        ("Title,Authors,Year\nA title,Smith J,2020\n", "csv"),
        ('"Title";"Authors";"Year"\n"A";"B";"2020"\n', "csv"),
        ("PT\tAU\tTI\tSO\nJ\tSmith, J\tA title\tJ\n", "tsv"),
    ],
)
def test_format_is_detected_from_content(text: str, expected: str) -> None:
    assert detect_format(text.encode(), text) == expected


def test_a_csv_header_below_a_search_history_is_found() -> None:
    text = (
        "Search history\n"
        "No.;Query;Results\n"
        "1;stem cells AND diabetes;120\n"
        "\n"
        '"Title";"Author Names";"Source";"DOI"\n'
        '"A title";"Smith J.";"J Med";"10.1000/x"\n'
    )

    assert detect_format(text.encode(), text) == "csv"


@pytest.mark.parametrize(
    "text",
    [
        # Lines of a README: commas, field names, but no table.
        "Format: CSV, UTF-8, comma-separated. Columns: id, title, abstract, included\n"
        "Records: 2,333; included=1: 23 (0.99%); all rows have an abstract.\n",
        "Cite: Smith, J., & Roe, R. (2019). Liver International, 39(11), 2136-2152.\n"
        "  https://doi.org/10.1111/liv.14179\n",
        "titles non-empty: 2,518; abstracts non-empty: 2,214.\n\nLicence: none.\n",
    ],
)
def test_prose_with_commas_is_not_taken_for_a_table(text: str) -> None:
    with pytest.raises(FileFormatError) as error:
        detect_format(text.encode(), text)

    assert str(error.value) == UNKNOWN


def test_a_column_map_makes_its_headers_recognisable() -> None:
    text = "Naslov,Autori,Godina\nNeki naslov,Horvat I,2020\n"

    with pytest.raises(FileFormatError):
        detect_format(text.encode(), text)
    assert detect_format(text.encode(), text, columns=["Naslov"]) == "csv"


def test_xlsx_is_detected_from_the_zip_signature() -> None:
    path = shared_path("screening/van_de_Schoot_2017_ptsd/van_de_Schoot_2017.xlsx")
    head = path.read_bytes()[:HEAD_SIZE]

    assert detect_format(head, "") == "xlsx"


REAL_DETECTIONS = [
    ("exports/asreview-demo-data/embase.csv", "csv", "utf-8"),
    ("exports/asreview-demo-data/embase.ris", "ris", "utf-8-sig"),
    ("exports/asreview-demo-data/ovid_psycinfo.ris", "ris", "utf-8"),
    ("exports/asreview-demo-data/pubmed_endnote.txt", "ris", "utf-8"),
    ("exports/asreview-demo-data/web_of_science.txt", "ris", "utf-8"),
    ("exports/asysd-tests/ris_export.txt", "ris", "utf-8-sig"),
    ("exports/colrev-loader-samples/eric_nbib.nbib", "nbib", "utf-8"),
    ("exports/colrev-loader-samples/ieee_csv.csv", "csv", "utf-8"),
    ("exports/colrev-loader-samples/pubmed_csv.csv", "csv", "utf-8-sig"),
    ("exports/colrev-loader-samples/scopus_bib.bib", "bibtex", "utf-8"),
    ("exports/colrev-loader-samples/jstor_ris.ris", "ris", "utf-8"),
    ("exports/pybtexnbib/marcelis-20301770.nbib", "nbib", "utf-8"),
    ("seed/ebsco-detailed-record.txt", "ebsco", "utf-8"),
    ("screening/van_de_Schoot_2017_ptsd/van_de_Schoot_2017.xlsx", "xlsx", "binary"),
]


@pytest.mark.parametrize(
    ("relative", "expected_format", "expected_encoding"),
    REAL_DETECTIONS,
    ids=[row[0].rsplit("/", 1)[-1] for row in REAL_DETECTIONS],
)
def test_real_exports_are_recognised(
    relative: str, expected_format: str, expected_encoding: str
) -> None:
    with shared_path(relative).open("rb") as stream:
        parsed = parse_file(stream)

        assert (parsed.format, parsed.encoding) == (expected_format, expected_encoding)
        assert next(parsed.results) is not None


# ---------------------------------------------------------------- the other importers


def test_bibtex_is_read_through_parse_file() -> None:
    path = shared_path("exports/colrev-loader-samples/scopus_bib.bib")
    entries = len(re.findall(r"^@\w+\s*\{", path.read_text(encoding="utf-8"), re.MULTILINE))

    with path.open("rb") as stream:
        results = list(parse_file(stream).results)

    assert len(results) == entries


def test_csv_is_read_through_parse_file() -> None:
    text = "Title,Authors,Year,DOI\nA title,Smith J,2020,10.1000/x\nOther,Roe R,2021,\n"

    parsed, results = parse(text.encode())

    assert parsed.format == "csv"
    assert titles(results) == ["A title", "Other"]


def test_tsv_is_read_through_parse_file() -> None:
    text = "Title\tAuthors\tYear\nA title\tSmith J\t2020\n"

    parsed, results = parse(text.encode())

    assert parsed.format == "tsv"
    assert titles(results) == ["A title"]


def test_endnote_xml_is_read_through_parse_file() -> None:
    data = gzip.decompress(shared_path("dedup/stroke/Stroke.xml.gz").read_bytes())

    parsed, results = parse(data)

    assert parsed.format == "endnote"
    assert len(results) == data.count(b"<record>") == 1292
    assert not any(isinstance(r, Rejection) for r in results[:10])


def test_xlsx_is_read_through_parse_file_from_a_stream_that_cannot_seek() -> None:
    data = shared_path("screening/van_de_Schoot_2017_ptsd/van_de_Schoot_2017.xlsx").read_bytes()

    parsed = parse_file(io.BufferedReader(_Unseekable(data)))

    assert parsed.format == "xlsx"
    assert sum(1 for _ in parsed.results) > 0


# ---------------------------------------------------------------- whole files, end to end

TAGGED_FILES = [
    ("exports/citesource-gambling-harms/20221207_gambling-harms_scopus_255.ris", "ris", 255),
    ("exports/citesource-gambling-harms/20221207_gambling-harms_lens_49.ris", "ris", 49),
    ("exports/asysd-tests/wos_test.ris", "ris", 50),
    ("exports/colrev-loader-samples/loader_nbib_data.nbib", "nbib", 1),
    ("seed/ebsco-detailed-record.txt", "ebsco", 1),
]


@pytest.mark.parametrize(
    ("relative", "expected_format", "expected"),
    TAGGED_FILES,
    ids=[row[0].rsplit("/", 1)[-1] for row in TAGGED_FILES],
)
def test_parse_file_reads_every_record_of_a_real_export(
    relative: str, expected_format: str, expected: int
) -> None:
    with shared_path(relative).open("rb") as stream:
        parsed = parse_file(stream)
        results = list(parsed.results)

    assert parsed.format == expected_format
    assert parsed.warnings == []
    assert len(results) == expected
    assert all(isinstance(r, ParsedRecord) for r in results)
