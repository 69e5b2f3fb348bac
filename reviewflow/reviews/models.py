"""Reviews, their members and roles, invitations, and the audit trail."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    REVIEWER = "reviewer", "Reviewer"
    VIEWER = "viewer", "Viewer"


# Each role can do what the roles after it can do.
ROLE_RANK = {Role.VIEWER: 0, Role.REVIEWER: 1, Role.OWNER: 2}


# Sent inside a review's deletion, before Django collects the rows it removes: an app with
# many rows per review deletes them here in chunks (Django's cascade puts the id of every
# row of a relation in one statement, and PostgreSQL refuses more than 65,535 parameters,
# so a review of over 65,535 records could not be deleted). Receivers get ``review``.
review_deleting = Signal()


class ReviewQuerySet(models.QuerySet["Review"]):
    def for_user(self, user: AbstractBaseUser | AnonymousUser) -> ReviewQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(memberships__user=user)

    def delete(self) -> tuple[int, dict[str, int]]:
        with transaction.atomic(using=self.db):
            for review in self:
                review_deleting.send(sender=Review, review=review)
            return super().delete()


class Review(models.Model):
    slug = models.SlugField(max_length=60, unique=True)
    title = models.CharField(max_length=300)
    question = models.TextField(blank=True, help_text="The review question (PICO or similar).")
    protocol_registration = models.CharField(
        max_length=200, blank=True, help_text="e.g. a PROSPERO ID such as CRD42024512345."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ReviewQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    def delete(
        self, using: str | None = None, keep_parents: bool = False
    ) -> tuple[int, dict[str, int]]:
        with transaction.atomic(using=using):
            review_deleting.send(sender=Review, review=self)
            return super().delete(using=using, keep_parents=keep_parents)


class Membership(models.Model):
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["review", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["review", "user"], name="membership_unique_user"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.review}"

    def has_role(self, role: str) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(role)]


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def open(self) -> InvitationQuerySet:
        return self.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )

    def with_emails(self) -> InvitationQuerySet:
        """With each invitation's e-mails, newest first (one query for all), for
        ``last_email`` and ``progress``."""
        return self.prefetch_related(
            models.Prefetch("emails", queryset=OutgoingEmail.objects.order_by("-created_at", "-id"))
        )


# What ``Invitation.progress`` answers, in the order an invitation goes through them.
INVITATION_PROGRESS = (
    "link",
    "sending",
    "sent",
    "failed",
    "opened",
    "accepted",
    "expired",
    "revoked",
)


class Invitation(models.Model):
    """A single-use link that makes whoever opens it (signed in) a member with ``role``."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="invitations")
    token = models.CharField(max_length=64, unique=True)
    email = models.EmailField(blank=True, help_text="Whom the link is for (a reminder only).")
    role = models.CharField(max_length=10, choices=Role.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    # When the link was first visited (the invitee opened the e-mail and followed it).
    opened_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(role__in=Role.values), name="invitation_role_valid"),
        ]

    def __str__(self) -> str:
        return f"Invitation to {self.review} as {self.role}"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "open"

    @property
    def last_email(self) -> OutgoingEmail | None:
        """The latest e-mail sent for this invitation (prefetch with ``with_emails()``)."""
        emails = list(self.emails.all())
        return max(emails, key=lambda e: (e.created_at, e.pk)) if emails else None

    @property
    def progress(self) -> str:
        """Where the invitation stands for its owner: ``accepted``, ``revoked``,
        ``expired``, ``opened`` (the link was visited), then its latest e-mail's ``sent``,
        ``sending`` (queued, or waiting for another try) or ``failed``; ``link`` when it was
        not sent by e-mail (the owner passes the link on)."""
        status = self.status
        if status != "open":
            return status
        if self.opened_at:
            return "opened"
        last_email = self.last_email
        if last_email is None:
            return "link"
        if last_email.status == EmailStatus.SENT:
            return "sent"
        if last_email.status == EmailStatus.FAILED:
            return "failed"
        return "sending"


class EmailKind(models.TextChoices):
    INVITATION = "invitation", "Invitation"
    PASSWORD_RESET = "password_reset", "Password reset"
    EMAIL_CHANGE = "email_change", "E-mail address change"
    NOTIFICATION = "notification", "Notification"
    DIGEST = "digest", "Digest"


class EmailStatus(models.TextChoices):
    QUEUED = "queued", "Queued"  # waiting for a worker, or for its next try
    SENDING = "sending", "Sending"  # a worker holds it
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"  # every try failed; ``last_error`` says why


