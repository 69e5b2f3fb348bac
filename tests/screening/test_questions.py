"""Screening questions (#18): owners define a stage's checklist; reviewers answer it per
record (page, keyboard panel, API, with their vote); a "no" proposes an exclusion reason;
answers are exported and their agreement reported per question; an answer never reveals a
vote before the record is settled at a blind stage."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook
from rest_framework.test import APIClient

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import AuditEvent
from screening.models import QuestionAnswer, ScreeningQuestion, Vote
from screening.selectors.questions import answers_visible_to, question_agreement
from screening.services.questions import (
    answer_question,
    cast_vote_with_answers,
    create_question,
    delete_question,
    move_question,
    save_answers,
    update_question,
)
from screening.services.screening.stage_settings import update_stage_settings
from screening.services.screening.votes import undo_last_vote
from tests.screening.screening_fixtures import import_records, vote

pytestmark = pytest.mark.django_db

TA, FT = "title-abstract", "full-text"
REASONS = ["Wrong population", "Wrong intervention", "Wrong study design"]


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def records(review, owner):
    return import_records(review, owner, 4)


@pytest.fixture
def reasons(review, owner):
    update_stage_settings(review=review, stage=TA, actor=owner, exclusion_reasons=REASONS)


@pytest.fixture
def population(review, owner, reasons):
    return create_question(
        review=review,
        actor=owner,
        stage=TA,
        text="Population: adults with diabetes?",
        exclusion_reason="Wrong population",
    )


@pytest.fixture
def design(review, owner, reasons):
    return create_question(
        review=review,
        actor=owner,
        stage=TA,
        text="Randomised trial?",
        exclusion_reason="Wrong study design",
    )


def answers_of(user, record):
    return dict(
        QuestionAnswer.objects.filter(reviewer=user, record=record).values_list(
            "question__text", "answer"
        )
    )


# ------------------------------------------------------------------------------ services


def test_owner_defines_rewords_reorders_and_deletes_questions_and_the_trail_keeps_it(
    review, owner, population, design
):
    assert [(q.text, q.order) for q in ScreeningQuestion.objects.all()] == [
        ("Population: adults with diabetes?", 0),
        ("Randomised trial?", 1),
    ]
    update_question(question=design, actor=owner, text="  Randomised   controlled trial? ")
    move_question(question=design, actor=owner, by=-1)
    move_question(question=design, actor=owner, by=-1)  # already first: nothing happens
    assert list(ScreeningQuestion.objects.values_list("text", flat=True)) == [
        "Randomised controlled trial?",
        "Population: adults with diabetes?",
    ]
    assert delete_question(question=population, actor=owner) == 0
    actions = list(
        AuditEvent.objects.filter(review=review, object_type="question")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "question.created",
        "question.created",
        "question.changed",
        "question.moved",
        "question.deleted",
    ]


@pytest.mark.parametrize(
    ("fields", "message", "field"),
    [
        ({"text": "  "}, "Write the question.", "text"),
        ({"text": "x" * 201}, "A question has at most 200 characters (this one has 201).", "text"),
        ({"text": "RANDOMISED trial?"}, "This stage asks “Randomised trial?” already.", "text"),
        ({"text": "Adults?", "exclusion_reason": "Too old"}, "“Too old” is not one of this stage's exclusion reasons.", "exclusion_reason"),  # noqa: E501
        ({"text": "Adults?", "stage": "abstract"}, "Unknown stage “abstract”: use title-abstract or full-text.", "stage"),  # noqa: E501
    ],
)  # fmt: skip
def test_bad_question_fields_name_the_field_and_change_nothing(
    review, owner, design, fields, message, field
):
    with pytest.raises(ReviewflowError) as caught:
        create_question(review=review, actor=owner, **{"stage": TA, **fields})
    assert (caught.value.message, caught.value.field) == (message, field)
    assert list(ScreeningQuestion.objects.values_list("text", flat=True)) == ["Randomised trial?"]


def test_a_stage_without_reasons_says_so_when_a_question_would_propose_one(review, owner):
    with pytest.raises(ReviewflowError) as caught:
        create_question(
            review=review, actor=owner, stage=TA, text="Adults?", exclusion_reason="Too old"
        )
    assert caught.value.message == (
        "Title and abstract has no exclusion reasons to propose: add them in the stage's "
        "settings first."
    )


def test_answering_upserts_clears_and_is_each_reviewers_own_without_an_audit_event(
    review, records, population, reviewer, reviewer2
):
    r = records[0]
    answer_question(record=r, question=population, reviewer=reviewer, answer="yes")
    kept = answer_question(record=r, question=population, reviewer=reviewer, answer="NO")
    answer_question(record=r, question=population, reviewer=reviewer2, answer="unclear")
    assert kept is not None and kept.answer == "no"
    assert QuestionAnswer.objects.count() == 2
    assert answers_of(reviewer, r) == {"Population: adults with diabetes?": "no"}
    assert answer_question(record=r, question=population, reviewer=reviewer, answer="") is None
    assert answers_of(reviewer, r) == {}
    assert answers_of(reviewer2, r) == {"Population: adults with diabetes?": "unclear"}
    # Like a label on a record: an event in the record's history would tell every member.
    assert not AuditEvent.objects.filter(action__startswith="answer").exists()


def test_answers_change_until_the_records_votes_are_shown(
    review, records, population, reviewer, reviewer2
):
    r = records[0]
    vote(review, r, reviewer, "include")
    # Voted, the record still open: the answer may still change.
    answer_question(record=r, question=population, reviewer=reviewer, answer="yes")
    vote(review, r, reviewer2, "include")  # settled: the votes are shown
    message = (
        "This record's votes were shown to the team (settled or in conflict): answers on it "
        "can no longer change."
    )
    with pytest.raises(ReviewflowError) as caught:
        answer_question(record=r, question=population, reviewer=reviewer, answer="no")
    assert caught.value.message == message
    # Taken back after the reveal, the record is open again, but its votes were seen.
    undo_last_vote(review=review, reviewer=reviewer2, stage=TA)
    with pytest.raises(ReviewflowError) as caught:
        answer_question(record=r, question=population, reviewer=reviewer2, answer="no")
    assert caught.value.message == message
    # Voting again keeps the answers; changing them then is refused, with the vote.
    with pytest.raises(ReviewflowError, match="your answers on it can no longer change"):
        cast_vote_with_answers(
            review=review,
            record=r,
            reviewer=reviewer2,
            stage=TA,
            decision="include",
            answers={population.pk: "no"},
        )
    cast_vote_with_answers(
        review=review,
        record=r,
        reviewer=reviewer2,
        stage=TA,
        decision="include",
        answers={population.pk: ""},  # unanswered before: unchanged
    )
    assert answers_of(reviewer, r) == {"Population: adults with diabetes?": "yes"}
    assert answers_of(reviewer2, r) == {}


@pytest.mark.parametrize(
    ("who", "answers", "message"),
    [
        ("viewer", {"Q": "yes"}, "Only reviewers and owners screen records."),
        ("reviewer", {"Q": "maybe"}, "Unknown answer “maybe”: use yes, no or unclear (or nothing to clear it)."),  # noqa: E501
        ("reviewer", {"x": "yes"}, "“x” is not a question's id: answers are keyed by question id."),  # noqa: E501
        ("reviewer", {999999: "yes"}, "Question 999999 is not a question of this review at title and abstract."),  # noqa: E501
    ],
)  # fmt: skip
def test_bad_answers_are_refused_with_their_reason(
    review, records, population, reviewer, viewer, who, answers, message
):
    user = {"viewer": viewer, "reviewer": reviewer}[who]
    answers = {population.pk if k == "Q" else k: v for k, v in answers.items()}
    with pytest.raises(ReviewflowError) as caught:
        save_answers(review=review, record=records[0], reviewer=user, stage=TA, answers=answers)
    assert caught.value.message == message
    assert not QuestionAnswer.objects.exists()


def test_a_record_not_screened_at_the_stage_cannot_be_answered(review, owner, records, reviewer):
    update_stage_settings(review=review, stage=FT, actor=owner, exclusion_reasons=REASONS)
    question = create_question(review=review, actor=owner, stage=FT, text="Adults?")
    with pytest.raises(ReviewflowError) as caught:
        answer_question(record=records[0], question=question, reviewer=reviewer, answer="yes")
    assert caught.value.message == (
        "This record is not screened at this stage: there is nothing to answer."
    )


def test_a_vote_carries_its_answers_and_a_no_proposes_the_exclusion_reason(
    review, records, population, design, reviewer
):
    r = records[0]
    cast = cast_vote_with_answers(
        review=review,
        record=r,
        reviewer=reviewer,
        stage=TA,
        decision="exclude",
        answers={str(population.pk): "yes", str(design.pk): "no"},
    )
    assert cast.reason == "Wrong study design"  # the first "no" that proposes one
    assert answers_of(reviewer, r) == {
        "Population: adults with diabetes?": "yes",
        "Randomised trial?": "no",
    }
    # A reason the reviewer chose stays theirs.
    other = cast_vote_with_answers(
        review=review,
        record=records[1],
        reviewer=reviewer,
        stage=TA,
        decision="exclude",
        reason="Wrong intervention",
        answers={population.pk: "no"},
    )
    assert other.reason == "Wrong intervention"
    # An inclusion carries no reason, whatever the answers.
    included = cast_vote_with_answers(
        review=review,
        record=records[2],
        reviewer=reviewer,
        stage=TA,
        decision="include",
        answers={population.pk: "no"},
    )
    assert included.reason == ""


def test_a_refused_vote_saves_no_answer_and_refused_answers_cast_no_vote(
    review, records, population, reviewer
):
    r = records[0]
    vote(review, r, reviewer, "include")
    with pytest.raises(ReviewflowError, match="You have already voted on this record"):
        cast_vote_with_answers(
            review=review,
            record=r,
            reviewer=reviewer,
            stage=TA,
            decision="include",
            answers={population.pk: "yes"},
        )
    assert not QuestionAnswer.objects.exists()
    with pytest.raises(ReviewflowError, match="Unknown answer “perhaps”"):
        cast_vote_with_answers(
            review=review,
            record=records[1],
            reviewer=reviewer,
            stage=TA,
            decision="include",
            answers={population.pk: "perhaps"},
        )
    assert Vote.objects.count() == 1


# ------------------------------------------------------------------------------ blinding


def test_others_answers_show_once_the_record_is_settled_or_the_stage_is_not_blind(
    review, owner, records, population, reviewer, reviewer2
):
    r = records[0]
    answer_question(record=r, question=population, reviewer=reviewer2, answer="no")
    everyone = QuestionAnswer.objects.all()
    assert answers_visible_to(reviewer, everyone).count() == 0
    assert answers_visible_to(reviewer2, everyone).count() == 1
    vote(review, r, reviewer2, "exclude")
    assert answers_visible_to(reviewer, everyone).count() == 0  # waits for the reviewer
    vote(review, r, reviewer, "include")  # a conflict: every vote is in
    assert answers_visible_to(reviewer, everyone).count() == 1
    answer_question(record=records[1], question=population, reviewer=reviewer2, answer="yes")
    assert answers_visible_to(reviewer, everyone).count() == 1
    update_stage_settings(review=review, stage=TA, actor=owner, blind=False)
    assert answers_visible_to(reviewer, everyone).count() == 2


def test_no_page_api_or_export_shows_an_unsettled_record_s_others_answers(
    client_for, review, owner, records, population, reviewer, reviewer2
):
    r = records[0]
    cast_vote_with_answers(
        review=review,
        record=r,
        reviewer=reviewer2,
        stage=TA,
        decision="exclude",
        answers={population.pk: "no"},
    )
    slug = review.slug
    assert api(reviewer).get(f"/api/v1/reviews/{slug}/records/{r.pk}/answers/").json() == []
    assert api(owner).get(f"/api/v1/reviews/{slug}/records/{r.pk}/answers/").json() == []
    votes = api(reviewer).get(f"/api/v1/reviews/{slug}/screening/{TA}/votes/").json()
    assert votes["results"] == []
    export = client_for(owner).get(reverse("export-votes", args=[slug, "csv"]))
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows[1:] == []  # reviewer2's vote and answer wait for the owner's own
    # The reviewer's panel shows only the reviewer's own (unanswered) question.
    page = client_for(reviewer).get(reverse("screen", args=[slug, TA]))
    assert [q.mine for q in page.context["questions_box"]["questions"]] == [None]
    vote(review, r, reviewer, "exclude", reason="Wrong population")  # settled
    shown = api(reviewer).get(f"/api/v1/reviews/{slug}/records/{r.pk}/answers/").json()
    assert [(a["reviewer"], a["answer"]) for a in shown] == [(reviewer2.username, "no")]


# ------------------------------------------------------------------------------ export


def test_the_votes_export_has_one_column_per_question_with_the_voters_answer(
    client_for, review, owner, records, population, design, reviewer, reviewer2
):
    hostile = create_question(review=review, actor=owner, stage=TA, text="=HYPERLINK(1)")
    r = records[0]
    cast_vote_with_answers(
        review=review,
        record=r,
        reviewer=reviewer,
        stage=TA,
        decision="include",
        answers={population.pk: "yes", design.pk: "unclear"},
    )
    cast_vote_with_answers(
        review=review,
        record=r,
        reviewer=reviewer2,
        stage=TA,
        decision="include",
        answers={population.pk: "yes", hostile.pk: "no"},
    )
    client = client_for(owner)
    response = client.get(reverse("export-votes", args=[review.slug, "csv"]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][-3:] == [
        "Q1: Population: adults with diabetes?",
        "Q2: Randomised trial?",
        "Q3: =HYPERLINK(1)",  # the "Q3: " before it: a spreadsheet reads text
    ]
    by_reviewer = {row[3]: row[-3:] for row in rows[1:]}
    assert by_reviewer == {
        reviewer.username: ["yes", "unclear", ""],
        reviewer2.username: ["yes", "", "no"],
    }
    xlsx = client.get(reverse("export-votes", args=[review.slug, "xlsx"]))
    sheet = load_workbook(io.BytesIO(xlsx.content))["Votes"]
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    assert header[-3] == "Q1: Population: adults with diabetes?"


# ------------------------------------------------------------------------------ agreement


def test_agreement_per_question_on_a_hand_computed_case(
    client_for, review, owner, records, population, design, reviewer, reviewer2, make_user
):
    # Population: (yes, yes) (no, no) (yes, no) (unclear, unclear) on four settled records.
    # Agreement 3 of 4 = 75 %. Rater A: yes 2, no 1, unclear 1; rater B: yes 1, no 2,
    # unclear 1; chance = 2*1 + 1*2 + 1*1 = 5 (times n*n = 16): kappa = (4*3 - 5) /
    # (16 - 5) = 7/11 = 0.636. Randomised: answered by one reviewer only: no pair.
    pairs = [("yes", "yes"), ("no", "no"), ("yes", "no"), ("unclear", "unclear")]
    for record, (a, b) in zip(records, pairs, strict=True):
        for user, value in ((reviewer, a), (reviewer2, b)):
            answers = {population.pk: value}
            if user == reviewer:
                answers[design.pk] = "yes"
            cast_vote_with_answers(
                review=review,
                record=record,
                reviewer=user,
                stage=TA,
                decision="include",
                answers=answers,
            )
    # An open record's answers do not count (they would tell who answered what).
    extra = import_records(review, owner, 1, name="extra.ris")[0]
    for user in (reviewer, reviewer2):
        answer_question(record=extra, question=population, reviewer=user, answer="no")
    (stage,) = question_agreement(review)
    rows = {row.question.text: row for row in stage.questions}
    population_row = rows["Population: adults with diabetes?"]
    assert (population_row.records, population_row.pairs) == (4, 4)
    assert population_row.agreement == 75.0
    assert population_row.kappa == pytest.approx(7 / 11)
    design_row = rows["Randomised trial?"]
    assert (design_row.records, design_row.agreement, design_row.kappa) == (0, None, None)
    page = client_for(owner).get(reverse("agreement", args=[review.slug]))
    body = page.content.decode()
    assert "Agreement per screening question" in body
    assert "75.0 %" in body and "0.636" in body


# ------------------------------------------------------------------------------ API


def test_api_lists_creates_changes_and_deletes_questions(
    review, owner, reviewer, viewer, outsider, reasons
):
    url = f"/api/v1/reviews/{review.slug}/screening/{TA}/questions/"
    created = api(owner).post(
        url, {"text": "Adults?", "exclusion_reason": "Wrong population"}, format="json"
    )
    assert created.status_code == 201, created.content
    qid = created.json()["id"]
    assert api(viewer).get(url).json() == [
        {
            "id": qid,
            "stage": TA,
            "text": "Adults?",
            "order": 0,
            "exclusion_reason": "Wrong population",
        }
    ]
    assert api(reviewer).post(url, {"text": "Mine?"}, format="json").status_code == 403
    assert api(outsider).get(url).status_code == 404
    assert APIClient().get(url).status_code == 404  # anonymous: as an outsider
    bad = api(owner).post(url, {"text": "adults?"}, format="json")
    assert bad.status_code == 400
    assert bad.json() == {"detail": "This stage asks “Adults?” already.", "field": "text"}
    changed = api(owner).patch(f"{url}{qid}/", {"text": "Adults (18+)?"}, format="json")
    assert changed.json()["text"] == "Adults (18+)?"
    assert (
        api(owner).get(f"/api/v1/reviews/{review.slug}/screening/{FT}/questions/{qid}/").status_code
        == 404
    )  # noqa: E501
    assert api(owner).delete(f"{url}{qid}/").status_code == 204
    assert not ScreeningQuestion.objects.exists()


def test_api_answers_with_a_vote_and_with_put(review, records, population, design, reviewer):
    slug, r = review.slug, records[0]
    votes = f"/api/v1/reviews/{slug}/screening/{TA}/votes/"
    response = api(reviewer).post(
        votes,
        {"record": r.pk, "decision": "exclude", "answers": {str(design.pk): "no"}},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["reason"] == "Wrong study design"
    assert response.json()["answers"] == {str(design.pk): "no"}
    put = api(reviewer).put(
        f"/api/v1/reviews/{slug}/records/{r.pk}/answers/",
        {"stage": TA, "answers": {str(population.pk): "unclear", str(design.pk): None}},
        format="json",
    )
    assert put.status_code == 200, put.content
    assert [(a["question"], a["answer"]) for a in put.json()] == [(population.pk, "unclear")]
    listed = api(reviewer).get(votes).json()["results"]
    assert [v["answers"] for v in listed] == [{str(population.pk): "unclear"}]
    bad = api(reviewer).put(
        f"/api/v1/reviews/{slug}/records/{r.pk}/answers/",
        {"stage": TA, "answers": {str(population.pk): "maybe"}},
        format="json",
    )
    assert bad.status_code == 400
    refused = api(reviewer).post(
        votes,
        {"record": records[1].pk, "decision": "include", "answers": {"999999": "yes"}},
        format="json",
    )
    assert refused.status_code == 400
    assert refused.json()["detail"] == (
        "Question 999999 is not a question of this review at title and abstract."
    )
    assert Vote.objects.count() == 1


# ------------------------------------------------------------------------------ pages


def test_questions_page_for_owners_only(client_for, review, owner, reviewer, outsider):
    url = reverse("stage-questions", args=[review.slug, TA])
    assert client_for(owner).get(url).status_code == 200
    assert client_for(reviewer).get(url).status_code == 403
    assert client_for(outsider).get(url).status_code == 404
    from django.test import Client

    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]
    settings = client_for(owner).get(reverse("stage-settings", args=[review.slug, TA]))
    assert url.encode() in settings.content


def test_owner_manages_questions_on_the_page(client_for, review, owner, reasons):
    client, url = client_for(owner), reverse("stage-questions", args=[review.slug, TA])
    for text in ("Adults?", "Randomised?"):
        response = client.post(
            url, {"action": "create", "text": text, "exclusion_reason": "Wrong population"}
        )
        assert response.status_code == 302
    second = ScreeningQuestion.objects.get(text="Randomised?")
    client.post(url, {"action": "up", "question": second.pk})
    assert list(ScreeningQuestion.objects.values_list("text", flat=True)) == [
        "Randomised?",
        "Adults?",
    ]
    response = client.post(url, {"action": "create", "text": "ADULTS?"})
    assert response.status_code == 400
    assert "This stage asks “Adults?” already." in response.content.decode()
    response = client.post(url, {"action": "delete", "question": second.pk})
    assert response.status_code == 302
    assert list(ScreeningQuestion.objects.values_list("text", flat=True)) == ["Adults?"]


def test_the_screening_page_reads_its_questions_in_one_query_however_many(
    client_for, review, owner, records, reviewer, django_assert_max_num_queries
):
    client, url = client_for(reviewer), reverse("screen", args=[review.slug, TA])
    client.get(url)  # settings are created on first use
    with django_assert_max_num_queries(100) as without:
        client.get(url)
    record = client.get(url).context["record"]
    for n in range(5):
        question = create_question(review=review, actor=owner, stage=TA, text=f"Q {n}?")
        answer_question(record=record, question=question, reviewer=reviewer, answer="yes")
    with django_assert_max_num_queries(100) as with_questions:
        page = client.get(url)
    assert len(with_questions.captured_queries) == len(without.captured_queries) > 0
    assert [q.mine for q in page.context["questions_box"]["questions"]] == ["yes"] * 5


def test_the_screening_page_sends_answers_with_the_vote_and_keeps_them_when_refused(
    client_for, review, owner, records, reviewer
):
    update_stage_settings(
        review=review, stage=TA, actor=owner, exclusion_reasons=REASONS, reasons_required=True
    )
    question = create_question(review=review, actor=owner, stage=TA, text="Adults?")
    client = client_for(reviewer)
    page = client.get(reverse("screen", args=[review.slug, TA]))
    record = page.context["record"]
    assert f'name="answer-{question.pk}"'.encode() in page.content
    url = reverse("screen-vote", args=[review.slug, TA])
    # Excluding without a reason is refused: the answer is kept on the page, not saved.
    refused = client.post(
        url,
        {"record": record.pk, "decision": "exclude", f"answer-{question.pk}": "unclear"},
        HTTP_HX_REQUEST="true",
    )
    assert refused.status_code == 400
    assert [q.mine for q in refused.context["questions_box"]["questions"]] == ["unclear"]
    assert not QuestionAnswer.objects.exists()
    done = client.post(
        url,
        {"record": record.pk, "decision": "include", f"answer-{question.pk}": "unclear"},
        HTTP_HX_REQUEST="true",
    )
    assert done.status_code == 200
    assert answers_of(reviewer, record) == {"Adults?": "unclear"}
