"""REST API for searches and records (same services as the pages)."""

from __future__ import annotations

import json
from typing import Any

from django.http import QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView, ListAPIView, RetrieveAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from reviewflow.errors import ReviewflowError
from reviewflow.keyset import KeysetPagination
from reviewflow.params import MAX_ID, choice_param
from reviewflow.reviews.access import get_review_for, signed_in_user
from reviewflow.reviews.models import Role
from screening import bibliography
from screening.importers import ENCODINGS, FORMATS
from screening.models import Answer, Decision, OtherMethod, Record, Search, SourceType, Stage
from screening.selectors.identification import STATUSES
from screening.selectors.labels import labels_of
from screening.selectors.records import (
    EXPORT_FORMATS,
    MAX_IDS,
    RECORD_ORDER,
    bulk_label_message,
    export_selection,
    filtered_records,
    ids_from,
    parse_ids,
    parse_record_filters,
    record_screening,
    selected_records,
    stage_columns,
    with_list_annotations,
)
from screening.services import identification
from screening.services.labels import apply_label_in_bulk, remove_label_in_bulk


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


class VoteShownSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    record = serializers.IntegerField(source="record_id")
    reviewer = serializers.CharField(source="reviewer.username")
    decision = serializers.CharField()
    reason = serializers.CharField()
    note = serializers.CharField()
    created_at = serializers.DateTimeField()


class OutcomeShownSerializer(serializers.Serializer):
    decision = serializers.CharField()
    reason = serializers.CharField()
    kind = serializers.CharField()
    decided_by = serializers.CharField(source="decided_by.username", default=None, allow_null=True)
    note = serializers.CharField(help_text="The adjudicator's note")
    created_at = serializers.DateTimeField()


class StageScreeningSerializer(serializers.Serializer):
    stage = serializers.CharField()
    screened_here = serializers.BooleanField()
    votes = VoteShownSerializer(many=True, help_text="The votes the caller may see")
    hidden_votes = serializers.IntegerField(
        source="hidden", help_text="How many other votes are in, hidden (blind screening)"
    )
    needed = serializers.IntegerField()
    outcome = OutcomeShownSerializer(allow_null=True)
    conflict = serializers.IntegerField(
        source="conflict.pk", default=None, allow_null=True, help_text="The open conflict's id"
    )


class RecordDetailSerializer(RecordSerializer):
    screening = serializers.SerializerMethodField(
        help_text="Per stage, the votes the caller may see (blind screening), the outcome "
        "and the open conflict"
    )

    class Meta(RecordSerializer.Meta):
        fields = [*RecordSerializer.Meta.fields, *bibliography.DETAIL_ONLY, "raw", "screening"]

    @extend_schema_field(StageScreeningSerializer(many=True))
    def get_screening(self, obj: Record) -> list[dict[str, Any]]:
        stages = self.context.get("screening", [])
        return list(StageScreeningSerializer(stages, many=True).data)


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


RECORD_FILTER_PARAMETERS = [
    OpenApiParameter("q", str, description="Words to find in title, authors, journal, …"),
    OpenApiParameter("search", int, description="Only records of this search"),
    OpenApiParameter("year", int),
    OpenApiParameter(
        "duplicates",
        str,
        description="exclude: only records that go on to screening; only: merged duplicates",
    ),
    OpenApiParameter("stage", str, enum=Stage.values, description="The stage of the filters"),
    OpenApiParameter(
        "status",
        str,
        enum=list(STATUSES),
        description="Where records stand at ``stage`` for the caller (needs ``stage``)",
    ),
    OpenApiParameter(
        "reason",
        str,
        description="With status=excluded, the outcome's reason; otherwise a vote's reason "
        "the caller may see",
    ),
    OpenApiParameter(
        "label",
        int,
        description="Records carrying this label, as far as the caller may see (blind screening)",
    ),
    OpenApiParameter("question", int, description="A screening question's id (with answer)"),
    OpenApiParameter(
        "answer",
        str,
        enum=Answer.values,
        description="Records where ``question`` was answered so (by ``reviewer`` when given), "
        "as far as the caller may see the answer",
    ),
    OpenApiParameter(
        "reviewer",
        str,
        description="A username: records with that reviewer's vote (at ``stage``), as far as "
        "the caller may see it: another reviewer's only on records settled or in conflict, "
        "or at a stage that is not blind",
    ),
    OpenApiParameter(
        "decision",
        str,
        enum=Decision.values,
        description="Records with a vote of this decision the caller may see",
    ),
]


class StageCellSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["not_screened", "waiting", "conflict", "included", "excluded"],
        allow_null=True,
        help_text="null: the record is not screened at this stage",
    )
    text = serializers.CharField()
    votes = serializers.IntegerField(help_text="How many votes are in (never whose or what)")
    needed = serializers.IntegerField()
    reason = serializers.CharField(help_text="The outcome's exclusion reason")
    my_vote = serializers.DictField(allow_null=True, help_text="The caller's own vote")


class RecordListSerializer(RecordSerializer):
    screening = serializers.SerializerMethodField(
        help_text="Per stage, where the record stands as the caller may see it"
    )

    class Meta(RecordSerializer.Meta):
        fields = [*RecordSerializer.Meta.fields, "screening"]

    @extend_schema_field(serializers.DictField(child=StageCellSerializer()))
    def get_screening(self, obj: Record) -> dict[str, Any]:
        cells = self.context.get("columns", {}).get(obj.pk, {})
        return {stage: cell.as_dict() for stage, cell in cells.items()}


