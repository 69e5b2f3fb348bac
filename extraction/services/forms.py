"""Forms and their versions: an owner builds a draft, publishes it (frozen from then on),
and makes a new version to change it.

Invariants the database keeps: one version number per form family, at most one draft and
one published version per family.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from extraction.form_templates import TEMPLATES
from extraction.models import Form, FormStatus
from extraction.selectors import form_spec, require_owner
from extraction.spec import FormSpec, check_form_spec
from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Review
from reviewflow.reviews.services import record_audit


def _checked_spec(spec: FormSpec | Mapping[str, Any]) -> FormSpec:
    parsed = spec if isinstance(spec, FormSpec) else FormSpec.from_dict(spec)
    check_form_spec(parsed)
    return parsed


def form_target(form: Form) -> str:
    """How the audit trail names a form version (also in extraction and consensus events)."""
    return f"{form.title} (version {form.version})"


def _audit_form(form: Form, actor: User | None, action: str, **data: Any) -> None:
    record_audit(
        review=form.review,
        actor=actor,
        action=action,
        target=form_target(form),
        object_type="extraction_form",
        object_id=form.pk,
        **data,
    )


def _apply_spec(form: Form, spec: FormSpec) -> None:
    form.spec = spec.to_dict()
    form.title = spec.title[:300]
    form.description = spec.description
    form.extractors_needed = spec.extractors_needed


@transaction.atomic
def create_form(*, review: Review, actor: User, spec: FormSpec | Mapping[str, Any]) -> Form:
    """A new form (version 1, a draft) from a definition."""
    require_owner(review, actor, "build extraction forms")
    parsed = _checked_spec(spec)
    form = Form(review=review, created_by=actor)
    _apply_spec(form, parsed)
    form.save()
    _audit_form(form, actor, "form.created", after={"spec": form.spec})
    return form


def create_form_from_template(
    *, review: Review, actor: User, template: str, title: str = ""
) -> Form:
    """A new draft form copied from one of the templates (``form_templates.TEMPLATES``),
    named ``title`` when one is given (else the template's own title)."""
    spec = TEMPLATES.get(template)
    if spec is None:
        names = ", ".join(sorted(TEMPLATES))
        raise ReviewflowError(
            f'There is no template "{template}"; choose one of: {names}.', field="template"
        )
    if title.strip():
        spec = replace(spec, title=title.strip())
    return create_form(review=review, actor=actor, spec=spec)


def _locked_form(form: Form) -> Form:
    return Form.objects.select_for_update().select_related("review").get(pk=form.pk)


def _sync_form(target: Form, source: Form) -> Form:
    """Bring the caller's instance up to date with what was saved."""
    for name in ("status", "spec", "title", "description", "extractors_needed", "published_at"):
        setattr(target, name, getattr(source, name))
    return source


@transaction.atomic
def update_form(*, form: Form, actor: User, spec: FormSpec | Mapping[str, Any]) -> Form:
    """Change a draft form. A published form is frozen: make a new version instead."""
    require_owner(form.review, actor, "edit extraction forms")
    parsed = _checked_spec(spec)
    locked = _locked_form(form)
    if locked.status != FormStatus.DRAFT:
        raise ReviewflowError(
            f"Version {locked.version} of this form is {locked.status} and cannot change: "
            "make a new version to edit it.",
            code="conflict",
        )
    before = locked.spec
    _apply_spec(locked, parsed)
    locked.save(update_fields=["spec", "title", "description", "extractors_needed"])
    if before != locked.spec:
        _audit_form(
            locked, actor, "form.updated", before={"spec": before}, after={"spec": locked.spec}
        )
    return _sync_form(form, locked)


@transaction.atomic
def publish_form(*, form: Form, actor: User) -> Form:
    """Publish a draft: extractors can use it, and it never changes again. The version it
    replaces (if any) becomes superseded; extractions made with it stay readable."""
    require_owner(form.review, actor, "publish extraction forms")
    locked = _locked_form(form)
    if locked.status != FormStatus.DRAFT:
        raise ReviewflowError(
            f"Version {locked.version} of this form is already {locked.status}.", code="conflict"
        )
    spec = form_spec(locked)
    check_form_spec(spec)
    if not spec.fields():
        raise ReviewflowError("Add at least one field before publishing the form.", field="spec")
    previous = list(
        Form.objects.select_for_update().filter(family=locked.family, status=FormStatus.PUBLISHED)
    )
    for old in previous:
        old.status = FormStatus.SUPERSEDED
        old.save(update_fields=["status"])
        _audit_form(old, actor, "form.superseded", after={"by_version": locked.version})
    locked.status = FormStatus.PUBLISHED
    locked.published_at = timezone.now()
    locked.save(update_fields=["status", "published_at"])
    _audit_form(locked, actor, "form.published", after={"version": locked.version})
    return _sync_form(form, locked)


@transaction.atomic
def new_form_version(*, form: Form, actor: User) -> Form:
    """A draft copy of a published (or superseded) form, numbered after the family's
    latest version, to edit and publish in its place."""
    require_owner(form.review, actor, "edit extraction forms")
    # Lock the family's rows so two owners cannot both start version n+1.
    family = list(Form.objects.select_for_update().filter(family=form.family).order_by("version"))
    draft = next((f for f in family if f.status == FormStatus.DRAFT), None)
    if draft is not None:
        raise ReviewflowError(
            f"Version {draft.version} of this form is already a draft: edit that one.",
            code="conflict",
        )
    source = next(f for f in family if f.pk == form.pk)
    latest = max(f.version for f in family)
    new = Form(
        review=source.review,
        family=source.family,
        version=latest + 1,
        title=source.title,
        description=source.description,
        extractors_needed=source.extractors_needed,
        spec=source.spec,
        created_by=actor,
    )
    try:
        with transaction.atomic():
            new.save()
    except IntegrityError:
        raise ReviewflowError(
            "Someone else has just made a new version of this form.", code="conflict"
        ) from None
    _audit_form(new, actor, "form.version_created", after={"from_version": source.version})
    return new


@transaction.atomic
def delete_draft_form(*, form: Form, actor: User) -> None:
    """Delete a draft version (published versions are kept: extractions refer to them)."""
    require_owner(form.review, actor, "delete extraction forms")
    locked = _locked_form(form)
    if locked.status != FormStatus.DRAFT:
        raise ReviewflowError(
            f"Version {locked.version} of this form is {locked.status}: only drafts can be "
            "deleted.",
            code="conflict",
        )
    _audit_form(locked, actor, "form.draft_deleted", before={"spec": locked.spec})
    locked.delete()
