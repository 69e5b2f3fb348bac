"""In Chromium (#20): a reviewer mentioned in a comment sees the bell count it, opens the
notification (the count falls) and marks the rest read; their digest reaches a real SMTP
server, and its unsubscribe link, opened without signing in, asks and then turns digests
off for that review."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from reviewflow.reviews import digest, notifications
from reviewflow.reviews.models import NotificationKind
from screening.services.discussion import add_comment
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.reviewflow.test_email import Inbox, parts, running_inbox, use_smtp
from tests.screening.screening_fixtures import import_records

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with running_inbox() as found:
        yield found


def test_the_bell_counts_down_and_the_e_mailed_unsubscribe_link_works(
    live_server, new_page, settings, inbox, review, owner, reviewer, reviewer2
):
    use_smtp(settings, inbox.port)
    base = live_server.url
    settings.SITE_URL = base
    records = import_records(review, owner, 2)
    add_comment(record=records[0], stage="title-abstract", author=reviewer, body="@roberto look")
    notifications.notify(
        user=reviewer2,
        review=review,
        kind=NotificationKind.ASSIGNMENT,
        text="Olivia assigned you 2 records to screen",
        url=f"/r/{review.slug}/screen/title-abstract/",
    )
    notifications.set_preferences(user=reviewer2, review=review, digest="daily")
    assert digest.send_due_digests(datetime(2026, 12, 7, 9, tzinfo=ZoneInfo("UTC"))) >= 1

    page = new_page()
    sign_in(page, base, reviewer2.username, PASSWORD)
    bell = page.locator("[data-bell]")
    expect(bell).to_have_attribute("aria-label", "Notifications: 2 unread")
    expect(bell.locator("[data-bell-count]")).to_have_text("2")
    bell.click()
    expect(page.locator("main")).to_contain_text("rachel mentioned you in a comment")
    page.locator(".notification", has_text="rachel mentioned you").get_by_role(
        "button", name="Open"
    ).click()
    expect(page).to_have_url(re.compile(rf"/r/{review.slug}/records/{records[0].pk}/"))
    expect(page.locator("[data-bell-count]")).to_have_text("1")
    page.goto(f"{base}/notifications/")
    page.get_by_role("button", name="Mark all read").click()
    expect(page.locator(".messages")).to_contain_text("1 notification marked read.")
    expect(page.locator("[data-bell]")).to_have_attribute("aria-label", "Notifications: 0 unread")
    expect(page.locator("[data-bell-count]")).to_have_count(0)

    # Each e-mail arrived as text and HTML; the digest's link works without signing in.
    kinds = {m["Subject"]: m for m in inbox.messages if m["To"] == "roberto@example.org"}
    mention = next(m for s, m in kinds.items() if "rachel mentioned you" in s)
    assert "List-Unsubscribe" in mention
    message = next(m for s, m in kinds.items() if "Your daily digest" in s)
    text, html = parts(message)
    link = re.search(re.escape(base) + r"/notifications/unsubscribe/\S+/", text)
    assert link and link.group(0) in html
    stranger = new_page()
    stranger.goto(link.group(0))
    expect(stranger.locator("main")).to_contain_text(
        f"Stop e-mailed digests to roberto for the review “{review.title}”?"
    )
    stranger.get_by_role("button", name="Unsubscribe").click()
    expect(stranger.locator("[data-unsubscribed]")).to_contain_text(
        "roberto receives no more e-mailed digests"
    )
    assert notifications.preferences_for(reviewer2, review).digest == "none"
