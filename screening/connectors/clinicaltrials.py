"""ClinicalTrials.gov's API v2 (``studies``, JSON), paged with ``pageToken``.

The first request asks ``countTotal=true`` for the number of studies found; each answer
gives the next page's ``nextPageToken`` and the last one none. A page may hold no studies
and still name a next one (the API's documentation says so), so only the token ends the
walk. Each study becomes a row keyed by the field names of ``screening.bibliography``,
written as RIS by the caller and imported like an upload; a ClinicalTrials.gov search is a
*register* in PRISMA, which the caller records.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from .http import ConnectorError, Fetched, HttpClient

SERVICE = "ClinicalTrials.gov"
PAGE_SIZE = 1000  # the largest page the API serves
# As for OpenAlex: a search this large is refused before fetching (split it by date).
CLINICALTRIALS_MAX_RECORDS = 100_000
STUDY_URL = "https://clinicaltrials.gov/study/"
# What the record is, in the words Cochrane CENTRAL uses for register entries.
PUBLICATION_TYPE = "Trial registry record"


def clinicaltrials_date_filter(date_from: date | None, date_to: date | None) -> str:
    """``filter.advanced`` for the first-posted date (a study is "published" on the
    register when it is first posted), in the API's Essie syntax; empty without limits."""
    if not (date_from or date_to):
        return ""
    start = date_from.isoformat() if date_from else "MIN"
    end = date_to.isoformat() if date_to else "MAX"
    return f"AREA[StudyFirstPostDate]RANGE[{start},{end}]"


def fetch_clinicaltrials(
    client: HttpClient,
    *,
    base_url: str,
    query: str,
    date_from: date | None = None,
    date_to: date | None = None,
    page_size: int = PAGE_SIZE,
) -> Fetched:
    """Run ``query`` (``query.term``) in ClinicalTrials.gov and fetch every study, page by
    page; ``ConnectorError`` unless as many came back as the API counted."""
    url = base_url.rstrip("/") + "/studies"
    limits = clinicaltrials_date_filter(date_from, date_to)
    common: dict[str, str | int] = {"query.term": query, "format": "json"}
    if limits:
        common["filter.advanced"] = limits
    params: dict[str, str | int] = {**common, "countTotal": "true", "pageSize": page_size}
    records: list[dict[str, Any]] = []
    reported: int | None = None
    seen_tokens: set[str] = set()
    while True:
        page = _page(client.get(url, params))
        if reported is None:
            if page["total"] is None:
                raise ConnectorError(
                    "ClinicalTrials.gov did not say how many studies it found (no "
                    "totalCount); nothing was imported."
                )
            reported = page["total"]
            if reported > CLINICALTRIALS_MAX_RECORDS:
                raise ConnectorError(
                    f"ClinicalTrials.gov found {reported} studies; reviewflow fetches at most "
                    f"{CLINICALTRIALS_MAX_RECORDS} of one search, so nothing was imported. "
                    "Narrow the search, or split it (by first-posted date, say)."
                )
        records.extend(to_fields(study) for study in page["studies"])
        token = page["next"]
        if len(records) >= reported or not token or token in seen_tokens:
            break
        seen_tokens.add(token)
        # Later pages repeat the first request's parameters but for the count (the API asks so).
        params = {**common, "pageSize": page_size, "pageToken": token}
    if len(records) != reported:
        raise ConnectorError(
            f"ClinicalTrials.gov reported {reported} records but answered {len(records)}; a "
            "partial search is not imported, so nothing was. Run the search again."
        )
    notes = [f"First-posted dates filtered as: {limits}"] if limits else []
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
    studies = data.get("studies") if isinstance(data, dict) else None
    if not isinstance(studies, list) or not all(isinstance(s, dict) for s in studies):
        raise ConnectorError(
            "ClinicalTrials.gov's answer was not the list of studies it sends; nothing was "
            "imported."
        )
    total = data.get("totalCount")
    return {
        "studies": studies,
        "total": total if isinstance(total, int) else None,
        "next": data.get("nextPageToken") or "",
    }


def to_fields(study: dict[str, Any]) -> dict[str, Any]:
    """One study as bibliographic fields: the NCT number is its identifier (``id``, the
    record's identifier in its source) and its address; the lead sponsor is its author."""
    protocol = study.get("protocolSection") or {}
    identification = protocol.get("identificationModule") or {}
    status = protocol.get("statusModule") or {}
    sponsor = (protocol.get("sponsorCollaboratorsModule") or {}).get("leadSponsor") or {}
    conditions = protocol.get("conditionsModule") or {}
    description = protocol.get("descriptionModule") or {}
    nct = identification.get("nctId") or ""
    start = ((status.get("startDateStruct") or {}).get("date") or "")[:4]
    title = identification.get("briefTitle") or identification.get("officialTitle") or ""
    return {
        "id": nct,
        "title": " ".join(title.split()),
        "abstract": " ".join((description.get("briefSummary") or "").split()),
        "authors": [sponsor["name"]] if sponsor.get("name") else [],
        "year": start if start.isdigit() else "",
        "journal": SERVICE,
        "keywords": [
            *(conditions.get("conditions") or []),
            *(conditions.get("keywords") or []),
        ],
        "publication_type": PUBLICATION_TYPE,
        "url": f"{STUDY_URL}{nct}" if nct else "",
    }
