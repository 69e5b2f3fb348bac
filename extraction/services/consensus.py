"""The consensus of a study: opened, pre-filled with the values every extractor agreed on,
when the last extractor submits; then saved and finalised by an owner (the adjudicator).

Invariants the database keeps: one consensus per study and form version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from extraction.errors import ExtractionInvalid
from extraction.evidence import merged_evidence
from extraction.models import Consensus, ConsensusStatus, Extraction, ExtractionStatus, Form
from extraction.selectors import form_spec, require_owner, submitted_count
from extraction.services.evidence import checked_evidence
from extraction.services.forms import form_target
from extraction.spec import agreed_values, clean_values
from reviewflow.errors import ReviewflowError
from reviewflow.reviews.services import record_audit
from screening.models import Record


def _audit_consensus(consensus: Consensus, actor: User | None, action: str, **data: Any) -> None:
    record_audit(
        review=consensus.form.review,
        actor=actor,
        action=action,
        target=f"record {consensus.record_id}, {form_target(consensus.form)}",
        object_type="consensus",
        object_id=consensus.pk,
        **data,
    )


def _agreed(form: Form, submitted: list[Extraction]) -> dict[str, Any]:
    spec = form_spec(form)
    a = submitted[0].values
    b = submitted[1].values if len(submitted) > 1 else a
    return agreed_values(spec, a, b)


def open_consensus(form: Form, record: Record) -> Consensus:
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
    # The quotes beside the agreed values, from the first extractor (by slot) who gave one.
    evidence = merged_evidence(form_spec(form), values, [e.evidence for e in submitted])
    single = form.extractors_needed == 1
    consensus = Consensus.objects.filter(form=form, record=record).first()
    now = timezone.now()
    if consensus is None:
        consensus = Consensus.objects.create(
            form=form,
            record=record,
            values=values,
            evidence=evidence,
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
        consensus.evidence = evidence
        consensus.updated_at = now
        if single:
            consensus.status, consensus.finalised_at = ConsensusStatus.FINAL, now
        consensus.save(update_fields=["values", "evidence", "updated_at", "status", "finalised_at"])
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
        count = submitted_count(form, record.pk)
        if count < form.extractors_needed:
            raise ReviewflowError(
                "The consensus opens when every extractor of this study has submitted "
                f"({count} of {form.extractors_needed} so far).",
                code="conflict",
            )
        return open_consensus(form, record)


def save_consensus(
    *,
    form: Form,
    record: Record,
    actor: User,
    values: Mapping[str, Any],
    final: bool,
    evidence: Mapping[str, Any] | None = None,
) -> Consensus:
    """An owner (the adjudicator) saves the consensus; ``final`` also requires every
    required field and settles the study (``final=False`` on a final consensus reopens
    it). ``evidence`` (the chosen quote and page per value) replaces the saved one; ``None``
    keeps the saved quotes whose values are still there. Raises ``ExtractionInvalid``
    (nothing saved) naming each field at fault."""
    require_owner(form.review, actor, "settle the consensus")
    spec = form_spec(form)
    cleaned, errors = clean_values(spec, values, complete=final)
    if errors:
        raise ExtractionInvalid(errors)
    consensus_for(form=form, record=record)
    with transaction.atomic():
        locked = Consensus.objects.select_for_update().get(form=form, record=record)
        locked.form = form
        quotes = checked_evidence(
            spec=spec,
            values=cleaned,
            evidence=evidence,
            saved=locked.evidence,
            record_id=record.pk,
        )
        before = {"values": locked.values, "status": locked.status}
        evidence_before = locked.evidence
        now = timezone.now()
        locked.evidence = quotes
        locked.values = cleaned
        locked.updated_by = actor
        locked.updated_at = now
        if final:
            locked.status = ConsensusStatus.FINAL
            locked.finalised_at = locked.finalised_at or now
        else:
            locked.status, locked.finalised_at = ConsensusStatus.DRAFT, None
        locked.save(
            update_fields=[
                "values",
                "evidence",
                "updated_by",
                "updated_at",
                "status",
                "finalised_at",
            ]
        )
        if before["status"] != locked.status:
            action = "consensus.finalised" if final else "consensus.reopened"
        else:
            action = "consensus.saved"
        if before != {"values": locked.values, "status": locked.status} or (
            evidence_before != quotes
        ):
            _audit_consensus(
                locked,
                actor,
                action,
                before=before,
                after={"values": cleaned, "status": locked.status, "evidence": quotes},
            )
    return locked
