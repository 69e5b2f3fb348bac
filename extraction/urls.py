from django.urls import path

from extraction.views import consensus, exports, extractions, forms, robplots

FORM = "r/<slug:slug>/extraction/forms/<int:form_id>"
STUDY = f"{FORM}/studies/<int:record_id>"

urlpatterns = [
    path("r/<slug:slug>/extraction/", extractions.home, name="extraction-home"),
    path("r/<slug:slug>/extraction/forms/new/", forms.form_new, name="extraction-form-new"),
    path(f"{FORM}/", forms.form_builder, name="extraction-form"),
    path(f"{FORM}/preview/", forms.form_preview, name="extraction-form-preview"),
    path(f"{FORM}/action/", forms.form_action, name="extraction-form-action"),
    path(f"{FORM}/rob2/", extractions.rob2_proposals, name="extraction-rob2"),
    path(
        f"{FORM}/export/<str:which>.<str:fmt>",
        exports.export,
        name="extraction-export",
    ),
    path(f"{FORM}/rob-plots/", robplots.rob_plots, name="extraction-rob-plots"),
    path(
        f"{FORM}/rob-plots/<str:kind>.<str:fmt>",
        robplots.rob_plot,
        name="extraction-rob-plot",
    ),
    path(f"{STUDY}/", extractions.extraction_page, name="extraction-page"),
    path(f"{STUDY}/action/", extractions.extraction_action, name="extraction-action"),
    path(f"{STUDY}/compare/", consensus.compare, name="extraction-compare"),
]
