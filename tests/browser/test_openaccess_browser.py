"""In Chromium: a reviewer clicks "Find open-access copies" on the Full texts page; the run
attaches three PDFs (from Unpaywall, OpenAlex and Europe PMC, each with its licence) and
lists the records still without one, against the local server of the open-access tests."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from screening.models import FullTextReport
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import PASSWORD
from tests.screening.test_openaccess_run import oa_server, records  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_find_open_access_copies_attaches_three_with_source_and_licence_and_lists_the_rest(
    live_server,
    new_page,
    review,
    reviewer,
    oa_server,  # noqa: F811 - the imported fixture
    records,  # noqa: F811 - the imported fixture
):
    base = live_server.url
    page = new_page()
    sign_in(page, base, reviewer.username, PASSWORD)
    page.goto(f"{base}/r/{review.slug}/fulltexts/")
    page.locator("[data-open-access]").get_by_role("button", name="Find open-access copies").click()

    status = page.locator("#oa-run-status")
    expect(status.locator("[data-status]")).to_have_attribute("data-status", "done")
    expect(status.locator("[data-count=attached]")).to_have_text("3")
    expect(status.locator("[data-count=not_found]")).to_have_text("1")
    expect(status.locator("[data-count=failed]")).to_have_text("1")
    peerj = status.locator(f"tr[data-oa-record='{records['peerj'].pk}']")
    expect(peerj).to_have_attribute("data-result", "attached")
    expect(peerj.locator("[data-source]")).to_have_text("openalex")
    expect(peerj.locator("[data-licence]")).to_have_text("cc-by")
    gastric = status.locator(f"tr[data-oa-record='{records['gastric'].pk}']")
    expect(gastric.locator("[data-licence]")).to_have_text("cc by")
    expect(status.locator(f"tr[data-oa-record='{records['manuscript'].pk}']")).to_contain_text(
        "got HTML"
    )
    screenshot(page, "oa-run")

    status.locator("[data-to-missing]").click()
    missing = page.locator("[data-still-missing]")
    expect(missing.locator("[data-missing-record]")).to_have_count(3)
    expect(missing.locator(f"[data-missing-record='{records['closed'].pk}']")).to_contain_text(
        "No open-access copy"
    )
    expect(missing.locator(f"[data-missing-record='{records['peerj'].pk}']")).to_have_count(0)
    screenshot(page, "oa-missing")
    sources = dict(FullTextReport.objects.values_list("record_id", "pdf_source"))
    assert sources == {
        records["arxiv"].pk: "unpaywall",
        records["peerj"].pk: "openalex",
        records["gastric"].pk: "europepmc",
    }
