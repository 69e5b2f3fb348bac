"""Every write to reviews, members, invitations and the audit trail goes through here."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from reviewflow.errors import ReviewflowError
from reviewflow.reviews import emails, outbox
from reviewflow.reviews.models import (
    AuditEvent,
    EmailKind,
    EmailStatus,
    Invitation,
    Membership,
    OutgoingEmail,
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


# ---------------------------------------------------------------- e-mail


def record_email_failure(*, email_id: int, exc: BaseException, final: bool) -> OutgoingEmail | None:
    """Keep why a message was not sent: queued again for another try, or failed for good
    (then an invitation's failure is in its review's audit trail too)."""
    reason = emails.failure_reason(exc)[:500]
    status = EmailStatus.FAILED if final else EmailStatus.QUEUED
    OutgoingEmail.objects.filter(pk=email_id).exclude(status=EmailStatus.SENT).update(
        status=status, last_error=reason
    )
    email = OutgoingEmail.objects.select_related("review").filter(pk=email_id).first()
    if email is not None and final and email.review is not None and email.invitation_id:
        record_audit(
            review=email.review,
            actor=None,
            action="invitation.email_failed",
            target=email.to,
            after={"error": reason, "attempts": email.attempts},
            object_type="invitation",
            object_id=email.invitation_id,
        )
    return email


def _accept_url(site_url: str, invitation: Invitation) -> str:
    return site_url.rstrip("/") + reverse("invitation-accept", args=[invitation.token])


def _queue_invitation_email(*, invitation: Invitation, actor: User, site_url: str) -> OutgoingEmail:
    review = invitation.review
    composed = emails.compose(
        "invitation",
        {
            "invitation": invitation,
            "review": review,
            "inviter": actor.get_full_name() or actor.get_username(),
            "role": Role(invitation.role).label.lower(),
            "url": _accept_url(site_url, invitation),
            "site_url": site_url.rstrip("/"),
        },
    )
    return outbox.queue_email(
        kind=EmailKind.INVITATION,
        to=invitation.email,
        composed=composed,
        review=review,
        invitation=invitation,
    )


def _check_invitee(*, review: Review, email: str) -> str:
    email = email.strip()
    if len(email) > 254:
        raise ReviewflowError("An e-mail address has at most 254 characters.", field="email")
    try:
        validate_email(email)
    except ValidationError:
        raise ReviewflowError(
            f"“{email}” is not an e-mail address: write it as name@example.org.", field="email"
        ) from None
    if Membership.objects.filter(review=review, user__email__iexact=email).exists():
        raise ReviewflowError(
            f"Someone with the address {email} is already a member of this review.",
            field="email",
        )
    if review.invitations.open().filter(email__iexact=email).exists():
        raise ReviewflowError(
            f"An invitation to {email} is already open: send it again from the list of "
            "invitations instead.",
            field="email",
        )
    return email


@transaction.atomic
def invite_by_email(
    *,
    review: Review,
    actor: User,
    email: str,
    role: str,
    site_url: str,
    days: int | None = None,
) -> Invitation:
    """Create an invitation for ``email`` and send its link there (by a worker, once this
    commits). ``site_url`` is the site's address the link starts with."""
    _lock_review(review)
    email = _check_invitee(review=review, email=email)
    invitation = create_invitation(review=review, actor=actor, role=role, email=email, days=days)
    queued = _queue_invitation_email(invitation=invitation, actor=actor, site_url=site_url)
    record_audit(
        review=review,
        actor=actor,
        action="invitation.sent",
        target=email,
        after={"role": invitation.role, "email": queued.pk},
        object_type="invitation",
        object_id=invitation.pk,
    )
    return invitation


