"""In Chromium: an owner builds a form with a table field (moving fields by keyboard and by
drag) and publishes it; two extractors fill it for one included study, one first leaving a
required field empty and reading the message; the owner compares, settles the
disagreement, finalises, and the downloaded export holds the agreed values."""

from __future__ import annotations

import io
import zipfile

import pytest
from playwright.sync_api import expect

from extraction.models import Consensus, Extraction, Form
from reviewflow.reviews.models import Role
from reviewflow.reviews.services import add_member, create_review
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import PASSWORD
from tests.screening.screening_fixtures import import_records, vote

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLUG = "msc-oa"


def build_form(page, base):
    page.goto(f"{base}/r/{SLUG}/extraction/")
    page.fill("input[name=title]", "Outcomes")
    page.click("button:has-text('Create form')")
    page.wait_for_selector("#builder [data-path='s0.title']")

    page.click("[data-path='s0.addfield']")
    page.keyboard.type("Country")  # the new field's label has the focus
    assert page.input_value("[data-path='s0.f0.key']") == "country"

    page.click("[data-path='s0.addfield']")
    page.keyboard.type("Sample size")
    page.select_option("[data-path='s0.f1.kind']", "integer")
    page.check("[data-path='s0.f1.required']")
    page.fill("[data-path='s0.f1.min']", "0")

    page.click("[data-path='s0.addfield']")
    page.keyboard.type("Arms")
    page.select_option("[data-path='s0.f2.kind']", "table")
    page.fill("[data-path='s0.f2.c0.label']", "Arm")
    page.check("[data-path='s0.f2.c0.required']")
    page.click("[data-path='s0.f2.addcolumn']")
    page.keyboard.type("Events")
    page.select_option("[data-path='s0.f2.c1.kind']", "integer")

    # Keyboard reorder: focus the "Sample size" field and move it to the top.
    page.focus("li[data-path='s0.f1']")
    page.keyboard.press("Alt+ArrowUp")
    assert page.evaluate("document.activeElement.dataset.path") == "s0.f0"
    assert page.input_value("[data-path='s0.f0.label']") == "Sample size"
    assert "moved to position 1" in page.inner_text("#builder-status")
    # And by drag and drop: the Arms table onto Country's place.
    page.drag_and_drop("li[data-path='s0.f2'] .b-handle", "li[data-path='s0.f1']")
    assert page.input_value("[data-path='s0.f1.label']") == "Arms"

    page.click("[data-preview]")
    page.wait_for_selector("#preview [data-preview-panel] [name='f-arms-0-events']")
    assert page.is_disabled("#preview [name='f-sample_size']")
    screenshot(page, "extraction-builder")

    page.click("[data-save]")
    page.wait_for_selector(".msg-success")
    form = Form.objects.get(title="Outcomes")
    fields = form.spec["sections"][0]["fields"]
    assert [f["key"] for f in fields] == ["sample_size", "arms", "country"]
    assert [c["key"] for c in fields[1]["columns"]] == ["arm", "events"]

    page.click("button:has-text('Publish')")
    page.wait_for_selector("[data-frozen]")
    assert "frozen" in page.inner_text("[data-frozen]")
    form.refresh_from_db()
    assert form.status == "published"
    return form


def extract(page, base, username, placebo_events, *, forget_sample_size=False):
    sign_in(page, base, username, PASSWORD)
    page.goto(f"{base}/r/{SLUG}/extraction/")
    page.click("button:has-text('Start extraction')")
    page.wait_for_selector("#extraction-form")
    page.fill("[name='f-country']", "Norway")
    page.fill("[name='f-arms-0-arm']", "MSC")
    page.fill("[name='f-arms-0-events']", "4")
    page.click("[data-add-row]")
    page.keyboard.type("Placebo")  # the new row's first cell has the focus
    page.fill("[name='f-arms-1-events']", placebo_events)
    if forget_sample_size:
        page.click("button[value=submit]")
        summary = page.locator("[data-error-summary]")
        summary.wait_for()
        assert "Sample size: This field is required." in summary.inner_text()
        beside = page.locator("#field-sample_size .error")
        assert beside.inner_text() == "This field is required."
        assert page.input_value("[name='f-arms-1-arm']") == "Placebo"  # values kept
        screenshot(page, "extraction-required-field")
    page.fill("[name='f-sample_size']", "120")
    page.click("button[value=submit]")
    page.wait_for_selector("[data-extraction-status]:has-text('Submitted')")


