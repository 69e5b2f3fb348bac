"""Notifications: what a user is told about (a mention, a new assignment, …), shown by the
bell in the app and, by the user's preferences, e-mailed at once; the digests of what waits
for them are in ``digest.py``.

Preferences are per user and review, with a per-user default (``NotificationPreference``);
every notification e-mail carries an unsubscribe link (a signed token: no sign-in needed)
that turns that kind of e-mail off for that review, and the ``List-Unsubscribe`` headers of
RFC 2369 and RFC 8058 (one-click). Messages go through the outbox (``outbox.queue_email``),
sent by a worker after the transaction commits, never inside the request.

Blinding: callers write ``text`` for its reader; nothing here adds a vote to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core import signing
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from reviewflow.errors import ReviewflowError
from reviewflow.keyset import Keyset
from reviewflow.reviews import emails, outbox
from reviewflow.reviews.models import (
    DigestFrequency,
    EmailKind,
    Membership,
    Notification,
    NotificationKind,
    NotificationPreference,
    Review,
)

TEXT_MAX = Notification._meta.get_field("text").max_length or 500
URL_MAX = Notification._meta.get_field("url").max_length or 500
UNSUBSCRIBE_SALT = "reviewflow.notifications.unsubscribe"
# What an unsubscribe link turns off: the immediate messages, or the digests.
IMMEDIATE, DIGEST = "immediate", "digest"
UNSUBSCRIBE_WHAT = {IMMEDIATE: "messages as things happen", DIGEST: "digests"}


# ---------------------------------------------------------------- preferences


@dataclass(frozen=True)
class Preferences:
    """What a user wants e-mailed for one review (or by default), and where it comes from."""

    immediate: bool
    digest: str
    own: bool  # set for this review (else the user's default, or the field defaults)


def _field_default(name: str) -> Any:
    field = NotificationPreference._meta.get_field(name)
    assert isinstance(field, models.Field)
    return field.get_default()


DEFAULT_PREFERENCES = Preferences(
    immediate=bool(_field_default("immediate")), digest=str(_field_default("digest")), own=False
)


def pick_preferences(rows: list[NotificationPreference], review_id: int | None) -> Preferences:
    by_review = {row.review_id: row for row in rows}
    row = by_review.get(review_id) if review_id is not None else None
    if row is not None:
        return Preferences(immediate=row.immediate, digest=row.digest, own=True)
    default = by_review.get(None)
    if default is not None:
        return Preferences(
            immediate=default.immediate, digest=default.digest, own=review_id is None
        )
    return DEFAULT_PREFERENCES


def preferences_for(user: User, review: Review | None) -> Preferences:
    """``user``'s preferences for ``review`` (``None``: their default), in one query."""
    review_id = review.pk if review is not None else None
    rows = list(
        NotificationPreference.objects.filter(user_id=user.pk).filter(
            Q(review_id=review_id) | Q(review__isnull=True)
        )
    )
    return pick_preferences(rows, review_id)


@dataclass(frozen=True)
class ReviewPreferences:
    review: Review
    preferences: Preferences


def preferences_by_review(user: User) -> tuple[Preferences, list[ReviewPreferences]]:
    """``user``'s default and their preferences for each review they belong to (two
    queries), for the settings page and the API."""
    rows = list(NotificationPreference.objects.filter(user_id=user.pk))
    reviews = Review.objects.filter(memberships__user_id=user.pk).order_by("title", "id")
    return pick_preferences(rows, None), [
        ReviewPreferences(review=review, preferences=pick_preferences(rows, review.pk))
        for review in reviews
    ]


def check_digest(value: Any) -> str:
    if value not in DigestFrequency.values:
        raise ReviewflowError(
            f"digest must be one of {', '.join(DigestFrequency.values)}, not {value!r}.",
            field="digest",
        )
    return str(value)


def member_review(user: User, slug: str) -> Review:
    """The review ``slug`` if ``user`` belongs to it; else the error a non-member reads."""
    review = Review.objects.filter(slug=slug, memberships__user_id=user.pk).first()
    if review is None:
        # The same words whether the review exists or not: nobody learns which do.
        raise ReviewflowError(f"You are in no review “{slug}”.", field="review")
    return review


def set_preferences(
    *,
    user: User,
    review: Review | None,
    immediate: bool | None = None,
    digest: str | None = None,
) -> NotificationPreference:
    """Set ``user``'s preferences for ``review`` (``None``: their default); a value left
    ``None`` keeps what applies now."""
    if digest is not None:
        digest = check_digest(digest)
    if review is not None and not Membership.objects.filter(review=review, user=user).exists():
        raise ReviewflowError("You are not a member of this review.", field="review")
    with transaction.atomic():
        current = preferences_for(user, review)
        row, _ = NotificationPreference.objects.select_for_update().get_or_create(
            user_id=user.pk,
            review=review,
            defaults={"immediate": current.immediate, "digest": current.digest},
        )
        row.immediate = current.immediate if immediate is None else immediate
        row.digest = current.digest if digest is None else digest
        row.updated_at = timezone.now()
        row.save(update_fields=["immediate", "digest", "updated_at"])
    return row


# ---------------------------------------------------------------- unsubscribe links


@dataclass(frozen=True)
class Unsubscribe:
    """What one unsubscribe link turns off."""

    user_id: int
    review_id: int
    what: str  # IMMEDIATE or DIGEST


def unsubscribe_token(*, user_id: int, review_id: int, what: str) -> str:
    """A signed token for the unsubscribe link (it works without signing in, and for good:
    an old message's link must still stop the messages)."""
    if what not in UNSUBSCRIBE_WHAT:
        raise ValueError(f"unknown kind of e-mail {what!r}")
    return signing.dumps({"u": user_id, "r": review_id, "w": what}, salt=UNSUBSCRIBE_SALT)


