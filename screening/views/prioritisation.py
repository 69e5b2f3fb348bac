"""The owners' prioritisation dashboard: how the stage's records are ordered, the recall
curve, the stopping estimate (a statistical guarantee beside heuristics), retraining on
demand, and stopping early."""

from __future__ import annotations

import math

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from reviewflow.errors import ReviewflowError
from reviewflow.params import text_param
from reviewflow.reviews.access import get_review_for
from reviewflow.reviews.models import Role
from screening.models import Stage, StageOrder
from screening.services import early_stop, prioritisation

CURVE_W, CURVE_H = 480, 200


def _stage(stage: str) -> str:
    if stage not in Stage.values:
        raise Http404("No such stage.")
    return stage


def _polyline(points: list[tuple[int, int]], total: int, relevant: int) -> str:
    """SVG coordinates of the recall curve: x = records screened of the stage's total,
    y = relevant found (of those found so far; the scale's top is the highest count)."""
    xmax, ymax = max(total, 1), max(relevant, 1)
    return " ".join(
        f"{CURVE_W * x / xmax:.1f},{CURVE_H - CURVE_H * y / ymax:.1f}" for x, y in points
    )


@login_required
def prioritisation_page(request: HttpRequest, slug: str, stage: str) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    stage = _stage(stage)
    report = early_stop.stopping_report(access.review, stage)
    two_phase = next((r for r in report.rules if r.key == "two_phase"), None)
    return render(
        request,
        "screening/prioritisation.html",
        {
            "access": access,
            "review": access.review,
            "stage": stage,
            "stage_label": Stage(stage).label,
            "report": report,
            "by_relevance": report.order == StageOrder.RELEVANCE,
            "curve_points": _polyline(report.curve, report.total, report.included),
            "curve_w": CURVE_W,
            "curve_h": CURVE_H,
            "can_stop": report.unscreened > 0,
            "at_full_text": stage == Stage.FULL_TEXT,
            "confidence_pct": round(report.confidence * 100),
            "bound_pct": math.floor(report.recall_lower_bound * 100 + 1e-9),
            "retrain_every": prioritisation.RETRAIN_EVERY,
            "two_phase": two_phase,
            "target_pct": round(report.recall_target * 100),
            "can_sample": (
                report.order == StageOrder.RELEVANCE
                and two_phase is not None
                and two_phase.details.get("phase") == 1
                and report.stopped is None
                and report.unscreened > 0
            ),
        },
    )


@login_required
@require_POST
def prioritisation_retrain(request: HttpRequest, slug: str, stage: str) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    stage = _stage(stage)
    if prioritisation.request_retrain(review=access.review, stage=stage, force=True):
        messages.success(request, "Retraining queued: the order updates in a few seconds.")
    else:
        messages.error(
            request,
            "Nothing queued: the order is random (change it in the stage settings), or a "
            "retrain is already queued.",
        )
    return redirect("prioritisation", slug=slug, stage=stage)


@login_required
@require_POST
def prioritisation_stop(request: HttpRequest, slug: str, stage: str) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    stage = _stage(stage)
    method = text_param(request.POST, "method")
    if text_param(request.POST, "confirm") != "yes":
        messages.error(request, "Tick the box to confirm: the unscreened records will be excluded.")
        return redirect("prioritisation", slug=slug, stage=stage)
    try:
        decision = early_stop.stop_screening_early(
            review=access.review,
            stage=stage,
            actor=access.user,
            method=method,
        )
    except ReviewflowError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Screening stopped: {decision.records_excluded} unscreened records were excluded "
            + (
                "by automation tool (PRISMA counts them among the reports excluded, as not "
                "assessed)."
                if stage == Stage.FULL_TEXT
                else "by automation tool (PRISMA counts them in their own box)."
            ),
        )
    return redirect("prioritisation", slug=slug, stage=stage)


@login_required
@require_POST
def prioritisation_stop_undo(request: HttpRequest, slug: str, stage: str) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    stage = _stage(stage)
    try:
        back = early_stop.undo_stop_early(review=access.review, stage=stage, actor=access.user)
    except ReviewflowError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Early stop undone: {back} records are unscreened again and come back in the "
            "screening order.",
        )
    return redirect("prioritisation", slug=slug, stage=stage)


@login_required
@require_POST
def prioritisation_sample(request: HttpRequest, slug: str, stage: str) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    stage = _stage(stage)
    try:
        event = prioritisation.start_random_sample(
            review=access.review, stage=stage, actor=access.user
        )
    except ReviewflowError as exc:
        messages.error(request, exc.message)
    else:
        remaining = (event.after or {}).get("remaining", 0)
        messages.success(
            request,
            f"Random sample started: the {remaining} unscreened records now come in a random "
            "order. The two-phase rule says how many more to screen.",
        )
    return redirect("prioritisation", slug=slug, stage=stage)
