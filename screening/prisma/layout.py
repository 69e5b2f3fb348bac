"""Where every box, line of text and arrow of a PRISMA 2020 flow diagram goes.

``build_layout(counts)`` is a pure function of the counts: the same counts give the same
layout, to the last decimal, and the SVG, PDF and PNG renderers only paint what it says.
Units are PostScript points (1/72 inch), origin top left, y downwards.

The four official templates come from two switches on the counts: ``updated`` adds the
"Previous studies" column and the total boxes, ``other_methods`` the "via other methods"
column. Rows are shared across columns (Identification; Screening in three steps;
Included), so a box and the box it flows into line up as in the official templates. A box
grows with its text; boxes on the main path of a row share one height.

In a draft (``build_layout(counts, draft=True)``), when ``check(counts)`` finds problems the
boxes concerned get a red frame and a red panel under the footnotes says what is wrong; a
figure for a report is drawn without them (the page and the API say what is wrong).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .counts import PrismaCounts, Problem, check
from .metrics import NBSP, text_width, wrap

__all__ = [
    "Arrow",
    "Box",
    "Layout",
    "Line",
    "TextRun",
    "arrow_geometry",
    "build_layout",
    "text_runs",
]

Style = Literal["heading", "normal", "side-label", "footnote", "warning"]
Point = tuple[float, float]

FONT = 9.0
HEADING_FONT = 10.0
FOOTNOTE_FONT = 7.5
LEADING = 1.25
PAD = 6.0
INDENT = 10.0
HANG = 8.0

MARGIN = 18.0
LABEL_W = 24.0
LABEL_GAP = 12.0
PREV_W = 150.0
MAIN_W = 150.0
SIDE_GAP = 30.0
SIDE_W = 160.0
COL_GAP = 28.0
HEADING_GAP = 14.0
ROW_GAP = 26.0
ARROW_HEAD = 7.0

WHITE = "#ffffff"
YELLOW = "#ffc125"  # the R package's Goldenrod1 for the databases-and-registers title
GREY = "#dcdcdc"  # Gainsboro, for the other titles
BLUE = "#bcd2ee"  # LightSteelBlue2, for the side labels
RED = "#c00000"
PINK = "#fdecea"
BLACK = "#000000"

UNKNOWN = "–"

FOOTNOTES = (
    "*Consider, if feasible to do so, reporting the number of records identified from each "
    "database or register searched (rather than the total number across all "
    "databases/registers).",
    "**If automation tools were used, indicate how many records were excluded by a human "
    "and how many were excluded by automation tools.",
)
WARNING_TITLE = "These counts do not add up; correct them before using this diagram:"

# Which box shows a field (the ``box`` column of the PRISMA2020 CSV template).
FIELD_BOX = {
    "previous_studies": "box1",
    "previous_reports": "box1",
    "database_results": "box2",
    "database_specific_results": "box2",
    "register_results": "box2",
    "register_specific_results": "box2",
    "duplicates": "box3",
    "excluded_automatic": "box3",
    "excluded_other": "box3",
    "records_screened": "box4",
    "records_excluded": "box5",
    "dbr_sought_reports": "box6",
    "dbr_notretrieved_reports": "box7",
    "dbr_assessed": "box8",
    "dbr_excluded": "box9",
    "dbr_included_reports": "box10",
    "new_studies": "box10",
    "new_reports": "box10",
    "other_included_reports": "box10",
    "website_results": "box11",
    "organisation_results": "box11",
    "citations_results": "box11",
    "other_sought_reports": "box12",
    "other_notretrieved_reports": "box13",
    "other_assessed": "box14",
    "other_excluded": "box15",
    "total_studies": "box16",
    "total_reports": "box16",
}


@dataclass(frozen=True)
class Line:
    """One line of a box's text, already wrapped; ``indent`` in points from the padding."""

    text: str
    indent: float = 0.0
    bold: bool = False


@dataclass(frozen=True)
class Box:
    """A rectangle with text. ``key`` is the template's box name (``box1``…``box16``,
    ``prevstud``, ``newstud``, ``othstud``, ``identification``, ``screening``,
    ``included``) or ``footnotes`` / ``warnings``."""

    key: str
    x: float
    y: float
    w: float
    h: float
    lines: tuple[Line, ...]
    style: Style
    font_size: float
    fill: str
    stroke: str | None = BLACK
    problem: bool = False

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


