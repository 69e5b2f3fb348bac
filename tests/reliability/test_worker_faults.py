"""Faults under a real Celery worker: its pool process killed (SIGKILL) in the middle of a
deduplication, and the Redis broker restarted with imports still queued. (A kill in the
middle of an import is tested in tests/screening/test_import_worker.py.)"""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest
from django.db import OperationalError, connection, transaction

from reviewflow.reviews.models import AuditEvent, Review
from reviewflow.reviews.services import create_review
from screening.models import DuplicatePair, PairDecision, Record, Search, SearchStatus
from screening.services import dedup, identification
from screening.services.prisma import prisma_counts
from tests.conftest import needs_service
from tests.reliability.exports import overlapping_exports
from tests.reliability.helpers import RedisServer, needs_redis_server
from tests.screening.factories import ris_records, upload
from tests.worker import real_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BROKERS = ["redis", "filesystem"]


def dedup_runs(search: Search) -> int:
    return AuditEvent.objects.filter(action="dedup.run", target=f"search {search.pk}").count()


def review_is_locked(review: Review) -> bool:
    """PostgreSQL: whether a deduplication holds the review's row (it does for its whole
    transaction). Elsewhere there are no row locks to look at: say yes."""
    if connection.vendor != "postgresql":
        return True
    try:
        with transaction.atomic():
            Review.objects.select_for_update(nowait=True).filter(pk=review.pk).exists()
    except OperationalError:
        return True
    return False


def assert_clusters_consistent(review: Review) -> dict[int, int]:
    """Every merge points at a primary that is itself no duplicate, each pair is stored
    once, and every automatic or confirmed pair lies inside one cluster. Returns
    record → cluster."""
    rows = list(
        Record.objects.filter(review=review).values_list("pk", "duplicate_of_id", "merge_kind")
    )
    primary_of = {pk: dup for pk, dup, _ in rows}
    assert all((dup is None) == (kind == "") for _, dup, kind in rows)
    assert all(primary_of[dup] is None for dup in primary_of.values() if dup is not None)
    cluster = {pk: dup or pk for pk, dup in primary_of.items()}
    pairs = list(
        DuplicatePair.objects.filter(review=review).values_list(
            "record_a_id", "record_b_id", "decision"
        )
    )
    assert len({frozenset((a, b)) for a, b, _ in pairs}) == len(pairs)
    for a, b, decision in pairs:
        if decision in (PairDecision.AUTO, PairDecision.CONFIRMED):
            assert cluster[a] == cluster[b], (a, b, decision)
    return cluster


@pytest.mark.parametrize("broker", BROKERS)
def test_worker_killed_mid_deduplication_redelivers_it_and_it_finishes_once(
    broker, owner, tmp_path
):
    if broker == "redis":
        needs_service("Redis", "REDIS_URL")
    n = 12_000
    first, second, planted = overlapping_exports(n)
    review = create_review(title="Dedup under fire", slug="dedup-fire", owner=owner)
    # The first search is imported and deduplicated here (tasks run eagerly outside the
    # worker block); the second goes through the worker, which deduplicates it next.
    search_a = identification.create_search(
        review=review, actor=owner, file=upload(first), filename="embase.ris", source="Embase"
    )
    assert Search.objects.get(pk=search_a.pk).status == SearchStatus.DONE
    with real_worker(broker, tmp_path) as worker:
        search_b = identification.create_search(
            review=review,
            actor=owner,
            file=upload(second),
            filename="medline.ris",
            source="MEDLINE",
        )
        wait_for(
            lambda: "dedup_search[" in worker.output() and review_is_locked(review),
            timeout=120,
            what="the deduplication of the second search to start",
            worker=worker,
        )
        time.sleep(1.0)  # into the matching, well before its transaction commits
        killed = worker.kill_child()
        assert dedup_runs(search_b) == 0, "the deduplication finished before the kill"
        wait_for(
            lambda: dedup_runs(search_b),
            timeout=180,
            what="the redelivered deduplication to finish",
            worker=worker,
        )
        log = worker.output()
    task_ids = re.findall(r"dedup_search\[([0-9a-f-]+)\] received", log)
    redelivered = [t for t, k in Counter(task_ids).items() if k >= 2]
    print(
        f"\nkilled pool process {killed} mid-deduplication; task received {len(task_ids)} times; "
        f"{len(redelivered)} redelivered"
    )
    assert len(redelivered) == 1 and "SIGKILL" in log
    assert dedup_runs(search_b) == 1  # the killed run left nothing behind

    # Every record exists once.
    for search, count in ((search_a, n), (search_b, n)):
        done = Search.objects.get(pk=search.pk)
        assert (done.status, done.records_imported) == (SearchStatus.DONE, count)
        assert Record.objects.filter(search=search).count() == count
        assert Record.objects.filter(search=search).values("position").distinct().count() == count
    cluster = assert_clusters_consistent(review)
    # The planted duplicates are merged, each into the record it repeats.
    merged = Record.objects.filter(review=review, duplicate_of__isnull=False)
    assert merged.count() == planted
    assert set(merged.values_list("search_id", flat=True)) == {search_b.pk}
    counts = prisma_counts(review)
    assert counts.duplicates == planted
    # A fresh deduplication of the same records finds nothing the redelivered one missed.
    again = dedup.run_dedup(review_id=review.pk, search_id=search_b.pk)
    assert (again.new_auto, again.new_pending, again.merged) == (0, 0, 0)
    assert assert_clusters_consistent(review) == cluster
    assert prisma_counts(review).duplicates == counts.duplicates


