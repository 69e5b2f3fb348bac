"""The one place that decides who may see and change a review.

Non-members get 404, never 403: an outsider cannot even learn that a review exists.
Members without the needed role get 403 with a message naming the role.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.http import Http404, HttpRequest

from reviewflow.reviews.models import Membership, Review, Role


def signed_in_user(request: HttpRequest) -> User:
    """The request's user, who views guard with ``login_required`` (typed for mypy)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("Sign in first.")
    return user


@dataclass(frozen=True)
class ReviewAccess:
    review: Review
    membership: Membership

    @property
    def user(self) -> User:
        return self.membership.user

    @property
    def role(self) -> str:
        return self.membership.role

    @property
    def is_owner(self) -> bool:
        return self.membership.role == Role.OWNER

    @property
    def can_screen(self) -> bool:
        return self.membership.has_role(Role.REVIEWER)


def get_review_for(
    user: User | AnonymousUser | Any, slug: str, *, role: str = Role.VIEWER
) -> ReviewAccess:
    """The review ``slug`` if ``user`` is a member with at least ``role``.

    Raises ``Http404`` for anonymous users and non-members, ``PermissionDenied`` for
    members whose role is too low.
    """
    if not isinstance(user, User) or not user.is_authenticated:
        raise Http404("No such review.")
    membership = _membership(user, slug)
    if membership is None:
        raise Http404("No such review.")
    if not membership.has_role(role):
        raise PermissionDenied(f"This needs the {Role(role).label.lower()} role in this review.")
    return ReviewAccess(review=membership.review, membership=membership)


_MEMBERSHIP_FIELDS = ["id", "review_id", "user_id", "role"]


def _membership(user: User, slug: str) -> Membership | None:
    """``user``'s membership of the review ``slug``, with the review, in one query (every
    page and API call asks it first)."""
    found: list[Any] = list(
        Review.objects.filter(slug=slug, memberships__user_id=user.pk).annotate(
            membership_id=F("memberships__id"), membership_role=F("memberships__role")
        )
    )
    if not found:
        return None
    review = found[0]
    membership = Membership.from_db(
        review._state.db,
        _MEMBERSHIP_FIELDS,
        [review.membership_id, review.pk, user.pk, review.membership_role],
    )
    membership.review = review
    membership.user = user
    return membership
