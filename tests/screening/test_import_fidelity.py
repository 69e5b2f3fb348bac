"""Fields that imports used to lose or garble (issue #19), each on a file shaped like the
export that showed it: Web of Science pages in ``PS``, several authors on one line, a GBK
BibTeX file, HTML entities in Scopus RIS, MEDLINE's repeated and unspaced tags, RIS without
``TY``, and the BibTeX round trip.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse

from reviewflow.errors import ReviewflowError
from screening.exporters import write_bibtex
from screening.importers import ParsedFile, ParsedRecord, ParseResult, parse_file
from screening.importers.base import as_dict
from screening.importers.bibtex import parse_bibtex
from screening.importers.encoding import CP1252_WARNING
from screening.importers.ris import NO_TY_WARNING
from screening.models import Search, SearchStatus
from screening.services import identification
from tests.screening.factories import upload
from tests.shared_data import shared_path


def read(data: bytes, **options: Any) -> tuple[ParsedFile, list[ParseResult]]:
    parsed = parse_file(io.BytesIO(data), **options)
    results = list(parsed.results)  # the file's warnings are complete once this is read
    return parsed, results


def records(results: list[ParseResult]) -> list[ParsedRecord]:
    assert all(isinstance(r, ParsedRecord) for r in results), results
    return [r for r in results if isinstance(r, ParsedRecord)]


# ------------------------------------------------------------ Web of Science pages in PS

# A Zoological Record record as Web of Science exports it: pages in PS, no BP/EP.
ZOOLOGICAL_RECORD = """\
FN Clarivate Analytics Web of Science
VR 1.0
PT J
AU Kovacs, G
   Nagy, Z
TI Seasonal activity of ground beetles (Coleoptera: Carabidae) in an
   urban forest
SO Acta Zoologica Academiae Scientiarum Hungaricae
PY 2012
VL 58
IS 2
PS 134-141
UT ZOOREC:ZOOR14806038339
ER

