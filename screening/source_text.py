"""Titles and abstracts shown as the source meant them: a few publisher tags as formatting.

Pure Python (no Django, no ORM). A stored title or abstract is *source text*: characters
(the importers decode entities), in which publishers leave a small set of tags. This module
reads such text into text runs and the tags it knows, and renders HTML in which:

- only these exact tag forms become formatting, case-insensitive and without attributes:
  ``<i> <em> <b> <strong> <u> <sup> <sub>``, ``<sc>`` / ``<smallcaps>`` (a span styled in
  small capitals), the same in JATS (``<jats:italic>``, ``<jats:bold>``, ``<jats:sup>``,
  ``<jats:sub>``, ``<jats:underline>``, ``<jats:sc>``), ``<br>`` / ``<br/>`` (a line break)
  and ``<p>`` / ``</p>`` / ``<jats:p>`` (a paragraph break in an abstract, a space in a
  title);
- an opening tag counts only with its closing tag, properly nested; an unmatched or crossed
  tag, a tag with attributes (``<i onclick=…>``), any other tag (``<script>``, ``<img>``)
  and every other ``<`` (``p < 0.05``) stay text and show as typed;
- an entity left in the text (``&lt;``, ``&amp;``, ``&#x2009;``: older imports,
  double-encoded sources) shows as its character, as text: ``&lt;i&gt;`` shows ``<i>``;
- highlight marks (positions in :attr:`Parsed.plain`) wrap text only, never a tag, and are
  split around the formatting they cross;
- an abstract is split into paragraphs: at blank lines and paragraph tags, and before each
  label of a structured abstract (MEDLINE's ``BACKGROUND:``, ``METHODS:``…; see
  :func:`abstract_sections`), whose label is shown in bold.

The HTML is built from escaped text and fixed tags, then passed through ``nh3`` (ammonia's
allow-list sanitiser) with the same allow-list, so no other tag or attribute can reach a
page even through a bug here. Exports never go through this module: they keep the source.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html.entities import html5 as html5_entities

import nh3

__all__ = [
    "Parsed",
    "abstract_sections",
    "parse",
    "render_abstract",
    "render_inline",
    "truncate",
]

# Source tag name -> (HTML element, class). Paired tags only.
_INLINE: dict[str, tuple[str, str]] = {
    "i": ("i", ""),
    "em": ("em", ""),
    "b": ("b", ""),
    "strong": ("strong", ""),
    "u": ("u", ""),
    "sup": ("sup", ""),
    "sub": ("sub", ""),
    "sc": ("span", "smallcaps"),
    "smallcaps": ("span", "smallcaps"),
    "jats:italic": ("i", ""),
    "jats:bold": ("b", ""),
    "jats:underline": ("u", ""),
    "jats:sup": ("sup", ""),
    "jats:sub": ("sub", ""),
    "jats:sc": ("span", "smallcaps"),
}
_BREAKS = {"br": "line", "p": "paragraph", "jats:p": "paragraph"}

# Exact forms only: "<i>", "</I>", "<br/>", "<br />". Attributes are not part of a form.
_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z:]*)(\s*/)?>")
# Entities with their semicolon only: "AT&T" and "&para" in a word stay as typed.
_ENTITY_RE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")

# The classes a rendered fragment may carry, per element (checked again by nh3).
_CLASSES = {
    "mark": {"hl-include", "hl-exclude"},
    "span": {"smallcaps"},
    "strong": {"abstract-label"},
    "p": {"abstract-section"},
}
_ALLOWED_TAGS = {"i", "em", "b", "strong", "u", "sup", "sub", "span", "br", "mark", "p"}


@dataclass(frozen=True, slots=True)
class _Open:
    element: str
    css_class: str
    at: int  # position in the plain text


@dataclass(frozen=True, slots=True)
class _Close:
    element: str
    at: int


@dataclass(frozen=True, slots=True)
class _Break:
    kind: str  # "line" or "paragraph"
    at: int


_Event = _Open | _Close | _Break


@dataclass(frozen=True, slots=True)
class Parsed:
    """Source text read: ``plain`` is what a reader reads (tags out, entities decoded);
    ``events`` are the recognised tags, each at its position in ``plain``.

    A line break stands in ``plain`` as ``"\\n"`` and a paragraph break as ``"\\n\\n"``, so
    a highlight term still matches across them, as across any whitespace.
    """

    plain: str
    events: tuple[_Event, ...]


def _entity(match: re.Match[str]) -> str:
    reference = match.group()
    if reference[1] == "#":
        return html.unescape(reference)
    # Whole names only: html.unescape would read "&notit;" as "¬it;" (legacy prefixes).
    return html5_entities.get(reference[1:], reference)


def _decode(text: str) -> str:
    return _ENTITY_RE.sub(_entity, text) if "&" in text else text


def parse(text: str) -> Parsed:
    """Read source text; see the module docstring for what becomes formatting."""
    if "<" not in text:
        return Parsed(_decode(text), ())
    # First pass: which tags are matched. A closing tag closes the nearest open tag of its
    # name; the tags opened after that one and not closed are unmatched.
    found = list(_TAG_RE.finditer(text))
    matched: set[int] = set()
    stack: list[tuple[str, int]] = []
    for index, tag in enumerate(found):
        closing, name, slash = tag.group(1), tag.group(2).lower(), tag.group(3)
        if name in _BREAKS:
            if name == "br" and closing:
                continue
            if name != "br" and slash:
                continue
            matched.add(index)
        elif name in _INLINE and not slash:
            if not closing:
                stack.append((name, index))
                continue
            for depth in range(len(stack) - 1, -1, -1):
                if stack[depth][0] == name:
                    matched.update((stack[depth][1], index))
                    del stack[depth:]
                    break
    # Second pass: plain text and events.
    plain: list[str] = []
    length = 0
    events: list[_Event] = []
    position = 0
    for index, tag in enumerate(found):
        if index not in matched:
            continue
        chunk = _decode(text[position : tag.start()])
        plain.append(chunk)
        length += len(chunk)
        position = tag.end()
        name = tag.group(2).lower()
        if name in _BREAKS:
            kind = _BREAKS[name]
            events.append(_Break(kind, length))
            gap = "\n" if kind == "line" else "\n\n"
            plain.append(gap)
            length += len(gap)
        elif tag.group(1):
            events.append(_Close(_INLINE[name][0], length))
        else:
            events.append(_Open(*_INLINE[name], length))
    plain.append(_decode(text[position:]))
    return Parsed("".join(plain), tuple(events))


# A structured abstract's label: capitals (words, "AND", commas, "/", "&", hyphens) and a
# colon, at the start, after a sentence end or on a new line. MEDLINE writes them so; the
# same labels in title case (Scopus, Embase) only from a list, since "Note:" may be text.
_LABEL_RE = re.compile(
    r"(?:^|(?<=[.!?)\]]\s)|(?<=[.!?)\]]\s\s)|(?<=\n))"
    r"(?P<label>[A-Z][A-Z'&/,()-]*(?: [A-Z'&/,()-]+){0,7}"
    r"|(?:Background|Context|Introduction|Importance|Objectives?|Aims?|Purpose|Design"
    r"|Setting|Participants|Patients|Interventions?|Methods?|Materials and methods"
    r"|Measurements|Main outcome measures|Results|Findings|Conclusions?|Interpretation"
    r"|Discussion|Limitations|Trial registration|Registration|Funding)):(?=\s)"
)
_MIN_LABEL_LETTERS = 3


def abstract_sections(plain: str) -> list[tuple[int, int, int]]:
    """The structured abstract's sections as ``(start, label_end, end)`` positions in
    ``plain`` (the label is ``plain[start:label_end]``, colon included); ``[]`` when the
    text is not a structured abstract.

    A text is structured when it has two labels, or starts with one: a single capitalised
    word and a colon in the middle of a text ("HIV: …") is not a heading.
    """
    found: list[tuple[int, int]] = []
    for match in _LABEL_RE.finditer(plain):
        label = match.group("label")
        if sum(c.isalpha() for c in label) < _MIN_LABEL_LETTERS:
            continue
        found.append((match.start("label"), match.end("label") + 1))
    if not found or (len(found) == 1 and plain[: found[0][0]].strip()):
        return []
    ends = [start for start, _ in found[1:]] + [len(plain)]
    return [(start, label_end, end) for (start, label_end), end in zip(found, ends, strict=True)]


_Mark = tuple[int, int, str]


class _Writer:
    """Writes text runs with marks and source formatting, opening a tag only when text
    follows it (no empty elements), and cuts paragraphs without breaking the nesting."""

    def __init__(self, plain: str, marks: Sequence[_Mark]) -> None:
        self.plain = plain
        self.marks = sorted(marks)
        self.next_mark = 0
        self.out: list[str] = []
        self.stack: list[tuple[_Open, bool]] = []  # open source tags; written yet?
        self.label: tuple[int, int] | None = None

    def _open_pending(self) -> None:
        for depth, (tag, written) in enumerate(self.stack):
            if not written:
                self.out.append(_start_tag(tag.element, tag.css_class))
                self.stack[depth] = (tag, True)

    def text(self, start: int, end: int) -> None:
        """Write ``plain[start:end]``, marked where marks fall, the label in bold."""
        if start >= end:
            return
        self._open_pending()
        # Text is written in order and marks do not overlap: the marks before this run are
        # done with, so a text with many tags and many marks stays linear.
        while self.next_mark < len(self.marks) and self.marks[self.next_mark][1] <= start:
            self.next_mark += 1
        near = []
        index = self.next_mark
        while index < len(self.marks) and self.marks[index][0] < end:
            near.append(self.marks[index])
            index += 1
        cuts = {start, end}
        for mark_start, mark_end, _ in near:
            cuts.update(p for p in (mark_start, mark_end) if start < p < end)
        if self.label is not None:
            cuts.update(p for p in self.label if start < p < end)
        points = sorted(cuts)
        current = 0
        for left, right in zip(points, points[1:], strict=False):
            piece = html.escape(self.plain[left:right], quote=False)
            while current < len(near) and near[current][1] <= left:
                current += 1
            kind = None
            if current < len(near) and near[current][0] <= left:
                kind = near[current][2]
            if kind is not None:
                piece = f'<mark class="hl-{kind}">{piece}</mark>'
            if self.label is not None and self.label[0] <= left and right <= self.label[1]:
                piece = f'<strong class="abstract-label">{piece}</strong>'
            self.out.append(piece)

    def line_break(self) -> None:
        self._open_pending()
        self.out.append("<br>")

    def open(self, tag: _Open) -> None:
        self.stack.append((tag, False))

    def close(self) -> None:
        tag, written = self.stack.pop()
        if written:
            self.out.append(f"</{tag.element}>")

    def close_all(self) -> None:
        for tag, written in reversed(self.stack):
            if written:
                self.out.append(f"</{tag.element}>")
        self.stack = [(tag, False) for tag, _ in self.stack]


def _start_tag(element: str, css_class: str) -> str:
    return f'<{element} class="{css_class}">' if css_class else f"<{element}>"


def _sanitise(fragment: str) -> str:
    return nh3.clean(
        fragment,
        tags=_ALLOWED_TAGS,
        attributes={},
        allowed_classes=_CLASSES,
        strip_comments=True,
        link_rel=None,
    )


def render_inline(parsed: Parsed, marks: Sequence[_Mark] = ()) -> str:
    """A title as inline HTML: formatting and marks; a paragraph break becomes a space."""
    writer = _Writer(parsed.plain, marks)
    position = 0
    for event in parsed.events:
        writer.text(position, event.at)
        position = event.at
        if isinstance(event, _Open):
            writer.open(event)
        elif isinstance(event, _Close):
            writer.close()
        elif event.kind == "line":
            writer.line_break()
            position += 1
        else:
            writer.out.append(" ")
            position += 2
    writer.text(position, len(parsed.plain))
    return _sanitise("".join(writer.out))


_BLANK_LINES_RE = re.compile(r"\n[ \t]*\n\s*")


def _gaps(plain: str, label_starts: Iterable[int]) -> list[tuple[int, int]]:
    """Where paragraphs end and the next begins, as ``(start, end)`` of the text between
    them, which is not shown (blank lines; nothing before a label)."""
    gaps = sorted(
        [(m.start(), m.end()) for m in _BLANK_LINES_RE.finditer(plain)]
        + [(start, start) for start in label_starts if start > 0]
    )
    merged: list[tuple[int, int]] = []
    for start, end in gaps:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def render_abstract(parsed: Parsed, marks: Sequence[_Mark] = ()) -> str:
    """An abstract as paragraphs (``<p class="abstract-section">``): at blank lines and
    paragraph tags, and one per section of a structured abstract, its label in bold."""
    plain = parsed.plain
    labels = {start: label_end for start, label_end, _ in abstract_sections(plain)}
    gaps = _gaps(plain, labels)
    writer = _Writer(plain, marks)
    writer.label = (0, labels[0]) if 0 in labels else None
    paragraphs: list[str] = []
    next_gap = 0
    skip_until = 0

    def end_paragraph() -> None:
        writer.close_all()
        body = "".join(writer.out).strip()
        if body:
            paragraphs.append(f'<p class="abstract-section">{body}</p>')
        writer.out = []

    def write(start: int, end: int) -> None:
        nonlocal next_gap, skip_until
        start = max(start, skip_until)
        while next_gap < len(gaps) and gaps[next_gap][0] < end:
            gap_start, gap_end = gaps[next_gap]
            # The paragraph ends at its last visible character, inside its formatting too.
            while gap_start > start and plain[gap_start - 1].isspace():
                gap_start -= 1
            writer.text(start, gap_start)
            end_paragraph()
            next_gap += 1
            skip_until = start = max(start, gap_end)
            writer.label = (gap_end, labels[gap_end]) if gap_end in labels else None
        writer.text(start, end)

    position = 0
    for event in parsed.events:
        write(position, event.at)
        position = event.at
        if isinstance(event, _Open):
            writer.open(event)
        elif isinstance(event, _Close):
            writer.close()
        elif event.kind == "line":
            # Its "\n" in ``plain`` is the <br>, unless it starts or lies in a gap.
            in_gap = position < skip_until or (
                next_gap < len(gaps) and gaps[next_gap][0] == position
            )
            if not in_gap:
                writer.line_break()
                position += 1
        # A paragraph break is the "\n\n" in ``plain``: a gap, cut by write().
    write(position, len(plain))
    end_paragraph()
    return _sanitise("".join(paragraphs))


def truncate(parsed: Parsed, limit: int) -> Parsed:
    """``parsed`` cut to at most ``limit`` characters of plain text (an ellipsis
    included), at the last whitespace before the limit where there is one, its tags kept."""
    plain = parsed.plain
    if len(plain) <= limit:
        return parsed
    cut = max(limit - 1, 0)
    space = plain.rfind(" ", 0, cut + 1)
    if space > limit // 2:
        cut = space
    text = plain[:cut].rstrip()
    cut = len(text)
    # Tags past the cut go, but for the closing tags of what stays open, moved to the cut.
    kept: list[_Event] = []
    depth = 0
    for event in parsed.events:
        if isinstance(event, _Close):
            if depth:
                depth -= 1
                kept.append(_Close(event.element, min(event.at, cut)))
        elif event.at >= cut:
            continue
        elif isinstance(event, _Open):
            depth += 1
            kept.append(event)
        elif event.at + (1 if event.kind == "line" else 2) <= cut:
            kept.append(event)
    return Parsed(text + "…", tuple(kept))
