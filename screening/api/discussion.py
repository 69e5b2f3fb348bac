"""REST API of a record's discussion: the comments the caller may read (blinding: on a
blind stage others' comments once the caller voted on the record there, or it is settled
or in conflict), and their own comments to add, edit and delete. The same services as the
pages."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from reviewflow.params import choice_param
from reviewflow.reviews.access import ReviewAccess, get_review_for
from reviewflow.reviews.models import Role
from screening.models import Comment, Record, Stage
from screening.selectors.discussion import comments_visible_to
from screening.selectors.labels import current_stage
from screening.services import discussion as services


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()
    body = serializers.SerializerMethodField(
        help_text="The comment's text; empty once it was deleted."
    )
    mentions = serializers.SerializerMethodField(
        help_text="Usernames of the review's members the comment mentions (@username)."
    )
    deleted = serializers.SerializerMethodField()

    class Meta:
        model = Comment
        fields = [
            "id",
            "record",
            "stage",
            "author",
            "body",
            "mentions",
            "created_at",
            "edited_at",
            "deleted",
        ]

    def get_author(self, obj: Comment) -> str:
        return obj.author.get_username() if obj.author is not None else ""

    def get_body(self, obj: Comment) -> str:
        return "" if obj.deleted_at is not None else obj.body

    def get_mentions(self, obj: Comment) -> list[str]:
        if obj.deleted_at is not None:
            return []
        return sorted(user.username for user in obj.mentions.all())

    def get_deleted(self, obj: Comment) -> bool:
        return obj.deleted_at is not None


class CommentCreateSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=20000, allow_blank=True)
    stage = serializers.ChoiceField(
        choices=Stage.choices,
        required=False,
        help_text="The stage the comment belongs to; by default the stage the record is "
        "screened at now.",
    )


class CommentEditSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=20000, allow_blank=True)


def _visible(access: ReviewAccess, qs: QuerySet[Comment]) -> QuerySet[Comment]:
    return (
        comments_visible_to(access.user, qs)
        .select_related("author")
        .prefetch_related("mentions")
        .order_by("created_at", "id")
    )


@extend_schema(
    parameters=[
        OpenApiParameter("stage", str, description="title-abstract or full-text; default both")
    ]
)
class CommentListView(GenericAPIView):
    """The comments on one record that the caller may read, oldest first; reviewers and
    owners add one (POST)."""

    serializer_class = CommentSerializer
    pagination_class = None

    @extend_schema(operation_id="record_comments_list", responses=CommentSerializer(many=True))
    def get(self, request: Request, slug: str, record_id: int) -> Response:
        access = get_review_for(request.user, slug)
        record = get_object_or_404(Record.objects.for_review(access.review), pk=record_id)
        qs = Comment.objects.filter(record=record)
        stage = choice_param(
            request.query_params, "stage", choices=Stage.values, default="", strict=True
        )
        if stage:
            qs = qs.filter(stage=stage)
        return Response(CommentSerializer(_visible(access, qs), many=True).data)

    @extend_schema(request=CommentCreateSerializer, responses={201: CommentSerializer})
    def post(self, request: Request, slug: str, record_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        record = get_object_or_404(
            Record.objects.for_review(access.review).select_related("search"), pk=record_id
        )
        data = CommentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        comment = services.add_comment(
            record=record,
            stage=v.get("stage") or current_stage(record),
            author=access.user,
            body=v["body"],
        )
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class CommentDetailView(GenericAPIView):
    """One comment the caller may read; its author edits it (PATCH ``{"body"}``), its
    author or an owner deletes it (DELETE). A comment the caller may not read is a 404."""

    serializer_class = CommentSerializer

    def _comment(
        self, request: Request, slug: str, record_id: int, comment_id: int, role: str
    ) -> Any:
        access = get_review_for(request.user, slug, role=role)
        qs = Comment.objects.filter(review=access.review, record_id=record_id)
        return access, get_object_or_404(_visible(access, qs), pk=comment_id)

    @extend_schema(responses=CommentSerializer)
    def get(self, request: Request, slug: str, record_id: int, comment_id: int) -> Response:
        _, comment = self._comment(request, slug, record_id, comment_id, Role.VIEWER)
        return Response(CommentSerializer(comment).data)

    @extend_schema(request=CommentEditSerializer, responses=CommentSerializer)
    def patch(self, request: Request, slug: str, record_id: int, comment_id: int) -> Response:
        access, comment = self._comment(request, slug, record_id, comment_id, Role.REVIEWER)
        data = CommentEditSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.edit_comment(comment=comment, actor=access.user, body=data.validated_data["body"])
        return Response(CommentSerializer(comment).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, slug: str, record_id: int, comment_id: int) -> Response:
        access, comment = self._comment(request, slug, record_id, comment_id, Role.REVIEWER)
        services.delete_comment(comment=comment, actor=access.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
