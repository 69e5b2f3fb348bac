"""In Chromium, keyboard only (issue #17, 1): a reviewer whose vote opened a conflict takes
it back and votes like the other reviewer; the page says an adjudicator decides, and the
conflicts page shows the first, blind vote beside the changed one."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from reviewflow.reviews.models import Role
from reviewflow.reviews.services import add_member, create_review
from screening.models import Conflict, Outcome
from tests.browser.conftest import sign_in
from tests.browser.test_screening_browser import press_and_wait
from tests.conftest import PASSWORD
from tests.screening.screening_fixtures import import_records, vote

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TA = "title-abstract"


def test_a_vote_changed_after_the_conflict_goes_to_the_adjudicator(
    live_server, new_page, owner, reviewer, reviewer2
):
    review = create_review(title="MSC knee OA", slug="msc-oa", owner=owner)
    for user in (reviewer, reviewer2):
        add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
    (record,) = import_records(review, owner, 1)
    vote(review, record, reviewer2, "exclude", reason="Animal study", note="mice only")
    base = live_server.url

    page = new_page()
    sign_in(page, base, reviewer.username, PASSWORD)
    page.goto(f"{base}/r/msc-oa/screen/{TA}/")
    assert press_and_wait(page, "i") == record.pk  # a conflict: both votes are shown
    page.keyboard.press("u")
    expect(page.locator("p.msg[role=status]")).to_contain_text("an adjudicator decides")
    press_and_wait(page, "e")
    expect(page.locator("p.msg[role=status]")).to_have_text(
        "You voted again after this record's votes were shown: your vote differs from your "
        "first, blind vote, so an adjudicator decides the record."
    )
    assert Conflict.objects.filter(record=record, resolved_at__isnull=True).exists()
    assert not Outcome.objects.exists()

    adjudicator = new_page()
    sign_in(adjudicator, base, owner.username, PASSWORD)
    adjudicator.goto(f"{base}/r/msc-oa/conflicts/?stage={TA}")
    card = adjudicator.locator(f".conflict[data-record='{record.pk}']")
    expect(card.locator("[data-changed-after-reveal]")).to_be_visible()
    expect(card.locator("[data-blind-vote]")).to_contain_text("Include first, blind vote")
    # The adjudication desk (#18): e chooses exclude, Enter resolves.
    adjudicator.keyboard.press("e")
    adjudicator.keyboard.press("Enter")
    expect(adjudicator.locator("[data-info]")).to_contain_text("resolved: excluded")
    assert Outcome.objects.get(record=record).kind == "adjudication"