@dataclass(frozen=True)
class Arrow:
    """A polyline from the first point to the last, with an arrowhead at the last."""

    points: tuple[Point, ...]


@dataclass(frozen=True)
class Layout:
    width: float
    height: float
    boxes: tuple[Box, ...]
    arrows: tuple[Arrow, ...]
    problems: tuple[Problem, ...] = ()

    def box(self, key: str) -> Box:
        for box in self.boxes:
            if box.key == key:
                return box
        raise KeyError(key)

    @property
    def keys(self) -> list[str]:
        return [box.key for box in self.boxes]


@dataclass(frozen=True)
class TextRun:
    """A line of text to paint: ``(x, y)`` is on the baseline, at the start of the text
    (``anchor="start"``) or its middle; ``rotated`` text reads upwards from there."""

    x: float
    y: float
    text: str
    size: float
    bold: bool
    anchor: Literal["start", "middle"]
    rotated: bool
    color: str


@dataclass(frozen=True)
class _Para:
    text: str
    level: int = 0
    bold: bool = False
    hang: bool = False


def line_height(size: float) -> float:
    return size * LEADING


def text_runs(box: Box) -> list[TextRun]:
    """Where each line of ``box`` goes; every renderer paints exactly these."""
    size = box.font_size
    color = RED if box.style == "warning" else BLACK
    bold_style = box.style in ("heading", "side-label")
    if box.style == "side-label":
        # Reads bottom to top, centred; the glyphs extend left of the (vertical) baseline.
        return [
            TextRun(box.cx + 0.35 * size, box.cy, line.text, size, True, "middle", True, color)
            for line in box.lines
        ]
    step = line_height(size)
    top = box.y + (box.h - step * len(box.lines)) / 2
    runs = []
    for i, line in enumerate(box.lines):
        baseline = top + i * step + step / 2 + 0.35 * size
        if box.style == "heading":
            runs.append(TextRun(box.cx, baseline, line.text, size, True, "middle", False, color))
        else:
            x = box.x + PAD + line.indent
            bold = line.bold or bold_style
            runs.append(TextRun(x, baseline, line.text, size, bold, "start", False, color))
    return runs


def arrow_geometry(arrow: Arrow) -> tuple[list[Point], list[Point]]:
    """The shaft (stopping at the head's base, so it never pokes through the tip) and the
    head's triangle."""
    points = list(arrow.points)
    (x0, y0), (x1, y1) = points[-2], points[-1]
    length = ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5 or 1.0
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    bx, by = x1 - ux * ARROW_HEAD, y1 - uy * ARROW_HEAD
    half = ARROW_HEAD / 2
    head = [(x1, y1), (bx - uy * half, by + ux * half), (bx + uy * half, by - ux * half)]
    return points[:-1] + [(bx, by)], head


def _clean(text: str) -> str:
    """User text (database names, reasons) as one printable line."""
    out = []
    for char in str(text):
        code = ord(char)
        if code < 0x20 or 0x7F <= code < 0xA0:
            out.append(" ")
        elif 0xD800 <= code < 0xE000 or code in (0xFFFE, 0xFFFF):
            out.append("\ufffd")
        else:
            out.append(char)
    return " ".join("".join(out).split())


def _n(value: int | None) -> str:
    shown = UNKNOWN if value is None else str(value)
    return f"(n{NBSP}={NBSP}{shown})"


def _lines(paras: Iterable[_Para], width: float, size: float) -> tuple[Line, ...]:
    """Wrap each paragraph to the box; a hanging paragraph indents its later lines."""
    lines: list[Line] = []
    for para in paras:
        indent = para.level * INDENT
        room = width - 2 * PAD - indent
        text = para.text.strip()
        first, *rest = wrap(text, room, size, bold=para.bold)
        extra = HANG if para.hang else 0.0
        if rest and para.hang:
            # Re-wrap what follows the first line to the narrower, indented width.
            rest = wrap(text[len(first) :], room - extra, size, bold=para.bold)
        for i, line in enumerate([first, *rest]):
            lines.append(Line(line.replace(NBSP, " "), indent + (extra if i else 0.0), para.bold))
    return tuple(lines)


def _text_height(lines: Sequence[Line], size: float) -> float:
    return len(lines) * line_height(size) + 2 * PAD


