"""The import service end to end (tasks run eagerly here; see test_import_worker.py for a
real worker)."""

from __future__ import annotations

import gzip
import re

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from reviewflow.errors import ReviewflowError
from reviewflow.reviews.models import AuditEvent
from screening.importers import ParsedRecord, parse_file
from screening.models import Record, Search, SearchStatus
from screening.services import identification
from tests.conftest import needs_postgresql
from tests.screening.factories import ris_records, upload
from tests.shared_data import shared_path

pytestmark = pytest.mark.django_db


def create(review, owner, text, name="export.ris", **kw):
    return identification.create_search(
        review=review,
        actor=owner,
        file=upload(text, name),
        filename=name,
        source=kw.pop("source", "PubMed"),
        **kw,
    )


def test_real_ris_file_imports_every_record(
    review, owner, django_capture_on_commit_callbacks, parser
):
    path = shared_path(
        "exports", "citesource-gambling-harms", "20221207_gambling-harms_scopus_255.ris"
    )
    expected = len(re.findall(rb"^ER  -", path.read_bytes(), flags=re.M))
    with django_capture_on_commit_callbacks(execute=True):
        search = create(review, owner, path.read_bytes(), path.name, source="Scopus")
    search.refresh_from_db()
    assert search.status == SearchStatus.DONE
    assert (search.records_read, search.records_imported, search.records_rejected) == (
        expected,
        expected,
        0,
    )
    assert Record.objects.for_review(review).count() == expected == 255
    first = Record.objects.get(search=search, position=1)
    assert first.title and first.authors and first.line == 1
    assert AuditEvent.objects.filter(review=review, action="search.imported").get().after == {
        "read": 255,
        "imported": 255,
        "rejected": 0,
        "format": "ris",
    }


@pytest.mark.parametrize(
    "relative",
    [
        ("citesource-gambling-harms", "20221207_gambling-harms_lens_49.ris"),
        ("pybtexnbib", "marcelis-20301770.nbib"),
    ],
    ids=["lens.ris", "marcelis.nbib"],
)
def test_stored_records_equal_the_parsed_ones_with_raw_tags_in_file_order(
    review, owner, django_capture_on_commit_callbacks, relative, parser
):
    path = shared_path("exports", *relative)
    with django_capture_on_commit_callbacks(execute=True):
        search = create(review, owner, path.read_bytes(), path.name, source="Lens")
    with path.open("rb") as stream:
        parsed = [r for r in parse_file(stream).results if isinstance(r, ParsedRecord)]
    stored = list(Record.objects.filter(search=search).order_by("position"))

    assert len(stored) == len(parsed) > 0
    for record, source in zip(stored, parsed, strict=True):
        # Every original field, values and tag order exactly as read (a jsonb column
        # would have put the tags in its own order).
        assert list(record.raw.items()) == list(source.raw.items())
        assert (record.line, record.title, record.abstract, record.authors, record.keywords) == (
            source.line,
            source.title,
            source.abstract,
            source.authors,
            source.keywords,
        )


def test_long_record_columns_are_text_and_lz4_compressed_where_postgresql_has_lz4(db):
    needs_postgresql()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        # A server built without lz4 keeps its default compression ("" in pg_attribute).
        method = "l" if cursor.fetchone()[0] else ""
        cursor.execute(
            "SELECT attname, attcompression, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'screening_record'::regclass AND attname IN ('raw', 'abstract') "
            "ORDER BY attname"
        )
        assert cursor.fetchall() == [("abstract", method, "text"), ("raw", method, "text")]


def test_task_run_twice_keeps_each_record_once(
    review, owner, django_capture_on_commit_callbacks, parser
):
    with django_capture_on_commit_callbacks(execute=True):
        search = create(review, owner, ris_records(2 * identification.BATCH_SIZE + 500))
    again = identification.run_import(search_id=search.pk)
    assert again.status == SearchStatus.DONE
    assert Record.objects.filter(search=search).count() == 2 * identification.BATCH_SIZE + 500


def test_interrupted_import_is_redone_cleanly(review, owner, parser):
    n = 3 * identification.BATCH_SIZE + 500
    search = create(review, owner, ris_records(n))  # queued, not run (no on_commit here)

    class WorkerDied(BaseException):
        pass

    def die(s):
        raise WorkerDied

    with pytest.raises(WorkerDied):
        identification.run_import(search_id=search.pk, on_batch=die)
    search.refresh_from_db()
    assert search.status == SearchStatus.RUNNING
    assert Record.objects.filter(search=search).count() == identification.BATCH_SIZE  # one batch…
    assert Record.objects.for_review(review).count() == 0  # …but shown nowhere
    done = identification.run_import(search_id=search.pk)  # the task is delivered again
    assert (done.status, done.attempt) == (SearchStatus.DONE, 2)
    assert Record.objects.filter(search=search).count() == n
    positions = list(Record.objects.filter(search=search).values_list("position", flat=True))
    assert sorted(positions) == list(range(1, n + 1))


def test_superseded_run_stops_without_writing(review, owner, parser):
    search = create(review, owner, ris_records(2 * identification.BATCH_SIZE + 500))

    def another_worker_takes_over(s):
        # A second delivery of the task claims the search while this run is half-way.
        Search.objects.filter(pk=s.pk).update(attempt=s.attempt + 1)

    identification.run_import(search_id=search.pk, on_batch=another_worker_takes_over)
    assert Record.objects.filter(search=search).count() == identification.BATCH_SIZE  # left over
    final = identification.run_import(search_id=search.pk)
    assert Record.objects.filter(search=final).count() == 2 * identification.BATCH_SIZE + 500


