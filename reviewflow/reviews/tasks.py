from __future__ import annotations

import socket

from celery import shared_task

from reviewflow.reviews import services


@shared_task(acks_late=True)
def worker_heartbeat(token: str) -> int:
    """Prove a worker is alive and can write to the database."""
    return services.record_worker_heartbeat(token=token, hostname=socket.gethostname()).pk
