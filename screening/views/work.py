"""The workload page (#20): who has what screening work at a stage, how fast it goes, and
(owners) splitting the stage's open records among reviewers and moving a reviewer's open
work to others. Reviewers see their own row; counts only, never a decision."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from reviewflow.errors import ReviewflowError
from reviewflow.params import text_param
from reviewflow.reviews.access import ReviewAccess, get_review_for
from reviewflow.reviews.models import Role
from screening.forms.work import ReassignForm, SplitForm
from screening.models import Search, Stage
from screening.selectors.work import WorkloadRow, screeners, screening_workload
from screening.services.screening.stage_settings import get_stage_settings
from screening.services.work import check_split, reassign_open_work, split_work


def _stage(stage: str) -> str:
    if stage not in Stage.values:
        raise Http404("No such stage.")
    return stage


def _searches(access: ReviewAccess) -> list[tuple[int, str]]:
    return [
        (pk, f"{source} (search {pk})")
        for pk, source in Search.objects.filter(review=access.review)
        .order_by("id")
        .values_list("pk", "source")
    ]


def _page(
    request: HttpRequest,
    access: ReviewAccess,
    stage: str,
    *,
    split: SplitForm | None = None,
    reassign: ReassignForm | None = None,
    status: int = 200,
) -> HttpResponse:
    conf = get_stage_settings(access.review, stage)
    now = timezone.now()
    rows = screening_workload(
        access.review,
        stage,
        needed=conf.reviewers_needed,
        now=now,
        today=timezone.localdate(now),
        only=None if access.is_owner else access.user,
    )
    context: dict[str, object] = {
        "access": access,
        "review": access.review,
        "stage": stage,
        "stage_label": Stage(stage).label,
        "other_stage": next(s for s in Stage.values if s != stage),
        "conf": conf,
        "rows": rows,
        "today": timezone.localdate(now),
    }
    if access.is_owner:
        people = screeners(access.review)
        with_open = {r.username for r in rows if r.left}
        sources: list[User] = [u for u in people if u.username in with_open] + _departed(rows)
        context["split"] = split or SplitForm(people=people, searches=_searches(access))
        context["reassign"] = reassign or ReassignForm(people=people, sources=sources)
    return render(request, "screening/workload.html", context, status=status)


def _departed(rows: list[WorkloadRow]) -> list[User]:
    return [User(pk=r.user_id, username=r.username) for r in rows if not r.member and r.left]


@login_required
@require_safe
def workload(request: HttpRequest, slug: str, stage: str) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.REVIEWER)
    return _page(request, access, _stage(stage))


@login_required
@require_POST
def workload_split(request: HttpRequest, slug: str, stage: str) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    stage = _stage(stage)
    form = SplitForm(request.POST, people=screeners(access.review), searches=_searches(access))
    if not form.is_valid():
        return _page(request, access, stage, split=form, status=400)
    try:
        split = check_split(
            review=access.review,
            mode=form.cleaned_data["mode"],
            reviewers=form.chosen(),
            shares=form.shares(),
            searches=form.search_ids(),
            batch_size=form.cleaned_data["batch_size"],
            due_date=form.cleaned_data["due_date"],
        )
        made = split_work(review=access.review, stage=stage, actor=access.user, split=split)
    except ReviewflowError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return _page(request, access, stage, split=form, status=400)
    records = len({a.record_id for a in made})
    messages.success(
        request,
        f"{len(made)} assignment{'s' if len(made) != 1 else ''} made "
        f"({records} record{'s' if records != 1 else ''}).",
    )
    return redirect("workload", slug=slug, stage=stage)


@login_required
@require_POST
def workload_reassign(request: HttpRequest, slug: str, stage: str) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    stage = _stage(stage)
    people = screeners(access.review)
    sources = list(User.objects.filter(username=text_param(request.POST, "source")[:150]))
    form = ReassignForm(request.POST, people=people, sources=sources)
    if not form.is_valid():
        return _page(request, access, stage, reassign=form, status=400)
    source = form.people[form.cleaned_data["source"]]
    try:
        made = reassign_open_work(
            review=access.review,
            stage=stage,
            from_reviewer=source,
            to_reviewers=[form.people[name] for name in form.cleaned_data["to"]],
            actor=access.user,
            due_date=form.cleaned_data["due_date"],
        )
    except ReviewflowError as exc:
        field = {"reviewer": "source"}.get(exc.field or "", exc.field)
        form.add_error(field if field in form.fields else None, exc.message)
        return _page(request, access, stage, reassign=form, status=400)
    messages.success(
        request, f"{source.username}'s open work moved: {len(made)} new assignment(s)."
    )
    return redirect("workload", slug=slug, stage=stage)
