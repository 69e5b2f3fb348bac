"""Pages for notifications: the list behind the bell, the e-mail settings (a default and one
row per review), and the unsubscribe link's page (no sign-in: the signed token decides)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from reviewflow.errors import ReviewflowError
from reviewflow.keyset import keyset_page
from reviewflow.reviews import notifications
from reviewflow.reviews.access import signed_in_user
from reviewflow.reviews.models import DigestFrequency

PER_PAGE = 50


@login_required
@require_safe
def notification_list(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    # Read by key, never by OFFSET (#25); a malformed cursor or number is the first page,
    # a number past the end the last.
    page = keyset_page(
        notifications.notifications_of(user),
        keyset=notifications.NOTIFICATION_ORDER,
        size=PER_PAGE,
        params=request.GET,
    )
    unread = sum(1 for n in page if n.read_at is None)
    return render(
        request, "reviews/notifications/list.html", {"page": page, "unread_on_page": unread}
    )


@login_required
@require_POST
def notification_open(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Mark the notification read and go where it points."""
    try:
        notification = notifications.mark_read(
            user=signed_in_user(request), notification_id=notification_id
        )
    except ReviewflowError:
        raise Http404("No such notification.") from None
    return redirect(notification.url or "notifications")


@login_required
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    n = notifications.mark_all_read(user=signed_in_user(request))
    messages.success(request, f"{n} notification{'s' if n != 1 else ''} marked read.")
    return redirect("notifications")


class PreferenceForm(forms.Form):
    review = forms.SlugField(required=False, max_length=60)
    immediate = forms.BooleanField(required=False)
    digest = forms.ChoiceField(choices=DigestFrequency.choices)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def notification_settings(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    if request.method == "POST":
        form = PreferenceForm(request.POST)
        if not form.is_valid():
            field, errors = next(iter(form.errors.items()))
            messages.error(request, f"{field}: {errors[0]}")
            return redirect("notification-settings")
        slug = form.cleaned_data["review"]
        try:
            review = notifications.member_review(user, slug) if slug else None
            notifications.set_preferences(
                user=user,
                review=review,
                immediate=form.cleaned_data["immediate"],
                digest=form.cleaned_data["digest"],
            )
        except ReviewflowError as exc:
            messages.error(request, exc.message)
        else:
            where = f"“{review.title}”" if review else "every review without its own settings"
            messages.success(request, f"Notification settings saved for {where}.")
        return redirect("notification-settings")
    default, rows = notifications.preferences_by_review(user)
    return render(
        request,
        "reviews/notifications/settings.html",
        {"default": default, "rows": rows, "digests": DigestFrequency.choices},
    )


@csrf_exempt  # the signed token is the credential; mail clients POST it (RFC 8058)
@require_http_methods(["GET", "HEAD", "POST"])
def notification_unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: what the link turns off, and a button; POST: turn it off (also the one-click
    POST a mail client sends with ``List-Unsubscribe=One-Click``)."""
    try:
        found, review, user = notifications.unsubscribe_target(token)
    except ReviewflowError as exc:
        return render(
            request, "reviews/notifications/unsubscribe.html", {"error": exc.message}, status=404
        )
    context = {
        "review": review,
        "what": notifications.UNSUBSCRIBE_WHAT[found.what],
        "token": token,
        "for_user": user.get_username(),
    }
    if request.method == "POST":
        notifications.unsubscribe(token=token)
        context["done"] = True
    return render(request, "reviews/notifications/unsubscribe.html", context)
