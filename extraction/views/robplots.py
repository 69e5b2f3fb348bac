"""Risk-of-bias plots of a form's final consensus: the page, and the SVG / PNG downloads."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.text import slugify
from django.views.decorators.http import require_safe

from extraction import exports, robplots
from extraction.models import Form, FormStatus
from extraction.selectors import form_spec
from extraction.spec import FormSpec
from extraction.views.common import page_context
from reviewflow.params import choice_param
from reviewflow.reviews.access import ReviewAccess, get_review_for

KINDS = ("traffic-light", "summary")
FORMATS = {"svg": "image/svg+xml", "png": "image/png"}


def _form(access: ReviewAccess, form_id: int) -> Form:
    return get_object_or_404(
        Form.objects.exclude(status=FormStatus.DRAFT), pk=form_id, review=access.review
    )


def _weight_fields(spec: FormSpec) -> list[tuple[str, str]]:
    return [(f.key, f.label) for f in spec.fields() if f.kind in ("integer", "decimal")]


def _studies(access: ReviewAccess, form: Form) -> list[tuple[str, dict[str, Any]]]:
    """(label, values) of each study with a final consensus the person may see (the export's
    rows, so blinding is the export's); labels "Author Year", made unique by record id."""
    data = exports.build_export(review=access.review, forms=[form], visible_to=access.user).forms[0]
    rows = data.json["studies"]
    labels = [
        " ".join(
            str(p)
            for p in ((row["first_author"] or "").split(",")[0].strip() or "Record", row["year"])
            if p
        )
        for row in rows
    ]
    return [
        (f"{label} ({row['study_id']})" if labels.count(label) > 1 else label, row["values"])
        for label, row in zip(labels, rows, strict=True)
    ]


def _plot_data(request: HttpRequest, access: ReviewAccess, form: Form) -> tuple[Any, str, list]:
    spec = form_spec(form)
    weights = _weight_fields(spec)
    weight = choice_param(request.GET, "weight", choices=[k for k, _ in weights], default="")
    data = robplots.form_plot_data(spec, _studies(access, form), weight=weight)
    return data, weight, weights


@login_required
@require_safe
def rob_plots(request: HttpRequest, slug: str, form_id: int) -> HttpResponse:
    """The traffic-light and summary plots of a form's final consensus, with downloads;
    ``?weight=<number field>`` weighs the summary plot by that field."""
    access = get_review_for(request.user, slug)
    form = _form(access, form_id)
    data, weight, weights = _plot_data(request, access, form)
    unweighted = 0
    if data is not None and weight:
        unweighted = sum(1 for s in data.studies if s.weight is None or s.weight <= 0)
    context = page_context(
        access,
        form=form,
        data=data,
        weight=weight,
        weights=weights,
        unweighted=unweighted,
        kinds=KINDS,
        formats=list(FORMATS),
    )
    return render(request, "extraction/rob_plots.html", context)


@login_required
@require_safe
def rob_plot(request: HttpRequest, slug: str, form_id: int, kind: str, fmt: str) -> HttpResponse:
    """One plot as SVG or PNG (``?download=1`` to save it rather than show it)."""
    access = get_review_for(request.user, slug)
    form = _form(access, form_id)
    if kind not in KINDS or fmt not in FORMATS:
        raise Http404("No such plot.")
    data, weight, _ = _plot_data(request, access, form)
    if data is None:
        raise Http404("This form has no risk-of-bias judgements.")
    if kind == "summary":
        layout = robplots.summary_layout(data, weighted=bool(weight))
    else:
        layout = robplots.traffic_light_layout(data)
    body: str | bytes = robplots.to_svg(layout) if fmt == "svg" else robplots.to_png(layout)
    response = HttpResponse(body, content_type=FORMATS[fmt])
    name = f"{slug}-{slugify(form.title) or 'form'}-v{form.version}-{kind}"
    if weight and kind == "summary":
        name += f"-weighted-{weight}"
    disposition = (
        "attachment"
        if choice_param(request.GET, "download", choices=["1"], default="")
        else "inline"
    )
    response["Content-Disposition"] = f'{disposition}; filename="{name}.{fmt}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
