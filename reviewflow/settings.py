"""reviewflow settings. Every value comes from the environment; see .env.example."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from reviewflow.env import (
    database_from_url,
    env_bool,
    env_int,
    env_list,
    env_str,
)
from reviewflow.mail import EmailUrlError, email_settings_from_url
from reviewflow.sso_config import oidc_apps_from_env, provider_origins

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("REVIEWFLOW_DATA_DIR", str(BASE_DIR / "data"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one random key kept in the data folder.

    A single-machine install then needs no set-up; several machines must share one key
    through the environment (the README says so).
    """
    key = env_str("SECRET_KEY")
    if key:
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Single sign-on (OpenID Connect): allauth's tables for linked identities; its own
    # account pages are not routed (reviewflow/reviews/sso.py).
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "reviewflow.reviews",
    "screening",
    "extraction",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "reviewflow.headers.ContentSecurityPolicyMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "reviewflow.urls"
WSGI_APPLICATION = "reviewflow.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "reviewflow" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "reviewflow.reviews.auth_backend.bell",
                "reviewflow.reviews.sso.sign_in_options",
            ],
        },
    },
]

DATABASES = {"default": database_from_url(env_str("DATABASE_URL"), data_dir=DATA_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django's model backend, whose signed-in user also carries their unread notification count
# (the bell in every page's header) read in the same query as the user.
AUTHENTICATION_BACKENDS = ["reviewflow.reviews.auth_backend.UserWithUnreadCountBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "reviewflow" / "static"]
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# ---------------------------------------------------------------- security
# Safe by default: with DEBUG off, cookies are HTTPS-only and HTTP redirects to HTTPS.
# Behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER via USE_X_FORWARDED_PROTO=1.
_secure = not DEBUG
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _secure)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", _secure)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", _secure)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if _secure else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", _secure)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", _secure)
if env_bool("USE_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"  # pages that frame our own files opt in per view
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (django-csp; reviewflow/headers.py gives SVG documents a stricter
# one): scripts, styles and images from this site only; no inline script, no inline style
# (htmx's own indicator style is switched off in base.html), no eval, no plugins, no
# framing by other sites, forms post here only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # pdf.js renders PDFs with its worker (a module script of ours, never a blob: URL).
        "worker-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
# Permissions-Policy (django-permissions-policy): no page uses these browser features.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
    )
}

# Uploads: citation exports can be large, but not unbounded.
MAX_UPLOAD_MB = env_int("MAX_UPLOAD_MB", 500)
MAX_PDF_MB = env_int("MAX_PDF_MB", 50)
# An export of at least this size is parsed in a second process while the worker writes
# its records (two cores instead of one); -1 never does.
IMPORT_PARSER_PROCESS_MIN_MB = env_int("IMPORT_PARSER_PROCESS_MIN_MB", 4)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
INVITATION_DAYS = env_int("INVITATION_DAYS", 14)

# Database searches run from reviewflow (screening/connectors/): each service's base address
# (tests point them at a local server), NCBI's optional API key (10 requests a second
# instead of 3), the contact address NCBI and Europe PMC ask clients to send, and how
# often a request is tried before a run gives up.
PUBMED_EUTILS_URL = env_str("PUBMED_EUTILS_URL", "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/")
PUBMED_API_KEY = env_str("PUBMED_API_KEY")
EUROPEPMC_URL = env_str("EUROPEPMC_URL", "https://www.ebi.ac.uk/europepmc/webservices/rest/")
EUROPEPMC_REQUESTS_PER_SECOND = env_int("EUROPEPMC_REQUESTS_PER_SECOND", 5)
OPENALEX_URL = env_str("OPENALEX_URL", "https://api.openalex.org/")
CLINICALTRIALS_URL = env_str("CLINICALTRIALS_URL", "https://clinicaltrials.gov/api/v2/")
CROSSREF_URL = env_str("CROSSREF_URL", "https://api.crossref.org")
CONNECTOR_EMAIL = env_str("CONNECTOR_EMAIL")
CONNECTOR_ATTEMPTS = env_int("CONNECTOR_ATTEMPTS", 5)
# Open-access copies of full texts (screening/services/openaccess.py): Unpaywall's base
# address and the contact address it requires (else CONNECTOR_EMAIL, else the address of
# DEFAULT_FROM_EMAIL), how long one PDF download may take, and whether a PDF address on this
# machine or a private network may be fetched (only a test's local server needs that).
UNPAYWALL_URL = env_str("UNPAYWALL_URL", "https://api.unpaywall.org/v2/")
UNPAYWALL_EMAIL = env_str("UNPAYWALL_EMAIL")
OA_DOWNLOAD_TIMEOUT = env_int("OA_DOWNLOAD_TIMEOUT", 60)
OA_ALLOW_PRIVATE_ADDRESSES = env_bool("OA_ALLOW_PRIVATE_ADDRESSES", False)

