"""API for update rounds: list and start them, and each round's changelog."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.access import get_review_for, signed_in_user
from reviewflow.reviews.models import Role
from screening.models import UpdateRound
from screening.services import prisma, rounds


class RoundSerializer(serializers.ModelSerializer):
    started_by = serializers.CharField(
        source="started_by.username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = UpdateRound
        fields = ["number", "label", "started_by", "started_at"]


class RoundStartSerializer(serializers.Serializer):
    label = serializers.CharField(  # type: ignore[assignment]
        max_length=120, required=False, allow_blank=True, default=""
    )


class RoundListView(GenericAPIView):
    """Round 1 is the review as first done; each later round an update (``POST`` starts the
    next: owners)."""

    serializer_class = RoundSerializer
    pagination_class = None  # a review has a handful of rounds

    @extend_schema(responses={200: RoundSerializer(many=True)})
    def get(self, request: Request, slug: str) -> Response:
        access = get_review_for(request.user, slug)
        later = UpdateRound.objects.filter(review=access.review).select_related("started_by")
        first = {
            "number": 1,
            "label": "",
            "started_by": None,
            "started_at": access.review.created_at,
        }
        return Response([first, *RoundSerializer(later, many=True).data])

    @extend_schema(request=RoundStartSerializer, responses={201: RoundSerializer})
    def post(self, request: Request, slug: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        data = RoundStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        started = rounds.start_update_round(
            review=access.review, actor=signed_in_user(request), label=data.validated_data["label"]
        )
        return Response(RoundSerializer(started).data, status=status.HTTP_201_CREATED)


class RoundChangelogView(GenericAPIView):
    """What a round changed: new records, new inclusions, changed decisions, new extraction
    values (each section's count, and up to 50 items)."""

    serializer_class = None

    @extend_schema(responses={200: dict})
    def get(self, request: Request, slug: str, number: int) -> Response:
        access = get_review_for(request.user, slug)
        try:
            changelog = rounds.round_changelog(access.review, number)
        except ReviewflowError as exc:
            raise NotFound(exc.message) from None
        return Response(asdict(changelog))


COUNT_MAX = 2_147_483_647  # what a PositiveIntegerField holds on every database


class EnteredCountsSerializer(serializers.Serializer):
    """The counts an owner entered for a round's PRISMA diagram. Whether the review updates
    an earlier one, and that review's studies and reports, are entered for round 1 only
    (``null`` for later rounds, whose previous studies are those the earlier rounds
    included)."""

    round = serializers.IntegerField(read_only=True)
    duplicates_before_import = serializers.IntegerField(
        min_value=0, max_value=COUNT_MAX, required=False
    )
    excluded_automatic = serializers.IntegerField(min_value=0, max_value=COUNT_MAX, required=False)
    excluded_other = serializers.IntegerField(min_value=0, max_value=COUNT_MAX, required=False)
    website_results = serializers.IntegerField(min_value=0, max_value=COUNT_MAX, required=False)
    organisation_results = serializers.IntegerField(
        min_value=0, max_value=COUNT_MAX, required=False
    )
    citations_results = serializers.IntegerField(min_value=0, max_value=COUNT_MAX, required=False)
    updated_review = serializers.BooleanField(required=False, allow_null=True)
    previous_studies = serializers.IntegerField(
        min_value=0, max_value=COUNT_MAX, required=False, allow_null=True
    )
    previous_reports = serializers.IntegerField(
        min_value=0, max_value=COUNT_MAX, required=False, allow_null=True
    )


def _entered(review: Any, number: int) -> dict[str, Any]:
    try:
        entered = prisma.entered_counts(review, number)
    except ReviewflowError as exc:
        raise NotFound(exc.message) from None
    return {
        "round": number,
        **{name: getattr(entered, name, None) for name in prisma.MANUAL_FIELDS},
    }


class RoundPrismaCountsView(GenericAPIView):
    """The counts the data cannot know for round ``number``'s PRISMA diagram (records
    removed before import, records found outside reviewflow); ``PATCH`` changes them
    (owners; audited)."""

    serializer_class = EnteredCountsSerializer

    @extend_schema(responses={200: EnteredCountsSerializer})
    def get(self, request: Request, slug: str, number: int) -> Response:
        access = get_review_for(request.user, slug)
        return Response(_entered(access.review, number))

    @extend_schema(request=EnteredCountsSerializer, responses={200: EnteredCountsSerializer})
    def patch(self, request: Request, slug: str, number: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        _entered(access.review, number)  # a round the review does not have: 404
        data = EnteredCountsSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        if changes.get("updated_review", False) is None:
            raise ReviewflowError("Updated review is true or false.", field="updated_review")
        prisma.update_prisma_settings(
            review=access.review, actor=signed_in_user(request), round_number=number, **changes
        )
        return Response(_entered(access.review, number))
