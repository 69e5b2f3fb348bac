"""Stopping a stage: the owners' dashboard report (the recall curve, the statistical
estimate, the two-phase rule and the heuristics, each labelled guarantee or heuristic),
stopping early (the records nobody touched excluded by automation, under a reason that
says so) and its undo. Split from ``prioritisation``, which ranks and samples."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Exists, OuterRef

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Review
from reviewflow.reviews.services import record_audit
from screening.models import (
    Claim,
    Conflict,
    Decision,
    Outcome,
    OutcomeKind,
    RankingRun,
    RelevanceScore,
    Stage,
    StoppingDecision,
)
from screening.prioritisation import curve, stopping
from screening.selectors.screening import eligible_records, stage_settings_of
from screening.services.prioritisation import (
    CONFIDENCE,
    RECALL_TARGET,
    request_retrain,
    sample_state,
    screening_sequence,
    untouched_records,
)


def _stage_total(review: Review, stage: str) -> int:
    automated = Outcome.objects.filter(
        record=OuterRef("pk"), stage=stage, kind=OutcomeKind.AUTOMATION
    )
    return eligible_records(review, stage).filter(~Exists(automated)).count()


# ------------------------------------------------------------------ stopping estimate


@dataclass(frozen=True)
class StoppingReport:
    stage: str
    order: str
    run: RankingRun | None
    total: int  # records in the stage (not excluded by automation)
    screened: int  # records with a settled decision of the team
    included: int
    since_last_include: int
    curve: list[tuple[int, int]]
    rules: list[stopping.RuleResult]
    recall_lower_bound: float
    recall_target: float = RECALL_TARGET
    confidence: float = CONFIDENCE
    stopped: StoppingDecision | None = None
    unscreened: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def guarantee(self) -> stopping.RuleResult:
        return self.rules[0]


def stopping_report(review: Review, stage: str) -> StoppingReport:
    """What the owners' dashboard shows: recall curve, records since the last include, the
    statistical estimate and the heuristics, each labelled guarantee or heuristic."""
    conf = stage_settings_of(review, stage)
    seq = screening_sequence(review, stage)
    total = _stage_total(review, stage)
    rules = stopping.all_rules(seq, total, recall_target=RECALL_TARGET, confidence=CONFIDENCE)
    rules.insert(
        1,
        stopping.two_phase_rule(
            sample_state(review, stage),
            ranked=seq,
            n_total=total,
            recall_target=RECALL_TARGET,
            confidence=CONFIDENCE,
        ),
    )
    hyper = rules[0]
    return StoppingReport(
        stage=stage,
        order=conf.order,
        run=RankingRun.objects.filter(review=review, stage=stage).first(),
        total=total,
        screened=len(seq),
        included=sum(seq),
        since_last_include=stopping.consecutive_irrelevant(seq),
        curve=curve.recall_curve(seq),
        rules=rules,
        recall_lower_bound=float(hyper.details.get("recall_lower_bound") or 0.0),
        stopped=StoppingDecision.objects.filter(review=review, stage=stage).first(),
        unscreened=untouched_records(review, stage).count(),
    )


# ------------------------------------------------------------------ stopping early


def stop_label(stage: str, rule: stopping.RuleResult) -> str:
    """The reason the records excluded by an early stop carry (and the decision's label,
    which its undo finds them by). At full text it is what PRISMA's "reports excluded"
    box prints, so it says the reports were not assessed and what the rule promised: a
    guarantee's recall only when it said stop; a heuristic promises none."""
    if stage == Stage.TITLE_ABSTRACT:
        return f"Stopped early ({rule.kind}): {rule.name}"[:200]
    if rule.kind != stopping.GUARANTEE:
        promise = "a heuristic: no guaranteed recall"
    elif rule.stop:
        promise = f"recall ≥ {RECALL_TARGET:.0%} with {CONFIDENCE:.0%} confidence".replace(
            "%", " %"
        )
    else:
        promise = "stopped before its guarantee was met"
    name = rule.name.split(" (")[0]  # the promise is said once, below, as it stands
    return f"Not assessed: screening stopped early by {name} ({promise})"[:200]


