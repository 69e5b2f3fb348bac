"""Open-access retrieval (#22): Unpaywall, OpenAlex and Europe PMC look-ups parsed from real
recorded answers (tests/screening/fixtures/connectors/README.md names their origins), the
order the sources are tried in, the download's refusals, and a run end to end against a
local server that replays those answers and serves PDFs made here."""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from screening.connectors import HttpClient, RateLimiter
from screening.connectors.download import DownloadRefused, download_pdf
from screening.connectors.http import ConnectorError, NotFound
from screening.connectors.openaccess import (
    OaLocation,
    find_open_copy,
    parse_europepmc_result,
    parse_openalex_work,
)
from screening.connectors.unpaywall import parse_unpaywall, unpaywall_url
from tests.screening.test_connectors import FIXTURES
from tests.screening.test_pdf_matching import make_pdf

UNPAYWALL_GREEN = (FIXTURES / "unpaywall_green_arxiv.json").read_bytes()
UNPAYWALL_CLOSED = (FIXTURES / "unpaywall_closed.json").read_bytes()
OPENALEX_PAGE = json.loads((FIXTURES / "openalex_works_page1.json").read_text())
EPMC_OA = json.loads((FIXTURES / "europepmc_core_oa.json").read_text())

DOI_ARXIV = "10.1103/physrevlett.80.3915"  # Unpaywall: green, an arXiv PDF
DOI_PEERJ = "10.7717/peerj.4375"  # OpenAlex: best_oa_location is PeerJ's PDF, cc-by
DOI_GASTRIC = "10.1007/s10120-025-01625-7"  # Europe PMC: open access in PMC, cc by
DOI_CLOSED = "10.1016/s0962-1849(05)80014-9"  # Unpaywall: closed
PMID_MANUSCRIPT = "39709208"  # Europe PMC: an author manuscript, free to read
# Where the recorded answers say the PDFs are; the tests serve them from the local server.
HOSTS = {
    "http://arxiv.org/": "arxiv/",
    "https://cdr.lib.unc.edu/": "unc/",
    "https://peerj.com/": "peerj/",
    "https://europepmc.org/": "epmc-site/",
}
# Hosts of identifiers (DOIs, OpenAlex ids), which are never fetched: left as recorded.
IDENTIFIER_HOSTS = {"doi.org", "dx.doi.org", "openalex.org", "orcid.org"}

Answer = tuple[int, dict[str, str], bytes]
PDF = {"Content-Type": "application/pdf"}
JSON = {"Content-Type": "application/json"}
HTML = {"Content-Type": "text/html; charset=utf-8"}


