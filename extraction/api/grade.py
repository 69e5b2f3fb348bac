"""API of the summary-of-findings table (GRADE) of a form: every member reads it; owners
rate an outcome (``PUT`` with ``{"outcome", "design", "judgements"}``) and choose how it is
pooled and where its control risk comes from (``"settings"`` in the same ``PUT``, alone or
with the judgements), as on the page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from extraction.api.common import get_form
from extraction.grade import DOMAINS
from extraction.grade_table import SofRow, sof_rows
from extraction.models import Form, FormStatus, GradeControlRisk, GradeMethod
from extraction.services.grade import save_grade_assessment, save_grade_settings
from extraction.synthesis_run import scale_of
from reviewflow.errors import ReviewflowError
from reviewflow.reviews.access import ReviewAccess, get_review_for
from reviewflow.reviews.models import Role

_JUDGEMENT: dict[str, serializers.Field] = {
    "level": serializers.CharField(),
    "reason": serializers.CharField(allow_blank=True),
}
_DOMAINS = inline_serializer(
    "GradeJudgements",
    fields={
        d: inline_serializer(f"GradeJudgement_{d}", fields=_JUDGEMENT, allow_null=True)
        for d in DOMAINS
    },
)
_INTERVAL: dict[str, serializers.Field] = {
    "estimate": serializers.FloatField(),
    "ci_low": serializers.FloatField(),
    "ci_high": serializers.FloatField(),
}
_SETTINGS: dict[str, serializers.Field] = {
    "method": serializers.ChoiceField(choices=GradeMethod.choices),
    "knha": serializers.BooleanField(help_text="Hartung–Knapp adjustment (DL or REML only)."),
    "control_risk": serializers.ChoiceField(choices=GradeControlRisk.choices),
    "control_risk_per_1000": serializers.FloatField(
        allow_null=True, help_text="Typed risk per 1,000 (control_risk typed only)."
    ),
    "control_risk_source": serializers.CharField(
        allow_blank=True, help_text="Where the typed risk comes from (control_risk typed only)."
    ),
}
_ROW = inline_serializer(
    "SummaryOfFindingsRow",
    fields={
        "outcome": inline_serializer(
            "SofOutcome", fields={"key": serializers.CharField(), "label": serializers.CharField()}
        ),
        "measure": serializers.CharField(),
        "k": serializers.IntegerField(),
        "participants": serializers.IntegerField(),
        "relative": inline_serializer(
            "SofRelative", fields=_INTERVAL, allow_null=True, help_text="On the measure's scale."
        ),
        "absolute_per_1000": inline_serializer(
            "SofAbsolute",
            allow_null=True,
            fields={
                "control": serializers.FloatField(),
                "intervention": serializers.FloatField(),
                "intervention_low": serializers.FloatField(),
                "intervention_high": serializers.FloatField(),
            },
        ),
        "settings": inline_serializer("SofSettings", fields=_SETTINGS),
        "control_risk_source": serializers.CharField(
            allow_null=True,
            help_text="Where the assumed control risk comes from, as the table says it; "
            "null without an absolute effect.",
        ),
        "design": serializers.CharField(),
        "certainty": serializers.CharField(help_text="high, moderate, low or very_low"),
        "saved": serializers.BooleanField(help_text="False: the proposals, not yet rated."),
        "judgements": _DOMAINS,
        "proposals": _DOMAINS,
    },
)
_TABLE = inline_serializer(
    "SummaryOfFindings",
    fields={"form": serializers.IntegerField(), "rows": serializers.ListField(child=_ROW)},
)


class GradeWriteSerializer(serializers.Serializer):
    outcome = serializers.CharField(help_text="An outcome key from the table's rows.")
    design = serializers.ChoiceField(
        choices=["randomised", "observational"], required=False, help_text="With judgements."
    )
    judgements = serializers.JSONField(
        required=False,
        help_text='{"risk_of_bias": {"level": "not_serious|serious|very_serious", "reason": ""}, '
        "… for every domain; a downgrade needs its reason.",
    )
    settings = inline_serializer(
        "GradeSettingsWrite",
        fields={
            "method": serializers.ChoiceField(choices=GradeMethod.choices),
            "knha": serializers.BooleanField(required=False),
            "control_risk": serializers.ChoiceField(
                choices=GradeControlRisk.choices, required=False
            ),
            "control_risk_per_1000": serializers.FloatField(required=False, allow_null=True),
            "control_risk_source": serializers.CharField(required=False, allow_blank=True),
        },
        required=False,
        help_text="How the outcome is pooled and where its assumed control risk comes from.",
    )


def _row(row: SofRow) -> dict[str, Any]:
    r = row.analysis.result
    relative = None
    if r is not None:
        back = scale_of(r.measure)
        relative = {
            "estimate": back(r.estimate),
            "ci_low": back(r.ci_low),
            "ci_high": back(r.ci_high),
        }
    a = row.absolute
    return {
        "outcome": {"key": row.outcome.key, "label": row.outcome.label},
        "measure": row.analysis.measure.value,
        "k": r.k if r is not None else 0,
        "participants": row.participants,
        "relative": relative,
        "absolute_per_1000": (
            {
                "control": a["control"],
                "intervention": a["estimate"],
                "intervention_low": a["low"],
                "intervention_high": a["high"],
            }
            if a
            else None
        ),
        "settings": row.settings.as_dict(),
        "control_risk_source": row.acr_source if a else None,
        "design": row.design,
        "certainty": row.certainty,
        "saved": row.saved,
        "judgements": {
            d: {"level": j.level, "reason": j.reason} for d, j in row.judgements.items()
        },
        "proposals": {
            d: {"level": p.level, "reason": p.reason} if p is not None else None
            for d, p in row.proposals.items()
        },
    }


def _form(access: ReviewAccess, form_id: int) -> Form:
    form = get_form(access, form_id)
    if form.status == FormStatus.DRAFT:
        raise ReviewflowError("A draft form has no consensus to rate.", field="form")
    return form


def _save_settings(access: ReviewAccess, form: Form, row: SofRow, chosen: Any) -> None:
    if not isinstance(chosen, Mapping):
        raise ReviewflowError("settings must be an object.", field="settings")
    knha = chosen.get("knha", False)
    if not isinstance(knha, bool):
        raise ReviewflowError("settings.knha must be true or false.", field="knha")
    per_1000 = chosen.get("control_risk_per_1000")
    if per_1000 is not None and (
        isinstance(per_1000, bool) or not isinstance(per_1000, int | float | str)
    ):
        raise ReviewflowError(
            "settings.control_risk_per_1000 must be a number.", field="control_risk_per_1000"
        )
    save_grade_settings(
        form=form,
        outcome_key=row.outcome.key,
        outcome_label=row.outcome.label,
        actor=access.user,
        binary=row.binary,
        method=str(chosen.get("method") or ""),
        knha=knha,
        control_risk=str(chosen.get("control_risk") or "pooled"),
        control_risk_per_1000=str(per_1000) if per_1000 is not None else None,
        control_risk_source=str(chosen.get("control_risk_source") or ""),
    )


class SummaryOfFindingsView(GenericAPIView):
    """The summary-of-findings table of a form's final consensus, with GRADE certainty."""

    @extend_schema(responses={200: _TABLE})
    def get(self, request: Request, slug: str, form_id: int) -> Response:
        access = get_review_for(request.user, slug)
        form = _form(access, form_id)
        return Response({"form": form.pk, "rows": [_row(r) for r in sof_rows(access, form)]})

    @extend_schema(request=GradeWriteSerializer, responses={200: _ROW})
    def put(self, request: Request, slug: str, form_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        form = _form(access, form_id)
        data = request.data if isinstance(request.data, Mapping) else {}
        key = str(data.get("outcome") or "")
        rows = {r.outcome.key: r for r in sof_rows(access, form)}
        if key not in rows:
            raise ReviewflowError(
                "No such outcome in this form's final consensus.", field="outcome"
            )
        judgements = data.get("judgements")
        chosen = data.get("settings")
        if chosen is None and judgements is None:
            raise ReviewflowError("Send judgements, settings or both.", field="judgements")
        if judgements is not None and not isinstance(judgements, Mapping):
            raise ReviewflowError(
                "judgements must be an object keyed by domain.", field="judgements"
            )
        with transaction.atomic():  # one refused part leaves the other unsaved too
            if chosen is not None:
                _save_settings(access, form, rows[key], chosen)
            if judgements is not None:
                save_grade_assessment(
                    form=form,
                    outcome_key=key,
                    outcome_label=rows[key].outcome.label,
                    actor=access.user,
                    design=str(data.get("design") or ""),
                    judgements=judgements,
                )
        saved = {r.outcome.key: r for r in sof_rows(access, form)}[key]
        return Response(_row(saved))
