"""The forest and funnel plots as PNG and PDF, drawn with Pillow from the SVG ``plots.py``
writes.

That SVG is our own layout, in a closed vocabulary (``rect``, ``line``, ``polygon``,
``circle``, ``text`` with presentation attributes only, no transforms, no CSS), so it is
read back here as the list of shapes it is and painted with Pillow, as
``extraction/robplots.py`` paints the risk-of-bias plots: no SVG renderer or plotting library
is needed. An element outside that vocabulary is an error, not something silently dropped.

The PDF is the PNG at 300 dpi on a page of the plot's size (Pillow's PDF writer): exact to
the pixel, not selectable text. Pillow's built-in font is ASCII only, so "−", "τ", "²",
"←" are drawn as ASCII look-alikes ("-", "tau", "2", "<-").
"""

from __future__ import annotations

import io
import unicodedata
import xml.etree.ElementTree as ET  # noqa: S405 - types only; parsing goes through defusedxml
from functools import cache

from defusedxml import ElementTree as defused_et
from PIL import Image, ImageDraw, ImageFont

from .effects import SynthesisError

__all__ = ["svg_to_pdf", "svg_to_png"]

NS = "{http://www.w3.org/2000/svg}"
PDF_DPI = 300
_LOOKALIKES = {
    "−": "-",
    "–": "-",
    "—": "-",
    "…": "...",
    "τ": "tau",
    "²": "2",
    "←": "<-",
    "→": "->",
    "×": "x",
    "·": "-",
    "\u00a0": " ",
}


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _drawable(text: str) -> str:
    out = []
    for char in text:
        char = _LOOKALIKES.get(char, char)
        if len(char) == 1 and ord(char) > 126:
            char = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode() or "?"
        out.append(char)
    return "".join(out)


def _f(el: ET.Element, name: str, default: float = 0.0) -> float:
    value = el.get(name)
    return float(value) if value is not None and not value.endswith("%") else default


def _colour(value: str | None) -> str | None:
    return None if value in (None, "none") else value


def _dashed(
    draw: ImageDraw.ImageDraw,
    a: tuple[float, float],
    b: tuple[float, float],
    dash: list[float],
    fill: str,
    width: int,
) -> None:
    (x1, y1), (x2, y2) = a, b
    length = ((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5
    if length == 0:
        return
    ux, uy = (x2 - x1) / length, (y2 - y1) / length
    at, i = 0.0, 0
    while at < length:
        step = dash[i % len(dash)]
        if i % 2 == 0:
            end = min(at + step, length)
            draw.line([(x1 + ux * at, y1 + uy * at), (x1 + ux * end, y1 + uy * end)], fill, width)
        at += step
        i += 1


def _render(svg: str, scale: float) -> Image.Image:
    try:
        root = defused_et.fromstring(svg)  # our own output; defusedxml all the same
    except ET.ParseError as exc:
        raise SynthesisError(f"the plot is not valid SVG: {exc}") from None
    width, height = _f(root, "width"), _f(root, "height")
    image = Image.new("RGB", (round(width * scale), round(height * scale)), "white")
    draw = ImageDraw.Draw(image)

    def px(v: float) -> float:
        return v * scale

    for el in root:
        tag = el.tag.removeprefix(NS)
        stroke = _colour(el.get("stroke"))
        line_w = max(1, round(_f(el, "stroke-width", 1.0) * scale))
        if tag == "rect":
            if el.get("width", "").endswith("%"):
                continue  # the white background
            x, y = px(_f(el, "x")), px(_f(el, "y"))
            box = [x, y, x + px(_f(el, "width")), y + px(_f(el, "height"))]
            draw.rectangle(box, fill=_colour(el.get("fill")), outline=stroke, width=line_w)
        elif tag == "line":
            a = (px(_f(el, "x1")), px(_f(el, "y1")))
            b = (px(_f(el, "x2")), px(_f(el, "y2")))
            dash = el.get("stroke-dasharray")
            if dash:
                _dashed(draw, a, b, [px(float(d)) for d in dash.split()], stroke or "#000", line_w)
            else:
                draw.line([a, b], fill=stroke or "#000", width=line_w)
        elif tag == "polygon":
            points = [
                (px(float(x)), px(float(y)))
                for x, y in (p.split(",") for p in el.get("points", "").split())
            ]
            draw.polygon(points, fill=_colour(el.get("fill")), outline=stroke)
        elif tag == "circle":
            cx, cy, r = px(_f(el, "cx")), px(_f(el, "cy")), px(_f(el, "r"))
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=_colour(el.get("fill")))
        elif tag == "text":
            title = el.find(f"{NS}title")
            text = (title.tail if title is not None else el.text) or ""
            size = max(round(_f(el, "font-size", 11.0) * scale), 6)
            anchor = {"start": "ls", "middle": "ms", "end": "rs"}[el.get("text-anchor", "start")]
            xy = (px(_f(el, "x")), px(_f(el, "y")))
            shown = _drawable(text)
            draw.text(xy, shown, fill="#1b1b1b", font=_font(size), anchor=anchor)
            if el.get("font-weight") == "bold":  # the built-in font has no bold face
                draw.text(
                    (xy[0] + max(scale / 2, 1), xy[1]),
                    shown,
                    fill="#1b1b1b",
                    font=_font(size),
                    anchor=anchor,
                )
        else:
            raise SynthesisError(f"the plot has an element the renderer does not draw: <{tag}>")
    return image


def svg_to_png(svg: str, *, scale: float = 2.0) -> bytes:
    """A plot of ``plots.py`` as PNG (``scale`` 2: sharp on screens and slides)."""
    buffer = io.BytesIO()
    _render(svg, scale).save(buffer, format="PNG")
    return buffer.getvalue()


def svg_to_pdf(svg: str) -> bytes:
    """A plot of ``plots.py`` as a one-page PDF, the page the plot's size (at 300 dpi)."""
    buffer = io.BytesIO()
    _render(svg, PDF_DPI / 72).save(buffer, format="PDF", resolution=PDF_DPI)
    return buffer.getvalue()
