"""API token authentication, with its lookup compiled once per process."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from reviewflow import compiled


def _user_of_token() -> Any:
    return User.objects.filter(auth_token__key=compiled.TOKEN)


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's ``Authorization: Token …``, answering as DRF does (the same messages), with the
    token's user read by a query compiled once (it runs before every API call)."""

    def authenticate_credentials(self, key: str) -> tuple[User, Token]:
        found = compiled.instances(("auth.token",), _user_of_token, model=User, token=key)
        if not found:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user: User = found[0]
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token = Token.from_db(user._state.db, ["key", "user_id"], [key, user.pk])
        token.user = user
        return user, token
