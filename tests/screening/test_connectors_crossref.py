"""Crossref's works search run from reviewflow, against a local HTTP server that replays
real answers of Crossref's REST API (tests/screening/fixtures/connectors/README.md names
where each was recorded and what was trimmed)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from django.core.management import call_command

from screening import bibliography
from screening.connectors import (
    CROSSREF_MAX_RECORDS,
    ConnectorError,
    HttpClient,
    RateLimiter,
    crossref,
    fetch_crossref,
)
from screening.models import Record, RunStatus, Search, SourceType
from screening.services import connectors
from screening.services.prisma import prisma_counts
from tests.screening.test_connectors import FIXTURES, Answer, Replay, run_now

# A real walk of three pages (20 works each) of `query=widget&cursor=*`, as recorded: the
# cursor Crossref answers stays the same from page to page. Crossref reported 454 works;
# the tests that walk the three pages say 60.
PAGES = [
    json.loads((FIXTURES / f"crossref_works_widget_page{n}.json").read_text()) for n in (1, 2, 3)
]
CURSOR = PAGES[0]["message"]["next-cursor"]
WIDGET_DOIS = [work["DOI"] for page in PAGES for work in page["message"]["items"]]
# Works with JATS abstracts, markup in titles, article numbers; a report by an organisation.
ECOLOGY = json.loads((FIXTURES / "crossref_works_ecology.json").read_text())["message"]["items"]
REPORT = json.loads((FIXTURES / "crossref_works_report.json").read_text())["message"]["items"][0]


@pytest.fixture
def replay() -> Iterator[Replay]:
    server = Replay()
    yield server
    server.server.shutdown()
    server.server.server_close()


def http(sleeps: list[float] | None = None, attempts: int = 5) -> HttpClient:
    record = (sleeps if sleeps is not None else []).append
    return HttpClient(
        "Crossref",
        limiter=RateLimiter(1000, sleep=lambda s: None),
        attempts=attempts,
        sleep=record,
    )


def with_total(page: dict[str, Any], total: int) -> dict[str, Any]:
    page = copy.deepcopy(page)
    page["message"]["total-results"] = total
    return page


def walk(pages: list[dict[str, Any]], total: int) -> Any:
    """Crossref's works search as recorded: ``cursor=*`` starts a walk at ``pages[0]``; each
    request with the walk's cursor gets the next page (Crossref's cursor is a scroll: the
    same value serves every page). Past the last page Crossref answers no items (its
    documentation): the last page with its items emptied."""
    served = {"next": 0}

    def answer(path: str, params: dict[str, str]) -> Answer:
        if path != "works":
            return 404, {}, b""
        if params["cursor"] == "*":
            index = 0
        elif params["cursor"] == CURSOR:
            index = served["next"]
        else:
            return 400, {}, b"Cursor not found"
        served["next"] = index + 1
        if index < len(pages):
            page = with_total(pages[index], total)
        else:
            page = with_total(pages[-1], total)
            page["message"]["items"] = []
        return 200, {"Content-Type": "application/json"}, json.dumps(page).encode()

    return answer


# ------------------------------------------------------------------- client, no database


def test_crossref_search_walks_its_cursor_over_every_page(replay):
    replay.answer = walk(PAGES, total=60)
    fetched = fetch_crossref(
        http(),
        base_url=replay.url,
        query="widget",
        date_from=date(1990, 1, 1),
        date_to=date(2026, 12, 31),
        email="team@example.org",
        page_size=20,
    )
    assert (fetched.source, fetched.reported, fetched.fetched, fetched.fmt) == (
        "Crossref",
        60,
        60,
        "ris",
    )
    first, second, third = replay.calls("works")
    assert [c["cursor"] for c in (first, second, third)] == ["*", CURSOR, CURSOR]
    assert first["query"] == "widget" and first["rows"] == "20"
    assert first["filter"] == "from-pub-date:1990-01-01,until-pub-date:2026-12-31"
    assert first["mailto"] == "team@example.org"
    assert first["select"] == crossref.SELECT
    assert {c["filter"] for c in (second, third)} == {first["filter"]}
    assert [r["id"] for r in fetched.records] == WIDGET_DOIS
    assert fetched.query_sent == "widget"
    assert fetched.notes == [
        "Publication dates filtered as: from-pub-date:1990-01-01,until-pub-date:2026-12-31"
    ]


def test_crossref_pages_of_1000_end_on_a_short_page_without_dates_or_mailto(replay):
    replay.answer = walk(PAGES[:1], total=20)
    fetched = fetch_crossref(http(), base_url=replay.url, query="widget")
    (only,) = replay.calls("works")
    assert only["rows"] == "1000" and only["cursor"] == "*"
    assert "filter" not in only and "mailto" not in only
    assert (fetched.reported, fetched.fetched, fetched.notes) == (20, 20, [])


def test_crossref_until_date_alone_is_sent_alone(replay):
    replay.answer = walk(PAGES[:1], total=20)
    fetch_crossref(http(), base_url=replay.url, query="widget", date_to=date(2010, 6, 30))
    assert replay.calls("works")[0]["filter"] == "until-pub-date:2010-06-30"


def test_crossref_429_waits_what_retry_after_asks(replay):
    answers: list[Answer] = [(429, {"Retry-After": "4"}, b"Too Many Requests")]
    serve = walk(PAGES, total=60)
    replay.answer = lambda path, params: answers.pop(0) if answers else serve(path, params)
    sleeps: list[float] = []
    fetched = fetch_crossref(http(sleeps), base_url=replay.url, query="widget", page_size=20)
    assert fetched.fetched == 60 and sleeps == [4.0]
    assert [c["cursor"] for c in replay.calls("works")] == ["*", "*", CURSOR, CURSOR]


def test_crossref_server_error_mid_walk_is_retried_and_the_walk_goes_on(replay):
    serve = walk(PAGES, total=60)
    failed: list[str] = []

    def answer(path: str, params: dict[str, str]) -> Answer:
        if params.get("cursor") == CURSOR and not failed:
            failed.append(params["cursor"])
            return 500, {}, b"Internal Server Error"
        return serve(path, params)

    replay.answer = answer
    sleeps: list[float] = []
    fetched = fetch_crossref(http(sleeps), base_url=replay.url, query="widget", page_size=20)
    assert [r["id"] for r in fetched.records] == WIDGET_DOIS
    assert sleeps == [1.0]  # the backoff of a first retry
    assert [c["cursor"] for c in replay.calls("works")] == ["*", CURSOR, CURSOR, CURSOR]


def test_crossref_server_errors_that_persist_import_nothing_and_say_why(replay):
    replay.answer = lambda path, params: (503, {}, b"busy")
    with pytest.raises(ConnectorError) as caught:
        fetch_crossref(http(attempts=3), base_url=replay.url, query="widget")
    assert caught.value.message == (
        "Crossref did not answer after 3 attempts (HTTP 503); nothing was imported. "
        "Run the search again later."
    )


def test_crossref_answer_short_of_its_count_is_refused(replay):
    # Crossref said 61; the walk's three pages hold 60, then the cursor answers no items.
    replay.answer = walk(PAGES, total=61)
    with pytest.raises(ConnectorError) as caught:
        fetch_crossref(http(), base_url=replay.url, query="widget", page_size=20)
    assert caught.value.message == (
        "Crossref reported 61 records but answered 60; a partial search is not imported, "
        "so nothing was. Run the search again."
    )
    assert [c["cursor"] for c in replay.calls("works")] == ["*", CURSOR, CURSOR, CURSOR]


def test_crossref_short_page_before_the_count_ends_the_walk_as_partial(replay):
    short = copy.deepcopy(PAGES[1])
    short["message"]["items"] = short["message"]["items"][:5]
    replay.answer = walk([PAGES[0], short, PAGES[2]], total=60)
    with pytest.raises(ConnectorError, match="Crossref reported 60 records but answered 25;"):
        fetch_crossref(http(), base_url=replay.url, query="widget", page_size=20)
    assert len(replay.calls("works")) == 2


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>Bad Gateway</body></html>",
        b'{"status":"ok","message-type":"work-list","message":{"items":[',
        json.dumps({"status": "ok", "message-type": "work", "message": ECOLOGY[0]}).encode(),
    ],
    ids=["html", "cut-off-json", "a-single-work"],
)
def test_crossref_answer_that_is_not_a_work_list_is_refused_clearly(replay, body):
    replay.answer = lambda path, params: (200, {"Content-Type": "application/json"}, body)
    with pytest.raises(ConnectorError) as caught:
        fetch_crossref(http(), base_url=replay.url, query="widget")
    assert caught.value.message == (
        "Crossref's answer was not the list of works it sends; nothing was imported."
    )


def test_crossref_work_list_without_items_is_refused_clearly(replay):
    page = with_total(PAGES[0], 20)
    del page["message"]["items"]
    replay.answer = lambda path, params: (200, {}, json.dumps(page).encode())
    with pytest.raises(ConnectorError) as caught:
        fetch_crossref(http(), base_url=replay.url, query="widget")
    assert caught.value.message == "Crossref's answer held no list of works; nothing was imported."


def test_crossref_search_too_large_is_refused_before_paging(replay):
    replay.answer = walk(PAGES, total=CROSSREF_MAX_RECORDS + 1)
    with pytest.raises(ConnectorError) as caught:
        fetch_crossref(http(), base_url=replay.url, query="widget", page_size=20)
    assert caught.value.message == (
        "Crossref found 10001 works; reviewflow fetches at most 10000 of one search, so "
        "nothing was imported. Crossref's search matches works with any word of the query, "
        "so its counts run high: use a more specific query, or split it by publication date."
    )
    assert len(replay.calls("works")) == 1


def test_crossref_bad_request_is_not_retried(replay):
    replay.answer = lambda path, params: (400, {}, b"Filter from-pub-date specified but invalid")
    with pytest.raises(ConnectorError, match=r"Crossref refused the request \(HTTP 400\): Filter"):
        fetch_crossref(http(), base_url=replay.url, query="widget")
    assert len(replay.requests) == 1


# ------------------------------------------------------------------ mapping, no database


def test_crossref_work_maps_every_field_to_the_field_table():
    forecast = crossref.to_fields(ECOLOGY[0])
    assert set(forecast) - {"id"} <= set(bibliography.NAMES)
    assert forecast == {
        "id": "10.1111/ele.14024",
        "title": "The forecast trap",
        "abstract": forecast["abstract"],
        "authors": ["Boettiger, Carl"],  # the editor (Munch) is not an author
        "year": 2022,  # issued: online 30 May 2022 (the print issue is July)
        "journal": "Ecology Letters",
        "volume": "25",
        "issue": "7",
        "pages": "1655-1664",
        "doi": "10.1111/ele.14024",
        "issn": "1461-023X",
        "isbn": "",
        "keywords": [],
        "publication_type": "journal article",
        "url": "https://doi.org/10.1111/ele.14024",
    }
    # One paragraph: its leading "Abstract" title is dropped, the JATS tags and the
    # indentation of the XML go, the text stays as deposited.
    assert forecast["abstract"].startswith(
        "Encouraged by decision makers’ appetite for future information on topics ranging"
    )
    assert forecast["abstract"].endswith(
        "Existing practices promoting a broader set of models are the best way to avoid the trap."
    )
    assert "<" not in forecast["abstract"] and "  " not in forecast["abstract"]


def test_crossref_jats_abstract_keeps_its_paragraphs_as_paragraph_tags():
    treebase = crossref.to_fields(ECOLOGY[2])
    paragraphs = treebase["abstract"].split(" <jats:p>")
    assert len(paragraphs) == 5
    assert paragraphs[0] == "<jats:p>Summary</jats:p>"
    assert paragraphs[1].startswith("The TreeBASE portal is an important and rapidly growing")
    # Inline markup goes without a trace: where the deposit ran words into its tags, they
    # stay run together (nothing is added to the source's text).
    assert paragraphs[2].startswith(
        "We have developedtreebase, an open‐source software package (freely available "
        "fromhttp://cran.r-project.org/web/packages/treebase) for the R programming"
    )
    assert all(p.endswith("</jats:p>") for p in paragraphs)
    assert "jats:list" not in treebase["abstract"] and "ext-link" not in treebase["abstract"]


def test_crossref_titles_lose_their_markup_and_line_breaks():
    treebase, small_caps = crossref.to_fields(ECOLOGY[2]), crossref.to_fields(ECOLOGY[3])
    assert treebase["title"] == (
        "Treebase: anRpackage for discovery, access and manipulation of online phylogenies"
    )
    assert small_caps["title"] == "The role of AI in ecology’s computational carbon footprint"


def test_crossref_online_article_gives_its_article_number_as_pages():
    fee = crossref.to_fields(ECOLOGY[3])
    assert (fee["volume"], fee["issue"], fee["pages"]) == ("24", "1", "e70021")
    assert fee["authors"] == [
        "Norman, Kari E",
        "Boettiger, Carl",
        "Poisot, Timothée",
        "Jones, Gavin M",
    ]
    assert fee["year"] == 2025  # issued online in November 2025; in print February 2026
    assert fee["abstract"] == ""  # Crossref has none


def test_crossref_preprint_has_no_journal():
    preprint = crossref.to_fields(ECOLOGY[1])
    assert preprint["publication_type"] == "posted content"
    assert preprint["journal"] == preprint["volume"] == preprint["pages"] == ""
    assert preprint["authors"] == ["Memarzadeh, Milad", "Boettiger, Carl"]
    assert preprint["year"] == 2016


def test_crossref_organisation_author_keeps_its_name():
    report = crossref.to_fields(REPORT)
    assert report["authors"] == ["Concrete Technology Associates"]
    assert report["title"] == "CTA #17. Concrete Corbels Attached to Precast Concrete Columns"
    assert (report["year"], report["publication_type"]) == (1981, "report")
    assert report["abstract"].startswith("Discusses the design and fabrication procedures")


def test_crossref_book_chapter_without_date_or_authors_invents_neither():
    chapter = crossref.to_fields(PAGES[0]["message"]["items"][0])
    assert chapter["id"] == "10.1007/978-1-4302-0197-7_9"
    assert chapter["title"] == "Widget Mania: Using a GUI Widget Framework"
    assert (chapter["year"], chapter["authors"]) == ("", [])  # issued: [[null]]
    assert chapter["journal"] == "Practical JavaScript™, DOM Scripting, and Ajax Projects"
    assert (chapter["pages"], chapter["isbn"]) == ("305-349", "9781590598160")
    assert chapter["publication_type"] == "book chapter"


def test_every_recorded_work_maps_to_field_names():
    for work in [*ECOLOGY, REPORT, *(w for p in PAGES for w in p["message"]["items"])]:
        assert set(crossref.to_fields(work)) - {"id"} <= set(bibliography.NAMES)


# ------------------------------------------------------------------- runs, PRISMA, command


@pytest.fixture
def crossref_at(settings, replay, monkeypatch):
    settings.CROSSREF_URL = replay.url
    settings.CONNECTOR_EMAIL = "team@example.org"
    monkeypatch.setattr(connectors, "_sleep", lambda seconds: None)
    return replay


@pytest.mark.django_db
def test_crossref_run_imports_its_works_as_a_database_search(
    review, owner, crossref_at, django_capture_on_commit_callbacks
):
    crossref_at.answer = walk(PAGES[:1], total=20)
    saved = connectors.create_saved_search(
        review=review, actor=owner, source="crossref", query="widget", date_from=date(1990, 1, 1)
    )
    run = run_now(saved, owner, django_capture_on_commit_callbacks)
    assert run.status == RunStatus.DONE, run.failure
    assert (run.reported_count, run.fetched_count, run.query_sent) == (20, 20, "widget")
    (sent,) = crossref_at.calls("works")
    assert sent["mailto"] == "team@example.org" and sent["rows"] == "1000"
    assert sent["filter"] == "from-pub-date:1990-01-01"
    search = run.search
    assert (search.source, search.source_type, search.format, search.status) == (
        "Crossref",
        SourceType.DATABASE,
        "ris",
        "done",
    )
    assert search.search_string == "widget\nPublication dates filtered as: from-pub-date:1990-01-01"
    assert (search.records_read, search.records_imported, search.records_rejected) == (20, 20, 0)
    assert set(
        Record.objects.filter(search=search).values_list("source_record_id", flat=True)
    ) == set(WIDGET_DOIS[:20])
    article = Record.objects.get(search=search, doi="10.1117/1.jei.28.6.063006")
    assert article.source_record_id == "10.1117/1.jei.28.6.063006"
    assert article.title.startswith("Widget Detection Network")
    assert (article.year, article.journal) == (2019, "Journal of Electronic Imaging")
    assert article.authors == ["Qi, Lin", "Wang, Tiezhu"]
    assert article.url == "https://doi.org/10.1117/1.jei.28.6.063006"
    assert prisma_counts(review).database_results == 20
    assert connectors.explain_run(run)[:2] == [
        "Crossref reported 20 records; 20 were fetched.",
        "20 were imported.",
    ]


@pytest.mark.django_db
def test_crossref_run_that_cannot_finish_imports_nothing_and_says_why(
    review, owner, crossref_at, django_capture_on_commit_callbacks
):
    crossref_at.answer = walk(PAGES[:1], total=21)
    saved = connectors.create_saved_search(
        review=review, actor=owner, source="crossref", query="widget"
    )
    run = run_now(saved, owner, django_capture_on_commit_callbacks)
    assert run.status == RunStatus.FAILED and run.search is None
    assert run.failure == (
        "Crossref reported 21 records but answered 20; a partial search is not imported, "
        "so nothing was. Run the search again."
    )
    assert not Search.objects.filter(review=review).exists()
    assert not Record.objects.filter(search__review=review).exists()


@pytest.mark.django_db
def test_crossref_imported_abstract_keeps_paragraphs_and_decodes_entities(
    review, owner, crossref_at, django_capture_on_commit_callbacks
):
    page = with_total(PAGES[0], 2)
    page["message"]["items"] = [ECOLOGY[2], copy.deepcopy(ECOLOGY[0])]
    page["message"]["items"][1]["container-title"] = ["Big Data &amp; Society"]
    crossref_at.answer = lambda path, params: (200, {}, json.dumps(page).encode())
    saved = connectors.create_saved_search(
        review=review, actor=owner, source="crossref", query="ecology"
    )
    run = run_now(saved, owner, django_capture_on_commit_callbacks)
    assert run.status == RunStatus.DONE, run.failure
    treebase = Record.objects.get(search=run.search, doi="10.1111/j.2041-210x.2012.00247.x")
    assert treebase.abstract.startswith("<jats:p>Summary</jats:p> <jats:p>The TreeBASE portal")
    assert treebase.abstract.count("<jats:p>") == 5
    forecast = Record.objects.get(search=run.search, doi="10.1111/ele.14024")
    assert forecast.journal == "Big Data & Society"


@pytest.mark.django_db(transaction=True)
def test_searchdb_command_runs_crossref(review, crossref_at, capsys):
    crossref_at.answer = walk(PAGES[:1], total=20)
    call_command("searchdb", review.slug, "--source", "crossref", "--query", "widget", "--wait")
    out = capsys.readouterr().out
    assert "Crossref reported 20 records; 20 were fetched." in out
    assert "20 were imported." in out
    assert Search.objects.get().source == "Crossref"
