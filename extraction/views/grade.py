"""The summary-of-findings table of a form with its GRADE certainty: every member reads it;
owners rate each outcome (the proposals pre-filled) and choose how it is pooled and where
its assumed control risk comes from; downloads as HTML and DOCX."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_safe

from extraction.grade import DESIGNS, DOMAINS, LEVELS
from extraction.grade_table import SofRow, sof_docx, sof_html, sof_rows
from extraction.models import Form, GradeControlRisk, GradeMethod
from extraction.services.grade import save_grade_assessment, save_grade_settings
from extraction.synthesis_inputs import synthesis_form
from extraction.views.common import page_context
from reviewflow.errors import ReviewflowError
from reviewflow.params import text_param, without_nul
from reviewflow.reviews.access import ReviewAccess, get_review_for
from reviewflow.reviews.models import Role

EXPORTS = {
    "html": "text/html; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


@login_required
def grade_page(request: HttpRequest, slug: str, form_id: int) -> HttpResponse:
    """The table; a POST (owners) saves the judgements of one outcome."""
    access = get_review_for(request.user, slug)
    form = synthesis_form(access, form_id)
    status = 200
    if request.method == "POST":
        access = get_review_for(request.user, slug, role=Role.OWNER)
        post = without_nul(request.POST)
        key = text_param(post, "outcome")
        rows = {r.outcome.key: r for r in sof_rows(access, form)}
        if key not in rows:
            messages.error(request, "No such outcome in this form's final consensus.")
            status = 400
        elif text_param(post, "action") == "settings":
            status = _save_settings(request, access, form, rows[key], post)
            if status == 302:
                return redirect("extraction-grade", slug=slug, form_id=form.pk)
        else:
            judgements = {
                d: {
                    "level": text_param(post, f"{d}-level"),
                    "reason": text_param(post, f"{d}-reason"),
                }
                for d in DOMAINS
            }
            try:
                save_grade_assessment(
                    form=form,
                    outcome_key=key,
                    outcome_label=rows[key].outcome.label,
                    actor=access.user,
                    design=text_param(post, "design"),
                    judgements=judgements,
                )
            except ReviewflowError as exc:
                messages.error(request, exc.message)
                status = 400
            else:
                messages.success(request, f"Certainty of “{rows[key].outcome.label}” saved.")
                return redirect("extraction-grade", slug=slug, form_id=form.pk)
    context = page_context(
        access,
        form=form,
        rows=sof_rows(access, form),
        levels=list(LEVELS.items()),
        designs=list(DESIGNS.items()),
        methods=GradeMethod.choices,
        control_risks=GradeControlRisk.choices,
        formats=list(EXPORTS),
    )
    return render(request, "extraction/grade.html", context, status=status)


def _save_settings(
    request: HttpRequest, access: ReviewAccess, form: Form, row: SofRow, post: QueryDict
) -> int:
    """Save an outcome's pooling method and control risk; 302 when saved, 400 with the
    message otherwise."""
    try:
        save_grade_settings(
            form=form,
            outcome_key=row.outcome.key,
            outcome_label=row.outcome.label,
            actor=access.user,
            binary=row.binary,
            method=text_param(post, "method"),
            knha=text_param(post, "knha") == "on",
            control_risk=text_param(post, "control_risk"),
            control_risk_per_1000=text_param(post, "control_risk_per_1000"),
            control_risk_source=text_param(post, "control_risk_source"),
        )
    except ReviewflowError as exc:
        messages.error(request, exc.message)
        return 400
    messages.success(request, f"Pooling of “{row.outcome.label}” saved.")
    return 302


@login_required
@require_safe
def grade_export(request: HttpRequest, slug: str, form_id: int, fmt: str) -> HttpResponse:
    """The table as a standalone HTML file or a Word document."""
    access = get_review_for(request.user, slug)
    form = synthesis_form(access, form_id)
    if fmt not in EXPORTS:
        raise Http404("No such format.")
    rows = sof_rows(access, form)
    title = access.review.title
    if fmt == "docx":
        body: str | bytes = sof_docx(form, rows, review_title=title)
    else:
        body = sof_html(form, rows, review_title=title)
    response = HttpResponse(body, content_type=EXPORTS[fmt])
    name = f"{slug}-{slugify(form.title) or 'form'}-v{form.version}-summary-of-findings.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
