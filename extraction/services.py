"""Extraction: forms and their versions, extractors and their slots, drafts and submissions,
the comparison of two extractions, and the consensus.

Invariants the database keeps: one version number per form family, at most one draft and
one published version per family; one extraction per extractor, study and form version; at
most ``extractors_needed`` extractions per study (slots, taken under a lock on the study's
record); one consensus per study and form version.

Blinding: an extractor never sees another extractor's values (nor their status beyond "n of
m submitted") before they themselves and every other extractor of that study have
submitted. Owners adjudicate: they see every value once all extractors of a study have
submitted, and only statuses before. Viewers see the consensus only. The audit trail,
which owners read, records which fields an extraction changed, never their values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from extraction.form_templates import TEMPLATES
from extraction.models import (
    Consensus,
    ConsensusStatus,
    Extraction,
    ExtractionStatus,
    Form,
    FormStatus,
)
from extraction.spec import (
    FieldComparison,
    FieldError,
    FormSpec,
    agreed_values,
    carry_values,
    check_form_spec,
    clean_values,
    compare_values,
)
from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Membership, Review, Role
from reviewflow.reviews.services import record_audit
from screening.models import Record
from screening.selectors.identification import included_at_full_text

EXTRACTOR_ROLES = (Role.OWNER, Role.REVIEWER)


class ExtractionInvalid(ReviewflowError):
    """Values that break the form's rules; ``errors`` names every field, row and column."""

    def __init__(self, errors: list[FieldError]):
        first = str(errors[0])
        more = len(errors) - 1
        message = first if not more else f"{first} (and {more} more)"
        super().__init__(message, field=errors[0].field)
        self.errors = errors


# ------------------------------------------------------------------------------ roles


def _role(review: Review, user: User | None) -> str | None:
    if user is None or not user.is_authenticated:
        return None
    return (
        Membership.objects.filter(review=review, user=user).values_list("role", flat=True).first()
    )


def is_owner(review: Review, user: User | None) -> bool:
    return _role(review, user) == Role.OWNER


def can_extract(review: Review, user: User | None) -> bool:
    """Extractors are members with the reviewer or owner role."""
    return _role(review, user) in EXTRACTOR_ROLES


def _require_owner(review: Review, user: User, what: str) -> None:
    if not is_owner(review, user):
        raise ReviewflowError(f"Only owners of this review can {what}.", code="forbidden")


def extractor_candidates(review: Review) -> QuerySet[User]:
    """The members who can extract: reviewers and owners, by username."""
    return User.objects.filter(
        memberships__review=review, memberships__role__in=EXTRACTOR_ROLES
    ).order_by("username")


# ------------------------------------------------------------------------------ forms


def form_spec(form: Form) -> FormSpec:
    """The form's definition (parsed once per instance)."""
    cached = form.__dict__.get("_parsed_spec")
    if cached is None or form.__dict__.get("_parsed_from") is not form.spec:
        cached = FormSpec.from_dict(form.spec)
        form.__dict__["_parsed_spec"] = cached
        form.__dict__["_parsed_from"] = form.spec
    return cached


def _checked_spec(spec: FormSpec | Mapping[str, Any]) -> FormSpec:
    parsed = spec if isinstance(spec, FormSpec) else FormSpec.from_dict(spec)
    check_form_spec(parsed)
    return parsed


def _form_target(form: Form) -> str:
    return f"{form.title} (version {form.version})"


