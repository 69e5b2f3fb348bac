"""Database searches run from reviewflow (PubMed, Europe PMC), against a local HTTP server
that replays real answers of those services (tests/screening/fixtures/connectors/README.md
names where each was recorded)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from screening import bibliography
from screening.connectors import (
    ConnectorError,
    HttpClient,
    RateLimiter,
    fetch_europepmc,
    fetch_pubmed,
)
from screening.connectors.europepmc import to_fields
from screening.models import Record, RunStatus, SavedSearch, SavedSearchRun, Search
from screening.services import connectors

FIXTURES = Path(__file__).parent / "fixtures" / "connectors"
ESEARCH = (FIXTURES / "pubmed_esearch_history.xml").read_bytes()
MEDLINE = (FIXTURES / "pubmed_efetch_medline.txt").read_text()
# The MEDLINE file's records, each from its "PMID- " line.
MEDLINE_RECORDS = [
    "PMID- " + block.strip("\n") + "\n" for block in re.split(r"^PMID- ", MEDLINE, flags=re.M)[1:]
]
PMIDS = [r.split("\n", 1)[0].removeprefix("PMID- ").strip() for r in MEDLINE_RECORDS]
EPMC_PAGES = [json.loads((FIXTURES / f"europepmc_core_page{n}.json").read_text()) for n in (1, 2)]

Answer = tuple[int, dict[str, str], bytes]


class Replay:
    """A local HTTP server: ``answer(path, params)`` gives each response; ``requests`` keeps
    what was asked, in order."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.answer: Callable[[str, dict[str, str]], Answer] = lambda path, params: (404, {}, b"")
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                parts = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(parts.query).items()}
                path = parts.path.rsplit("/", 1)[-1]
                replay.requests.append((path, params))
                code, headers, body = replay.answer(path, params)
                self.send_response(code)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/base/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def calls(self, path: str) -> list[dict[str, str]]:
        return [params for p, params in self.requests if p == path]


@pytest.fixture
def replay() -> Iterator[Replay]:
    server = Replay()
    yield server
    server.server.shutdown()
    server.server.server_close()


def pubmed(records: list[str] = MEDLINE_RECORDS, count: int | None = None) -> Any:
    """PubMed's E-utilities: ESearch reports ``count`` (the fixture's 4), EFetch serves
    ``records`` by ``retstart``/``retmax``."""

    def answer(path: str, params: dict[str, str]) -> Answer:
        if path == "esearch.fcgi":
            body = ESEARCH
            if count is not None:
                body = body.replace(b"<Count>4</Count>", f"<Count>{count}</Count>".encode())
            return 200, {"Content-Type": "text/xml"}, body
        if path == "efetch.fcgi":
            start, size = int(params["retstart"]), int(params["retmax"])
            text = "\n".join(records[start : start + size])
            return 200, {"Content-Type": "text/plain"}, text.encode()
        return 404, {}, b""

    return answer


def europepmc(pages: list[dict[str, Any]] = EPMC_PAGES) -> Any:
    """Europe PMC's search: the page whose request cursor is the one asked for."""

    def answer(path: str, params: dict[str, str]) -> Answer:
        for page in pages:
            asked = params["cursorMark"]
            if page["request"]["cursorMark"] in (asked, asked.replace("*", "%2A")):
                return 200, {"Content-Type": "application/json"}, json.dumps(page).encode()
        return 400, {}, b"unknown cursor"

    return answer


def client(sleeps: list[float] | None = None, attempts: int = 5) -> HttpClient:
    record = (sleeps if sleeps is not None else []).append
    return HttpClient(
        "PubMed", limiter=RateLimiter(1000, sleep=lambda s: None), attempts=attempts, sleep=record
    )


# --------------------------------------------------------------- clients, no database


