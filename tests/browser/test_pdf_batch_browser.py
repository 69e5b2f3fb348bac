"""In Chromium: a reviewer drops three PDFs on the Full texts page; one is attached at once
(its DOI), one waits in the queue beside its candidate record and is confirmed there, one
matches nothing and is attached by record number."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from screening.models import FullTextReport, PdfFile
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import PASSWORD
from tests.screening.test_pdf_batches import _import, doi_pdf, unmatched_pdf, unsure_pdf

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RIS = """TY  - JOUR
TI  - Mesenchymal stromal cells for type 2 diabetes: a randomised controlled trial
AU  - Okafor, Ngozi
DO  - 10.1000/msc.2019.001
ER  -

TY  - JOUR
TI  - Exercise after stroke: a pilot study of home training programmes
AU  - Brown, Amy
ER  -

TY  - JOUR
TI  - Sleep hygiene education for shift workers: a cluster trial
AU  - Ito, Kenji
ER  -
"""


def test_three_pdfs_one_sure_one_confirmed_in_the_queue_one_attached_by_number(
    live_server, new_page, review, owner, reviewer
):
    _import(review, owner, RIS, "citations.ris", "other")
    base = live_server.url
    page = new_page()
    sign_in(page, base, reviewer.username, PASSWORD)
    page.goto(f"{base}/r/{review.slug}/fulltexts/")
    expect(page.locator("[data-unsure-queue]")).to_contain_text("No PDF waits for a decision.")
    page.locator("[data-pdf-upload] input[type=file]").set_input_files(
        [
            {"name": "okafor.pdf", "mimeType": "application/pdf", "buffer": doi_pdf()},
            {"name": "brown.pdf", "mimeType": "application/pdf", "buffer": unsure_pdf()},
            {"name": "sleep.pdf", "mimeType": "application/pdf", "buffer": unmatched_pdf()},
        ]
    )
    page.locator("[data-pdf-upload] button").click()

    status = page.locator("#batch-status")
    expect(status.locator("[data-status]")).to_have_attribute("data-status", "done")
    expect(status.locator("[data-count=attached]")).to_have_text("1")
    expect(status.locator("[data-count=unsure]")).to_have_text("1")
    expect(status.locator("[data-count=unmatched]")).to_have_text("1")
    expect(status.locator("tr[data-result=attached]")).to_contain_text("okafor.pdf")
    screenshot(page, "pdf-batch")

    # The unsure one, side by side: the PDF's first page and the candidate record.
    status.locator("[data-to-queue]").click()
    item = page.locator("[data-unsure-queue] [data-pdf-file]")
    expect(item).to_have_count(1)
    expect(item.locator("[data-excerpt]")).to_contain_text("Exercise after stroke")
    candidate = item.locator("[data-candidate]").first
    expect(candidate).to_contain_text("first author not found")
    expect(candidate).to_contain_text("Exercise after stroke: a pilot study")
    screenshot(page, "pdf-queue")
    candidate.get_by_role("button", name="Attach to this record").click()
    expect(page.locator(".messages")).to_contain_text("Attached to record")
    expect(page.locator("[data-unsure-queue]")).to_contain_text("No PDF waits for a decision.")

    # The unmatched one, by record number.
    sleep = PdfFile.objects.get(filename="sleep.pdf")
    row = page.locator(f"[data-unmatched] tr[data-pdf-file='{sleep.pk}']")
    ito = review.records.get(title__startswith="Sleep hygiene")
    row.locator("input[name=record]").fill(str(ito.pk))
    row.get_by_role("button", name="Attach").click()
    expect(page.locator(".messages")).to_contain_text(f"Attached to record {ito.pk}")
    expect(page.locator("[data-unmatched]")).to_contain_text("No unmatched PDF.")

    reports = dict(FullTextReport.objects.values_list("record__title", "filename"))
    assert reports == {
        "Mesenchymal stromal cells for type 2 diabetes: a randomised controlled trial": (
            "okafor.pdf"
        ),
        "Exercise after stroke: a pilot study of home training programmes": "brown.pdf",
        "Sleep hygiene education for shift workers: a cluster trial": "sleep.pdf",
    }
