"""The records list and the record page (#18): stage columns, filters by reviewer, vote,
reason and answer that follow blinding, bulk labels and exports of a selection, and the
record's screening as blinding allows."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from reviewflow.reviews import services as review_services
from reviewflow.reviews.models import AuditEvent
from screening.models import Conflict, QuestionAnswer, Record, RecordLabel, ScreeningQuestion
from screening.services.labels import apply_label, create_label
from screening.services.screening.conflicts import resolve_conflict
from screening.services.screening.stage_settings import update_stage_settings
from tests.screening.screening_fixtures import import_records, vote

pytestmark = pytest.mark.django_db

TA, FT = "title-abstract", "full-text"


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def records(review, owner):
    return import_records(review, owner, 5)


@pytest.fixture
def screened(review, records, reviewer, reviewer2):
    """r0: roberto excluded it, rachel has not voted (blind to her); r1: both included
    (settled); r2: they disagree (conflict); r3: rachel included it, roberto not yet;
    r4: untouched."""
    r0, r1, r2, r3, _ = records
    vote(review, r0, reviewer2, "exclude", note="ZQX-HIDDEN-NOTE")
    vote(review, r1, reviewer, "include")
    vote(review, r1, reviewer2, "include", note="settled note")
    vote(review, r2, reviewer, "include")
    vote(review, r2, reviewer2, "exclude", note="conflict note")
    vote(review, r3, reviewer, "include")
    return records


@pytest.fixture
def refs(review, owner):
    return create_label(review=review, actor=owner, name="Check references", colour="blue")


def _url(review, name="review-records"):
    return reverse(name, args=[review.slug])


def _ids(response):
    return [row.pk for row in response.context["page"]]


def _cells(response):
    return {
        row.pk: {c.stage: (c.text, c.my_decision) for c in row.stage_cells}
        for row in response.context["page"]
    }


# ------------------------------------------------------------------------------ columns


def test_stage_columns_show_counts_outcomes_and_conflicts_and_only_the_user_s_own_vote(
    client_for, review, screened, reviewer
):
    r0, r1, r2, r3, r4 = screened
    response = client_for(reviewer).get(_url(review))
    cells = _cells(response)
    assert cells[r0.pk][TA] == ("waiting (1 of 2 votes)", "")  # roberto's decision hidden
    assert cells[r1.pk][TA] == ("included", "include")
    assert cells[r1.pk][FT] == ("not screened", "")
    assert cells[r2.pk][TA] == ("conflict", "include")
    assert cells[r3.pk][TA] == ("waiting (1 of 2 votes)", "include")
    assert cells[r4.pk][TA] == ("not screened", "")
    assert cells[r4.pk][FT] == ("—", "")  # not at full text
    body = response.content.decode()
    row = body[body.index(f'data-record-row="{r0.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "waiting (1 of 2 votes)" in row and "exclude" not in row and "you:" not in row


def test_an_exclusion_shows_its_reason_and_an_adjudication_its_outcome(
    client_for, review, owner, records, reviewer, reviewer2
):
    r = records[0]
    vote(review, r, reviewer, "include")
    vote(review, r, reviewer2, "exclude")
    conflict = Conflict.objects.get(record=r)
    resolve_conflict(
        conflict=conflict, actor=owner, decision="exclude", reason="Wrong population", note="n"
    )
    cells = _cells(client_for(reviewer).get(_url(review)))
    assert cells[r.pk][TA] == ("excluded (Wrong population)", "include")


def test_records_page_query_count_does_not_grow_with_the_page(
    client_for, review, owner, reviewer, reviewer2, refs, django_assert_num_queries
):
    def grow(n, name):
        for i, r in enumerate(import_records(review, owner, n, name=name)):
            apply_label(review=review, record=r, label=refs, user=reviewer)
            vote(review, r, reviewer, "include")
            if i % 2:
                vote(review, r, reviewer2, "exclude")  # a conflict
            elif i % 3:
                vote(review, r, reviewer2, "include")  # included

    grow(6, "a.ris")
    client = client_for(reviewer)
    url = _url(review) + f"?stage={TA}&reviewer={reviewer.username}&label={refs.pk}"
    # The page's 6; labels, the reviewer asked for, screeners, questions; the page's
    # labels, votes, outcomes, conflicts and the stages' settings.
    with django_assert_num_queries(15):
        assert client.get(url).status_code == 200
    grow(40, "b.ris")
    with django_assert_num_queries(15):
        response = client.get(url)
    assert len(response.context["page"]) == 46


# ------------------------------------------------------------------------------ filters


def test_reviewer_filter_lists_another_reviewer_s_votes_only_where_blinding_allows(
    client_for, review, owner, screened, reviewer, reviewer2
):
    r0, r1, r2, r3, _ = screened
    url = _url(review)
    as_rachel = client_for(reviewer)
    # Roberto voted on r0, r1 and r2; r0 is not settled: rachel must not learn of it.
    assert _ids(as_rachel.get(url, {"reviewer": reviewer2.username})) == [r1.pk, r2.pk]
    assert _ids(as_rachel.get(url, {"reviewer": reviewer.username})) == [r1.pk, r2.pk, r3.pk]
    as_roberto = client_for(reviewer2)
    assert _ids(as_roberto.get(url, {"reviewer": reviewer2.username})) == [r0.pk, r1.pk, r2.pk]
    assert _ids(as_roberto.get(url, {"reviewer": reviewer.username})) == [r1.pk, r2.pk]
    # An owner is bound by blinding too.
    assert _ids(client_for(owner).get(url, {"reviewer": reviewer2.username})) == [r1.pk, r2.pk]
    # A stage that is not blind shows every vote at once.
    update_stage_settings(review=review, stage=TA, actor=owner, blind=False)
    assert _ids(as_rachel.get(url, {"reviewer": reviewer2.username})) == [r0.pk, r1.pk, r2.pk]


def test_decision_and_reason_filters_never_reveal_an_unsettled_vote(
    client_for, review, screened, reviewer, reviewer2
):
    r0, r1, r2, r3, _ = screened
    url = _url(review)
    as_rachel = client_for(reviewer)
    # Only roberto excluded r0 and r2; r0 is his secret until rachel votes.
    assert _ids(as_rachel.get(url, {"decision": "exclude"})) == [r2.pk]
    assert _ids(as_rachel.get(url, {"decision": "exclude", "stage": TA})) == [r2.pk]
    assert _ids(client_for(reviewer2).get(url, {"decision": "exclude"})) == [r0.pk, r2.pk]
    assert _ids(as_rachel.get(url, {"decision": "include", "reviewer": reviewer.username})) == [
        r1.pk,
        r2.pk,
        r3.pk,
    ]
    # The count in the heading says no more than the list.
    assert as_rachel.get(url, {"decision": "exclude"}).context["page"].paginator.count == 1


def test_reason_filter_reads_votes_and_with_status_excluded_the_outcome(
    client_for, review, owner, records, reviewer, reviewer2
):
    r0, r1 = records[0], records[1]
    vote(review, r0, reviewer2, "exclude", reason="Wrong population")  # unsettled
    vote(review, r1, reviewer, "exclude", reason="Wrong design")
    vote(review, r1, reviewer2, "exclude", reason="Wrong population")  # settled: excluded
    url = _url(review)
    as_rachel = client_for(reviewer)
    assert _ids(as_rachel.get(url, {"reason": "wrong population"})) == [r1.pk]
    assert _ids(client_for(reviewer2).get(url, {"reason": "Wrong population"})) == [
        r0.pk,
        r1.pk,
    ]
    excluded = {"stage": TA, "status": "excluded"}
    # The outcome of an agreement carries the first vote's reason or none: by status.
    assert _ids(as_rachel.get(url, excluded)) == [r1.pk]


def test_question_filter_shows_only_answers_the_user_may_see(
    client_for, review, owner, screened, reviewer, reviewer2
):
    r0, r1, r2, r3, _ = screened
    question = ScreeningQuestion.objects.create(review=review, stage=TA, text="Adults?")
    for record, who, answer in [
        (r0, reviewer2, "no"),  # unsettled: roberto's secret
        (r1, reviewer2, "no"),  # settled
        (r2, reviewer, "yes"),
        (r3, reviewer, "no"),  # rachel's own
    ]:
        QuestionAnswer.objects.create(
            review=review, record=record, question=question, reviewer=who, answer=answer
        )
    url = _url(review)
    as_rachel = client_for(reviewer)
    no = {"question": question.pk, "answer": "no"}
    assert _ids(as_rachel.get(url, no)) == [r1.pk, r3.pk]
    assert _ids(client_for(reviewer2).get(url, no)) == [r0.pk, r1.pk]
    assert _ids(as_rachel.get(url, {**no, "reviewer": reviewer2.username})) == [r1.pk]
    assert _ids(as_rachel.get(url, {"question": question.pk, "answer": "yes"})) == [r2.pk]
    update_stage_settings(review=review, stage=TA, actor=owner, blind=False)
    assert _ids(as_rachel.get(url, no)) == [r0.pk, r1.pk, r3.pk]


def test_the_page_drops_malformed_filters(client_for, review, screened, reviewer):
    client, url = client_for(reviewer), _url(review)
    for query in [
        {"reviewer": "nobody"},
        {"decision": "perhaps"},
        {"question": "abc", "answer": "no"},
        {"question": "99999", "answer": "no"},
        {"answer": "no"},
        {"question": "1"},
        {"status": "included"},  # no stage
        {"label": "\x00"},
        {"page": "1e309"},
    ]:
        response = client.get(url, query)
        assert response.status_code == 200, query
        assert response.context["page"].paginator.count == 5, query


def test_api_lists_columns_and_filters_and_refuses_bad_input_with_400(
    review, screened, reviewer, reviewer2, viewer, outsider
):
    r0, r1, r2, _, _ = screened
    base = f"/api/v1/reviews/{review.slug}/records/"
    as_rachel = api(reviewer)
    listed = as_rachel.get(base).json()
    first = next(x for x in listed["results"] if x["id"] == r0.pk)
    assert first["screening"][TA] == {
        "status": "waiting",
        "text": "waiting (1 of 2 votes)",
        "votes": 1,
        "needed": 2,
        "reason": "",
        "my_vote": None,
    }
    got = as_rachel.get(base, {"reviewer": reviewer2.username}).json()
    assert [x["id"] for x in got["results"]] == [r1.pk, r2.pk]
    got = as_rachel.get(base, {"decision": "exclude", "stage": TA}).json()
    assert [x["id"] for x in got["results"]] == [r2.pk]
    for query, message, field in [
        ({"reviewer": "nobody"}, "reviewer: nobody who screens in this review is named “nobody”.", "reviewer"),  # noqa: E501
        ({"reviewer": viewer.username}, f"reviewer: nobody who screens in this review is named “{viewer.username}”.", "reviewer"),  # noqa: E501
        ({"decision": "perhaps"}, "decision must be one of: include, exclude, maybe.", "decision"),
        ({"question": "abc", "answer": "no"}, "question: give a screening question's id, a whole number.", "question"),  # noqa: E501
        ({"question": "3"}, "question: give the answer too (answer=yes, no or unclear).", "question"),  # noqa: E501
        ({"answer": "no"}, "answer: give the question too (question=<id>).", "answer"),
        ({"answer": "maybe"}, "answer must be one of: yes, no, unclear.", "answer"),
        ({"status": "included"}, "status: give the stage too (title-abstract or full-text).", "status"),  # noqa: E501
        ({"stage": "abstract"}, "stage must be one of: title-abstract, full-text.", "stage"),
    ]:  # fmt: skip
        response = as_rachel.get(base, query)
        assert response.status_code == 400, query
        assert response.json() == {"detail": message, "field": field}
    assert api(outsider).get(base).status_code == 404


# ------------------------------------------------------------------------------ bulk labels


def test_bulk_label_by_ids_puts_it_on_each_record_at_its_stage_with_one_audit_event(
    client_for, review, screened, refs, reviewer
):
    r0, r1, _, r3, _ = screened
    apply_label(review=review, record=r3, label=refs, user=reviewer)
    client = client_for(reviewer)
    back = _url(review) + "?q=Trial&page=1"
    response = client.post(
        _url(review, "records-bulk"),
        {"action": "label", "bulk_label": refs.pk, "ids": [r0.pk, r1.pk, r3.pk], "next": back},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == back
    assert "Label “Check references” put on 3 records (1 had it already)." in (
        response.content.decode()
    )
    applied = set(RecordLabel.objects.filter(applied_by=reviewer).values_list("record_id", "stage"))
    # r1 passed title/abstract: its label belongs to full text, as one put on from its page.
    assert applied == {(r0.pk, TA), (r1.pk, FT), (r3.pk, TA)}
    events = AuditEvent.objects.filter(action="label.applied_in_bulk")
    assert [(e.target, e.after) for e in events] == [
        ("Check references", {"records": 3, "added": 2, "selection": "ids"})
    ]
    assert not AuditEvent.objects.filter(object_type="record", action__startswith="label").exists()


def test_bulk_label_by_filter_takes_every_matching_record(
    client_for, review, owner, records, refs, reviewer
):
    more = import_records(review, owner, 3, name="more.ris")
    client = client_for(reviewer)
    response = client.post(
        _url(review, "records-bulk"),
        {
            "action": "label",
            "bulk_label": refs.pk,
            "scope": "all",
            "filter": "q=more.ris",
            "ids": [records[0].pk],  # ticked too; "all matching" wins
        },
        follow=True,
    )
    assert "Label “Check references” put on 3 records." in response.content.decode()
    labelled = set(RecordLabel.objects.values_list("record_id", flat=True))
    assert labelled == {r.pk for r in more}
    event = AuditEvent.objects.get(action="label.applied_in_bulk")
    assert event.after == {"records": 3, "added": 3, "selection": "filter: q=more.ris"}


def test_bulk_unlabel_takes_off_only_the_caller_s_labels(
    client_for, review, records, refs, reviewer, reviewer2
):
    for r in records[:3]:
        apply_label(review=review, record=r, label=refs, user=reviewer)
    apply_label(review=review, record=records[0], label=refs, user=reviewer2)
    response = client_for(reviewer).post(
        _url(review, "records-bulk"),
        {"action": "unlabel", "bulk_label": refs.pk, "ids": [r.pk for r in records[:4]]},
        follow=True,
    )
    assert "Label “Check references” taken off 3 of 4 records (yours only)." in (
        response.content.decode()
    )
    assert list(RecordLabel.objects.values_list("applied_by", flat=True)) == [reviewer2.pk]
    assert AuditEvent.objects.filter(action="label.removed_in_bulk").count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "label", "bulk_label": "{label}", "ids": ["{other}"]}, "1 of the 2 selected records are not in this review: reload the page and select again."),  # noqa: E501
        ({"action": "label", "bulk_label": "{label}", "ids": ["abc"]}, "ids: “abc” is not a record&#x27;s id."),  # noqa: E501
        ({"action": "label", "bulk_label": "{label}"}, "Select at least one record."),
        ({"action": "label", "bulk_label": "99999", "ids": ["{mine}"]}, "Choose a label."),
        ({"bulk_label": "{label}", "ids": ["{mine}"]}, "Choose what to do with the selected records."),  # noqa: E501
    ],
)  # fmt: skip
def test_a_bad_bulk_request_says_why_and_changes_nothing(
    client_for, review, owner, records, refs, reviewer, make_user, data, message
):
    other_owner = make_user("mallory")
    other = review_services.create_review(title="Other", slug="other", owner=other_owner)
    foreign = import_records(other, other_owner, 1)[0]
    values = {"label": refs.pk, "other": foreign.pk, "mine": records[0].pk}
    body = {
        k: [x.format(**values) for x in v] if isinstance(v, list) else v.format(**values)
        for k, v in data.items()
    }
    if "ids" in body and body["ids"] == [str(foreign.pk)]:
        body["ids"] = [str(records[0].pk), str(foreign.pk)]
    response = client_for(reviewer).post(_url(review, "records-bulk"), body, follow=True)
    assert message in response.content.decode()
    assert not RecordLabel.objects.exists()
    assert not AuditEvent.objects.filter(action__endswith="_in_bulk").exists()


def test_bulk_permissions(client_for, review, records, refs, viewer, outsider):
    url = _url(review, "records-bulk")
    data = {"action": "label", "bulk_label": refs.pk, "ids": [records[0].pk]}
    assert client_for(viewer).post(url, data).status_code == 403
    assert client_for(outsider).post(url, data).status_code == 404
    assert client_for(viewer).get(url).status_code == 405
    from django.test import Client

    assert Client().post(url, data).status_code == 302  # to sign in
    assert not RecordLabel.objects.exists()
    # A viewer's page offers the export, not the labels.
    page = client_for(viewer).get(_url(review)).content.decode()
    assert 'value="label"' not in page and 'name="format" value="ris"' in page


# ------------------------------------------------------------------------------ exports


def _rows(response):
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_export_of_the_ticked_records_in_each_format(
    client_for, review, records, viewer, reviewer, refs
):
    apply_label(review=review, record=records[1], label=refs, user=reviewer)
    client = client_for(viewer)
    url = _url(review, "records-export")
    ids = [records[1].pk, records[3].pk]
    response = client.post(url, {"format": "csv", "ids": ids})
    assert response["Content-Disposition"] == 'attachment; filename="msc-t2d-records.csv"'
    rows = _rows(response)
    assert [int(r["id"]) for r in rows] == ids
    assert rows[0]["labels"] == ""  # rachel's label on an unsettled record: not the viewer's
    ris = b"".join(client.post(url, {"format": "ris", "ids": ids}).streaming_content).decode()
    assert ris.count("ER  -") == 2 and records[1].title in ris
    bib = client.post(url, {"format": "bibtex", "ids": ids})
    assert bib["Content-Type"] == "application/x-bibtex; charset=utf-8"
    assert b"".join(bib.streaming_content).decode().count("@article") == 2


def test_export_of_every_matching_record_by_filter_and_cells_are_safe(
    client_for, review, owner, records, reviewer, refs
):
    Record.objects.filter(pk=records[2].pk).update(title="=HYPERLINK(1) Trial")
    apply_label(review=review, record=records[2], label=refs, user=reviewer)
    client = client_for(reviewer)
    url = _url(review, "records-export")
    got = _rows(client.get(url, {"format": "csv", "label": refs.pk}))
    assert [(int(r["id"]), r["title"], r["labels"]) for r in got] == [
        (records[2].pk, "'=HYPERLINK(1) Trial", "Check references")
    ]
    posted = _rows(
        client.post(url, {"format": "csv", "scope": "all", "filter": f"label={refs.pk}"})
    )
    assert [int(r["id"]) for r in posted] == [records[2].pk]
    # Another reviewer's filter by the same label finds nothing (blind) and so exports nothing.
    assert _rows(client_for(owner).get(url, {"format": "csv", "label": refs.pk})) == []
    assert client.get(url, {"format": "xml"}).status_code == 200  # a page: CSV by default


def test_api_bulk_and_export(review, records, refs, reviewer, viewer, outsider):
    base = f"/api/v1/reviews/{review.slug}/records/"
    as_rachel = api(reviewer)
    response = as_rachel.post(
        f"{base}bulk/",
        {"action": "label", "label": refs.pk, "ids": [records[0].pk, records[1].pk]},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {
        "action": "label",
        "label": refs.pk,
        "records": 2,
        "changed": 2,
        "message": "Label “Check references” put on 2 records.",
    }
    response = as_rachel.post(
        f"{base}bulk/",
        {"action": "unlabel", "label": refs.pk, "filter": {"q": "number 1"}},
        format="json",
    )
    assert (
        response.json()["message"]
        == "Label “Check references” taken off 1 of 1 record (yours only)."
    )  # noqa: E501
    for body, status, detail in [
        ({"action": "label", "label": refs.pk}, 400, {"non_field_errors": ["Give either ids or filter."]}),  # noqa: E501
        ({"action": "label", "label": refs.pk, "ids": [10**9]}, 400, {"detail": "1 of the 1 selected records are not in this review: reload the page and select again.", "field": "ids"}),  # noqa: E501
        ({"action": "label", "label": 10**9, "ids": [records[0].pk]}, 400, {"detail": "label: no such label in this review.", "field": "label"}),  # noqa: E501
        ({"action": "label", "label": refs.pk, "filter": {"reviewer": "nobody"}}, 400, {"detail": "reviewer: nobody who screens in this review is named “nobody”.", "field": "reviewer"}),  # noqa: E501
    ]:  # fmt: skip
        response = as_rachel.post(f"{base}bulk/", body, format="json")
        assert (response.status_code, response.json()) == (status, detail), body
    # Record 1 lost its label to the filter; record 2 keeps it; the refused requests did nothing.
    assert list(RecordLabel.objects.values_list("record_id", flat=True)) == [records[1].pk]
    data = {"action": "label", "label": refs.pk, "ids": [records[0].pk]}
    assert api(viewer).post(f"{base}bulk/", data, format="json").status_code == 403
    assert api(outsider).post(f"{base}bulk/", data, format="json").status_code == 404

    exported = api(viewer).get(f"{base}export/", {"format": "ris", "ids": f"{records[0].pk}"})
    assert exported.status_code == 200
    assert b"".join(exported.streaming_content).decode().count("ER  -") == 1
    got = api(viewer).get(f"{base}export/", {"q": "number 2"})  # CSV by default
    assert [int(r["id"]) for r in _rows(got)] == [records[1].pk]
    bad = api(viewer).get(f"{base}export/", {"format": "xml"})
    assert (bad.status_code, bad.json()) == (
        400,
        {"detail": "format must be one of: ris, csv, bibtex.", "field": "format"},
    )
    assert api(viewer).get(f"{base}export/", {"ids": "1,x"}).status_code == 400
    assert api(outsider).get(f"{base}export/").status_code == 404


# ------------------------------------------------------------------------------ record page


def test_record_page_shows_votes_as_blinding_allows(
    client_for, review, owner, screened, reviewer, reviewer2
):
    r0, r1, r2, r3, _ = screened
    as_rachel = client_for(reviewer)

    def page(record, client=as_rachel):
        return client.get(reverse("record-detail", args=[review.slug, record.pk])).content.decode()

    hidden = page(r0)
    assert "ZQX-HIDDEN-NOTE" not in hidden and 'data-vote="roberto"' not in hidden
    assert "Waiting: 1 of 2 votes in." in hidden
    assert "1 other vote hidden until the record is settled or in conflict" in hidden
    assert "ZQX-HIDDEN-NOTE" in page(r0, client_for(reviewer2))  # his own
    settled = page(r1)
    assert 'data-vote="roberto"' in settled and "settled note" in settled
    assert "Included</strong> — reviewers agreed" in settled
    conflict = page(r2)
    assert "conflict note" in conflict and reverse("conflicts", args=[review.slug]) in conflict
    mine = page(r3)
    assert 'data-vote="rachel"' in mine and "(you)" in mine
    # An adjudicator's note shows with the outcome.
    resolve_conflict(
        conflict=Conflict.objects.get(record=r2),
        actor=owner,
        decision="include",
        note="ZQX-ADJ-NOTE both fit",
    )
    resolved = page(r2)
    assert "ZQX-ADJ-NOTE both fit" in resolved and "by olivia" in resolved


def test_record_page_and_list_permissions(client_for, review, records, viewer, outsider):
    detail = reverse("record-detail", args=[review.slug, records[0].pk])
    for url in (detail, _url(review), _url(review, "records-export")):
        assert client_for(outsider).get(url).status_code == 404
        assert client_for(viewer).get(url).status_code == 200
    from django.test import Client

    assert Client().get(_url(review, "records-export")).status_code == 302


def test_malformed_bulk_and_export_input_is_never_a_500(
    client_for, review, records, refs, reviewer
):
    from tests.reliability.test_malformed_params import MALFORMED

    client = client_for(reviewer)
    client.raise_request_exception = False
    bulk, export = _url(review, "records-bulk"), _url(review, "records-export")
    base = {"action": "label", "bulk_label": refs.pk}
    fields = ("action", "bulk_label", "ids", "scope", "filter", "next")
    for value in MALFORMED:
        for name in fields:
            response = client.post(bulk, {**base, name: value})
            assert response.status_code == 302, (name, value)
            response = client.post(export, {"format": "csv", name: value})
            assert response.status_code in (200, 302), (name, value)
        for name in ("format", "reviewer", "decision", "question", "answer", "label", "stage"):
            assert client.get(export, {name: value}).status_code == 200, (name, value)


def test_api_record_detail_shows_the_votes_the_caller_may_see(
    review, screened, reviewer, reviewer2
):
    r0, r1 = screened[0], screened[1]
    url = f"/api/v1/reviews/{review.slug}/records/%s/"
    hidden = api(reviewer).get(url % r0.pk).json()["screening"]
    assert [(s["stage"], s["votes"], s["hidden_votes"], s["outcome"]) for s in hidden] == [
        (TA, [], 1, None),
        (FT, [], 0, None),
    ]
    assert "ZQX-HIDDEN-NOTE" in str(api(reviewer2).get(url % r0.pk).json())  # his own
    settled = api(reviewer).get(url % r1.pk).json()["screening"][0]
    assert sorted(v["reviewer"] for v in settled["votes"]) == ["rachel", "roberto"]
    assert settled["outcome"]["decision"] == "include" and settled["hidden_votes"] == 0


def test_api_list_query_count_does_not_grow_with_the_page(
    review, owner, reviewer, reviewer2, django_assert_num_queries
):
    def grow(n, name):
        for i, r in enumerate(import_records(review, owner, n, name=name)):
            vote(review, r, reviewer, "include")
            if i % 2:
                vote(review, r, reviewer2, "exclude")

    grow(4, "a.ris")
    client, url = api(reviewer), f"/api/v1/reviews/{review.slug}/records/?decision=include"
    with django_assert_num_queries(8):  # access, count, page; votes, outcomes, conflicts,
        assert client.get(url).json()["count"] == 4  # settings; the review's labels
    grow(30, "b.ris")
    with django_assert_num_queries(8):
        assert len(client.get(url).json()["results"]) == 34