class OutgoingEmail(models.Model):
    """One message to send, sent by a Celery task (``reviews.tasks.send_email``), never in
    a request. The row is the message's state: a worker claims it before it talks to the
    mail server, so a message that was sent is never sent again, and a failure is kept for
    the owner to see instead of being lost in a log."""

    kind = models.CharField(max_length=20, choices=EmailKind.choices)
    to = models.EmailField()
    subject = models.CharField(max_length=300)
    # Emptied once a password reset message is sent: its link is a credential.
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    # Extra headers (a notification's List-Unsubscribe and List-Unsubscribe-Post).
    headers = models.JSONField(default=dict, blank=True)
    review = models.ForeignKey(
        Review, null=True, blank=True, on_delete=models.CASCADE, related_name="emails"
    )
    invitation = models.ForeignKey(
        Invitation, null=True, blank=True, on_delete=models.CASCADE, related_name="emails"
    )
    status = models.CharField(
        max_length=10, choices=EmailStatus.choices, default=EmailStatus.QUEUED
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=EmailStatus.values), name="outgoing_email_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=EmailKind.values), name="outgoing_email_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to} ({self.status})"


class AuditEvent(models.Model):
    """Who changed what in a review, when, with the values before and after."""

    # Indexed as the first column of audit_review_time and audit_review_system.
    review = models.ForeignKey(
        Review, on_delete=models.CASCADE, related_name="audit_events", db_index=False
    )
    # Indexed where set only (audit_actor): system events (no actor) are read within their
    # review, through audit_review_system, never across reviews (#25).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    action = models.CharField(max_length=60)
    target = models.CharField(max_length=300, blank=True)
    # What the event is about, when it is one object (a record, a vote, …), so an object's
    # history is one indexed query.
    object_type = models.CharField(max_length=30, blank=True)
    object_id = models.BigIntegerField(null=True, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)  # indexed within the review

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["review", "-created_at"], name="audit_review_time"),
            # The audit page's "next system event of the review" (#25: scoped at scale).
            models.Index(
                fields=["review", "id"],
                name="audit_review_system",
                condition=Q(actor__isnull=True),
            ),
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
            # A person's events (the trail's filter; SET_NULL when an account is deleted).
            models.Index(fields=["actor"], name="audit_actor", condition=Q(actor__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target}"


class WorkerHeartbeat(models.Model):
    """Written by a Celery task, so the site can tell whether a worker is running."""

    hostname = models.CharField(max_length=200)
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.hostname} at {self.created_at:%Y-%m-%d %H:%M:%S}"


class FailedLogin(models.Model):
    """One failed sign-in, kept for the throttling window (``reviewflow.reviews.throttling``).

    In the database rather than a per-process cache, so every gunicorn worker sees the
    same count.
    """

    username = models.CharField(max_length=150, help_text="As typed, lower-cased.")
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["username", "created_at"], name="failed_login_user_time"),
            models.Index(fields=["ip", "created_at"], name="failed_login_ip_time"),
        ]

    def __str__(self) -> str:
        return f"failed sign-in as {self.username} from {self.ip} at {self.created_at}"


class NotificationKind(models.TextChoices):
    MENTION = "mention", "Mention in a comment"
    ASSIGNMENT = "assignment", "New assignment"
    RETRACTION = "retraction", "Retraction or correction"
    OTHER = "other", "Other"


class Notification(models.Model):
    """One thing a user is told about, in the app (the bell) and, by their preferences, by
    e-mail. ``text`` never quotes a vote (blinding): callers write it for its reader."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    review = models.ForeignKey(
        Review, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    text = models.CharField(max_length=500)
    url = models.CharField(max_length=500, blank=True, help_text="A path inside the app.")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=NotificationKind.values), name="notification_kind_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="notification_user_time"),
            # The bell's count reads only this (small) index.
            models.Index(
                fields=["user"], condition=Q(read_at__isnull=True), name="notification_unread"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}: {self.text[:40]}"


class DigestFrequency(models.TextChoices):
    NONE = "none", "Never"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"


class NotificationPreference(models.Model):
    """What a user wants e-mailed: for one review, or (``review`` empty) their default for
    every review without its own row. No row at all means the field defaults."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    review = models.ForeignKey(
        Review, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    immediate = models.BooleanField(
        default=True, help_text="E-mail mentions and new assignments as they happen."
    )
    digest = models.CharField(
        max_length=10, choices=DigestFrequency.choices, default=DigestFrequency.WEEKLY
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["user_id", "review_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "review"],
                condition=Q(review__isnull=False),
                name="notification_pref_once_per_review",
            ),
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(review__isnull=True),
                name="notification_pref_one_default",
            ),
            models.CheckConstraint(
                condition=Q(digest__in=DigestFrequency.values), name="notification_pref_digest"
            ),
        ]

    def __str__(self) -> str:
        return f"preferences of {self.user_id} for {self.review_id or 'every review'}"


class DigestSent(models.Model):
    """A digest period done for one user and review (sent, or found empty): the unique row
    is what makes the hourly check send each digest once, however often it runs."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="+")
    period = models.CharField(max_length=20, help_text="daily:2026-12-06 or weekly:2026-W49")
    email = models.ForeignKey(
        OutgoingEmail, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "review", "period"], name="digest_once_per_period"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.period} digest of {self.review_id} for {self.user_id}"
