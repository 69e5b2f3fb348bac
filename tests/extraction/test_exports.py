"""Exports of extraction data: CSV (studies + long tables), XLSX, JSON; formula-safe."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from extraction.exports import (
    build_export,
    csv_files,
    export_json,
    select_forms,
    write_csv_zip,
    write_json,
    write_studies_csv,
    write_xlsx,
)
from extraction.services.consensus import consensus_for, save_consensus
from extraction.services.extractions import start_extraction, submit_extraction
from extraction.services.forms import new_form_version, publish_form
from reviewflow.errors import ReviewflowError
from screening.models import EditorialNotice
from tests.extraction.helpers import GOOD, included_records, published_form, spec

pytestmark = pytest.mark.django_db

EVIL = "=cmd()"


@pytest.fixture
def records(review, owner, reviewer, reviewer2):
    return included_records(review, owner, (reviewer, reviewer2))


@pytest.fixture
def settled(review, owner, reviewer, reviewer2, records):
    """Study 1 settled by consensus (the adjudicator typed a formula-looking country);
    study 2 submitted by both, consensus not final yet."""
    form = published_form(review, owner)
    for record, country in ((records[0], "Spain"), (records[1], "Chile")):
        for user in (reviewer, reviewer2):
            extraction = start_extraction(form=form, record=record, extractor=user)
            submit_extraction(
                extraction=extraction, actor=user, values={**GOOD, "country": country}
            )
    consensus = consensus_for(form=form, record=records[0])
    save_consensus(
        form=form,
        record=records[0],
        actor=owner,
        values={**consensus.values, "country": EVIL},
        final=True,
    )
    return form


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_csv_has_one_row_per_settled_study_and_a_long_table(review, settled, records):
    export = build_export(review=review, forms=[settled])
    files = dict(csv_files(export, "trial"))
    assert list(files) == ["trial.csv", "trial_arms.csv"]
    studies = rows(files["trial.csv"])
    assert studies[0] == [
        "study_id",
        "title",
        "first_author",
        "year",
        "doi",
        "pmid",
        "design",
        "sample_size",
        "country",
        "dose",
        "blinded",
        "start",
        "outcomes",
        "notice_kind",
        "notice_doi",
        "notice_date",
    ]
    record = records[0]
    assert studies[1:] == [
        [
            str(record.pk),
            record.title,
            record.first_author,
            str(record.year),
            record.doi,
            "",
            "RCT",
            "40",
            "'=cmd()",
            "1.5",
            "yes",
            "2019-03-01",
            "HbA1c; C-peptide",
            "",
            "",
            "",
        ]
    ]
    assert rows(files["trial_arms.csv"]) == [
        ["study_id", "row", "arm", "n", "mean"],
        [str(record.pk), "1", "MSC", "20", "7.1"],
        [str(record.pk), "2", "Placebo", "20", "8"],
    ]


def test_studies_csv_to_a_stream_and_zip(review, settled):
    export = build_export(review=review, forms=[settled])
    out = io.StringIO()
    assert write_studies_csv(export, out) == 1
    assert "'=cmd()" in out.getvalue()
    archive = io.BytesIO()
    assert write_csv_zip(export, archive, "data") == ["data.csv", "data_arms.csv"]
    with zipfile.ZipFile(archive) as z:
        assert rows(z.read("data_arms.csv").decode())[1][2] == "MSC"


def test_xlsx_has_a_sheet_of_studies_and_one_per_table(review, settled, records):
    out = io.BytesIO()
    write_xlsx(build_export(review=review, forms=[settled]), out)
    workbook = load_workbook(io.BytesIO(out.getvalue()))
    assert workbook.sheetnames == ["Studies", "Arms"]
    studies = list(workbook["Studies"].values)
    assert studies[1][0] == records[0].pk
    assert studies[1][7] == 40
    assert studies[1][8] == "'=cmd()"
    assert workbook["Studies"].cell(row=2, column=9).data_type == "s"
    assert studies[1][9] == 1.5  # a number, not text
    assert studies[1][11] == dt.datetime(2019, 3, 1)
    assert list(workbook["Arms"].values)[1:] == [
        (records[0].pk, 1, "MSC", 20, 7.1),
        (records[0].pk, 2, "Placebo", 20, 8),
    ]


def test_json_nests_forms_studies_and_values(review, settled, records):
    out = io.StringIO()
    write_json(build_export(review=review, forms=[settled]), out)
    data = json.loads(out.getvalue())
    assert (data["review"], data["data"], data["extractor"]) == ("msc-t2d", "consensus", None)
    (form,) = data["forms"]
    assert (form["title"], form["version"]) == ("Trial data", 1)
    assert form["spec"]["sections"][0]["fields"][0]["key"] == "design"
    (study,) = form["studies"]
    assert (study["study_id"], study["status"]) == (records[0].pk, "final")
    assert study["values"]["country"] == EVIL  # JSON keeps the value as typed
    assert study["values"]["arms"][1] == {"arm": "Placebo", "n": 20, "mean": "8"}


def test_one_extractors_submitted_data(review, settled, reviewer2, records):
    export = build_export(review=review, forms=[settled], extractor=reviewer2)
    studies = rows(dict(csv_files(export, "x"))["x.csv"])
    assert [(r[0], r[8]) for r in studies[1:]] == [
        (str(records[0].pk), "Spain"),
        (str(records[1].pk), "Chile"),
    ]


def test_several_forms_get_files_and_sheets_of_their_own(review, owner, settled):
    published_form(review, owner, title="Baseline", fields=spec().sections[0].fields[:3])
    forms = select_forms(review)
    assert [f.title for f in forms] == ["Baseline", "Trial data"]
    export = build_export(review=review, forms=forms)
    assert [name for name, _ in csv_files(export, "all")] == [
        "all_baseline.csv",
        "all_trial_data.csv",
        "all_trial_data_arms.csv",
    ]
    with pytest.raises(ReviewflowError, match="This review has 2 published forms"):
        write_studies_csv(export, io.StringIO())
    out = io.BytesIO()
    write_xlsx(export, out)
    assert load_workbook(io.BytesIO(out.getvalue())).sheetnames == [
        "Baseline",
        "Trial data",
        "Trial data Arms",
    ]


def test_select_forms_by_title_id_and_version(review, owner, settled):
    assert select_forms(review, "trial DATA") == [settled]
    assert select_forms(review, str(settled.pk)) == [settled]
    assert select_forms(review, str(settled.family)) == [settled]
    v2 = publish_form(form=new_form_version(form=settled, actor=owner), actor=owner)
    assert select_forms(review, "Trial data") == [v2]
    settled.refresh_from_db()
    assert select_forms(review, "Trial data@1") == [settled]
    with pytest.raises(ReviewflowError) as info:
        select_forms(review, "Outcomes")
    assert (
        str(info.value) == "No published form “Outcomes” in this review (its forms: “Trial data”)."
    )
    with pytest.raises(ReviewflowError, match="has no published version 7"):
        select_forms(review, "Trial data@7")


def test_no_published_form_is_an_error(review):
    with pytest.raises(ReviewflowError) as info:
        select_forms(review)
    assert str(info.value) == "This review has no published extraction form."


def test_decimal_cells_are_numbers(review, settled):
    export = build_export(review=review, forms=[settled])
    assert export.forms[0].studies.rows[0][9] == Decimal("1.5")


def test_every_export_carries_the_retraction_and_correction_notices_of_a_study(
    review, settled, records
):
    record = records[0]
    # A notice DOI typed to look like a formula stays text in every spreadsheet.
    for kind, doi, date in [
        ("correction", '=HYPERLINK("x")', dt.date(2020, 5, 30)),
        ("retraction", "10.1016/s0140-6736(20)31324-6", dt.date(2020, 6, 5)),
    ]:
        EditorialNotice.objects.create(
            review=review, record=record, kind=kind, notice_doi=doi, notice_date=date
        )
    export = build_export(review=review, forms=[settled])
    studies = rows(dict(csv_files(export, "trial"))["trial.csv"])
    row = dict(zip(studies[0], studies[1], strict=True))
    assert (row["notice_kind"], row["notice_doi"], row["notice_date"]) == (
        "correction; retraction",
        '\'=HYPERLINK("x"); 10.1016/s0140-6736(20)31324-6',
        "2020-05-30; 2020-06-05",
    )
    out = io.StringIO()
    write_studies_csv(export, out)
    assert rows(out.getvalue())[1] == studies[1]
    book = io.BytesIO()
    write_xlsx(export, book)
    sheet = load_workbook(io.BytesIO(book.getvalue())).worksheets[0]
    cells = [[c.value for c in line] for line in sheet.iter_rows()]
    assert cells[0][-3:] == ["notice_kind", "notice_doi", "notice_date"]
    assert cells[1][-3:-1] == ["correction; retraction", row["notice_doi"]]
    (study,) = export_json(export)["forms"][0]["studies"]
    assert study["notices"] == [
        {"kind": "correction", "doi": '=HYPERLINK("x")', "date": "2020-05-30"},
        {"kind": "retraction", "doi": "10.1016/s0140-6736(20)31324-6", "date": "2020-06-05"},
    ]
