"""The full-text viewer (``{% pdf_viewer url include_terms exclude_terms %}``): pdf.js from
our static files, with the stage's highlight terms handed to its script as JSON."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


def _terms(text: str) -> list[str]:
    # One term per line, as StageSettings keeps them and screening/highlight.py reads them.
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


@register.inclusion_tag("_pdf_viewer.html")
def pdf_viewer(
    pdf_url: str,
    include_terms: str = "",
    exclude_terms: str = "",
    evidence_form: str = "",
    *,
    source: str = "",
    source_url: str = "",
    licence: str = "",
    version: str = "",
) -> dict[str, Any]:
    """``evidence_form``: the id of the extraction form whose fields text selected in the
    PDF fills (with its quote and page); empty on the screening page. ``source_url``: the
    address of the open-access copy the PDF was downloaded from, shown under the bar with
    its ``source``, ``licence`` and ``version`` (in words, as the caller words them)."""
    return {
        "pdf_url": pdf_url,
        "terms": {"include": _terms(include_terms), "exclude": _terms(exclude_terms)},
        "evidence_form": evidence_form,
        "source": {"name": source, "url": source_url, "licence": licence, "version": version},
    }
