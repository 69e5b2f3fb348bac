"""Blind screening, enforced on the server: what a person may see of others' votes."""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth.models import User

from reviewflow.reviews.models import AuditEvent
from screening.models import Conflict, Outcome, StageSettings, Vote

HIDDEN = {"hidden": "blind screening: shown once the record is settled"}


def mask_audit_events(events: Sequence[AuditEvent], user: User) -> None:
    """Hide the content of other people's votes on records ``user`` has not finished with.

    Owners read the audit trail, and owners often screen too: a vote event shows its
    decision, reason and note only when the viewer cast it, or the record is settled or in
    conflict (every vote is in), at that stage, or the stage is not blind.
    """
    votes = [e for e in events if e.action.startswith("vote.") and e.object_type == "record"]
    if not votes:
        return
    ids = {e.object_id for e in votes}
    mine = set(
        Vote.objects.filter(record_id__in=ids, reviewer=user).values_list("record_id", "stage")
    )
    done = set(Outcome.objects.filter(record_id__in=ids).values_list("record_id", "stage"))
    done |= set(Conflict.objects.filter(record_id__in=ids).values_list("record_id", "stage"))
    # Stages an owner set to "not blind" show every vote to the team.
    open_stages = set(
        StageSettings.objects.filter(
            review_id__in={e.review_id for e in votes}, blind=False
        ).values_list("review_id", "stage")
    )
    for event in votes:
        if event.actor_id == user.pk:
            continue
        data = event.after or event.before or {}
        key = (event.object_id, data.get("stage"))
        if (event.review_id, data.get("stage")) in open_stages:
            continue
        if key not in mine and key not in done:
            event.before = HIDDEN if event.before else None
            event.after = HIDDEN if event.after else None
