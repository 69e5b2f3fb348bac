"""Europe PMC's REST search (``resultType=core``, JSON), paged with ``cursorMark``.

Each result becomes a row keyed by the field names of ``screening.bibliography`` (a test
checks they are its names); the
caller writes the rows as RIS and imports that file like an upload.
"""

from __future__ import annotations

import html
import json
import re
from datetime import date
from typing import Any

from .http import ConnectorError, Fetched, HttpClient

SERVICE = "Europe PMC"
PAGE_SIZE = 1000  # the largest page Europe PMC serves
_TAG = re.compile(r"<[^>]+>")
# FIRST_PDATE needs both ends of a range; an open end is the widest Europe PMC has.
_EARLIEST, _LATEST = "1000-01-01", "3000-12-31"


def europepmc_query(query: str, date_from: date | None, date_to: date | None) -> str:
    """The query sent: the user's, limited to first publication dates when asked."""
    if not (date_from or date_to):
        return query
    start = date_from.isoformat() if date_from else _EARLIEST
    end = date_to.isoformat() if date_to else _LATEST
    return f"({query}) AND (FIRST_PDATE:[{start} TO {end}])"


def fetch_europepmc(
    client: HttpClient,
    *,
    base_url: str,
    query: str,
    date_from: date | None = None,
    date_to: date | None = None,
    email: str = "",
    page_size: int = PAGE_SIZE,
) -> Fetched:
    """Run ``query`` in Europe PMC and fetch every result, page by page (``cursorMark``);
    ``ConnectorError`` unless as many came back as Europe PMC reported."""
    url = base_url.rstrip("/") + "/search"
    sent = europepmc_query(query, date_from, date_to)
    cursor = "*"
    records: list[dict[str, Any]] = []
    reported: int | None = None
    while True:
        params: dict[str, str | int] = {
            "query": sent,
            "resultType": "core",
            "format": "json",
            "pageSize": page_size,
            "cursorMark": cursor,
        }
        if email:
            params["email"] = email
        page = _page(client.get(url, params))
        if reported is None:
            reported = page["hitCount"]
        results = page["results"]
        records.extend(to_fields(result) for result in results)
        following = page["next"]
        if len(records) >= reported or not results or not following or following == cursor:
            break
        cursor = following
    if len(records) != reported:
        raise ConnectorError(
            f"Europe PMC reported {reported} records but answered {len(records)}; a partial "
            "search is not imported, so nothing was. Run the search again."
        )
    notes = [f"Query sent to Europe PMC: {sent}"] if sent != query else []
    return Fetched(
        source=SERVICE,
        query_sent=sent,
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
    if not isinstance(data, dict) or not isinstance(data.get("hitCount"), int):
        raise ConnectorError(
            "Europe PMC's answer was not the search results it sends; nothing was imported."
        )
    results = (data.get("resultList") or {}).get("result") or []
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise ConnectorError("Europe PMC's answer held no result list; nothing was imported.")
    return {"hitCount": data["hitCount"], "results": results, "next": data.get("nextCursorMark")}


def to_fields(result: dict[str, Any]) -> dict[str, Any]:
    """One ``core`` result as bibliographic fields (``id``: its source and identifier)."""
    journal_info = result.get("journalInfo") or {}
    journal = journal_info.get("journal") or {}
    authors = []
    for author in (result.get("authorList") or {}).get("author") or []:
        last, first = author.get("lastName"), author.get("firstName")
        name = f"{last}, {first}" if last and first else author.get("fullName")
        name = name or author.get("collectiveName")
        if name:
            authors.append(name)
    keywords = (result.get("keywordList") or {}).get("keyword") or []
    pub_types = (result.get("pubTypeList") or {}).get("pubType") or []
    source, ident = result.get("source") or "", result.get("id") or ""
    fields: dict[str, Any] = {
        "id": f"{source}:{ident}" if source and ident else ident,
        "title": _plain(result.get("title")),
        "abstract": _plain(result.get("abstractText")),
        "authors": authors,
        "year": result.get("pubYear") or journal_info.get("yearOfPublication") or "",
        "journal": journal.get("title") or "",
        "volume": journal_info.get("volume") or "",
        "issue": journal_info.get("issue") or "",
        "pages": result.get("pageInfo") or "",
        "doi": result.get("doi") or "",
        "pmid": result.get("pmid") or "",
        "pmcid": result.get("pmcid") or "",
        "issn": journal.get("issn") or journal.get("essn") or "",
        "keywords": [str(k) for k in keywords],
        "language": result.get("language") or "",
        "publication_type": pub_types[0] if pub_types else "",
        "url": f"https://europepmc.org/article/{source}/{ident}" if source and ident else "",
    }
    return fields


def _plain(value: Any) -> str:
    """Europe PMC marks up titles and abstracts (``<h4>Methods</h4>``, ``<i>``): text only."""
    if not value:
        return ""
    return " ".join(html.unescape(_TAG.sub(" ", str(value))).split())
