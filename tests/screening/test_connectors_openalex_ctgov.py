"""OpenAlex and ClinicalTrials.gov searches run from reviewflow, against a local HTTP server
that replays real answers of those services (tests/screening/fixtures/connectors/README.md
names where each was recorded and what was trimmed)."""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import pytest
from django.core.management import call_command

from screening import bibliography
from screening.connectors import (
    ConnectorError,
    HttpClient,
    RateLimiter,
    fetch_clinicaltrials,
    fetch_openalex,
    openalex,
)
from screening.connectors import clinicaltrials as ctgov
from screening.models import Record, RunStatus, Search, SourceType
from screening.services import connectors
from screening.services.prisma import prisma_counts
from tests.screening.test_connectors import FIXTURES, Answer, Replay, run_now

# OpenAlex: a real works search of two works, answered in two pages: the two works with a
# next cursor, then the last page (no works, no cursor), as recorded.
OA_PAGES = [json.loads((FIXTURES / f"openalex_works_page{n}.json").read_text()) for n in (1, 2)]
OA_CURSOR = OA_PAGES[0]["meta"]["next_cursor"]
# ClinicalTrials.gov: two real study records of API v2.
STUDIES = [
    json.loads((FIXTURES / f"clinicaltrials_{nct}.json").read_text())
    for nct in ("NCT03722472", "NCT06323538")
]
NCTS = ["NCT03722472", "NCT06323538"]


@pytest.fixture
def replay() -> Any:
    server = Replay()
    yield server
    server.server.shutdown()
    server.server.server_close()


def http(service: str, sleeps: list[float] | None = None) -> HttpClient:
    record = (sleeps if sleeps is not None else []).append
    return HttpClient(
        service, limiter=RateLimiter(1000, sleep=lambda s: None), attempts=5, sleep=record
    )


def openalex_pages(pages: list[dict[str, Any]]) -> Any:
    """OpenAlex's works search: ``pages[0]`` for ``cursor=*``, then the page after the one
    whose ``meta.next_cursor`` was asked for."""

    def answer(path: str, params: dict[str, str]) -> Answer:
        if path != "works":
            return 404, {}, b""
        if params["cursor"] == "*":
            page = pages[0]
        else:
            asked = [p["meta"]["next_cursor"] for p in pages].index(params["cursor"])
            page = pages[asked + 1]
        return 200, {"Content-Type": "application/json"}, json.dumps(page).encode()

    return answer


def split_openalex() -> list[dict[str, Any]]:
    """The recorded answer cut in pages of one work: the first page keeps the recorded
    cursor, the second (asked with it) ends the walk with the recorded last page's meta."""
    first, last = copy.deepcopy(OA_PAGES[0]), copy.deepcopy(OA_PAGES[0])
    first["results"] = first["results"][:1]
    last["results"] = last["results"][1:]
    last["meta"] = OA_PAGES[1]["meta"]
    return [first, last]


def ctgov_pages(studies: list[dict[str, Any]], total: int | None = None) -> Any:
    """ClinicalTrials.gov's ``studies``: ``pageSize`` studies a page in the API's page
    object (``studies``, ``nextPageToken`` but on the last page, ``totalCount`` when
    ``countTotal=true``); the token is this server's own (the API's are opaque)."""

    def answer(path: str, params: dict[str, str]) -> Answer:
        if path != "studies":
            return 404, {}, b""
        start = int(params.get("pageToken", "token-0").removeprefix("token-"))
        size = int(params["pageSize"])
        body: dict[str, Any] = {"studies": studies[start : start + size]}
        if start + size < len(studies):
            body["nextPageToken"] = f"token-{start + size}"
        if params.get("countTotal") == "true":
            body["totalCount"] = len(studies) if total is None else total
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    return answer


# --------------------------------------------------------------- OpenAlex, no database


def test_openalex_search_pages_with_its_cursor_to_the_end(replay):
    replay.answer = openalex_pages(split_openalex())
    fetched = fetch_openalex(
        http("OpenAlex"),
        base_url=replay.url,
        query="bibliometrix",
        date_from=date(2017, 1, 1),
        date_to=date(2018, 12, 31),
        email="team@example.org",
        page_size=1,
    )
    assert (fetched.reported, fetched.fetched, fetched.fmt) == (2, 2, "ris")
    first, second = replay.calls("works")
    assert (first["cursor"], second["cursor"]) == ("*", OA_CURSOR)
    assert first["search"] == "bibliometrix" and first["per-page"] == "1"
    assert first["mailto"] == "team@example.org"
    assert first["filter"] == "from_publication_date:2017-01-01,to_publication_date:2018-12-31"
    assert [r["id"] for r in fetched.records] == ["W2755950973", "W2741809807"]
    assert fetched.notes == [
        "Publication dates filtered as: "
        "from_publication_date:2017-01-01,to_publication_date:2018-12-31"
    ]


