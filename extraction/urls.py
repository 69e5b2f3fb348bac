from django.urls import path

from extraction import views

FORM = "r/<slug:slug>/extraction/forms/<int:form_id>"
STUDY = f"{FORM}/studies/<int:record_id>"

urlpatterns = [
    path("r/<slug:slug>/extraction/", views.home, name="extraction-home"),
    path("r/<slug:slug>/extraction/forms/new/", views.form_new, name="extraction-form-new"),
    path(f"{FORM}/", views.form_builder, name="extraction-form"),
    path(f"{FORM}/preview/", views.form_preview, name="extraction-form-preview"),
    path(f"{FORM}/action/", views.form_action, name="extraction-form-action"),
    path(f"{FORM}/rob2/", views.rob2_proposals, name="extraction-rob2"),
    path(
        f"{FORM}/export/<str:which>.<str:fmt>",
        views.export,
        name="extraction-export",
    ),
    path(f"{STUDY}/", views.extraction_page, name="extraction-page"),
    path(f"{STUDY}/action/", views.extraction_action, name="extraction-action"),
    path(f"{STUDY}/compare/", views.compare, name="extraction-compare"),
]
