"""Extraction pages: the overview (every included study × published form, with its
blinded status), one extractor's form for one study (save a draft or submit), its actions
(start, assign, reopen, carry), and the RoB 2 proposals the page asks for live."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from extraction import rob
from extraction.errors import ExtractionInvalid
from extraction.evidence import evidence_from_post
from extraction.form_templates import template_choices
from extraction.forms import (
    JUDGEMENTS,
    accept_proposals,
    bind_form,
    values_from_post,
)
from extraction.models import Consensus, Extraction, ExtractionStatus, Form, FormStatus
from extraction.robplots import plotted_tool
from extraction.selectors import (
    extraction_workload,
    extractor_candidates,
    form_spec,
    included_studies,
)
from extraction.services.extractions import (
    assign_extractor,
    carry_extraction,
    carry_preview,
    reopen_extraction,
    save_draft,
    start_extraction,
    submit_extraction,
)
from extraction.spec import FieldError
from extraction.views.common import get_form, get_study, page_context
from extraction.views.exports import EXPORT_FORMATS
from reviewflow.errors import ReviewflowError
from reviewflow.params import int_param, text_param, without_nul
from reviewflow.reviews.access import ReviewAccess, get_review_for
from reviewflow.reviews.models import Role
from screening.models import FullTextReport, Record, Stage
from screening.selectors.screening import stage_settings_of


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
    studies = list(included_studies(access.review))
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
        page_context(
            access,
            families=list(families.values()),
            published=published,
            rob_forms={f.pk for f in published if plotted_tool(form_spec(f)) is not None},
            rows=rows,
            today=timezone.localdate(),
            # Assigned work (#20): owners see every extractor's, others their own.
            workload=extraction_workload(
                access.review,
                now=timezone.now(),
                today=timezone.localdate(),
                only=None if access.is_owner else access.user,
            ),
            templates=template_choices(),
            formats=EXPORT_FORMATS,
            extractors=(
                list(extractor_candidates(access.review))
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
    carried, dropped = carry_preview(extraction=older, to_form=form)
    return {"extraction": older, "carried": carried, "dropped": dropped}


@login_required
def extraction_page(request: HttpRequest, slug: str, form_id: int, record_id: int) -> HttpResponse:
    """One extractor's form for one study: save a draft or submit."""
    access = get_review_for(request.user, slug, role=Role.REVIEWER)
    form = get_form(access, form_id)
    record = get_study(access, record_id)
    spec = form_spec(form)
    mine = (
        Extraction.objects.filter(form=form, record=record, extractor=access.user)
        .select_related("carried_from__form")
        .first()
    )
    values: dict[str, Any] = dict(mine.values) if mine else {}
    evidence: dict[str, Any] = dict(mine.evidence) if mine else {}
    errors: list[FieldError] = []
    status = 200
    if request.method == "POST":
        if mine is None:
            raise Http404("Start this extraction first.")
        posted = without_nul(request.POST)
        values = accept_proposals(spec, values_from_post(spec, posted))
        evidence = evidence_from_post(spec, posted)
        submit = text_param(request.POST, "action") == "submit"
        try:
            if submit:
                submit_extraction(
                    extraction=mine, actor=access.user, values=values, evidence=evidence
                )
            else:
                save_draft(extraction=mine, actor=access.user, values=values, evidence=evidence)
        except ExtractionInvalid as exc:
            errors, status = list(exc.errors), 400
        except ReviewflowError as exc:
            messages.error(request, exc.message)
            status = 400
        else:
            messages.success(
                request, "Extraction submitted." if submit else "Draft saved: submit when done."
            )
            return redirect("extraction-page", slug=slug, form_id=form.pk, record_id=record.pk)
    report = (
        FullTextReport.objects.filter(record=record)
        .only("id", "pdf", "record_id", "pdf_source", "pdf_url", "pdf_licence", "pdf_version")
        .first()
    )
    context = page_context(
        access,
        form=form,
        record=record,
        mine=mine,
        errors=errors,
        evidence=evidence,
        # The PDF viewer marks the full-text stage's highlight terms.
        fulltext=(
            stage_settings_of(access.review, Stage.FULL_TEXT) if report and report.pdf else None
        ),
        report=report if report and report.pdf else None,
        disabled=(
            mine is None
            or mine.status != ExtractionStatus.DRAFT
            or form.status != FormStatus.PUBLISHED
        ),
        sections=bind_form(
            spec,
            values,
            errors=errors,
            proposals=rob.proposed_judgements(spec, values),
            notes=rob.proposal_notes(spec, values),
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
    form = get_form(access, form_id)
    record = get_study(access, record_id)
    action = text_param(request.POST, "action")
    try:
        if action == "start":
            start_extraction(form=form, record=record, extractor=access.user)
        elif action == "assign":
            extractor = get_object_or_404(
                extractor_candidates(access.review),
                username=text_param(request.POST, "extractor"),
            )
            due = _due_date(text_param(request.POST, "due_date"))
            assign_extractor(
                form=form, record=record, extractor=extractor, actor=access.user, due_date=due
            )
            messages.success(request, f"Record {record.pk} assigned to {extractor.username}.")
            return redirect("extraction-home", slug=slug)
        elif action == "reopen":
            mine = get_object_or_404(Extraction, form=form, record=record, extractor=access.user)
            reopen_extraction(extraction=mine, actor=access.user)
            messages.success(request, "Your extraction is a draft again.")
        elif action == "carry":
            older = get_object_or_404(
                Extraction,
                pk=int_param(request.POST, "extraction", default=0, min_value=0),
                form__family=form.family,
                record=record,
                extractor=access.user,
            )
            carry_extraction(extraction=older, to_form=form, actor=access.user)
            messages.success(request, f"Values carried to version {form.version}: check them.")
        else:
            raise ReviewflowError("Unknown action.")
    except ReviewflowError as exc:
        messages.error(request, exc.message)
        if action in ("start", "assign"):
            return redirect("extraction-home", slug=slug)
    return redirect("extraction-page", slug=slug, form_id=form.pk, record_id=record.pk)


def _due_date(text: str) -> date | None:
    """The assignment's due date (#20): empty for none; anything else must be a date."""
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ReviewflowError(
            f"due_date: {text[:20]!r} is not a date (YYYY-MM-DD).", field="due_date"
        ) from None


@login_required
@require_POST
def rob2_proposals(request: HttpRequest, slug: str, form_id: int) -> JsonResponse:
    """The risk-of-bias tool's proposed judgements for the answers typed so far (the page
    asks live); ``labels`` are the words of every level those proposals can take."""
    access = get_review_for(request.user, slug, role=Role.REVIEWER)
    spec = form_spec(get_form(access, form_id))
    values = values_from_post(spec, request.POST)
    return JsonResponse(
        {
            "proposals": rob.proposed_judgements(spec, values),
            "labels": {**dict(JUDGEMENTS), **rob.proposal_labels(spec)},
            "notes": rob.proposal_notes(spec, values),
        }
    )
