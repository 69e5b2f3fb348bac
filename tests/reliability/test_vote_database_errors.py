"""A database that fails in the middle of a vote: the vote is either stored or the reviewer
is told it was not, never lost without a word. Each test breaks the vote's own transaction
(the INSERT into the vote table), checks what the reviewer reads and that nothing was kept,
then votes again with the database healthy and finds the vote stored once."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, OperationalError, connection
from django.urls import reverse
from rest_framework.test import APIClient

from reviewflow.reviews.models import AuditEvent
from screening.models import ScreeningState, Vote
from tests.conftest import needs_postgresql
from tests.screening.screening_fixtures import import_records

pytestmark = pytest.mark.django_db(transaction=True)

TA = "title-abstract"
NOT_SAVED = (
    "Your vote was not saved: the database did not answer. Nothing was changed; "
    "please try again in a moment."
)


class FailVoteInsert:
    """An ``execute_wrapper`` that breaks the INSERT into the vote table, ``times`` times."""

    def __init__(self, error: Exception, times: int = 1):
        self.error, self.times, self.failed = error, times, 0

    def __call__(self, execute, sql, params, many, context):
        if (
            self.failed < self.times
            and sql.lstrip().upper().startswith("INSERT")
            and ("screening_vote" in sql)
        ):
            self.failed += 1
            raise self.error
        return execute(sql, params, many, context)


class CancelVoteInsertOnServer:
    """PostgreSQL only: the server itself cancels the INSERT (a statement timeout inside the
    vote's transaction), as a lock wait or an overloaded server would."""

    failed = 0

    def __call__(self, execute, sql, params, many, context):
        if (
            not self.failed
            and sql.lstrip().upper().startswith("INSERT")
            and ("screening_vote" in sql)
        ):
            self.failed += 1
            execute("SET LOCAL statement_timeout = '50ms'", None, False, context)
            execute("SELECT pg_sleep(2)", None, False, context)
        return execute(sql, params, many, context)


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def nothing_stored(reviewer):
    return (
        not Vote.objects.filter(reviewer=reviewer).exists()
        and not ScreeningState.objects.exists()
        and not AuditEvent.objects.filter(action="vote.cast").exists()
    )


@pytest.fixture
def records(review, owner):
    return import_records(review, owner, 3)


def test_database_failure_in_an_htmx_vote_shows_the_message_and_keeps_the_record(
    client_for, review, records, reviewer
):
    client = client_for(reviewer)
    url = reverse("screen-vote", args=[review.slug, TA])
    target = records[0]
    fault = FailVoteInsert(OperationalError("server closed the connection unexpectedly"))
    with connection.execute_wrapper(fault):
        response = client.post(
            url,
            {"record": target.pk, "decision": "exclude", "note": "rat model"},
            HTTP_HX_REQUEST="true",
        )
    assert fault.failed == 1
    # The panel (a status the page swaps in) says so, on the same record, keeping the note.
    assert response.status_code == 400
    assert response.context["error"] == NOT_SAVED
    assert response.context["record"].pk == target.pk
    html = response.content.decode()
    assert NOT_SAVED in html and "data-error" in html and "rat model" in html
    assert nothing_stored(reviewer)

    retry = client.post(
        url,
        {"record": target.pk, "decision": "exclude", "note": "rat model"},
        HTTP_HX_REQUEST="true",
    )
    assert retry.status_code == 200 and not retry.context["error"]
    assert list(Vote.objects.values_list("record_id", "reviewer_id", "decision")) == [
        (target.pk, reviewer.pk, "exclude")
    ]


def test_database_failure_in_an_api_vote_answers_503_and_stores_nothing(review, records, reviewer):
    client = api(reviewer)
    url = f"/api/v1/reviews/{review.slug}/screening/{TA}/votes/"
    fault = FailVoteInsert(OperationalError("could not serialize access"))
    with connection.execute_wrapper(fault):
        response = client.post(url, {"record": records[1].pk, "decision": "include"}, format="json")
    assert fault.failed == 1
    assert response.status_code == 503
    assert response.json() == {"detail": NOT_SAVED}
    assert nothing_stored(reviewer)

    retry = client.post(url, {"record": records[1].pk, "decision": "include"}, format="json")
    assert retry.status_code == 201
    assert Vote.objects.filter(reviewer=reviewer, record=records[1]).count() == 1


def test_constraint_refusal_in_an_api_vote_answers_409_and_stores_nothing(
    review, records, reviewer
):
    client = api(reviewer)
    url = f"/api/v1/reviews/{review.slug}/screening/{TA}/votes/"
    fault = FailVoteInsert(IntegrityError("duplicate key value violates vote_slot_unique"))
    with connection.execute_wrapper(fault):
        response = client.post(url, {"record": records[2].pk, "decision": "include"}, format="json")
    assert fault.failed == 1
    assert response.status_code == 409
    assert response.json() == {"detail": "This record already has all the votes it needs."}
    assert nothing_stored(reviewer)

    retry = client.post(url, {"record": records[2].pk, "decision": "include"}, format="json")
    assert retry.status_code == 201
    assert Vote.objects.filter(reviewer=reviewer, record=records[2]).count() == 1


def test_statement_cancelled_by_postgresql_mid_vote_is_reported_and_retry_stores_it(
    client_for, review, records, reviewer
):
    needs_postgresql()
    client = api(reviewer)
    url = f"/api/v1/reviews/{review.slug}/screening/{TA}/votes/"
    fault = CancelVoteInsertOnServer()
    with connection.execute_wrapper(fault):
        response = client.post(url, {"record": records[0].pk, "decision": "maybe"}, format="json")
    assert fault.failed == 1
    assert response.status_code == 503
    assert response.json() == {"detail": NOT_SAVED}
    assert nothing_stored(reviewer)
    retry = client.post(url, {"record": records[0].pk, "decision": "maybe"}, format="json")
    assert retry.status_code == 201
    assert Vote.objects.filter(reviewer=reviewer).count() == 1
