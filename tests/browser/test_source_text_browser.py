"""In Chromium (issue #18): a record's publisher tags show as formatting, an entity as its
character, a script tag as text that never runs; highlights work inside the formatting and
a structured abstract shows as labelled paragraphs."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from reviewflow.reviews.models import Role
from reviewflow.reviews.services import add_member, create_review
from screening.models import Stage
from screening.services import identification
from screening.services.screening.stage_settings import update_stage_settings
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import PASSWORD
from tests.screening.factories import upload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TITLE = (
    "<i>In vivo</i> growth of 10<sup>6</sup> cells at p &lt; 0.05 "
    "<script>document.title='pwned'</script>"
)
RIS = (
    f"TY  - JOUR\nTI  - {TITLE}\nAU  - Smith, A\nPY  - 2021\n"
    "AB  - BACKGROUND: Mesenchymal stem <i>cells</i> repair cartilage. METHODS: We treated "
    "40 knees. RESULTS: Pain fell (p < 0.01). CONCLUSIONS: Promising.\nER  - \n"
)


def test_record_text_shows_publisher_formatting_and_scripts_as_text(
    live_server, new_page, owner, reviewer
):
    review = create_review(title="Markup", slug="markup", owner=owner)
    add_member(review=review, actor=owner, user=reviewer, role=Role.REVIEWER)
    update_stage_settings(
        review=review, stage=Stage.TITLE_ABSTRACT, actor=owner, include_terms="stem cell*"
    )
    search = identification.create_search(
        review=review, actor=owner, file=upload(RIS, "m.ris"), filename="m.ris", source="PubMed"
    )
    identification.run_import(search_id=search.pk)
    record = search.records.get()
    base = live_server.url

    page = new_page()
    sign_in(page, base, reviewer.username, PASSWORD)
    page.goto(f"{base}/r/markup/screen/title-abstract/")
    title = page.locator("h2.record-title")
    expect(title).to_have_text(
        "In vivo growth of 106 cells at p < 0.05 <script>document.title='pwned'</script>"
    )
    italic = title.locator("i")
    expect(italic).to_have_text("In vivo")
    assert italic.evaluate("e => getComputedStyle(e).fontStyle") == "italic"
    sup = title.locator("sup")
    expect(sup).to_have_text("6")
    assert sup.evaluate("e => getComputedStyle(e).verticalAlign") == "super"
    assert title.locator("script").count() == 0
    assert page.title() != "pwned"

    abstract = page.locator(".abstract")
    labels = abstract.locator("p.abstract-section > strong.abstract-label")
    expect(labels).to_have_text(["BACKGROUND:", "METHODS:", "RESULTS:", "CONCLUSIONS:"])
    assert labels.first.evaluate("e => Number(getComputedStyle(e).fontWeight)") >= 600
    expect(abstract.locator("p.abstract-section").nth(2)).to_have_text(
        "RESULTS: Pain fell (p < 0.01)."
    )
    # The term "stem cell*" runs into the italics: marked on both sides of the tag.
    expect(abstract.locator("mark.hl-include")).to_have_text(["stem ", "cells"])
    expect(abstract.locator("i > mark.hl-include")).to_have_text("cells")
    screenshot(page, "source-text-screening")

    detail = new_page()
    sign_in(detail, base, owner.username, PASSWORD)
    detail.goto(f"{base}/r/markup/records/{record.pk}/")
    expect(detail.locator("h1 i")).to_have_text("In vivo")
    expect(detail.locator("h1")).to_contain_text("p < 0.05 <script>")
    expect(detail.locator(".abstract strong.abstract-label")).to_have_count(4)
    detail.goto(f"{base}/r/markup/records/")
    expect(detail.locator("table.table tbody a i").first).to_have_text("In vivo")
    assert detail.title() != "pwned"
