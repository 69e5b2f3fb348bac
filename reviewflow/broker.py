"""Sending Celery tasks without failing the request when the broker is down."""

from __future__ import annotations

import logging
from importlib import import_module
from typing import Any

from celery import Task
from kombu.exceptions import OperationalError as BrokerError

log = logging.getLogger(__name__)


def send_task(task: Task[Any, Any] | str, *args: Any, **kwargs: Any) -> bool:
    """Send ``task``; ``False`` (and a log line) when the broker cannot be reached.

    ``task`` may be given by its name (``"screening.tasks.import_search"``, the module and
    function that define it): services queue their tasks by name, since the tasks module
    sits above them and calls them.

    Call it only where the database already holds what the task is for (a queued search,
    a pending deduplication, a queued ranking run): the worker sends those again each
    time it connects to the broker (``reviewflow.celery.RequeueQueuedSearches``), so a
    message that could not be sent now is sent later instead of failing a request whose
    data is already committed. How long a send may wait for a broker that is down is set
    by ``CELERY_TASK_PUBLISH_RETRY_POLICY`` and the socket timeouts in settings.
    """
    found = task_named(task) if isinstance(task, str) else task
    try:
        found.apply_async(args=args, kwargs=kwargs)
    except BrokerError as exc:
        log.warning("could not send %s%r to the broker: %s", found.name, args, exc)
        return False
    return True


def task_named(name: str) -> Task[Any, Any]:
    """The task ``name`` ("screening.tasks.import_search"), imported when asked for."""
    module, _, attribute = name.rpartition(".")
    task: Task[Any, Any] = getattr(import_module(module), attribute)
    return task
