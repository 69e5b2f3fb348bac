"""REST API of PDF batches: upload many full texts at once (202 with the batch's status
URL), follow a batch, and decide a PDF the matcher was unsure of. The same services as the
Full texts page."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from reviewflow.errors import ReviewflowError
from reviewflow.params import MAX_ID
from reviewflow.reviews.access import get_review_for
from reviewflow.reviews.models import Role
from screening.models import PdfBatch, PdfFile, Record
from screening.services.pdfs import batch_counts, create_pdf_batch, resolve_pdf_file


class PdfCandidateSerializer(serializers.Serializer):
    record = serializers.IntegerField()
    score = serializers.IntegerField(help_text="Confidence, 0–100.")
    reason = serializers.CharField()


class PdfFileSerializer(serializers.ModelSerializer):
    candidates = PdfCandidateSerializer(many=True, read_only=True)

    class Meta:
        model = PdfFile
        fields = [
            "id",
            "filename",
            "size",
            "sha256",
            "status",
            "message",
            "record",
            "confidence",
            "candidates",
            "page_count",
            "no_text",
            "duplicate_of",
            "excerpt",
        ]


class PdfBatchSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    percent = serializers.IntegerField(read_only=True)
    counts = serializers.SerializerMethodField(
        help_text="Files by result: pending, attached, unsure, unmatched, duplicate, failed."
    )

    class Meta:
        model = PdfBatch
        fields = [
            "id",
            "url",
            "status",
            "percent",
            "files_total",
            "files_done",
            "counts",
            "created_at",
            "finished_at",
        ]

    def get_url(self, obj: PdfBatch) -> str:
        return reverse("api-pdf-batch", args=[obj.review.slug, obj.pk])

    def get_counts(self, obj: PdfBatch) -> dict[str, int]:
        return batch_counts(obj)


class PdfBatchDetailSerializer(PdfBatchSerializer):
    files = serializers.SerializerMethodField()

    class Meta(PdfBatchSerializer.Meta):
        fields = [*PdfBatchSerializer.Meta.fields, "files"]

    @extend_schema_field(PdfFileSerializer(many=True))
    def get_files(self, obj: PdfBatch) -> Any:
        files = obj.files.defer("text").order_by("pk")
        return PdfFileSerializer(files, many=True).data


class PdfUploadSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.FileField(),
        allow_empty=False,
        help_text="PDF files, or zip files of PDFs.",
    )


class PdfResolveSerializer(serializers.Serializer):
    record = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        allow_null=True,
        help_text="The record to attach the PDF to; null: none of the candidates.",
    )
    replace = serializers.BooleanField(
        default=False, help_text="Put the PDF in place of the record's existing full text."
    )


class PdfBatchListView(GenericAPIView):
    """The review's PDF batches, newest first; reviewers and owners upload one."""

    serializer_class = PdfBatchSerializer
    pagination_class = None
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(operation_id="pdf_batches_list", responses=PdfBatchSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        access = get_review_for(request.user, slug)
        batches = PdfBatch.objects.filter(review=access.review).select_related("review")[:100]
        return Response(PdfBatchSerializer(batches, many=True).data)

    @extend_schema(request=PdfUploadSerializer, responses={202: PdfBatchSerializer})
    def post(self, request: Request, slug: str) -> Response:
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        files = request.FILES.getlist("files") if hasattr(request.FILES, "getlist") else []
        if not files:
            raise ReviewflowError(
                "Send the PDFs (or zip files of PDFs) as multipart “files”.", field="files"
            )
        batch = create_pdf_batch(
            review=access.review,
            actor=access.user,
            files=[(f.name or "upload.pdf", f) for f in files],
        )
        batch.refresh_from_db()
        url = reverse("api-pdf-batch", args=[access.review.slug, batch.pk])
        return Response(
            PdfBatchSerializer(batch).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": url},
        )


class PdfBatchDetailView(GenericAPIView):
    """One batch: its progress, counts and each file's result."""

    serializer_class = PdfBatchDetailSerializer

    def get(self, request: Request, slug: str, batch_id: int) -> Response:
        access = get_review_for(request.user, slug)
        batch = get_object_or_404(
            PdfBatch.objects.select_related("review"), pk=batch_id, review=access.review
        )
        return Response(PdfBatchDetailSerializer(batch).data)


class PdfFileResolveView(GenericAPIView):
    """Decide a PDF the matcher was unsure of (or found no record for)."""

    serializer_class = PdfResolveSerializer

    @extend_schema(request=PdfResolveSerializer, responses=PdfFileSerializer)
    def post(self, request: Request, slug: str, file_id: int) -> Response:
        access = get_review_for(request.user, slug, role=Role.REVIEWER)
        pdf = get_object_or_404(PdfFile, pk=file_id, review=access.review)
        data = PdfResolveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        record_id = data.validated_data["record"]
        record = None
        if record_id is not None:
            record = Record.objects.for_review(access.review).filter(pk=record_id).first()
            if record is None:
                raise ReviewflowError(
                    f"There is no record {record_id} in this review.", field="record"
                )
        pdf = resolve_pdf_file(
            pdf_file=pdf,
            actor=access.user,
            record=record,
            replace=data.validated_data["replace"],
        )
        return Response(PdfFileSerializer(pdf).data)
