"""What the extraction API views share: the form and the record a request names, the
values in a body, and the 400 that names every field at fault."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from extraction.errors import ExtractionInvalid
from extraction.models import Form, FormStatus
from reviewflow.errors import ReviewflowError
from reviewflow.reviews.access import ReviewAccess
from screening.models import Record

# ``evidence`` in responses: field key (a table cell "key.row.column") → the quote and page
# the value was read from; null where blinding hides the values.
EVIDENCE_SCHEMA = serializers.DictField(
    child=inline_serializer(
        "Evidence",
        fields={"quote": serializers.CharField(), "page": serializers.IntegerField()},
    ),
    allow_null=True,
)


def invalid_response(exc: ExtractionInvalid) -> Response:
    """400 naming every field (and table row and column) at fault."""
    return Response(
        {
            "detail": exc.message,
            "errors": [
                {"field": e.field, "row": e.row, "column": e.column, "message": str(e)}
                for e in exc.errors
            ],
        },
        status=status.HTTP_400_BAD_REQUEST,
    )


def values_in(data: Any, name: str = "values") -> dict[str, Any] | None:
    """The object keyed by field under ``name`` in a request body (None when absent)."""
    value = data.get(name) if isinstance(data, Mapping) else None
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ReviewflowError(f"{name} must be an object keyed by field.", field=name)
    return dict(value)


def get_form(access: ReviewAccess, form_id: Any, *, field: str = "form") -> Form:
    """The review's form with this id (drafts only to owners), else a 404 naming ``field``."""
    try:
        pk = int(form_id)
    except (TypeError, ValueError):
        raise ReviewflowError("Give a form id.", field=field) from None
    qs = Form.objects.filter(review=access.review)
    if not access.is_owner:
        qs = qs.exclude(status=FormStatus.DRAFT)
    form = qs.select_related("review").filter(pk=pk).first()
    if form is None:
        raise ReviewflowError("No such form in this review.", field=field, code="not_found")
    return form


def get_record(access: ReviewAccess, record_id: Any) -> Record:
    """The review's record with this id, else a 404 naming ``record``."""
    try:
        pk = int(record_id)
    except (TypeError, ValueError):
        raise ReviewflowError("Give a record id.", field="record") from None
    record = Record.objects.filter(review=access.review, pk=pk).first()
    if record is None:
        raise ReviewflowError("No such record in this review.", field="record", code="not_found")
    return record