def _named(items: Sequence[tuple[str, int]], level: int) -> list[_Para]:
    return [_Para(f"{_clean(name)} {_n(n)}", level, hang=True) for name, n in items]


def _contents(c: PrismaCounts) -> dict[str, list[_Para]]:
    """The official wording of every numbered box, by template box name."""
    new = "New studies included in review" if c.updated else "Studies included in review"
    new_reports = "Reports of new included studies" if c.updated else "Reports of included studies"
    excluded_dbr = [_Para("Reports excluded:")] + _named(c.dbr_excluded, 1)
    if not c.dbr_excluded:
        excluded_dbr = [_Para(f"Reports excluded {_n(0)}")]
    excluded_other = [_Para("Reports excluded:")] + _named(c.other_excluded, 1)
    if not c.other_excluded:
        excluded_other = [_Para(f"Reports excluded {_n(0)}")]
    return {
        "box1": [
            _Para(f"Studies included in previous version of review {_n(c.previous_studies)}"),
            _Para(
                "Reports of studies included in previous version of review "
                f"{_n(c.previous_reports)}"
            ),
        ],
        "box2": [
            _Para("Records identified from*:"),
            _Para(f"Databases {_n(c.database_results)}", 1, hang=True),
            *_named(c.database_specific_results, 2),
            _Para(f"Registers {_n(c.register_results)}", 1, hang=True),
            *_named(c.register_specific_results, 2),
        ],
        "box3": [
            _Para("Records removed before screening:"),
            _Para(f"Duplicate records removed {_n(c.duplicates)}", 1, hang=True),
            _Para(
                f"Records marked as ineligible by automation tools {_n(c.excluded_automatic)}",
                1,
                hang=True,
            ),
            _Para(f"Records removed for other reasons {_n(c.excluded_other)}", 1, hang=True),
        ],
        "box4": [_Para(f"Records screened {_n(c.records_screened)}")],
        "box5": [_Para(f"Records excluded** {_n(c.records_excluded)}")],
        "box6": [_Para(f"Reports sought for retrieval {_n(c.dbr_sought_reports)}")],
        "box7": [_Para(f"Reports not retrieved {_n(c.dbr_notretrieved_reports)}")],
        "box8": [_Para(f"Reports assessed for eligibility {_n(c.dbr_assessed)}")],
        "box9": excluded_dbr,
        "box10": [
            _Para(f"{new} {_n(c.new_studies)}"),
            _Para(f"{new_reports} {_n(c.new_reports)}"),
        ],
        "box11": [
            _Para("Records identified from:"),
            _Para(f"Websites {_n(c.website_results)}", 1, hang=True),
            _Para(f"Organisations {_n(c.organisation_results)}", 1, hang=True),
            _Para(f"Citation searching {_n(c.citations_results)}", 1, hang=True),
        ],
        "box12": [_Para(f"Reports sought for retrieval {_n(c.other_sought_reports)}")],
        "box13": [_Para(f"Reports not retrieved {_n(c.other_notretrieved_reports)}")],
        "box14": [_Para(f"Reports assessed for eligibility {_n(c.other_assessed)}")],
        "box15": excluded_other,
        "box16": [
            _Para(f"Total studies included in review {_n(c.total_studies)}"),
            _Para(f"Reports of total included studies {_n(c.total_reports)}"),
        ],
    }


@dataclass(frozen=True)
class _Columns:
    """Left edges of the columns; ``*_side`` is the column of boxes an arrow points out to."""

    label: float
    previous: float
    dbr: float
    dbr_side: float
    other: float
    other_side: float
    width: float

    @classmethod
    def for_counts(cls, counts: PrismaCounts) -> _Columns:
        label = MARGIN
        previous = label + LABEL_W + LABEL_GAP
        dbr = previous + (PREV_W + COL_GAP if counts.updated else 0.0)
        dbr_side = dbr + MAIN_W + SIDE_GAP
        other = dbr_side + SIDE_W + COL_GAP
        other_side = other + MAIN_W + SIDE_GAP
        right = other_side + SIDE_W if counts.other_methods else dbr_side + SIDE_W
        return cls(label, previous, dbr, dbr_side, other, other_side, right + MARGIN)


@dataclass
class _Row:
    """Boxes sharing a band: (key, x, width, is_main). Main boxes share one height."""

    slots: list[tuple[str, float, float, bool]] = field(default_factory=list)
    min_height: float = 0.0


