from django.urls import include, path

urlpatterns = [
    path("", include("reviewflow.reviews.api_urls")),
    path("", include("screening.api.urls")),
    path("", include("extraction.api.urls")),
]
