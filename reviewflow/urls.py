from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from reviewflow import health
from reviewflow.reviews import account_email, passwords
from reviewflow.reviews.throttling import ThrottledAdminAuthenticationForm, ThrottledLoginView

admin.site.login_form = ThrottledAdminAuthenticationForm

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    # Password reset: Django's views, the message sent by a worker (reviews/passwords.py).
    path(
        "accounts/password_reset/",
        passwords.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        passwords.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    # Changing one's e-mail address, confirmed from the new address (reviews/account_email.py).
    path("accounts/email/", account_email.email_change, name="email-change"),
    path(
        "accounts/email/confirm/<str:token>/",
        account_email.email_change_confirm,
        name="email-change-confirm",
    ),
    path("accounts/email/done/", account_email.email_change_done, name="email-change-done"),
    path("accounts/", include("django.contrib.auth.urls")),
    # Single sign-on: allauth's OpenID Connect views only, /accounts/oidc/<id>/login/(callback/)
    # (reviews/sso.py); allauth's own account pages are not routed.
    path("accounts/", include("allauth.socialaccount.providers.openid_connect.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script from its own URL: no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("reviewflow.api_urls")),
    path("", include("reviewflow.reviews.urls")),
    path("", include("screening.urls")),
    path("", include("extraction.urls")),
]
