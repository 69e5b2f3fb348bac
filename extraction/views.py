"""Extraction pages: the overview, the form builder, the extraction page, comparison and
consensus, and downloads. Each view checks access, calls services, renders."""

from __future__ import annotations

import io
import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_POST, require_safe

from extraction import exports, rob2, services
from extraction.form_templates import template_choices
from extraction.forms import (
    JUDGEMENTS,
    accept_proposals,
    bind_form,
    compared_fields,
    values_from_post,
)
from extraction.models import Consensus, Extraction, ExtractionStatus, Form, FormStatus
from extraction.spec import KIND_LABELS, KINDS, FieldError, FormSpec, SectionSpec
from reviewflow.errors import ReviewflowError
from reviewflow.reviews.access import ReviewAccess, get_review_for
from reviewflow.reviews.models import Role
from screening.models import FullTextReport, Record

EXPORT_FORMATS = ("csv", "xlsx", "json")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _form(access: ReviewAccess, form_id: int) -> Form:
    return get_object_or_404(Form, pk=form_id, review=access.review)


def _study(access: ReviewAccess, record_id: int) -> Record:
    return get_object_or_404(services.included_studies(access.review), pk=record_id)


def _context(access: ReviewAccess, **extra: Any) -> dict[str, Any]:
    return {"access": access, "review": access.review, "judgements": JUDGEMENTS, **extra}


@login_required
@require_safe
def home(request: HttpRequest, slug: str) -> HttpResponse:
    """Forms, and every included study × published form with its (blinded) status."""
    access = get_review_for(request.user, slug)
    forms = list(
        Form.objects.filter(review=access.review)
        .select_related("created_by")
        .order_by("title", "family", "-version")
    )
    families: dict[Any, list[Form]] = {}
    for form in forms:
        families.setdefault(form.family, []).append(form)
    published = [f for f in forms if f.status == FormStatus.PUBLISHED]
    studies = list(services.included_studies(access.review))
    ids = [f.pk for f in published]
    by_cell: dict[tuple[int, int], list[Extraction]] = {}
    extractions = Extraction.objects.filter(form_id__in=ids).select_related("extractor")
    for extraction in extractions.defer("values"):
        by_cell.setdefault((extraction.form_id, extraction.record_id), []).append(extraction)
    consensus = {
        (c["form_id"], c["record_id"]): c["status"]
        for c in Consensus.objects.filter(form_id__in=ids).values("form_id", "record_id", "status")
    }
    rows = [
        {
            "study": study,
            "cells": [
                _cell(access, form, by_cell.get((form.pk, study.pk), []), consensus, study)
                for form in published
            ],
        }
        for study in studies
    ]
    return render(
        request,
        "extraction/home.html",
        _context(
            access,
            families=list(families.values()),
            published=published,
            rows=rows,
            templates=template_choices(),
            formats=EXPORT_FORMATS,
            extractors=(
                list(services.extractor_candidates(access.review))
                if access.is_owner
                else [access.user]
                if access.can_screen
                else []
            ),
        ),
    )


def _cell(
    access: ReviewAccess,
    form: Form,
    extractions: list[Extraction],
    consensus: dict[tuple[int, int], str],
    study: Record,
) -> dict[str, Any]:
    """One study's status on one form, as the caller may see it (blind between extractors)."""
    mine = next((e for e in extractions if e.extractor_id == access.user.pk), None)
    submitted = sum(1 for e in extractions if e.status == ExtractionStatus.SUBMITTED)
    needed = form.extractors_needed
    return {
        "form": form,
        "mine": mine,
        "submitted": submitted,
        "started": len(extractions),
        "needed": needed,
        "all_submitted": submitted >= needed,
        "can_start": access.can_screen and mine is None and len(extractions) < needed,
        # Owners see who extracts (statuses only); extractors only counts.
        "extractors": extractions if access.is_owner else [],
        "consensus": consensus.get((form.pk, study.pk)),
    }


