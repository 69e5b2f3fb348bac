"""Reading an outcome table from CSV into effect sizes, with errors that name the line.

The columns are metafor's: ``study`` and ``ai,bi,ci,di`` (events and non-events per arm;
``ai,n1i,ci,n2i`` with arm totals also works) for OR, RR and RD, or
``m1i,sd1i,n1i,m2i,sd2i,n2i`` for MD and SMD. A study with no raw data may give a reported
``estimate`` with ``ci_low,ci_high`` or ``se`` instead. An optional ``subgroup`` column
groups the studies in the forest plot. Column names are matched without regard to case or
surrounding spaces; other columns are ignored.

The file is UTF-8, with or without the byte-order mark Excel writes ("CSV UTF-8"); a file
whose header has semicolons and no commas is read as the semicolon-separated CSV that
European Excel writes, where a decimal comma is accepted. An empty cell, ``NA`` or ``.``
is a missing value.
"""

from __future__ import annotations

import csv
import io
import math

from .effects import (
    BINARY_COLUMNS,
    BINARY_TOTAL_COLUMNS,
    CONTINUOUS_COLUMNS,
    REPORTED_COLUMNS,
    EffectSet,
    Measure,
    SynthesisError,
    compute_effects,
)

__all__ = ["read_effects_csv"]

MISSING = {"", "na", "n/a", ".", "nan"}
COUNT_COLUMNS = ("ai", "bi", "ci", "di", "n1i", "n2i")


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SynthesisError(
            f"{name} line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); "
            "save the file as CSV UTF-8"
        ) from None


def _number(text: str, *, name: str, line: int, column: str, decimal_comma: bool) -> float | None:
    raw = text.strip()
    if raw.lower() in MISSING:
        return None
    candidate = raw.replace(",", ".") if decimal_comma else raw
    try:
        value = float(candidate)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise SynthesisError(f"{name} line {line}: column '{column}': '{raw}' is not a number")
    return value


def _needed(measure: Measure) -> tuple[list[tuple[str, ...]], str]:
    if measure.is_binary:
        return [BINARY_COLUMNS, BINARY_TOTAL_COLUMNS], "study,ai,bi,ci,di (or study,ai,n1i,ci,n2i)"
    return [CONTINUOUS_COLUMNS], "study,m1i,sd1i,n1i,m2i,sd2i,n2i"


def read_effects_csv(data: bytes, *, measure: Measure | str, name: str = "FILE") -> EffectSet:
    """The effect sizes of the studies in the CSV ``data``; ``name`` is used in messages."""
    measure = Measure(measure)
    text = _decode(data, name)
    first = text.split("\n", 1)[0]
    delimiter = ";" if ";" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise SynthesisError(f"{name}: the file is empty") from None
    columns = [h.strip().lower() for h in header]
    if "study" not in columns:
        raise SynthesisError(f"{name} line 1: no 'study' column (found: {', '.join(columns)})")
    raw_ways, described = _needed(measure)
    reported_ok = "estimate" in columns and (
        ("ci_low" in columns and "ci_high" in columns) or "se" in columns
    )
    if not reported_ok and not any(all(c in columns for c in way) for way in raw_ways):
        lacking = [c for c in raw_ways[0] if c not in columns]
        raise SynthesisError(
            f"{name} line 1: --measure {measure.value} needs the columns {described}; "
            f"missing: {', '.join(lacking)}"
        )
    numeric = [*BINARY_COLUMNS, *CONTINUOUS_COLUMNS, *REPORTED_COLUMNS]
    wanted = {c: columns.index(c) for c in dict.fromkeys(numeric) if c in columns}
    study_at = columns.index("study")
    subgroup_at = columns.index("subgroup") if "subgroup" in columns else None

    rows: list[tuple[str, dict[str, float | None], str | None]] = []
    lines: dict[str, int] = {}
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        cells = cells + [""] * (len(columns) - len(cells))
        study = cells[study_at].strip()
        if not study:
            raise SynthesisError(f"{name} line {line}: column 'study' is empty")
        if study in lines:
            raise SynthesisError(
                f"{name} line {line}: study '{study}' appears twice (also on line {lines[study]})"
            )
        lines[study] = line
        values = {
            column: _number(
                cells[at], name=name, line=line, column=column, decimal_comma=delimiter == ";"
            )
            for column, at in wanted.items()
        }
        _check_row(values, name=name, line=line)
        subgroup = cells[subgroup_at].strip() or None if subgroup_at is not None else None
        rows.append((study, values, subgroup))
    if not rows:
        raise SynthesisError(f"{name}: no studies (the file has a header only)")

    effects = EffectSet(measure)
    for study, values, subgroup in rows:
        try:
            one = compute_effects([(study, values, subgroup)], measure)
        except SynthesisError as exc:
            raise SynthesisError(f"{name} line {lines[study]}: {exc}") from None
        effects.effects.extend(one.effects)
        effects.excluded.extend(one.excluded)
    return effects


def _check_row(values: dict[str, float | None], *, name: str, line: int) -> None:
    for column in COUNT_COLUMNS:
        value = values.get(column)
        if value is not None and value < 0:
            raise SynthesisError(
                f"{name} line {line}: column '{column}': {value:g} is negative (a count)"
            )
    for column in ("sd1i", "sd2i"):
        value = values.get(column)
        if value is not None and value < 0:
            raise SynthesisError(
                f"{name} line {line}: column '{column}': {value:g} is negative (an SD)"
            )
    for events, total in (("ai", "n1i"), ("ci", "n2i")):
        e, n = values.get(events), values.get(total)
        if e is not None and n is not None and e > n:
            raise SynthesisError(
                f"{name} line {line}: column '{events}': {e:g} events is more than "
                f"{total} ({n:g} participants)"
            )
