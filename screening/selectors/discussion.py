"""Reads of a record's discussion that pages, the API and the adjudication desk share;
blinding decides what shows (``Comment``'s docstring has the rule)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef, Q, QuerySet

from reviewflow.reviews.models import Review
from screening.models import Comment, Conflict, Outcome, Record, Stage, StageSettings, Vote
from screening.selectors.screening import stage_settings_of

# ``@name``: the characters Django allows in a username; a full stop, comma or other
# punctuation after a name ends it ("thanks @rachel.").
MENTION = re.compile(r"(?<![\w@.+-])@([\w.+-]*[\w+-])")


def mentioned_names(body: str) -> list[str]:
    """The ``@names`` written in ``body``, in order, each once (case kept as written)."""
    seen: dict[str, str] = {}
    for match in MENTION.finditer(body):
        seen.setdefault(match.group(1).lower(), match.group(1))
    return list(seen.values())


@dataclass(frozen=True)
class Part:
    """A piece of a comment's body: text, or the mention of a member (highlighted)."""

    text: str
    mention: bool = False


def body_parts(body: str, mentioned: set[str]) -> list[Part]:
    """``body`` cut into text and mentions of ``mentioned`` (lower-case usernames); an
    ``@name`` of nobody in the review stays text. The template escapes every part."""
    parts: list[Part] = []
    at = 0
    for match in MENTION.finditer(body):
        if match.group(1).lower() not in mentioned:
            continue
        if match.start() > at:
            parts.append(Part(body[at : match.start()]))
        parts.append(Part(match.group(0), mention=True))
        at = match.end()
    if at < len(body):
        parts.append(Part(body[at:]))
    return parts


def comments_visible_to(user: User, qs: QuerySet[Comment]) -> QuerySet[Comment]:
    """Blinding: the comments of ``qs`` that ``user`` may read — their own; on a blind stage
    others' only on records ``user`` voted on at that stage, or that are settled or in
    conflict there; every comment at a stage an owner set to "not blind"."""
    voted = Vote.objects.filter(record=OuterRef("record"), stage=OuterRef("stage"), reviewer=user)
    done = Outcome.objects.filter(record=OuterRef("record"), stage=OuterRef("stage"))
    conflict = Conflict.objects.filter(record=OuterRef("record"), stage=OuterRef("stage"))
    open_stage = StageSettings.objects.filter(
        review=OuterRef("review"), stage=OuterRef("stage"), blind=False
    )
    return qs.filter(
        Q(author=user) | Exists(voted) | Exists(done) | Exists(conflict) | Exists(open_stage)
    )


def record_comments_visible_to(user: User, record: Record, stage: str) -> QuerySet[Comment]:
    """The comments on ``record`` at ``stage`` that ``user`` may read, oldest first, with
    their authors and mentions."""
    return (
        comments_visible_to(user, Comment.objects.filter(record=record, stage=stage))
        .select_related("author")
        .prefetch_related("mentions")
        .order_by("created_at", "id")
    )


def discussion_open_to(review: Review, user: User, record: Record, stage: str) -> bool:
    """Whether ``user`` reads others' comments on ``record`` at ``stage``: the stage is not
    blind, or they voted on it there, or it is settled or in conflict there."""
    if not stage_settings_of(review, stage).blind:
        return True
    return (
        Record.objects.filter(pk=record.pk)
        .filter(
            Exists(Vote.objects.filter(record=record, stage=stage, reviewer=user))
            | Exists(Outcome.objects.filter(record=record, stage=stage))
            | Exists(Conflict.objects.filter(record=record, stage=stage))
        )
        .exists()
    )


@dataclass
class ShownComment:
    """A comment as a page shows it: its parts (mentions marked) and what the reader may do."""

    comment: Comment
    parts: list[Part] = field(default_factory=list)
    can_edit: bool = False
    can_delete: bool = False


@dataclass
class Discussion:
    """What the discussion box of one record at one stage shows (``_record_discussion.html``)."""

    record: Record
    stage: str
    stage_label: str
    open: bool  # the reader reads others' comments
    comments: list[ShownComment]
    can_write: bool
    error: str = ""
    body: str = ""  # what the reader typed, kept when it was refused


def discussion_for(
    review: Review, user: User, record: Record, stage: str, *, can_write: bool, is_owner: bool
) -> Discussion:
    """The discussion of ``record`` at ``stage`` as ``user`` reads it (three queries: the
    rule, the comments, their mentions; two at a stage that is not blind)."""
    is_open = discussion_open_to(review, user, record, stage)
    qs = Comment.objects.filter(record=record, stage=stage)
    if not is_open:
        qs = qs.filter(author=user)
    shown = []
    for comment in (
        qs.select_related("author").prefetch_related("mentions").order_by("created_at", "id")
    ):
        mine = comment.author_id == user.pk
        live = comment.deleted_at is None
        names = {m.username.lower() for m in comment.mentions.all()}
        shown.append(
            ShownComment(
                comment=comment,
                parts=body_parts(comment.body, names) if live else [],
                can_edit=live and mine and can_write,
                can_delete=live and (mine and can_write or is_owner),
            )
        )
    return Discussion(
        record=record,
        stage=stage,
        stage_label=Stage(stage).label,
        open=is_open,
        comments=shown,
        can_write=can_write,
    )