def test_redis_restarted_with_imports_queued_still_imports_each_of_them_once(
    owner, tmp_path, monkeypatch
):
    needs_redis_server()
    # The first import is large enough (several seconds) to be surely still running when
    # Redis is killed; with a small one the worker could finish it and take the next
    # message between the count of waiting messages and the kill.
    sizes = [60_000, 8_000, 8_000, 8_000]
    files = len(sizes)
    redis = RedisServer(tmp_path)
    redis.start()
    # The worker and this process (the producer) both use this test's own Redis.
    monkeypatch.setenv("REDIS_URL", redis.url)
    review = create_review(title="Broker restart", slug="broker-restart", owner=owner)
    try:
        with real_worker("redis", tmp_path) as worker:
            # (Once it is connected: it re-sends queued imports each time it connects.)
            wait_for(
                lambda: " ready." in worker.output(), timeout=60, what="the worker", worker=worker
            )
            searches = [
                identification.create_search(
                    review=review,
                    actor=owner,
                    file=upload(
                        ris_records(size, start=k * 100_000 + 1, prefix=f"Source {k} trial")
                    ),
                    filename=f"export-{k}.ris",
                    source=f"Database {k}",
                )
                for k, size in enumerate(sizes)
            ]
            wait_for(
                lambda: Search.objects.filter(pk=searches[0].pk, records_imported__gt=0).exists(),
                timeout=120,
                what="the first import to be under way",
                worker=worker,
            )
            waiting = redis.llen(worker.queue)
            redis.kill()  # every message it held is gone: it keeps nothing on disk
            redis.start()  # same port: the worker and the producer reconnect
            lost = waiting - redis.llen(worker.queue)
            done = wait_for(
                lambda: Search.objects.filter(review=review, status=SearchStatus.DONE).count()
                == files
                and all(dedup_runs(s) for s in searches),
                timeout=240,
                what="every queued import (and its deduplication) to finish",
                worker=worker,
            )
            log = worker.output()
    finally:
        redis.stop()
    resent = re.findall(r"re-sent the imports of (\d+) queued searches", log)
    print(
        f"\nRedis killed and restarted with {waiting} imports waiting in it ({lost} lost); "
        f"worker re-sent {resent}; {files} imports done"
    )
    assert done
    assert waiting == files - 1 and lost == waiting  # the restart really lost them
    assert resent and int(resent[-1]) == files - 1
    for k, (search, n) in enumerate(zip(searches, sizes, strict=True)):
        search.refresh_from_db()
        assert (search.status, search.records_imported, search.attempt) == (
            SearchStatus.DONE,
            n,
            1,
        ), search.failure
        records = Record.objects.filter(search=search)
        assert records.count() == records.values("position").distinct().count() == n
        assert dedup_runs(search) == 1, f"search {k} deduplicated {dedup_runs(search)} times"
