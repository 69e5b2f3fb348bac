"""In Chromium: an owner keeps a review current (#21): saves a database search and a
citation search, schedules the first weekly, starts update round 2 on the PRISMA page, and
reads each round's diagram and changelog."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from reviewflow.reviews.services import create_review
from screening.models import SavedSearch, UpdateRound
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import PASSWORD
from tests.screening.screening_fixtures import import_records

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_owner_schedules_searches_and_starts_an_update_round(live_server, new_page, owner):
    review = create_review(title="MSC knee OA", slug="msc-oa", owner=owner)
    import_records(review, owner, 3)
    base = live_server.url
    page = new_page()
    sign_in(page, base, owner.username, PASSWORD)

    # A PubMed search and a citation search of the included studies, kept with the review.
    page.goto(f"{base}/r/msc-oa/saved-searches/")
    form = page.locator("#new-saved-search")
    form.locator("select[name=source]").select_option("pubmed")
    form.locator("textarea[name=query]").fill('"mesenchymal stem cells" AND knee')
    form.locator("button").click()
    expect(page.locator(".messages")).to_contain_text("Run it when you are ready.")
    citations = page.locator("#new-citation-search")
    expect(citations).to_contain_text("0 included studies with a DOI now")
    citations.locator("select[name=method]").select_option("cited-by")
    citations.locator("button").click()
    expect(page.locator("[data-citations]")).to_contain_text(
        "Works citing the included studies (forward)"
    )

    # The PubMed search runs every week from now on.
    pubmed = page.locator("section.card", has_text="mesenchymal stem cells")
    expect(pubmed.locator("[data-schedule]")).to_have_text("Runs only when run by hand.")
    pubmed.locator("select[name=schedule]").select_option("weekly")
    pubmed.locator("button", has_text="Set").click()
    expect(page.locator(".messages")).to_contain_text("runs every week; next on")
    pubmed = page.locator("section.card", has_text="mesenchymal stem cells")
    expect(pubmed.locator("[data-schedule]")).to_contain_text("Runs every week; next run")
    saved = SavedSearch.objects.get(source="pubmed")
    assert saved.schedule == "weekly" and saved.next_run_at is not None
    screenshot(page, "saved-searches-scheduled")

    # Update round 2 starts on the PRISMA page; round 1's diagram and changes stay there.
    page.goto(f"{base}/r/msc-oa/prisma/")
    expect(page.locator("[data-rounds]")).to_have_count(0)
    new_round = page.locator("#new-round")
    new_round.locator("input[name=label]").fill("2027 update")
    new_round.locator("button", has_text="Start round 2").click()
    expect(page.locator(".messages")).to_contain_text("Round 2 started")
    assert UpdateRound.objects.get().label == "2027 update"
    expect(page.locator("[data-rounds] a[aria-current=page]")).to_have_text("Round 2")
    expect(page.locator("#changelog h2")).to_contain_text("What round 2 changed (2027 update)")
    expect(page.locator("[data-entered-round-1]")).to_have_count(1)
    page.locator("[data-rounds] a", has_text="Round 1").click()
    expect(page.locator("[data-rounds] a[aria-current=page]")).to_have_text("Round 1")
    expect(page.locator("#changelog")).to_contain_text(
        "New records (3 after removing 0 duplicates): 3"
    )
    expect(page.locator("#prisma svg")).to_have_count(1)
    screenshot(page, "prisma-round-1")
