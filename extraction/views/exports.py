"""Downloads of extraction data: one form's consensus or one extractor's extractions."""

from __future__ import annotations

import io

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.text import slugify
from django.views.decorators.http import require_safe

from extraction import exports
from extraction.models import Form, FormStatus
from extraction.selectors import extractor_candidates
from reviewflow.params import text_param
from reviewflow.reviews.access import get_review_for

EXPORT_FORMATS = ("csv", "xlsx", "json")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@login_required
@require_safe
def export(request: HttpRequest, slug: str, form_id: int, which: str, fmt: str) -> HttpResponse:
    """One form's final consensus (any member) or one extractor's submitted extractions
    (owners, and each extractor their own) as CSV (a zip when the form has tables), XLSX
    or JSON."""
    access = get_review_for(request.user, slug)
    form = get_object_or_404(
        Form.objects.exclude(status=FormStatus.DRAFT), pk=form_id, review=access.review
    )
    if which not in ("consensus", "extractor") or fmt not in EXPORT_FORMATS:
        raise Http404("No such export.")
    extractor = None
    if which == "extractor":
        extractor = get_object_or_404(
            extractor_candidates(access.review), username=text_param(request.GET, "user")
        )
        if extractor != access.user and not access.is_owner:
            raise PermissionDenied("Only owners download other extractors' data.")
    data = exports.build_export(
        review=access.review, forms=[form], extractor=extractor, visible_to=access.user
    )
    who = extractor.username if extractor else "consensus"
    stem = f"{slug}-{slugify(form.title) or 'form'}-v{form.version}-{who}"
    buffer = io.BytesIO()
    if fmt == "json":
        text = io.StringIO()
        exports.write_json(data, text)
        body, content_type, name = text.getvalue().encode(), "application/json", f"{stem}.json"
    elif fmt == "xlsx":
        exports.write_xlsx(data, buffer)
        body, content_type, name = buffer.getvalue(), XLSX, f"{stem}.xlsx"
    elif any(sheet for f in data.forms for sheet in f.tables):
        exports.write_csv_zip(data, buffer, stem)
        body, content_type, name = buffer.getvalue(), "application/zip", f"{stem}.zip"
    else:
        text = io.StringIO(newline="")
        exports.write_studies_csv(data, text)
        body, content_type, name = (
            text.getvalue().encode(),
            "text/csv; charset=utf-8",
            f"{stem}.csv",
        )
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
