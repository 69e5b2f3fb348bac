"""A worker killed whole (main process, pool and parser, SIGKILL) in the middle of an import
or a deduplication: nothing of it can give the task back, so the broker keeps its message
for an hour (Redis's visibility timeout) or has lost it (the filesystem broker). Running
tasks write a heartbeat, and a worker restarts one silent for ``STALE_TASK_SECONDS``,
cleanly and once, even when two workers look at the same moment."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connections
from django.db.models import QuerySet
from django.utils import timezone

from reviewflow.heartbeat import beating
from reviewflow.reviews.models import AuditEvent
from reviewflow.reviews.services import create_review
from screening.models import Record, Search, SearchStatus
from screening.services import dedup, identification
from tests.conftest import needs_postgresql, needs_service
from tests.reliability.exports import overlapping_exports
from tests.reliability.test_worker_faults import assert_clusters_consistent, review_is_locked
from tests.screening.factories import ris_records, upload
from tests.worker import real_worker, wait_for

BROKERS = ["redis", "filesystem"]
LIMIT = timedelta(minutes=2)


def new_search(owner, n, slug="silent"):
    review = create_review(title="Silent workers", slug=slug, owner=owner)
    return identification.create_search(
        review=review, actor=owner, file=upload(ris_records(n)), filename="big.ris", source="Embase"
    )


def restarts(search):
    return AuditEvent.objects.filter(action="search.restarted", review=search.review).count()


def dedup_runs(search):
    return AuditEvent.objects.filter(action="dedup.run", target=f"search {search.pk}").count()


def as_if_its_worker_died(search, *, silent_for, status=SearchStatus.RUNNING):
    Search.objects.filter(pk=search.pk).update(
        status=status, heartbeat_at=timezone.now() - silent_for
    )


# ------------------------------------------------------------------ the heartbeat itself


@pytest.mark.django_db
def test_import_beats_with_each_batch_and_stops_beating_when_done(owner):
    search = new_search(owner, 12_000)  # three batches
    beats = []

    def on_batch(_):
        beats.append(Search.objects.values_list("status", "heartbeat_at").get(pk=search.pk))

    identification.run_import(search_id=search.pk, on_batch=on_batch)

    assert [status for status, _ in beats] == [SearchStatus.RUNNING] * 2
    assert beats[0][1] < beats[1][1]
    search.refresh_from_db()
    assert (search.status, search.heartbeat_at) == (SearchStatus.DONE, None)


@pytest.mark.django_db
def test_a_new_attempt_beats_after_removing_the_dead_attempts_records(owner, monkeypatch):
    """Removing many records can take longer than the limit: the beat the claim commits is
    taken after it, or the new attempt would look silent at once and be restarted again."""
    search = new_search(owner, 30)
    identification.run_import(search_id=search.pk)
    Search.objects.filter(pk=search.pk).update(status=SearchStatus.QUEUED)  # restarted
    removed_at = []
    delete = QuerySet.delete

    def timed_delete(queryset):
        result = delete(queryset)
        if queryset.model is Record:
            removed_at.append(timezone.now())
        return result

    monkeypatch.setattr(QuerySet, "delete", timed_delete)

    _, attempt = identification._claim(search.pk)

    search.refresh_from_db()
    assert (attempt, search.status) == (2, SearchStatus.RUNNING)
    assert removed_at and search.heartbeat_at >= removed_at[0]


@pytest.mark.django_db
def test_a_beat_that_waited_for_the_row_never_moves_the_heartbeat_back(owner, monkeypatch):
    """The thread's beat can wait for the row while a batch holds it; the batch commits a
    later beat; the waiting beat (its time taken before the wait) must not undo it."""
    search = new_search(owner, 30)
    identification.run_import(search_id=search.pk)
    batch_beat = timezone.now()
    Search.objects.filter(pk=search.pk).update(status=SearchStatus.RUNNING, heartbeat_at=batch_beat)
    waited = batch_beat - timedelta(seconds=20)
    monkeypatch.setattr(identification.timezone, "now", lambda: waited)

    identification._beat(search.pk, attempt=1)

    assert Search.objects.get(pk=search.pk).heartbeat_at == batch_beat
    Search.objects.filter(pk=search.pk).update(heartbeat_at=None)
    identification._beat(search.pk, attempt=1)
    assert Search.objects.get(pk=search.pk).heartbeat_at == waited


def test_beating_calls_the_beat_from_a_thread_until_the_block_ends():
    beats = []
    with beating(lambda: beats.append(threading.current_thread().name), every=0.05):
        time.sleep(0.5)
    ended = len(beats)
    time.sleep(0.2)
    assert ended >= 3 and set(beats) == {"heartbeat"}
    assert len(beats) == ended


# ------------------------------------------------------------------ the restart pass


@pytest.mark.django_db
def test_silent_running_import_starts_over_once_and_keeps_each_record_once(owner):
    search = new_search(owner, 6_000)
    identification.run_import(search_id=search.pk)  # its records are there, as if half-way
    as_if_its_worker_died(search, silent_for=LIMIT + timedelta(seconds=1))

    # Tasks run eagerly here: the import sent again runs within the call.
    assert identification.restart_stale_imports(LIMIT) == [search.pk]

    search.refresh_from_db()
    assert (search.status, search.attempt, search.records_imported) == (SearchStatus.DONE, 2, 6_000)
    records = Record.objects.filter(search=search)
    assert records.count() == records.values("position").distinct().count() == 6_000
    assert restarts(search) == 1
    assert identification.restart_stale_imports(LIMIT) == []


@pytest.mark.django_db
def test_running_import_that_beat_recently_is_left_alone(owner):
    search = new_search(owner, 30)
    identification.run_import(search_id=search.pk)
    as_if_its_worker_died(search, silent_for=LIMIT - timedelta(seconds=5))

    assert identification.restart_stale_imports(LIMIT) == []

    search.refresh_from_db()
    assert (search.status, search.attempt) == (SearchStatus.RUNNING, 1)
    assert restarts(search) == 0


@pytest.mark.django_db
def test_running_import_without_heartbeat_counts_from_its_start(owner):
    """A search running since before the heartbeat existed (upgrade mid-import)."""
    search = new_search(owner, 30)
    identification.run_import(search_id=search.pk)
    Search.objects.filter(pk=search.pk).update(
        status=SearchStatus.RUNNING, heartbeat_at=None, started_at=timezone.now() - 2 * LIMIT
    )

    assert identification.restart_stale_imports(LIMIT) == [search.pk]
    search.refresh_from_db()
    assert (search.status, search.attempt) == (SearchStatus.DONE, 2)


@pytest.mark.django_db
def test_silent_deduplication_is_sent_again_once(owner):
    search = new_search(owner, 30)
    identification.run_import(search_id=search.pk)  # its deduplication was never sent here
    assert Search.objects.get(pk=search.pk).dedup_pending
    # Never started: left to ``requeue_pending_dedups`` (its task may wait in the queue).
    assert identification.restart_stale_dedups(LIMIT) == []
    as_if_its_worker_died(search, silent_for=LIMIT + timedelta(seconds=1), status=SearchStatus.DONE)

    assert identification.restart_stale_dedups(LIMIT) == [search.pk]

    search.refresh_from_db()
    assert (search.dedup_pending, search.heartbeat_at) == (False, None)
    assert dedup_runs(search) == 1
    assert identification.restart_stale_dedups(LIMIT) == []


@pytest.mark.django_db
def test_deduplication_marks_its_searches_running_until_it_commits(owner, monkeypatch):
    search = new_search(owner, 30)
    identification.run_import(search_id=search.pk)
    seen = []
    run = dedup._run_dedup

    def spy(**kwargs):
        seen.append(Search.objects.values_list("heartbeat_at", flat=True).get(pk=search.pk))
        return run(**kwargs)

    monkeypatch.setattr(dedup, "_run_dedup", spy)
    dedup.run_dedup(review_id=search.review_id, search_id=search.pk)

    assert seen and seen[0] is not None
    assert Search.objects.values_list("heartbeat_at", flat=True).get(pk=search.pk) is None


# ------------------------------------------------------------------ two workers at once


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("task", ["import", "dedup"])
def test_two_passes_at_the_same_moment_restart_a_silent_task_once(task, owner, monkeypatch):
    needs_postgresql()
    search = new_search(owner, 30)  # imported (eagerly, on commit)
    assert Search.objects.get(pk=search.pk).status == SearchStatus.DONE
    status = SearchStatus.RUNNING if task == "import" else SearchStatus.DONE
    as_if_its_worker_died(search, silent_for=LIMIT + timedelta(seconds=1), status=status)
    if task == "dedup":  # its deduplication started (and cleared nothing yet)
        Search.objects.filter(pk=search.pk).update(dedup_requested_at=timezone.now())
    restart = {
        "import": identification.restart_stale_imports,
        "dedup": identification.restart_stale_dedups,
    }[task]
    sent = []
    monkeypatch.setattr(identification, "send_task", lambda *args, **kw: sent.append(args))
    # Both passes read the silent search before either claims it.
    both_read = threading.Barrier(2, timeout=10)
    read = identification._stale_ids

    def read_then_wait(searches):
        ids = read(searches)
        both_read.wait()
        return ids

    monkeypatch.setattr(identification, "_stale_ids", read_then_wait)
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def one_pass():
        try:
            results.append(restart(LIMIT))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    passes = [threading.Thread(target=one_pass) for _ in range(2)]
    for thread in passes:
        thread.start()
    for thread in passes:
        thread.join(30)

    assert not errors, errors
    assert sorted(results) == [[], [search.pk]]
    assert len(sent) == 1
    if task == "import":
        assert Search.objects.get(pk=search.pk).status == SearchStatus.QUEUED
        assert restarts(search) == 1


# ------------------------------------------------------------------ a real worker, killed whole

STALE_SECONDS = 5
SLACK = 10  # seconds a busy test machine may add


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("broker", BROKERS)
def test_worker_killed_whole_mid_import_is_replaced_and_the_import_finishes_once(
    broker, owner, tmp_path, monkeypatch
):
    if broker == "redis":
        needs_service("Redis", "REDIS_URL")
    monkeypatch.setenv("STALE_TASK_SECONDS", str(STALE_SECONDS))  # the workers' setting
    n = 60_000
    with real_worker(broker, tmp_path, own_group=True) as first:
        search = new_search(owner, n)
        wait_for(
            lambda: Search.objects.filter(pk=search.pk, records_imported__gte=n // 4).exists(),
            timeout=120,
            what="a quarter of the import",
            worker=first,
        )
        first.kill_whole()
        killed_at = timezone.now()
        at_kill = Search.objects.get(pk=search.pk)
        assert (at_kill.status, at_kill.attempt) == (SearchStatus.RUNNING, 1)
        assert at_kill.records_imported < n, "the import finished before the kill"
        second = first.replacement()
        second.start()
        try:
            wait_for(lambda: " ready." in second.output(), timeout=60, what="it", worker=second)
            ready_at = timezone.now()
            done = wait_for(
                lambda: Search.objects.filter(pk=search.pk, status=SearchStatus.DONE).first(),
                timeout=240,
                what="the restarted import to finish",
                worker=second,
            )
            log = second.output()
        finally:
            second.stop()
    restarted_after = (done.started_at - killed_at).total_seconds()
    started_in = (ready_at - killed_at).total_seconds()
    print(
        f"\nkilled the whole worker at {at_kill.records_imported} of {n} records; the new "
        f"worker was ready {started_in:.1f} s later and restarted the import "
        f"{restarted_after:.1f} s after the kill; it took "
        f"{(done.finished_at - done.started_at).total_seconds():.1f} s"
    )
    # Restarted once the heartbeat was older than the limit (checked every quarter of it),
    # not before, and not an hour later (the slack is for a busy test machine).
    assert STALE_SECONDS - 2 <= restarted_after <= started_in + STALE_SECONDS * 1.25 + SLACK, log
    assert "restarted 1 imports silent for over 5 s" in log
    assert (done.attempt, done.records_read, done.records_imported) == (2, n, n)
    assert restarts(done) == 1
    records = Record.objects.filter(search=search)
    assert records.count() == records.values("position").distinct().count() == n


@contextmanager
def two_workers(broker, tmp_path):
    """Two workers on one queue, each killable whole, both ready."""
    with real_worker(broker, tmp_path, own_group=True) as one:
        other = one.replacement()
        other.start(own_group=True)
        try:
            for worker in (one, other):
                wait_for(
                    lambda w=worker: " ready." in w.output(), timeout=60, what="it", worker=worker
                )
            yield one, other
        finally:
            other.stop()


def the_one_running(task, workers):
    """The worker that received ``task`` (say ``import_search``), if one has."""
    return next((w for w in workers if f"{task}[" in w.output()), None)


def the_other(worker, workers):
    return workers[1] if worker is workers[0] else workers[0]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("broker", BROKERS)
def test_a_worker_still_running_restarts_the_import_of_one_killed_whole(
    broker, owner, tmp_path, monkeypatch
):
    """Two workers; the one importing dies whole. The other, connected all along (no
    reconnection re-sends anything), restarts the import from its timer."""
    if broker == "redis":
        needs_service("Redis", "REDIS_URL")
    monkeypatch.setenv("STALE_TASK_SECONDS", str(STALE_SECONDS))
    n = 60_000
    with two_workers(broker, tmp_path) as workers:
        search = new_search(owner, n)
        importing = wait_for(
            lambda: the_one_running("import_search", workers),
            timeout=60,
            what="a worker to take the import",
            worker=workers[0],
        )
        wait_for(
            lambda: Search.objects.filter(pk=search.pk, records_imported__gte=n // 4).exists(),
            timeout=120,
            what="a quarter of the import",
            worker=importing,
        )
        importing.kill_whole()
        killed_at = timezone.now()
        at_kill = Search.objects.get(pk=search.pk)
        assert at_kill.status == SearchStatus.RUNNING, "the import finished before the kill"
        survivor = the_other(importing, workers)
        done = wait_for(
            lambda: Search.objects.filter(pk=search.pk, status=SearchStatus.DONE).first(),
            timeout=240,
            what="the restarted import to finish",
            worker=survivor,
        )
        log = survivor.output()
    restarted_after = (done.started_at - killed_at).total_seconds()
    print(
        f"\nkilled the importing worker at {at_kill.records_imported} of {n} records; the "
        f"other restarted the import {restarted_after:.1f} s later"
    )
    assert STALE_SECONDS - 2 <= restarted_after <= STALE_SECONDS * 1.25 + SLACK, log
    assert "restarted 1 imports silent for over 5 s" in log
    assert (done.attempt, done.records_imported) == (2, n)
    assert restarts(done) == 1
    records = Record.objects.filter(search=search)
    assert records.count() == records.values("position").distinct().count() == n


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("broker", BROKERS)
def test_a_worker_still_running_restarts_the_deduplication_of_one_killed_whole(
    broker, owner, tmp_path, monkeypatch
):
    if broker == "redis":
        needs_service("Redis", "REDIS_URL")
    monkeypatch.setenv("STALE_TASK_SECONDS", str(STALE_SECONDS))
    first_export, second_export, planted = overlapping_exports(12_000)
    review = create_review(title="Dedup, worker lost", slug="dedup-lost", owner=owner)
    # The first search is imported and deduplicated here (tasks run eagerly outside the
    # worker block); the second goes through the workers.
    identification.create_search(
        review=review, actor=owner, file=upload(first_export), filename="a.ris", source="Embase"
    )
    with two_workers(broker, tmp_path) as workers:
        search = identification.create_search(
            review=review,
            actor=owner,
            file=upload(second_export),
            filename="b.ris",
            source="MEDLINE",
        )
        deduplicating = wait_for(
            lambda: the_one_running("dedup_search", workers) if review_is_locked(review) else None,
            timeout=120,
            what="the deduplication of the second search to start",
            worker=workers[0],
        )
        time.sleep(1.0)  # into the matching, well before its transaction commits
        deduplicating.kill_whole()
        killed_at = timezone.now()
        assert dedup_runs(search) == 0, "the deduplication finished before the kill"
        survivor = the_other(deduplicating, workers)
        wait_for(
            lambda: dedup_runs(search),
            timeout=180,
            what="the restarted deduplication to finish",
            worker=survivor,
        )
        finished_at = timezone.now()
        time.sleep(STALE_SECONDS * 1.5)  # time enough for a second restart, if any
        log = survivor.output()
    print(
        f"\nkilled the worker deduplicating; the other finished it "
        f"{(finished_at - killed_at).total_seconds():.1f} s later"
    )
    assert "restarted the deduplications of 1 searches silent for over 5 s" in log
    assert dedup_runs(search) == 1
    search.refresh_from_db()
    assert (search.dedup_pending, search.heartbeat_at) == (False, None)
    assert Record.objects.filter(review=review, duplicate_of__isnull=False).count() == planted
    assert_clusters_consistent(review)
