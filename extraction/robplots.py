"""Risk-of-bias plots as robvis draws them: the traffic-light plot and the summary bar plot.

Pure: no Django, no ORM. The caller gives the tool (``extraction.rob``) and each study's
judgements; this lays the plot out once as shapes and text, then writes that layout as SVG
(our own escaping: study labels are user data; no script, no ``style`` attribute, only
presentation attributes) or draws it as PNG with Pillow and the font Pillow ships, as
``screening/prisma/png.py`` does.

What robvis does, followed here (McGuinness LA, Higgins JPT. Risk-of-bias VISualization
(robvis). Res Syn Meth 2021;12:55-61; ``R/rob_traffic_light.R``, ``R/rob_summary.R``,
``R/helpers.R``): one row per study and one column per domain plus "Overall", each cell a
circle in the judgement's colour with its symbol (``+`` low, ``-`` some concerns or
moderate, ``x`` high or serious, ``!`` critical, ``?`` no information), the domains named
D1… with a caption spelling them out; the summary plot has one horizontal bar per domain
(and overall), split by the share of studies at each judgement, optionally weighted. Colours
are robvis's "cochrane" palette. Levels robvis has no symbol for take the nearest one:
"unclear" (RoB 1, QUADAS-2) is drawn ``?`` in the some-concerns colour, NOS's good / fair /
poor as low / some concerns / high.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape, quoteattr

from PIL import Image, ImageDraw, ImageFont

from .rob import OVERALL, Tool, tool_of

if TYPE_CHECKING:
    from .spec import FormSpec

__all__ = [
    "LEVEL_STYLE",
    "PlotData",
    "StudyRow",
    "form_plot_data",
    "plot_data",
    "plotted_tool",
    "summary_layout",
    "summary_shares",
    "to_png",
    "to_svg",
    "traffic_light_layout",
]

LOW, CONCERNS, HIGH, CRITICAL, NO_INFO, NONE = (
    "#02C100",
    "#E2DF07",
    "#BF0000",
    "#820000",
    "#4EA1F7",
    "#CCCCCC",
)
# Stored judgement value → (colour, symbol), robvis's "cochrane" colours and its shapes.
LEVEL_STYLE: dict[str, tuple[str, str]] = {
    "low": (LOW, "+"),
    "good": (LOW, "+"),
    "some_concerns": (CONCERNS, "-"),
    "moderate": (CONCERNS, "-"),
    "fair": (CONCERNS, "-"),
    "unclear": (CONCERNS, "?"),
    "high": (HIGH, "x"),
    "serious": (HIGH, "x"),
    "poor": (HIGH, "x"),
    "critical": (CRITICAL, "!"),
    "no_information": (NO_INFO, "?"),
}
MAX_LABEL = 60
FONT = "Arial, Helvetica, sans-serif"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


@dataclass(frozen=True)
class StudyRow:
    label: str
    judgements: Mapping[str, str | None]  # domain (or "overall") → stored value
    weight: float | None = None


@dataclass(frozen=True)
class PlotData:
    """What a plot shows: the columns (domain id, short name, full title), the levels in
    order from best to worst (value, label), and the studies."""

    tool: Tool
    columns: list[tuple[str, str, str]]
    levels: list[tuple[str, str]]
    studies: list[StudyRow]


# Best to worst, for the order of the legend and of a bar's parts.
_SEVERITY = (
    "low",
    "good",
    "some_concerns",
    "moderate",
    "fair",
    "unclear",
    "high",
    "serious",
    "poor",
    "critical",
    "no_information",
)


def plot_data(tool: Tool, domains: Sequence[str], studies: Sequence[StudyRow]) -> PlotData:
    """The plot of ``tool`` for the ``domains`` a form judges (``"overall"`` last when
    present), in the tool's order."""
    ordered = [d for d in tool.domains if d in domains]
    columns = [(d, d, tool.domain_titles.get(d, d)) for d in ordered]
    if OVERALL in domains:
        columns.append((OVERALL, "Overall", "Overall"))
    levels = sorted(
        tool.judgements.items(),
        key=lambda item: _SEVERITY.index(item[0]) if item[0] in _SEVERITY else len(_SEVERITY),
    )
    return PlotData(tool=tool, columns=columns, levels=levels, studies=list(studies))


