"""Extractions: an extractor's slot on a study (taken, or given by an owner), their drafts
and submission, reopening, and carrying values to a newer version of the form.

Invariants the database keeps: one extraction per extractor, study and form version; at
most ``extractors_needed`` extractions per study (slots, taken under a lock on the study's
record). The audit trail, which owners read, records which fields an extraction changed,
never their values.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from extraction.errors import ExtractionInvalid
from extraction.models import (
    Consensus,
    ConsensusStatus,
    Extraction,
    ExtractionStatus,
    Form,
    FormStatus,
)
from extraction.selectors import (
    can_extract,
    form_spec,
    included_studies,
    require_owner,
    submitted_count,
)
from extraction.services.consensus import open_consensus
from extraction.services.evidence import checked_evidence
from extraction.services.forms import form_target
from extraction.spec import carry_values, clean_values
from reviewflow.errors import ReviewflowError
from reviewflow.reviews.notifications import notify
from reviewflow.reviews.services import record_audit
from screening.models import Record


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


def _check_study(form: Form, record: Record) -> None:
    if record.review_id != form.review_id or not (
        included_studies(form.review).filter(pk=record.pk).exists()
    ):
        raise ReviewflowError(
            "This record is not an included study of this review.",
            field="record",
            code="not_found",
        )


def _extraction_target(extraction: Extraction) -> str:
    return f"record {extraction.record_id}, {form_target(extraction.form)}"


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


def assign_extractor(
    *, form: Form, record: Record, extractor: User, actor: User, due_date: date | None = None
) -> Extraction:
    """An owner gives a study to an extractor (who takes the next free slot), by
    ``due_date`` when given (#20: a draft with a due date is assigned work; assigning again
    sets the due date of the draft the extractor has)."""
    require_owner(form.review, actor, "assign extractors")
    _published(form)
    if not can_extract(form.review, extractor):
        raise ReviewflowError(
            f"{extractor.username} is not a reviewer or owner of this review.", field="extractor"
        )
    if due_date is not None and due_date < timezone.localdate():
        raise ReviewflowError("The due date is in the past.", field="due_date")
    _check_study(form, record)
    extraction = _take_slot(
        form=form, record=record, extractor=extractor, actor=actor, action="extraction.assigned"
    )
    if due_date is not None and extraction.status == ExtractionStatus.DRAFT:
        Extraction.objects.filter(pk=extraction.pk).update(due_date=due_date)
        extraction.due_date = due_date
    if extractor.pk != actor.pk and extraction.status == ExtractionStatus.DRAFT:
        due = f", due {due_date:%d %b %Y}" if due_date is not None else ""
        notify(
            user=extractor,
            review=form.review,
            kind="assignment",
            text=f"“{_short(record.title)}” assigned to you for extraction{due}.",
            url=reverse("extraction-page", args=[form.review.slug, form.pk, record.pk]),
        )
    return extraction


def _short(title: str, limit: int = 90) -> str:
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


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
    require_owner(extraction.form.review, actor, "change who extracts a study")
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
    for name in ("status", "values", "evidence", "updated_at", "submitted_at"):
        setattr(target, name, getattr(source, name))
    return target


def _evidence_keys(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The fields whose quote or page changed (for the audit trail, which names fields)."""
    return sorted({key.partition(".")[0] for key in _changed_keys(before, after)})


def save_draft(
    *,
    extraction: Extraction,
    actor: User,
    values: Mapping[str, Any],
    evidence: Mapping[str, Any] | None = None,
) -> Extraction:
    """Save the extractor's values as a draft (``values`` replaces what was saved), and
    their ``evidence`` (quote and page per value, replacing what was saved; ``None`` keeps
    the saved quotes whose values are still there).

    Raises ``ExtractionInvalid`` (nothing saved) when a value breaks the form's rules or a
    quote is wrong; required fields may still be empty.
    """
    _own(extraction, actor)
    spec = form_spec(extraction.form)
    cleaned, errors = clean_values(spec, values, complete=False)
    if errors:
        raise ExtractionInvalid(errors)
    with transaction.atomic():
        locked = _locked_extraction(extraction)
        _editable(locked)
        quotes = checked_evidence(
            spec=spec,
            values=cleaned,
            evidence=evidence,
            saved=locked.evidence,
            record_id=locked.record_id,
        )
        changed = sorted(
            set(_changed_keys(locked.values, cleaned))
            | set(_evidence_keys(locked.evidence, quotes))
        )
        locked.values = cleaned
        locked.evidence = quotes
        locked.updated_at = timezone.now()
        locked.save(update_fields=["values", "evidence", "updated_at"])
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
    *,
    extraction: Extraction,
    actor: User,
    values: Mapping[str, Any],
    evidence: Mapping[str, Any] | None = None,
) -> Extraction:
    """Submit the extractor's values: every required field filled, every value valid, and
    their ``evidence`` as ``save_draft`` takes it.

    Raises ``ExtractionInvalid`` (nothing saved, still a draft) naming each field at fault.
    The submission that completes a study opens its consensus, pre-filled with the values
    every extractor agreed on (with one extractor per study, it is the consensus).
    """
    _own(extraction, actor)
    spec = form_spec(extraction.form)
    cleaned, errors = clean_values(spec, values, complete=True)
    if errors:
        raise ExtractionInvalid(errors)
    with transaction.atomic():
        # The study's row first, as everywhere else, so the last submission sees the others.
        Record.objects.select_for_update().filter(pk=extraction.record_id).first()
        locked = _locked_extraction(extraction)
        _editable(locked)
        quotes = checked_evidence(
            spec=spec,
            values=cleaned,
            evidence=evidence,
            saved=locked.evidence,
            record_id=locked.record_id,
        )
        changed = sorted(
            set(_changed_keys(locked.values, cleaned))
            | set(_evidence_keys(locked.evidence, quotes))
        )
        now = timezone.now()
        locked.values = cleaned
        locked.evidence = quotes
        locked.status = ExtractionStatus.SUBMITTED
        locked.updated_at = locked.submitted_at = now
        locked.save(update_fields=["values", "evidence", "status", "updated_at", "submitted_at"])
        _audit_extraction(locked, actor, "extraction.submitted", after={"fields": changed})
        form = locked.form
        if submitted_count(form, extraction.record_id) >= form.extractors_needed:
            open_consensus(form, locked.record)
    return _copy_back(extraction, locked)


@transaction.atomic
def reopen_extraction(*, extraction: Extraction, actor: User) -> Extraction:
    """Make a submitted extraction a draft again (by its extractor or an owner), while the
    study's consensus is not final."""
    if extraction.extractor_id != actor.pk:
        require_owner(extraction.form.review, actor, "reopen another person's extraction")
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