def test_pubmed_search_runs_on_the_history_server_and_fetches_in_batches(replay):
    replay.answer = pubmed()
    fetched = fetch_pubmed(
        client(), base_url=replay.url, query="biopython", api_key="K3Y", batch_size=3
    )
    assert (fetched.reported, fetched.fetched, fetched.fmt) == (4, 4, "nbib")
    search, *_ = replay.calls("esearch.fcgi")
    assert search["usehistory"] == "y" and search["term"] == "biopython"
    assert search["api_key"] == "K3Y" and search["retmax"] == "0"
    fetches = replay.calls("efetch.fcgi")
    assert [(f["retstart"], f["retmax"]) for f in fetches] == [("0", "3"), ("3", "3")]
    assert {f["WebEnv"] for f in fetches} == {"MCID_6927d6e7fee3e90f880ec190"}
    assert {(f["query_key"], f["rettype"], f["retmode"]) for f in fetches} == {
        ("1", "medline", "text")
    }
    assert re.findall(r"^PMID- (\d+)", fetched.text, flags=re.M) == PMIDS


def test_pubmed_date_limits_go_as_publication_dates(replay):
    replay.answer = pubmed()
    fetched = fetch_pubmed(
        client(), base_url=replay.url, query="x", date_from=date(2005, 1, 1), date_to=None
    )
    search = replay.calls("esearch.fcgi")[0]
    assert (search["datetype"], search["mindate"], search["maxdate"]) == (
        "pdat",
        "2005/01/01",
        "3000/12/31",
    )
    assert fetched.notes[0] == "Publication dates 2005/01/01 to 3000/12/31 (PDAT)."


def test_pubmed_answer_short_of_its_count_is_refused(replay):
    replay.answer = pubmed(records=MEDLINE_RECORDS[:3])
    with pytest.raises(ConnectorError) as caught:
        fetch_pubmed(client(), base_url=replay.url, query="x", batch_size=2)
    assert caught.value.message == (
        "PubMed reported 4 records but answered 1 instead of 2 for records 3–4; a partial "
        "search is not imported, so nothing was. Run the search again."
    )


def test_pubmed_search_over_the_e_utilities_limit_is_refused_before_fetching(replay):
    replay.answer = pubmed(count=42249)  # the count Biopython's recording had
    with pytest.raises(ConnectorError, match="PubMed found 42249 records; the E-utilities"):
        fetch_pubmed(client(), base_url=replay.url, query="cancer")
    assert replay.calls("efetch.fcgi") == []


def test_pubmed_error_answer_is_reported(replay):
    replay.answer = lambda path, params: (
        200,
        {},
        b"<eSearchResult><ERROR>Invalid query</ERROR></eSearchResult>",
    )
    with pytest.raises(ConnectorError, match="PubMed refused the search: Invalid query"):
        fetch_pubmed(client(), base_url=replay.url, query="(((")


def test_429_is_retried_after_the_wait_its_retry_after_asks(replay):
    answers = [(429, {"Retry-After": "7"}, b"slow down"), *[pubmed()("esearch.fcgi", {})] * 3]
    replay.answer = lambda path, params: (
        answers.pop(0) if path == "esearch.fcgi" else pubmed()(path, params)
    )
    sleeps: list[float] = []
    fetched = fetch_pubmed(client(sleeps), base_url=replay.url, query="x")
    assert fetched.fetched == 4
    assert sleeps == [7.0]
    assert len(replay.calls("esearch.fcgi")) == 2


def test_429_asking_for_too_long_a_wait_is_refused(replay):
    replay.answer = lambda path, params: (429, {"Retry-After": "3600"}, b"")
    with pytest.raises(ConnectorError, match=r"asked us to wait 3600 s .*HTTP 429"):
        fetch_pubmed(client(), base_url=replay.url, query="x")


def test_server_errors_are_retried_with_backoff_then_refused(replay):
    replay.answer = lambda path, params: (503, {}, b"busy")
    sleeps: list[float] = []
    with pytest.raises(ConnectorError) as caught:
        fetch_pubmed(client(sleeps, attempts=4), base_url=replay.url, query="x")
    assert sleeps == [1.0, 2.0, 4.0]
    assert caught.value.message == (
        "PubMed did not answer after 4 attempts (HTTP 503); nothing was imported. "
        "Run the search again later."
    )


def test_a_bad_request_is_not_retried(replay):
    replay.answer = lambda path, params: (400, {}, b"Bad query syntax")
    sleeps: list[float] = []
    with pytest.raises(ConnectorError, match=r"refused the request \(HTTP 400\): Bad query"):
        fetch_pubmed(client(sleeps), base_url=replay.url, query="x")
    assert sleeps == [] and len(replay.requests) == 1


