"""Template filters that show a record's title or abstract as the source meant it.

``{% load source_text %}`` then::

    {{ record.title|source_text }}                  inline, publisher formatting kept
    {{ record.title|source_text:highlighter }}      and the stage's terms marked
    {{ record.title|source_text_truncated:140 }}    cut to 140 characters of text
    {{ record.abstract|source_abstract:highlighter }}  paragraphs, structured labels

The rendering is :mod:`screening.source_text` (escaped text, a short allow-list of tags,
then nh3). This module is the one place where a record's text is marked safe (SECURITY.md);
templates never use ``|safe`` on source text.
"""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from screening.highlight import Highlighter
from screening.source_text import parse, render_abstract, render_inline, truncate

register = template.Library()


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _safe(fragment: str) -> SafeString:
    # Safe: built by screening.source_text from escaped text and allow-listed tags without
    # attributes (but the fixed classes), and passed through nh3 with that allow-list.
    return mark_safe(fragment)  # noqa: S308


@register.filter
def source_text(value: object, highlighter: Highlighter | None = None) -> SafeString:
    """A title (or any short source text) as inline HTML, terms marked if given."""
    parsed = parse(_text(value))
    marks = highlighter.marks(parsed.plain) if isinstance(highlighter, Highlighter) else []
    return _safe(render_inline(parsed, marks))


@register.filter
def source_text_truncated(value: object, limit: int) -> SafeString:
    """Inline, cut to ``limit`` characters of text (tags do not count) with an ellipsis."""
    return _safe(render_inline(truncate(parse(_text(value)), int(limit))))


@register.filter
def source_abstract(value: object, highlighter: Highlighter | None = None) -> SafeString:
    """An abstract as paragraphs, structured abstracts' labels in bold, terms marked."""
    parsed = parse(_text(value))
    marks = highlighter.marks(parsed.plain) if isinstance(highlighter, Highlighter) else []
    return _safe(render_abstract(parsed, marks))
