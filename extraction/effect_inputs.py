"""Which table columns of a form hold the inputs of an effect size, and the comparisons they
make. Pure: no ORM; it reads a ``FormSpec`` and a study's cleaned values.

The rule is the column keys, the simplest one that follows from what the data mean (and the
one the "Outcome data" template already uses), so a form author needs no extra setting:

- **Per-arm tables** (the outcomes template): a table with an ``arm`` column and either
  ``events`` and ``total`` (binary) or ``mean``, ``sd`` and ``n`` (continuous), one row per
  outcome × time point × arm. Rows with the same ``outcome`` and ``time_point`` text (compared
  without case or surrounding spaces) form one comparison; the arm on the first of those rows
  is arm 1, the intervention, and the next arm 2, the comparator, as RevMan orders them.
  Arms after the second are left out of the comparison, and the comparison says so.
- **Wide tables**: a table with columns named as metafor names the inputs, one row per
  comparison: ``ai``, ``bi``, ``ci``, ``di`` or ``ai``, ``n1i``, ``ci``, ``n2i`` (binary),
  ``m1i``, ``sd1i``, ``n1i``, ``m2i``, ``sd2i``, ``n2i`` (continuous), or a reported
  ``estimate`` with ``ci_low`` and ``ci_high`` or ``se``. A reported estimate needs a
  ``measure`` column (OR, RR, RD, MD or SMD) saying what it estimates; its ``ci_low`` and
  ``ci_high`` are on the ratio scale for OR and RR, its ``se`` on the log scale.

A column's key is set by the form builder from its label ("Events" → ``events``), so a form
built by hand follows the rule by naming its columns so.

A cell may hold an ``InvalidCell`` instead of a number (the live panel keeps what did not
clean, so it can say "invalid" and why rather than "missing"); the comparison lists those
in ``invalid`` and takes them as absent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from extraction.spec import FieldSpec, FormSpec
from extraction.synthesis import Measure

__all__ = [
    "ARM_BINARY",
    "ARM_CONTINUOUS",
    "BINARY_MEASURES",
    "CONTINUOUS_MEASURES",
    "WIDE_COLUMNS",
    "Comparison",
    "InvalidCell",
    "comparisons_of",
    "effect_tables",
    "outcome_key",
]

ARM_BINARY = ("events", "total")
ARM_CONTINUOUS = ("mean", "sd", "n")
GROUP_COLUMNS = ("outcome", "time_point")
WIDE_BINARY = ("ai", "bi", "ci", "di", "n1i", "n2i")
WIDE_CONTINUOUS = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")
WIDE_REPORTED = ("estimate", "ci_low", "ci_high", "se")
WIDE_COLUMNS = tuple(dict.fromkeys((*WIDE_BINARY, *WIDE_CONTINUOUS, *WIDE_REPORTED)))
BINARY_MEASURES = (Measure.OR, Measure.RR, Measure.RD)
CONTINUOUS_MEASURES = (Measure.MD, Measure.SMD)
ARM_NAMES = ("arm 1", "arm 2")


@dataclass(frozen=True)
class InvalidCell:
    """A table cell whose typed text did not clean, and the checker's words for why."""

    typed: str
    message: str

    def why(self) -> str:
        return f"“{self.typed}” {self.message}"


@dataclass(frozen=True)
class EffectTable:
    """A table field of the form that holds effect inputs, and how (``per_arm`` or ``wide``)."""

    field: FieldSpec
    layout: str  # per_arm | wide
    kind: str  # binary | continuous | mixed (wide tables may hold either, or estimates)

    @property
    def key(self) -> str:
        return self.field.key


@dataclass
class Comparison:
    """One outcome (× time point) of one study: two arms' inputs in metafor's names.

    ``values`` maps metafor names to numbers or ``None``; ``names`` says what each name is in
    the form's own words ("Events (arm 2: Placebo)"), for the list of missing inputs.
    """

    table: str
    table_label: str
    row: int  # the first table row of the comparison, 1-based
    outcome: str
    time_point: str
    kind: str  # binary | continuous | reported
    values: dict[str, float | None]
    names: dict[str, str]
    arms: tuple[str, ...] = ()
    measure: Measure | None = None  # a reported estimate's measure
    notes: list[str] = field(default_factory=list)
    invalid: dict[str, str] = field(default_factory=dict)  # metafor name → why it is invalid

    @property
    def key(self) -> str:
        return outcome_key(self.table, self.outcome, self.time_point)

    @property
    def label(self) -> str:
        parts = [self.outcome or f"row {self.row}"]
        if self.time_point:
            parts.append(self.time_point)
        return " · ".join(parts)

    @property
    def measures(self) -> tuple[Measure, ...]:
        """The measures the inputs can give."""
        if self.kind == "binary":
            return BINARY_MEASURES
        if self.kind == "continuous":
            return CONTINUOUS_MEASURES
        return (self.measure,) if self.measure is not None else ()

    def human(self, names: Sequence[str]) -> list[str]:
        return [self.names.get(n, n) for n in names]


def outcome_key(table: str, outcome: str, time_point: str) -> str:
    """The outcome's identity across studies: the table and the texts, case and spaces aside."""
    return "|".join(
        (table, " ".join(outcome.split()).casefold(), " ".join(time_point.split()).casefold())
    )


