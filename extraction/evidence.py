"""Evidence: where in the full text each extracted value was read (a quote and its page).

An extraction's (or a consensus's) ``evidence`` is ``{key: {"quote": str, "page": int}}``.
A key is a field's key, or for one cell of a table ``"<field>.<row>.<column>"`` with the
1-based row number as the saved rows count them (``"arms.2.n"``), the way error messages
and exports count rows. Judgements, choices and yes/no fields may carry a quote too.

Pure functions (no ORM): :func:`clean_evidence` checks what a person sent and names each
entry at fault; :func:`kept_evidence` keeps, without a word, the saved entries that still
stand beside a value (after values change, or for a consensus pre-filled from the
extractions); :func:`evidence_from_post` reads the hidden inputs of the HTML forms.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from extraction.spec import FieldError, FieldSpec, FormSpec

QUOTE_MAX = 2000
PAGE_MAX = 100_000  # without a PDF to count them: no report is longer
# Hidden inputs beside each input of the HTML forms: ``ev-quote-<input name>`` and
# ``ev-page-<input name>``, the input being ``f-<key>`` or ``f-<key>-<index>-<column>``.
QUOTE_INPUT = "ev-quote-"
PAGE_INPUT = "ev-page-"
_SPACES = re.compile(r"\s+")
_CELL_INPUT = re.compile(r"^f-(?P<key>[a-z0-9_]+)-(?P<index>\d+)-(?P<column>[a-z0-9_]+)$")


def normalise_quote(text: str) -> str:
    """A quote on one line: text selected in a PDF breaks where the page's lines break."""
    return _SPACES.sub(" ", text).strip()


def _error(spec_field: FieldSpec | None, key: str, message: str, **cell: Any) -> FieldError:
    if spec_field is None:
        return FieldError(key, key, message)
    return FieldError(spec_field.key, spec_field.label, f"evidence: {message}", **cell)


def _locate(
    spec: FormSpec, key: str, values: Mapping[str, Any]
) -> tuple[FieldSpec | None, dict[str, Any], str | None]:
    """The field an evidence key names, the cell arguments of its errors, and what is wrong
    with the key (``None`` when it names a value that is there)."""
    name, _, rest = key.partition(".")
    spec_field = spec.field(name)
    if spec_field is None:
        return None, {}, "is not a field of this form"
    value = values.get(name)
    if spec_field.kind != "table":
        if rest:
            return spec_field, {}, f"“{key}”: only a table's cells have a row and a column"
        if value is None or value == "" or value == []:
            return spec_field, {}, "a quote needs a value beside it"
        return spec_field, {}, None
    row_text, _, column_key = rest.partition(".")
    if not row_text.isdigit() or not column_key:
        return spec_field, {}, f"“{key}”: name a cell as {name}.<row>.<column>"
    row = int(row_text)
    column = next((c for c in spec_field.columns if c.key == column_key), None)
    if column is None:
        return spec_field, {"row": row}, f"“{column_key}” is not a column of this table"
    cell = {"row": row, "column": column.key, "column_label": column.label}
    rows = value if isinstance(value, list) else []
    if not 1 <= row <= len(rows):
        return spec_field, cell, f"row {row} is not a row of this table"
    filled = rows[row - 1].get(column.key) if isinstance(rows[row - 1], Mapping) else None
    if filled is None or filled == "" or filled == []:
        return spec_field, cell, "a quote needs a value beside it"
    return spec_field, cell, None


def _page(raw: Any, page_count: int | None) -> tuple[int | None, str | None]:
    if isinstance(raw, bool) or raw is None or raw == "":
        return None, "give the page the quote is on"
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw.strip())
    if not isinstance(raw, int):
        return None, f"the page must be a whole number, not “{raw}”"
    if raw < 1:
        return None, "the page must be 1 or more"
    if raw > PAGE_MAX:
        return None, f"the page must be {PAGE_MAX:,} or less"
    if page_count and raw > page_count:
        pages = f"{page_count} page{'s' if page_count != 1 else ''}"
        return None, f"page {raw} is beyond the end of the PDF ({pages})"
    return raw, None


