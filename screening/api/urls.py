from django.urls import path

from screening.api import (
    adjudication,
    discussion,
    history,
    labels,
    prioritisation,
    questions,
    screening,
    work,
)
from screening.api.connectors import (
    SavedSearchDetailView,
    SavedSearchListView,
    SavedSearchRunView,
)
from screening.api.dedup import DuplicateListView, DuplicateResolveView, RecordUnmergeView
from screening.api.fulltext import PdfBatchDetailView, PdfBatchListView, PdfFileResolveView
from screening.api.identification import (
    RecordBulkView,
    RecordDetailView,
    RecordExportView,
    RecordListView,
    SearchDetailView,
    SearchListView,
)
from screening.api.openaccess import OaRunDetailView, OaRunListView
from screening.api.prisma import PrismaSvgView, PrismaView
from screening.api.retractions import (
    EditorialNoticeListView,
    RetractionCheckDetailView,
    RetractionCheckListView,
)
from screening.api.rounds import RoundChangelogView, RoundListView, RoundPrismaCountsView

urlpatterns = [
    path("reviews/<slug:slug>/searches/", SearchListView.as_view(), name="api-searches"),
    path(
        "reviews/<slug:slug>/searches/<int:search_id>/",
        SearchDetailView.as_view(),
        name="api-search",
    ),
    path(
        "reviews/<slug:slug>/saved-searches/",
        SavedSearchListView.as_view(),
        name="api-saved-searches",
    ),
    path(
        "reviews/<slug:slug>/saved-searches/<int:saved_search_id>/",
        SavedSearchDetailView.as_view(),
        name="api-saved-search",
    ),
    path(
        "reviews/<slug:slug>/saved-searches/<int:saved_search_id>/run/",
        SavedSearchRunView.as_view(),
        name="api-saved-search-run",
    ),
    path("reviews/<slug:slug>/records/", RecordListView.as_view(), name="api-records"),
    path("reviews/<slug:slug>/records/bulk/", RecordBulkView.as_view(), name="api-records-bulk"),
    path(
        "reviews/<slug:slug>/records/export/",
        RecordExportView.as_view(),
        name="api-records-export",
    ),
    path(
        "reviews/<slug:slug>/records/<int:record_id>/",
        RecordDetailView.as_view(),
        name="api-record",
    ),
    path("reviews/<slug:slug>/duplicates/", DuplicateListView.as_view(), name="api-duplicates"),
    path(
        "reviews/<slug:slug>/duplicates/<int:pair_id>/resolve/",
        DuplicateResolveView.as_view(),
        name="api-duplicate-resolve",
    ),
    path(
        "reviews/<slug:slug>/records/<int:record_id>/unmerge/",
        RecordUnmergeView.as_view(),
        name="api-record-unmerge",
    ),
    path(
        "reviews/<slug:slug>/screening/<str:stage>/next/",
        screening.NextRecordView.as_view(),
        name="api-screen-next",
    ),
    path(
        "reviews/<slug:slug>/screening/<str:stage>/votes/",
        screening.VoteListView.as_view(),
        name="api-votes",
    ),
    path(
        "reviews/<slug:slug>/screening/<str:stage>/votes/undo/",
        screening.UndoVoteView.as_view(),
        name="api-votes-undo",
    ),
    path(
        "reviews/<slug:slug>/screening/<str:stage>/votes/<int:vote_id>/",
        history.VoteDetailView.as_view(),
        name="api-vote",
    ),
    path(
        "reviews/<slug:slug>/screening/<str:stage>/assignments/",
        work.AssignmentListView.as_view(),
        name="api-assignments",
    ),
    path(
        "reviews/<slug:slug>/screening/<str:stage>/assignments/reassign/",
        work.ReassignView.as_view(),
        name="api-assignments-reassign",
    ),
    path(
        "reviews/<slug:slug>/screening/<str:stage>/assignments/remove/",
        work.RemoveView.as_view(),
        name="api-assignments-remove",
    ),
    path(
        "reviews/<slug:slug>/screening/<str:stage>/workload/",
        work.WorkloadView.as_view(),
        name="api-workload",
    ),
    path(
        "reviews/<slug:slug>/screening/<str:stage>/history/",
        history.HistoryView.as_view(),
        name="api-screen-history",
    ),
    path(
        "reviews/<slug:slug>/records/<int:record_id>/comments/",
        discussion.CommentListView.as_view(),
        name="api-record-comments",
    ),
    path(
        "reviews/<slug:slug>/records/<int:record_id>/comments/<int:comment_id>/",
        discussion.CommentDetailView.as_view(),
        name="api-record-comment",
    ),
    path(
        "reviews/<slug:slug>/screening/<str:stage>/prioritisation/",
        prioritisation.PrioritisationView.as_view(),
        name="api-prioritisation",
    ),
    path(
        "reviews/<slug:slug>/screening/<str:stage>/prioritisation/stop/",
        prioritisation.StopEarlyView.as_view(),
        name="api-prioritisation-stop",
    ),
    path(
        "reviews/<slug:slug>/conflicts/",
        adjudication.ConflictListView.as_view(),
        name="api-conflicts",
    ),
    path(
        "reviews/<slug:slug>/conflicts/<int:conflict_id>/",
        adjudication.ConflictDetailView.as_view(),
        name="api-conflict",
    ),
    path(
        "reviews/<slug:slug>/conflicts/<int:conflict_id>/resolve/",
        adjudication.ConflictResolveView.as_view(),
        name="api-conflict-resolve",
    ),
    path("reviews/<slug:slug>/labels/", labels.LabelListView.as_view(), name="api-labels"),
    path(
        "reviews/<slug:slug>/labels/<int:label_id>/",
        labels.LabelDetailView.as_view(),
        name="api-label",
    ),
    path(
        "reviews/<slug:slug>/records/<int:record_id>/labels/",
        labels.RecordLabelListView.as_view(),
        name="api-record-labels",
    ),
    path(
        "reviews/<slug:slug>/screening/<str:stage>/questions/",
        questions.QuestionListView.as_view(),
        name="api-questions",
    ),
    path(
        "reviews/<slug:slug>/screening/<str:stage>/questions/<int:question_id>/",
        questions.QuestionDetailView.as_view(),
        name="api-question",
    ),
    path(
        "reviews/<slug:slug>/records/<int:record_id>/answers/",
        questions.RecordAnswersView.as_view(),
        name="api-record-answers",
    ),
    path(
        "reviews/<slug:slug>/pdf-batches/",
        PdfBatchListView.as_view(),
        name="api-pdf-batches",
    ),
    path(
        "reviews/<slug:slug>/pdf-batches/<int:batch_id>/",
        PdfBatchDetailView.as_view(),
        name="api-pdf-batch",
    ),
    path("reviews/<slug:slug>/oa-runs/", OaRunListView.as_view(), name="api-oa-runs"),
    path(
        "reviews/<slug:slug>/oa-runs/<int:run_id>/",
        OaRunDetailView.as_view(),
        name="api-oa-run",
    ),
    path(
        "reviews/<slug:slug>/pdf-files/<int:file_id>/resolve/",
        PdfFileResolveView.as_view(),
        name="api-pdf-file-resolve",
    ),
    path("reviews/<slug:slug>/prisma/", PrismaView.as_view(), name="api-prisma"),
    path("reviews/<slug:slug>/rounds/", RoundListView.as_view(), name="api-rounds"),
    path(
        "reviews/<slug:slug>/rounds/<int:number>/changelog/",
        RoundChangelogView.as_view(),
        name="api-round-changelog",
    ),
    path(
        "reviews/<slug:slug>/rounds/<int:number>/prisma-counts/",
        RoundPrismaCountsView.as_view(),
        name="api-round-prisma-counts",
    ),
    path("reviews/<slug:slug>/prisma.svg", PrismaSvgView.as_view(), name="api-prisma-svg"),
    # Retraction watch (#21).
    path(
        "reviews/<slug:slug>/retraction-checks/",
        RetractionCheckListView.as_view(),
        name="api-retraction-checks",
    ),
    path(
        "reviews/<slug:slug>/retraction-checks/<int:check_id>/",
        RetractionCheckDetailView.as_view(),
        name="api-retraction-check",
    ),
    path(
        "reviews/<slug:slug>/editorial-notices/",
        EditorialNoticeListView.as_view(),
        name="api-editorial-notices",
    ),
]
