"""Unpaywall's REST API v2 (``GET /v2/{doi}?email=…``): where free copies of a DOI's work
are. Unpaywall asks every client for a contact address and answers 404 for a DOI it does
not know (the client raises ``NotFound``). Its data format: https://unpaywall.org/data-format.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .http import ConnectorError, HttpClient
from .openaccess import OaLocation, clean_doi, distinct, load_json, text_of

SERVICE = "Unpaywall"


def unpaywall_url(base_url: str, doi: str) -> str:
    """The address of one DOI's object (the DOI's slashes stay slashes, as Unpaywall's
    documentation writes it: ``/v2/10.1038/nature12373``)."""
    return base_url.rstrip("/") + "/" + quote(clean_doi(doi), safe="/")


def unpaywall_locations(
    client: HttpClient, *, base_url: str, doi: str, email: str
) -> list[OaLocation]:
    """Unpaywall's PDFs of the work with ``doi``: the ``url_for_pdf`` of its
    ``best_oa_location`` first, then those of its other ``oa_locations``."""
    if not email:
        raise ConnectorError("Unpaywall needs a contact e-mail address (UNPAYWALL_EMAIL).")
    return parse_unpaywall(client.get(unpaywall_url(base_url, doi), {"email": email}))


def parse_unpaywall(body: bytes) -> list[OaLocation]:
    """The locations with a PDF in one DOI object; ``[]`` for a closed work (``is_oa``
    false, ``best_oa_location`` null) or one whose free copies are web pages only."""
    data = load_json(body, SERVICE)
    if not isinstance(data, dict) or "doi" not in data:
        raise ConnectorError("Unpaywall's answer was not a DOI object.")
    places: list[Any] = [data.get("best_oa_location")]
    if isinstance(data.get("oa_locations"), list):
        places += data["oa_locations"]
    found = [
        OaLocation(
            source="unpaywall",
            url=text_of(place.get("url_for_pdf")),
            licence=text_of(place.get("license")),
            version=text_of(place.get("version")),
            host=text_of(place.get("repository_institution")) or text_of(place.get("host_type")),
        )
        for place in places
        if isinstance(place, dict) and text_of(place.get("url_for_pdf"))
    ]
    return distinct(found)
