from typing import Any

from django.contrib import admin
from django.forms import ModelForm
from django.http import HttpRequest

from reviewflow.reviews.models import (
    AuditEvent,
    FailedLogin,
    Invitation,
    Membership,
    OutgoingEmail,
    Review,
    WorkerHeartbeat,
)
from reviewflow.reviews.services import record_audit


class AuditedAdmin(admin.ModelAdmin):
    """Changes made by site admins land in the review's audit trail too."""

    def review_of(self, obj: Any) -> Review:
        return obj if isinstance(obj, Review) else obj.review

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm, change: bool) -> None:
        before = {k: form.initial.get(k) for k in form.changed_data} if change else None
        super().save_model(request, obj, form, change)
        after = {k: str(form.cleaned_data.get(k)) for k in form.changed_data}
        record_audit(
            review=self.review_of(obj),
            actor=request.user,  # type: ignore[arg-type]
            action=f"admin.{obj._meta.model_name}.{'changed' if change else 'added'}",
            target=str(obj),
            before={k: str(v) for k, v in (before or {}).items()} or None,
            after=after or None,
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        if not isinstance(obj, Review):
            record_audit(
                review=obj.review,
                actor=request.user,  # type: ignore[arg-type]
                action=f"admin.{obj._meta.model_name}.deleted",
                target=str(obj),
            )
        super().delete_model(request, obj)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Review)
class ReviewAdmin(AuditedAdmin):
    list_display = ["title", "slug", "protocol_registration", "created_at"]
    search_fields = ["title", "slug", "protocol_registration"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(AuditedAdmin):
    list_display = ["review", "user", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["review__title", "review__slug", "user__username"]
    autocomplete_fields = ["user", "review"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["review", "email", "role", "created_at", "expires_at", "accepted_at"]
    list_filter = ["role"]
    search_fields = ["review__slug", "email"]
    readonly_fields = ["token"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "review", "actor", "action", "target"]
    list_filter = ["action"]
    search_fields = ["review__slug", "target"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # the audit trail is append-only

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


admin.site.register(WorkerHeartbeat)


@admin.register(FailedLogin)
class FailedLoginAdmin(admin.ModelAdmin):
    """Failed sign-ins of the throttling window; deleting a user's rows lifts a lock."""

    list_display = ["username", "ip", "created_at"]
    search_fields = ["username", "ip"]
    readonly_fields = ["username", "ip", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(admin.ModelAdmin):
    """Messages and how their sending went: where a site admin sees a password reset
    message that failed (invitations show theirs to the review's owners)."""

    list_display = ["created_at", "kind", "to", "status", "attempts", "last_error", "sent_at"]
    list_filter = ["status", "kind"]
    search_fields = ["to", "review__slug"]
    # The text is left out: a queued password reset message holds a sign-in link.
    fields = (
        "kind",
        "to",
        "subject",
        "review",
        "invitation",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "sent_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
