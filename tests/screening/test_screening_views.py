"""Screening pages and API: permissions, the page's query count, and blinding."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from screening.models import Conflict, Record, Vote
from screening.services.screening.stage_settings import get_stage_settings, update_stage_settings
from tests.screening.screening_fixtures import import_records, vote

pytestmark = pytest.mark.django_db

TA = "title-abstract"
SECRET_NOTE = "zebra-note-of-the-first-reviewer"


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def records(review, owner):
    return import_records(review, owner, 5)


def test_viewer_and_outsider_cannot_screen(client_for, review, records, viewer, outsider):
    url = reverse("screen", args=[review.slug, TA])
    assert client_for(viewer).get(url).status_code == 403
    assert client_for(outsider).get(url).status_code == 404
    assert (
        api(outsider).get(f"/api/v1/reviews/{review.slug}/screening/{TA}/next/").status_code == 404
    )
    assert (
        client_for(reviewer_like := viewer)
        .post(
            reverse("screen-vote", args=[review.slug, TA]),
            {"record": records[0].pk, "decision": "include"},
        )
        .status_code
        == 403
    )
    assert not Vote.objects.exists() and reviewer_like


def test_screening_page_votes_and_shows_the_next_record(client_for, review, records, reviewer):
    client = client_for(reviewer)
    page = client.get(reverse("screen", args=[review.slug, TA]))
    first = Record.objects.get(pk=page.context["record"].pk)
    response = client.post(
        reverse("screen-vote", args=[review.slug, TA]),
        {"record": first.pk, "decision": "exclude", "note": "animal study"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert response.context["record"].pk != first.pk
    assert Vote.objects.get(reviewer=reviewer).note == "animal study"


@pytest.mark.parametrize("settled", [False, True], ids=["open", "settled"])
def test_undo_on_the_page_offers_the_record_again_and_says_when_it_is_kept(
    client_for, review, records, reviewer, reviewer2, settled
):
    if settled:
        vote(review, records[0], reviewer2, "include")
    vote(review, records[0], reviewer, "exclude")
    response = client_for(reviewer).post(
        reverse("screen-undo", args=[review.slug, TA]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert response.context["record"].pk == records[0].pk
    info = response.context["info"]
    assert info.startswith("Your last vote was undone: vote again on this record.")
    assert ("this vote is kept for you" in info) is settled
    assert info in response.content.decode()


def test_full_text_exclusion_without_reason_is_refused_on_the_page(
    client_for, review, records, reviewer, reviewer2
):
    vote(review, records[0], reviewer, "include")
    vote(review, records[0], reviewer2, "include")
    response = client_for(reviewer).post(
        reverse("screen-vote", args=[review.slug, "full-text"]),
        {"record": records[0].pk, "decision": "exclude"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    assert (
        "Choose a reason for excluding this record: exclusions at full text need one."
        in response.content.decode()
    )
    assert not Vote.objects.filter(stage="full-text").exists()


@pytest.mark.parametrize("n", [100, 10_000])
def test_screening_page_query_count_does_not_grow(
    n, client_for, review, owner, reviewer, django_assert_num_queries
):
    import_records(review, owner, n)
    client = client_for(reviewer)
    url = reverse("screen", args=[review.slug, TA])
    client.get(url)  # settings are created on first use
    # + the review's labels, the stage's questions; my pace (#18: one query), the
    # discussion's blinding rule and its comments
    with django_assert_num_queries(8 + 1 + 1 + 1 + 2):
        client.get(url)


def test_api_next_vote_and_204(review, owner, reviewer, reviewer2):
    (record,) = import_records(review, owner, 1)
    client = api(reviewer)
    base = f"/api/v1/reviews/{review.slug}/screening/{TA}"
    body = client.get(f"{base}/next/").json()
    assert body["id"] == record.pk and "abstract" in body
    response = client.post(
        f"{base}/votes/", {"record": record.pk, "decision": "include"}, format="json"
    )
    assert response.status_code == 201
    assert client.get(f"{base}/next/").status_code == 204
    response = api(reviewer2).post(
        f"{base}/votes/", {"record": record.pk, "decision": "exclude"}, format="json"
    )
    assert response.status_code == 201
    conflicts = api(owner).get(f"/api/v1/reviews/{review.slug}/conflicts/?stage={TA}").json()
    assert conflicts["count"] == 1
    conflict_id = conflicts["results"][0]["id"]
    response = api(reviewer).post(
        f"/api/v1/reviews/{review.slug}/conflicts/{conflict_id}/resolve/",
        {"decision": "include"},
        format="json",
    )
    assert response.status_code == 403
    response = api(owner).post(
        f"/api/v1/reviews/{review.slug}/conflicts/{conflict_id}/resolve/",
        {"decision": "include"},
        format="json",
    )
    assert response.status_code == 200 and response.json()["resolved_at"]


def test_api_vote_errors_name_the_field(review, records, reviewer, reviewer2):
    vote(review, records[0], reviewer, "include")
    vote(review, records[0], reviewer2, "include")
    response = api(reviewer).post(
        f"/api/v1/reviews/{review.slug}/screening/full-text/votes/",
        {"record": records[0].pk, "decision": "exclude"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Choose a reason for excluding this record: exclusions at full text need one.",
        "field": "reason",
    }


def test_blinding_sweep(client_for, review, records, owner, reviewer, reviewer2, viewer):
    """The first reviewer votes with a note; nothing the second reviewer (nor an owner who
    has not voted) can reach shows that vote, until the second reviewer has voted too."""
    target = records[0]
    vote(review, target, reviewer, "exclude", note=SECRET_NOTE)
    slug = review.slug
    pages = [
        reverse("screen", args=[slug, TA]),
        reverse("review-records", args=[slug]),
        reverse("record-detail", args=[slug, target.pk]),
        reverse("conflicts", args=[slug]) + f"?stage={TA}",
        reverse("review-detail", args=[slug]),
        reverse("dashboard"),
    ]
    apis = [
        f"/api/v1/reviews/{slug}/screening/{TA}/next/",
        f"/api/v1/reviews/{slug}/screening/{TA}/votes/",
        f"/api/v1/reviews/{slug}/records/",
        f"/api/v1/reviews/{slug}/records/{target.pk}/",
        f"/api/v1/reviews/{slug}/conflicts/",
    ]
    owner_only = [reverse("review-audit", args=[slug]), f"/api/v1/reviews/{slug}/audit/"]

    def sweep(user, urls_pages, urls_api):
        client = client_for(user)
        for url in urls_pages:
            body = client.get(url).content.decode()
            assert SECRET_NOTE not in body, url
        for url in urls_api:
            body = api(user).get(url).content.decode()
            assert SECRET_NOTE not in body, url
            assert '"decision":"exclude"' not in body.replace(" ", ""), url

    sweep(reviewer2, pages, apis)
    sweep(owner, pages + owner_only[:1], apis + owner_only[1:])
    # A vote on the target itself is refused with a message that tells nothing of the other.
    vote(review, target, reviewer2, "include")
    assert Conflict.objects.filter(record=target).exists()
    # Now that both have voted, the conflict shows both votes to the adjudicator.
    body = (
        client_for(owner).get(reverse("conflicts", args=[slug]) + f"?stage={TA}").content.decode()
    )
    assert SECRET_NOTE in body
    audit = client_for(owner).get(reverse("review-audit", args=[slug])).content.decode()
    assert SECRET_NOTE in audit


def test_settings_page_is_for_owners(client_for, review, owner, reviewer):
    url = reverse("stage-settings", args=[review.slug, TA])
    assert client_for(reviewer).get(url).status_code == 403
    response = client_for(owner).post(
        url,
        {
            "reviewers_needed": "3",
            "blind": "on",
            "criteria": "Adults with knee OA",
            "include_terms": "mesenchymal*\nrandom*",
            "exclude_terms": "rat*\nmice",
            "exclusion_reasons": "Animal study\nWrong population",
            "adjudicators": "owners",
        },
    )
    assert response.status_code == 302
    conf = get_stage_settings(review, TA)
    assert (conf.reviewers_needed, conf.exclusion_reasons) == (
        3,
        ["Animal study", "Wrong population"],
    )


def test_highlighting_escapes_imported_text(client_for, review, owner, reviewer):
    from screening.services import identification
    from tests.screening.factories import upload

    text = (
        "TY  - JOUR\nTI  - <script>alert(1)</script> mesenchymal cells in rats\n"
        "AU  - X, Y\nER  - \n"
    )
    search = identification.create_search(
        review=review, actor=owner, file=upload(text), filename="x.ris", source="X"
    )
    identification.run_import(search_id=search.pk)
    update_stage_settings(
        review=review,
        stage=TA,
        actor=owner,
        include_terms="mesenchymal*\n<script>",
        exclude_terms="rat*",
    )
    body = client_for(reviewer).get(reverse("screen", args=[review.slug, TA])).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;" in body
    assert '<mark class="hl-include">mesenchymal</mark>' in body
    assert '<mark class="hl-exclude">rats</mark>' in body


def test_records_list_filters_by_stage_status(
    client_for, review, records, reviewer, reviewer2, owner
):
    vote(review, records[0], reviewer, "include")
    vote(review, records[0], reviewer2, "exclude")  # conflict
    vote(review, records[1], reviewer, "exclude")
    vote(review, records[1], reviewer2, "exclude")  # excluded
    vote(review, records[2], reviewer, "include")  # awaiting reviewer2
    url = reverse("review-records", args=[review.slug])

    def ids(user, status, **extra):
        response = client_for(user).get(url, {"stage": TA, "status": status, **extra})
        return sorted(r.pk for r in response.context["page"])

    assert ids(reviewer, "conflict") == [records[0].pk]
    assert ids(reviewer, "excluded") == [records[1].pk]
    assert ids(reviewer, "awaiting_others") == [records[2].pk]
    assert ids(reviewer2, "awaiting_me") == [records[2].pk, records[3].pk, records[4].pk]
    assert ids(reviewer2, "awaiting_others") == []  # says nothing of the first reviewer's votes


def test_a_stage_that_is_not_blind_shows_each_vote_to_the_other_reviewers(
    client_for, review, records, owner, reviewer, reviewer2
):
    target = records[0]
    vote(review, target, reviewer, "exclude", note=SECRET_NOTE)
    slug = review.slug
    # Blind (the default): reviewer2 is offered the record without the vote.
    page = client_for(reviewer2).get(reverse("screen", args=[slug, TA])).content.decode()
    assert SECRET_NOTE not in page and "data-others-votes" not in page
    offered = api(reviewer2).get(f"/api/v1/reviews/{slug}/screening/{TA}/next/").json()
    assert (offered["id"], offered["other_votes"]) == (target.pk, [])
    update_stage_settings(review=review, stage=TA, actor=owner, blind=False)
    page = client_for(reviewer2).get(reverse("screen", args=[slug, TA])).content.decode()
    assert f'data-record="{target.pk}"' in page and SECRET_NOTE in page
    assert "rachel</strong>: exclude" in page
    offered = api(reviewer2).get(f"/api/v1/reviews/{slug}/screening/{TA}/next/").json()
    ((shown,),) = [offered["other_votes"]]
    assert (shown["reviewer"], shown["decision"], shown["note"]) == (
        "rachel",
        "exclude",
        SECRET_NOTE,
    )
    # The owner's votes export and audit trail show it too, before the record is settled.
    response = client_for(owner).get(reverse("export-votes", args=[slug, "csv"]))
    assert SECRET_NOTE in b"".join(response.streaming_content).decode()
    audit = client_for(owner).get(reverse("review-audit", args=[slug])).content.decode()
    assert SECRET_NOTE in audit