HEADINGS = {
    "prevstud": "Previous studies",
    "newstud": "Identification of new studies via databases and registers",
    "othstud": "Identification of new studies via other methods",
}


def _headings(counts: PrismaCounts, cols: _Columns) -> list[Box]:
    """The column titles, one height for all."""
    titles = [("newstud", cols.dbr, cols.dbr_side + SIDE_W - cols.dbr, YELLOW)]
    if counts.updated:
        titles.insert(0, ("prevstud", cols.previous, PREV_W, GREY))
    if counts.other_methods:
        titles.append(("othstud", cols.other, cols.other_side + SIDE_W - cols.other, GREY))
    lines = {
        key: _lines([_Para(HEADINGS[key], bold=True)], w, HEADING_FONT) for key, _, w, _ in titles
    }
    height = max(_text_height(text, HEADING_FONT) for text in lines.values())
    return [
        Box(key, x, MARGIN, w, height, lines[key], "heading", HEADING_FONT, fill)
        for key, x, w, fill in titles
    ]


def _rows(counts: PrismaCounts, cols: _Columns) -> list[_Row]:
    """Identification; screening, retrieval, eligibility; included (and total)."""
    rows = [_Row(), _Row(), _Row(), _Row(), _Row()]
    if counts.updated:
        rows[0].slots.append(("box1", cols.previous, PREV_W, True))
    rows[0].slots += [("box2", cols.dbr, MAIN_W, True), ("box3", cols.dbr_side, SIDE_W, False)]
    rows[1].slots += [("box4", cols.dbr, MAIN_W, True), ("box5", cols.dbr_side, SIDE_W, False)]
    rows[2].slots += [("box6", cols.dbr, MAIN_W, True), ("box7", cols.dbr_side, SIDE_W, False)]
    rows[3].slots += [("box8", cols.dbr, MAIN_W, True), ("box9", cols.dbr_side, SIDE_W, False)]
    rows[4].slots.append(("box10", cols.dbr, MAIN_W, True))
    if counts.other_methods:
        rows[0].slots.append(("box11", cols.other, MAIN_W, True))
        rows[2].slots += [
            ("box12", cols.other, MAIN_W, True),
            ("box13", cols.other_side, SIDE_W, False),
        ]
        rows[3].slots += [
            ("box14", cols.other, MAIN_W, True),
            ("box15", cols.other_side, SIDE_W, False),
        ]
    if counts.updated:
        rows.append(_Row([("box16", cols.dbr, MAIN_W, True)]))
    return rows


def _grid(
    counts: PrismaCounts, cols: _Columns, top: float, flagged: set[str]
) -> tuple[list[Box], float]:
    """The numbered boxes row by row, and the side labels beside their rows."""
    rows = _rows(counts, cols)
    contents = _contents(counts)
    texts = {key: _lines(contents[key], w, FONT) for row in rows for key, _, w, _ in row.slots}
    # Like the official templates, main-path boxes are never shorter than two lines.
    main_min = 2 * line_height(FONT) + 2 * PAD

    def heights(row: _Row) -> tuple[float, float]:
        main = max([_text_height(texts[k], FONT) for k, _, _, m in row.slots if m] + [0.0])
        main = max(main, row.min_height, main_min)
        side = max([_text_height(texts[k], FONT) for k, _, _, m in row.slots if not m] + [0.0])
        return main, max(main, side)

    # The rotated side labels need their rows to be at least as tall as their words.
    spans = [
        ("identification", "Identification", rows[0:1]),
        ("screening", "Screening", rows[1:4]),
        ("included", "Included", rows[4:]),
    ]
    for _, word, span in spans:
        needed = text_width(word, HEADING_FONT, bold=True) + 2 * PAD
        have = sum(heights(r)[1] for r in span) + ROW_GAP * (len(span) - 1)
        if have < needed:
            span[0].min_height = heights(span[0])[1] + needed - have

    boxes: list[Box] = []
    bands: list[tuple[float, float]] = []
    y = top
    for row in rows:
        main_h, row_h = heights(row)
        for key, x, w, is_main in row.slots:
            h = main_h if is_main else _text_height(texts[key], FONT)
            stroke = RED if key in flagged else BLACK
            boxes.append(
                Box(
                    key,
                    x,
                    y + (row_h - h) / 2,
                    w,
                    h,
                    texts[key],
                    "normal",
                    FONT,
                    WHITE,
                    stroke,
                    key in flagged,
                )
            )
        bands.append((y, y + row_h))
        y += row_h + ROW_GAP

    first = 0
    for key, word, span in spans:
        label_top, label_bottom = bands[first][0], bands[first + len(span) - 1][1]
        label = (Line(word, 0.0, True),)
        boxes.append(
            Box(
                key,
                cols.label,
                label_top,
                LABEL_W,
                label_bottom - label_top,
                label,
                "side-label",
                HEADING_FONT,
                BLUE,
            )
        )
        first += len(span)
    return boxes, y - ROW_GAP


