"""Single sign-on providers from the environment (read by settings.py).

``OIDC_PROVIDERS`` is a JSON list, one object per OpenID Connect provider::

    [{"id": "keycloak", "name": "Keycloak", "server_url": "https://kc.example.org/realms/x",
      "client_id": "reviewflow", "secret": "…", "scopes": ["openid", "email", "profile"]}]

``id`` (letters, digits, ``-`` and ``_``) names the provider in its URLs
(``/accounts/oidc/<id>/login/callback/`` is the redirect URI to register with it);
``server_url`` is its issuer (``/.well-known/openid-configuration`` is added unless given);
``secret`` may instead come from ``OIDC_<ID>_SECRET`` (the id upper-cased, ``-`` as ``_``),
so the JSON can live in a file that holds no secret. ``scopes`` defaults to
``openid email profile``: the e-mail scope is what lets an account be linked.

The result is the ``APPS`` list of django-allauth's ``openid_connect`` provider.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_KNOWN = {"id", "name", "server_url", "client_id", "secret", "scopes"}
DEFAULT_SCOPES = ["openid", "email", "profile"]


def _fail(message: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"OIDC_PROVIDERS: {message}")


def _text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _fail(f"{where} needs “{key}” (a non-empty string)")
    return value.strip()


def secret_variable(provider_id: str) -> str:
    """The environment variable that may hold a provider's client secret."""
    return "OIDC_" + provider_id.upper().replace("-", "_") + "_SECRET"


def oidc_apps_from_env(environ: Mapping[str, str]) -> list[dict[str, Any]]:
    """The providers ``OIDC_PROVIDERS`` lists, as django-allauth ``APPS`` entries.

    Raises ``ImproperlyConfigured`` naming the provider and field that is wrong."""
    raw = environ.get("OIDC_PROVIDERS", "").strip()
    if not raw:
        return []
    try:
        entries = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _fail(f"not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(entries, list):
        raise _fail("must be a JSON list of providers, [{…}, …]")
    apps: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        where = f"provider {number}"
        if not isinstance(entry, dict):
            raise _fail(f"{where} must be a JSON object")
        provider_id = _text(entry, "id", where)
        if not _ID.match(provider_id):
            raise _fail(f"{where}: id “{provider_id}” may hold only letters, digits, - and _")
        where = f"provider “{provider_id}”"
        if provider_id.lower() in seen:
            raise _fail(f"{where} is listed twice")
        seen.add(provider_id.lower())
        unknown = sorted(set(entry) - _KNOWN)
        if unknown:
            known = ", ".join(sorted(_KNOWN))
            raise _fail(f"{where}: unknown field “{unknown[0]}” (known: {known})")
        server_url = _text(entry, "server_url", where)
        if not server_url.startswith(("https://", "http://")):
            raise _fail(f"{where}: server_url must start with https://")
        secret = environ.get(secret_variable(provider_id), "").strip() or entry.get("secret")
        if not isinstance(secret, str) or not secret.strip():
            raise _fail(f"{where} needs “secret” (or {secret_variable(provider_id)})")
        scopes = entry.get("scopes", DEFAULT_SCOPES)
        if not isinstance(scopes, list) or not all(isinstance(s, str) and s for s in scopes):
            raise _fail(f"{where}: scopes must be a list of strings")
        if "openid" not in scopes:
            raise _fail(f"{where}: scopes must include “openid”")
        apps.append(
            {
                "provider_id": provider_id,
                "name": str(entry.get("name") or provider_id),
                "client_id": _text(entry, "client_id", where),
                "secret": secret.strip(),
                "settings": {
                    "server_url": server_url,
                    "scope": list(scopes),
                    # PKCE as well as the secret: the code is useless to whoever steals it.
                    "oauth_pkce_enabled": True,
                },
            }
        )
    return apps


def provider_origins(apps: list[dict[str, Any]]) -> list[str]:
    """The sites (scheme and host) of the providers: the sign-in buttons post to us and are
    redirected there, so the Content-Security-Policy's ``form-action`` must allow them."""
    origins: list[str] = []
    for app in apps:
        origin = "/".join(app["settings"]["server_url"].split("/")[:3])
        if origin not in origins:
            origins.append(origin)
    return origins
