"""The diagram as SVG: real ``<text>`` elements (selectable, searchable, translatable by a
browser), every piece of text escaped, sized in points so it prints at the PDF's size."""

from __future__ import annotations

from html import escape

from .layout import Box, Layout, arrow_geometry, text_runs

__all__ = ["render_svg"]

FONT_FAMILY = "Helvetica, Arial, 'Liberation Sans', sans-serif"


def _num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _points(points: list[tuple[float, float]]) -> str:
    return " ".join(f"{_num(x)},{_num(y)}" for x, y in points)


def _box(box: Box) -> list[str]:
    out = [f'<g class="{box.style}" data-box="{escape(box.key)}">']
    if box.stroke is not None or box.fill != "#ffffff":
        stroke = box.stroke or "none"
        width = 1.5 if box.problem else 0.8
        radius = ' rx="5"' if box.style == "side-label" else ""
        out.append(
            f'<rect x="{_num(box.x)}" y="{_num(box.y)}" width="{_num(box.w)}" '
            f'height="{_num(box.h)}"{radius} fill="{box.fill}" stroke="{stroke}" '
            f'stroke-width="{width}"/>'
        )
    for run in text_runs(box):
        attrs = f'x="{_num(run.x)}" y="{_num(run.y)}" font-size="{_num(run.size)}"'
        if run.bold:
            attrs += ' font-weight="bold"'
        if run.anchor == "middle":
            attrs += ' text-anchor="middle"'
        if run.rotated:
            attrs += f' transform="rotate(-90 {_num(run.x)} {_num(run.y)})"'
        if run.color != "#000000":
            attrs += f' fill="{run.color}"'
        out.append(f"<text {attrs}>{escape(run.text)}</text>")
    out.append("</g>")
    return out


def render_svg(layout: Layout) -> str:
    """A standalone SVG document of ``layout``."""
    w, h = _num(layout.width), _num(layout.height)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}pt" height="{h}pt" '
        f'viewBox="0 0 {w} {h}" font-family="{FONT_FAMILY}" role="img">',
        "<title>PRISMA 2020 flow diagram</title>",
        f'<rect width="{w}" height="{h}" fill="#ffffff"/>',
    ]
    for box in layout.boxes:
        out.extend(_box(box))
    out.append('<g class="arrows" stroke="#000000" stroke-width="0.8" fill="#000000">')
    for arrow in layout.arrows:
        shaft, head = arrow_geometry(arrow)
        out.append(f'<polyline points="{_points(shaft)}" fill="none"/>')
        out.append(f'<polygon points="{_points(head)}" stroke="none"/>')
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
