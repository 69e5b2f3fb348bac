"""Every write to reviews, members, invitations and the audit trail goes through here."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import (
    AuditEvent,
    Invitation,
    Membership,
    Review,
    Role,
    WorkerHeartbeat,
)

INVITATION_STATE = {"accepted": "been used", "expired": "expired", "revoked": "been revoked"}
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
REVIEW_FIELDS = ("title", "slug", "question", "protocol_registration")


def record_audit(
    *,
    review: Review,
    actor: User | None,
    action: str,
    target: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    object_type: str = "",
    object_id: int | None = None,
) -> AuditEvent:
    """Append one event to the review's audit trail."""
    return AuditEvent.objects.create(
        **audit_fields(
            review=review,
            actor=actor,
            action=action,
            target=target,
            before=before,
            after=after,
            object_type=object_type,
            object_id=object_id,
        )
    )


def audit_fields(
    *,
    review: Review,
    actor: User | None,
    action: str,
    target: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    object_type: str = "",
    object_id: int | None = None,
) -> dict[str, Any]:
    """The fields of one audit event, for services that write many with ``bulk_create``."""
    return {
        "review": review,
        "actor": actor if actor is not None and actor.is_authenticated else None,
        "action": action,
        "target": target[:300],
        "before": before,
        "after": after,
        "object_type": object_type,
        "object_id": object_id,
        "created_at": timezone.now(),
    }


def _review_snapshot(review: Review) -> dict[str, Any]:
    return {name: getattr(review, name) for name in REVIEW_FIELDS}


def _check_review_fields(*, title: str, slug: str) -> None:
    if not title.strip():
        raise ReviewflowError("A review needs a title.", field="title")
    if not SLUG_RE.match(slug):
        raise ReviewflowError(
            "The slug may hold only lower-case letters, digits and single hyphens "
            "(e.g. msc-diabetes).",
            field="slug",
        )
    if len(slug) > 60:
        raise ReviewflowError("The slug is longer than 60 characters.", field="slug")


@transaction.atomic
def create_review(
    *,
    title: str,
    slug: str,
    owner: User,
    question: str = "",
    protocol_registration: str = "",
) -> Review:
    """Create a review with ``owner`` as its first owner."""
    title, slug = title.strip(), slug.strip()
    _check_review_fields(title=title, slug=slug)
    if Review.objects.filter(slug=slug).exists():
        raise ReviewflowError(f"A review with the slug “{slug}” already exists.", field="slug")
    try:
        with transaction.atomic():
            review = Review.objects.create(
                title=title,
                slug=slug,
                question=question.strip(),
                protocol_registration=protocol_registration.strip(),
                created_by=owner,
            )
    except IntegrityError:
        raise ReviewflowError(
            f"A review with the slug “{slug}” already exists.", field="slug"
        ) from None
    Membership.objects.create(review=review, user=owner, role=Role.OWNER)
    record_audit(
        review=review,
        actor=owner,
        action="review.created",
        target=title,
        after=_review_snapshot(review),
    )
    record_audit(
        review=review,
        actor=owner,
        action="member.added",
        target=owner.get_username(),
        after={"role": Role.OWNER},
    )
    return review


@transaction.atomic
def update_review(*, review: Review, actor: User, **changes: str) -> Review:
    """Change a review's title, slug, question or protocol registration."""
    unknown = set(changes) - set(REVIEW_FIELDS)
    if unknown:
        raise ReviewflowError(f"Unknown review field: {', '.join(sorted(unknown))}.")
    before = _review_snapshot(review)
    new = {**before, **{k: v.strip() for k, v in changes.items()}}
    _check_review_fields(title=new["title"], slug=new["slug"])
    if new["slug"] != review.slug and Review.objects.filter(slug=new["slug"]).exists():
        raise ReviewflowError(
            f"A review with the slug “{new['slug']}” already exists.", field="slug"
        )
    diff_before = {k: v for k, v in before.items() if new[k] != v}
    if not diff_before:
        return review
    for key, value in new.items():
        setattr(review, key, value)
    review.save()
    record_audit(
        review=review,
        actor=actor,
        action="review.updated",
        target=review.title,
        before=diff_before,
        after={k: new[k] for k in diff_before},
    )
    return review


def _lock_review(review: Review) -> Review:
    # Serialises membership changes of one review, so two owners demoting each other at
    # the same moment cannot leave it without an owner.
    return Review.objects.select_for_update().get(pk=review.pk)


def _check_role(role: str) -> Role:
    if role not in Role.values:
        raise ReviewflowError(
            f"Unknown role “{role}”: choose owner, reviewer or viewer.", field="role"
        )
    return Role(role)


