"""The Celery wiring, for real: a worker process takes a task from the broker and writes to
the database this test reads."""

from __future__ import annotations

import uuid

import pytest

from reviewflow.reviews.models import WorkerHeartbeat
from reviewflow.reviews.tasks import worker_heartbeat
from tests.conftest import needs_service
from tests.worker import real_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("broker", ["redis", "filesystem"])
def test_real_worker_runs_a_task_that_writes_to_the_database(broker, tmp_path):
    if broker == "redis":
        needs_service("Redis", "REDIS_URL")
    token = uuid.uuid4().hex
    with real_worker(broker, tmp_path) as worker:
        worker_heartbeat.delay(token)
        beat = wait_for(
            lambda: WorkerHeartbeat.objects.filter(token=token).first(),
            timeout=60,
            what="the heartbeat row",
            worker=worker,
        )
    assert beat.hostname
    # The task is safe to run twice: the same token writes one row.
    worker_heartbeat.apply(args=[token])
    assert WorkerHeartbeat.objects.filter(token=token).count() == 1
