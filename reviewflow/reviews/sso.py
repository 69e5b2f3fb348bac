"""Single sign-on with OpenID Connect, through django-allauth's ``openid_connect`` provider.

allauth runs the protocol (discovery, state, PKCE, the code exchange, the ID token's
signature, issuer and audience); this module holds our rules for who gets in:

- an identity already linked to an account signs in to that account;
- otherwise the provider must vouch for the e-mail address (the ``email_verified`` claim):
  an unverified address is refused, since anyone can type anyone's address at some
  providers, and linking by it would hand over the account;
- a verified address that one active account here uses links the identity to it;
- no account uses it: a new account is made only when ``OIDC_CREATE_USERS`` is on, or when
  the person came from an open invitation link (the login page's "next" is that link).

Only our own sign-in page is used: allauth's account pages (its sign-up, password pages)
are not routed, and its account adapter refuses self-registration.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Invitation

PASSWORDS_OFF = "Passwords are switched off here: sign in with your organisation's account."


def providers() -> list[dict[str, str]]:
    """The configured providers, each with its id, name and sign-in URL."""
    apps = settings.SOCIALACCOUNT_PROVIDERS.get("openid_connect", {}).get("APPS", [])
    return [
        {
            "id": app["provider_id"],
            "name": app["name"],
            "login_url": reverse("openid_connect_login", args=[app["provider_id"]]),
        }
        for app in apps
    ]


def invitation_token_from(url: str | None) -> str | None:
    """The token of the invitation link ``url`` points to (a path on this site), if any."""
    if not url:
        return None
    try:
        match = resolve(urlsplit(url).path)
    except (Resolver404, ValueError):  # not a page here; not even a URL ("http://[")
        return None
    if match.url_name not in ("invitation-accept", "invitation-signup"):
        return None
    return str(match.kwargs.get("token") or "") or None


def sign_in_options(request: HttpRequest) -> dict[str, Any]:
    """Template context: the SSO buttons, whether passwords are on, and, on the sign-in
    page of someone sent there by an invitation link, where to make an account instead."""
    options: dict[str, Any] = {
        "sso_providers": providers(),
        "local_passwords": settings.LOCAL_PASSWORDS,
    }
    token = invitation_token_from(request.GET.get("next"))
    if token and request.resolver_match and request.resolver_match.url_name == "login":
        options["invitation_signup_url"] = reverse("invitation-signup", args=[token])
    return options


def choose_account(
    *, email: str, verified: bool, provider: str, create_allowed: bool
) -> User | None:
    """The account a first sign-in with ``provider`` links to, or ``None`` to make one.

    Raises ``ReviewflowError`` with the message the person reads when neither is allowed."""
    email = email.strip()
    if not email:
        raise ReviewflowError(
            f"{provider} did not share your e-mail address, which reviewflow needs to find "
            "your account: allow it to, then sign in again."
        )
    if not verified:
        raise ReviewflowError(
            f"{provider} has not verified your e-mail address {email}, so it cannot sign you "
            f"in here: verify the address with {provider} first."
        )
    found = list(User.objects.filter(email__iexact=email).order_by("pk")[:2])
    if len(found) > 1:
        raise ReviewflowError(
            f"Several accounts here use {email}: ask an administrator to give each its own address."
        )
    if found:
        if not found[0].is_active:
            raise ReviewflowError(f"The account that uses {email} is switched off.")
        return found[0]
    if not create_allowed:
        raise ReviewflowError(
            f"No account here uses {email}, and accounts are made only from an invitation: "
            "ask an owner of a review to invite you."
        )
    return None


def _claimed_email(sociallogin: SocialLogin) -> tuple[str, bool]:
    for address in sociallogin.email_addresses:
        if address.email:
            return address.email, bool(address.verified)
    return "", False


def _came_with_invitation(sociallogin: SocialLogin) -> bool:
    token = invitation_token_from(sociallogin.state.get("next"))
    return bool(token) and Invitation.objects.open().filter(token=token).exists()


def _refuse(request: HttpRequest, message: str) -> ImmediateHttpResponse:
    messages.error(request, message)
    return ImmediateHttpResponse(redirect("login"))


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Applies the linking rules above to every sign-in through a provider."""

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        provider = sociallogin.account.get_provider().name
        if sociallogin.is_existing:
            if not sociallogin.user.is_active:
                raise _refuse(request, "Your account is switched off.")
            return
        email, verified = _claimed_email(sociallogin)
        create_allowed = settings.OIDC_CREATE_USERS or _came_with_invitation(sociallogin)
        try:
            user = choose_account(
                email=email, verified=verified, provider=provider, create_allowed=create_allowed
            )
        except ReviewflowError as exc:
            raise _refuse(request, exc.message) from None
        if user is not None:
            sociallogin.connect(request, user)

    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        # pre_social_login has refused everyone who may not have a new account.
        return True

    def is_auto_signup_allowed(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return True

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: Any = None,
        exception: BaseException | None = None,
        extra_context: dict[str, Any] | None = None,
    ) -> None:
        # Cancelled at the provider, a stale link, a provider that is down: back to the
        # sign-in page with a sentence, not allauth's own error page.
        name = getattr(provider, "name", "The provider")
        raise _refuse(
            request, f"Signing in with {name} did not complete: try again, or ask an administrator."
        )


class AccountAdapter(DefaultAccountAdapter):
    """No open self-registration: accounts come from invitations, or from a provider."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False
