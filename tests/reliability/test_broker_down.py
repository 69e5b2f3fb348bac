"""The broker down, hung or restarted around an upload: the search is saved and queued, the
user is told, nobody gets a 500 or waits long, and the worker sends the import (and the
deduplication that follows it) when it connects again."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from reviewflow.celery import app as celery_app
from reviewflow.reviews.models import AuditEvent
from screening.models import Record, Search, SearchStatus
from screening.services import dedup, identification
from tests.reliability.helpers import RedisServer, free_port, needs_redis_server
from tests.screening.factories import ris_records, upload
from tests.worker import _reset_connections, real_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)  # tasks are sent on commit

# A request may wait this long for a broker that is down or hung (two tries of two seconds).
MAX_SECONDS = 6.0


@contextmanager
def producer_on(url: str, queue: str | None = None) -> Iterator[str]:
    """Send this process's tasks to the Redis at ``url`` (not eagerly), with the
    production transport options; no worker takes them."""
    queue = queue or f"test-{uuid.uuid4().hex[:10]}"
    keys = ("broker_url", "broker_transport_options", "task_always_eager", "task_default_queue")
    saved = {k: celery_app.conf[k] for k in keys}
    celery_app.conf.update(
        broker_url=url,
        broker_transport_options=dict(settings.REDIS_TRANSPORT_OPTIONS),
        task_always_eager=False,
        task_default_queue=queue,
    )
    _reset_connections()
    try:
        yield queue
    finally:
        celery_app.conf.update(**saved)
        _reset_connections()


@contextmanager
def hung_broker() -> Iterator[str]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield f"redis://127.0.0.1:{s.getsockname()[1]}/0"


def dedup_runs(search: Search) -> int:
    return AuditEvent.objects.filter(action="dedup.run", target=f"search {search.pk}").count()


def upload_by_page(client_for, review, owner, name: str):  # type: ignore[no-untyped-def]
    return client_for(owner).post(
        reverse("review-searches", args=[review.slug]),
        {
            "file": SimpleUploadedFile(name, ris_records(5, prefix=f"Page {name}").encode()),
            "source": "PubMed",
            "source_type": "database",
            "format": "auto",
        },
        follow=True,
    )


def upload_by_api(review, owner, name: str):  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_authenticate(owner)
    return client.post(
        f"/api/v1/reviews/{review.slug}/searches/",
        {"file": upload(ris_records(7, prefix=f"API {name}"), name), "source": "Embase"},
        format="multipart",
    )


def test_upload_while_the_broker_is_refused_is_saved_queued_and_says_so(
    review, owner, client_for, tmp_path
):
    export = tmp_path / "cli.ris"
    export.write_text(ris_records(2))
    with producer_on(f"redis://127.0.0.1:{free_port()}/0"):  # nothing listens there
        page = upload_by_page(client_for, review, owner, "page.ris")
        api = upload_by_api(review, owner, "api.ris")
        out, err = StringIO(), StringIO()
        call_command("importcitations", review.slug, str(export), stdout=out, stderr=err)
    assert page.status_code == 200
    assert page.redirect_chain[-1][0].startswith(f"/r/{review.slug}/searches/")
    assert f"page.ris: {identification.IMPORT_DEFERRED}" in page.content.decode()
    assert api.status_code == 202
    body = api.json()
    assert (body["status"], body["task_sent"], body["message"]) == (
        "queued",
        False,
        identification.IMPORT_DEFERRED,
    )
    search = Search.objects.get(pk=body["id"])
    assert err.getvalue().strip().endswith(identification.IMPORT_DEFERRED)
    assert "saved as search" in err.getvalue()
    assert Search.objects.filter(status=SearchStatus.QUEUED).count() == 3
    assert search.records_imported == 0 and not Record.objects.exists()


def test_upload_answers_within_seconds_when_the_broker_hangs(review, owner):
    with hung_broker() as url, producer_on(url):
        started = time.monotonic()
        response = upload_by_api(review, owner, "hung.ris")
        seconds = time.monotonic() - started
    print(f"\nAPI upload with a hung broker answered {response.status_code} in {seconds:.1f} s")
    assert response.status_code == 202
    assert response.json()["task_sent"] is False
    assert seconds < MAX_SECONDS
    assert Search.objects.get().status == SearchStatus.QUEUED


@pytest.mark.worker
def test_uploads_while_redis_is_down_are_imported_once_when_it_returns(
    review, owner, client_for, tmp_path, monkeypatch
):
    needs_redis_server()
    redis = RedisServer(tmp_path)
    redis.start()
    monkeypatch.setenv("REDIS_URL", redis.url)
    try:
        with real_worker("redis", tmp_path) as worker:
            wait_for(
                lambda: " ready." in worker.output(), timeout=60, what="the worker", worker=worker
            )
            redis.kill()
            started = time.monotonic()
            page = upload_by_page(client_for, review, owner, "page.ris")
            page_seconds = time.monotonic() - started
            started = time.monotonic()
            api = upload_by_api(review, owner, "api.ris")
            api_seconds = time.monotonic() - started
            assert page.status_code == 200, page.content[:500]
            assert f"page.ris: {identification.IMPORT_DEFERRED}" in page.content.decode()
            assert api.status_code == 202, api.content[:500]
            assert api.json()["task_sent"] is False
            searches = list(Search.objects.filter(review=review).order_by("pk"))
            assert [s.status for s in searches] == [SearchStatus.QUEUED] * 2
            time.sleep(2)  # down for a while: the worker is retrying its connection
            redis.start()  # same port: the worker reconnects and sends the imports
            wait_for(
                lambda: all(
                    s.status == SearchStatus.DONE and not s.dedup_pending
                    for s in Search.objects.filter(review=review)
                ),
                timeout=120,
                what="both imports and their deduplications to finish",
                worker=worker,
            )
            log = worker.output()
    finally:
        redis.stop()
    print(
        f"\nuploads with Redis down answered in {page_seconds:.1f} s (page) and "
        f"{api_seconds:.1f} s (API); imported after it came back"
    )
    assert page_seconds < MAX_SECONDS and api_seconds < MAX_SECONDS
    assert "re-sent the imports of 2 queued searches" in log
    for search, n in zip(searches, (5, 7), strict=True):
        search.refresh_from_db()
        assert (search.status, search.records_imported, search.attempt) == (
            SearchStatus.DONE,
            n,
            1,
        ), search.failure
        records = Record.objects.filter(search=search)
        assert records.count() == records.values("position").distinct().count() == n
        assert dedup_runs(search) == 1


@pytest.mark.worker
def test_deduplication_lost_in_a_redis_restart_is_sent_again_and_runs_once(
    review, owner, client_for, tmp_path, monkeypatch
):
    needs_redis_server()
    # The first search is imported and deduplicated here (tasks run eagerly); the second
    # repeats its records, so its deduplication has five records to merge.
    first = identification.create_search(
        review=review, actor=owner, file=upload(ris_records(5)), filename="a.ris", source="A"
    )
    redis = RedisServer(tmp_path)
    redis.start()
    monkeypatch.setenv("REDIS_URL", redis.url)
    try:
        with producer_on(redis.url) as queue:
            second = identification.create_search(
                review=review,
                actor=owner,
                # The same records in another file (#19 refuses the same file twice).
                file=upload(ris_records(5).replace("\n", "\r\n")),
                filename="b.ris",
                source="B",
            )
            # As a worker would: import it; the deduplication is sent on commit.
            identification.run_import(search_id=second.pk)
            # The import's message (taken here), the dedup and the document matrix's build.
            assert redis.llen(queue) == 3
        second.refresh_from_db()
        assert (second.status, second.dedup_pending, dedup_runs(second)) == (
            SearchStatus.DONE,
            True,
            0,
        )
        page = client_for(owner).get(reverse("search-detail", args=[review.slug, second.pk]))
        assert 'data-dedup="pending"' in page.content.decode()
        redis.kill()  # the deduplication's message is gone with it
        redis.start()
        assert redis.llen(queue) == 0
        with real_worker("redis", tmp_path) as worker:
            wait_for(
                lambda: not Search.objects.get(pk=second.pk).dedup_pending,
                timeout=120,
                what="the deduplication sent again to run",
                worker=worker,
            )
            log = worker.output()
    finally:
        redis.stop()
    assert f"re-sent the deduplications of 1 imported searches: [{second.pk}]" in log
    assert (dedup_runs(first), dedup_runs(second)) == (1, 1)
    merged = Record.objects.filter(search=second, duplicate_of__isnull=False)
    assert merged.count() == 5
    page = client_for(owner).get(reverse("search-detail", args=[review.slug, second.pk]))
    assert 'data-dedup="pending"' not in page.content.decode()
    # A copy of the task that was not lost after all finds nothing left to do.
    again = dedup.run_dedup(review_id=review.pk, search_id=second.pk, only_if_pending=True)
    assert again.skipped and dedup_runs(second) == 1


def test_a_full_deduplication_clears_every_pending_mark(review, owner):
    searches = [
        identification.create_search(
            review=review,
            actor=owner,
            file=upload(ris_records(3, start=1 + 10 * k)),  # #19: one export counts once
            filename=f"{k}.ris",
            source="X",
        )
        for k in range(2)
    ]
    Search.objects.filter(pk__in=[s.pk for s in searches]).update(
        dedup_requested_at="2026-01-01T00:00:00Z"
    )
    # Sent again (run eagerly here), each runs and clears its mark.
    assert identification.requeue_pending_dedups() == [s.pk for s in searches]
    assert [dedup_runs(s) for s in searches] == [2, 2]
    assert not Search.objects.filter(dedup_requested_at__isnull=False).exists()
    Search.objects.filter(pk__in=[s.pk for s in searches]).update(
        dedup_requested_at="2026-01-01T00:00:00Z"
    )
    dedup.run_dedup(review_id=review.pk)
    assert not Search.objects.filter(dedup_requested_at__isnull=False).exists()
    skipped = dedup.run_dedup(review_id=review.pk, search_id=searches[0].pk, only_if_pending=True)
    assert skipped.skipped


@pytest.mark.worker
def test_an_import_the_web_process_could_not_send_is_sent_by_the_workers_periodic_pass(
    review, owner, tmp_path, monkeypatch
):
    # The worker stays connected (no reconnection would send it); only the web process
    # failed to reach the broker.
    monkeypatch.setenv("REQUEUE_INTERVAL_SECONDS", "1")
    broker = "redis" if settings.REDIS_URL else "filesystem"
    with real_worker(broker, tmp_path) as worker:
        wait_for(lambda: " ready." in worker.output(), timeout=60, what="the worker", worker=worker)
        monkeypatch.setattr(identification, "send_task", lambda *args, **kwargs: False)
        search = identification.create_search(
            review=review,
            actor=owner,
            file=upload(ris_records(6)),
            filename="late.ris",
            source="Embase",
        )
        assert Search.objects.get(pk=search.pk).status == SearchStatus.QUEUED
        wait_for(
            lambda: Search.objects.get(pk=search.pk).status == SearchStatus.DONE,
            timeout=90,
            what="the periodic pass to send the import",
            worker=worker,
        )
        log = worker.output()
    assert "re-sent the imports of 1 queued searches" in log
    search.refresh_from_db()
    assert (search.records_imported, search.attempt) == (6, 1)
    assert Record.objects.filter(search=search).count() == 6
