"""Prioritisation with the database: retraining, the order of records, coalesced tasks,
stopping early and PRISMA's automation box."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from reviewflow.errors import ReviewflowError
from screening.models import (
    Outcome,
    OutcomeKind,
    RankingRun,
    RankingStatus,
    Record,
    RelevanceScore,
    StoppingDecision,
)
from screening.selectors.screening import SHUFFLE, eligible_records
from screening.services import early_stop, identification, prioritisation
from screening.services.prisma import prisma_counts
from screening.services.screening.assignment import next_record
from screening.services.screening.stage_settings import update_stage_settings
from tests.screening.factories import upload
from tests.screening.screening_fixtures import vote

TA = "title-abstract"
TOPIC = "Mesenchymal stem cell infusion lowers HbA1c in type 2 diabetes"
OFF_TOPIC = [
    "Traffic noise and sleep quality in cities",
    "Soil microbes after boreal wildfires",
    "Homework attitudes of secondary school teachers",
    "Hip fracture risk and coffee drinking",
]


def topical_ris(n_relevant: int, n_other: int) -> str:
    lines: list[str] = []
    for i in range(n_relevant + n_other):
        relevant = i < n_relevant
        title = f"{TOPIC} study {i}" if relevant else f"{OFF_TOPIC[i % 4]} report {i}"
        abstract = (
            "Mesenchymal stromal cells were infused in diabetic patients; glycaemic control."
            if relevant
            else "An observational survey of everyday life in several European countries."
        )
        lines += [
            "TY  - JOUR",
            f"TI  - {title}",
            f"AU  - Author{i}, A",
            f"PY  - {2000 + i % 20}",
            f"DO  - 10.5555/prio.{i}",
            f"AB  - {abstract}",
            "ER  - ",
            "",
        ]
    return "\n".join(lines)


@pytest.fixture
def topical(review: Any, owner: Any) -> tuple[list[Record], list[Record]]:
    search = identification.create_search(
        review=review,
        actor=owner,
        file=upload(topical_ris(6, 24), "topic.ris"),
        filename="topic.ris",
        source="PubMed",
    )
    identification.run_import(search_id=search.pk)
    records = list(Record.objects.filter(search=search).order_by("position"))
    assert Record.objects.filter(review=review, duplicate_of__isnull=False).count() == 0
    return records[:6], records[6:]


def relevance_on(review: Any, owner: Any, reviewers_needed: int = 1) -> None:
    update_stage_settings(
        review=review,
        stage=TA,
        actor=owner,
        order="relevance",
        reviewers_needed=reviewers_needed,
    )


def test_retrain_scores_the_relevant_records_highest(review, owner, reviewer, topical):
    relevant, other = topical
    relevance_on(review, owner)
    vote(review, relevant[0], reviewer, "include")
    vote(review, other[0], reviewer, "exclude")
    run = prioritisation.retrain_ranking(review_id=review.pk, stage=TA)
    assert (run.status, run.n_included, run.n_excluded) == (RankingStatus.DONE, 1, 1)
    scores = dict(
        RelevanceScore.objects.filter(review=review, stage=TA).values_list("record_id", "score")
    )
    assert set(scores) == {r.pk for r in relevant[1:] + other[1:]}  # only unscreened ones
    top = sorted(scores, key=scores.__getitem__, reverse=True)[:5]
    assert set(top) == {r.pk for r in relevant[1:]}


def test_retrain_run_twice_keeps_one_score_per_record(review, owner, reviewer, topical):
    relevant, other = topical
    relevance_on(review, owner)
    vote(review, relevant[0], reviewer, "include")
    vote(review, other[0], reviewer, "exclude")
    prioritisation.retrain_ranking(review_id=review.pk, stage=TA)
    prioritisation.retrain_ranking(review_id=review.pk, stage=TA)
    assert RelevanceScore.objects.filter(review=review, stage=TA).count() == 28


def test_no_include_yet_keeps_the_order_random_and_says_why(review, owner, reviewer, topical):
    _, other = topical
    relevance_on(review, owner)
    vote(review, other[0], reviewer, "exclude")
    run = prioritisation.retrain_ranking(review_id=review.pk, stage=TA)
    assert run.status == RankingStatus.WAITING
    assert run.message == (
        "Prioritisation starts after at least one include and one exclude (so far: 0 "
        "included, 1 excluded); until then the order stays random."
    )
    assert not RelevanceScore.objects.filter(review=review).exists()


def test_training_labels_prefer_outcomes_and_skip_automation(
    review, owner, reviewer, reviewer2, topical
):
    relevant, other = topical
    update_stage_settings(review=review, stage=TA, actor=owner, reviewers_needed=2)
    vote(review, relevant[0], reviewer, "maybe")  # one vote so far: counts as relevant
    vote(review, other[0], reviewer, "exclude")
    vote(review, other[0], reviewer2, "exclude")  # settled: excluded
    vote(review, other[1], reviewer, "include")
    vote(review, other[1], reviewer2, "exclude")  # conflict: any include counts
    assert prioritisation.training_labels(review, TA) == {
        relevant[0].pk: 1,
        other[0].pk: 0,
        other[1].pk: 1,
    }


def test_votes_queue_a_retrain_every_few_votes_and_coalesce(
    review, owner, reviewer, topical, django_capture_on_commit_callbacks
):
    relevant, other = topical
    relevance_on(review, owner)
    # First vote: nothing to learn yet, but a run is queued to find that out.
    with django_capture_on_commit_callbacks(execute=False) as queued:
        vote(review, relevant[0], reviewer, "include")
        # A burst of votes while one retrain is queued queues nothing more.
        for record in other[:3]:
            vote(review, record, reviewer, "exclude")
    assert len(queued) == 1
    assert RankingRun.objects.get(review=review, stage=TA).status == RankingStatus.QUEUED
    # The queued task runs (eagerly here) and trains on the four decisions.
    with django_capture_on_commit_callbacks(execute=True):
        queued[0]()
    run = RankingRun.objects.get(review=review, stage=TA)
    assert (run.status, run.decisions) == (RankingStatus.DONE, 4)
    # Fewer than RETRAIN_EVERY new votes: no retrain; the fifth one queues it.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        for record in other[3 : 3 + prioritisation.RETRAIN_EVERY]:
            vote(review, record, reviewer, "exclude")
    assert len(callbacks) == 1
    run.refresh_from_db()
    assert (run.status, run.decisions) == (RankingStatus.DONE, 4 + prioritisation.RETRAIN_EVERY)


def test_random_order_never_queues_a_retrain(
    review, reviewer, topical, django_capture_on_commit_callbacks
):
    relevant, _ = topical
    with django_capture_on_commit_callbacks(execute=False) as queued:
        vote(review, relevant[0], reviewer, "include")
    assert queued == []
    assert not RankingRun.objects.filter(review=review).exists()


def test_stopping_report_reads_the_settled_decisions_in_order(review, owner, reviewer, topical):
    relevant, other = topical
    relevance_on(review, owner)
    for r in relevant[:2] + other[:3]:
        vote(review, r, reviewer, "include" if r in relevant else "exclude")
    report = early_stop.stopping_report(review, TA)
    assert (report.total, report.screened, report.included) == (30, 5, 2)
    assert report.since_last_include == 3
    assert report.curve[-1] == (5, 2)
    assert [(r.key, r.kind) for r in report.rules] == [
        ("hypergeometric", "guarantee"),
        ("two_phase", "guarantee"),
        ("consecutive", "heuristic"),
        ("knee", "heuristic"),
    ]
    assert report.unscreened == 25


def test_stop_early_excludes_the_unscreened_records_and_prisma_counts_them(
    review, owner, reviewer, reviewer2, topical
):
    relevant, other = topical
    update_stage_settings(review=review, stage=TA, actor=owner, reviewers_needed=2)
    for r in relevant:
        vote(review, r, reviewer, "include")
        vote(review, r, reviewer2, "include")
    for r in other[:10]:
        vote(review, r, reviewer, "exclude")
        vote(review, r, reviewer2, "exclude")
    vote(review, other[10], reviewer, "exclude")  # half-screened: left for the team
    before = prisma_counts(review)
    decision = early_stop.stop_screening_early(
        review=review, stage=TA, actor=owner, method="consecutive"
    )
    assert (decision.records_screened, decision.records_excluded) == (16, 13)
    assert decision.kind == "heuristic"
    automated = Outcome.objects.filter(review=review, stage=TA, kind=OutcomeKind.AUTOMATION)
    assert automated.count() == 13
    assert not automated.filter(record=other[10]).exists()
    assert automated.first().reason == "Stopped early (heuristic): 50 irrelevant in a row"
    counts = prisma_counts(review)
    assert counts.excluded_automatic == before.excluded_automatic + 13
    assert counts.records_screened == before.records_screened - 13 == 17
    assert counts.records_excluded == before.records_excluded == 10
    assert counts.database_results == before.database_results == 30
    # PRISMA's arithmetic still holds.
    assert counts.records_screened == (
        counts.database_results
        + counts.register_results
        - counts.duplicates
        - counts.excluded_automatic
        - counts.excluded_other
    )
    # Nobody is offered an excluded record; a vote on one is refused.
    assert next_record(review=review, stage=TA, reviewer=reviewer2).pk == other[10].pk
    with pytest.raises(ReviewflowError):
        vote(review, other[11], reviewer, "include")
    assert StoppingDecision.objects.get(review=review).method == "consecutive"


def test_stop_early_refuses_unknown_methods(review, owner, topical):
    # Full text may be stopped too: tests/screening/test_prioritisation_full_text.py.
    with pytest.raises(ReviewflowError) as err:
        early_stop.stop_screening_early(review=review, stage=TA, actor=owner, method="gut")
    assert err.value.message == (
        "Unknown stopping method “gut”: use hypergeometric, two_phase, consecutive, knee."
    )
    assert not Outcome.objects.filter(kind=OutcomeKind.AUTOMATION).exists()


def test_matrix_is_rebuilt_when_records_change(review, owner, topical, settings):
    ids, matrix = prioritisation.document_matrix(review)
    assert matrix.shape[0] == len(ids) == 30
    prioritisation._MATRICES.clear()  # a new worker process: read back from the file
    again_ids, again = prioritisation.document_matrix(review)
    assert (again != matrix).nnz == 0 and list(again_ids) == list(ids)
    Record.objects.filter(pk=topical[1][-1].pk).update(
        duplicate_of=topical[1][0], merge_kind="auto"
    )
    ids2, matrix2 = prioritisation.document_matrix(review)
    assert matrix2.shape[0] == len(ids2) == 29


def test_a_worker_keeps_matrices_within_its_memory_budget(monkeypatch):
    from scipy import sparse

    monkeypatch.setattr(prioritisation, "_MATRICES", {})
    dense = sparse.csr_matrix(np.ones((100, 100), dtype=np.float32))  # 80,404 bytes
    monkeypatch.setattr(prioritisation, "_MATRICES_BYTES", 200_000)
    for review_id in (1, 2, 3):
        prioritisation._remember(review_id, ("key", np.arange(100), dense))
    assert list(prioritisation._MATRICES) == [2, 3]  # the oldest went over the budget
    monkeypatch.setattr(prioritisation, "_MATRICES_BYTES", 1)
    prioritisation._remember(4, ("key", np.arange(100), dense))
    assert list(prioritisation._MATRICES) == [4]  # the latest is kept, whatever its size


def test_next_record_offers_the_most_relevant_first_after_a_retrain(
    review, owner, reviewer, reviewer2, topical
):
    relevant, other = topical
    relevance_on(review, owner)
    vote(review, relevant[0], reviewer, "include")
    vote(review, other[0], reviewer, "exclude")
    prioritisation.retrain_ranking(review_id=review.pk, stage=TA)
    offered = []
    for _ in range(5):
        record = next_record(review=review, stage=TA, reviewer=reviewer2)
        offered.append(record.pk)
        vote(review, record, reviewer2, "include")
    assert set(offered) == {r.pk for r in relevant[1:]}


def test_random_order_ignores_the_scores(review, owner, reviewer, reviewer2, topical):
    relevant, other = topical
    relevance_on(review, owner)
    vote(review, relevant[0], reviewer, "include")
    vote(review, other[0], reviewer, "exclude")
    prioritisation.retrain_ranking(review_id=review.pk, stage=TA)
    update_stage_settings(review=review, stage=TA, actor=owner, order="random")
    first = next_record(review=review, stage=TA, reviewer=reviewer2)
    shuffled = (
        eligible_records(review, TA)
        .exclude(pk__in=[relevant[0].pk, other[0].pk])
        .order_by(SHUFFLE, "id")
        .first()
    )
    assert first.pk == shuffled.pk


def test_screening_page_shows_scores_only_when_owners_turn_them_on(
    client_for, review, owner, reviewer, reviewer2, topical
):
    from django.urls import reverse

    relevant, other = topical
    relevance_on(review, owner)
    url = reverse("screen", args=[review.slug, TA])
    html = client_for(reviewer).get(url).content.decode()
    assert "Records come in random order until the model can start" in html
    vote(review, relevant[0], reviewer, "include")
    vote(review, other[0], reviewer, "exclude")
    prioritisation.retrain_ranking(review_id=review.pk, stage=TA)
    html = client_for(reviewer2).get(url).content.decode()
    assert "data-order-note" not in html
    assert "data-relevance" not in html  # off by default: a score can anchor a reviewer
    update_stage_settings(review=review, stage=TA, actor=owner, show_scores=True)
    html = client_for(reviewer2).get(url).content.decode()
    assert "Relevance score 0." in html


def test_switching_to_relevance_on_the_settings_page_queues_a_retrain(
    client_for, review, owner, reviewer, topical, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    relevant, other = topical
    vote(review, relevant[0], reviewer, "include")
    vote(review, other[0], reviewer, "exclude")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(owner).post(
            reverse("stage-settings", args=[review.slug, TA]),
            {
                "reviewers_needed": "2",
                "blind": "on",
                "adjudicators": "owners",
                "order": "relevance",
            },
        )
    assert response.status_code == 302
    run = RankingRun.objects.get(review=review, stage=TA)
    assert (run.status, run.n_included, run.n_excluded) == (RankingStatus.DONE, 1, 1)
    assert RelevanceScore.objects.filter(review=review, stage=TA).count() == 28
