"""``EMAIL_URL`` → Django's ``EMAIL_*`` settings (pure: no Django settings read, no I/O).

One variable says where mail goes, as ``DATABASE_URL`` says where data goes::

    smtp://user:pass@mail.example.org:587?tls=1   SMTP, STARTTLS on port 587
    smtp://mail.example.org                       SMTP without encryption, port 25
    smtps://user:pass@mail.example.org            SMTP over implicit TLS, port 465
    console://                                    printed to the console (``make run``)
    file:///var/tmp/reviewflow-mail               one file per message in that folder
    memory://                                     kept in ``django.core.mail.outbox`` (tests)

A user name or password holding ``@``, ``:`` or ``/`` is written percent-encoded
(``p%40ss`` for ``p@ss``). Query options: ``tls=1`` (STARTTLS), ``ssl=1`` (implicit TLS, as
``smtps``), ``timeout=SECONDS`` (default 10, so a mail server that hangs cannot hold a
worker for long).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
BACKENDS = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "memory": "django.core.mail.backends.locmem.EmailBackend",
}
DEFAULT_TIMEOUT = 10
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_OPTIONS = {"tls", "ssl", "timeout"}


class EmailUrlError(ValueError):
    """A malformed ``EMAIL_URL``; the message names the variable and what is wrong."""


def email_settings_from_url(url: str, *, variable: str = "EMAIL_URL") -> dict[str, Any]:
    """Django's ``EMAIL_*`` settings for ``url``; an empty ``url`` means the console."""
    url = url.strip()
    if not url:
        url = "console://"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise EmailUrlError(f"{variable} is not a valid address ({exc}): {_masked(url)}") from None
    scheme = parts.scheme.lower()
    if scheme in BACKENDS:
        settings: dict[str, Any] = {"EMAIL_BACKEND": BACKENDS[scheme]}
        if scheme == "file":
            path = unquote(parts.netloc + parts.path)
            if not path:
                raise EmailUrlError(
                    f"{variable} file:// needs a folder, e.g. file:///var/tmp/reviewflow-mail"
                )
            settings["EMAIL_FILE_PATH"] = path
        return settings
    if scheme not in {"smtp", "smtps"}:
        raise EmailUrlError(
            f"{variable} must start with smtp://, smtps://, console://, file:// or memory://, "
            f"not {_masked(url)!r}"
        )
    if not parts.hostname:
        raise EmailUrlError(
            f"{variable} names no mail server: write it as {scheme}://user:password@host:port"
        )
    options = _options(parts.query, variable)
    use_ssl = scheme == "smtps" or _flag(options, "ssl", variable)
    use_tls = _flag(options, "tls", variable)
    if use_ssl and use_tls:
        raise EmailUrlError(
            f"{variable} asks for both implicit TLS (smtps:// or ssl=1) and STARTTLS (tls=1): "
            "choose one"
        )
    timeout = DEFAULT_TIMEOUT
    if "timeout" in options:
        try:
            timeout = int(options["timeout"])
        except ValueError:
            timeout = 0
        if timeout <= 0:
            raise EmailUrlError(
                f"{variable} timeout must be a whole number of seconds above 0, "
                f"not {options['timeout']!r}"
            )
    return {
        "EMAIL_BACKEND": SMTP_BACKEND,
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": port or (465 if use_ssl else 587 if use_tls else 25),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": use_tls,
        "EMAIL_USE_SSL": use_ssl,
        "EMAIL_TIMEOUT": timeout,
    }


def describe(settings: dict[str, Any]) -> str:
    """Where mail goes, in a few words and without the password (for start-up messages)."""
    backend = settings["EMAIL_BACKEND"]
    if backend == BACKENDS["console"]:
        return "printed to the console"
    if backend == BACKENDS["file"]:
        return f"written to files in {settings['EMAIL_FILE_PATH']}"
    if backend == BACKENDS["memory"]:
        return "kept in memory"
    security = (
        " over TLS"
        if settings["EMAIL_USE_SSL"]
        else " with STARTTLS"
        if settings["EMAIL_USE_TLS"]
        else ""
    )
    return f"sent by SMTP to {settings['EMAIL_HOST']}:{settings['EMAIL_PORT']}{security}"


def _options(query: str, variable: str) -> dict[str, str]:
    options = {
        key.lower(): values[-1] for key, values in parse_qs(query, keep_blank_values=True).items()
    }
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise EmailUrlError(
            f"{variable} has an unknown option {', '.join(unknown)}: use tls=1, ssl=1 or "
            "timeout=SECONDS"
        )
    return options


def _flag(options: dict[str, str], name: str, variable: str) -> bool:
    value = options.get(name, "0").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise EmailUrlError(f"{variable} option {name} must be 1 or 0, not {options[name]!r}")


def _masked(url: str) -> str:
    """``url`` with any password replaced, so an error message never shows it."""
    scheme, sep, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    if not sep or "@" not in netloc:
        return url
    userinfo, _, host = netloc.rpartition("@")
    if ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":***"
    return f"{scheme}://{userinfo}@{host}{slash}{path}"
