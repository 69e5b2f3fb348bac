"""In Chromium: an owner invites by e-mail from the members page, the message reaches a real
SMTP server, the invitee follows its link, signs in and joins, and the owner watches the
invitation go from sent to opened to accepted; a message the server cannot take shows why.
And a locked-out user resets their password from the e-mailed link and signs in."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from reviewflow.reviews.models import Role
from reviewflow.reviews.services import create_review
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.reviewflow.test_email import Inbox, free_port, parts, running_inbox, use_smtp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with running_inbox() as found:
        yield found


def _link(text: str, base: str) -> str:
    found = re.search(re.escape(base) + r"/\S+", text)
    assert found, text
    return found.group(0)


def test_invitation_by_e_mail_from_the_members_page(
    live_server,
    new_page,
    settings,
    inbox,
    owner,
    outsider,
):
    use_smtp(settings, inbox.port)
    review = create_review(title="MSC knee OA", slug="msc-oa", owner=owner)
    base = live_server.url
    page = new_page()
    sign_in(page, base, owner.username, PASSWORD)
    page.goto(f"{base}/r/msc-oa/members/")
    page.fill("#id_invite-email", "oscar@example.org")
    page.select_option("#id_invite-role", Role.REVIEWER)
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator(".messages")).to_contain_text("Invitation sent to oscar@example.org.")
    row = page.locator("tr", has_text="oscar@example.org")
    expect(row.locator(".invitation-status")).to_have_text("sent")

    [message] = inbox.messages
    link = _link(parts(message)[0], base)
    invitee = new_page()
    invitee.goto(link)
    expect(invitee).to_have_url(re.compile(r"/accounts/login/"))
    page.reload()
    expect(row.locator(".invitation-status")).to_have_text("opened")
    invitee.fill("input[name=username]", outsider.username)
    invitee.fill("input[name=password]", PASSWORD)
    invitee.get_by_role("button", name="Sign in").click()
    expect(invitee.locator("main")).to_contain_text("invites you to join")
    invitee.get_by_role("button", name="Join the review").click()
    expect(invitee.locator(".messages")).to_contain_text("You joined “MSC knee OA” as reviewer.")
    page.reload()
    expect(row.locator(".invitation-status")).to_have_text("accepted")
    assert review.memberships.filter(user=outsider, role=Role.REVIEWER).exists()

    # The mail server goes away: the next invitation says why it was not sent.
    use_smtp(settings, free_port())
    settings.EMAIL_ATTEMPTS = 2
    page.fill("#id_invite-email", "nina@example.org")
    page.get_by_role("button", name="Send invitation").click()
    failed = page.locator("tr", has_text="nina@example.org")
    expect(failed.locator(".invitation-status")).to_have_text("not sent")
    expect(failed.locator(".email-failure")).to_contain_text(
        "Could not be sent: the mail server at 127.0.0.1:"
    )
    expect(
        failed.get_by_role("button", name="Send the invitation to nina@example.org again")
    ).to_be_visible()


def test_a_locked_out_user_resets_the_password_by_e_mail_and_signs_in(
    live_server,
    new_page,
    settings,
    inbox,
    make_user,
):
    use_smtp(settings, inbox.port)
    make_user("lena")
    base = live_server.url
    page = new_page()
    page.goto(f"{base}/accounts/login/")
    for _ in range(settings.LOGIN_MAX_FAILURES + 1):
        page.fill("input[name=username]", "lena")
        page.fill("input[name=password]", "not it")
        page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".error")).to_contain_text("Too many failed sign-ins")
    page.get_by_role("link", name="Forgot your password, or locked out?").click()
    page.fill("input[name=email]", "lena@example.org")
    page.get_by_role("button", name="Send the link").click()
    expect(page.locator("h1")).to_have_text("Check your e-mail")

    [message] = inbox.messages
    page.goto(_link(parts(message)[0], base))
    page.fill("input[name=new_password1]", "a brand new passphrase")
    page.fill("input[name=new_password2]", "a brand new passphrase")
    page.get_by_role("button", name="Set the password").click()
    expect(page.locator("main")).to_contain_text("Your new password is set")
    page.get_by_role("link", name="Sign in").last.click()
    page.fill("input[name=username]", "lena")
    page.fill("input[name=password]", "a brand new passphrase")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/")
