"""The extraction API: forms, extractions, consensus; who may do what."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from extraction.models import Consensus, Extraction, Form
from extraction.services.extractions import start_extraction, submit_extraction
from extraction.services.forms import create_form, new_form_version, publish_form
from tests.extraction.helpers import GOOD, included_records, published_form, spec

pytestmark = pytest.mark.django_db

BASE = "/api/v1/reviews/msc-t2d"


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def records(review, owner, reviewer, reviewer2):
    return included_records(review, owner, (reviewer, reviewer2))


@pytest.fixture
def form(review, owner, records):
    return published_form(review, owner)


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/forms/"),
        ("post", "/forms/"),
        ("get", "/forms/{form}/"),
        ("put", "/forms/{form}/"),
        ("post", "/forms/{form}/publish/"),
        ("post", "/forms/{form}/new-version/"),
        ("get", "/extractions/"),
        ("post", "/extractions/"),
        ("get", "/consensus/"),
        ("get", "/consensus/{form}/{record}/"),
        ("put", "/consensus/{form}/{record}/"),
        ("post", "/consensus/{form}/{record}/finalise/"),
    ],
)
def test_anonymous_and_an_outsider_get_404(form, records, outsider, method, path):
    # Anonymous callers get the same answer as outsiders for a review's URLs (SECURITY.md).
    url = BASE + path.format(form=form.pk, record=records[0].pk)
    assert getattr(api(), method)(url, {}, format="json").status_code == 404
    assert getattr(api(outsider), method)(url, {}, format="json").status_code == 404


def test_outsider_gets_404_on_an_extraction(form, records, reviewer, outsider):
    extraction = start_extraction(form=form, record=records[0], extractor=reviewer)
    for method, suffix in [("get", ""), ("patch", ""), ("post", "submit/"), ("post", "reopen/")]:
        url = f"{BASE}/extractions/{extraction.pk}/{suffix}"
        assert getattr(api(outsider), method)(url, {}, format="json").status_code == 404


def test_viewer_reads_forms_and_consensus_but_writes_nothing(form, records, viewer):
    client = api(viewer)
    listing = client.get(f"{BASE}/forms/").json()
    assert [f["title"] for f in listing["results"]] == ["Trial data"]
    assert client.get(f"{BASE}/forms/{form.pk}/").status_code == 200
    assert client.get(f"{BASE}/consensus/").status_code == 200
    assert client.post(f"{BASE}/forms/", {"template": "rob2"}, format="json").status_code == 403
    assert client.post(f"{BASE}/forms/{form.pk}/new-version/").status_code == 403
    assert client.get(f"{BASE}/extractions/").status_code == 403
    response = client.post(
        f"{BASE}/extractions/", {"form": form.pk, "record": records[0].pk}, format="json"
    )
    assert response.status_code == 403
    assert not Extraction.objects.exists()


def test_drafts_are_listed_to_owners_only(review, owner, reviewer, form):
    create_form(review=review, actor=owner, spec=spec(title="Unfinished"))
    owner_titles = [f["title"] for f in api(owner).get(f"{BASE}/forms/").json()["results"]]
    reviewer_titles = [f["title"] for f in api(reviewer).get(f"{BASE}/forms/").json()["results"]]
    assert sorted(owner_titles) == ["Trial data", "Unfinished"]
    assert reviewer_titles == ["Trial data"]


def test_owner_builds_publishes_and_versions_a_form(review, owner, reviewer):
    client = api(owner)
    created = client.post(f"{BASE}/forms/", {"spec": spec().to_dict()}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["status"], body["version"], body["extractors_needed"]) == ("draft", 1, 2)
    url = f"{BASE}/forms/{body['id']}/"
    renamed = client.put(url, spec(title="Renamed").to_dict(), format="json")
    assert renamed.status_code == 200 and renamed.json()["title"] == "Renamed"
    assert client.post(url + "publish/").json()["status"] == "published"
    frozen = client.put(url, {"spec": spec(title="Again").to_dict()}, format="json")
    assert frozen.status_code == 409
    assert frozen.json()["detail"].startswith("Version 1 of this form is published")
    v2 = client.post(url + "new-version/")
    assert v2.status_code == 201
    assert (v2.json()["version"], v2.json()["family"]) == (2, body["family"])
    assert api(reviewer).post(url + "new-version/").status_code == 403


def test_owner_creates_a_form_from_a_template_and_bad_specs_name_the_problem(owner, review):
    client = api(owner)
    response = client.post(f"{BASE}/forms/", {"template": "rob2"}, format="json")
    assert response.status_code == 201
    assert Form.objects.get(pk=response.json()["id"]).spec["sections"]
    bad = spec().to_dict()
    bad["sections"][0]["fields"][0]["kind"] = "colour"
    response = client.post(f"{BASE}/forms/", {"spec": bad}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == 'Section 1, field 1 ("Design"): unknown kind "colour"'


def test_reviewer_starts_saves_and_submits_with_errors_listed(form, records, reviewer):
    client = api(reviewer)
    started = client.post(
        f"{BASE}/extractions/", {"form": form.pk, "record": records[0].pk}, format="json"
    )
    assert started.status_code == 201, started.content
    assert (started.json()["slot"], started.json()["status"]) == (1, "draft")
    url = f"{BASE}/extractions/{started.json()['id']}/"
    saved = client.patch(url, {"values": {"country": "Spain", "sample_size": "12"}}, format="json")
    assert saved.status_code == 200
    assert saved.json()["values"] == {"country": "Spain", "sample_size": 12}
    # PATCH merges: the country stays.
    merged = client.patch(url, {"values": {"design": "RCT"}}, format="json").json()
    assert merged["values"] == {"country": "Spain", "sample_size": 12, "design": "RCT"}
    bad = client.patch(url, {"values": {"arms": [{"arm": "MSC", "n": "-1"}]}}, format="json")
    assert bad.status_code == 400
    assert bad.json()["errors"] == [
        {
            "field": "arms",
            "row": 1,
            "column": "n",
            "message": "Arms, row 1, Participants: must be at least 0",
        }
    ]
    incomplete = client.post(url + "submit/", {"values": {"sample_size": None}}, format="json")
    assert incomplete.status_code == 400
    assert {
        "field": "sample_size",
        "row": None,
        "column": None,
        "message": "Sample size: This field is required.",
    } in incomplete.json()["errors"]
    assert Extraction.objects.get().status == "draft"
    assert Extraction.objects.get().values["sample_size"] == 12
    submitted = client.post(url + "submit/", {"values": GOOD}, format="json")
    assert submitted.status_code == 200, submitted.content
    assert submitted.json()["status"] == "submitted"
    assert submitted.json()["study"] == {"submitted": 1, "needed": 2}
    reopened = client.post(url + "reopen/")
    assert reopened.json()["status"] == "draft"


def test_owner_assigns_an_extractor_by_username(form, records, owner, reviewer2):
    response = api(owner).post(
        f"{BASE}/extractions/",
        {"form": form.pk, "record": records[0].pk, "extractor": "roberto"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["extractor"] == "roberto"


def test_reviewer_cannot_assign_others_and_records_must_be_included(form, records, reviewer):
    client = api(reviewer)
    response = client.post(
        f"{BASE}/extractions/",
        {"form": form.pk, "record": records[0].pk, "extractor": "roberto"},
        format="json",
    )
    assert response.status_code == 403
    response = client.post(
        f"{BASE}/extractions/", {"form": form.pk, "record": records[2].pk}, format="json"
    )
    assert response.status_code == 404
    assert response.json()["detail"] == "This record is not an included study of this review."


def test_a_third_extractor_is_refused(form, records, owner, reviewer, reviewer2):
    for user in (reviewer, reviewer2):
        start_extraction(form=form, record=records[0], extractor=user)
    response = api(owner).post(
        f"{BASE}/extractions/", {"form": form.pk, "record": records[0].pk}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["detail"] == "This study already has its 2 extractors."


def test_carry_to_a_new_version_through_the_api(form, records, owner, reviewer):
    extraction = start_extraction(form=form, record=records[0], extractor=reviewer)
    submit_extraction(extraction=extraction, actor=reviewer, values=GOOD)
    v2 = publish_form(form=new_form_version(form=form, actor=owner), actor=owner)
    response = api(reviewer).post(
        f"{BASE}/extractions/{extraction.pk}/carry/", {"form": v2.pk}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["form"], body["form_version"], body["status"]) == (v2.pk, 2, "draft")
    assert body["carried_from"] == extraction.pk
    assert body["values"]["sample_size"] == 40


def test_consensus_comparison_edit_and_finalise(form, records, owner, reviewer, reviewer2, viewer):
    ea = start_extraction(form=form, record=records[0], extractor=reviewer)
    eb = start_extraction(form=form, record=records[0], extractor=reviewer2)
    url = f"{BASE}/consensus/{form.pk}/{records[0].pk}/"
    assert api(owner).get(url).status_code == 409  # nobody has submitted
    assert api(viewer).get(url).status_code == 404
    submit_extraction(extraction=ea, actor=reviewer, values=GOOD)
    submit_extraction(extraction=eb, actor=reviewer2, values={**GOOD, "country": "Peru"})
    body = api(owner).get(url).json()
    assert body["status"] == "draft"
    country = next(c for c in body["comparison"] if c["field"] == "country")
    assert (country["a"], country["b"], country["agree"]) == ("Spain", "Peru", False)
    arms = next(c for c in body["comparison"] if c["field"] == "arms")
    assert [r["agree"] for r in arms["rows"]] == [True, True]
    assert api(viewer).get(url).json()["comparison"] is None
    assert api(reviewer).put(url, {"values": {}}, format="json").status_code == 403
    saved = api(owner).put(url, {"values": {**body["values"], "country": "Peru"}}, format="json")
    assert saved.status_code == 200 and saved.json()["values"]["country"] == "Peru"
    missing = api(owner).post(url + "finalise/", {"values": {"country": "Peru"}}, format="json")
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["field"] == "design"
    final = api(owner).post(url + "finalise/", {}, format="json")
    assert final.status_code == 200
    assert (final.json()["status"], final.json()["values"]["country"]) == ("final", "Peru")
    assert Consensus.objects.get().status == "final"
    listing = api(viewer).get(f"{BASE}/consensus/?form={form.pk}").json()
    assert [(c["record"], c["status"]) for c in listing["results"]] == [(records[0].pk, "final")]


def test_list_filters_answer_odd_values_without_a_server_error(form, records, owner):
    """Found by the API fuzz test: an id beyond the column's range was a 500 on SQLite, a
    NUL byte in ``status`` a 500 on PostgreSQL."""
    client = api(owner)
    huge = str(10**30)
    for name in ("form", "record"):
        response = client.get(f"{BASE}/extractions/", {name: huge})
        assert response.status_code == 200, name
        assert response.json()["count"] == 0
    for status in ("\x00", "finished"):
        response = client.get(f"{BASE}/forms/", {"status": status})
        assert response.status_code == 400
        assert response.json() == {
            "detail": "status must be one of: draft, published, superseded.",
            "field": "status",
        }
    assert client.get(f"{BASE}/forms/", {"status": "published"}).json()["count"] == 1


def test_schema_lists_the_extraction_endpoints(owner):
    response = api(owner).get("/api/schema/")
    assert response.status_code == 200
    for path in (
        b"/api/v1/reviews/{slug}/forms/",
        b"/api/v1/reviews/{slug}/extractions/{extraction_id}/submit/",
        b"/api/v1/reviews/{slug}/consensus/{form_id}/{record_id}/finalise/",
    ):
        assert path in response.content


def _queries(client, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_list_query_counts_do_not_grow_with_the_review(form, records, owner, reviewer, reviewer2):
    def extract(record):
        for user in (reviewer, reviewer2):
            extraction = start_extraction(form=form, record=record, extractor=user)
            submit_extraction(extraction=extraction, actor=user, values=GOOD)

    extract(records[0])
    client = api(owner)
    urls = [f"{BASE}/extractions/", f"{BASE}/consensus/", f"{BASE}/forms/"]
    one = [_queries(client, url) for url in urls]
    extract(records[1])
    new_form_version(form=form, actor=owner)
    assert [_queries(client, url) for url in urls] == one