@login_required
@require_POST
def form_new(request: HttpRequest, slug: str) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    template = request.POST.get("template", "")
    title = request.POST.get("title", "").strip()
    try:
        if template:
            form = services.create_form_from_template(
                review=access.review, actor=access.user, template=template, title=title
            )
        else:
            title = title or "Untitled form"
            form = services.create_form(
                review=access.review,
                actor=access.user,
                spec=FormSpec(title=title, sections=(SectionSpec(title="Section 1"),)),
            )
    except ReviewflowError as exc:
        messages.error(request, exc.message)
        return redirect("extraction-home", slug=slug)
    messages.success(request, f"Form “{form.title}” created as a draft.")
    return redirect("extraction-form", slug=slug, form_id=form.pk)


@login_required
def form_builder(request: HttpRequest, slug: str, form_id: int) -> HttpResponse:
    """The builder of a draft form; a published form is shown frozen, read only. Members
    who are not owners read the form on its preview page (as in the API, where every
    member reads a form and owners change it)."""
    access = get_review_for(request.user, slug)
    form = _form(access, form_id)
    if not access.is_owner:
        if request.method != "GET":
            raise PermissionDenied("Only owners of the review change its forms.")
        return redirect("extraction-form-preview", slug=slug, form_id=form.pk)
    spec_data: Any = form.spec
    error = error_field = None
    if request.method == "POST":
        if form.status != FormStatus.DRAFT:
            raise PermissionDenied("A published form is frozen: make a new version to change it.")
        raw = request.POST.get("spec", "")
        try:
            spec_data = json.loads(raw)
            spec = _spec_from(spec_data)
            services.update_form(form=form, actor=access.user, spec=spec)
        except ReviewflowError as exc:
            error, error_field = exc.message, exc.field
        except ValueError:
            error = "The form definition could not be read; reload the page and try again."
            spec_data = form.spec
        else:
            messages.success(request, "Form saved.")
            return redirect("extraction-form", slug=slug, form_id=form.pk)
    context = _context(
        access,
        form=form,
        spec_data=spec_data,
        error=error,
        error_field=error_field,
        kinds=[(k, KIND_LABELS[k]) for k in KINDS],
        versions=Form.objects.filter(family=form.family).order_by("-version"),
    )
    if form.status != FormStatus.DRAFT:
        context["sections"] = bind_form(services.form_spec(form), {})
    return render(request, "extraction/builder.html", context, status=400 if error else 200)


def _spec_from(data: Any) -> FormSpec:
    """A FormSpec from the builder's JSON; a shape the builder never sends is a bad request."""
    if not isinstance(data, dict):
        raise ValueError("not an object")
    try:
        return FormSpec.from_dict(data)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(str(exc)) from exc


@login_required
def form_preview(request: HttpRequest, slug: str, form_id: int) -> HttpResponse:
    """The form as an extractor sees it, inputs disabled: the saved one (GET) or the builder's
    unsaved state (POST, from the builder's Preview button). Every member may read a form
    (as in the API); the builder's preview is the owners'."""
    access = get_review_for(
        request.user, slug, role=Role.OWNER if request.method == "POST" else Role.VIEWER
    )
    form = _form(access, form_id)
    error = None
    spec = services.form_spec(form)
    if request.method == "POST":
        try:
            spec = _spec_from(json.loads(request.POST.get("spec", "")))
        except ReviewflowError as exc:
            error = exc.message
        except ValueError:
            error = "The form definition could not be read; reload the page and try again."
    context = _context(access, form=form, spec=spec, error=error, disabled=True)
    context["sections"] = bind_form(spec, {})
    if getattr(request, "htmx", False):
        return render(request, "extraction/_preview.html", context)
    return render(request, "extraction/preview.html", context)


