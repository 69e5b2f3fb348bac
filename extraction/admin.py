"""Forms, extractions and consensus in Django admin: to look, not to edit (every change
goes through the services, which keep versions frozen, slots, blinding and the audit)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from extraction.models import Consensus, Extraction, Form


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Form)
class FormAdmin(ReadOnlyAdmin):
    list_display = ["title", "version", "status", "review", "extractors_needed", "published_at"]
    list_filter = ["status"]
    search_fields = ["title", "review__slug", "family"]
    list_select_related = ["review"]


@admin.register(Extraction)
class ExtractionAdmin(ReadOnlyAdmin):
    list_display = ["record", "form", "extractor", "slot", "status", "updated_at"]
    list_filter = ["status"]
    search_fields = ["extractor__username", "form__title", "form__review__slug"]
    list_select_related = ["record", "form", "extractor"]
    raw_id_fields = ["record", "form", "carried_from"]


@admin.register(Consensus)
class ConsensusAdmin(ReadOnlyAdmin):
    list_display = ["record", "form", "status", "updated_by", "updated_at"]
    list_filter = ["status"]
    search_fields = ["form__title", "form__review__slug"]
    list_select_related = ["record", "form", "updated_by"]
    raw_id_fields = ["record", "form"]
