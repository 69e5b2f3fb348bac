"""The Celery application. Tasks live in each app's ``tasks.py``."""

from __future__ import annotations

import logging
import os
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
    process could not send them at all: ``reviewflow.broker.send_task``)."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def start(self, parent: Any) -> None:
        from django.db import DatabaseError, connections
        from kombu.exceptions import OperationalError as BrokerError

        from screening.services.imports import requeue_pending_dedups, requeue_queued_searches

        try:
            ids = requeue_queued_searches()
            dedup_ids = requeue_pending_dedups()
        except (DatabaseError, BrokerError):
            # The worker must go on taking tasks; the next connection tries again.
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
