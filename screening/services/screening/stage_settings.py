"""How a stage is screened: its settings, created with defaults when first asked for."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from reviewflow import compiled
from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Review
from reviewflow.reviews.services import record_audit
from screening.models import (
    Stage,
    StageSettings,
    Vote,
)

DEFAULT_FULL_TEXT_REASONS = [
    "Wrong population",
    "Wrong intervention",
    "Wrong comparator",
    "Wrong outcome",
    "Wrong study design",
    "Duplicate report",
    "Full text not in an eligible language",
]


def get_stage_settings(review: Review, stage: str) -> StageSettings:
    """The stage's settings, created with defaults the first time they are asked for.

    Kept on the ``review`` instance once read: a request reads them once however many
    services ask (views get a fresh ``Review`` per request; ``update_stage_settings``
    changes the kept object itself).
    """
    if stage not in Stage.values:
        raise ReviewflowError(f"Unknown stage “{stage}”: use title-abstract or full-text.")
    memo: dict[str, StageSettings] = review.__dict__.setdefault("_stage_settings", {})
    if stage in memo:
        return memo[stage]
    found = next(
        iter(
            compiled.instances(
                ("stage.settings", stage),
                lambda: StageSettings.objects.filter(review_id=compiled.REVIEW, stage=stage),
                model=StageSettings,
                review=review.pk,
            )
        ),
        None,
    )
    if found is None:
        defaults: dict[str, Any] = {}
        if stage == Stage.FULL_TEXT:
            defaults = {"reasons_required": True, "exclusion_reasons": DEFAULT_FULL_TEXT_REASONS}
        found, _ = StageSettings.objects.get_or_create(
            review=review, stage=stage, defaults=defaults
        )
    memo[stage] = found
    return found


SETTINGS_FIELDS = (
    "reviewers_needed",
    "blind",
    "criteria",
    "include_terms",
    "exclude_terms",
    "exclusion_reasons",
    "reasons_required",
    "adjudicators",
    "order",  # random | relevance (screening prioritisation)
    "show_scores",
)


@transaction.atomic
def update_stage_settings(
    *, review: Review, stage: str, actor: User, **changes: Any
) -> StageSettings:
    """Change how a stage is screened (owners only; the caller checks the role)."""
    current = get_stage_settings(review, stage)
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ReviewflowError(f"Unknown setting: {', '.join(sorted(unknown))}.")
    needed = changes.get("reviewers_needed", current.reviewers_needed)
    if needed not in (1, 2, 3):
        raise ReviewflowError("Each record needs 1, 2 or 3 reviewers.", field="reviewers_needed")
    if (
        needed < current.reviewers_needed
        and Vote.objects.filter(review=review, stage=stage, slot__gt=needed).exists()
    ):
        raise ReviewflowError(
            f"Some records already have more than {needed} votes: the number of reviewers "
            "can no longer go down.",
            field="reviewers_needed",
        )
    if "exclusion_reasons" in changes:
        reasons = [str(r).strip()[:200] for r in changes["exclusion_reasons"] if str(r).strip()]
        changes["exclusion_reasons"] = list(dict.fromkeys(reasons))
    before = {k: getattr(current, k) for k in changes if getattr(current, k) != changes[k]}
    if not before:
        return current
    for key, value in changes.items():
        setattr(current, key, value)
    current.save()
    record_audit(
        review=review,
        actor=actor,
        action="stage.settings_changed",
        target=stage,
        before=before,
        after={k: changes[k] for k in before},
    )
    return current
