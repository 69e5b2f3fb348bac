from __future__ import annotations

import socket

from celery import Task, shared_task
from django.conf import settings

from reviewflow.reviews import digest, emails, outbox, services


@shared_task(acks_late=True)
def worker_heartbeat(token: str) -> int:
    """Prove a worker is alive and can write to the database."""
    return services.record_worker_heartbeat(token=token, hostname=socket.gethostname()).pk


@shared_task(acks_late=True)
def send_due_digests() -> int:
    """Queue the daily and weekly digests due now (Celery beat runs it every
    ``DIGEST_CHECK_SECONDS``); safe to run twice: each digest goes once per period."""
    return digest.send_due_digests()


def retry_delay(attempt: int) -> int:
    """Seconds to wait after failed try ``attempt`` (1, 2, …): doubling, at most an hour."""
    return int(min(settings.EMAIL_RETRY_SECONDS * 2 ** (attempt - 1), 3600))


@shared_task(bind=True, acks_late=True, max_retries=None)
def send_email(self: Task[..., str], email_id: int) -> str:
    """Send one queued message; on a mail server error try again later (up to
    ``EMAIL_ATTEMPTS`` tries, waiting longer each time), then mark it failed. Safe to run
    twice: a message already sent is not sent again."""
    attempt = self.request.retries + 1
    while True:
        try:
            return outbox.deliver_email(email_id=email_id)
        except emails.TRANSIENT_ERRORS as exc:
            final = attempt >= settings.EMAIL_ATTEMPTS or emails.is_permanent(exc)
            services.record_email_failure(email_id=email_id, exc=exc, final=final)
            if final:
                return "failed"
            if not self.request.is_eager:
                raise self.retry(exc=exc, countdown=retry_delay(attempt)) from None
            # Run in the calling process (CELERY_TASK_ALWAYS_EAGER): Celery would raise
            # its Retry into the caller, so the tries happen here, one after the other.
            attempt += 1
        except Exception as exc:
            # A fault of ours (a template, a header): no retry mends it; the message is
            # marked failed with the reason, where its owner looks, and the error logged.
            services.record_email_failure(email_id=email_id, exc=exc, final=True)
            raise
