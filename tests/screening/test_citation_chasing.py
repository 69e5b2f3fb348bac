"""Citation searching through OpenAlex (#21): the references of the included studies
(backward) and the works citing them (forward), imported as "other methods: citation
searching" so that PRISMA's right-hand column fills itself.

The local server answers with the two real OpenAlex works recorded by openalexPro
(fixtures README): W2755950973 (DOI 10.1016/j.joi.2017.08.007) and W2741809807 (DOI
10.7717/peerj.4375), in OpenAlex's page shape as recorded. Neither cites the other, so the
tests put one into the other's ``referenced_works`` (in memory, per test) to make a citation
to follow; every other value is as recorded.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from django.urls import reverse

from screening.connectors import ConnectorError
from screening.connectors.openalex import fetch_openalex_citations
from screening.models import (
    Decision,
    Outcome,
    OutcomeKind,
    Record,
    RunStatus,
    SearchMethod,
    SourceType,
    Stage,
)
from screening.services import connectors, identification
from screening.services.prisma import prisma_counts
from tests.screening.factories import upload
from tests.screening.test_connectors import FIXTURES, Answer, Replay, run_now
from tests.screening.test_connectors_openalex_ctgov import http

PAGE = json.loads((FIXTURES / "openalex_works_page1.json").read_text())
BIBLIO, PEERJ = "W2755950973", "W2741809807"
BIBLIO_DOI, PEERJ_DOI = "10.1016/j.joi.2017.08.007", "10.7717/peerj.4375"


def works(*, cites: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """The recorded works by id; ``cites`` puts a citation in: ``{citing: cited}``."""
    found = {w["id"].rsplit("/", 1)[-1]: copy.deepcopy(w) for w in PAGE["results"]}
    for citing, cited in (cites or {}).items():
        found[citing]["referenced_works"].append(f"https://openalex.org/{cited}")
    return found


def openalex(known: dict[str, dict[str, Any]]) -> Any:
    """OpenAlex's works list for the filters citation searching sends: ``doi:``,
    ``openalex:`` and ``cites:``, each with values joined by ``|``; one page each."""

    def answer(path: str, params: dict[str, str]) -> Answer:
        name, _, values = params["filter"].partition(":")
        wanted = set(values.split("|"))
        if name == "doi":
            hits = [w for w in known.values() if w["doi"] in wanted]
        elif name == "openalex":
            hits = [w for key, w in known.items() if key in wanted]
        elif name == "cites":
            hits = [
                w
                for w in known.values()
                if any(ref.rsplit("/", 1)[-1] in wanted for ref in w["referenced_works"])
            ]
        else:
            return 400, {}, b"unknown filter"
        page = {**PAGE, "results": hits, "meta": {**PAGE["meta"], "count": len(hits)}}
        page["meta"]["next_cursor"] = None
        return 200, {"Content-Type": "application/json"}, json.dumps(page).encode()

    return answer


@pytest.fixture
def replay() -> Any:
    server = Replay()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_references_of_a_study_are_the_works_it_cites(replay):
    replay.answer = openalex(works(cites={BIBLIO: PEERJ}))
    fetched = fetch_openalex_citations(
        http("OpenAlex"), base_url=replay.url, dois=[BIBLIO_DOI], direction="references"
    )
    assert [r["id"] for r in fetched.records] == [PEERJ]
    assert fetched.records[0]["doi"] == PEERJ_DOI
    assert (fetched.reported, fetched.fetched, fetched.source) == (1, 1, "OpenAlex")
    filters = [params["filter"] for params in replay.calls("works")]
    assert filters[0] == f"doi:https://doi.org/{BIBLIO_DOI}"
    # The recorded 70 references and the one put in, asked for 50 at a time.
    assert [f.split(":")[0] for f in filters[1:]] == ["openalex", "openalex"]
    assert fetched.notes == [
        "Citations of 1 included study found in OpenAlex by DOI.",
        "References: 71 works cited by the studies.",
        "OpenAlex no longer serves 70 of the referenced works (merged or withdrawn records); "
        "they could not be imported.",
    ]


def test_cited_by_are_the_works_citing_a_study(replay):
    replay.answer = openalex(works(cites={PEERJ: BIBLIO}))
    fetched = fetch_openalex_citations(
        http("OpenAlex"), base_url=replay.url, dois=[BIBLIO_DOI.upper()], direction="cited-by"
    )
    assert [r["id"] for r in fetched.records] == [PEERJ]
    assert replay.calls("works")[-1]["filter"] == f"cites:{BIBLIO}"
    assert fetched.notes[-1] == "Cited by: 1 works citing the studies (not counted twice)."


def test_both_directions_count_a_work_once_and_leave_the_studies_out(replay):
    # Each cites the other; both are included studies: nothing new to import.
    replay.answer = openalex(works(cites={PEERJ: BIBLIO, BIBLIO: PEERJ}))
    fetched = fetch_openalex_citations(
        http("OpenAlex"),
        base_url=replay.url,
        dois=[BIBLIO_DOI, PEERJ_DOI],
        direction="citations",
    )
    assert fetched.records == [] and fetched.reported == 0
    # One included, the other found both as a reference and as a citing work: once.
    replay.answer = openalex(works(cites={PEERJ: BIBLIO, BIBLIO: PEERJ}))
    fetched = fetch_openalex_citations(
        http("OpenAlex"), base_url=replay.url, dois=[BIBLIO_DOI], direction="citations"
    )
    assert [r["id"] for r in fetched.records] == [PEERJ]


def test_dois_openalex_does_not_know_are_named(replay):
    replay.answer = openalex(works())
    fetched = fetch_openalex_citations(
        http("OpenAlex"),
        base_url=replay.url,
        dois=[BIBLIO_DOI, "10.9999/not-there"],
        direction="cited-by",
    )
    assert fetched.notes[1] == (
        "OpenAlex does not know 1 of the DOIs, so their citations were not searched: "
        "10.9999/not-there."
    )


def test_a_broken_answer_fails_the_whole_citation_search(replay):
    replay.answer = lambda path, params: (200, {}, b"<html>maintenance</html>")
    with pytest.raises(ConnectorError) as caught:
        fetch_openalex_citations(
            http("OpenAlex"), base_url=replay.url, dois=[BIBLIO_DOI], direction="references"
        )
    assert caught.value.message == (
        "OpenAlex's answer was not the list of works it sends; nothing was imported."
    )


# ------------------------------------------------------------------- through the review


@pytest.fixture
def services_at(settings, replay, monkeypatch):
    settings.OPENALEX_URL = replay.url
    monkeypatch.setattr(connectors, "_sleep", lambda seconds: None)
    return replay


def include(review, record):
    for stage in (Stage.TITLE_ABSTRACT, Stage.FULL_TEXT):
        Outcome.objects.create(
            review=review,
            record=record,
            stage=stage,
            decision=Decision.INCLUDE,
            kind=OutcomeKind.ADJUDICATION,
        )


@pytest.mark.django_db
def test_citation_search_of_the_included_studies_counts_as_citation_searching(
    review, owner, services_at, django_capture_on_commit_callbacks
):
    services_at.answer = openalex(works(cites={BIBLIO: PEERJ}))
    saved = connectors.create_saved_search(
        review=review, actor=owner, source="pubmed", method=SearchMethod.REFERENCES
    )
    assert (saved.source, saved.query) == (
        "openalex",
        "References of the included studies (backward)",
    )
    first = run_now(saved, owner, django_capture_on_commit_callbacks)
    assert first.status == RunStatus.FAILED and first.failure == connectors.NO_INCLUDED_DOIS
    # The included study, as a database search found it.
    with django_capture_on_commit_callbacks(execute=True):
        search = identification.create_search(
            review=review,
            actor=owner,
            file=upload(f"TY  - JOUR\nTI  - bibliometrix\nDO  - {BIBLIO_DOI}\nER  - \n"),
            filename="one.ris",
            source="Scopus",
        )
    include(review, Record.objects.get(search=search))
    run = run_now(saved, owner, django_capture_on_commit_callbacks)
    assert run.status == RunStatus.DONE, run.failure
    found = run.search
    assert (found.source, found.source_type, found.other_method) == (
        connectors.CITATION_SOURCE,
        SourceType.OTHER,
        "citation",
    )
    assert found.search_string == (
        f"The works cited by (references) of the studies with the DOIs: {BIBLIO_DOI}"
    )
    assert list(Record.objects.filter(search=found).values_list("doi", flat=True)) == [PEERJ_DOI]
    assert prisma_counts(review).citations_results == 1


@pytest.mark.django_db
def test_owner_saves_a_citation_search_from_the_page(review, owner, reviewer, client_for):
    url = reverse("saved-searches", args=[review.slug])
    page = client_for(owner).get(url).content.decode()
    assert "Citation searching" in page and "0 included studies with a DOI now" in page
    client_for(reviewer).post(url, {"method": "cited-by"})
    assert not review.saved_searches.exists()
    client_for(owner).post(url, {"method": "cited-by"})
    saved = review.saved_searches.get()
    assert (saved.source, saved.method) == ("openalex", "cited-by")
    assert (
        "Works citing the included studies (forward)" in client_for(owner).get(url).content.decode()
    )


@pytest.mark.django_db
def test_api_creates_a_citation_search(review, owner, client_for):
    url = reverse("api-saved-searches", args=[review.slug])
    answer = client_for(owner).post(
        url, {"source": "openalex", "method": "citations"}, content_type="application/json"
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["method"] == "citations"
    bad = client_for(owner).post(
        url, {"source": "openalex", "method": "sideways"}, content_type="application/json"
    )
    assert bad.status_code == 400
