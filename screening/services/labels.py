"""Labels: owners define a review's labels; reviewers put them on records and take them off.

Checks come first (each raises the message a person reads, naming the field); writes only
write. Defining, changing and deleting a label is audited. Putting a label on a record is
not: an audit event on a record is read by every member in its history, and a label may
hint at its author's vote (blinding); the ``RecordLabel`` row keeps who and when. A bulk
action from the records list is audited once, on the label (owners read it), with its
counts and how the records were selected, never which records they are.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import Review
from reviewflow.reviews.services import record_audit
from screening.models import (
    LABEL_KEYS,
    Decision,
    Label,
    LabelColour,
    Outcome,
    Record,
    RecordLabel,
    SourceType,
    Stage,
)
from screening.selectors.labels import current_stage
from screening.selectors.screening import check_screener

NAME_MAX = 60
# Keys the screening page uses already: ``l`` opens the label picker, so a label's own key
# may be any of 1-9 and a-z (the picker reads the next key alone).
KEY_CHOICES = LABEL_KEYS


def _clean_name(name: str) -> str:
    return " ".join(name.split())


def check_label_fields(
    *, review: Review, name: str, colour: str, key: str, label: Label | None = None
) -> tuple[str, str, str]:
    """Validate a label's fields; return (name, colour, key) to store."""
    name = _clean_name(name)
    if not name:
        raise ReviewflowError("Give the label a name.", field="name")
    if len(name) > NAME_MAX:
        raise ReviewflowError(
            f"A label's name has at most {NAME_MAX} characters (this one has {len(name)}).",
            field="name",
        )
    colour = colour.strip().lower() or LabelColour.GREY
    if colour not in LabelColour.values:
        raise ReviewflowError(
            f"Unknown colour “{colour}”: choose one of {', '.join(LabelColour.values)}.",
            field="colour",
        )
    key = key.strip().lower()
    if key and key not in KEY_CHOICES:
        raise ReviewflowError(
            f"Unknown key “{key}”: a label's key is one digit 1-9 or one letter a-z.", field="key"
        )
    others = Label.objects.filter(review=review)
    if label is not None:
        others = others.exclude(pk=label.pk)
    same = [
        other for other in others.values_list("name", flat=True) if other.lower() == name.lower()
    ]
    if same:
        raise ReviewflowError(f"This review has a label named “{same[0]}” already.", field="name")
    if key:
        taken = others.filter(key=key).values_list("name", flat=True).first()
        if taken is not None:
            raise ReviewflowError(f"The key {key} is the label “{taken}”'s already.", field="key")
    return name, colour, key


def _saved(write: Any) -> Any:
    """Run ``write`` in a savepoint; a label created at the same moment with the same name
    or key (the database's unique constraints) is reported like the check's message."""
    try:
        with transaction.atomic():
            return write()
    except IntegrityError:
        raise ReviewflowError(
            "Another label with this name or key was saved at the same moment: reload and "
            "try again.",
            code="conflict",
        ) from None


def _fields(label: Label) -> dict[str, Any]:
    return {"name": label.name, "colour": label.colour, "key": label.key, "order": label.order}


def create_label(
    *, review: Review, actor: User, name: str, colour: str = "", key: str = ""
) -> Label:
    """A new label of ``review``, last in its order."""
    name, colour, key = check_label_fields(review=review, name=name, colour=colour, key=key)
    last = Label.objects.filter(review=review).aggregate(m=Max("order"))["m"]
    order = 0 if last is None else last + 1
    label: Label = _saved(
        lambda: Label.objects.create(review=review, name=name, colour=colour, key=key, order=order)
    )
    record_audit(
        review=review,
        actor=actor,
        action="label.created",
        target=label.name,
        after=_fields(label),
        object_type="label",
        object_id=label.pk,
    )
    return label


def update_label(
    *,
    label: Label,
    actor: User,
    name: str | None = None,
    colour: str | None = None,
    key: str | None = None,
    order: int | None = None,
) -> Label:
    """Change a label's name, colour, key or place in the order (fields left None stay)."""
    name, colour, key = check_label_fields(
        review=label.review,
        name=label.name if name is None else name,
        colour=label.colour if colour is None else colour,
        key=label.key if key is None else key,
        label=label,
    )
    if order is not None and not 0 <= order <= 32767:
        raise ReviewflowError("A label's order is a whole number from 0 to 32767.", field="order")
    before = _fields(label)
    label.name, label.colour, label.key = name, colour, key
    if order is not None:
        label.order = order
    _saved(lambda: label.save(update_fields=["name", "colour", "key", "order"]))
    if _fields(label) != before:
        record_audit(
            review=label.review,
            actor=actor,
            action="label.changed",
            target=label.name,
            before=before,
            after=_fields(label),
            object_type="label",
            object_id=label.pk,
        )
    return label


def delete_label(*, label: Label, actor: User) -> int:
    """Delete a label and take it off every record; return how many records carried it."""
    with transaction.atomic():
        records = label.applications.values("record_id").distinct().count()
        record_audit(
            review=label.review,
            actor=actor,
            action="label.deleted",
            target=label.name,
            before={**_fields(label), "records": records},
            object_type="label",
            object_id=label.pk,
        )
        label.delete()
    return records


