"""In Chromium: a reviewer filters the records list, selects all on the page and then all
that match, puts a label on them in one go, and sees the badges and the count; the stage
columns show the reviewer's own vote and never a colleague's decision."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from reviewflow.reviews.models import AuditEvent, Role
from reviewflow.reviews.services import add_member, create_review
from screening.models import RecordLabel
from screening.services.labels import create_label
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import PASSWORD
from tests.screening.screening_fixtures import import_records, vote

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TA = "title-abstract"


def test_filter_select_all_and_label_in_bulk(live_server, new_page, owner, reviewer, reviewer2):
    review = create_review(title="MSC knee OA", slug="msc-oa", owner=owner)
    for user in (reviewer, reviewer2):
        add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
    records = import_records(review, owner, 4, name="a.ris")
    more = import_records(review, owner, 55, name="pubmed.ris")
    refs = create_label(review=review, actor=owner, name="Check references", colour="blue")
    vote(review, records[0], reviewer, "include")
    vote(review, records[1], reviewer2, "exclude")  # roberto's, unsettled: hidden from rachel
    base = live_server.url

    page = new_page()
    sign_in(page, base, reviewer.username, PASSWORD)
    page.goto(f"{base}/r/msc-oa/records/")
    first = page.locator(f"tr[data-record-row='{records[0].pk}'] [data-stage-cell='{TA}']")
    expect(first).to_contain_text("waiting (1 of 2 votes)")
    expect(first.locator("[data-my-vote]")).to_have_text("you: include")
    hidden = page.locator(f"tr[data-record-row='{records[1].pk}'] [data-stage-cell='{TA}']")
    expect(hidden).to_have_text("waiting (1 of 2 votes)")

    # Filter to the 55 records of one file: two pages of them.
    page.locator("form.filters input[name=q]").fill("pubmed.ris")
    page.locator("form.filters button").click()
    expect(page.locator("h1")).to_contain_text("(55)")
    rows = page.locator("[data-record-select]")
    expect(rows).to_have_count(50)

    # Select all on this page: every row ticked, and the count says so.
    page.locator("[data-select-page]").check()
    expect(page.locator("[data-selected-count]")).to_have_text("50 selected")
    assert all(box.is_checked() for box in rows.all())
    # Unticking one row leaves the page's box half-ticked.
    rows.first.uncheck()
    expect(page.locator("[data-selected-count]")).to_have_text("49 selected")
    # Then every record that matches, beyond this page.
    page.locator("[data-select-all]").check()
    expect(page.locator("[data-selected-count]")).to_have_text("All 55 matching selected")
    page.locator("[data-records-bulk] select[name=bulk_label]").select_option(str(refs.pk))
    page.locator("[data-bulk-label]").click()
    expect(page.locator(".messages")).to_contain_text("Label “Check references” put on 55 records.")
    # Back on the filtered list, each row shows its badge.
    expect(page.locator("h1")).to_contain_text("(55)")
    expect(page.locator("[data-record-list-labels]")).to_have_count(50)
    expect(page.locator("[data-record-list-labels]").first).to_have_text("Check references")
    screenshot(page, "records-bulk-label")
    labelled = set(RecordLabel.objects.values_list("record_id", "applied_by_id"))
    assert labelled == {(r.pk, reviewer.pk) for r in more}
    assert AuditEvent.objects.filter(action="label.applied_in_bulk").count() == 1

    # The label filter counts them too.
    page.goto(f"{base}/r/msc-oa/records/")
    page.locator("form.filters select[name=label]").select_option(str(refs.pk))
    page.locator("form.filters button").click()
    expect(page.locator("h1")).to_contain_text("(55)")

    # Two ticked rows exported as RIS: a download of just them.
    page.goto(f"{base}/r/msc-oa/records/")
    page.locator(f"[data-record-select][value='{records[2].pk}']").check()
    page.locator(f"[data-record-select][value='{records[3].pk}']").check()
    expect(page.locator("[data-selected-count]")).to_have_text("2 selected")
    with page.expect_download() as download:
        page.locator("[data-records-bulk] button[name=format][value=ris]").click()
    text = open(download.value.path(), encoding="utf-8").read()  # noqa: PTH123, SIM115
    assert text.count("ER  -") == 2 and records[2].title in text

    # The record page: rachel's own vote in the screening section, roberto's hidden.
    page.goto(f"{base}/r/msc-oa/records/{records[1].pk}/")
    section = page.locator("[data-record-screening]")
    expect(section.locator("[data-hidden-votes]")).to_contain_text("1 other vote hidden")
    expect(section.locator("[data-vote]")).to_have_count(0)
    page.goto(f"{base}/r/msc-oa/records/{records[0].pk}/")
    expect(section.locator("[data-vote='rachel']")).to_contain_text("Include")
    expect(section.locator("[data-waiting]").first).to_have_text("Waiting: 1 of 2 votes in.")
    screenshot(page, "record-screening")