@login_required
@require_POST
def form_action(request: HttpRequest, slug: str, form_id: int) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    form = _form(access, form_id)
    action = request.POST.get("action", "")
    try:
        if action == "publish":
            services.publish_form(form=form, actor=access.user)
            messages.success(
                request, f"“{form.title}” version {form.version} published: it is now frozen."
            )
        elif action == "new_version":
            draft = services.new_form_version(form=form, actor=access.user)
            messages.success(request, f"Version {draft.version} created as a draft.")
            return redirect("extraction-form", slug=slug, form_id=draft.pk)
        elif action == "delete":
            services.delete_draft_form(form=form, actor=access.user)
            messages.success(request, f"Draft “{form.title}” deleted.")
            return redirect("extraction-home", slug=slug)
        else:
            raise ReviewflowError("Unknown action.")
    except ReviewflowError as exc:
        messages.error(request, exc.message)
    return redirect("extraction-form", slug=slug, form_id=form.pk)


def _carry_offer(form: Form, record: Record, user: Any, mine: Extraction | None) -> Any:
    """The caller's extraction of this study on an older version, with what would carry."""
    if mine is not None and (mine.values or mine.status != ExtractionStatus.DRAFT):
        return None
    older = (
        Extraction.objects.filter(
            form__family=form.family, form__version__lt=form.version, record=record, extractor=user
        )
        .select_related("form")
        .order_by("-form__version")
        .first()
    )
    if older is None:
        return None
    carried, dropped = services.carry_preview(extraction=older, to_form=form)
    return {"extraction": older, "carried": carried, "dropped": dropped}


@login_required
def extraction_page(request: HttpRequest, slug: str, form_id: int, record_id: int) -> HttpResponse:
    """One extractor's form for one study: save a draft or submit."""
    access = get_review_for(request.user, slug, role=Role.REVIEWER)
    form = _form(access, form_id)
    record = _study(access, record_id)
    spec = services.form_spec(form)
    mine = (
        Extraction.objects.filter(form=form, record=record, extractor=access.user)
        .select_related("carried_from__form")
        .first()
    )
    values: dict[str, Any] = dict(mine.values) if mine else {}
    errors: list[FieldError] = []
    status = 200
    if request.method == "POST":
        if mine is None:
            raise Http404("Start this extraction first.")
        values = accept_proposals(spec, values_from_post(spec, request.POST))
        submit = request.POST.get("action") == "submit"
        try:
            if submit:
                services.submit_extraction(extraction=mine, actor=access.user, values=values)
            else:
                services.save_draft(extraction=mine, actor=access.user, values=values)
        except services.ExtractionInvalid as exc:
            errors, status = list(exc.errors), 400
        except ReviewflowError as exc:
            messages.error(request, exc.message)
            status = 400
        else:
            messages.success(
                request, "Extraction submitted." if submit else "Draft saved: submit when done."
            )
            return redirect("extraction-page", slug=slug, form_id=form.pk, record_id=record.pk)
    report = FullTextReport.objects.filter(record=record).only("id", "pdf", "record_id").first()
    context = _context(
        access,
        form=form,
        record=record,
        mine=mine,
        errors=errors,
        report=report if report and report.pdf else None,
        disabled=(
            mine is None
            or mine.status != ExtractionStatus.DRAFT
            or form.status != FormStatus.PUBLISHED
        ),
        sections=bind_form(
            spec, values, errors=errors, proposals=rob2.proposed_judgements(spec, values)
        ),
        has_judgements=any(f.kind == "judgement" for f in spec.fields()),
        carry=_carry_offer(form, record, access.user, mine),
        can_start=mine is None and form.status == FormStatus.PUBLISHED,
    )
    return render(request, "extraction/extract.html", context, status=status)


