"""The adjudication desk: one open conflict at a time with the whole record, decided from
the keyboard (``desk.js``), and a compact table of the stage's open conflicts for the quick
ones. Both post to ``conflict_resolve``; the desk swaps in the next open conflict (htmx)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from reviewflow.errors import ReviewflowError
from reviewflow.params import choice_param, int_param, text_param
from reviewflow.reviews.access import ReviewAccess, get_review_for
from reviewflow.reviews.models import Role
from screening.highlight import compile_terms
from screening.models import Conflict, Decision, FullTextReport, Stage
from screening.selectors.adjudication import (
    conflict_details,
    conflict_progress,
    desk_place,
    next_open_conflict,
    open_conflicts,
)
from screening.services.screening.conflicts import may_adjudicate, resolve_conflict
from screening.services.screening.stage_settings import get_stage_settings
from screening.services.screening.votes import vote_changed_after_reveal
from screening.views.discussion import discussion_context

VIEWS = ("desk", "table")
_STAGES_THROUGH: dict[str, list[str]] = {
    Stage.TITLE_ABSTRACT: [Stage.TITLE_ABSTRACT],
    Stage.FULL_TEXT: [Stage.TITLE_ABSTRACT, Stage.FULL_TEXT],
}
TABLE_PAGE_SIZE = 50


def _htmx(request: HttpRequest) -> bool:
    """An htmx request for the desk's panel (a history restore wants the whole page)."""
    htmx: Any = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


def desk_url(slug: str, stage: str, conflict: Conflict | int | None = None, **extra: Any) -> str:
    query: dict[str, Any] = {"stage": stage}
    if conflict is not None:
        query["conflict"] = conflict if isinstance(conflict, int) else conflict.pk
    query.update({k: v for k, v in extra.items() if v})
    return reverse("conflicts", args=[slug]) + "?" + urlencode(query)


def _desk_context(
    access: ReviewAccess, stage: str, conflict: Conflict | None, **extra: Any
) -> dict[str, Any]:
    """What the desk shows of ``conflict`` (an open one of ``stage``, or None when none is
    left). A fixed number of queries, whatever the number of conflicts."""
    review = access.review
    conf = get_stage_settings(review, stage)
    context: dict[str, Any] = {
        "access": access,
        "review": review,
        "stage": stage,
        "stage_label": Stage(stage).label,
        "stages": Stage.choices,
        "conf": conf,
        "reasons": list(enumerate(conf.exclusion_reasons, start=1)),
        "progress": conflict_progress(review, stage),
        "detail": None,
        "decision": "",
        "reason": "",
        "note": "",
        "error": "",
        "info": "",
        **extra,
    }
    if conflict is None:
        return context
    (detail,) = conflict_details(
        [conflict],
        review=review,
        user=access.user,
        changed_vote=vote_changed_after_reveal,
    )
    place = desk_place(review, stage, conflict)
    skip_id = place.next_id
    if skip_id is None and context["progress"].open > 1:
        first = next_open_conflict(review, stage)
        skip_id = first.pk if first is not None and first.pk != conflict.pk else None
    context.update(
        detail=detail,
        record=conflict.record,
        place=place,
        skip_id=skip_id,
        highlighter=compile_terms(conf.include_terms.splitlines(), conf.exclude_terms.splitlines()),
        report=(
            FullTextReport.objects.filter(record_id=conflict.record_id).first()
            if stage == Stage.FULL_TEXT
            else None
        ),
        can_resolve=may_adjudicate(
            role=access.role, conf=conf, voted=access.user.pk in detail.voters
        ),
        # The record's discussion at each stage it has been through, the conflict's last.
        discussions=[
            discussion_context(
                access, conflict.record, at, back=desk_url(review.slug, stage, conflict)
            )
            for at in _STAGES_THROUGH[stage]
        ],
    )
    return context


