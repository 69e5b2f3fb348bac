"""In Chromium: the demo owner signs in, creates a review, invites a member, and the member
accepts the invitation."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from reviewflow.reviews.management.commands.loaddemo import logins_path
from reviewflow.reviews.models import Membership, Role
from tests.browser.conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def demo_password(username: str) -> str:
    for line in logins_path().read_text().splitlines():
        name, password = line.split()
        if name == username:
            return password
    raise AssertionError(f"no demo login for {username}")


def test_owner_creates_review_invites_member_who_accepts(live_server, new_page, make_user):
    call_command("loaddemo")
    base = live_server.url
    page = new_page()
    sign_in(page, base, "owner", demo_password("owner"))
    assert page.locator(
        "h2", has_text="Mesenchymal stem cells for knee osteoarthritis"
    ).is_visible()
    screenshot(page, "dashboard")

    page.click("text=New review")
    page.fill("#id_title", "MSC for diabetic foot ulcers")
    page.fill("#id_slug", "msc-dfu")
    page.fill("#id_question", "Do MSCs heal diabetic foot ulcers faster than standard care?")
    page.fill("#id_protocol_registration", "CRD42025000123")
    page.click("button:has-text('Create review')")
    page.wait_for_url(f"{base}/r/msc-dfu/")
    assert page.locator("h1").inner_text() == "MSC for diabetic foot ulcers"

    page.click(".review-nav summary:text-is('Team')")  # the nav's Team menu
    page.click(".review-nav >> text=Members")
    page.fill("#id_invite-email", "newcomer@example.org")
    page.select_option("#id_invite-role", "reviewer")
    page.click("button:has-text('Send invitation')")  # e-mailed, and listed with its link
    link = page.locator("input.copy").first.input_value()
    assert "/invitations/" in link
    screenshot(page, "members")

    make_user("newcomer")
    other = new_page(390, 844)  # a phone
    from tests.conftest import PASSWORD

    sign_in(other, base, "newcomer", PASSWORD)
    other.goto(link)
    assert "invites you to join" in other.locator("main").inner_text()
    other.click("button:has-text('Join the review')")
    other.wait_for_url(f"{base}/r/msc-dfu/")
    assert (
        "You joined “MSC for diabetic foot ulcers” as reviewer."
        in other.locator(".messages").inner_text()
    )
    screenshot(other, "joined-phone")
    assert (
        Membership.objects.get(review__slug="msc-dfu", user__username="newcomer").role
        == Role.REVIEWER
    )

    # The link works once.
    other.goto(link)
    assert "has been used" in other.locator("main").inner_text()
