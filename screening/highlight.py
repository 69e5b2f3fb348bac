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

_STARS_RE = re.compile(r"\*+")
_NON_ASCII_RE = re.compile(r"[^\x00-\x7f]+")
_HTML_SPECIAL_RE = re.compile("[&<>\"']")  # what html.escape replaces


@lru_cache(maxsize=8192)
def _fold_char(char: str) -> str:
    # casefold before NFKD ("İ" -> "i̇" -> "i"), and again after it: compatibility forms
    # such as "ℌ" or "Ⅻ" decompose to capitals.
    decomposed = unicodedata.normalize(
        "NFKD", unicodedata.normalize("NFKD", char.casefold()).casefold()
    )
    return "".join(_EXTRA_FOLDS.get(c, c) for c in decomposed if not unicodedata.combining(c))


def _fold(text: str) -> str:
    """Case and accents folded: the same function for terms and texts, so they compare.

    Each character folds on its own, and ``lower()`` keeps lengths on folded output, so
    the position map of :func:`_fold_with_map` holds.
    """
    if text.isascii():
        return text.lower()
    # Abstracts are mostly ASCII: only the non-ASCII runs go through Python.
    return _NON_ASCII_RE.sub(lambda m: "".join(map(_fold_char, m.group())), text).lower()


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
    folded = _fold(text)
    if len(folded) == len(text) and all(
        len(_fold_char(c)) == 1 for run in _NON_ASCII_RE.findall(text) for c in run
    ):
        return _Folded(folded)
    # Only for the rare text whose folding changes lengths (decomposed accents, "ß", "æ").
    starts: list[int] = []
    ends: list[int] = []
    for index, char in enumerate(text):
        width = 1 if char.isascii() else len(_fold_char(char))
        if not width and ends:
            ends[-1] = index + 1
        starts.extend([index] * width)
        ends.extend([index + 1] * width)
    return _Folded(folded, starts, ends)


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
        elif all(_is_word(c) for c in piece):
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
    kind: Kind
    # What the combined scan looks for: the term itself, or for a term that starts with
    # "*" its first literal piece (the *anchor*), from which the match start is the start of
    # the word. ``scan_first`` is the first character of what is scanned for, ``scan_rest``
    # the regex for the rest; ``key`` is what the folded text holds where the scan hits
    # (up to two characters), "" for a term tried at every hit.
    scan_first: str
    scan_rest: str
    scan_at_word_start: bool
    key: str
    anchored: bool


def _compile_term(term: str, kind: Kind) -> _Term | None:
    # Fold first so the pieces are compared with the folded text; a full-width "＊" folds
    # to "*" and is a wildcard too.
    words = [_STARS_RE.sub("*", word) for word in _fold(term).split()]
    if not "".join(words).replace("*", ""):
        return None
    body = r"\s+".join(_word_pattern(word) for word in words)
    head, tail = words[0][0], words[-1][-1]
    if tail == "*" or _is_word(tail):
        body += r"(?!\w)"
    at_word_start = head == "*" or _is_word(head)
    pattern = re.compile((r"(?<!\w)" if at_word_start else "") + body)
    first_pieces = words[0].split("*")
    if head != "*":
        scan_first, scan_rest = head, body[len(re.escape(head)) :]
        return _Term(
            pattern, kind, scan_first, scan_rest, at_word_start, first_pieces[0][:2], False
        )
    if len(first_pieces) > 1 and first_pieces[1]:
        anchor = first_pieces[1]
        return _Term(pattern, kind, anchor[0], re.escape(anchor[1:]), False, anchor[:2], True)
    return _Term(pattern, kind, "", body, True, "", False)  # "* cell": rare, tried everywhere


def _alternation(items: list[tuple[str, str]]) -> str:
    """``first + rest`` alternatives grouped by their first character.

    The regex engine tries alternatives one after another at every position; grouped, it
    tries one per distinct first character instead of one per term.
    """
    groups: dict[str, list[str]] = {}
    for first, rest in items:
        groups.setdefault(first, []).append(rest)
    out = []
    for first, rests in groups.items():
        if not first:
            out.extend(rests)
        elif len(rests) == 1:
            out.append(re.escape(first) + rests[0])
        else:
            out.append(re.escape(first) + "(?:" + "|".join(rests) + ")")
    return "|".join(out)


