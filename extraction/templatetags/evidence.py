"""Evidence (quote and page) beside extracted values: ``{% evidence_item evidence key %}``
for a field, ``{% evidence_item evidence key row column %}`` for a table cell (row 1-based,
as ``extraction.evidence`` keys them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template

register = template.Library()


@register.simple_tag
def evidence_item(
    evidence: Any, key: str, row: int | None = None, column: str | None = None
) -> Mapping[str, Any] | None:
    """The ``{"quote", "page"}`` saved (or typed) for a field or cell, else ``None``."""
    if not isinstance(evidence, Mapping):
        return None
    item = evidence.get(key if row is None else f"{key}.{row}.{column}")
    return item if isinstance(item, Mapping) and item.get("quote") else None


@register.simple_tag
def table_quotes(
    extractions: Any, key: str, column_labels: Mapping[str, Mapping[str, str]]
) -> list[dict[str, Any]]:
    """Every extractor's quotes in the cells of table ``key``, by row then column: what the
    comparison lists under the table (``target`` is the consensus form's cell input)."""
    labels = column_labels.get(key, {}) if isinstance(column_labels, Mapping) else {}
    out = []
    for extraction in extractions or ():
        for evidence_key, item in (extraction.evidence or {}).items():
            name, _, rest = evidence_key.partition(".")
            row, _, column = rest.partition(".")
            if name != key or not row.isdigit() or not isinstance(item, Mapping):
                continue
            out.append(
                {
                    "extractor": extraction.extractor.get_username(),
                    "row": int(row),
                    "column": labels.get(column, column),
                    "quote": item.get("quote", ""),
                    "page": item.get("page"),
                    "target": f"f-{key}-{int(row) - 1}-{column}",
                }
            )
    return sorted(out, key=lambda q: (q["row"], q["column"], q["extractor"]))
