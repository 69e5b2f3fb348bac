"""The Content-Security-Policy of every response: django-csp's middleware, with a stricter
policy for SVG documents.

A page's policy (``CONTENT_SECURITY_POLICY`` in settings) lets it load scripts, styles and
images from this site only. An SVG opened on its own (the PRISMA diagram's download, its
API twin) is a document that could run script if an attacker ever got markup into it, so it
gets a policy that loads nothing, runs nothing and cannot be framed. A response that sets
its own policy (the full-text PDF's ``sandbox``) keeps it: django-csp never overwrites one.
"""

from __future__ import annotations

from typing import Any

from csp.constants import NONE
from csp.middleware import CSPMiddleware, PolicyParts
from csp.utils import default_config
from django.http import HttpRequest
from django.http.response import HttpResponseBase

SVG_DIRECTIVES: dict[str, Any] = {
    "default-src": [NONE],
    "frame-ancestors": [NONE],
    "sandbox": True,
}


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware; an ``image/svg+xml`` response gets ``SVG_DIRECTIVES``."""

    def get_policy_parts(
        self,
        request: HttpRequest,
        response: HttpResponseBase,
        report_only: bool = False,
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        content_type = response.get("Content-Type", "")
        if not report_only and content_type.split(";")[0].strip() == "image/svg+xml":
            parts.config = default_config(SVG_DIRECTIVES)
            parts.update = parts.replace = None
        return parts
