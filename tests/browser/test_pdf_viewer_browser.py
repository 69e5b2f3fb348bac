"""In Chromium (#22): the pdf.js viewer on the full-text screening page marks the stage's
highlight terms in the PDF's text, turns pages with Shift+J / Shift+K and finds text; on
the extraction page, text selected in the PDF fills the focused field and keeps its quote
and page; after both extractors submit, the owner sees both quotes at consensus."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from playwright.sync_api import expect

from extraction.models import Extraction
from extraction.services.extractions import start_extraction, submit_extraction
from reviewflow.reviews.models import Role
from reviewflow.reviews.services import add_member, create_review
from screening.models import Conflict
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
    # A new width draws the page anew (and only a new width: the resize observer also fires
    # once as it starts, and a redraw at the same size blanked the canvas and dropped the
    # reader's selection: the likely cause of two failures here under load).
    width = viewer.locator("canvas").evaluate("c => c.width")
    page.set_viewport_size({"width": 1100, "height": 900})
    expect(viewer.locator("canvas")).not_to_have_attribute("width", str(width))
    expect(viewer.locator(".textLayer mark.hl-exclude")).to_have_text("placebo")

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


def test_the_adjudication_desk_shows_the_pdf_in_the_same_viewer(
    live_server, new_page, owner, reviewer, reviewer2
):
    review = create_review(title="MSC and PDFs", slug=SLUG, owner=owner)
    for user in (reviewer, reviewer2):
        add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
    update_stage_settings(
        review=review, stage="full-text", actor=owner, include_terms="mesenchymal*"
    )
    records = import_records(review, owner, 2)
    texts = (LINES, ["Mesenchymal precursor cells in knee osteoarthritis", "Open label"])
    for record, lines in zip(records, texts, strict=True):
        for user in (reviewer, reviewer2):
            vote(review, record, user, "include")
        vote(review, record, reviewer, "include", stage="full-text")
        vote(review, record, reviewer2, "exclude", stage="full-text", reason="Wrong population")
        attach_full_text(
            review=review,
            record=record,
            actor=owner,
            file=io.BytesIO(make_pdf(lines, pages=2)),
            filename=f"trial-{record.pk}.pdf",
        )
    base = live_server.url

    page = new_page(1400, 900)
    sign_in(page, base, owner.username, PASSWORD)
    page.goto(f"{base}/r/{SLUG}/conflicts/?stage=full-text")
    viewer = page.locator("#desk [data-pdf-viewer]")
    expect(viewer).to_have_attribute("data-page-shown", "1")
    expect(viewer.locator(".textLayer mark.hl-include")).to_have_text("Mesenchymal")
    expect(viewer.locator(".textLayer")).to_contain_text(LINES[1])
    assert page.locator("iframe").count() == 0
    screenshot(page, "pdf-viewer-adjudication")
    # Shift+J / Shift+K turn pages; j (without Shift) still moves to the next conflict,
    # which htmx swaps in with its own PDF in a new viewer.
    page.locator("body").press("Shift+J")
    expect(viewer).to_have_attribute("data-page-shown", "2")
    page.keyboard.press("j")
    expect(page.locator(f"#desk [data-record='{records[1].pk}']")).to_be_visible()
    expect(viewer.locator(".textLayer")).to_contain_text("Open label")
    expect(viewer).to_have_attribute("data-page-shown", "1")
    # Enter in the PDF's search box searches; it resolves nothing.
    page.locator("body").press("/")
    page.keyboard.type("open label")
    page.keyboard.press("Enter")
    expect(viewer.locator("[data-pdf-hits]")).to_have_text("1 of 1")
    assert not Conflict.objects.filter(resolved_at__isnull=False).exists()


def jpeg2000_scan() -> bytes:
    """A one-page PDF like a scan: no text, one JPEG 2000 image (``/JPXDecode``, written by
    Pillow with OpenJPEG), red on its left half and blue on its right, drawn at x 100–500,
    y 500–700 of a 612 × 792 page."""
    image = Image.new("RGB", (200, 100), (220, 20, 20))
    image.paste((20, 40, 220), (100, 0, 200, 100))
    jp2 = io.BytesIO()
    image.save(jp2, format="JPEG2000")
    data = jp2.getvalue()
    assert data[4:8] == b"jP  "  # a JP2 file, as scanners write
    content = b"q 400 0 0 200 100 500 cm /Im1 Do Q"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /XObject /Subtype /Image /Width 200 /Height 100 /ColorSpace /DeviceRGB "
        b"/BitsPerComponent 8 /Filter /JPXDecode /Length %d >>\nstream\n%s\nendstream"
        % (len(data), data),
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.5\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def test_a_scanned_page_in_jpeg_2000_is_drawn_with_the_vendored_decoder(
    live_server, new_page, browser_log, owner, reviewer, reviewer2
):
    # pdf.js decodes JPEG 2000 in its worker with OpenJPEG compiled to WebAssembly, fetched
    # from the viewer's wasmUrl (static/vendor/pdfjs/wasm/). Without it the image stays
    # blank (white), and so it does if the worker script is ever served with the pages'
    # policy, which has no 'wasm-unsafe-eval': WhiteNoise serves static files before the
    # policy's middleware, so the worker runs under no policy of its own.
    review = create_review(title="MSC and PDFs", slug=SLUG, owner=owner)
    for user in (reviewer, reviewer2):
        add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
    record = import_records(review, owner, 1)[0]
    for user in (reviewer, reviewer2):
        vote(review, record, user, "include")
    attach_full_text(
        review=review,
        record=record,
        actor=owner,
        file=io.BytesIO(jpeg2000_scan()),
        filename="scan.pdf",
    )
    base = live_server.url
    page = new_page(1400, 900)
    sign_in(page, base, reviewer.username, PASSWORD)
    page.goto(f"{base}/r/{SLUG}/screen/full-text/")
    viewer = page.locator("[data-pdf-viewer]")
    expect(viewer).to_have_attribute("data-page-shown", "1")
    # The colour of the canvas at a point of the page (in PDF units from the top left).
    colour = """([x, y]) => {
      const canvas = document.querySelector("[data-pdf-viewer] canvas");
      const px = Math.round((x / 612) * canvas.width), py = Math.round((y / 792) * canvas.height);
      return [...canvas.getContext("2d").getImageData(px, py, 1, 1).data.slice(0, 3)];
    }"""
    red, blue, paper = (page.evaluate(colour, at) for at in ([200, 192], [400, 192], [50, 50]))
    assert red[0] > 180 and red[1] < 80 and red[2] < 80, (red, browser_log.console)
    assert blue[2] > 180 and blue[0] < 80, (blue, browser_log.console)
    assert paper == [255, 255, 255]
    # The canvas pdf.js adds to the page to decode the image stays hidden.
    expect(page.locator("body > canvas.hiddenCanvasElement")).to_be_hidden()
    # pdf.js warns in the console when a decoder cannot load ("JpxImage#instantiateWasm").
    assert not [line for line in browser_log.console if "jpx" in line.lower()]
    screenshot(page, "pdf-viewer-jpeg2000-scan")
