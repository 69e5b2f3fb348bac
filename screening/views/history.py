"""My votes at a stage: the history page, one record of it on the screening page (back and
forward with ``[`` and ``]``, a jump to a record by id with ``g``), and changing a vote
while its record waits for other votes."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from reviewflow.errors import ReviewflowError
from reviewflow.keyset import keyset_page
from reviewflow.params import choice_param, one_text_param, parse_int, text_param
from reviewflow.reviews.access import ReviewAccess, get_review_for
from reviewflow.reviews.models import Role
from screening.models import Conflict, Decision, Outcome, Record, Stage, Vote
from screening.selectors.history import (
    HISTORY_ORDER,
    Status,
    changeable,
    my_votes,
    status_of,
    vote_neighbours,
    with_standing,
)
from screening.selectors.screening import eligible_records
from screening.services.screening.votes import change_vote
from screening.views.screening import _next_context, _screen_context, _stage

PAGE_SIZE = 25


def _record_standing(record: Record, stage: str) -> str:
    """The standing of a record the reviewer did not vote on (two queries at most)."""
    outcome = Outcome.objects.filter(record=record, stage=stage).values_list("decision").first()
    if outcome is not None:
        return Status.INCLUDED if outcome[0] == Decision.INCLUDE else Status.EXCLUDED
    if Conflict.objects.filter(record=record, stage=stage, resolved_at__isnull=True).exists():
        return Status.CONFLICT
    return Status.WAITING


def record_context(access: ReviewAccess, stage: str, record: Record) -> dict[str, object]:
    """The screening panel showing ``record``: with the reviewer's vote on it marked (its
    buttons change the vote while the record waits for other votes), or, when they have
    not voted on it, the usual vote form if it is screened at this stage and open."""
    mine = with_standing(
        Vote.objects.filter(review=access.review, stage=stage, reviewer=access.user, record=record)
    ).first()
    context = _screen_context(access, stage, record)
    if mine is not None:
        nav = vote_neighbours(mine)
        context.update(
            my_vote=mine,
            my_vote_status=Status.LABELS[status_of(mine)],
            vote_form="change" if changeable(mine) else "",
            nav_previous=nav.previous,
            nav_next=nav.following,
            nav_at_vote=True,
            note=mine.note,  # the note box starts from the vote's note
        )
        return context
    eligible = eligible_records(access.review, stage).filter(pk=record.pk).exists()
    standing = _record_standing(record, stage) if eligible else ""
    context.update(
        record_standing=Status.LABELS.get(standing, "not screened at this stage"),
        vote_form="vote" if standing == Status.WAITING else "",
    )
    return context


def _panel(
    request: HttpRequest, context: dict[str, object], *, status: int = 200, push: str = ""
) -> HttpResponse:
    if getattr(request, "htmx", False):
        response = render(request, "screening/_screen_panel.html", context, status=status)
        if push:
            response["HX-Push-Url"] = push
        return response
    return render(request, "screening/screen.html", context, status=status)


@login_required
@require_safe
def screen_record(request: HttpRequest, slug: str, stage: str, record_id: int) -> HttpResponse:
    """One record on the screening page, reached from the history or by id."""
    access = get_review_for(request.user, slug, role=Role.REVIEWER)
    stage = _stage(stage)
    record = get_object_or_404(Record.objects.for_review(access.review), pk=record_id)
    return _panel(request, record_context(access, stage, record))


@login_required
@require_safe
def screen_goto(request: HttpRequest, slug: str, stage: str) -> HttpResponse:
    """The "go to record" box (``g``): the record whose id was typed, or the next record
    with a message when there is no such record in the review."""
    access = get_review_for(request.user, slug, role=Role.REVIEWER)
    stage = _stage(stage)
    # Two numbers at once (``?record=1&record=2``) name no one record: not guessed at.
    one = one_text_param(request.GET, "record")
    typed = text_param(request.GET, "record")
    number = parse_int(one.lstrip("#"), min_value=1) if one is not None else None
    record = Record.objects.for_review(access.review).filter(pk=number).first() if number else None
    if record is None:
        context = _next_context(access, stage)
        context["error"] = f"There is no record “{typed[:20]}” in this review: type its number."
        return _panel(request, context)
    url = reverse("screen-record", args=[slug, stage, record.pk])
    if not getattr(request, "htmx", False):
        return redirect(url)
    return _panel(request, record_context(access, stage, record), push=url)


@login_required
@require_POST
def screen_change(request: HttpRequest, slug: str, stage: str, record_id: int) -> HttpResponse:
    """Change the reviewer's vote on the record (the buttons of a past vote)."""
    access = get_review_for(request.user, slug, role=Role.REVIEWER)
    stage = _stage(stage)
    record = get_object_or_404(Record.objects.for_review(access.review), pk=record_id)
    decision = text_param(request.POST, "decision")
    error, status = "", 200
    try:
        vote = change_vote(
            review=access.review,
            stage=stage,
            reviewer=access.user,
            record=record,
            decision=decision,
            reason=text_param(request.POST, "reason"),
            note=text_param(request.POST, "note"),
        )
    except ReviewflowError as exc:
        error, status = exc.message, 400 if exc.code == "invalid" else 200
    context = record_context(access, stage, record)
    if error:
        context["error"] = error
    else:
        context["info"] = f"Your vote on record {record.pk} is now “{vote.get_decision_display()}”."
    return _panel(request, context, status=status)


@login_required
@require_safe
def history(request: HttpRequest, slug: str, stage: str) -> HttpResponse:
    """My votes at this stage, newest first: searchable, filtered by decision, in pages."""
    access = get_review_for(request.user, slug, role=Role.REVIEWER)
    stage = _stage(stage)
    q = text_param(request.GET, "q")[:200]
    decision = choice_param(request.GET, "decision", choices=Decision.values, default="")
    votes = my_votes(access.review, stage, access.user, q=q, decision=decision)
    kept = {k: v for k, v in (("q", q), ("decision", decision)) if v}
    # Read by key, never by OFFSET: a reviewer's 100,000th vote costs what the newest does.
    page = keyset_page(votes, keyset=HISTORY_ORDER, size=PAGE_SIZE, params=request.GET, keep=kept)
    rows = [
        {"vote": v, "status": status_of(v), "label": Status.LABELS[status_of(v)]}
        for v in page.object_list
    ]
    query = urlencode(kept)
    return render(
        request,
        "screening/history.html",
        {
            "access": access,
            "review": access.review,
            "stage": stage,
            "stage_label": Stage(stage).label,
            "page": page,
            "rows": rows,
            "q": q,
            "decision": decision,
            "decisions": [
                (value, label)
                for value, label in Decision.choices
                if stage == Stage.TITLE_ABSTRACT or value != Decision.MAYBE
            ],
            "query": query,
        },
    )
