"""HTML plumbing for extraction pages: POST data to raw values, values to widgets.

A field's input is named ``f-<key>``; a table cell ``f-<key>-<row>-<column>``; the parts of a
judgement ``f-<key>-judgement`` and ``f-<key>-override_reason``. Nothing here validates: raw
values go to the services, which clean them with ``spec.clean_values`` and name the field at
fault.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.http import QueryDict

from extraction import rob, rob2
from extraction.spec import ColumnSpec, FieldError, FieldSpec, FormSpec

PREFIX = "f-"
JUDGEMENT_LABELS = rob2.JUDGEMENTS
JUDGEMENTS = tuple(JUDGEMENT_LABELS.items())


def input_name(key: str) -> str:
    return PREFIX + key


def values_from_post(spec: FormSpec, data: QueryDict) -> dict[str, Any]:
    """The values typed into an extraction form, as strings; empty inputs left out."""
    values: dict[str, Any] = {}
    for spec_field in spec.fields():
        name = input_name(spec_field.key)
        value: Any
        if spec_field.kind == "table":
            value = _table_rows(spec_field, data)
        elif spec_field.kind == "judgement":
            judgement = data.get(f"{name}-judgement", "").strip()
            reason = data.get(f"{name}-override_reason", "").strip()
            value = {"judgement": judgement, "override_reason": reason} if judgement else None
        elif spec_field.kind == "multiple_choice":
            value = [v for v in data.getlist(name) if v.strip()]
        else:
            value = data.get(name, "").strip()
        if value:
            values[spec_field.key] = value
    return values


def accept_proposals(spec: FormSpec, values: dict[str, Any]) -> dict[str, Any]:
    """A judgement left at "Use the proposal" takes the tool's proposal (where it has one)."""
    proposals = rob.proposed_judgements(spec, values)
    for key, proposal in proposals.items():
        if proposal is not None and key not in values:
            values[key] = {"judgement": proposal, "override_reason": ""}
    return values


def _table_rows(spec_field: FieldSpec, data: QueryDict) -> list[dict[str, Any]]:
    """Rows in the order of their index in the page; completely empty rows dropped, so the
    row numbers in error messages match the rows shown again."""
    pattern = re.compile(rf"^{re.escape(input_name(spec_field.key))}-(\d+)-([a-z0-9_]+)$")
    columns = {c.key: c for c in spec_field.columns}
    rows: dict[int, dict[str, Any]] = {}
    for name in data:
        match = pattern.match(name)
        if match is None or match.group(2) not in columns:
            continue
        column = columns[match.group(2)]
        cell: Any
        if column.kind == "multiple_choice":
            cell = [v for v in data.getlist(name) if v.strip()]
        else:
            cell = data.get(name, "").strip()
        row = rows.setdefault(int(match.group(1)), {})
        if cell:
            row[column.key] = cell
    return [rows[i] for i in sorted(rows) if rows[i]]


@dataclass
class BoundCell:
    column: ColumnSpec
    name: str
    value: Any
    errors: list[str] = field(default_factory=list)
    differs: bool = False


@dataclass
class BoundRow:
    number: int  # 1-based, as error messages count
    index: int  # the index in input names
    cells: list[BoundCell]
    errors: list[str] = field(default_factory=list)


@dataclass
class BoundField:
    spec: FieldSpec
    name: str
    value: Any
    errors: list[str] = field(default_factory=list)
    rows: list[BoundRow] = field(default_factory=list)
    blank_row: BoundRow | None = None
    proposal: str | None = None
    proposal_note: str = ""  # beside the proposal: the NOS star counts
    differs: bool = False  # on the comparison page: the extractors disagree here

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(
            row.errors or any(cell.errors for cell in row.cells) for row in self.rows
        )

    @property
    def proposal_label(self) -> str:
        return rob.judgement_labels(self.spec).get(self.proposal or "", "")

    @property
    def judgement_choices(self) -> list[tuple[str, str]]:
        """The levels this judgement offers (its tool's, or its aspect's)."""
        return list(rob.judgement_labels(self.spec).items())

    @property
    def proposed_by(self) -> str:
        """What proposes this judgement ("the RoB 2 algorithm", "the QUADAS-2 guidance"), or
        ``""`` when nothing does (RoB 1, applicability concerns)."""
        tool = rob.tool_of(self.spec.rob2)
        meta = self.spec.rob2 or {}
        if tool is None or meta.get("aspect") or not tool.proposes(meta.get("domain", "")):
            return ""
        return tool.proposer_phrase()

    @property
    def no_proposal_text(self) -> str:
        """Shown in place of the proposal while there is none."""
        tool = rob.tool_of(self.spec.rob2)
        if tool is None:
            return ""
        return tool.no_proposal_text((self.spec.rob2 or {}).get("domain", ""))

    @property
    def tool_name(self) -> str:
        tool = rob.tool_of(self.spec.rob2)
        return tool.name if tool is not None else ""

    @property
    def judgement(self) -> str:
        return self.value.get("judgement", "") if isinstance(self.value, dict) else ""

    @property
    def override_reason(self) -> str:
        return self.value.get("override_reason", "") if isinstance(self.value, dict) else ""


@dataclass
class BoundSection:
    title: str
    description: str
    fields: list[BoundField]


def widget_value(kind: str, value: Any) -> Any:
    """A stored (cleaned) or typed (raw) value as the widget shows it."""
    if value is None:
        return [] if kind == "multiple_choice" else ""
    if kind == "multiple_choice":
        return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
    if kind == "boolean" and isinstance(value, bool):
        return "yes" if value else "no"
    if kind == "judgement":
        return value if isinstance(value, dict) else {}
    if isinstance(value, Decimal | int | float):
        return str(value)
    return value