class Highlighter:
    """Compiled terms of one stage; see the module docstring for the rules."""

    __slots__ = ("_always", "_by_key", "_scan")

    def __init__(self, terms: Iterable[_Term]) -> None:
        by_key: dict[str, list[_Term]] = {}
        at_word_start: list[tuple[str, str]] = []
        anywhere: list[tuple[str, str]] = []
        for term in terms:
            by_key.setdefault(term.key, []).append(term)
            group = at_word_start if term.scan_at_word_start else anywhere
            group.append((term.scan_first, term.scan_rest))
        self._by_key = {key: tuple(group) for key, group in by_key.items()}
        self._always = self._by_key.pop("", ())
        # One pass over the text finds every position where some term (or anchor) starts,
        # overlapping ones included: the lookahead consumes nothing. Only there are terms
        # tried one by one, and only those whose first characters are there. The word
        # boundary is tested once per position, not once per term.
        scan = []
        if at_word_start:
            scan.append(r"(?<!\w)(?:" + _alternation(at_word_start) + ")")
        if anywhere:
            scan.append(_alternation(anywhere))
        self._scan: re.Pattern[str] | None = (
            re.compile("(?=" + "|".join(scan) + ")") if scan else None
        )

    @property
    def is_empty(self) -> bool:
        """True when there is no term to mark (the text is still escaped by :meth:`highlight`)."""
        return self._scan is None

    def highlight(self, text: str) -> SafeString:
        """The text HTML-escaped, with the kept matches wrapped in ``<mark>``.

        For plain text; a title or abstract goes through the ``source_text`` template
        filters, which call :meth:`marks` on its text without the publisher's tags.
        """
        if self._scan is None or not text:
            return mark_safe(html.escape(text))  # noqa: S308 - escaped
        return _render(text, self.marks(text))

    def marks(self, text: str) -> list[tuple[int, int, Kind]]:
        """The kept matches as ``(start, end, kind)`` positions in ``text``, in order."""
        if self._scan is None or not text:
            return []
        folded = _fold_with_map(text)
        chars = folded.text
        candidates: list[tuple[int, int, Kind]] = []
        tried: set[tuple[int, int]] = set()
        by_key, none = self._by_key, ()
        word_start, word_start_of = -1, -1  # the last word start found, and for which hit
        for hit in self._scan.finditer(chars):
            position = hit.start()
            for term in by_key.get(chars[position : position + 2], none) + (
                by_key.get(chars[position], none) + self._always
            ):
                start = position
                if term.anchored:
                    # Back to the start of the word; a later hit in the same word reuses
                    # the answer, so a hostile 3,000-letter word costs linear time.
                    while start > 0 and _is_word(chars[start - 1]):
                        if start == word_start_of:
                            start = word_start
                            break
                        start -= 1
                    word_start, word_start_of = start, position
                    if (start, id(term)) in tried:
                        continue
                    tried.add((start, id(term)))
                found = term.pattern.match(chars, start)
                if found is not None and found.end() > start:
                    candidates.append((*folded.original_span(start, found.end()), term.kind))
        return _resolve_overlaps(candidates, len(text))


def _is_word(char: str) -> bool:
    # What the regex engine calls \w (Unicode alphanumerics and "_"), without a regex call.
    return char.isalnum() or char == "_"


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
    escape = html.escape if _HTML_SPECIAL_RE.search(text) else _unchanged
    out: list[str] = []
    position = 0
    for start, end, kind in marks:
        out.append(escape(text[position:start]))
        out.append(f'<mark class="hl-{kind}">{escape(text[start:end])}</mark>')
        position = end
    out.append(escape(text[position:]))
    # Safe: all of the text went through html.escape (what Django's escape() calls, minus
    # its lazy-string wrapper), or has no character that needs it; the only markup added is
    # the fixed <mark> tags above.
    return mark_safe("".join(out))  # noqa: S308


def _unchanged(text: str) -> str:
    return text


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
