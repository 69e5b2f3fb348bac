"""REST API of screening: next record, votes, conflicts (same services as the pages)."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from reviewflow.params import choice_param
from reviewflow.reviews.access import get_review_for
from reviewflow.reviews.models import Role
from screening.models import Conflict, Decision, Record, Stage, Vote
from screening.services.screening.assignment import next_record
from screening.services.screening.conflicts import resolve_conflict
from screening.services.screening.votes import cast_vote, others_votes, undo_last_vote


def _stage(stage: str) -> str:
    if stage not in Stage.values:
        raise Http404("No such stage.")
    return stage


class VoteSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)
    blind_decision = serializers.ChoiceField(
        choices=Decision.choices,
        allow_blank=True,
        read_only=True,
        help_text="For a vote cast after the reveal: the same reviewer's first, blind "
        "decision on the record (empty when they had none, and for a blind vote); agreement "
        "statistics count this one.",
    )

    class Meta:
        model = Vote
        fields = [
            "id",
            "record",
            "stage",
            "reviewer",
            "decision",
            "reason",
            "note",
            "created_at",
            "after_reveal",
            "blind_decision",
            "blind_reason",
            "blind_note",
        ]
        read_only_fields = ["after_reveal", "blind_reason", "blind_note"]
        extra_kwargs = {
            "after_reveal": {
                "help_text": "Cast again after the record's votes were shown (taken back "
                "once it was settled or in conflict): not blind. A vote that differs from "
                "its reviewer's blind vote sends the record to an adjudicator."
            },
        }


class ScreenRecordSerializer(serializers.ModelSerializer):
    source = serializers.CharField(source="search.source")  # type: ignore[assignment]
    other_votes = VoteSerializer(
        many=True,
        read_only=True,
        help_text="Other reviewers' votes on this record: only at a stage that is not blind; "
        "always empty at a blind stage.",
    )

    class Meta:
        model = Record
        fields = [
            "id",
            "title",
            "abstract",
            "authors",
            "year",
            "journal",
            "volume",
            "issue",
            "pages",
            "doi",
            "pmid",
            "keywords",
            "source",
            "other_votes",
        ]


class VoteCreateSerializer(serializers.Serializer):
    record = serializers.IntegerField()
    decision = serializers.ChoiceField(choices=Decision.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class ConflictSerializer(serializers.ModelSerializer):
    votes = serializers.SerializerMethodField()
    title = serializers.CharField(source="record.title")

    class Meta:
        model = Conflict
        fields = ["id", "record", "title", "stage", "created_at", "resolved_at", "votes"]

    def get_votes(self, obj: Conflict) -> Any:
        return VoteSerializer(
            Vote.objects.filter(record_id=obj.record_id, stage=obj.stage).select_related(
                "reviewer"
            ),
            many=True,
        ).data


class ResolveSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[Decision.INCLUDE, Decision.EXCLUDE])
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class NextRecordView(GenericAPIView):
    serializer_class = ScreenRecordSerializer

    @extend_schema(responses={200: ScreenRecordSerializer, 204: None})
    def get(self, request: Request, slug: str, stage: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        record = next_record(review=access.review, stage=_stage(stage), reviewer=access.user)
        if record is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        record.other_votes = others_votes(  # type: ignore[attr-defined]
            review=access.review, stage=stage, record=record, reviewer=access.user
        )
        return Response(ScreenRecordSerializer(record).data)


class VoteListView(GenericAPIView):
    """The caller's own votes at a stage; POST casts one."""

    serializer_class = VoteSerializer

    @extend_schema(operation_id="votes_list", responses=VoteSerializer(many=True))
    def get(self, request: Request, slug: str, stage: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        votes = Vote.objects.filter(
            review=access.review, stage=_stage(stage), reviewer=access.user
        ).select_related("reviewer")
        page = self.paginate_queryset(votes)
        return self.get_paginated_response(VoteSerializer(page, many=True).data)

    @extend_schema(request=VoteCreateSerializer, responses={201: VoteSerializer})
    def post(self, request: Request, slug: str, stage: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        data = VoteCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        # The service finds the record (or says there is none) in its one locking query.
        vote = cast_vote(
            review=access.review,
            record=v["record"],
            reviewer=access.user,
            stage=_stage(stage),
            decision=v["decision"],
            reason=v["reason"],
            note=v["note"],
        )
        return Response(VoteSerializer(vote).data, status=status.HTTP_201_CREATED)


class UndoVoteView(GenericAPIView):
    serializer_class = VoteSerializer

    @extend_schema(request=None, responses={200: VoteSerializer})
    def post(self, request: Request, slug: str, stage: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        vote = undo_last_vote(review=access.review, reviewer=access.user, stage=_stage(stage))
        return Response(VoteSerializer(vote).data)


@extend_schema(
    parameters=[OpenApiParameter("stage", str, description="title-abstract or full-text")]
)
class ConflictListView(ListAPIView):
    """Open conflicts (with every vote: all reviewers of these records have voted)."""

    serializer_class = ConflictSerializer

    def get_queryset(self) -> Any:
        access = get_review_for(self.request.user, self.kwargs["slug"], role=Role.REVIEWER)
        qs = Conflict.objects.filter(review=access.review, resolved_at__isnull=True).select_related(
            "record"
        )
        stage = choice_param(
            self.request.query_params, "stage", choices=Stage.values, default="", strict=True
        )
        if stage:
            qs = qs.filter(stage=stage)
        return qs.order_by("created_at", "id")


class ConflictResolveView(GenericAPIView):
    serializer_class = ConflictSerializer

    @extend_schema(request=ResolveSerializer, responses={200: ConflictSerializer})
    def post(self, request: Request, slug: str, conflict_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        conflict = get_object_or_404(Conflict, pk=conflict_id, review=access.review)
        data = ResolveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        resolve_conflict(
            conflict=conflict,
            actor=access.user,
            decision=data.validated_data["decision"],
            reason=data.validated_data["reason"],
        )
        conflict.refresh_from_db()
        return Response(ConflictSerializer(conflict).data)
