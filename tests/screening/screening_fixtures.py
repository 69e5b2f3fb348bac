"""A review with imported records, ready to screen."""

from __future__ import annotations

from typing import Any

from screening.models import Record
from screening.services import identification
from screening.services.screening.votes import cast_vote
from tests.screening.factories import ris_records, upload


def import_records(review: Any, owner: Any, n: int, name: str = "s.ris") -> list[Record]:
    search = identification.create_search(
        review=review,
        actor=owner,
        file=upload(ris_records(n, prefix=f"Trial {name}"), name),
        filename=name,
        source="PubMed",
    )
    identification.run_import(search_id=search.pk)
    return list(Record.objects.filter(search=search).order_by("position"))


def vote(
    review: Any,
    record: Record,
    user: Any,
    decision: str,
    stage: str = "title-abstract",
    reason: str = "",
    note: str = "",
) -> Any:
    return cast_vote(
        review=review,
        record=record,
        reviewer=user,
        stage=stage,
        decision=decision,
        reason=reason,
        note=note,
    )
