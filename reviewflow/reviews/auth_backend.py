"""The sign-in backend: Django's ``ModelBackend``, but the user it loads for each request
carries ``unread_notifications``, counted in the same query (a scalar subquery on the
partial index ``notification_unread``), so the bell in every page's header costs no query
of its own."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce

from reviewflow.reviews.models import Notification


def unread_count_subquery() -> Coalesce:
    """The number of the outer user's unread notifications, as an expression."""
    unread = (
        Notification.objects.filter(user=OuterRef("pk"), read_at__isnull=True)
        .order_by()
        .values("user")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(unread, output_field=IntegerField()), 0)


class UserWithUnreadCountBackend(ModelBackend):
    def get_user(self, user_id: Any) -> Any:
        model = get_user_model()
        try:
            user = model._default_manager.annotate(
                unread_notifications=unread_count_subquery()
            ).get(pk=user_id)
        except model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None


def bell(request: Any) -> dict[str, Any]:
    """Template context: ``bell_unread``, the signed-in user's unread notifications, for the
    bell in every page's header. Read from the user this backend loaded (no query); a user
    signed in through another backend costs one count, and only on a page that shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def unread() -> int:
        count = getattr(user, "unread_notifications", None)
        if count is None:
            count = Notification.objects.filter(user_id=user.pk, read_at__isnull=True).count()
            setattr(user, "unread_notifications", count)  # noqa: B010 (read once a request)
        return int(count)

    return {"bell_unread": unread}