@transaction.atomic
def stop_screening_early(
    *, review: Review, stage: str, actor: User, method: str
) -> StoppingDecision:
    """Stop screening ``stage``: every record nobody has voted on yet is excluded as
    "excluded by automation tool", with ``method`` (a stopping rule's key) and what it said
    now recorded. Records with votes or open conflicts are left for the team to finish.
    The caller checks that ``actor`` is an owner.

    At title/abstract the excluded records go to PRISMA's "marked as ineligible by
    automation tools" box. At full text they were sought but never read, so PRISMA counts
    them among the reports assessed and excluded, under a reason that says so
    (``stop_label``): the boxes still add up and nobody mistakes them for reports a person
    judged. Reports marked not retrieved are not the stage's records and stay as they are.
    """
    if stage not in Stage.values:
        raise ReviewflowError(f"Unknown stage “{stage}”.", field="stage")
    report = stopping_report(review, stage)
    rule = next((r for r in report.rules if r.key == method), None)
    if rule is None:
        raise ReviewflowError(
            f"Unknown stopping method “{method}”: use "
            + ", ".join(r.key for r in report.rules)
            + ".",
            field="method",
        )
    if report.stopped is not None and not report.unscreened:
        raise ReviewflowError("Screening at this stage was already stopped early.")
    left = list(untouched_records(review, stage).values_list("pk", flat=True))
    if not left:
        raise ReviewflowError("Every record has been screened: there is nothing left to stop.")
    label = stop_label(stage, rule)
    decision = StoppingDecision.objects.create(
        review=review,
        stage=stage,
        method=rule.key,
        method_label=label,
        kind=rule.kind,
        summary=rule.summary,
        details={
            **rule.details,
            "method": rule.method,
            "stop_met": rule.stop,
            "recall_lower_bound": report.recall_lower_bound,
        },
        records_screened=report.screened,
        records_excluded=len(left),
        decided_by=actor,
    )
    Outcome.objects.bulk_create(
        [
            Outcome(
                review=review,
                record_id=pk,
                stage=stage,
                decision=Decision.EXCLUDE,
                reason=label,
                kind=OutcomeKind.AUTOMATION,
                decided_by=actor,
            )
            for pk in left
        ],
        batch_size=2000,
    )
    Claim.objects.filter(record_id__in=left, stage=stage).delete()
    RelevanceScore.objects.filter(review=review, stage=stage).delete()
    record_audit(
        review=review,
        actor=actor,
        action="screening.stopped_early",
        target=stage,
        after={
            "method": rule.key,
            "kind": rule.kind,
            "rule_said": rule.summary,
            "stop_met": rule.stop,
            "records_screened": report.screened,
            "records_excluded": len(left),
        },
    )
    return decision


@transaction.atomic
def undo_stop_early(*, review: Review, stage: str, actor: User) -> int:
    """Undo the stage's last early stop: the records it excluded by automation tool are
    unscreened again (their automation outcomes removed), the stopping decision is removed
    and the ranking is refreshed. The caller checks that ``actor`` is an owner. Returns
    how many records came back."""
    decision = StoppingDecision.objects.filter(review=review, stage=stage).first()
    if decision is None:
        raise ReviewflowError("Screening at this stage was not stopped early: nothing to undo.")
    excluded = Outcome.objects.filter(
        review=review,
        stage=stage,
        kind=OutcomeKind.AUTOMATION,
        reason=decision.method_label,
    )
    back = excluded.count()
    excluded.delete()
    record_audit(
        review=review,
        actor=actor,
        action="screening.stop_undone",
        target=stage,
        before={
            "method": decision.method,
            "records_excluded": decision.records_excluded,
            "decided_at": decision.decided_at.isoformat(),
        },
        after={"records_back": back},
    )
    decision.delete()
    request_retrain(review=review, stage=stage, force=True)
    return back


def open_conflicts(review: Review, stage: str) -> int:
    return Conflict.objects.filter(review=review, stage=stage, resolved_at__isnull=True).count()
