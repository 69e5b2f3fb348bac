"""The tagged-text importers: RIS, PubMed/MEDLINE, Web of Science and EBSCOhost text.

Every real export in the shared data folder is read and its records are counted against a
count made independently of the parser (``TY`` lines, blank-line-separated blocks, …), so
no record can go missing without a test failing. Small inline samples pin the quirks.
The Web of Science plain-text samples are written here from the format's documented layout:
the shared data holds Web of Science exports only as RIS.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from screening.importers.base import FileFormatError, ParsedRecord, ParseResult, Rejection
from screening.importers.ebsco import parse_ebsco
from screening.importers.encoding import open_text
from screening.importers.nbib import parse_nbib
from screening.importers.ris import (
    NO_ER_AT_END_WARNING,
    NO_ER_WARNING,
    NO_TY_WARNING,
    parse_ris,
)
from screening.importers.wos import NO_ER_AT_END_WARNING as WOS_NO_ER_AT_END
from screening.importers.wos import NO_PT_WARNING, parse_wos
from tests.shared_data import SHARED_DATA, shared_path

PARSERS = {"ris": parse_ris, "nbib": parse_nbib, "wos": parse_wos, "ebsco": parse_ebsco}
EMPTY_RECORD = "record has no title, authors, journal, DOI, PMID or URL"


def read(parser_name: str, path: Path) -> list[ParseResult]:
    with path.open("rb") as stream:
        text, _encoding, _warnings = open_text(stream)
        return list(PARSERS[parser_name](text))


def records(results: list[ParseResult]) -> list[ParsedRecord]:
    return [r for r in results if isinstance(r, ParsedRecord)]


def lines(text: str) -> Iterator[str]:
    """Lines with their endings, as a text file gives them."""
    return iter(text.splitlines(keepends=True))


# ---------------------------------------------------------------- independent counts


def count_ris(text: str) -> int:
    """Records in a RIS text: lines that start with ``TY  -`` (after a BOM, if any).

    ``ER`` lines would miss a record whose ``ER`` is lost (loader_ris_data.ris).
    """
    return len(re.findall(r"^\ufeff?TY  -", text, flags=re.MULTILINE))


def count_blocks(text: str) -> int:
    """Records in MEDLINE text: blocks of lines separated by blank lines."""
    return sum(1 for block in re.split(r"\n[ \t]*\n", text.replace("\r", "")) if block.strip())


def count_ebsco(text: str) -> int:
    """Detailed records: one per "Back to Search" page header."""
    return len(re.findall(r"^Back to Search", text, flags=re.MULTILINE))


COUNTERS = {"ris": count_ris, "nbib": count_blocks, "ebsco": count_ebsco}

# (path under the shared data folder, parser, records in the file, of which rejected)
REAL_FILES = [
    ("exports/asreview-demo-data/embase.ris", "ris", 6, 0),
    ("exports/asreview-demo-data/ovid_psycinfo.ris", "ris", 6, 0),
    ("exports/asreview-demo-data/ovid_zotero.ris", "ris", 6, 0),
    ("exports/asreview-demo-data/proquest.ris", "ris", 6, 0),
    ("exports/asreview-demo-data/pubmed_endnote.txt", "ris", 6, 0),
    ("exports/asreview-demo-data/pubmed_zotero.ris", "ris", 6, 0),
    ("exports/asreview-demo-data/scopus.ris", "ris", 6, 0),
    ("exports/asreview-demo-data/web_of_science.txt", "ris", 10, 0),
    ("exports/asysd-tests/ris_export.txt", "ris", 69, 0),
    ("exports/asysd-tests/scopus.ris", "ris", 10, 0),
    ("exports/asysd-tests/wos_test.ris", "ris", 50, 0),
    ("exports/citesource-gambling-harms/20221207_gambling-harms_crimjust_41.ris", "ris", 41, 0),
    ("exports/citesource-gambling-harms/20221207_gambling-harms_lens_49.ris", "ris", 49, 0),
    ("exports/citesource-gambling-harms/20221207_gambling-harms_psycinfo_124.ris", "ris", 124, 0),
    ("exports/citesource-gambling-harms/20221207_gambling-harms_pubmed_176.ris", "ris", 176, 0),
    ("exports/citesource-gambling-harms/20221207_gambling-harms_scopus_255.ris", "ris", 255, 0),
    ("exports/colrev-loader-samples/abi_inform_proquest_ris.ris", "ris", 2, 0),
    ("exports/colrev-loader-samples/ieee_ris.ris", "ris", 2, 0),
    ("exports/colrev-loader-samples/jstor_ris.ris", "ris", 4, 0),
    ("exports/colrev-loader-samples/loader_ris_data.ris", "ris", 2, 0),
    ("exports/colrev-loader-samples/psycinfo_ris.ris", "ris", 1, 0),
    ("exports/colrev-loader-samples/trid_ris.ris", "ris", 3, 0),
    ("exports/pybtexnbib/marcelis-20301770.nbib", "nbib", 1, 0),
    ("exports/colrev-loader-samples/loader_nbib_data.nbib", "nbib", 1, 0),
    ("exports/colrev-loader-samples/eric_nbib.nbib", "nbib", 1, 0),
    ("seed/ebsco-detailed-record.txt", "ebsco", 1, 0),
]

# Files in the shared folder that other importers read (BibTeX, CSV, XLSX, EndNote XML)
# or that no importer reads (EndNote tagged ``%T`` text).
OTHER_FORMATS = re.compile(r"\.(bib|csv|xlsx|enl)$|/ais_enl\.txt$")


@pytest.mark.parametrize(
    ("relative", "parser_name", "expected", "expected_rejected"),
    REAL_FILES,
    ids=[row[0].rsplit("/", 1)[-1] for row in REAL_FILES],
)
def test_every_record_of_a_real_export_is_imported_or_rejected(
    relative: str, parser_name: str, expected: int, expected_rejected: int
) -> None:
    path = shared_path(relative)
    text = path.read_bytes().decode("utf-8")
    independent = COUNTERS[parser_name](text)
    results = read(parser_name, path)
    rejected = [r for r in results if isinstance(r, Rejection)]

    assert independent == expected
    assert len(results) == expected
    assert len(rejected) == expected_rejected


def test_the_list_of_real_tagged_exports_is_complete() -> None:
    root = shared_path("exports")
    listed = {row[0] for row in REAL_FILES}
    on_disk = {
        str(p.relative_to(SHARED_DATA))
        for p in [*root.rglob("*"), *shared_path("seed").rglob("*")]
        if p.is_file()
    }
    unlisted = sorted(p for p in on_disk - listed if not OTHER_FORMATS.search(p))
    assert unlisted == []


# ---------------------------------------------------------------- RIS: real files


def test_ris_first_record_after_a_byte_order_mark_is_kept() -> None:
    path = shared_path("exports/asysd-tests/scopus.ris")
    assert path.read_bytes().startswith(b"\xef\xbb\xbfTY  - JOUR")

    first = records(read("ris", path))[0]

    assert first.line == 1
    assert first.title.startswith("Development and Validation of a Robust and Straightforward")
    assert first.authors[0] == "Furlanello, T."
    assert first.raw["TY"] == ["JOUR"]


def test_ris_bom_is_ignored_even_when_lines_come_straight_from_a_file() -> None:
    results = list(parse_ris(["\ufeffTY  - JOUR\n", "TI  - After a BOM\n", "ER  - \n"]))

    assert [r.title for r in records(results)] == ["After a BOM"]


def test_ris_scopus_record_fields() -> None:
    path = shared_path("exports/citesource-gambling-harms/20221207_gambling-harms_scopus_255.ris")
    first = records(read("ris", path))[0]

    assert first.title == (
        "How gambling problems relate to health and wellbeing in Australian households: "
        "Evidence from the Household Income and Labour Dynamics of Australia Survey"
    )
    assert first.authors == ["Tulloch, C.", "Hing, N.", "Browne, M.", "Rockloff, M."]
    assert first.year == 2023
    assert first.journal == "Addictive Behaviors"
    assert first.volume == "137"
    assert first.pages == "107538"  # the C7 article number: Scopus gives no SP/EP
    assert first.doi == "10.1016/j.addbeh.2022.107538"
    assert first.publication_type == "Article"
    assert first.record_id == "1"


def test_ris_scopus_pubmed_id_in_c2_and_endnote_pmcid() -> None:
    results = records(read("ris", shared_path("exports/asysd-tests/ris_export.txt")))
    by_id = {r.record_id: r for r in results}

    assert by_id["47159"].pmid == "15344782"  # Scopus: C2 is the PubMed ID
    assert by_id["374"].pmid == "22424230"  # EndNote from PubMed: AN, with DP NLM
    assert by_id["374"].pmcid == "PMC3319071"
    assert by_id["57530"].issn == "0964-6906"  # "0964-6906 (Print)0964-6906"


def test_ris_ovid_numbered_records_dates_and_doi_urls() -> None:
    results = records(read("ris", shared_path("exports/asreview-demo-data/ovid_psycinfo.ris")))
    first = results[0]

    assert first.line == 2  # line 1 is Ovid's record number "1."
    assert first.record_id == "2019-65183-001"
    assert first.year == 2019  # "Y1  - 2019//"
    assert first.doi == "10.1002/cpp.2398"  # "DO  - http://dx.doi.org/10.1002/cpp.2398"
    assert first.authors[0] == "Trindade, Ines A"
    assert first.journal == "Clinical Psychology & Psychotherapy"
    assert first.pages == ""  # "SP  - No" / "EP  - Specified"
    # The NL line Ovid writes after ER belongs to the record before it.
    assert first.raw["NL"] == ["Clin Psychol Psychother"]
    assert first.warnings == []


def test_ris_endnote_continuation_lines_are_separate_keywords() -> None:
    first = records(read("ris", shared_path("exports/asreview-demo-data/pubmed_endnote.txt")))[0]

    assert first.keywords[:3] == [
        "Animals",
        "Anti-Inflammatory Agents/adverse effects/pharmacokinetics/*pharmacology",
        "Boswellia/*chemistry",
    ]
    assert first.pmid == "21553931"
    assert first.record_id == "369"  # ID comes before AN
    assert first.authors[0] == "Abdel-Tawab, M."


def test_ris_embase_initials_after_the_family_name() -> None:
    first = records(read("ris", shared_path("exports/asreview-demo-data/embase.ris")))[0]

    assert first.authors == ["Liu, R.", "Adler, D.G."]
    assert first.journal == "Endoscopic Ultrasound"


def test_ris_record_without_er_ends_at_the_next_ty() -> None:
    path = shared_path("exports/colrev-loader-samples/loader_ris_data.ris")
    first, second = records(read("ris", path))

    assert first.line == 2
    assert first.warnings == [NO_ER_WARNING]
    assert first.pmid == "12345678"  # the loose "PMID - " tag
    assert first.keywords == ["keyword2", "keyword3"]  # "KW - keyword2" then bare lines
    assert second.title == "Title of a journal paper"
    assert second.warnings == []


def test_ris_doi_given_as_url_is_normalised() -> None:
    second = records(read("ris", shared_path("exports/colrev-loader-samples/trid_ris.ris")))[1]

    assert second.doi == "10.1444/j.hello.2018.05.005"
    assert second.year == 2018


def test_ris_lens_paragraphs_stay_in_the_abstract() -> None:
    path = shared_path("exports/citesource-gambling-harms/20221207_gambling-harms_lens_49.ris")
    thesis = next(r for r in records(read("ris", path)) if r.raw["TY"] == ["THES"])

    assert thesis.raw["AB"][0].count("\n\n") == 6
    assert "An initial systematic critical review" in thesis.abstract
    assert thesis.authors == ["Harris, Andrew"]


# ---------------------------------------------------------------- RIS: inline samples


def test_ris_last_record_without_er_is_imported_with_a_warning() -> None:
    text = "TY  - JOUR\nTI  - First\nER  - \n\nTY  - JOUR\nTI  - Last\nAU  - Smith, J"

    first, last = records(list(parse_ris(lines(text))))

    assert first.warnings == []
    assert (last.title, last.line, last.warnings) == ("Last", 5, [NO_ER_AT_END_WARNING])


def test_ris_continuation_lines_join_the_field_above() -> None:
    text = (
        "TY  - JOUR\r\n"
        "TI  - A title that\r\n"
        "   goes on\r\n"
        "AB  - First line.\r\n"
        "Second line.\r\n"
        "ER  - \r\n"
    )

    (record,) = records(list(parse_ris(lines(text))))

    assert record.title == "A title that goes on"
    assert record.raw["AB"] == ["First line.\nSecond line."]
    assert record.abstract == "First line. Second line."


@pytest.mark.parametrize(
    ("date", "year"),
    [("1988//", 1988), ("1988/05/03/", 1988), ("Start date: 20170812", 2017), ("Mar. 2017", 2017)],
)
def test_ris_year_from_ris_dates(date: str, year: int) -> None:
    text = f"TY  - JOUR\nTI  - T\nY1  - {date}\nER  - \n"

    (record,) = records(list(parse_ris(lines(text))))

    assert record.year == year


def test_ris_fields_prefer_the_full_journal_name_and_skip_editors() -> None:
    text = (
        "TY  - CHAP\n"
        "T1  - A chapter\n"
        "A1  - Doe, Jane\n"
        "A2  - Editor, Ed\n"
        "J2  - J Abbr\n"
        "JF  - The Journal in Full\n"
        "SN  - 978-3-16-148410-0\n"
        "DO  - https://doi.org/10.1000/ABC.Def\n"
        "UR  - https://example.org/chapter\n"
        "ER  - \n"
    )

    (record,) = records(list(parse_ris(lines(text))))

    assert record.authors == ["Doe, Jane"]
    assert record.journal == "The Journal in Full"
    assert (record.isbn, record.issn) == ("9783161484100", "")
    assert record.doi == "10.1000/abc.def"
    assert record.url == "https://example.org/chapter"
    assert record.publication_type == "CHAP"


def test_ris_empty_record_is_rejected_with_its_line() -> None:
    text = "TY  - JOUR\nTI  - Kept\nER  - \n\nTY  - JOUR\nPY  - 2020\nER  - \n"

    kept, rejected = list(parse_ris(lines(text)))

    assert isinstance(kept, ParsedRecord)
    assert rejected == Rejection(line=5, message=EMPTY_RECORD)


def test_ris_record_without_ty_is_imported_with_a_warning() -> None:
    text = "TY  - JOUR\nTI  - One\nER  - \n\nTI  - Two, its TY lost\nAU  - Roe, R\nER  - \n"

    one, two = records(list(parse_ris(lines(text))))

    assert (one.title, one.record_id) == ("One", "1")
    assert (two.title, two.line, two.record_id) == ("Two, its TY lost", 5, "2")
    assert two.warnings == [NO_TY_WARNING]


def test_ris_identifying_orphan_lines_before_the_next_ty_are_a_record() -> None:
    text = "TY  - JOUR\nTI  - One\nER  - \nTI  - Stray\nTY  - JOUR\nTI  - Three\nER  - \n"

    results = records(list(parse_ris(lines(text))))

    assert [(r.title, r.warnings) for r in results] == [
        ("One", []),
        ("Stray", [NO_TY_WARNING]),
        ("Three", []),
    ]


def test_ris_headers_and_trailers_outside_records_are_skipped() -> None:
    text = (
        "Provider: JSTOR http://www.jstor.org\n"
        "Database: JSTOR\n"
        "\n"
        "1.\n"
        "TY  - JOUR\n"
        "TI  - Only\n"
        "ER  -\n"
        "Link to the Ovid Full Text or citation: https://example.org\n"
    )

    results = list(parse_ris(lines(text)))

    assert [(r.title, r.line) for r in records(results)] == [("Only", 5)]
    assert len(results) == 1


def test_ris_reader_refuses_a_file_without_any_ty_or_er() -> None:
    with pytest.raises(FileFormatError) as error:
        list(parse_ris(lines("PMID- 1\nTI  - A MEDLINE record\nAU  - Smith J\n")))

    assert str(error.value) == "no records found: the file does not look like RIS"


# Records made of a few tags and values; serialised with any line ending, with or without
# a BOM, and with or without the final ER, every record comes back with its title.
_value = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")),
    min_size=1,
    max_size=30,
).filter(lambda v: v.strip() != "")


@settings(max_examples=200, deadline=None)
@given(
    titles=st.lists(_value, min_size=1, max_size=8),
    newline=st.sampled_from(["\n", "\r\n"]),
    bom=st.booleans(),
    last_er=st.booleans(),
)
def test_ris_every_generated_record_comes_back(
    titles: list[str], newline: str, bom: bool, last_er: bool
) -> None:
    chunks = []
    for number, title in enumerate(titles, 1):
        chunk = ["TY  - JOUR", f"TI  - {title}", f"ID  - r{number}"]
        if number < len(titles) or last_er:
            chunk.append("ER  - ")
        chunks.append(newline.join(chunk) + newline + newline)
    text = ("\ufeff" if bom else "") + "".join(chunks)

    results = list(parse_ris(lines(text)))

    assert [r.record_id for r in records(results)] == [f"r{n}" for n in range(1, len(titles) + 1)]
    assert [r.title for r in records(results)] == [" ".join(t.split()) for t in titles]


# ---------------------------------------------------------------- PubMed / MEDLINE


def test_nbib_real_record_with_continuation_lines() -> None:
    (record,) = records(read("nbib", shared_path("exports/pybtexnbib/marcelis-20301770.nbib")))

    assert record.record_id == record.pmid == "20301770"
    assert record.title == "Feingold Syndrome 1."
    assert record.authors == ["Marcelis, Carlo LM", "de Brouwer, Arjan PM"]  # FAU, not ED
    assert record.year == 1993
    assert record.abstract.startswith(
        "CLINICAL CHARACTERISTICS: Feingold syndrome 1 (referred to as FS1 in this "
        "GeneReview) is characterized by digital anomalies"
    )
    assert record.abstract.endswith("prenatal and preimplantation genetic testing are possible.")
    assert record.publication_type == "Review; Book Chapter"
    assert record.language == "eng"
    assert "MYCN" in record.keywords


def test_nbib_eric_record_without_pmid() -> None:
    (record,) = records(read("nbib", shared_path("exports/colrev-loader-samples/eric_nbib.nbib")))

    assert record.record_id == "1"
    assert record.line == 2
    assert record.doi == "10.1000/123456789"  # "AID - http://dx.doi.org/10.1000/123456789"
    assert record.issn == "1234-4567"  # "ISSN - ISSN-1234-4567"
    assert record.url == "http://eric.ed.gov/?id=EJ1131633"
    assert record.authors == ["Smith, Tom", "Hunter, Shawn"]
    assert record.journal == "Journal Name"
    assert (record.volume, record.issue, record.pages) == ("10", "1", "1-9")


NBIB_TWO = (
    "PMID- 39468609\n"
    "OWN - NLM\n"
    "IS  - 1757-6512 (Electronic)\n"
    "VI  - 15\n"
    "IP  - 1\n"
    "DP  - 2024 Oct 29\n"
    "TI  - Human mesenchymal stem/stromal cell based-therapy in diabetes mellitus:\n"
    "      experimental and clinical perspectives.\n"
    "PG  - 384\n"
    "LID - 384\n"
    "LID - 10.1186/s13287-024-03974-z [doi]\n"
    "FAU - Zeinhom, Ahmed\n"
    "AU  - Zeinhom A\n"
    "AU  - Fadallah SA\n"
    "LA  - eng\n"
    "PT  - Journal Article\n"
    "PT  - Review\n"
    "TA  - Stem Cell Res Ther\n"
    "JT  - Stem cell research & therapy\n"
    "MH  - Humans\n"
    "OT  - Diabetes mellitus\n"
    "PMC - PMC11514893\n"
    "\n"
    "PMID- 12345678\n"
    "TI  - Second record, last line without a line ending\n"
    "AID - S0140-6736(20)30000-1 [pii]\n"
    "AU  - Smith JA"
)


def test_nbib_fields_and_a_last_record_without_trailing_newline() -> None:
    first, second = records(list(parse_nbib(lines(NBIB_TWO))))

    assert first.title == (
        "Human mesenchymal stem/stromal cell based-therapy in diabetes mellitus: "
        "experimental and clinical perspectives."
    )
    assert first.authors == ["Zeinhom, Ahmed"]  # FAU wins over AU when present
    assert first.journal == "Stem cell research & therapy"
    assert first.doi == "10.1186/s13287-024-03974-z"
    assert (first.year, first.volume, first.issue, first.pages) == (2024, "15", "1", "384")
    assert first.issn == "1757-6512"
    assert first.pmcid == "PMC11514893"
    assert first.keywords == ["Diabetes mellitus", "Humans"]
    assert (second.line, second.pmid) == (24, "12345678")
    assert second.authors == ["Smith, JA"]
    assert second.doi == ""  # a [pii] is not a DOI


def test_nbib_new_pmid_starts_a_record_without_a_blank_line() -> None:
    text = "PMID- 1\nTI  - One\nPMID- 2\nTI  - Two\n"

    results = records(list(parse_nbib(lines(text))))

    assert [(r.pmid, r.title, r.line) for r in results] == [("1", "One", 1), ("2", "Two", 3)]


def test_nbib_record_with_nothing_identifying_is_rejected() -> None:
    text = "PMID- 1\nTI  - One\n\nOWN - NLM\nSTAT- MEDLINE\n"

    results = list(parse_nbib(lines(text)))

    assert results[1] == Rejection(line=4, message=EMPTY_RECORD)


def test_pubmed_endnote_txt_is_ris_not_medline() -> None:
    # asreview's "pubmed_endnote.txt" is RIS written by EndNote: the MEDLINE reader finds
    # no PMID lines in it; the RIS reader finds all six records.
    path = shared_path("exports/asreview-demo-data/pubmed_endnote.txt")

    assert "PMID-" not in path.read_text(encoding="utf-8")
    assert len(records(read("ris", path))) == 6


# ---------------------------------------------------------------- Web of Science

WOS_SAMPLE = """FN Clarivate Analytics Web of Science
VR 1.0
PT J
AU Alceste, F
   Luke, TJ
