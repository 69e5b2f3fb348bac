"""In Chromium: an owner uploads a real RIS export, watches the progress bar finish through a
real Celery worker, and sees the summary and the records."""

from __future__ import annotations

import os
import re

import pytest

from reviewflow.reviews.services import create_review
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import PASSWORD
from tests.shared_data import shared_path
from tests.worker import real_worker

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_upload_real_ris_and_watch_it_import(live_server, new_page, owner, tmp_path):
    path = shared_path(
        "exports", "citesource-gambling-harms", "20221207_gambling-harms_scopus_255.ris"
    )
    expected = len(re.findall(rb"^ER  -", path.read_bytes(), flags=re.M))
    create_review(title="Gambling harms", slug="gambling", owner=owner)
    broker = "redis" if os.environ.get("REDIS_URL") else "filesystem"
    with real_worker(broker, tmp_path):
        page = new_page()
        sign_in(page, live_server.url, owner.username, PASSWORD)
        page.goto(f"{live_server.url}/r/gambling/searches/")
        page.set_input_files("#id_file", str(path))
        page.fill("#id_source", "Scopus")
        page.fill("#id_search_date", "2022-12-07")
        page.fill("#id_search_string", "TITLE-ABS-KEY(gambling AND harm*)")
        page.click("button:has-text('Upload and import')")
        page.wait_for_url(re.compile(r".*/r/gambling/searches/\d+/$"))
        assert page.locator("[role=progressbar]").count() == 1
        # htmx polls the status until the worker has finished.
        page.wait_for_selector("[data-status=done]", timeout=60_000)
    assert page.locator("[data-count=read]").inner_text() == str(expected)
    assert page.locator("[data-count=imported]").inner_text() == str(expected)
    assert page.locator("[data-count=rejected]").inner_text() == "0"
    screenshot(page, "import-summary")
    page.click("text=Browse the records of this search")
    assert f"Records ({expected})" in page.locator("h1").inner_text()
    page.fill("input[name=q]", "gambling")
    page.click("button:has-text('Filter')")
    first = page.locator("table.table tbody tr a").first
    first.click()
    assert page.locator("text=Fields as the source gave them").is_visible()
    screenshot(page, "record-detail")
