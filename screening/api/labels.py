"""REST API of labels: a review's labels (owners write) and the labels on one record
(reviewers put their own on and take them off). The same services as the pages."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from reviewflow.reviews.access import get_review_for
from reviewflow.reviews.models import Role
from screening.models import Label, LabelColour, Record, RecordLabel, Stage
from screening.selectors.labels import label_counts, labels_of, labels_visible_to
from screening.services import labels as services


class LabelSerializer(serializers.ModelSerializer):
    records = serializers.SerializerMethodField(
        help_text="How many records carry the label, as far as the caller may see (blind "
        "screening: others' labels count once the record is settled)."
    )

    class Meta:
        model = Label
        fields = ["id", "name", "colour", "key", "order", "records"]

    def get_records(self, obj: Label) -> int:
        counts: dict[int, int] = self.context.get("counts", {})
        return counts.get(obj.pk, 0)


class LabelWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    colour = serializers.ChoiceField(choices=LabelColour.choices, required=False)
    key = serializers.CharField(max_length=1, required=False, allow_blank=True)
    order = serializers.IntegerField(min_value=0, max_value=32767, required=False)


class RecordLabelSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="label.name", read_only=True)
    colour = serializers.CharField(source="label.colour", read_only=True)
    applied_by = serializers.CharField(source="applied_by.username", read_only=True)

    class Meta:
        model = RecordLabel
        fields = ["id", "record", "label", "name", "colour", "stage", "applied_by", "created_at"]


class ApplySerializer(serializers.Serializer):
    # Declared fields shadow ``Field.label`` only on the class (the metaclass takes them).
    label = serializers.IntegerField(min_value=1, max_value=2**63 - 1)  # type: ignore[assignment]
    stage = serializers.ChoiceField(
        choices=Stage.choices,
        required=False,
        help_text="The stage the label belongs to; by default the stage the record is "
        "screened at now.",
    )


def _label_data(label: Label, review: Any, user: Any) -> Any:
    return LabelSerializer(label, context={"counts": label_counts(review, user)}).data


class LabelListView(GenericAPIView):
    """The review's labels, with how many records carry each; owners add one."""

    serializer_class = LabelSerializer
    pagination_class = None

    @extend_schema(operation_id="labels_list", responses=LabelSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        access = get_review_for(request.user, slug)
        counts = label_counts(access.review, access.user)
        labels = labels_of(access.review)
        return Response(LabelSerializer(labels, many=True, context={"counts": counts}).data)

    @extend_schema(request=LabelWriteSerializer, responses={201: LabelSerializer})
    def post(self, request: Request, slug: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        data = LabelWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        label = services.create_label(
            review=access.review,
            actor=access.user,
            name=v.get("name", ""),
            colour=v.get("colour", ""),
            key=v.get("key", ""),
        )
        return Response(
            _label_data(label, access.review, access.user), status=status.HTTP_201_CREATED
        )


class LabelDetailView(GenericAPIView):
    serializer_class = LabelSerializer

    @extend_schema(responses=LabelSerializer)
    def get(self, request: Request, slug: str, label_id: int) -> Response:
        access = get_review_for(request.user, slug)
        label = get_object_or_404(Label, pk=label_id, review=access.review)
        return Response(_label_data(label, access.review, access.user))

    @extend_schema(request=LabelWriteSerializer, responses=LabelSerializer)
    def patch(self, request: Request, slug: str, label_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        label = get_object_or_404(Label, pk=label_id, review=access.review)
        data = LabelWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        services.update_label(
            label=label,
            actor=access.user,
            name=v.get("name"),
            colour=v.get("colour"),
            key=v.get("key"),
            order=v.get("order"),
        )
        return Response(_label_data(label, access.review, access.user))

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, slug: str, label_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        label = get_object_or_404(Label, pk=label_id, review=access.review)
        services.delete_label(label=label, actor=access.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RecordLabelListView(GenericAPIView):
    """The labels on one record that the caller may see (their own; others' once the
    record is settled or in conflict at the label's stage, or the stage is not blind).
    Reviewers and owners put their own labels on (POST) and take them off (DELETE, with
    ``label`` and optionally ``stage`` in the body or the query string)."""

    serializer_class = RecordLabelSerializer
    pagination_class = None

    @extend_schema(operation_id="record_labels_list", responses=RecordLabelSerializer(many=True))
    def get(self, request: Request, slug: str, record_id: int) -> Response:
        access = get_review_for(request.user, slug)
        record = get_object_or_404(Record.objects.for_review(access.review), pk=record_id)
        applied = labels_visible_to(
            access.user, RecordLabel.objects.filter(review=access.review, record=record)
        ).select_related("label", "applied_by")
        return Response(RecordLabelSerializer(applied, many=True).data)

    def _target(self, request: Request, slug: str, record_id: int, data: Any) -> Any:
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        record = get_object_or_404(
            Record.objects.for_review(access.review).select_related("search"), pk=record_id
        )
        given = ApplySerializer(data=data)
        given.is_valid(raise_exception=True)
        v = given.validated_data
        label = get_object_or_404(Label, pk=v["label"], review=access.review)
        return access, record, label, v.get("stage")

    @extend_schema(request=ApplySerializer, responses={201: RecordLabelSerializer})
    def post(self, request: Request, slug: str, record_id: int) -> Response:
        access, record, label, stage = self._target(request, slug, record_id, request.data)
        applied = services.apply_label(
            review=access.review, record=record, label=label, user=access.user, stage=stage
        )
        return Response(RecordLabelSerializer(applied).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ApplySerializer, responses={204: None})
    def delete(self, request: Request, slug: str, record_id: int) -> Response:
        data = request.data or request.query_params
        access, record, label, stage = self._target(request, slug, record_id, data)
        removed = services.remove_label(
            review=access.review, record=record, label=label, user=access.user, stage=stage
        )
        if not removed:
            return Response(
                {"detail": "You have not put this label on this record at this stage."},
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response(status=status.HTTP_204_NO_CONTENT)
