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
    limits = openalex_filter(date_from, date_to)
    params: dict[str, str | int] = {"search": query}
    if limits:
        params["filter"] = limits
    works, reported = _all_pages(
        client, base_url, params, email=email, page_size=page_size, limit=OPENALEX_MAX_RECORDS
    )
    notes = [f"Publication dates filtered as: {limits}"] if limits else []
    return Fetched(
        source=SERVICE,
        query_sent=query,
        reported=reported,
        fetched=len(works),
        fmt="ris",
        records=[to_fields(work) for work in works],
        notes=notes,
    )


def _all_pages(
    client: HttpClient,
    base_url: str,
    params: dict[str, str | int],
    *,
    email: str,
    page_size: int,
    limit: int,
) -> tuple[list[dict[str, Any]], int]:
    """Every work of one works list (``params``: its search or filter), walked with
    ``cursor``, and the count OpenAlex reported; ``ConnectorError`` above ``limit`` works
    (before fetching) or when fewer came back than reported."""
    url = base_url.rstrip("/") + "/works"
    cursor = "*"
    works: list[dict[str, Any]] = []
    reported: int | None = None
    while True:
        asked: dict[str, str | int] = {**params, "per-page": page_size, "cursor": cursor}
        if email:
            asked["mailto"] = email  # OpenAlex's "polite pool": faster, steadier answers
        page = _page(client.get(url, asked))
        if reported is None:
            reported = page["count"]
            if reported > limit:
                raise ConnectorError(
                    f"OpenAlex found {reported} works; reviewflow fetches at most "
                    f"{limit} of one search, so nothing was imported. Narrow "
                    "the search, or split it (by publication date, say)."
                )
        results = page["results"]
        works.extend(results)
        following = page["next"]
        if len(works) >= reported or not results or not following or following == cursor:
            break
        cursor = following
    if len(works) != reported:
        raise ConnectorError(
            f"OpenAlex reported {reported} records but answered {len(works)}; a partial "
            "search is not imported, so nothing was. Run the search again."
        )
    return works, reported


# OpenAlex takes up to 100 values joined with "|" in one filter; 50 keeps the address short.
FILTER_BATCH = 50
CITATION_WORDS = {
    "references": "The works cited by (references)",
    "cited-by": "The works citing (cited by)",
    "citations": "The works cited by and citing",
}
CITATION_DIRECTIONS = tuple(CITATION_WORDS)


def fetch_openalex_citations(
    client: HttpClient,
    *,
    base_url: str,
    dois: list[str],
    direction: str,
    email: str = "",
    page_size: int = PAGE_SIZE,
) -> Fetched:
    """Citation searching in OpenAlex for the studies with ``dois``: the works they cite
    (``references``: each work's ``referenced_works``), the works citing them
    (``cited-by``: the ``cites:`` filter), or both (``citations``).

    The studies are found by DOI first; a DOI OpenAlex does not know is named in the notes.
    The studies themselves are left out, and a work found twice (cited by two studies, or
    both cited and citing) comes once. ``reported`` and ``fetched`` count those works.
    """
    if direction not in CITATION_DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}")

    def works_of(filter_: str) -> list[dict[str, Any]]:
        works, _ = _all_pages(
            client,
            base_url,
            {"filter": filter_},
            email=email,
            page_size=page_size,
            limit=OPENALEX_MAX_RECORDS,
        )
        return works

    wanted = sorted({d.strip().lower() for d in dois if d.strip()})
    seeds: dict[str, dict[str, Any]] = {}
    for batch in _batches(wanted):
        for work in works_of("doi:" + "|".join(f"https://doi.org/{d}" for d in batch)):
            seeds[_short_id(work.get("id"))] = work
    known = {_DOI_PREFIX.sub("", (w.get("doi") or "")).lower() for w in seeds.values()}
    missing = [d for d in wanted if d not in known]
    notes = [
        f"Citations of {len(seeds)} included "
        f"{'study' if len(seeds) == 1 else 'studies'} found in OpenAlex by DOI."
    ]
    if missing:
        notes.append(
            f"OpenAlex does not know {len(missing)} of the DOIs, so their citations were not "
            f"searched: {', '.join(missing)}."
        )
    found_works: dict[str, dict[str, Any]] = {}
    if direction in ("references", "citations"):
        references = list(
            dict.fromkeys(
                _short_id(ref)
                for work in seeds.values()
                for ref in work.get("referenced_works") or []
                if _short_id(ref) not in seeds
            )
        )
        served = 0
        for batch in _batches(references):
            works = works_of("openalex:" + "|".join(batch))
            served += len(works)
            for work in works:
                found_works[_short_id(work.get("id"))] = work
        notes.append(f"References: {len(references)} works cited by the studies.")
        if served < len(references):
            notes.append(
                f"OpenAlex no longer serves {len(references) - served} of the referenced "
                "works (merged or withdrawn records); they could not be imported."
            )
    if direction in ("cited-by", "citations"):
        citing = 0
        for batch in _batches(sorted(seeds)):
            for work in works_of("cites:" + "|".join(batch)):
                key = _short_id(work.get("id"))
                if key not in seeds:
                    citing += key not in found_works
                    found_works[key] = work
        notes.append(f"Cited by: {citing} works citing the studies (not counted twice).")
    rows = [to_fields(work) for key, work in found_works.items() if key not in seeds]
    return Fetched(
        source=SERVICE,
        query_sent=f"{CITATION_WORDS[direction]} of the studies with the DOIs: {', '.join(wanted)}",
        reported=len(rows),
        fetched=len(rows),
        fmt="ris",
        records=rows,
        notes=notes,
    )


def _batches(values: list[str]) -> list[list[str]]:
    return [values[i : i + FILTER_BATCH] for i in range(0, len(values), FILTER_BATCH)]


def _short_id(value: Any) -> str:
    """``https://openalex.org/W2741809807`` → ``W2741809807``."""
    return str(value or "").rsplit("/", 1)[-1]


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
