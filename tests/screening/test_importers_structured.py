"""BibTeX, EndNote XML, CSV/TSV and XLSX importers, on real exports and on small cases.

Counts are checked against an independent count of the same file (a regular expression
for BibTeX entries, ``<record>`` occurrences for EndNote XML, Python's csv module for
CSV), never against the importer itself. No database and no Django settings are needed.
"""

from __future__ import annotations

import csv
import datetime
import gzip
import io
import re
import tracemalloc
import zipfile
from pathlib import Path

import openpyxl
import pytest

from screening.importers.base import FileFormatError, ParsedRecord, ParseResult, Rejection
from screening.importers.bibtex import parse_bibtex
from screening.importers.endnote import parse_endnote_xml
from screening.importers.tabular import parse_delimited, parse_xlsx
from tests.shared_data import shared_path

EMPTY_RECORD = "record has no title, authors, journal, DOI, PMID or URL"
BIB_ENTRY_RE = re.compile(r"^\s*@(?!comment|string|preamble)\w+\s*[{(]", re.IGNORECASE | re.M)

BIB_EXPORTS = [
    "colrev-loader-samples/abi_inform_proquest_bib.bib",
    "colrev-loader-samples/acm_bib.bib",
    "colrev-loader-samples/crossref_bib.bib",
    "colrev-loader-samples/dblp_bib.bib",
    "colrev-loader-samples/ebsco_bib.bib",
    "colrev-loader-samples/europe_pmc_bib.bib",
    "colrev-loader-samples/files_dir_bib.bib",
    "colrev-loader-samples/scopus_bib.bib",
    "colrev-loader-samples/taylor_and_francis_bib.bib",
    "colrev-loader-samples/unknown_source_bib.bib",
    "colrev-loader-samples/web_of_science_bib.bib",
    "colrev-loader-samples/wiley_bib.bib",
]
CSV_EXPORTS = [
    "asreview-demo-data/embase.csv",
    "colrev-loader-samples/ieee_csv.csv",
    "colrev-loader-samples/pubmed_csv.csv",
    "colrev-loader-samples/springer_csv.csv",
]
ENDNOTE_SETS = [
    ("cytology_screening", "Cytology_screening.xml.gz", 1856),
    ("respiratory", "Respiratory.xml.gz", 1988),
    ("stroke", "Stroke.xml.gz", 1292),
]


def records(results: list[ParseResult]) -> list[ParsedRecord]:
    return [result for result in results if isinstance(result, ParsedRecord)]


def rejections(results: list[ParseResult]) -> list[Rejection]:
    return [result for result in results if isinstance(result, Rejection)]


def test_every_bib_and_csv_export_is_covered() -> None:
    exports = shared_path("exports")
    on_disk = {
        str(path.relative_to(exports))
        for pattern in ("**/*.bib", "**/*.csv")
        for path in exports.glob(pattern)
    }
    assert on_disk == set(BIB_EXPORTS) | set(CSV_EXPORTS)


# ---------------------------------------------------------------- BibTeX, real exports


@pytest.mark.parametrize("name", BIB_EXPORTS)
def test_bib_export_gives_one_result_per_entry_at_its_line(name: str) -> None:
    text = shared_path("exports", name).read_text(encoding="utf-8-sig")
    # The pattern may match blank lines before the entry: count lines up to the "@".
    entry_lines = [
        text.count("\n", 0, text.index("@", match.start())) + 1
        for match in BIB_ENTRY_RE.finditer(text)
    ]

    results = list(parse_bibtex(text))

    assert len(results) == len(entry_lines) > 0
    assert [result.line for result in results] == entry_lines


def test_bib_crossref_entry_is_read_field_by_field() -> None:
    text = shared_path("exports", "colrev-loader-samples/crossref_bib.bib").read_text("utf-8")

    (record,) = records(list(parse_bibtex(text)))

    assert record.record_id == "000803"
    assert record.authors == ["Seidel, Stefan", "Recker, Jan", "vom Brocke, Jan"]
    assert record.title.startswith("Sensemaking and Sustainable Practicing")
    assert (record.journal, record.year, record.volume, record.issue, record.pages) == (
        "MIS Quarterly",
        2013,
        "37",
        "4",
        "1275-1299",
    )
    assert record.doi == "10.25300/misq/2013/37.4.13"
    assert record.publication_type == "article"
    assert record.raw["pages"] == ["1275--1299"]