def test_unreachable_service_is_retried_then_refused(replay):
    url = replay.url
    replay.server.shutdown()
    replay.server.server_close()
    sleeps: list[float] = []
    with pytest.raises(ConnectorError, match="PubMed did not answer after 3 attempts"):
        fetch_pubmed(client(sleeps, attempts=3), base_url=url, query="x")
    assert sleeps == [1.0, 2.0]


def test_only_http_addresses_are_fetched():
    with pytest.raises(ConnectorError, match=r"\(file:///etc/esearch.fcgi\) is not an http"):
        fetch_pubmed(client(), base_url="file:///etc/", query="x")


def test_rate_limiter_spaces_requests_evenly():
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        now[0] += seconds

    limiter = RateLimiter(3, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        limiter.wait()
    assert slept == [0.333, 0.333, 0.333]
    now[0] += 5  # an idle spell is not saved up for a burst
    limiter.wait()
    limiter.wait()
    assert slept[-1] == 0.333 and len(slept) == 4


def test_europepmc_search_pages_with_its_cursor(replay):
    replay.answer = europepmc()
    fetched = fetch_europepmc(
        client(), base_url=replay.url, query="cancer", date_from=date(2025, 1, 1)
    )
    assert (fetched.reported, fetched.fetched, fetched.fmt) == (4, 4, "ris")
    first, second = replay.calls("search")
    assert first["cursorMark"] == "*" and first["resultType"] == "core"
    assert second["cursorMark"] == EPMC_PAGES[0]["nextCursorMark"]
    assert first["query"] == "(cancer) AND (FIRST_PDATE:[2025-01-01 TO 3000-12-31])"
    assert [r["pmid"] for r in fetched.records] == ["39709209", "39709208", "40468710", "40464630"]


def test_europepmc_answer_short_of_its_count_is_refused(replay):
    last = dict(EPMC_PAGES[1], nextCursorMark=EPMC_PAGES[1]["request"]["cursorMark"])
    last["resultList"] = {"result": EPMC_PAGES[1]["resultList"]["result"][:1]}
    replay.answer = europepmc([EPMC_PAGES[0], last])
    with pytest.raises(ConnectorError) as caught:
        fetch_europepmc(client(), base_url=replay.url, query="cancer")
    assert caught.value.message == (
        "Europe PMC reported 4 records but answered 3; a partial search is not imported, "
        "so nothing was. Run the search again."
    )


def test_europepmc_result_maps_to_the_field_table():
    record = to_fields(EPMC_PAGES[1]["resultList"]["result"][0])
    assert set(record) - {"id"} <= set(bibliography.NAMES)
    assert record["id"] == "MED:40468710"
    assert record["authors"][:2] == ["Al-Abbadey, Miznah", "Tomescu-Stachie, Sonia"]
    assert record["journal"] == "British journal of health psychology"
    assert (record["volume"], record["issue"], record["pages"]) == ("30", "3", "e12807")
    assert record["abstract"].startswith("Objective This study investigated")
    assert "<h4>" not in record["abstract"]
    assert record["keywords"][0] == "Cancer"


# --------------------------------------------------------------- saved searches, runs


@pytest.fixture
def services_at(settings, replay, monkeypatch):
    settings.PUBMED_EUTILS_URL = replay.url
    settings.EUROPEPMC_URL = replay.url
    settings.PUBMED_API_KEY = ""
    monkeypatch.setattr(connectors, "_sleep", lambda seconds: None)
    return replay


def run_now(saved, owner, capture):
    with capture(execute=True):
        run = connectors.request_run(saved_search=saved, actor=owner)
    return SavedSearchRun.objects.with_counts().select_related("saved_search").get(pk=run.pk)


@pytest.mark.django_db
def test_run_now_imports_a_pubmed_search_like_an_upload(
    review, owner, services_at, django_capture_on_commit_callbacks
):
    services_at.answer = pubmed()
    saved = connectors.create_saved_search(
        review=review, actor=owner, source="pubmed", query="biopython", date_to=date(2006, 12, 31)
    )
    run = run_now(saved, owner, django_capture_on_commit_callbacks)
    assert run.status == RunStatus.DONE
    assert (run.reported_count, run.fetched_count) == (4, 4)
    search = run.search
    assert (search.status, search.source, search.source_type, search.format) == (
        "done",
        "PubMed",
        "database",
        "nbib",
    )
    assert search.search_string == "biopython\nPublication dates 1800/01/01 to 2006/12/31 (PDAT)."
    assert search.search_date is not None and search.records_imported == 4
    assert list(Record.objects.filter(search=search).values_list("pmid", flat=True)) == PMIDS
    assert connectors.explain_run(run) == [
        "PubMed reported 4 records; 4 were fetched.",
        "4 were imported.",
    ]
    saved.refresh_from_db()
    assert saved.last_run_at is not None


@pytest.mark.django_db
def test_partial_run_is_refused_and_changes_nothing(
    review, owner, services_at, django_capture_on_commit_callbacks
):
    services_at.answer = pubmed(records=MEDLINE_RECORDS[:2])
    saved = connectors.create_saved_search(
        review=review, actor=owner, source="pubmed", query="biopython"
    )
    run = run_now(saved, owner, django_capture_on_commit_callbacks)
    assert run.status == RunStatus.FAILED and run.search is None
    assert run.failure == (
        "PubMed reported 4 records but answered 2 instead of 4 for records 1–4; a partial "
        "search is not imported, so nothing was. Run the search again."
    )
    assert connectors.explain_run(run) == [run.failure]
    assert not Search.objects.exists() and not Record.objects.exists()


@pytest.mark.django_db
def test_europepmc_run_imports_its_records(
    review, owner, services_at, django_capture_on_commit_callbacks
):
    services_at.answer = europepmc()
    saved = connectors.create_saved_search(
        review=review, actor=owner, source="europepmc", query="cancer"
    )
    run = run_now(saved, owner, django_capture_on_commit_callbacks)
    assert run.status == RunStatus.DONE, run.failure
    search = run.search
    assert (search.source, search.format, search.records_imported) == ("Europe PMC", "ris", 4)
    record = Record.objects.get(search=search, pmid="40468710")
    assert record.source_record_id == "MED:40468710"
    assert record.doi == "10.1111/bjhp.12807" and record.year == 2025
    assert record.authors[0] == "Al-Abbadey, Miznah"


@pytest.mark.django_db
def test_overlapping_searches_are_deduplicated_like_any_import(
    review, owner, services_at, django_capture_on_commit_callbacks
):
    first = connectors.create_saved_search(review=review, actor=owner, source="pubmed", query="a")
    services_at.answer = pubmed(records=MEDLINE_RECORDS[:3], count=3)
    run_now(first, owner, django_capture_on_commit_callbacks)
    second = connectors.create_saved_search(review=review, actor=owner, source="pubmed", query="b")
    services_at.answer = pubmed(records=MEDLINE_RECORDS[1:], count=3)
    run = run_now(second, owner, django_capture_on_commit_callbacks)
    assert run.status == RunStatus.DONE
    duplicates = Record.objects.filter(search=run.search, duplicate_of__isnull=False)
    assert sorted(duplicates.values_list("pmid", flat=True)) == sorted(PMIDS[1:3])
    assert connectors.explain_run(run)[-1] == (
        "2 of them were found to duplicate records already in the review (see Duplicates); "
        "the others go on to screening."
    )


@pytest.mark.django_db
def test_running_a_saved_search_again_replaces_its_last_run(
    review, owner, services_at, django_capture_on_commit_callbacks
):
    services_at.answer = pubmed()
    saved = connectors.create_saved_search(review=review, actor=owner, source="pubmed", query="a")
    first = run_now(saved, owner, django_capture_on_commit_callbacks).search
    second = run_now(saved, owner, django_capture_on_commit_callbacks)
    assert second.status == RunStatus.DONE, second.failure
    assert second.search.supersedes_id == first.pk
    first.refresh_from_db()
    assert first.status == "superseded"


@pytest.mark.django_db
def test_a_search_finding_nothing_adds_no_search_and_says_why(
    review, owner, services_at, django_capture_on_commit_callbacks
):
    not_found = (FIXTURES / "pubmed_esearch_not_found.xml").read_bytes()
    services_at.answer = lambda path, params: (200, {}, not_found)
    saved = connectors.create_saved_search(
        review=review, actor=owner, source="pubmed", query="abcXYZ"
    )
    run = run_now(saved, owner, django_capture_on_commit_callbacks)
    assert run.status == RunStatus.DONE and run.search is None
    assert services_at.calls("efetch.fcgi") == []
    assert connectors.explain_run(run) == [
        "PubMed reported 0 records; 0 were fetched.",
        "PubMed: PhraseNotFound “abcXYZ”.",
        "PubMed: OutputMessage “No items found.”.",
        "PubMed ran the query as: (abcXYZ[All Fields])",
        connectors.NO_RECORDS,
    ]
    assert not Search.objects.exists()


@pytest.mark.django_db
def test_an_unexpected_error_fails_the_run_and_is_raised(review, owner):
    saved = connectors.create_saved_search(review=review, actor=owner, source="pubmed", query="a")
    run = SavedSearchRun.objects.create(saved_search=saved)

    def broken(saved_search):
        raise KeyError("resultList")

    with pytest.raises(KeyError):
        connectors.run_saved_search(run_id=run.pk, fetch=broken)
    run.refresh_from_db()
    assert (run.status, run.failure) == (RunStatus.FAILED, connectors.RUN_CRASHED)
    connectors.request_run(saved_search=saved, actor=owner)  # not blocked by it


@pytest.mark.django_db
def test_a_run_lost_with_its_worker_does_not_block_the_next(review, owner):
    from django.utils import timezone

    saved = connectors.create_saved_search(review=review, actor=owner, source="pubmed", query="a")
    lost = SavedSearchRun.objects.create(
        saved_search=saved,
        status=RunStatus.RUNNING,
        created_at=timezone.now() - connectors.RUN_STALE_AFTER * 2,
    )
    connectors.request_run(saved_search=saved, actor=owner)
    lost.refresh_from_db()
    assert (lost.status, lost.failure) == (RunStatus.FAILED, connectors.RUN_LOST)


@pytest.mark.django_db
def test_a_second_run_while_one_is_queued_is_refused(review, owner):
    saved = connectors.create_saved_search(review=review, actor=owner, source="pubmed", query="a")
    connectors.request_run(saved_search=saved, actor=owner)  # not sent: still queued
    with pytest.raises(Exception, match="This search is already running; wait for it"):
        connectors.request_run(saved_search=saved, actor=owner)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"source": "scopus", "query": "x"}, "source", "Unknown source “scopus”"),
        ({"source": "pubmed", "query": "  "}, "query", "Write the search query."),
        (
            {
                "source": "pubmed",
                "query": "x",
                "date_from": date(2020, 1, 2),
                "date_to": date(2020, 1, 1),
            },
            "date_to",
            "The start date (2 Jan 2020) is after the end date (1 Jan 2020).",
        ),
    ],
)
def test_bad_saved_search_is_refused_naming_its_field(review, owner, kwargs, field, message):
    from reviewflow.errors import ReviewflowError

    with pytest.raises(ReviewflowError) as caught:
        connectors.create_saved_search(review=review, actor=owner, **kwargs)
    assert caught.value.field == field and caught.value.message.startswith(message)
    assert not SavedSearch.objects.exists()


