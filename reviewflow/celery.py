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

    And when it connects, then every quarter of ``STALE_TASK_SECONDS``, it restarts the
    imports and deduplications whose heartbeat is older than that: their worker died whole
    (``identification.restart_stale_imports``). Each is claimed by a conditional UPDATE,
    so with several workers each is restarted once. (Celery beat need not run: the pass
    runs on this consumer's own timer.)
    """

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.timer_entry: Any = None
        self.stale_entry: Any = None

    def start(self, parent: Any) -> None:
        from django.conf import settings

        from reviewflow.heartbeat import beat_every

        self.resend(None)
        self.restart_stale()
        interval = settings.REQUEUE_INTERVAL_SECONDS
        if interval > 0 and parent.timer is not None and self.timer_entry is None:
            self.timer_entry = parent.timer.call_repeatedly(
                interval, self.resend, (timedelta(seconds=interval),)
            )
        every = beat_every()
        if every > 0 and parent.timer is not None and self.stale_entry is None:
            self.stale_entry = parent.timer.call_repeatedly(every, self.restart_stale)

    def stop(self, parent: Any) -> None:
        for name in ("timer_entry", "stale_entry"):
            entry = getattr(self, name)
            if entry is not None:
                entry.cancel()
                setattr(self, name, None)

    def restart_stale(self) -> None:
        from django.db import DatabaseError, connection, connections
        from kombu.exceptions import OperationalError as BrokerError

        from reviewflow.heartbeat import stale_after
        from screening.services.identification import (
            restart_stale_dedups,
            restart_stale_imports,
        )
        from screening.services.openaccess import restart_stale_oa_runs
        from screening.services.pdfs import restart_stale_pdf_batches

        limit = stale_after()
        if limit is None:
            return
        seconds = int(limit.total_seconds())
        try:
            if connection.vendor == "sqlite":
                # A claim that finds the database's write lock taken (a batch being written,
                # a deduplication running: someone is alive) gives up soon and the next
                # pass tries again, instead of holding this worker's consumer for long.
                with connection.cursor() as cursor:
                    cursor.execute("PRAGMA busy_timeout = 1000")
            ids = restart_stale_imports(limit)
            if ids:
                log.warning("restarted %d imports silent for over %s s: %s", len(ids), seconds, ids)
            ids = restart_stale_dedups(limit)
            if ids:
                log.warning(
                    "restarted the deduplications of %d searches silent for over %s s: %s",
                    len(ids),
                    seconds,
                    ids,
                )
            ids = restart_stale_pdf_batches(limit)
            if ids:
                log.warning(
                    "restarted %d PDF batches silent for over %s s: %s", len(ids), seconds, ids
                )
            ids = restart_stale_oa_runs(limit)
            if ids:
                log.warning(
                    "restarted %d open-access runs silent for over %s s: %s",
                    len(ids),
                    seconds,
                    ids,
                )
        except (DatabaseError, BrokerError) as exc:
            log.info("could not look for silent tasks now (%s); the next pass tries again", exc)
        finally:
            connections.close_all()  # the connection (and its lock timeout) ends with the pass

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
