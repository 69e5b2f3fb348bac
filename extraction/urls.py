from django.urls import path

from extraction.views import consensus, exports, extractions, forms, grade, robplots, synthesis

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
    path(f"{FORM}/effects/", synthesis.effects_live, name="extraction-effects"),
    path(f"{FORM}/synthesis/", synthesis.synthesis_page, name="extraction-synthesis"),
    # Before the per-outcome CSVs, whose pattern would take "all-outcomes" as a kind.
    path(
        f"{FORM}/synthesis/all-outcomes.csv",
        synthesis.synthesis_long_csv,
        name="extraction-synthesis-long-csv",
    ),
    path(
        f"{FORM}/synthesis/revman.rm5",
        synthesis.synthesis_rm5,
        name="extraction-synthesis-rm5",
    ),
    path(
        f"{FORM}/synthesis/<str:which>.csv",
        synthesis.synthesis_csv,
        name="extraction-synthesis-csv",
    ),
    path(
        f"{FORM}/synthesis/<str:kind>.<str:fmt>",
        synthesis.synthesis_plot,
        name="extraction-synthesis-plot",
    ),
    path(f"{FORM}/grade/", grade.grade_page, name="extraction-grade"),
    path(f"{FORM}/grade.<str:fmt>", grade.grade_export, name="extraction-grade-export"),
    path(f"{STUDY}/", extractions.extraction_page, name="extraction-page"),
    path(f"{STUDY}/action/", extractions.extraction_action, name="extraction-action"),
    path(f"{STUDY}/compare/", consensus.compare, name="extraction-compare"),
]