@transaction.atomic
def add_member(*, review: Review, actor: User, user: User, role: str) -> Membership:
    """Make an existing user a member of ``review`` with ``role``."""
    role = _check_role(role)
    _lock_review(review)
    if Membership.objects.filter(review=review, user=user).exists():
        raise ReviewflowError(
            f"{user.get_username()} is already a member of this review.", field="username"
        )
    membership = Membership.objects.create(review=review, user=user, role=role)
    record_audit(
        review=review,
        actor=actor,
        action="member.added",
        target=user.get_username(),
        after={"role": role},
    )
    return membership


def _owner_count(review: Review) -> int:
    return Membership.objects.filter(review=review, role=Role.OWNER).count()


@transaction.atomic
def change_role(*, membership: Membership, actor: User, role: str) -> Membership:
    """Give a member another role; the last owner cannot stop being an owner."""
    role = _check_role(role)
    _lock_review(membership.review)
    membership = Membership.objects.select_related("user", "review").get(pk=membership.pk)
    old = membership.role
    if old == role:
        return membership
    if old == Role.OWNER and _owner_count(membership.review) == 1:
        raise ReviewflowError(
            "This is the review's last owner: make another member an owner first.",
            field="role",
        )
    membership.role = role
    membership.save(update_fields=["role"])
    record_audit(
        review=membership.review,
        actor=actor,
        action="member.role_changed",
        target=membership.user.get_username(),
        before={"role": old},
        after={"role": role},
    )
    return membership


@transaction.atomic
def remove_member(*, membership: Membership, actor: User) -> None:
    """Remove a member; the last owner cannot be removed."""
    _lock_review(membership.review)
    membership = Membership.objects.select_related("user", "review").get(pk=membership.pk)
    if membership.role == Role.OWNER and _owner_count(membership.review) == 1:
        raise ReviewflowError(
            "This is the review's last owner: make another member an owner first."
        )
    review, username, role = membership.review, membership.user.get_username(), membership.role
    membership.delete()
    record_audit(
        review=review,
        actor=actor,
        action="member.removed",
        target=username,
        before={"role": role},
    )


@transaction.atomic
def create_invitation(
    *,
    review: Review,
    actor: User,
    role: str,
    email: str = "",
    days: int | None = None,
) -> Invitation:
    """A single-use invitation link, valid for ``days`` (default ``INVITATION_DAYS``)."""
    role = _check_role(role)
    days = settings.INVITATION_DAYS if days is None else days
    if not 1 <= days <= 90:
        raise ReviewflowError("An invitation is valid for 1 to 90 days.", field="days")
    invitation = Invitation.objects.create(
        review=review,
        token=secrets.token_urlsafe(32),
        email=email.strip(),
        role=role,
        created_by=actor,
        expires_at=timezone.now() + timedelta(days=days),
    )
    record_audit(
        review=review,
        actor=actor,
        action="invitation.created",
        target=email.strip() or f"invitation {invitation.pk}",
        after={"role": role, "expires_at": invitation.expires_at.isoformat()},
    )
    return invitation


@transaction.atomic
def revoke_invitation(*, invitation: Invitation, actor: User) -> Invitation:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status != "open":
        raise ReviewflowError(f"This invitation is already {invitation.status}.")
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    record_audit(
        review=invitation.review,
        actor=actor,
        action="invitation.revoked",
        target=invitation.email or f"invitation {invitation.pk}",
        before={"status": "open"},
        after={"status": "revoked"},
    )
    return invitation


@transaction.atomic
def accept_invitation(*, token: str, user: User) -> Membership:
    """Use an invitation: ``user`` joins its review with its role. Each link works once."""
    invitation = (
        Invitation.objects.select_for_update().select_related("review").filter(token=token).first()
    )
    if invitation is None:
        raise ReviewflowError("This invitation link is not valid.", code="not_found")
    if invitation.status != "open":
        raise ReviewflowError(
            f"This invitation link has {INVITATION_STATE[invitation.status]}: "
            "ask an owner of the review for a new one."
        )
    review = invitation.review
    if Membership.objects.filter(review=review, user=user).exists():
        raise ReviewflowError("You are already a member of this review.")
    membership = Membership.objects.create(review=review, user=user, role=invitation.role)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    record_audit(
        review=review,
        actor=user,
        action="invitation.accepted",
        target=user.get_username(),
        before={"invitation": invitation.pk},
        after={"role": invitation.role},
    )
    return membership


def record_worker_heartbeat(*, token: str, hostname: str) -> WorkerHeartbeat:
    """Store a heartbeat once per token (safe to run twice)."""
    heartbeat, _ = WorkerHeartbeat.objects.get_or_create(
        token=token, defaults={"hostname": hostname[:200]}
    )
    return heartbeat


def record_audit_for_record(
    *,
    review: Review,
    actor: User | None,
    action: str,
    record_id: int,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """An audit event about one record, found again in that record's history."""
    record_audit(
        review=review,
        actor=actor,
        action=action,
        target=f"record {record_id}",
        before=before,
        after=after,
        object_type="record",
        object_id=record_id,
    )