def test_bib_taylor_and_francis_keeps_ampersand_and_reads_pmid_from_note() -> None:
    text = shared_path("exports", "colrev-loader-samples/taylor_and_francis_bib.bib").read_text(
        "utf-8"
    )

    first, second = records(list(parse_bibtex(text)))

    assert first.title == "This is a dummy title from publisher Taylor & Francis"
    assert first.pmid == "33355555"
    assert first.url == "https://doi.org/10.1111/07777777.2018.1666666"
    assert second.authors == ["Lastname, Firstname A.", "Muster, Tom", "Musterfrau, Ashley"]


def test_bib_web_of_science_unescapes_identifiers_and_entities() -> None:
    text = shared_path("exports", "colrev-loader-samples/web_of_science_bib.bib").read_text(
        "utf-8-sig"
    )

    first, second = records(list(parse_bibtex(text)))

    assert first.record_id == "WOS:000223334444221"
    assert first.doi == "10.1007/999-9-999-99999-9_3"
    assert first.issn == "0111-9119"
    assert first.isbn == "9999999999999"
    assert second.title == "A dummy title's"


def test_bib_broken_entry_is_rejected_with_its_line_and_reason() -> None:
    text = shared_path("exports", "colrev-loader-samples/ebsco_bib.bib").read_text("utf-8")

    results = list(parse_bibtex(text))

    assert len(records(results)) == 1
    assert rejections(results) == [
        Rejection(
            line=15,
            message="the entry is not valid BibTeX: Expected a `=` after entry key "
            "`@type:Person`, but found the end of the entry (`}`).",
        )
    ]


# ---------------------------------------------------------------- BibTeX, small cases

LATEX_BIB = r"""% exported by hand
@string{jan = "January"}
@comment{not a record}
@Article{mueller2020,
  Author = {M{\"u}ller, J{\"o}rg and {World Health Organization} and van der Berg, Jan
            and Smith, Jr., John and others},
  Title = {Caf{\'e} culture in 50% of \textit{in vivo} cases: A--B \& C},
  journal = {Science & Medicine},
  url = {http://example.org/a%2fb&c},
  doi = {https://doi.org/10.1000/ABC\_1},
  month = jan,
  year = {2020},
  pages = {e12--e15},
  keywords = {heart; lung},
  issn = {0008543X},
}
"""


def test_bib_decodes_latex_in_text_but_not_in_links() -> None:
    (record,) = list(parse_bibtex(LATEX_BIB))

    assert isinstance(record, ParsedRecord)
    assert record.line == 4
    assert record.record_id == "mueller2020"
    assert record.title == "Café culture in 50% of in vivo cases: A–B & C"
    assert record.authors == [
        "Müller, Jörg",
        "World Health Organization",
        "van der Berg, Jan",
        "Smith Jr., John",
    ]
    assert record.journal == "Science & Medicine"
    assert record.url == "http://example.org/a%2fb&c"
    assert record.doi == "10.1000/abc_1"
    assert record.pages == "e12-e15"
    assert record.year == 2020
    assert record.keywords == ["heart", "lung"]
    assert record.issn == "0008-543X"
    assert record.raw["month"] == ["January"]
    assert record.raw["title"] == [r"Caf{\'e} culture in 50% of \textit{in vivo} cases: A--B \& C"]


def test_bib_duplicate_key_and_repeated_field_are_imported_with_a_warning() -> None:
    text = (
        "@article{smith2020, title = {First}}\n"
        "@article{smith2020, title = {Second}}\n"
        "@article{twice, title = {One}, Title = {Two}, title = {Three}}\n"
    )

    first, second, third = list(parse_bibtex(text))

    assert isinstance(first, ParsedRecord) and first.warnings == []
    assert isinstance(second, ParsedRecord)
    assert (second.line, second.record_id, second.title) == (2, "smith2020", "Second")
    assert second.warnings == ["citation key 'smith2020' is also used by the entry on line 1"]
    assert isinstance(third, ParsedRecord)
    assert third.title == "One"
    assert third.raw["title"] == ["One", "Two", "Three"]
    assert third.warnings == ["fields repeated in the entry (all values kept): title"]


def test_bib_unclosed_entry_is_rejected_and_the_next_one_still_read() -> None:
    text = "@article{broken,\n  title = {never closed\n@article{fine, title = {Fine}}\n"

    broken, fine = list(parse_bibtex(text))

    assert broken == Rejection(
        line=1,
        message="the entry is not valid BibTeX: Unexpected block start: `@article`. "
        "Was still looking for field-value closing `}`",
    )
    assert isinstance(fine, ParsedRecord) and (fine.line, fine.title) == (3, "Fine")


