"""Security headers: every HTML page sends the Content-Security-Policy and the
Permissions-Policy; SVG documents get a policy of their own; no template needs inline code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.screening.factories import ris_records, upload

pytestmark = pytest.mark.django_db

PAGE_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    # The PDF viewer's pdf.js worker, a static file of ours (#22).
    "worker-src": "'self'",
}
SVG_POLICY = {"default-src": "'none'", "frame-ancestors": "'none'", "sandbox": ""}
TEMPLATE_DIRS = [
    Path(__file__).resolve().parents[2] / d
    for d in (
        "reviewflow/templates",
        "reviewflow/reviews/templates",
        "screening/templates",
        "extraction/templates",
    )
]


def policy(response) -> dict[str, str]:
    header = response.headers.get("Content-Security-Policy", "")
    directives = (part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return {d[0]: d[1] if len(d) > 1 else "" for d in directives}


def routes(resolver: URLResolver, prefix: str = "") -> list[str]:
    out: list[str] = []
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            out += routes(p, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            out.append(prefix + str(p.pattern))
    return out


def test_every_html_page_sends_the_content_security_and_permissions_policies(client, review, owner):
    from screening.services import identification

    identification.create_search(
        review=review, actor=owner, file=upload(ris_records(2)), filename="a.ris", source="PubMed"
    )
    client.force_login(owner)
    pages = ["/accounts/login/", "/admin/login/", "/api/docs/"]
    for route in routes(get_resolver()):
        url = route.replace("<slug:slug>", review.slug).replace("<str:stage>", "title-abstract")
        if route.startswith(("admin/", "api/")) or "<" in url:
            continue  # the admin's and the API's own pages are above; other ids need objects
        pages.append("/" + url)
    checked = []
    for url in pages:
        response = client.get(url)
        if not response.get("Content-Type", "").startswith("text/html"):
            continue
        assert policy(response) == PAGE_POLICY, url
        assert "camera=()" in response.headers["Permissions-Policy"], url
        assert "geolocation=()" in response.headers["Permissions-Policy"], url
        checked.append(url)
    assert len(checked) >= 20, checked
    assert f"/r/{review.slug}/screen/title-abstract/" in checked


def test_an_api_answer_and_an_error_page_carry_the_policy_too(client, review, owner):
    client.force_login(owner)
    assert policy(client.get(f"/api/v1/reviews/{review.slug}/")) == PAGE_POLICY
    missing = client.get("/r/no-such-review/")
    assert missing.status_code == 404
    assert policy(missing) == PAGE_POLICY


def test_the_prisma_svg_is_served_with_a_policy_that_runs_and_loads_nothing(client, review, owner):
    client.force_login(owner)
    for url in (
        f"/r/{review.slug}/prisma/?format=svg",
        f"/api/v1/reviews/{review.slug}/prisma.svg",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Type"].startswith("image/svg+xml"), url
        assert policy(response) == SVG_POLICY, url


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an inline event handler"),
    (re.compile(r"\shx-on", re.I), "an hx-on handler (htmx evaluates it as code)"),
    (re.compile(r"\sstyle\s*=", re.I), "an inline style attribute"),
    (re.compile(r"<style", re.I), "an inline <style>"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


def test_no_template_holds_inline_script_handler_or_style():
    found = []
    for folder in TEMPLATE_DIRS:
        for path in sorted(folder.rglob("*.html")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                for pattern, what in INLINE:
                    if pattern.search(line):
                        found.append(f"{path.relative_to(folder.parent)}:{number}: {what}")
    assert not found, "\n".join(found)