class RecordPagination(KeysetPagination):
    keyset = RECORD_ORDER  # the records list's order, as on the page


@extend_schema(parameters=RECORD_FILTER_PARAMETERS)
class RecordListView(ListAPIView):
    serializer_class = RecordListSerializer
    pagination_class = RecordPagination  # by key, never OFFSET: deep pages cost no more (#25)

    def get_queryset(self) -> Any:
        access = get_review_for(self.request.user, self.kwargs["slug"])
        self.access = access
        filters = parse_record_filters(self.request.query_params, review=access.review, strict=True)
        return (
            with_list_annotations(filtered_records(access.review, access.user, filters))
            .select_related("search")
            .defer("raw", *bibliography.DETAIL_ONLY)
            .order_by(*RECORD_ORDER.order)
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        rows = list(page or [])
        columns = stage_columns(self.access.review, self.access.user, rows)
        data = RecordListSerializer(rows, many=True, context={"columns": columns}).data
        return self.get_paginated_response(data)


class BulkSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["label", "unlabel"])
    label = serializers.IntegerField(  # type: ignore[assignment]
        min_value=1, max_value=MAX_ID, help_text="A label's id"
    )
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        max_length=MAX_IDS,
        help_text=f"The records, by id (at most {MAX_IDS}); or give ``filter``",
    )
    filter = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text="The records list's filters (as its query parameters): every record they "
        "match, as far as the caller may see",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("ids" in attrs) == ("filter" in attrs):
            raise serializers.ValidationError("Give either ids or filter.")
        return attrs


class BulkResultSerializer(serializers.Serializer):
    action = serializers.CharField()
    label = serializers.IntegerField()  # type: ignore[assignment]
    records = serializers.IntegerField(help_text="How many records were selected")
    changed = serializers.IntegerField(
        help_text="How many got the label (label) or lost the caller's (unlabel)"
    )
    message = serializers.CharField()


class RecordBulkView(GenericAPIView):
    """Put a label on many records as the caller's, or take the caller's own off: all or
    nothing, one audit event."""

    serializer_class = BulkSerializer

    @extend_schema(request=BulkSerializer, responses={200: BulkResultSerializer})
    def post(self, request: Request, slug: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        given = BulkSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        v = given.validated_data
        label = labels_of(access.review).filter(pk=v["label"]).first()
        if label is None:
            raise ReviewflowError("label: no such label in this review.", field="label")
        if "ids" in v:
            ids = parse_ids(v["ids"])
            how = "ids"
            selected = selected_records(access.review, access.user, ids=ids, filters=None)
        else:
            params = QueryDict(mutable=True)
            params.update(v["filter"])
            filters = parse_record_filters(params, review=access.review, strict=True)
            how = f"filter: {filters.query()}" if filters.query() else "every record"
            selected = selected_records(access.review, access.user, ids=None, filters=filters)
        service = apply_label_in_bulk if v["action"] == "label" else remove_label_in_bulk
        n, changed = service(
            review=access.review,
            records=selected,
            label=label,
            user=signed_in_user(request),
            selection=how,
        )
        return Response(
            {
                "action": v["action"],
                "label": label.pk,
                "records": n,
                "changed": changed,
                "message": bulk_label_message(v["action"], label.name, n, changed),
            }
        )


class RecordExportView(GenericAPIView):
    """The records the filters match (or ``ids``), as RIS, CSV or BibTeX."""

    serializer_class = None

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # ``format`` names the export's format here, not DRF's renderer: errors are JSON.
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format", str, enum=list(EXPORT_FORMATS), description="csv by default"
            ),
            OpenApiParameter("ids", str, description="Record ids, 1,2,3 (instead of filters)"),
            *RECORD_FILTER_PARAMETERS,
        ],
        responses={
            (200, content_type): OpenApiTypes.STR for content_type, _ in EXPORT_FORMATS.values()
        },
    )
    def get(self, request: Request, slug: str) -> StreamingHttpResponse:
        access = get_review_for(request.user, slug)
        params = request.query_params
        fmt = choice_param(params, "format", choices=EXPORT_FORMATS, default="csv", strict=True)
        given_ids = [text for text in ids_from(params) if text.strip()]
        if given_ids:
            selected = selected_records(
                access.review, access.user, ids=parse_ids(given_ids), filters=None
            )
        else:
            filters = parse_record_filters(params, review=access.review, strict=True)
            selected = selected_records(access.review, access.user, ids=None, filters=filters)
        chunks, content_type, extension = export_selection(
            access.review, access.user, selected, fmt
        )
        response = StreamingHttpResponse(chunks, content_type=f"{content_type}; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{slug}-records.{extension}"'
        return response


class RecordDetailView(RetrieveAPIView):
    serializer_class = RecordDetailSerializer

    def get_object(self) -> Record:
        access = get_review_for(self.request.user, self.kwargs["slug"])
        record = get_object_or_404(
            Record.objects.for_review(access.review).select_related("search"),
            pk=self.kwargs["record_id"],
        )
        self.screening = record_screening(access.review, access.user, record)
        return record

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "screening": getattr(self, "screening", [])}