def plotted_tool(spec: FormSpec) -> Tool | None:
    """The risk-of-bias tool a form's judgements belong to (its first judgement's), or
    ``None`` when the form has no risk-of-bias judgement."""
    for fld in spec.fields():
        if fld.kind == "judgement":
            tool = tool_of(fld.rob2)
            if tool is not None:
                return tool
    return None


def form_plot_data(
    spec: FormSpec, studies: Sequence[tuple[str, Mapping[str, Any]]], *, weight: str = ""
) -> PlotData | None:
    """The plot data of a form from its studies' (label, values): one column per risk-of-bias
    judgement of the form's tool (applicability concerns are not plotted, as in robvis),
    ``weight`` naming a number field whose value weighs each study. ``None`` when the form
    has no risk-of-bias judgement."""
    tool = plotted_tool(spec)
    if tool is None:
        return None
    keys: dict[str, str] = {}
    for fld in spec.fields():
        meta = fld.rob2 or {}
        if fld.kind == "judgement" and tool_of(fld.rob2) is tool and not meta.get("aspect"):
            keys.setdefault(meta.get("domain", ""), fld.key)
    rows = []
    for label, values in studies:
        judgements: dict[str, str | None] = {}
        for domain, key in keys.items():
            value = values.get(key)
            word = value.get("judgement") if isinstance(value, Mapping) else None
            judgements[domain] = word if word in tool.judgements else None
        rows.append(StudyRow(label, judgements, _number(values.get(weight)) if weight else None))
    return plot_data(tool, list(keys), rows)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def summary_shares(data: PlotData, *, weighted: bool = False) -> dict[str, dict[str, float]]:
    """Column → level → share (0..1) of the studies with a judgement there; weighted by each
    study's weight when ``weighted`` (studies without a positive weight are left out)."""
    shares: dict[str, dict[str, float]] = {}
    for key, _, _ in data.columns:
        totals: dict[str, float] = {}
        for study in data.studies:
            value = study.judgements.get(key)
            if value is None:
                continue
            amount = 1.0
            if weighted:
                if study.weight is None or study.weight <= 0:
                    continue
                amount = study.weight
            totals[value] = totals.get(value, 0.0) + amount
        whole = sum(totals.values())
        shares[key] = {v: (totals.get(v, 0.0) / whole if whole else 0.0) for v, _ in data.levels}
    return shares


# ---------------------------------------------------------------------------------------
# Layout: shapes in pixels, shared by the SVG and the PNG


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    size: float = 12
    anchor: str = "start"  # start | middle | end
    bold: bool = False
    fill: str = "#000000"


@dataclass(frozen=True)
class Circle:
    x: float
    y: float
    r: float
    fill: str


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str
    stroke: str = ""


@dataclass
class Layout:
    width: float
    height: float
    title: str
    shapes: list[Text | Circle | Rect] = field(default_factory=list)


def _clean(text: str) -> str:
    text = _CONTROL.sub("", text).strip()
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _text_width(text: str, size: float) -> float:
    return len(text) * size * 0.55


def _legend(layout: Layout, data: PlotData, x: float, y: float) -> float:
    layout.shapes.append(Text(x, y, "Judgement", 12, bold=True))
    y += 20
    for value, label in data.levels:
        colour, symbol = LEVEL_STYLE.get(value, (NONE, ""))
        layout.shapes.append(Circle(x + 8, y - 4, 8, colour))
        layout.shapes.append(Text(x + 8, y, symbol, 12, "middle", True))
        layout.shapes.append(Text(x + 22, y, label, 12))
        y += 20
    return y


