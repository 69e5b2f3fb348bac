"""Show that a long task is alive: a thread writes its heartbeat while the task works.

A worker killed whole (main process, pool and all) leaves its task's row saying
"running", and the broker gives its message to nobody for a long time (Redis's visibility
timeout) or never (the filesystem broker). So running imports and deduplications write a
heartbeat, and a worker restarts one silent for ``STALE_TASK_SECONDS``
(``reviewflow.celery.RequeueQueuedSearches``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, connections
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest

log = logging.getLogger(__name__)


def stale_after() -> timedelta | None:
    """How long a running task may stay silent before a worker restarts it; ``None``: never."""
    seconds = settings.STALE_TASK_SECONDS
    return timedelta(seconds=seconds) if seconds > 0 else None


def beat_every() -> float:
    """Seconds between heartbeats (and between the worker's checks): a quarter of the limit,
    so a late beat or a slow check does not make a live task look dead. 0: no heartbeats."""
    limit = stale_after()
    return limit.total_seconds() / 4 if limit else 0.0


def later_beat(now: datetime, column: str = "heartbeat_at") -> Greatest:
    """``now``, unless the row already holds a later beat: the value to write in a beat.

    A beat from the thread may wait for the row while the task's own transaction holds it
    (a batch of an import), and that transaction writes a fresher beat as it commits; the
    waiting beat, its time taken before the wait, must not then move the heartbeat back
    (the task would look silent for as long as the wait lasted).
    """
    return Greatest(Coalesce(F(column), Value(now)), Value(now))


@contextmanager
def beating(beat: Callable[[], object], *, every: float | None = None) -> Iterator[None]:
    """Call ``beat`` every ``every`` seconds (default ``beat_every()``) from a thread while
    the block runs.

    The thread has its own database connection, so each beat commits at once even while the
    block holds a long transaction (a deduplication is one). No thread is started when the
    caller is already inside a transaction (a task run eagerly in a test, say): nobody else
    could see the rows it writes, and a beat from another connection would only wait for
    its locks. A beat that fails is logged and the next one tries again.
    """
    every = beat_every() if every is None else every
    if every <= 0 or connection.in_atomic_block:
        yield
        return
    stop = threading.Event()

    def run() -> None:
        try:
            while not stop.wait(every):
                try:
                    beat()
                except DatabaseError:
                    log.warning("could not write a heartbeat; trying again", exc_info=True)
        finally:
            connections.close_all()  # this thread's connections only

    thread = threading.Thread(target=run, name="heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        # A beat waiting for a lock finishes on its own; the task does not wait for it.
        thread.join(timeout=every)
