"""Owners' GRADE judgements on an outcome of a form (a summary-of-findings row)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from extraction.grade import DOMAINS, LEVELS, Judgement, certainty
from extraction.models import Form, GradeAssessment, GradeDesign
from extraction.selectors import require_owner
from extraction.services.forms import form_target
from reviewflow.errors import ReviewflowError
from reviewflow.reviews.services import record_audit

MAX_REASON = 1000


def check_grade_judgements(
    *, design: str, judgements: Mapping[str, Any]
) -> dict[str, dict[str, str]]:
    """The judgements as stored, or the error naming the domain: every domain a level of
    ``LEVELS``; a downgrade needs its reason (a reader of the table must see why)."""
    if design not in GradeDesign.values:
        raise ReviewflowError(
            f"Study design must be one of: {', '.join(GradeDesign.values)}.", field="design"
        )
    out: dict[str, dict[str, str]] = {}
    for domain, label in DOMAINS.items():
        raw = judgements.get(domain)
        if not isinstance(raw, Mapping):
            raise ReviewflowError(f"{label}: choose a judgement.", field=domain)
        level, reason = str(raw.get("level") or ""), str(raw.get("reason") or "").strip()
        if level not in LEVELS:
            raise ReviewflowError(
                f"{label}: the judgement must be one of: {', '.join(LEVELS)}.", field=domain
            )
        if len(reason) > MAX_REASON:
            raise ReviewflowError(
                f"{label}: the reason may have at most {MAX_REASON} characters.", field=domain
            )
        if level != "not_serious" and not reason:
            raise ReviewflowError(
                f"{label}: give the reason for downgrading ({LEVELS[level].lower()}).",
                field=domain,
            )
        out[domain] = {"level": level, "reason": reason}
    unknown = sorted(set(judgements) - set(DOMAINS))
    if unknown:
        raise ReviewflowError(f"Not a GRADE domain: {', '.join(unknown)}.", field=unknown[0])
    return out


def save_grade_assessment(
    *,
    form: Form,
    outcome_key: str,
    outcome_label: str,
    actor: User,
    design: str,
    judgements: Mapping[str, Any],
) -> GradeAssessment:
    """Record the owners' GRADE judgements on one outcome; audited with the certainty."""
    require_owner(form.review, actor, "rate the certainty of evidence")
    stored = check_grade_judgements(design=design, judgements=judgements)
    with transaction.atomic():
        assessment, _ = GradeAssessment.objects.select_for_update().get_or_create(
            form=form, outcome_key=outcome_key
        )
        before = {"design": assessment.design, "judgements": assessment.judgements}
        assessment.design = design
        assessment.judgements = stored
        assessment.updated_by = actor
        assessment.updated_at = timezone.now()
        assessment.save()
        rating = certainty(design, {d: Judgement(**j) for d, j in stored.items()})
        record_audit(
            review=form.review,
            actor=actor,
            action="form.grade_saved",
            target=form_target(form),
            before=before,
            after={
                "outcome": outcome_label,
                "certainty": rating,
                "design": design,
                "judgements": stored,
            },
            object_type="grade_assessment",
            object_id=assessment.pk,
        )
    return assessment
