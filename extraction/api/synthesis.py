"""API of the meta-analysis of a form's final consensus: the numbers the synthesis page shows
(``GET reviews/{slug}/forms/{id}/synthesis/?outcome=&measure=&method=&knha=&subgroup=``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from extraction.api.common import get_form
from extraction.models import FormStatus
from extraction.selectors import included_studies
from extraction.synthesis_inputs import analysis_for
from reviewflow.errors import ReviewflowError
from reviewflow.reviews.access import get_review_for

_NUMBER = serializers.FloatField
_RESULT = inline_serializer(
    "SynthesisPooled",
    allow_null=True,
    fields={
        "k": serializers.IntegerField(),
        "estimate": _NUMBER(help_text="On the analysis scale (log for OR and RR)."),
        "se": _NUMBER(),
        "ci_low": _NUMBER(),
        "ci_high": _NUMBER(),
        "tau2": _NUMBER(),
        "tau": _NUMBER(),
        "i2": _NUMBER(help_text="Percent."),
        "h2": _NUMBER(),
        "q": _NUMBER(),
        "q_df": serializers.IntegerField(),
        "q_p": _NUMBER(),
        "measure": serializers.CharField(),
        "method": serializers.CharField(help_text="FE, MH, DL or REML."),
        "knha": serializers.BooleanField(),
        "scale": serializers.CharField(help_text="log or raw."),
        "statistic": _NUMBER(),
        "distribution": serializers.CharField(),
        "p": _NUMBER(),
        "pi_low": _NUMBER(),
        "pi_high": _NUMBER(),
        "level": _NUMBER(),
        "weights": serializers.DictField(child=_NUMBER()),
        "excluded": serializers.ListField(child=serializers.DictField()),
        "corrections": serializers.ListField(child=serializers.CharField()),
        "estimate_exp": _NUMBER(required=False),
        "ci_low_exp": _NUMBER(required=False),
        "ci_high_exp": _NUMBER(required=False),
        "pi_low_exp": _NUMBER(required=False),
        "pi_high_exp": _NUMBER(required=False),
    },
)
_STUDY = inline_serializer(
    "SynthesisStudy",
    many=True,
    fields={
        "study": serializers.CharField(),
        "yi": _NUMBER(),
        "vi": _NUMBER(),
        "se": _NUMBER(),
        "ci_low": _NUMBER(),
        "ci_high": _NUMBER(),
        "corrected": serializers.BooleanField(),
        "subgroup": serializers.CharField(allow_null=True),
        "note": serializers.CharField(allow_blank=True),
        "weight": _NUMBER(allow_null=True),
    },
)
_ANALYSIS = inline_serializer(
    "SynthesisAnalysis",
    allow_null=True,
    fields={
        "outcome": inline_serializer(
            "SynthesisOutcomeRef",
            fields={"key": serializers.CharField(), "label": serializers.CharField()},
        ),
        "measure": serializers.CharField(),
        "method": serializers.CharField(),
        "knha": serializers.BooleanField(),
        "subgroup_field": serializers.CharField(allow_null=True),
        "studies": _STUDY,
        "left_out": inline_serializer(
            "SynthesisLeftOut",
            many=True,
            fields={"study": serializers.CharField(), "reason": serializers.CharField()},
        ),
        "result": _RESULT,
        "subgroups": serializers.JSONField(allow_null=True),
        "error": serializers.CharField(allow_blank=True),
    },
)
_RESPONSE = inline_serializer(
    "Synthesis",
    fields={
        "form": serializers.IntegerField(),
        "studies_with_consensus": serializers.IntegerField(),
        "studies_without_consensus": serializers.IntegerField(),
        "outcomes": inline_serializer(
            "SynthesisOutcome",
            many=True,
            fields={
                "key": serializers.CharField(),
                "label": serializers.CharField(),
                "kind": serializers.CharField(),
                "measures": serializers.ListField(child=serializers.CharField()),
                "studies": serializers.IntegerField(),
            },
        ),
        "analysis": _ANALYSIS,
    },
)


class SynthesisView(GenericAPIView):
    """The meta-analysis of one outcome over the form's final consensus (what the synthesis
    page shows). Any member; a study's consensus is left out for someone still drafting an
    extraction of it."""

    @extend_schema(
        parameters=[
            OpenApiParameter("outcome", str, description="An outcome key from `outcomes`."),
            OpenApiParameter("measure", str, description="OR, RR, RD, MD or SMD."),
            OpenApiParameter("method", str, description="FE, MH (binary), DL or REML."),
            OpenApiParameter("knha", str, description="1 for the Hartung–Knapp adjustment."),
            OpenApiParameter("subgroup", str, description="A form field's key."),
        ],
        responses={200: _RESPONSE},
    )
    def get(self, request: Request, slug: str, form_id: int) -> Response:
        access = get_review_for(request.user, slug)
        form = get_form(access, form_id)
        if form.status == FormStatus.DRAFT:
            raise ReviewflowError("A draft form has no consensus to analyse.", field="form")
        choices, analysis, studies, _ = analysis_for(
            request.query_params, access, form, strict=True
        )
        included = included_studies(access.review).count()
        body: dict[str, Any] = {
            "form": form.pk,
            "studies_with_consensus": len(studies),
            "studies_without_consensus": max(included - len(studies), 0),
            "outcomes": [
                {
                    "key": o.key,
                    "label": o.label,
                    "kind": o.kind,
                    "measures": [m.value for m in o.measures],
                    "studies": o.studies,
                }
                for o in choices.outcomes
            ],
            "analysis": analysis.to_dict() if analysis is not None else None,
        }
        return Response(body)
