"""The consensus page: both extractions field by field, and the consensus form pre-filled
with the values the extractors agreed on."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from extraction import rob
from extraction.errors import ExtractionInvalid
from extraction.evidence import evidence_from_post
from extraction.forms import (
    accept_proposals,
    bind_form,
    compared_fields,
    values_from_post,
)
from extraction.selectors import comparison_for, form_spec, visible_extractions
from extraction.services.consensus import consensus_for, save_consensus
from extraction.spec import FieldError
from extraction.views.common import get_form, get_study, page_context
from reviewflow.errors import ReviewflowError
from reviewflow.params import text_param, without_nul
from reviewflow.reviews.access import get_review_for
from reviewflow.reviews.models import Role


@login_required
def compare(request: HttpRequest, slug: str, form_id: int, record_id: int) -> HttpResponse:
    """Both extractions field by field, and the consensus form pre-filled with agreed values."""
    access = get_review_for(request.user, slug, role=Role.OWNER)
    form = get_form(access, form_id)
    record = get_study(access, record_id)
    spec = form_spec(form)
    try:
        comparison = comparison_for(form=form, record=record, user=access.user)
    except ReviewflowError as exc:
        messages.error(request, exc.message)
        return redirect("extraction-home", slug=slug)
    extractions = visible_extractions(form=form, record=record, user=access.user)
    consensus = consensus_for(form=form, record=record)
    values: dict[str, Any] = dict(consensus.values)
    evidence: dict[str, Any] = dict(consensus.evidence)
    errors: list[FieldError] = []
    status = 200
    if request.method == "POST":
        posted = without_nul(request.POST)
        values = accept_proposals(spec, values_from_post(spec, posted))
        evidence = evidence_from_post(spec, posted)
        final = text_param(request.POST, "action") == "finalise"
        try:
            save_consensus(
                form=form,
                record=record,
                actor=access.user,
                values=values,
                final=final,
                evidence=evidence,
            )
        except ExtractionInvalid as exc:
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
        page_context(
            access,
            form=form,
            record=record,
            extractions=extractions,
            comparison=compared_fields(comparison),
            consensus=consensus,
            errors=errors,
            evidence=evidence,
            # Each extractor's quotes beside their values (visible with the values only).
            column_labels={
                f.key: {c.key: c.label for c in f.columns} for f in spec.fields() if f.columns
            },
            disagreements=sum(1 for c in comparison if not c.agree),
            sections=bind_form(
                spec,
                values,
                errors=errors,
                proposals=rob.proposed_judgements(spec, values),
                notes=rob.proposal_notes(spec, values),
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
