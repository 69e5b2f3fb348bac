"""The PRISMA 2020 flow diagram: counts, their arithmetic, layout, SVG/PDF/PNG and the
PRISMA2020 R package's CSV template. Pure Python (and Pillow for PNG), no database: the
caller computes a ``PrismaCounts`` and asks for a figure or a file.

    counts = PrismaCounts(database_results=320, duplicates=40, ...)
    problems = check(counts)        # [] when every box adds up
    svg = prisma_svg(counts)        # str; also prisma_pdf / prisma_png -> bytes
    text = to_csv(counts); counts == from_csv(text)

A diagram whose counts fail ``check`` is still drawn; as a ``draft`` (the page, or an export
an owner asks a draft of), the boxes concerned are framed in red with a red panel under it
naming each problem. A figure exported for a report never carries that panel.
"""

from __future__ import annotations

from .counts import PrismaCounts, Problem, check, in_progress
from .csvtemplate import from_csv, to_csv
from .layout import Arrow, Box, Layout, Line, build_layout
from .pdf import render_pdf
from .png import render_png
from .svg import render_svg

__all__ = [
    "Arrow",
    "Box",
    "Layout",
    "Line",
    "PrismaCounts",
    "Problem",
    "build_layout",
    "check",
    "from_csv",
    "in_progress",
    "prisma_pdf",
    "prisma_png",
    "prisma_svg",
    "render_pdf",
    "render_png",
    "render_svg",
    "to_csv",
]


def prisma_svg(counts: PrismaCounts, *, draft: bool = False) -> str:
    """The flow diagram of ``counts`` as an SVG document (``draft``: see ``build_layout``)."""
    return render_svg(build_layout(counts, draft=draft))


def prisma_pdf(counts: PrismaCounts, *, draft: bool = False) -> bytes:
    """The flow diagram of ``counts`` as a one-page PDF."""
    return render_pdf(build_layout(counts, draft=draft))


def prisma_png(
    counts: PrismaCounts,
    *,
    scale: float | None = None,
    font_path: str | None = None,
    draft: bool = False,
) -> bytes:
    """The flow diagram of ``counts`` as a PNG, print resolution unless ``scale`` is given."""
    return render_png(build_layout(counts, draft=draft), scale=scale, font_path=font_path)
