from django.urls import path

from extraction import api

urlpatterns = [
    path("reviews/<slug:slug>/forms/", api.FormListView.as_view(), name="api-forms"),
    path("reviews/<slug:slug>/forms/<int:form_id>/", api.FormDetailView.as_view(), name="api-form"),
    path(
        "reviews/<slug:slug>/forms/<int:form_id>/publish/",
        api.FormPublishView.as_view(),
        name="api-form-publish",
    ),
    path(
        "reviews/<slug:slug>/forms/<int:form_id>/new-version/",
        api.FormNewVersionView.as_view(),
        name="api-form-new-version",
    ),
    path(
        "reviews/<slug:slug>/extractions/",
        api.ExtractionListView.as_view(),
        name="api-extractions",
    ),
    path(
        "reviews/<slug:slug>/extractions/<int:extraction_id>/",
        api.ExtractionDetailView.as_view(),
        name="api-extraction",
    ),
    path(
        "reviews/<slug:slug>/extractions/<int:extraction_id>/submit/",
        api.ExtractionSubmitView.as_view(),
        name="api-extraction-submit",
    ),
    path(
        "reviews/<slug:slug>/extractions/<int:extraction_id>/reopen/",
        api.ExtractionReopenView.as_view(),
        name="api-extraction-reopen",
    ),
    path(
        "reviews/<slug:slug>/extractions/<int:extraction_id>/carry/",
        api.ExtractionCarryView.as_view(),
        name="api-extraction-carry",
    ),
    path(
        "reviews/<slug:slug>/consensus/", api.ConsensusListView.as_view(), name="api-consensus-list"
    ),
    path(
        "reviews/<slug:slug>/consensus/<int:form_id>/<int:record_id>/",
        api.ConsensusDetailView.as_view(),
        name="api-consensus",
    ),
    path(
        "reviews/<slug:slug>/consensus/<int:form_id>/<int:record_id>/finalise/",
        api.ConsensusFinaliseView.as_view(),
        name="api-consensus-finalise",
    ),
]
