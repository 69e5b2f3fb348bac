"""Crossref's works search (REST API, JSON), deep-paged with ``cursor``.

What Crossref documents, and this client follows (github.com/CrossRef/rest-api-doc,
"Rows", "Deep paging with cursors", "Selecting which elements to return"; its blog
"Announcing changes to REST API rate limits", in force since 1 December 2025):

- ``rows`` is at most 1000 a request; offsets stop at 10,000, so a whole search is read
  with ``cursor=*`` and then each answer's ``message.next-cursor``;
- the walk has ended when an answer holds fewer items than ``rows`` (past that point the
  cursor answers empty lists). The cursor may stay the same from page to page (Crossref's
  recorded answers show it), so an unchanged cursor is not the end;
- date limits are the filters ``from-pub-date`` and ``until-pub-date`` (inclusive);
- ``mailto`` puts the requests in the "polite pool"; list queries there are limited to
  3 a second and 3 at a time (1 and 1 without it); a 429 says to slow down;
- ``select`` asks for the elements read here only: answers without reference lists are a
  fraction of the size.

Crossref's ``query`` is a relevance search: it matches works with *any* of the words, so
its counts are large and loose; a search above ``CROSSREF_MAX_RECORDS`` is refused with a
message that says so.

Each work becomes a row keyed by the field names of ``screening.bibliography`` (a test
checks they are its names); the caller writes the rows as RIS and imports that file like
an upload.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from .http import ConnectorError, Fetched, HttpClient

SERVICE = "Crossref"
PAGE_SIZE = 1000  # the most rows Crossref serves a request
# A search of more works than this is refused before fetching. Crossref's relevance search
# matches any word of the query, so a topic search easily finds a million works; ten
# thousand is also where Crossref stops serving offsets.
CROSSREF_MAX_RECORDS = 10_000
# The elements ``to_fields`` reads (names from Crossref's list of selectable elements).
SELECT = ",".join(
    (
        "DOI",
        "URL",
        "type",
        "title",
        "author",
        "issued",
        "published",
        "published-print",
        "published-online",
        "container-title",
        "volume",
        "issue",
        "page",
        "article-number",
        "ISSN",
        "ISBN",
        "subject",
        "abstract",
    )
)
# A markup tag as Crossref leaves them in titles and JATS abstracts: <scp>, </jats:p>,
# <jats:ext-link xlink:href="…">, <mml:math …/>. A bare "<" never is one: Crossref's text
# comes from XML, where it is written "&lt;".
_TAG = re.compile(r"</?[A-Za-z][\w.:-]*(?:\s[^<>]*)?/?>")
# JATS elements that hold a block of an abstract: each becomes a paragraph of its own.
_BLOCK = re.compile(
    r"</?jats:(?:p|title|sec|list|list-item|def-list|def-item|disp-quote|boxed-text)"
    r"(?:\s[^<>]*)?/?>"
)
_PARAGRAPH_BREAK = "\x00"


def crossref_filter(date_from: date | None, date_to: date | None) -> str:
    """The ``filter`` parameter for publication dates (empty without limits)."""
    parts = []
    if date_from:
        parts.append(f"from-pub-date:{date_from.isoformat()}")
    if date_to:
        parts.append(f"until-pub-date:{date_to.isoformat()}")
    return ",".join(parts)


def fetch_crossref(
    client: HttpClient,
    *,
    base_url: str,
    query: str,
    date_from: date | None = None,
    date_to: date | None = None,
    email: str = "",
    page_size: int = PAGE_SIZE,
) -> Fetched:
    """Run ``query`` in Crossref's works and fetch every work, page by page (``cursor``);
    ``ConnectorError`` unless as many came back as Crossref reported."""
    url = base_url.rstrip("/") + "/works"
    limits = crossref_filter(date_from, date_to)
    cursor = "*"
    records: list[dict[str, Any]] = []
    reported: int | None = None
    while True:
        params: dict[str, str | int] = {
            "query": query,
            "rows": page_size,
            "cursor": cursor,
            "select": SELECT,
        }
        if limits:
            params["filter"] = limits
        if email:
            params["mailto"] = email  # Crossref's "polite pool"
        page = _page(client.get(url, params))
        if reported is None:
            reported = page["total"]
            if reported > CROSSREF_MAX_RECORDS:
                raise ConnectorError(
                    f"Crossref found {reported} works; reviewflow fetches at most "
                    f"{CROSSREF_MAX_RECORDS} of one search, so nothing was imported. "
                    "Crossref's search matches works with any word of the query, so its "
                    "counts run high: use a more specific query, or split it by "
                    "publication date."
                )
        items = page["items"]
        records.extend(to_fields(work) for work in items)
        following = page["next"]
        if len(records) >= reported or len(items) < page_size or not following:
            break
        cursor = following
    if len(records) != reported:
        raise ConnectorError(
            f"Crossref reported {reported} records but answered {len(records)}; a partial "
            "search is not imported, so nothing was. Run the search again."
        )
    notes = [f"Publication dates filtered as: {limits}"] if limits else []
    return Fetched(
        source=SERVICE,
        query_sent=query,
        reported=reported,
        fetched=len(records),
        fmt="ris",
        records=records,
        notes=notes,
    )


def _page(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    message = data.get("message") if isinstance(data, dict) else None
    if (
        not isinstance(data, dict)
        or data.get("message-type") != "work-list"
        or not isinstance(message, dict)
        or not isinstance(message.get("total-results"), int)
    ):
        raise ConnectorError(
            "Crossref's answer was not the list of works it sends; nothing was imported."
        )
    items = message.get("items")
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ConnectorError("Crossref's answer held no list of works; nothing was imported.")
    following = message.get("next-cursor")
    return {
        "total": message["total-results"],
        "items": items,
        "next": following if isinstance(following, str) else "",
    }


def to_fields(work: dict[str, Any]) -> dict[str, Any]:
    """One Crossref work as bibliographic fields (``id``: its DOI)."""
    doi = _text(work.get("DOI"))
    return {
        "id": doi,
        "title": plain_text(_first(work.get("title"))),
        "abstract": abstract_text(_text(work.get("abstract"))),
        "authors": [name for name in map(author_name, work.get("author") or []) if name],
        "year": work_year(work) or "",
        "journal": plain_text(_first(work.get("container-title"))),
        "volume": _text(work.get("volume")),
        "issue": _text(work.get("issue")),
        # An online-only article has its number where a printed one has pages.
        "pages": _text(work.get("page")) or _text(work.get("article-number")),
        "doi": doi,
        "issn": _first(work.get("ISSN")),
        "isbn": _first(work.get("ISBN")),
        "keywords": [_text(s) for s in work.get("subject") or [] if _text(s)],
        # Crossref's type identifiers ("journal-article", "book-chapter") in words, which
        # the RIS writer maps to its types ("journal article" → JOUR).
        "publication_type": _text(work.get("type")).replace("-", " "),
        "url": _text(work.get("URL")),
    }


def author_name(author: Any) -> str:
    """``Family, Given``; ``Family`` alone; an organisation's ``name`` as it is."""
    if not isinstance(author, dict):
        return ""
    family, given = _text(author.get("family")), _text(author.get("given"))
    if family:
        return f"{family}, {given}" if given else family
    return _text(author.get("name")) or given


