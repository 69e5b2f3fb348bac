"""PubMed through NCBI's E-utilities: ESearch on the history server, EFetch in batches.

EFetch answers ``rettype=medline&retmode=text``: the MEDLINE file PubMed's own "Save"
button writes, so the records go through the same ``.nbib`` importer as an uploaded export
(the most faithful path: every tag is kept in the record's raw fields).
"""

from __future__ import annotations

import re
from datetime import date

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from .http import ConnectorError, Fetched, HttpClient

SERVICE = "PubMed"
# NCBI serves at most the first 10,000 records of a PubMed search through the E-utilities.
PUBMED_MAX_RECORDS = 10_000
BATCH_SIZE = 500
_RECORD_START = re.compile(r"^PMID- ", re.MULTILINE)
# The E-utilities need both ends of a date range; an open end is the widest PubMed has.
_EARLIEST, _LATEST = "1800/01/01", "3000/12/31"


def fetch_pubmed(
    client: HttpClient,
    *,
    base_url: str,
    query: str,
    date_from: date | None = None,
    date_to: date | None = None,
    api_key: str = "",
    email: str = "",
    batch_size: int = BATCH_SIZE,
) -> Fetched:
    """Run ``query`` in PubMed (publication dates ``date_from``–``date_to``) and fetch every
    record it finds as MEDLINE text; ``ConnectorError`` unless all of them came back."""
    base = base_url.rstrip("/") + "/"
    common: dict[str, str | int] = {"db": "pubmed", "tool": "reviewflow"}
    if email:
        common["email"] = email
    if api_key:
        common["api_key"] = api_key
    params: dict[str, str | int] = {**common, "term": query, "usehistory": "y", "retmax": 0}
    notes = []
    if date_from or date_to:
        params["datetype"] = "pdat"
        params["mindate"] = date_from.strftime("%Y/%m/%d") if date_from else _EARLIEST
        params["maxdate"] = date_to.strftime("%Y/%m/%d") if date_to else _LATEST
        notes.append(f"Publication dates {params['mindate']} to {params['maxdate']} (PDAT).")
    answer = client.get(base + "esearch.fcgi", params)
    count, query_key, web_env, translation = _esearch(answer)
    notes.extend(esearch_warnings(answer))
    if translation:
        notes.append(f"PubMed ran the query as: {translation}")
    if count > PUBMED_MAX_RECORDS:
        raise ConnectorError(
            f"PubMed found {count} records; the E-utilities give at most the first "
            f"{PUBMED_MAX_RECORDS}, so nothing was imported. Split the search (by "
            "publication date, say) into searches of fewer records each."
        )
    chunks = []
    fetched = 0
    for start in range(0, count, batch_size):
        expected = min(batch_size, count - start)
        body = client.get(
            base + "efetch.fcgi",
            {
                **common,
                "query_key": query_key,
                "WebEnv": web_env,
                "retstart": start,
                "retmax": batch_size,
                "rettype": "medline",
                "retmode": "text",
            },
        )
        text = body.decode("utf-8", "replace")
        got = len(_RECORD_START.findall(text))
        if got != expected:
            raise ConnectorError(
                f"PubMed reported {count} records but answered {got} instead of {expected} "
                f"for records {start + 1}–{start + expected}; a partial search is not "
                "imported, so nothing was. Run the search again."
            )
        fetched += got
        chunks.append(text.strip("\n"))
    return Fetched(
        source=SERVICE,
        query_sent=query,
        reported=count,
        fetched=fetched,
        fmt="nbib",
        text="\n\n".join(chunks) + "\n" if chunks else "",
        notes=notes,
    )


def _esearch(body: bytes) -> tuple[int, str, str, str]:
    """The count, query key, WebEnv and query translation of an ESearch answer."""
    try:
        root = ElementTree.fromstring(body, forbid_dtd=False)
    except (ElementTree.ParseError, DefusedXmlException):
        raise ConnectorError(
            "PubMed's search answer was not the XML the E-utilities send; nothing was imported."
        ) from None
    error = root.findtext("ERROR")
    if error:
        raise ConnectorError(f"PubMed refused the search: {error.strip()}")
    count_text = (root.findtext("Count") or "").strip()
    if not count_text.isdigit():
        raise ConnectorError("PubMed's search answer gave no record count; nothing was imported.")
    count = int(count_text)
    query_key = (root.findtext("QueryKey") or "").strip()
    web_env = (root.findtext("WebEnv") or "").strip()
    if count and not (query_key and web_env):
        raise ConnectorError(
            "PubMed did not keep the search on its history server (no WebEnv); nothing was "
            "imported. Run the search again."
        )
    translation = " ".join((root.findtext("QueryTranslation") or "").split())
    return count, query_key, web_env, translation


def esearch_warnings(body: bytes) -> list[str]:
    """What ESearch said it could not use of the query (``ErrorList``, ``WarningList``:
    a phrase not found, a field unknown), for the run's notes."""
    root = ElementTree.fromstring(body, forbid_dtd=False)
    said = []
    for part in ("ErrorList", "WarningList"):
        for item in root.find(part) if root.find(part) is not None else []:
            text = " ".join((item.text or "").split())
            if text:
                said.append(f"PubMed: {item.tag} “{text}”.")
    return said
