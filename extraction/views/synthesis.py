"""Effect sizes live in the extraction and consensus pages, and the synthesis page of a form:
the meta-analysis of one outcome over the studies' final consensus, its forest and funnel
plots (SVG, PNG, PDF) and its results as CSV.

Who sees what: the live panel computes only the values the page posts (nothing stored is
read), so it shows no one anything they did not type. The synthesis page is open to every
member and reads final consensus only, through the extraction export's rows, which hide a
study's consensus from anyone still drafting an extraction of it (the export's blinding).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.text import slugify
from django.views.decorators.http import require_POST, require_safe

from extraction.forms import values_from_post
from extraction.models import Form
from extraction.selectors import form_spec, included_studies
from extraction.synthesis import Measure, SynthesisError
from extraction.synthesis.plots import FUNNEL_MIN_STUDIES, forest_svg, funnel_svg
from extraction.synthesis.raster import svg_to_pdf, svg_to_png
from extraction.synthesis_inputs import (
    analysis_for,
    consensus_studies,
    plot_svg,
    synthesis_form,
)
from extraction.synthesis_long import long_csv
from extraction.synthesis_rm5 import rm5_export
from extraction.synthesis_run import (
    METHODS,
    Analysis,
    inputs_csv,
    live_comparisons,
    live_values,
    results_csv,
    scale_of,
)
from extraction.views.common import get_form, page_context
from reviewflow.params import choice_param, without_nul
from reviewflow.reviews.access import get_review_for
from reviewflow.reviews.models import Role

PLOTS = ("forest", "funnel")
CSV_KINDS = ("results", "inputs")
PLOT_FORMATS = {"svg": "image/svg+xml", "png": "image/png", "pdf": "application/pdf"}


@login_required
@require_POST
def effects_live(request: HttpRequest, slug: str, form_id: int) -> HttpResponse:
    """The effect sizes of the values the extraction or consensus form holds right now (the
    page posts them as the extractor types), with the inputs each one still lacks."""
    access = get_review_for(request.user, slug, role=Role.REVIEWER)
    spec = form_spec(get_form(access, form_id))
    values = live_values(spec, values_from_post(spec, without_nul(request.POST)))
    return render(
        request,
        "extraction/_effects_panel.html",
        {"comparisons": live_comparisons(spec, values)},
    )


@login_required
@require_safe
def synthesis_page(request: HttpRequest, slug: str, form_id: int) -> HttpResponse:
    """The meta-analysis of one outcome over the final consensus: choose outcome, measure,
    method and subgroup field; the forest plot inline, downloads, and who was left out."""
    access = get_review_for(request.user, slug)
    form = synthesis_form(access, form_id)
    choices, analysis, studies, _ = analysis_for(request.GET, access, form)
    forest = funnel = ""
    if analysis is not None and analysis.result is not None:
        title = choices.outcome.label if choices.outcome else ""
        forest = forest_svg(
            analysis.effects, analysis.result, subgroups=analysis.subgroups, title=title
        )
        if len(analysis.effects.effects) >= FUNNEL_MIN_STUDIES:
            funnel = funnel_svg(analysis.effects, analysis.result)
    included = included_studies(access.review).count()
    query = request.GET.urlencode()
    context = page_context(
        access,
        form=form,
        choices=choices,
        analysis=analysis,
        methods=[
            (k, v)
            for k, v in METHODS.items()
            if k != "MH" or (choices.measure is not None and choices.measure.is_binary)
        ],
        forest=forest,
        funnel=funnel,
        funnel_min=FUNNEL_MIN_STUDIES,
        with_consensus=len(studies),
        without_consensus=max(included - len(studies), 0),
        query=f"?{query}" if query else "",
        long_query=_long_query(choices.measure),
        plot_formats=list(PLOT_FORMATS),
        rows=_table_rows(analysis),
        pooled=analysis.result.to_dict() if analysis and analysis.result else {},
    )
    return render(request, "extraction/synthesis.html", context)


def _long_query(measure: Measure | None) -> str:
    """The long CSV in the page's measure for its kind of outcome (the other kind's default)."""
    if measure is None or measure in (Measure.OR, Measure.MD):
        return ""
    return f"?{'binary' if measure.is_binary else 'continuous'}={measure.value}"


def _table_rows(analysis: Analysis | None) -> list[dict[str, Any]]:
    if analysis is None:
        return []
    back = scale_of(analysis.measure)
    return [
        {
            "study": e.study,
            "subgroup": e.subgroup,
            "estimate": back(e.yi),
            "ci_low": back(e.ci_low),
            "ci_high": back(e.ci_high),
            "vi": e.vi,
            "weight": analysis.weight(e.study),
            "note": e.note,
        }
        for e in analysis.effects.effects
    ]


def _file_name(slug: str, form: Form, analysis: Analysis, kind: str, fmt: str) -> str:
    outcome = slugify(analysis.outcome.label)[:40] or "outcome"
    return (
        f"{slug}-{slugify(form.title) or 'form'}-v{form.version}-{outcome}-"
        f"{analysis.measure.value}-{analysis.method}-{kind}.{fmt}"
    )


@login_required
@require_safe
def synthesis_plot(
    request: HttpRequest, slug: str, form_id: int, kind: str, fmt: str
) -> HttpResponse:
    """The forest or funnel plot as SVG, PNG or PDF (``?download=1`` to save it)."""
    access = get_review_for(request.user, slug)
    form = synthesis_form(access, form_id)
    if kind not in PLOTS or fmt not in PLOT_FORMATS:
        raise Http404("No such plot.")
    choices, analysis, _, _ = analysis_for(request.GET, access, form)
    if analysis is None:
        raise Http404("No outcome with effect inputs to plot.")
    try:
        svg = plot_svg(analysis, kind, choices.outcome.label if choices.outcome else "")
    except SynthesisError as exc:
        raise Http404(str(exc)) from None
    body: str | bytes = svg
    if fmt == "png":
        body = svg_to_png(svg)
    elif fmt == "pdf":
        body = svg_to_pdf(svg)
    response = HttpResponse(body, content_type=PLOT_FORMATS[fmt])
    download = choice_param(request.GET, "download", choices=["1"], default="")
    disposition = "attachment" if download or fmt == "pdf" else "inline"
    name = _file_name(slug, form, analysis, kind, fmt)
    response["Content-Disposition"] = f'{disposition}; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_safe
def synthesis_csv(request: HttpRequest, slug: str, form_id: int, which: str) -> HttpResponse:
    """``results``: the analysis's study effects, pooled result and left-out studies;
    ``inputs``: each study's inputs in metafor's column names, with its yi and vi."""
    access = get_review_for(request.user, slug)
    form = synthesis_form(access, form_id)
    if which not in CSV_KINDS:
        raise Http404("No such file.")
    _, analysis, studies, spec = analysis_for(request.GET, access, form)
    if analysis is None:
        raise Http404("No outcome with effect inputs to export.")
    body = results_csv(analysis) if which == "results" else inputs_csv(spec, studies, analysis)
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    name = _file_name(slug, form, analysis, which, "csv")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_required
@require_safe
def synthesis_long_csv(request: HttpRequest, slug: str, form_id: int) -> HttpResponse:
    """Every outcome of the form in one long CSV (a row per study × outcome × time point),
    in metafor's column names, with the engine's effect sizes: ``?binary=OR|RR|RD`` and
    ``?continuous=MD|SMD`` choose the measures (OR and MD when absent or unknown)."""
    access = get_review_for(request.user, slug)
    form = synthesis_form(access, form_id)
    binary = choice_param(request.GET, "binary", choices=["OR", "RR", "RD"], default="OR")
    continuous = choice_param(request.GET, "continuous", choices=["MD", "SMD"], default="MD")
    body = long_csv(
        form_spec(form),
        consensus_studies(access, form),
        binary=Measure(binary),
        continuous=Measure(continuous),
    )
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    name = f"{slug}-{slugify(form.title) or 'form'}-v{form.version}-all-outcomes.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_required
@require_safe
def synthesis_rm5(request: HttpRequest, slug: str, form_id: int) -> HttpResponse:
    """The form's outcomes as a RevMan 5 review file (``extraction/synthesis_rm5.py``): the
    studies with a final consensus and their per-arm data, for RevMan to pool."""
    access = get_review_for(request.user, slug)
    form = synthesis_form(access, form_id)
    export = rm5_export(
        form_spec(form),
        consensus_studies(access, form),
        title=access.review.title,
        comparison=f"{form.title} (version {form.version})",
        # The form version's date, not the time of the download: the same data, the same file.
        now=form.published_at or form.created_at,
    )
    response = HttpResponse(export.body, content_type="application/xml; charset=iso-8859-1")
    name = f"{slug}-{slugify(form.title) or 'form'}-v{form.version}.rm5"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
