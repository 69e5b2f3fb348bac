"""Highlight a stage's include and exclude terms in a title or abstract.

Pure Python (no ORM). Build a :class:`Highlighter` once per stage settings with
:func:`compile_terms` (it is cached, so calling it per request is cheap) and call
:meth:`Highlighter.highlight` per text::

    hl = compile_terms(include=["mesenchymal*", "stem cell"], exclude=["*blast*"])
    hl.highlight("Mesenchymal stem  cells and osteoblasts")

Rules of a term:

- one term per item; surrounding blanks are dropped, empty items ignored;
- ``*`` stands for any run of word characters, possibly empty (``mesenchymal*``,
  ``*blast*``); a ``*`` standing alone as a word is exactly one word (``stem * therapy``);
  a term made only of ``*`` is ignored, as it would mark every word;
- the words of a term match across any whitespace, line breaks included;
- case and accents do not matter (``stromal`` ~ ``strómal``, ``Müller`` ~ ``Muller``);
- a term starts and ends at word boundaries: ``cell`` does not mark ``excellent`` or
  ``cells``, ``cell*`` marks ``cells``; an edge that is not a letter or digit (``c++``,
  ``(``) has no boundary;
- every other character of a term is literal: terms are never regular expressions.

Matching runs on a folded copy of the text (case folded, accents removed, ligatures
expanded) together with a map from folded positions back to the original, so what gets
wrapped is the original text. Where two matches overlap, the longer one is kept; on a tie,
the exclude term wins, since missing an exclusion reason costs a screener more than missing
an inclusion reason. The output is the whole text HTML-escaped (it comes from imported
files and is untrusted) with ``<mark class="hl-include">`` / ``<mark class="hl-exclude">``
around the kept matches.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from django.utils.safestring import SafeString, mark_safe

__all__ = ["Highlighter", "compile_terms"]

Kind = Literal["include", "exclude"]

# Letters that Unicode does not decompose into an ASCII letter plus an accent, but that
# readers (and search engines) treat as one: "Ørsted" ~ "Orsted", "Łódź" ~ "Lodz".
_EXTRA_FOLDS = {
    "ø": "o",
    "đ": "d",
    "ð": "d",
    "ł": "l",
    "ħ": "h",
    "ı": "i",
    "ŧ": "t",
    "æ": "ae",
    "œ": "oe",
    "þ": "th",
}

_WORD_CHAR_RE = re.compile(r"\w")
_STARS_RE = re.compile(r"\*+")


@lru_cache(maxsize=8192)
def _fold_char(char: str) -> str:
    # casefold before NFKD ("İ" -> "i̇" -> "i"), and again after it: compatibility forms
    # such as "ℌ" or "Ⅻ" decompose to capitals.
    decomposed = unicodedata.normalize(
        "NFKD", unicodedata.normalize("NFKD", char.casefold()).casefold()
    )
    return "".join(_EXTRA_FOLDS.get(c, c) for c in decomposed if not unicodedata.combining(c))


def _fold(text: str) -> str:
    if text.isascii():
        return text.lower()
    return "".join(_fold_char(c) for c in text)


@dataclass(frozen=True, slots=True)
class _Folded:
    """A folded text and, unless folding kept every position, the way back to the original.

    ``starts[i]`` / ``ends[i]`` are the original span of folded character ``i``; a character
    that folds to nothing (a combining accent) belongs to the character before it.
    """

    text: str
    starts: list[int] | None = None
    ends: list[int] | None = None

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        if self.starts is None or self.ends is None:
            return start, end
        return self.starts[start], self.ends[end - 1]


def _fold_with_map(text: str) -> _Folded:
    if text.isascii():
        return _Folded(text.lower())
    # str.translate runs in C; the per-character loop below is only for the rare text
    # whose folding changes lengths (decomposed accents, "ß", "æ", ligatures).
    table = {}
    for char in set(text):
        folded_char = _fold_char(char)
        if folded_char != char:
            table[ord(char)] = folded_char
    folded = text.translate(table)
    if all(len(v) == 1 for v in table.values()):
        return _Folded(folded)
    starts: list[int] = []
    ends: list[int] = []
    for index, char in enumerate(text):
        folded_char = table.get(ord(char), char)
        if not folded_char:
            if ends:
                ends[-1] = index + 1
            continue
        for _ in folded_char:
            starts.append(index)
            ends.append(index + 1)
    return _Folded(folded, starts, ends)


def _is_word_char(char: str) -> bool:
    return _WORD_CHAR_RE.match(char) is not None


def _word_pattern(word: str) -> str:
    """Regex for one folded word of a term: ``*`` -> word characters, all else literal."""
    if word == "*":
        return r"\w+"
    pieces = word.split("*")
    out = [re.escape(pieces[0])]
    for index, piece in enumerate(pieces[1:], start=1):
        if index == len(pieces) - 1:
            # The last piece must end where the word ends: let the run backtrack (linear).
            out.append(r"\w*?" + re.escape(piece) if piece else r"\w*")
        elif all(_is_word_char(c) for c in piece):
            # Take the nearest occurrence and never come back (atomic group). As in a shell
            # glob, this still finds every match, and it keeps "a*b*c*d" linear on a hostile
            # 3,000-letter "word" where plain backtracking would be polynomial.
            out.append(r"(?>\w*?" + re.escape(piece) + ")")
        else:
            out.append(r"\w*" + re.escape(piece))
    return "".join(out)


@dataclass(frozen=True, slots=True)
class _Term:
    pattern: re.Pattern[str]
    body: str  # the pattern without its leading word boundary, for the combined scan
    at_word_start: bool
    kind: Kind
    prefix: str  # the term's first (up to) two folded characters, "" if it starts with ``*``


def _compile_term(term: str, kind: Kind) -> _Term | None:
    # Fold first so the pieces are compared with the folded text; a full-width "＊" folds
    # to "*" and is a wildcard too.
    words = [_STARS_RE.sub("*", word) for word in _fold(term).split()]
    if not "".join(words).replace("*", ""):
        return None
    body = r"\s+".join(_word_pattern(word) for word in words)
    head, tail = words[0][0], words[-1][-1]
    if tail == "*" or _is_word_char(tail):
        body += r"(?!\w)"
    at_word_start = head == "*" or _is_word_char(head)
    return _Term(
        pattern=re.compile((r"(?<!\w)" if at_word_start else "") + body),
        body=body,
        at_word_start=at_word_start,
        kind=kind,
        prefix=words[0].split("*")[0][:2],
    )


class Highlighter:
    """Compiled terms of one stage; see the module docstring for the rules."""

    __slots__ = ("_by_prefix", "_scan", "_wild")

    def __init__(self, terms: Iterable[_Term]) -> None:
        by_prefix: dict[str, list[_Term]] = {}
        at_word_start: list[str] = []
        anywhere: list[str] = []
        for term in terms:
            by_prefix.setdefault(term.prefix, []).append(term)
            (at_word_start if term.at_word_start else anywhere).append(f"(?:{term.body})")
        self._by_prefix = {prefix: tuple(group) for prefix, group in by_prefix.items()}
        self._wild = self._by_prefix.pop("", ())
        # One pass over the text finds every position where some term starts, overlapping
        # ones included (the lookahead consumes nothing). Only there are terms tried one by
        # one, and only those whose first characters are there. The word boundary is tested
        # once per position, not once per term: six times faster on an abstract.
        scan = []
        if at_word_start:
            scan.append(r"(?<!\w)(?=" + "|".join(at_word_start) + ")")
        if anywhere:
            scan.append("(?=" + "|".join(anywhere) + ")")
        self._scan: re.Pattern[str] | None = re.compile("|".join(scan)) if scan else None

    @property
    def is_empty(self) -> bool:
        """True when there is no term to mark (the text is still escaped by :meth:`highlight`)."""
        return self._scan is None

    def highlight(self, text: str) -> SafeString:
        """The text HTML-escaped, with the kept matches wrapped in ``<mark>``."""
        if self._scan is None or not text:
            return mark_safe(html.escape(text))  # noqa: S308 - escaped
        folded = _fold_with_map(text)
        candidates: list[tuple[int, int, Kind]] = []
        by_prefix, none = self._by_prefix, ()
        for hit in self._scan.finditer(folded.text):
            position = hit.start()
            for term in (
                by_prefix.get(folded.text[position : position + 2], none)
                + by_prefix.get(folded.text[position], none)
                + self._wild
            ):
                found = term.pattern.match(folded.text, position)
                if found is not None and found.end() > position:
                    start, end = folded.original_span(position, found.end())
                    candidates.append((start, end, term.kind))
        return _render(text, _resolve_overlaps(candidates, len(text)))


def _resolve_overlaps(
    candidates: list[tuple[int, int, Kind]], length: int
) -> list[tuple[int, int, Kind]]:
    """Keep the longest of overlapping matches; ties go to exclude, then to the earlier one."""
    candidates.sort(key=lambda c: (c[0] - c[1], c[2] != "exclude", c[0]))
    taken = bytearray(length)
    kept: list[tuple[int, int, Kind]] = []
    for start, end, kind in candidates:
        if taken.find(1, start, end) == -1:
            taken[start:end] = b"\x01" * (end - start)
            kept.append((start, end, kind))
    kept.sort()
    return kept


def _render(text: str, marks: list[tuple[int, int, Kind]]) -> SafeString:
    out: list[str] = []
    position = 0
    for start, end, kind in marks:
        out.append(html.escape(text[position:start]))
        out.append(f'<mark class="hl-{kind}">{html.escape(text[start:end])}</mark>')
        position = end
    out.append(html.escape(text[position:]))
    # Safe: every piece of the text went through html.escape (what Django's escape() calls,
    # minus its lazy-string wrapper, which cost a third of the time); the only markup added
    # is the fixed <mark> tags above.
    return mark_safe("".join(out))  # noqa: S308


@lru_cache(maxsize=128)
def _compile_cached(include: tuple[str, ...], exclude: tuple[str, ...]) -> Highlighter:
    kinds: tuple[tuple[Kind, tuple[str, ...]], ...] = (("include", include), ("exclude", exclude))
    terms: dict[tuple[str, Kind], _Term] = {}
    for kind, items in kinds:
        for item in items:
            term = _compile_term(item, kind)
            if term is not None:
                terms.setdefault((term.pattern.pattern, term.kind), term)
    return Highlighter(terms.values())


def compile_terms(include: Iterable[str], exclude: Iterable[str]) -> Highlighter:
    """A :class:`Highlighter` for a stage's include and exclude terms, one term per item.

    Cached on the terms, so views may call it for every request.
    """
    return _compile_cached(
        tuple(t.strip() for t in include if t and t.strip()),
        tuple(t.strip() for t in exclude if t and t.strip()),
    )
