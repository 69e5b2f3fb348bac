"""REST API for reviews, members, invitations and the audit trail (same services as pages)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from reviewflow.errors import ReviewflowError
from reviewflow.keyset import KeysetPagination
from reviewflow.reviews import services
from reviewflow.reviews.access import get_review_for, signed_in_user
from reviewflow.reviews.audit_page import AUDIT_ORDER
from reviewflow.reviews.models import (
    INVITATION_PROGRESS,
    AuditEvent,
    Invitation,
    Membership,
    OutgoingEmail,
    Review,
    Role,
)


class ReviewSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Review
        fields = ["slug", "title", "question", "protocol_registration", "created_at", "role"]
        read_only_fields = ["created_at", "role"]

    def get_role(self, obj: Review) -> str | None:
        return getattr(obj, "my_role", None)


class ReviewCreateSerializer(serializers.Serializer):
    slug = serializers.CharField(max_length=60)
    title = serializers.CharField(max_length=300)
    question = serializers.CharField(required=False, allow_blank=True, default="")
    protocol_registration = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=200
    )


class ReviewUpdateSerializer(serializers.Serializer):
    slug = serializers.CharField(max_length=60, required=False)
    title = serializers.CharField(max_length=300, required=False)
    question = serializers.CharField(required=False, allow_blank=True)
    protocol_registration = serializers.CharField(required=False, allow_blank=True, max_length=200)


class MemberSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "username", "role", "created_at"]


class MemberCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationEmailSerializer(serializers.ModelSerializer):
    class Meta:
        model = OutgoingEmail
        fields = ["status", "attempts", "last_error", "created_at", "sent_at"]


class InvitationSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True)
    # Not an EmailField: an invitation made without an address answers "".
    email = serializers.CharField(
        read_only=True, help_text="The invitee's address; empty for a link anyone may use."
    )
    progress = serializers.ChoiceField(
        choices=INVITATION_PROGRESS,
        read_only=True,
        help_text="Where it stands: its status, else whether its link was opened, else how "
        "its latest e-mail went (link: made without an address).",
    )
    last_email = InvitationEmailSerializer(
        read_only=True, allow_null=True, help_text="Its latest e-mail; null for a link."
    )

    class Meta:
        model = Invitation
        fields = [
            "id",
            "token",
            "email",
            "role",
            "created_at",
            "expires_at",
            "opened_at",
            "status",
            "progress",
            "last_email",
        ]
        read_only_fields = fields


class InvitationCreateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)
    email = serializers.EmailField(
        required=False,
        allow_blank=True,
        default="",
        max_length=254,
        help_text="Given: the link is e-mailed there (by a worker). Empty: a link to pass on.",
    )
    days = serializers.IntegerField(required=False, min_value=1, max_value=90)


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(
        source="actor.username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = AuditEvent
        fields = ["id", "created_at", "actor", "action", "target", "before", "after"]


class ReviewListView(GenericAPIView):
    """Reviews the caller belongs to; POST creates one with the caller as owner."""

    serializer_class = ReviewSerializer

    def get_queryset(self) -> Any:
        memberships = Membership.objects.filter(user=signed_in_user(self.request)).select_related(
            "review"
        )
        reviews = []
        for m in memberships:
            m.review.my_role = m.role  # type: ignore[attr-defined]
            reviews.append(m.review)
        return reviews

    @extend_schema(operation_id="reviews_list", responses=ReviewSerializer(many=True))
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ReviewSerializer(page, many=True).data)

    @extend_schema(request=ReviewCreateSerializer, responses={201: ReviewSerializer})
    def post(self, request: Request) -> Response:
        data = ReviewCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        review = services.create_review(owner=signed_in_user(request), **data.validated_data)
        review.my_role = Role.OWNER  # type: ignore[attr-defined]
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)


class ReviewDetailView(GenericAPIView):
    serializer_class = ReviewSerializer

    def get(self, request: Request, slug: str) -> Response:
        access = get_review_for(request.user, slug)
        access.review.my_role = access.role  # type: ignore[attr-defined]
        return Response(ReviewSerializer(access.review).data)

    @extend_schema(request=ReviewUpdateSerializer, responses={200: ReviewSerializer})
    def patch(self, request: Request, slug: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        data = ReviewUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        review = services.update_review(
            review=access.review, actor=signed_in_user(request), **data.validated_data
        )
        review.my_role = access.role  # type: ignore[attr-defined]
        return Response(ReviewSerializer(review).data)


class MemberListView(GenericAPIView):
    serializer_class = MemberSerializer
    pagination_class = None  # every member, in one list

    @extend_schema(operation_id="members_list", responses=MemberSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        access = get_review_for(request.user, slug)
        members = access.review.memberships.select_related("user").order_by("user__username")
        return Response(MemberSerializer(members, many=True).data)

    @extend_schema(request=MemberCreateSerializer, responses={201: MemberSerializer})
    def post(self, request: Request, slug: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        data = MemberCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = (
            get_user_model()
            .objects.filter(username=data.validated_data["username"], is_active=True)
            .first()
        )
        if user is None:
            raise ReviewflowError(
                f"No user called “{data.validated_data['username']}”.", field="username"
            )
        membership = services.add_member(
            review=access.review,
            actor=signed_in_user(request),
            user=user,
            role=data.validated_data["role"],
        )
        return Response(MemberSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetailView(GenericAPIView):
    serializer_class = MemberSerializer

    def _membership(self, request: Request, slug: str, member_id: int) -> Membership:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        return get_object_or_404(Membership, pk=member_id, review=access.review)

    @extend_schema(request=RoleSerializer, responses={200: MemberSerializer})
    def patch(self, request: Request, slug: str, member_id: int) -> Response:
        membership = self._membership(request, slug, member_id)
        data = RoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.change_role(
            membership=membership, actor=signed_in_user(request), role=data.validated_data["role"]
        )
        return Response(MemberSerializer(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, slug: str, member_id: int) -> Response:
        services.remove_member(
            membership=self._membership(request, slug, member_id), actor=signed_in_user(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationListView(GenericAPIView):
    serializer_class = InvitationSerializer
    pagination_class = None  # every invitation, in one list

    @extend_schema(operation_id="invitations_list", responses=InvitationSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        invitations = access.review.invitations.with_emails()
        return Response(InvitationSerializer(invitations, many=True).data)

    @extend_schema(request=InvitationCreateSerializer, responses={201: InvitationSerializer})
    def post(self, request: Request, slug: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        data = InvitationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["email"]:
            invitation = services.invite_by_email(
                review=access.review,
                actor=signed_in_user(request),
                site_url=request.build_absolute_uri("/"),
                **data.validated_data,
            )
        else:
            invitation = services.create_invitation(
                review=access.review, actor=signed_in_user(request), **data.validated_data
            )
        invitation = access.review.invitations.with_emails().get(pk=invitation.pk)
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)


class InvitationDetailView(GenericAPIView):
    serializer_class = InvitationSerializer

    @extend_schema(responses={200: InvitationSerializer})
    def delete(self, request: Request, slug: str, invitation_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        invitation = get_object_or_404(Invitation, pk=invitation_id, review=access.review)
        invitation = services.revoke_invitation(
            invitation=invitation, actor=signed_in_user(request)
        )
        return Response(InvitationSerializer(invitation).data)


class InvitationResendView(GenericAPIView):
    """Send an open invitation's link to its address again (the link stays the same)."""

    serializer_class = InvitationSerializer

    @extend_schema(request=None, responses={202: InvitationSerializer})
    def post(self, request: Request, slug: str, invitation_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.OWNER)
        invitation = get_object_or_404(Invitation, pk=invitation_id, review=access.review)
        services.resend_invitation(
            invitation=invitation,
            actor=signed_in_user(request),
            site_url=request.build_absolute_uri("/"),
        )
        invitation = access.review.invitations.with_emails().get(pk=invitation.pk)
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_202_ACCEPTED)


class InvitationAcceptView(GenericAPIView):
    serializer_class = MemberSerializer

    @extend_schema(request=None, responses={201: MemberSerializer})
    def post(self, request: Request, token: str) -> Response:
        membership = services.accept_invitation(token=token, user=signed_in_user(request))
        return Response(MemberSerializer(membership).data, status=status.HTTP_201_CREATED)


class AuditPagination(KeysetPagination):
    keyset = AUDIT_ORDER  # newest first, as the page


class AuditListView(ListAPIView):
    serializer_class = AuditEventSerializer
    pagination_class = AuditPagination  # by key, never OFFSET: deep pages cost no more (#25)

    def get_queryset(self) -> Any:
        access = get_review_for(self.request.user, self.kwargs["slug"], role=Role.OWNER)
        return AuditEvent.objects.filter(review=access.review).select_related("actor")

    def paginate_queryset(self, queryset: Any) -> Any:
        from screening.selectors.screening import mask_audit_events

        page = super().paginate_queryset(queryset)
        mask_audit_events(page or [], signed_in_user(self.request))
        return page
