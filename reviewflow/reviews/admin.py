from django.contrib import admin
from django.http import HttpRequest

from reviewflow.reviews.models import AuditEvent, Invitation, Membership, Review, WorkerHeartbeat


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "protocol_registration", "created_at"]
    search_fields = ["title", "slug", "protocol_registration"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
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
