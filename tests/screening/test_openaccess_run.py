"""An open-access look-up end to end: the run (a Celery task, eager here), its results, the
attached PDFs with their source and licence, the records left for the team, the fetchoa
command, the pages and the API, against the local server of test_openaccess.py."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import AuditEvent
from screening.models import FullTextReport, OaResult, OaRun, Record
from screening.selectors.openaccess import records_without_pdf
from screening.services import identification, openaccess
from screening.services.fulltext import mark_not_retrieved
from tests.screening.factories import upload
from tests.screening.screening_fixtures import vote
from tests.screening.test_openaccess import (
    DOI_ARXIV,
    DOI_CLOSED,
    DOI_GASTRIC,
    DOI_PEERJ,
    HTML,
    PDF,
    PMID_MANUSCRIPT,
    UNPAYWALL_CLOSED,
    UNPAYWALL_GREEN,
    OaServer,
    services,
)
from tests.screening.test_pdf_matching import make_pdf

pytestmark = pytest.mark.django_db(transaction=True)  # the run is queued on commit

TITLES = {
    "arxiv": "Stable characteristic evolution of generic three-dimensional spacetimes",
    "peerj": "The state of OA: a large-scale analysis of open access",
    "gastric": "Spatial organization of B lymphocytes in gastric cancer",
    "closed": "Psychotherapy integration and the need for better theories of change",
    "manuscript": "Department of error",
    "bare": "A conference abstract with no identifier",
}


@pytest.fixture
def oa_server(settings: Any) -> Any:
    server = OaServer()
    settings.UNPAYWALL_URL = server.url + "unpaywall/v2/"
    settings.OPENALEX_URL = server.url + "openalex/"
    settings.EUROPEPMC_URL = server.url + "epmc/"
    settings.UNPAYWALL_EMAIL = "team@example.org"
    settings.OA_ALLOW_PRIVATE_ADDRESSES = True
    settings.CONNECTOR_ATTEMPTS = 1
    services(server, {DOI_ARXIV: UNPAYWALL_GREEN, DOI_CLOSED: UNPAYWALL_CLOSED})
    server.routes["/arxiv/pdf/gr-qc/9801069"] = (200, PDF, make_pdf(["Black-hole spacetimes"]))
    server.routes["/peerj/articles/4375.pdf"] = (200, PDF, make_pdf(["The state of OA"]))
    server.routes["/epmc-site/articles/PMC12174270"] = (200, PDF, make_pdf(["B lymphocytes"]))
    # The author manuscript's "PDF" link answers with a landing page.
    server.routes["/epmc-site/articles/PMC12124214"] = (200, HTML, b"<html>Europe PMC</html>")
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def records(review: Any, owner: Any) -> dict[str, Record]:
    """Six records found by other methods (so at full text without screening)."""
    ris = "".join(
        f"TY  - JOUR\nTI  - {title}\nAU  - Doe, Jan\nER  -\n\n" for title in TITLES.values()
    )
    search = identification.create_search(
        review=review,
        actor=owner,
        file=upload(ris, "citations.ris"),
        filename="citations.ris",
        source="citation searching",
        source_type="other",
        other_method="citation",
    )
    search.refresh_from_db()
    assert search.status == "done", search.failure
    by_title = {r.title: r for r in Record.objects.filter(review=review)}
    found = {key: by_title[title] for key, title in TITLES.items()}
    ids = {
        "arxiv": (DOI_ARXIV, ""),
        "peerj": (DOI_PEERJ, ""),
        "gastric": (DOI_GASTRIC, ""),
        "closed": (DOI_CLOSED, ""),
        "manuscript": ("", PMID_MANUSCRIPT),
        "bare": ("", ""),
    }
    for key, (doi, pmid) in ids.items():
        found[key].doi, found[key].pmid = doi, pmid
        found[key].save()
    return found


def results_by_key(run: OaRun, records: dict[str, Record]) -> dict[str, OaResult]:
    keys = {r.pk: key for key, r in records.items()}
    return {keys[r.record_id]: r for r in OaResult.objects.filter(run=run)}


def test_a_run_attaches_the_first_real_pdf_of_each_source_and_lists_the_rest(
    oa_server, review, owner, records
):
    run = openaccess.start_oa_run(review=review, actor=owner)
    run.refresh_from_db()
    assert (run.status, run.records_total, run.records_done, run.attached) == ("done", 6, 6, 3)
    got = results_by_key(run, records)
    summary = {k: (r.outcome, r.source, r.licence, r.version) for k, r in got.items()}
    assert summary == {
        "arxiv": ("attached", "unpaywall", "", "submittedVersion"),
        "peerj": ("attached", "openalex", "cc-by", "publishedVersion"),
        "gastric": ("attached", "europepmc", "cc by", ""),
        "closed": ("not_found", "", "", ""),
        "manuscript": ("failed", "", "", ""),
        "bare": ("skipped", "", "", ""),
    }
    assert got["arxiv"].url == oa_server.url + "arxiv/pdf/gr-qc/9801069"
    assert got["arxiv"].message == "Attached from Unpaywall (arXiv.org)."
    assert got["closed"].message == (
        "Unpaywall: no open-access PDF; OpenAlex: no open-access PDF; "
        "Europe PMC: no open-access PDF"
    )
    assert got["manuscript"].message == (
        f"{oa_server.url}epmc-site/articles/PMC12124214?pdf=render: "
        "got HTML (a web page, not the PDF)"
    )
    assert got["bare"].message == "no DOI or PMID to look it up by"
    report = FullTextReport.objects.get(record=records["peerj"])
    assert (report.status, report.pdf_source, report.pdf_licence, report.pdf_version) == (
        "retrieved",
        "openalex",
        "cc-by",
        "publishedVersion",
    )
    assert report.pdf_url == oa_server.url + "peerj/articles/4375.pdf"
    assert "The state of OA" in report.text and report.content_sha256
    # Nothing is marked "not retrieved": the three left stay listed for the team.
    left = set(records_without_pdf(review).values_list("pk", flat=True))
    assert left == {records[k].pk for k in ("closed", "manuscript", "bare")}
    assert not FullTextReport.objects.filter(status="not_retrieved").exists()
    # Unpaywall got the contact address; a source was asked only when the one before failed.
    unpaywall = [p for p, q in oa_server.requests if p.startswith("/unpaywall/")]
    assert all(q["email"] == "team@example.org" for p, q in oa_server.requests if p in unpaywall)
    assert not any(q.get("query") == f'DOI:"{DOI_ARXIV}"' for _, q in oa_server.requests)
    actions = list(AuditEvent.objects.filter(review=review).values_list("action", flat=True))
    assert actions.count("fulltext.oa_started") == 1
    assert actions.count("fulltext.oa_finished") == 1
    assert actions.count("fulltext.attached") == 3


def test_a_second_run_looks_up_only_what_is_still_missing_and_never_doubles(
    oa_server, review, owner, records
):
    openaccess.start_oa_run(review=review, actor=owner)
    mark_not_retrieved(review=review, record=records["closed"], actor=owner, note="asked")
    second = openaccess.start_oa_run(review=review, actor=owner)
    second.refresh_from_db()
    assert (second.records_total, second.attached) == (2, 0)
    assert set(OaResult.objects.filter(run=second).values_list("record_id", flat=True)) == {
        records["manuscript"].pk,
        records["bare"].pk,
    }
    # Running the finished task again changes nothing.
    openaccess.run_oa_lookup(run_id=second.pk)
    assert OaResult.objects.filter(run=second).count() == 2


def test_a_run_is_refused_while_one_is_under_way_or_when_nothing_is_missing(
    oa_server, review, owner, records, settings
):
    queued = OaRun.objects.create(review=review, records_total=6)
    with pytest.raises(ReviewflowError) as caught:
        openaccess.start_oa_run(review=review, actor=owner)
    assert caught.value.message == (
        f"A look-up of open-access copies is already under way (run {queued.pk}); wait for "
        "it to finish."
    )
    openaccess.run_oa_lookup(run_id=queued.pk)
    for key in ("closed", "manuscript", "bare"):
        mark_not_retrieved(review=review, record=records[key], actor=owner)
    with pytest.raises(ReviewflowError, match="there is nothing to look up"):
        openaccess.start_oa_run(review=review, actor=owner)


def test_the_same_pdf_from_two_records_is_attached_once(oa_server, review, owner, records):
    same = oa_server.routes["/arxiv/pdf/gr-qc/9801069"]
    oa_server.routes["/peerj/articles/4375.pdf"] = same
    run = openaccess.start_oa_run(review=review, actor=owner)
    got = results_by_key(run, records)
    assert got["arxiv"].outcome == "attached"
    assert got["peerj"].outcome == "failed"
    assert (
        f"peerj/articles/4375.pdf: the same PDF is already attached to record "
        f"{records['arxiv'].pk}" in got["peerj"].message
    )
    # The other copies OpenAlex lists were tried too (here they answer 404).
    assert "ext/papyrus.bib.umontreal.ca/" in got["peerj"].message


def test_a_stale_run_is_sent_again_and_finishes(oa_server, review, owner, records):
    from datetime import timedelta

    from django.utils import timezone

    run = OaRun.objects.create(review=review, records_total=6, status="running", attempt=1)
    OaRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert openaccess.restart_stale_oa_runs(timedelta(minutes=5)) == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.attempt, run.attached) == ("done", 2, 3)


def test_fetchoa_command_prints_each_result(oa_server, review, records, capsys):
    with pytest.raises(CommandError, match="Some look-ups failed"):
        call_command("fetchoa", review.slug, "--wait")
    out = capsys.readouterr().out
    assert "Looking for open-access copies of 6 record(s)" in out
    assert "3 attached, 1 with no open-access copy, 1 failed, 1 skipped." in out
    assert f"record {records['peerj'].pk}: attached from openalex" in out
    assert "licence cc-by" in out
    with pytest.raises(CommandError, match="No review with the slug “nope”"):
        call_command("fetchoa", "nope")


def test_pages_start_a_run_and_show_results_and_what_is_left(
    oa_server, review, records, client_for, viewer, outsider
):
    client = client_for(review.memberships.get(role="owner").user)
    response = client.post(reverse("oa-runs", args=[review.slug]))
    run = OaRun.objects.get(review=review)
    assert response.status_code == 302
    assert response["Location"] == reverse("oa-run", args=[review.slug, run.pk])
    page = client.get(response["Location"]).content.decode()
    assert 'data-result="attached"' in page and "cc-by" in page
    listing = client.get(reverse("oa-runs", args=[review.slug])).content.decode()
    assert f'data-missing-record="{records["closed"].pk}"' in listing
    assert f'data-missing-record="{records["peerj"].pk}"' not in listing
    # Viewers see, but cannot start; outsiders get 404.
    assert client_for(viewer).post(reverse("oa-runs", args=[review.slug])).status_code == 403
    assert client_for(viewer).get(reverse("oa-run", args=[review.slug, run.pk])).status_code == 200
    assert client_for(outsider).get(reverse("oa-runs", args=[review.slug])).status_code == 404


def test_api_creates_lists_and_details_runs(oa_server, review, owner, records, viewer):
    api = APIClient()
    api.force_authenticate(owner)
    created = api.post(f"/api/v1/reviews/{review.slug}/oa-runs/")
    assert created.status_code == 202, created.content
    run_id = created.json()["id"]
    assert created["Location"] == f"/api/v1/reviews/{review.slug}/oa-runs/{run_id}/"
    listed = api.get(f"/api/v1/reviews/{review.slug}/oa-runs/").json()
    assert [r["id"] for r in listed] == [run_id]
    detail = api.get(created["Location"]).json()
    assert detail["counts"] == {"attached": 3, "not_found": 1, "failed": 1, "skipped": 1}
    assert listed[0]["counts"] == detail["counts"]
    openalex = [r for r in detail["results"] if r["source"] == "openalex"]
    assert openalex[0]["licence"] == "cc-by" and openalex[0]["record"] == records["peerj"].pk
    api.force_authenticate(viewer)
    assert api.post(f"/api/v1/reviews/{review.slug}/oa-runs/").status_code == 403


def test_the_record_page_and_the_viewers_say_where_an_open_access_pdf_came_from(
    oa_server, review, owner, reviewer, reviewer2, records, client_for
):
    openaccess.start_oa_run(review=review, actor=owner)
    mark_not_retrieved(review=review, record=records["closed"], actor=owner, note="asked")
    peerj_url = oa_server.url + "peerj/articles/4375.pdf"
    client = client_for(owner)

    def record_page(key: str) -> str:
        url = reverse("record-detail", args=[review.slug, records[key].pk])
        return client.get(url).content.decode()

    page = record_page("peerj")
    pdf = reverse("fulltext-pdf", args=[review.slug, records["peerj"].pk])
    assert f'<a href="{pdf}" target="_blank" rel="noopener">openalex-record-' in page
    assert "<dd data-pdf-source>OpenAlex</dd>" in page
    assert (
        f'<dd data-pdf-url><a href="{peerj_url}" rel="noopener noreferrer nofollow" '
        f'target="_blank">{peerj_url}</a></dd>'
    ) in page
    assert "<dd data-pdf-licence>cc-by</dd>" in page
    assert "<dd data-pdf-version>published version</dd>" in page
    page = record_page("arxiv")
    assert "<dd data-pdf-source>Unpaywall</dd>" in page
    assert "<dd data-pdf-licence>not stated by the source</dd>" in page
    assert "<dd data-pdf-version>submitted manuscript (before peer review)</dd>" in page
    assert "<p data-not-retrieved>Not retrieved: asked.</p>" in record_page("closed")
    assert "data-full-text" not in record_page("bare")  # no report: nothing to say

    # The viewer says it under its bar: on the full-text screening page (the owner's only
    # record left to screen) and on the desk (a conflict on the record).
    line = (
        f'<p class="pdfv-source muted" data-pdf-source>Open-access copy from <a href="{peerj_url}"'
        ' target="_blank" rel="noopener noreferrer nofollow">OpenAlex</a> · licence cc-by · '
        "published version</p>"
    )
    for key, record in records.items():
        if key not in ("peerj", "closed"):  # a report not retrieved is not screened
            vote(review, record, owner, "exclude", stage="full-text", reason="Wrong population")
    screen = client.get(reverse("screen", args=[review.slug, "full-text"]))
    assert screen.context["record"] == records["peerj"]
    assert line in screen.content.decode()
    vote(review, records["peerj"], reviewer, "include", stage="full-text")
    vote(
        review, records["peerj"], reviewer2, "exclude", stage="full-text", reason="Wrong population"
    )
    desk = client.get(reverse("conflicts", args=[review.slug]), {"stage": "full-text"})
    assert desk.context["record"] == records["peerj"]
    assert line in desk.content.decode()
