from django.urls import include, path
from django.urls import reverse as url_for
from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

# What is under each review (``reviews/{slug}/…``), as DESIGN.md lists it.
REVIEW_RESOURCES = (
    "members/",
    "searches/",
    "saved-searches/",
    "records/",
    "duplicates/",
    "screening/{stage}/next/",
    "screening/{stage}/votes/",
    "screening/{stage}/prioritisation/",
    "conflicts/",
    "prisma/",
    "prisma.svg",
    "forms/",
    "extractions/",
    "consensus/",
    "invitations/",
    "labels/",
    "audit/",
)


class ApiRootView(GenericAPIView):
    """The API's front door: where the reviews, the schema and the docs are."""

    serializer_class = None

    @extend_schema(operation_id="api_root", responses={200: dict})
    def get(self, request: Request) -> Response:
        reviews = request.build_absolute_uri(url_for("api-reviews"))
        return Response(
            {
                "reviews": reviews,
                "review_resources": [f"{reviews}{{slug}}/{r}" for r in REVIEW_RESOURCES],
                "schema": request.build_absolute_uri(url_for("api-schema")),
                "docs": request.build_absolute_uri(url_for("api-docs")),
                "stages": ["title-abstract", "full-text"],
            }
        )


urlpatterns = [
    path("", ApiRootView.as_view(), name="api-root"),
    path("", include("reviewflow.reviews.api_urls")),
    path("", include("screening.api.urls")),
    path("", include("extraction.api.urls")),
]
