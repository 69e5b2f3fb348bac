"""REST API of screening: next record and votes (same services as the pages; conflicts are
in ``api/adjudication.py``)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from reviewflow.keyset import Keyset, KeysetPagination
from reviewflow.reviews.access import get_review_for
from reviewflow.reviews.models import Role
from screening.api.questions import answers_field
from screening.models import Decision, Record, Stage, Vote
from screening.selectors.questions import my_answers
from screening.services.questions import cast_vote_with_answers
from screening.services.screening.assignment import next_record
from screening.services.screening.votes import others_votes, undo_last_vote


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
    answers = answers_field(required=False)


class OwnVoteSerializer(VoteSerializer):
    """One of the caller's votes, with the caller's answers to the stage's questions on
    its record (others' votes never carry answers here)."""

    answers = serializers.SerializerMethodField(
        help_text="The caller's answers on the vote's record at its stage, keyed by "
        'question id: {"12": "yes"}.'
    )

    class Meta(VoteSerializer.Meta):
        fields = [*VoteSerializer.Meta.fields, "answers"]

    def get_answers(self, obj: Vote) -> dict[str, str]:
        found: dict[int, dict[str, str]] = self.context.get("answers", {})
        return found.get(obj.record_id, {})


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


class OwnVotePagination(KeysetPagination):
    # Oldest first (``Vote.Meta.ordering``), walked by ``vote_history`` within the review,
    # stage and reviewer: a reviewer's 100,000th vote is read without an OFFSET (#25).
    keyset = Keyset(("created_at", "id"))


class VoteListView(GenericAPIView):
    """The caller's own votes at a stage (with their answers); POST casts one."""

    serializer_class = OwnVoteSerializer
    pagination_class = OwnVotePagination

    @extend_schema(operation_id="votes_list", responses=OwnVoteSerializer(many=True))
    def get(self, request: Request, slug: str, stage: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        votes = Vote.objects.filter(
            review=access.review, stage=_stage(stage), reviewer=access.user
        ).select_related("reviewer")
        page = self.paginate_queryset(votes)
        answers = my_answers(
            access.review, access.user, stage=stage, record_ids=[v.record_id for v in page or []]
        )
        return self.get_paginated_response(
            OwnVoteSerializer(page, many=True, context={"answers": answers}).data
        )

    @extend_schema(request=VoteCreateSerializer, responses={201: OwnVoteSerializer})
    def post(self, request: Request, slug: str, stage: str) -> Response:
        """Cast the caller's vote, with their answers to the stage's questions (``answers``,
        saved in the vote's transaction). An exclusion without a ``reason`` takes the
        reason of the first question (in the stage's order) answered "no" that proposes
        one of the stage's reasons."""
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        data = VoteCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        # The service finds the record (or says there is none) in its one locking query.
        vote = cast_vote_with_answers(
            review=access.review,
            record=v["record"],
            reviewer=access.user,
            stage=_stage(stage),
            decision=v["decision"],
            reason=v["reason"],
            note=v["note"],
            answers=v.get("answers"),
        )
        answers = my_answers(access.review, access.user, stage=stage, record_ids=[vote.record_id])
        return Response(
            OwnVoteSerializer(vote, context={"answers": answers}).data,
            status=status.HTTP_201_CREATED,
        )


class UndoVoteView(GenericAPIView):
    serializer_class = VoteSerializer

    @extend_schema(request=None, responses={200: VoteSerializer})
    def post(self, request: Request, slug: str, stage: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        vote = undo_last_vote(review=access.review, reviewer=access.user, stage=_stage(stage))
        return Response(VoteSerializer(vote).data)
