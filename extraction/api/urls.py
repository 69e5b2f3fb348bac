from django.urls import path

from extraction.api import consensus, extractions, forms, grade, synthesis

urlpatterns = [
    path("reviews/<slug:slug>/forms/", forms.FormListView.as_view(), name="api-forms"),
    path(
        "reviews/<slug:slug>/forms/<int:form_id>/", forms.FormDetailView.as_view(), name="api-form"
    ),
    path(
        "reviews/<slug:slug>/forms/<int:form_id>/publish/",
        forms.FormPublishView.as_view(),
        name="api-form-publish",
    ),
    path(
        "reviews/<slug:slug>/forms/<int:form_id>/new-version/",
        forms.FormNewVersionView.as_view(),
        name="api-form-new-version",
    ),
    path(
        "reviews/<slug:slug>/forms/<int:form_id>/synthesis/",
        synthesis.SynthesisView.as_view(),
        name="api-form-synthesis",
    ),
    path(
        "reviews/<slug:slug>/forms/<int:form_id>/summary-of-findings/",
        grade.SummaryOfFindingsView.as_view(),
        name="api-form-summary-of-findings",
    ),
    path(
        "reviews/<slug:slug>/extractions/",
        extractions.ExtractionListView.as_view(),
        name="api-extractions",
    ),
    path(
        "reviews/<slug:slug>/extractions/<int:extraction_id>/",
        extractions.ExtractionDetailView.as_view(),
        name="api-extraction",
    ),
    path(
        "reviews/<slug:slug>/extractions/<int:extraction_id>/submit/",
        extractions.ExtractionSubmitView.as_view(),
        name="api-extraction-submit",
    ),
    path(
        "reviews/<slug:slug>/extractions/<int:extraction_id>/reopen/",
        extractions.ExtractionReopenView.as_view(),
        name="api-extraction-reopen",
    ),
    path(
        "reviews/<slug:slug>/extractions/<int:extraction_id>/carry/",
        extractions.ExtractionCarryView.as_view(),
        name="api-extraction-carry",
    ),
    path(
        "reviews/<slug:slug>/consensus/",
        consensus.ConsensusListView.as_view(),
        name="api-consensus-list",
    ),
    path(
        "reviews/<slug:slug>/consensus/<int:form_id>/<int:record_id>/",
        consensus.ConsensusDetailView.as_view(),
        name="api-consensus",
    ),
    path(
        "reviews/<slug:slug>/consensus/<int:form_id>/<int:record_id>/finalise/",
        consensus.ConsensusFinaliseView.as_view(),
        name="api-consensus-finalise",
    ),
]