def effect_tables(spec: FormSpec) -> list[EffectTable]:
    """The form's tables that hold effect inputs, by the column-key rule above."""
    out = []
    for fld in spec.fields():
        if fld.kind != "table":
            continue
        keys = {c.key for c in fld.columns}
        if "arm" in keys and set(ARM_BINARY) <= keys:
            out.append(EffectTable(fld, "per_arm", "binary"))
        elif "arm" in keys and set(ARM_CONTINUOUS) <= keys:
            out.append(EffectTable(fld, "per_arm", "continuous"))
        elif keys & set(WIDE_COLUMNS):
            out.append(EffectTable(fld, "wide", "mixed"))
    return out


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool | InvalidCell):
        return None
    try:
        number = float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None
    return number if math.isfinite(number) else None


def _text(value: Any) -> str:
    if value is None or isinstance(value, InvalidCell):
        return ""
    return " ".join(str(value).split())


def comparisons_of(spec: FormSpec, values: Mapping[str, Any]) -> list[Comparison]:
    """Every comparison in one study's (cleaned) values, in the order of the form's tables
    and their rows."""
    out: list[Comparison] = []
    for table in effect_tables(spec):
        rows = values.get(table.key) or []
        if not isinstance(rows, list):
            continue
        if table.layout == "per_arm":
            out.extend(_per_arm(table, rows))
        else:
            out.extend(_wide(table, rows))
    return out


def _labels(fld: FieldSpec) -> dict[str, str]:
    return {c.key: c.label for c in fld.columns}


def _per_arm(table: EffectTable, rows: list[Any]) -> list[Comparison]:
    labels = _labels(table.field)
    groups: dict[tuple[str, str], list[tuple[int, Mapping[str, Any]]]] = {}
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            continue
        key = (_text(row.get("outcome")).casefold(), _text(row.get("time_point")).casefold())
        groups.setdefault(key, []).append((number, row))
    inputs = ARM_BINARY if table.kind == "binary" else ARM_CONTINUOUS
    names = (
        {"events": ("ai", "ci"), "total": ("n1i", "n2i")}
        if table.kind == "binary"
        else {"mean": ("m1i", "m2i"), "sd": ("sd1i", "sd2i"), "n": ("n1i", "n2i")}
    )
    out = []
    for members in groups.values():
        first_number, first = members[0]
        arms = [_text(row.get("arm")) for _, row in members]
        comparison = Comparison(
            table=table.key,
            table_label=table.field.label,
            row=first_number,
            outcome=_text(first.get("outcome")),
            time_point=_text(first.get("time_point")),
            kind=table.kind,
            values={},
            names={},
            arms=tuple(arms[:2]),
        )
        for at in range(2):
            row = members[at][1] if at < len(members) else {}
            arm = _text(row.get("arm")) if row else ""
            where = f"{ARM_NAMES[at]}: {arm}" if arm else ARM_NAMES[at]
            if at >= len(members):
                where = f"{ARM_NAMES[at]}, the comparator: a second row for this outcome"
            for column in inputs:
                name = names[column][at]
                cell = row.get(column)
                comparison.values[name] = _number(cell)
                comparison.names[name] = f"{labels.get(column, column)} ({where})"
                if isinstance(cell, InvalidCell):
                    comparison.invalid[name] = cell.why()
        if len(members) > 2:
            comparison.notes.append(
                f"{len(members)} arms: arm 1 ({arms[0] or 'unnamed'}) is compared with arm 2 "
                f"({arms[1] or 'unnamed'}); the other arms are left out"
            )
        out.append(comparison)
    return out


def _wide(table: EffectTable, rows: list[Any]) -> list[Comparison]:
    labels = _labels(table.field)
    keys = [c.key for c in table.field.columns if c.key in WIDE_COLUMNS]
    out = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            continue
        values = {k: _number(row.get(k)) for k in keys}
        has = {k for k, v in values.items() if v is not None}
        raw = has & set(WIDE_BINARY + WIDE_CONTINUOUS)
        if has & {"m1i", "m2i", "sd1i", "sd2i"} or (not raw and set(keys) >= {"m1i", "m2i"}):
            kind = "continuous"
        elif raw or not has & set(WIDE_REPORTED):
            kind = "binary" if set(keys) & {"ai", "bi", "ci", "di"} else "continuous"
        else:
            kind = "reported"
        measure: Measure | None = None
        text = _text(row.get("measure")).upper()
        if text in Measure.__members__:
            measure = Measure(text)
        comparison = Comparison(
            table=table.key,
            table_label=table.field.label,
            row=number,
            outcome=_text(row.get("outcome")),
            time_point=_text(row.get("time_point")),
            kind=kind,
            values=values,
            names={k: f"{labels.get(k, k)} (row {number})" for k in WIDE_COLUMNS},
            measure=measure,
            invalid={k: cell.why() for k in keys if isinstance(cell := row.get(k), InvalidCell)},
        )
        if kind == "reported" and measure is None:
            comparison.notes.append(
                "a reported estimate needs its measure (OR, RR, RD, MD or SMD) in a "
                "'measure' column"
            )
        out.append(comparison)
    return out
