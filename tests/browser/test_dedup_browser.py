"""In Chromium: import two overlapping files, resolve a pair in the queue by keyboard, undo
an automatic merge, and see the record counts change."""

from __future__ import annotations

import pytest

from reviewflow.reviews.services import create_review
from screening.models import DuplicatePair, PairDecision, Record
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import PASSWORD
from tests.screening.test_dedup_service import OTHER, SURE_A, SURE_B, UNSURE, ris

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def upload(page, base, tmp_path, name, text, source):
    path = tmp_path / name
    path.write_text(text)
    page.goto(f"{base}/r/dedup/searches/")
    page.set_input_files("#id_file", str(path))
    page.fill("#id_source", source)
    page.click("button:has-text('Upload and import')")
    page.wait_for_selector("[data-status=done]")


def unique_count(page, base):
    page.goto(f"{base}/r/dedup/")
    return page.locator("dt:has-text('Unique records') + dd").inner_text()


def test_queue_by_keyboard_and_undo(live_server, new_page, owner, tmp_path):
    base = live_server.url
    create_review(title="Dedup in the browser", slug="dedup", owner=owner)
    page = new_page()
    sign_in(page, base, owner.username, PASSWORD)
    upload(page, base, tmp_path, "pubmed.ris", ris(SURE_A, OTHER), "PubMed")
    upload(page, base, tmp_path, "embase.ris", ris(SURE_B, UNSURE), "Embase")
    assert unique_count(page, base) == "3"  # 4 records, one sure pair merged

    page.click(".review-nav summary:text-is('Identify')")  # the nav's Identify menu
    page.click(".review-nav >> text=Duplicates")
    assert "Pair 1 of 1" in page.locator("#pair h2").inner_text()
    assert page.locator("tr.cmp-differs").count() >= 1
    screenshot(page, "duplicate-queue")
    page.keyboard.press("2")  # keep the right-hand record
    assert page.locator("input[data-side=b]").is_checked()
    page.keyboard.press("d")
    page.wait_for_selector("text=No pairs wait for a decision.")
    assert DuplicatePair.objects.get(decided_by=owner).decision == PairDecision.CONFIRMED
    assert unique_count(page, base) == "2"

    auto = Record.objects.filter(merge_kind="auto").first()
    page.goto(f"{base}/r/dedup/records/{auto.pk}/")
    assert (
        "Merged automatically" in page.locator("#merge").inner_text()
        or "merged automatically" in page.locator("#merge").inner_text()
    )
    page.click("button:has-text('Undo this merge')")
    assert "Merge undone" in page.locator(".messages").inner_text()
    assert "record.unmerged" in page.locator("main").inner_text()
    screenshot(page, "record-unmerged")
    assert unique_count(page, base) == "3"
