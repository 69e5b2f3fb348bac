"""A file parsed in a second process imports exactly as one parsed in the worker, and the
parser process never outlives its import (``screening.importers.pipeline``)."""

from __future__ import annotations

import gzip
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from reviewflow.reviews.services import create_review
from screening.importers import FileFormatError, ParsedRecord, Rejection, pipeline
from screening.importers.base import NORMALISED_FIELDS
from screening.models import Record, Search, SearchStatus
from screening.services import identification
from tests.screening.factories import ris_records, upload
from tests.shared_data import shared_path
from tests.worker import parser_processes

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
_slugs = itertools.count()
# Columns that differ between two imports of the same file by design.
_OWN = {"id", "review", "search", "created_at"}


def test_record_values_follow_value_columns():
    record = ParsedRecord(line=7, record_id="rid-1", raw={"TI": ["A title"], "XX": ["x"]})
    for n, name in enumerate(NORMALISED_FIELDS):
        setattr(record, name, f"value {n} of {name}")
    record.authors, record.keywords, record.year = ["Smith, J"], ["stem cells"], 2021
    values = dict(zip(pipeline.VALUE_COLUMNS, pipeline.record_values(record, 3, {}), strict=True))
    assert (values["line"], values["source_record_id"]) == (7, "rid-1")
    for name in NORMALISED_FIELDS:
        stored = values[name]
        if name in ("authors", "keywords"):
            stored = orjson.loads(stored)
        assert stored == getattr(record, name), name
    assert orjson.loads(values["raw"]) == record.raw
    assert (values["incomplete"], values["merge_kind"], values["filled_from"]) == (False, "", "{}")
    assert (
        "review_id",
        "search_id",
        "position",
        *pipeline.VALUE_COLUMNS,
        "created_at",
    ) == identification.RECORD_COLUMNS


def _import(owner, data: bytes, name: str, *, child: bool, settings, monkeypatch) -> Search:
    settings.IMPORT_PARSER_PROCESS_MIN_MB = 0 if child else -1
    monkeypatch.setattr(identification, "_cpus", lambda: 2)
    review = create_review(title="Pipeline", slug=f"pipeline-{next(_slugs)}", owner=owner)
    search = identification.create_search(
        review=review, actor=owner, file=upload(data, name), filename=name, source="Test"
    )
    return identification.run_import(search_id=search.pk)


def _stored(search: Search) -> list[dict[str, Any]]:
    columns = [f.attname for f in Record._meta.concrete_fields if f.name not in _OWN]
    return list(Record.objects.filter(search=search).order_by("position").values(*columns))


def _summary(search: Search) -> dict[str, Any]:
    search.refresh_from_db()
    fields = [
        "status",
        "format",
        "encoding",
        "warnings",
        "errors",
        "failure",
        "records_read",
        "records_imported",
        "records_rejected",
        "bytes_read",
    ]
    return {name: getattr(search, name) for name in fields}


def _truncated_stroke_xml() -> bytes:
    return gzip.decompress(shared_path("dedup", "stroke", "Stroke.xml.gz").read_bytes())[:300_000]


def _cases() -> list[Any]:
    """Each case's bytes are read when it runs, never at collection: without the shared
    data folder the module still collects, and the cases that read it skip with a reason
    (fail with ``CI=true``) through ``shared_path``."""

    def real(*parts: str) -> Any:
        return pytest.param(lambda: shared_path(*parts).read_bytes(), parts[-1], id=parts[-1])

    def made(data: bytes, name: str, id: str) -> Any:
        return pytest.param(lambda: data, name, id=id)

    rejected = ris_records(2) + "\nTY  - JOUR\nPY  - 2020\nER  - \n\n" + ris_records(1, start=3)
    latin = ris_records(3).replace("diabetes", "diabète").encode("cp1252")
    return [
        real("exports", "citesource-gambling-harms", "20221207_gambling-harms_scopus_255.ris"),
        real("exports", "pybtexnbib", "marcelis-20301770.nbib"),
        real("dedup", "stroke", "Stroke.xml.gz"),
        made(ris_records(1200).encode(), "many.ris", "several-frames"),
        made(rejected.encode(), "rejected.ris", "a-rejection"),
        made(latin, "latin.ris", "windows-1252-warning"),
        made(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20, "figure.png", "binary"),
        made(b"Just some words.\nNot a citation export.\n", "notes.txt", "prose"),
        made(b"\x1f\x8b\x08\x00" + b"\x00" * 60, "broken.ris.gz", "corrupt-gzip"),
        pytest.param(_truncated_stroke_xml, "stroke.xml", id="truncated-xml"),
    ]


