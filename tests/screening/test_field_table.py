"""One table of bibliographic fields (``screening.bibliography``) drives every list of them:
the import's columns and cuts, the API's record fields, the export columns and what
deduplication reads. ``Record`` and ``ParsedRecord`` spell the fields out; they agree with
the table on every name, kind and length."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import orjson
import pytest

from screening import bibliography
from screening.bibliography import FIELDS, NAMES, Field, Kind
from screening.exporters import write_bibtex, write_csv, write_ris
from screening.importers import ParsedRecord, parse_file
from screening.importers.base import NORMALISED_FIELDS, as_dict
from screening.importers.bibtex import parse_bibtex
from screening.importers.tabular import FIELD_NAMES as COLUMN_MAP_NAMES

REPO = Path(__file__).resolve().parents[2]

# Columns of ``Record`` that are not bibliographic: where a record came from, what became
# of it. A new bibliographic field belongs in the table instead.
RECORD_OWN_COLUMNS = {
    "id",
    "review",
    "search",
    "position",
    "line",
    "source_record_id",
    "incomplete",
    "raw",
    "duplicate_of",
    "merge_kind",
    "filled_from",
    "created_at",
}
PARSED_RECORD_OWN = {"line", "record_id", "raw", "warnings"}

# One record with every field of the table filled, as an export reads it. The publication
# type is a BibTeX entry type, the one kind of type that BibTeX can carry.
FULL_RECORD: dict[str, Any] = {
    "id": 7,
    "title": "Mesenchymal stromal cells in type 2 diabetes: a randomised trial",
    "abstract": "Background: cells were given. Methods: 200 adults. Results: HbA1c fell.",
    "authors": ["Smith, Jane", "Doe, John"],
    "year": 2020,
    "journal": "Diabetes Care",
    "volume": "43",
    "issue": "2",
    "pages": "123-130",
    "doi": "10.2337/dc19-1234",
    "pmid": "31234567",
    "pmcid": "PMC7654321",
    "issn": "0149-5992",
    "isbn": "9780123456789",
    "keywords": ["Stem Cells", "Diabetes Mellitus, Type 2"],
    "language": "eng",
    "publication_type": "article",
    "url": "https://example.org/articles/7",
}


# ------------------------------------------------------------------------ the table


def test_the_table_names_each_field_once_with_a_label():
    assert len(set(NAMES)) == len(NAMES) == len(FIELDS)
    assert all(f.label for f in FIELDS)
    assert set(FULL_RECORD) - {"id"} == set(NAMES)  # this test's record covers the table


def test_only_short_text_has_a_maximum_length():
    with pytest.raises(ValueError, match="edition: a maximum length is for short text"):
        Field("edition", "Edition", Kind.TEXT, 50)
    with pytest.raises(ValueError, match="edition: a maximum length is for short text"):
        Field("edition", "Edition", Kind.SHORT_TEXT)
    with pytest.raises(ValueError, match="edition: an opening to match, but the field is not"):
        Field("edition", "Edition", Kind.TEXT, match_opening=10)


def test_an_empty_field_is_what_a_source_that_did_not_give_it_leaves():
    empties = {f.name: f.empty for f in FIELDS}

    assert empties == {name: getattr(ParsedRecord(1, "r", {}), name) for name in NAMES}
    assert bibliography.BY_NAME["authors"].empty is not bibliography.BY_NAME["authors"].empty


# ----------------------------------------------- the classes that spell the fields out


@pytest.mark.django_db
def test_record_model_agrees_with_the_table_on_every_field():
    from django.db import models

    from screening.models import Record

    own = [f.name for f in Record._meta.concrete_fields if f.name not in RECORD_OWN_COLUMNS]
    assert own == list(NAMES)
    model_type = {
        Kind.TEXT: models.TextField,
        Kind.SHORT_TEXT: models.CharField,
        Kind.LIST: models.JSONField,
        Kind.INTEGER: models.PositiveSmallIntegerField,
    }
    for field in FIELDS:
        column = Record._meta.get_field(field.name)
        assert type(column) is model_type[field.kind], field.name
        assert column.max_length == field.max_length, field.name
        assert column.blank, field.name
        assert column.get_default() == field.empty, field.name


def test_parsed_record_agrees_with_the_table_on_every_field():
    annotation = {
        Kind.TEXT: "str",
        Kind.SHORT_TEXT: "str",
        Kind.LIST: "list[str]",
        Kind.INTEGER: "int | None",
    }
    own = [f for f in dataclasses.fields(ParsedRecord) if f.name not in PARSED_RECORD_OWN]

    assert [f.name for f in own] == list(NAMES)
    assert {f.name: f.type for f in own} == {f.name: annotation[f.kind] for f in FIELDS}


def test_the_matching_engine_reads_only_fields_the_table_marks_as_matched():
    # The pure engine declares its own record type; it must compare what the table says.
    from screening.services import dedup

    engine_fields = {f.name for f in dataclasses.fields(dedup.MatchRecord)} - {"id"}
    assert engine_fields == {f.name for f in bibliography.MATCHED}


# --------------------------------------------------------- what derives from the table


def test_importers_fill_and_column_maps_offer_the_table_fields():
    record = ParsedRecord(1, "r", {}, title="T", year=2001)

    assert NORMALISED_FIELDS == NAMES
    assert (*NAMES, "record_id") == COLUMN_MAP_NAMES
    assert list(as_dict(record)) == list(NAMES)


def test_record_values_cut_each_short_text_to_the_table_length_by_default():
    from screening.importers import pipeline

    record = ParsedRecord(line=3, record_id="r", raw={"TI": ["x"]})
    for field in FIELDS:
        if field.kind in (Kind.TEXT, Kind.SHORT_TEXT):
            setattr(record, field.name, "x" * 2000)
    record.authors, record.keywords, record.year = ["Smith, J"], ["k"], 2020

    values = dict(zip(pipeline.VALUE_COLUMNS, pipeline.record_values(record, 1), strict=True))

    for field in FIELDS:
        if field.kind is Kind.SHORT_TEXT:
            assert len(values[field.name]) == field.max_length, field.name
        elif field.kind is Kind.TEXT:
            assert len(values[field.name]) == 2000, field.name
        elif field.kind is Kind.LIST:
            assert orjson.loads(values[field.name]) == getattr(record, field.name)
    assert values["year"] == 2020


@pytest.mark.django_db
def test_an_import_writes_every_column_of_a_record():
    from screening.models import Record
    from screening.services import identification

    # A new record is nobody's duplicate: its ``duplicate_of`` stays NULL.
    assert set(identification.RECORD_COLUMNS) == {
        f.attname for f in Record._meta.concrete_fields if f.name not in ("id", "duplicate_of")
    }
    assert len(identification.RECORD_COLUMNS) == len(set(identification.RECORD_COLUMNS))


def test_api_lists_the_listed_fields_and_details_all():
    from screening.api.identification import RecordDetailSerializer, RecordSerializer

    listed = [n for n in RecordSerializer.Meta.fields if n in NAMES]
    detail = [n for n in RecordDetailSerializer.Meta.fields if n in NAMES]

    assert listed == [f.name for f in FIELDS if f.listed]
    assert sorted(detail) == sorted(NAMES)


@pytest.mark.django_db
def test_record_list_api_reads_no_detail_only_column(client_for, owner):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reviewflow.reviews.services import create_review
    from screening.services import identification
    from tests.screening.factories import ris_records, upload

    review = create_review(title="Fields", slug="fields", owner=owner)
    search = identification.create_search(
        review=review, actor=owner, file=upload(ris_records(2)), filename="a.ris", source="X"
    )
    identification.run_import(search_id=search.pk)
    with CaptureQueriesContext(connection) as queries:
        response = client_for(owner).get("/api/v1/reviews/fields/records/")

    assert response.status_code == 200 and response.json()["count"] == 2
    record_reads = [q["sql"] for q in queries if 'FROM "screening_record"' in q["sql"]]
    assert record_reads
    for name in bibliography.DETAIL_ONLY:
        assert all(f'"screening_record"."{name}"' not in sql for sql in record_reads), name


def test_export_columns_are_the_table_fields_between_id_and_provenance():
    from screening.selectors.identification import EXPORT_COLUMNS

    provenance = ("source", "record_id", "duplicate_of", "reason")
    assert ("id", *NAMES, *provenance) == EXPORT_COLUMNS


def test_deduplication_reads_the_matched_fields_and_only_the_opening_of_long_ones():
    from django.db.models.functions import Substr

    from screening.services import dedup

    assert ("id", *(f.name for f in bibliography.MATCHED)) == dedup.MATCH_FIELDS
    for field, column in zip(bibliography.MATCHED, dedup.MATCH_COLUMNS[1:], strict=True):
        if field.match_opening:
            assert isinstance(column, Substr), field.name
        else:
            assert column == field.name


@pytest.mark.parametrize("fmt", ["ris", "bibtex", "csv"])
def test_every_field_of_the_table_survives_an_export_and_an_import(fmt):
    from screening.selectors.identification import EXPORT_COLUMNS

    out = io.StringIO()
    if fmt == "ris":
        write_ris([FULL_RECORD], out)
    elif fmt == "bibtex":
        write_bibtex([FULL_RECORD], out)
    else:
        write_csv([FULL_RECORD], out, columns=EXPORT_COLUMNS)
    if fmt == "bibtex":
        results = list(parse_bibtex(out.getvalue()))
    else:
        results = list(parse_file(io.BytesIO(out.getvalue().encode())).results)

    [back] = results
    assert isinstance(back, ParsedRecord)
    assert as_dict(back) == {name: FULL_RECORD[name] for name in NAMES}


# ------------------------------------------------- a changed table changes everything

# Run in a fresh interpreter: the table is read once, when the modules are imported.
_CHANGED_TABLE = textwrap.dedent(
    """
    import dataclasses, json, sys, types
    from pathlib import Path

    import screening

    def changed(*rows):
        # The table with a new matched field, one field gone, one field no longer listed.
        Field, kind = type(rows[0]), type(rows[0].kind)
        kept = [
            dataclasses.replace(row, listed=False) if row.name == "pmcid" else row
            for row in rows
            if row.name != "language"
        ]
        return (*kept, Field("edition", "Edition", kind("short text"), 50, matched=True))

    path = Path(screening.__file__).with_name("bibliography.py")
    source = path.read_text()
    assert source.count("FIELDS: tuple[Field, ...] = (") == 1
    source = source.replace("FIELDS: tuple[Field, ...] = (", "FIELDS: tuple[Field, ...] = changed(")
    module = types.ModuleType("screening.bibliography")
    module.__file__ = str(path)
    module.changed = changed
    sys.modules["screening.bibliography"] = screening.bibliography = module
    exec(compile(source, str(path), "exec"), module.__dict__)

    import django

    django.setup()

    from screening.api.identification import RecordDetailSerializer, RecordSerializer
    from screening.importers import ParsedRecord, base, pipeline, tabular
    from screening.selectors.identification import EXPORT_COLUMNS
    from screening.services import dedup, identification

    record = ParsedRecord(line=1, record_id="r", raw={})
    record.edition = "2nd edition, revised and much enlarged by its many grateful readers"
    values = dict(zip(pipeline.VALUE_COLUMNS, pipeline.record_values(record, 1), strict=True))
    print(json.dumps({
        "normalised": base.NORMALISED_FIELDS,
        "column_map": tabular.FIELD_NAMES,
        "value_columns": pipeline.VALUE_COLUMNS,
        "edition_value": values["edition"],
        "record_columns": identification.RECORD_COLUMNS,
        "api_list": RecordSerializer.Meta.fields,
        "api_detail": RecordDetailSerializer.Meta.fields,
        "export_columns": EXPORT_COLUMNS,
        "match_fields": dedup.MATCH_FIELDS,
    }))
    """
)


def test_a_field_added_to_the_table_reaches_every_list_and_one_removed_leaves_them():
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="reviewflow.settings_test")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", _CHANGED_TABLE],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lists = json.loads(done.stdout)
    names = [n for n in NAMES if n != "language"] + ["edition"]

    assert lists["normalised"] == names
    assert lists["column_map"] == [*names, "record_id"]
    assert "edition" in lists["value_columns"] and "language" not in lists["value_columns"]
    assert lists["edition_value"] == "2nd edition, revised and much enlarged by its many "[:50]
    assert lists["record_columns"][3:-1] == lists["value_columns"]
    assert [n for n in lists["api_list"] if n in names] == [
        n for n in names if n not in ("pmcid", *bibliography.DETAIL_ONLY)
    ]
    assert {"pmcid", "edition"} <= set(lists["api_detail"])
    assert "language" not in lists["api_detail"]
    assert lists["export_columns"] == [
        "id",
        *names,
        "source",
        "record_id",
        "duplicate_of",
        "reason",
    ]
    matched = {f.name for f in bibliography.MATCHED} | {"edition"}
    assert lists["match_fields"] == ["id", *(n for n in names if n in matched)]
