"""PDF batches: upload (files, zips), reading and matching in the task, the queue of unsure
matches, duplicates, the attachpdfs command, the pages and the API."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import AuditEvent
from screening.models import FullTextReport, PdfBatch, PdfFile, Record
from screening.services import identification, pdfs
from screening.services.fulltext import attach_full_text
from tests.screening.factories import upload
from tests.screening.test_pdf_matching import make_pdf, scanned_pdf

pytestmark = pytest.mark.django_db(transaction=True)  # imports and batches run on commit

RIS = """TY  - JOUR
TI  - Mesenchymal stromal cells for type 2 diabetes: a randomised controlled trial
AU  - Okafor, Ngozi
PY  - 2019
DO  - 10.1000/msc.2019.001
ER  -

TY  - JOUR
TI  - Insulin pump therapy in adolescents with type 1 diabetes: a cohort study
AU  - Lindqvist, Erik
PY  - 2020
AN  - 31234567
ER  -

TY  - JOUR
TI  - Telemonitoring of blood glucose in rural clinics: a stepped wedge trial
AU  - Haddad, Samir
PY  - 2021
ER  -

TY  - JOUR
TI  - Exercise after stroke: a pilot study of home training programmes
AU  - Brown, Amy
PY  - 2018
ER  -
"""

# Not at full text: found in a database and not screened.
NOT_AT_FULL_TEXT = """TY  - JOUR
TI  - Dietary fibre and HbA1c in older adults: a crossover trial
AU  - Novak, Jana
DO  - 10.1000/fibre.2017.9
ER  -
"""


def _import(review: Any, owner: Any, text: str, name: str, source_type: str) -> None:
    search = identification.create_search(
        review=review,
        actor=owner,
        file=upload(text, name),
        filename=name,
        source=name,
        source_type=source_type,
        other_method="citation" if source_type == "other" else "",
    )
    search.refresh_from_db()
    assert search.status == "done", search.failure


@pytest.fixture
def records(review: Any, owner: Any) -> dict[str, Record]:
    _import(review, owner, RIS, "citations.ris", "other")
    _import(review, owner, NOT_AT_FULL_TEXT, "db.ris", "database")
    by_author = {
        r.authors[0].split(",")[0].lower(): r for r in Record.objects.filter(review=review)
    }
    by_author["okafor"].pmid = ""  # the PMID below belongs to the pump study
    by_author["lindqvist"].pmid = "31234567"
    for r in by_author.values():
        r.save()
    return by_author


def doi_pdf() -> bytes:
    return make_pdf(["Stem Cell Research", "https://doi.org/10.1000/msc.2019.001"])


def pmid_pdf() -> bytes:
    return make_pdf(["Pediatric Diabetes 2020", "PMID: 31234567"])


def title_pdf() -> bytes:
    return make_pdf(
        [
            "Telemonitoring of blood glucose in rural clinics:",
            "a stepped wedge trial",
            "Samir Haddad and Lena Ortiz",
        ]
    )


def unsure_pdf() -> bytes:
    # The title, but not the first author: a person decides.
    return make_pdf(
        ["Exercise after stroke: a pilot study of home training programmes", "J. Okonkwo"]
    )


def unmatched_pdf() -> bytes:
    return make_pdf(["Cognitive behavioural therapy for insomnia", "A. Smith"])


def named(data: bytes, name: str) -> tuple[str, io.BytesIO]:
    return name, io.BytesIO(data)


def zip_of(entries: dict[str, bytes]) -> io.BytesIO:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    out.seek(0)
    return out


def results(batch: PdfBatch) -> dict[str, tuple[str, int | None]]:
    return {f.filename: (f.status, f.record_id) for f in batch.files.order_by("pk")}


def test_a_batch_attaches_sure_matches_and_queues_the_rest(review, owner, records):
    batch = pdfs.create_pdf_batch(
        review=review,
        actor=owner,
        files=[
            named(doi_pdf(), "doi.pdf"),
            named(pmid_pdf(), "pmid.pdf"),
            named(title_pdf(), "title.pdf"),
            named(unsure_pdf(), "unsure.pdf"),
            named(unmatched_pdf(), "unmatched.pdf"),
            named(scanned_pdf(), "scan.pdf"),
            named(make_pdf(["x"])[:80], "broken.pdf"),
            named(make_pdf(["Dietary fibre", "doi: 10.1000/fibre.2017.9"]), "notft.pdf"),
        ],
    )
    batch.refresh_from_db()
    assert batch.status == "done"
    assert (batch.files_done, batch.files_total, batch.percent) == (8, 8, 100)
    assert results(batch) == {
        "doi.pdf": ("attached", records["okafor"].pk),
        "pmid.pdf": ("attached", records["lindqvist"].pk),
        "title.pdf": ("attached", records["haddad"].pk),
        "unsure.pdf": ("unsure", records["brown"].pk),
        "unmatched.pdf": ("unmatched", None),
        "scan.pdf": ("unmatched", None),
        "broken.pdf": ("failed", None),
        "notft.pdf": ("unmatched", None),
    }
    assert pdfs.batch_counts(batch) == {
        "pending": 0,
        "attached": 3,
        "unsure": 1,
        "unmatched": 3,
        "duplicate": 0,
        "failed": 1,
    }
    files = {f.filename: f for f in batch.files.all()}
    assert files["broken.pdf"].message.startswith(
        "broken.pdf: the PDF is damaged and could not be read"
    )
    assert files["scan.pdf"].no_text
    assert files["scan.pdf"].message == "scan.pdf: no text to match (a scan?); attach it by hand."
    assert files["unsure.pdf"].candidates[0]["reason"].endswith("first author not found")
    assert files["title.pdf"].message.startswith(f"Attached to record {records['haddad'].pk}")
    # Attached files live in the report only: the batch keeps no second copy.
    assert not files["doi.pdf"].file and files["unsure.pdf"].file
    report = FullTextReport.objects.get(record=records["okafor"])
    assert report.status == "retrieved" and report.pdf
    assert report.content_sha256 == files["doi.pdf"].sha256
    assert "10.1000/msc.2019.001" in report.text and report.page_count == 1
    actions = list(AuditEvent.objects.filter(review=review).values_list("action", flat=True))
    assert actions.count("fulltext.attached") == 3
    assert "fulltext.batch_uploaded" in actions and "fulltext.batch_matched" in actions


def test_identical_files_are_never_stored_twice(review, owner, records):
    first = pdfs.create_pdf_batch(
        review=review,
        actor=owner,
        files=[
            named(doi_pdf(), "a.pdf"),
            named(unmatched_pdf(), "b.pdf"),
            named(doi_pdf(), "c.pdf"),
        ],
    )
    assert results(first)["c.pdf"] == ("duplicate", None)
    c = first.files.get(filename="c.pdf")
    assert (
        not c.file
        and c.message == f"c.pdf: the same file was already uploaded (a.pdf, batch {first.pk})."
    )
    again = pdfs.create_pdf_batch(
        review=review,
        actor=owner,
        files=[named(doi_pdf(), "again.pdf"), named(unmatched_pdf(), "b2.pdf")],
    )
    files = {f.filename: f for f in again.files.all()}
    assert files["again.pdf"].status == "duplicate"
    assert files["again.pdf"].message == (
        f"again.pdf: the same file is already attached to record {records['okafor'].pk}."
    )
    assert (
        files["b2.pdf"].status == "duplicate" and files["b2.pdf"].duplicate_of.filename == "b.pdf"
    )
    assert PdfFile.objects.exclude(file="").count() == 1  # b.pdf, waiting; nothing twice


def test_a_record_with_a_pdf_is_never_overwritten_without_asking(review, owner, reviewer, records):
    okafor = records["okafor"]
    attach_full_text(
        review=review,
        record=okafor,
        actor=owner,
        file=io.BytesIO(make_pdf(["old"])),
        filename="old.pdf",
    )
    batch = pdfs.create_pdf_batch(review=review, actor=owner, files=[named(doi_pdf(), "new.pdf")])
    pdf = batch.files.get()
    assert (pdf.status, pdf.record_id) == ("unsure", okafor.pk)
    assert "already has a full text (old.pdf)" in pdf.message
    assert FullTextReport.objects.get(record=okafor).filename == "old.pdf"
    with pytest.raises(ReviewflowError) as exc:
        pdfs.resolve_pdf_file(pdf_file=pdf, actor=reviewer, record=okafor)
    assert exc.value.message == (
        f"Record {okafor.pk} already has a full text (old.pdf). Tick “replace” to put this PDF "
        "in its place."
    )
    pdf = pdfs.resolve_pdf_file(pdf_file=pdf, actor=reviewer, record=okafor, replace=True)
    assert pdf.status == "attached" and pdf.resolved_by == reviewer
    assert FullTextReport.objects.get(record=okafor).filename == "new.pdf"
    with pytest.raises(ReviewflowError, match="new.pdf is attached: there is nothing to decide."):
        pdfs.resolve_pdf_file(pdf_file=pdf, actor=reviewer, record=okafor)


def test_unsure_and_unmatched_pdfs_are_decided_by_a_person(review, owner, reviewer, records):
    batch = pdfs.create_pdf_batch(
        review=review,
        actor=owner,
        files=[named(unsure_pdf(), "u.pdf"), named(unmatched_pdf(), "n.pdf")],
    )
    unsure, unmatched = batch.files.order_by("pk")
    none = pdfs.resolve_pdf_file(pdf_file=unsure, actor=reviewer, record=None)
    assert (none.status, none.record_id) == ("unmatched", None)
    # A record not at full text takes no PDF.
    with pytest.raises(ReviewflowError, match="Only records that passed title/abstract"):
        pdfs.resolve_pdf_file(pdf_file=unmatched, actor=reviewer, record=records["novak"])
    done = pdfs.resolve_pdf_file(pdf_file=unmatched, actor=reviewer, record=records["brown"])
    assert done.status == "attached"
    assert FullTextReport.objects.get(record=records["brown"]).filename == "n.pdf"
    assert AuditEvent.objects.filter(action="fulltext.batch_resolved").count() == 2


def test_a_zip_is_opened_safely(review, owner, records, settings):
    settings.MAX_PDF_MB = 1
    big = make_pdf(["big"]) + b"%" + b"0" * (1024 * 1024 + 10)
    archive = zip_of(
        {
            "papers/doi.pdf": doi_pdf(),
            "../../etc/evil.pdf": unmatched_pdf(),
            "big.pdf": big,
            "__MACOSX/._doi.pdf": b"junk",
        }
    )
    batch = pdfs.create_pdf_batch(review=review, actor=owner, files=[("papers.zip", archive)])
    files = {f.filename: f for f in batch.files.all()}
    assert files["doi.pdf"].status == "attached"
    evil = files["papers.zip: ../../etc/evil.pdf"]
    assert (evil.status, evil.message) == (
        "failed",
        "papers.zip: ../../etc/evil.pdf: a path outside the zip; skipped.",
    )
    assert files["papers.zip: big.pdf"].message == (
        "papers.zip: big.pdf: the file is 1.0 MB; the limit is 1 MB."
    )
    assert len(files) == 3


def test_a_zip_with_too_many_entries_is_refused_whole(review, owner, records, monkeypatch):
    monkeypatch.setattr(pdfs, "MAX_ZIP_ENTRIES", 2)
    archive = zip_of({f"{i}.pdf": make_pdf([str(i)]) for i in range(3)})
    with pytest.raises(ReviewflowError) as exc:
        pdfs.create_pdf_batch(review=review, actor=owner, files=[("many.zip", archive)])
    assert exc.value.message == "many.zip: the zip holds 3 files; the limit is 2."
    assert not PdfBatch.objects.exists()


def test_a_zip_that_inflates_too_far_is_refused_whole(review, owner, records, monkeypatch):
    monkeypatch.setattr(pdfs, "MAX_ZIP_TOTAL_MB", 1)
    archive = zip_of({"a.pdf": make_pdf(["a"]) + b"0" * (1024 * 1024)})
    with pytest.raises(ReviewflowError, match=r"inflates to more than 1 MB; split it up"):
        pdfs.create_pdf_batch(review=review, actor=owner, files=[("bomb.zip", archive)])


def test_the_task_shows_progress_and_a_heartbeat(review, owner, records, monkeypatch):
    monkeypatch.setattr(pdfs, "send_task", lambda *a, **k: True)  # the test runs it
    batch = pdfs.create_pdf_batch(
        review=review, actor=owner, files=[named(doi_pdf(), "a.pdf"), named(pmid_pdf(), "b.pdf")]
    )
    assert PdfBatch.objects.get(pk=batch.pk).status == "queued"
    seen = []
    real = pdfs._process

    def watch(b, pdf, candidates):
        row = PdfBatch.objects.get(pk=b.pk)
        seen.append((row.status, row.files_done, row.heartbeat_at is not None))
        real(b, pdf, candidates)

    monkeypatch.setattr(pdfs, "_process", watch)
    done = pdfs.run_pdf_batch(batch_id=batch.pk)
    assert seen == [("running", 0, True), ("running", 1, True)]
    assert (done.status, done.heartbeat_at, done.percent) == ("done", None, 100)
    # Run again (a redelivered task): nothing changes, nothing doubles.
    assert pdfs.run_pdf_batch(batch_id=batch.pk).status == "done"
    assert FullTextReport.objects.count() == 2 and len(seen) == 2


def test_attachpdfs_with_wait_matches_a_folder_and_a_zip(review, records, tmp_path):
    folder = tmp_path / "pdfs"
    folder.mkdir()
    (folder / "doi.pdf").write_bytes(doi_pdf())
    (folder / "notes.txt").write_text("ignored")
    (tmp_path / "more.zip").write_bytes(zip_of({"title.pdf": title_pdf()}).getvalue())
    out = io.StringIO()
    call_command(
        "attachpdfs", review.slug, str(folder), str(tmp_path / "more.zip"), "--wait", stdout=out
    )
    text = out.getvalue()
    assert "2 file(s) queued as PDF batch" in text
    assert "2 attached, 0 unsure, 0 unmatched, 0 duplicate, 0 could not be read." in text
    assert f"doi.pdf: attached → record {records['okafor'].pk}." in text


def test_attachpdfs_fails_clearly(review, records, tmp_path):
    with pytest.raises(CommandError, match="No review with the slug “nope”."):
        call_command("attachpdfs", "nope", str(tmp_path))
    with pytest.raises(CommandError, match="no such file or folder"):
        call_command("attachpdfs", review.slug, str(tmp_path / "missing.pdf"))
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4 broken")
    with pytest.raises(CommandError, match="Some files could not be read"):
        call_command("attachpdfs", review.slug, str(bad), "--wait", stdout=io.StringIO())


# Pages and API.


def test_anonymous_is_sent_to_log_in_and_outsiders_get_404(review, client_for, outsider):
    from django.test import Client

    url = reverse("fulltext-batches", args=[review.slug])
    response = Client().get(url)
    assert response.status_code == 302 and "/login" in response["Location"]
    assert client_for(outsider).get(url).status_code == 404
    assert client_for(outsider).post(url).status_code == 404
    api = APIClient()
    api.force_authenticate(outsider)
    assert api.get(reverse("api-pdf-batches", args=[review.slug])).status_code == 404


def test_a_reviewer_uploads_on_the_page_and_sees_the_results(review, reviewer, client_for, records):
    client = client_for(reviewer)
    url = reverse("fulltext-batches", args=[review.slug])
    response = client.post(
        url,
        {
            "files": [
                upload(doi_pdf(), "doi.pdf"),
                upload(unsure_pdf(), "unsure.pdf"),
                upload(unmatched_pdf(), "none.pdf"),
            ]
        },
    )
    batch = PdfBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("fulltext-batch", args=[review.slug, batch.pk])
    page = client.get(response["Location"]).content.decode()
    assert 'data-count="attached">1<' in page and 'data-count="unsure">1<' in page
    queue = client.get(url).content.decode()
    assert "Exercise after stroke" in queue and "first author not found" in queue
    unsure = batch.files.get(filename="unsure.pdf")
    response = client.post(
        reverse("fulltext-resolve", args=[review.slug, unsure.pk]), {"record": records["brown"].pk}
    )
    assert response.status_code == 302
    unsure.refresh_from_db()
    assert unsure.status == "attached"
    none = batch.files.get(filename="none.pdf")
    response = client.post(
        reverse("fulltext-resolve", args=[review.slug, none.pk]), {"record": "abc"}, follow=True
    )
    assert "Give the number of the record to attach it to, e.g. 1234." in response.content.decode()


def test_viewers_read_but_do_not_upload(review, viewer, client_for, records):
    client = client_for(viewer)
    url = reverse("fulltext-batches", args=[review.slug])
    page = client.get(url)
    assert page.status_code == 200 and b"data-pdf-upload" not in page.content
    assert client.post(url, {"files": [upload(doi_pdf(), "a.pdf")]}).status_code == 403
    api = APIClient()
    api.force_authenticate(viewer)
    response = api.post(
        reverse("api-pdf-batches", args=[review.slug]),
        {"files": [upload(doi_pdf(), "a.pdf")]},
        format="multipart",
    )
    assert response.status_code == 403
    assert not PdfBatch.objects.exists()


def test_the_full_texts_page_query_count_does_not_grow(
    review, owner, reviewer, client_for, records, django_assert_num_queries
):
    client = client_for(reviewer)
    url = reverse("fulltext-batches", args=[review.slug])
    pdfs.create_pdf_batch(review=review, actor=owner, files=[named(unsure_pdf(), "u1.pdf")])
    client.get(url)
    with django_assert_num_queries(7) as small:
        client.get(url)
    pdfs.create_pdf_batch(
        review=review,
        actor=owner,
        files=[
            named(
                make_pdf(["Exercise after stroke: a pilot study of home training", str(i)]),
                f"u{i}.pdf",
            )
            for i in range(2, 6)
        ]
        + [named(make_pdf(["Unrelated", str(i)]), f"n{i}.pdf") for i in range(3)],
    )
    with django_assert_num_queries(len(small.captured_queries)):
        client.get(url)


def test_the_api_uploads_reports_and_resolves(review, reviewer, records):
    api = APIClient()
    api.force_authenticate(reviewer)
    response = api.post(
        reverse("api-pdf-batches", args=[review.slug]),
        {"files": [upload(doi_pdf(), "doi.pdf"), upload(unsure_pdf(), "unsure.pdf")]},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    url = response.json()["url"]
    assert response["Location"] == url
    detail = api.get(url).json()
    assert detail["status"] == "done"
    assert detail["counts"]["attached"] == 1 and detail["counts"]["unsure"] == 1
    by_name = {f["filename"]: f for f in detail["files"]}
    assert by_name["doi.pdf"]["record"] == records["okafor"].pk
    unsure = by_name["unsure.pdf"]
    assert unsure["candidates"][0]["record"] == records["brown"].pk
    resolve = reverse("api-pdf-file-resolve", args=[review.slug, unsure["id"]])
    assert api.post(resolve, {"record": "x"}, format="json").status_code == 400
    response = api.post(resolve, {"record": 10**9}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == "There is no record 1000000000 in this review."
    response = api.post(resolve, {"record": records["brown"].pk}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "attached"
    empty = api.post(reverse("api-pdf-batches", args=[review.slug]), {}, format="multipart")
    assert empty.status_code == 400


def test_a_silent_or_lost_batch_is_sent_again_once(review, owner, records, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    sent: list[int] = []
    monkeypatch.setattr(pdfs, "send_task", lambda task, batch_id: sent.append(batch_id) or True)
    lost = pdfs.create_pdf_batch(review=review, actor=owner, files=[named(doi_pdf(), "a.pdf")])
    dead = pdfs.create_pdf_batch(review=review, actor=owner, files=[named(pmid_pdf(), "b.pdf")])
    alive = pdfs.create_pdf_batch(review=review, actor=owner, files=[named(title_pdf(), "c.pdf")])
    sent.clear()
    long_ago = timezone.now() - timedelta(minutes=10)
    PdfBatch.objects.filter(pk=lost.pk).update(created_at=long_ago)
    PdfBatch.objects.filter(pk=dead.pk).update(status="running", heartbeat_at=long_ago)
    PdfBatch.objects.filter(pk=alive.pk).update(status="running", heartbeat_at=timezone.now())
    assert pdfs.restart_stale_pdf_batches(timedelta(minutes=2)) == [lost.pk, dead.pk]
    assert sent == [lost.pk, dead.pk]
    assert pdfs.restart_stale_pdf_batches(timedelta(minutes=2)) == []  # claimed: not twice
    monkeypatch.undo()
    pdfs.run_pdf_batch(batch_id=dead.pk)
    assert results(PdfBatch.objects.get(pk=dead.pk)) == {
        "b.pdf": ("attached", records["lindqvist"].pk)
    }


def test_a_rolled_back_decision_keeps_the_uploaded_file(review, owner, reviewer, records):
    from django.db import transaction

    batch = pdfs.create_pdf_batch(
        review=review, actor=owner, files=[named(unmatched_pdf(), "n.pdf")]
    )
    pdf = batch.files.get()
    with pytest.raises(RuntimeError), transaction.atomic():
        pdfs.resolve_pdf_file(pdf_file=pdf, actor=reviewer, record=records["brown"])
        raise RuntimeError("the request failed after the decision")
    pdf.refresh_from_db()
    assert pdf.status == "unmatched" and pdf.file.storage.exists(pdf.file.name)
    assert pdfs.resolve_pdf_file(pdf_file=pdf, actor=reviewer, record=records["brown"]).status == (
        "attached"
    )
    assert not pdf.file.storage.exists(pdf.file.name)  # gone once the decision committed


def test_a_record_that_left_full_text_meanwhile_is_left_to_a_person(
    review, owner, records, monkeypatch
):
    # The batch read the records at full text; one of them has left it since.
    novak = records["novak"]
    monkeypatch.setattr(
        pdfs,
        "full_text_records",
        lambda review: [{"id": novak.pk, "title": novak.title, "authors": [], "doi": novak.doi}],
    )
    fibre = make_pdf(["Dietary fibre", "doi: 10.1000/fibre.2017.9"])
    batch = pdfs.create_pdf_batch(review=review, actor=owner, files=[named(fibre, "f.pdf")])
    pdf = batch.files.get()
    assert (pdf.status, pdf.record_id) == ("unsure", novak.pk)
    assert pdf.message == (
        f"f.pdf matches record {novak.pk}, but: Only records that passed title/abstract "
        "screening have a full text."
    )
    assert not FullTextReport.objects.exists()


def test_the_batch_page_polls_while_the_batch_runs(
    review, owner, reviewer, client_for, records, monkeypatch
):
    monkeypatch.setattr(pdfs, "send_task", lambda *a, **k: True)  # no task: it stays queued
    batch = pdfs.create_pdf_batch(
        review=review,
        actor=owner,
        files=[named(doi_pdf(), "a.pdf"), named(doi_pdf(), "b.pdf"), named(pmid_pdf(), "c.pdf")],
    )
    url = reverse("fulltext-batch", args=[review.slug, batch.pk])
    client = client_for(reviewer)
    page = client.get(url).content.decode()
    assert 'hx-trigger="every 1s"' in page and "<h1>PDF batch" in page
    assert 'aria-valuenow="33"' in page  # the duplicate is done already: 1 of 3
    partial = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert partial.lstrip().startswith('<section id="batch-status"') and "<h1>" not in partial
    pdfs.run_pdf_batch(batch_id=batch.pk)
    page = client.get(url).content.decode()
    assert "hx-trigger" not in page and 'aria-valuenow="100"' in page
