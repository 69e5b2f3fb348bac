"""Outgoing e-mail: a message is a row (``OutgoingEmail``) queued here and sent by the
``send_email`` Celery task through ``deliver_email``, never inside a request. Failures are
kept by ``services.record_email_failure`` (which also writes the audit trail)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from reviewflow.broker import send_task
from reviewflow.reviews import emails
from reviewflow.reviews.models import (
    EmailKind,
    EmailStatus,
    Invitation,
    OutgoingEmail,
    Review,
)

SEND_EMAIL_TASK = "reviewflow.reviews.tasks.send_email"
# A message claimed by a worker longer ago than this (the worker died while sending) may be
# claimed again when its task is delivered again.
EMAIL_CLAIM_SECONDS = 600


def queue_email(
    *,
    kind: str,
    to: str,
    composed: emails.Composed,
    review: Review | None = None,
    invitation: Invitation | None = None,
    headers: dict[str, str] | None = None,
) -> OutgoingEmail:
    """Store a message and have a worker send it once the transaction commits."""
    email = OutgoingEmail.objects.create(
        kind=kind,
        to=to,
        subject=composed.subject,
        body_text=composed.text,
        body_html=composed.html,
        headers=headers or {},
        review=review,
        invitation=invitation,
    )

    def send() -> None:
        if not send_task(SEND_EMAIL_TASK, email.pk):
            # Nothing would ever send it: say so where its owner looks, instead of
            # leaving it queued for good.
            OutgoingEmail.objects.filter(pk=email.pk, status=EmailStatus.QUEUED).update(
                status=EmailStatus.FAILED,
                last_error="the task queue could not be reached; send it again in a moment",
            )

    transaction.on_commit(send)
    return email


def deliver_email(*, email_id: int) -> str:
    """Send one queued message (the body of the ``send_email`` task); the status it ends in.

    The row is claimed first with a conditional UPDATE: a message already sent, or being
    sent by another worker, is not sent again. Errors from the mail server propagate, for
    the task to retry (``services.record_email_failure``).
    """
    now = timezone.now()
    claimed = (
        OutgoingEmail.objects.filter(pk=email_id)
        .filter(
            Q(status=EmailStatus.QUEUED)
            | Q(
                status=EmailStatus.SENDING,
                claimed_at__lt=now - timedelta(seconds=EMAIL_CLAIM_SECONDS),
            )
        )
        .update(status=EmailStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    )
    email = OutgoingEmail.objects.filter(pk=email_id).first()
    if email is None:
        return "gone"
    if not claimed:
        return email.status
    emails.build_message(email).send()
    done: dict[str, Any] = {"status": EmailStatus.SENT, "sent_at": timezone.now(), "last_error": ""}
    if email.kind in (EmailKind.PASSWORD_RESET, EmailKind.EMAIL_CHANGE):
        # Its link acts for the user until it expires: not kept once it is sent.
        done.update(body_text="", body_html="")
    OutgoingEmail.objects.filter(pk=email_id).update(**done)
    return EmailStatus.SENT
