"""API of forms: list, create (blank or from a template), read, edit a draft, delete a
draft, publish, and make a new version."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from extraction.api.common import get_form
from extraction.form_templates import TEMPLATES
from extraction.models import Form, FormStatus
from extraction.services.forms import (
    create_form,
    create_form_from_template,
    delete_draft_form,
    new_form_version,
    publish_form,
    update_form,
)
from reviewflow.params import choice_param
from reviewflow.reviews.access import get_review_for
from reviewflow.reviews.models import Role


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
        wanted = choice_param(
            self.request.query_params,
            "status",
            choices=FormStatus.values,
            default="",
            strict=True,
        )
        if wanted:
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
            form = create_form_from_template(
                review=access.review, actor=access.user, template=str(data["template"])
            )
        else:
            form = create_form(review=access.review, actor=access.user, spec=_spec_from(data))
        return Response(FormSerializer(form).data, status=status.HTTP_201_CREATED)


class FormDetailView(GenericAPIView):
    serializer_class = FormSerializer

    def get(self, request: Request, slug: str, form_id: int) -> Response:
        access = get_review_for(request.user, slug)
        return Response(FormSerializer(get_form(access, form_id)).data)

    @extend_schema(request=FormWriteSerializer, responses={200: FormSerializer})
    def put(self, request: Request, slug: str, form_id: int) -> Response:
        """Replace a draft's definition (published versions are frozen)."""
        access = get_review_for(request.user, slug, role=Role.OWNER)
        form = update_form(
            form=get_form(access, form_id), actor=access.user, spec=_spec_from(request.data)
        )
        return Response(FormSerializer(form).data)

    @extend_schema(request=FormWriteSerializer, responses={200: FormSerializer})
    def patch(self, request: Request, slug: str, form_id: int) -> Response:
        return self.put(request, slug, form_id)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, slug: str, form_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        delete_draft_form(form=get_form(access, form_id), actor=access.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FormPublishView(GenericAPIView):
    serializer_class = FormSerializer

    @extend_schema(request=None, responses={200: FormSerializer})
    def post(self, request: Request, slug: str, form_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        form = publish_form(form=get_form(access, form_id), actor=access.user)
        return Response(FormSerializer(form).data)


class FormNewVersionView(GenericAPIView):
    serializer_class = FormSerializer

    @extend_schema(request=None, responses={201: FormSerializer})
    def post(self, request: Request, slug: str, form_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        form = new_form_version(form=get_form(access, form_id), actor=access.user)
        return Response(FormSerializer(form).data, status=status.HTTP_201_CREATED)