AF Alceste, Fabiana
   Luke, Timothy J.
TI Holding Yourself Captive: Perceptions of Custody During Interviews and
   Interrogations
SO JOURNAL OF APPLIED RESEARCH IN MEMORY AND COGNITION
LA English
DT Article
DE Police custody; Interview; Interrogation;
   Perception of freedom
ID PERSPECTIVE-TAKING; INNOCENCE
AB Police custody activates important legal safeguards.
C1 [Alceste, Fabiana] CUNY John Jay Coll Criminal Justice, New York, NY USA.
   [Luke, Timothy J.] Univ Gothenburg, Gothenburg, Sweden.
SN 2211-3681
EI 2211-369X
PD SEP
PY 2018
VL 7
IS 3
BP 387
EP 397
DI 10.1016/j.jarmac.2018.03.001
PM 30000001
UT WOS:000444108200009
ER

PT J
AU Appleby, SC
TI When Self-Report Trumps Science
SO PSYCHOLOGY PUBLIC POLICY AND LAW
PY 2013
VL 19
IS 2
AR 127
DI https://doi.org/10.1037/A0030518
UT WOS:000318237200002
ER

EF
"""


def test_wos_plain_text_fields() -> None:
    first, second = records(list(parse_wos(lines(WOS_SAMPLE))))

    assert first.line == 3
    assert first.record_id == "WOS:000444108200009"
    assert first.title == (
        "Holding Yourself Captive: Perceptions of Custody During Interviews and Interrogations"
    )
    assert first.authors == ["Alceste, Fabiana", "Luke, Timothy J."]  # AF, one per line
    assert first.year == 2018
    assert first.journal == "JOURNAL OF APPLIED RESEARCH IN MEMORY AND COGNITION"
    assert (first.volume, first.issue, first.pages) == ("7", "3", "387-397")
    assert first.doi == "10.1016/j.jarmac.2018.03.001"
    assert first.pmid == "30000001"
    assert first.issn == "2211-3681"
    assert first.keywords == [
        "Police custody",
        "Interview",
        "Interrogation",
        "Perception of freedom",
        "PERSPECTIVE-TAKING",
        "INNOCENCE",
    ]
    assert len(first.raw["C1"]) == 2
    assert first.publication_type == "Article"
    assert (second.authors, second.pages, second.doi) == (
        ["Appleby, SC"],
        "127",
        "10.1037/a0030518",
    )


def test_wos_record_without_er_and_lines_without_pt() -> None:
    text = "FN Clarivate Analytics Web of Science\nVR 1.0\nTI Lost its PT\nER\nPT J\nTI Cut off"

    first, second = records(list(parse_wos(lines(text))))

    assert (first.title, first.line, first.warnings) == ("Lost its PT", 3, [NO_PT_WARNING])
    assert (second.title, second.line, second.warnings) == ("Cut off", 5, [WOS_NO_ER_AT_END])
    assert second.record_id == "2"


def test_wos_record_with_nothing_identifying_is_rejected() -> None:
    text = "FN Clarivate Analytics Web of Science\nVR 1.0\nPT J\nPY 2020\nER\nEF\n"

    assert list(parse_wos(lines(text))) == [Rejection(line=3, message=EMPTY_RECORD)]


# ---------------------------------------------------------------- EBSCOhost


def test_ebsco_seed_detailed_record() -> None:
    (record,) = records(read("ebsco", shared_path("seed/ebsco-detailed-record.txt")))

    assert record.line == 3
    assert record.title == (
        "Human mesenchymal stem/stromal cell based-therapy in diabetes mellitus: "
        "experimental and clinical perspectives."
    )
    assert record.authors == ["Zeinhom, A", "Fadallah, SA", "Mahmoud, M"]
    assert record.year == 2024
    assert record.journal == "Stem cell research & therapy"
    assert (record.volume, record.issue, record.pages) == ("15", "1", "384")
    assert record.pmid == record.record_id == "39468609"
    assert record.doi == "10.1186/s13287-024-03974-z"
    assert record.issn == "1757-6512"
    assert record.language == "English"
    assert record.publication_type == "Academic Journal"
    assert record.abstract.startswith("Diabetes mellitus (DM), a chronic metabolic disease")


EBSCO_TWO = """Record: 1
Title:
Cell therapy for type 1 diabetes
Authors:
Doe J; Roe R
Source:
Diabetologia, Vol. 60 Issue 4, p. 701-710
Publication Year:
2017
Abstract:
First paragraph of the abstract.

Second paragraph.
Subjects:
Stem cells; Diabetes
DOI:
10.1007/s00125-017-4200-1
Accession Number:
121000001
Database:
Academic Search Complete

Record: 2
Title: A second record on one line
Accession Number: 121000002
"""


def test_ebsco_several_records_in_one_file() -> None:
    first, second = records(list(parse_ebsco(lines(EBSCO_TWO))))

    assert first.title == "Cell therapy for type 1 diabetes"
    assert first.authors == ["Doe, J", "Roe, R"]
    assert first.journal == "Diabetologia"
    assert (first.volume, first.issue, first.pages) == ("60", "4", "701-710")
    assert first.doi == "10.1007/s00125-017-4200-1"
    assert first.pmid == ""  # an accession number outside MEDLINE is not a PMID
    assert first.record_id == "121000001"
    assert first.abstract == "First paragraph of the abstract. Second paragraph."
    assert first.keywords == ["Stem cells", "Diabetes"]
    assert (second.title, second.record_id, second.line) == (
        "A second record on one line",
        "121000002",
        24,
    )