# --------------------------------------------------------------- API, pages, command


@pytest.mark.django_db
def test_api_saved_searches_and_run(
    review, owner, viewer, outsider, client_for, services_at, django_capture_on_commit_callbacks
):
    services_at.answer = pubmed()
    url = reverse("api-saved-searches", args=[review.slug])
    body = {"source": "pubmed", "query": "biopython"}
    assert client_for(outsider).get(url).status_code == 404
    assert client_for(outsider).post(url, body).status_code == 404
    assert client_for(viewer).post(url, body).status_code == 403
    bad = client_for(owner).post(url, {"source": "pubmed", "query": ""})
    assert bad.status_code == 400 and "query" in bad.json()
    created = client_for(owner).post(url, body)
    assert created.status_code == 201
    run_url = reverse("api-saved-search-run", args=[review.slug, created.json()["id"]])
    assert client_for(outsider).post(run_url).status_code == 404
    assert client_for(viewer).post(run_url).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        started = client_for(owner).post(run_url)
    assert started.status_code == 202
    listed = client_for(viewer).get(url).json()
    (run,) = listed[0]["runs"]
    assert (run["status"], run["reported_count"], run["imported_count"]) == ("done", 4, 4)
    assert run["explanation"] == ["PubMed reported 4 records; 4 were fetched.", "4 were imported."]
    assert run["search_url"] == reverse("api-search", args=[review.slug, run["search"]])


