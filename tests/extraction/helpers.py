"""A review with included studies and a published form with a table, for extraction tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from extraction.models import Form
from extraction.services.forms import create_form, publish_form
from extraction.spec import ColumnSpec, FieldSpec, FormSpec, SectionSpec
from screening.models import Record
from tests.screening.screening_fixtures import import_records, vote

ARMS = FieldSpec(
    key="arms",
    label="Arms",
    kind="table",
    columns=(
        ColumnSpec(key="arm", label="Arm", kind="short_text", required=True),
        ColumnSpec(key="n", label="Participants", kind="integer", min=Decimal(0)),
        ColumnSpec(key="mean", label="Mean HbA1c", kind="decimal", unit="%"),
    ),
)
FIELDS = (
    FieldSpec(
        key="design",
        label="Design",
        kind="single_choice",
        required=True,
        choices=("RCT", "Cohort", "Case series"),
    ),
    FieldSpec(
        key="sample_size", label="Sample size", kind="integer", required=True, min=Decimal(1)
    ),
    FieldSpec(key="country", label="Country", kind="short_text"),
    FieldSpec(key="dose", label="Dose", kind="decimal", unit="10^6 cells/kg"),
    FieldSpec(key="blinded", label="Blinded", kind="boolean"),
    FieldSpec(key="start", label="Start date", kind="date"),
    FieldSpec(
        key="outcomes",
        label="Outcomes",
        kind="multiple_choice",
        choices=("HbA1c", "Insulin dose", "C-peptide"),
    ),
    ARMS,
)


def spec(*, extractors: int = 2, title: str = "Trial data", fields: tuple = FIELDS) -> FormSpec:
    return FormSpec(
        title=title,
        extractors_needed=extractors,
        sections=(SectionSpec(title="Study", fields=fields),),
    )


def include(review: Any, record: Record, *reviewers: Any) -> None:
    """Both reviewers include the record at title/abstract and at full text."""
    for stage in ("title-abstract", "full-text"):
        for user in reviewers:
            vote(review, record, user, "include", stage=stage)


def included_records(
    review: Any, owner: Any, reviewers: tuple[Any, Any], n: int = 2
) -> list[Record]:
    """``n`` included studies out of ``n + 1`` imported records (the last one is not)."""
    records = import_records(review, owner, n + 1)
    for record in records[:n]:
        include(review, record, *reviewers)
    return records


def published_form(review: Any, owner: Any, **kwargs: Any) -> Form:
    draft = create_form(review=review, actor=owner, spec=spec(**kwargs))
    return publish_form(form=draft, actor=owner)


GOOD = {
    "design": "RCT",
    "sample_size": "40",
    "country": "Spain",
    "dose": "1.50",
    "blinded": "yes",
    "start": "2019-03-01",
    "outcomes": ["C-peptide", "HbA1c"],
    "arms": [{"arm": "MSC", "n": 20, "mean": "7.1"}, {"arm": "Placebo", "n": 20, "mean": "8.0"}],
}
