from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from reviewflow.reviews.models import AuditEvent, Membership, Role

pytestmark = pytest.mark.django_db


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def test_anonymous_is_refused():
    assert api().get("/api/v1/reviews/").status_code in (401, 403)


def test_create_and_list_reviews(outsider):
    client = api(outsider)
    response = client.post(
        "/api/v1/reviews/", {"slug": "msc-ms", "title": "MSC in MS"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["role"] == "owner"
    listing = client.get("/api/v1/reviews/").json()
    assert [r["slug"] for r in listing["results"]] == ["msc-ms"]


def test_bad_slug_names_the_field(outsider):
    response = api(outsider).post(
        "/api/v1/reviews/", {"slug": "Bad Slug", "title": "x"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["field"] == "slug"


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/api/v1/reviews/msc-t2d/"),
        ("patch", "/api/v1/reviews/msc-t2d/"),
        ("get", "/api/v1/reviews/msc-t2d/members/"),
        ("post", "/api/v1/reviews/msc-t2d/members/"),
        ("get", "/api/v1/reviews/msc-t2d/invitations/"),
        ("get", "/api/v1/reviews/msc-t2d/audit/"),
        ("get", "/api/v1/reviews/msc-t2d/searches/"),
        ("get", "/api/v1/reviews/msc-t2d/records/"),
    ],
)
def test_outsider_gets_404_everywhere(review, outsider, method, path):
    response = getattr(api(outsider), method)(path, {}, format="json")
    assert response.status_code == 404


def test_members_api_roles(review, owner, reviewer, viewer, outsider):
    url = "/api/v1/reviews/msc-t2d/members/"
    assert api(viewer).get(url).status_code == 200
    assert (
        api(reviewer).post(url, {"username": "oscar", "role": "viewer"}, format="json").status_code
        == 403
    )
    response = api(owner).post(url, {"username": "oscar", "role": "viewer"}, format="json")
    assert response.status_code == 201
    member_id = response.json()["id"]
    response = api(owner).patch(f"{url}{member_id}/", {"role": "reviewer"}, format="json")
    assert response.json()["role"] == "reviewer"
    assert api(owner).delete(f"{url}{member_id}/").status_code == 204
    assert not Membership.objects.filter(user=outsider).exists()


def test_last_owner_refused_over_api(review, owner):
    m = Membership.objects.get(review=review, user=owner)
    response = api(owner).delete(f"/api/v1/reviews/msc-t2d/members/{m.pk}/")
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "This is the review's last owner: make another member an owner first."
    )


def test_invitation_over_api(review, owner, outsider):
    response = api(owner).post(
        "/api/v1/reviews/msc-t2d/invitations/", {"role": "viewer"}, format="json"
    )
    assert response.status_code == 201
    token = response.json()["token"]
    response = api(outsider).post(f"/api/v1/invitations/{token}/accept/")
    assert response.status_code == 201
    assert Membership.objects.get(user=outsider).role == Role.VIEWER
    assert api(outsider).post(f"/api/v1/invitations/{token}/accept/").status_code == 400
    assert api(outsider).post("/api/v1/invitations/unknown/accept/").status_code == 404


def test_audit_api_is_for_owners(review, owner, reviewer):
    assert api(reviewer).get("/api/v1/reviews/msc-t2d/audit/").status_code == 403
    events = api(owner).get("/api/v1/reviews/msc-t2d/audit/").json()["results"]
    assert events[0]["action"] == "member.added"
    assert AuditEvent.objects.filter(review=review).count() == len(events)


def test_token_authentication(review, owner):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=owner)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/v1/reviews/msc-t2d/").json()["slug"] == "msc-t2d"


def test_schema_is_served(owner):
    response = api(owner).get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/v1/reviews/{slug}/members/" in response.content


def _schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def test_schema_tells_the_truth_about_what_the_api_answers():
    """Each line was a response the API fuzz test (tests/reliability/test_api_fuzz.py) found
    breaking the schema."""
    schema = _schema()
    paths, components = schema["paths"], schema["components"]["schemas"]

    def ok(path: str) -> dict:
        return paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]

    # The reviews list is paginated; members, invitations and searches come in one list.
    assert ok("/api/v1/reviews/") == {"$ref": "#/components/schemas/PaginatedReviewList"}
    for name in ("members", "invitations", "searches"):
        assert ok(f"/api/v1/reviews/{{slug}}/{name}/")["type"] == "array", name
    # Events of the system and consensus rows no person edited yet have no actor.
    assert components["AuditEvent"]["properties"]["actor"]["nullable"] is True
    assert components["Consensus"]["properties"]["updated_by"]["nullable"] is True
    # An invitation made without an address answers "" (not an e-mail address).
    assert "format" not in components["Invitation"]["properties"]["email"]


def test_schema_documents_the_error_responses():
    schema = _schema()
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            codes = set(operation["responses"])
            assert "403" in codes, (method, path)
            if method != "get":
                assert {"400", "409", "415"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            for code in codes - {"200", "201", "202", "204"}:
                body = operation["responses"][code]["content"]["application/json"]["schema"]
                assert body["$ref"] in (
                    "#/components/schemas/Error",
                    "#/components/schemas/ValidationError",
                ), (method, path, code)


def test_schema_validates_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))
    assert (tmp_path / "s.yaml").read_text().startswith("openapi: 3")