def _render_desk(
    request: HttpRequest, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    if _htmx(request):
        response = render(request, "screening/adjudication/_desk.html", context, status=status)
        detail = context["detail"]
        # The address bar follows the conflict on screen, so a reload shows it again.
        response["HX-Replace-Url"] = desk_url(
            context["review"].slug, context["stage"], detail.conflict if detail else None
        )
        return response
    return render(request, "screening/adjudication/desk.html", context, status=status)


def _table(request: HttpRequest, access: ReviewAccess, stage: str) -> HttpResponse:
    """The compact table: a page of 50 open conflicts, each with its votes and a form."""
    conf = get_stage_settings(access.review, stage)
    page = Paginator(open_conflicts(access.review, stage), TABLE_PAGE_SIZE).get_page(
        int_param(request.GET, "page", default=1, min_value=1)
    )
    details = conflict_details(
        list(page.object_list),
        review=access.review,
        user=access.user,
        changed_vote=vote_changed_after_reveal,
    )
    rows = [
        {
            "detail": d,
            "reasons": sorted({v.reason for v in d.votes if v.reason}),
            "can_resolve": may_adjudicate(
                role=access.role, conf=conf, voted=access.user.pk in d.voters
            ),
        }
        for d in details
    ]
    return render(
        request,
        "screening/adjudication/table.html",
        {
            "access": access,
            "review": access.review,
            "stage": stage,
            "stage_label": Stage(stage).label,
            "stages": Stage.choices,
            "conf": conf,
            "reasons": conf.exclusion_reasons,
            "progress": conflict_progress(access.review, stage),
            "rows": rows,
            "page": page,
            "query": urlencode({"stage": stage, "view": "table"}),
        },
    )


@login_required
@require_safe
def conflicts(request: HttpRequest, slug: str) -> HttpResponse:
    """The desk (``?conflict=`` picks the open conflict to show, else the stage's first)
    or, with ``?view=table``, the compact table. Every member reads; adjudicators decide."""
    access = get_review_for(request.user, slug)
    stage = choice_param(
        request.GET, "stage", choices=Stage.values, default=Stage.TITLE_ABSTRACT.value
    )
    if choice_param(request.GET, "view", choices=VIEWS, default="desk") == "table":
        return _table(request, access, stage)
    info = ""
    conflict: Conflict | None = None
    wanted = int_param(request.GET, "conflict", default=None, min_value=1)
    if wanted is not None:
        conflict = (
            Conflict.objects.filter(review=access.review, pk=wanted)
            .select_related("record", "record__search")
            .first()
        )
        if conflict is not None:
            stage = conflict.stage
            if conflict.resolved_at is not None:
                info = f"The conflict on record {conflict.record_id} is resolved already."
                conflict = next_open_conflict(access.review, stage, conflict)
    if conflict is None and not info:
        conflict = next_open_conflict(access.review, stage)
    return _render_desk(request, _desk_context(access, stage, conflict, info=info))


def _decided(decision: str, reason: str) -> str:
    label = Decision(decision).label.lower() + "d"
    return f"{label} ({reason})" if reason else label


@login_required
@require_POST
def conflict_resolve(request: HttpRequest, slug: str, conflict_id: int) -> HttpResponse:
    """Settle a conflict (``decision``, ``reason``, ``note``). From the desk by htmx: the
    next open conflict comes back (or the same one with the message, keeping what was
    typed); from the table or without script: back to the page it came from."""
    access = get_review_for(request.user, slug, role=Role.REVIEWER)
    conflict = get_object_or_404(
        Conflict.objects.select_related("record", "record__search"),
        pk=conflict_id,
        review=access.review,
    )
    decision = text_param(request.POST, "decision")
    reason = text_param(request.POST, "reason")
    note = text_param(request.POST, "note")
    error, code = "", ""
    try:
        outcome = resolve_conflict(
            conflict=conflict, actor=access.user, decision=decision, reason=reason, note=note
        )
    except ReviewflowError as exc:
        error, code = exc.message, exc.code
        done = ""
    else:
        done = f"Conflict on record {conflict.record_id} resolved: " + _decided(
            outcome.decision, outcome.reason
        )
    from_table = choice_param(request.POST, "view", choices=VIEWS, default="desk") == "table"
    if _htmx(request) and not from_table:
        if error and code not in ("conflict", "forbidden"):
            # The same conflict again with the message, keeping what the adjudicator typed.
            context = _desk_context(
                access,
                conflict.stage,
                conflict,
                error=error,
                decision=decision,
                reason=reason,
                note=note,
            )
            return _render_desk(request, context, status=400)
        following = next_open_conflict(access.review, conflict.stage, conflict)
        return _render_desk(
            request, _desk_context(access, conflict.stage, following, error=error, info=done)
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done + ".")
    if from_table:
        page = int_param(request.POST, "page", default=1, min_value=1)
        return redirect(desk_url(slug, conflict.stage, view="table", page=page))
    return redirect(desk_url(slug, conflict.stage, conflict if error else None))