def test_openalex_pages_of_200_stop_once_the_count_is_fetched(replay):
    replay.answer = openalex_pages(OA_PAGES)
    fetched = fetch_openalex(http("OpenAlex"), base_url=replay.url, query="x")
    (only,) = replay.calls("works")
    assert only["per-page"] == "200" and "filter" not in only and "mailto" not in only
    assert fetched.fetched == 2


def test_openalex_answer_short_of_its_count_is_refused(replay):
    pages = copy.deepcopy(OA_PAGES)
    pages[0]["meta"]["count"] = 3  # the recorded walk then ends on its empty last page
    replay.answer = openalex_pages(pages)
    with pytest.raises(ConnectorError) as caught:
        fetch_openalex(http("OpenAlex"), base_url=replay.url, query="x")
    assert caught.value.message == (
        "OpenAlex reported 3 records but answered 2; a partial search is not imported, "
        "so nothing was. Run the search again."
    )
    assert [c["cursor"] for c in replay.calls("works")] == ["*", OA_CURSOR]


def test_openalex_429_waits_what_retry_after_asks(replay):
    answers: list[Answer] = [(429, {"Retry-After": "3"}, b"Too Many Requests")]
    serve = openalex_pages(OA_PAGES)
    replay.answer = lambda path, params: answers.pop(0) if answers else serve(path, params)
    sleeps: list[float] = []
    fetched = fetch_openalex(http("OpenAlex", sleeps), base_url=replay.url, query="x")
    assert fetched.fetched == 2 and sleeps == [3.0]
    assert len(replay.calls("works")) == 2


def test_openalex_search_too_large_is_refused_before_paging(replay):
    pages = copy.deepcopy(OA_PAGES)
    pages[0]["meta"]["count"] = openalex.OPENALEX_MAX_RECORDS + 1
    replay.answer = openalex_pages(pages)
    with pytest.raises(ConnectorError, match="OpenAlex found 100001 works; reviewflow fetches"):
        fetch_openalex(http("OpenAlex"), base_url=replay.url, query="x")
    assert len(replay.calls("works")) == 1


def test_openalex_work_maps_to_the_field_table():
    aria, piwowar = (openalex.to_fields(work) for work in OA_PAGES[0]["results"])
    assert set(piwowar) - {"id"} <= set(bibliography.NAMES)
    assert piwowar["id"] == "W2741809807"
    assert piwowar["title"] == (
        "The state of OA: a large-scale analysis of the prevalence and impact of Open "
        "Access articles"
    )
    assert piwowar["authors"][:4] == [
        "Piwowar, Heather",
        "Priem, Jason",
        "Larivière, Vincent",
        "Alperín, Juan Pablo",
    ]
    assert "West, Jevin D." in piwowar["authors"] and len(piwowar["authors"]) == 9
    assert (piwowar["year"], piwowar["journal"]) == (2018, "PeerJ")
    assert (piwowar["volume"], piwowar["issue"], piwowar["pages"]) == ("6", "", "e4375")
    assert piwowar["doi"] == "10.7717/peerj.4375"
    assert (piwowar["pmid"], piwowar["pmcid"]) == ("29456894", "PMC5815332")
    assert piwowar["issn"] == "2167-8359" and piwowar["language"] == "en"
    assert piwowar["publication_type"] == "article"
    assert piwowar["keywords"][0] == "Scholarly Communication"
    assert piwowar["url"] == "https://openalex.org/W2741809807"
    assert piwowar["abstract"].startswith(
        "Despite growing interest in Open Access (OA) to scholarly literature, there is an "
        "unmet need for large-scale, up-to-date, and reproducible studies"
    )
    # The other work: pages from first to last, no PubMed ID, no abstract (OpenAlex gave none).
    assert aria["authors"] == ["Aria, Massimo", "Cuccurullo, Corrado"]
    assert aria["journal"] == "Journal of Informetrics"
    assert (aria["volume"], aria["issue"]) == ("11", "4")
    assert (aria["pages"], aria["doi"]) == ("959-975", "10.1016/j.joi.2017.08.007")
    assert (aria["pmid"], aria["pmcid"], aria["abstract"]) == ("", "", "")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Jevin D. West", "West, Jevin D."),
        ("Ludwig van Beethoven", "van Beethoven, Ludwig"),
        ("Martin Luther King Jr.", "King, Martin Luther, Jr."),
        ("Cher", "Cher"),
    ],
)
def test_openalex_display_names_become_family_given(name, expected):
    assert openalex.family_given(name) == expected


