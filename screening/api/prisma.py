"""API for the PRISMA 2020 flow diagram: counts as JSON, and the SVG."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from reviewflow.params import choice_param, int_param
from reviewflow.reviews.access import get_review_for
from screening.prisma import check, in_progress, prisma_svg
from screening.selectors.rounds import rounds_of
from screening.services import prisma

ROUND = OpenApiParameter("round", int, description="An update round (default: the current round)")


def _counts(request: Request, review: Any) -> prisma.PrismaCounts:
    every = rounds_of(review)
    asked = int_param(request.query_params, "round", default=None, min_value=1)
    if asked is not None and asked not in every:
        raise NotFound(f"This review has no round {asked}.")
    return prisma.prisma_counts(review, asked or every[-1])


class PrismaView(GenericAPIView):
    """The PRISMA 2020 counts, keyed by the PRISMA2020 CSV template's field names, and any
    box whose arithmetic does not add up."""

    serializer_class = None

    @extend_schema(parameters=[ROUND], responses={200: dict})
    def get(self, request: Request, slug: str) -> Response:
        access = get_review_for(request.user, slug)
        counts = _counts(request, access.review)
        body = counts.to_json()
        body["problems"] = [
            {"box": p.box, "message": p.message, "difference": p.difference} for p in check(counts)
        ]
        body["in_progress"] = in_progress(counts)
        return Response(body)


class PrismaSvgView(GenericAPIView):
    serializer_class = None

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "draft", str, enum=["1"], description="1: frame what does not add up in red"
            ),
            ROUND,
        ],
        responses={(200, "image/svg+xml"): str},
    )
    def get(self, request: Request, slug: str) -> HttpResponse:
        access = get_review_for(request.user, slug)
        draft = choice_param(request.query_params, "draft", choices=("1",), default="") == "1"
        return HttpResponse(
            prisma_svg(_counts(request, access.review), draft=draft),
            content_type="image/svg+xml",
        )
