"""Open-access copies of a record's full text (issue #22): where OpenAlex and Europe PMC say
a free PDF is, and the order the sources are tried in (Unpaywall first: ``unpaywall.py``).

Pure request and parse functions, no Django: the caller passes the base addresses and
contact address it read from the settings, and the functions that download and accept a
PDF, so all of it is tested against a local server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .download import DownloadRefused
from .http import ConnectorError, HttpClient, NotFound

_DOI_PREFIX = re.compile(r"^(https?://(dx\.)?doi\.org/|doi:)", re.IGNORECASE)
# Europe PMC's availability codes of a full-text link: "OA" open access, "F" free to read
# (an author manuscript, say); "S" subscription and "R" registration are not free copies.
_FREE_CODES = frozenset({"OA", "F"})


@dataclass(frozen=True)
class OaLocation:
    """One place a source says a free PDF of the work is, with its licence and version as
    the source words them (``cc-by``, ``publishedVersion``; empty when it does not say)."""

    source: str  # "unpaywall", "openalex" or "europepmc"
    url: str
    licence: str = ""
    version: str = ""
    host: str = ""  # the repository or publisher holding it, when the source names it


def clean_doi(value: str) -> str:
    """A DOI without its resolver prefix, lower-cased (DOIs are case-insensitive)."""
    return _DOI_PREFIX.sub("", value.strip()).strip().lower()


def load_json(body: bytes, service: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ConnectorError(f"{service}'s answer was not JSON.") from None


def text_of(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


# ----------------------------------------------------------------------------- OpenAlex


def openalex_locations(
    client: HttpClient, *, base_url: str, doi: str, email: str = ""
) -> list[OaLocation]:
    """OpenAlex's free PDFs of the work with ``doi``: its ``best_oa_location`` first, then
    its other open locations that have a PDF (``[]``: OpenAlex knows no PDF of it)."""
    params: dict[str, str | int] = {"filter": f"doi:{clean_doi(doi)}", "per-page": 5}
    if email:
        params["mailto"] = email
    return parse_openalex_work(client.get(base_url.rstrip("/") + "/works", params), doi)


def parse_openalex_work(body: bytes, doi: str) -> list[OaLocation]:
    """The open locations with a PDF of the work with ``doi`` in one page of OpenAlex's works
    (its answer to ``filter=doi:…``), best first."""
    data = load_json(body, "OpenAlex")
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        raise ConnectorError("OpenAlex's answer held no list of works.")
    wanted = clean_doi(doi)
    work = next(
        (w for w in results if isinstance(w, dict) and clean_doi(text_of(w.get("doi"))) == wanted),
        None,
    )
    if work is None:
        return []
    found: list[OaLocation] = []
    best = work.get("best_oa_location")
    others: list[Any] = work["locations"] if isinstance(work.get("locations"), list) else []
    for place in [best, *others]:
        if not isinstance(place, dict) or not text_of(place.get("pdf_url")):
            continue
        if place is not best and not place.get("is_oa"):
            continue
        source = place.get("source") if isinstance(place.get("source"), dict) else {}
        found.append(
            OaLocation(
                source="openalex",
                url=text_of(place.get("pdf_url")),
                licence=text_of(place.get("license")),
                version=text_of(place.get("version")),
                host=text_of(source.get("display_name")) if source else "",
            )
        )
    return distinct(found)


# --------------------------------------------------------------------------- Europe PMC


def europepmc_query(*, doi: str = "", pmid: str = "") -> str:
    """Europe PMC's query for one work: by DOI when there is one, else by PubMed id."""
    if doi:
        return f'DOI:"{clean_doi(doi)}"'
    if pmid:
        return f"EXT_ID:{pmid.strip()} AND SRC:MED"
    raise ValueError("a DOI or a PMID is needed")


def europepmc_locations(
    client: HttpClient, *, base_url: str, doi: str = "", pmid: str = "", email: str = ""
) -> list[OaLocation]:
    """The free PDFs Europe PMC lists for the work (``fullTextUrlList``: its PMC copy, the
    ``?pdf=render`` address), open-access ones first."""
    params: dict[str, str | int] = {
        "query": europepmc_query(doi=doi, pmid=pmid),
        "resultType": "core",
        "format": "json",
        "pageSize": 5,
    }
    if email:
        params["email"] = email
    body = client.get(base_url.rstrip("/") + "/search", params)
    return parse_europepmc_result(body, doi=doi, pmid=pmid)


