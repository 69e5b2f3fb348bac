"""The pure matching core: reading PDFs (real ones, written here byte by byte) and matching
them to records by DOI, PMID, title and first author. No database."""

from __future__ import annotations

import io

from PIL import Image
from pypdf import PdfWriter

from screening.pdfmatch import (
    SURE_SCORE,
    Candidate,
    PdfText,
    find_dois,
    find_pmids,
    match_pdf,
    read_pdf,
    surname,
)


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(lines: list[str], *, title: str = "", author: str = "", pages: int = 1) -> bytes:
    """A valid PDF whose first page shows ``lines`` in Helvetica (real text, extractable),
    with ``title`` and ``author`` in its metadata; further pages say "Page n"."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets: list[int] = []

    def obj(number: int, body: bytes) -> None:
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")

    page_numbers = [4 + 2 * i for i in range(pages)]
    kids = " ".join(f"{n} 0 R" for n in page_numbers)
    obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    obj(2, f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    obj(3, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    for i, n in enumerate(page_numbers):
        shown = lines if i == 0 else [f"Page {i + 1}"]
        ops = " ".join(f"({_esc(line)}) Tj T*" for line in shown)
        stream = f"BT /F1 11 Tf 72 720 Td 14 TL {ops} ET".encode("latin-1")
        obj(
            n,
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
            f"<< /Font << /F1 3 0 R >> >> /Contents {n + 1} 0 R >>".encode(),
        )
        obj(n + 1, f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream")
    info = 4 + 2 * pages
    obj(info, f"<< /Title ({_esc(title)}) /Author ({_esc(author)}) >>".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {info + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {info + 1} /Root 1 0 R /Info {info} 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


def scanned_pdf() -> bytes:
    """An image-only PDF, as a scanner without OCR makes."""
    out = io.BytesIO()
    Image.new("RGB", (200, 260), "white").save(out, "PDF")
    return out.getvalue()


def encrypted_pdf() -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(make_pdf(["Secret trial"])))
    writer.encrypt(user_password="s3cret", owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


TRIAL = Candidate(
    1,
    title="Mesenchymal stromal cells for type 2 diabetes: a randomised controlled trial",
    first_author="Okafor, Ngozi",
    doi="10.1000/msc.2019.001",
    pmid="31234567",
)
COHORT = Candidate(
    2,
    title="Insulin pump therapy in adolescents with type 1 diabetes: a cohort study",
    first_author="Lindqvist, Erik",
    doi="10.1000/pump.2020.044",
)
OTHER = Candidate(3, title="Exercise after stroke: a pilot study", first_author="Brown, Amy")
RECORDS = [TRIAL, COHORT, OTHER]


def test_read_pdf_gives_text_pages_and_metadata():
    pdf = read_pdf(
        make_pdf(["A first line", "A second line"], title="T1", author="Ann Lee", pages=3)
    )
    assert pdf.error == ""
    assert pdf.page_count == 3
    assert pdf.text.split("\f")[0].split("\n")[:2] == ["A first line", "A second line"]
    assert "Page 3" in pdf.text
    assert (pdf.title, pdf.author) == ("T1", "Ann Lee")
    assert not pdf.no_text


def test_an_image_only_pdf_is_flagged_as_having_no_text():
    pdf = read_pdf(scanned_pdf())
    assert pdf.error == ""
    assert pdf.page_count == 1
    assert pdf.no_text


def test_a_damaged_pdf_gets_a_message_not_an_exception():
    data = make_pdf(["Fine start"])[:60]
    assert read_pdf(data).error.startswith("the PDF is damaged and could not be read")


def test_a_password_protected_pdf_says_so():
    assert read_pdf(encrypted_pdf()).error == (
        "the PDF is password-protected; upload an unprotected copy."
    )


def test_a_file_that_is_not_a_pdf_says_so():
    assert read_pdf(b"PK\x03\x04 a zip").error == "this is not a PDF file."


def test_dois_and_pmids_are_found_and_normalised():
    text = "See https://doi.org/10.1000/ABC.12(3)x. and doi:10.1000/abc.12(3)x, PMID: 00123."
    assert find_dois(text) == ["10.1000/abc.12(3)x"]
    assert find_pmids(text) == ["123"]
    assert surname("Okafor, Ngozi") == "okafor"
    assert surname("Ngozi Okafor") == "okafor"


def test_a_doi_in_the_text_equal_to_a_records_doi_is_a_sure_match():
    text = read_pdf(make_pdf(["Some journal 2019", "https://doi.org/10.1000/MSC.2019.001"]))
    match = match_pdf(text, RECORDS)
    assert match.verdict == "sure"
    assert match.candidates[0].record == 1
    assert match.candidates[0].score == 100
    assert match.candidates[0].reason == "DOI 10.1000/msc.2019.001 is in the PDF"


def test_a_pmid_in_the_text_is_a_sure_match():
    match = match_pdf(read_pdf(make_pdf(["Diabetes journal", "PMID: 31234567"])), RECORDS)
    assert (match.verdict, match.candidates[0].record) == ("sure", 1)
    assert match.candidates[0].reason == "PMID 31234567 is in the PDF"


def test_a_doi_on_a_later_page_is_not_used():
    # A DOI far in the text is usually a reference to another paper.
    pdf = PdfText(text="An unrelated report\f\fReferences: 10.1000/msc.2019.001")
    assert match_pdf(pdf, RECORDS).verdict == "none"


def test_two_records_named_by_identifiers_are_unsure():
    pdf = PdfText(text="10.1000/msc.2019.001 and 10.1000/pump.2020.044")
    match = match_pdf(pdf, RECORDS)
    assert match.verdict == "unsure"
    assert {c.record for c in match.candidates} == {1, 2}


def test_title_and_first_author_on_the_first_page_are_a_sure_match():
    pdf = read_pdf(
        make_pdf(
            [
                "Mesenchymal stromal cells for type 2 diabetes:",
                "a randomised controlled trial",
                "Ngozi Okafor, Peter Mensah",
            ]
        )
    )
    match = match_pdf(pdf, RECORDS)
    assert match.verdict == "sure"
    assert match.candidates[0].record == 1
    assert match.candidates[0].score >= SURE_SCORE
    assert "first author Okafor found" in match.candidates[0].reason


def test_the_title_in_the_metadata_counts():
    pdf = PdfText(
        text="cover page",
        title="Mesenchymal stromal cells for type 2 diabetes - a randomised controlled trial",
        author="N. Okafor",
    )
    match = match_pdf(pdf, RECORDS)
    assert (match.verdict, match.candidates[0].record) == ("sure", 1)


def test_the_title_without_its_first_author_is_unsure():
    pdf = read_pdf(
        make_pdf(
            [
                "Mesenchymal stromal cells for type 2 diabetes:",
                "a randomised controlled trial",
                "Someone Else",
            ]
        )
    )
    match = match_pdf(pdf, RECORDS)
    assert match.verdict == "unsure"
    assert match.candidates[0].record == 1
    assert match.candidates[0].reason.endswith("first author not found")


def test_a_similar_but_different_title_is_unsure():
    pdf = read_pdf(
        make_pdf(["Mesenchymal stem cells for type 1 diabetes: a randomised pilot", "N. Okafor"])
    )
    match = match_pdf(pdf, RECORDS)
    assert match.verdict == "unsure"
    assert SURE_SCORE > match.candidates[0].score >= 70


def test_a_pdf_of_another_study_matches_nothing():
    pdf = read_pdf(make_pdf(["Cognitive behavioural therapy for insomnia", "A. Smith"]))
    match = match_pdf(pdf, RECORDS)
    assert match.verdict == "none"
    assert match.candidates == []


def test_a_pdf_without_text_matches_nothing():
    assert match_pdf(read_pdf(scanned_pdf()), RECORDS).verdict == "none"