def traffic_light_layout(data: PlotData) -> Layout:
    """Studies down, domains across (then Overall), a circle per judgement; the domain
    names and the legend below, as robvis lays it out."""
    cell, radius = 36.0, 13.0
    labels = [_clean(s.label) for s in data.studies]
    left = 16 + max([_text_width(t, 12) for t in [*labels, "Study"]] + [60])
    top = 56.0
    width = max(left + cell * len(data.columns) + 24, 420)
    captions = [f"{key}: {title}" for key, short, title in data.columns if key != OVERALL]
    rows_height = cell * max(len(data.studies), 1)
    caption_top = top + rows_height + 30
    legend_top = caption_top + 18 * (len(captions) + 1) + 12
    height = legend_top + 20 * (len(data.levels) + 1) + 16
    width = max(width, 16 + max([_text_width(c, 11) for c in captions] + [0]) + 16)
    layout = Layout(width, height, f"{data.tool.name} traffic-light plot")
    grid_right = left + cell * len(data.columns)
    layout.shapes.append(
        Text((left + grid_right) / 2, 20, "Risk of bias domains", 13, "middle", True)
    )
    layout.shapes.append(Text(8, top - 10, "Study", 12, bold=True))
    for i, (_, short, _) in enumerate(data.columns):
        layout.shapes.append(Text(left + cell * i + cell / 2, top - 10, short, 12, "middle", True))
    for row, (study, label) in enumerate(zip(data.studies, labels, strict=True)):
        cy = top + cell * row + cell / 2
        layout.shapes.append(
            Rect(left, top + cell * row, grid_right - left, cell, "#FFFFFF", "#D3D3D3")
        )
        layout.shapes.append(Text(8, cy + 4, label, 12))
        for i, (key, _, _) in enumerate(data.columns):
            value = study.judgements.get(key)
            colour, symbol = LEVEL_STYLE.get(value or "", (NONE, ""))
            cx = left + cell * i + cell / 2
            layout.shapes.append(Circle(cx, cy, radius, colour))
            if symbol:
                layout.shapes.append(Text(cx, cy + 5, symbol, 14, "middle", True))
    if not data.studies:
        layout.shapes.append(Text(8, top + cell / 2 + 4, "No study has a final consensus yet.", 12))
    y = caption_top
    layout.shapes.append(Text(8, y, "Domains:", 11, bold=True))
    for line in captions:
        y += 18
        layout.shapes.append(Text(8, y, line, 11))
    _legend(layout, data, 8, legend_top)
    return layout


def summary_layout(data: PlotData, *, weighted: bool = False) -> Layout:
    """One bar per domain (then Overall, in bold), split by the share of studies at each
    judgement, 0-100 %, with the legend below."""
    shares = summary_shares(data, weighted=weighted)
    titles = [_clean(title) for _, _, title in data.columns]
    left = 16 + max([_text_width(t, 12) for t in titles] + [60])
    bar_w, bar_h, gap = 420.0, 22.0, 10.0
    top = 40.0
    rows = len(data.columns)
    axis_y = top + rows * (bar_h + gap) + 4
    legend_top = axis_y + 44
    width = left + bar_w + 32
    height = legend_top + 20 * (len(data.levels) + 1) + 16
    kind = "weighted summary" if weighted else "summary"
    layout = Layout(width, height, f"{data.tool.name} {kind} plot")
    layout.shapes.append(
        Text(
            left + bar_w / 2,
            20,
            "Share of studies" + (" (weighted)" if weighted else ""),
            13,
            "middle",
            True,
        )
    )
    for row, ((key, _, _), title) in enumerate(zip(data.columns, titles, strict=True)):
        y = top + row * (bar_h + gap)
        layout.shapes.append(Text(left - 8, y + bar_h / 2 + 4, title, 12, "end", key == OVERALL))
        x = left
        for value, _ in data.levels:
            share = shares[key].get(value, 0.0)
            if share <= 0:
                continue
            w = bar_w * share
            layout.shapes.append(Rect(x, y, w, bar_h, LEVEL_STYLE.get(value, (NONE, ""))[0]))
            x += w
        if x == left:
            layout.shapes.append(Rect(left, y, bar_w, bar_h, NONE))
        layout.shapes.append(Rect(left, y, bar_w, bar_h, "none", "#000000"))
    for tick in range(5):
        x = left + bar_w * tick / 4
        layout.shapes.append(Rect(x, axis_y, 1, 5, "#000000"))
        layout.shapes.append(Text(x, axis_y + 20, f"{tick * 25}%", 11, "middle"))
    _legend(layout, data, left, legend_top)
    return layout


