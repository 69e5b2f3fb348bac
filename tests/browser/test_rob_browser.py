"""In Chromium: an extractor fills a QUADAS-2 assessment, watches the guidance's proposed
judgements follow the answers, overrides one with a reason and saves; a member opens the
risk-of-bias plots of a settled form, drawn under the page's strict CSP."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from extraction.models import Extraction
from reviewflow.reviews.models import Role
from reviewflow.reviews.services import add_member, create_review
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import PASSWORD
from tests.screening.screening_fixtures import import_records, vote

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLUG = "dx-accuracy"


def _review(owner, reviewer, reviewer2, n=1):
    review = create_review(title="Point-of-care troponin", slug=SLUG, owner=owner)
    add_member(review=review, actor=owner, user=reviewer, role=Role.REVIEWER)
    add_member(review=review, actor=owner, user=reviewer2, role=Role.REVIEWER)
    records = import_records(review, owner, n)
    for record in records:
        for stage in ("title-abstract", "full-text"):
            for user in (reviewer, reviewer2):
                vote(review, record, user, "include", stage=stage)
    return review, records


def test_quadas2_proposals_follow_the_answers_and_an_override_keeps_its_reason(
    live_server, new_page, owner, reviewer, reviewer2
):
    from extraction.services.forms import create_form_from_template, publish_form

    review, (record,) = _review(owner, reviewer, reviewer2)
    draft = create_form_from_template(review=review, actor=owner, template="quadas2")
    form = publish_form(form=draft, actor=owner)
    base = live_server.url

    page = new_page()
    sign_in(page, base, reviewer.username, PASSWORD)
    page.goto(f"{base}/r/{SLUG}/extraction/forms/{form.pk}/studies/{record.pk}/")
    page.click("button:has-text('Start extraction')")
    d1 = page.locator("[data-proposal-for='d1_judgement']")
    overall = page.locator("[data-proposal-for='overall_judgement']")
    expect(d1).to_have_text("not yet (answer the signalling questions)")
    expect(page.locator("#field-d1_judgement")).to_contain_text(
        "Proposed by the QUADAS-2 guidance:"
    )
    expect(page.locator("#field-d1_applicability")).to_contain_text(
        "QUADAS-2 proposes no judgement here: choose one."
    )
    for question in ("f-qd1_1", "f-qd1_2", "f-qd1_3"):
        page.select_option(f"[name='{question}']", "Yes")
    expect(d1).to_have_text("Low risk")  # all yes: low, as the guidance says
    page.select_option("[name='f-qd1_2']", "Unclear")
    expect(d1).to_have_text("Unclear risk")
    page.select_option("[name='f-qd1_2']", "No")
    expect(d1).to_have_text("High risk")  # any no flags the potential for bias
    for question in ("qd2_1", "qd2_2", "qd3_1", "qd3_2", "qd4_1", "qd4_2", "qd4_3", "qd4_4"):
        page.select_option(f"[name='f-{question}']", "Yes")
    expect(overall).to_have_text("High risk")

    # The assessor overrides domain 1: submitting without a reason names the field.
    page.select_option("[name='f-d1_judgement-judgement']", "low")
    for n in (1, 2, 3):
        page.select_option(f"[name='f-d{n}_applicability-judgement']", "low")
    page.select_option("[name='f-overall_judgement-judgement']", "low")
    page.click("button[value=submit]")
    page.locator("[data-error-summary]").wait_for()
    assert page.inner_text("#field-d1_judgement .error") == (
        'the guidance proposes "High risk"; give a reason for overriding it'
    )
    assert page.input_value("[name='f-d1_judgement-judgement']") == "low"
    reason = "Case-control sampling was for a pilot phase only; the accuracy data are consecutive."
    page.fill("[name='f-d1_judgement-override_reason']", reason)
    page.click("button[value=submit]")
    expect(page.locator(".messages, [role=status]").first).to_contain_text("Extraction submitted")
    mine = Extraction.objects.get(form=form, extractor=reviewer)
    assert mine.status == "submitted"
    assert mine.values["d1_judgement"] == {"judgement": "low", "override_reason": reason}
    assert mine.values["d1_applicability"] == {"judgement": "low", "override_reason": ""}
    assert mine.values["overall_judgement"]["judgement"] == "low"
    screenshot(page, "extraction-quadas2")


def test_rob_plots_page_shows_the_settled_studies(
    live_server, new_page, owner, reviewer, reviewer2, viewer
):
    from extraction.form_templates import TEMPLATES
    from extraction.services.extractions import start_extraction, submit_extraction
    from extraction.services.forms import create_form, publish_form
    from extraction.spec import FormSpec

    review, records = _review(owner, reviewer, reviewer2, n=3)
    add_member(review=review, actor=owner, user=viewer, role=Role.VIEWER)
    spec = FormSpec(title="RoB 1", extractors_needed=1, sections=TEMPLATES["rob1"].sections)
    form = publish_form(form=create_form(review=review, actor=owner, spec=spec), actor=owner)
    for record, word in zip(records, ("Low risk", "High risk", "Unclear risk"), strict=True):
        extraction = start_extraction(form=form, record=record, extractor=reviewer)
        values = {f"d{n}_judgement": word for n in range(1, 8)}
        submit_extraction(extraction=extraction, actor=reviewer, values=values)
    base = live_server.url

    page = new_page()
    sign_in(page, base, viewer.username, PASSWORD)
    page.goto(f"{base}/r/{SLUG}/extraction/")
    page.click(f"[data-rob-plots='{form.pk}']")
    expect(page.locator("h1")).to_have_text("Risk of bias plots")
    expect(page.locator(".rob-plots-intro")).to_contain_text(
        "RoB 1: the final consensus of 3 studies"
    )
    for plot in ("traffic-light", "summary"):
        image = page.locator(f"[data-plot='{plot}'] img")
        expect(image).to_be_visible()
        # The SVG loaded and was drawn (an image that failed has no natural width).
        expect(image).to_have_js_property("complete", True)
        assert page.evaluate("(el) => el.naturalWidth", image.element_handle()) > 0
    with page.expect_download() as download:
        page.click("[data-download='traffic-light-png']")
    assert download.value.suggested_filename.endswith("-traffic-light.png")
    screenshot(page, "rob-plots")
