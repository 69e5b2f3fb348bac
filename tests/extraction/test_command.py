"""The exportextraction command: CSV, XLSX and JSON files, and its failures."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import zipfile

import pytest
from django.core.management import CommandError, call_command
from openpyxl import load_workbook

from extraction.services.extractions import start_extraction, submit_extraction
from tests.extraction.helpers import GOOD, included_records, published_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def form(review, owner, reviewer, reviewer2):
    """One study settled with one extractor per study (the submission is the consensus)."""
    records = included_records(review, owner, (reviewer, reviewer2), n=1)
    form = published_form(review, owner, extractors=1)
    extraction = start_extraction(form=form, record=records[0], extractor=reviewer)
    submit_extraction(extraction=extraction, actor=reviewer, values={**GOOD, "country": "+SUM(A1)"})
    return form


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("exportextraction", *args, stdout=out)
    return out.getvalue()


def test_csv_to_stdout_is_the_studies_table(form):
    out = io.StringIO()
    # The CSV goes to sys.stdout; call_command's stdout is for messages.
    with contextlib.redirect_stdout(out):
        call_command("exportextraction", "msc-t2d")
    table = list(csv.reader(io.StringIO(out.getvalue())))
    assert table[0][:2] == ["study_id", "title"]
    assert table[1][8] == "'+SUM(A1)"
    assert len(table) == 2


def test_csv_files_beside_the_output(form, tmp_path):
    target = tmp_path / "data.csv"
    printed = run("msc-t2d", "-o", str(target))
    arms = tmp_path / "data_arms.csv"
    assert printed.splitlines() == [
        str(target),
        str(arms),
        "Exported 1 studies (final consensus) from 1 form.",
    ]
    assert list(csv.reader(arms.open()))[1][2:] == ["MSC", "20", "7.1"]


def test_csv_zip(form, tmp_path):
    target = tmp_path / "data.zip"
    run("msc-t2d", "--format", "csv", "-o", str(target))
    with zipfile.ZipFile(target) as archive:
        assert archive.namelist() == ["data.csv", "data_arms.csv"]


def test_xlsx_and_json(form, tmp_path):
    run("msc-t2d", "--format", "xlsx", "-o", str(tmp_path / "x.xlsx"))
    assert load_workbook(tmp_path / "x.xlsx").sheetnames == ["Studies", "Arms"]
    run("msc-t2d", "--format", "json", "-o", str(tmp_path / "x.json"), "--form", "Trial data")
    data = json.loads((tmp_path / "x.json").read_text())
    assert data["forms"][0]["studies"][0]["values"]["country"] == "+SUM(A1)"


def test_one_extractors_data(form, tmp_path):
    printed = run("msc-t2d", "--extractor", "rachel", "-o", str(tmp_path / "r.csv"))
    assert "Exported 1 studies (rachel's extractions) from 1 form." in printed
    printed = run("msc-t2d", "--extractor", "roberto", "-o", str(tmp_path / "o.csv"))
    assert "Exported 0 studies" in printed


@pytest.mark.parametrize(
    "args,message",
    [
        (["nope"], "No review with the slug “nope”."),
        (["msc-t2d", "--extractor", "oscar"], "No member named “oscar” in this review."),
        (["msc-t2d", "--form", "Baseline"], "No published form “Baseline” in this review"),
        (["msc-t2d", "--format", "xlsx"], "XLSX is a binary file: give -o FILE.xlsx."),
        (["msc-t2d", "-o", "/nonexistent-dir/x.csv"], "Cannot write"),
    ],
)
def test_failures_exit_with_a_clear_message(form, outsider, args, message):
    with pytest.raises(CommandError) as info:
        call_command("exportextraction", *args, stdout=io.StringIO())
    assert message in str(info.value)


def test_no_published_form(review):
    with pytest.raises(CommandError, match="This review has no published extraction form."):
        call_command("exportextraction", "msc-t2d", stdout=io.StringIO())