@pytest.mark.django_db
def test_saved_searches_page(
    review,
    owner,
    viewer,
    outsider,
    client,
    client_for,
    services_at,
    django_capture_on_commit_callbacks,
):
    services_at.answer = pubmed()
    url = reverse("saved-searches", args=[review.slug])
    assert client.get(url).status_code == 302  # anonymous: to sign in
    assert client_for(outsider).get(url).status_code == 404
    searches_page = client_for(viewer).get(reverse("review-searches", args=[review.slug]))
    assert url in searches_page.content.decode()
    assert client_for(viewer).post(url, {"source": "pubmed", "query": "x"}).status_code == 403
    refused = client_for(owner).post(
        url, {"source": "pubmed", "query": "x", "date_from": "2020-02-01", "date_to": "2020-01-01"}
    )
    assert "The start date (1 Feb 2020) is after the end date (1 Jan 2020)." in (
        refused.content.decode()
    )
    assert (
        client_for(owner).post(url, {"source": "pubmed", "query": "biopython"}).status_code == 302
    )
    saved = SavedSearch.objects.get()
    run_url = reverse("saved-search-run", args=[review.slug, saved.pk])
    assert client_for(outsider).post(run_url).status_code == 404
    assert client_for(viewer).post(run_url).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(owner).post(run_url).status_code == 302
    page = client_for(viewer).get(url).content.decode()
    assert "PubMed reported 4 records; 4 were fetched." in page
    assert "Run now" not in page  # a viewer cannot run it


