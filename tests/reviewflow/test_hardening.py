"""Web hardening: deploy check, cookies, HSTS, CSRF, escaping of imported text, upload limits."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.authentication import SessionAuthentication
from rest_framework.authtoken.models import Token

from reviewflow.reviews.authentication import TokenAuthentication
from screening.models import Record, Search, Stage
from screening.services import identification
from screening.services.fulltext import attach_full_text
from screening.services.screening.stage_settings import update_stage_settings
from screening.services.screening.votes import cast_vote
from tests.conftest import PASSWORD
from tests.screening.factories import upload

REPO = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "reviewflow.settings",
    "DEBUG": "0",
    "SECRET_KEY": "k8Vq3-production-like-secret-key-with-enough-entropy-9fX2pL7mZr4tW1yB",
    "ALLOWED_HOSTS": "reviews.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://reviews.example.org",
}


def production(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py`` or python with the production settings and a production-like env."""
    env = {**os.environ, **PRODUCTION_ENV, "REVIEWFLOW_DATA_DIR": str(tmp_path)}
    for name in ("DJANGO_ALLOW_ASYNC_UNSAFE", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def test_deploy_check_has_no_warnings_in_production(tmp_path):
    result = production(tmp_path, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_cookies_hsts_and_headers_are_strict(tmp_path):
    script = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({k: getattr(s, k) for k in ["
        "'SESSION_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', 'SESSION_COOKIE_SAMESITE', "
        "'CSRF_COOKIE_SECURE', 'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', "
        "'SECURE_SSL_REDIRECT', 'SECURE_CONTENT_TYPE_NOSNIFF', 'X_FRAME_OPTIONS', "
        "'SECURE_REFERRER_POLICY', 'DEBUG']}))"
    )
    result = production(tmp_path, "-c", script)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "X_FRAME_OPTIONS": "DENY",
        "SECURE_REFERRER_POLICY": "same-origin",
        "DEBUG": False,
    }


@pytest.mark.django_db
def test_sign_in_sets_secure_http_only_cookies_and_hsts_over_https(client, owner, settings):
    # The production values (the test settings relax them for plain-HTTP test servers).
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 31536000
    page = client.get(reverse("login"), secure=True)
    assert page["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert page["X-Frame-Options"] == "DENY"
    assert page["X-Content-Type-Options"] == "nosniff"
    response = client.post(
        reverse("login"), {"username": "olivia", "password": PASSWORD}, secure=True
    )
    assert response.status_code == 302
    session = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"
    assert response.cookies[settings.CSRF_COOKIE_NAME]["secure"]


# ------------------------------------------------------------------------------ CSRF


def csrf_client(user=None) -> Client:
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    return client


def token_of(client: Client, url: str) -> str:
    client.get(url)
    return client.cookies["csrftoken"].value


@pytest.mark.django_db
def test_sign_in_form_refuses_a_post_without_csrf_token(owner):
    client = csrf_client()
    bare = client.post(reverse("login"), {"username": "olivia", "password": PASSWORD})
    assert bare.status_code == 403
    token = token_of(client, reverse("login"))
    data = {"username": "olivia", "password": PASSWORD, "csrfmiddlewaretoken": token}
    assert client.post(reverse("login"), data).status_code == 302


@pytest.mark.django_db
def test_review_forms_refuse_posts_without_csrf_token(review, owner, reviewer):
    record = import_hostile(review, owner)
    cases = [
        (owner, reverse("review-create"), {"title": "New", "slug": "new-review"}),
        (owner, reverse("review-members", args=[review.slug]), {"username": "x", "role": "viewer"}),
        (
            owner,
            reverse("review-searches", args=[review.slug]),
            {"source": "PubMed", "file": upload("TY  - JOUR\nTI  - T\nER  - \n", "a.ris")},
        ),
        (
            reviewer,
            reverse("screen-vote", args=[review.slug, Stage.TITLE_ABSTRACT]),
            {"record": record.pk, "decision": "include"},
        ),
    ]
    for user, url, data in cases:
        client = csrf_client(user)
        assert client.post(url, data).status_code == 403, url
    # The same form with its token goes through (the refusal above was the token's doing).
    client = csrf_client(owner)
    token = token_of(client, reverse("review-create"))
    data = {"title": "New", "slug": "new-review", "csrfmiddlewaretoken": token}
    assert client.post(reverse("review-create"), data).status_code == 302


@pytest.mark.django_db
def test_api_needs_csrf_with_a_session_but_not_with_a_token(owner):
    url = reverse("api-reviews")
    session = csrf_client(owner).post(url, {"slug": "by-api", "title": "By API"})
    assert session.status_code == 403
    assert "CSRF" in session.json()["detail"]
    token = Token.objects.create(user=owner)
    by_token = Client(enforce_csrf_checks=True).post(
        url, {"slug": "by-api", "title": "By API"}, HTTP_AUTHORIZATION=f"Token {token.key}"
    )
    assert by_token.status_code == 201


def _views(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _views(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p.callback


# Views that may skip Django's CSRF check, and why.
CSRF_EXEMPT = {
    # RFC 8058 one-click unsubscribe: mail clients POST without a form token; the signed,
    # per-user token in the address is the credential, and all it can do is turn e-mail off.
    "notifications/unsubscribe/<str:token>/",
}


def test_no_view_skips_csrf_protection():
    for route, view in _views(get_resolver().url_patterns):
        if route in CSRF_EXEMPT:
            continue
        cls = getattr(view, "cls", None)
        if cls is not None and hasattr(cls, "authentication_classes"):
            # DRF views are csrf_exempt for Django; SessionAuthentication checks CSRF
            # itself, and tokens are not sent by browsers on their own.
            auth = set(cls.authentication_classes)
            assert auth <= {SessionAuthentication, TokenAuthentication}, route
            continue
        assert not getattr(view, "csrf_exempt", False), route


# ------------------------------------------------------------------------------ escaping

HOSTILE_TITLE = "<script>alert(1)</script> Stem cells"
HOSTILE_ABSTRACT = '<img src=x onerror="alert(2)"> mesenchymal stromal cells'


def import_hostile(review, owner) -> Record:
    ris = (
        f"TY  - JOUR\nTI  - {HOSTILE_TITLE}\nAU  - <b>Evil</b>, A\n"
        f"AB  - {HOSTILE_ABSTRACT}\nER  - \n"
    )
    search = identification.create_search(
        review=review, actor=owner, file=upload(ris, "x.ris"), filename="x.ris", source="PubMed"
    )
    identification.run_import(search_id=search.pk)
    return Record.objects.get(search=search)


def assert_escaped(page: str) -> None:
    assert "<script>alert(1)" not in page
    assert "<img src=x" not in page
    assert "<b>Evil</b>" not in page
    assert "&lt;script&gt;" in page


@pytest.mark.django_db
def test_imported_markup_shows_as_text_also_inside_highlighted_terms(
    review, owner, reviewer, client_for
):
    record = import_hostile(review, owner)
    update_stage_settings(
        review=review,
        stage=Stage.TITLE_ABSTRACT,
        actor=owner,
        include_terms="alert\nscript\nonerror",
        exclude_terms="<script>",
    )
    page = client_for(reviewer).get(reverse("screen", args=[review.slug, "title-abstract"]))
    html = page.content.decode()
    assert page.status_code == 200
    assert_escaped(html)
    assert '<mark class="hl-include">alert</mark>(1)' in html
    assert '<mark class="hl-exclude">&lt;script&gt;</mark>' in html
    assert "onerror" not in html.replace('<mark class="hl-include">onerror</mark>', "")

    viewer_pages = [
        reverse("record-detail", args=[review.slug, record.pk]),
        reverse("review-records", args=[review.slug]),
        reverse("review-records", args=[review.slug]) + "?q=script",
    ]
    for url in viewer_pages:
        response = client_for(owner).get(url)
        assert response.status_code == 200, url
        assert_escaped(response.content.decode())


# ------------------------------------------------------------------------------ uploads


@pytest.mark.django_db
def test_an_export_over_the_size_limit_is_refused_with_the_limit(
    review, owner, client_for, settings
):
    settings.MAX_UPLOAD_MB = 1
    big = upload(b"TY  - JOUR\nTI  - T\nER  - \n" + b" " * (1024 * 1024 + 1), "big.ris")
    response = client_for(owner).post(
        reverse("review-searches", args=[review.slug]),
        {"file": big, "source": "PubMed", "source_type": "database", "format": "auto"},
    )
    assert response.status_code == 200
    assert "big.ris: the file is 1.0 MB; the limit is 1 MB." in response.content.decode()
    assert not Search.objects.filter(review=review).exists()


@pytest.mark.django_db
def test_a_file_that_is_not_an_export_fails_with_a_reason(review, owner):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
    search = identification.create_search(
        review=review, actor=owner, file=upload(png, "photo.ris"), filename="photo.ris", source="X"
    )
    identification.run_import(search_id=search.pk)
    search.refresh_from_db()
    assert search.status == "failed"
    assert search.failure == "photo.ris: the file is binary, not a text export"


@pytest.mark.django_db
def test_full_text_must_be_a_pdf_within_the_limit(review, owner, reviewer, reviewer2, settings):
    record = import_hostile(review, owner)
    for user in (reviewer, reviewer2):
        cast_vote(
            review=review,
            record=record,
            reviewer=user,
            stage=Stage.TITLE_ABSTRACT,
            decision="include",
        )
    fake = io.BytesIO(b"<html><script>alert(1)</script></html>")
    with pytest.raises(Exception, match=r"page\.pdf: this is not a PDF file\."):
        attach_full_text(
            review=review, record=record, actor=reviewer, file=fake, filename="page.pdf"
        )
    settings.MAX_PDF_MB = 1
    client = Client()
    client.force_login(reviewer)
    big = upload(b"%PDF-1.4\n" + b"0" * (1024 * 1024 + 10), "big.pdf")
    response = client.post(
        reverse("fulltext-attach", args=[review.slug, record.pk]), {"pdf": big}, follow=True
    )
    assert "big.pdf: the file is 1.0 MB; the limit is 1 MB." in response.content.decode()
    assert not hasattr(record, "report") or not record.report.pdf


@pytest.mark.django_db
def test_an_api_body_with_too_many_fields_is_refused_in_json(review, owner, client_for):
    """Django refuses a form body of more than DATA_UPLOAD_MAX_NUMBER_FIELDS fields while
    DRF parses it; the API says so in JSON, not with Django's HTML error page."""
    url = reverse("api-records-bulk", args=[review.slug])
    body = "&".join(f"ids={n}" for n in range(1500))
    answer = client_for(owner).post(url, body, content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/json"
    assert answer.json()["detail"].startswith("The request was refused: ")
