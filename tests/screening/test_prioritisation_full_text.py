"""Stopping early at full text (#24): the unread reports are excluded by automation tool,
PRISMA counts them among the reports assessed and excluded under a reason that says they
were not assessed (so the boxes add up), the records list and exports say "by automation",
and undo brings them back. Also the API of the two-phase sample and of undo."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import AuditEvent
from screening.models import Outcome, OutcomeKind, Record, StageOrder, StoppingDecision
from screening.prioritisation import stopping
from screening.prisma import check, in_progress
from screening.prisma.csvtemplate import to_csv
from screening.selectors.identification import records_for_export
from screening.selectors.records import stage_columns
from screening.services import early_stop, identification, prioritisation
from screening.services.fulltext import mark_not_retrieved
from screening.services.prisma import prisma_counts
from screening.services.screening.assignment import next_record
from screening.services.screening.stage_settings import update_stage_settings
from tests.screening.factories import ris_records, upload
from tests.screening.screening_fixtures import import_records, vote

TA, FT = "title-abstract", "full-text"
HEURISTIC_REASON = (
    "Not assessed: screening stopped early by Knee of the recall curve "
    "(a heuristic: no guaranteed recall)"
)


def api_for(user: Any) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


@pytest.fixture
def at_full_text(review, owner, reviewer, reviewer2) -> dict[str, Any]:
    """14 records from PubMed: 4 excluded at title/abstract, 10 passed. At full text (two
    reviewers each): 1 report not retrieved, 2 excluded, 2 included, 1 with one vote of
    two. A record from citation searching goes straight to full text, untouched."""
    update_stage_settings(review=review, stage=TA, actor=owner, reviewers_needed=1)
    update_stage_settings(review=review, stage=FT, actor=owner, reviewers_needed=2)
    records = import_records(review, owner, 14)
    for r in records[:4]:
        vote(review, r, reviewer, "exclude")
    passed = records[4:]
    for r in passed:
        vote(review, r, reviewer, "include")
    mark_not_retrieved(review=review, record=passed[0], actor=owner)
    for r, reason in ((passed[1], "Wrong population"), (passed[2], "Wrong outcome")):
        vote(review, r, reviewer, "exclude", FT, reason)
        vote(review, r, reviewer2, "exclude", FT, reason)
    for r in passed[3:5]:
        vote(review, r, reviewer, "include", FT)
        vote(review, r, reviewer2, "include", FT)
    vote(review, passed[5], reviewer, "include", FT)  # half-assessed: left for the team
    search = identification.create_search(
        review=review,
        actor=owner,
        file=upload(ris_records(1, start=80, prefix="Cited study"), "cited.ris"),
        filename="cited.ris",
        source="Citation searching",
        source_type="other",
        other_method="citation",
    )
    identification.run_import(search_id=search.pk)
    cited = Record.objects.get(search=search)
    return {"passed": passed, "untouched": passed[6:], "cited": cited}


def test_stop_at_full_text_excludes_the_unread_reports_and_prisma_adds_up(
    review, owner, reviewer2, at_full_text
):
    before = prisma_counts(review)
    assert (before.dbr_sought_reports, before.dbr_notretrieved_reports) == (10, 1)
    assert (before.dbr_assessed, before.dbr_reports_open) == (4, 5)
    decision = early_stop.stop_screening_early(review=review, stage=FT, actor=owner, method="knee")
    assert (decision.records_screened, decision.records_excluded) == (4, 5)
    assert decision.method_label == HEURISTIC_REASON
    automated = Outcome.objects.filter(review=review, stage=FT, kind=OutcomeKind.AUTOMATION)
    assert {o.record_id for o in automated} == {
        *(r.pk for r in at_full_text["untouched"]),
        at_full_text["cited"].pk,
    }
    assert set(automated.values_list("reason", "decision")) == {(HEURISTIC_REASON, "exclude")}
    # The report not retrieved and the half-assessed one are not touched.
    passed = at_full_text["passed"]
    assert not Outcome.objects.filter(record__in=[passed[0], passed[5]], stage=FT).exists()

    c = prisma_counts(review)
    # Sought 10 − not retrieved 1 = assessed 8 (4 by the team, 4 stopped) + 1 still open.
    assert (c.dbr_sought_reports, c.dbr_notretrieved_reports, c.dbr_assessed) == (10, 1, 8)
    assert c.dbr_excluded == [
        (HEURISTIC_REASON, 4),
        ("Wrong outcome", 1),
        ("Wrong population", 1),
    ]
    assert c.dbr_included_reports == 2
    assert (c.other_sought_reports, c.other_assessed, c.other_included_reports) == (1, 1, 0)
    assert c.other_excluded == [(HEURISTIC_REASON, 1)]
    # Title/abstract boxes are as they were: the automation box is for records, not reports.
    assert (c.records_screened, c.records_excluded, c.excluded_automatic) == (
        before.records_screened,
        before.records_excluded,
        before.excluded_automatic,
    )
    assert check(c) == []
    assert in_progress(c) == ["Full-text screening in progress: 1 report still open."]
    # The PRISMA2020 CSV template carries the reason as it is (no comma or semicolon in it).
    assert f'"{HEURISTIC_REASON}, 4; Wrong outcome, 1; Wrong population, 1"' in to_csv(c)

    # Nobody is offered a stopped report; the half-assessed one is still to finish.
    assert next_record(review=review, stage=FT, reviewer=reviewer2).pk == passed[5].pk
    with pytest.raises(ReviewflowError):
        vote(review, passed[6], reviewer2, "include", FT)


def test_records_list_and_exports_say_the_stopped_reports_were_excluded_by_automation(
    review, owner, at_full_text
):
    early_stop.stop_screening_early(review=review, stage=FT, actor=owner, method="knee")
    stopped = at_full_text["untouched"][0]
    rows = Record.objects.filter(pk=stopped.pk).select_related("search")
    cell = stage_columns(review, owner, rows)[stopped.pk][FT]
    assert (cell.status, cell.automated, cell.text) == (
        "excluded",
        True,
        "excluded (by automation)",
    )
    exported = {row["id"]: row.get("reason") for row in records_for_export(review, "excluded")}
    assert exported[stopped.pk] == f"full text: {HEURISTIC_REASON}"
    assert exported[at_full_text["passed"][1].pk] == "full text: Wrong population"


def test_a_guarantee_states_its_promise_only_when_it_said_stop():
    def rule(kind: str, stop: bool) -> stopping.RuleResult:
        return stopping.RuleResult(
            key="hypergeometric",
            name="Hypergeometric test (recall ≥ 95%, 95% confidence)",
            kind=kind,
            stop=stop,
            summary="",
            method="",
        )

    assert early_stop.stop_label(FT, rule("guarantee", True)) == (
        "Not assessed: screening stopped early by Hypergeometric test "
        "(recall ≥ 95 % with 95 % confidence)"
    )
    assert early_stop.stop_label(FT, rule("guarantee", False)) == (
        "Not assessed: screening stopped early by Hypergeometric test "
        "(stopped before its guarantee was met)"
    )
    assert early_stop.stop_label(TA, rule("guarantee", True)) == (
        "Stopped early (guarantee): Hypergeometric test (recall ≥ 95%, 95% confidence)"
    )


def test_undo_at_full_text_brings_the_reports_back(review, owner, reviewer2, at_full_text):
    before = prisma_counts(review)
    early_stop.stop_screening_early(review=review, stage=FT, actor=owner, method="knee")
    assert early_stop.undo_stop_early(review=review, stage=FT, actor=owner) == 5
    assert not Outcome.objects.filter(review=review, kind=OutcomeKind.AUTOMATION).exists()
    assert not StoppingDecision.objects.filter(review=review).exists()
    after = prisma_counts(review)
    assert (after.dbr_assessed, after.dbr_excluded, after.other_assessed) == (
        before.dbr_assessed,
        before.dbr_excluded,
        before.other_assessed,
    )
    event = AuditEvent.objects.get(review=review, action="screening.stop_undone")
    assert (event.target, event.after) == (FT, {"records_back": 5})
    # The stopped report can be assessed again.
    vote(review, at_full_text["untouched"][0], reviewer2, "include", FT)
    with pytest.raises(ReviewflowError) as err:
        early_stop.undo_stop_early(review=review, stage=FT, actor=owner)
    assert err.value.message == "Screening at this stage was not stopped early: nothing to undo."


def test_stop_refuses_an_unknown_stage(review, owner, at_full_text):
    with pytest.raises(ReviewflowError) as err:
        early_stop.stop_screening_early(review=review, stage="abstract", actor=owner, method="knee")
    assert err.value.message == "Unknown stage “abstract”."
    assert not Outcome.objects.filter(kind=OutcomeKind.AUTOMATION).exists()


def test_api_stops_full_text_and_undoes_it(review, owner, reviewer, outsider, at_full_text):
    url = f"/api/v1/reviews/{review.slug}/screening/{FT}/prioritisation/"
    assert api_for(outsider).post(url + "stop/undo/").status_code == 404
    assert api_for(reviewer).post(url + "stop/undo/").status_code == 403
    api = api_for(owner)
    response = api.post(url + "stop/undo/")
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "Screening at this stage was not stopped early: nothing to undo."
    )
    response = api.post(url + "stop/", {"method": "knee"}, format="json")
    assert response.status_code == 201
    assert response.json()["stopped"]["method_label"] == HEURISTIC_REASON
    assert api_for(reviewer).post(url + "stop/undo/").status_code == 403
    assert StoppingDecision.objects.filter(review=review, stage=FT).exists()
    response = api.post(url + "stop/undo/")
    assert response.status_code == 200
    assert response.json()["stopped"] is None
    assert not Outcome.objects.filter(kind=OutcomeKind.AUTOMATION).exists()
    assert (
        api.post(
            f"/api/v1/reviews/{review.slug}/screening/nope/prioritisation/stop/undo/"
        ).status_code
        == 404
    )


def test_api_starts_the_random_sample(review, owner, reviewer, outsider):
    import_records(review, owner, 8)
    url = f"/api/v1/reviews/{review.slug}/screening/{TA}/prioritisation/sample/"
    assert api_for(outsider).post(url).status_code == 404
    assert api_for(reviewer).post(url).status_code == 403
    api = api_for(owner)
    response = api.post(url)
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The stage is in random order: switch it to “most relevant first” first; "
        "the random sample follows the prioritised part.",
        "field": "order",
    }
    assert not AuditEvent.objects.filter(action=prioritisation.RANDOM_SAMPLE_ACTION).exists()
    update_stage_settings(review=review, stage=TA, actor=owner, order=StageOrder.RELEVANCE)
    response = api.post(url)
    assert response.status_code == 201
    assert response.json()["ranking"]["model"] in ("", prioritisation.RANDOM_MODEL)
    event = AuditEvent.objects.get(action=prioritisation.RANDOM_SAMPLE_ACTION)
    assert (event.target, event.actor, event.after["remaining"]) == (TA, owner, 8)
    response = api.post(url)
    assert response.status_code == 400
    assert response.json()["detail"] == "The random sample of this stage has already started."


def test_a_stopped_report_cannot_also_be_marked_not_retrieved(review, owner, at_full_text):
    early_stop.stop_screening_early(review=review, stage=FT, actor=owner, method="knee")
    stopped = at_full_text["untouched"][0]
    with pytest.raises(ReviewflowError) as err:
        mark_not_retrieved(review=review, record=stopped, actor=owner)
    assert err.value.message == (
        "Full-text screening was stopped early and this report excluded by automation tool: "
        "undo the early stop first."
    )
    assert prisma_counts(review).dbr_notretrieved_reports == 1
    early_stop.undo_stop_early(review=review, stage=FT, actor=owner)
    mark_not_retrieved(review=review, record=stopped, actor=owner)
    assert prisma_counts(review).dbr_notretrieved_reports == 2
