from django.urls import path

from screening import api, api_prioritisation, api_screening

urlpatterns = [
    path("reviews/<slug:slug>/searches/", api.SearchListView.as_view(), name="api-searches"),
    path(
        "reviews/<slug:slug>/searches/<int:search_id>/",
        api.SearchDetailView.as_view(),
        name="api-search",
    ),
    path("reviews/<slug:slug>/records/", api.RecordListView.as_view(), name="api-records"),
    path(
        "reviews/<slug:slug>/records/<int:record_id>/",
        api.RecordDetailView.as_view(),
        name="api-record",
    ),
    path("reviews/<slug:slug>/duplicates/", api.DuplicateListView.as_view(), name="api-duplicates"),
    path(
        "reviews/<slug:slug>/duplicates/<int:pair_id>/resolve/",
        api.DuplicateResolveView.as_view(),
        name="api-duplicate-resolve",
    ),
    path(
        "reviews/<slug:slug>/records/<int:record_id>/unmerge/",
        api.RecordUnmergeView.as_view(),
        name="api-record-unmerge",
    ),
    path(
        "reviews/<slug:slug>/screening/<str:stage>/next/",
        api_screening.NextRecordView.as_view(),
        name="api-screen-next",
    ),
    path(
        "reviews/<slug:slug>/screening/<str:stage>/votes/",
        api_screening.VoteListView.as_view(),
        name="api-votes",
    ),
    path(
        "reviews/<slug:slug>/screening/<str:stage>/votes/undo/",
        api_screening.UndoVoteView.as_view(),
        name="api-votes-undo",
    ),
    path(
        "reviews/<slug:slug>/screening/<str:stage>/prioritisation/",
        api_prioritisation.PrioritisationView.as_view(),
        name="api-prioritisation",
    ),
    path(
        "reviews/<slug:slug>/screening/<str:stage>/prioritisation/stop/",
        api_prioritisation.StopEarlyView.as_view(),
        name="api-prioritisation-stop",
    ),
    path(
        "reviews/<slug:slug>/conflicts/",
        api_screening.ConflictListView.as_view(),
        name="api-conflicts",
    ),
    path(
        "reviews/<slug:slug>/conflicts/<int:conflict_id>/resolve/",
        api_screening.ConflictResolveView.as_view(),
        name="api-conflict-resolve",
    ),
    path("reviews/<slug:slug>/prisma/", api.PrismaView.as_view(), name="api-prisma"),
    path("reviews/<slug:slug>/prisma.svg", api.PrismaSvgView.as_view(), name="api-prisma-svg"),
]