# Sign-in throttling (reviewflow/reviews/throttling.py): failures counted in the database.
LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5)
LOGIN_MAX_FAILURES_PER_IP = env_int("LOGIN_MAX_FAILURES_PER_IP", 20)
LOGIN_FAILURE_WINDOW_MINUTES = env_int("LOGIN_FAILURE_WINDOW_MINUTES", 15)
# 1 when a reverse proxy sets X-Forwarded-For: throttling then counts the client's address.
USE_X_FORWARDED_FOR = env_bool("USE_X_FORWARDED_FOR", False)

# ---------------------------------------------------------------- single sign-on
# OpenID Connect providers, several at once (OIDC_PROVIDERS, see reviewflow/sso_config.py);
# django-allauth runs the protocol, reviewflow/reviews/sso.py decides who gets in. A first
# sign-in links to the account using the provider's verified e-mail address; with
# OIDC_CREATE_USERS it makes an account when none does (else only an invitation link can).
# LOCAL_PASSWORDS=0 turns passwords off (the sign-in form, the admin's): SSO only.
_OIDC_APPS = oidc_apps_from_env(os.environ)
OIDC_CREATE_USERS = env_bool("OIDC_CREATE_USERS", False)
LOCAL_PASSWORDS = env_bool("LOCAL_PASSWORDS", True)
if not LOCAL_PASSWORDS and not _OIDC_APPS:
    raise ImproperlyConfigured(
        "LOCAL_PASSWORDS=0 needs at least one provider in OIDC_PROVIDERS: nobody could sign in"
    )
# May a new user signing up from an invitation link change the address it was sent to?
# Off by default: the link reached that address, so the account starts with a known one.
SIGNUP_EMAIL_EDITABLE = env_bool("SIGNUP_EMAIL_EDITABLE", False)
SOCIALACCOUNT_PROVIDERS = {"openid_connect": {"APPS": _OIDC_APPS}}
ACCOUNT_ADAPTER = "reviewflow.reviews.sso.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "reviewflow.reviews.sso.SocialAccountAdapter"
# The provider has verified the address (sso.py insists on it): allauth sends no mail.
ACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # linking by e-mail is sso.py's, with its rules
SOCIALACCOUNT_STORE_TOKENS = False  # we sign in with the provider; we never call its APIs
SOCIALACCOUNT_REQUESTS_TIMEOUT = 10
# The "Sign in with …" buttons post here and are sent on to each provider's own site.
CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"] += provider_origins(_OIDC_APPS)

# ---------------------------------------------------------------- e-mail
# EMAIL_URL says where mail goes (reviewflow/mail.py): smtp://user:pass@host:587?tls=1,
# smtps://user:pass@host (port 465), console:// (the default: printed by the worker),
# file:///folder or memory://. Mail is sent by Celery tasks, never inside a request; a
# message is tried EMAIL_ATTEMPTS times, waiting EMAIL_RETRY_SECONDS, then twice as long
# each time, before it is marked failed (and its owner sees why).
try:
    _email = email_settings_from_url(env_str("EMAIL_URL"))
except EmailUrlError as exc:
    raise ImproperlyConfigured(str(exc)) from None
EMAIL_BACKEND: str = _email["EMAIL_BACKEND"]
EMAIL_HOST: str = _email.get("EMAIL_HOST", "localhost")
EMAIL_PORT: int = _email.get("EMAIL_PORT", 25)
EMAIL_HOST_USER: str = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD: str = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS: bool = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL: bool = _email.get("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT: int = _email.get("EMAIL_TIMEOUT", 10)
if "EMAIL_FILE_PATH" in _email:
    EMAIL_FILE_PATH: str = _email["EMAIL_FILE_PATH"]
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "reviewflow <reviewflow@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_ATTEMPTS = env_int("EMAIL_ATTEMPTS", 6)
EMAIL_RETRY_SECONDS = env_int("EMAIL_RETRY_SECONDS", 60)
# Password reset messages one address may be sent per hour (more requests are answered
# alike, so nobody learns which addresses have accounts, but send nothing).
PASSWORD_RESET_EMAILS_PER_HOUR = env_int("PASSWORD_RESET_EMAILS_PER_HOUR", 3)
# How long a link that confirms a new e-mail address works, in days.
EMAIL_CHANGE_DAYS = env_int("EMAIL_CHANGE_DAYS", 3)

# ---------------------------------------------------------------- REST API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "reviewflow.reviews.authentication.TokenAuthentication",
    ],
    # Signed in; anonymous requests for a review's URLs get 404 like non-members.
    "DEFAULT_PERMISSION_CLASSES": ["reviewflow.reviews.permissions.SignedIn"],
    "DEFAULT_SCHEMA_CLASS": "reviewflow.api_schema.AutoSchema",  # documents error responses
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "reviewflow.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "reviewflow API",
    "DESCRIPTION": "Systematic review workflow: reviews, members, searches, records, screening.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several "decision" fields take different choices: name each set.
    "ENUM_NAME_OVERRIDES": {
        "VoteDecisionEnum": "screening.models.Decision",
        "PairDecisionEnum": "screening.models.PairDecision",
        "ResolveDecisionEnum": ["include", "exclude"],
        "DuplicateDecisionEnum": ["duplicate", "not_duplicate"],
        "FormStatusEnum": "extraction.models.FormStatus",
        "ExtractionStatusEnum": "extraction.models.ExtractionStatus",
        "ConsensusStatusEnum": "extraction.models.ConsensusStatus",
        "SearchMethodEnum": "screening.models.SearchMethod",
        "InvitationProgressEnum": "reviewflow.reviews.models.INVITATION_PROGRESS",
        "PdfBatchStatusEnum": "screening.models.PdfBatchStatus",
        "PdfMatchEnum": "screening.models.PdfMatch",
        "GradeMethodEnum": "extraction.models.GradeMethod",  # summary-of-findings pooling
        "GradeControlRiskEnum": "extraction.models.GradeControlRisk",
    },
}