def _check_application(
    *, review: Review, record: Record, label: Label, user: User, stage: str | None
) -> str:
    check_screener(review, user)
    if record.review_id != review.pk or label.review_id != review.pk:
        raise ReviewflowError("No such record or label in this review.", code="not_found")
    if stage is None or stage == "":
        return current_stage(record)
    if stage not in Stage.values:
        raise ReviewflowError(
            f"Unknown stage “{stage}”: use title-abstract or full-text.", field="stage"
        )
    return stage


def apply_label(
    *, review: Review, record: Record, label: Label, user: User, stage: str | None = None
) -> RecordLabel:
    """Put ``label`` on ``record`` as ``user``'s, at ``stage`` (by default the stage the
    record is screened at now). Applying it twice keeps one."""
    stage = _check_application(review=review, record=record, label=label, user=user, stage=stage)
    try:
        with transaction.atomic():
            applied, _ = RecordLabel.objects.get_or_create(
                record=record,
                label=label,
                stage=stage,
                applied_by=user,
                defaults={"review": review},
            )
    except IntegrityError:  # the same label put on at the same moment (a double key press)
        applied = RecordLabel.objects.get(record=record, label=label, stage=stage, applied_by=user)
    return applied


def remove_label(
    *, review: Review, record: Record, label: Label, user: User, stage: str | None = None
) -> bool:
    """Take ``user``'s ``label`` off ``record`` at ``stage``; False when it was not there.
    Nobody takes off another person's label."""
    stage = _check_application(review=review, record=record, label=label, user=user, stage=stage)
    deleted, _ = RecordLabel.objects.filter(
        record=record, label=label, stage=stage, applied_by=user
    ).delete()
    return bool(deleted)


def toggle_label(
    *, review: Review, record: Record, label: Label, user: User, stage: str | None = None
) -> bool:
    """Put ``label`` on, or take it off if ``user`` had put it on; True when it is now on."""
    if remove_label(review=review, record=record, label=label, user=user, stage=stage):
        return False
    apply_label(review=review, record=record, label=label, user=user, stage=stage)
    return True


def _current_stages(review: Review, records: QuerySet[Record]) -> dict[int, str]:
    """``current_stage`` of every record of ``records``, in one query."""
    passed = Outcome.objects.filter(
        record=OuterRef("pk"), stage=Stage.TITLE_ABSTRACT, decision=Decision.INCLUDE
    )
    at_full_text = records.filter(review=review).annotate(
        at_ft=Case(
            When(Q(search__source_type=SourceType.OTHER) | Exists(passed), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    )
    return {
        pk: Stage.FULL_TEXT if at_ft else Stage.TITLE_ABSTRACT
        for pk, at_ft in at_full_text.order_by().values_list("pk", "at_ft")
    }


def apply_label_in_bulk(
    *, review: Review, records: QuerySet[Record], label: Label, user: User, selection: str = ""
) -> tuple[int, int]:
    """Put ``label`` on every record of ``records`` as ``user``'s, each at the stage it is
    screened at now; all or nothing. Returns (records selected, records that did not carry
    it yet). One audit event on the label says who, how many and how they were selected
    (``selection``); which records stays in the ``RecordLabel`` rows, as for one label
    (an event per record would show a colleague's label in the record's history)."""
    check_screener(review, user)
    if label.review_id != review.pk:
        raise ReviewflowError("No such label in this review.", field="label", code="not_found")
    with transaction.atomic():
        stages = _current_stages(review, records)
        had = set(
            RecordLabel.objects.filter(
                label=label, applied_by=user, record_id__in=records.values("pk")
            ).values_list("record_id", "stage")
        )
        new = [
            RecordLabel(review=review, record_id=pk, label=label, stage=stage, applied_by=user)
            for pk, stage in stages.items()
            if (pk, stage) not in had
        ]
        # ``ignore_conflicts``: a label put on one of them at the same moment stays one.
        RecordLabel.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
        record_audit(
            review=review,
            actor=user,
            action="label.applied_in_bulk",
            target=label.name,
            after={"records": len(stages), "added": len(new), "selection": selection},
            object_type="label",
            object_id=label.pk,
        )
    return len(stages), len(new)


def remove_label_in_bulk(
    *, review: Review, records: QuerySet[Record], label: Label, user: User, selection: str = ""
) -> tuple[int, int]:
    """Take ``user``'s ``label`` off every record of ``records`` (at every stage); others'
    labels stay. Returns (records selected, records it was taken off). One audit event."""
    check_screener(review, user)
    if label.review_id != review.pk:
        raise ReviewflowError("No such label in this review.", field="label", code="not_found")
    with transaction.atomic():
        ids = list(records.filter(review=review).order_by().values_list("pk", flat=True))
        mine = RecordLabel.objects.filter(label=label, applied_by=user, record_id__in=ids)
        taken_off = mine.values("record_id").distinct().count()
        mine.delete()
        record_audit(
            review=review,
            actor=user,
            action="label.removed_in_bulk",
            target=label.name,
            after={"records": len(ids), "removed": taken_off, "selection": selection},
            object_type="label",
            object_id=label.pk,
        )
    return len(ids), taken_off