@login_required
@require_POST
def extraction_action(
    request: HttpRequest, slug: str, form_id: int, record_id: int
) -> HttpResponse:
    """Start (take a free slot), assign someone (owners), reopen a submission, or carry an
    older version's values."""
    access = get_review_for(request.user, slug, role=Role.REVIEWER)
    form = _form(access, form_id)
    record = _study(access, record_id)
    action = request.POST.get("action", "")
    try:
        if action == "start":
            services.start_extraction(form=form, record=record, extractor=access.user)
        elif action == "assign":
            extractor = get_object_or_404(
                services.extractor_candidates(access.review),
                username=request.POST.get("extractor", ""),
            )
            services.assign_extractor(
                form=form, record=record, extractor=extractor, actor=access.user
            )
            messages.success(request, f"Record {record.pk} assigned to {extractor.username}.")
            return redirect("extraction-home", slug=slug)
        elif action == "reopen":
            mine = get_object_or_404(Extraction, form=form, record=record, extractor=access.user)
            services.reopen_extraction(extraction=mine, actor=access.user)
            messages.success(request, "Your extraction is a draft again.")
        elif action == "carry":
            older = get_object_or_404(
                Extraction,
                pk=request.POST.get("extraction") or 0,
                form__family=form.family,
                record=record,
                extractor=access.user,
            )
            services.carry_extraction(extraction=older, to_form=form, actor=access.user)
            messages.success(request, f"Values carried to version {form.version}: check them.")
        else:
            raise ReviewflowError("Unknown action.")
    except ReviewflowError as exc:
        messages.error(request, exc.message)
        if action in ("start", "assign"):
            return redirect("extraction-home", slug=slug)
    return redirect("extraction-page", slug=slug, form_id=form.pk, record_id=record.pk)


@login_required
@require_POST
def rob2_proposals(request: HttpRequest, slug: str, form_id: int) -> JsonResponse:
    """The RoB 2 algorithm's judgements for the answers typed so far (the page asks live)."""
    access = get_review_for(request.user, slug, role=Role.REVIEWER)
    spec = services.form_spec(_form(access, form_id))
    proposals = rob2.proposed_judgements(spec, values_from_post(spec, request.POST))
    return JsonResponse({"proposals": proposals, "labels": dict(JUDGEMENTS)})


@login_required
def compare(request: HttpRequest, slug: str, form_id: int, record_id: int) -> HttpResponse:
    """Both extractions field by field, and the consensus form pre-filled with agreed values."""
    access = get_review_for(request.user, slug, role=Role.OWNER)
    form = _form(access, form_id)
    record = _study(access, record_id)
    spec = services.form_spec(form)
    try:
        comparison = services.comparison_for(form=form, record=record, user=access.user)
    except ReviewflowError as exc:
        messages.error(request, exc.message)
        return redirect("extraction-home", slug=slug)
    extractions = services.visible_extractions(form=form, record=record, user=access.user)
    consensus = services.consensus_for(form=form, record=record)
    values: dict[str, Any] = dict(consensus.values)
    errors: list[FieldError] = []
    status = 200
    if request.method == "POST":
        values = accept_proposals(spec, values_from_post(spec, request.POST))
        final = request.POST.get("action") == "finalise"
        try:
            services.save_consensus(
                form=form, record=record, actor=access.user, values=values, final=final
            )
        except services.ExtractionInvalid as exc:
            errors, status = list(exc.errors), 400
        except ReviewflowError as exc:
            messages.error(request, exc.message)
            status = 400
        else:
            messages.success(request, "Consensus finalised." if final else "Consensus saved.")
            return redirect("extraction-compare", slug=slug, form_id=form.pk, record_id=record.pk)
    return render(
        request,
        "extraction/compare.html",
        _context(
            access,
            form=form,
            record=record,
            extractions=extractions,
            comparison=compared_fields(comparison),
            consensus=consensus,
            errors=errors,
            disagreements=sum(1 for c in comparison if not c.agree),
            sections=bind_form(
                spec,
                values,
                errors=errors,
                proposals=rob2.proposed_judgements(spec, values),
                differing=[c.field.key for c in comparison if not c.agree],
                differing_cells=[
                    (c.field.key, row.index, key)
                    for c in comparison
                    for row in c.rows
                    for key, agree in row.cells.items()
                    if not agree
                ],
            ),
            has_judgements=any(f.kind == "judgement" for f in spec.fields()),
        ),
        status=status,
    )


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
            services.extractor_candidates(access.review), username=request.GET.get("user", "")
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
