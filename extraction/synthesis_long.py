"""The long CSV of a form's outcomes: one row per study × outcome × time point comparison,
every outcome at once, for the tools teams use after reviewflow.

Columns carry metafor's names (``ai, bi, ci, di, n1i, n2i, m1i, sd1i, m2i, sd2i``, and
``yi``, ``vi``, ``sei``), so ``metafor::escalc``/``rma``, ``meta::metabin``/``metacont``/
``metagen`` and Stata's ``meta esize``/``meta set`` read the file without renaming. Each row
also holds the effect size our engine computed from those inputs (the one the synthesis page
pools): its ``measure``, ``yi`` and ``vi`` on the analysis scale (log for OR and RR), the
estimate and 95% CI on the measure's own scale, and the zero-cell correction it applied.

Pure (no ORM): the caller passes the studies it may show (final consensus only).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence

from extraction.effect_inputs import BINARY_MEASURES, CONTINUOUS_MEASURES
from extraction.spec import FormSpec
from extraction.synthesis import Measure
from extraction.synthesis.effects import ZERO_CELL_ADD
from extraction.synthesis_run import LiveEffect, StudyInput, live_comparisons, scale_of
from reviewflow.exports import safe_cell

__all__ = ["LONG_HEADER", "long_csv"]

INPUTS = ("ai", "bi", "ci", "di", "n1i", "n2i", "m1i", "sd1i", "m2i", "sd2i")
REPORTED = ("estimate", "ci_low", "ci_high", "se")
LONG_HEADER = [
    "study",
    "study_id",
    "table",
    "outcome",
    "time_point",
    "arm1",
    "arm2",
    "kind",
    *INPUTS,
    "reported_estimate",
    "reported_ci_low",
    "reported_ci_high",
    "reported_se",
    "measure",
    "yi",
    "vi",
    "sei",
    "estimate",
    "ci_low",
    "ci_high",
    "zero_cell_correction",
    "note",
]


def _number(value: float | None) -> str:
    if value is None:
        return ""
    value = float(value)
    if not math.isfinite(value):
        return ""
    return f"{value:.0f}" if value.is_integer() and abs(value) < 1e15 else repr(value)


def _completed(values: dict[str, float | None]) -> dict[str, float | None]:
    """The 2×2 table filled in both ways (non-events from totals and totals from
    non-events), since ``escalc`` takes ``bi``/``di`` and ``metabin`` takes ``n1i``/``n2i``;
    Stata's ``meta esize`` needs all four cells."""
    out = dict(values)
    for events, rest, total in (("ai", "bi", "n1i"), ("ci", "di", "n2i")):
        e, r, n = out.get(events), out.get(rest), out.get(total)
        if e is not None and r is None and n is not None:
            out[rest] = n - e
        elif e is not None and r is not None and n is None:
            out[total] = e + r
    return out


def long_csv(
    spec: FormSpec,
    studies: Sequence[StudyInput],
    *,
    binary: Measure = Measure.OR,
    continuous: Measure = Measure.MD,
) -> str:
    """Every comparison of every study, with the effect for ``binary`` (OR, RR or RD) or
    ``continuous`` (MD or SMD) inputs, or a reported estimate's own measure. A comparison
    without enough inputs keeps its row, with empty effect cells and the reason in ``note``.
    Text cells are made formula-safe."""
    if binary not in BINARY_MEASURES or continuous not in CONTINUOUS_MEASURES:
        raise ValueError("binary must be OR, RR or RD and continuous MD or SMD")
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(LONG_HEADER)
    for study in studies:
        for live in live_comparisons(spec, study.values):
            c = live.comparison
            wanted = {"binary": binary, "continuous": continuous}.get(c.kind, c.measure)
            chosen = next((e for e in live.effects if e.measure == wanted), None)
            values = _completed(c.values) if c.kind == "binary" else c.values
            arms = [*c.arms, "", ""][:2]
            writer.writerow(
                [
                    safe_cell(study.label),
                    study.study_id,
                    safe_cell(c.table_label),
                    safe_cell(c.outcome),
                    safe_cell(c.time_point),
                    *(safe_cell(a) for a in arms),
                    c.kind,
                    *(_number(values.get(k)) for k in INPUTS),
                    *(_number(c.values.get(k)) for k in REPORTED),
                    wanted.value if wanted is not None else "",
                    *_effect_cells(chosen),
                    safe_cell("; ".join(_notes(chosen, c.notes))),
                ]
            )
    return buffer.getvalue()


def _effect_cells(live: LiveEffect | None) -> list[str]:
    if live is None or live.effect is None:
        return [""] * 7
    e = live.effect
    back = scale_of(live.measure)
    return [
        _number(e.yi),
        _number(e.vi),
        _number(e.se),
        _number(back(e.yi)),
        _number(back(e.ci_low)),
        _number(back(e.ci_high)),
        _number(ZERO_CELL_ADD if e.corrected else 0.0),
    ]


def _notes(live: LiveEffect | None, notes: list[str]) -> list[str]:
    out = list(notes)
    if live is not None:
        note = live.effect.note if live.effect is not None else ""
        out.extend(n for n in (note, live.missing, live.error) if n)
    return out
