"""Settings for the test suite: the production settings, minus HTTPS-only cookies and
redirects (the test server speaks plain HTTP), with fast password hashing and Celery tasks
run in the calling process unless a test starts a real worker."""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")

from reviewflow.settings import *  # noqa: E402,F403
from reviewflow.settings import DATA_DIR, DATABASES  # noqa: E402

SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = Path(os.environ.get("TEST_MEDIA_ROOT", tempfile.gettempdir())) / "reviewflow-media"
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not memory: a real Celery worker in another process must see the test data.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
# The live server of browser tests serves static files straight from the apps' folders.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
