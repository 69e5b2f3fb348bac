"""REST API of my votes at a stage: the history (newest first, searchable, paginated) and
a change of one of my votes while its record waits for other votes. The same selectors and
services as the pages; another reviewer's vote is a 404."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from reviewflow.keyset import KeysetPagination
from reviewflow.params import choice_param
from reviewflow.reviews.access import get_review_for
from reviewflow.reviews.models import Role
from screening.models import Decision, Stage, Vote
from screening.selectors.history import (
    HISTORY_ORDER,
    changeable,
    my_votes,
    status_of,
    with_standing,
)
from screening.services.screening.votes import change_vote


def _stage(stage: str) -> str:
    if stage not in Stage.values:
        raise Http404("No such stage.")
    return stage


class HistoryEntrySerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)
    title = serializers.CharField(source="record.title", read_only=True)
    status = serializers.SerializerMethodField(
        help_text="The record's standing at the stage: waiting (for other votes), "
        "settled-include, settled-exclude or conflict. Others' votes are never shown."
    )
    changeable = serializers.SerializerMethodField(
        help_text="Whether this vote may still be changed (PATCH the vote): its record "
        "waits for other votes, none of them shown yet."
    )

    class Meta:
        model = Vote
        fields = [
            "id",
            "record",
            "title",
            "reviewer",
            "stage",
            "decision",
            "reason",
            "note",
            "created_at",
            "after_reveal",
            "status",
            "changeable",
        ]

    def get_status(self, obj: Vote) -> str:
        return status_of(obj)

    def get_changeable(self, obj: Vote) -> bool:
        return changeable(obj)


class VoteChangeSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Decision.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class HistoryPagination(KeysetPagination):
    keyset = HISTORY_ORDER  # newest first, as the page


@extend_schema(
    parameters=[
        OpenApiParameter("q", str, description="A record id, or words of its title or authors"),
        OpenApiParameter("decision", str, description="include, exclude or maybe"),
    ]
)
class HistoryView(ListAPIView):
    """My votes at this stage, newest first, with each record's standing."""

    serializer_class = HistoryEntrySerializer
    pagination_class = HistoryPagination  # by key, never OFFSET: deep pages cost no more (#25)

    @extend_schema(operation_id="screening_history_list")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        access = get_review_for(self.request.user, self.kwargs["slug"], role=Role.REVIEWER)
        params = self.request.query_params
        decision = choice_param(
            params, "decision", choices=Decision.values, default="", strict=True
        )
        return my_votes(
            access.review,
            _stage(self.kwargs["stage"]),
            access.user,
            q=(params.get("q") or "")[:200],
            decision=decision,
        )


def _standing(vote: Vote) -> Vote:
    return with_standing(Vote.objects.filter(pk=vote.pk)).select_related("record", "reviewer").get()


class VoteDetailView(GenericAPIView):
    """One of my votes; PATCH changes it while its record waits for other votes (once the
    record is settled or in conflict: 409, undo it instead)."""

    serializer_class = HistoryEntrySerializer

    def _mine(self, request: Request, slug: str, stage: str, vote_id: int) -> tuple[Any, Vote]:
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        vote = get_object_or_404(
            Vote.objects.select_related("reviewer"),
            pk=vote_id,
            review=access.review,
            stage=_stage(stage),
            reviewer=access.user,
        )
        return access, vote

    @extend_schema(operation_id="screening_vote_retrieve", responses=HistoryEntrySerializer)
    def get(self, request: Request, slug: str, stage: str, vote_id: int) -> Response:
        _, vote = self._mine(request, slug, stage, vote_id)
        return Response(HistoryEntrySerializer(_standing(vote)).data)

    @extend_schema(request=VoteChangeSerializer, responses=HistoryEntrySerializer)
    def patch(self, request: Request, slug: str, stage: str, vote_id: int) -> Response:
        access, vote = self._mine(request, slug, stage, vote_id)
        data = VoteChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        change_vote(
            review=access.review,
            stage=vote.stage,
            reviewer=access.user,
            record=vote.record_id,
            decision=v["decision"],
            reason=v["reason"],
            note=v["note"],
        )
        return Response(HistoryEntrySerializer(_standing(vote)).data)
