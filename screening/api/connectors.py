"""REST API for saved database searches (``saved-searches/``) and their runs (same services
as the pages)."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from reviewflow.reviews.access import get_review_for, signed_in_user
from reviewflow.reviews.models import Role
from screening.models import ConnectorSource, SavedSearch, SavedSearchRun, Schedule, SearchMethod
from screening.services import connectors


class SavedSearchRunSerializer(serializers.ModelSerializer):
    search_url = serializers.SerializerMethodField()
    imported_count = serializers.SerializerMethodField()
    explanation = serializers.SerializerMethodField(
        help_text="Sentences accounting for every difference between the count the database "
        "reported and the count imported."
    )

    class Meta:
        model = SavedSearchRun
        fields = [
            "id",
            "status",
            "created_at",
            "started_at",
            "finished_at",
            "query_sent",
            "reported_count",
            "fetched_count",
            "known_count",
            "imported_count",
            "scheduled",
            "search",
            "search_url",
            "failure",
            "explanation",
        ]

    def get_search_url(self, obj: SavedSearchRun) -> str | None:
        if obj.search_id is None:
            return None
        return reverse("api-search", args=[obj.saved_search.review.slug, obj.search_id])

    def get_imported_count(self, obj: SavedSearchRun) -> int | None:
        return obj.search.records_imported if obj.search is not None else None

    def get_explanation(self, obj: SavedSearchRun) -> list[str]:
        return connectors.explain_run(obj)


class SavedSearchSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    runs = SavedSearchRunSerializer(many=True, read_only=True)

    class Meta:
        model = SavedSearch
        fields = [
            "id",
            "url",
            "source",
            "method",
            "query",
            "date_from",
            "date_to",
            "created_at",
            "last_run_at",
            "schedule",
            "next_run_at",
            "runs",
        ]
        read_only_fields = ["next_run_at"]

    def get_url(self, obj: SavedSearch) -> str:
        return reverse("api-saved-search", args=[obj.review.slug, obj.pk])


class SavedSearchCreateSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=ConnectorSource.choices)  # type: ignore[assignment]
    query = serializers.CharField(
        max_length=connectors.MAX_QUERY_LENGTH, required=False, allow_blank=True, default=""
    )
    method = serializers.ChoiceField(
        choices=SearchMethod.choices,
        required=False,
        allow_blank=True,
        default="",
        help_text="Empty for a query search; references, cited-by or citations for citation "
        "searching of the included studies (OpenAlex; source and query are then ignored).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs["method"] and not attrs["query"].strip():
            raise serializers.ValidationError({"query": ["Write the search query."]})
        return attrs

    date_from = serializers.DateField(required=False, allow_null=True, default=None)
    date_to = serializers.DateField(required=False, allow_null=True, default=None)


class ScheduleSerializer(serializers.Serializer):
    schedule = serializers.ChoiceField(
        choices=Schedule.choices,
        allow_blank=True,
        help_text="weekly, monthly, or empty for only by hand.",
    )


class RunQueuedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    url = serializers.CharField(help_text="The saved search, whose runs show this run's progress.")


def _saved_searches(review: Any) -> Any:
    runs = SavedSearchRun.objects.with_counts().select_related("saved_search__review")
    return (
        SavedSearch.objects.filter(review=review)
        .select_related("review")
        .prefetch_related(Prefetch("runs", queryset=runs))
    )


class SavedSearchListView(GenericAPIView):
    serializer_class = SavedSearchSerializer
    pagination_class = None  # a review keeps a handful of saved searches

    @extend_schema(operation_id="saved_searches_list", responses=SavedSearchSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        access = get_review_for(request.user, slug)
        return Response(SavedSearchSerializer(_saved_searches(access.review), many=True).data)

    @extend_schema(request=SavedSearchCreateSerializer, responses={201: SavedSearchSerializer})
    def post(self, request: Request, slug: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        data = SavedSearchCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        saved = connectors.create_saved_search(
            review=access.review, actor=signed_in_user(request), **data.validated_data
        )
        body = SavedSearchSerializer(_saved_searches(access.review).get(pk=saved.pk)).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["url"]})


class SavedSearchDetailView(GenericAPIView):
    serializer_class = SavedSearchSerializer

    def get(self, request: Request, slug: str, saved_search_id: int) -> Response:
        access = get_review_for(request.user, slug)
        saved = get_object_or_404(_saved_searches(access.review), pk=saved_search_id)
        return Response(SavedSearchSerializer(saved).data)

    @extend_schema(request=ScheduleSerializer, responses={200: SavedSearchSerializer})
    def patch(self, request: Request, slug: str, saved_search_id: int) -> Response:
        """Set the saved search's schedule (owners): ``{"schedule": "weekly"}``."""
        access = get_review_for(request.user, slug, role=Role.OWNER)
        saved = get_object_or_404(SavedSearch, pk=saved_search_id, review=access.review)
        data = ScheduleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        connectors.set_schedule(
            saved_search=saved,
            actor=signed_in_user(request),
            schedule=data.validated_data["schedule"],
        )
        return Response(SavedSearchSerializer(_saved_searches(access.review).get(pk=saved.pk)).data)


class SavedSearchRunView(GenericAPIView):
    serializer_class = RunQueuedSerializer

    @extend_schema(request=None, responses={202: RunQueuedSerializer})
    def post(self, request: Request, slug: str, saved_search_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        saved = get_object_or_404(SavedSearch, pk=saved_search_id, review=access.review)
        run = connectors.request_run(saved_search=saved, actor=signed_in_user(request))
        url = reverse("api-saved-search", args=[access.review.slug, saved.pk])
        run.refresh_from_db(fields=["status"])  # the task ran already when tasks run eagerly
        return Response(
            {"id": run.pk, "status": run.status, "url": url},
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": url},
        )
