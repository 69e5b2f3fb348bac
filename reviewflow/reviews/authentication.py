"""API token authentication: the token's user in one query."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's ``Authorization: Token …``, answering as DRF does (the same messages), with the
    token's user read in one query, without loading the token row apart (it runs before
    every API call)."""

    def authenticate_credentials(self, key: str) -> tuple[User, Token]:
        found = list(User.objects.filter(auth_token__key=key))
        if not found:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user: User = found[0]
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token = Token.from_db(user._state.db, ["key", "user_id"], [key, user.pk])
        token.user = user
        return user, token