# ------------------------------------------------------- ClinicalTrials.gov, no database


def test_clinicaltrials_search_pages_with_its_token_to_the_end(replay):
    replay.answer = ctgov_pages(STUDIES)
    fetched = fetch_clinicaltrials(
        http("ClinicalTrials.gov"),
        base_url=replay.url,
        query="vaccine OR diet",
        date_from=date(2018, 1, 1),
        page_size=1,
    )
    assert (fetched.reported, fetched.fetched, fetched.fmt) == (2, 2, "ris")
    first, second = replay.calls("studies")
    assert first["query.term"] == "vaccine OR diet" and first["countTotal"] == "true"
    assert (first["pageSize"], first["format"]) == ("1", "json") and "pageToken" not in first
    assert first["filter.advanced"] == "AREA[StudyFirstPostDate]RANGE[2018-01-01,MAX]"
    # Later pages repeat the first request but for the count (as the API asks).
    assert second["pageToken"] == "token-1" and "countTotal" not in second
    assert second["filter.advanced"] == first["filter.advanced"]
    assert [r["id"] for r in fetched.records] == NCTS


def test_clinicaltrials_page_without_studies_but_with_a_token_is_not_the_end(replay):
    # The API's documentation: "A page may have empty studies array."
    pages = {
        "": {"studies": [], "nextPageToken": "next", "totalCount": 2},
        "next": {"studies": STUDIES},
    }
    replay.answer = lambda path, params: (
        200,
        {},
        json.dumps(pages[params.get("pageToken", "")]).encode(),
    )
    fetched = fetch_clinicaltrials(http("ClinicalTrials.gov"), base_url=replay.url, query="x")
    assert [r["id"] for r in fetched.records] == NCTS
    assert len(replay.calls("studies")) == 2


def test_clinicaltrials_answer_short_of_its_count_is_refused(replay):
    replay.answer = ctgov_pages(STUDIES, total=3)
    with pytest.raises(ConnectorError) as caught:
        fetch_clinicaltrials(http("ClinicalTrials.gov"), base_url=replay.url, query="x")
    assert caught.value.message == (
        "ClinicalTrials.gov reported 3 records but answered 2; a partial search is not "
        "imported, so nothing was. Run the search again."
    )


def test_clinicaltrials_answer_without_its_count_is_refused(replay):
    replay.answer = lambda path, params: (200, {}, json.dumps({"studies": STUDIES}).encode())
    with pytest.raises(ConnectorError, match=r"did not say how many studies it found"):
        fetch_clinicaltrials(http("ClinicalTrials.gov"), base_url=replay.url, query="x")


def test_clinicaltrials_429_waits_what_retry_after_asks(replay):
    answers: list[Answer] = [(429, {"Retry-After": "5"}, b"")]
    serve = ctgov_pages(STUDIES)
    replay.answer = lambda path, params: answers.pop(0) if answers else serve(path, params)
    sleeps: list[float] = []
    fetched = fetch_clinicaltrials(
        http("ClinicalTrials.gov", sleeps), base_url=replay.url, query="x"
    )
    assert fetched.fetched == 2 and sleeps == [5.0]


