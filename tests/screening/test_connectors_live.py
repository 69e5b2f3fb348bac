"""Opt-in: each connector against its live service (#21), with a small real search.

Not part of ``make test`` (no test there reaches the internet): these are deselected unless
asked for with ``pytest -m live tests/screening/test_connectors_live.py``; without network
they skip, naming the service they could not reach. They show that the shapes replayed by the
offline tests are still what the services answer.
"""

from __future__ import annotations

import socket
from datetime import date
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from screening.connectors import (
    HttpClient,
    RateLimiter,
    fetch_clinicaltrials,
    fetch_crossref,
    fetch_europepmc,
    fetch_openalex,
    fetch_pubmed,
)

pytestmark = pytest.mark.live

# A narrow query of the demo's topic, limited to one month: a handful of records.
QUERY = "mesenchymal stem cells knee osteoarthritis"
MONTH = (date(2024, 3, 1), date(2024, 3, 31))


def reachable(url: str) -> HttpClient:
    """A client for the service at ``url``, or a skip naming it when it cannot be reached."""
    host = urlsplit(url).hostname or ""
    try:
        socket.create_connection((host, 443), timeout=5).close()
    except OSError as exc:
        pytest.skip(f"{host} cannot be reached from here ({exc}): no network")
    return HttpClient(host, limiter=RateLimiter(2), attempts=3)


def check(fetched, *, fmt: str) -> None:
    assert fetched.fmt == fmt
    assert 0 < fetched.reported == fetched.fetched <= 500, fetched.reported


def test_pubmed_live():
    fetched = fetch_pubmed(
        reachable(settings.PUBMED_EUTILS_URL),
        base_url=settings.PUBMED_EUTILS_URL,
        query=QUERY,
        date_from=MONTH[0],
        date_to=MONTH[1],
    )
    check(fetched, fmt="nbib")
    assert fetched.text.startswith("PMID- ")


def test_europepmc_live():
    fetched = fetch_europepmc(
        reachable(settings.EUROPEPMC_URL),
        base_url=settings.EUROPEPMC_URL,
        query=QUERY,
        date_from=MONTH[0],
        date_to=MONTH[1],
    )
    check(fetched, fmt="ris")
    assert all(row["title"] for row in fetched.records)


def test_openalex_live():
    fetched = fetch_openalex(
        reachable(settings.OPENALEX_URL),
        base_url=settings.OPENALEX_URL,
        query=QUERY,
        date_from=MONTH[0],
        date_to=MONTH[1],
    )
    check(fetched, fmt="ris")
    assert all(row["id"].startswith("W") for row in fetched.records)


def test_clinicaltrials_live():
    fetched = fetch_clinicaltrials(
        reachable(settings.CLINICALTRIALS_URL),
        base_url=settings.CLINICALTRIALS_URL,
        query=QUERY,
        date_from=date(2023, 1, 1),
        date_to=date(2023, 12, 31),
    )
    check(fetched, fmt="ris")
    assert all(row["id"].startswith("NCT") for row in fetched.records)


def test_crossref_live():
    # Crossref matches any word of a query: the topic's query finds tens of thousands of
    # works a month, beyond what one search may fetch; a rare word keeps it small.
    fetched = fetch_crossref(
        reachable(settings.CROSSREF_URL),
        base_url=settings.CROSSREF_URL,
        query="widget",
        date_from=date(2020, 1, 1),
        date_to=date(2020, 1, 31),
        email=settings.CONNECTOR_EMAIL,
    )
    assert fetched.fmt == "ris" and fetched.fetched == fetched.reported > 0
    assert all(row["doi"] for row in fetched.records)