@transaction.atomic
def resend_invitation(*, invitation: Invitation, actor: User, site_url: str) -> Invitation:
    """Send an open invitation's link to its address again (after a failure, or a lost
    message). The link stays the same."""
    invitation = (
        Invitation.objects.select_for_update().select_related("review").get(pk=invitation.pk)
    )
    if invitation.status != "open":
        raise ReviewflowError(
            f"This invitation has {INVITATION_STATE[invitation.status]}: create a new one instead."
        )
    if not invitation.email:
        raise ReviewflowError(
            "This invitation was made without an e-mail address: pass its link on yourself, "
            "or create one with an address."
        )
    queued = _queue_invitation_email(invitation=invitation, actor=actor, site_url=site_url)
    record_audit(
        review=invitation.review,
        actor=actor,
        action="invitation.resent",
        target=invitation.email,
        after={"email": queued.pk},
        object_type="invitation",
        object_id=invitation.pk,
    )
    return invitation


def mark_invitation_opened(*, token: str, visitor: User | None) -> None:
    """Note the first visit of an open invitation's link (owners see "opened"); its own
    creator checking the link does not count."""
    found = Invitation.objects.open().filter(token=token, opened_at__isnull=True)
    if visitor is not None:
        found = found.exclude(created_by=visitor)
    found.update(opened_at=timezone.now())


EMAIL_CHANGE_SALT = "reviewflow.email-change"


def request_email_change(*, user: User, new_email: str, site_url: str) -> OutgoingEmail:
    """Send a link to ``new_email``; the account's address changes only when it is opened
    there (``confirm_email_change``), so nobody gives an account an address they cannot
    read. The link names the current address too: once the address has changed, older
    links stop working."""
    new_email = new_email.strip()
    if len(new_email) > 254:
        raise ReviewflowError("An e-mail address has at most 254 characters.", field="email")
    try:
        validate_email(new_email)
    except ValidationError:
        raise ReviewflowError(
            f"“{new_email}” is not an e-mail address: write it as name@example.org.",
            field="email",
        ) from None
    if new_email.lower() == user.email.lower():
        raise ReviewflowError("This is your address already.", field="email")
    if User.objects.filter(email__iexact=new_email).exclude(pk=user.pk).exists():
        raise ReviewflowError(
            "Another account uses this address: each account needs its own.", field="email"
        )
    token = signing.dumps(
        {"user": user.pk, "old": user.email, "new": new_email}, salt=EMAIL_CHANGE_SALT
    )
    composed = emails.compose(
        "email_change",
        {
            "user": user,
            "new_email": new_email,
            "url": site_url.rstrip("/") + reverse("email-change-confirm", args=[token]),
            "days": settings.EMAIL_CHANGE_DAYS,
        },
    )
    return outbox.queue_email(kind=EmailKind.EMAIL_CHANGE, to=new_email, composed=composed)


def check_email_change(*, token: str) -> tuple[User, str]:
    """The account and the new address a change link stands for, if it still works."""
    try:
        data = signing.loads(
            token, salt=EMAIL_CHANGE_SALT, max_age=timedelta(days=settings.EMAIL_CHANGE_DAYS)
        )
    except signing.SignatureExpired:
        raise ReviewflowError(
            "This link has expired: ask for the change again from your account."
        ) from None
    except signing.BadSignature:
        raise ReviewflowError("This link is not valid.", code="not_found") from None
    user = User.objects.filter(pk=data.get("user"), is_active=True).first()
    if user is None or user.email != data.get("old"):
        raise ReviewflowError(
            "This link does not work any more: the address has changed since it was sent."
        )
    return user, str(data["new"])


def confirm_email_change(*, token: str) -> User:
    """Give the account the address its change link was sent to (each link works once:
    the update applies only while the account still has the address the link names)."""
    user, new_email = check_email_change(token=token)
    if User.objects.filter(email__iexact=new_email).exclude(pk=user.pk).exists():
        raise ReviewflowError("Another account uses this address now: each account needs its own.")
    changed = User.objects.filter(pk=user.pk, email=user.email).update(email=new_email)
    if not changed:
        raise ReviewflowError(
            "This link does not work any more: the address has changed since it was sent."
        )
    user.email = new_email
    return user


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
