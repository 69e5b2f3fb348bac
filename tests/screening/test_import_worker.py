"""Imports through a real Celery worker process, including one that is killed mid-import."""

from __future__ import annotations

import time

import pytest

from reviewflow.reviews.services import create_review
from screening.models import Record, Search, SearchStatus
from screening.services import identification
from tests.conftest import needs_service
from tests.screening.factories import ris_records, upload
from tests.worker import parser_processes, real_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BROKERS = ["redis", "filesystem"]


def start_import(owner, n):
    review = create_review(title="Worker test", slug="worker-test", owner=owner)
    return identification.create_search(
        review=review,
        actor=owner,
        file=upload(ris_records(n)),
        filename="big.ris",
        source="Embase",
    )


@pytest.mark.parametrize("broker", BROKERS)
def test_import_runs_in_a_real_worker(broker, owner, tmp_path):
    if broker == "redis":
        needs_service("Redis", "REDIS_URL")
    with real_worker(broker, tmp_path) as worker:
        search = start_import(owner, 1500)
        done = wait_for(
            lambda: Search.objects.filter(pk=search.pk, status=SearchStatus.DONE).first(),
            timeout=90,
            what="the import to finish",
            worker=worker,
        )
    assert (done.records_read, done.records_imported, done.attempt) == (1500, 1500, 1)
    assert Record.objects.filter(search=search).count() == 1500


@pytest.mark.parametrize("broker", BROKERS)
def test_worker_killed_mid_import_ends_with_each_record_once(broker, owner, tmp_path):
    if broker == "redis":
        needs_service("Redis", "REDIS_URL")
    n = 60_000
    with real_worker(broker, tmp_path) as worker:
        search = start_import(owner, n)
        wait_for(
            lambda: Record.objects.filter(search_id=search.pk).exists(),
            timeout=90,
            what="the first batch",
            worker=worker,
        )
        pool = worker.children()[0]
        # The file (about 15 MB) is parsed in a second process, started by the task's.
        parsers = parser_processes(pool)
        worker.kill_child()  # SIGKILL the process running the task, half-way
        done = wait_for(
            lambda: Search.objects.filter(pk=search.pk, status=SearchStatus.DONE).first(),
            timeout=240,
            what="the redelivered import to finish",
            worker=worker,
        )
    assert done.attempt >= 2, "the import finished before the worker was killed"
    assert parsers, "the import was not parsed in a parser process"
    # Its importer gone, the orphaned parser fails its next write and exits.
    deadline = time.monotonic() + 30
    while set(parsers) & set(parser_processes()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not set(parsers) & set(parser_processes()), "a parser process outlived its worker"
    assert done.records_imported == n
    assert Record.objects.filter(search=search).count() == n
    assert Record.objects.filter(search=search).values("position").distinct().count() == n
