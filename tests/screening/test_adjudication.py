"""The adjudication desk (#18): resolving a conflict takes a reason by the stage's rules and
an adjudicator's note; the desk shows one open conflict at a time with the whole record; the
compact table and the API list them without a query per conflict; only adjudicators decide."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import AuditEvent, Role
from reviewflow.reviews.services import add_member
from screening.models import (
    Comment,
    Conflict,
    Outcome,
    OutcomeKind,
    QuestionAnswer,
    ScreeningQuestion,
)
from screening.selectors.adjudication import conflict_progress
from screening.services.fulltext import attach_full_text
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


def disagree(review, records, reviewer, reviewer2, stage=TA):
    """A conflict on each of ``records`` at ``stage``; returns them in order."""
    for r in records:
        if stage == FT:
            vote(review, r, reviewer, "include")
            vote(review, r, reviewer2, "include")
        vote(review, r, reviewer, "include", stage=stage, note=f"keep {r.pk}")
        vote(
            review,
            r,
            reviewer2,
            "exclude",
            stage=stage,
            reason="Wrong population" if stage == FT else "",
            note=f"drop {r.pk}",
        )
    return list(Conflict.objects.filter(stage=stage).order_by("created_at", "id"))


@pytest.fixture
def records(review, owner):
    return import_records(review, owner, 3)


@pytest.fixture
def conflicts(review, records, reviewer, reviewer2):
    return disagree(review, records[:2], reviewer, reviewer2)


def desk(slug, stage=TA, **extra):
    query = "&".join(f"{k}={v}" for k, v in {"stage": stage, **extra}.items())
    return reverse("conflicts", args=[slug]) + "?" + query


# ------------------------------------------------------------------------------ service


def test_resolving_stores_the_reason_and_the_note_and_audits_both(
    review, records, reviewer, reviewer2, owner
):
    (conflict,) = disagree(review, records[:1], reviewer, reviewer2, stage=FT)
    outcome = resolve_conflict(
        conflict=conflict,
        actor=owner,
        decision="exclude",
        reason="Wrong outcome",
        note="  HbA1c not reported; only fasting glucose.  ",
    )
    outcome.refresh_from_db()
    assert (outcome.decision, outcome.reason, outcome.note, outcome.kind) == (
        "exclude",
        "Wrong outcome",
        "HbA1c not reported; only fasting glucose.",
        OutcomeKind.ADJUDICATION,
    )
    event = AuditEvent.objects.get(action="conflict.resolved")
    assert event.after == {
        "decision": "exclude",
        "reason": "Wrong outcome",
        "note": "HbA1c not reported; only fasting glucose.",
    }


@pytest.mark.parametrize(
    ("stage", "required", "decision", "reason", "message"),
    [
        (FT, False, "exclude", "", "Choose a reason for excluding this record: exclusions at full text need one."),  # noqa: E501
        (TA, True, "exclude", " ", "Choose a reason for excluding this record: exclusions in this review need one."),  # noqa: E501
        (FT, False, "exclude", "Made up", "“Made up” is not one of this stage's exclusion reasons."),  # noqa: E501
        (TA, True, "exclude", "Wrong outcome", "“Wrong outcome” is not one of this stage's exclusion reasons."),  # noqa: E501
        (TA, False, "maybe", "", "Resolve a conflict with include or exclude."),
        (FT, False, "", "", "Resolve a conflict with include or exclude."),
    ],
)  # fmt: skip
def test_a_resolution_that_breaks_the_reason_rules_is_refused_and_changes_nothing(
    review, records, reviewer, reviewer2, owner, stage, required, decision, reason, message
):
    (conflict,) = disagree(review, records[:1], reviewer, reviewer2, stage=stage)
    if required:
        update_stage_settings(
            review=review,
            stage=TA,
            actor=owner,
            reasons_required=True,
            exclusion_reasons=["Animal study", "Not an RCT"],
        )
    with pytest.raises(ReviewflowError) as caught:
        resolve_conflict(
            conflict=conflict, actor=owner, decision=decision, reason=reason, note="why"
        )
    assert caught.value.message == message
    assert not Outcome.objects.filter(stage=stage).exists()
    conflict.refresh_from_db()
    assert conflict.resolved_at is None
    assert not AuditEvent.objects.filter(action="conflict.resolved").exists()


def test_at_title_abstract_a_reason_is_optional_and_an_inclusion_keeps_none(
    review, records, reviewer, reviewer2, owner
):
    update_stage_settings(review=review, stage=TA, actor=owner, exclusion_reasons=["Animal study"])
    first, second = disagree(review, records[:2], reviewer, reviewer2)
    assert resolve_conflict(conflict=first, actor=owner, decision="exclude").reason == ""
    kept = resolve_conflict(
        conflict=second, actor=owner, decision="include", reason="Animal study", note="RCT"
    )
    assert (kept.reason, kept.note) == ("", "RCT")


def test_progress_counts_the_stages_conflicts_resolved_today_and_open(
    review, records, reviewer, reviewer2, owner
):
    first, second, third = disagree(review, records, reviewer, reviewer2)
    resolve_conflict(conflict=first, actor=owner, decision="include")
    resolve_conflict(conflict=second, actor=owner, decision="include")
    Conflict.objects.filter(pk=second.pk).update(resolved_at=timezone.now() - timedelta(days=2))
    progress = conflict_progress(review, TA)
    assert (progress.total, progress.resolved, progress.resolved_today, progress.open) == (
        3,
        2,
        1,
        1,
    )
    assert conflict_progress(review, FT).total == 0


# ------------------------------------------------------------------------------ access


def test_anonymous_is_sent_to_sign_in_and_an_outsider_gets_404(
    client, client_for, review, conflicts, outsider
):
    url = desk(review.slug)
    assert client.get(url).status_code == 302
    assert client_for(outsider).get(url).status_code == 404
    assert client_for(outsider).get(url + "&view=table").status_code == 404
    resolve = reverse("conflict-resolve", args=[review.slug, conflicts[0].pk])
    assert client_for(outsider).post(resolve, {"decision": "include"}).status_code == 404
    base = f"/api/v1/reviews/{review.slug}/conflicts/"
    assert api(outsider).get(base).status_code == 404
    assert api(outsider).get(f"{base}{conflicts[0].pk}/").status_code == 404
    assert not Outcome.objects.exists()


def test_a_viewer_reads_the_desk_but_cannot_resolve(client_for, review, conflicts, viewer):
    client = client_for(viewer)
    body = client.get(desk(review.slug)).content.decode()
    assert f'data-conflict="{conflicts[0].pk}"' in body
    assert "An adjudicator resolves this conflict." in body
    assert "data-resolve" not in body
    table = client.get(desk(review.slug, view="table")).content.decode()
    assert "An adjudicator resolves this conflict." in table and "table-resolve" not in table
    resolve = reverse("conflict-resolve", args=[review.slug, conflicts[0].pk])
    assert client.post(resolve, {"decision": "include"}).status_code == 403
    assert api(viewer).get(f"/api/v1/reviews/{review.slug}/conflicts/").status_code == 200
    assert not Outcome.objects.exists()


def test_where_reviewers_adjudicate_one_who_voted_cannot_and_one_who_did_not_can(
    client_for, make_user, review, owner, conflicts, reviewer
):
    update_stage_settings(review=review, stage=TA, actor=owner, adjudicators="reviewers")
    third = make_user("tamara")
    add_member(review=review, actor=owner, user=third, role=Role.REVIEWER)
    voted = client_for(reviewer).get(desk(review.slug)).content.decode()
    assert "An adjudicator resolves this conflict." in voted and "data-resolve" not in voted
    resolve = reverse("conflict-resolve", args=[review.slug, conflicts[0].pk])
    response = client_for(reviewer).post(
        resolve, {"decision": "include", "view": "desk"}, HTTP_HX_REQUEST="true"
    )
    assert response.context["error"] == "You may not resolve conflicts in this review."
    assert not Outcome.objects.exists()
    fresh = client_for(third).get(desk(review.slug)).content.decode()
    assert "data-resolve" in fresh
    client_for(third).post(resolve, {"decision": "include", "note": "third opinion"})
    assert Outcome.objects.get().note == "third opinion"


# ------------------------------------------------------------------------------ desk


def test_the_desk_shows_the_whole_record_one_conflict_at_a_time(
    client_for, review, records, owner, reviewer, reviewer2, viewer
):
    update_stage_settings(
        review=review, stage=TA, actor=owner, include_terms="trial", exclude_terms="mice"
    )
    first, second = disagree(review, records[:2], reviewer, reviewer2)
    record = first.record
    question = ScreeningQuestion.objects.create(review=review, stage=TA, text="Adults <18?")
    for user, answer in ((reviewer, "yes"), (reviewer2, "no")):
        QuestionAnswer.objects.create(
            review=review, record=record, question=question, reviewer=user, answer=answer
        )
    refs = create_label(review=review, actor=owner, name="Check refs")
    apply_label(review=review, record=record, label=refs, user=reviewer2)
    Comment.objects.create(
        review=review, record=record, stage=TA, author=reviewer, body="Dose?\n<b>50 mg</b>"
    )
    Comment.objects.create(
        review=review,
        record=record,
        stage=TA,
        author=reviewer2,
        body="removed remark",
        deleted_at=timezone.now(),
    )
    response = client_for(owner).get(desk(review.slug))
    body = response.content.decode()
    assert response.context["detail"].conflict == first
    assert f'data-conflict="{second.pk}"' not in body  # one at a time
    assert '<mark class="hl-include">' in body  # the stage's highlighter
    assert f"keep {record.pk}" in body and f"drop {record.pk}" in body
    assert "Adults &lt;18?" in body and "rachel: Yes" in body and "roberto: No" in body
    assert "Check refs" in body
    assert "Dose?<br>&lt;b&gt;50 mg&lt;/b&gt;" in body
    assert "removed remark" not in body
    assert "<strong>0</strong> of 2 conflicts resolved at this stage · 0 today" in body
    assert "Conflict <strong data-position>1</strong> of 2 open" in body
    assert "data-resolve" in body
    # ?conflict= shows another one; a resolved one says so and shows the next open one.
    again = client_for(owner).get(desk(review.slug, conflict=second.pk))
    assert again.context["detail"].conflict == second
    resolve_conflict(conflict=second, actor=owner, decision="include")
    gone = client_for(owner).get(desk(review.slug, conflict=second.pk))
    assert gone.context["info"] == f"The conflict on record {second.record_id} is resolved already."
    assert gone.context["detail"].conflict == first


def test_at_full_text_the_desk_shows_the_pdf_in_the_viewer_and_lists_the_stages_reasons(
    client_for, review, records, owner, reviewer, reviewer2
):
    (conflict,) = disagree(review, records[:1], reviewer, reviewer2, stage=FT)
    client = client_for(owner)
    body = client.get(desk(review.slug, stage=FT)).content.decode()
    assert "No full text attached." in body
    assert 'data-key="2"' in body and "Wrong intervention" in body
    assert "Reason to exclude (required)" in body
    attach_full_text(
        review=review,
        record=conflict.record,
        actor=owner,
        file=io.BytesIO(b"%PDF-1.4\n%%EOF"),
        filename="trial.pdf",
    )
    body = client.get(desk(review.slug, stage=FT)).content.decode()
    pdf = reverse("fulltext-pdf", args=[review.slug, conflict.record_id])
    assert "Full text (PDF): trial.pdf, shown beside the record." in body
    # The full-text screening page's viewer (pdf.js), not the browser's own.
    assert 'class="desk-layout with-pdf"' in body
    assert (
        f'data-pdf-viewer tabindex="-1" aria-label="Full text (PDF)" data-pdf-url="{pdf}"' in body
    )
    assert f'<a href="{pdf}" target="_blank" rel="noopener">Open the PDF</a>' in body
    assert "<iframe" not in body


def test_the_desks_query_count_does_not_grow_with_the_conflicts(
    client_for, review, records, owner, reviewer, reviewer2, django_assert_num_queries
):
    (shown,) = disagree(review, records[:1], reviewer, reviewer2)
    # Something in every box: the answers, the labels, the discussion (with its mentions).
    question = ScreeningQuestion.objects.create(review=review, stage=TA, text="Adults?")
    QuestionAnswer.objects.create(
        review=review, record=shown.record, question=question, reviewer=reviewer, answer="yes"
    )
    apply_label(
        review=review,
        record=shown.record,
        label=create_label(review=review, actor=owner, name="Check refs"),
        user=reviewer,
    )
    Comment.objects.create(
        review=review, record=shown.record, stage=TA, author=reviewer, body="@roberto dose?"
    )
    client = client_for(owner)
    client.get(desk(review.slug))  # sessions and settings warmed
    with django_assert_num_queries(16):
        client.get(desk(review.slug))
    more = import_records(review, owner, 6, name="more.ris")
    disagree(review, more, reviewer, reviewer2)
    with django_assert_num_queries(16):
        response = client.get(desk(review.slug))
    assert "Conflict <strong data-position>1</strong> of 7 open" in response.content.decode()


def test_resolving_from_the_desk_swaps_in_the_next_open_conflict(
    client_for, review, records, owner, reviewer, reviewer2
):
    first, second, third = disagree(review, records, reviewer, reviewer2)
    client = client_for(owner)
    url = reverse("conflict-resolve", args=[review.slug, second.pk])
    response = client.post(
        url, {"decision": "exclude", "note": "mice", "view": "desk"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert response.context["detail"].conflict == third
    assert response.context["info"] == f"Conflict on record {second.record_id} resolved: excluded"
    assert response["HX-Replace-Url"].endswith(f"conflict={third.pk}")
    assert "<!doctype html>" not in response.content.decode()  # the panel only
    # The last one wraps round to the first still open.
    response = client.post(
        reverse("conflict-resolve", args=[review.slug, third.pk]),
        {"decision": "include", "view": "desk"},
        HTTP_HX_REQUEST="true",
    )
    assert response.context["detail"].conflict == first
    # A second post of a resolved conflict (a double submit) says so and moves on.
    response = client.post(url, {"decision": "include"}, HTTP_HX_REQUEST="true")
    assert response.context["error"] == "This conflict was already resolved."
    assert Outcome.objects.get(record=second.record).decision == "exclude"


def test_a_refused_resolution_shows_the_same_conflict_keeping_what_was_typed(
    client_for, review, records, owner, reviewer, reviewer2
):
    (conflict,) = disagree(review, records[:1], reviewer, reviewer2, stage=FT)
    response = client_for(owner).post(
        reverse("conflict-resolve", args=[review.slug, conflict.pk]),
        {"decision": "exclude", "note": "no outcome data", "view": "desk"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Choose a reason for excluding this record: exclusions at full text need one." in body
    assert ">no outcome data</textarea>" in body
    assert 'value="exclude" checked' in body
    assert response.context["detail"].conflict == conflict
    assert not Outcome.objects.filter(stage=FT).exists()


def test_without_script_a_resolution_posts_and_returns_to_the_desk(
    client_for, review, conflicts, owner
):
    response = client_for(owner).post(
        reverse("conflict-resolve", args=[review.slug, conflicts[0].pk]),
        {"decision": "include", "note": "n"},
        follow=True,
    )
    body = response.content.decode()
    assert f"Conflict on record {conflicts[0].record_id} resolved: included." in body
    assert response.context["detail"].conflict == conflicts[1]


# ------------------------------------------------------------------------------ table


def test_the_compact_table_pages_by_50_with_a_fixed_query_count(
    client_for, review, owner, reviewer, reviewer2, django_assert_num_queries
):
    few = import_records(review, owner, 2, name="few.ris")
    disagree(review, few, reviewer, reviewer2)
    client = client_for(owner)
    url = desk(review.slug, view="table")
    client.get(url)
    with django_assert_num_queries(11):
        client.get(url)
    many = import_records(review, owner, 50, name="many.ris")
    disagree(review, many, reviewer, reviewer2)
    with django_assert_num_queries(11):
        response = client.get(url)
    body = response.content.decode()
    assert len(response.context["rows"]) == 50
    assert body.count('class="table-resolve"') == 50
    assert "Page 1 of 2" in body and "roberto: exclude" in body
    second = client.get(url + "&page=2")
    assert len(second.context["rows"]) == 2


def test_resolving_from_the_table_returns_to_its_page(client_for, review, owner, conflicts):
    response = client_for(owner).post(
        reverse("conflict-resolve", args=[review.slug, conflicts[1].pk]),
        {"decision": "exclude", "note": "quick one", "view": "table", "page": "1"},
    )
    assert response.status_code == 302
    assert response["Location"].endswith("stage=title-abstract&view=table&page=1")
    outcome = Outcome.objects.get()
    assert (outcome.record_id, outcome.decision, outcome.note) == (
        conflicts[1].record_id,
        "exclude",
        "quick one",
    )


# ------------------------------------------------------------------------------ API


def test_the_api_lists_conflicts_with_votes_answers_labels_and_comments_without_n_plus_1(
    review, records, owner, reviewer, reviewer2, django_assert_num_queries
):
    first, second = disagree(review, records[:2], reviewer, reviewer2)
    question = ScreeningQuestion.objects.create(review=review, stage=TA, text="Adults?")
    QuestionAnswer.objects.create(
        review=review, record=first.record, question=question, reviewer=reviewer, answer="yes"
    )
    refs = create_label(review=review, actor=owner, name="Check refs")
    apply_label(review=review, record=first.record, label=refs, user=reviewer)
    Comment.objects.create(review=review, record=first.record, stage=TA, author=owner, body="?")
    client = api(owner)
    url = f"/api/v1/reviews/{review.slug}/conflicts/?stage={TA}"
    client.get(url)
    with django_assert_num_queries(7):
        data = client.get(url).json()
    row = data["results"][0]
    assert (row["id"], row["record"], row["stage"], row["comment_count"]) == (
        first.pk,
        first.record_id,
        TA,
        1,
    )
    assert [(v["reviewer"], v["decision"], v["note"]) for v in row["votes"]] == [
        ("rachel", "include", f"keep {first.record_id}"),
        ("roberto", "exclude", f"drop {first.record_id}"),
    ]
    assert row["answers"] == [
        {"question": question.pk, "text": "Adults?", "reviewer": "rachel", "answer": "yes"}
    ]
    assert row["labels"] == [
        {"label": refs.pk, "name": "Check refs", "applied_by": "rachel", "stage": TA}
    ]
    assert data["results"][1]["answers"] == [] and data["results"][1]["comment_count"] == 0
    more = import_records(review, owner, 5, name="more.ris")
    disagree(review, more, reviewer, reviewer2)
    with django_assert_num_queries(7):
        assert client.get(url).json()["count"] == 7


def test_the_api_resolves_with_a_note_and_the_detail_shows_the_outcome(
    review, records, owner, reviewer, reviewer2
):
    (conflict,) = disagree(review, records[:1], reviewer, reviewer2, stage=FT)
    base = f"/api/v1/reviews/{review.slug}/conflicts/{conflict.pk}"
    client = api(owner)
    refused = client.post(f"{base}/resolve/", {"decision": "exclude"}, format="json")
    assert refused.status_code == 400
    assert refused.json() == {
        "detail": "Choose a reason for excluding this record: exclusions at full text need one.",
        "field": "reason",
    }
    done = client.post(
        f"{base}/resolve/",
        {"decision": "exclude", "reason": "Wrong outcome", "note": "no HbA1c"},
        format="json",
    )
    assert done.status_code == 200
    assert done.json()["outcome"] == {
        "decision": "exclude",
        "reason": "Wrong outcome",
        "note": "no HbA1c",
        "kind": "adjudication",
        "decided_by": "olivia",
    }
    detail = client.get(f"{base}/").json()
    assert detail["resolved_at"] and detail["outcome"]["note"] == "no HbA1c"
    assert len(detail["votes"]) == 2  # its stage's votes, not those at title/abstract