@pytest.mark.parametrize("load,name", _cases())
def test_child_and_in_process_imports_store_the_same(owner, settings, monkeypatch, load, name):
    data = load()
    here = _import(owner, data, name, child=False, settings=settings, monkeypatch=monkeypatch)
    there = _import(owner, data, name, child=True, settings=settings, monkeypatch=monkeypatch)
    assert _summary(there) == _summary(here)
    assert _stored(there) == _stored(here)


def test_every_test_module_collects_without_the_shared_data(tmp_path):
    """No module reads the shared data folder at import time: without it (even in CI) every
    test is still collected, and those that need it skip or fail when they run."""
    env = {
        **os.environ,
        "REVIEWFLOW_SHARED_DATA": str(tmp_path / "missing"),
        "REVIEWFLOW_DATA_DIR": str(tmp_path / "data"),
        "CI": "true",
    }
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-3000:]
    assert "test_child_and_in_process_imports_store_the_same[truncated-xml]" in collected.stdout


def test_gzip_bomb_is_refused_in_the_child_too(owner, settings, monkeypatch):
    settings.MAX_UPLOAD_MB = 1  # inflating past 20 MB is refused
    bomb = gzip.compress(ris_records(1).encode() + b" " * (25 * 1048576))
    search = _import(
        owner, bomb, "bomb.ris.gz", child=True, settings=settings, monkeypatch=monkeypatch
    )
    assert search.status == SearchStatus.FAILED
    assert search.failure == "bomb.ris.gz: the compressed file unpacks to more than 20 MB"
    assert not Record.objects.filter(search=search).exists()


def _children() -> list[int]:
    """Parser processes this process started that are still alive."""
    return parser_processes(os.getpid())


def test_a_parser_process_that_dies_fails_the_import_and_stores_nothing(
    owner, settings, monkeypatch
):
    settings.IMPORT_PARSER_PROCESS_MIN_MB = 0
    monkeypatch.setattr(identification, "_cpus", lambda: 2)
    review = create_review(title="Pipeline", slug="pipeline-dies", owner=owner)
    search = identification.create_search(
        review=review,
        actor=owner,
        file=upload(ris_records(3 * identification.BATCH_SIZE)),
        filename="big.ris",
        source="Test",
    )
    killed: list[int] = []

    def kill_the_parser(_search: Search) -> None:
        for pid in _children():
            os.kill(pid, 9)
            killed.append(pid)

    with pytest.raises(pipeline.ParserCrashed, match="ended before the end of the file"):
        identification.run_import(search_id=search.pk, on_batch=kill_the_parser)
    assert killed, "no parser process was running after the first batch"
    search.refresh_from_db()
    assert search.status == SearchStatus.FAILED
    assert search.failure.startswith("big.ris: the import stopped on an unexpected error")
    assert not Record.objects.filter(search=search).exists()
    assert _children() == []


def _big_file(tmp_path: Path) -> Path:
    path = tmp_path / "big.ris"
    path.write_text(ris_records(20_000))
    return path