def parse_europepmc_result(body: bytes, *, doi: str = "", pmid: str = "") -> list[OaLocation]:
    """The free PDF links of the result with ``doi`` (or ``pmid``) in a ``core`` search
    answer. Its ``license`` is the licence; an author manuscript (``authMan``) is the
    accepted version, and otherwise Europe PMC does not say which version it holds."""
    data = load_json(body, "Europe PMC")
    results = (data.get("resultList") or {}).get("result") if isinstance(data, dict) else None
    if not isinstance(results, list):
        raise ConnectorError("Europe PMC's answer held no result list.")
    wanted_doi, wanted_pmid = clean_doi(doi) if doi else "", pmid.strip()
    for result in results:
        if not isinstance(result, dict):
            continue
        same = (wanted_doi and clean_doi(text_of(result.get("doi"))) == wanted_doi) or (
            not wanted_doi and wanted_pmid and text_of(result.get("pmid")) == wanted_pmid
        )
        if not same:
            continue
        links = (result.get("fullTextUrlList") or {}).get("fullTextUrl") or []
        pdfs = [
            link
            for link in links
            if isinstance(link, dict)
            and link.get("documentStyle") == "pdf"
            and link.get("availabilityCode") in _FREE_CODES
            and text_of(link.get("url"))
        ]
        pdfs.sort(key=lambda link: link.get("availabilityCode") != "OA")
        version = "acceptedVersion" if result.get("authMan") == "Y" else ""
        return distinct(
            [
                OaLocation(
                    source="europepmc",
                    url=text_of(link.get("url")),
                    licence=text_of(result.get("license")),
                    version=version,
                    host=text_of(link.get("site")).replace("_", " "),
                )
                for link in pdfs
            ]
        )
    return []


def distinct(locations: list[OaLocation]) -> list[OaLocation]:
    seen: set[str] = set()
    kept = []
    for place in locations:
        if place.url not in seen:
            seen.add(place.url)
            kept.append(place)
    return kept


# ------------------------------------------------------------------------ the order


@dataclass
class Found:
    """What the look-up of one record came to. ``outcome``: ``attached`` (``location`` and
    ``data`` hold the PDF), ``not_found`` (every source answered, none has a free PDF) or
    ``failed`` (a source did not answer, or every PDF offered failed to download).
    ``tried``: one line per source asked and per address tried, for the user."""

    outcome: str
    location: OaLocation | None = None
    data: bytes | None = None
    extracted: Any = None
    tried: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        return "; ".join(self.tried)


Lookup = tuple[str, Callable[[], list[OaLocation]]]


def find_open_copy(
    lookups: Sequence[Lookup],
    *,
    fetch: Callable[[str], bytes],
    accept: Callable[[bytes], tuple[Any, str]],
) -> Found:
    """Ask each source in turn (``(name, look-up)`` pairs) and download the best PDF it
    offers; the first that downloads as a real PDF and that ``accept`` takes wins. Only
    when no source's best PDF does are the sources' other PDFs tried, in the same order.

    ``fetch(url)`` returns the PDF's bytes or raises ``DownloadRefused``; ``accept(data)``
    returns ``(extracted, "")``, or ``(None, reason)`` for a PDF that cannot be attached
    (unreadable, or the same file as another record's)."""
    found = Found(outcome="not_found")
    failed = False
    later: list[OaLocation] = []
    tried_urls: set[str] = set()

    def attempt(place: OaLocation) -> bool:
        nonlocal failed
        if place.url in tried_urls:
            return False
        tried_urls.add(place.url)
        try:
            data = fetch(place.url)
        except DownloadRefused as exc:
            failed = True
            found.tried.append(f"{place.url}: {exc.message}")
            return False
        extracted, refusal = accept(data)
        if refusal:
            failed = True
            found.tried.append(f"{place.url}: {refusal}")
            return False
        found.outcome, found.location, found.data = "attached", place, data
        found.extracted = extracted
        return True

    for name, lookup in lookups:
        try:
            locations = lookup()
        except NotFound:
            found.tried.append(f"{name}: does not know this work")
            continue
        except ConnectorError as exc:
            failed = True
            found.tried.append(f"{name}: {_short(exc.message)}")
            continue
        if not locations:
            found.tried.append(f"{name}: no open-access PDF")
            continue
        best, *rest = locations
        later.extend(rest)
        if attempt(best):
            return found
    for place in later:
        if attempt(place):
            return found
    if failed:
        found.outcome = "failed"
    return found


def _short(message: str) -> str:
    """A client's message without what it says about imports (it was written for searches)."""
    return re.split(r";? nothing was imported", message, maxsplit=1)[0].rstrip(" .;")
