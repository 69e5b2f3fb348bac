"""E-mail for real: invitations and password resets go through Django's SMTP backend to an
SMTP server these tests start (aiosmtpd), sent by the Celery task (eagerly here, and once
by a real worker on Redis); a server that is down or refuses is retried, then shown to the
review's owners."""

from __future__ import annotations

import email
import re
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.urls import reverse
from rest_framework.test import APIClient

from reviewflow.errors import ReviewflowError
from reviewflow.reviews import emails, outbox, services
from reviewflow.reviews.models import (
    AuditEvent,
    EmailStatus,
    FailedLogin,
    Invitation,
    Membership,
    OutgoingEmail,
    Role,
)
from reviewflow.reviews.tasks import send_email
from tests.conftest import PASSWORD, needs_service
from tests.worker import real_worker, wait_for

pytestmark = pytest.mark.django_db

FROM = "reviewflow <reviews@example.org>"


@dataclass
class Inbox:
    """What the SMTP server received; ``refuse`` makes it answer RCPT TO with that reply
    (once per entry, then accept)."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[Any] = field(default_factory=list)
    refuse: list[str] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.refuse:
            return self.refuse.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.envelopes.append(envelope)
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=default_policy)  # type: ignore[arg-type]
        )
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_inbox() -> Iterator[Inbox]:
    """A real SMTP server on a free port of this machine, receiving into an ``Inbox``."""
    found = Inbox()
    controller = Controller(found, hostname="127.0.0.1", port=free_port())
    controller.start()
    found.port = controller.port  # type: ignore[attr-defined]
    try:
        yield found
    finally:
        controller.stop()


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with running_inbox() as found:
        yield found


def use_smtp(settings: Any, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = FROM
    settings.EMAIL_RETRY_SECONDS = 0


@pytest.fixture
def smtp(settings: Any, inbox: Inbox) -> Inbox:
    use_smtp(settings, inbox.port)  # type: ignore[attr-defined]
    return inbox


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def link_in(text: str) -> str:
    found = re.search(r"http://testserver(/\S+)", text)
    assert found, text
    return found.group(1)


def api(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def invite_on_page(client: Any, review: Any, address: str, capture: Any) -> Any:
    with capture(execute=True):
        return client.post(
            reverse("review-members", args=[review.slug]),
            {"invite-email": address, "invite-role": "reviewer", "invite-days": 7},
            follow=True,
        )


def test_invitation_e_mail_arrives_as_text_and_html_and_its_link_makes_a_member(
    smtp, client_for, review, owner, outsider, django_capture_on_commit_callbacks
):
    page = invite_on_page(
        client_for(owner), review, "oscar@example.org", django_capture_on_commit_callbacks
    )
    assert "Invitation sent to oscar@example.org." in page.content.decode()
    [message] = smtp.messages
    # (Python's parser keeps the space that folding a long encoded subject puts first.)
    assert (
        message["Subject"].strip()
        == "olivia invites you to “MSC therapy in type 2 diabetes” on reviewflow"
    )
    assert message["To"] == "oscar@example.org"
    assert message["From"] == FROM
    assert smtp.envelopes[0].rcpt_tos == ["oscar@example.org"]
    assert message.get_content_type() == "multipart/alternative"
    text, html = parts(message)
    invitation = Invitation.objects.get()
    path = reverse("invitation-accept", args=[invitation.token])
    assert f"http://testserver{path}" in text
    assert f'<a href="http://testserver{path}">Join the review</a>' in html
    assert "as reviewer" in text and "expires on" in text
    members = reverse("review-members", args=[review.slug])
    assert "status-sent" in client_for(owner).get(members).content.decode()

    # The invitee follows the link: signed out first (the visit counts as opened), then in.
    from django.test import Client

    anonymous = Client()
    response = anonymous.get(link_in(text))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert Invitation.objects.get().opened_at is not None
    assert "status-opened" in client_for(owner).get(members).content.decode()
    invitee = client_for(outsider)
    assert "invites you to join" in invitee.get(link_in(text)).content.decode()
    assert invitee.post(link_in(text)).status_code == 302
    assert Membership.objects.get(review=review, user=outsider).role == Role.REVIEWER
    page = client_for(owner).get(members).content.decode()
    assert "status-accepted" in page and "by oscar" in page
    assert AuditEvent.objects.filter(action="invitation.sent", target="oscar@example.org").exists()


def test_members_page_shows_expired_revoked_and_link_only_invitations_without_re_send(
    smtp, client_for, review, owner, reviewer, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    with django_capture_on_commit_callbacks(execute=True):
        old = services.invite_by_email(
            review=review, actor=owner, email="old@example.org", role="viewer", site_url="http://t/"
        )
        gone = services.invite_by_email(
            review=review,
            actor=owner,
            email="gone@example.org",
            role="viewer",
            site_url="http://t/",
        )
    Invitation.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(days=1))
    services.revoke_invitation(invitation=gone, actor=owner)
    services.create_invitation(review=review, actor=owner, role="viewer")
    page = client_for(owner).get(reverse("review-members", args=[review.slug])).content.decode()
    rows = {
        row.split("<td>")[1].split("</td>")[0]: row
        for row in page.split("<tr class=")[1:]
        if row.startswith('"invitation-')
    }
    assert 'class="badge invitation-status status-expired"' in rows["old@example.org"]
    assert 'class="badge invitation-status status-revoked"' in rows["gone@example.org"]
    assert ">link only<" in rows["—"] and "Revoke" in rows["—"] and "Re-send" not in rows["—"]
    for closed in ("old@example.org", "gone@example.org"):
        assert "Re-send" not in rows[closed] and "Revoke" not in rows[closed]
    # Not shown to members who are not owners.
    page = client_for(reviewer).get(reverse("review-members", args=[review.slug])).content
    assert b"invitation-status" not in page and b"old@example.org" not in page


def test_the_owner_checking_the_link_does_not_mark_it_opened(
    smtp, client_for, review, owner, django_capture_on_commit_callbacks
):
    invite_on_page(client_for(owner), review, "new@example.org", django_capture_on_commit_callbacks)
    invitation = Invitation.objects.get()
    client_for(owner).get(reverse("invitation-accept", args=[invitation.token]))
    invitation.refresh_from_db()
    assert invitation.opened_at is None and invitation.progress == "sent"


def test_a_closed_port_is_retried_then_failed_and_the_owner_sees_why_and_re_sends(
    settings, inbox, client_for, review, owner, django_capture_on_commit_callbacks
):
    closed = free_port()
    use_smtp(settings, closed)
    settings.EMAIL_ATTEMPTS = 3
    invite_on_page(
        client_for(owner), review, "nina@example.org", django_capture_on_commit_callbacks
    )
    sent = OutgoingEmail.objects.get()
    assert (sent.status, sent.attempts) == (EmailStatus.FAILED, 3)
    reason = f"the mail server at 127.0.0.1:{closed} refused the connection"
    assert sent.last_error == reason
    members = reverse("review-members", args=[review.slug])
    page = client_for(owner).get(members).content.decode()
    assert f"Could not be sent: {reason}" in page
    assert "status-failed" in page and "Re-send" in page
    failure = AuditEvent.objects.get(action="invitation.email_failed")
    assert failure.target == "nina@example.org" and failure.after["error"] == reason

    # The mail server is back: the owner sends it again, the same link arrives.
    use_smtp(settings, inbox.port)
    invitation = Invitation.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(owner).post(
            reverse("invitation-resend", args=[review.slug, invitation.pk]), follow=True
        )
    assert "Invitation sent again to nina@example.org." in response.content.decode()
    [message] = inbox.messages
    assert reverse("invitation-accept", args=[invitation.token]) in parts(message)[0]
    invitation = Invitation.objects.with_emails().get()
    assert invitation.progress == "sent"
    assert "Could not be sent" not in client_for(owner).get(members).content.decode()


def test_an_address_the_server_refuses_for_good_fails_at_once(
    smtp, client_for, review, owner, django_capture_on_commit_callbacks
):
    smtp.refuse.append("550 5.1.1 No such user here")
    invite_on_page(
        client_for(owner), review, "ghost@example.org", django_capture_on_commit_callbacks
    )
    sent = OutgoingEmail.objects.get()
    assert (sent.status, sent.attempts) == (EmailStatus.FAILED, 1)
    assert sent.last_error == (
        "the mail server refused the address ghost@example.org (550 5.1.1 No such user here)"
    )
    assert smtp.messages == []


def test_a_server_asking_to_try_later_gets_the_message_on_the_next_try(
    smtp, client_for, review, owner, django_capture_on_commit_callbacks
):
    smtp.refuse.append("451 4.3.0 Try again later")
    invite_on_page(
        client_for(owner), review, "later@example.org", django_capture_on_commit_callbacks
    )
    sent = OutgoingEmail.objects.get()
    assert (sent.status, sent.attempts, sent.last_error) == (EmailStatus.SENT, 2, "")
    assert len(smtp.messages) == 1


def test_a_message_already_sent_is_never_sent_twice(
    smtp, review, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.invite_by_email(
            review=review,
            actor=owner,
            email="once@example.org",
            role=Role.VIEWER,
            site_url="http://testserver/",
        )
    sent = OutgoingEmail.objects.get()
    assert send_email.apply(args=[sent.pk]).get() == "sent"  # the task delivered again
    assert len(smtp.messages) == 1
    assert OutgoingEmail.objects.get().attempts == 1


def test_a_fault_of_ours_fails_the_message_at_once_with_the_reason(smtp, settings, review, owner):
    settings.DEFAULT_FROM_EMAIL = "reviewflow\nBcc: everyone@example.org"
    invitation = services.invite_by_email(
        review=review, actor=owner, email="hdr@example.org", role="viewer", site_url="http://t/"
    )
    queued = invitation.emails.get()
    with pytest.raises(ValueError, match="Invalid address"):
        send_email.apply(args=[queued.pk])
    queued.refresh_from_db()
    assert (queued.status, queued.attempts) == (EmailStatus.FAILED, 1)
    assert queued.last_error.startswith(
        "reviewflow could not make the message (ValueError: Invalid address"
    )
    assert smtp.messages == []


def test_a_message_the_task_queue_could_not_take_is_shown_as_failed(
    smtp, monkeypatch, client_for, review, owner, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(outbox, "send_task", lambda *args, **kwargs: False)  # broker down
    invite_on_page(client_for(owner), review, "q@example.org", django_capture_on_commit_callbacks)
    sent = OutgoingEmail.objects.get()
    assert (sent.status, sent.attempts) == (EmailStatus.FAILED, 0)
    page = client_for(owner).get(reverse("review-members", args=[review.slug])).content.decode()
    assert (
        "Could not be sent: the task queue could not be reached; send it again in a moment" in page
    )
    assert smtp.messages == []


def test_invitations_api_sends_lists_re_sends_and_revokes(
    smtp, review, owner, django_capture_on_commit_callbacks
):
    url = f"/api/v1/reviews/{review.slug}/invitations/"
    with django_capture_on_commit_callbacks(execute=True):
        response = api(owner).post(
            url, {"email": "api@example.org", "role": "viewer"}, format="json"
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["email"] == "api@example.org" and body["role"] == "viewer"
    assert body["status"] == "open"
    # Answered before a worker takes the message (here: once the test's transaction lets
    # the task run).
    assert body["progress"] == "sending"
    assert body["last_email"]["status"] == "queued" and body["last_email"]["attempts"] == 0
    assert len(smtp.messages) == 1
    listed = api(owner).get(url).json()
    assert [(i["email"], i["progress"]) for i in listed] == [("api@example.org", "sent")]
    assert listed[0]["last_email"]["attempts"] == 1 and listed[0]["last_email"]["sent_at"]

    with django_capture_on_commit_callbacks(execute=True):
        resent = api(owner).post(f"{url}{body['id']}/resend/")
    assert resent.status_code == 202 and resent.json()["progress"] == "sending"
    assert len(smtp.messages) == 2
    assert api(owner).delete(f"{url}{body['id']}/").json()["progress"] == "revoked"
    again = api(owner).post(f"{url}{body['id']}/resend/")
    assert again.status_code == 400
    assert again.json() == {"detail": "This invitation has been revoked: create a new one instead."}
    assert len(smtp.messages) == 2


def test_invitations_api_refuses_outsiders_and_members_who_are_not_owners(
    smtp, review, owner, reviewer, outsider, django_capture_on_commit_callbacks
):
    url = f"/api/v1/reviews/{review.slug}/invitations/"
    payload = {"email": "x@example.org", "role": "viewer"}
    assert api(outsider).post(url, payload, format="json").status_code == 404
    assert api(reviewer).post(url, payload, format="json").status_code == 403
    assert APIClient().post(url, payload, format="json").status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.invite_by_email(
            review=review, actor=owner, email="y@example.org", role="viewer", site_url="http://t/"
        )
    assert api(outsider).post(f"{url}{invitation.pk}/resend/").status_code == 404
    assert api(reviewer).post(f"{url}{invitation.pk}/resend/").status_code == 403
    assert len(smtp.messages) == 1


def test_resend_page_gives_outsiders_404_and_anonymous_the_sign_in(
    smtp, client_for, review, owner, reviewer, outsider, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.invite_by_email(
            review=review, actor=owner, email="z@example.org", role="viewer", site_url="http://t/"
        )
    url = reverse("invitation-resend", args=[review.slug, invitation.pk])
    assert client_for(outsider).post(url).status_code == 404
    assert client_for(reviewer).post(url).status_code == 403
    from django.test import Client

    assert Client().post(url)["Location"].startswith("/accounts/login/")
    assert client_for(owner).get(url).status_code == 405
    assert len(smtp.messages) == 1


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("rachel@example.org", "Someone with the address rachel@example.org is already a member"),
        (
            "twice@example.org",
            "An invitation to twice@example.org is already open: send it again from the list",
        ),
    ],
)
def test_inviting_a_member_or_an_address_with_an_open_invitation_is_refused(
    smtp, review, owner, address, message, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.invite_by_email(
            review=review,
            actor=owner,
            email="twice@example.org",
            role="viewer",
            site_url="http://t/",
        )
    response = api(owner).post(
        f"/api/v1/reviews/{review.slug}/invitations/",
        {"email": address, "role": "viewer"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith(message)
    assert response.json()["field"] == "email"
    assert Invitation.objects.count() == 1


def test_an_address_too_long_or_malformed_is_refused_naming_the_field(smtp, review, owner):
    url = f"/api/v1/reviews/{review.slug}/invitations/"
    long = "a" * 250 + "@example.org"
    response = api(owner).post(url, {"email": long, "role": "viewer"}, format="json")
    assert response.status_code == 400 and "email" in response.json()
    with pytest.raises(ReviewflowError, match="An e-mail address has at most 254 characters."):
        services.invite_by_email(
            review=review, actor=owner, email=long, role="viewer", site_url="http://t/"
        )
    with pytest.raises(ReviewflowError, match="“not an address” is not an e-mail address"):
        services.invite_by_email(
            review=review, actor=owner, email="not an address", role="viewer", site_url="http://t/"
        )
    assert not Invitation.objects.exists() and not OutgoingEmail.objects.exists()


def test_members_page_query_count_does_not_grow_with_invitations(
    smtp, client_for, review, owner, django_assert_num_queries, django_capture_on_commit_callbacks
):
    client = client_for(owner)
    url = reverse("review-members", args=[review.slug])

    def invite(n: int) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            for _ in range(n):
                services.invite_by_email(
                    review=review,
                    actor=owner,
                    email=f"p{uuid.uuid4().hex[:6]}@example.org",
                    role="viewer",
                    site_url="http://t/",
                )

    invite(1)
    client.get(url)  # warm the session
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        client.get(url)
    invite(6)
    with django_assert_num_queries(len(one.captured_queries)):
        page = client.get(url).content.decode()
    assert page.count("status-sent") == 7


# ---------------------------------------------------------------- password reset


def test_password_reset_by_e_mail_unlocks_a_locked_out_account(
    smtp, client, make_user, settings, django_capture_on_commit_callbacks
):
    user = make_user("lena")
    login = reverse("login")
    for _ in range(settings.LOGIN_MAX_FAILURES):
        client.post(login, {"username": "lena", "password": "wrong"})
    locked = client.post(login, {"username": "lena", "password": PASSWORD})
    assert locked.status_code == 429
    assert FailedLogin.objects.filter(username="lena").count() == settings.LOGIN_MAX_FAILURES
    assert "Forgot your password, or locked out?" in client.get(login).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("password_reset"), {"email": "LENA@example.org"})
    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_done")
    [message] = smtp.messages
    assert message["Subject"] == "Reset your reviewflow password"
    assert message["To"] == "lena@example.org"
    text, html = parts(message)
    assert "Hello lena," in text and "lifts a lock" in text
    link = link_in(text)
    assert f'href="http://testserver{link}"' in html
    # The link is a credential: the stored copy is emptied once it is sent.
    assert OutgoingEmail.objects.get().body_text == ""

    form = client.get(link, follow=True)
    assert "Choose a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a brand new passphrase", "new_password2": "a brand new passphrase"},
        follow=True,
    )
    assert "Your new password is set" in done.content.decode()
    assert not FailedLogin.objects.filter(username="lena").exists()
    signed_in = client.post(login, {"username": "lena", "password": "a brand new passphrase"})
    assert signed_in.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    # The link works once.
    assert "does not work any more" in client.get(link, follow=True).content.decode()


def test_password_reset_for_an_unknown_address_answers_alike_and_sends_nothing(smtp, client):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.org"}, follow=True)
    assert "Check your e-mail" in response.content.decode()
    assert not OutgoingEmail.objects.exists()


def test_password_reset_messages_are_capped_per_address_and_hour(
    smtp, client, make_user, settings, django_capture_on_commit_callbacks
):
    make_user("max")
    settings.PASSWORD_RESET_EMAILS_PER_HOUR = 2
    for _ in range(4):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("password_reset"), {"email": "max@example.org"})
        assert response.status_code == 302
    assert OutgoingEmail.objects.count() == 2
    assert len(smtp.messages) == 2


def test_password_reset_pages_render(client):
    page = client.get(reverse("password_reset")).content.decode()
    assert "Reset your password" in page and 'name="email"' in page
    bad = client.get(reverse("password_reset_confirm", args=["MQ", "nope"]), follow=True)
    assert "does not work any more" in bad.content.decode()


# ---------------------------------------------------------------- a real worker


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_on_redis_sends_the_invitation(inbox, tmp_path, monkeypatch, owner):
    needs_service("Redis", "REDIS_URL")
    monkeypatch.setenv("EMAIL_URL", f"smtp://127.0.0.1:{inbox.port}")  # type: ignore[attr-defined]
    monkeypatch.setenv("DEFAULT_FROM_EMAIL", FROM)
    review = services.create_review(title="Worker mail", slug="worker-mail", owner=owner)
    with real_worker("redis", tmp_path) as worker:
        invitation = services.invite_by_email(
            review=review,
            actor=owner,
            email="far@example.org",
            role="reviewer",
            site_url="http://reviews.example.org/",
        )
        sent = wait_for(
            lambda: OutgoingEmail.objects.filter(
                invitation=invitation, status=EmailStatus.SENT
            ).first(),
            timeout=60,
            what="the invitation e-mail sent",
            worker=worker,
        )
    assert sent.attempts == 1
    [message] = inbox.messages
    assert message["From"] == FROM and message["To"] == "far@example.org"
    text, _ = parts(message)
    assert f"http://reviews.example.org/invitations/{invitation.token}/" in text


# ---------------------------------------------------------------- e-mail change


def test_a_new_e_mail_address_takes_effect_when_its_link_is_opened_there(
    smtp, client_for, make_user, django_capture_on_commit_callbacks
):
    user = make_user("mia")
    client = client_for(user)
    url = reverse("email-change")
    assert "Change your e-mail address" in client.get(reverse("password_change")).content.decode()
    wrong = client.post(url, {"email": "mia@new.example.org", "password": "nope"})
    assert "This is not your password." in wrong.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url, {"email": "mia@new.example.org", "password": PASSWORD}, follow=True
        )
    assert "We sent a link to mia@new.example.org" in response.content.decode()
    user.refresh_from_db()
    assert user.email == "mia@example.org"  # not until the link is opened
    [message] = smtp.messages
    assert message["To"] == "mia@new.example.org"
    assert message["Subject"] == "Confirm your new reviewflow e-mail address"
    assert OutgoingEmail.objects.get().body_text == ""  # its link is not kept once sent
    text, html = parts(message)
    link = link_in(text)
    assert f'href="http://testserver{link}"' in html

    from django.test import Client

    visitor = Client()  # the link is the credential; a GET changes nothing (mail scanners)
    assert "Use <strong>mia@new.example.org</strong>" in visitor.get(link).content.decode()
    user.refresh_from_db()
    assert user.email == "mia@example.org"
    done = visitor.post(link, follow=True)
    assert "Your e-mail address is now mia@new.example.org." in done.content.decode()
    user.refresh_from_db()
    assert user.email == "mia@new.example.org"
    # Each link works once.
    again = visitor.post(link)
    assert again.status_code == 400
    assert "the address has changed since it was sent" in again.content.decode()


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("taken@example.org", "Another account uses this address: each account needs its own."),
        ("MIA@example.org", "This is your address already."),
        ("not an address", "“not an address” is not an e-mail address"),
    ],
)
def test_an_e_mail_change_to_a_taken_or_same_address_is_refused(make_user, new, message):
    user = make_user("mia")
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user(username="tk", email="taken@example.org")
    with pytest.raises(ReviewflowError, match=re.escape(message)):
        services.request_email_change(user=user, new_email=new, site_url="http://t/")
    assert not OutgoingEmail.objects.exists()


def test_an_expired_or_forged_e_mail_change_link_changes_nothing(client, make_user, settings):
    from django.core import signing

    user = make_user("mia")
    forged = reverse("email-change-confirm", args=["abc:def"])
    assert "This link is not valid." in client.post(forged).content.decode()
    token = signing.dumps(
        {"user": user.pk, "old": user.email, "new": "x@example.org"},
        salt=services.EMAIL_CHANGE_SALT,
    )
    settings.EMAIL_CHANGE_DAYS = -1
    page = client.post(reverse("email-change-confirm", args=[token])).content.decode()
    assert "This link has expired: ask for the change again from your account." in page
    user.refresh_from_db()
    assert user.email == "mia@example.org"


def test_the_e_mail_change_page_needs_a_signed_in_user(client):
    assert client.get(reverse("email-change"))["Location"].startswith("/accounts/login/")


def test_site_admins_see_failed_messages_without_their_text(client, make_user, settings):
    admin = make_user("root", is_staff=True, is_superuser=True)
    outbox.queue_email(
        kind="password_reset",
        to="lost@example.org",
        composed=emails.Composed(subject="Reset", text="SECRET-LINK", html="<p>SECRET-LINK</p>"),
    )
    OutgoingEmail.objects.update(status=EmailStatus.FAILED, last_error="the server said no")
    client.force_login(admin)
    listing = client.get(reverse("admin:reviews_outgoingemail_changelist")).content.decode()
    assert "lost@example.org" in listing and "the server said no" in listing
    detail = client.get(
        reverse("admin:reviews_outgoingemail_change", args=[OutgoingEmail.objects.get().pk])
    ).content.decode()
    assert "lost@example.org" in detail and "SECRET-LINK" not in detail
