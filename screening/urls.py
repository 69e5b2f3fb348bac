from django.urls import path

from screening import (
    views,
    views_dedup,
    views_exports,
    views_prioritisation,
    views_prisma,
    views_screening,
)

urlpatterns = [
    path("r/<slug:slug>/searches/", views.searches, name="review-searches"),
    path("r/<slug:slug>/searches/<int:search_id>/", views.search_detail, name="search-detail"),
    path(
        "r/<slug:slug>/searches/<int:search_id>/delete/",
        views.search_delete,
        name="search-delete",
    ),
    path("r/<slug:slug>/records/", views.records, name="review-records"),
    path("r/<slug:slug>/records/<int:record_id>/", views.record_detail, name="record-detail"),
    path("r/<slug:slug>/duplicates/", views_dedup.duplicate_queue, name="review-duplicates"),
    path(
        "r/<slug:slug>/duplicates/<int:pair_id>/decide/",
        views_dedup.duplicate_decide,
        name="duplicate-decide",
    ),
    path(
        "r/<slug:slug>/records/<int:record_id>/unmerge/",
        views_dedup.record_unmerge,
        name="record-unmerge",
    ),
    path("r/<slug:slug>/screen/<str:stage>/", views_screening.screen, name="screen"),
    path("r/<slug:slug>/screen/<str:stage>/vote/", views_screening.vote, name="screen-vote"),
    path("r/<slug:slug>/screen/<str:stage>/undo/", views_screening.undo, name="screen-undo"),
    path(
        "r/<slug:slug>/screen/<str:stage>/settings/",
        views_screening.stage_settings,
        name="stage-settings",
    ),
    path("r/<slug:slug>/screen/<str:stage>/pilot/", views_screening.pilot_page, name="pilot"),
    path(
        "r/<slug:slug>/screen/<str:stage>/prioritisation/",
        views_prioritisation.prioritisation_page,
        name="prioritisation",
    ),
    path(
        "r/<slug:slug>/screen/<str:stage>/prioritisation/retrain/",
        views_prioritisation.prioritisation_retrain,
        name="prioritisation-retrain",
    ),
    path(
        "r/<slug:slug>/screen/<str:stage>/prioritisation/stop/",
        views_prioritisation.prioritisation_stop,
        name="prioritisation-stop",
    ),
    path("r/<slug:slug>/conflicts/", views_screening.conflicts, name="conflicts"),
    path("r/<slug:slug>/agreement/", views_screening.agreement, name="agreement"),
    path(
        "r/<slug:slug>/conflicts/<int:conflict_id>/resolve/",
        views_screening.conflict_resolve,
        name="conflict-resolve",
    ),
    path(
        "r/<slug:slug>/records/<int:record_id>/fulltext/",
        views_screening.fulltext_attach,
        name="fulltext-attach",
    ),
    path(
        "r/<slug:slug>/records/<int:record_id>/study/",
        views_screening.fulltext_study,
        name="fulltext-study",
    ),
    path(
        "r/<slug:slug>/records/<int:record_id>/fulltext.pdf",
        views_screening.fulltext_pdf,
        name="fulltext-pdf",
    ),
    path("r/<slug:slug>/prisma/", views_prisma.prisma_page, name="prisma"),
    path("r/<slug:slug>/prisma/csv/", views_prisma.prisma_csv_upload, name="prisma-csv"),
    path("r/<slug:slug>/exports/", views_exports.exports, name="exports"),
    path(
        "r/<slug:slug>/exports/records-<str:stage>.<str:fmt>",
        views_exports.export_records,
        name="export-records",
    ),
    path("r/<slug:slug>/exports/votes.<str:fmt>", views_exports.export_votes, name="export-votes"),
    path("r/<slug:slug>/exports/audit.csv", views_exports.export_audit, name="export-audit"),
]