# ---------------------------------------------------------------------------------------
# Writing


def _attr(value: str | float) -> str:
    text = f"{value:.1f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    return quoteattr(text)


def to_svg(layout: Layout) -> str:
    """The layout as a standalone SVG document: text escaped, no script, no style."""
    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" version="1.1" '
        f"width={_attr(layout.width)} height={_attr(layout.height)} "
        f'viewBox="0 0 {layout.width:.0f} {layout.height:.0f}" role="img" '
        f"font-family={_attr(FONT)}>",
        f"<title>{escape(_CONTROL.sub('', layout.title))}</title>",
        f'<rect x="0" y="0" width={_attr(layout.width)} height={_attr(layout.height)} '
        'fill="#FFFFFF"/>',
    ]
    for shape in layout.shapes:
        if isinstance(shape, Circle):
            out.append(
                f"<circle cx={_attr(shape.x)} cy={_attr(shape.y)} r={_attr(shape.r)} "
                f'fill={_attr(shape.fill)} stroke="#000000" stroke-width="0.5"/>'
            )
        elif isinstance(shape, Rect):
            stroke = f" stroke={_attr(shape.stroke)}" if shape.stroke else ""
            out.append(
                f"<rect x={_attr(shape.x)} y={_attr(shape.y)} width={_attr(shape.w)} "
                f"height={_attr(shape.h)} fill={_attr(shape.fill)}{stroke}/>"
            )
        else:
            weight = ' font-weight="bold"' if shape.bold else ""
            out.append(
                f"<text x={_attr(shape.x)} y={_attr(shape.y)} font-size={_attr(shape.size)} "
                f"text-anchor={_attr(shape.anchor)} fill={_attr(shape.fill)}{weight}>"
                f"{escape(_CONTROL.sub('', shape.text))}</text>"
            )
    out.append("</svg>")
    return "\n".join(out) + "\n"


_LOOKALIKES = {"–": "-", "—": "-", "…": "...", "\u00a0": " ", "’": "'", "‘": "'"}


def _drawable(text: str) -> str:
    """Pillow's built-in font is ASCII: accents dropped, look-alikes for dashes, else "?"."""
    out = []
    for char in _CONTROL.sub("", text):
        char = _LOOKALIKES.get(char, char)
        if len(char) == 1 and ord(char) > 126:
            char = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode() or "?"
        out.append(char)
    return "".join(out)


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def to_png(layout: Layout, *, scale: float = 2.0) -> bytes:
    """The layout drawn with Pillow at ``scale`` (2: sharp on screens and slides)."""
    size = (round(layout.width * scale), round(layout.height * scale))
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for shape in layout.shapes:
        if isinstance(shape, Circle):
            box = [
                (shape.x - shape.r) * scale,
                (shape.y - shape.r) * scale,
                (shape.x + shape.r) * scale,
                (shape.y + shape.r) * scale,
            ]
            draw.ellipse(box, fill=shape.fill, outline="#000000", width=1)
        elif isinstance(shape, Rect):
            box = [
                shape.x * scale,
                shape.y * scale,
                (shape.x + shape.w) * scale,
                (shape.y + shape.h) * scale,
            ]
            draw.rectangle(
                box,
                fill=None if shape.fill == "none" else shape.fill,
                outline=shape.stroke or None,
                width=1,
            )
        else:
            font = _font(max(round(shape.size * scale), 6))
            anchor = {"start": "ls", "middle": "ms", "end": "rs"}[shape.anchor]
            text = _drawable(shape.text)
            xy = (shape.x * scale, shape.y * scale)
            draw.text(xy, text, fill=shape.fill, font=font, anchor=anchor)
            if shape.bold:  # the built-in font has no bold face: overstrike
                draw.text(
                    (xy[0] + max(scale / 2, 1), xy[1]),
                    text,
                    fill=shape.fill,
                    font=font,
                    anchor=anchor,
                )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