EF
"""


def test_web_of_science_pages_in_ps_are_read() -> None:
    parsed, results = read(ZOOLOGICAL_RECORD.encode())
    [record] = records(results)
    assert parsed.format == "wos"
    assert (record.volume, record.issue, record.pages) == ("58", "2", "134-141")


def test_web_of_science_begin_and_end_pages_still_come_first() -> None:
    text = ZOOLOGICAL_RECORD.replace("PS 134-141", "BP 134\nEP 141\nPS 1-8")
    [record] = records(read(text.encode())[1])
    assert record.pages == "134-141"


# ------------------------------------------------------- several authors on one AU line

JOFFE = ["Joffe, Hadine", "Hall, Janet E", "Gruber, Staci", "Sarmiento, Ingrid A"]
AUTHORS_LINE = "; ".join(JOFFE)

SEMICOLON_AUTHORS = {
    "ris": f"TY  - JOUR\nAU  - {AUTHORS_LINE}\nTI  - Menopausal sleep\nPY  - 2014\nER  - \n",
    "wos": (
        "FN Clarivate Analytics Web of Science\nVR 1.0\n"
        f"PT J\nAU {AUTHORS_LINE}\nTI Menopausal sleep\nPY 2014\nER\n\nEF\n"
    ),
    "nbib": f"PMID- 24810327\nTI  - Menopausal sleep\nFAU - {AUTHORS_LINE}\nDP  - 2014\n",
}


@pytest.mark.parametrize("fmt", sorted(SEMICOLON_AUTHORS))
def test_authors_separated_by_semicolons_on_one_line_are_split(fmt: str) -> None:
    parsed, results = read(SEMICOLON_AUTHORS[fmt].encode())
    [record] = records(results)
    assert parsed.format == fmt
    assert record.authors == JOFFE


def test_one_author_a_line_is_unchanged() -> None:
    text = "TY  - JOUR\n" + "".join(f"AU  - {name}\n" for name in JOFFE) + "TI  - T\nER  - \n"
    [record] = records(read(text.encode())[1])
    assert record.authors == JOFFE


# ------------------------------------------------------------------- encodings: GBK

# A BibTeX export of a Chinese database (CNKI and others write GBK).
CNKI_BIBTEX = """\
@article{ZHZY202001001,
  author = {凯撒 and 王小明 and 李华},
  title = {间充质干细胞治疗2型糖尿病的临床研究进展},
  journal = {测试期刊},
  year = {2020},
  volume = {35},
  number = {1},
  pages = {12--18},
  keywords = {间充质干细胞;糖尿病;临床研究},
  abstract = {目的：探讨间充质干细胞治疗2型糖尿病的疗效与安全性。方法：检索中国知网。},
}
"""


def test_gbk_bibtex_is_detected_and_read_with_a_warning_naming_it() -> None:
    parsed, results = read(CNKI_BIBTEX.encode("gbk"))
    [record] = records(results)
    assert (parsed.format, parsed.encoding) == ("bibtex", "gb18030")
    assert parsed.warnings == ["file is not valid UTF-8; read as gb18030 (detected)"]
    assert record.authors == ["凯撒", "王小明", "李华"]
    assert (record.journal, record.title) == ("测试期刊", "间充质干细胞治疗2型糖尿病的临床研究进展")


@pytest.mark.parametrize(
    ("text", "encoding", "name"),
    [
        (
            "TY  - JOUR\nAU  - Иванов, Иван\nTI  - Лечение диабета\nER  - \n",
            "cp1251",
            "windows-1251",
        ),
        (
            "TY  - JOUR\nAU  - 山田, 太郎\nTI  - 糖尿病の新しい治療法\nER  - \n",
            "shift_jis",
            "cp932",
        ),
        (
            "TY  - JOUR\nAU  - 陳, 大文\nTI  - 間質幹細胞治療第二型糖尿病之臨床研究\n"
            "JO  - 台灣醫學雜誌\nAB  - 目的：探討間質幹細胞治療第二型糖尿病的療效與安全性。\n"
            "ER  - \n",
            "big5",
            "big5",
        ),
    ],
    ids=["cyrillic", "japanese", "traditional-chinese"],
)
def test_other_national_encodings_are_detected(text: str, encoding: str, name: str) -> None:
    parsed, results = read(text.encode(encoding))
    [record] = records(results)
    assert parsed.encoding == name
    assert record.title == text.split("TI  - ")[1].split("\n")[0]


@pytest.mark.parametrize(
    "title",
    ["Über die Größe der Straße", "Café – naïve “quotes”", "Sæther, Øster and Gómez", "€20 ‰"],
)
def test_latin_text_stays_on_the_windows_1252_path(title: str) -> None:
    parsed, results = read(f"TY  - JOUR\nTI  - {title}\nER  - \n".encode("cp1252"))
    assert (parsed.encoding, parsed.warnings) == ("windows-1252", [CP1252_WARNING])
    assert records(results)[0].title == title


def test_real_exports_in_windows_1252_are_not_taken_for_another_encoding() -> None:
    # Real Western text, with its accents and dashes, written as older EndNote files are.
    path = shared_path(
        "exports", "citesource-gambling-harms", "20221207_gambling-harms_lens_49.ris"
    )
    data = path.read_bytes().decode("utf-8-sig").encode("cp1252", errors="replace")
    parsed, results = read(data)
    assert parsed.encoding == "windows-1252" and len(results) == 49


def test_valid_utf8_and_latin_files_never_run_the_detector(monkeypatch) -> None:
    import charset_normalizer

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the detector ran")

    monkeypatch.setattr(charset_normalizer, "from_bytes", refuse)
    assert read("TY  - JOUR\nTI  - 测试\nER  - \n".encode())[0].encoding == "utf-8"
    assert read("TY  - JOUR\nTI  - Müller\nER  - \n".encode("cp1252"))[0].encoding == (
        "windows-1252"
    )


def test_a_named_encoding_overrides_detection() -> None:
    # Polish in Windows-1250: detection would read it as Windows-1252 (Latin script).
    data = "TY  - JOUR\nAU  - Łukasz, Żółć\nTI  - Zażółć gęślą jaźń\nER  - \n".encode("cp1250")
    parsed, results = read(data, encoding="windows-1250")
    [record] = records(results)
    assert (parsed.encoding, parsed.warnings) == ("windows-1250", [])
    assert (record.title, record.authors) == ("Zażółć gęślą jaźń", ["Łukasz, Żółć"])


def test_a_named_encoding_that_does_not_fit_says_where() -> None:
    parsed, results = read(CNKI_BIBTEX.encode("gbk"), encoding="utf-8")
    assert parsed.encoding == "utf-8"
    assert parsed.warnings[0].startswith(
        "the file has bytes that are not valid utf-8 (first near byte 37)"
    )


def test_an_unknown_encoding_is_refused() -> None:
    from screening.importers import FileFormatError

    with pytest.raises(FileFormatError, match="unknown encoding 'klingon'"):
        parse_file(io.BytesIO(b"TY  - JOUR\nER  - \n"), encoding="klingon")


# ------------------------------------------------------- the encoding through the app


@pytest.mark.django_db
def test_upload_with_a_named_encoding_imports_in_it(
    review, owner, django_capture_on_commit_callbacks, parser
) -> None:
    data = "TY  - JOUR\nTI  - Zażółć gęślą jaźń\nER  - \n".encode("cp1250")
    with django_capture_on_commit_callbacks(execute=True):
        search = identification.create_search(
            review=review,
            actor=owner,
            file=upload(data, "polish.ris"),
            filename="polish.ris",
            source="Polish Medical Bibliography",
            encoding="windows-1250",
        )
    search.refresh_from_db()
    assert (search.status, search.encoding_requested, search.encoding) == (
        SearchStatus.DONE,
        "windows-1250",
        "windows-1250",
    )
    assert search.records.get().title == "Zażółć gęślą jaźń"


@pytest.mark.django_db
def test_detected_encoding_is_stored_on_the_search(
    review, owner, django_capture_on_commit_callbacks, parser
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        search = identification.create_search(
            review=review,
            actor=owner,
            file=upload(CNKI_BIBTEX.encode("gbk"), "cnki.bib"),
            filename="cnki.bib",
            source="CNKI",
        )
    search.refresh_from_db()
    assert (search.encoding_requested, search.encoding) == ("auto", "gb18030")
    assert search.warnings == ["file is not valid UTF-8; read as gb18030 (detected)"]
    assert search.records.get().journal == "测试期刊"


@pytest.mark.django_db
def test_an_unknown_encoding_is_refused_and_nothing_is_saved(review, owner) -> None:
    with pytest.raises(ReviewflowError) as error:
        identification.create_search(
            review=review,
            actor=owner,
            file=upload(b"TY  - JOUR\nTI  - T\nER  - \n"),
            filename="a.ris",
            source="PubMed",
            encoding="klingon",
        )
    assert error.value.field == "encoding"
    assert error.value.message.startswith("Unknown encoding “klingon”: choose auto or one of")
    assert not Search.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_upload_form_offers_detection_and_common_encodings(client_for, review, owner) -> None:
    page = client_for(owner).get(reverse("review-searches", args=[review.slug])).content.decode()
    assert '<option value="auto" selected>Detect automatically</option>' in page
    assert '<option value="gb18030">GBK / GB18030 (Simplified Chinese)</option>' in page
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client_for(owner).post(
        reverse("review-searches", args=[review.slug]),
        {
            "file": SimpleUploadedFile("cnki.bib", CNKI_BIBTEX.encode("gbk")),
            "source": "CNKI",
            "source_type": "database",
            "format": "auto",
            "encoding": "gb18030",
        },
    )
    assert response.status_code == 302
    search = Search.objects.get()
    assert (search.encoding_requested, search.encoding, search.warnings) == (
        "gb18030",
        "gb18030",
        [],
    )


@pytest.mark.django_db(transaction=True)
def test_api_upload_takes_an_encoding_and_refuses_an_unknown_one(review, owner) -> None:
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(owner)
    url = f"/api/v1/reviews/{review.slug}/searches/"
    refused = client.post(
        url,
        {"file": upload(CNKI_BIBTEX.encode("gbk"), "cnki.bib"), "source": "CNKI", "encoding": "x"},
        format="multipart",
    )
    assert refused.status_code == 400 and "encoding" in refused.json()
    assert not Search.objects.exists()
    response = client.post(
        url,
        {
            "file": upload(CNKI_BIBTEX.encode("gbk"), "cnki.bib"),
            "source": "CNKI",
            "encoding": "gb18030",
        },
        format="multipart",
    )
    assert response.status_code == 202
    status = client.get(response.json()["url"]).json()
    assert (status["status"], status["encoding"], status["warnings"]) == ("done", "gb18030", [])


@pytest.mark.django_db(transaction=True)
def test_importcitations_takes_an_encoding(review, tmp_path, capsys) -> None:
    path = tmp_path / "cnki.bib"
    path.write_bytes(CNKI_BIBTEX.encode("gbk"))
    call_command("importcitations", review.slug, str(path), "--encoding", "gb18030", "--wait")
    out = capsys.readouterr().out
    assert "cnki.bib: bibtex, 1 read, 1 imported, 0 rejected." in out
    assert "  encoding: gb18030" in out
    assert Search.objects.get().records.get().authors == ["凯撒", "王小明", "李华"]


# ------------------------------------------------------------------- HTML entities


def test_entities_in_real_scopus_ris_are_decoded() -> None:
    path = shared_path("exports", "asreview-demo-data", "scopus.ris")
    found = [r for r in records(read(path.read_bytes())[1]) if "illness anxiety (p" in r.abstract]
    assert len(found) == 1
    assert "lower illness anxiety (p < .001, η2 = 0.069)" in found[0].abstract
    assert "&lt;" not in found[0].abstract


ENTITY_TITLE = "Thresholds 1&lt;p≤2 in Smith &amp; Jones&#39;s model"
DECODED_TITLE = "Thresholds 1<p≤2 in Smith & Jones's model"
ENTITY_FILES = {
    "ris": f"TY  - JOUR\nTI  - {ENTITY_TITLE}\nAU  - M&uuml;ller, J\nER  - \n",
    "nbib": f"PMID- 1\nTI  - {ENTITY_TITLE}\nFAU - M&uuml;ller, J\n",
    "wos": f"FN Clarivate Analytics Web of Science\nVR 1.0\nPT J\nAU M&uuml;ller, J\n"
    f"TI {ENTITY_TITLE}\nER\n\nEF\n",
    "csv": f'Title,Authors\n"{ENTITY_TITLE}",M&uuml;ller J\n',
    "bibtex": f"@article{{a, title = {{{ENTITY_TITLE}}}, author = {{M&uuml;ller, J}}}}\n",
    "endnote": '<?xml version="1.0" encoding="UTF-8" ?><xml><records><record><titles><title>'
    + ENTITY_TITLE.replace("&", "&amp;")
    + "</title></titles><contributors><authors><author>M&amp;uuml;ller, J</author>"
    "</authors></contributors></record></records></xml>",
}


@pytest.mark.parametrize("fmt", sorted(ENTITY_FILES))
def test_every_format_decodes_html_entities_the_same_way(fmt: str) -> None:
    parsed, results = read(ENTITY_FILES[fmt].encode())
    [record] = records(results)
    assert parsed.format == fmt
    assert (record.title, record.authors) == (DECODED_TITLE, ["Müller, J"])


def test_identifiers_and_links_keep_their_ampersands() -> None:
    url = "https://www.scopus.com/inward/record.uri?eid=2-s2.0-1&amp;partnerID=40"
    text = f"TY  - JOUR\nTI  - T\nUR  - {url}\nER  - \n"
    assert records(read(text.encode())[1])[0].url == url


# ------------------------------------------------------------------------- MEDLINE


def test_medline_title_and_abstract_on_several_lines_are_kept_whole() -> None:
    text = (
        "PMID- 22664220\n"
        "TI  - Mesenchymal stem cells in diabetes:\n"
        "TI  - a randomised trial.\n"
        "AB  - BACKGROUND: Cells were given.\n"
        "AB  - RESULTS: HbA1c fell.\n"
        "FAU - Smith, Jane\n"
    )
    [record] = records(read(text.encode())[1])
    assert record.title == "Mesenchymal stem cells in diabetes: a randomised trial."
    assert record.abstract == "BACKGROUND: Cells were given. RESULTS: HbA1c fell."


def test_medline_pmid_without_a_space_keeps_its_pmid_and_line() -> None:
    text = (
        "\n"
        "PMID-22664220\n"
        "STAT- MEDLINE\n"
        "TI  - First.\n"
        "\n"
        "PMID-22664221\n"
        "OWN - NLM\n"
        "\n"
        "PMID- 22664222\n"
        "TI  - Third.\n"
    )
    parsed, results = read(text.encode())
    assert parsed.format == "nbib"
    # The second record has nothing but its PMID: it was rejected, one line too low.
    assert [(r.pmid, r.record_id, r.line) for r in records(results)] == [
        ("22664220", "22664220", 2),
        ("22664221", "22664221", 6),
        ("22664222", "22664222", 9),
    ]


def test_medline_rejection_is_reported_on_its_first_line() -> None:
    text = "PMID-22664220\nTI  - First.\n\nOWN - NLM\nSTAT- MEDLINE\n\nPMID-22664222\nTI  - x\n"
    results = read(text.encode())[1]
    assert [(type(r).__name__, r.line) for r in results] == [
        ("ParsedRecord", 1),
        ("Rejection", 4),
        ("ParsedRecord", 7),
    ]


# ---------------------------------------------------------------------- RIS without TY


def test_ris_without_any_ty_line_is_imported_with_a_counted_warning() -> None:
    block = "AU  - Smith, Jane\nTI  - Record {n}\nPY  - 2020\nER  - \n\n"
    text = "".join(block.format(n=n) for n in range(1, 4))
    parsed, results = read(text.encode())
    assert parsed.format == "ris"
    assert [r.title for r in records(results)] == ["Record 1", "Record 2", "Record 3"]
    assert parsed.warnings == [f"3 records: {NO_TY_WARNING} (lines 1, 6, 11)"]


def test_many_record_warnings_list_the_first_lines_only() -> None:
    text = "".join(f"TI  - Record {n}\nER  - \n" for n in range(25))
    parsed, results = read(text.encode())
    assert len(results) == 25
    lines = ", ".join(str(1 + 2 * n) for n in range(20))
    assert parsed.warnings == [f"25 records: {NO_TY_WARNING} (lines {lines} and 5 more)"]


@pytest.mark.django_db
def test_record_warnings_reach_the_search(
    review, owner, django_capture_on_commit_callbacks, parser
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        search = identification.create_search(
            review=review,
            actor=owner,
            file=upload("AU  - Smith, Jane\nTI  - Lost its TY\nER  - \n", "noty.ris"),
            filename="noty.ris",
            source="Ovid",
        )
    search.refresh_from_db()
    assert (search.status, search.format, search.records_imported) == ("done", "ris", 1)
    assert search.warnings == [f"line 1: {NO_TY_WARNING}"]


# ---------------------------------------------------------------------- BibTeX


ROUND_TRIP_RECORD: dict[str, Any] = {
    "title": "x^2 ~ y_1 in 50% of {cases} & C# \\ $5",
    "abstract": "Rates rose: 2^10 cells; p < 0.05.",
    "authors": ["Smith, Jane", "Doe, John"],
    "year": 2020,
    "journal": "Diabetes Care",
    "volume": "43",
    "issue": "2",
    "pages": "123-130",
    "doi": "10.2337/dc19-1234",
    "pmid": "31234567",
    "pmcid": "PMC7654321",
    "issn": "0149-5992",
    "isbn": "",
    "keywords": ["Stem Cells", "Diabetes Mellitus, Type 2"],
    "language": "eng",
    "publication_type": "Journal Article",
    "url": "https://example.org/articles/7",
}


def test_bibtex_export_then_import_gives_the_same_fields() -> None:
    out = io.StringIO()
    write_bibtex([ROUND_TRIP_RECORD], out)
    [back] = records(list(parse_bibtex(out.getvalue())))
    assert as_dict(back) == ROUND_TRIP_RECORD
    assert back.warnings == []


def test_bibtex_textasciicircum_is_a_caret() -> None:
    [record] = records(list(parse_bibtex("@article{a, title = {2\\textasciicircum{}10}}\n")))
    assert record.title == "2^10"


def test_bibtex_type_field_gives_the_publication_type() -> None:
    text = "@article{a, title = {T}, type = {Randomized Controlled Trial}}\n"
    [record] = records(list(parse_bibtex(text)))
    assert record.publication_type == "Randomized Controlled Trial"
    [plain] = records(list(parse_bibtex("@inproceedings{b, title = {T}}\n")))
    assert plain.publication_type == "inproceedings"


def test_undefined_bibtex_macros_are_warned_about() -> None:
    text = (
        "@string{jcc = {Journal of Computational Chemistry}}\n"
        "\n"
        "@article{a,\n  title = {One},\n  journal = jomch,\n  month = jan,\n  year = 2020\n}\n"
        "@article{b,\n  title = {Two},\n  journal = jcc,\n  month = feb\n}\n"
    )
    parsed, results = read(text.encode())
    one, two = records(results)
    warning = "journal = jomch: no @string defines 'jomch'; kept as written"
    assert (one.journal, one.warnings) == ("jomch", [warning])
    assert (two.journal, two.warnings) == ("Journal of Computational Chemistry", [])
    assert parsed.warnings == [f"line 3: {warning}"]


def test_a_short_organisation_name_is_not_turned_round_like_a_persons() -> None:
    # ClinicalTrials.gov sponsors, group authors: "Mayo Clinic" is not "Clinic, Mayo".
    from screening.importers.base import normalise_author

    assert normalise_author("Mayo Clinic") == "Mayo Clinic"
    assert normalise_author("Novartis Pharmaceuticals") == "Novartis Pharmaceuticals"
    assert normalise_author("Pfizer Inc") == "Pfizer Inc"
    assert normalise_author("John Smith") == "Smith, John"
    assert normalise_author("Smith JA") == "Smith, JA"