def test_leaving_early_stops_the_parser_and_its_reader(tmp_path):
    path = _big_file(tmp_path)
    started = time.monotonic()
    with pipeline.ParserProcess(
        path, fmt="auto", column_map=None, maxlen={}, gzip_limit=1 << 30
    ) as source:
        assert (source.format, source.encoding) == ("ris", "utf-8")
        first = next(source.items)
        assert first[1] == "1" and first[2].startswith("Mesenchymal")
    assert source.exit_code is not None
    assert not source._reader.is_alive()
    assert _children() == []
    assert time.monotonic() - started < 20


def test_items_from_the_child_equal_items_in_process(tmp_path):
    path = tmp_path / "mixed.ris"
    path.write_text(ris_records(1200) + "\nTY  - JOUR\nPY  - 2020\nER  - \n\n" + ris_records(2))
    with path.open("rb") as stream:
        here = pipeline.InProcess(
            stream, fmt="auto", column_map=None, maxlen={}, gzip_limit=1 << 30
        )
        expected = list(here.items)
        expected_bytes = here.bytes_read
    with pipeline.ParserProcess(
        path, fmt="auto", column_map=None, maxlen={}, gzip_limit=1 << 30
    ) as there:
        got = list(there.items)
    assert got == expected
    assert sum(isinstance(item, Rejection) for item in got) == 1
    assert there.bytes_read == expected_bytes == path.stat().st_size
    assert there.child_peak_kib > 0 and there.exit_code == 0


def test_format_errors_arrive_from_the_child_as_format_errors(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("Just some words.\nNot a citation export.\n")
    with pytest.raises(FileFormatError, match="could not recognise the format"):
        pipeline.ParserProcess(path, fmt="auto", column_map=None, maxlen={}, gzip_limit=1 << 30)
    assert _children() == []


def test_the_child_ends_quietly_when_the_importer_stops_reading(tmp_path):
    """The importer's worker killed: the child's next write fails and it exits, at once and
    without a traceback."""
    path = _big_file(tmp_path)
    child = subprocess.Popen(
        [sys.executable, "-m", "screening.importers.pipeline"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )
    assert child.stdin and child.stdout and child.stderr
    config = {
        "path": str(path),
        "format": "auto",
        "column_map": None,
        "maxlen": {},
        "gzip_limit": 1 << 30,
    }
    child.stdin.write(json.dumps(config).encode())
    child.stdin.close()
    assert child.stdout.read(4)  # the head frame's length: it has begun
    child.stdout.close()
    assert child.wait(timeout=30) == 0
    assert child.stderr.read() == b""


@pytest.mark.parametrize("python", ["/bin/false", "/no/such/python"])
def test_a_parser_process_that_cannot_start_leaves_the_parsing_to_the_worker(
    owner, settings, monkeypatch, caplog, python
):
    monkeypatch.setattr(sys, "executable", python)
    search = _import(
        owner,
        ris_records(1200).encode(),
        "many.ris",
        child=True,
        settings=settings,
        monkeypatch=monkeypatch,
    )
    assert (search.status, search.records_imported) == (SearchStatus.DONE, 1200)
    assert Record.objects.filter(search=search).count() == 1200
    assert "parsing in this process instead: the parser process" in caplog.text


def test_cpus_are_counted_where_affinity_is_unknown(monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert identification._cpus() == 3
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert identification._cpus() == 1


def test_record_values_cut_text_to_its_column_and_keep_the_rest():
    record = ParsedRecord(line=1, record_id="", raw={}, title="T", journal="J" * 600)
    record.doi = "10.1/" + "x" * 300
    values = dict(
        zip(
            pipeline.VALUE_COLUMNS,
            pipeline.record_values(record, 9, {"journal": 500, "doi": 255}),
            strict=True,
        )
    )
    assert (len(values["journal"]), len(values["doi"])) == (500, 255)
    assert values["source_record_id"] == "9"  # no identifier in the file: its position
    assert values["title"] == "T" and values["incomplete"] is True  # no authors
