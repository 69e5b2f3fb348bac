"""Sign-in throttling: too many failed sign-ins for one username from one address, or from
one address whatever the username, within a window refuse further attempts from that
address until the oldest failure leaves the window.

A username is locked per address, not everywhere: a stranger who types wrong passwords for
someone's username locks only their own address out, and the real user still signs in from
theirs (locking the account itself would let anyone lock anyone out for good by retrying
every 15 minutes). The per-address limit across usernames stops one address from guessing
its way through many accounts. Guessing from many addresses at once is slowed only by these
limits per address: that is what strong passwords (Django's validators) are for.

Failures are rows of ``FailedLogin`` in the database, so every web worker counts the same
failures (Django's default cache lives in each process). While an attempt is refused the
password is not even checked, so a locked pair cannot be guessed at.

Settings (environment): ``LOGIN_MAX_FAILURES`` per username and address (default 5),
``LOGIN_MAX_FAILURES_PER_IP`` (default 20), ``LOGIN_FAILURE_WINDOW_MINUTES`` (default 15).
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import FailedLogin
from reviewflow.reviews.sso import PASSWORDS_OFF


def _window() -> timedelta:
    return timedelta(minutes=int(settings.LOGIN_FAILURE_WINDOW_MINUTES))


def client_ip(request: HttpRequest | None) -> str | None:
    """The address a request came from.

    Behind a reverse proxy (``USE_X_FORWARDED_FOR=1``) that is the last address of
    ``X-Forwarded-For``: the one our own proxy added, which a client cannot forge.
    """
    if request is None:
        return None
    if settings.USE_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1][:45]
    return request.META.get("REMOTE_ADDR") or None


def _minutes_left(oldest: Any, now: Any) -> int:
    return max(1, math.ceil((oldest + _window() - now).total_seconds() / 60))


def check_login_allowed(*, username: str, ip: str | None) -> None:
    """Raise ``ReviewflowError`` when ``username`` has failed too often lately from ``ip``,
    or ``ip`` has, whatever the username."""
    now = timezone.now()
    recent = FailedLogin.objects.filter(created_at__gt=now - _window())
    limits: list[tuple[dict[str, Any], str, int]] = [
        (
            {"username": username.strip().lower(), "ip": ip or None},
            "this username from your network address",
            int(settings.LOGIN_MAX_FAILURES),
        )
    ]
    if ip:
        limits.append(({"ip": ip}, "your network address", int(settings.LOGIN_MAX_FAILURES_PER_IP)))
    for where, who, limit in limits:
        times = list(
            recent.filter(**where)
            .order_by("-created_at")
            .values_list("created_at", flat=True)[:limit]
        )
        if len(times) >= limit:
            # The lock lifts when the oldest of the last ``limit`` failures leaves the window.
            minutes = _minutes_left(times[-1], now)
            unit = "minute" if minutes == 1 else "minutes"
            raise ReviewflowError(
                f"Too many failed sign-ins for {who}: try again in {minutes} {unit}.",
                code="throttled",
            )


def record_failed_login(*, username: str, ip: str | None) -> FailedLogin:
    """Count one failed sign-in, and forget failures older than the window."""
    now = timezone.now()
    FailedLogin.objects.filter(created_at__lte=now - _window()).delete()
    return FailedLogin.objects.create(
        username=username.strip().lower()[:150], ip=ip or None, created_at=now
    )


def clear_failed_logins(*, username: str, ip: str | None) -> int:
    """A successful sign-in forgets the username's failures from the same address (the
    user's own typos), not those from other addresses: a guesser elsewhere gets no fresh
    tries."""
    deleted, _ = FailedLogin.objects.filter(
        username=username.strip().lower(), ip=ip or None
    ).delete()
    return deleted


class ThrottledAuthenticationMixin:
    """Checks the throttle before ``AuthenticationForm.clean`` checks the password."""

    request: HttpRequest | None
    cleaned_data: dict[str, Any]
    throttled = False

    def clean(self) -> dict[str, Any]:
        if not settings.LOCAL_PASSWORDS:
            # Single sign-on only (reviews/sso.py): no password is even checked.
            raise forms.ValidationError(PASSWORDS_OFF, code="passwords_off")
        username = str(self.cleaned_data.get("username") or "")
        ip = client_ip(self.request)
        try:
            check_login_allowed(username=username, ip=ip)
        except ReviewflowError as exc:
            self.throttled = True
            raise forms.ValidationError(exc.message, code="throttled") from None
        try:
            cleaned: dict[str, Any] = super().clean()  # type: ignore[misc]
        except forms.ValidationError:
            if username and self.cleaned_data.get("password"):
                record_failed_login(username=username, ip=ip)
            raise
        clear_failed_logins(username=username, ip=ip)
        return cleaned


class ThrottledAuthenticationForm(ThrottledAuthenticationMixin, AuthenticationForm):
    """The site's sign-in form, throttled."""


class ThrottledAdminAuthenticationForm(ThrottledAuthenticationMixin, AdminAuthenticationForm):
    """The admin's sign-in form (staff only), throttled the same way."""


class ThrottledLoginView(LoginView):
    """Django's sign-in page with throttling; a refused attempt answers 429."""

    form_class = ThrottledAuthenticationForm

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        if getattr(form, "throttled", False):
            response.status_code = 429
        return response