def test_bib_entry_with_nothing_identifying_is_rejected() -> None:
    text = "@misc{empty,\n  note = {nothing here},\n  year = {2020},\n}\n"

    assert list(parse_bibtex(text)) == [Rejection(line=1, message=EMPTY_RECORD)]


def test_bib_without_entries_is_not_bibtex() -> None:
    with pytest.raises(FileFormatError) as error:
        list(parse_bibtex("TY  - JOUR\nTI  - A RIS file\nER  - \n"))

    assert str(error.value) == (
        "no BibTeX entries were found (an entry starts with @article{, @book{, …)"
    )


# ---------------------------------------------------------------- EndNote XML, real exports


def endnote_bytes(folder: str, name: str) -> bytes:
    with gzip.open(shared_path("dedup", folder, name)) as stream:
        return stream.read()


@pytest.mark.parametrize(("folder", "name", "expected"), ENDNOTE_SETS)
def test_endnote_export_gives_every_record(folder: str, name: str, expected: int) -> None:
    data = endnote_bytes(folder, name)

    results = list(parse_endnote_xml(io.BytesIO(data)))

    assert len(results) == data.count(b"<record>") == expected
    assert rejections(results) == []


@pytest.mark.parametrize(("folder", "name", "expected"), ENDNOTE_SETS)
def test_endnote_records_match_the_benchmark_csv(folder: str, name: str, expected: int) -> None:
    """``records_pre_merged.csv`` is the same export converted by BibDedupe: row
    ``id_0000001`` is the first ``<record>``."""
    parsed = records(list(parse_endnote_xml(io.BytesIO(endnote_bytes(folder, name)))))
    with shared_path("dedup", folder, "records_pre_merged.csv").open(encoding="utf-8") as file:
        rows = list(csv.DictReader(file))

    assert len(parsed) == len(rows) == expected
    for position, (record, row) in enumerate(zip(parsed, rows, strict=True), start=1):
        assert row["ID"] == f"id_{position:07d}"
        assert record.title == row["title"].strip()
        assert record.journal == row["journal"]
        assert str(record.year or "") == row["year"]
        assert (record.volume, record.issue, record.pages) == (
            row["volume"],
            row["number"],
            row["pages"],
        )
        # BibDedupe joins names with " and " (some group names contain one) and keeps
        # EndNote's trailing comma on corporate names ("Anonymous,"); we drop the comma.
        assert " and ".join(record.authors) == re.sub(r",(?= and |$)", "", row["author"])


def test_endnote_first_stroke_record_fields() -> None:
    first = next(parse_endnote_xml(io.BytesIO(endnote_bytes("stroke", "Stroke.xml.gz"))))

    assert isinstance(first, ParsedRecord)
    assert first.line == 1
    assert first.record_id == "1218"
    assert first.authors[:2] == ["Zhai, Q. J.", "Yue, X. Y."]
    assert first.publication_type == "Journal Article"
    assert first.issn == ""  # this record has no <isbn>; the next ones do
    assert first.url.startswith("http://onlinelibrary.wiley.com/o/cochrane/clcentral/")
    assert first.raw["caption"] == ["Duplicate"]
    assert first.raw["ref-type@name"] == ["Journal Article"]


def test_endnote_reads_pmid_and_pmcid_from_custom_fields() -> None:
    parsed = records(list(parse_endnote_xml(io.BytesIO(endnote_bytes("stroke", "Stroke.xml.gz")))))

    by_id = {record.record_id: record for record in parsed}
    assert by_id["1270"].raw["custom2"] == ["PUBMED 22115993"]
    assert by_id["1270"].pmid == "22115993"
    assert any(record.pmcid == "PMC3265675" for record in parsed)


def test_endnote_streams_with_flat_memory() -> None:
    data = io.BytesIO(endnote_bytes("cytology_screening", "Cytology_screening.xml.gz"))  # 7 MB

    tracemalloc.start()
    try:
        count = sum(1 for _ in parse_endnote_xml(data))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert count == 1856
    # A parsed tree of this file takes tens of MB; one record at a time takes a few hundred KB.
    assert peak < 3_000_000


