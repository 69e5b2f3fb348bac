"""In Chromium (#18): a record's discussion stays blind until the reader voted on it; back
and forward through my votes from the keyboard, changing a vote on the way; a jump to a
record by its number; my history page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from reviewflow.reviews.models import Role
from reviewflow.reviews.services import add_member, create_review
from screening.models import Comment, Record, Vote
from screening.services.discussion import add_comment
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import PASSWORD
from tests.screening.screening_fixtures import import_records

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TA = "title-abstract"


def _review(owner, reviewer, reviewer2):
    review = create_review(title="MSC knee OA", slug="msc-oa", owner=owner)
    for user in (reviewer, reviewer2):
        add_member(review=review, actor=owner, user=user, role=Role.REVIEWER)
    import_records(review, owner, 5)
    return review


def test_a_comment_is_hidden_until_the_reader_voted_then_shown(
    live_server, new_page, owner, reviewer, reviewer2
):
    _review(owner, reviewer, reviewer2)
    base = live_server.url
    page = new_page()
    sign_in(page, base, reviewer.username, PASSWORD)
    page.goto(f"{base}/r/msc-oa/screen/{TA}/")
    offered = int(page.locator("[data-record]").get_attribute("data-record"))
    # Roberto commented on the record Rachel is offered, mentioning her.
    add_comment(
        record=Record.objects.get(pk=offered),
        stage=TA,
        author=reviewer2,
        body="ZQX looks like the wrong population, @rachel?",
    )
    page.reload()
    box = page.locator("[data-discussion]")
    expect(box.locator("[data-discussion-closed]")).to_have_text(
        "Comments are shown once you have voted on this record."
    )
    expect(box).not_to_contain_text("ZQX")
    # "c" puts the cursor in the comment box; posting does not vote, nor move on.
    page.keyboard.press("c")
    expect(box.locator("[data-comment-box]")).to_be_focused()
    page.keyboard.type("My <b>note</b> for @roberto")
    page.keyboard.press("Escape")
    box.locator("[data-comment-post]").click()
    expect(box.locator("[data-comment]")).to_have_count(1)
    expect(box.locator("mark.mention")).to_have_text("@roberto")
    expect(box.locator(".comment-body")).to_contain_text("My <b>note</b> for")
    expect(page.locator(f"[data-record='{offered}']")).to_have_count(1)
    assert not Vote.objects.filter(reviewer=reviewer).exists()
    assert Comment.objects.filter(author=reviewer, record_id=offered).count() == 1
    # The vote keys still work after the comment's htmx post.
    page.keyboard.press("i")
    expect(page.locator(f"[data-record='{offered}']")).to_have_count(0)
    # Back to it: now voted, Roberto's comment shows, with Rachel's own.
    page.keyboard.press("[")
    expect(page.locator(f"[data-record='{offered}']")).to_have_count(1)
    expect(page.locator("[data-my-vote]")).to_have_attribute("data-my-vote", "include")
    expect(box.locator("[data-comment]")).to_have_count(2)
    expect(box).to_contain_text("ZQX looks like the wrong population")
    expect(box.locator("mark.mention").first).to_have_text("@rachel")
    screenshot(page, "discussion-after-vote")
    # The record's page shows the same discussion (loaded by htmx).
    page.goto(f"{base}/r/msc-oa/records/{offered}/")
    expect(page.locator("#discussion-title-abstract [data-comment]")).to_have_count(2)
    page.keyboard.press("c")  # there too, "c" is the comment box (discussion.js)
    expect(page.locator("#discussion-title-abstract [data-comment-box]")).to_be_focused()


def test_back_change_forward_and_jump_from_the_keyboard(
    live_server, new_page, owner, reviewer, reviewer2
):
    _review(owner, reviewer, reviewer2)
    base = live_server.url
    page = new_page()
    sign_in(page, base, reviewer.username, PASSWORD)
    page.goto(f"{base}/r/msc-oa/screen/{TA}/")
    voted = []
    for key in ("i", "e", "i"):
        record = int(page.locator("[data-record]").get_attribute("data-record"))
        voted.append(record)
        page.keyboard.press(key)
        expect(page.locator(f"[data-record='{record}']")).to_have_count(0)
    expect(page.locator("[data-count=left]")).to_have_text("2")
    expect(page.locator("[data-pace]")).to_contain_text("3 votes in the last hour")
    fresh = int(page.locator("[data-record]").get_attribute("data-record"))

    # "[" twice: back to the second vote (an exclusion), its buttons change it.
    page.keyboard.press("[")
    expect(page.locator(f"[data-record='{voted[2]}']")).to_have_count(1)
    page.keyboard.press("[")
    expect(page.locator(f"[data-record='{voted[1]}']")).to_have_count(1)
    expect(page.locator("[data-my-vote]")).to_have_attribute("data-my-vote", "exclude")
    assert page.url.endswith(f"/screen/{TA}/record/{voted[1]}/")
    page.keyboard.press("i")  # change the vote: the record stays on screen, marked anew
    expect(page.locator("[data-my-vote]")).to_have_attribute("data-my-vote", "include")
    expect(page.locator("[role=status]").first).to_contain_text(
        f"Your vote on record {voted[1]} is now “Include”."
    )
    assert Vote.objects.get(reviewer=reviewer, record_id=voted[1]).decision == "include"
    assert Vote.objects.filter(reviewer=reviewer).count() == 3
    screenshot(page, "history-changed-vote")

    # "]" forward: the third vote, then on to the record still to screen.
    page.keyboard.press("]")
    expect(page.locator(f"[data-record='{voted[2]}']")).to_have_count(1)
    page.keyboard.press("]")
    expect(page.locator(f"[data-record='{fresh}']")).to_have_count(1)
    expect(page.locator("[data-my-vote]")).to_have_count(0)

    # "g": go to a record by its number (the first one voted on).
    page.keyboard.press("g")
    goto = page.locator("[data-goto-box]")
    expect(goto).to_be_focused()
    goto.press("Escape")  # Esc closes the box, and keys are keys again
    expect(page.locator("form[data-goto]")).to_be_hidden()
    page.keyboard.press("g")
    expect(goto).to_be_focused()
    goto.fill(str(voted[0]))
    goto.press("Enter")
    expect(page.locator(f"[data-record='{voted[0]}']")).to_have_count(1)
    expect(page.locator("[data-my-vote]")).to_have_attribute("data-my-vote", "include")

    # "h": my history, searchable by number.
    page.keyboard.press("h")
    expect(page.locator("[data-history-row]")).to_have_count(3)
    page.fill("input[name=q]", str(voted[1]))
    page.click("[data-history-search] button")
    expect(page.locator("[data-history-row]")).to_have_count(1)
    expect(page.locator("[data-my-decision]")).to_have_text("Include")
