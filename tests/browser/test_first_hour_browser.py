"""In Chromium (#19): a repeated upload is refused with a message naming the earlier search;
the PRISMA page of a review in progress is calm; a new review's slug follows its title."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import expect

from screening.models import Record, Search
from screening.services import identification
from screening.services.screening.votes import cast_vote
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import PASSWORD
from tests.screening.factories import ris_records, upload, write

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def imported(review, owner, n, name):
    search = identification.create_search(
        review=review,
        actor=owner,
        file=upload(ris_records(n), name),
        filename=name,
        source="PubMed",
        search_date=date(2026, 11, 3),
    )
    search.refresh_from_db()
    assert search.status == "done", search.failure
    return search


def test_the_same_file_uploaded_again_is_refused_naming_the_earlier_search(
    live_server, new_page, review, owner, tmp_path
):
    first = imported(review, owner, 5, "pubmed.ris")
    again = write(tmp_path, "pubmed-copy.ris", ris_records(5))
    page = new_page()
    sign_in(page, live_server.url, owner.username, PASSWORD)
    page.goto(f"{live_server.url}/r/{review.slug}/searches/")
    page.set_input_files("#id_file", str(again))
    page.fill("#id_source", "PubMed")
    page.click("button:has-text('Upload and import')")
    error = page.locator(".has-error .error")
    expect(error).to_contain_text(
        f"This file was already imported as PubMed, 3 Nov 2026, pubmed.ris (search {first.pk})"
    )
    # The form offers to make it a new run of that search.
    options = page.locator("#id_supersedes option").all_inner_texts()
    assert f"PubMed, 3 Nov 2026, pubmed.ris (search {first.pk})" in options
    assert Search.objects.count() == 1
    screenshot(page, "repeat-upload-refused")


def test_the_prisma_page_of_a_review_in_progress_shows_no_alarm(
    live_server, new_page, review, owner, reviewer, reviewer2
):
    search = imported(review, owner, 6, "pubmed.ris")
    record = Record.objects.filter(search=search).first()
    for user in (reviewer, reviewer2):
        cast_vote(
            review=review, record=record, reviewer=user, stage="title-abstract", decision="exclude"
        )
    page = new_page(1400, 1000)
    sign_in(page, live_server.url, owner.username, PASSWORD)
    page.goto(f"{live_server.url}/r/{review.slug}/prisma/")
    expect(page.locator("#in-progress")).to_contain_text(
        "Screening in progress: 5 records still open at title/abstract."
    )
    assert page.locator("#problems").count() == 0
    assert page.locator("[role=alert]").count() == 0
    assert "do not add up" not in (page.locator("#prisma svg").text_content() or "")
    screenshot(page, "prisma-in-progress")


def test_a_new_reviews_slug_is_proposed_from_its_title(live_server, new_page, owner):
    page = new_page()
    sign_in(page, live_server.url, owner.username, PASSWORD)
    page.goto(f"{live_server.url}/reviews/new/")
    page.fill("#id_title", "Stem cells for knee osteoarthritis: a review")
    expect(page.locator("#id_slug")).to_have_value("stem-cells-for-knee-osteoarthritis-a-review")
    # Once the person edits the slug, the title no longer changes it.
    page.fill("#id_slug", "msc-knee")
    page.fill("#id_title", "Something else")
    expect(page.locator("#id_slug")).to_have_value("msc-knee")