def test_clinicaltrials_study_maps_to_the_field_table():
    tb, coplant = (ctgov.to_fields(study) for study in STUDIES)
    assert set(tb) - {"id"} <= set(bibliography.NAMES)
    assert tb["id"] == "NCT03722472"
    assert tb["title"] == "Phase 1 Clinical Trial of Single-Vial ID93 + GLA-SE in Healthy Adults"
    assert tb["authors"] == ["Access to Advanced Health Institute (AAHI)"]
    assert (tb["year"], tb["journal"]) == ("2018", "ClinicalTrials.gov")
    assert tb["keywords"] == ["Pulmonary TB", "Vaccine, recombinant, adjuvant, GLA-SE, ID93"]
    assert tb["abstract"].startswith("This is a phase 1, double-blind, randomized clinical trial")
    assert tb["url"] == "https://clinicaltrials.gov/study/NCT03722472"
    assert tb["publication_type"] == "Trial registry record"
    assert coplant["title"] == "Cohort Study on Plant-based Diets (COPLANT Study)"
    assert coplant["authors"] == ["German Federal Institute for Risk Assessment"]
    assert coplant["year"] == "2024" and coplant["keywords"][:2] == [
        "Dietary Exposure",
        "Diabetes Mellitus, Type 2",
    ]


# --------------------------------------------------------------- runs, PRISMA, command


@pytest.fixture
def services_at(settings, replay, monkeypatch):
    settings.OPENALEX_URL = replay.url
    settings.CLINICALTRIALS_URL = replay.url
    settings.CONNECTOR_EMAIL = "team@example.org"
    monkeypatch.setattr(connectors, "_sleep", lambda seconds: None)
    return replay


@pytest.mark.django_db
def test_clinicaltrials_run_is_a_register_in_prisma(
    review, owner, services_at, django_capture_on_commit_callbacks
):
    services_at.answer = ctgov_pages(STUDIES)
    saved = connectors.create_saved_search(
        review=review, actor=owner, source="clinicaltrials", query="vaccine OR diet"
    )
    run = run_now(saved, owner, django_capture_on_commit_callbacks)
    assert run.status == RunStatus.DONE, run.failure
    search = run.search
    assert (search.source, search.source_type, search.format) == (
        "ClinicalTrials.gov",
        SourceType.REGISTER,
        "ris",
    )
    assert search.records_imported == 2
    record = Record.objects.get(search=search, source_record_id="NCT03722472")
    assert record.url == "https://clinicaltrials.gov/study/NCT03722472"
    assert record.authors == ["Access to Advanced Health Institute (AAHI)"]
    assert (record.year, record.journal) == (2018, "ClinicalTrials.gov")
    assert record.publication_type == "Trial registry record"
    counts = prisma_counts(review)
    assert (counts.register_results, counts.database_results) == (2, 0)
    assert list(counts.register_specific_results) == [("ClinicalTrials.gov", 2)]
    assert connectors.explain_run(run) == [
        "ClinicalTrials.gov reported 2 records; 2 were fetched.",
        "2 were imported.",
    ]


@pytest.mark.django_db
def test_openalex_run_imports_its_works_as_a_database_search(
    review, owner, services_at, django_capture_on_commit_callbacks
):
    services_at.answer = openalex_pages(OA_PAGES)
    saved = connectors.create_saved_search(
        review=review, actor=owner, source="openalex", query="x", date_from=date(2017, 1, 1)
    )
    run = run_now(saved, owner, django_capture_on_commit_callbacks)
    assert run.status == RunStatus.DONE, run.failure
    search = run.search
    assert (search.source, search.source_type) == ("OpenAlex", SourceType.DATABASE)
    assert search.search_string == (
        "x\nPublication dates filtered as: from_publication_date:2017-01-01"
    )
    assert services_at.calls("works")[0]["mailto"] == "team@example.org"
    record = Record.objects.get(search=search, source_record_id="W2741809807")
    assert (record.doi, record.pmid) == ("10.7717/peerj.4375", "29456894")
    assert record.pmcid == "PMC5815332"
    assert record.authors[:2] == ["Piwowar, Heather", "Priem, Jason"]
    assert (record.journal, record.volume, record.pages) == ("PeerJ", "6", "e4375")
    assert record.abstract.startswith("Despite growing interest in Open Access (OA)")
    assert prisma_counts(review).database_results == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("source", "name", "serve"),
    [
        ("openalex", "OpenAlex", lambda: openalex_pages(OA_PAGES)),
        ("clinicaltrials", "ClinicalTrials.gov", lambda: ctgov_pages(STUDIES)),
    ],
)
def test_searchdb_command_runs_openalex_and_clinicaltrials(
    review, services_at, capsys, source, name, serve
):
    services_at.answer = serve()
    call_command("searchdb", review.slug, "--source", source, "--query", "x", "--wait")
    out = capsys.readouterr().out
    assert f"{name} reported 2 records; 2 were fetched." in out
    assert "2 were imported." in out
    assert Search.objects.get().source == name
