"""In Chromium: an extractor types an outcome's events and totals into the extraction page
and watches the odds ratio appear and change; a member opens the meta-analysis of the final
consensus and sees the forest plot, under the page's strict CSP."""

from __future__ import annotations

import dataclasses

import pytest
from playwright.sync_api import expect

from extraction.form_templates import TEMPLATES
from reviewflow.reviews.models import Role
from reviewflow.reviews.services import add_member, create_review
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import PASSWORD
from tests.screening.screening_fixtures import import_records, vote

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLUG = "statins-mortality"
SPEC = dataclasses.replace(TEMPLATES["outcomes"], extractors_needed=1)


def _review(owner, reviewer, reviewer2, n):
    review = create_review(title="Statins and mortality", slug=SLUG, owner=owner)
    add_member(review=review, actor=owner, user=reviewer, role=Role.REVIEWER)
    add_member(review=review, actor=owner, user=reviewer2, role=Role.REVIEWER)
    records = import_records(review, owner, n)
    for record in records:
        for stage in ("title-abstract", "full-text"):
            for user in (reviewer, reviewer2):
                vote(review, record, user, "include", stage=stage)
    return review, records


def _arm(arm, events, total):
    return {
        "outcome": "Death",
        "time_point": "1 year",
        "arm": arm,
        "events": events,
        "total": total,
    }


def test_the_odds_ratio_follows_the_typed_counts_and_the_forest_plot_shows_the_pool(
    live_server, new_page, owner, reviewer, reviewer2
):
    from extraction.services.extractions import start_extraction, submit_extraction
    from extraction.services.forms import create_form, publish_form

    review, records = _review(owner, reviewer, reviewer2, 4)
    form = publish_form(form=create_form(review=review, actor=owner, spec=SPEC), actor=owner)
    # Three studies already settled (one extractor: final at once).
    for record, (a, c) in zip(records[1:], [(10, 20), (12, 18), (30, 41)], strict=True):
        extraction = start_extraction(form=form, record=record, extractor=reviewer2)
        values = {"dichotomous": [_arm("Statin", a, 100), _arm("Placebo", c, 100)]}
        submit_extraction(extraction=extraction, actor=reviewer2, values=values)
    base = live_server.url

    page = new_page()
    sign_in(page, base, reviewer.username, PASSWORD)
    page.goto(f"{base}/r/{SLUG}/extraction/forms/{form.pk}/studies/{records[0].pk}/")
    page.click("button:has-text('Start extraction')")
    panel = page.locator("[data-effects]")
    expect(panel).to_contain_text("No outcome rows yet")
    row0 = "f-dichotomous-0-"
    page.fill(f"[name='{row0}outcome']", "Death")
    page.fill(f"[name='{row0}time_point']", "1 year")
    page.fill(f"[name='{row0}arm']", "Statin")
    page.fill(f"[name='{row0}events']", "10")
    page.fill(f"[name='{row0}total']", "100")
    expect(panel.locator("[data-missing]").first).to_contain_text(
        "Missing: Events (arm 2, the comparator: a second row for this outcome)"
    )
    page.click("[data-add-row='f-dichotomous']")
    row1 = "f-dichotomous-1-"
    page.fill(f"[name='{row1}outcome']", "Death")
    page.fill(f"[name='{row1}time_point']", "1 year")
    page.fill(f"[name='{row1}arm']", "Placebo")
    page.fill(f"[name='{row1}total']", "100")
    expect(panel.locator("[data-missing]").first).to_have_text("Missing: Events (arm 2: Placebo)")
    page.fill(f"[name='{row1}events']", "20")
    odds = panel.locator("[data-effect='dichotomous-1-OR'] [data-estimate]")
    expect(odds).to_have_text("0.444 [0.196, 1.006]")  # (10·80)/(90·20), by hand
    page.fill(f"[name='{row1}events']", "0")
    expect(odds).to_contain_text("a cell is zero: 0.5 was added to all four cells")
    screenshot(page, "synthesis-live-effects")

    page.goto(f"{base}/r/{SLUG}/extraction/")
    page.click("[data-synthesis]")
    expect(page.locator("[data-forest] svg")).to_be_visible()
    expect(page.locator("[data-pooled]")).to_contain_text("Random effects, REML, k = 3")
    expect(page.locator("[data-without-consensus]")).to_contain_text("1 included study")
    page.select_option("select[name=measure]", "RR")
    page.select_option("select[name=method]", "MH")
    page.click("button:has-text('Analyse')")
    expect(page.locator("[data-pooled]")).to_contain_text("Fixed effect, Mantel–Haenszel, k = 3")
    assert page.locator("[data-forest] svg text", has_text="Total (95% CI)").count() == 1
    screenshot(page, "synthesis-forest-plot")

    # The owner sees the same effect sizes on a study's consensus page, then rates the
    # outcome's certainty and downloads the summary-of-findings table.
    owner_page = new_page()
    sign_in(owner_page, base, owner.username, PASSWORD)
    owner_page.goto(f"{base}/r/{SLUG}/extraction/forms/{form.pk}/studies/{records[1].pk}/compare/")
    odds = owner_page.locator("[data-effects] [data-effect='dichotomous-1-OR'] [data-estimate]")
    expect(odds).to_have_text("0.444 [0.196, 1.006]")
    owner_page.fill("[name='f-dichotomous-1-events']", "40")
    expect(odds).to_contain_text("0.167 [")  # (10·60)/(90·40)
    owner_page.goto(f"{base}/r/{SLUG}/extraction/forms/{form.pk}/grade/")
    certainty = owner_page.locator("[data-sof-row] [data-certainty]")
    expect(certainty).to_contain_text("(proposed)")
    rating = owner_page.locator("[data-grade-form]")
    rating.locator("select[name='indirectness-level']").select_option("serious")
    rating.locator("input[name='indirectness-reason']").fill("Older adults only")
    for domain in ("risk_of_bias", "inconsistency", "imprecision", "publication_bias"):
        rating.locator(f"select[name='{domain}-level']").select_option("not_serious")
    rating.locator("button:has-text('Save the rating')").click()
    expect(certainty).to_have_text("Moderate")
    expect(owner_page.locator("[data-sof-row]")).to_contain_text(
        "Indirectness: serious (Older adults only)"
    )
    with owner_page.expect_download() as download:
        owner_page.click("[data-download='grade-docx']")
    assert download.value.suggested_filename.endswith("-summary-of-findings.docx")
    assert download.value.path().read_bytes()[:2] == b"PK"
    screenshot(owner_page, "synthesis-summary-of-findings")
