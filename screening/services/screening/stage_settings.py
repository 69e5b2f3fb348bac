"""How a stage is screened: its settings, stored with their defaults when first asked for."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Review
from reviewflow.reviews.services import record_audit
from screening.models import StageSettings, Vote
from screening.selectors.screening import stage_settings_of


def get_stage_settings(review: Review, stage: str) -> StageSettings:
    """The stage's settings, created with defaults the first time they are asked for.

    Kept on the ``review`` instance once read (``stage_settings_of``): a request reads them
    once however many services ask; ``update_stage_settings`` changes the kept object.
    """
    conf = stage_settings_of(review, stage)
    if conf._state.adding:  # nobody set this stage: store its defaults
        defaults = {name: getattr(conf, name) for name in SETTINGS_FIELDS}
        conf, _ = StageSettings.objects.get_or_create(review=review, stage=stage, defaults=defaults)
        review.__dict__["_stage_settings"][stage] = conf
    return conf


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
    "open_after_assigned",  # assigned work (#20): then any open record, or nothing
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
