"""The screening page (one record at a time, keyboard first), settings, and full texts
(conflicts are in ``views/adjudication.py``)."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from reviewflow.errors import ReviewflowError
from reviewflow.exports import safe_cell
from reviewflow.params import int_param, text_param
from reviewflow.reviews.access import ReviewAccess, get_review_for, signed_in_user
from reviewflow.reviews.models import Role
from screening.forms.screening import StageSettingsForm
from screening.highlight import compile_terms
from screening.models import (
    FullTextReport,
    Record,
    ReservedVote,
    Stage,
    Vote,
)
from screening.selectors.history import pace_of
from screening.selectors.questions import question_agreement
from screening.selectors.screening import agreement_report, stage_progress
from screening.selectors.work import has_assignments
from screening.services import prioritisation
from screening.services.questions import cast_vote_with_answers
from screening.services.screening import pilot
from screening.services.screening.assignment import next_record
from screening.services.screening.stage_settings import get_stage_settings, update_stage_settings
from screening.services.screening.votes import (
    others_votes,
    undo_last_vote,
    vote_changed_after_reveal,
)
from screening.views.discussion import discussion_context
from screening.views.labels import record_labels_context
from screening.views.questions import answers_from_post, screen_questions_context


def _stage(stage: str) -> str:
    if stage not in Stage.values:
        raise Http404("No such stage.")
    return stage


def _screen_context(
    access: ReviewAccess, stage: str, record: Record | None, last: Vote | None = None
) -> dict[str, object]:
    """What the screening panel shows; ``last`` is the reviewer's latest vote when the
    caller has just cast it (else it is looked up)."""
    conf = get_stage_settings(access.review, stage)
    user = access.user
    progress = stage_progress(access.review, stage, user)
    highlighter = compile_terms(conf.include_terms.splitlines(), conf.exclude_terms.splitlines())
    report = None
    if record is not None and stage == Stage.FULL_TEXT:
        report = FullTextReport.objects.filter(record=record).first()
    if last is None:
        last = (
            Vote.objects.filter(review=access.review, stage=stage, reviewer=user)
            .order_by("-created_at", "-id")
            .only("id", "record_id", "decision", "created_at")
            .first()
        )
    return {
        "access": access,
        "review": access.review,
        "stage": stage,
        "stage_label": Stage(stage).label,
        "conf": conf,
        "record": record,
        "others_votes": (
            others_votes(review=access.review, stage=stage, record=record, reviewer=user)
            if record is not None
            else []
        ),
        "highlighter": highlighter,
        "progress": progress,
        "report": report,
        "last_vote": last,
        "reasons": list(enumerate(conf.exclusion_reasons, start=1)),
        **prioritisation.screening_page_extras(
            review=access.review, stage=stage, conf=conf, record=record
        ),
        **(
            record_labels_context(
                access, record, stage, back=reverse("screen", args=[access.review.slug, stage])
            )
            if record is not None
            else {}
        ),
        **(screen_questions_context(access, record, stage) if record is not None else {}),
        # Discussion, history and pace (#18): the comments box, ``[`` back to my last
        # vote, "N left for me" and my votes in the last hour and day.
        **(
            discussion_context(
                access, record, stage, back=reverse("screen", args=[access.review.slug, stage])
            )
            if record is not None
            else {}
        ),
        "pace": pace_of(access.review, stage, user, progress),
        "vote_form": "vote",
        "nav_previous": last.record_id if last is not None else None,
    }


def _next_context(access: ReviewAccess, stage: str, last: Vote | None = None) -> dict[str, object]:
    """The next record to screen: from the open pilot round first, else the main round."""
    pilot_round = pilot.open_pilot(access.review, stage)
    if pilot_round is not None:
        record = pilot.pilot_next(pilot=pilot_round, reviewer=access.user)
        context = _screen_context(access, stage, record)
        context["pilot"] = pilot_round
        return context
    record = next_record(review=access.review, stage=stage, reviewer=access.user)
    context = _screen_context(access, stage, record, last)
    if record is None:  # "your assigned records are done" rather than "nothing left"
        context["assigned_done"] = has_assignments(access.review, stage, access.user)
    return context


@login_required
@require_safe
def screen(request: HttpRequest, slug: str, stage: str) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.REVIEWER)
    stage = _stage(stage)
    context = _next_context(access, stage)
    template = (
        "screening/_screen_panel.html"
        if getattr(request, "htmx", False)
        else "screening/screen.html"
    )
    return render(request, template, context)


@login_required
@require_POST
def vote(request: HttpRequest, slug: str, stage: str) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.REVIEWER)
    stage = _stage(stage)
    record_id = int_param(request.POST, "record", default=None, min_value=0)
    if record_id is None:
        raise Http404("No such record.")
    decision = text_param(request.POST, "decision")
    reason = text_param(request.POST, "reason")
    note = text_param(request.POST, "note")
    in_pilot = bool(text_param(request.POST, "pilot"))
    answers = answers_from_post(request.POST)
    error, code = None, ""
    cast: Vote | None = None
    pilot_round = pilot.open_pilot(access.review, stage) if in_pilot else None
    try:
        if in_pilot and pilot_round is None:
            raise ReviewflowError("The pilot round was closed: the main round has started.")
        if pilot_round is not None:
            pilot.cast_pilot_vote(
                pilot=pilot_round,
                record=get_object_or_404(Record.objects.for_review(access.review), pk=record_id),
                reviewer=access.user,
                decision=decision,
                reason=reason,
                note=note,
            )
        else:
            # The service finds the record itself (one locking query): no lookup here.
            # The answers to the stage's questions go with the vote, in its transaction.
            cast = cast_vote_with_answers(
                review=access.review,
                record=record_id,
                reviewer=access.user,
                stage=stage,
                decision=decision,
                reason=reason,
                note=note,
                answers=answers,
            )
    except ReviewflowError as exc:
        error, code = exc.message, exc.code
    info = None
    if cast is not None and cast.after_reveal:
        info = "You voted again after this record's votes were shown: " + (
            "your vote differs from your first, blind vote, so an adjudicator decides the record."
            if vote_changed_after_reveal(cast)
            else "your vote is the same as your first, blind vote."
        )
    if error and code != "conflict":
        # Show the same record again with the message, keeping what the reviewer typed.
        record = get_object_or_404(Record.objects.for_review(access.review), pk=record_id)
        context = _screen_context(access, stage, record)
        context.update(error=error, note=note, pilot=pilot_round)
        if answers and not pilot_round:  # keep what the reviewer answered, too
            context.update(screen_questions_context(access, record, stage, typed=answers))
        status = 400
    else:
        context = _next_context(access, stage, cast)
        context["error"] = error
        context["info"] = info
        status = 200
    if getattr(request, "htmx", False):
        return render(request, "screening/_screen_panel.html", context, status=status)
    if error:
        messages.error(request, error)
    elif info:
        messages.info(request, info)
    return redirect("screen", slug=slug, stage=stage)


@login_required
@require_POST
def undo(request: HttpRequest, slug: str, stage: str) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.REVIEWER)
    stage = _stage(stage)
    error = None
    record: Record | None
    try:
        undone = undo_last_vote(review=access.review, reviewer=access.user, stage=stage)
        record = Record.objects.get(pk=undone.record_id)
    except ReviewflowError as exc:
        error = exc.message
        record = next_record(review=access.review, stage=stage, reviewer=access.user)
    context = _screen_context(access, stage, record)
    context["error"] = error
    info = None
    if record is not None and not error:
        info = "Your last vote was undone: vote again on this record."
        if ReservedVote.objects.filter(record=record, stage=stage, reviewer=access.user).exists():
            info += (
                " Its other votes were already visible to the team, so this vote is kept for"
                " you: nobody else can take it. If it differs from your first, blind vote,"
                " an adjudicator decides the record."
            )
    context["info"] = info
    if getattr(request, "htmx", False):
        return render(request, "screening/_screen_panel.html", context)
    if error:
        messages.error(request, error)
    return redirect("screen", slug=slug, stage=stage)


@login_required
def stage_settings(request: HttpRequest, slug: str, stage: str) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    stage = _stage(stage)
    conf = get_stage_settings(access.review, stage)
    initial = {
        "reviewers_needed": conf.reviewers_needed,
        "blind": conf.blind,
        "criteria": conf.criteria,
        "include_terms": conf.include_terms,
        "exclude_terms": conf.exclude_terms,
        "exclusion_reasons": "\n".join(conf.exclusion_reasons),
        "reasons_required": conf.reasons_required,
        "adjudicators": conf.adjudicators,
        "order": conf.order,
        "show_scores": conf.show_scores,
        "open_after_assigned": conf.open_after_assigned,
    }
    form = StageSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            update_stage_settings(
                review=access.review,
                stage=stage,
                actor=signed_in_user(request),
                **form.cleaned_data,
            )
        except ReviewflowError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            # Switching to "most relevant first" trains the model now, not at the next vote.
            prioritisation.request_retrain(review=access.review, stage=stage, force=True)
            messages.success(request, f"{Stage(stage).label} settings saved.")
            return redirect("stage-settings", slug=slug, stage=stage)
    return render(
        request,
        "screening/stage_settings.html",
        {
            "access": access,
            "review": access.review,
            "form": form,
            "stage": stage,
            "stage_label": Stage(stage).label,
        },
    )


@login_required
@require_safe
def agreement(request: HttpRequest, slug: str) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    report = agreement_report(access.review)
    if text_param(request.GET, "format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{slug}-agreement.csv"'
        writer = csv.writer(response)
        writer.writerow(
            [
                "stage",
                "reviewer_a",
                "reviewer_b",
                "records_both",
                "agreement_percent",
                "cohen_kappa",
            ]
        )
        for stage in report:
            for a, b, pair in stage.pairs:
                writer.writerow(
                    [
                        safe_cell(v)
                        for v in (
                            stage.stage,
                            a,
                            b,
                            pair.items,
                            "" if pair.agreement is None else f"{pair.agreement:.1f}",
                            "" if pair.kappa is None else f"{pair.kappa:.3f}",
                        )
                    ]
                )
        return response
    return render(
        request,
        "screening/agreement.html",
        {
            "access": access,
            "review": access.review,
            "report": report,
            "question_report": question_agreement(access.review),
        },
    )


@login_required
def pilot_page(request: HttpRequest, slug: str, stage: str) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    stage = _stage(stage)
    current = pilot.open_pilot(access.review, stage)
    if request.method == "POST":
        try:
            if text_param(request.POST, "action") == "close" and current is not None:
                pilot.close_pilot(pilot=current, actor=access.user)
                messages.success(request, "Pilot closed: the main round has started.")
            else:
                pilot.start_pilot(
                    review=access.review,
                    stage=stage,
                    actor=access.user,
                    # Not a whole number: 0, which the service refuses with its message.
                    size=int_param(request.POST, "size", default=0, min_value=0),
                )
                messages.success(
                    request, "Pilot round started: every reviewer screens its records first."
                )
        except ReviewflowError as exc:
            messages.error(request, exc.message)
        return redirect("pilot", slug=slug, stage=stage)
    latest = current or access.review.pilot_rounds.filter(stage=stage).first()
    progress = []
    if latest is not None:
        total = latest.records.count()
        done = dict(
            latest.votes.values("reviewer__username")
            .annotate(n=Count("id"))
            .values_list("reviewer__username", "n")
        )
        progress = [(name, n, total) for name, n in sorted(done.items())]
    users = dict(
        get_user_model()
        .objects.filter(memberships__review=access.review)
        .values_list("pk", "username")
    )
    pairs = [
        (users.get(p.rater_a, "?"), users.get(p.rater_b, "?"), p)
        for p in (pilot.pilot_agreement(latest) if latest else [])
    ]
    return render(
        request,
        "screening/pilot.html",
        {
            "access": access,
            "review": access.review,
            "stage": stage,
            "stage_label": Stage(stage).label,
            "pilot": latest,
            "progress": progress,
            "pairs": pairs,
        },
    )
