"""Retractions, corrections and expressions of concern of works, from Crossref (#21).

What Crossref documents, and this client follows:

- a work that was retracted or corrected carries ``updated-by``: one entry per notice,
  ``{"DOI": <the notice>, "type": "retraction" | "correction" | "expression_of_concern" |
  …, "label", "source": "publisher" | "retraction-watch", "updated": {"date-parts"}}``.
  Since January 2025 Crossref folds Retraction Watch's database into these entries
  (``source: retraction-watch``, with its ``record-id``); Crossref's own advice for checking
  a DOI is to read this field (its community post "Deprecating Retraction Watch annotations
  in the Labs API", and the tutorial "Get Retraction Watch metadata from Crossref's API").
  The notice's own record carries the same link the other way, as ``update-to``;
- the works list takes the ``doi`` filter, and "specifying the same filter multiple times
  will result in OR semantics" (github.com/CrossRef/rest-api-doc, "Multiple filters"):
  ``filter=doi:A,doi:B`` answers both works in one request (Crossref's staff give that
  answer for a list of DOIs in rest-api-doc issue #301, warning of URL size), so DOIs go
  in batches of ``BATCH``; a DOI Crossref does not hold is simply not in the answer (no
  404 to tell from a failure);
- ``select`` may name ``DOI``, ``update-to`` and ``updated-by``: answers hold nothing else.

Two things found in recorded answers shape the parsing:

- Crossref lists one notice once per source, sometimes under two types (the Lancet's
  retraction notice is a Retraction Watch "retraction" and a publisher "erratum"); a
  notice is kept per (kind, notice DOI), its sources joined;
- Elsevier deposits the link between a paper and its retraction notice in both directions
  with the same type, so the notice itself appears "updated by" the paper it retracts.
  Retraction Watch's entries are curated one by one: when a record's own ``update-to``
  says, from Retraction Watch, that the record updates DOI X, an ``updated-by`` entry
  naming X is that same link seen backwards and is not a notice about the record. An
  entry naming the record's own DOI is kept: Retraction Watch marks a retraction made in
  place (no separate notice) so.

No Django here: the caller passes the base address and contact address from its settings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

from .http import ConnectorError, HttpClient, NotFound

SERVICE = "Crossref"
# DOIs a request: some fifty characters each in the address, which stays far below the
# sizes servers accept (Crossref's staff warn of URL size limits for long lists).
BATCH = 40
SELECT = "DOI,update-to,updated-by"
RETRACTION_WATCH = "retraction-watch"
# Crossref's update types (Crossmark's list), as the kinds a review flags. ``new_version``
# and ``new_edition`` say nothing about a study's soundness and are not flagged; a type
# Crossref adds later is kept as "other", with its label.
KINDS: dict[str, str] = {
    "retraction": "retraction",
    "withdrawal": "withdrawal",
    "removal": "withdrawal",
    "expression_of_concern": "concern",
    "correction": "correction",
    "corrigendum": "correction",
    "erratum": "correction",
    "partial_retraction": "other",
    "addendum": "other",
    "clarification": "other",
}
NOT_FLAGGED = frozenset({"new_version", "new_edition"})


@dataclass(frozen=True)
class Notice:
    """One editorial notice about the work ``doi`` (lower case, as records keep DOIs)."""

    doi: str
    kind: str
    label: str
    notice_doi: str
    notice_date: date | None
    source: str


def fetch_notices(
    client: HttpClient,
    *,
    base_url: str,
    dois: Iterable[str],
    email: str = "",
    batch: int = BATCH,
) -> tuple[set[str], list[Notice]]:
    """Ask Crossref about every DOI, ``batch`` at a time: the DOIs Crossref holds, and the
    notices about them. ``ConnectorError`` (with a sentence for the user) when Crossref
    cannot be asked or answers something else than a list of works."""
    url = base_url.rstrip("/") + "/works"
    every = {d.strip().lower() for d in dois if d.strip()}
    # A comma would end the filter's value: such a DOI is asked for alone, at its own
    # address (``/works/{doi}``, whose answer is one work), rather than left unchecked.
    wanted = sorted(d for d in every if "," not in d)
    found: set[str] = set()
    notices: list[Notice] = []
    for doi in sorted(every - set(wanted)):
        try:
            body = client.get(f"{url}/{quote(doi, safe='')}", _polite({}, email))
        except NotFound:
            continue  # Crossref holds no such DOI
        work = _work(body)
        if _text(work.get("DOI")).lower() == doi:
            found.add(doi)
            notices.extend(notices_of(work))
    for start in range(0, len(wanted), batch):
        chunk = wanted[start : start + batch]
        params: dict[str, str | int] = {
            "filter": ",".join(f"doi:{doi}" for doi in chunk),
            "rows": len(chunk),
            "select": SELECT,
        }
        asked = set(chunk)
        for work in _works(client.get(url, _polite(params, email))):
            doi = _text(work.get("DOI")).lower()
            if doi in asked:
                found.add(doi)
                notices.extend(notices_of(work))
    return found, notices


def notices_of(work: dict[str, Any]) -> list[Notice]:
    """The notices about ``work`` (one Crossref work), from its ``updated-by``: one per
    (kind, notice DOI), in Crossref's order; see the module's notes for what is left out."""
    doi = _text(work.get("DOI")).lower()
    notices: dict[tuple[str, str], Notice] = {}
    updates_curated = {
        _text(entry.get("DOI")).lower()
        for entry in _entries(work.get("update-to"))
        if _text(entry.get("source")) == RETRACTION_WATCH
    }
    for entry in _entries(work.get("updated-by")):
        notice_doi = _text(entry.get("DOI")).lower()
        if notice_doi != doi and notice_doi in updates_curated:
            continue  # this record is the notice of ``notice_doi``, seen backwards
        kind = notice_kind(_text(entry.get("type")))
        if kind is None:
            continue
        source = _text(entry.get("source"))
        key = (kind, notice_doi)
        if key in notices:
            earlier = notices[key]
            if source and source not in earlier.source.split(", "):
                merged = f"{earlier.source}, {source}" if earlier.source else source
                notices[key] = Notice(
                    doi=earlier.doi,
                    kind=earlier.kind,
                    label=earlier.label,
                    notice_doi=earlier.notice_doi,
                    notice_date=earlier.notice_date,
                    source=merged[:40],
                )
            continue
        notices[key] = Notice(
            doi=doi,
            kind=kind,
            label=(_text(entry.get("label")) or _text(entry.get("type")))[:120],
            notice_doi=notice_doi[:255],
            notice_date=_date(entry.get("updated")),
            source=source[:40],
        )
    return list(notices.values())


def notice_kind(update_type: str) -> str | None:
    """The kind a review flags for a Crossref update type; ``None`` for types that are not
    flagged (a new version, a new edition) and for an entry without a type."""
    value = update_type.strip().lower().replace("-", "_").replace(" ", "_")
    if not value or value in NOT_FLAGGED:
        return None
    return KINDS.get(value, "other")


def _polite(params: dict[str, str | int], email: str) -> dict[str, str | int]:
    if email:
        params["mailto"] = email  # Crossref's "polite pool"
    return params


def _work(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    message = data.get("message") if isinstance(data, dict) else None
    if (
        not isinstance(data, dict)
        or data.get("message-type") != "work"
        or not isinstance(message, dict)
    ):
        raise ConnectorError(
            "Crossref's answer was not the work it sends, so the records could not be "
            "checked; nothing was changed. Run the check again later."
        )
    return message


def _works(body: bytes) -> Sequence[dict[str, Any]]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    message = data.get("message") if isinstance(data, dict) else None
    items = message.get("items") if isinstance(message, dict) else None
    if (
        not isinstance(data, dict)
        or data.get("message-type") != "work-list"
        or not isinstance(items, list)
        or not all(isinstance(item, dict) for item in items)
    ):
        raise ConnectorError(
            "Crossref's answer was not the list of works it sends, so the records could not "
            "be checked; nothing was changed. Run the check again later."
        )
    return items


def _entries(value: Any) -> list[dict[str, Any]]:
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def _date(value: Any) -> date | None:
    """The day of Crossref's ``{"date-parts": [[2020, 6, 5]]}``; a month or a year alone
    is taken as its first day (as Crossref's own date filters do)."""
    parts = value.get("date-parts") if isinstance(value, dict) else None
    if not (isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]):
        return None
    numbers = [p for p in parts[0][:3] if isinstance(p, int) and not isinstance(p, bool)]
    if len(numbers) != len(parts[0][:3]):
        return None
    year, month, day = (numbers + [1, 1])[:3]
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    return str(value).strip()
