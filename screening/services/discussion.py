"""Discussion: members write comments on a record at a stage, mention each other with
``@username``, edit their own, and delete their own (owners any).

Checks come first (each raises the message a person reads); writes only write, and audit.
The audit events name the comment and its record, never what it says: the audit trail is
read by owners, who often screen too, and a comment may give its author's vote away
(blinding). The ``Comment`` row keeps the words, also once deleted.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Membership, NotificationKind, Review, Role
from reviewflow.reviews.notifications import notify
from reviewflow.reviews.services import record_audit
from screening.models import Comment, Record, Stage
from screening.selectors.discussion import discussion_open_to, mentioned_names

BODY_MAX = 5000


def check_comment_body(body: str) -> str:
    """Validate a comment's text; return the text to store."""
    body = body.strip()
    if not body:
        raise ReviewflowError("Write something before posting the comment.", field="body")
    if len(body) > BODY_MAX:
        raise ReviewflowError(
            f"A comment has at most {BODY_MAX:,} characters (this one has {len(body):,}).",
            field="body",
        )
    return body


def check_commenter(review: Review | int, user: User) -> Membership:
    """``user``'s membership, if it may write comments (reviewers and owners)."""
    membership = Membership.objects.filter(review=review, user=user).first()
    if membership is None or not membership.has_role(Role.REVIEWER):
        raise ReviewflowError(
            "Only reviewers and owners write comments; viewers read them.", code="forbidden"
        )
    return membership


def members_mentioned(review: Review | int, body: str) -> list[User]:
    """The members of ``review`` that ``body`` mentions (``@username``, any case); a name of
    nobody in the review stays plain text."""
    names = mentioned_names(body)
    if not names:
        return []
    wanted = {name.lower() for name in names}
    members = get_user_model().objects.filter(memberships__review=review).only("id", "username")
    return [user for user in members if user.username.lower() in wanted]


def _audit(comment: Comment, actor: User, action: str, mentions: list[User]) -> None:
    data: dict[str, Any] = {"stage": comment.stage, "record": comment.record_id}
    if mentions:
        data["mentions"] = sorted(user.username for user in mentions)
    record_audit(
        review=comment.review,
        actor=actor,
        action=action,
        target=f"comment on record {comment.record_id}",
        before=data if action == "comment.deleted" else None,
        after=None if action == "comment.deleted" else data,
        object_type="comment",
        object_id=comment.pk,
    )


QUOTE_MAX = 200


def _notify_mentioned(comment: Comment, author: User, users: list[User]) -> None:
    """Tell each member newly mentioned (not the author) by the bell, and by e-mail as
    they chose (#20). The comment is quoted only to a reader who may already read it
    (``discussion_open_to``): on a blind stage a comment may give its author's vote away,
    so a reader who has not voted yet is told where to read it instead."""
    users = [user for user in users if user.pk != author.pk]
    if not users:
        return
    record, review = comment.record, comment.review
    where = Stage(comment.stage).label.lower()
    title = " ".join((record.title or f"record {record.pk}").split())[:120]
    url = reverse("record-detail", args=[review.slug, record.pk]) + f"#discussion-{comment.stage}"
    who = author.get_username()
    for user in users:
        if discussion_open_to(review, user, record, comment.stage):
            quote = " ".join(comment.body.split())
            quote = quote if len(quote) <= QUOTE_MAX else quote[: QUOTE_MAX - 1] + "…"
            text = f"{who} mentioned you on “{title}” ({where}): “{quote}”"
        else:
            text = (
                f"{who} mentioned you in a comment on “{title}” ({where}). Its discussion "
                "opens to you once you have voted on the record, or once it is settled."
            )
        notify(user=user, review=review, kind=NotificationKind.MENTION, text=text, url=url)


def add_comment(*, record: Record, stage: str, author: User, body: str) -> Comment:
    """``author``'s comment on ``record`` at ``stage``; the members it mentions are kept."""
    check_commenter(record.review_id, author)
    if stage not in Stage.values:
        raise ReviewflowError(
            f"Unknown stage “{stage}”: use title-abstract or full-text.", field="stage"
        )
    body = check_comment_body(body)
    mentions = members_mentioned(record.review_id, body)
    with transaction.atomic():
        comment = Comment.objects.create(
            review_id=record.review_id, record=record, stage=stage, author=author, body=body
        )
        if mentions:
            comment.mentions.set(mentions)
        _audit(comment, author, "comment.added", mentions)
        _notify_mentioned(comment, author, mentions)
    return comment


def _check_live(comment: Comment) -> None:
    if comment.deleted_at is not None:
        raise ReviewflowError("This comment was deleted.", code="conflict")


def edit_comment(*, comment: Comment, actor: User, body: str) -> Comment:
    """Change the text of ``actor``'s own comment; its mentions follow the new text."""
    _check_live(comment)
    if comment.author_id != actor.pk:
        raise ReviewflowError("Only its author can edit a comment.", code="forbidden")
    check_commenter(comment.review_id, actor)
    body = check_comment_body(body)
    mentions = members_mentioned(comment.review_id, body)
    with transaction.atomic():
        before = set(comment.mentions.values_list("id", flat=True))
        comment.body = body
        comment.edited_at = timezone.now()
        comment.save(update_fields=["body", "edited_at"])
        comment.mentions.set(mentions)
        _audit(comment, actor, "comment.edited", mentions)
        _notify_mentioned(comment, actor, [user for user in mentions if user.pk not in before])
    return comment


def delete_comment(*, comment: Comment, actor: User) -> Comment:
    """Delete a comment (its author, or an owner of the review): the thread then says
    "comment deleted" in its place; the row keeps what was said."""
    _check_live(comment)
    membership = Membership.objects.filter(review_id=comment.review_id, user=actor).first()
    is_owner = membership is not None and membership.role == Role.OWNER
    if not is_owner and (comment.author_id != actor.pk or membership is None):
        raise ReviewflowError(
            "Only its author or an owner of the review can delete a comment.", code="forbidden"
        )
    with transaction.atomic():
        comment.deleted_at = timezone.now()
        comment.save(update_fields=["deleted_at"])
        _audit(comment, actor, "comment.deleted", [])
    return comment
