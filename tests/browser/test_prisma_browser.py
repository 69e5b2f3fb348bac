"""In Chromium: the PRISMA page of a scripted review, screenshotted for the test run."""

from __future__ import annotations

import pytest

from tests.browser.conftest import screenshot, sign_in
from tests.conftest import PASSWORD
from tests.screening.test_prisma_counts import scripted  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_prisma_page_in_chromium(live_server, new_page, scripted, owner):  # noqa: F811
    page = new_page(1400, 1000)
    sign_in(page, live_server.url, owner.username, PASSWORD)
    page.goto(f"{live_server.url}/r/{scripted.slug}/prisma/")
    figure = page.locator("#prisma svg")
    assert figure.is_visible()
    text = figure.text_content() or ""
    assert "Records screened" in text and "(n = 14)" in text
    assert page.locator("#problems").count() == 0
    path = screenshot(page, "prisma")
    assert path.stat().st_size > 20_000
