"""Changing one's e-mail address: the new address gets a link, and only opening it there
changes the account (``services.request_email_change``, ``services.confirm_email_change``).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from reviewflow.errors import ReviewflowError
from reviewflow.reviews import services
from reviewflow.reviews.access import signed_in_user


class EmailChangeForm(forms.Form):
    email = forms.EmailField(label="New e-mail address", max_length=254)
    password = forms.CharField(
        label="Your password",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="So that nobody who finds this page open can take your account.",
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("This is not your password.")
        return password


@login_required
def email_change(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    form = EmailChangeForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            services.request_email_change(
                user=user,
                new_email=form.cleaned_data["email"],
                site_url=request.build_absolute_uri("/"),
            )
        except ReviewflowError as exc:
            form.add_error("email", exc.message)
        else:
            messages.success(
                request,
                f"We sent a link to {form.cleaned_data['email']}: open it there to confirm "
                "the change. Until then your address stays as it is.",
            )
            return redirect("email-change")
    return render(request, "registration/email_change_form.html", {"form": form})


def email_change_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """A page with a button, not a change on GET: mail scanners open links on their own."""
    error = new_email = ""
    try:
        _, new_email = services.check_email_change(token=token)
        if request.method == "POST":
            services.confirm_email_change(token=token)
            messages.success(request, f"Your e-mail address is now {new_email}.")
            return redirect("email-change-done")
    except ReviewflowError as exc:
        error = exc.message
    return render(
        request,
        "registration/email_change_confirm.html",
        {"error": error, "new_email": new_email},
        status=400 if error and request.method == "POST" else 200,
    )


def email_change_done(request: HttpRequest) -> HttpResponse:
    return render(request, "registration/email_change_done.html")
