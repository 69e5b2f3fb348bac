"""The PRISMA 2020 page: the flow diagram from the review's data, downloads, and the counts
an owner enters."""

from __future__ import annotations

import csv
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST, require_safe

from reviewflow.errors import ReviewflowError
from reviewflow.exports import safe_cell
from reviewflow.params import choice_param, int_param, text_param
from reviewflow.reviews.access import get_review_for
from reviewflow.reviews.models import Review, Role
from screening.models import PrismaSettings, RoundPrismaCounts
from screening.prisma import (
    check,
    from_csv,
    in_progress,
    prisma_pdf,
    prisma_png,
    prisma_svg,
    to_csv,
)
from screening.selectors.rounds import rounds_of
from screening.services import prisma, rounds

CONTENT_TYPES = {
    "svg": "image/svg+xml",
    "png": "image/png",
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
}


class PrismaSettingsForm(forms.ModelForm):
    class Meta:
        model = PrismaSettings
        fields = list(prisma.MANUAL_FIELDS)


class RoundPrismaCountsForm(forms.ModelForm):
    """An update round's entered counts (its previous studies come from the data)."""

    class Meta:
        model = RoundPrismaCounts
        fields = list(prisma.ROUND_FIELDS)


def render_prisma(
    review_slug: str, counts: prisma.PrismaCounts, fmt: str, *, draft: bool = False
) -> HttpResponse:
    """The diagram as a download; without the red "do not add up" panel unless ``draft``."""
    if fmt == "svg":
        body: str | bytes = prisma_svg(counts, draft=draft)
    elif fmt == "png":
        body = prisma_png(counts, draft=draft)
    elif fmt == "pdf":
        body = prisma_pdf(counts, draft=draft)
    else:
        body = to_csv(counts)
    name = f"{review_slug}-prisma{'-draft' if draft and fmt != 'csv' else ''}.{fmt}"
    response = HttpResponse(body, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _round(request: HttpRequest, review: Review) -> tuple[int, list[int]]:
    """The round asked for (``?round=N``; the current one when absent or not a round of the
    review) and every round."""
    every = rounds_of(review)
    asked = int_param(request.GET, "round", default=None, min_value=1)
    return (asked if asked in every else every[-1]), every


@login_required
def prisma_page(request: HttpRequest, slug: str) -> HttpResponse:
    access = get_review_for(request.user, slug)
    review = access.review
    fmt = choice_param(request.GET, "format", choices=CONTENT_TYPES, default="")
    number, every = _round(request, review)
    counts = prisma.prisma_counts(review, number)
    if fmt:
        draft = choice_param(request.GET, "draft", choices=("1",), default="") == "1"
        response = render_prisma(slug, counts, fmt, draft=draft)
        if len(every) > 1:
            response["Content-Disposition"] = response["Content-Disposition"].replace(
                "-prisma", f"-prisma-round{number}"
            )
        return response
    form: forms.ModelForm[Any] | None = None
    entered = prisma.entered_counts(review, number)
    if access.is_owner:
        form_class = PrismaSettingsForm if number == 1 else RoundPrismaCountsForm
        form = form_class(request.POST or None, instance=entered)
        if request.method == "POST" and form.is_valid():
            try:
                prisma.update_prisma_settings(
                    review=review,
                    actor=access.user,
                    round_number=number,
                    **{k: form.cleaned_data[k] for k in prisma.entered_fields(number)},
                )
            except ReviewflowError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(
                    request,
                    "Entered counts saved."
                    if number == 1
                    else f"Round {number}'s entered counts saved.",
                )
                response = redirect("prisma", slug=slug)
                if len(every) > 1:
                    response["Location"] += f"?round={number}"
                return response
    elif request.method == "POST":
        get_review_for(request.user, slug, role=Role.OWNER)
    return render(
        request,
        "screening/prisma.html",
        {
            "access": access,
            "review": review,
            "counts": counts,
            "problems": check(counts),
            "in_progress": in_progress(counts),
            # The SVG is ours: every name in it is escaped by the renderer. On the page it is
            # a draft: the boxes that do not add up are framed in red.
            "svg": mark_safe(prisma_svg(counts, draft=True)),  # noqa: S308
            "form": form,
            "entered": _entered(entered),
            "round": number,
            "rounds": every,
            "round_query": f"round={number}&" if len(every) > 1 else "",
            "changelog": rounds.round_changelog(review, number) if len(every) > 1 else None,
        },
    )


@login_required
@require_POST
def round_start(request: HttpRequest, slug: str) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    try:
        started = rounds.start_update_round(
            review=access.review,
            actor=access.user,
            label=text_param(request.POST, "label")[:120],
        )
    except ReviewflowError as exc:
        messages.error(request, exc.message)
        return redirect("prisma", slug=slug)
    messages.success(
        request,
        f"Round {started.number} started: searches imported from now on belong to it, and "
        "its diagram is the updated-review template, with the studies included so far as "
        "previous.",
    )
    return redirect("prisma", slug=slug)


@login_required
@require_safe
def round_changelog_csv(request: HttpRequest, slug: str) -> HttpResponse:
    """A round's changelog in full, as CSV (cells safe against formula injection)."""
    access = get_review_for(request.user, slug)
    number, _ = _round(request, access.review)
    changelog = rounds.round_changelog(access.review, number, shown=10**9)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{slug}-round{number}-changes.csv"'
    writer = csv.writer(response)
    for row in rounds.changelog_rows(changelog):
        writer.writerow([safe_cell(cell) for cell in row])
    return response


def _entered(settings: PrismaSettings | RoundPrismaCounts) -> list[tuple[str, object]]:
    """The counts in the figure that an owner entered, so the page can say which they are."""
    labels = {
        "previous_studies": "Studies included in the previous version",
        "previous_reports": "Reports of studies in the previous version",
        "duplicates_before_import": "Duplicates removed before import",
        "excluded_automatic": "Marked ineligible by automation tools outside reviewflow",
        "excluded_other": "Removed before screening for other reasons",
        "website_results": "Records from websites found outside reviewflow",
        "organisation_results": "Records from organisations found outside reviewflow",
        "citations_results": "Records from citation searching found outside reviewflow",
    }
    # An update round's previous studies are counted from the earlier rounds, not entered.
    updated = getattr(settings, "updated_review", False)
    return [
        (label, getattr(settings, name, None))
        for name, label in labels.items()
        if getattr(settings, name, None) and (updated or not name.startswith("previous_"))
    ]


@login_required
@require_POST
def prisma_csv_upload(request: HttpRequest, slug: str) -> HttpResponse:
    """Take the counts an owner keeps by hand from a PRISMA2020 CSV (previous studies and
    reports, records found outside reviewflow); the rest comes from the data."""
    access = get_review_for(request.user, slug, role=Role.OWNER)
    upload = request.FILES.get("csv")
    try:
        if upload is None:
            raise ReviewflowError("Choose the PRISMA2020 CSV file to upload.")
        if upload.size and upload.size > 1024 * 1024:
            raise ReviewflowError(f"{upload.name}: a PRISMA CSV is not larger than 1 MB.")
        try:
            counts = from_csv(upload.read().decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ReviewflowError(f"{upload.name}: {exc}") from None
        changes: dict[str, Any] = {}
        if counts.previous_studies is not None or counts.previous_reports is not None:
            changes.update(
                updated_review=True,
                previous_studies=counts.previous_studies,
                previous_reports=counts.previous_reports,
            )
        current = prisma.prisma_counts(access.review, 1)
        for name in ("website_results", "organisation_results", "citations_results"):
            extra = (getattr(counts, name) or 0) - (getattr(current, name) or 0)
            if extra > 0:
                changes[name] = getattr(prisma.prisma_settings(access.review), name) + extra
        prisma.update_prisma_settings(review=access.review, actor=access.user, **changes)
    except ReviewflowError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            "Counts taken from the CSV: previous studies and reports, "
            "and records identified outside reviewflow.",
        )
    return redirect("prisma", slug=slug)
