"""Making an account from an invitation link: the only way to make one with a password
(there is no open self-registration; single sign-on may make accounts too, see sso.py).

The invited person chooses a username and a password (Django's validators); the e-mail
address is the one the link was sent to, and may be changed only where the site allows it
(``SIGNUP_EMAIL_EDITABLE``). The account and the membership are made in one transaction,
then the person is signed in. Attempts are throttled like sign-ins (throttling.py).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Invitation, Membership
from reviewflow.reviews.services import accept_invitation, mark_invitation_opened
from reviewflow.reviews.throttling import (
    check_login_allowed,
    clear_failed_logins,
    client_ip,
    record_failed_login,
)


def _email_taken(email: str) -> ReviewflowError:
    return ReviewflowError(
        f"An account already uses {email}: sign in with it to accept the invitation.",
        field="email",
    )


@transaction.atomic
def sign_up_from_invitation(*, token: str, username: str, email: str, password: str) -> Membership:
    """Make an account and use the invitation ``token`` with it, both or neither.

    ``email`` is ignored for an invitation sent to an address, unless
    ``SIGNUP_EMAIL_EDITABLE`` is on."""
    invitation = Invitation.objects.select_for_update().filter(token=token).first()
    if invitation is not None and invitation.email and not settings.SIGNUP_EMAIL_EDITABLE:
        email = invitation.email
    username, email = username.strip(), email.strip()
    if User.objects.filter(username__iexact=username).exists():
        raise ReviewflowError(
            f"The username “{username}” is taken: choose another.", field="username"
        )
    if email and User.objects.filter(email__iexact=email).exists():
        raise _email_taken(email)
    user = User.objects.create_user(username=username, email=email, password=password)
    # Checks the link (unknown, used, revoked, expired): its error undoes the account too.
    return accept_invitation(token=token, user=user)


class InvitationSignUpForm(UserCreationForm):
    """Username, e-mail, and the password twice, checked by Django's validators."""

    email = forms.EmailField(label="E-mail", max_length=254)

    class Meta(UserCreationForm.Meta):  # type: ignore[name-defined]
        model = User
        fields = ("username", "email")

    def __init__(self, *args: Any, invitation: Invitation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        email = self.fields["email"]
        if invitation.email:
            email.initial = invitation.email
            if not settings.SIGNUP_EMAIL_EDITABLE:
                email.disabled = True
                email.help_text = "The address your invitation was sent to."

    def clean_email(self) -> str:
        email = str(self.cleaned_data["email"]).strip()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_email_taken(email).message)
        return email


def invitation_signup(request: HttpRequest, token: str) -> HttpResponse:
    """The sign-up page of an invitation link; the token is the credential."""
    if request.user.is_authenticated:
        return redirect("invitation-accept", token=token)
    if request.method == "GET":
        mark_invitation_opened(token=token, visitor=None)
    invitation = (
        Invitation.objects.select_related("review", "created_by").filter(token=token).first()
    )
    is_open = invitation is not None and invitation.status == "open"
    form = (
        InvitationSignUpForm(request.POST or None, invitation=invitation)
        if is_open and invitation is not None and settings.LOCAL_PASSWORDS
        else None
    )
    status = 200
    if request.method == "POST" and form is not None:
        username = str(form.data.get("username") or "")
        ip = client_ip(request)
        try:
            check_login_allowed(username=username, ip=ip)
        except ReviewflowError as exc:
            form.is_valid()  # bound and cleaned, so the page shows what was typed
            form.add_error(None, exc.message)
            status = 429
        else:
            membership = _sign_up(request, form, token)
            if membership is not None:
                clear_failed_logins(username=username, ip=ip)
                messages.success(
                    request,
                    f"Welcome, {membership.user.get_username()}: you joined "
                    f"“{membership.review.title}” as {membership.role}.",
                )
                return redirect("review-detail", slug=membership.review.slug)
            if username:
                record_failed_login(username=username, ip=ip)
    elif request.method == "POST":
        status = 400  # no form to post to: a closed link, or passwords switched off
    accept_url = reverse("invitation-accept", args=[token])
    return render(
        request,
        "reviews/invitation_signup.html",
        {"invitation": invitation, "is_open": is_open, "form": form, "accept_url": accept_url},
        status=status,
    )


def _sign_up(request: HttpRequest, form: InvitationSignUpForm, token: str) -> Membership | None:
    if not form.is_valid():
        return None
    try:
        membership = sign_up_from_invitation(
            token=token,
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
        )
    except ReviewflowError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return None
    login(request, membership.user, backend=settings.AUTHENTICATION_BACKENDS[0])
    return membership
