"""In Chromium (#22): the pdf.js viewer on the full-text screening page marks the stage's
highlight terms in the PDF's text, turns pages with Shift+J / Shift+K and finds text; on
the extraction page, text selected in the PDF fills the focused field and keeps its quote
and page; after both extractors submit, the owner sees both quotes at consensus."""

from __future__ import annotations

import io

import pytest
from playwright.sync_api import expect

from extraction.models import Extraction
from extraction.services.extractions import start_extraction, submit_extraction
from reviewflow.reviews.models import Role
from reviewflow.reviews.services import add_member, create_review
from screening.services.fulltext import attach_full_text
from screening.services.screening.stage_settings import update_stage_settings
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import PASSWORD
from tests.extraction.helpers import published_form
from tests.screening.screening_fixtures import import_records, vote
from tests.screening.test_pdf_matching import make_pdf

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLUG = "msc-pdf"
LINES = [
    "Mesenchymal stromal cells versus placebo in type 2 diabetes",
    "A total of 40 participants were randomised",
]


def select_text_containing(page, text: str) -> None:
    """Select, as a mouse would, the text layer line that holds ``text``."""
    page.evaluate(
        """(text) => {
          const span = [...document.querySelectorAll(".textLayer span")]
            .find((s) => s.textContent.includes(text));
          const range = document.createRange();
          range.selectNodeContents(span);
          const selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
        }""",
        text,
    )


def test_viewer_marks_terms_turns_pages_searches_and_quotes_reach_consensus(
    live_server, new_page, owner, reviewer, reviewer2
):
    review = create_review(title="MSC and PDFs", slug=SLUG, owner=owner)
    for user in (reviewer, reviewer2):
        add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
    update_stage_settings(
        review=review,
        stage="full-text",
        actor=owner,
        include_terms="mesenchymal*\nrandomi*ed",
        exclude_terms="placebo",
    )
    record = import_records(review, owner, 1)[0]
    for user in (reviewer, reviewer2):
        vote(review, record, user, "include")
    attach_full_text(
        review=review,
        record=record,
        actor=owner,
        file=io.BytesIO(make_pdf(LINES, pages=2)),
        filename="trial.pdf",
    )
    base = live_server.url

    # Full-text screening: the terms are marked in the PDF's own text.
    page = new_page(1400, 900)
    sign_in(page, base, reviewer.username, PASSWORD)
    page.goto(f"{base}/r/{SLUG}/screen/full-text/")
    viewer = page.locator("[data-pdf-viewer]")
    expect(viewer).to_have_attribute("data-page-shown", "1")
    expect(viewer.locator(".textLayer mark.hl-include").first).to_have_text("Mesenchymal")
    expect(viewer.locator(".textLayer mark.hl-exclude")).to_have_text("placebo")
    expect(viewer.locator(".textLayer mark.hl-include").nth(1)).to_have_text("randomised")
    expect(viewer.locator("[data-pdf-count]")).to_have_text("2")
    screenshot(page, "pdf-viewer-screening")

    # Pages by key: Shift+J next, Shift+K previous (keys the screening page leaves free).
    page.locator("body").press("Shift+J")
    expect(viewer).to_have_attribute("data-page-shown", "2")
    expect(viewer.locator(".textLayer")).to_contain_text("Page 2")
    page.locator("body").press("Shift+K")
    expect(viewer).to_have_attribute("data-page-shown", "1")
    # Typing in the search box votes for nothing ("i" would include).
    page.locator("body").press("/")
    expect(viewer.locator("[data-pdf-search]")).to_be_focused()
    page.keyboard.type("page 2")
    page.keyboard.press("Enter")
    expect(viewer).to_have_attribute("data-page-shown", "2")
    expect(viewer.locator("mark.pdfv-hit-current")).to_have_text("Page 2")
    expect(viewer.locator("[data-pdf-hits]")).to_have_text("1 of 1")
    assert not record.votes.filter(stage="full-text").exists()

    # Both include at full text: the study is included and extraction opens.
    for user in (reviewer, reviewer2):
        vote(review, record, user, "include", stage="full-text")
    form = published_form(review, owner)
    start_extraction(form=form, record=record, extractor=reviewer)
    url = f"{base}/r/{SLUG}/extraction/forms/{form.pk}/studies/{record.pk}/"
    page.goto(url)
    viewer = page.locator("[data-pdf-viewer]")
    expect(viewer.locator(".textLayer mark.hl-exclude")).to_have_text("placebo")
    page.select_option("[name=f-design]", "RCT")
    page.click("[name=f-sample_size]")
    select_text_containing(page, "40 participants")
    use = viewer.locator("[data-pdf-use]")
    expect(use).to_be_visible()
    expect(use).to_contain_text("Sample size")
    use.click()
    # An integer field takes the quote's first number; the quote and page stay beside it.
    expect(page.locator("[name=f-sample_size]")).to_have_value("40")
    quote = page.locator("[data-evidence='f-sample_size']")
    expect(quote.locator("[data-evidence-quote]")).to_have_text(LINES[1])
    expect(quote.locator("[data-evidence-page]")).to_have_text("1")
    expect(page.locator("[data-evidence='f-country']")).to_be_hidden()  # no quote yet
    screenshot(page, "pdf-viewer-evidence")
    page.click("button[value=submit]")
    expect(page.locator("[data-extraction-status]")).to_have_text("Submitted")
    mine = Extraction.objects.get(form=form, record=record, extractor=reviewer)
    assert mine.values["sample_size"] == 40
    assert mine.evidence == {"sample_size": {"quote": LINES[1], "page": 1}}

    theirs = start_extraction(form=form, record=record, extractor=reviewer2)
    submit_extraction(
        extraction=theirs,
        actor=reviewer2,
        values={"design": "RCT", "sample_size": 40},
        evidence={"sample_size": {"quote": "A total of 40 participants", "page": 1}},
    )

    # The owner compares: each extractor's quote beside their value.
    adjudicator = new_page(1400, 900)
    sign_in(adjudicator, base, owner.username, PASSWORD)
    adjudicator.goto(f"{url}compare/")
    row = adjudicator.locator("tr[data-compare='sample_size']")
    expect(row.locator(f"[data-quote-of='{reviewer.username}'] q")).to_have_text(LINES[1])
    expect(row.locator(f"[data-quote-of='{reviewer2.username}'] q")).to_have_text(
        "A total of 40 participants"
    )
    kept = adjudicator.locator("#consensus-form [data-evidence='f-sample_size']")
    expect(kept.locator("[data-evidence-quote]")).to_have_text(LINES[1])
    row.locator(f"[data-quote-of='{reviewer2.username}'] [data-use-quote]").click()
    expect(kept.locator("[data-evidence-quote]")).to_have_text("A total of 40 participants")
    screenshot(adjudicator, "pdf-viewer-consensus-quotes")
    adjudicator.click("#consensus-form button[value=finalise]")
    expect(adjudicator.locator("[data-consensus-status]")).to_contain_text("final")
    consensus = form.consensus_rows.get(record=record)
    assert consensus.evidence == {"sample_size": {"quote": "A total of 40 participants", "page": 1}}
