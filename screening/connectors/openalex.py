"""OpenAlex's works search (JSON), paged with ``cursor`` (``cursor=*`` first, then each
page's ``meta.next_cursor``) at 200 works a page, the most OpenAlex serves.

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

SERVICE = "OpenAlex"
PAGE_SIZE = 200  # the largest page OpenAlex serves
# A search of more works than this is refused before fetching: it would hold hundreds of
# megabytes and take an hour of requests, and no review screens it whole.
OPENALEX_MAX_RECORDS = 100_000
_DOI_PREFIX = re.compile(r"^https?://(dx\.)?doi\.org/", re.IGNORECASE)
_TRAILING_DIGITS = re.compile(r"(\d+)/?$")
# Lower-case words that begin a family name ("Ludwig van Beethoven" → "van Beethoven").
_PARTICLES = frozenset(
    {"van", "von", "der", "den", "de", "del", "della", "di", "da", "das", "dos", "du"}
    | {"la", "le", "ter", "ten", "bin", "ibn", "al", "el", "st."}
)
_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"})


def openalex_filter(date_from: date | None, date_to: date | None) -> str:
    """The ``filter`` parameter for publication dates (empty without limits)."""
    parts = []
    if date_from:
        parts.append(f"from_publication_date:{date_from.isoformat()}")
    if date_to:
        parts.append(f"to_publication_date:{date_to.isoformat()}")
    return ",".join(parts)


def fetch_openalex(
    client: HttpClient,
    *,
    base_url: str,
    query: str,
    date_from: date | None = None,
    date_to: date | None = None,
    email: str = "",
    page_size: int = PAGE_SIZE,
) -> Fetched:
    """Run ``query`` in OpenAlex's works and fetch every work, page by page (``cursor``);
    ``ConnectorError`` unless as many came back as OpenAlex reported."""
    url = base_url.rstrip("/") + "/works"
    limits = openalex_filter(date_from, date_to)
    cursor = "*"
    records: list[dict[str, Any]] = []
    reported: int | None = None
    while True:
        params: dict[str, str | int] = {"search": query, "per-page": page_size, "cursor": cursor}
        if limits:
            params["filter"] = limits
        if email:
            params["mailto"] = email  # OpenAlex's "polite pool": faster, steadier answers
        page = _page(client.get(url, params))
        if reported is None:
            reported = page["count"]
            if reported > OPENALEX_MAX_RECORDS:
                raise ConnectorError(
                    f"OpenAlex found {reported} works; reviewflow fetches at most "
                    f"{OPENALEX_MAX_RECORDS} of one search, so nothing was imported. Narrow "
                    "the search, or split it (by publication date, say)."
                )
        results = page["results"]
        records.extend(to_fields(work) for work in results)
        following = page["next"]
        if len(records) >= reported or not results or not following or following == cursor:
            break
        cursor = following
    if len(records) != reported:
        raise ConnectorError(
            f"OpenAlex reported {reported} records but answered {len(records)}; a partial "
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
    meta = data.get("meta") if isinstance(data, dict) else None
    if not isinstance(meta, dict) or not isinstance(meta.get("count"), int):
        raise ConnectorError(
            "OpenAlex's answer was not the list of works it sends; nothing was imported."
        )
    results = data.get("results")
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise ConnectorError("OpenAlex's answer held no list of works; nothing was imported.")
    return {"count": meta["count"], "results": results, "next": meta.get("next_cursor")}


def to_fields(work: dict[str, Any]) -> dict[str, Any]:
    """One OpenAlex work as bibliographic fields (``id``: its OpenAlex identifier)."""
    ids = work.get("ids") or {}
    location = work.get("primary_location") or {}
    source = location.get("source") or {}
    biblio = work.get("biblio") or {}
    first, last = biblio.get("first_page") or "", biblio.get("last_page") or ""
    authors = []
    for authorship in work.get("authorships") or []:
        name = (authorship.get("author") or {}).get("display_name") or authorship.get(
            "raw_author_name"
        )
        if name:
            authors.append(family_given(name))
    pmcid = _trailing_number(ids.get("pmcid"))
    openalex_id = str(work.get("id") or "")
    keywords = work.get("keywords") or []
    return {
        "id": openalex_id.rsplit("/", 1)[-1],
        "title": _one_line(work.get("title") or work.get("display_name")),
        "abstract": abstract_text(work.get("abstract_inverted_index")),
        "authors": authors,
        "year": work.get("publication_year") or "",
        "journal": source.get("display_name") or "",
        "volume": biblio.get("volume") or "",
        "issue": biblio.get("issue") or "",
        "pages": f"{first}-{last}" if first and last and last != first else first or last,
        "doi": _DOI_PREFIX.sub("", work.get("doi") or ids.get("doi") or ""),
        "pmid": _trailing_number(ids.get("pmid")),
        "pmcid": f"PMC{pmcid}" if pmcid else "",
        "issn": source.get("issn_l") or "",
        "keywords": [k["display_name"] for k in keywords if k.get("display_name")],
        "language": work.get("language") or "",
        "publication_type": work.get("type") or "",
        "url": openalex_id,
    }


def abstract_text(inverted: dict[str, list[int]] | None) -> str:
    """The abstract OpenAlex gives as an inverted index (each word with its positions),
    put back in order."""
    if not inverted:
        return ""
    placed = sorted(
        (position, word) for word, positions in inverted.items() for position in positions
    )
    return " ".join(word for _, word in placed)


def family_given(name: str) -> str:
    """An OpenAlex display name (given names first) as ``Family, Given``.

    ``Jevin D. West`` → ``West, Jevin D.``; a particle stays with the family name
    (``Ludwig van Beethoven`` → ``van Beethoven, Ludwig``), a suffix goes last
    (``Martin Luther King Jr.`` → ``King, Martin Luther, Jr.``); a single word stays whole.
    """
    parts = name.split()
    suffix = ""
    if len(parts) > 2 and parts[-1].lower() in _SUFFIXES:
        suffix = parts.pop()
    if len(parts) < 2:
        return " ".join([*parts, suffix]).strip()
    start = len(parts) - 1
    while start > 1 and parts[start - 1].lower() in _PARTICLES:
        start -= 1
    family, given = " ".join(parts[start:]), " ".join(parts[:start])
    return f"{family}, {given}" + (f", {suffix}" if suffix else "")


def _trailing_number(value: Any) -> str:
    """``https://pubmed.ncbi.nlm.nih.gov/29456894`` → ``29456894``."""
    match = _TRAILING_DIGITS.search(str(value or ""))
    return match.group(1) if match else ""


def _one_line(value: Any) -> str:
    return " ".join(str(value or "").split())
