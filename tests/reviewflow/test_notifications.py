"""Notifications (#20): the bell and its list, immediate e-mails by each user's preferences
(per review, with a per-user default), mentions in comments that never quote a comment the
reader may not read yet (blinding), the unsubscribe link (signed, no sign-in, one-click
POST), and the API, where a user only ever reaches their own."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from reviewflow.errors import ReviewflowError
from reviewflow.reviews import notifications
from reviewflow.reviews.models import (
    EmailKind,
    Notification,
    NotificationKind,
    NotificationPreference,
    OutgoingEmail,
)
from screening.services.discussion import add_comment, edit_comment
from tests.screening.screening_fixtures import import_records, vote

pytestmark = pytest.mark.django_db

TA = "title-abstract"


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def tell(user, review, text="You have new work", url="/somewhere/", **extra):
    return notifications.notify(
        user=user, review=review, kind=NotificationKind.ASSIGNMENT, text=text, url=url, **extra
    )


@pytest.fixture
def records(review, owner):
    return import_records(review, owner, 3)


# ------------------------------------------------------------------------------ services


def test_notify_queues_a_multipart_message_with_one_click_unsubscribe_headers(
    review, reviewer, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://reviews.example.org"
    with django_capture_on_commit_callbacks(execute=True):
        notification = tell(reviewer, review, url=f"/r/{review.slug}/")
    assert notification.emailed_at is not None and notification.read_at is None
    [message] = mail.outbox
    assert message.to == ["rachel@example.org"]
    assert message.subject == f"[{review.title}] You have new work"
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html" and "You have new work" in html
    assert f"https://reviews.example.org/r/{review.slug}/" in message.body
    unsubscribe = message.extra_headers["List-Unsubscribe"]
    assert unsubscribe.startswith("<https://reviews.example.org/notifications/unsubscribe/")
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe.strip("<>") in message.body and unsubscribe.strip("<>") in html
    assert OutgoingEmail.objects.get().kind == EmailKind.NOTIFICATION


def test_a_review_s_own_preference_wins_over_the_user_s_default(review, reviewer):
    notifications.set_preferences(user=reviewer, review=None, immediate=False)
    tell(reviewer, review)
    assert not OutgoingEmail.objects.exists()
    notifications.set_preferences(user=reviewer, review=review, immediate=True)
    tell(reviewer, review)
    assert OutgoingEmail.objects.count() == 1
    assert notifications.preferences_for(reviewer, review).own
    # Nothing asked for by e-mail, or an address-less user: the bell only.
    tell(reviewer, review, email=False)
    reviewer.email = ""
    tell(reviewer, review)
    assert OutgoingEmail.objects.count() == 1
    assert Notification.objects.filter(user=reviewer).count() == 4


def test_notify_refuses_a_link_to_another_site_and_an_unknown_kind(review, reviewer):
    for url in ("https://evil.example/", "//evil.example/x", "r/relative/"):
        with pytest.raises(ValueError, match="path inside the app"):
            tell(reviewer, review, url=url)
    with pytest.raises(ValueError, match="unknown notification kind"):
        notifications.notify(user=reviewer, review=review, kind="vote", text="x", url="/")
    assert not Notification.objects.exists()


def test_preferences_refuse_a_bad_digest_and_a_review_the_user_is_not_in(
    review, reviewer, outsider
):
    with pytest.raises(ReviewflowError, match="digest must be one of none, daily, weekly"):
        notifications.set_preferences(user=reviewer, review=None, digest="hourly")
    with pytest.raises(ReviewflowError, match="not a member"):
        notifications.set_preferences(user=outsider, review=review, digest="daily")
    assert not NotificationPreference.objects.exists()


def test_marking_read_reaches_only_one_s_own(review, reviewer, reviewer2):
    mine, theirs = tell(reviewer, review), tell(reviewer2, review)
    with pytest.raises(ReviewflowError, match="No such notification"):
        notifications.mark_read(user=reviewer, notification_id=theirs.pk)
    assert notifications.mark_read(user=reviewer, notification_id=mine.pk).read_at is not None
    tell(reviewer, review)
    assert notifications.unread_count(reviewer) == 1
    assert notifications.mark_all_read(user=reviewer) == 1
    assert notifications.unread_count(reviewer2) == 1


# ------------------------------------------------------------------------------ mentions


def test_a_mention_tells_the_member_once_and_never_the_author(review, records, reviewer, reviewer2):
    comment = add_comment(
        record=records[0], stage=TA, author=reviewer, body="@roberto and @rachel: look"
    )
    [told] = Notification.objects.all()
    assert (told.user, told.kind, told.review) == (reviewer2, NotificationKind.MENTION, review)
    assert told.url == f"/r/{review.slug}/records/{records[0].pk}/#discussion-{TA}"
    # An edit tells only the members it newly mentions.
    edit_comment(comment=comment, actor=reviewer, body="@roberto and @olivia: look again")
    assert sorted(n.user.username for n in Notification.objects.all()) == ["olivia", "roberto"]


def test_a_blinded_reader_is_told_where_to_read_not_what_was_said(
    review, records, reviewer, reviewer2
):
    vote(review, records[0], reviewer, "exclude")
    add_comment(
        record=records[0], stage=TA, author=reviewer, body="@roberto I excluded it: wrong design"
    )
    told = Notification.objects.get(user=reviewer2)
    assert "excluded" not in told.text and "wrong design" not in told.text
    assert "opens to you once you have voted on the record" in told.text
    # Once the reader voted, the comment is theirs to read: the next mention quotes it.
    vote(review, records[0], reviewer2, "exclude")
    add_comment(record=records[0], stage=TA, author=reviewer, body="@roberto agreed then")
    latest = Notification.objects.filter(user=reviewer2).first()
    assert latest is not None and latest.text.endswith("“@roberto agreed then”")


# ------------------------------------------------------------------------------ pages


def test_pages_send_anonymous_to_sign_in(client):
    for name in ("notifications", "notification-settings"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_bell_counts_unread_without_a_query_of_its_own(
    review, reviewer, client_for, django_assert_num_queries
):
    client = client_for(reviewer)
    client.get("/")  # warm up what is read once per process
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as before:
        page = client.get("/").content.decode()
    assert "Notifications: 0 unread" in page
    for _ in range(3):
        tell(reviewer, review, email=False)
    with django_assert_num_queries(len(before)):
        page = client.get("/").content.decode()
    assert "Notifications: 3 unread" in page and "data-bell-count>3<" in page


def test_opening_a_notification_marks_it_read_and_goes_to_its_page(
    review, reviewer, reviewer2, client_for
):
    mine = tell(reviewer, review, url=f"/r/{review.slug}/", email=False)
    theirs = tell(reviewer2, review, email=False)
    client = client_for(reviewer)
    listing = client.get(reverse("notifications")).content.decode()
    assert "You have new work" in listing and f'data-notification="{theirs.pk}"' not in listing
    response = client.post(reverse("notification-open", args=[mine.pk]))
    assert response.status_code == 302 and response["Location"] == f"/r/{review.slug}/"
    assert client.post(reverse("notification-open", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None
    tell(reviewer, review, email=False)
    client.post(reverse("notifications-read-all"))
    assert notifications.unread_count(reviewer) == 0


def test_the_settings_page_saves_a_default_and_a_review_s_own(review, reviewer, client_for):
    client = client_for(reviewer)
    page = client.get(reverse("notification-settings")).content.decode()
    assert review.title in page
    client.post(reverse("notification-settings"), {"review": "", "digest": "daily"})
    client.post(
        reverse("notification-settings"),
        {"review": review.slug, "immediate": "on", "digest": "none"},
    )
    assert notifications.preferences_for(reviewer, None).digest == "daily"
    assert notifications.preferences_for(reviewer, None).immediate is False
    own = notifications.preferences_for(reviewer, review)
    assert (own.immediate, own.digest, own.own) == (True, "none", True)
    response = client.post(
        reverse("notification-settings"), {"review": "", "digest": "hourly"}, follow=True
    )
    assert "digest: Select a valid choice" in response.content.decode()
    response = client.post(
        reverse("notification-settings"), {"review": "nope", "digest": "daily"}, follow=True
    )
    assert "You are in no review “nope”." in response.content.decode()
    assert notifications.preferences_for(reviewer, None).digest == "daily"


# ------------------------------------------------------------------------------ unsubscribe


def test_the_unsubscribe_link_asks_then_turns_that_e_mail_off_without_sign_in(review, reviewer):
    token = notifications.unsubscribe_token(
        user_id=reviewer.pk, review_id=review.pk, what=notifications.IMMEDIATE
    )
    url = reverse("notification-unsubscribe", args=[token])
    client = Client(enforce_csrf_checks=True)
    page = client.get(url).content.decode()
    assert "Stop e-mailed messages as things happen to rachel" in page
    assert notifications.preferences_for(reviewer, review).immediate  # a GET changes nothing
    response = client.post(url)
    assert response.status_code == 200 and "data-unsubscribed" in response.content.decode()
    prefs = notifications.preferences_for(reviewer, review)
    assert (prefs.immediate, prefs.digest, prefs.own) == (False, "weekly", True)
    # RFC 8058's one-click POST from a mail client, for the digests; twice is harmless.
    digest = notifications.unsubscribe_token(
        user_id=reviewer.pk, review_id=review.pk, what=notifications.DIGEST
    )
    for _ in range(2):
        response = client.post(
            reverse("notification-unsubscribe", args=[digest]),
            {"List-Unsubscribe": "One-Click"},
        )
        assert response.status_code == 200
    assert notifications.preferences_for(reviewer, review).digest == "none"


def test_a_changed_or_made_up_unsubscribe_token_changes_nothing(review, reviewer):
    token = notifications.unsubscribe_token(
        user_id=reviewer.pk, review_id=review.pk, what=notifications.IMMEDIATE
    )
    for bad in (token[:-2] + "xx", "nonsense", token.replace(":", "", 1)):
        response = Client().post(reverse("notification-unsubscribe", args=[bad]))
        assert response.status_code == 404
        assert "This unsubscribe link is not valid" in response.content.decode()
    assert not NotificationPreference.objects.exists()


# ------------------------------------------------------------------------------ API


def test_api_lists_counts_and_marks_only_one_s_own(review, reviewer, reviewer2):
    mine = tell(reviewer, review, email=False)
    tell(reviewer, review, text="older and read", email=False)
    theirs = tell(reviewer2, review, email=False)
    notifications.mark_read(user=reviewer, notification_id=mine.pk + 1)
    client = api(reviewer)
    body = client.get("/api/v1/notifications/").json()
    assert body["count"] == 2 and {n["id"] for n in body["results"]} == {mine.pk, mine.pk + 1}
    assert body["results"][0]["review"] == review.slug
    unread = client.get("/api/v1/notifications/?unread=1").json()
    assert [n["id"] for n in unread["results"]] == [mine.pk]
    assert client.get("/api/v1/notifications/unread-count/").json() == {"unread": 1}
    assert client.post(f"/api/v1/notifications/{theirs.pk}/read/").status_code == 404
    response = client.post(f"/api/v1/notifications/{mine.pk}/read/")
    assert response.status_code == 200 and response.json()["read_at"]
    assert client.post("/api/v1/notifications/read-all/").json() == {"marked": 0}
    assert api(reviewer2).get("/api/v1/notifications/unread-count/").json() == {"unread": 1}
    assert APIClient().get("/api/v1/notifications/").status_code == 403


def test_api_preferences_read_and_set_with_clear_errors(review, reviewer, outsider):
    client = api(reviewer)
    rows = client.get("/api/v1/notifications/preferences/").json()
    assert rows[0] == {
        "review": None,
        "title": None,
        "immediate": True,
        "digest": "weekly",
        "own": False,
    }
    assert rows[1]["review"] == review.slug
    response = client.post(
        "/api/v1/notifications/preferences/", {"review": review.slug, "digest": "daily"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "review": review.slug,
        "title": review.title,
        "immediate": True,
        "digest": "daily",
        "own": True,
    }
    bad = client.post("/api/v1/notifications/preferences/", {"digest": "hourly"})
    assert bad.status_code == 400 and "digest" in bad.json()
    other = api(outsider).post(
        "/api/v1/notifications/preferences/", {"review": review.slug, "digest": "daily"}
    )
    assert other.status_code == 400
    assert other.json() == {"detail": f"You are in no review “{review.slug}”.", "field": "review"}
    assert NotificationPreference.objects.count() == 1


def test_the_list_s_query_count_does_not_grow_with_the_notifications(
    review, reviewer, client_for, django_assert_num_queries
):
    client = client_for(reviewer)
    tell(reviewer, review, email=False)
    # The session, the user (with the bell's count), the page's count and its rows.
    with django_assert_num_queries(4):
        assert client.get(reverse("notifications")).status_code == 200
    for _ in range(30):
        tell(reviewer, review, email=False)
    with django_assert_num_queries(4):
        response = client.get(reverse("notifications"))
    assert len(response.context["page"]) == 31


def test_api_unread_filter_refuses_a_value_that_is_not_a_boolean(reviewer):
    response = api(reviewer).get("/api/v1/notifications/", {"unread": "maybe"})
    assert response.status_code == 400
    assert response.json() == {"detail": "unread must be one of: true, false.", "field": "unread"}


def test_a_user_signed_in_through_another_backend_still_sees_the_bell_count(
    review, reviewer, settings
):
    settings.AUTHENTICATION_BACKENDS = [
        "reviewflow.reviews.auth_backend.UserWithUnreadCountBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    tell(reviewer, review, email=False)
    client = Client()
    client.force_login(reviewer, backend="django.contrib.auth.backends.ModelBackend")
    assert "Notifications: 1 unread" in client.get("/").content.decode()
