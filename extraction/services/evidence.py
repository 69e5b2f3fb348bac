"""The evidence a person sends with values (a quote and page per value), checked against
the study's PDF; shared by extractions and the consensus (see ``extraction.evidence``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extraction.errors import ExtractionInvalid
from extraction.evidence import clean_evidence, kept_evidence
from extraction.spec import FormSpec
from screening.models import FullTextReport


def pdf_page_count(record_id: int) -> int | None:
    """The page count of the study's PDF (``None`` without one): evidence pages stay in it."""
    report = FullTextReport.objects.filter(record_id=record_id).only("page_count").first()
    return report.page_count if report is not None else None


def checked_evidence(
    *,
    spec: FormSpec,
    values: dict[str, Any],
    evidence: Mapping[str, Any] | None,
    saved: Mapping[str, Any],
    record_id: int,
) -> dict[str, dict[str, Any]]:
    """``evidence`` checked against the cleaned ``values`` (``ExtractionInvalid`` naming each
    entry at fault); with ``evidence=None`` the saved entries that still have their value."""
    if evidence is None:
        return kept_evidence(spec, values, saved)
    cleaned, errors = clean_evidence(spec, values, evidence, page_count=pdf_page_count(record_id))
    if errors:
        raise ExtractionInvalid(errors)
    return cleaned
