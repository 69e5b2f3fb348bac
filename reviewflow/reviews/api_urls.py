from django.urls import path

from reviewflow.reviews import api

urlpatterns = [
    path("reviews/", api.ReviewListView.as_view(), name="api-reviews"),
    path("reviews/<slug:slug>/", api.ReviewDetailView.as_view(), name="api-review"),
    path("reviews/<slug:slug>/members/", api.MemberListView.as_view(), name="api-members"),
    path(
        "reviews/<slug:slug>/members/<int:member_id>/",
        api.MemberDetailView.as_view(),
        name="api-member",
    ),
    path(
        "reviews/<slug:slug>/invitations/",
        api.InvitationListView.as_view(),
        name="api-invitations",
    ),
    path(
        "reviews/<slug:slug>/invitations/<int:invitation_id>/",
        api.InvitationDetailView.as_view(),
        name="api-invitation",
    ),
    path(
        "reviews/<slug:slug>/invitations/<int:invitation_id>/resend/",
        api.InvitationResendView.as_view(),
        name="api-invitation-resend",
    ),
    path(
        "invitations/<str:token>/accept/",
        api.InvitationAcceptView.as_view(),
        name="api-invitation-accept",
    ),
    path("reviews/<slug:slug>/audit/", api.AuditListView.as_view(), name="api-audit"),
]
