"""API of the retraction watch (#21): checks (``POST`` starts one: owners) and the
editorial notices they found."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from reviewflow.reviews.access import get_review_for, signed_in_user
from reviewflow.reviews.models import Role
from screening.models import EditorialNotice, RetractionCheck
from screening.services import retractions


class RetractionCheckSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = RetractionCheck
        fields = [
            "id",
            "status",
            "trigger",
            "records_checked",
            "notices_found",
            "error",
            "created_by",
            "created_at",
            "finished_at",
        ]


class EditorialNoticeSerializer(serializers.ModelSerializer):
    record = serializers.IntegerField(source="record_id", read_only=True)
    record_doi = serializers.CharField(source="record.doi", read_only=True)

    class Meta:
        model = EditorialNotice
        fields = [
            "id",
            "record",
            "record_doi",
            "kind",
            "label",
            "notice_doi",
            "notice_date",
            "source",
            "found_at",
        ]


class RetractionCheckListView(GenericAPIView):
    """The review's retraction checks, newest first (the last 100); ``POST`` checks the
    included and full-text records now (owners): 202, the check runs in the background."""

    serializer_class = RetractionCheckSerializer
    pagination_class = None

    @extend_schema(responses={200: RetractionCheckSerializer(many=True)})
    def get(self, request: Request, slug: str) -> Response:
        access = get_review_for(request.user, slug)
        checks = (
            RetractionCheck.objects.filter(review=access.review)
            .select_related("created_by")
            .order_by("-created_at", "-id")[:100]
        )
        return Response(RetractionCheckSerializer(checks, many=True).data)

    @extend_schema(request=None, responses={202: RetractionCheckSerializer})
    def post(self, request: Request, slug: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        check = retractions.request_check(review=access.review, actor=signed_in_user(request))
        check.refresh_from_db()  # the task ran already when tasks run eagerly
        return Response(RetractionCheckSerializer(check).data, status=status.HTTP_202_ACCEPTED)


class RetractionCheckDetailView(GenericAPIView):
    """One retraction check: its status, counts and, when it failed, why."""

    serializer_class = RetractionCheckSerializer

    def get(self, request: Request, slug: str, check_id: int) -> Response:
        access = get_review_for(request.user, slug)
        check = (
            RetractionCheck.objects.filter(review=access.review, pk=check_id)
            .select_related("created_by")
            .first()
        )
        if check is None:
            raise NotFound("No such retraction check in this review.")
        return Response(RetractionCheckSerializer(check).data)


class EditorialNoticeListView(GenericAPIView):
    """Every retraction, correction and expression of concern found on the review's
    records, by record."""

    serializer_class = EditorialNoticeSerializer
    pagination_class = None

    @extend_schema(responses={200: EditorialNoticeSerializer(many=True)})
    def get(self, request: Request, slug: str) -> Response:
        access = get_review_for(request.user, slug)
        notices = (
            EditorialNotice.objects.filter(review=access.review)
            .select_related("record")
            .order_by("record_id", "notice_date", "id")
        )
        return Response(EditorialNoticeSerializer(notices, many=True).data)