def _audit_form(form: Form, actor: User | None, action: str, **data: Any) -> None:
    record_audit(
        review=form.review,
        actor=actor,
        action=action,
        target=_form_target(form),
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
    _require_owner(review, actor, "build extraction forms")
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
    _require_owner(form.review, actor, "edit extraction forms")
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
    _require_owner(form.review, actor, "publish extraction forms")
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
    _require_owner(form.review, actor, "edit extraction forms")
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
    _require_owner(form.review, actor, "delete extraction forms")
    locked = _locked_form(form)
    if locked.status != FormStatus.DRAFT:
        raise ReviewflowError(
            f"Version {locked.version} of this form is {locked.status}: only drafts can be "
            "deleted.",
            code="conflict",
        )
    _audit_form(locked, actor, "form.draft_deleted", before={"spec": locked.spec})
    locked.delete()


def _published(form: Form) -> None:
    if form.status == FormStatus.DRAFT:
        raise ReviewflowError("This form is not published yet.", field="form", code="conflict")
    if form.status == FormStatus.SUPERSEDED:
        raise ReviewflowError(
            f"Version {form.version} of this form has been replaced by a newer version: "
            "carry the extraction to it to go on.",
            field="form",
            code="conflict",
        )


# ------------------------------------------------------------------------------ studies


def included_studies(review: Review) -> QuerySet[Record]:
    """The studies to extract: records included at full text, one per study. A report
    linked as "same study as" another belongs to that study's record (followed to the end
    of the chain, as PRISMA counts studies)."""
    _, roots = included_at_full_text(review)
    return Record.objects.filter(review=review, pk__in=roots).order_by("pk")


def _check_study(form: Form, record: Record) -> None:
    if record.review_id != form.review_id or not (
        included_studies(form.review).filter(pk=record.pk).exists()
    ):
        raise ReviewflowError(
            "This record is not an included study of this review.",
            field="record",
            code="not_found",
        )


# ------------------------------------------------------------------------------ extractions


def _extraction_target(extraction: Extraction) -> str:
    return f"record {extraction.record_id}, {_form_target(extraction.form)}"


def _audit_extraction(extraction: Extraction, actor: User | None, action: str, **data: Any) -> None:
    record_audit(
        review=extraction.form.review,
        actor=actor,
        action=action,
        target=_extraction_target(extraction),
        object_type="extraction",
        object_id=extraction.pk,
        **data,
    )


def _take_slot(
    *,
    form: Form,
    record: Record,
    extractor: User,
    actor: User,
    action: str,
    values: dict[str, Any] | None = None,
    carried_from: Extraction | None = None,
    existing_ok: bool = True,
) -> Extraction:
    """The extractor's extraction of this study, taking a free slot if they have none."""
    with transaction.atomic():
        # Serialise the slots of one study (the unique constraint stays the hard guarantee).
        Record.objects.select_for_update().filter(pk=record.pk).first()
        mine = Extraction.objects.filter(form=form, record=record, extractor=extractor).first()
        if mine is not None:
            if existing_ok:
                return mine
            raise ReviewflowError(
                f"{extractor.username} already has an extraction of this study with version "
                f"{form.version} of the form.",
                code="conflict",
            )
        taken = set(
            Extraction.objects.filter(form=form, record=record).values_list("slot", flat=True)
        )
        free = sorted(set(range(1, form.extractors_needed + 1)) - taken)
        if not free:
            raise ReviewflowError(_full_message(form), code="conflict")
        try:
            with transaction.atomic():
                extraction = Extraction.objects.create(
                    form=form,
                    record=record,
                    extractor=extractor,
                    slot=free[0],
                    values=values or {},
                    carried_from=carried_from,
                )
        except IntegrityError:
            raise ReviewflowError(_full_message(form), code="conflict") from None
        extraction.form = form
        after: dict[str, Any] = {"extractor": extractor.username, "slot": extraction.slot}
        if carried_from is not None:
            after["from_version"] = carried_from.form.version
            after["fields"] = sorted(extraction.values)
        _audit_extraction(extraction, actor, action, after=after)
    return extraction


def _full_message(form: Form) -> str:
    n = form.extractors_needed
    return f"This study already has its {n} extractor{'s' if n > 1 else ''}."


def assign_extractor(*, form: Form, record: Record, extractor: User, actor: User) -> Extraction:
    """An owner gives a study to an extractor (who takes the next free slot)."""
    _require_owner(form.review, actor, "assign extractors")
    _published(form)
    if not can_extract(form.review, extractor):
        raise ReviewflowError(
            f"{extractor.username} is not a reviewer or owner of this review.", field="extractor"
        )
    _check_study(form, record)
    return _take_slot(
        form=form, record=record, extractor=extractor, actor=actor, action="extraction.assigned"
    )


def start_extraction(*, form: Form, record: Record, extractor: User) -> Extraction:
    """The caller's extraction of a study: theirs if they have one, else a free slot."""
    if not can_extract(form.review, extractor):
        raise ReviewflowError(
            "Only reviewers and owners of this review extract data.", code="forbidden"
        )
    mine = Extraction.objects.filter(form=form, record=record, extractor=extractor).first()
    if mine is not None:
        return mine
    _published(form)
    _check_study(form, record)
    return _take_slot(
        form=form, record=record, extractor=extractor, actor=extractor, action="extraction.started"
    )


@transaction.atomic
def unassign_extractor(*, extraction: Extraction, actor: User) -> None:
    """An owner frees a slot whose extraction has not been submitted."""
    _require_owner(extraction.form.review, actor, "change who extracts a study")
    locked = Extraction.objects.select_for_update().get(pk=extraction.pk)
    if locked.status != ExtractionStatus.DRAFT:
        raise ReviewflowError(
            "This extraction has been submitted and cannot be taken away.", code="conflict"
        )
    locked.form = extraction.form
    _audit_extraction(
        locked,
        actor,
        "extraction.unassigned",
        before={"extractor": extraction.extractor.username, "slot": locked.slot},
    )
    locked.delete()


def _own(extraction: Extraction, actor: User) -> None:
    if extraction.extractor_id != actor.pk:
        raise ReviewflowError("This is not your extraction.", code="forbidden")


def _locked_extraction(extraction: Extraction) -> Extraction:
    locked = (
        Extraction.objects.select_for_update(of=("self",))
        .select_related("form", "form__review")
        .get(pk=extraction.pk)
    )
    return locked


def _changed_keys(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def _copy_back(target: Extraction, source: Extraction) -> Extraction:
    """Refresh the caller's instance from the saved row (callers keep using theirs)."""
    for name in ("status", "values", "updated_at", "submitted_at"):
        setattr(target, name, getattr(source, name))
    return target


def save_draft(*, extraction: Extraction, actor: User, values: Mapping[str, Any]) -> Extraction:
    """Save the extractor's values as a draft (``values`` replaces what was saved).

    Raises ``ExtractionInvalid`` (nothing saved) when a value breaks the form's rules;
    required fields may still be empty.
    """
    _own(extraction, actor)
    cleaned, errors = clean_values(form_spec(extraction.form), values, complete=False)
    if errors:
        raise ExtractionInvalid(errors)
    with transaction.atomic():
        locked = _locked_extraction(extraction)
        _editable(locked)
        changed = _changed_keys(locked.values, cleaned)
        locked.values = cleaned
        locked.updated_at = timezone.now()
        locked.save(update_fields=["values", "updated_at"])
        if changed:
            _audit_extraction(locked, actor, "extraction.saved", after={"fields": changed})
    return _copy_back(extraction, locked)


def _editable(extraction: Extraction) -> None:
    if extraction.status == ExtractionStatus.SUBMITTED:
        raise ReviewflowError(
            "This extraction has been submitted: reopen it to change it.", code="conflict"
        )
    _published(extraction.form)


def submit_extraction(
    *, extraction: Extraction, actor: User, values: Mapping[str, Any]
) -> Extraction:
    """Submit the extractor's values: every required field filled, every value valid.

    Raises ``ExtractionInvalid`` (nothing saved, still a draft) naming each field at fault.
    The submission that completes a study opens its consensus, pre-filled with the values
    every extractor agreed on (with one extractor per study, it is the consensus).
    """
    _own(extraction, actor)
    cleaned, errors = clean_values(form_spec(extraction.form), values, complete=True)
    if errors:
        raise ExtractionInvalid(errors)
    with transaction.atomic():
        # The study's row first, as everywhere else, so the last submission sees the others.
        Record.objects.select_for_update().filter(pk=extraction.record_id).first()
        locked = _locked_extraction(extraction)
        _editable(locked)
        changed = _changed_keys(locked.values, cleaned)
        now = timezone.now()
        locked.values = cleaned
        locked.status = ExtractionStatus.SUBMITTED
        locked.updated_at = locked.submitted_at = now
        locked.save(update_fields=["values", "status", "updated_at", "submitted_at"])
        _audit_extraction(locked, actor, "extraction.submitted", after={"fields": changed})
        form = locked.form
        if _submitted_count(form, extraction.record_id) >= form.extractors_needed:
            _open_consensus(form, locked.record)
    return _copy_back(extraction, locked)


def _submitted_count(form: Form, record_id: int) -> int:
    return Extraction.objects.filter(
        form=form, record_id=record_id, status=ExtractionStatus.SUBMITTED
    ).count()


@transaction.atomic
def reopen_extraction(*, extraction: Extraction, actor: User) -> Extraction:
    """Make a submitted extraction a draft again (by its extractor or an owner), while the
    study's consensus is not final."""
    if extraction.extractor_id != actor.pk:
        _require_owner(extraction.form.review, actor, "reopen another person's extraction")
    Record.objects.select_for_update().filter(pk=extraction.record_id).first()
    locked = _locked_extraction(extraction)
    if locked.status != ExtractionStatus.SUBMITTED:
        raise ReviewflowError("This extraction is not submitted.", code="conflict")
    _published(locked.form)
    if Consensus.objects.filter(
        form=locked.form, record_id=locked.record_id, status=ConsensusStatus.FINAL
    ).exists():
        raise ReviewflowError(
            "The consensus of this study is final: an owner must reopen it first.",
            code="conflict",
        )
    locked.status = ExtractionStatus.DRAFT
    locked.submitted_at = None
    locked.updated_at = timezone.now()
    locked.save(update_fields=["status", "submitted_at", "updated_at"])
    _audit_extraction(locked, actor, "extraction.reopened")
    return _copy_back(extraction, locked)


def _check_carry(extraction: Extraction, to_form: Form) -> None:
    if to_form.family != extraction.form.family or to_form.version <= extraction.form.version:
        raise ReviewflowError(
            "An extraction can only be carried to a newer version of its form.", field="form"
        )
    _published(to_form)


def carry_preview(*, extraction: Extraction, to_form: Form) -> tuple[list[str], list[str]]:
    """What carrying would keep (field keys) and leave behind (a reason each)."""
    _check_carry(extraction, to_form)
    _, carried, dropped = carry_values(
        form_spec(extraction.form), form_spec(to_form), extraction.values
    )
    return carried, dropped


def carry_extraction(*, extraction: Extraction, to_form: Form, actor: User) -> Extraction:
    """A draft extraction of the same study with a newer version of the form, holding the
    values that are still valid there (see ``spec.carry_values``); the old one stays."""
    _own(extraction, actor)
    _check_carry(extraction, to_form)
    values, _, _ = carry_values(form_spec(extraction.form), form_spec(to_form), extraction.values)
    return _take_slot(
        form=to_form,
        record=extraction.record,
        extractor=actor,
        actor=actor,
        action="extraction.carried",
        values=values,
        carried_from=extraction,
        existing_ok=False,
    )


# ------------------------------------------------------------------------------ blinding


@dataclass(frozen=True)
class StudyStatus:
    """What anyone in the review may know of a study's extraction: counts only."""

    needed: int
    assigned: int
    submitted: int
    consensus: str = ""  # "", "draft" or "final"

    @property
    def complete(self) -> bool:
        return self.submitted >= self.needed

    @property
    def label(self) -> str:
        if self.consensus == ConsensusStatus.FINAL:
            return "Consensus final"
        if self.consensus == ConsensusStatus.DRAFT:
            return "Consensus in progress"
        return f"{self.submitted} of {self.needed} submitted"


def study_status(form: Form, record: Record) -> StudyStatus:
    return study_statuses(form, [record.pk])[record.pk]


def study_statuses(form: Form, record_ids: Iterable[int] | None = None) -> dict[int, StudyStatus]:
    """``study_status`` of many studies in two queries (every included study by default)."""
    ids = (
        list(record_ids)
        if record_ids is not None
        else list(included_studies(form.review).values_list("pk", flat=True))
    )
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for record_id, status, n in (
        Extraction.objects.filter(form=form, record_id__in=ids)
        .values("record_id", "status")
        .annotate(n=Count("id"))
        .values_list("record_id", "status", "n")
    ):
        counts[record_id][0] += n
        if status == ExtractionStatus.SUBMITTED:
            counts[record_id][1] += n
    consensus = dict(
        Consensus.objects.filter(form=form, record_id__in=ids).values_list("record_id", "status")
    )
    return {
        rid: StudyStatus(
            needed=form.extractors_needed,
            assigned=counts[rid][0],
            submitted=counts[rid][1],
            consensus=consensus.get(rid, ""),
        )
        for rid in ids
    }


def _values_visible(
    *, form: Form, user: User, extractions: list[Extraction], owner: bool | None = None
) -> bool:
    """May ``user`` see every extractor's values of one study (``extractions``)?"""
    submitted = [e for e in extractions if e.status == ExtractionStatus.SUBMITTED]
    if len(submitted) < form.extractors_needed:
        return False
    if owner is None:
        owner = is_owner(form.review, user)
    return owner or any(e.extractor_id == user.pk for e in submitted)


def visible_extractions(*, form: Form, record: Record, user: User) -> list[Extraction]:
    """The extractions of one study whose values ``user`` may see: their own, and the
    others' once every extractor has submitted (to owners and to those extractors)."""
    extractions = list(
        Extraction.objects.filter(form=form, record=record)
        .select_related("extractor")
        .order_by("slot")
    )
    if _values_visible(form=form, user=user, extractions=extractions):
        return extractions
    return [e for e in extractions if e.extractor_id == user.pk]


def annotate_visibility(
    qs: QuerySet[Extraction], user: User, *, owner: bool, visible_only: bool = False
) -> QuerySet[Extraction]:
    """Extractions ``user`` may list, each with ``values_visible`` (may they see its values).

    Owners list every extraction (statuses), with values only on complete studies; others
    list their own, and the others of studies they extracted once all have submitted.
    ``visible_only`` keeps only the extractions whose values ``user`` may see.
    """
    submitted = (
        Extraction.objects.filter(
            form=OuterRef("form"), record=OuterRef("record"), status=ExtractionStatus.SUBMITTED
        )
        .order_by()
        .values("form")
        .annotate(n=Count("id"))
        .values("n")
    )
    mine_submitted = Extraction.objects.filter(
        form=OuterRef("form"),
        record=OuterRef("record"),
        extractor=user,
        status=ExtractionStatus.SUBMITTED,
    )
    qs = qs.annotate(n_submitted=Coalesce(Subquery(submitted), Value(0)))
    complete = Q(n_submitted__gte=F("form__extractors_needed"))
    if owner:
        visible = Q(extractor=user) | complete
    else:
        qs = qs.annotate(mine_submitted=Exists(mine_submitted))
        visible = Q(extractor=user) | (complete & Q(mine_submitted=True))
        qs = qs.filter(visible)
    if visible_only:
        qs = qs.filter(visible)
    return qs.annotate(values_visible=ExpressionWrapper(visible, output_field=BooleanField()))


def consensus_visible_to(user: User, qs: QuerySet[Consensus]) -> QuerySet[Consensus]:
    """Blinding: the consensus of a study holds the values its extractors agreed on, so it
    is hidden from anyone with an unsubmitted extraction of that study (a slot freed after
    the consensus opened, and taken again) until they submit."""
    drafting = Extraction.objects.filter(
        form=OuterRef("form"),
        record=OuterRef("record"),
        extractor=user,
        status=ExtractionStatus.DRAFT,
    )
    return qs.filter(~Exists(drafting))


def comparison_for(*, form: Form, record: Record, user: User) -> list[FieldComparison]:
    """The extractions of one study compared field by field (tables row by row), in slot
    order, once every extractor has submitted; for owners and the study's extractors."""
    extractions = list(Extraction.objects.filter(form=form, record=record).order_by("slot"))
    if not _values_visible(form=form, user=user, extractions=extractions):
        status = study_status(form, record)
        raise ReviewflowError(
            "The comparison opens when every extractor of this study has submitted "
            f"({status.submitted} of {status.needed} so far), to owners and the study's "
            "extractors.",
            code="forbidden",
        )
    spec = form_spec(form)
    a = extractions[0].values
    b = extractions[1].values if len(extractions) > 1 else a
    return compare_values(spec, a, b)


# ------------------------------------------------------------------------------ consensus


def _audit_consensus(consensus: Consensus, actor: User | None, action: str, **data: Any) -> None:
    record_audit(
        review=consensus.form.review,
        actor=actor,
        action=action,
        target=f"record {consensus.record_id}, {_form_target(consensus.form)}",
        object_type="consensus",
        object_id=consensus.pk,
        **data,
    )


def _agreed(form: Form, submitted: list[Extraction]) -> dict[str, Any]:
    spec = form_spec(form)
    a = submitted[0].values
    b = submitted[1].values if len(submitted) > 1 else a
    return agreed_values(spec, a, b)


def _open_consensus(form: Form, record: Record) -> Consensus:
    """Create or refresh the consensus of a complete study (caller holds the study lock).

    A consensus no person has edited yet follows the extractions (a reopened and
    resubmitted extraction refreshes it); with one extractor per study it is final at once.
    """
    submitted = list(
        Extraction.objects.filter(
            form=form, record=record, status=ExtractionStatus.SUBMITTED
        ).order_by("slot")
    )
    values = _agreed(form, submitted)
    single = form.extractors_needed == 1
    consensus = Consensus.objects.filter(form=form, record=record).first()
    now = timezone.now()
    if consensus is None:
        consensus = Consensus.objects.create(
            form=form,
            record=record,
            values=values,
            status=ConsensusStatus.FINAL if single else ConsensusStatus.DRAFT,
            finalised_at=now if single else None,
        )
        consensus.form = form
        _audit_consensus(
            consensus,
            None,
            "consensus.finalised" if single else "consensus.opened",
            after={"values": values, "status": consensus.status},
        )
        return consensus
    if consensus.status == ConsensusStatus.DRAFT and (single or consensus.updated_by_id is None):
        before = {"values": consensus.values, "status": consensus.status}
        consensus.values = values
        consensus.updated_at = now
        if single:
            consensus.status, consensus.finalised_at = ConsensusStatus.FINAL, now
        consensus.save(update_fields=["values", "updated_at", "status", "finalised_at"])
        consensus.form = form
        _audit_consensus(
            consensus,
            None,
            "consensus.refreshed",
            before=before,
            after={"values": values, "status": consensus.status},
        )
    return consensus


def consensus_for(*, form: Form, record: Record) -> Consensus:
    """The study's consensus, created pre-filled with the agreed values if it does not exist
    yet; only once every extractor of the study has submitted."""
    existing = Consensus.objects.filter(form=form, record=record).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        Record.objects.select_for_update().filter(pk=record.pk).first()
        count = _submitted_count(form, record.pk)
        if count < form.extractors_needed:
            raise ReviewflowError(
                "The consensus opens when every extractor of this study has submitted "
                f"({count} of {form.extractors_needed} so far).",
                code="conflict",
            )
        return _open_consensus(form, record)


def save_consensus(
    *, form: Form, record: Record, actor: User, values: Mapping[str, Any], final: bool
) -> Consensus:
    """An owner (the adjudicator) saves the consensus; ``final`` also requires every
    required field and settles the study (``final=False`` on a final consensus reopens
    it). Raises ``ExtractionInvalid`` (nothing saved) naming each field at fault."""
    _require_owner(form.review, actor, "settle the consensus")
    cleaned, errors = clean_values(form_spec(form), values, complete=final)
    if errors:
        raise ExtractionInvalid(errors)
    consensus_for(form=form, record=record)
    with transaction.atomic():
        locked = Consensus.objects.select_for_update().get(form=form, record=record)
        locked.form = form
        before = {"values": locked.values, "status": locked.status}
        now = timezone.now()
        locked.values = cleaned
        locked.updated_by = actor
        locked.updated_at = now
        if final:
            locked.status = ConsensusStatus.FINAL
            locked.finalised_at = locked.finalised_at or now
        else:
            locked.status, locked.finalised_at = ConsensusStatus.DRAFT, None
        locked.save(update_fields=["values", "updated_by", "updated_at", "status", "finalised_at"])
        if before["status"] != locked.status:
            action = "consensus.finalised" if final else "consensus.reopened"
        else:
            action = "consensus.saved"
        if before != {"values": locked.values, "status": locked.status}:
            _audit_consensus(
                locked,
                actor,
                action,
                before=before,
                after={"values": cleaned, "status": locked.status},
            )
    return locked


def latest_forms(review: Review) -> QuerySet[Form]:
    """Each form family's newest version (for lists of forms)."""
    newest = (
        Form.objects.filter(family=OuterRef("family"))
        .order_by()
        .values("family")
        .annotate(v=Max("version"))
        .values("v")
    )
    return (
        Form.objects.filter(review=review)
        .annotate(newest=Subquery(newest))
        .filter(version=F("newest"))
        .order_by("title", "pk")
    )
