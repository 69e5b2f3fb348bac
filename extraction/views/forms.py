"""Form pages: a new form (blank or from a template), the builder, the preview, and
publishing, new versions and deleting drafts."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from extraction.forms import bind_form
from extraction.models import Form, FormStatus
from extraction.selectors import form_spec
from extraction.services.forms import (
    create_form,
    create_form_from_template,
    delete_draft_form,
    new_form_version,
    publish_form,
    update_form,
)
from extraction.spec import KIND_LABELS, KINDS, FormSpec, SectionSpec
from extraction.views.common import get_form, page_context
from reviewflow.errors import ReviewflowError
from reviewflow.params import json_param, text_param
from reviewflow.reviews.access import get_review_for
from reviewflow.reviews.models import Role


@login_required
@require_POST
def form_new(request: HttpRequest, slug: str) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    template = text_param(request.POST, "template")
    title = text_param(request.POST, "title").strip()
    try:
        if template:
            form = create_form_from_template(
                review=access.review, actor=access.user, template=template, title=title
            )
        else:
            title = title or "Untitled form"
            form = create_form(
                review=access.review,
                actor=access.user,
                spec=FormSpec(title=title, sections=(SectionSpec(title="Section 1"),)),
            )
    except ReviewflowError as exc:
        messages.error(request, exc.message)
        return redirect("extraction-home", slug=slug)
    messages.success(request, f"Form “{form.title}” created as a draft.")
    return redirect("extraction-form", slug=slug, form_id=form.pk)


@login_required
def form_builder(request: HttpRequest, slug: str, form_id: int) -> HttpResponse:
    """The builder of a draft form; a published form is shown frozen, read only. Members
    who are not owners read the form on its preview page (as in the API, where every
    member reads a form and owners change it)."""
    access = get_review_for(request.user, slug)
    form = get_form(access, form_id)
    if not access.is_owner:
        if request.method != "GET":
            raise PermissionDenied("Only owners of the review change its forms.")
        return redirect("extraction-form-preview", slug=slug, form_id=form.pk)
    spec_data: Any = form.spec
    error = error_field = None
    if request.method == "POST":
        if form.status != FormStatus.DRAFT:
            raise PermissionDenied("A published form is frozen: make a new version to change it.")
        try:
            spec_data = json_param(request.POST, "spec")
            spec = _spec_from(spec_data)
            update_form(form=form, actor=access.user, spec=spec)
        except ReviewflowError as exc:
            error, error_field = exc.message, exc.field
        except ValueError:
            error = "The form definition could not be read; reload the page and try again."
            spec_data = form.spec
        else:
            messages.success(request, "Form saved.")
            return redirect("extraction-form", slug=slug, form_id=form.pk)
    context = page_context(
        access,
        form=form,
        spec_data=spec_data,
        error=error,
        error_field=error_field,
        kinds=[(k, KIND_LABELS[k]) for k in KINDS],
        versions=Form.objects.filter(family=form.family).order_by("-version"),
    )
    if form.status != FormStatus.DRAFT:
        context["sections"] = bind_form(form_spec(form), {})
    return render(request, "extraction/builder.html", context, status=400 if error else 200)


def _spec_from(data: Any) -> FormSpec:
    """A FormSpec from the builder's JSON; a shape the builder never sends is a bad request."""
    if not isinstance(data, dict):
        raise ValueError("not an object")
    try:
        return FormSpec.from_dict(data)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(str(exc)) from exc


@login_required
def form_preview(request: HttpRequest, slug: str, form_id: int) -> HttpResponse:
    """The form as an extractor sees it, inputs disabled: the saved one (GET) or the builder's
    unsaved state (POST, from the builder's Preview button). Every member may read a form
    (as in the API); the builder's preview is the owners'."""
    access = get_review_for(
        request.user, slug, role=Role.OWNER if request.method == "POST" else Role.VIEWER
    )
    form = get_form(access, form_id)
    error = None
    spec = form_spec(form)
    if request.method == "POST":
        try:
            spec = _spec_from(json_param(request.POST, "spec"))
        except ReviewflowError as exc:
            error = exc.message
        except ValueError:
            error = "The form definition could not be read; reload the page and try again."
    context = page_context(access, form=form, spec=spec, error=error, disabled=True)
    context["sections"] = bind_form(spec, {})
    if getattr(request, "htmx", False):
        return render(request, "extraction/_preview.html", context)
    return render(request, "extraction/preview.html", context)


@login_required
@require_POST
def form_action(request: HttpRequest, slug: str, form_id: int) -> HttpResponse:
    access = get_review_for(request.user, slug, role=Role.OWNER)
    form = get_form(access, form_id)
    action = text_param(request.POST, "action")
    try:
        if action == "publish":
            publish_form(form=form, actor=access.user)
            messages.success(
                request, f"“{form.title}” version {form.version} published: it is now frozen."
            )
        elif action == "new_version":
            draft = new_form_version(form=form, actor=access.user)
            messages.success(request, f"Version {draft.version} created as a draft.")
            return redirect("extraction-form", slug=slug, form_id=draft.pk)
        elif action == "delete":
            delete_draft_form(form=form, actor=access.user)
            messages.success(request, f"Draft “{form.title}” deleted.")
            return redirect("extraction-home", slug=slug)
        else:
            raise ReviewflowError("Unknown action.")
    except ReviewflowError as exc:
        messages.error(request, exc.message)
    return redirect("extraction-form", slug=slug, form_id=form.pk)
