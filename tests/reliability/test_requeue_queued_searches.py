"""Imports whose task the broker lost (Redis restarted with them in its queue) are sent
again, and a task sent again never disturbs an import that is already running."""

from __future__ import annotations

import itertools

import pytest

from reviewflow.reviews.services import create_review
from screening.models import Record, Search, SearchStatus
from screening.services import identification
from tests.screening.factories import ris_records, upload

# Not a transaction test: the import task queued on commit is never sent, as if the broker
# had lost it; tasks sent again run eagerly.
pytestmark = pytest.mark.django_db


FILES = itertools.count()


def queued_search(review, owner, name):
    return identification.create_search(
        review=review,
        actor=owner,
        # Records of their own (#19: the same records from one source count once).
        file=upload(ris_records(30, start=1 + 100 * next(FILES))),
        filename=name,
        source="Embase",
    )


def test_requeue_imports_searches_whose_task_was_lost(owner):
    review = create_review(title="Lost tasks", slug="lost-tasks", owner=owner)
    lost = [queued_search(review, owner, f"s{k}.ris") for k in range(2)]
    assert Search.objects.filter(status=SearchStatus.QUEUED).count() == 2

    assert identification.requeue_queued_searches() == [s.pk for s in lost]

    for search in lost:
        search.refresh_from_db()
        assert (search.status, search.records_imported, search.attempt) == (
            SearchStatus.DONE,
            30,
            1,
        )
    assert identification.requeue_queued_searches() == []


def test_task_sent_again_leaves_a_running_import_alone(owner):
    review = create_review(title="Running", slug="running", owner=owner)
    search = queued_search(review, owner, "big.ris")
    identification.run_import(search_id=search.pk, on_batch=None)  # imported once
    Search.objects.filter(pk=search.pk).update(status=SearchStatus.RUNNING)  # as if mid-run

    identification.run_import(search_id=search.pk, only_if_queued=True)

    search.refresh_from_db()
    assert (search.status, search.attempt) == (SearchStatus.RUNNING, 1)
    assert Record.objects.filter(search=search).count() == 30  # nothing was deleted
    # A redelivery of the original task (not ``only_if_queued``) does take it over.
    identification.run_import(search_id=search.pk)
    search.refresh_from_db()
    assert (search.status, search.attempt, search.records_imported) == (SearchStatus.DONE, 2, 30)
