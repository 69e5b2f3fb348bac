"""Forest and funnel plots as SVG, written by our own code (no plotting library).

Every piece of text — study labels and subgroup names are user data — goes through
``_text``: XML-escaped, with the control characters XML 1.0 forbids removed. The SVG has no
script, no event attributes and no ``style`` attributes (presentation attributes only), so
it is safe inline in a page under the strict Content-Security-Policy and as a download.
Output is a pure function of the input: the same analysis gives the same bytes.

For OR and RR the axis is logarithmic and labelled with ratios; the numbers in the table
are back-transformed (``exp``) too. PNG and PDF are drawn from this SVG by ``raster.py``
(with Pillow: it reads back the few shapes written here), so the three formats agree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from html import escape

from .effects import EffectSet, EffectSize, Measure, SynthesisError
from .meta import MetaResult, SubgroupResult

__all__ = ["FUNNEL_MIN_STUDIES", "forest_svg", "funnel_svg"]

FUNNEL_MIN_STUDIES = 10
FONT = "Helvetica, Arial, 'Liberation Sans', sans-serif"
ROW = 20.0
LABEL_X = 12.0
PLOT_LEFT = 300.0
PLOT_RIGHT = 600.0
TEXT_X = 620.0
WEIGHT_X = 830.0
WIDTH = 850.0
MAX_LABEL = 42
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def _text(value: str) -> str:
    return escape(_CONTROL.sub("", value), quote=True)


def _num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _fmt(value: float, measure: Measure) -> str:
    if measure.is_ratio:
        value = math.exp(value)
    digits = 3 if measure == Measure.RD else 2
    return f"{value:.{digits}f}".replace("-", "−")


def _estimate(value: float, low: float, high: float, measure: Measure) -> str:
    return f"{_fmt(value, measure)} [{_fmt(low, measure)}, {_fmt(high, measure)}]"


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


class _Axis:
    """Maps the analysis scale onto the plot's x range; ticks in the measure's own units."""

    def __init__(self, lo: float, hi: float, measure: Measure, left: float, right: float):
        null = measure.null_value
        lo, hi = min(lo, null), max(hi, null)
        if hi - lo < 1e-9:
            lo, hi = lo - 1, hi + 1
        pad = (hi - lo) * 0.05
        self.lo, self.hi = lo - pad, hi + pad
        self.measure, self.left, self.right = measure, left, right

    def x(self, value: float) -> float:
        value = min(max(value, self.lo), self.hi)
        return self.left + (value - self.lo) / (self.hi - self.lo) * (self.right - self.left)

    def ticks(self) -> list[tuple[float, str]]:
        if self.measure.is_ratio:
            candidates = [float(f"{m}e{e}") for e in range(-4, 5) for m in (1, 2, 5)]
            inside = [c for c in candidates if self.lo <= math.log(c) <= self.hi]
            if len(inside) > 7:  # a wide axis: powers of ten only
                inside = [c for c in inside if math.log10(c).is_integer()]
            return [(math.log(c), f"{c:g}") for c in inside]
        span = self.hi - self.lo
        step = 10 ** math.floor(math.log10(span / 5))
        for mult in (1, 2, 5, 10):
            if span / (step * mult) <= 7:
                step *= mult
                break
        first = math.ceil(self.lo / step) * step
        out = []
        value = first
        while value <= self.hi + 1e-12:
            out.append((value, f"{round(value, 10):g}".replace("-", "−")))
            value += step
        return out


def _t(
    x: float,
    y: float,
    text: str,
    *,
    anchor: str = "start",
    bold: bool = False,
    size: int = 11,
    title: str | None = None,
) -> str:
    attrs = f'x="{_num(x)}" y="{_num(y)}" font-size="{size}"'
    if anchor != "start":
        attrs += f' text-anchor="{anchor}"'
    if bold:
        attrs += ' font-weight="bold"'
    inner = _text(text)
    if title is not None and title != text:
        inner = f"<title>{_text(title)}</title>{inner}"
    return f"<text {attrs}>{inner}</text>"


def _line(
    x1: float,
    y1: float,
    x2: float,
    y2: float,
    *,
    width: float = 0.8,
    grey: bool = False,
    dash: str | None = None,
) -> str:
    stroke = "#6b6b6b" if grey else "#1b1b1b"
    extra = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<line x1="{_num(x1)}" y1="{_num(y1)}" x2="{_num(x2)}" y2="{_num(y2)}" '
        f'stroke="{stroke}" stroke-width="{_num(width)}"{extra}/>'
    )


def _polygon(points: Sequence[tuple[float, float]], fill: str, extra: str = "") -> str:
    text = " ".join(f"{_num(a)},{_num(b)}" for a, b in points)
    return f'<polygon points="{text}" fill="{fill}"{extra}/>'


def _diamond(axis: _Axis, y: float, r: MetaResult, colour: str) -> str:
    pts = [
        (axis.x(r.ci_low), y),
        (axis.x(r.estimate), y - 6),
        (axis.x(r.ci_high), y),
        (axis.x(r.estimate), y + 6),
    ]
    points = " ".join(f"{_num(a)},{_num(b)}" for a, b in pts)
    return f'<polygon points="{points}" fill="{colour}" stroke="#1b1b1b" stroke-width="0.6"/>'


def _heterogeneity(r: MetaResult) -> str:
    parts = []
    if r.method in ("DL", "REML"):
        parts.append(f"τ² = {r.tau2:.2f}")
    parts.append(f"Q = {r.q:.2f}, df = {r.q_df} ({_p(r.q_p)})")
    parts.append(f"I² = {r.i2:.0f}%")
    return "Heterogeneity: " + "; ".join(parts)


def _overall_test(r: MetaResult) -> str:
    name = "t" if r.knha else "z"
    return f"Test for overall effect: {name} = {r.statistic:.2f} ({_p(r.p)})".replace("-", "−")


def forest_svg(
    effects: EffectSet,
    result: MetaResult,
    *,
    subgroups: SubgroupResult | None = None,
    title: str | None = None,
) -> str:
    """The forest plot: a row per study (estimate, CI, weight), the pooled diamond(s)."""
    measure = effects.measure
    rows = effects.effects
    weight_of = dict(zip(result.studies, result.weights, strict=True))
    sub_weights: dict[str, float] = {}
    if subgroups is not None:
        for g in subgroups.groups.values():
            sub_weights.update(zip(g.studies, g.weights, strict=True))

    axis = _Axis(*_forest_range(rows, result), measure, PLOT_LEFT, PLOT_RIGHT)

    body: list[str] = []
    y = 16.0
    if title:
        body.append(_t(LABEL_X, y, title, bold=True, size=13))
        y += ROW
    body.append(_t(LABEL_X, y, "Study", bold=True))
    ci_head = f"{measure.value} ({result.level:.0%} CI)"
    body.append(_t(TEXT_X, y, ci_head, bold=True))
    body.append(_t(WEIGHT_X, y, "Weight", anchor="end", bold=True))
    y += 6
    body.append(_line(LABEL_X, y, WEIGHT_X, y, width=0.6))
    top = y
    y += ROW - 4
    max_w = max(result.weights) if result.weights else 1.0

    def study_row(e: EffectSize, weight: float) -> None:
        nonlocal y
        lo, hi = e.ci(result.level)
        x_lo, x_hi, x_est = axis.x(lo), axis.x(hi), axis.x(e.yi)
        body.append(_t(LABEL_X, y + 4, _short(e.study), title=e.study))
        body.append(_line(x_lo, y, x_hi, y, width=1))
        # A CI that runs off the axis ends in an arrowhead.
        for bound, edge, step in ((lo, axis.lo, 5), (hi, axis.hi, -5)):
            if (bound < edge) if step > 0 else (bound > edge):
                tip = axis.x(edge)
                arrow = [(tip, y), (tip + step, y - 3), (tip + step, y + 3)]
                body.append(_polygon(arrow, "#1b1b1b"))
        side = 4 + 10 * math.sqrt(weight / max_w) if max_w > 0 else 4
        body.append(
            f'<rect x="{_num(x_est - side / 2)}" y="{_num(y - side / 2)}" width="{_num(side)}" '
            f'height="{_num(side)}" fill="#2f5d8a"/>'
        )
        flag = " *" if e.corrected else ""
        body.append(_t(TEXT_X, y + 4, _estimate(e.yi, lo, hi, measure) + flag))
        body.append(_t(WEIGHT_X, y + 4, f"{weight:.1f}%", anchor="end"))
        y += ROW

    def pooled_row(label: str, r: MetaResult, colour: str, weight_total: float | None) -> None:
        nonlocal y
        body.append(_t(LABEL_X, y + 4, label, bold=True))
        body.append(_diamond(axis, y, r, colour))
        text = _estimate(r.estimate, r.ci_low, r.ci_high, measure)
        body.append(_t(TEXT_X, y + 4, text, bold=True))
        if weight_total is not None:
            body.append(_t(WEIGHT_X, y + 4, f"{weight_total:.1f}%", anchor="end", bold=True))
        y += ROW
        body.append(_t(LABEL_X, y, _heterogeneity(r), size=10))
        y += ROW - 4
        if r.k > 1 and r.method in ("DL", "REML"):
            body.append(
                _t(
                    LABEL_X,
                    y,
                    f"Prediction interval: {_fmt(r.pi_low, measure)} to {_fmt(r.pi_high, measure)}",
                    size=10,
                )
            )
            y += ROW - 4

    if subgroups is not None and len(subgroups.groups) > 1:
        for name, g in subgroups.groups.items():
            body.append(_t(LABEL_X, y + 4, name or "(no subgroup)", bold=True))
            y += ROW
            members = [e for e in rows if (e.subgroup or "") == name]
            for e in members:
                study_row(e, weight_of.get(e.study, 0.0))
            share = sum(weight_of.get(e.study, 0.0) for e in members)
            pooled_row(f"Subtotal ({g.level:.0%} CI)", g, "#9fb7cf", share)
            y += 4
    else:
        for e in rows:
            study_row(e, weight_of.get(e.study, 0.0))
    y += 2
    pooled_row(f"Total ({result.level:.0%} CI)", result, "#1b1b1b", 100.0)
    body.append(_t(LABEL_X, y, _overall_test(result), size=10))
    y += ROW - 4
    if subgroups is not None and len(subgroups.groups) > 1:
        body.append(
            _t(
                LABEL_X,
                y,
                f"Test for subgroup differences: Q = {subgroups.q_between:.2f}, "
                f"df = {subgroups.df_between} ({_p(subgroups.p_between)})",
                size=10,
            )
        )
        y += ROW - 4
    if any(e.corrected for e in rows):
        body.append(
            _t(LABEL_X, y, "* 0.5 added to every cell of a study with a zero cell", size=10)
        )
        y += ROW - 4
    for x in effects.excluded:
        body.append(
            _t(
                LABEL_X,
                y,
                _short(f"Not pooled: {x.study}") + f" ({x.reason})",
                size=10,
                title=str(x),
            )
        )
        y += ROW - 4

    # Axis below the rows, with the line of no effect.
    axis_y = y + 6
    null_x = axis.x(measure.null_value)
    pooled_x = axis.x(result.estimate)
    body.append(_line(null_x, top, null_x, axis_y, width=0.6, grey=True))
    body.append(_line(pooled_x, top, pooled_x, axis_y, width=0.5, grey=True, dash="3 3"))
    body.append(_line(PLOT_LEFT, axis_y, PLOT_RIGHT, axis_y))
    for value, label in axis.ticks():
        tx = axis.x(value)
        body.append(_line(tx, axis_y, tx, axis_y + 4))
        body.append(_t(tx, axis_y + 15, label, anchor="middle", size=10))
    y = axis_y + 30
    # Which side is better depends on the outcome (harm or benefit): say only what is lower.
    body.append(
        _t(axis.x(measure.null_value) - 6, y, "← lower with treatment", anchor="end", size=10)
    )
    body.append(_t(axis.x(measure.null_value) + 6, y, "higher with treatment →", size=10))
    body.append(_t(LABEL_X, y + ROW, f"{measure.label}, {result.method_label}", size=10))
    height = y + ROW + 10
    return _svg(WIDTH, height, body, f"Forest plot: {measure.label}")


def _forest_range(rows: Sequence[EffectSize], result: MetaResult) -> tuple[float, float]:
    """The CIs' span, cut at the estimates' range widened by the larger of their spread,
    twice the median CI width and the pooled CI's width, so that one very wide CI does not
    squash every other row (a cut CI ends in arrowheads)."""
    estimates = [e.yi for e in rows] + [result.estimate]
    lo = min([e.ci_low for e in rows] + [result.ci_low])
    hi = max([e.ci_high for e in rows] + [result.ci_high])
    widths = sorted(e.ci_high - e.ci_low for e in rows)
    median = widths[len(widths) // 2] if widths else 0.0
    spread = max(max(estimates) - min(estimates), 2 * median, result.ci_high - result.ci_low, 1e-6)
    return max(lo, min(estimates) - spread), min(hi, max(estimates) + spread)


def _svg(width: float, height: float, body: Sequence[str], label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_num(width)}" height="{_num(height)}" '
        f'viewBox="0 0 {_num(width)} {_num(height)}" role="img" aria-label="{_text(label)}" '
        f'font-family="{FONT}" fill="#1b1b1b">\n'
        f'<rect width="100%" height="100%" fill="#ffffff"/>\n' + "\n".join(body) + "\n</svg>\n"
    )


def funnel_svg(effects: EffectSet, result: MetaResult) -> str:
    """Effects against their standard errors (0 at the top), with the pseudo-95% funnel.

    Refuses below ``FUNNEL_MIN_STUDIES`` studies: with fewer, asymmetry cannot be told from
    chance (Cochrane Handbook, section 13.3.5.4).
    """
    rows = effects.effects
    if len(rows) < FUNNEL_MIN_STUDIES:
        raise SynthesisError(
            f"a funnel plot needs at least {FUNNEL_MIN_STUDIES} studies; this analysis has "
            f"{len(rows)} (with fewer, asymmetry cannot be told from chance)"
        )
    measure = effects.measure
    left, right, top, bottom = 70.0, 470.0, 30.0, 330.0
    se_max = max(e.se for e in rows) * 1.05
    z = 1.959963984540054
    lo = min(min(e.yi for e in rows), result.estimate - z * se_max)
    hi = max(max(e.yi for e in rows), result.estimate + z * se_max)
    axis = _Axis(lo, hi, measure, left, right)

    def y_of(se: float) -> float:
        return top + se / se_max * (bottom - top)

    body: list[str] = []
    body.append(
        f'<rect x="{_num(left)}" y="{_num(top)}" width="{_num(right - left)}" '
        f'height="{_num(bottom - top)}" fill="#ffffff" stroke="#1b1b1b" stroke-width="0.8"/>'
    )
    apex, base_y = axis.x(result.estimate), y_of(se_max)
    funnel = [
        (apex, top),
        (axis.x(result.estimate - z * se_max), base_y),
        (axis.x(result.estimate + z * se_max), base_y),
    ]
    body.append(
        _polygon(funnel, "#eef2f6", ' stroke="#6b6b6b" stroke-width="0.6" stroke-dasharray="4 3"')
    )
    body.append(_line(apex, top, apex, bottom))
    for e in rows:
        body.append(
            f'<circle cx="{_num(axis.x(e.yi))}" cy="{_num(y_of(e.se))}" r="3.5" fill="#2f5d8a">'
            f"<title>{_text(e.study)}</title></circle>"
        )
    for value, label in axis.ticks():
        tx = axis.x(value)
        body.append(_line(tx, bottom, tx, bottom + 4))
        body.append(_t(tx, bottom + 16, label, anchor="middle", size=10))
    steps = 4
    for i in range(steps + 1):
        se = se_max * i / steps
        body.append(_t(left - 6, y_of(se) + 4, f"{se:.2f}", anchor="end", size=10))
    body.append(
        _t(
            (left + right) / 2,
            bottom + 34,
            measure.label + (" (log scale)" if measure.is_ratio else ""),
            anchor="middle",
            size=11,
        )
    )
    body.append(_t(16, (top + bottom) / 2, "SE", size=11))
    return _svg(right + 20, bottom + 50, body, f"Funnel plot: {measure.label}")