def clean_evidence(
    spec: FormSpec, values: Mapping[str, Any], evidence: Any, *, page_count: int | None
) -> tuple[dict[str, dict[str, Any]], list[FieldError]]:
    """Check the evidence a person sent for ``values`` (cleaned); return ``(evidence,
    errors)``. ``page_count`` is the study's PDF's (``None``: no PDF, any page from 1).

    Each entry names a field of the form (or a cell of a table) that has a value, a quote of
    1 to ``QUOTE_MAX`` characters (spaces and line breaks collapse to one space) and a page
    within the PDF. A ``null`` entry, or one with an empty quote, is no evidence.
    """
    if evidence is None:
        return {}, []
    if not isinstance(evidence, Mapping):
        return {}, [FieldError("evidence", "evidence", "must be an object keyed by field")]
    cleaned: dict[str, dict[str, Any]] = {}
    errors: list[FieldError] = []
    for key, item in evidence.items():
        if item is None:
            continue
        spec_field, cell, problem = _locate(spec, str(key), values)
        if not isinstance(item, Mapping):
            problem = problem or "give an object with a quote and a page"
        if problem is not None:
            errors.append(_error(spec_field, str(key), problem, **cell))
            continue
        quote = item.get("quote")
        if quote is not None and not isinstance(quote, str):
            errors.append(_error(spec_field, str(key), "the quote must be text", **cell))
            continue
        quote = normalise_quote(quote or "")
        if not quote:
            continue
        if len(quote) > QUOTE_MAX:
            message = f"the quote is {len(quote):,} characters long; at most {QUOTE_MAX:,}"
            errors.append(_error(spec_field, str(key), message, **cell))
            continue
        page, problem = _page(item.get("page"), page_count)
        if problem is not None:
            errors.append(_error(spec_field, str(key), problem, **cell))
            continue
        cleaned[str(key)] = {"quote": quote, "page": page}
    order = {f.key: i for i, f in enumerate(spec.fields())}
    errors.sort(key=lambda e: (order.get(e.field, -1), e.row or 0))
    return dict(sorted(cleaned.items(), key=lambda kv: _key_order(kv[0], order))), errors


def _key_order(key: str, order: Mapping[str, int]) -> tuple[int, int, str]:
    name, _, rest = key.partition(".")
    row, _, column = rest.partition(".")
    return order.get(name, -1), int(row) if row.isdigit() else 0, column


def kept_evidence(
    spec: FormSpec, values: Mapping[str, Any], evidence: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """The saved entries that still stand: a valid key beside a value, a quote and a page
    (no PDF limit: they were checked when saved)."""
    cleaned, _ = clean_evidence(
        spec,
        values,
        {k: v for k, v in evidence.items() if _locate(spec, str(k), values)[2] is None},
        page_count=None,
    )
    return cleaned


def merged_evidence(
    spec: FormSpec, values: Mapping[str, Any], sources: Iterable[Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Evidence for agreed ``values`` (a consensus), from the first source that has an entry
    for each key (the extractions in slot order)."""
    merged: dict[str, Any] = {}
    for source in sources:
        for key, item in source.items():
            merged.setdefault(key, item)
    return kept_evidence(spec, values, merged)


def evidence_from_post(spec: FormSpec, data: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The evidence of an HTML extraction or consensus form, keyed as saved.

    A table cell's inputs carry the row's index in the page; rows left empty are dropped
    when values are read (``forms.values_from_post``), so the index becomes the row's number
    among the rows that have a value.
    """
    numbers = _row_numbers(spec, data)
    out: dict[str, dict[str, str]] = {}
    for name in data:
        if not name.startswith(QUOTE_INPUT):
            continue
        target = name[len(QUOTE_INPUT) :]
        quote = str(data.get(name) or "")
        page = str(data.get(PAGE_INPUT + target) or "")
        if not quote.strip() and not page.strip():
            continue
        cell = _CELL_INPUT.match(target)
        if target.startswith("f-") and spec.field(target[2:]) is not None:
            key = target[2:]
        elif cell is not None and (cell["key"], int(cell["index"])) in numbers:
            key = f"{cell['key']}.{numbers[cell['key'], int(cell['index'])]}.{cell['column']}"
        else:
            continue  # an input of a row left empty, or of no field: its value went too
        out[key] = {"quote": quote, "page": page}
    return out


def _row_numbers(spec: FormSpec, data: Mapping[str, Any]) -> dict[tuple[str, int], int]:
    """(table key, index in the page) → 1-based number among the rows with a value."""
    columns = {f.key: {c.key for c in f.columns} for f in spec.fields() if f.kind == "table"}
    filled: dict[str, set[int]] = {}
    for name in data:
        match = _CELL_INPUT.match(name)
        if match is None or match["column"] not in columns.get(match["key"], ()):
            continue
        raw = data.getlist(name) if hasattr(data, "getlist") else [data.get(name)]
        if any(str(v or "").strip() for v in raw):
            filled.setdefault(match["key"], set()).add(int(match["index"]))
    return {
        (key, index): number
        for key in columns
        for number, index in enumerate(sorted(filled.get(key, ())), start=1)
    }
