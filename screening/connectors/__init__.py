"""Clients of bibliographic databases that reviewflow can search itself (issue #21).

Each client fetches a whole search first and returns it as an export would be written
(``Fetched``): the service stores that as a search and imports it like an uploaded file,
so progress, provenance, rejections and deduplication are the same as for an upload. A
client never returns part of a search: when the service answers fewer records than it
reported, or stops answering, it raises ``ConnectorError`` with a sentence for the user.

No Django here (like the importers): the caller passes the base addresses, key and
limits it read from the settings, so the clients are tested against a local server.
"""

from __future__ import annotations

from .clinicaltrials import fetch_clinicaltrials
from .crossref import CROSSREF_MAX_RECORDS, fetch_crossref
from .europepmc import fetch_europepmc
from .http import ConnectorError, Fetched, HttpClient, RateLimiter
from .openalex import fetch_openalex
from .pubmed import PUBMED_MAX_RECORDS, fetch_pubmed

__all__ = [
    "CROSSREF_MAX_RECORDS",
    "PUBMED_MAX_RECORDS",
    "ConnectorError",
    "Fetched",
    "HttpClient",
    "RateLimiter",
    "fetch_clinicaltrials",
    "fetch_crossref",
    "fetch_europepmc",
    "fetch_openalex",
    "fetch_pubmed",
]
