"""REST API of screening prioritisation: the stage's order and score settings, the ranking
status, the stopping estimate (guarantee and heuristics), starting the two-phase rule's
random sample, stopping early and undoing an early stop."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from reviewflow.reviews.access import get_review_for
from reviewflow.reviews.models import Role
from screening.models import Stage, StageOrder
from screening.services import early_stop, prioritisation
from screening.services.screening.stage_settings import get_stage_settings, update_stage_settings


def _stage(stage: str) -> str:
    if stage not in Stage.values:
        raise Http404("No such stage.")
    return stage


class RuleSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=["guarantee", "heuristic"])
    stop = serializers.BooleanField()
    summary = serializers.CharField()
    method = serializers.CharField()
    details = serializers.DictField()


class PrioritisationSerializer(serializers.Serializer):
    order = serializers.ChoiceField(choices=StageOrder.choices)
    show_scores = serializers.BooleanField()
    ranking = serializers.DictField()
    estimate = serializers.DictField()
    rules = RuleSerializer(many=True)
    stopped = serializers.DictField(allow_null=True)


class PrioritisationSettingsSerializer(serializers.Serializer):
    order = serializers.ChoiceField(choices=StageOrder.choices, required=False)
    show_scores = serializers.BooleanField(required=False)


class StopSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=["hypergeometric", "two_phase", "consecutive", "knee"])


def _payload(review: Any, stage: str) -> dict[str, Any]:
    conf = get_stage_settings(review, stage)
    report = early_stop.stopping_report(review, stage)
    run = report.run
    stopped = report.stopped
    return {
        "order": conf.order,
        "show_scores": conf.show_scores,
        "ranking": {
            "status": run.status if run else "idle",
            "message": run.message if run else "",
            "model": run.model if run else "",
            "trained_at": run.trained_at.isoformat() if run and run.trained_at else None,
            "included": run.n_included if run else 0,
            "excluded": run.n_excluded if run else 0,
            "scored": run.n_scored if run else 0,
        },
        "estimate": {
            "records": report.total,
            "screened": report.screened,
            "included": report.included,
            "since_last_include": report.since_last_include,
            "recall_lower_bound": report.recall_lower_bound,
            "confidence": report.confidence,
            "method": report.guarantee.method,
            "curve": [list(p) for p in report.curve],
        },
        "rules": [
            {
                "key": r.key,
                "name": r.name,
                "kind": r.kind,
                "stop": r.stop,
                "summary": r.summary,
                "method": r.method,
                "details": r.details,
            }
            for r in report.rules
        ],
        "stopped": (
            {
                "method": stopped.method,
                "method_label": stopped.method_label,
                "kind": stopped.kind,
                "records_screened": stopped.records_screened,
                "records_excluded": stopped.records_excluded,
                "decided_at": stopped.decided_at.isoformat(),
            }
            if stopped
            else None
        ),
    }


class PrioritisationView(GenericAPIView):
    """GET: order, ranking status and stopping estimate (owners). PATCH: change the order or
    whether reviewers see scores."""

    serializer_class = PrioritisationSerializer

    def get(self, request: Request, slug: str, stage: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        return Response(_payload(access.review, _stage(stage)))

    @extend_schema(request=PrioritisationSettingsSerializer, responses=PrioritisationSerializer)
    def patch(self, request: Request, slug: str, stage: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        stage = _stage(stage)
        data = PrioritisationSettingsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        update_stage_settings(
            review=access.review, stage=stage, actor=access.user, **data.validated_data
        )
        prioritisation.request_retrain(review=access.review, stage=stage, force=True)
        return Response(_payload(access.review, stage))


class StopEarlyView(GenericAPIView):
    """Stop screening the stage: unscreened records are excluded by automation tool."""

    serializer_class = StopSerializer

    @extend_schema(request=StopSerializer, responses={201: PrioritisationSerializer})
    def post(self, request: Request, slug: str, stage: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        stage = _stage(stage)
        data = StopSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        early_stop.stop_screening_early(
            review=access.review,
            stage=stage,
            actor=access.user,
            method=data.validated_data["method"],
        )
        return Response(_payload(access.review, stage), status=status.HTTP_201_CREATED)


class RandomSampleView(GenericAPIView):
    """Start the two-phase rule's random sample: the unscreened records come in a random
    order from now on (the stage must be ordered by relevance)."""

    serializer_class = PrioritisationSerializer

    @extend_schema(request=None, responses={201: PrioritisationSerializer})
    def post(self, request: Request, slug: str, stage: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        stage = _stage(stage)
        prioritisation.start_random_sample(review=access.review, stage=stage, actor=access.user)
        return Response(_payload(access.review, stage), status=status.HTTP_201_CREATED)


class StopUndoView(GenericAPIView):
    """Undo the stage's early stop: the records it excluded are unscreened again."""

    serializer_class = PrioritisationSerializer

    @extend_schema(request=None, responses={200: PrioritisationSerializer})
    def post(self, request: Request, slug: str, stage: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        stage = _stage(stage)
        early_stop.undo_stop_early(review=access.review, stage=stage, actor=access.user)
        return Response(_payload(access.review, stage))
