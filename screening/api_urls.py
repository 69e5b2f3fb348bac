from django.urls import path

from screening import api

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
]
