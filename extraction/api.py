"""REST API of extraction: forms, extractions, consensus (same services as the pages).

Blinding holds here as in the pages: a reviewer lists their own extractions, and the other
extractions of a study only once every extractor of it (them included) has submitted;
owners list every extraction but see values only of complete studies; viewers see forms
and the consensus only. Non-members get 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import User
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from extraction import services
from extraction.form_templates import TEMPLATES
from extraction.models import Consensus, Extraction, Form, FormStatus
from extraction.services import ExtractionInvalid
from extraction.spec import FieldComparison
from reviewflow.errors import ReviewflowError
from reviewflow.reviews.access import ReviewAccess, get_review_for
from reviewflow.reviews.models import Role
from screening.models import Record

# ------------------------------------------------------------------------------ helpers


def _invalid(exc: ExtractionInvalid) -> Response:
    """400 naming every field (and table row and column) at fault."""
    return Response(
        {
            "detail": exc.message,
            "errors": [
                {"field": e.field, "row": e.row, "column": e.column, "message": str(e)}
                for e in exc.errors
            ],
        },
        status=status.HTTP_400_BAD_REQUEST,
    )


def _values(data: Any, name: str = "values") -> dict[str, Any] | None:
    value = data.get(name) if isinstance(data, Mapping) else None
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ReviewflowError(f"{name} must be an object keyed by field.", field=name)
    return dict(value)


def _form(access: ReviewAccess, form_id: Any, *, field: str = "form") -> Form:
    try:
        pk = int(form_id)
    except (TypeError, ValueError):
        raise ReviewflowError("Give a form id.", field=field) from None
    qs = Form.objects.filter(review=access.review)
    if not access.is_owner:
        qs = qs.exclude(status=FormStatus.DRAFT)
    form = qs.select_related("review").filter(pk=pk).first()
    if form is None:
        raise ReviewflowError("No such form in this review.", field=field, code="not_found")
    return form


def _record(access: ReviewAccess, record_id: Any) -> Record:
    try:
        pk = int(record_id)
    except (TypeError, ValueError):
        raise ReviewflowError("Give a record id.", field="record") from None
    record = Record.objects.filter(review=access.review, pk=pk).first()
    if record is None:
        raise ReviewflowError("No such record in this review.", field="record", code="not_found")
    return record


# ------------------------------------------------------------------------------ forms


class FormSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)

    class Meta:
        model = Form
        fields = [
            "id",
            "family",
            "version",
            "status",
            "title",
            "description",
            "extractors_needed",
            "spec",
            "created_by",
            "created_at",
            "published_at",
        ]


class FormWriteSerializer(serializers.Serializer):
    template = serializers.ChoiceField(
        choices=sorted(TEMPLATES), required=False, help_text="Start from a template."
    )
    spec = serializers.JSONField(
        required=False,
        help_text="The form: {title, description, extractors_needed, sections: [{title, "
        "fields: [{key, label, kind, required, help, min, max, unit, choices, columns}]}]}",
    )


def _spec_from(data: Any) -> Any:
    """The form definition in a request: ``{"spec": {...}}`` or the definition itself."""
    if isinstance(data, Mapping) and "spec" in data:
        return data["spec"]
    return data


@extend_schema_view(
    get=extend_schema(
        parameters=[OpenApiParameter("status", str, description="draft, published or superseded")]
    )
)
class FormListView(ListAPIView):
    """Every version of every form (drafts to owners only); POST makes a draft."""

    serializer_class = FormSerializer

    def get_queryset(self) -> Any:
        access = get_review_for(self.request.user, self.kwargs["slug"])
        qs = Form.objects.filter(review=access.review).select_related("created_by")
        if not access.is_owner:
            qs = qs.exclude(status=FormStatus.DRAFT)
        wanted = self.request.query_params.get("status")
        if wanted:
            if wanted not in FormStatus.values:  # and never a NUL byte to PostgreSQL
                raise ReviewflowError(
                    f"status must be one of: {', '.join(FormStatus.values)}.", field="status"
                )
            qs = qs.filter(status=wanted)
        return qs.order_by("title", "family", "version")

    @extend_schema(
        request=FormWriteSerializer,
        responses={201: FormSerializer},
        description='Body: {"template": "rob2"} or {"spec": {...}} (or the spec itself).',
    )
    def post(self, request: Request, slug: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        data = request.data
        if isinstance(data, Mapping) and data.get("template"):
            form = services.create_form_from_template(
                review=access.review, actor=access.user, template=str(data["template"])
            )
        else:
            form = services.create_form(
                review=access.review, actor=access.user, spec=_spec_from(data)
            )
        return Response(FormSerializer(form).data, status=status.HTTP_201_CREATED)


class FormDetailView(GenericAPIView):
    serializer_class = FormSerializer

    def get(self, request: Request, slug: str, form_id: int) -> Response:
        access = get_review_for(request.user, slug)
        return Response(FormSerializer(_form(access, form_id)).data)

    @extend_schema(request=FormWriteSerializer, responses={200: FormSerializer})
    def put(self, request: Request, slug: str, form_id: int) -> Response:
        """Replace a draft's definition (published versions are frozen)."""
        access = get_review_for(request.user, slug, role=Role.OWNER)
        form = services.update_form(
            form=_form(access, form_id), actor=access.user, spec=_spec_from(request.data)
        )
        return Response(FormSerializer(form).data)

    @extend_schema(request=FormWriteSerializer, responses={200: FormSerializer})
    def patch(self, request: Request, slug: str, form_id: int) -> Response:
        return self.put(request, slug, form_id)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, slug: str, form_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        services.delete_draft_form(form=_form(access, form_id), actor=access.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FormPublishView(GenericAPIView):
    serializer_class = FormSerializer

    @extend_schema(request=None, responses={200: FormSerializer})
    def post(self, request: Request, slug: str, form_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        form = services.publish_form(form=_form(access, form_id), actor=access.user)
        return Response(FormSerializer(form).data)


class FormNewVersionView(GenericAPIView):
    serializer_class = FormSerializer

    @extend_schema(request=None, responses={201: FormSerializer})
    def post(self, request: Request, slug: str, form_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        form = services.new_form_version(form=_form(access, form_id), actor=access.user)
        return Response(FormSerializer(form).data, status=status.HTTP_201_CREATED)


# ------------------------------------------------------------------------------ extractions


class ExtractionSerializer(serializers.ModelSerializer):
    """``values`` is null where blinding hides them (``values_visible`` false)."""

    extractor = serializers.CharField(source="extractor.username", read_only=True)
    form_version = serializers.IntegerField(source="form.version", read_only=True)
    record_title = serializers.CharField(source="record.title", read_only=True)
    values = serializers.SerializerMethodField()
    values_visible = serializers.SerializerMethodField()
    study = serializers.SerializerMethodField()

    class Meta:
        model = Extraction
        fields = [
            "id",
            "form",
            "form_version",
            "record",
            "record_title",
            "extractor",
            "slot",
            "status",
            "values_visible",
            "values",
            "study",
            "carried_from",
            "created_at",
            "updated_at",
            "submitted_at",
        ]

    def get_values_visible(self, obj: Extraction) -> bool:
        return bool(getattr(obj, "values_visible", False))

    def get_values(self, obj: Extraction) -> dict[str, Any] | None:
        return obj.values if getattr(obj, "values_visible", False) else None

    @extend_schema_field(
        inline_serializer(
            "StudyCounts",
            fields={"submitted": serializers.IntegerField(), "needed": serializers.IntegerField()},
        )
    )
    def get_study(self, obj: Extraction) -> dict[str, int]:
        """Counts anyone may know: how many of the study's extractors have submitted."""
        return {
            "submitted": int(getattr(obj, "n_submitted", 0)),
            "needed": obj.form.extractors_needed,
        }


class ExtractionCreateSerializer(serializers.Serializer):
    form = serializers.IntegerField()
    record = serializers.IntegerField()
    extractor = serializers.CharField(
        required=False, help_text="Owners: the username to assign (default: yourself)."
    )


class ValuesSerializer(serializers.Serializer):
    values = serializers.JSONField(
        required=False, help_text="Field key → value; merged into what was saved."
    )


class CarrySerializer(serializers.Serializer):
    form = serializers.IntegerField(help_text="A newer published version of the same form.")


def _extractions(access: ReviewAccess) -> Any:
    qs = Extraction.objects.filter(form__review=access.review).select_related(
        "form", "record", "extractor"
    )
    return services.annotate_visibility(qs, access.user, owner=access.is_owner)


def _one_extraction(access: ReviewAccess, extraction_id: int) -> Extraction:
    """One extraction the caller may list (else 404: its existence is blind too)."""
    return get_object_or_404(_extractions(access), pk=extraction_id)


def _fresh(access: ReviewAccess, extraction: Extraction) -> Any:
    return ExtractionSerializer(_one_extraction(access, extraction.pk)).data


def _merged(extraction: Extraction, data: Any) -> dict[str, Any]:
    """Saved values updated with the request's ``values`` (a null or empty value clears)."""
    given = _values(data)
    merged = dict(extraction.values)
    if given:
        merged.update(given)
    return merged


@extend_schema_view(
    get=extend_schema(
        parameters=[
            OpenApiParameter("form", int, description="Only this form version"),
            OpenApiParameter("record", int, description="Only this study"),
            OpenApiParameter("mine", bool, description="Only the caller's own extractions"),
        ]
    )
)
class ExtractionListView(ListAPIView):
    """Extractions the caller may see (blinding); POST starts or assigns one."""

    serializer_class = ExtractionSerializer

    def get_queryset(self) -> Any:
        access = get_review_for(self.request.user, self.kwargs["slug"], role=Role.REVIEWER)
        qs = _extractions(access)
        params = self.request.query_params
        for name in ("form", "record"):
            if params.get(name):
                try:
                    # ``form__pk``, not ``form_id``: Django's lookup on the pk answers "no
                    # rows" for an id beyond the column's range; the foreign key's crashes.
                    qs = qs.filter(**{f"{name}__pk": int(params[name])})
                except ValueError:
                    raise ReviewflowError(f"{name} must be an id.", field=name) from None
        if params.get("mine") in ("1", "true", "yes"):
            qs = qs.filter(extractor=access.user)
        return qs.order_by("form_id", "record_id", "slot")

    @extend_schema(request=ExtractionCreateSerializer, responses={201: ExtractionSerializer})
    def post(self, request: Request, slug: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        data = ExtractionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        form = _form(access, v["form"])
        record = _record(access, v["record"])
        username = v.get("extractor")
        if username and username != access.user.username:
            extractor = User.objects.filter(username=username).first()
            if extractor is None:
                raise ReviewflowError(f"No user named {username}.", field="extractor")
            extraction = services.assign_extractor(
                form=form, record=record, extractor=extractor, actor=access.user
            )
        else:
            extraction = services.start_extraction(form=form, record=record, extractor=access.user)
        return Response(_fresh(access, extraction), status=status.HTTP_201_CREATED)


class ExtractionDetailView(GenericAPIView):
    serializer_class = ExtractionSerializer

    def get(self, request: Request, slug: str, extraction_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        return Response(ExtractionSerializer(_one_extraction(access, extraction_id)).data)

    @extend_schema(
        request=ValuesSerializer,
        responses={200: ExtractionSerializer, 400: None},
        description='Save values as a draft. 400: {"detail", "errors": [{"field", "row", '
        '"column", "message"}]} and nothing saved.',
    )
    def patch(self, request: Request, slug: str, extraction_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        extraction = _one_extraction(access, extraction_id)
        try:
            services.save_draft(
                extraction=extraction, actor=access.user, values=_merged(extraction, request.data)
            )
        except ExtractionInvalid as exc:
            return _invalid(exc)
        return Response(_fresh(access, extraction))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, slug: str, extraction_id: int) -> Response:
        """Owners: free the slot of an extraction not yet submitted."""
        access = get_review_for(request.user, slug, role=Role.OWNER)
        services.unassign_extractor(
            extraction=_one_extraction(access, extraction_id), actor=access.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExtractionSubmitView(GenericAPIView):
    serializer_class = ExtractionSerializer

    @extend_schema(
        request=ValuesSerializer,
        responses={200: ExtractionSerializer, 400: None},
        description="Submit (with any last values). 400 names every field at fault.",
    )
    def post(self, request: Request, slug: str, extraction_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        extraction = _one_extraction(access, extraction_id)
        try:
            services.submit_extraction(
                extraction=extraction, actor=access.user, values=_merged(extraction, request.data)
            )
        except ExtractionInvalid as exc:
            return _invalid(exc)
        return Response(_fresh(access, extraction))


class ExtractionReopenView(GenericAPIView):
    serializer_class = ExtractionSerializer

    @extend_schema(request=None, responses={200: ExtractionSerializer})
    def post(self, request: Request, slug: str, extraction_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        extraction = _one_extraction(access, extraction_id)
        services.reopen_extraction(extraction=extraction, actor=access.user)
        return Response(_fresh(access, extraction))


class ExtractionCarryView(GenericAPIView):
    serializer_class = ExtractionSerializer

    @extend_schema(request=CarrySerializer, responses={201: ExtractionSerializer})
    def post(self, request: Request, slug: str, extraction_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        extraction = _one_extraction(access, extraction_id)
        data = CarrySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        new = services.carry_extraction(
            extraction=extraction,
            to_form=_form(access, data.validated_data["form"]),
            actor=access.user,
        )
        return Response(_fresh(access, new), status=status.HTTP_201_CREATED)


# ------------------------------------------------------------------------------ consensus


class ConsensusSerializer(serializers.ModelSerializer):
    form_version = serializers.IntegerField(source="form.version", read_only=True)
    record_title = serializers.CharField(source="record.title", read_only=True)
    updated_by = serializers.CharField(
        source="updated_by.username", default=None, allow_null=True, read_only=True
    )

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
            "updated_by",
            "updated_at",
            "finalised_at",
        ]


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
        qs = services.consensus_visible_to(
            access.user,
            Consensus.objects.filter(form__review=access.review).select_related(
                "form", "record", "updated_by"
            ),
        )
        form = self.request.query_params.get("form")
        if form:
            qs = qs.filter(form=_form(access, form))
        return qs.order_by("form_id", "record_id")


def _consensus_response(access: ReviewAccess, form: Form, record: Record) -> Response:
    consensus = Consensus.objects.select_related("form", "record", "updated_by").get(
        form=form, record=record
    )
    comparison = None
    try:
        comparison = comparison_json(
            services.comparison_for(form=form, record=record, user=access.user)
        )
    except ReviewflowError:
        comparison = None  # not an adjudicator or extractor of this study
    return Response(ConsensusDetailSerializer(consensus, context={"comparison": comparison}).data)


class _ConsensusSaveMixin:
    def _save(
        self, access: ReviewAccess, form_id: int, record_id: int, data: Any, final: bool | None
    ) -> Response:
        form, record = _form(access, form_id), _record(access, record_id)
        current = services.consensus_for(form=form, record=record)
        values = _values(data)
        if final is None:
            given = data.get("final") if isinstance(data, Mapping) else None
            final = current.is_final if given is None else given in (True, "true", "1", 1)
        try:
            services.save_consensus(
                form=form,
                record=record,
                actor=access.user,
                values=current.values if values is None else values,
                final=bool(final),
            )
        except ExtractionInvalid as exc:
            return _invalid(exc)
        return _consensus_response(access, form, record)


class ConsensusDetailView(_ConsensusSaveMixin, GenericAPIView):
    """One study's consensus; ``comparison`` (both extractions field by field) for owners
    and the study's extractors."""

    serializer_class = ConsensusDetailSerializer

    def get(self, request: Request, slug: str, form_id: int, record_id: int) -> Response:
        access = get_review_for(request.user, slug)
        form, record = _form(access, form_id), _record(access, record_id)
        if not Consensus.objects.filter(form=form, record=record).exists():
            if not access.is_owner:
                raise ReviewflowError("No consensus for this study yet.", code="not_found")
            services.consensus_for(form=form, record=record)
        study = Consensus.objects.filter(form=form, record=record)
        if not services.consensus_visible_to(access.user, study).exists():
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