def _notes(width: float, top: float, problems: Sequence[Problem]) -> tuple[list[Box], float]:
    """The two footnotes, and the red panel listing the problems when there are any."""
    boxes: list[Box] = []
    y = top + 16.0
    note_w = width - 2 * MARGIN
    notes = _lines([_Para(t, hang=True) for t in FOOTNOTES], note_w, FOOTNOTE_FONT)
    note_h = _text_height(notes, FOOTNOTE_FONT)
    boxes.append(
        Box("footnotes", MARGIN, y, note_w, note_h, notes, "footnote", FOOTNOTE_FONT, WHITE, None)
    )
    y += note_h
    if problems:
        y += 8.0
        paras = [_Para(WARNING_TITLE, bold=True)]
        paras += [_Para(f"• {_clean(p.message)}", hang=True) for p in problems]
        warn = _lines(paras, note_w, FONT)
        warn_h = _text_height(warn, FONT)
        boxes.append(
            Box("warnings", MARGIN, y, note_w, warn_h, warn, "warning", FONT, PINK, RED, True)
        )
        y += warn_h
    return boxes, y


def build_layout(counts: PrismaCounts, *, draft: bool = False) -> Layout:
    """The diagram for ``counts``: the template chosen by ``updated`` and ``other_methods``.
    A ``draft`` (the page, or an export an owner asks a draft of) frames the boxes that do
    not add up in red, with a red panel naming each problem (``check``); a figure for a
    report never carries them."""
    problems = tuple(check(counts)) if draft else ()
    flagged = {FIELD_BOX[p.box] for p in problems if p.box in FIELD_BOX}
    cols = _Columns.for_counts(counts)
    boxes = _headings(counts, cols)
    grid, y = _grid(counts, cols, boxes[0].bottom + HEADING_GAP, flagged)
    notes, y = _notes(cols.width, y, problems)
    boxes += grid + notes
    arrows = _arrows({box.key: box for box in boxes}, counts)
    return Layout(round(cols.width, 2), round(y + MARGIN, 2), tuple(boxes), tuple(arrows), problems)


def _down(a: Box, b: Box) -> Arrow:
    return Arrow(((a.cx, a.bottom), (a.cx, b.y)))


def _across(a: Box, b: Box) -> Arrow:
    y = (max(a.y, b.y) + min(a.bottom, b.bottom)) / 2
    return Arrow(((a.right, y), (b.x, y)))


def _arrows(box: dict[str, Box], counts: PrismaCounts) -> list[Arrow]:
    arrows = [
        _down(box["box2"], box["box4"]),
        _across(box["box2"], box["box3"]),
        _down(box["box4"], box["box6"]),
        _across(box["box4"], box["box5"]),
        _down(box["box6"], box["box8"]),
        _across(box["box6"], box["box7"]),
        _down(box["box8"], box["box10"]),
        _across(box["box8"], box["box9"]),
    ]
    if counts.other_methods:
        assessed, included = box["box14"], box["box10"]
        arrows += [
            _down(box["box11"], box["box12"]),
            _down(box["box12"], box["box14"]),
            _across(box["box12"], box["box13"]),
            _across(box["box14"], box["box15"]),
            Arrow(
                (
                    (assessed.cx, assessed.bottom),
                    (assessed.cx, included.cy),
                    (included.right, included.cy),
                )
            ),
        ]
    if counts.updated:
        previous, total = box["box1"], box["box16"]
        arrows += [
            _down(box["box10"], total),
            Arrow(((previous.cx, previous.bottom), (previous.cx, total.cy), (total.x, total.cy))),
        ]
    return arrows
