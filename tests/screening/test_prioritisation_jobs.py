"""The background jobs of prioritisation: a crashed retrain is recorded and retried, and
the document-term matrix is built when an import finishes."""

from __future__ import annotations

from typing import Any

import pytest

from screening import tasks
from screening.models import RankingRun, RankingStatus, Record
from screening.services import early_stop, identification, prioritisation
from tests.screening.factories import upload
from tests.screening.screening_fixtures import vote
from tests.screening.test_prioritisation_service import TA, relevance_on, topical_ris


def _import(review: Any, owner: Any, n_relevant: int = 6, n_other: int = 24) -> list[Record]:
    search = identification.create_search(
        review=review,
        actor=owner,
        file=upload(topical_ris(n_relevant, n_other), "topic.ris"),
        filename="topic.ris",
        source="PubMed",
    )
    identification.run_import(search_id=search.pk)
    return list(Record.objects.filter(search=search).order_by("position"))


def test_a_crashed_retrain_is_recorded_as_failed_with_its_message(
    review, owner, reviewer, monkeypatch
):
    records = _import(review, owner)
    relevance_on(review, owner)
    vote(review, records[0], reviewer, "include")
    vote(review, records[10], reviewer, "exclude")

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError("no room for the matrix")

    monkeypatch.setattr(prioritisation.model, "score_records", crash)
    with pytest.raises(MemoryError):
        prioritisation.retrain_ranking(review_id=review.pk, stage=TA)
    run = RankingRun.objects.get(review=review, stage=TA)
    assert run.status == RankingStatus.FAILED
    assert run.message == (
        "The last retrain failed (MemoryError: no room for the matrix); it is retried a few "
        "times, and the last ranking (or the random order) is used meanwhile."
    )


def test_the_retrain_task_retries_three_times_then_stays_failed(
    review, owner, reviewer, monkeypatch
):
    records = _import(review, owner)
    relevance_on(review, owner)
    vote(review, records[0], reviewer, "include")
    vote(review, records[10], reviewer, "exclude")
    calls: list[int] = []
    real = prioritisation._retrain

    def flaky(**kwargs: Any) -> Any:
        calls.append(1)
        raise RuntimeError("database went away")

    monkeypatch.setattr(prioritisation, "_retrain", flaky)
    # As a worker would: keep each failure in the result, so the retries run (eagerly).
    monkeypatch.setitem(tasks.retrain_ranking.app.conf, "task_eager_propagates", False)
    result = tasks.retrain_ranking.apply(args=(review.pk, TA))
    assert result.failed()
    assert len(calls) == 1 + tasks.retrain_ranking.max_retries == 4
    assert RankingRun.objects.get(review=review, stage=TA).status == RankingStatus.FAILED
    # Mended, the next run succeeds and the failure is gone.
    monkeypatch.setattr(prioritisation, "_retrain", real)
    assert tasks.retrain_ranking.apply(args=(review.pk, TA)).get() == RankingStatus.DONE


def test_a_failed_run_is_queued_again_after_enough_new_votes(review, owner, reviewer):
    records = _import(review, owner)
    relevance_on(review, owner)
    RankingRun.objects.update_or_create(
        review=review, stage=TA, defaults={"status": RankingStatus.FAILED, "decisions": 0}
    )
    assert not prioritisation.request_retrain(review=review, stage=TA)
    for r in records[10 : 10 + prioritisation.RETRAIN_EVERY]:
        vote(review, r, reviewer, "exclude")
    run = RankingRun.objects.get(review=review, stage=TA)
    assert run.status == RankingStatus.QUEUED


def test_the_matrix_is_built_when_an_import_finishes(
    review, owner, django_capture_on_commit_callbacks, monkeypatch, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    relevance_on(review, owner)
    built: list[int] = []
    real = prioritisation.build_document_matrix

    def spy(*, review_id: int) -> int:
        rows = real(review_id=review_id)
        built.append(rows)
        return rows

    monkeypatch.setattr(prioritisation, "build_document_matrix", spy)
    prioritisation._MATRICES.clear()
    with django_capture_on_commit_callbacks(execute=True):
        _import(review, owner)
    assert built == [30]
    assert prioritisation._cache_path(review.pk).exists()
    # The first retrain finds it: no rebuild (the features module is not called).
    monkeypatch.setattr(
        prioritisation.features,
        "build_matrix",
        lambda texts: pytest.fail("the matrix was built again at the first retrain"),
    )
    ids, matrix = prioritisation.document_matrix(review)
    assert matrix.shape[0] == len(ids) == 30


def test_no_matrix_is_built_for_a_review_in_random_order(
    review, owner, django_capture_on_commit_callbacks, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    with django_capture_on_commit_callbacks(execute=True):
        _import(review, owner)
    assert prioritisation.build_document_matrix(review_id=review.pk) == 0
    assert not prioritisation._cache_path(review.pk).exists()


def test_undo_stop_early_brings_the_records_back(review, owner, reviewer):
    from screening.models import Outcome, OutcomeKind, StoppingDecision
    from screening.services.screening.assignment import next_record

    records = _import(review, owner)
    relevance_on(review, owner)  # one reviewer per record: each vote settles it
    for r in records[:6]:
        vote(review, r, reviewer, "include")
    for r in records[6:16]:
        vote(review, r, reviewer, "exclude")
    early_stop.stop_screening_early(review=review, stage=TA, actor=owner, method="knee")
    assert next_record(review=review, stage=TA, reviewer=reviewer) is None
    back = early_stop.undo_stop_early(review=review, stage=TA, actor=owner)
    assert back == 14
    assert not Outcome.objects.filter(review=review, kind=OutcomeKind.AUTOMATION).exists()
    assert not StoppingDecision.objects.filter(review=review).exists()
    assert next_record(review=review, stage=TA, reviewer=reviewer).pk in {
        r.pk for r in records[16:]
    }
    report = early_stop.stopping_report(review, TA)
    assert (report.stopped, report.unscreened, report.screened) == (None, 14, 16)
    with pytest.raises(Exception) as err:
        early_stop.undo_stop_early(review=review, stage=TA, actor=owner)
    assert err.value.message == ("Screening at this stage was not stopped early: nothing to undo.")
