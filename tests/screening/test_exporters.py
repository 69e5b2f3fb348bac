"""The citation and table writers: what they write reads back through our own importers,
and no cell of a CSV or XLSX export can run as a spreadsheet formula.

The writers are pure (no ORM), so these tests run without Django.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from screening.exporters import (
    bibtex_type,
    iter_bibtex,
    iter_csv,
    iter_ris,
    iter_rows_csv,
    ris_type,
    write_bibtex,
    write_csv,
    write_ris,
    write_rows_csv,
    write_rows_xlsx,
)
from screening.importers import ParsedRecord, parse_file
from screening.importers.base import clean_text
from screening.importers.bibtex import parse_bibtex

RECORDS: list[dict[str, Any]] = [
    {
        "id": 101,
        "title": "Effect of café-based interventions on blood pressure: a randomised trial",
        "abstract": "Background: Coffee is popular.\n\nMethods: We randomised 200 adults.\n"
        "Results:  blood pressure fell.",
        "authors": ["Müller, Jörg", "Żółkiewska, Anna-Maria", "O'Brien, P. J."],
        "year": 2019,
        "journal": "Zeitschrift für Kardiologie",
        "volume": "108",
        "issue": "4",
        "pages": "123-130",
        "doi": "10.1007/s00392-019-01234-5",
        "pmid": "30912345",
        "pmcid": "PMC6543210",
        "issn": "1861-0684",
        "keywords": ["Blood Pressure", "Coffee", "Carcinoma, Ductal", "血压"],
        "language": "ger",
        "publication_type": "Journal Article; Randomized Controlled Trial",
        "url": "https://link.springer.com/article/10.1007/s00392-019-01234-5",
        "source": "Embase",
        "stage_status": "excluded",
        "reason": "wrong comparator",
    },
    {
        "id": "emb-2",
        "title": "Σ-statistics and the “ratio” of 50% & more",
        "abstract": "",
        "authors": ["Nguyễn, Văn An"],
        "year": 2021,
        "journal": "BMJ Open",
        "volume": "11",
        "issue": "",
        "pages": "e045678",
        "doi": "10.1136/bmjopen-2020-045678",
        "pmid": "",
        "keywords": [],
        "publication_type": "",
    },
    {
        "id": 3,
        "title": "A record with only a title",
        "authors": [],
        "year": None,
    },
]
COMPARED = ("title", "authors", "year", "doi", "pmid", "journal", "volume", "issue", "pages")


def ris_text(records: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    write_ris(records, out)
    return out.getvalue()


def read_ris(text: str) -> list[ParsedRecord]:
    parsed = parse_file(io.BytesIO(text.encode("utf-8")))
    assert parsed.format == "ris"
    results = list(parsed.results)
    assert all(isinstance(r, ParsedRecord) for r in results), results
    return [r for r in results if isinstance(r, ParsedRecord)]


def bibtex_text(records: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    write_bibtex(records, out)
    return out.getvalue()


def read_bibtex(text: str) -> list[ParsedRecord]:
    results = list(parse_bibtex(text))
    assert all(isinstance(r, ParsedRecord) for r in results), results
    return [r for r in results if isinstance(r, ParsedRecord)]


def expected(record: dict[str, Any], name: str) -> Any:
    value = record.get(name)
    if name in ("authors", "keywords"):
        return value or []
    if name == "year":
        return value
    return value or ""


# ------------------------------------------------------------------------- RIS


def test_ris_round_trip_keeps_the_citation_fields() -> None:
    out = io.StringIO()
    assert write_ris(RECORDS, out) == 3

    parsed = read_ris(out.getvalue())

    assert len(parsed) == 3
    for record, back in zip(RECORDS, parsed, strict=True):
        for name in (*COMPARED, "keywords", "pmcid", "issn", "language", "url"):
            assert getattr(back, name) == expected(record, name), name
        assert back.record_id == str(record["id"])
        assert back.warnings == []


def test_ris_writes_a_multi_line_abstract_on_one_line() -> None:
    text = ris_text(RECORDS[:1])
    [back] = read_ris(text)

    assert back.abstract == (
        "Background: Coffee is popular. Methods: We randomised 200 adults. "
        "Results: blood pressure fell."
    )
    assert [line for line in text.splitlines() if line.startswith("AB")] == [
        "AB  - " + back.abstract
    ]


def test_ris_lines_are_tagged_and_end_with_crlf() -> None:
    text = ris_text(RECORDS)

    assert text.startswith("TY  - JOUR\r\n")
    lines = text.split("\r\n")
    assert all(re.fullmatch(r"[A-Z][A-Z0-9]  - .*", line) for line in lines if line), lines
    assert text.count("ER  - \r\n") == 3


def test_ris_writes_the_exclusion_reason_as_a_note_and_ignores_other_extra_keys() -> None:
    text = ris_text(RECORDS[:2])

    assert "N1  - Excluded: wrong comparator\r\n" in text
    assert text.count("N1  - ") == 1
    assert "Embase" not in text
    assert "excluded\r\n" not in text


def test_ris_splits_page_ranges_and_keeps_single_pages() -> None:
    text = ris_text(
        [
            {"id": 1, "title": "a", "pages": "123-130"},
            {"id": 2, "title": "b", "pages": "e045678"},
            {"id": 3, "title": "c", "pages": "S12\u2013S15"},
        ]
    )

    assert "SP  - 123\r\nEP  - 130\r\n" in text
    assert "SP  - e045678\r\nEP" not in text
    assert "SP  - e045678\r\n" in text
    assert "SP  - S12\r\nEP  - S15\r\n" in text


def test_ris_writes_the_pmid_with_its_database_and_the_pmcid_in_c2() -> None:
    text = ris_text(RECORDS[:1])

    assert "AN  - 30912345\r\nDB  - PubMed\r\nC2  - PMC6543210\r\n" in text


@pytest.mark.parametrize(
    ("publication_type", "ty"),
    [
        ("", "JOUR"),
        ("Journal Article; Review", "JOUR"),
        ("CHAP", "CHAP"),
        ("Conference Abstract", "ABST"),
        ("inproceedings", "CPAPER"),
        ("Book", "BOOK"),
        ("Book Chapter", "CHAP"),
        ("Dissertation/Thesis", "THES"),
        ("Preprint", "UNPB"),
        ("something nobody knows", "JOUR"),
    ],
)
def test_ris_type_comes_from_the_publication_type(publication_type: str, ty: str) -> None:
    assert ris_type(publication_type) == ty


def test_ris_keeps_an_unmapped_publication_type_in_m3() -> None:
    [back] = read_ris(ris_text([{"id": 1, "title": "t", "publication_type": "Letter"}]))

    assert back.publication_type == "Letter"


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=60))
def test_ris_round_trips_any_title(title: str) -> None:
    [back] = read_ris(ris_text([{"id": 1, "title": title, "doi": "10.1000/x"}]))

    assert back.title == clean_text(title)


# ---------------------------------------------------------------------- BibTeX


def test_bibtex_round_trip_keeps_titles_authors_years_and_dois() -> None:
    out = io.StringIO()
    assert write_bibtex(RECORDS, out) == 3

    parsed = read_bibtex(out.getvalue())

    assert len(parsed) == 3
    for record, back in zip(RECORDS, parsed, strict=True):
        for name in (*COMPARED, "keywords", "pmcid", "issn", "language", "url"):
            assert getattr(back, name) == expected(record, name), name
        assert back.abstract == " ".join((record.get("abstract") or "").split())


def test_bibtex_escapes_latex_specials_so_text_comes_back_as_written() -> None:
    title = r"50% of $5 & #1 a_b {x} c\d ~ -- `` '' ?` <<>> results"
    record = {
        "id": 1,
        "title": title,
        "authors": ["Johnson & Johnson", "Ministry of Health and Welfare", "Smith, {J}"],
        "year": 2020,
        "doi": "10.1000/a_b%c",
        "url": "https://example.org/q?a=1&b=50%25#frag",
    }

    text = bibtex_text([record])
    [back] = read_bibtex(text)

    assert "\\%" in text and "\\&" in text and "-{}-" in text
    assert back.title == title
    assert back.authors == record["authors"]
    assert back.doi == "10.1000/a_b%c"
    assert back.url == record["url"]


def test_bibtex_braces_organisations_so_they_are_not_split_into_names() -> None:
    text = bibtex_text([{"title": "t", "authors": ["World Health Organization", "Doe, Jane"]}])

    assert "author = {{World Health Organization} and Doe, Jane}," in text


def test_bibtex_keys_are_ascii_family_and_year_made_unique_with_a_counter() -> None:
    records: list[dict[str, Any]] = [
        {"title": "a", "authors": ["Müller, Jörg"], "year": 2019},
        {"title": "b", "authors": ["Muller, Hans"], "year": 2019},
        {"title": "c", "authors": ["müller, Eva"], "year": 2019},
        {"title": "d", "authors": ["van der Berg, K"], "year": 2020},
        {"title": "e", "authors": ["李, 小龙"]},
        {"title": "f"},
    ]

    keys = [r.record_id for r in read_bibtex(bibtex_text(records))]

    assert keys == [
        "Muller2019",
        "Muller2019_2",
        "muller2019_3",
        "vanderBerg2020",
        "Anon",
        "Anon_2",
    ]
    assert all(key.isascii() for key in keys)


def test_bibtex_entry_type_and_container_follow_the_publication_type() -> None:
    records: list[dict[str, Any]] = [
        {"title": "a", "journal": "Lancet", "publication_type": "Journal Article"},
        {"title": "b", "journal": "Proc. ICML", "publication_type": "Conference Paper"},
        {"title": "c", "journal": "Lecture Notes", "publication_type": "BOOK"},
        {"title": "d", "journal": "Handbook", "publication_type": "Book Chapter"},
    ]

    text = bibtex_text(records)

    assert [bibtex_type(r["publication_type"]) for r in records] == [
        "article",
        "inproceedings",
        "book",
        "incollection",
    ]
    assert "@article{Anon,\n  title = {a},\n  journal = {Lancet}," in text
    assert "@inproceedings{Anon_2,\n  title = {b},\n  booktitle = {Proc. ICML}," in text
    assert "@book{Anon_3,\n  title = {c},\n  series = {Lecture Notes}," in text
    assert "@incollection{Anon_4,\n  title = {d},\n  booktitle = {Handbook}," in text
    assert [r.journal for r in read_bibtex(text)] == [r["journal"] for r in records]


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="^"),
        max_size=60,
    )
)
def test_bibtex_round_trips_any_title(title: str) -> None:
    # "^" is left out: LaTeX's \textasciicircum reads back as the modifier letter "ˆ".
    [back] = read_bibtex(bibtex_text([{"title": title, "doi": "10.1000/x"}]))

    assert back.title == clean_text(title)


# ------------------------------------------------------------------------- CSV

FORMULAS = ['=HYPERLINK("http://evil.example","click")', "+1", "-2", "@SUM(A1:A9)"]


def test_csv_prefixes_formula_like_cells_with_an_apostrophe() -> None:
    records: list[dict[str, Any]] = [
        {"id": 1, "title": FORMULAS[0], "journal": FORMULAS[1], "pages": FORMULAS[2]},
        {"id": 2, "title": FORMULAS[3], "journal": "\tTabbed", "pages": "12-15"},
    ]
    out = io.StringIO(newline="")

    assert write_csv(records, out, columns=["id", "title", "journal", "pages"]) == 2

    rows = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert rows == [
        ["id", "title", "journal", "pages"],
        ["1", "'" + FORMULAS[0], "'+1", "'-2"],
        ["2", "'@SUM(A1:A9)", "'\tTabbed", "12-15"],
    ]


def test_csv_joins_lists_leaves_missing_keys_empty_and_keeps_newlines() -> None:
    records: list[dict[str, Any]] = [
        {
            "authors": ["Smith, J", "=cmd|' /C calc'!A0"],
            "abstract": "one\ntwo",
            "year": 2020,
            "at": dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.UTC),
        }
    ]
    out = io.StringIO(newline="")

    write_csv(records, out, columns=["authors", "abstract", "year", "doi", "at"])

    rows = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert rows[1] == [
        "Smith, J; =cmd|' /C calc'!A0",
        "one\ntwo",
        "2020",
        "",
        "2024-05-01T09:30:00+00:00",
    ]


def test_csv_list_cell_starting_with_a_formula_is_prefixed() -> None:
    out = io.StringIO(newline="")

    write_csv([{"authors": ["=1+1", "x"]}], out, columns=["authors"])

    assert list(csv.reader(io.StringIO(out.getvalue())))[1] == ["'=1+1; x"]


def test_rows_csv_writes_the_header_and_counts_the_rows() -> None:
    out = io.StringIO(newline="")

    count = write_rows_csv(["record", "decision"], [(1, "=include"), (2, None)], out)

    assert count == 2
    assert out.getvalue() == "record,decision\r\n1,'=include\r\n2,\r\n"


def test_iter_writers_yield_what_the_write_writers_write() -> None:
    columns = ["id", "title", "authors"]
    csv_out, rows_out = io.StringIO(), io.StringIO()
    write_csv(RECORDS, csv_out, columns=columns)
    write_rows_csv(["a", "b"], [["=x", 1]], rows_out)

    assert "".join(iter_ris(RECORDS)) == ris_text(RECORDS)
    assert "".join(iter_bibtex(RECORDS)) == bibtex_text(RECORDS)
    assert "".join(iter_csv(RECORDS, columns=columns)) == csv_out.getvalue()
    assert "".join(iter_rows_csv(["a", "b"], [["=x", 1]])) == rows_out.getvalue()


# ------------------------------------------------------------------------ XLSX


def test_xlsx_formula_like_strings_are_text_not_formulas() -> None:
    out = io.BytesIO()
    write_rows_xlsx({"Records": (["id", "title"], [[i, f] for i, f in enumerate(FORMULAS)])}, out)

    sheet = load_workbook(io.BytesIO(out.getvalue()))["Records"]
    cells = [row[1] for row in sheet.iter_rows(min_row=2)]
    assert [c.value for c in cells] == ["'" + f for f in FORMULAS]
    assert all(c.data_type == "s" for c in cells)
    assert [row[0].value for row in sheet.iter_rows(min_row=2)] == [0, 1, 2, 3]


def test_xlsx_keeps_error_codes_as_text_and_drops_characters_xml_cannot_hold() -> None:
    out = io.BytesIO()
    write_rows_xlsx({"Data": (["value"], [["#N/A"], ["a\x00b\x0bc"], [["x", "-y"]]])}, out)

    sheet = load_workbook(io.BytesIO(out.getvalue()))["Data"]
    cells = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert [(c.value, c.data_type) for c in cells] == [
        ("#N/A", "s"),
        ("abc", "s"),
        ("x; -y", "s"),
    ]


def test_xlsx_writes_aware_datetimes_as_iso_text_and_naive_ones_as_dates() -> None:
    aware = dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    naive = dt.datetime(2024, 5, 1, 9, 30)
    out = io.BytesIO()

    write_rows_xlsx({"Votes": (["at"], [[aware], [naive], [dt.date(2024, 5, 2)]])}, out)

    sheet = load_workbook(io.BytesIO(out.getvalue()))["Votes"]
    values = [row[0].value for row in sheet.iter_rows(min_row=2)]
    assert values == ["2024-05-01T09:30:00+02:00", naive, dt.datetime(2024, 5, 2)]


def test_xlsx_makes_sheet_titles_valid_and_unique() -> None:
    out = io.BytesIO()
    sheets = {
        "Form: risk/bias?": (["a"], [[1]]),
        "form_ risk_bias_": (["b"], [[2]]),
        "A very long form name that Excel would refuse": (["c"], []),
    }

    write_rows_xlsx(sheets, out)

    workbook = load_workbook(io.BytesIO(out.getvalue()))
    assert workbook.sheetnames == [
        "Form_ risk_bias_",
        "form_ risk_bias_ (2)",
        "A very long form name that Exce",
    ]
    assert workbook["A very long form name that Exce"]["A1"].value == "c"
    assert workbook["A very long form name that Exce"]["A1"].font.b


def test_xlsx_with_no_sheets_is_still_a_workbook() -> None:
    out = io.BytesIO()

    write_rows_xlsx({}, out)

    assert load_workbook(io.BytesIO(out.getvalue())).sheetnames == ["Sheet"]
