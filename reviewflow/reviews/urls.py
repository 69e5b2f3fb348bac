from django.urls import path

from reviewflow.reviews import views

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
]
