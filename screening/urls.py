from django.urls import path

from screening import views, views_dedup

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
]
