"""Text widths and line wrapping for the diagram, without any font file.

Widths are Helvetica's and Helvetica-Bold's advance widths (from Adobe's AFM files, in
1/1000 em), which the PDF uses as its font, which Arial and Liberation Sans (the fonts an
SVG viewer usually falls back to) share, and which the PNG renderer measures against its
own font before drawing. Characters beyond Latin get a generous estimate, so a box is never
too narrow for the text the layout put in it.
"""

from __future__ import annotations

import unicodedata

__all__ = ["NBSP", "text_width", "wrap"]

NBSP = "\u00a0"

_ASCII = "".join(chr(code) for code in range(32, 127))
_REGULAR = (
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
)  # fmt: skip
_BOLD = (
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
)  # fmt: skip
_WIDTHS = (dict(zip(_ASCII, _REGULAR, strict=True)), dict(zip(_ASCII, _BOLD, strict=True)))
_EXTRA = {NBSP: 278, "–": 556, "—": 1000, "−": 584, "•": 350, "…": 1000, "’": 222, "‘": 222}


def _char_width(char: str, bold: bool) -> int:
    table = _WIDTHS[bold]
    if char in table:
        return table[char]
    if char in _EXTRA:
        return _EXTRA[char]
    base = unicodedata.normalize("NFD", char)[0]
    if base in table:
        return table[base]
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return 1000
    return 778


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    """Advance width of ``text`` in points at ``size`` points."""
    return sum(_char_width(ch, bold) for ch in text) * size / 1000


def _split_long(word: str, width: float, size: float, bold: bool) -> list[str]:
    pieces, piece = [], ""
    for char in word:
        if piece and text_width(piece + char, size, bold=bold) > width:
            pieces.append(piece)
            piece = ""
        piece += char
    pieces.append(piece)
    return pieces


def wrap(text: str, width: float, size: float, *, bold: bool = False) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` at spaces (never at no-break
    spaces, which keep "(n = 123)" together); a word longer than a line is cut."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        if not word:
            continue
        candidate = f"{line} {word}" if line else word
        if text_width(candidate, size, bold=bold) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        if text_width(word, size, bold=bold) <= width:
            line = word
        else:
            *full, line = _split_long(word, width, size, bold)
            lines.extend(full)
    if line or not lines:
        lines.append(line)
    return lines
