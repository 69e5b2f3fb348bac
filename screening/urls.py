from django.urls import path

from screening.views import (
    dedup,
    discussion,
    exports,
    history,
    identification,
    labels,
    prioritisation,
    prisma,
    work,
)
from screening.views.adjudication import conflict_resolve, conflicts
from screening.views.connectors import saved_search_run, saved_search_schedule, saved_searches
from screening.views.fulltext import (
    fulltext_attach,
    fulltext_batch,
    fulltext_batches,
    fulltext_pdf,
    fulltext_resolve,
    fulltext_study,
)
from screening.views.openaccess import oa_run, oa_runs
from screening.views.questions import questions_page
from screening.views.retractions import (
    retractions_check,
    retractions_page,
    retractions_panel,
)
from screening.views.screening import (
    agreement,
    pilot_page,
    screen,
    stage_settings,
    undo,
    vote,
)

urlpatterns = [
    path("r/<slug:slug>/searches/", identification.searches, name="review-searches"),
    path(
        "r/<slug:slug>/searches/<int:search_id>/",
        identification.search_detail,
        name="search-detail",
    ),
    path(
        "r/<slug:slug>/searches/<int:search_id>/delete/",
        identification.search_delete,
        name="search-delete",
    ),
    path("r/<slug:slug>/saved-searches/", saved_searches, name="saved-searches"),
    path(
        "r/<slug:slug>/saved-searches/<int:saved_search_id>/run/",
        saved_search_run,
        name="saved-search-run",
    ),
    path(
        "r/<slug:slug>/saved-searches/<int:saved_search_id>/schedule/",
        saved_search_schedule,
        name="saved-search-schedule",
    ),
    path("r/<slug:slug>/records/", identification.records, name="review-records"),
    # The records list's bulk actions (#18): labels on the selection, and its export.
    path("r/<slug:slug>/records/bulk/", identification.records_bulk, name="records-bulk"),
    path("r/<slug:slug>/records/export/", identification.records_export, name="records-export"),
    path(
        "r/<slug:slug>/records/<int:record_id>/", identification.record_detail, name="record-detail"
    ),
    # Retraction watch (#21): flagged records and checks; the dashboard's panel.
    path("r/<slug:slug>/retractions/", retractions_page, name="retractions"),
    path("r/<slug:slug>/retractions/check/", retractions_check, name="retractions-check"),
    path("r/<slug:slug>/retractions/panel/", retractions_panel, name="retractions-panel"),
    path("r/<slug:slug>/labels/", labels.labels_page, name="review-labels"),
    path(
        "r/<slug:slug>/records/<int:record_id>/labels/",
        labels.record_labels,
        name="record-labels",
    ),
    path("r/<slug:slug>/duplicates/", dedup.duplicate_queue, name="review-duplicates"),
    path(
        "r/<slug:slug>/duplicates/<int:pair_id>/decide/",
        dedup.duplicate_decide,
        name="duplicate-decide",
    ),
    path(
        "r/<slug:slug>/records/<int:record_id>/unmerge/",
        dedup.record_unmerge,
        name="record-unmerge",
    ),
    path("r/<slug:slug>/screen/<str:stage>/", screen, name="screen"),
    path("r/<slug:slug>/screen/<str:stage>/vote/", vote, name="screen-vote"),
    path("r/<slug:slug>/screen/<str:stage>/undo/", undo, name="screen-undo"),
    # My votes (#18): the history, one record of it, a jump by id, a change of vote.
    path("r/<slug:slug>/screen/<str:stage>/history/", history.history, name="screen-history"),
    path("r/<slug:slug>/screen/<str:stage>/goto/", history.screen_goto, name="screen-goto"),
    path(
        "r/<slug:slug>/screen/<str:stage>/record/<int:record_id>/",
        history.screen_record,
        name="screen-record",
    ),
    path(
        "r/<slug:slug>/screen/<str:stage>/record/<int:record_id>/change/",
        history.screen_change,
        name="screen-change",
    ),
    # Discussion (#18): a record's comments.
    path(
        "r/<slug:slug>/records/<int:record_id>/comments/",
        discussion.record_comments,
        name="record-comments",
    ),
    path(
        "r/<slug:slug>/records/<int:record_id>/comments/<int:comment_id>/edit/",
        discussion.comment_edit,
        name="comment-edit",
    ),
    path(
        "r/<slug:slug>/records/<int:record_id>/comments/<int:comment_id>/delete/",
        discussion.comment_delete,
        name="comment-delete",
    ),
    path(
        "r/<slug:slug>/screen/<str:stage>/settings/",
        stage_settings,
        name="stage-settings",
    ),
    path(
        "r/<slug:slug>/screen/<str:stage>/questions/",
        questions_page,
        name="stage-questions",
    ),
    path("r/<slug:slug>/screen/<str:stage>/pilot/", pilot_page, name="pilot"),
    path("r/<slug:slug>/screen/<str:stage>/workload/", work.workload, name="workload"),
    path(
        "r/<slug:slug>/screen/<str:stage>/workload/split/",
        work.workload_split,
        name="workload-split",
    ),
    path(
        "r/<slug:slug>/screen/<str:stage>/workload/reassign/",
        work.workload_reassign,
        name="workload-reassign",
    ),
    path(
        "r/<slug:slug>/screen/<str:stage>/prioritisation/",
        prioritisation.prioritisation_page,
        name="prioritisation",
    ),
    path(
        "r/<slug:slug>/screen/<str:stage>/prioritisation/retrain/",
        prioritisation.prioritisation_retrain,
        name="prioritisation-retrain",
    ),
    path(
        "r/<slug:slug>/screen/<str:stage>/prioritisation/stop/",
        prioritisation.prioritisation_stop,
        name="prioritisation-stop",
    ),
    path(
        "r/<slug:slug>/screen/<str:stage>/prioritisation/stop/undo/",
        prioritisation.prioritisation_stop_undo,
        name="prioritisation-stop-undo",
    ),
    path(
        "r/<slug:slug>/screen/<str:stage>/prioritisation/sample/",
        prioritisation.prioritisation_sample,
        name="prioritisation-sample",
    ),
    path("r/<slug:slug>/conflicts/", conflicts, name="conflicts"),
    path("r/<slug:slug>/agreement/", agreement, name="agreement"),
    path(
        "r/<slug:slug>/conflicts/<int:conflict_id>/resolve/",
        conflict_resolve,
        name="conflict-resolve",
    ),
    path(
        "r/<slug:slug>/records/<int:record_id>/fulltext/",
        fulltext_attach,
        name="fulltext-attach",
    ),
    path(
        "r/<slug:slug>/records/<int:record_id>/study/",
        fulltext_study,
        name="fulltext-study",
    ),
    path(
        "r/<slug:slug>/records/<int:record_id>/fulltext.pdf",
        fulltext_pdf,
        name="fulltext-pdf",
    ),
    # Full texts at scale (#22): many PDFs at once, matched to the records.
    path("r/<slug:slug>/fulltexts/", fulltext_batches, name="fulltext-batches"),
    path("r/<slug:slug>/fulltexts/open-access/", oa_runs, name="oa-runs"),
    path("r/<slug:slug>/fulltexts/open-access/<int:run_id>/", oa_run, name="oa-run"),
    path(
        "r/<slug:slug>/fulltexts/batches/<int:batch_id>/",
        fulltext_batch,
        name="fulltext-batch",
    ),
    path(
        "r/<slug:slug>/fulltexts/files/<int:file_id>/resolve/",
        fulltext_resolve,
        name="fulltext-resolve",
    ),
    path("r/<slug:slug>/prisma/", prisma.prisma_page, name="prisma"),
    path("r/<slug:slug>/prisma/csv/", prisma.prisma_csv_upload, name="prisma-csv"),
    path("r/<slug:slug>/prisma/rounds/", prisma.round_start, name="round-start"),
    path("r/<slug:slug>/prisma/changes.csv", prisma.round_changelog_csv, name="round-changelog"),
    path("r/<slug:slug>/exports/", exports.exports, name="exports"),
    path(
        "r/<slug:slug>/exports/records-<str:stage>.<str:fmt>",
        exports.export_records,
        name="export-records",
    ),
    path("r/<slug:slug>/exports/votes.<str:fmt>", exports.export_votes, name="export-votes"),
    path("r/<slug:slug>/exports/audit.csv", exports.export_audit, name="export-audit"),
]
