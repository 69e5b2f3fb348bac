"""REST API of adjudication: the open conflicts of a stage with everything an adjudicator
weighs (votes, answers, labels, how many comments), one conflict, and resolving it (the same
selectors and service as the desk)."""

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
from reviewflow.reviews.access import ReviewAccess, get_review_for
from reviewflow.reviews.models import Role
from screening.api.screening import VoteSerializer
from screening.models import Conflict, Decision, Outcome, OutcomeKind, Stage
from screening.selectors.adjudication import ConflictDetail, conflict_details
from screening.services.screening.conflicts import resolve_conflict
from screening.services.screening.votes import vote_changed_after_reveal


class ConflictAnswerSerializer(serializers.Serializer):
    question = serializers.IntegerField(source="question_id")
    text = serializers.CharField(source="question.text")
    reviewer = serializers.CharField(source="reviewer.username")
    answer = serializers.CharField()


class ConflictLabelSerializer(serializers.Serializer):
    label = serializers.IntegerField(source="label_id")  # type: ignore[assignment]
    name = serializers.CharField(source="label.name")
    applied_by = serializers.CharField(source="applied_by.username")
    stage = serializers.ChoiceField(choices=Stage.choices)


class OutcomeSerializer(serializers.ModelSerializer):
    decided_by = serializers.CharField(source="decided_by.username", allow_null=True, default=None)
    kind = serializers.ChoiceField(choices=OutcomeKind.choices)

    class Meta:
        model = Outcome
        fields = ["decision", "reason", "note", "kind", "decided_by"]


class ConflictSerializer(serializers.Serializer):
    """A conflict as the adjudicator sees it (read from a ``ConflictDetail``)."""

    id = serializers.IntegerField(source="conflict.id")
    record = serializers.IntegerField(source="conflict.record_id")
    title = serializers.CharField(source="conflict.record.title")
    stage = serializers.ChoiceField(source="conflict.stage", choices=Stage.choices)
    created_at = serializers.DateTimeField(source="conflict.created_at")
    resolved_at = serializers.DateTimeField(source="conflict.resolved_at", allow_null=True)
    votes = VoteSerializer(
        many=True,
        help_text="Every vote on the record at the conflict's stage, with reason and note "
        "(a vote cast again after the reveal also carries its reviewer's blind vote).",
    )
    answers = ConflictAnswerSerializer(
        many=True,
        source="answer_rows",
        help_text="Each reviewer's answers to the stage's screening questions on the record.",
    )
    labels = ConflictLabelSerializer(many=True, help_text="The labels on the record.")
    comment_count = serializers.IntegerField(help_text="Comments on the record's discussion.")
    outcome = OutcomeSerializer(
        allow_null=True, help_text="The adjudication, once the conflict is resolved."
    )


class ResolveSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[Decision.INCLUDE, Decision.EXCLUDE])
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=200,
        help_text="One of the stage's exclusion reasons: required to exclude at full text "
        "(and at title/abstract where the stage asks for reasons).",
    )
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="The adjudicator's note: why the conflict was decided so.",
    )


def _detail(conflict: Conflict, access: ReviewAccess) -> ConflictDetail:
    (detail,) = conflict_details(
        [conflict],
        review=access.review,
        user=access.user,
        changed_vote=vote_changed_after_reveal,
        with_outcomes=True,
    )
    return detail


class ConflictPagination(KeysetPagination):
    keyset = Keyset(("created_at", "id"))  # oldest first


@extend_schema(
    parameters=[OpenApiParameter("stage", str, description="title-abstract or full-text")]
)
class ConflictListView(ListAPIView):
    """Open conflicts, oldest first, each with every vote (all reviewers of these records
    have voted), the reviewers' answers, the labels and the number of comments: a fixed
    number of queries per page."""

    serializer_class = ConflictSerializer
    pagination_class = ConflictPagination  # by key: deep pages cost no more (#25)

    def get_queryset(self) -> Any:
        self.access = get_review_for(self.request.user, self.kwargs["slug"])
        qs = Conflict.objects.filter(
            review=self.access.review, resolved_at__isnull=True
        ).select_related("record")
        stage = choice_param(
            self.request.query_params, "stage", choices=Stage.values, default="", strict=True
        )
        if stage:
            qs = qs.filter(stage=stage)
        return qs.order_by("created_at", "id")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        details = conflict_details(
            list(page or []),
            review=self.access.review,
            user=self.access.user,
            changed_vote=vote_changed_after_reveal,
        )
        return self.get_paginated_response(ConflictSerializer(details, many=True).data)


class ConflictDetailView(GenericAPIView):
    """One conflict, open or resolved (then with its outcome)."""

    serializer_class = ConflictSerializer

    def get(self, request: Request, slug: str, conflict_id: int) -> Response:
        access = get_review_for(request.user, slug)
        conflict = get_object_or_404(
            Conflict.objects.select_related("record"),
            pk=conflict_id,
            review=access.review,
        )
        return Response(ConflictSerializer(_detail(conflict, access)).data)


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
            note=data.validated_data["note"],
        )
        conflict = Conflict.objects.select_related("record").get(pk=conflict.pk)
        return Response(ConflictSerializer(_detail(conflict, access)).data)
