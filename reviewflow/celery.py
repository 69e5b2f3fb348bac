"""The Celery application. Tasks live in each app's ``tasks.py``."""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import Any

from celery import Celery, bootsteps

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewflow.settings")

log = logging.getLogger(__name__)

app = Celery("reviewflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class RequeueQueuedSearches(bootsteps.StartStopStep):
    """Each time the worker connects to the broker (when it starts, and again when the
    broker comes back after a restart), send the imports of searches still queued again,
    and the deduplications of imported searches still pending: Redis keeps its queue in
    memory, so a restart lost the tasks that were waiting (and while it was down, the web
    process could not send them at all: ``reviewflow.broker.send_task``).

    Then, every ``REQUEUE_INTERVAL_SECONDS`` while connected, the same for those waiting
    longer than that: a web process that lost the broker for a moment while this worker
    stayed connected leaves a search queued that no reconnection would send.
    """

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.timer_entry: Any = None

    def start(self, parent: Any) -> None:
        from django.conf import settings

        self.resend(None)
        interval = settings.REQUEUE_INTERVAL_SECONDS
        if interval > 0 and parent.timer is not None and self.timer_entry is None:
            self.timer_entry = parent.timer.call_repeatedly(
                interval, self.resend, (timedelta(seconds=interval),)
            )

    def stop(self, parent: Any) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None

    def resend(self, older_than: timedelta | None) -> None:
        from django.db import DatabaseError, connections
        from kombu.exceptions import OperationalError as BrokerError

        from screening.services.identification import (
            requeue_pending_dedups,
            requeue_queued_searches,
        )

        try:
            ids = requeue_queued_searches(older_than)
            dedup_ids = requeue_pending_dedups(older_than)
        except (DatabaseError, BrokerError):
            # The worker must go on taking tasks; the next pass tries again.
            log.exception("could not re-send the imports of queued searches")
            return
        finally:
            connections.close_all()  # pool processes forked later must not share it
        if ids:
            log.warning("re-sent the imports of %d queued searches: %s", len(ids), ids)
        if dedup_ids:
            log.warning(
                "re-sent the deduplications of %d imported searches: %s",
                len(dedup_ids),
                dedup_ids,
            )


app.steps["consumer"].add(RequeueQueuedSearches)
