"""Composing e-mail: each message is rendered from three templates,
``reviews/email/<name>_subject.txt``, ``<name>.txt`` and ``<name>.html``, and sent as one
multipart message (text, with the HTML as its alternative).

Composing happens where the message is queued (in the request, which knows the site's
address); sending happens in a Celery task (``reviews.tasks.send_email``)."""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

if TYPE_CHECKING:
    from reviewflow.reviews.models import OutgoingEmail


@dataclass(frozen=True)
class Composed:
    subject: str
    text: str
    html: str


def compose(name: str, context: dict[str, Any]) -> Composed:
    """The message ``name`` rendered with ``context`` (the HTML part auto-escapes it)."""
    subject = render_to_string(f"reviews/email/{name}_subject.txt", context)
    return Composed(
        # A header holds one line: a newline in a review's title must not start another.
        subject=" ".join(subject.split())[:300],
        text=render_to_string(f"reviews/email/{name}.txt", context).strip() + "\n",
        html=render_to_string(f"reviews/email/{name}.html", context),
    )


def build_message(email: OutgoingEmail) -> EmailMultiAlternatives:
    """The Django message for a queued ``OutgoingEmail``."""
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        headers=dict(email.headers or {}),
    )
    if email.body_html:
        message.attach_alternative(email.body_html, "text/html")
    return message


# Failures worth another try later: the mail server down, slow, or answering "try later".
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (smtplib.SMTPException, OSError)


def is_permanent(exc: BaseException) -> bool:
    """Whether trying again cannot help: the server refused for good (5xx), e.g. an
    address that does not exist or credentials it does not accept."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return False


def _server() -> str:
    return f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def failure_reason(exc: BaseException) -> str:
    """Why a message was not sent, in words an owner can act on (never a password)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        parts = [
            f"{address} ({code} {_text(reply)})"
            for address, (code, reply) in exc.recipients.items()
        ]
        return "the mail server refused the address " + ", ".join(parts)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return (
            f"the mail server at {_server()} did not accept the user name and password "
            f"in EMAIL_URL ({exc.smtp_code} {_text(exc.smtp_error)})"
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"the mail server at {_server()} answered {exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"the mail server at {_server()} closed the connection"
    if isinstance(exc, ConnectionRefusedError):
        return f"the mail server at {_server()} refused the connection"
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"the mail server at {_server()} did not answer within {settings.EMAIL_TIMEOUT} s"
    if isinstance(exc, socket.gaierror):
        return f"the mail server's name {settings.EMAIL_HOST} could not be found"
    if isinstance(exc, ssl.SSLError):
        return f"the TLS connection to the mail server at {_server()} failed ({exc.reason})"
    if isinstance(exc, OSError):
        return f"the mail server at {_server()} could not be reached ({exc.strerror or exc})"
    return f"reviewflow could not make the message ({type(exc).__name__}: {exc})"
