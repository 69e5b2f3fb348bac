"""API of extractions: list (blinded), start or assign, save a draft, submit, reopen,
carry to a newer form version, and free a slot."""

from __future__ import annotations

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

from extraction.api.common import (
    EVIDENCE_SCHEMA,
    get_form,
    get_record,
    invalid_response,
    values_in,
)
from extraction.errors import ExtractionInvalid
from extraction.models import Extraction
from extraction.selectors import annotate_visibility
from extraction.services.extractions import (
    assign_extractor,
    carry_extraction,
    reopen_extraction,
    save_draft,
    start_extraction,
    submit_extraction,
    unassign_extractor,
)
from reviewflow.errors import ReviewflowError
from reviewflow.params import text_param
from reviewflow.reviews.access import ReviewAccess, get_review_for
from reviewflow.reviews.models import Role


class ExtractionSerializer(serializers.ModelSerializer):
    """``values`` (and ``evidence``, the quote and page behind each value) are null where
    blinding hides them (``values_visible`` false)."""

    extractor = serializers.CharField(source="extractor.username", read_only=True)
    form_version = serializers.IntegerField(source="form.version", read_only=True)
    record_title = serializers.CharField(source="record.title", read_only=True)
    values = serializers.SerializerMethodField()
    evidence = serializers.SerializerMethodField()
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
            "evidence",
            "study",
            "carried_from",
            "created_at",
            "updated_at",
            "submitted_at",
            "due_date",
        ]

    def get_values_visible(self, obj: Extraction) -> bool:
        return bool(getattr(obj, "values_visible", False))

    def get_values(self, obj: Extraction) -> dict[str, Any] | None:
        return obj.values if getattr(obj, "values_visible", False) else None

    @extend_schema_field(EVIDENCE_SCHEMA)
    def get_evidence(self, obj: Extraction) -> dict[str, Any] | None:
        return obj.evidence if getattr(obj, "values_visible", False) else None

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
    due_date = serializers.DateField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Owners assigning someone: when it should be submitted (#20).",
    )


class ValuesSerializer(serializers.Serializer):
    values = serializers.JSONField(
        required=False, help_text="Field key → value; merged into what was saved."
    )
    evidence = serializers.JSONField(
        required=False,
        help_text='Field key (a table cell: "key.row.column") → {"quote", "page"} or null to '
        "remove it; merged into what was saved.",
    )


class CarrySerializer(serializers.Serializer):
    form = serializers.IntegerField(help_text="A newer published version of the same form.")


def _extractions(access: ReviewAccess) -> Any:
    qs = Extraction.objects.filter(form__review=access.review).select_related(
        "form", "record", "extractor"
    )
    return annotate_visibility(qs, access.user, owner=access.is_owner)


def _one_extraction(access: ReviewAccess, extraction_id: int) -> Extraction:
    """One extraction the caller may list (else 404: its existence is blind too)."""
    return get_object_or_404(_extractions(access), pk=extraction_id)


def _fresh(access: ReviewAccess, extraction: Extraction) -> Any:
    return ExtractionSerializer(_one_extraction(access, extraction.pk)).data


def _merged_evidence(extraction: Extraction, data: Any) -> dict[str, Any] | None:
    """Saved evidence updated with the request's ``evidence`` (a null entry removes one);
    ``None`` when the request has none (the service keeps the quotes whose values stay)."""
    given = values_in(data, "evidence")
    if given is None:
        return None
    merged = dict(extraction.evidence)
    merged.update(given)
    return {key: item for key, item in merged.items() if item is not None}


def _merged(extraction: Extraction, data: Any) -> dict[str, Any]:
    """Saved values updated with the request's ``values`` (a null or empty value clears)."""
    given = values_in(data)
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
            if text := text_param(params, name):
                try:
                    # ``form__pk``, not ``form_id``: Django's lookup on the pk answers "no
                    # rows" for an id beyond the column's range; the foreign key's crashes.
                    qs = qs.filter(**{f"{name}__pk": int(text)})
                except ValueError:
                    raise ReviewflowError(f"{name} must be an id.", field=name) from None
        if text_param(params, "mine") in ("1", "true", "yes"):
            qs = qs.filter(extractor=access.user)
        return qs.order_by("form_id", "record_id", "slot")

    @extend_schema(request=ExtractionCreateSerializer, responses={201: ExtractionSerializer})
    def post(self, request: Request, slug: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        data = ExtractionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        form = get_form(access, v["form"])
        record = get_record(access, v["record"])
        username = v.get("extractor")
        if username and username != access.user.username:
            extractor = User.objects.filter(username=username).first()
            if extractor is None:
                raise ReviewflowError(f"No user named {username}.", field="extractor")
            extraction = assign_extractor(
                form=form,
                record=record,
                extractor=extractor,
                actor=access.user,
                due_date=v["due_date"],
            )
        else:
            extraction = start_extraction(form=form, record=record, extractor=access.user)
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
            save_draft(
                extraction=extraction,
                actor=access.user,
                values=_merged(extraction, request.data),
                evidence=_merged_evidence(extraction, request.data),
            )
        except ExtractionInvalid as exc:
            return invalid_response(exc)
        return Response(_fresh(access, extraction))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, slug: str, extraction_id: int) -> Response:
        """Owners: free the slot of an extraction not yet submitted."""
        access = get_review_for(request.user, slug, role=Role.OWNER)
        unassign_extractor(extraction=_one_extraction(access, extraction_id), actor=access.user)
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
            submit_extraction(
                extraction=extraction,
                actor=access.user,
                values=_merged(extraction, request.data),
                evidence=_merged_evidence(extraction, request.data),
            )
        except ExtractionInvalid as exc:
            return invalid_response(exc)
        return Response(_fresh(access, extraction))


class ExtractionReopenView(GenericAPIView):
    serializer_class = ExtractionSerializer

    @extend_schema(request=None, responses={200: ExtractionSerializer})
    def post(self, request: Request, slug: str, extraction_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        extraction = _one_extraction(access, extraction_id)
        reopen_extraction(extraction=extraction, actor=access.user)
        return Response(_fresh(access, extraction))


class ExtractionCarryView(GenericAPIView):
    serializer_class = ExtractionSerializer

    @extend_schema(request=CarrySerializer, responses={201: ExtractionSerializer})
    def post(self, request: Request, slug: str, extraction_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        extraction = _one_extraction(access, extraction_id)
        data = CarrySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        new = carry_extraction(
            extraction=extraction,
            to_form=get_form(access, data.validated_data["form"]),
            actor=access.user,
        )
        return Response(_fresh(access, new), status=status.HTTP_201_CREATED)