def work_year(work: dict[str, Any]) -> int | None:
    """The year the work came out: ``issued`` (Crossref's earliest of print and online),
    else ``published``, ``published-print``, ``published-online``."""
    for key in ("issued", "published", "published-print", "published-online"):
        date_of = work.get(key)
        parts = date_of.get("date-parts") if isinstance(date_of, dict) else None
        if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
            year = parts[0][0]
            if isinstance(year, int) and year > 0:
                return year
    return None


def plain_text(value: str) -> str:
    """A title without its markup (``<scp>T</scp>reebase`` → ``Treebase``), on one line."""
    return " ".join(_TAG.sub("", value).split())


def abstract_text(value: str) -> str:
    """A JATS abstract as text: its markup removed, each block (paragraph, section title,
    list item) a paragraph of its own, each paragraph in ``<jats:p>`` tags.

    Crossref's abstracts are JATS XML: ``<jats:title>Abstract</jats:title><jats:p>…``. The
    paragraph tags are kept (the only ones), because the RIS file the import reads holds
    each value on one line, and pages show ``<jats:p>`` as a paragraph break. A leading
    title that only says "Abstract" is dropped; other section titles ("Summary",
    "Methods") stay, as paragraphs. A space between paragraphs keeps their words apart
    where tags are stripped (deduplication). Entities stay as they are (the import
    decodes them). Words the source ran together stay so: nothing is added.
    """
    if not value:
        return ""
    text = _TAG.sub("", _BLOCK.sub(_PARAGRAPH_BREAK, value))
    paragraphs = [" ".join(part.split()) for part in text.split(_PARAGRAPH_BREAK)]
    paragraphs = [p for p in paragraphs if p]
    if len(paragraphs) > 1 and paragraphs[0].lower() == "abstract":
        paragraphs = paragraphs[1:]
    if len(paragraphs) == 1:
        return paragraphs[0]
    return " ".join(f"<jats:p>{p}</jats:p>" for p in paragraphs)


def _first(value: Any) -> str:
    """The first string of a Crossref list (``title``, ``container-title``, ``ISSN``)."""
    if isinstance(value, list):
        return next((_text(v) for v in value if _text(v)), "")
    return _text(value)


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    return str(value).strip()