def test_rejections_are_counted_with_line_and_reason(
    review, owner, django_capture_on_commit_callbacks, parser
):
    text = ris_records(2) + "\nTY  - JOUR\nPY  - 2020\nER  - \n\n" + ris_records(1, start=3)
    with django_capture_on_commit_callbacks(execute=True):
        search = create(review, owner, text)
    search.refresh_from_db()
    assert (search.records_read, search.records_imported, search.records_rejected) == (4, 3, 1)
    assert search.errors == [
        {"line": 25, "message": "record has no title, authors, journal, DOI, PMID or URL"}
    ]


@pytest.mark.parametrize(
    "content,name,message",
    [
        (
            b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20,
            "figure.png",
            "figure.png: the file is binary",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;">]>'
            b"<xml><records><record><titles><title>&lol2;</title></titles></record></records></xml>",
            "bomb.xml",
            "bomb.xml: ",
        ),
        (b"Just some words.\nNot a citation export.\n", "notes.txt", "notes.txt: "),
    ],
    ids=["binary", "entity-bomb", "prose"],
)
def test_unreadable_files_import_nothing_and_say_why(
    review, owner, content, name, message, django_capture_on_commit_callbacks, parser
):
    with django_capture_on_commit_callbacks(execute=True):
        search = create(review, owner, content, name)
    search.refresh_from_db()
    assert search.status == SearchStatus.FAILED
    assert search.failure.startswith(message)
    assert search.failure.count(".") >= 1 and "\n" not in search.failure
    assert Record.objects.filter(search=search).count() == 0


def test_truncated_endnote_xml_leaves_no_partial_records(
    review, owner, django_capture_on_commit_callbacks, parser
):
    data = gzip.decompress(shared_path("dedup", "stroke", "Stroke.xml.gz").read_bytes())
    with django_capture_on_commit_callbacks(execute=True):
        search = create(review, owner, data[: len(data) // 2], "stroke.xml", source="Embase")
    search.refresh_from_db()
    assert search.status == SearchStatus.FAILED
    assert search.failure.startswith("stroke.xml: ")
    assert Record.objects.filter(search=search).count() == 0


def test_gzipped_endnote_xml_imports(review, owner, django_capture_on_commit_callbacks, parser):
    data = shared_path("dedup", "stroke", "Stroke.xml.gz").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        search = create(review, owner, data, "Stroke.xml.gz", source="Embase")
    search.refresh_from_db()
    assert (search.status, search.format, search.records_imported) == ("done", "endnote", 1292)


def test_empty_file_is_refused_before_queueing(review, owner):
    with pytest.raises(ReviewflowError, match="empty.ris: the file is empty."):
        create(review, owner, b"", "empty.ris")
    assert not Search.objects.exists()


def test_size_limit(review, owner, settings):
    settings.MAX_UPLOAD_MB = 1
    with pytest.raises(ReviewflowError) as err:
        create(review, owner, b"x" * (1024 * 1024 + 1), "big.ris")
    assert err.value.message == "big.ris: the file is 1.0 MB; the limit is 1 MB."
    assert err.value.field == "file"


def test_unknown_column_map_field_is_refused(review, owner):
    with pytest.raises(ReviewflowError, match="Unknown field in the column mapping: colour."):
        create(review, owner, "a,b\n1,2\n", "x.csv", column_map={"a": "colour"})


def test_column_map_is_applied(review, owner, django_capture_on_commit_callbacks, parser):
    csv_text = 'Article Name,Writers,When\nMSC in ARDS,"Smith, John",2021\n'
    with django_capture_on_commit_callbacks(execute=True):
        search = create(
            review,
            owner,
            csv_text,
            "odd.csv",
            column_map={"Article Name": "title", "Writers": "authors", "When": "year"},
        )
    record = Record.objects.get(search=search)
    assert (record.title, record.year) == ("MSC in ARDS", 2021)


def test_delete_search_removes_its_records(review, owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        search = create(review, owner, ris_records(5))
    search.refresh_from_db()
    identification.delete_search(search=search, actor=owner)
    assert not Record.objects.exists() and not Search.objects.exists()
    assert AuditEvent.objects.filter(action="search.deleted").exists()


@pytest.mark.django_db(transaction=True)
def test_importcitations_command_waits_and_summarises(review, tmp_path, capsys):
    path = tmp_path / "pubmed.ris"
    path.write_text(ris_records(12))
    call_command("importcitations", review.slug, str(path), "--source", "PubMed", "--wait")
    out = capsys.readouterr().out
    assert "pubmed.ris: ris, 12 read, 12 imported, 0 rejected." in out
    assert Search.objects.get().source == "PubMed"


@pytest.mark.django_db(transaction=True)
def test_importcitations_command_fails_loudly(review, tmp_path):
    path = tmp_path / "junk.txt"
    path.write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(CommandError, match="Some files could not be imported"):
        call_command("importcitations", review.slug, str(path), "--wait")
    with pytest.raises(CommandError, match="No review with the slug “nope”."):
        call_command("importcitations", "nope", str(path))
