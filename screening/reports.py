"""Agreement between reviewers, per stage and per pair, from the stored votes."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model

from reviewflow.reviews.models import Review
from screening.agreement import PairAgreement, fleiss_kappa, pairwise_agreement
from screening.models import Decision, Stage, StageSettings, Vote


@dataclass
class StageAgreement:
    stage: str
    label: str
    records: int = 0
    pairs: list[tuple[str, str, PairAgreement]] = field(default_factory=list)
    fleiss: float | None = None


def agreement_report(review: Review) -> list[StageAgreement]:
    """Percentage agreement and Cohen's kappa per reviewer pair, and Fleiss' kappa for
    stages screened by three, on the decisions that settle records (at title/abstract
    "maybe" counts as "include")."""
    users = dict(
        get_user_model()
        .objects.filter(votes__review=review)
        .values_list("pk", "username")
        .distinct()
    )
    needed = dict(
        StageSettings.objects.filter(review=review).values_list("stage", "reviewers_needed")
    )
    report = []
    for stage, label in Stage.choices:
        triples = []
        by_record: dict[int, list[str]] = defaultdict(list)
        # Only records with all their votes: the votes on a record still open would tell
        # an owner who screens it how colleagues voted on it (with three reviewers, two
        # votes agree or not before the third is cast).
        settled = Vote.objects.filter(
            review=review,
            stage=stage,
            record__screening_states__stage=stage,
            record__screening_states__closed=True,
        )
        for record_id, reviewer_id, decision in settled.values_list(
            "record_id", "reviewer_id", "decision"
        ):
            if stage == Stage.TITLE_ABSTRACT and decision == Decision.MAYBE:
                decision = Decision.INCLUDE
            triples.append((record_id, reviewer_id, decision))
            by_record[record_id].append(decision)
        result = StageAgreement(stage=stage, label=label, records=len(by_record))
        result.pairs = [
            (users.get(p.rater_a, "?"), users.get(p.rater_b, "?"), p)
            for p in pairwise_agreement(triples)
        ]
        if needed.get(stage, 2) == 3:
            complete = [labels for labels in by_record.values() if len(labels) == 3]
            result.fleiss = fleiss_kappa(complete) if complete else None
        report.append(result)
    return report
