"""API of the consensus: list, read with the comparison (owners and the study's
extractors), save and finalise (owners)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from extraction.api.common import (
    EVIDENCE_SCHEMA,
    get_form,
    get_record,
    invalid_response,
    values_in,
)
from extraction.errors import ExtractionInvalid
from extraction.models import Consensus, Form
from extraction.selectors import comparison_for, consensus_visible_to
from extraction.services.consensus import consensus_for, save_consensus
from extraction.spec import FieldComparison
from reviewflow.errors import ReviewflowError
from reviewflow.params import text_param
from reviewflow.reviews.access import ReviewAccess, get_review_for
from reviewflow.reviews.models import Role
from screening.models import Record


class ConsensusSerializer(serializers.ModelSerializer):
    form_version = serializers.IntegerField(source="form.version", read_only=True)
    record_title = serializers.CharField(source="record.title", read_only=True)
    updated_by = serializers.CharField(
        source="updated_by.username", default=None, allow_null=True, read_only=True
    )
    evidence = serializers.SerializerMethodField()

    class Meta:
        model = Consensus
        fields = [
            "id",
            "form",
            "form_version",
            "record",
            "record_title",
            "status",
            "values",
            "evidence",
            "updated_by",
            "updated_at",
            "finalised_at",
        ]

    @extend_schema_field(EVIDENCE_SCHEMA)
    def get_evidence(self, obj: Consensus) -> dict[str, Any]:
        """The chosen quote and page behind each consensus value."""
        return obj.evidence


_ROWS = inline_serializer(
    "ComparisonRow",
    many=True,
    fields={
        "index": serializers.IntegerField(),
        "a": serializers.JSONField(allow_null=True),
        "b": serializers.JSONField(allow_null=True),
        "agree": serializers.BooleanField(),
        "cells": serializers.DictField(child=serializers.BooleanField()),
    },
)
_COMPARISON = inline_serializer(
    "ComparisonField",
    many=True,
    allow_null=True,
    fields={
        "field": serializers.CharField(),
        "label": serializers.CharField(),
        "kind": serializers.CharField(),
        "a": serializers.JSONField(allow_null=True),
        "b": serializers.JSONField(allow_null=True),
        "agree": serializers.BooleanField(),
        "rows": _ROWS,
    },
)


def comparison_json(comparisons: list[FieldComparison]) -> list[dict[str, Any]]:
    return [
        {
            "field": c.field.key,
            "label": c.field.label,
            "kind": c.field.kind,
            "a": c.a,
            "b": c.b,
            "agree": c.agree,
            "rows": [
                {"index": r.index, "a": r.a, "b": r.b, "agree": r.agree, "cells": r.cells}
                for r in c.rows
            ],
        }
        for c in comparisons
    ]


class ConsensusDetailSerializer(ConsensusSerializer):
    comparison = serializers.SerializerMethodField()

    class Meta(ConsensusSerializer.Meta):
        fields = [*ConsensusSerializer.Meta.fields, "comparison"]

    @extend_schema_field(_COMPARISON)
    def get_comparison(self, obj: Consensus) -> list[dict[str, Any]] | None:
        return self.context.get("comparison")


class ConsensusWriteSerializer(serializers.Serializer):
    values = serializers.JSONField(required=False, help_text="Field key → value (all of them).")
    evidence = serializers.JSONField(
        required=False,
        help_text='Field key (a table cell: "key.row.column") → {"quote", "page"} (all of them; '
        "absent: the saved quotes whose values stay).",
    )
    final = serializers.BooleanField(
        required=False, help_text="Settle the study (default: keep the current status)."
    )


@extend_schema_view(
    get=extend_schema(
        parameters=[OpenApiParameter("form", int, description="Only this form version")]
    )
)
class ConsensusListView(ListAPIView):
    serializer_class = ConsensusSerializer

    def get_queryset(self) -> Any:
        access = get_review_for(self.request.user, self.kwargs["slug"])
        qs = consensus_visible_to(
            access.user,
            Consensus.objects.filter(form__review=access.review).select_related(
                "form", "record", "updated_by"
            ),
        )
        form = text_param(self.request.query_params, "form")
        if form:
            qs = qs.filter(form=get_form(access, form))
        return qs.order_by("form_id", "record_id")


def _consensus_response(access: ReviewAccess, form: Form, record: Record) -> Response:
    consensus = Consensus.objects.select_related("form", "record", "updated_by").get(
        form=form, record=record
    )
    comparison = None
    try:
        comparison = comparison_json(comparison_for(form=form, record=record, user=access.user))
    except ReviewflowError:
        comparison = None  # not an adjudicator or extractor of this study
    return Response(ConsensusDetailSerializer(consensus, context={"comparison": comparison}).data)


class _ConsensusSaveMixin:
    def _save(
        self, access: ReviewAccess, form_id: int, record_id: int, data: Any, final: bool | None
    ) -> Response:
        form, record = get_form(access, form_id), get_record(access, record_id)
        current = consensus_for(form=form, record=record)
        values = values_in(data)
        evidence = values_in(data, "evidence")
        if final is None:
            given = data.get("final") if isinstance(data, Mapping) else None
            final = current.is_final if given is None else given in (True, "true", "1", 1)
        try:
            save_consensus(
                form=form,
                record=record,
                actor=access.user,
                values=current.values if values is None else values,
                final=bool(final),
                evidence=evidence,
            )
        except ExtractionInvalid as exc:
            return invalid_response(exc)
        return _consensus_response(access, form, record)


class ConsensusDetailView(_ConsensusSaveMixin, GenericAPIView):
    """One study's consensus; ``comparison`` (both extractions field by field) for owners
    and the study's extractors."""

    serializer_class = ConsensusDetailSerializer

    def get(self, request: Request, slug: str, form_id: int, record_id: int) -> Response:
        access = get_review_for(request.user, slug)
        form, record = get_form(access, form_id), get_record(access, record_id)
        if not Consensus.objects.filter(form=form, record=record).exists():
            if not access.is_owner:
                raise ReviewflowError("No consensus for this study yet.", code="not_found")
            consensus_for(form=form, record=record)
        study = Consensus.objects.filter(form=form, record=record)
        if not consensus_visible_to(access.user, study).exists():
            raise ReviewflowError(
                "The consensus of this study opens to you once you submit your extraction.",
                code="forbidden",
            )
        return _consensus_response(access, form, record)

    @extend_schema(
        request=ConsensusWriteSerializer, responses={200: ConsensusDetailSerializer, 400: None}
    )
    def put(self, request: Request, slug: str, form_id: int, record_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        return self._save(access, form_id, record_id, request.data, final=None)


class ConsensusFinaliseView(_ConsensusSaveMixin, GenericAPIView):
    serializer_class = ConsensusDetailSerializer

    @extend_schema(
        request=ConsensusWriteSerializer, responses={200: ConsensusDetailSerializer, 400: None}
    )
    def post(self, request: Request, slug: str, form_id: int, record_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        return self._save(access, form_id, record_id, request.data, final=True)