def test_endnote_truncated_file_fails_after_the_records_before_the_cut() -> None:
    data = endnote_bytes("stroke", "Stroke.xml.gz")
    half = data[: len(data) // 2]
    read: list[ParseResult] = []

    with pytest.raises(FileFormatError) as error:
        for result in parse_endnote_xml(io.BytesIO(half)):
            read.append(result)

    assert len(read) == half.count(b"</record>")
    assert re.fullmatch(
        r"the XML ends before the document is complete \(line 1, column \d+\): "
        r"the file may be truncated",
        str(error.value),
    )


# ---------------------------------------------------------------- EndNote XML, small cases

ENDNOTE_XML = b"""<?xml version="1.0" encoding="UTF-8" ?>
<xml><records>
<record>
  <rec-number>42</rec-number>
  <ref-type name="Journal Article">17</ref-type>
  <contributors><authors>
    <author><style face="normal" font="default" size="100%">M\xc3\xbcller, J.</style></author>
    <author><style face="normal">World Health Organization,</style></author>
    <author>Neurite Investigators</author>
  </authors></contributors>
  <titles>
    <title><style face="normal">Stem cells in </style><style face="italic">vivo</style></title>
    <secondary-title>Stem Cell Res Ther</secondary-title>
  </titles>
  <periodical><full-title>Stem Cell Research &amp; Therapy</full-title></periodical>
  <pages>384</pages><volume>15</volume><number>1</number>
  <dates><year>2024</year><pub-dates><date>Oct 28</date></pub-dates></dates>
  <isbn>1757-6512 (Electronic)&#xD;1757-6512 (Linking)</isbn>
  <accession-num>39468609</accession-num>
  <electronic-resource-num>10.1186/s13287-024-03974-z</electronic-resource-num>
  <keywords><keyword>Humans</keyword><keyword>Diabetes Mellitus&#xD;Stem cells</keyword></keywords>
  <urls><related-urls><url>https://pubmed.ncbi.nlm.nih.gov/39468609/</url></related-urls></urls>
  <remote-database-provider>NLM</remote-database-provider>
  <language>eng</language>
</record>
<record>
  <titles><title>A book chapter</title><secondary-title>A Book</secondary-title></titles>
  <isbn>978-1-60918-137-6 (Hardcover)</isbn>
  <urls><related-urls><url>https://doi.org/10.1000/BOOK.1 https://example.org/2</url>
  </related-urls></urls>
</record>
<record><label>nothing else</label></record>
</records></xml>
"""


def test_endnote_small_export_reads_every_field() -> None:
    record_lines = [
        ENDNOTE_XML.count(b"\n", 0, match.start()) + 1
        for match in re.finditer(b"<record>", ENDNOTE_XML)
    ]

    first, second, third = list(parse_endnote_xml(io.BytesIO(ENDNOTE_XML)))

    assert [result.line for result in (first, second, third)] == record_lines
    assert isinstance(first, ParsedRecord)
    assert (first.line, first.record_id) == (3, "42")
    assert first.title == "Stem cells in vivo"
    assert first.authors == ["Müller, J.", "World Health Organization", "Neurite Investigators"]
    assert first.journal == "Stem Cell Res Ther"
    assert (first.year, first.volume, first.issue, first.pages) == (2024, "15", "1", "384")
    assert first.doi == "10.1186/s13287-024-03974-z"
    assert first.pmid == "39468609"
    assert (first.issn, first.isbn) == ("1757-6512", "")
    assert first.keywords == ["Humans", "Diabetes Mellitus", "Stem cells"]
    assert first.url == "https://pubmed.ncbi.nlm.nih.gov/39468609/"
    assert (first.language, first.publication_type) == ("eng", "Journal Article")
    assert first.raw["periodical/full-title"] == ["Stem Cell Research & Therapy"]
    assert first.raw["dates/pub-dates/date"] == ["Oct 28"]

    assert isinstance(second, ParsedRecord)
    assert second.record_id == "2"
    assert (second.issn, second.isbn) == ("", "9781609181376")
    assert second.doi == "10.1000/book.1"
    assert second.url == "https://doi.org/10.1000/BOOK.1"
    assert second.pmid == ""

    assert third == Rejection(line=record_lines[2], message=f"record 3: {EMPTY_RECORD}")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE xml [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<xml><records><record><titles><title>&lol3;</title></titles></record></records></xml>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<xml><records><record><titles><title>&secret;</title></titles></record></records></xml>
"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE xml SYSTEM "http://example.com/endnote.dtd">
<xml><records><record><titles><title>T</title></titles></record></records></xml>
"""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (BILLION_LAUGHS, "the XML declares entities, which are refused for safety"),
        (EXTERNAL_ENTITY, "the XML declares an external entity, which is refused for safety"),
        (EXTERNAL_DTD, "the XML declares a document type (DTD), which is refused for safety"),
        (b"TY  - JOUR\nER  - \n", "the file is not XML (syntax error at line 1, column 0)"),
        (b"", "the file is empty"),
        (
            b"<PubmedArticleSet><PubmedArticle/></PubmedArticleSet>",
            "the XML is not an EndNote export: its root element is <PubmedArticleSet>, not <xml>",
        ),
        (
            b"<xml><records>\n<record><titles><title>T</titel></titles></record></records></xml>",
            "the XML is not well-formed at line 2, column 26: mismatched tag",
        ),
        (b"<xml><records></records></xml>", "no <record> elements were found in the EndNote XML"),
    ],
    ids=[
        "billion-laughs",
        "external-entity",
        "dtd",
        "not-xml",
        "empty",
        "wrong-root",
        "broken",
        "no-records",
    ],
)
def test_endnote_refuses_hostile_or_broken_xml(data: bytes, message: str) -> None:
    with pytest.raises(FileFormatError) as error:
        list(parse_endnote_xml(io.BytesIO(data)))

    assert str(error.value) == message


# ---------------------------------------------------------------- CSV, real exports


def csv_count(path: Path, delimiter: str = ",") -> int:
    """Non-blank data rows as Python's csv module counts them (header excluded)."""
    with path.open(encoding="utf-8-sig", newline="") as file:
        rows = list(csv.reader(file, delimiter=delimiter))
    return sum(1 for row in rows[1:] if any(cell.strip() for cell in row))


def parse_path(path: Path) -> list[ParseResult]:
    # As the import service opens text: universal newlines, BOM removed.
    with path.open(encoding="utf-8-sig") as file:
        return list(parse_delimited(file))


@pytest.mark.parametrize("name", CSV_EXPORTS)
def test_csv_export_gives_one_record_per_row(name: str) -> None:
    path = shared_path("exports", name)

    results = parse_path(path)

    assert len(results) == csv_count(path) > 0
    assert rejections(results) == []
    assert all(record.title for record in records(results))


def test_csv_embase_reads_citation_from_source_and_doi_from_open_url() -> None:
    results = parse_path(shared_path("exports", "asreview-demo-data/embase.csv"))

    first = records(results)[0]
    assert (first.line, first.record_id) == (2, "1")
    assert first.authors == ["Liu, R.", "Adler, D.G."]
    assert (first.journal, first.year, first.volume, first.issue, first.pages) == (
        "Endoscopic Ultrasound",
        2014,
        "3",
        "3",
        "152-160",
    )
    assert first.doi == "10.4103/2303-9027.138783"
    assert first.issn == "2226-7190"
    assert first.keywords[:2] == ["article", "bronchogenic duplication cyst (diagnosis, surgery)"]
    assert first.url == ""  # the Open URL link is a library resolver, not the article
    third = records(results)[2]
    assert (third.journal, third.volume, third.issue, third.pages) == (
        "International Journal of Surgery Case Reports",
        "54",
        "",
        "83-86",
    )


def test_csv_pubmed_ieee_and_springer_layouts() -> None:
    exports = shared_path("exports", "colrev-loader-samples")

    (pubmed,) = records(parse_path(exports / "pubmed_csv.csv"))
    assert pubmed.authors == ["Smith, A", "Walter, B"]
    assert (pubmed.pmid, pubmed.pmcid, pubmed.doi) == (
        "11223344",
        "PMC1122334",
        "10.1111/nature1111",
    )
    assert (pubmed.journal, pubmed.year) == ("Nature", 2021)
    assert (pubmed.volume, pubmed.issue, pubmed.pages) == ("1", "2", "10-11")

    ieee = records(parse_path(exports / "ieee_csv.csv"))
    assert ieee[0].authors == ["Rottman, Joseph", "Carmel, Erran", "Lacity, Mary"]
    assert (ieee[0].journal, ieee[0].publication_type) == ("Computer", "Magazine")
    assert ieee[1].abstract.startswith("Crowdsourcing has exploded")
    assert "Solvers' sustained participation" in ieee[1].abstract

    (springer,) = records(parse_path(exports / "springer_csv.csv"))
    assert (springer.title, springer.journal, springer.doi) == (
        "Publication tilte",
        "Nature",
        "10.1007/11111",
    )
    assert (springer.volume, springer.issue, springer.year) == ("17", "3", 2000)
    assert springer.publication_type == "Article"


@pytest.mark.parametrize(
    ("folder", "name", "rejected_lines"),
    [
        ("Appenzeller-Herzog_2019_wilson", "wilson.csv", [789]),
        ("Cohen_2006_ACEInhibitors", "ACEInhibitors.csv", []),
        ("Jeyaraman_2020_synergy", "labels.csv", []),
    ],
)
def test_screening_sets_read_every_row(folder: str, name: str, rejected_lines: list[int]) -> None:
    path = shared_path("screening", folder, name)

    results = parse_path(path)

    assert len(results) == csv_count(path)
    # wilson.csv has one row with an abstract and nothing else.
    assert rejections(results) == [Rejection(line, EMPTY_RECORD) for line in rejected_lines]


def test_screening_set_ids_and_identifiers() -> None:
    ace = records(
        parse_path(shared_path("screening", "Cohen_2006_ACEInhibitors", "ACEInhibitors.csv"))
    )
    assert (ace[0].record_id, ace[0].pmid, ace[0].year) == ("1", "10024335", 1999)
    assert ace[0].authors[:2] == ["Nazzaro, P", "Manzari, M"]

    labels = records(parse_path(shared_path("screening", "Jeyaraman_2020_synergy", "labels.csv")))
    assert (labels[0].doi, labels[0].pmid) == ("10.1177/1947603519890754", "31793330")
    assert labels[0].url == "https://openalex.org/W2994178258"


def test_real_xlsx_screening_set() -> None:
    path = shared_path("screening", "van_de_Schoot_2017_ptsd", "van_de_Schoot_2017.xlsx")

    with path.open("rb") as stream:
        results = list(parse_xlsx(stream))

    assert len(results) == 6189
    first = records(results)[0]
    assert (first.line, first.record_id, first.year) == (2, "0", 2001)
    assert first.authors == ["Achenbach, T. M.", "Rescorla, L. A."]
    with_doi = next(record for record in records(results) if record.doi)
    assert with_doi.doi.startswith("10.")


# ---------------------------------------------------------------- CSV, small cases


def lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def test_csv_formula_cell_is_stored_as_text() -> None:
    text = 'title,doi\n"=HYPERLINK(""http://evil.example"",""Click"")",10.1/x\n'

    (record,) = list(parse_delimited(lines(text)))

    assert isinstance(record, ParsedRecord)
    assert record.title == '=HYPERLINK("http://evil.example","Click")'
    assert record.raw["title"] == ['=HYPERLINK("http://evil.example","Click")']


def test_csv_multi_line_cells_keep_physical_line_numbers() -> None:
    text = (
        "id,title,abstract\n"
        'a1,First,"line one\nline two\nline three"\n'
        "a2,Second,short\n"
        "\n"
        'a3,"A title\nin two lines",x\n'
        "a4,Fourth,y\n"
    )

    results = records(list(parse_delimited(lines(text))))

    assert [(r.line, r.record_id) for r in results] == [(2, "a1"), (5, "a2"), (7, "a3"), (9, "a4")]
    assert results[0].raw["abstract"] == ["line one\nline two\nline three"]
    assert results[2].title == "A title in two lines"


def test_csv_accepts_lines_without_line_ends_and_a_whole_text() -> None:
    text = 'title,abstract\nOne,"two\nlines"\nTwo,x\n'

    from_list = list(parse_delimited(text.split("\n")))
    from_text = list(parse_delimited(text))

    assert from_list == from_text
    assert [r.line for r in from_list] == [2, 4]
    assert records(from_list)[0].raw["abstract"] == ["two\nlines"]


def test_csv_semicolon_delimited_is_sniffed() -> None:
    text = 'Title;Authors;Year;DOI\n"A study, with commas";"Smith J., Doe A.";2020;10.1000/abc\n'

    (record,) = records(list(parse_delimited(lines(text))))

    assert record.title == "A study, with commas"
    assert record.authors == ["Smith, J.", "Doe, A."]
    assert (record.year, record.doi) == (2020, "10.1000/abc")


def test_csv_column_map_overrides_aliases() -> None:
    text = "Heading,Source,Title,Ref\nReal title,Journal of Things,Not the title,R-7\n"

    (record,) = records(
        list(
            parse_delimited(
                lines(text),
                column_map={"heading": "title", " SOURCE ": "journal", "Ref": "record_id"},
            )
        )
    )

    assert record.title == "Real title"
    assert record.journal == "Journal of Things"
    assert record.record_id == "R-7"
    assert record.raw["Title"] == ["Not the title"]


def test_csv_column_map_with_a_missing_column_is_refused() -> None:
    with pytest.raises(FileFormatError) as error:
        list(parse_delimited(lines("title\nx\n"), column_map={"Heading": "title"}))

    assert str(error.value) == 'the column map names columns that are not in the header: "Heading"'


def test_csv_column_map_to_an_unknown_field_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="column_map maps 'Heading' to 'heading'"):
        list(parse_delimited(lines("Heading\nx\n"), column_map={"Heading": "heading"}))


def test_csv_rows_with_nothing_identifying_are_rejected_with_their_line() -> None:
    text = "title,abstract,label\nA title,text,1\n,only an abstract,0\n,,1\n,,\n"

    results = list(parse_delimited(lines(text)))

    assert [type(r).__name__ for r in results] == ["ParsedRecord", "Rejection", "Rejection"]
    assert rejections(results) == [
        Rejection(line=3, message=EMPTY_RECORD),
        Rejection(line=4, message=EMPTY_RECORD),
    ]


def test_csv_without_a_known_column_is_refused() -> None:
    with pytest.raises(FileFormatError) as error:
        list(parse_delimited(lines("name,email,phone\nAda,ada@example.org,1\n")))

    assert str(error.value) == (
        'could not find a title, DOI or PMID column in the header: "name", "email", "phone"'
    )


def test_csv_preamble_before_the_header_is_skipped() -> None:
    text = (
        "Embase Session Results\n"
        "No.,Query,Results,Date\n"
        "#1,'duplication cyst'/exp,234,12 Jun 2019\n"
        "\n"
        "Title,Author Names,Source\n"
        '"Cysts","Liu R., Adler D.G.","Cancer (2004) 102:4 (253-258). Date of Publication: 2004"\n'
    )

    (record,) = list(parse_delimited(lines(text)))

    assert isinstance(record, ParsedRecord)
    assert (record.line, record.record_id, record.title) == (6, "1", "Cysts")
    assert (record.journal, record.year, record.pages) == ("Cancer", 2004, "253-258")


def test_csv_unclosed_quote_is_refused_with_its_line() -> None:
    text = 'title,doi\nFine,10.1/a\n"Never closed,10.1/b\nMore,10.1/c\n'

    with pytest.raises(FileFormatError) as error:
        list(parse_delimited(lines(text)))

    assert str(error.value) == "line 3: a quoted cell is never closed"


def test_csv_undoubled_quote_in_a_quoted_cell_is_refused() -> None:
    text = 'title,doi\n"A "quoted" word",10.1/a\n'

    with pytest.raises(FileFormatError) as error:
        list(parse_delimited(lines(text)))

    assert str(error.value) == 'line 2: a quote mark inside a quoted cell must be doubled ("")'


def test_csv_cell_larger_than_the_limit_is_refused() -> None:
    text = 'title,abstract\nT,"' + "x" * (10 * 1024 * 1024 + 1) + '"\n'

    with pytest.raises(FileFormatError) as error:
        list(parse_delimited(lines(text)))

    assert str(error.value) == "line 2: a cell is larger than 10 MB"


def test_tab_delimited_web_of_science() -> None:
    header = "PT\tAU\tAF\tTI\tSO\tDE\tID\tAB\tSN\tPY\tVL\tIS\tBP\tEP\tDI\tPM\tUT\t"
    row = (
        'J\tSmith, J; Doe, A\tSmith, John; Doe, Ann\t"Quoted" start of a title\tNATURE\t'
        "stem cells; diabetes\tMESENCHYMAL STEM-CELLS\tAn abstract.\t0028-0836\t2020\t5\t2\t"
        "10\t20\t10.1038/X\t12345678\tWOS:000123\t"
    )

    (record,) = list(parse_delimited(lines(f"\ufeff{header}\n{row}\n"), delimiter="\t"))

    assert isinstance(record, ParsedRecord)
    assert record.record_id == "WOS:000123"
    assert record.title == '"Quoted" start of a title'
    assert record.authors == ["Smith, John", "Doe, Ann"]
    assert (record.journal, record.year, record.volume, record.issue, record.pages) == (
        "NATURE",
        2020,
        "5",
        "2",
        "10-20",
    )
    assert (record.doi, record.pmid, record.issn) == ("10.1038/x", "12345678", "0028-0836")
    assert record.keywords == ["stem cells", "diabetes", "MESENCHYMAL STEM-CELLS"]
    assert record.raw["ID"] == ["MESENCHYMAL STEM-CELLS"]


def test_scopus_csv_prefers_full_author_names() -> None:
    text = (
        '"Authors","Author full names","Title","Year","Source title","Page start","Page end",'
        '"Art. No.","DOI","Link","Author Keywords","Index Keywords","PubMed ID","Source","EID"\n'
        '"Smith J., Doe A.","Smith, John (57200000001); Doe, Ann (57200000002)","T","2021",'
        '"J Test","","","e123","10.1/s","https://www.scopus.com/x","a; b","b; c","999",'
        '"Scopus","2-s2.0-1"\n'
    )

    (record,) = records(list(parse_delimited(lines(text))))

    assert record.authors == ["Smith, John", "Doe, Ann"]
    assert (record.journal, record.pages, record.pmid) == ("J Test", "e123", "999")
    assert record.keywords == ["a", "b", "c"]
    assert record.url == "https://www.scopus.com/x"
    assert record.record_id == "1"  # EID is kept in raw; the contract's id is id/record_id


@pytest.mark.parametrize(
    ("cell", "authors"),
    [
        ("Smith A, Walter B", ["Smith, A", "Walter, B"]),
        ("Liu R., Adler D.G.", ["Liu, R.", "Adler, D.G."]),
        ("Smith J.; Doe A.", ["Smith, J.", "Doe, A."]),
        ("Joseph Rottman, Erran Carmel", ["Rottman, Joseph", "Carmel, Erran"]),
        ("Achenbach, T. M., Rescorla, L. A.", ["Achenbach, T. M.", "Rescorla, L. A."]),
        ("Smith, John", ["Smith, John"]),
        ("Smith, John and Doe, Jane", ["Smith, John", "Doe, Jane"]),
        ("P Nazzaro; C E Klein", ["Nazzaro, P", "Klein, C E"]),
        # A group author stays whole (it was turned round into "Group, ALTS").
        ("Smith A, ALTS Group, et al.", ["Smith, A", "ALTS Group"]),
        ("van der Berg, Jan, Doe, Jane", ["van der Berg, Jan", "Doe, Jane"]),
    ],
)
def test_csv_author_cells(cell: str, authors: list[str]) -> None:
    text = f'title,authors\nT,"{cell}"\n'

    (record,) = records(list(parse_delimited(lines(text))))

    assert record.authors == authors


# ---------------------------------------------------------------- XLSX


def workbook_bytes(rows: list[list[object]], *, skip_rows: int = 0) -> io.BytesIO:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for _ in range(skip_rows):
        sheet.append([])
    for row in rows:
        sheet.append(row)
    stream = io.BytesIO()
    workbook.save(stream)
    stream.seek(0)
    return stream


def test_xlsx_rows_are_read_with_their_row_numbers_and_cell_types() -> None:
    stream = workbook_bytes(
        [
            ["record_id", "Title", "Authors", "Year", "PMID", "Date", "DOI"],
            [101, "First", "Smith, J; Doe, A", 2020, 12345678.0, datetime.date(2020, 5, 1), None],
            [],
            [102, "Second", None, 2019.0, None, None, "https://doi.org/10.1000/ABC"],
            [None, None, None, None, None, None, None],
            [None, None, None, 2018, None, None, None],
        ],
        skip_rows=1,
    )

    first, second, third = list(parse_xlsx(stream))

    assert isinstance(first, ParsedRecord)
    assert (first.line, first.record_id, first.title) == (3, "101", "First")
    assert first.authors == ["Smith, J", "Doe, A"]
    assert (first.year, first.pmid) == (2020, "12345678")
    assert first.raw["Date"] == ["2020-05-01"]
    assert isinstance(second, ParsedRecord)
    assert (second.line, second.record_id, second.year, second.doi) == (
        5,
        "102",
        2019,
        "10.1000/abc",
    )
    assert third == Rejection(line=7, message=EMPTY_RECORD)


def test_xlsx_column_map_and_unknown_header() -> None:
    stream = workbook_bytes([["Heading", "Notes"], ["A title", "n"]])

    (record,) = list(parse_xlsx(stream, column_map={"Heading": "title"}))
    assert isinstance(record, ParsedRecord) and record.title == "A title"

    with pytest.raises(FileFormatError) as error:
        list(parse_xlsx(workbook_bytes([["Heading", "Notes"], ["A title", "n"]])))
    assert str(error.value) == (
        'could not find a title, DOI or PMID column in the header: "Heading", "Notes"'
    )


@pytest.mark.parametrize(
    "data",
    [b"not a zip at all", b"PK\x03\x04broken", "zip-without-workbook"],
    ids=["text", "broken-zip", "zip-without-workbook"],
)
def test_xlsx_that_is_not_a_workbook_is_refused(data: bytes | str) -> None:
    if data == "zip-without-workbook":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("hello.txt", "hi")
        data = buffer.getvalue()
    assert isinstance(data, bytes)

    with pytest.raises(FileFormatError) as error:
        list(parse_xlsx(io.BytesIO(data)))

    assert str(error.value) == "the file is not a valid XLSX workbook"
