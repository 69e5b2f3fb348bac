"""REST API of screening questions: a stage's checklist (every member reads it, owners
write it) and the answers on one record (the caller's own are set with PUT; others' show
under the rule of votes). The same services as the pages; votes carry answers too
(``POST screening/{stage}/votes/`` with ``"answers"``)."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from reviewflow.params import choice_param
from reviewflow.reviews.access import get_review_for
from reviewflow.reviews.models import Role
from screening.models import Answer, QuestionAnswer, Record, ScreeningQuestion, Stage
from screening.selectors.questions import answers_visible_to, questions_of
from screening.services import questions as services


def _stage(stage: str) -> str:
    if stage not in Stage.values:
        raise Http404("No such stage.")
    return stage


class QuestionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScreeningQuestion
        fields = ["id", "stage", "text", "order", "exclusion_reason"]
        extra_kwargs = {
            "exclusion_reason": {
                "help_text": "The exclusion reason a “no” proposes (one of the stage's "
                "reasons; empty for none)."
            }
        }


class QuestionWriteSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=1000, required=False)
    exclusion_reason = serializers.CharField(max_length=200, required=False, allow_blank=True)
    order = serializers.IntegerField(min_value=0, max_value=32767, required=False)


class AnswerSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)
    stage = serializers.CharField(source="question.stage", read_only=True)

    class Meta:
        model = QuestionAnswer
        fields = ["id", "record", "question", "stage", "reviewer", "answer", "updated_at"]


def answers_field(**kwargs: Any) -> serializers.DictField:
    """The ``answers`` of a request: yes, no or unclear per question id; empty or null
    clears one."""
    return serializers.DictField(
        child=serializers.ChoiceField(
            choices=[*Answer.values, ""], allow_blank=True, allow_null=True
        ),
        help_text="The caller's answers, keyed by question id: "
        '{"12": "yes", "13": "no", "14": "unclear"}; an empty answer (or null) clears one, '
        "questions not named stay as they were.",
        **kwargs,
    )


class AnswersWriteSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices=Stage.choices)
    answers = answers_field()


class QuestionListView(GenericAPIView):
    """The stage's questions, in order (every member); owners add one (POST)."""

    serializer_class = QuestionSerializer
    pagination_class = None

    @extend_schema(operation_id="questions_list", responses=QuestionSerializer(many=True))
    def get(self, request: Request, slug: str, stage: str) -> Response:
        access = get_review_for(request.user, slug)
        questions = questions_of(access.review, _stage(stage))
        return Response(QuestionSerializer(questions, many=True).data)

    @extend_schema(request=QuestionWriteSerializer, responses={201: QuestionSerializer})
    def post(self, request: Request, slug: str, stage: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        data = QuestionWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        question = services.create_question(
            review=access.review,
            actor=access.user,
            stage=_stage(stage),
            text=v.get("text", ""),
            exclusion_reason=v.get("exclusion_reason", ""),
        )
        return Response(QuestionSerializer(question).data, status=status.HTTP_201_CREATED)


class QuestionDetailView(GenericAPIView):
    serializer_class = QuestionSerializer

    def _question(self, request: Request, slug: str, stage: str, pk: int, role: str) -> Any:
        access = get_review_for(request.user, slug, role=role)
        question = get_object_or_404(
            ScreeningQuestion, pk=pk, review=access.review, stage=_stage(stage)
        )
        return access, question

    @extend_schema(responses=QuestionSerializer)
    def get(self, request: Request, slug: str, stage: str, question_id: int) -> Response:
        _, question = self._question(request, slug, stage, question_id, Role.VIEWER)
        return Response(QuestionSerializer(question).data)

    @extend_schema(request=QuestionWriteSerializer, responses=QuestionSerializer)
    def patch(self, request: Request, slug: str, stage: str, question_id: int) -> Response:
        access, question = self._question(request, slug, stage, question_id, Role.OWNER)
        data = QuestionWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        services.update_question(
            question=question,
            actor=access.user,
            text=v.get("text"),
            exclusion_reason=v.get("exclusion_reason"),
            order=v.get("order"),
        )
        return Response(QuestionSerializer(question).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, slug: str, stage: str, question_id: int) -> Response:
        access, question = self._question(request, slug, stage, question_id, Role.OWNER)
        services.delete_question(question=question, actor=access.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    parameters=[
        OpenApiParameter("stage", str, description="title-abstract or full-text (GET only)")
    ]
)
class RecordAnswersView(GenericAPIView):
    """The answers on one record the caller may see (their own; others' once the record
    is settled or in conflict at the question's stage, or the stage is not blind). PUT
    sets the caller's own answers at a stage, while their vote on the record can still
    change (before it is settled or in conflict there)."""

    serializer_class = AnswerSerializer
    pagination_class = None

    def _answers(self, access: Any, record: Record, stage: str) -> Any:
        qs = QuestionAnswer.objects.filter(review=access.review, record=record)
        if stage:
            qs = qs.filter(question__stage=stage)
        return answers_visible_to(access.user, qs).select_related("reviewer", "question")

    @extend_schema(operation_id="record_answers_list", responses=AnswerSerializer(many=True))
    def get(self, request: Request, slug: str, record_id: int) -> Response:
        access = get_review_for(request.user, slug)
        record = get_object_or_404(Record.objects.for_review(access.review), pk=record_id)
        stage = choice_param(
            request.query_params, "stage", choices=Stage.values, default="", strict=True
        )
        return Response(AnswerSerializer(self._answers(access, record, stage), many=True).data)

    @extend_schema(request=AnswersWriteSerializer, responses=AnswerSerializer(many=True))
    def put(self, request: Request, slug: str, record_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        record = get_object_or_404(Record.objects.for_review(access.review), pk=record_id)
        data = AnswersWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        services.save_answers(
            review=access.review,
            record=record,
            reviewer=access.user,
            stage=v["stage"],
            answers=v["answers"],
        )
        mine = self._answers(access, record, v["stage"]).filter(reviewer=access.user)
        return Response(AnswerSerializer(mine, many=True).data)
