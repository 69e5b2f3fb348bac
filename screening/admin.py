from django.contrib import admin

from screening.models import Record, Search


@admin.register(Search)
class SearchAdmin(admin.ModelAdmin):
    list_display = ["source", "review", "filename", "status", "records_imported", "created_at"]
    list_filter = ["status", "source_type"]
    search_fields = ["source", "filename", "review__slug"]
    readonly_fields = ["errors", "warnings"]


@admin.register(Record)
class RecordAdmin(admin.ModelAdmin):
    list_display = ["title", "year", "doi", "pmid", "search"]
    search_fields = ["title", "doi", "pmid"]
    list_select_related = ["search"]
    raw_id_fields = ["search", "review"]