def test_owner_builds_two_extractors_fill_adjudicator_settles_and_export_agrees(
    live_server, new_page, owner, reviewer, reviewer2
):
    review = create_review(title="MSC knee OA", slug=SLUG, owner=owner)
    for user in (reviewer, reviewer2):
        add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
    (record,) = import_records(review, owner, 1)
    for stage in ("title-abstract", "full-text"):
        for user in (reviewer, reviewer2):
            vote(review, record, user, "include", stage=stage)
    base = live_server.url

    adjudicator = new_page()
    sign_in(adjudicator, base, owner.username, PASSWORD)
    form = build_form(adjudicator, base)

    extract(new_page(), base, reviewer.username, "9", forget_sample_size=True)
    extract(new_page(), base, reviewer2.username, "8")
    assert Extraction.objects.filter(form=form, status="submitted").count() == 2

    adjudicator.goto(f"{base}/r/{SLUG}/extraction/")
    adjudicator.click("a:has-text('Compare & settle')")
    adjudicator.wait_for_selector("#consensus-form")
    assert "1 field differs" in adjudicator.inner_text("[data-disagreements]")
    disputed = adjudicator.locator("[data-compare='arms'] [data-compare-row='2'] td.x-disagree")
    assert disputed.inner_text() == "9 vs 8"
    assert adjudicator.input_value("#consensus-form [name='f-sample_size']") == "120"
    assert adjudicator.input_value("#consensus-form [name='f-arms-1-events']") == ""
    screenshot(adjudicator, "extraction-comparison")
    adjudicator.fill("#consensus-form [name='f-arms-1-events']", "9")
    adjudicator.click("button[value=finalise]")
    adjudicator.wait_for_selector("[data-consensus-status]:has-text('final')")
    consensus = Consensus.objects.get(form=form, record=record)
    assert consensus.status == "final"
    assert consensus.values["arms"] == [
        {"arm": "MSC", "events": 4},
        {"arm": "Placebo", "events": 9},
    ]

    adjudicator.goto(f"{base}/r/{SLUG}/extraction/")
    assert "Consensus: final" in adjudicator.inner_text(f"[data-study='{record.pk}']")
    screenshot(adjudicator, "extraction-home")
    with adjudicator.expect_download() as download:
        adjudicator.click("[data-export='consensus-csv']")
    with zipfile.ZipFile(io.BytesIO(open(download.value.path(), "rb").read())) as archive:
        files = {name: archive.read(name).decode("utf-8-sig") for name in archive.namelist()}
    studies = next(text for name, text in files.items() if not name.endswith("_arms.csv"))
    arms = next(text for name, text in files.items() if name.endswith("_arms.csv"))
    assert "120" in studies and "Norway" in studies
    assert "Placebo" in arms and ",9" in arms and ",8" not in arms


def test_rob2_proposal_follows_the_answers_and_an_override_needs_a_reason(
    live_server, new_page, owner, reviewer, reviewer2
):
    from extraction.services.forms import create_form_from_template, publish_form

    review = create_review(title="MSC knee OA", slug=SLUG, owner=owner)
    add_member(review=review, actor=owner, user=reviewer, role=Role.REVIEWER)
    add_member(review=review, actor=owner, user=reviewer2, role=Role.REVIEWER)
    (record,) = import_records(review, owner, 1)
    for stage in ("title-abstract", "full-text"):
        for user in (reviewer, reviewer2):
            vote(review, record, user, "include", stage=stage)
    draft = create_form_from_template(review=review, actor=owner, template="rob2")
    form = publish_form(form=draft, actor=owner)
    base = live_server.url

    page = new_page()
    sign_in(page, base, reviewer.username, PASSWORD)
    page.goto(f"{base}/r/{SLUG}/extraction/forms/{form.pk}/studies/{record.pk}/")
    page.click("button:has-text('Start extraction')")
    proposal = page.locator("[data-proposal-for='d1_judgement']")
    assert proposal.inner_text() == "not yet (answer the signalling questions)"
    page.select_option("[name='f-q1_1']", "Y")
    page.select_option("[name='f-q1_2']", "Y")
    page.select_option("[name='f-q1_3']", "N")
    # Locators, not wait_for_function: that evaluates with eval, which the CSP refuses.
    proposal = page.locator("[data-proposal-for='d1_judgement']")
    expect(proposal).to_have_text("Low risk")
    page.select_option("[name='f-q1_2']", "N")
    expect(proposal).to_have_text("High risk")
    page.select_option("[name='f-d1_judgement-judgement']", "some_concerns")
    page.click("button[value=submit]")
    page.locator("[data-error-summary]").wait_for()
    message = page.inner_text("#field-d1_judgement .error")
    assert message == 'the algorithm proposes "High risk"; give a reason for overriding it'
    assert page.input_value("[name='f-d1_judgement-judgement']") == "some_concerns"
    screenshot(page, "extraction-rob2")
