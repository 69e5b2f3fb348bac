"""Pages of deduplication: the queue of pairs a person decides, and undoing merges."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from reviewflow.errors import ReviewflowError
from reviewflow.params import int_param, text_param
from reviewflow.reviews.access import get_review_for, signed_in_user
from reviewflow.reviews.models import Role
from screening.models import DuplicatePair, PairDecision, Record
from screening.services import dedup

COMPARED_FIELDS = [
    ("title", "Title"),
    ("authors", "Authors"),
    ("year", "Year"),
    ("journal", "Journal"),
    ("volume", "Volume"),
    ("issue", "Issue"),
    ("pages", "Pages"),
    ("doi", "DOI"),
    ("pmid", "PMID"),
    ("publication_type", "Type"),
    ("abstract", "Abstract"),
]


def _norm(value: object) -> str:
    if isinstance(value, list):
        value = "; ".join(value)
    return " ".join(str(value or "").lower().split())


def comparison(a: Record, b: Record) -> list[dict[str, object]]:
    rows = []
    for name, label in COMPARED_FIELDS:
        va, vb = getattr(a, name), getattr(b, name)
        if isinstance(va, list):
            va = "; ".join(va)
        if isinstance(vb, list):
            vb = "; ".join(vb)
        na, nb = _norm(va), _norm(vb)
        state = "same" if na == nb else ("missing" if not na or not nb else "differs")
        rows.append({"label": label, "a": va, "b": vb, "state": state})
    return rows


@login_required
@require_safe
def duplicate_queue(request: HttpRequest, slug: str) -> HttpResponse:
    # Every member may read the pairs and why they matched (as in the API); owners decide.
    access = get_review_for(request.user, slug)
    pending = DuplicatePair.objects.filter(review=access.review, decision=PairDecision.PENDING)
    total = pending.count()
    # Past the last pair shows the last; anything but a whole number from 0, the first.
    index = min(int_param(request.GET, "i", default=0, min_value=0), max(total - 1, 0))
    pair = (
        pending.select_related("record_a__search", "record_b__search")
        .order_by("-score", "id")[index : index + 1]
        .first()
    )
    context = {
        "access": access,
        "review": access.review,
        "pair": pair,
        "total": total,
        "index": index,
        "rows": comparison(pair.record_a, pair.record_b) if pair else [],
        "decided": DuplicatePair.objects.filter(
            review=access.review, decision__in=[PairDecision.CONFIRMED, PairDecision.SEPARATED]
        ).count(),
        "merged": Record.objects.for_review(access.review)
        .filter(duplicate_of__isnull=False)
        .count(),
        # Duplicates found after screening began keep their votes; owners should look.
        "flagged": Record.objects.for_review(access.review)
        .filter(duplicate_of__isnull=False, votes__isnull=False)
        .distinct()
        .only("id", "title", "duplicate_of_id")[:100],
    }
    template = (
        "screening/_duplicate_pair.html"
        if getattr(request, "htmx", False)
        else "screening/duplicates.html"
    )
    return render(request, template, context)


@login_required
@require_POST
def duplicate_decide(request: HttpRequest, slug: str, pair_id: int) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    pair = get_object_or_404(DuplicatePair, pk=pair_id, review=access.review)
    decision = text_param(request.POST, "decision")
    primary_id = int_param(request.POST, "primary", default=None, min_value=0)
    index = int_param(request.POST, "i", default=0, min_value=0)
    try:
        if decision not in ("duplicate", "not_duplicate"):
            raise ReviewflowError("Choose “duplicate” or “not a duplicate”.", field="decision")
        dedup.decide_pair(
            pair=pair,
            actor=signed_in_user(request),
            duplicate=decision == "duplicate",
            primary_id=primary_id,
        )
    except ReviewflowError as exc:
        messages.error(request, exc.message)
    return redirect(reverse("review-duplicates", args=[slug]) + f"?i={index}")


@login_required
@require_POST
def record_unmerge(request: HttpRequest, slug: str, record_id: int) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    record = get_object_or_404(Record.objects.for_review(access.review), pk=record_id)
    try:
        dedup.undo_merge(record=record, actor=signed_in_user(request))
    except ReviewflowError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Merge undone: the record stands on its own again.")
    return redirect("record-detail", slug=slug, record_id=record_id)
