"""The diagram as a print-resolution PNG, drawn with Pillow and the font Pillow ships
(``ImageFont.load_default(size=…)``, FreeType), so no system font or library is needed.

Pillow's font is not Helvetica: a line the layout fitted with Helvetica's widths is drawn a
little smaller if Pillow's font would make it overflow its box. And it is a small subset
(ASCII and a few marks, no accented letters): a character it lacks is drawn as its
unaccented letter ("é" → "e"), an ASCII look-alike ("–" → "-") or "?", never as an empty
box. Pass ``font_path`` (any TrueType/OpenType file, e.g. DejaVu Sans) to draw every
character as typed.
"""

from __future__ import annotations

import io
import math
import unicodedata
from functools import cache

from PIL import Image, ImageDraw, ImageFont

from .layout import PAD, Box, Layout, TextRun, arrow_geometry, text_runs

__all__ = ["PRINT_WIDTH_PX", "render_png"]

PRINT_DPI = 300
# An A4-wide figure (8.27 in) at 300 dpi.
PRINT_WIDTH_PX = 2481


Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
_LOOKALIKES = {"–": "-", "—": "-", "−": "-", "•": "-", "\u00a0": " ", "€": "EUR"}


@cache
def _font(path: str | None, size: int) -> Font:
    if path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size)


def _ink(font: Font, char: str) -> tuple[tuple[int, int], bytes]:
    mask = font.getmask(char)
    return mask.size, bytes(mask)


@cache
def _has_glyph(path: str | None, char: str) -> bool:
    if char == " ":
        return True
    font = _font(path, 24)
    # A character the font lacks is drawn as the font's "missing" glyph: compare with a
    # code point no font has.
    return _ink(font, char) != _ink(font, "\U0010fffd")


def _drawable(text: str, path: str | None) -> str:
    out = []
    for char in text:
        if _has_glyph(path, char):
            out.append(char)
            continue
        bare = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        if bare and all(_has_glyph(path, c) for c in bare):
            out.append(bare)
        elif char in _LOOKALIKES:
            out.append(_LOOKALIKES[char])
        else:
            out.append("?")
    return "".join(out)


def _rgb(colour: str) -> tuple[int, int, int]:
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))


class _Canvas:
    def __init__(self, layout: Layout, scale: float, font_path: str | None) -> None:
        self.scale = scale
        self.font_path = font_path
        size = (round(layout.width * scale), round(layout.height * scale))
        self.image = Image.new("RGB", size, "white")
        self.draw = ImageDraw.Draw(self.image)

    def px(self, value: float) -> int:
        return round(value * self.scale)

    def xy(self, x: float, y: float) -> tuple[int, int]:
        return (self.px(x), self.px(y))

    def box(self, box: Box) -> None:
        if box.stroke is None and box.fill == "#ffffff":
            return
        corners = (self.xy(box.x, box.y), self.xy(box.right, box.bottom))
        outline = _rgb(box.stroke) if box.stroke else None
        width = max(1, self.px(1.5 if box.problem else 0.8))
        radius = self.px(5.0) if box.style == "side-label" else 0
        self.draw.rounded_rectangle(
            corners, radius=radius, fill=_rgb(box.fill), outline=outline, width=width
        )

    def fitted_font(self, text: str, size_pt: float, room: float) -> Font:
        size = self.px(size_pt)
        font = _font(self.font_path, size)
        length = self.draw.textlength(text, font=font)
        if length > room * self.scale:
            font = _font(self.font_path, max(1, int(size * room * self.scale / length)))
        return font

    def text(self, box: Box) -> None:
        for run in text_runs(box):
            # Pillow's font has no bold: a thin stroke in the text colour stands in for it.
            stroke = max(1, self.px(run.size * 0.035)) if run.bold else 0
            colour = _rgb(run.color)
            text = _drawable(run.text, self.font_path)
            if run.rotated:
                self.rotated(text, run, box, colour, stroke)
                continue
            room = box.right - PAD - run.x if run.anchor == "start" else box.w - 2 * PAD
            font = self.fitted_font(text, run.size, room)
            anchor = "ls" if run.anchor == "start" else "ms"
            self.draw.text(
                self.xy(run.x, run.y),
                text,
                fill=colour,
                font=font,
                anchor=anchor,
                stroke_width=stroke,
                stroke_fill=colour,
            )

    def rotated(
        self, text: str, run: TextRun, box: Box, colour: tuple[int, int, int], stroke: int
    ) -> None:
        font = self.fitted_font(text, run.size, box.h - 2 * PAD)
        bbox = font.getbbox(text, anchor="ms", stroke_width=stroke)
        left, top = math.floor(bbox[0]), math.floor(bbox[1])
        right, bottom = math.ceil(bbox[2]), math.ceil(bbox[3])
        strip = Image.new("L", (right - left, bottom - top), 0)
        ImageDraw.Draw(strip).text(
            (-left, -top),
            text,
            fill=255,
            font=font,
            anchor="ms",
            stroke_width=stroke,
            stroke_fill=255,
        )
        strip = strip.rotate(90, expand=True)
        # After a quarter turn anticlockwise the baseline point (0, 0) of the strip lands at
        # (-top, right) in the rotated strip's own pixels.
        x, y = self.xy(run.x, run.y)
        ink = Image.new("RGB", strip.size, colour)
        self.image.paste(ink, (x + top, y - right), strip)

    def arrow(self, shaft: list[tuple[float, float]], head: list[tuple[float, float]]) -> None:
        width = max(1, self.px(0.8))
        self.draw.line(
            [self.xy(x, y) for x, y in shaft], fill=(0, 0, 0), width=width, joint="curve"
        )
        self.draw.polygon([self.xy(x, y) for x, y in head], fill=(0, 0, 0))


def render_png(
    layout: Layout, *, scale: float | None = None, font_path: str | None = None
) -> bytes:
    """A PNG of ``layout`` at ``scale`` pixels per point. The default is print quality:
    at least 300 dpi and at least as wide as an A4-wide figure at 300 dpi (2481 px).
    ``font_path`` replaces Pillow's bundled font (see the module docstring)."""
    if scale is None:
        scale = max(PRINT_DPI / 72, PRINT_WIDTH_PX / layout.width)
    canvas = _Canvas(layout, scale, font_path)
    for box in layout.boxes:
        canvas.box(box)
    for arrow in layout.arrows:
        canvas.arrow(*arrow_geometry(arrow))
    for box in layout.boxes:
        canvas.text(box)
    buffer = io.BytesIO()
    dpi = round(scale * 72)
    canvas.image.save(buffer, format="PNG", dpi=(dpi, dpi))
    return buffer.getvalue()