class OaServer:
    """A local HTTP server: ``routes`` maps a path (``/unpaywall/v2/…``) to an answer, or
    ``answer(path, params)`` decides; ``requests`` keeps what was asked, in order."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.routes: dict[str, Answer] = {}
        self.answer: Callable[[str, dict[str, str]], Answer | None] = lambda path, params: None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                parts = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(parts.query).items()}
                server.requests.append((parts.path, params))
                found = server.answer(parts.path, params) or server.routes.get(
                    parts.path, (404, JSON, b'{"message": "not found"}')
                )
                code, headers, body = found
                self.send_response(code)
                for name, value in headers.items():
                    self.send_header(name, value)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def local(self, body: bytes) -> bytes:
        """A recorded answer with its hosts pointed at this server (those of ``HOSTS`` to
        their paths, every other but identifiers' to ``ext/<host>/``, which answers 404):
        no test ever reaches out."""
        text = body.decode("utf-8")

        def moved(match: re.Match[str]) -> str:
            if match.group(1) in IDENTIFIER_HOSTS:
                return match.group(0)
            return self.url + HOSTS.get(match.group(0), f"ext/{match.group(1)}/")

        text = re.sub(r"https?://([A-Za-z0-9.-]+)/", moved, text)
        return text.encode("utf-8")

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


@pytest.fixture
def oa_server() -> Any:
    server = OaServer()
    yield server
    server.server.shutdown()
    server.server.server_close()


def http(service: str) -> HttpClient:
    return HttpClient(
        service, limiter=RateLimiter(1000, sleep=lambda s: None), attempts=2, sleep=lambda s: None
    )


def openalex_answer(server: OaServer, params: dict[str, str]) -> Answer:
    """OpenAlex's works list for ``filter=doi:…``: the recorded page with the recorded
    work of that DOI, or none."""
    wanted = params["filter"].removeprefix("doi:")
    page = copy.deepcopy(OPENALEX_PAGE)
    page["results"] = [w for w in page["results"] if w["doi"].endswith("/" + wanted)]
    page["meta"]["count"] = len(page["results"])
    return 200, JSON, server.local(json.dumps(page).encode())


def europepmc_answer(server: OaServer, params: dict[str, str]) -> Answer:
    """Europe PMC's ``core`` search for one DOI or PMID: the recorded result that matches."""
    query = params["query"]
    page = copy.deepcopy(EPMC_OA)
    page["resultList"]["result"] = [
        r
        for r in page["resultList"]["result"]
        if f'DOI:"{r["doi"]}"' == query or f"EXT_ID:{r['pmid']} AND SRC:MED" == query
    ]
    page["hitCount"] = len(page["resultList"]["result"])
    return 200, JSON, server.local(json.dumps(page).encode())


def services(server: OaServer, unpaywall: dict[str, bytes]) -> None:
    """Route the three services: Unpaywall answers the DOIs in ``unpaywall`` (404 for the
    others, as it does for a DOI it does not know)."""

    def answer(path: str, params: dict[str, str]) -> Answer | None:
        if path == "/openalex/works":
            return openalex_answer(server, params)
        if path == "/epmc/search":
            return europepmc_answer(server, params)
        if path.startswith("/unpaywall/v2/"):
            doi = unquote(path.removeprefix("/unpaywall/v2/"))
            if doi in unpaywall:
                return 200, JSON, server.local(unpaywall[doi])
            return 404, JSON, b'{"HTTP_status_code": 404, "error": true}'
        return None

    server.answer = answer


# ----------------------------------------------------------- parsing, no database


def test_unpaywall_gives_the_best_location_first_then_the_others():
    places = parse_unpaywall(UNPAYWALL_GREEN)
    assert places == [
        OaLocation(
            source="unpaywall",
            url="http://arxiv.org/pdf/gr-qc/9801069",
            licence="",
            version="submittedVersion",
            host="arXiv.org",
        ),
        OaLocation(
            source="unpaywall",
            url="https://cdr.lib.unc.edu/downloads/hm50v1675",
            licence="",
            version="submittedVersion",
            host="University of North Carolina at Chapel Hill - Carolina Digital Repository",
        ),
    ]


def test_a_closed_work_in_unpaywall_has_no_location():
    assert parse_unpaywall(UNPAYWALL_CLOSED) == []


def test_unpaywall_address_keeps_the_dois_slash_and_escapes_the_rest():
    assert unpaywall_url("https://api.unpaywall.org/v2/", DOI_CLOSED) == (
        "https://api.unpaywall.org/v2/10.1016/s0962-1849%2805%2980014-9"
    )


def test_unpaywall_answer_that_is_not_a_doi_object_is_refused():
    with pytest.raises(ConnectorError, match="not a DOI object"):
        parse_unpaywall(b'{"results": []}')


def test_openalex_best_oa_location_gives_the_pdf_licence_and_version():
    body = json.dumps(OPENALEX_PAGE).encode()
    assert parse_openalex_work(body, "https://doi.org/10.7717/PEERJ.4375")[0] == OaLocation(
        source="openalex",
        url="https://peerj.com/articles/4375.pdf",
        licence="cc-by",
        version="publishedVersion",
        host="PeerJ",
    )
    # The other recorded work is closed: no location.
    assert parse_openalex_work(body, "10.1016/j.joi.2017.08.007") == []


def test_europepmc_open_access_pdf_with_its_licence():
    body = json.dumps(EPMC_OA).encode()
    assert parse_europepmc_result(body, doi=DOI_GASTRIC) == [
        OaLocation(
            source="europepmc",
            url="https://europepmc.org/articles/PMC12174270?pdf=render",
            licence="cc by",
            version="",
            host="Europe PMC",
        )
    ]


def test_europepmc_author_manuscript_is_free_and_the_accepted_version():
    body = json.dumps(EPMC_OA).encode()
    (place,) = parse_europepmc_result(body, pmid=PMID_MANUSCRIPT)
    assert (place.url, place.licence, place.version) == (
        "https://europepmc.org/articles/PMC12124214?pdf=render",
        "",
        "acceptedVersion",
    )
    assert parse_europepmc_result(body, doi="10.1000/not-there") == []


# ------------------------------------------------------- the order, no database


def _found(*places: OaLocation) -> Callable[[], list[OaLocation]]:
    return lambda: list(places)


def _missing() -> list[OaLocation]:
    raise NotFound("Unpaywall refused the request (HTTP 404); nothing was imported.")


def _down() -> list[OaLocation]:
    raise ConnectorError(
        "OpenAlex did not answer after 3 attempts (HTTP 503); nothing was imported. Run the "
        "search again later."
    )


A = OaLocation("unpaywall", "https://a.example/best.pdf")
A2 = OaLocation("unpaywall", "https://a.example/other.pdf")
B = OaLocation("openalex", "https://b.example/best.pdf")
C = OaLocation("europepmc", "https://c.example/render")


def _fetcher(pages: dict[str, bytes | str]) -> tuple[Callable[[str], bytes], list[str]]:
    asked: list[str] = []

    def fetch(url: str) -> bytes:
        asked.append(url)
        got = pages[url]
        if isinstance(got, str):
            raise DownloadRefused(got)
        return got

    return fetch, asked


def _accept(data: bytes) -> tuple[Any, str]:
    return ("text", "") if data.startswith(b"%PDF-") else (None, "unreadable")


def test_the_first_source_whose_best_copy_is_a_pdf_wins_and_later_ones_are_not_asked():
    fetch, asked = _fetcher({A.url: b"%PDF-1.4 a"})
    later = []
    found = find_open_copy(
        [("Unpaywall", _found(A, A2)), ("OpenAlex", lambda: later.append(1) or [B])],
        fetch=fetch,
        accept=_accept,
    )
    assert (found.outcome, found.location, asked, later) == ("attached", A, [A.url], [])


def test_a_landing_page_falls_through_to_the_next_source_before_other_copies():
    fetch, asked = _fetcher(
        {A.url: "got HTML (a web page, not the PDF)", B.url: b"%PDF-1.7 b", A2.url: b"%PDF- x"}
    )
    found = find_open_copy(
        [("Unpaywall", _found(A, A2)), ("OpenAlex", _found(B)), ("Europe PMC", _found(C))],
        fetch=fetch,
        accept=_accept,
    )
    assert (found.outcome, found.location, asked) == ("attached", B, [A.url, B.url])
    assert found.message == "https://a.example/best.pdf: got HTML (a web page, not the PDF)"


def test_the_sources_other_copies_are_tried_when_every_best_copy_fails():
    fetch, asked = _fetcher({A.url: "HTTP 403", C.url: b"<html>", A2.url: b"%PDF-1.5"})
    found = find_open_copy(
        [("Unpaywall", _found(A, A2)), ("OpenAlex", _missing), ("Europe PMC", _found(C))],
        fetch=fetch,
        accept=_accept,
    )
    assert (found.outcome, found.location, asked) == ("attached", A2, [A.url, C.url, A2.url])
    assert found.tried == [
        "https://a.example/best.pdf: HTTP 403",
        "OpenAlex: does not know this work",
        "https://c.example/render: unreadable",
    ]


def test_nothing_anywhere_is_not_found_but_a_silent_source_makes_it_failed():
    fetch, _ = _fetcher({})
    found = find_open_copy(
        [("Unpaywall", _missing), ("OpenAlex", _found()), ("Europe PMC", _found())],
        fetch=fetch,
        accept=_accept,
    )
    assert found.outcome == "not_found"
    assert found.message == (
        "Unpaywall: does not know this work; OpenAlex: no open-access PDF; "
        "Europe PMC: no open-access PDF"
    )
    found = find_open_copy([("OpenAlex", _down)], fetch=fetch, accept=_accept)
    assert (found.outcome, found.message) == (
        "failed",
        "OpenAlex: OpenAlex did not answer after 3 attempts (HTTP 503)",
    )


# ----------------------------------------------------------------- the download


def download(server: OaServer, path: str, **kwargs: Any) -> bytes:
    kwargs.setdefault("max_bytes", 1024 * 1024)
    kwargs.setdefault("allow_private", True)
    return download_pdf(server.url + path, timeout=5, **kwargs).data


def test_a_pdf_downloads_through_a_redirect(oa_server):
    pdf = make_pdf(["A free copy"])
    oa_server.routes["/old"] = (302, {"Location": "/new.pdf"}, b"")
    oa_server.routes["/new.pdf"] = (200, PDF, pdf)
    assert download(oa_server, "old") == pdf


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ((200, HTML, b"<html><body>Download PDF</body></html>"), "got HTML"),
        # A landing page served as a PDF is still refused by its first bytes.
        ((200, PDF, b"\n<!DOCTYPE html><html></html>"), "got HTML"),
        ((200, {"Content-Type": "application/octet-stream"}, b"PK\x03\x04zip"), "not a PDF"),
        ((403, HTML, b"Forbidden"), "HTTP 403"),
        ((200, PDF, b"%PDF-" + b"0" * 2048), "the file is 0.0 MB; the limit is 0 MB"),
    ],
)
def test_what_is_not_a_pdf_within_the_limits_is_refused_with_the_reason(oa_server, answer, message):
    oa_server.routes["/file"] = answer
    with pytest.raises(DownloadRefused, match=message):
        download(oa_server, "file", max_bytes=1024)


def test_a_body_longer_than_announced_is_never_read_past_the_limit(oa_server):
    # No Content-Length to go by: the reading stops at the limit.
    oa_server.routes["/big"] = (200, {**PDF, "Content-Length": ""}, b"%PDF-" + b"0" * 300_000)
    with pytest.raises(DownloadRefused, match="the file is more than"):
        download(oa_server, "big", max_bytes=100_000)


def test_redirects_are_limited(oa_server):
    for n in range(8):
        oa_server.routes[f"/hop{n}"] = (302, {"Location": f"/hop{n + 1}"}, b"")
    with pytest.raises(DownloadRefused, match="more than 5 redirects"):
        download(oa_server, "hop0")


def test_an_address_on_this_machine_is_refused_unless_allowed(oa_server):
    oa_server.routes["/x.pdf"] = (200, PDF, make_pdf(["x"]))
    with pytest.raises(DownloadRefused, match="private network"):
        download(oa_server, "x.pdf", allow_private=False)
    with pytest.raises(DownloadRefused, match="not an http"):
        download_pdf("file:///etc/passwd", max_bytes=10)
    assert oa_server.requests == []
