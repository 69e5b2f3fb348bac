"""Password reset by e-mail: Django's views and tokens, our templates, and the message sent
by a Celery task like every other (``outbox.queue_email``), not inside the request.

Setting a new password from the link also lifts a sign-in lock (``throttling``): whoever
reads the account's mail may sign in again at once, from any address.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.http import HttpResponse
from django.utils import timezone

from reviewflow.reviews import emails, outbox
from reviewflow.reviews.models import EmailKind, FailedLogin, OutgoingEmail


class QueuedPasswordResetForm(PasswordResetForm):
    """Django's form (which finds the active users with that address and makes the link),
    with its message queued for a worker instead of sent here."""

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        since = timezone.now() - timedelta(hours=1)
        recent = OutgoingEmail.objects.filter(
            kind=EmailKind.PASSWORD_RESET, to__iexact=to_email, created_at__gte=since
        ).count()
        if recent >= settings.PASSWORD_RESET_EMAILS_PER_HOUR:
            # Someone is asking again and again: the page answers as always, so it tells
            # nobody whether the address has an account, but the inbox gets no more.
            return
        outbox.queue_email(
            kind=EmailKind.PASSWORD_RESET,
            to=to_email,
            composed=emails.compose("password_reset", context),
        )


class PasswordResetView(auth_views.PasswordResetView):
    form_class = QueuedPasswordResetForm
    template_name = "registration/password_reset_form.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        # The account's owner proved they read its mail: the failed sign-ins that locked
        # it (from every address) are forgotten.
        FailedLogin.objects.filter(username=form.user.get_username().strip().lower()).delete()
        return response
