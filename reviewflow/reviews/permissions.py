"""The API's default permission: signed in, and a review's URLs answer strangers 404."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request


class SignedIn(IsAuthenticated):
    """DRF's ``IsAuthenticated``, except that an anonymous request for one of a review's URLs
    (``/api/v1/reviews/{slug}/…``) gets the 404 a non-member gets from ``get_review_for``,
    whether the review exists or not (SECURITY.md): DRF would answer 403 "not
    authenticated". Other URLs (the list of one's reviews, accepting an invitation) still
    answer 403, which tells nothing about any review. A wrong token is still refused with
    "Invalid token." before permissions are checked, the same for every address.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        if super().has_permission(request, view):
            return True
        if "slug" in getattr(view, "kwargs", {}):
            raise Http404("No such review.")
        return False
