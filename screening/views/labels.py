"""Pages of labels: the review's labels (owners define them; everyone sees how many
records carry each) and the labels on one record, which reviewers toggle from the
screening page's keyboard (``l`` then the label's key) and from the record's page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from reviewflow.errors import ReviewflowError
from reviewflow.params import choice_param, int_param, text_param
from reviewflow.reviews.access import ReviewAccess, get_review_for
from reviewflow.reviews.models import Role
from screening.models import LABEL_KEYS, Label, LabelColour, Record, RecordLabel, Stage
from screening.selectors.labels import current_stage, label_counts, labels_of, labels_visible_to
from screening.services import labels as services


def record_labels_context(
    access: ReviewAccess, record: Record, stage: str, back: str = ""
) -> dict[str, object]:
    """What the labels box of a record shows: every label of the review, marked when the
    user put it on the record at ``stage``, and the labels the user may see that others
    put on it. Two queries, one when the review has no labels."""
    mine = RecordLabel.objects.filter(
        record=record, stage=stage, applied_by=access.user, label=OuterRef("pk")
    )
    labels = list(labels_of(access.review).annotate(on=Exists(mine)))
    others: list[RecordLabel] = []
    if labels:
        others = list(
            labels_visible_to(
                access.user,
                RecordLabel.objects.filter(review=access.review, record=record).exclude(
                    applied_by=access.user
                ),
            ).select_related("label", "applied_by")
        )
    return {
        "labels_box": {
            "record": record,
            "stage": stage,
            "stage_label": Stage(stage).label,
            "labels": labels,
            "others": others,
            "can_apply": access.can_screen,
            "back": back,
            "error": "",
        }
    }


@login_required
def labels_page(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the labels and their counts (every member). POST (owners): ``action`` is
    ``create``, ``update`` or ``delete``; ``label`` names the label to change."""
    access = get_review_for(request.user, slug)
    error, error_field, values = "", "", {}
    if request.method == "POST":
        access = get_review_for(request.user, slug, role=Role.OWNER)
        action = choice_param(
            request.POST, "action", choices=("create", "update", "delete"), default=""
        )
        values = {
            "name": text_param(request.POST, "name"),
            "colour": text_param(request.POST, "colour"),
            "key": text_param(request.POST, "key"),
        }
        try:
            if action == "create":
                label = services.create_label(review=access.review, actor=access.user, **values)
                messages.success(request, f"Label “{label.name}” added.")
            elif action in ("update", "delete"):
                label_id = int_param(request.POST, "label", default=None, min_value=1)
                label = get_object_or_404(Label, pk=label_id or 0, review=access.review)
                if action == "delete":
                    n = services.delete_label(label=label, actor=access.user)
                    messages.success(
                        request, f"Label “{label.name}” deleted (it was on {n} records)."
                    )
                else:
                    order = int_param(request.POST, "order", default=None, min_value=0)
                    services.update_label(label=label, actor=access.user, order=order, **values)
                    messages.success(request, f"Label “{label.name}” saved.")
            else:
                raise ReviewflowError("Unknown action: create, update or delete a label.")
        except ReviewflowError as exc:
            error, error_field = exc.message, exc.field or ""
        else:
            return redirect("review-labels", slug=slug)
    counts = label_counts(access.review, access.user)
    labels = [(label, counts.get(label.pk, 0)) for label in labels_of(access.review)]
    used = {label.key for label, _ in labels if label.key}
    return render(
        request,
        "screening/labels.html",
        {
            "access": access,
            "review": access.review,
            "labels": labels,
            "colours": LabelColour.choices,
            "free_keys": [k for k in LABEL_KEYS if k not in used],
            "error": error,
            "error_field": error_field,
            "values": values,
        },
        status=400 if error else 200,
    )


@login_required
@require_POST
def record_labels(request: HttpRequest, slug: str, record_id: int) -> HttpResponse:
    """Put the user's ``label`` on the record at ``stage`` (by default the stage it is
    screened at now), or take it off if it was on. htmx gets the labels box back."""
    access = get_review_for(request.user, slug, role=Role.REVIEWER)
    record = get_object_or_404(
        Record.objects.for_review(access.review).select_related("search"), pk=record_id
    )
    stage = choice_param(request.POST, "stage", choices=Stage.values, default="")
    stage = stage or current_stage(record)
    label_id = int_param(request.POST, "label", default=None, min_value=1)
    if label_id is None:
        raise Http404("No such label.")
    label = get_object_or_404(Label, pk=label_id, review=access.review)
    error = ""
    try:
        services.toggle_label(
            review=access.review, record=record, label=label, user=access.user, stage=stage
        )
    except ReviewflowError as exc:
        error = exc.message
    # Back to the page the label was put on from: a path of this site, nothing else.
    back = text_param(request.POST, "next")
    if not back.startswith("/") or not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = ""
    if getattr(request, "htmx", False):
        context = record_labels_context(access, record, stage, back)
        context["labels_box"]["error"] = error  # type: ignore[index]
        return render(
            request,
            "screening/_record_labels.html",
            {"access": access, "review": access.review, **context},
            status=400 if error else 200,
        )
    if error:
        messages.error(request, error)
    if back:
        return HttpResponseRedirect(back)
    return redirect("record-detail", slug=slug, record_id=record.pk)
