"""REST API of open-access look-ups: start one (202 with the run's status URL), list them,
and follow one with each record's result. The same services as the open-access page."""

from __future__ import annotations

from typing import Any

from django.db.models import Count
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from reviewflow.reviews.access import get_review_for
from reviewflow.reviews.models import Role
from screening.models import OaOutcome, OaResult, OaRun
from screening.services.openaccess import run_counts, start_oa_run


class OaResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = OaResult
        fields = ["id", "record", "outcome", "source", "url", "licence", "version", "message"]


class OaCountsSerializer(serializers.Serializer):
    attached = serializers.IntegerField()
    not_found = serializers.IntegerField()
    failed = serializers.IntegerField()
    skipped = serializers.IntegerField()


class OaRunSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    percent = serializers.IntegerField(read_only=True)
    counts = serializers.SerializerMethodField(help_text="Records by outcome.")

    class Meta:
        model = OaRun
        fields = [
            "id",
            "url",
            "status",
            "percent",
            "records_total",
            "records_done",
            "attached",
            "counts",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_url(self, obj: OaRun) -> str:
        return reverse("api-oa-run", args=[obj.review.slug, obj.pk])

    @extend_schema_field(OaCountsSerializer)
    def get_counts(self, obj: OaRun) -> dict[str, int]:
        known = self.context.get("counts")  # a list's counts, read in one query
        return known[obj.pk] if known is not None else run_counts(obj)


class OaRunDetailSerializer(OaRunSerializer):
    results = serializers.SerializerMethodField()

    class Meta(OaRunSerializer.Meta):
        fields = [*OaRunSerializer.Meta.fields, "results"]

    @extend_schema_field(OaResultSerializer(many=True))
    def get_results(self, obj: OaRun) -> Any:
        return OaResultSerializer(obj.results.order_by("pk"), many=True).data


class OaRunListView(GenericAPIView):
    """The review's open-access look-ups, newest first; reviewers and owners start one
    (for every record at full text without a PDF; no body)."""

    serializer_class = OaRunSerializer
    pagination_class = None

    @extend_schema(operation_id="oa_runs_list", responses=OaRunSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        access = get_review_for(request.user, slug)
        runs = list(OaRun.objects.filter(review=access.review).select_related("review")[:100])
        counts = {run.pk: dict.fromkeys(OaOutcome.values, 0) for run in runs}
        rows = (
            OaResult.objects.filter(run__in=runs)
            .values_list("run_id", "outcome")
            .annotate(n=Count("id"))
            .order_by()
        )
        for run_id, outcome, n in rows:
            counts[run_id][outcome] = n
        return Response(OaRunSerializer(runs, many=True, context={"counts": counts}).data)

    @extend_schema(operation_id="oa_runs_create", request=None, responses={202: OaRunSerializer})
    def post(self, request: Request, slug: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        run = start_oa_run(review=access.review, actor=access.user)
        url = reverse("api-oa-run", args=[access.review.slug, run.pk])
        run.refresh_from_db()
        return Response(
            OaRunSerializer(run).data, status=status.HTTP_202_ACCEPTED, headers={"Location": url}
        )


class OaRunDetailView(GenericAPIView):
    """One look-up: its progress, counts and each record's result."""

    serializer_class = OaRunDetailSerializer

    def get(self, request: Request, slug: str, run_id: int) -> Response:
        access = get_review_for(request.user, slug)
        run = get_object_or_404(
            OaRun.objects.select_related("review"), pk=run_id, review=access.review
        )
        return Response(OaRunDetailSerializer(run).data)
