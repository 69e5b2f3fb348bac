"""The review's navigation: grouped (Identify · Screen · Extract · Report · Team ·
Settings), the current page and its group marked, one line at 1280 px with an owner's full
set of links, usable on a phone, and only the links a member's role opens."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from reviewflow.reviews.models import Role
from reviewflow.reviews.services import add_member, create_review
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import PASSWORD
from tests.screening.screening_fixtures import import_records

GROUPS = ["Identify", "Screen", "Extract", "Report", "Team", "Settings"]
LONG_TITLE = (
    "Mesenchymal stromal cell therapy for knee osteoarthritis in adults: a systematic "
    "review and meta-analysis of randomised controlled trials"
)


@pytest.fixture
def long_review(owner, reviewer, viewer):
    review = create_review(title=LONG_TITLE, slug="msc-knee-oa", owner=owner)
    add_member(review=review, actor=owner, user=reviewer, role=Role.REVIEWER)
    add_member(review=review, actor=owner, user=viewer, role=Role.VIEWER)
    import_records(review, owner, 3)
    return review


def menu(page, name):
    return page.locator(f".review-nav details.nav-menu:has(> summary:text-is('{name}'))")


def nav_labels(page):
    return page.locator(".review-nav .nav-group").evaluate_all(
        "els => els.map(e => (e.querySelector('summary, a').textContent || '').trim())"
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_owner_nav_is_one_line_at_1280_and_marks_the_current_page(
    live_server, new_page, owner, long_review
):
    base = live_server.url
    page = new_page(1280, 800)
    sign_in(page, base, owner.username, PASSWORD)
    page.goto(f"{base}/r/msc-knee-oa/records/")
    assert nav_labels(page) == GROUPS

    # One line: every group on the same row, the nav one row high, and the top bar too.
    boxes = page.locator(".review-nav .nav-group").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect()).map(r => [r.top, r.height])"
    )
    tops = {round(top) for top, _ in boxes}
    assert len(tops) == 1, boxes
    row = max(height for _, height in boxes)
    nav = page.locator(".review-nav").bounding_box()
    assert nav["height"] < 1.5 * row, (nav, row)
    brand = page.locator(".topbar .brand").bounding_box()
    account = page.locator(".user-nav").bounding_box()
    assert abs(account["y"] - nav["y"]) < row and abs(brand["y"] - nav["y"]) < row
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 1280
    screenshot(page, "nav-1280-owner")

    # The current page is marked, and its group.
    current = page.locator(".review-nav [aria-current=page]")
    expect(current).to_have_count(1)
    expect(current).to_have_text("Records")
    identify = page.locator(".review-nav .nav-group.is-current")
    expect(identify).to_have_count(1)
    expect(identify.locator("summary")).to_have_attribute("aria-current", "true")
    expect(identify.locator("summary")).to_have_text("Identify")

    # A group opens on a click and shows its links; opening another closes it; Escape too.
    screen = menu(page, "Screen")
    screen.locator("summary").click()
    links = screen.locator("ul")
    expect(links).to_be_visible()
    expect(links.get_by_role("link", name="Full text")).to_be_visible()
    menu(page, "Report").locator("summary").click()
    expect(links).to_be_hidden()
    page.keyboard.press("Escape")
    expect(page.locator(".review-nav details[open]")).to_have_count(0)

    # Following a link marks the new page; a stage's page marks that stage only.
    screen.locator("summary").click()
    links.get_by_role("link", name="Full text").click()
    page.wait_for_url(f"{base}/r/msc-knee-oa/screen/full-text/")
    expect(page.locator(".review-nav [aria-current=page]")).to_have_text("Full text")
    expect(page.locator(".review-nav .nav-group.is-current summary")).to_have_text("Screen")

    # The owner's full set: the audit trail and settings are there.
    page.goto(f"{base}/r/msc-knee-oa/audit/")
    expect(page.locator(".review-nav [aria-current=page]")).to_have_text("Audit trail")
    expect(page.locator(".review-nav .nav-group.is-current summary")).to_have_text("Team")
    expect(page.locator("table.audit")).to_contain_text("olivia imported 's.ris' from PubMed")
    screenshot(page, "audit-trail")
    page.goto(f"{base}/r/msc-knee-oa/prisma/")
    expect(page.locator(".review-nav [aria-current=page]")).to_have_text("PRISMA")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_nav_on_a_phone_wraps_and_its_menus_open(live_server, new_page, owner, long_review):
    base = live_server.url
    page = new_page(390, 844)
    sign_in(page, base, owner.username, PASSWORD)
    page.goto(f"{base}/r/msc-knee-oa/members/")
    assert nav_labels(page) == GROUPS
    # Nothing of the top bar sticks out of the screen (the page's tables may scroll).
    wider = page.evaluate(
        "[...document.querySelectorAll('.topbar *')]"
        ".filter(e => e.checkVisibility() && e.getBoundingClientRect().right > 390.5)"
        ".map(e => e.tagName + ' ' + e.textContent.trim().slice(0, 30))"
    )
    assert wider == []
    for summary in page.locator(".review-nav .nav-group").all():
        box = summary.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    menu(page, "Identify").locator("summary").click()
    link = menu(page, "Identify").get_by_role("link", name="Searches", exact=True)
    expect(link).to_be_visible()
    box = link.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    link.click()
    page.wait_for_url(f"{base}/r/msc-knee-oa/searches/")
    screenshot(page, "nav-phone-owner")


@pytest.mark.django_db
def test_nav_shows_each_role_the_links_its_pages_admit(client_for, long_review, reviewer, viewer):
    slug = long_review.slug

    def nav(user):
        page = client_for(user).get(reverse("review-records", args=[slug])).content.decode()
        return page.split('<nav class="review-nav"')[1].split("</nav>")[0]

    page = nav(reviewer)
    # Team holds only the members page for a reviewer: the group is that link.
    for shown in ("Title/abstract", "Full text", "Conflicts", "Team", "PRISMA"):
        assert f">{shown}</a>" in page
    for hidden in ("Audit trail", "Duplicates", "Agreement", "Pilot round", ">Settings<"):
        assert hidden not in page
    page = nav(viewer)
    assert ">Title/abstract</a>" not in page and ">Conflicts</a>" not in page
    assert ">Records</a>" in page and ">Exports</a>" in page
    assert page.count('aria-current="page"') == 1
