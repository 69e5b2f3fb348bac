"""REST API for searches and records (same services as the pages)."""

from __future__ import annotations

import json
from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView, ListAPIView, RetrieveAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from reviewflow.errors import ReviewflowError
from reviewflow.params import parse_int, text_param
from reviewflow.reviews.access import get_review_for, signed_in_user
from reviewflow.reviews.models import Role
from screening import bibliography
from screening.importers import ENCODINGS, FORMATS
from screening.models import OtherMethod, Record, Search, SourceType
from screening.selectors.identification import filter_records
from screening.selectors.labels import filter_by_label
from screening.services import identification


class SearchSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    dedup_pending = serializers.BooleanField(
        read_only=True, help_text="Imported, not yet compared with the review's other records."
    )

    class Meta:
        model = Search
        fields = [
            "id",
            "url",
            "source",
            "source_type",
            "other_method",
            "search_date",
            "search_string",
            "filename",
            "file_size",
            "format",
            "encoding",
            "status",
            "percent",
            "records_read",
            "records_imported",
            "records_rejected",
            "errors",
            "warnings",
            "failure",
            "dedup_pending",
            "supersedes",
            "created_at",
            "finished_at",
        ]

    def get_url(self, obj: Search) -> str:
        return reverse("api-search", args=[obj.review.slug, obj.pk])


class SearchUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    source = serializers.CharField(max_length=120)  # type: ignore[assignment]
    source_type = serializers.ChoiceField(choices=SourceType.choices, default=SourceType.DATABASE)
    other_method = serializers.ChoiceField(
        choices=OtherMethod.choices, required=False, allow_blank=True, default=""
    )
    search_date = serializers.DateField(required=False, allow_null=True, default=None)
    search_string = serializers.CharField(required=False, allow_blank=True, default="")
    format = serializers.ChoiceField(choices=["auto", *FORMATS], default="auto")
    encoding = serializers.ChoiceField(
        choices=["auto", *ENCODINGS],
        default="auto",
        help_text="The file's text encoding; auto detects it from the content.",
    )
    column_map = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text='JSON object mapping column names to fields, e.g. {"Article Title": "title"}',
    )
    supersedes = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        help_text="The id of the earlier search this file is a new run of: it replaces that "
        "search in every count. Without it, a file already imported is refused (409).",
    )

    def validate_column_map(self, value: str) -> dict[str, str]:
        if not value.strip():
            return {}
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise serializers.ValidationError(f"not valid JSON: {exc.msg}") from None
        if not isinstance(parsed, dict):
            raise serializers.ValidationError("must be a JSON object")
        return {str(k): str(v) for k, v in parsed.items()}


class SearchQueuedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    url = serializers.CharField()
    task_sent = serializers.BooleanField(
        help_text="False when the task queue was unreachable: the search is saved and its "
        "import starts when the queue is back."
    )
    message = serializers.CharField()


class RecordSerializer(serializers.ModelSerializer):
    search = serializers.IntegerField(source="search_id")
    source = serializers.CharField(source="search.source")  # type: ignore[assignment]
    record_id = serializers.CharField(source="source_record_id")

    class Meta:
        model = Record
        # The listed bibliographic fields; a record's detail adds the others.
        fields = [
            "id",
            *bibliography.LISTED,
            "incomplete",
            "search",
            "source",
            "record_id",
            "position",
            "line",
            "duplicate_of",
            "merge_kind",
        ]


class RecordDetailSerializer(RecordSerializer):
    class Meta(RecordSerializer.Meta):
        fields = [*RecordSerializer.Meta.fields, *bibliography.DETAIL_ONLY, "raw"]


class SearchListView(GenericAPIView):
    serializer_class = SearchSerializer
    pagination_class = None  # every search, in one list
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(operation_id="searches_list", responses=SearchSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        access = get_review_for(request.user, slug)
        searches = Search.objects.for_review(access.review).select_related("review")
        return Response(SearchSerializer(searches, many=True).data)

    @extend_schema(request=SearchUploadSerializer, responses={202: SearchQueuedSerializer})
    def post(self, request: Request, slug: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        data = SearchUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        search = identification.create_search(
            review=access.review,
            actor=signed_in_user(request),
            file=v["file"],
            filename=v["file"].name,
            source=v["source"],
            source_type=v["source_type"],
            other_method=v["other_method"],
            search_date=v["search_date"],
            search_string=v["search_string"],
            fmt=v["format"],
            encoding=v["encoding"],
            column_map=v["column_map"],
            supersedes=v["supersedes"],
        )
        url = reverse("api-search", args=[access.review.slug, search.pk])
        return Response(
            {
                "id": search.pk,
                "status": search.status,
                "url": url,
                "task_sent": not search.import_deferred,
                "message": identification.IMPORT_DEFERRED
                if search.import_deferred
                else f"{search.filename} is queued for import.",
            },
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": url},
        )


class SearchDetailView(GenericAPIView):
    serializer_class = SearchSerializer

    def get(self, request: Request, slug: str, search_id: int) -> Response:
        access = get_review_for(request.user, slug)
        search = get_object_or_404(
            Search.objects.select_related("review"), pk=search_id, review=access.review
        )
        return Response(SearchSerializer(search).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, slug: str, search_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        search = get_object_or_404(Search, pk=search_id, review=access.review)
        identification.delete_search(search=search, actor=signed_in_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    parameters=[
        OpenApiParameter("q", str, description="Words to find in title, authors, journal, …"),
        OpenApiParameter("search", int, description="Only records of this search"),
        OpenApiParameter("year", int),
        OpenApiParameter(
            "duplicates",
            str,
            description="exclude: only records that go on to screening; only: merged duplicates",
        ),
    ]
)
class RecordListView(ListAPIView):
    serializer_class = RecordSerializer

    def get_queryset(self) -> Any:
        access = get_review_for(self.request.user, self.kwargs["slug"])
        params = self.request.query_params
        qs = (
            filter_records(
                Record.objects.for_review(access.review),
                q=text_param(params, "q"),
                search=text_param(params, "search"),
                year=text_param(params, "year"),
                duplicates=text_param(params, "duplicates"),
            )
            .select_related("search")
            .defer("raw", *bibliography.DETAIL_ONLY)
        )
        if label := text_param(params, "label"):
            # Records carrying the label as far as the caller may see (blind screening).
            label_id = parse_int(label, min_value=1)
            if label_id is None:
                raise ReviewflowError("label: give a label's id, a whole number.", field="label")
            qs = filter_by_label(qs, review=access.review, user=access.user, label=label_id)
        return qs


class RecordDetailView(RetrieveAPIView):
    serializer_class = RecordDetailSerializer

    def get_object(self) -> Record:
        access = get_review_for(self.request.user, self.kwargs["slug"])
        return get_object_or_404(
            Record.objects.for_review(access.review).select_related("search"),
            pk=self.kwargs["record_id"],
        )
