from django.urls import path

from reviewflow.reviews import notification_views, signup, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("reviews/new/", views.review_create, name="review-create"),
    path("r/<slug:slug>/", views.review_detail, name="review-detail"),
    path("r/<slug:slug>/settings/", views.review_settings, name="review-settings"),
    path("r/<slug:slug>/members/", views.members, name="review-members"),
    path("r/<slug:slug>/members/<int:member_id>/role/", views.member_role, name="member-role"),
    path(
        "r/<slug:slug>/members/<int:member_id>/remove/", views.member_remove, name="member-remove"
    ),
    path(
        "r/<slug:slug>/invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation-revoke",
    ),
    path(
        "r/<slug:slug>/invitations/<int:invitation_id>/resend/",
        views.invitation_resend,
        name="invitation-resend",
    ),
    path("r/<slug:slug>/audit/", views.audit_trail, name="review-audit"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation-accept"),
    path("invitations/<str:token>/signup/", signup.invitation_signup, name="invitation-signup"),
    # Notifications (#20): the bell's list, e-mail settings, the unsubscribe link.
    path("notifications/", notification_views.notification_list, name="notifications"),
    path(
        "notifications/<int:notification_id>/open/",
        notification_views.notification_open,
        name="notification-open",
    ),
    path(
        "notifications/read-all/",
        notification_views.notification_read_all,
        name="notifications-read-all",
    ),
    path(
        "notifications/settings/",
        notification_views.notification_settings,
        name="notification-settings",
    ),
    path(
        "notifications/unsubscribe/<str:token>/",
        notification_views.notification_unsubscribe,
        name="notification-unsubscribe",
    ),
]
