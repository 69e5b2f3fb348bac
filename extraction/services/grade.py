"""Owners' GRADE judgements on an outcome of a form (a summary-of-findings row)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from extraction.grade import DOMAINS, LEVELS, Judgement, certainty
from extraction.models import (
    Form,
    GradeAssessment,
    GradeControlRisk,
    GradeDesign,
    GradeMethod,
)
from extraction.selectors import require_owner
from extraction.services.forms import form_target
from reviewflow.errors import ReviewflowError
from reviewflow.reviews.services import record_audit

MAX_REASON = 1000
MAX_SOURCE = 500


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


@dataclass(frozen=True)
class GradeSettings:
    """How one summary-of-findings row pools its studies and finds its control risk."""

    method: str = GradeMethod.REML
    knha: bool = False
    control_risk: str = GradeControlRisk.POOLED
    control_risk_per_1000: Decimal | None = None
    control_risk_source: str = ""

    @property
    def per_1000_text(self) -> str:
        """The typed risk per 1,000 as typed ("12.5", not "12.500"), or ``""``."""
        if self.control_risk_per_1000 is None:
            return ""
        return f"{self.control_risk_per_1000.normalize():f}"

    def as_dict(self) -> dict[str, Any]:
        per_1000 = self.control_risk_per_1000
        return {
            "method": self.method,
            "knha": self.knha,
            "control_risk": self.control_risk,
            "control_risk_per_1000": float(per_1000) if per_1000 is not None else None,
            "control_risk_source": self.control_risk_source,
        }


def settings_of(assessment: GradeAssessment | None) -> GradeSettings:
    """A saved row's settings, or the defaults (REML, control arms pooled)."""
    if assessment is None:
        return GradeSettings()
    return GradeSettings(
        method=assessment.method,
        knha=assessment.knha,
        control_risk=assessment.control_risk,
        control_risk_per_1000=assessment.control_risk_per_1000,
        control_risk_source=assessment.control_risk_source,
    )


def check_grade_settings(
    *,
    binary: bool,
    method: str,
    knha: bool,
    control_risk: str,
    control_risk_per_1000: str | Decimal | float | None,
    control_risk_source: str,
) -> GradeSettings:
    """The settings as stored, or the error naming the field: a method of the synthesis
    page (Mantel–Haenszel for binary outcomes only), Hartung–Knapp with random effects only,
    and a typed control risk between 0 and 1,000 per 1,000 with its source; a continuous
    outcome has no control risk to choose."""
    if method not in GradeMethod.values:
        raise ReviewflowError(
            f"Pooling method must be one of: {', '.join(GradeMethod.values)}, not '{method}'.",
            field="method",
        )
    if method == GradeMethod.MH and not binary:
        raise ReviewflowError(
            "Mantel–Haenszel pools binary outcomes only (OR, RR, RD): choose FE, DL or REML.",
            field="method",
        )
    if knha and method not in (GradeMethod.DL, GradeMethod.REML):
        raise ReviewflowError(
            "The Hartung–Knapp adjustment applies to random effects (DL or REML) only.",
            field="knha",
        )
    if control_risk not in GradeControlRisk.values:
        raise ReviewflowError(
            f"Assumed control risk must be one of: {', '.join(GradeControlRisk.values)}, not "
            f"'{control_risk}'.",
            field="control_risk",
        )
    source = str(control_risk_source or "").strip()
    typed = str(control_risk_per_1000 if control_risk_per_1000 is not None else "").strip()
    if not binary and control_risk != GradeControlRisk.POOLED:
        raise ReviewflowError(
            "A continuous outcome has no control risk: leave it at the default.",
            field="control_risk",
        )
    if control_risk != GradeControlRisk.TYPED:
        if typed or source:
            raise ReviewflowError(
                "A risk per 1,000 and its source go with 'typed' only: choose 'typed' or "
                "clear them.",
                field="control_risk_per_1000" if typed else "control_risk_source",
            )
        return GradeSettings(method, knha, control_risk)
    try:
        per_1000 = Decimal(typed.replace(",", ""))
    except InvalidOperation:
        per_1000 = Decimal("NaN")
    if not per_1000.is_finite() or not 0 <= per_1000 <= 1000:
        raise ReviewflowError(
            f"Assumed control risk: enter a risk per 1,000 from 0 to 1000, not "
            f"'{typed or 'nothing'}'.",
            field="control_risk_per_1000",
        )
    if per_1000 != per_1000.quantize(Decimal("0.001")):
        raise ReviewflowError(
            f"Assumed control risk: at most 3 decimals per 1,000, not '{typed}'.",
            field="control_risk_per_1000",
        )
    if not source:
        raise ReviewflowError(
            "Assumed control risk: say where the typed risk comes from (e.g. a cohort study).",
            field="control_risk_source",
        )
    if len(source) > MAX_SOURCE:
        raise ReviewflowError(
            f"The source of the control risk may have at most {MAX_SOURCE} characters.",
            field="control_risk_source",
        )
    return GradeSettings(method, knha, control_risk, per_1000, source)


def save_grade_settings(
    *,
    form: Form,
    outcome_key: str,
    outcome_label: str,
    actor: User,
    binary: bool,
    method: str,
    knha: bool,
    control_risk: str,
    control_risk_per_1000: str | Decimal | float | None = None,
    control_risk_source: str = "",
) -> GradeAssessment:
    """Record how one outcome of the summary-of-findings table is pooled and where its
    assumed control risk comes from; audited with the settings before and after. The
    outcome's judgements, saved or not, are left as they are."""
    require_owner(form.review, actor, "choose how the summary of findings pools an outcome")
    chosen = check_grade_settings(
        binary=binary,
        method=method,
        knha=knha,
        control_risk=control_risk,
        control_risk_per_1000=control_risk_per_1000,
        control_risk_source=control_risk_source,
    )
    with transaction.atomic():
        assessment, _ = GradeAssessment.objects.select_for_update().get_or_create(
            form=form, outcome_key=outcome_key
        )
        before = settings_of(assessment).as_dict()
        assessment.method = chosen.method
        assessment.knha = chosen.knha
        assessment.control_risk = chosen.control_risk
        assessment.control_risk_per_1000 = chosen.control_risk_per_1000
        assessment.control_risk_source = chosen.control_risk_source
        assessment.updated_by = actor
        assessment.updated_at = timezone.now()
        assessment.save()
        record_audit(
            review=form.review,
            actor=actor,
            action="form.grade_settings_saved",
            target=form_target(form),
            before=before,
            after={"outcome": outcome_label, **chosen.as_dict()},
            object_type="grade_assessment",
            object_id=assessment.pk,
        )
    return assessment