def bind_form(
    spec: FormSpec,
    values: Mapping[str, Any],
    *,
    errors: Iterable[FieldError] = (),
    proposals: Mapping[str, str | None] | None = None,
    notes: Mapping[str, str] | None = None,
    differing: Iterable[str] = (),
    differing_cells: Iterable[tuple[str, int, str]] = (),
) -> list[BoundSection]:
    """The form's sections ready for ``extraction/_fields.html``. ``differing`` (field keys)
    and ``differing_cells`` (field key, 1-based row, column key) mark disagreements."""
    by_field: dict[str, list[FieldError]] = {}
    for error in errors:
        by_field.setdefault(error.field, []).append(error)
    differ = set(differing)
    sections = []
    for section in spec.sections:
        bound = [
            _bind_field(
                f,
                values.get(f.key),
                by_field.get(f.key, []),
                (proposals or {}).get(f.key),
                f.key in differ,
            )
            for f in section.fields
        ]
        for field_bound in bound:
            field_bound.proposal_note = (notes or {}).get(field_bound.spec.key, "")
        sections.append(BoundSection(section.title, section.description, bound))
    cells = set(differing_cells)
    for section_bound in sections:
        for field_bound in section_bound.fields:
            for row in field_bound.rows:
                for cell in row.cells:
                    cell.differs = (field_bound.spec.key, row.number, cell.column.key) in cells
    return sections


def _bind_field(
    spec_field: FieldSpec,
    value: Any,
    errors: list[FieldError],
    proposal: str | None,
    differs: bool,
) -> BoundField:
    name = input_name(spec_field.key)
    bound = BoundField(
        spec=spec_field,
        name=name,
        value=widget_value(spec_field.kind, value),
        errors=[e.message for e in errors if e.row is None],
        proposal=proposal,
        differs=differs,
    )
    if proposal and bound.judgement == proposal and not bound.override_reason:
        bound.value = {}  # shown as "Use the proposal", so it follows the answers
    if spec_field.kind != "table":
        return bound
    stored = value if isinstance(value, list) else []
    rows = stored or [{}]  # an empty table shows one row to type into
    for i, row in enumerate(rows):
        bound.rows.append(_bind_row(spec_field, name, i, row if isinstance(row, dict) else {}))
    bound.blank_row = _bind_row(spec_field, name, len(rows), {})
    for error in errors:
        if error.row is None or not 1 <= error.row <= len(bound.rows):
            continue
        row_bound = bound.rows[error.row - 1]
        cells = [c for c in row_bound.cells if c.column.key == error.column]
        if cells:
            cells[0].errors.append(error.message)
        else:
            row_bound.errors.append(error.message)
    return bound


def _bind_row(spec_field: FieldSpec, name: str, index: int, row: Mapping[str, Any]) -> BoundRow:
    cells = [
        BoundCell(
            column=column,
            name=f"{name}-{index}-{column.key}",
            value=widget_value(column.kind, row.get(column.key)),
        )
        for column in spec_field.columns
    ]
    return BoundRow(number=index + 1, index=index, cells=cells)


def display_value(kind: str, value: Any, labels: Mapping[str, str] | None = None) -> str:
    """A stored value as text for the comparison page ('' when empty); ``labels`` are the
    judgement levels' words (RoB 2's by default)."""
    if value is None or value == "" or value == []:
        return ""
    if kind == "boolean" and isinstance(value, bool):
        return "Yes" if value else "No"
    if kind == "judgement" and isinstance(value, dict):
        words = JUDGEMENT_LABELS if labels is None else labels
        label = words.get(value.get("judgement", ""), value.get("judgement", ""))
        reason = value.get("override_reason", "")
        return f"{label} (override: {reason})" if reason else str(label)
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    return str(value)


def _display(spec_field: FieldSpec, value: Any) -> str:
    labels = rob.judgement_labels(spec_field) if spec_field.kind == "judgement" else None
    return display_value(spec_field.kind, value, labels)


@dataclass
class ComparedCell:
    label: str
    a: str
    b: str
    agree: bool


@dataclass
class ComparedRow:
    number: int
    agree: bool
    cells: list[ComparedCell]


@dataclass
class ComparedField:
    key: str
    label: str
    kind: str
    a: str
    b: str
    agree: bool
    rows: list[ComparedRow]


def compared_fields(comparison: Iterable[Any]) -> list[ComparedField]:
    """``spec.compare_values`` output as text, field by field and, in tables, cell by cell."""
    out = []
    for item in comparison:
        spec_field = item.field
        rows = []
        for row in item.rows:
            cells = [
                ComparedCell(
                    label=column.label,
                    a=display_value(column.kind, (row.a or {}).get(column.key)),
                    b=display_value(column.kind, (row.b or {}).get(column.key)),
                    agree=row.cells.get(column.key, row.agree),
                )
                for column in spec_field.columns
            ]
            rows.append(ComparedRow(number=row.index, agree=row.agree, cells=cells))
        out.append(
            ComparedField(
                key=spec_field.key,
                label=spec_field.label,
                kind=spec_field.kind,
                a="" if spec_field.kind == "table" else _display(spec_field, item.a),
                b="" if spec_field.kind == "table" else _display(spec_field, item.b),
                agree=item.agree,
                rows=rows,
            )
        )
    return out
