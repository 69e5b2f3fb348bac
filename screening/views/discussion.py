"""Pages of a record's discussion: the comments box on the screening page, the record's
page and the adjudication desk (``_record_discussion.html``), and the posts that add, edit
and delete a comment (htmx gets the box back).

To show the box elsewhere, put ``discussion_context(access, record, stage, back=...)`` in
the page's context and ``{% include "screening/_record_discussion.html" %}`` in its
template (it needs ``discussion`` and ``review``); for several stages on one page, include
it once per stage ``{% include "screening/_record_discussion.html" with discussion=d %}``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from reviewflow.errors import ReviewflowError
from reviewflow.params import choice_param, text_param
from reviewflow.reviews.access import ReviewAccess, get_review_for
from reviewflow.reviews.models import Role
from screening.models import Comment, Record, Stage
from screening.selectors.discussion import comments_visible_to, discussion_for
from screening.selectors.labels import current_stage
from screening.services import discussion as services


def discussion_context(
    access: ReviewAccess, record: Record, stage: str, back: str = ""
) -> dict[str, object]:
    """What the discussion box of ``record`` at ``stage`` shows to ``access.user``;
    ``back`` is the page a post without htmx returns to."""
    found = discussion_for(
        access.review,
        access.user,
        record,
        stage,
        can_write=access.can_screen,
        is_owner=access.is_owner,
    )
    return {"discussion": found, "discussion_back": back}


def _back(request: HttpRequest) -> str:
    """The page a post came from, if it is a path of this site."""
    back = text_param(request.POST, "next")
    if not back.startswith("/") or not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return ""
    return back


def _box(
    request: HttpRequest,
    access: ReviewAccess,
    record: Record,
    stage: str,
    *,
    error: str = "",
    body: str = "",
) -> HttpResponse:
    """The discussion box for htmx, or a redirect to the page the post came from."""
    back = _back(request) if request.method == "POST" else ""
    if getattr(request, "htmx", False) or request.method != "POST":
        context = discussion_context(access, record, stage, back)
        found = context["discussion"]
        found.error, found.body = error, body  # type: ignore[attr-defined]
        return render(
            request,
            "screening/_record_discussion.html",
            {"access": access, "review": access.review, **context},
            status=400 if error else 200,
        )
    if error:
        messages.error(request, error)
    if back:
        return HttpResponseRedirect(back)
    return redirect("record-detail", slug=access.review.slug, record_id=record.pk)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def record_comments(request: HttpRequest, slug: str, record_id: int) -> HttpResponse:
    """GET: the discussion box of the record at ``stage`` (by default the stage it is
    screened at now). POST (reviewers and owners): add the comment ``body``."""
    role = Role.REVIEWER if request.method == "POST" else Role.VIEWER
    access = get_review_for(request.user, slug, role=role)
    record = get_object_or_404(
        Record.objects.for_review(access.review).select_related("search"), pk=record_id
    )
    params = request.POST if request.method == "POST" else request.GET
    stage = choice_param(params, "stage", choices=Stage.values, default="")
    stage = stage or current_stage(record)
    if request.method != "POST":
        return _box(request, access, record, stage)
    body = text_param(request.POST, "body")
    try:
        services.add_comment(record=record, stage=stage, author=access.user, body=body)
    except ReviewflowError as exc:
        return _box(request, access, record, stage, error=exc.message, body=body)
    return _box(request, access, record, stage)


def _comment(
    request: HttpRequest, slug: str, record_id: int, comment_id: int
) -> tuple[ReviewAccess, Comment]:
    access = get_review_for(request.user, slug, role=Role.REVIEWER)
    # A comment the user may not read (blinding) is no comment at all: 404, as for an id
    # that does not exist, so that a guessed id tells nothing.
    visible = comments_visible_to(
        access.user, Comment.objects.filter(record_id=record_id, review=access.review)
    )
    comment = get_object_or_404(visible.select_related("record", "record__search"), pk=comment_id)
    return access, comment


@login_required
@require_POST
def comment_edit(request: HttpRequest, slug: str, record_id: int, comment_id: int) -> HttpResponse:
    """Change the text of one's own comment to ``body``."""
    access, comment = _comment(request, slug, record_id, comment_id)
    body = text_param(request.POST, "body")
    try:
        services.edit_comment(comment=comment, actor=access.user, body=body)
    except ReviewflowError as exc:
        return _box(request, access, comment.record, comment.stage, error=exc.message)
    return _box(request, access, comment.record, comment.stage)


@login_required
@require_POST
def comment_delete(
    request: HttpRequest, slug: str, record_id: int, comment_id: int
) -> HttpResponse:
    """Delete one's own comment (owners: any comment)."""
    access, comment = _comment(request, slug, record_id, comment_id)
    try:
        services.delete_comment(comment=comment, actor=access.user)
    except ReviewflowError as exc:
        return _box(request, access, comment.record, comment.stage, error=exc.message)
    return _box(request, access, comment.record, comment.stage)
