"""REST API for one's own notifications and e-mail preferences (same services as the
pages). A user only ever reaches their own: another user's notification is not found."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from reviewflow.errors import ReviewflowError
from reviewflow.keyset import KeysetPagination
from reviewflow.reviews import notifications
from reviewflow.reviews.access import signed_in_user
from reviewflow.reviews.models import DigestFrequency, Notification, NotificationKind


class NotificationSerializer(serializers.ModelSerializer):
    review = serializers.CharField(
        source="review.slug",
        read_only=True,
        allow_null=True,
        help_text="The review's slug; null: about no review.",
    )
    kind = serializers.ChoiceField(choices=NotificationKind.choices, read_only=True)
    url = serializers.CharField(read_only=True, help_text="A path inside the app.")

    class Meta:
        model = Notification
        fields = ["id", "review", "kind", "text", "url", "created_at", "read_at", "emailed_at"]
        read_only_fields = fields


class UnreadSerializer(serializers.Serializer):
    unread = serializers.IntegerField()


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many were unread.")


class PreferenceSerializer(serializers.Serializer):
    review = serializers.CharField(
        allow_null=True, help_text="The review's slug; null: the default for every review."
    )
    title = serializers.CharField(allow_null=True)
    immediate = serializers.BooleanField(help_text="E-mail mentions and assignments at once.")
    digest = serializers.ChoiceField(choices=DigestFrequency.choices)
    own = serializers.BooleanField(help_text="Set for this review (else the default applies).")


class OptionalBooleanField(serializers.BooleanField):
    """Absent means "keep", in a form-encoded body too (DRF reads an absent checkbox as
    false there)."""

    default_empty_html = empty


class PreferenceWriteSerializer(serializers.Serializer):
    review = serializers.SlugField(
        required=False, allow_null=True, allow_blank=True, default=None, max_length=60
    )
    immediate = OptionalBooleanField(required=False)
    digest = serializers.ChoiceField(choices=DigestFrequency.choices, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("immediate") is None and attrs.get("digest") is None:
            raise serializers.ValidationError(
                {"digest": "Give immediate, digest or both: there is nothing to change."}
            )
        return attrs


def _row(slug: str | None, title: str | None, prefs: notifications.Preferences) -> dict[str, Any]:
    return {
        "review": slug,
        "title": title,
        "immediate": prefs.immediate,
        "digest": prefs.digest,
        "own": prefs.own,
    }


TRUE = {"1", "true", "yes", "on"}
FALSE = {"", "0", "false", "no", "off"}


class NotificationPagination(KeysetPagination):
    keyset = notifications.NOTIFICATION_ORDER  # by key, never OFFSET (#25)


class NotificationListView(ListAPIView):
    """Your notifications, newest first; ``?unread=1`` for the unread ones only."""

    serializer_class = NotificationSerializer
    pagination_class = NotificationPagination

    def get_queryset(self) -> QuerySet[Notification]:
        qs = notifications.notifications_of(signed_in_user(self.request))
        unread = str(self.request.query_params.get("unread", "")).strip().lower()
        if unread not in TRUE | FALSE:
            raise ReviewflowError("unread must be one of: true, false.", field="unread")
        return qs.filter(read_at__isnull=True) if unread in TRUE else qs

    @extend_schema(
        parameters=[
            OpenApiParameter("unread", bool, description="Only the unread ones.", required=False)
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class UnreadCountView(GenericAPIView):
    serializer_class = UnreadSerializer

    @extend_schema(responses={200: UnreadSerializer})
    def get(self, request: Request) -> Response:
        return Response({"unread": notifications.unread_count(signed_in_user(request))})


class NotificationReadView(GenericAPIView):
    serializer_class = NotificationSerializer

    @extend_schema(request=None, responses={200: NotificationSerializer})
    def post(self, request: Request, notification_id: int) -> Response:
        notification = notifications.mark_read(
            user=signed_in_user(request), notification_id=notification_id
        )
        return Response(NotificationSerializer(notification).data)


class NotificationReadAllView(GenericAPIView):
    serializer_class = MarkedSerializer

    @extend_schema(request=None, responses={200: MarkedSerializer})
    def post(self, request: Request) -> Response:
        return Response({"marked": notifications.mark_all_read(user=signed_in_user(request))})


class PreferenceView(GenericAPIView):
    """Your e-mail preferences: the default (``review`` null) and one per review."""

    serializer_class = PreferenceSerializer
    pagination_class = None  # one row per review the caller belongs to, and the default

    @extend_schema(responses={200: PreferenceSerializer(many=True)})
    def get(self, request: Request) -> Response:
        default, rows = notifications.preferences_by_review(signed_in_user(request))
        data = [_row(None, None, default)] + [
            _row(row.review.slug, row.review.title, row.preferences) for row in rows
        ]
        return Response(PreferenceSerializer(data, many=True).data)

    @extend_schema(request=PreferenceWriteSerializer, responses={200: PreferenceSerializer})
    def post(self, request: Request) -> Response:
        user = signed_in_user(request)
        serializer = PreferenceWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        slug = serializer.validated_data.get("review") or None
        review = notifications.member_review(user, slug) if slug else None
        notifications.set_preferences(
            user=user,
            review=review,
            immediate=serializer.validated_data.get("immediate"),
            digest=serializer.validated_data.get("digest"),
        )
        prefs = notifications.preferences_for(user, review)
        return Response(
            PreferenceSerializer(_row(slug, review.title if review else None, prefs)).data
        )
