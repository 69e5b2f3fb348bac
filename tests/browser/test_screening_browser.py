"""In Chromium, keyboard only: two reviewers screen ten records each, a disagreement becomes
a conflict, the adjudicator resolves it, and a full-text exclusion without a reason is
refused with a clear message."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from reviewflow.reviews.models import Role
from reviewflow.reviews.services import add_member, create_review
from screening.models import Conflict, Outcome, ReservedVote, Vote
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import PASSWORD
from tests.screening.screening_fixtures import import_records

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TA = "title-abstract"


def press_and_wait(page, key):
    before = page.locator("[data-record]").get_attribute("data-record")
    page.keyboard.press(key)
    # A locator, not wait_for_function: that evaluates with eval, which the CSP refuses.
    expect(page.locator(f"[data-record='{before}']")).to_have_count(0)
    return int(before)


def test_two_reviewers_conflict_adjudication_and_full_text_reason(
    live_server, new_page, owner, reviewer, reviewer2
):
    review = create_review(title="MSC knee OA", slug="msc-oa", owner=owner)
    for user in (reviewer, reviewer2):
        add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
    import_records(review, owner, 10)
    base = live_server.url

    first = new_page()
    sign_in(first, base, reviewer.username, PASSWORD)
    first.goto(f"{base}/r/msc-oa/screen/{TA}/")
    for _ in range(10):
        press_and_wait(first, "i")
    assert first.locator("[data-done]").is_visible()
    assert first.locator("[data-count=mine]").inner_text() == "10"

    second = new_page()
    sign_in(second, base, reviewer2.username, PASSWORD)
    second.goto(f"{base}/r/msc-oa/screen/{TA}/")
    screenshot(second, "screening-page")
    disputed = press_and_wait(second, "e")  # disagrees on the first record it gets
    for _ in range(9):
        press_and_wait(second, "i")
    assert second.locator("[data-done]").is_visible()
    assert Vote.objects.count() == 20
    conflict = Conflict.objects.get()
    assert conflict.record_id == disputed
    assert Outcome.objects.filter(stage=TA, decision="include").count() == 9

    # Undo by keyboard works too: take back and re-cast the last vote. That record was
    # settled, so the reopened vote is kept for this reviewer until they vote again.
    second.keyboard.press("u")
    second.wait_for_selector("[data-record]")
    assert "this vote is kept for you" in second.locator("p.msg[role=status]").inner_text()
    assert ReservedVote.objects.filter(reviewer=reviewer2).count() == 1
    press_and_wait(second, "i")
    assert Vote.objects.count() == 20
    assert not ReservedVote.objects.exists()

    adjudicator = new_page()
    sign_in(adjudicator, base, owner.username, PASSWORD)
    adjudicator.goto(f"{base}/r/msc-oa/conflicts/?stage={TA}")
    card = adjudicator.locator(f".conflict[data-record='{disputed}']")
    assert "Include" in card.inner_text() and "Exclude" in card.inner_text()
    screenshot(adjudicator, "conflicts")
    # The adjudication desk: choose include, then resolve (#18).
    adjudicator.locator("label:has(input[name=decision][value=include])").click()
    adjudicator.locator("button[data-resolve-button]").click()
    expect(adjudicator.locator("[data-info]")).to_contain_text("resolved")
    assert Outcome.objects.get(record_id=disputed).kind == "adjudication"

    first.goto(f"{base}/r/msc-oa/screen/full-text/")
    first.keyboard.press("e")
    error = first.locator("[data-error]")
    error.wait_for()
    assert error.inner_text() == (
        "Choose a reason for excluding this record: exclusions at full text need one."
    )
    assert not Vote.objects.filter(stage="full-text").exists()
    screenshot(first, "full-text-reason-refused")
    first.keyboard.press("1")
    press_and_wait(first, "e")
    assert Vote.objects.get(stage="full-text").reason == "Wrong population"