# ---------------------------------------------------------------- Celery
# REDIS_URL set → Redis; unset → kombu's filesystem transport in the data folder, so a real
# worker process runs imports on a laptop with nothing installed.
REDIS_URL = env_str("REDIS_URL")
CELERY_DATA_DIR = DATA_DIR / "celery"
REDIS_TRANSPORT_OPTIONS: dict[str, object] = {
    "visibility_timeout": 3600,
    # A Redis that is down or hung must not hold a web request for long (see
    # CELERY_TASK_PUBLISH_RETRY_POLICY below).
    "socket_connect_timeout": 2,
    "socket_timeout": 2,
}
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = dict(REDIS_TRANSPORT_OPTIONS)
else:
    for sub in ("queue", "processed", "control"):
        (CELERY_DATA_DIR / sub).mkdir(parents=True, exist_ok=True)
    # The host is ignored by this transport; naming one keeps kombu from warning "No
    # hostname was supplied" at every connection.
    CELERY_BROKER_URL = "filesystem://localhost/"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_DATA_DIR / "queue"),
        "data_folder_out": str(CELERY_DATA_DIR / "queue"),
        "processed_folder": str(CELERY_DATA_DIR / "processed"),
        "control_folder": str(CELERY_DATA_DIR / "control"),
        "store_processed": False,
    }
# One queue name per installation, so several installs (or test runs) can share one Redis.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "reviewflow")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The worker re-sends, this often, imports and deduplications waiting longer than this
# (tasks the web process could not send while the worker stayed connected); 0: never.
REQUEUE_INTERVAL_SECONDS = env_int("REQUEUE_INTERVAL_SECONDS", 300)
# A running import or deduplication shows it is alive (Search.heartbeat_at) every quarter of
# this; a worker restarts one silent for longer (its worker died whole), checking as often;
# 0: never (a dead worker's import then waits for the broker to redeliver it).
STALE_TASK_SECONDS = env_int("STALE_TASK_SECONDS", 120)
# Sending a task tries twice, so a request answers within about four seconds when the broker
# is down; what the task was for stays queued in the database and the worker sends it again
# when it connects (reviewflow.broker.send_task, reviewflow.celery.RequeueQueuedSearches).
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# Celery beat's timetable (run `celery -A reviewflow beat` once per installation; `make run`
# runs it inside its worker). Scheduled saved searches are checked this often, in seconds.
SAVED_SEARCH_CHECK_SECONDS = env_int("SAVED_SEARCH_CHECK_SECONDS", 300)
# Notifications (reviewflow/reviews/notifications.py, digest.py): the site's address for
# links in e-mail written by workers (no request to ask), and when digests go: daily ones at
# or after DIGEST_HOUR (TIME_ZONE's clock), weekly ones on DIGEST_WEEKDAY (0 = Monday); a
# digest names deadlines within DIGEST_DEADLINE_DAYS. Beat checks every DIGEST_CHECK_SECONDS.
SITE_URL = env_str("SITE_URL", "http://localhost:8000").rstrip("/")
DIGEST_HOUR = env_int("DIGEST_HOUR", 7)
DIGEST_WEEKDAY = env_int("DIGEST_WEEKDAY", 0)
DIGEST_DEADLINE_DAYS = env_int("DIGEST_DEADLINE_DAYS", 3)
DIGEST_CHECK_SECONDS = env_int("DIGEST_CHECK_SECONDS", 900)
if not 0 <= DIGEST_HOUR <= 23 or not 0 <= DIGEST_WEEKDAY <= 6:
    raise ImproperlyConfigured(
        f"DIGEST_HOUR must be 0 to 23 (not {DIGEST_HOUR}) and DIGEST_WEEKDAY 0 (Monday) to 6 "
        f"(not {DIGEST_WEEKDAY})"
    )
CELERY_BEAT_SCHEDULE = {
    "run-due-saved-searches": {
        "task": "screening.tasks.run_due_saved_searches",
        "schedule": float(SAVED_SEARCH_CHECK_SECONDS),
    },
    "send-due-digests": {
        "task": "reviewflow.reviews.tasks.send_due_digests",
        "schedule": float(DIGEST_CHECK_SECONDS),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