@pytest.mark.django_db
def test_saved_searches_page_query_count_does_not_grow(
    review,
    owner,
    client_for,
    services_at,
    django_capture_on_commit_callbacks,
    django_assert_max_num_queries,
):
    services_at.answer = pubmed()
    saved = connectors.create_saved_search(review=review, actor=owner, source="pubmed", query="a")
    run_now(saved, owner, django_capture_on_commit_callbacks)
    url = reverse("saved-searches", args=[review.slug])
    owner_client = client_for(owner)
    owner_client.get(url)
    with django_assert_max_num_queries(1000) as one:
        owner_client.get(url)
    queries = len(one.captured_queries)  # now: an import resets the connection's query log
    for query, records in (("b", MEDLINE_RECORDS[:2]), ("c", MEDLINE_RECORDS[2:])):
        services_at.answer = pubmed(records=records, count=2)
        more = connectors.create_saved_search(
            review=review, actor=owner, source="pubmed", query=query
        )
        assert run_now(more, owner, django_capture_on_commit_callbacks).status == "done"
    with django_assert_max_num_queries(queries):
        page = owner_client.get(url)
    assert page.content.decode().count("were fetched.") == 3


@pytest.mark.django_db(transaction=True)
def test_searchdb_command_waits_and_explains(review, services_at, capsys):
    services_at.answer = europepmc()
    call_command("searchdb", review.slug, "--source", "europepmc", "--query", "cancer", "--wait")
    out = capsys.readouterr().out
    assert "Europe PMC reported 4 records; 4 were fetched." in out
    assert "4 were imported." in out
    assert Search.objects.get().source == "Europe PMC"


@pytest.mark.django_db(transaction=True)
def test_searchdb_command_fails_loudly(review, services_at, capsys):
    services_at.answer = lambda path, params: (400, {}, b"Syntax error in query")
    with pytest.raises(CommandError, match="The search was not imported"):
        call_command("searchdb", review.slug, "--source", "pubmed", "--query", "((", "--wait")
    assert "refused the request (HTTP 400): Syntax error in query" in capsys.readouterr().out
    with pytest.raises(CommandError, match="“2020-13-01” is not a date"):
        call_command(
            "searchdb", review.slug, "--source", "pubmed", "--query", "x", "--from", "2020-13-01"
        )
    assert not Search.objects.exists()