def read_unsubscribe_token(token: str) -> Unsubscribe:
    """What ``token`` turns off; a token that was changed or made up is refused."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
        found = Unsubscribe(user_id=int(data["u"]), review_id=int(data["r"]), what=str(data["w"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise ReviewflowError(
            "This unsubscribe link is not valid: copy the whole address from the message, "
            "or change what you receive on your notification settings page.",
            code="not_found",
        ) from None
    if found.what not in UNSUBSCRIBE_WHAT:
        raise ReviewflowError("This unsubscribe link is not valid.", code="not_found")
    return found


def unsubscribe_target(token: str) -> tuple[Unsubscribe, Review, User]:
    """The request, review and user behind ``token`` (the confirm page shows them)."""
    found = read_unsubscribe_token(token)
    membership = (
        Membership.objects.filter(review_id=found.review_id, user_id=found.user_id)
        .select_related("review", "user")
        .first()
    )
    if membership is None:
        raise ReviewflowError(
            "This unsubscribe link is for a review you no longer belong to: it sends you "
            "nothing any more.",
            code="not_found",
        )
    return found, membership.review, membership.user


def unsubscribe(*, token: str) -> NotificationPreference:
    """Turn off what ``token`` names, for its review (safe to repeat)."""
    found, review, user = unsubscribe_target(token)
    if found.what == IMMEDIATE:
        return set_preferences(user=user, review=review, immediate=False)
    return set_preferences(user=user, review=review, digest=DigestFrequency.NONE)


def unsubscribe_url(*, user_id: int, review_id: int, what: str) -> str:
    token = unsubscribe_token(user_id=user_id, review_id=review_id, what=what)
    return settings.SITE_URL + reverse("notification-unsubscribe", args=[token])


def unsubscribe_headers(url: str) -> dict[str, str]:
    """RFC 2369's ``List-Unsubscribe`` with RFC 8058's one-click POST."""
    return {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


# ---------------------------------------------------------------- notifications


def check_url(url: str) -> str:
    """A notification links a path inside the app, never another site."""
    url = url.strip()
    if url and (not url.startswith("/") or url.startswith("//") or "\\" in url):
        raise ValueError(f"a notification's url is a path inside the app, not {url!r}")
    if len(url) > URL_MAX:
        raise ValueError(f"a notification's url has at most {URL_MAX} characters")
    return url


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TEXT_MAX else text[: TEXT_MAX - 1] + "…"


def notify(
    *,
    user: User,
    review: Review | None,
    kind: str,
    text: str,
    url: str,
    email: bool = True,
) -> Notification:
    """Tell ``user`` about something: a notification for the bell, and, when ``email`` and
    the user's preferences for ``review`` ask for it, a message queued for a worker (sent
    once the caller's transaction commits; a notification about no review is never
    e-mailed, as preferences and unsubscribe links are per review). ``text`` must not give
    away a vote the user may not see (blinding): callers write it for this reader."""
    if kind not in NotificationKind.values:
        raise ValueError(f"unknown notification kind {kind!r}")
    notification = Notification.objects.create(
        user_id=user.pk, review=review, kind=kind, text=_clip(text), url=check_url(url)
    )
    address = getattr(user, "email", "")
    wanted = email and review is not None and address and user.is_active
    if wanted and review is not None and preferences_for(user, review).immediate:
        _email_notification(notification, user=user, review=review, address=address)
    return notification


def _email_notification(
    notification: Notification, *, user: User, review: Review, address: str
) -> None:
    unsubscribe = unsubscribe_url(user_id=user.pk, review_id=review.pk, what=IMMEDIATE)
    composed = emails.compose(
        "notification",
        {
            "notification": notification,
            "review": review,
            "user": user,
            "link": settings.SITE_URL + (notification.url or "/"),
            "settings_url": settings.SITE_URL + reverse("notification-settings"),
            "unsubscribe_url": unsubscribe,
            "site_url": settings.SITE_URL + "/",
        },
    )
    outbox.queue_email(
        kind=EmailKind.NOTIFICATION,
        to=address,
        composed=composed,
        review=review,
        headers=unsubscribe_headers(unsubscribe),
    )
    notification.emailed_at = timezone.now()
    notification.save(update_fields=["emailed_at"])


# Newest first, the key a user's notifications are paged by (``notification_user_time``).
NOTIFICATION_ORDER = Keyset(("-created_at", "-id"))


def notifications_of(user: User) -> QuerySet[Notification]:
    """``user``'s own notifications, newest first, with their review."""
    return (
        Notification.objects.filter(user_id=user.pk)
        .select_related("review")
        .order_by(*NOTIFICATION_ORDER.order)
    )


def unread_count(user: User) -> int:
    return Notification.objects.filter(user_id=user.pk, read_at__isnull=True).count()


def own_notification(user: User, notification_id: int) -> Notification:
    """``user``'s notification ``notification_id``; anyone else's is not found (404)."""
    found = Notification.objects.filter(pk=notification_id, user_id=user.pk).first()
    if found is None:
        raise ReviewflowError("No such notification.", code="not_found")
    return found


def mark_read(*, user: User, notification_id: int) -> Notification:
    """Mark one of ``user``'s notifications read (again: no change)."""
    notification = own_notification(user, notification_id)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=notification.read_at
        )
    return notification


def mark_all_read(*, user: User) -> int:
    """Mark every unread notification of ``user`` read; how many were."""
    return Notification.objects.filter(user_id=user.pk, read_at__isnull=True).update(
        read_at=timezone.now()
    )
