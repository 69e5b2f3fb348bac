"""Crossref's retraction and correction notices read from real recorded works, and asked
for in batches from a local server replaying them (tests/screening/fixtures/connectors/
README.md names where each answer was recorded and what was trimmed). No database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from screening.connectors import ConnectorError, HttpClient, RateLimiter
from screening.connectors.retractions import (
    SELECT,
    Notice,
    fetch_notices,
    notice_kind,
    notices_of,
)
from tests.screening.test_connectors import FIXTURES, Answer, Replay


def work(name: str) -> dict[str, Any]:
    message: dict[str, Any] = json.loads((FIXTURES / name).read_text())["message"]
    return message


LANCET = work("crossref_work_retracted_lancet.json")
LANCET_NOTICE = work("crossref_work_retraction_notice_lancet.json")
APSUSC = work("crossref_work_retracted_apsusc.json")
ICETCE = work("crossref_work_retracted_in_place_icetce.json")
# A recorded work with no update at all.
CLEAN = json.loads((FIXTURES / "crossref_works_ecology.json").read_text())["message"]["items"][0]
WORKS = [LANCET, LANCET_NOTICE, APSUSC, ICETCE, CLEAN]
ENVELOPE = json.loads((FIXTURES / "crossref_works_ecology.json").read_text())


def served(works: list[dict[str, Any]] = WORKS) -> Any:
    """Crossref's works list filtered by ``doi:`` (several: OR), in the envelope of its
    recorded lists, each work cut to the fields ``select`` names."""

    def answer(path: str, params: dict[str, str]) -> Answer:
        if path != "works":
            return 404, {}, b""
        asked = {part.removeprefix("doi:") for part in params["filter"].split(",")}
        keep = params["select"].split(",")
        items = [
            {k: v for k, v in w.items() if k in keep} for w in works if w["DOI"].lower() in asked
        ]
        body = dict(ENVELOPE)
        body["message"] = {
            **ENVELOPE["message"],
            "total-results": len(items),
            "items": items,
            "items-per-page": int(params["rows"]),
            "query": {"start-index": 0, "search-terms": None},
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    return answer


@pytest.fixture
def replay() -> Iterator[Replay]:
    server = Replay()
    yield server
    server.server.shutdown()
    server.server.server_close()


def client(attempts: int = 5) -> HttpClient:
    return HttpClient(
        "Crossref",
        limiter=RateLimiter(1000, sleep=lambda s: None),
        attempts=attempts,
        sleep=lambda s: None,
    )


# ----------------------------------------------------------------- parsing recorded works


def test_the_retracted_lancet_paper_gives_each_notice_once_with_its_sources():
    assert notices_of(LANCET) == [
        Notice(
            doi="10.1016/s0140-6736(20)31180-6",
            kind="concern",
            label="Expression of concern",
            notice_doi="10.1016/s0140-6736(20)31290-3",
            notice_date=date(2020, 6, 3),
            source="retraction-watch",
        ),
        # Retraction Watch's correction and the publisher's erratum: one notice.
        Notice(
            doi="10.1016/s0140-6736(20)31180-6",
            kind="correction",
            label="Correction",
            notice_doi="10.1016/s0140-6736(20)31249-6",
            notice_date=date(2020, 5, 30),
            source="retraction-watch, publisher",
        ),
        Notice(
            doi="10.1016/s0140-6736(20)31180-6",
            kind="retraction",
            label="Retraction",
            notice_doi="10.1016/s0140-6736(20)31324-6",
            notice_date=date(2020, 6, 5),
            source="retraction-watch",
        ),
        Notice(
            doi="10.1016/s0140-6736(20)31180-6",
            kind="retraction",
            label="Retraction",
            notice_doi="10.1016/s0140-6736(20)31174-0",
            notice_date=date(2020, 5, 22),
            source="publisher",
        ),
        # The same notice DOI as a publisher's erratum: another kind, kept apart.
        Notice(
            doi="10.1016/s0140-6736(20)31180-6",
            kind="correction",
            label="Erratum",
            notice_doi="10.1016/s0140-6736(20)31324-6",
            notice_date=date(2020, 6, 13),
            source="publisher",
        ),
        Notice(
            doi="10.1016/s0140-6736(20)31180-6",
            kind="correction",
            label="Erratum",
            notice_doi="10.1016/s0140-6736(20)31528-2",
            notice_date=date(2020, 7, 18),
            source="publisher",
        ),
    ]


def test_a_retraction_notice_is_not_flagged_by_the_paper_it_retracts():
    # Elsevier links the notice and the paper both ways; Retraction Watch's update-to on
    # the notice says which is which.
    assert LANCET_NOTICE["updated-by"][0]["DOI"] == "10.1016/s0140-6736(20)31180-6"
    assert notices_of(LANCET_NOTICE) == []


def test_a_retraction_and_an_erratum_with_one_notice_doi_are_two_notices():
    assert [
        (n.kind, n.label, n.notice_doi, n.notice_date, n.source) for n in notices_of(APSUSC)
    ] == [
        (
            "retraction",
            "Retraction",
            "10.1016/j.apsusc.2017.07.145",
            date(2017, 7, 24),
            "retraction-watch",
        ),
        ("correction", "Erratum", "10.1016/j.apsusc.2017.07.145", date(2017, 10, 31), "publisher"),
    ]


def test_a_retraction_made_in_place_names_the_work_itself():
    (notice,) = notices_of(ICETCE)
    assert (notice.kind, notice.notice_doi, notice.notice_date) == (
        "retraction",
        "10.1109/icetce.2011.5774727",
        date(2011, 5, 27),
    )


def test_a_work_without_updates_has_no_notice():
    assert "updated-by" not in CLEAN
    assert notices_of(CLEAN) == []


@pytest.mark.parametrize(
    ("update_type", "kind"),
    [
        ("retraction", "retraction"),
        ("expression_of_concern", "concern"),
        ("expression-of-concern", "concern"),
        ("erratum", "correction"),
        ("corrigendum", "correction"),
        ("withdrawal", "withdrawal"),
        ("removal", "withdrawal"),
        ("partial_retraction", "other"),
        ("something_new", "other"),
        ("new_version", None),
        ("new_edition", None),
        ("", None),
    ],
)
def test_crossref_update_types_become_the_kinds_a_review_flags(update_type, kind):
    assert notice_kind(update_type) == kind


def test_an_entry_with_a_month_alone_is_dated_the_first_of_it():
    entry = dict(APSUSC["updated-by"][0], updated={"date-parts": [[2017, 7]]})
    (notice, _) = notices_of(dict(APSUSC, **{"updated-by": [entry, APSUSC["updated-by"][1]]}))
    assert notice.notice_date == date(2017, 7, 1)


# --------------------------------------------------------------- asking Crossref in batches


def test_dois_are_asked_in_batches_with_the_doi_filter_and_only_the_update_fields(replay):
    replay.answer = served()
    dois = [
        "10.1016/S0140-6736(20)31180-6",  # upper case, as a record may not keep it
        "10.1016/j.apsusc.2007.01.131",
        "10.1111/ele.14024",
        "10.9999/not-in-crossref",
        "10.1000/with,comma",  # cannot be put in a filter: asked alone (Crossref: 404)
    ]
    found, notices = fetch_notices(
        client(), base_url=replay.url, dois=dois, email="team@example.org", batch=2
    )
    assert replay.calls("10.1000%2Fwith%2Ccomma") == [{"mailto": "team@example.org"}]
    sent = replay.calls("works")
    assert [p["filter"] for p in sent] == [
        "doi:10.1016/j.apsusc.2007.01.131,doi:10.1016/s0140-6736(20)31180-6",
        "doi:10.1111/ele.14024,doi:10.9999/not-in-crossref",
    ]
    assert {(p["rows"], p["select"], p["mailto"]) for p in sent} == {
        ("2", SELECT, "team@example.org")
    }
    assert found == {
        "10.1016/s0140-6736(20)31180-6",
        "10.1016/j.apsusc.2007.01.131",
        "10.1111/ele.14024",
    }
    # In the order Crossref lists the works.
    assert [(n.doi, n.kind) for n in notices] == [
        *[("10.1016/s0140-6736(20)31180-6", n.kind) for n in notices_of(LANCET)],
        ("10.1016/j.apsusc.2007.01.131", "retraction"),
        ("10.1016/j.apsusc.2007.01.131", "correction"),
    ]


def test_a_doi_with_a_comma_is_asked_at_its_own_address_and_its_notices_kept(replay):
    # The recorded in-place retraction, served at the address of a DOI with a comma (no
    # recorded work has one): what matters is the address asked and the one-work answer.
    doi = str(ICETCE["DOI"])
    odd = json.loads(json.dumps(ICETCE).replace(json.dumps(doi), '"10.1000/with,comma"'))
    odd["DOI"] = "10.1000/with,comma"

    def answer(path: str, params: dict[str, str]) -> Answer:
        if path != "10.1000%2Fwith%2Ccomma":
            return 404, {}, b""
        body = {"status": "ok", "message-type": "work", "message-version": "1.0.0", "message": odd}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    replay.answer = answer
    found, notices = fetch_notices(client(), base_url=replay.url, dois=["10.1000/With,Comma"])
    assert found == {"10.1000/with,comma"}
    assert [(n.doi, n.kind, n.notice_doi) for n in notices] == [
        ("10.1000/with,comma", n.kind, "10.1000/with,comma") for n in notices_of(ICETCE)
    ]
    assert replay.calls("works") == []


def test_no_doi_asks_nothing(replay):
    assert fetch_notices(client(), base_url=replay.url, dois=[]) == (set(), [])
    assert replay.requests == []


@pytest.mark.parametrize("body", [b"<html>busy</html>", b'{"message-type": "work", "message": {}}'])
def test_an_answer_that_is_not_a_work_list_is_refused_clearly(replay, body):
    replay.answer = lambda path, params: (200, {}, body)
    with pytest.raises(ConnectorError) as caught:
        fetch_notices(client(), base_url=replay.url, dois=["10.1111/ele.14024"])
    assert caught.value.message == (
        "Crossref's answer was not the list of works it sends, so the records could not be "
        "checked; nothing was changed. Run the check again later."
    )


def test_a_crossref_that_keeps_failing_raises_with_the_reason(replay):
    replay.answer = lambda path, params: (503, {}, b"")
    with pytest.raises(ConnectorError) as caught:
        fetch_notices(client(attempts=2), base_url=replay.url, dois=["10.1111/ele.14024"])
    assert caught.value.message.startswith("Crossref did not answer after 2 attempts (HTTP 503)")
    assert len(replay.requests) == 2
