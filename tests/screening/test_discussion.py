"""Discussion (#18): comments on a record at a stage, with mentions of members; on a blind
stage a reader sees others' comments only once they voted on the record there (or it is
settled or in conflict); viewers read where the rule allows and never write."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import AuditEvent
from screening.models import Comment
from screening.selectors.discussion import (
    Part,
    body_parts,
    comments_visible_to,
    discussion_for,
    mentioned_names,
)
from screening.services.discussion import add_comment, delete_comment, edit_comment
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
    return import_records(review, owner, 3)


def visible(user, record, stage=TA):
    qs = Comment.objects.filter(record=record, stage=stage)
    return [c.body for c in comments_visible_to(user, qs)]


# ------------------------------------------------------------------------------ pure parts


def test_mentions_are_read_from_the_text_once_each_without_trailing_punctuation():
    body = "@rachel see this. Thanks @Roberto, and @rachel again; mail a@b.org (not a mention)"
    assert mentioned_names(body) == ["rachel", "Roberto"]
    assert mentioned_names("thanks @rachel.") == ["rachel"]
    assert mentioned_names("no mentions here") == []


def test_only_mentions_of_members_are_marked_in_the_body():
    parts = body_parts("ask @rachel and @nobody\nthen", {"rachel"})
    assert parts == [Part("ask "), Part("@rachel", mention=True), Part(" and @nobody\nthen")]


# ------------------------------------------------------------------------------ services


def test_a_comment_keeps_the_members_it_mentions_and_unknown_names_stay_text(
    review, records, reviewer, reviewer2, outsider
):
    comment = add_comment(
        record=records[0],
        stage=TA,
        author=reviewer,
        body="  @roberto please check; @oscar and @nobody are not in the review  ",
    )
    assert comment.body == "@roberto please check; @oscar and @nobody are not in the review"
    assert list(comment.mentions.all()) == [reviewer2]
    event = AuditEvent.objects.get(action="comment.added")
    assert (event.object_type, event.object_id, event.actor) == ("comment", comment.pk, reviewer)
    # The trail says which comment on which record, never what it says (blinding).
    assert event.after == {"stage": TA, "record": records[0].pk, "mentions": ["roberto"]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("   ", "Write something before posting the comment."),
        ("x" * 5001, "A comment has at most 5,000 characters (this one has 5,001)."),
    ],
)
def test_a_comment_needs_some_text_and_no_more_than_5000_characters(
    review, records, reviewer, body, message
):
    with pytest.raises(ReviewflowError) as exc:
        add_comment(record=records[0], stage=TA, author=reviewer, body=body)
    assert exc.value.message == message
    assert exc.value.field == "body"
    assert not Comment.objects.exists()


def test_viewers_and_outsiders_do_not_write_comments(review, records, viewer, outsider):
    for user in (viewer, outsider):
        with pytest.raises(ReviewflowError) as exc:
            add_comment(record=records[0], stage=TA, author=user, body="hello")
        assert exc.value.message == "Only reviewers and owners write comments; viewers read them."
        assert exc.value.code == "forbidden"


def test_only_the_author_edits_and_the_mentions_follow_the_new_text(
    review, records, reviewer, reviewer2, owner
):
    comment = add_comment(record=records[0], stage=TA, author=reviewer, body="cc @roberto")
    for other in (reviewer2, owner):
        with pytest.raises(ReviewflowError) as exc:
            edit_comment(comment=comment, actor=other, body="changed")
        assert exc.value.message == "Only its author can edit a comment."
    edit_comment(comment=comment, actor=reviewer, body="cc @olivia instead")
    comment.refresh_from_db()
    assert comment.body == "cc @olivia instead" and comment.edited_at is not None
    assert list(comment.mentions.all()) == [owner]
    assert AuditEvent.objects.filter(action="comment.edited", object_id=comment.pk).exists()


def test_the_author_or_an_owner_deletes_a_comment_and_the_row_keeps_the_words(
    review, records, reviewer, reviewer2, owner
):
    mine = add_comment(record=records[0], stage=TA, author=reviewer, body="first")
    theirs = add_comment(record=records[0], stage=TA, author=reviewer2, body="second")
    with pytest.raises(ReviewflowError) as exc:
        delete_comment(comment=theirs, actor=reviewer)
    assert exc.value.message == "Only its author or an owner of the review can delete a comment."
    delete_comment(comment=mine, actor=reviewer)
    delete_comment(comment=theirs, actor=owner)
    assert set(Comment.objects.values_list("body", flat=True)) == {"first", "second"}
    assert Comment.objects.filter(deleted_at__isnull=False).count() == 2
    with pytest.raises(ReviewflowError) as exc:
        edit_comment(comment=mine, actor=reviewer, body="again")
    assert exc.value.message == "This comment was deleted."
    assert AuditEvent.objects.filter(action="comment.deleted").count() == 2


# ------------------------------------------------------------------------------ blinding


def test_on_a_blind_stage_others_comments_show_once_the_reader_voted(
    review, records, owner, reviewer, reviewer2, viewer
):
    r = records[0]
    add_comment(record=r, stage=TA, author=reviewer2, body="B thinks exclude")
    add_comment(record=r, stage=TA, author=reviewer, body="A's own")
    # The rule, person by person, as the record moves on.
    assert visible(reviewer, r) == ["A's own"]  # the author sees their own
    assert visible(owner, r) == []
    assert visible(viewer, r) == []
    vote(review, r, reviewer, "include")
    assert visible(reviewer, r) == ["B thinks exclude", "A's own"]  # voted: all
    assert visible(owner, r) == []  # others' votes do not open it for the owner
    vote(review, r, reviewer2, "exclude")  # a conflict: every vote is shown anyway
    assert visible(owner, r) == ["B thinks exclude", "A's own"]
    assert visible(viewer, r) == ["B thinks exclude", "A's own"]


def test_a_vote_at_one_stage_does_not_open_the_comments_of_the_other(
    review, records, reviewer, reviewer2
):
    r = records[0]
    add_comment(record=r, stage=FT, author=reviewer2, body="at full text")
    vote(review, r, reviewer, "include")  # at title/abstract
    assert visible(reviewer, r, FT) == []


def test_a_settled_record_opens_its_comments_to_every_member(
    review, records, owner, reviewer, reviewer2, viewer
):
    r = records[0]
    add_comment(record=r, stage=TA, author=reviewer, body="agreed")
    vote(review, r, reviewer, "include")
    vote(review, r, reviewer2, "include")
    assert visible(owner, r) == ["agreed"] and visible(viewer, r) == ["agreed"]


def test_on_a_stage_that_is_not_blind_every_member_reads_every_comment(
    review, records, owner, reviewer, reviewer2, viewer
):
    update_stage_settings(review=review, stage=TA, actor=owner, blind=False)
    add_comment(record=records[0], stage=TA, author=reviewer2, body="open")
    assert visible(reviewer, records[0]) == ["open"] and visible(viewer, records[0]) == ["open"]


def test_the_discussion_box_says_why_it_is_closed_and_counts_nothing_it_hides(
    review, records, reviewer, reviewer2
):
    r = records[0]
    add_comment(record=r, stage=TA, author=reviewer2, body="hidden")
    found = discussion_for(review, reviewer, r, TA, can_write=True, is_owner=False)
    assert (found.open, found.comments) == (False, [])
    vote(review, r, reviewer, "include")
    review.__dict__.pop("_stage_settings", None)
    found = discussion_for(review, reviewer, r, TA, can_write=True, is_owner=False)
    assert found.open and [s.comment.body for s in found.comments] == ["hidden"]
    assert not found.comments[0].can_edit and not found.comments[0].can_delete


# ------------------------------------------------------------------------------ pages


def box_url(review, record):
    return reverse("record-comments", args=[review.slug, record.pk])


def test_the_box_is_for_members_only(client, client_for, review, records, outsider):
    url = box_url(review, records[0]) + f"?stage={TA}"
    response = client.get(url)
    assert response.status_code == 302 and "/login" in response["Location"]
    assert client_for(outsider).get(url).status_code == 404
    assert client_for(outsider).post(url, {"body": "x", "stage": TA}).status_code == 404
    assert not Comment.objects.exists()


def test_a_reviewer_posts_a_comment_with_htmx_and_reads_it_escaped_with_mentions(
    client_for, review, records, reviewer, reviewer2
):
    client = client_for(reviewer)
    response = client.post(
        box_url(review, records[0]),
        {"body": "<script>x()</script> ask @roberto\nsecond line", "stage": TA},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="discussion-title-abstract"' in html
    assert "&lt;script&gt;x()&lt;/script&gt;" in html and "<script>x()" not in html
    assert '<mark class="mention">@roberto</mark>' in html
    assert "<br>second line" in html
    # Not voted yet: the box says so, and still lets them write.
    assert "Comments are shown once you have voted on this record." in html
    assert "data-comment-box" in html


def test_a_refused_comment_comes_back_with_its_message_and_the_text_kept(
    client_for, review, records, reviewer
):
    response = client_for(reviewer).post(
        box_url(review, records[0]), {"body": " ", "stage": TA}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    assert "Write something before posting the comment." in response.content.decode()


def test_a_viewer_reads_the_box_but_has_no_comment_form_and_cannot_post(
    client_for, review, records, reviewer, reviewer2, viewer
):
    r = records[0]
    add_comment(record=r, stage=TA, author=reviewer, body="ZQX-COMMENT")
    client = client_for(viewer)
    html = client.get(box_url(review, r) + f"?stage={TA}").content.decode()
    assert "ZQX-COMMENT" not in html
    assert "Comments are shown once the record is settled or in conflict" in html
    assert "data-comment-box" not in html
    assert client.post(box_url(review, r), {"body": "hi", "stage": TA}).status_code == 403
    vote(review, r, reviewer, "include")
    vote(review, r, reviewer2, "include")
    assert "ZQX-COMMENT" in client.get(box_url(review, r) + f"?stage={TA}").content.decode()


def test_edit_and_delete_from_the_box_and_a_hidden_comment_is_a_404(
    client_for, review, records, reviewer, reviewer2
):
    r = records[0]
    theirs = add_comment(record=r, stage=TA, author=reviewer2, body="ZQX-THEIRS")
    mine = add_comment(record=r, stage=TA, author=reviewer, body="mine")
    client = client_for(reviewer)
    edit = reverse("comment-edit", args=[review.slug, r.pk, mine.pk])
    html = client.post(edit, {"body": "mine, edited"}, HTTP_HX_REQUEST="true").content.decode()
    assert "mine, edited" in html and "(edited)" in html
    # Not voted: B's comment does not exist as far as A can tell.
    for name in ("comment-edit", "comment-delete"):
        url = reverse(name, args=[review.slug, r.pk, theirs.pk])
        assert client.post(url, {"body": "x"}).status_code == 404
    delete = reverse("comment-delete", args=[review.slug, r.pk, mine.pk])
    html = client.post(delete, HTTP_HX_REQUEST="true").content.decode()
    assert "Comment deleted." in html and "mine, edited" not in html
    assert Comment.objects.get(pk=theirs.pk).body == "ZQX-THEIRS"


def test_the_box_reads_a_fixed_number_of_queries(
    client_for, review, records, reviewer, reviewer2, owner, django_assert_num_queries
):
    r = records[0]
    vote(review, r, reviewer, "include")
    client = client_for(reviewer)
    url = box_url(review, r) + f"?stage={TA}"
    add_comment(record=r, stage=TA, author=reviewer2, body="one @rachel")
    # session, user, membership; the record; stage settings; the rule; comments; mentions
    with django_assert_num_queries(8):
        client.get(url)
    for n in range(5):
        add_comment(record=r, stage=TA, author=owner, body=f"more {n} @roberto")
    with django_assert_num_queries(8):
        assert client.get(url).content.decode().count("data-comment=") == 6


def test_the_screening_page_shows_the_discussion_of_the_record_offered(
    client_for, review, records, reviewer
):
    html = client_for(reviewer).get(reverse("screen", args=[review.slug, TA])).content.decode()
    assert "data-discussion" in html
    assert "Comments are shown once you have voted on this record." in html


# ------------------------------------------------------------------------------ API


def test_api_lists_only_the_comments_the_caller_may_read(
    review, records, reviewer, reviewer2, viewer
):
    r = records[0]
    add_comment(record=r, stage=TA, author=reviewer2, body="B's")
    url = f"/api/v1/reviews/{review.slug}/records/{r.pk}/comments/"
    assert api(reviewer).get(url).json() == []
    vote(review, r, reviewer, "include")
    rows = api(reviewer).get(url + f"?stage={TA}").json()
    assert [(c["author"], c["body"], c["deleted"]) for c in rows] == [("roberto", "B's", False)]
    assert api(reviewer).get(url + f"?stage={FT}").json() == []
    assert api(reviewer).get(url + "?stage=bogus").status_code == 400
    assert api(viewer).get(url).json() == []


def test_api_adds_edits_and_deletes_a_comment(review, records, reviewer, reviewer2, viewer):
    url = f"/api/v1/reviews/{review.slug}/records/{records[0].pk}/comments/"
    made = api(reviewer).post(url, {"body": "see @roberto", "stage": TA}, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["mentions"] == ["roberto"] and made.json()["stage"] == TA
    one = f"{url}{made.json()['id']}/"
    changed = api(reviewer).patch(one, {"body": "see nobody"}, format="json")
    assert changed.json()["mentions"] == [] and changed.json()["edited_at"]
    refused = api(viewer).post(url, {"body": "x"}, format="json")
    assert refused.status_code == 403
    empty = api(reviewer).post(url, {"body": ""}, format="json")
    assert empty.status_code == 400
    assert empty.json() == {
        "detail": "Write something before posting the comment.",
        "field": "body",
    }
    assert api(reviewer2).delete(one).status_code == 404  # not voted: B cannot see it
    assert api(reviewer).delete(one).status_code == 204
    assert api(reviewer).get(one).json()["body"] == ""
    assert api(reviewer).get(one).json()["deleted"] is True
