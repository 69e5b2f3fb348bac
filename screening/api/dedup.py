"""API for deduplication: the queue of candidate pairs, deciding a pair, undoing a merge."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from reviewflow.keyset import Keyset, KeysetPagination
from reviewflow.params import choice_param
from reviewflow.reviews.access import get_review_for, signed_in_user
from reviewflow.reviews.models import Role
from screening.api.identification import RecordSerializer
from screening.models import DuplicatePair, PairDecision, Record
from screening.services import dedup


class PairRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = Record
        fields = [
            "id",
            "title",
            "authors",
            "year",
            "journal",
            "volume",
            "issue",
            "pages",
            "doi",
            "pmid",
            "search",
        ]


class DuplicatePairSerializer(serializers.ModelSerializer):
    record_a = PairRecordSerializer()
    record_b = PairRecordSerializer()
    explanation = serializers.CharField(
        read_only=True, help_text="Why the pair waits for a person, in one sentence."
    )

    class Meta:
        model = DuplicatePair
        fields = [
            "id",
            "record_a",
            "record_b",
            "score",
            "explanation",
            "reasons",
            "decision",
            "decided_at",
        ]


class ResolvePairSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["duplicate", "not_duplicate"])
    primary = serializers.IntegerField(required=False, allow_null=True, default=None)


class DuplicatePairPagination(KeysetPagination):
    keyset = Keyset(("-score", "id"))  # the queue's order: best first


@extend_schema(
    parameters=[
        OpenApiParameter(
            "decision", str, description="pending (default), auto, confirmed, separated or all"
        )
    ]
)
class DuplicateListView(ListAPIView):
    """Pairs the matching engine found; by default the ones waiting for a person."""

    serializer_class = DuplicatePairSerializer
    pagination_class = DuplicatePairPagination  # by key: deep pages cost no more (#25)

    def get_queryset(self) -> Any:
        access = get_review_for(self.request.user, self.kwargs["slug"])
        # Anything but a decision or "all" (a NUL byte too, which PostgreSQL refuses) is a 400.
        decision = choice_param(
            self.request.query_params,
            "decision",
            choices=[*PairDecision.values, "all"],
            default=PairDecision.PENDING.value,
            strict=True,
        )
        qs = DuplicatePair.objects.filter(review=access.review).select_related(
            "record_a", "record_b"
        )
        if decision != "all":
            qs = qs.filter(decision=decision)
        return qs.order_by("-score", "id")


class DuplicateResolveView(GenericAPIView):
    serializer_class = DuplicatePairSerializer

    @extend_schema(request=ResolvePairSerializer, responses={200: DuplicatePairSerializer})
    def post(self, request: Request, slug: str, pair_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        pair = get_object_or_404(DuplicatePair, pk=pair_id, review=access.review)
        data = ResolvePairSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pair = dedup.decide_pair(
            pair=pair,
            actor=signed_in_user(request),
            duplicate=data.validated_data["decision"] == "duplicate",
            primary_id=data.validated_data["primary"],
        )
        pair = DuplicatePair.objects.select_related("record_a", "record_b").get(pk=pair.pk)
        return Response(DuplicatePairSerializer(pair).data)


class RecordUnmergeView(GenericAPIView):
    serializer_class = RecordSerializer

    @extend_schema(request=None, responses={200: RecordSerializer})
    def post(self, request: Request, slug: str, record_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        record = get_object_or_404(Record.objects.for_review(access.review), pk=record_id)
        record = dedup.undo_merge(record=record, actor=signed_in_user(request))
        return Response(
            RecordSerializer(Record.objects.select_related("search").get(pk=record.pk)).data
        )
