from django.urls import path

from reviewflow.reviews import api, notification_api

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
    # One's own notifications and e-mail preferences (#20).
    path(
        "notifications/",
        notification_api.NotificationListView.as_view(),
        name="api-notifications",
    ),
    path(
        "notifications/unread-count/",
        notification_api.UnreadCountView.as_view(),
        name="api-notifications-unread",
    ),
    path(
        "notifications/read-all/",
        notification_api.NotificationReadAllView.as_view(),
        name="api-notifications-read-all",
    ),
    path(
        "notifications/preferences/",
        notification_api.PreferenceView.as_view(),
        name="api-notification-preferences",
    ),
    path(
        "notifications/<int:notification_id>/read/",
        notification_api.NotificationReadView.as_view(),
        name="api-notification-read",
    ),
]
